"""The Litestar application: JSON API under /api/, session login, and a small home page.

The record API is generated from the configuration (hoso.web.api) and goes through the record service, which
enforces role scopes (deny by default), validation, workflows, locking and audit. Accounts, role assignments
and API tokens are managed under /api/users and /api/tokens (hoso.web.accounts_api). Every error is a
problem-details body (see hoso.web.problems).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from litestar import Litestar, Request, Response, get, post
from litestar.config.allowed_hosts import AllowedHostsConfig
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.exceptions import (
    ClientException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
)
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi import OpenAPIConfig
from litestar.response import Redirect

from hoso.audit import AuditEvent
from hoso.config import Config, EntityDef, FieldDef
from hoso.jobs import Worker
from hoso.model.migrate import applied_state
from hoso.plugin_manager import await_me_maybe
from hoso.records.attachments import CleanupSettings, storage_janitor
from hoso.settings import get as setting
from hoso.web import pages
from hoso.web.accounts_api import accounts_router
from hoso.web.api import build_record_router
from hoso.web.auth import (
    COOKIE,
    CurrentUser,
    WebSettings,
    audited_login,
    client_address,
    current_user,
    end_session,
    same_origin,
    session_cookie,
    session_user,
    start_session,
    without_nul,
    write_audit,
)
from hoso.web.guards import HostileInputGuard
from hoso.web.health import Readiness, database_unavailable_handlers, healthz, readyz
from hoso.web.metrics import Metrics, MetricsAccess, metrics_endpoint
from hoso.web.modules_guard import install as install_module_guard
from hoso.web.modules_guard import visible_entities
from hoso.web.observe import observe
from hoso.web.openapi import documentation_pages
from hoso.web.problems import exception_handlers, msg, request_lang
from hoso.web.report_exports import report_exports_router
from hoso.web.reports_api import reports_router
from hoso.web.reports_approval_api import approvals_router
from hoso.web.search_api import search_records
from hoso.web.security import security_headers
from hoso.web.units_api import units_on

if TYPE_CHECKING:  # pragma: no cover
    from hoso.runtime import Runtime

__all__ = ["AppPart", "DefinitionsDiffer", "ensure_applied", "create_app", "entity_definitions", "start_parts"]

log = logging.getLogger("hoso.web")

_SHOWN_CHANGES = 20


class DefinitionsDiffer(Exception):
    """The database does not hold the definitions of the loaded configuration: the app must not start."""


async def ensure_applied(rt: Runtime) -> None:
    """Raise DefinitionsDiffer unless the database was migrated to exactly this configuration."""
    async with rt.db.reading():  # one connection for all the reads
        await _ensure_applied(rt)


async def _ensure_applied(rt: Runtime) -> None:
    advice = "Run `hoso plan` to see the changes, then `hoso migrate` to apply them."
    if await applied_state(rt.db) is None:
        raise DefinitionsDiffer(f"The database {_where(rt)} has never been migrated. {advice}")
    plan = await rt.plan()
    if plan.has_changes or not plan.ok:
        lines = [f"The database {_where(rt)} does not match the configuration in {rt.config.root}:"]
        if plan.changes:
            lines.append(f"{len(plan.changes)} change(s) not applied yet:")
            lines += [f"  {c.describe()}" for c in plan.changes[:_SHOWN_CHANGES]]
            if len(plan.changes) > _SHOWN_CHANGES:
                lines.append(f"  ... and {len(plan.changes) - _SHOWN_CHANGES} more")
        if plan.errors:
            lines.append(f"{len(plan.errors)} problem(s) block the migration (fix the configuration first):")
            lines += [f"  {e}" for e in plan.errors[:_SHOWN_CHANGES]]
        lines.append(advice)
        raise DefinitionsDiffer("\n".join(lines))
    from hoso.units import plan_units

    units = await plan_units(rt)
    if units.has_changes or not units.ok:
        found = [" ".join(line.split()) for line in units.lines() if not line.startswith("scheduled")]
        raise DefinitionsDiffer(f"The units of the database {_where(rt)} do not match the configuration in "
                                f"{rt.config.root} (its unit files, then its change sets): "
                                + "; ".join(found + units.errors)
                                + ". Run `hoso plan` to see the changes, then `hoso migrate` to load them.")


def _where(rt: Runtime) -> str:
    url = rt.db.url
    if "@" in url:  # keep passwords out of messages
        scheme, _, rest = url.partition("://")
        url = f"{scheme}://{rest.rpartition('@')[2]}"
    return url


# -- entity definitions as JSON ----------------------------------------------------------------------------------


def _label(label) -> dict | None:
    return None if label is None else {"vi": label.vi, "en": label.en}


def _field_json(config: Config, fd: FieldDef) -> dict[str, Any]:
    out: dict[str, Any] = {"name": fd.name, "type": fd.type, "label": _label(fd.label), "required": fd.required}
    if fd.help:
        out["help"] = _label(fd.help)
    for key in ("unique", "default", "min", "max", "min_length", "max_length", "pattern", "entity", "max_digits",
                "decimal_places"):
        value = getattr(fd, key)
        if value not in (None, False, ()):
            out[key] = list(value) if isinstance(value, tuple) else (
                value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else value)
    if fd.list:
        out["list"] = fd.list
        out["choices"] = [{"value": o.value, "label": _label(o.label)}
                          for o in config.choice_list(fd.list).options if not o.retired]
    if fd.is_child_table:
        out["fields"] = [_field_json(config, c) for c in fd.fields]
    return out


def _entity_json(config: Config, e: EntityDef) -> dict[str, Any]:
    return {
        "name": e.name,
        "label": _label(e.label),
        "title_field": e.title_field,
        "unit_field": e.unit_field,
        "code_field": e.naming.field if e.naming else None,
        "fields": [_field_json(config, f) for f in e.fields],
    }


def entity_definitions(config: Config) -> list[dict[str, Any]]:
    return [_entity_json(config, e) for e in config.entities]


# -- access -------------------------------------------------------------------------------------------------------


async def _require_user(connection: ASGIConnection) -> CurrentUser:
    user = await current_user(connection)
    if user is None:
        raise NotAuthorizedException(detail=msg("unauthenticated", request_lang(connection)))
    return user


async def logged_in(connection: ASGIConnection, _handler: BaseRouteHandler) -> None:
    await _require_user(connection)


async def no_cross_site(connection: ASGIConnection, _handler: BaseRouteHandler) -> None:
    """Refuse state-changing requests that a browser says come from another site."""
    if not same_origin(connection):
        raise PermissionDeniedException(detail=msg("cross_origin", request_lang(connection)))


def _rt(request: ASGIConnection) -> Runtime:
    return request.app.state.rt


def _settings(request: ASGIConnection) -> WebSettings:
    return request.app.state.settings


def _entity(request: ASGIConnection, name: str) -> EntityDef:
    config = _rt(request).config
    if not config.has_entity(name):
        raise NotFoundException(detail=msg("unknown_entity", request_lang(request), name=name))
    return config.entity(name)


async def _json_object(request: Request) -> dict:
    ctype = (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    if not (ctype == "application/json" or (ctype.startswith("application/") and ctype.endswith("+json"))):
        raise ClientException(status_code=415, detail=msg("json_only", request_lang(request)))
    try:
        body = await request.json()
    except Exception:
        raise ClientException(detail=msg("json_object", request_lang(request))) from None
    if not isinstance(body, dict):
        raise ClientException(detail=msg("json_object", request_lang(request)))
    return body


# -- auth -----------------------------------------------------------------------------------------------------------


async def _login(request: Request, username: Any, password: Any) -> CurrentUser | None:
    """Check the credentials (throttled and audited) and return the user; None when refused."""
    rt, settings = _rt(request), _settings(request)
    user, outcome = await audited_login(rt, settings, username, password, client_address(request, settings))
    if outcome == "throttled":
        raise ClientException(status_code=429, detail=msg("too_many_logins", request_lang(request)))
    return user


async def _logout(request: Request) -> None:
    rt, settings = _rt(request), _settings(request)
    token = request.cookies.get(COOKIE)
    user = await session_user(rt, settings, token)
    await end_session(rt, token)
    if user is not None:
        await write_audit(rt, AuditEvent("logout", "hoso_user", user.id, user.id, user.username,
                                         client_address(request, settings)))


@post("/api/login", guards=[no_cross_site], tags=["auth"])
async def api_login(request: Request) -> Response:
    """Log in with JSON {username, password}; sets the session cookie."""
    body = await _json_object(request)
    if not isinstance(body.get("username"), str) or not isinstance(body.get("password"), str):
        raise ClientException(detail=msg("login_fields", request_lang(request)))
    user = await _login(request, body["username"], body["password"])
    if user is None:
        raise NotAuthorizedException(detail=msg("login_failed", request_lang(request)))
    token = await start_session(_rt(request), _settings(request), user.id)
    return Response({"user": user.public()}, status_code=200, cookies=[session_cookie(token, _settings(request))])


@post("/api/logout", guards=[no_cross_site], status_code=204, tags=["auth"])
async def api_logout(request: Request) -> Response[None]:
    """End the session (if any) and clear the cookie."""
    await _logout(request)
    response: Response[None] = Response(None, status_code=204)
    response.delete_cookie(COOKIE, path="/")
    return response


@get("/api/me", guards=[logged_in], tags=["auth"])
async def api_me(request: Request) -> dict[str, Any]:
    user = await _require_user(request)
    out = user.public()
    out["unit"] = None
    if user.unit_id is not None:
        rows = await _rt(request).db.fetch("SELECT id, code, name_vi, name_en FROM hoso_unit WHERE id = {}",
                                           user.unit_id)
        out["unit"] = dict(rows[0]) if rows else None
    return out


# -- API -----------------------------------------------------------------------------------------------------------


@get("/api/health", tags=["system"])
async def health(request: Request) -> Response:
    rt = _rt(request)
    body = {"status": "ok", "database": rt.db.kind, "definitions": rt.config.content_hash}
    try:
        await rt.db.fetchval("SELECT 1 AS ok")
    except Exception:
        log.exception("health check: the database does not answer")
        return Response({**body, "status": "error"}, status_code=503)
    return Response(body)


@get("/api/entities", guards=[logged_in], tags=["records"])
async def entities(request: Request) -> list[dict[str, Any]]:
    return await visible_entities(request, request.app.state.entities)


# -- HTML ----------------------------------------------------------------------------------------------------------


def _html(text: str, status: int = 200) -> Response:
    return Response(text, status_code=status, media_type="text/html")


@get("/", include_in_schema=False)
async def home(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return _html(pages.login_page())
    return _html(await pages.home_page(_rt(request), user))


@post("/login", guards=[no_cross_site], include_in_schema=False)
async def form_login(request: Request) -> Response:
    form = await request.form()
    username, password = form.get("username"), form.get("password")
    user = await _login(request, username, password)
    if user is None:
        shown = without_nul(username) if isinstance(username, str) else ""
        return _html(pages.login_page(msg("login_failed", "vi"), shown), status=401)
    token = await start_session(_rt(request), _settings(request), user.id)
    return Redirect(path="/", status_code=303, cookies=[session_cookie(token, _settings(request))])


@post("/logout", guards=[no_cross_site], include_in_schema=False)
async def form_logout(request: Request) -> Response:
    await _logout(request)
    response = Redirect(path="/", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


# -- the application -----------------------------------------------------------------------------------------------


def plugin_routes(rt: Runtime) -> list[Any]:
    """The handlers and routers plugins add (``hoso_routes``); one path and method claimed twice stops start-up."""
    from hoso.plugin_manager import collect

    return collect(rt.pm, "hoso_routes", _route_keys, "route", runtime=rt)


def _route_keys(handler: Any) -> list[str]:
    if hasattr(handler, "routes"):  # a Router: its routes, under its path
        return [f"{m} {r.path}" for r in handler.routes for m in sorted(getattr(r, "methods", ()))]
    return [f"{m} {p}" for p in sorted(handler.paths) for m in sorted(handler.http_methods)]


class AppPart(Protocol):
    """A part mounted in the web application by the layer composing it (the admin, see ``hoso.server``)."""

    async def start(self) -> None: ...

    def handlers(self) -> list: ...


def create_app(rt: Runtime, settings: WebSettings | None = None, *,
               parts: Mapping[str, AppPart] | None = None, lifespan: bool = True) -> Litestar:
    """The web application for ``rt``, with ``parts`` mounted (each started after the database check and kept in
    the app's state under its name). It refuses to start when the database does not match the configuration.
    ``hoso.server.create_app`` is the whole application, admin included. Without ``lifespan`` the application
    starts and stops nothing: it is a later generation of a running process (``hoso.web.runtime_holder``), whose
    parts ``start_parts`` starts."""
    settings = settings or WebSettings.from_env()
    parts = dict(parts or {})

    # Leftovers of interrupted uploads are removed at start-up and then on a schedule (HOSO_FILES_CLEANUP_*).
    cleanup = CleanupSettings.from_env()
    background: list[asyncio.Task] = []
    workers: list[tuple[Worker, asyncio.Task]] = []

    async def startup() -> None:
        await rt.db.start()
        await ensure_applied(rt)  # raising here stops the start-up; shutdown closes the database
        await readiness.started()
        for part in parts.values():
            await part.start()
        for result in rt.pm.hook.hoso_startup(config=rt.config):
            await await_me_maybe(result)
        background.append(asyncio.create_task(storage_janitor(rt.records(), cleanup)))
        if setting("HOSO_EMBEDDED_WORKER"):  # hoso_job_kinds and hoso_scheduled_work, in this process
            worker = Worker(rt)
            workers.append((worker, asyncio.create_task(worker.run_forever())))
            background.append(workers[-1][1])

    async def shutdown() -> None:
        # the jobs running end first (up to HOSO_WORKER_STOP_SECONDS); what is cut short runs again later
        for worker, _task in workers:
            worker.stop()
        if workers:
            await asyncio.wait([task for _w, task in workers], timeout=setting("HOSO_WORKER_STOP_SECONDS"))
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        await rt.db.close()
        metrics_gone()

    from importlib.metadata import PackageNotFoundError, version

    try:
        hoso_version = version("hoso")
    except PackageNotFoundError:  # pragma: no cover
        hoso_version = "0"

    # Health, readiness and metrics (docs/operations.md): the request id, counting and access log wrap it all.
    metrics, readiness = Metrics(rt), Readiness.of(rt)
    ops = {"readiness": readiness, "metrics": metrics, "metrics_access": MetricsAccess.from_env()}

    def metrics_gone() -> None:
        if metrics.multiprocess:  # this process's live gauges leave the sums
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(os.getpid())

    return observe(install_module_guard(Litestar(
        route_handlers=[health, api_login, api_logout, api_me, entities, units_on, home, form_login, form_logout,
                        build_record_router(rt), accounts_router(), approvals_router(), reports_router(),
                        report_exports_router(),
                        *(handler for part in parts.values() for handler in part.handlers()),
                        *plugin_routes(rt), healthz, readyz, metrics_endpoint, search_records],
        on_startup=[startup] if lifespan else [],
        on_shutdown=[shutdown] if lifespan else [],
        exception_handlers={**exception_handlers(), **database_unavailable_handlers()},
        middleware=[HostileInputGuard],
        before_send=[security_headers],
        state=State({"rt": rt, "settings": settings, "entities": entity_definitions(rt.config), **parts, **ops,
                     _PARTS: tuple(parts.values())}),
        # the JSON document and two pages whose assets are vendored (see hoso.web.openapi)
        openapi_config=OpenAPIConfig(title="hoso API", version=hoso_version, path="/schema",
                                     render_plugins=documentation_pages("hoso API")),
        allowed_hosts=served_hosts(),
        debug=False,
        # the process's logging is hoso's (`hoso serve`: hoso.web.logs, HOSO_LOG_FORMAT): Litestar's own
        # configuration, applied whenever an application is made, replaced it in every worker of `--workers N`
        # and in a running server once a migration made a new application
        logging_config=None,
    )), metrics, settings)


def served_hosts() -> AllowedHostsConfig | None:
    """Litestar's allowed-hosts check for ``HOSO_SERVED_HOSTS`` (probes and scrapes may use any Host)."""
    hosts = list(setting("HOSO_SERVED_HOSTS"))
    if not hosts:
        return None
    try:
        return AllowedHostsConfig(allowed_hosts=hosts, exclude=["^/healthz$", "^/readyz$", "^/metrics$"],
                                  www_redirect=False)
    except ValueError:  # a wildcard elsewhere than at the start: name the setting, not Litestar's class
        from hoso.i18n import both
        from hoso.settings import SettingError

        raise SettingError(both("setting_choice", name="HOSO_SERVED_HOSTS", raw=repr(",".join(hosts)),
                                choices="hoso.example.vn, *.example.vn")) from None


_PARTS = "hoso.parts"


async def start_parts(app: Litestar) -> None:
    """Start the parts of an application made without ``lifespan`` (a later generation of a running process),
    and let its readiness check serve the definitions it was built for."""
    for part in app.state[_PARTS]:
        await part.start()
    await app.state["readiness"].started()
