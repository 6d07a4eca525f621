"""Where a module is off for the user, what it names does not exist: its API answers 404 like an unknown path.

The guard matches the request path, so it covers the record API of a module's entities and every route a
plugin registers under a module's ``routes`` prefixes, whichever handler serves it. The policy itself is
``hoso.modules``; this module only asks it.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotFoundException

from hoso.modules import ModuleSwitches, check_new_record, switches

__all__ = ["ModuleGuard", "visible_entities", "check_create_unit", "request_switches"]

_RECORDS = "/api/records/"


def _entity_of(path: str) -> str | None:
    if not path.startswith(_RECORDS):
        return None
    return path[len(_RECORDS):].split("/", 1)[0] or None


def _gated(sw: ModuleSwitches, path: str) -> bool:
    entity = _entity_of(path)
    return (entity is not None and sw.module_of_entity(entity) is not None) or sw.module_of_route(path) is not None


async def _user(connection: ASGIConnection) -> Any:
    from hoso.web.auth import current_user

    return await current_user(connection)


async def request_switches(connection: ASGIConnection) -> ModuleSwitches:
    return await switches(connection.app.state.rt)


class ModuleGuard:
    """ASGI middleware answering 404 for the paths of modules that do not exist for the requesting user."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        config = scope["app"].state.rt.config if scope["type"] == "http" else None
        if config is None or not any(m.entities or m.routes for m in config.modules):
            await self.app(scope, receive, send)
            return
        connection: ASGIConnection = ASGIConnection(scope)
        path = scope.get("path") or "/"
        sw = await request_switches(connection)
        if _gated(sw, path):
            user = await _user(connection)
            entity = _entity_of(path)
            if not (await sw.route_available(user, path) and (entity is None or await sw.entity_available(user, entity))):
                raise NotFoundException()  # the very answer of a path no route serves
        await self.app(scope, receive, send)


async def visible_entities(connection: ASGIConnection, entities: list[dict]) -> list[dict]:
    """The entity definitions the requesting user has: those of modules off for them are left out."""
    sw = await request_switches(connection)
    names = await sw.names_available(await _user(connection), "entities", [e["name"] for e in entities])
    keep = set(names)
    return [e for e in entities if e["name"] in keep]


async def check_create_unit(connection: ASGIConnection, entity, body: dict) -> None:
    """Refuse (422, naming the module) a new record of a module's entity at a unit where the module is off."""
    from hoso.web.problems import request_lang

    await check_new_record(connection.app.state.rt, entity, body, request_lang(connection))
