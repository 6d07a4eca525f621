"""The outermost layer of the web application: each HTTP request gets its id (``hoso.web.logs``), is counted
and timed (``hoso.web.metrics``) and leaves one access line in the log, whatever answers it: a route, the
mounted admin, a 404 or an error handler. Behind a trusted proxy (``HOSO_TRUSTED_PROXIES``) the request's scheme
is the one ``X-Forwarded-Proto`` names; the client's address comes from ``X-Forwarded-For`` in
``hoso.web.auth.client_address``. Neither header is believed from anyone else.

It wraps Litestar's ASGI handler (inside Litestar's ``before_send`` hooks), so the route template Litestar's
router puts in the scope is known when the answer is counted.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from typing import Any

from litestar import Litestar
from litestar.connection import ASGIConnection

from hoso.audit import REQUEST_ID
from hoso.web.auth import WebSettings, client_address
from hoso.web.logs import HEADER, access_log, new_request_id, valid_request_id
from hoso.web.metrics import Metrics

__all__ = ["forwarded_scheme", "observe", "request_id_for"]

_HEADER = HEADER.encode()


def _peer_trusted(scope: dict, settings: WebSettings) -> bool:
    client = scope.get("client")
    if not client or not settings.trusted_proxies:
        return False
    try:
        ip = ipaddress.ip_address(client[0])
    except ValueError:
        return False
    return any(ip in net for net in settings.trusted_proxies)


def forwarded_scheme(scope: dict, settings: WebSettings) -> str | None:
    """The scheme a trusted proxy says the client used (``X-Forwarded-Proto``: http or https); None otherwise."""
    if not _peer_trusted(scope, settings):
        return None
    for name, value in scope.get("headers") or ():
        if name.lower() == b"x-forwarded-proto":
            scheme = value.decode("latin-1").split(",", 1)[0].strip().lower()
            return scheme if scheme in ("http", "https") else None
    return None


def request_id_for(scope: dict, settings: WebSettings) -> str:
    """The request's id: the ``X-Request-ID`` a trusted proxy sent, when it is well-formed; else a new one."""
    if _peer_trusted(scope, settings):
        for name, value in scope.get("headers") or ():
            if name.lower() == _HEADER:
                given = value.decode("latin-1").strip()
                if valid_request_id(given):
                    return given
                break
    return new_request_id()


def observe(app: Litestar, metrics: Metrics, settings: WebSettings) -> Litestar:
    """Wrap ``app``'s ASGI handler with the request id, the metrics and the access log; returns ``app``."""
    inner = app.asgi_handler

    async def observed(scope: Any, receive: Any, send: Any) -> None:
        if scope.get("type") != "http":
            await inner(scope, receive, send)
            return
        rid = request_id_for(scope, settings)
        scheme = forwarded_scheme(scope, settings)
        if scheme is not None:  # the URL the client used (https behind a TLS proxy)
            scope["scheme"] = scheme
        token = REQUEST_ID.set(rid)
        status = 500
        started = time.perf_counter()
        metrics.started()

        logged = False

        def log_access() -> None:
            nonlocal logged
            logged = True
            seconds = time.perf_counter() - started
            route = scope.get("path_template")
            metrics.answered(scope.get("method", ""), route, status, seconds)
            if access_log.isEnabledFor(logging.INFO):
                access_log.info("%s %s %s %.1f ms", scope.get("method"), scope.get("path"), status, seconds * 1000,
                                extra={"method": scope.get("method"), "path": scope.get("path"), "route": route,
                                       "status": status, "duration_ms": round(seconds * 1000, 2),
                                       "client": client_address(ASGIConnection(scope), settings), "request_id": rid})

        async def send_with_id(message: Any) -> None:
            nonlocal status
            if message.get("type") == "http.response.start":
                status = int(message.get("status", 500))
                headers = [(n, v) for n, v in message.get("headers") or () if bytes(n).lower() != _HEADER]
                message["headers"] = [*headers, (_HEADER, rid.encode())]
            elif message.get("type") == "http.response.body" and not message.get("more_body") and not logged:
                # The line is written before the answer's last part leaves: a client that has its whole answer
                # finds the request in the log, even if the process is killed the next moment.
                log_access()
            await send(message)

        try:
            await inner(scope, receive, send_with_id)
        finally:
            if not logged:  # no complete answer (an error, a client gone): the line says what was counted
                log_access()
            REQUEST_ID.reset(token)

    app.asgi_handler = observed
    return app
