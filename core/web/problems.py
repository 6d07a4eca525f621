"""Errors as RFC 9457 problem details (``application/problem+json``), in Vietnamese or English.

Every error the web application returns goes through here: HTTP errors raised by handlers or by Litestar,
the record service's errors (422, 404, 403, 409, 413), and anything unexpected, which becomes a 500 whose
body says nothing about the cause (the traceback goes to the server log only).
"""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Any

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException, ValidationException
from litestar.exceptions.http_exceptions import RequestEntityTooLarge

from hoso.i18n import t as msg
from hoso.records.errors import (
    AttachmentTooLarge,
    Forbidden,
    InvalidTransition,
    NotFound,
    StaleVersion,
    ValidationError,
)

_BACKTICKED = re.compile(r"`([A-Za-z_][A-Za-z0-9_]*)`")

__all__ = ["PROBLEM_JSON", "msg", "request_lang", "problem", "problem_message", "exception_handlers"]

log = logging.getLogger("hoso.web")

PROBLEM_JSON = "application/problem+json"


def request_lang(connection: ASGIConnection) -> str:
    """'en' when the first language the client accepts is English, otherwise 'vi'."""
    header = connection.headers.get("accept-language") or ""
    first = header.split(",", 1)[0].split(";", 1)[0].strip().lower()
    return "en" if first == "en" or first.startswith("en-") else "vi"


def _slug(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "-").replace("'", "")
    except ValueError:
        return str(status)


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _problem_body(status: int, detail: str, title: str | None, slug: str | None, extra: dict) -> dict:
    return {"type": f"urn:hoso:problem:{slug or _slug(status)}", "title": title or _title(status),
            "status": status, "detail": detail, **extra}


def problem(status: int, detail: str, *, title: str | None = None, slug: str | None = None,
            headers: dict[str, str] | None = None, **extra: Any) -> Response:
    return Response(content=_problem_body(status, detail, title, slug, extra), status_code=status,
                    media_type=PROBLEM_JSON, headers=headers)


def problem_message(status: int, detail: str, *, title: str | None = None, slug: str | None = None,
                    **extra: Any) -> bytes:
    """The encoded body of a problem document, for answers sent outside a handler (ASGI middleware)."""
    import msgspec

    return msgspec.json.encode(_problem_body(status, detail, title, slug, extra))


def _http_exception(request: Request, exc: HTTPException) -> Response:
    status: int = exc.status_code
    if status >= 500:
        log.error("HTTP %s on %s %s: %s", status, request.method, request.url.path, exc.detail)
        return problem(status, msg("internal", request_lang(request)))
    extra: dict[str, Any] = {}
    if isinstance(exc, ValidationException) and isinstance(exc.extra, list):
        # Litestar's own checks of parameters (e.g. ?page_size=5000) and of request bodies against the
        # entity's Struct: name the field. A body that does not fit its entity is an invalid record (422).
        errors = []
        for item in exc.extra:
            if isinstance(item, dict):
                message = str(item.get("message") or "")
                field = str(item.get("key") or item.get("source") or "")
                named = _BACKTICKED.search(message)
                if field in ("data", "body", "") and named:
                    field = named.group(1)
                if item.get("source") == "body":
                    status = 422
                errors.append({"field": field, "message": message})
        if errors:
            extra["errors"] = errors
        if status == 422:
            lang = request_lang(request)
            return problem(422, msg("invalid_record", lang, count=len(errors)), slug="invalid-record", **extra)
    if isinstance(exc, RequestEntityTooLarge):
        # a body over its operation's limit (request_max_body_size), in the caller's language
        return problem(413, _body_too_large(request), slug="too-large")
    headers = {k: v for k, v in (exc.headers or {}).items()}
    return problem(status, str(exc.detail or _title(status)), headers=headers or None, **extra)


def _body_too_large(request: Request) -> str:
    from hoso.records.attachments import human_size

    try:
        limit = request.route_handler.resolve_request_max_body_size()
    except Exception:  # a handler that cannot say: the message without the number
        limit = None
    lang = request_lang(request)
    return msg("body_too_large", lang, limit=human_size(limit) if isinstance(limit, int) else "?")


def _validation_error(request: Request, exc: ValidationError) -> Response:
    lang = request_lang(request)
    errors = [{"field": f, "message": m} for f, m in exc.problems]
    return problem(422, msg("invalid_record", lang, count=len(errors)), slug="invalid-record", errors=errors)


def _not_found(request: Request, exc: NotFound) -> Response:
    return problem(404, str(exc), slug="not-found")


def _forbidden(request: Request, exc: Forbidden) -> Response:
    return problem(403, str(exc), slug="forbidden")


def _stale(request: Request, exc: StaleVersion) -> Response:
    return problem(409, str(exc), slug="stale-version", current_version=exc.current)


def _invalid_transition(request: Request, exc: InvalidTransition) -> Response:
    return problem(409, str(exc), slug="invalid-transition")


def _too_large(request: Request, exc: AttachmentTooLarge) -> Response:
    errors = [{"field": f, "message": m} for f, m in exc.problems]
    return problem(413, str(exc.problems[0][1] if exc.problems else exc), slug="too-large", errors=errors)


def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(500, msg("internal", request_lang(request)), slug="internal-error")


def exception_handlers() -> dict:
    return {
        HTTPException: _http_exception,
        AttachmentTooLarge: _too_large,
        ValidationError: _validation_error,
        NotFound: _not_found,
        Forbidden: _forbidden,
        StaleVersion: _stale,
        InvalidTransition: _invalid_transition,
        Exception: _unexpected,
    }
