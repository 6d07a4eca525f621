"""Where a module is off for the user, what it names does not exist: its API answers 404 like an unknown path.

The guard matches the request path, so it covers the record API of a module's entities and every route a
plugin registers under a module's ``routes`` prefixes, whichever handler serves it. The policy itself is
``hoso.modules``; this module only asks it.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException

from hoso.modules import ModuleSwitches, check_new_record, switches
from hoso.modules import path_under as _under

__all__ = ["ModuleGuard", "install", "visible_entities", "check_create_unit", "check_form", "request_switches"]

log = logging.getLogger("hoso.web")

_RECORDS = "/api/records/"
_SWITCHES_KEY = "hoso_switches"
# Where a hidden path is routed: no route can serve it (a NUL never reaches a handler).
_NOWHERE = "/\x00module-off"


def _routed(path: str) -> str:
    """The path as the router matches it: it reads repeated slashes as one (``/api//records/x`` serves
    ``/api/records/x``), so the guard must judge that path, not the one as sent."""
    return re.sub("/{2,}", "/", path)


def _entity_of(path: str) -> str | None:
    if not path.startswith(_RECORDS):
        return None
    return path[len(_RECORDS):].split("/", 1)[0] or None


def _gated(config, path: str) -> bool:
    """Whether a module names the path's entity or one of its prefixes (known without reading the database)."""
    entity = _entity_of(path)
    return any(entity in m.entities or any(_under(path, p) for p in m.routes) for m in config.modules)


async def _user(connection: ASGIConnection) -> Any:
    from hoso.web.auth import current_user

    return await current_user(connection)


async def request_switches(connection: ASGIConnection) -> ModuleSwitches:
    """The module switches of the request's definitions, read once per request: the guard, the handler and what
    it calls ask the same question without a statement each."""
    state = connection.scope.setdefault("state", {})
    rt = connection.app.state.rt
    found = state.get(_SWITCHES_KEY)
    if found is None or found.config is not rt.config:
        found = state[_SWITCHES_KEY] = await switches(rt)
    return found


class ModuleGuard:
    """ASGI wrapper of the whole application, in front of its router: a path of a module the requesting user does
    not have is routed as a path no route serves, so every method gets the very answer of an unknown path (a
    guard behind the router would let a method the route lacks answer 405 and tell the route exists)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and await self._hidden(scope):
            scope = {**scope, "path": _NOWHERE, "raw_path": _NOWHERE.encode("utf-8")}
        await self.app(scope, receive, send)

    async def _hidden(self, scope) -> bool:
        path = _routed(scope.get("path") or "/")
        if not _gated(scope["app"].state.rt.config, path):
            return False
        connection: ASGIConnection = ASGIConnection(scope)
        try:
            sw = await request_switches(connection)
            user = await _user(connection)
            entity = _entity_of(path)
            return not (await sw.route_available(user, path)
                        and (entity is None or await sw.entity_available(user, entity)))
        except HTTPException:
            return False  # e.g. a password to change first: the route answers it as it does everywhere
        except Exception:
            log.exception("deciding the modules of %s failed: the path is answered as unknown", path)
            return True


def install(app):
    """Put the guard in front of ``app``'s router (inside Litestar, so the router's 404 is a problem document)."""
    app.asgi_handler = ModuleGuard(app.asgi_handler)
    return app


async def visible_entities(connection: ASGIConnection, entities: list[dict]) -> list[dict]:
    """The entity definitions the requesting user has: those of modules off for them are left out."""
    if not any(m.entities for m in connection.app.state.rt.config.modules):
        return entities
    sw = await request_switches(connection)
    names = await sw.names_available(await _user(connection), "entities", [e["name"] for e in entities])
    keep = set(names)
    return [e for e in entities if e["name"] in keep]


async def check_create_unit(connection: ASGIConnection, entity, body: dict) -> None:
    """Refuse (422, naming the module) a new record of a module's entity at a unit where the module is off."""
    from hoso.web.problems import request_lang

    await check_new_record(connection.app.state.rt, entity, body, request_lang(connection))


async def check_form(connection: ASGIConnection, entity, form: str | None) -> None:
    """A form of a module the user does not have is refused like a form that does not exist."""
    from hoso.i18n import t
    from hoso.records.errors import ValidationError
    from hoso.web.problems import request_lang

    if form is None or not any(form in m.forms for m in connection.app.state.rt.config.modules):
        return
    sw = await request_switches(connection)
    if form in (await sw.names_off(await _user(connection))).get("forms", ()):
        raise ValidationError([("form", t("unknown_form", request_lang(connection), value=form))])
