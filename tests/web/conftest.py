"""Fixtures for the web application: a migrated database, the app on it, and a client.

The app runs in the test client's own event loop (a thread), so it gets a runtime of its own; the test reads
and writes the database through a second runtime (``Web.rt``), whose engine keeps no connection pool.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from hoso.config import load_config
from hoso.db import quote
from hoso.runtime import Runtime
from hoso.server import create_app
from hoso.users import create_user
from tests.helpers import migrated_runtime

PASSWORD = "correct-horse-42"


@dataclass
class Web:
    app: Litestar
    rt: Runtime  # for the test's own queries
    client: AsyncTestClient

    async def count(self, table: str, where: str = "", *args: Any) -> int:
        sql = f"SELECT COUNT(*) AS n FROM {quote(table)}" + (f" WHERE {where}" if where else "")
        return int(await self.rt.db.fetchval(sql, *args) or 0)

    async def user(self, username: str, *, superuser: bool = False, locked: bool = False, active: bool = True,
                   password: str = PASSWORD, unit_code: str | None = None) -> int:
        uid = await create_user(self.rt, username, password, superuser=superuser, unit_code=unit_code,
                                display_name=f"Người dùng {username}", actor="test")
        if locked or not active:
            await self.rt.db.execute("UPDATE hoso_user SET locked = {}, active = {} WHERE id = {}", locked, active, uid)
        return uid

    async def login(self, username: str, password: str = PASSWORD, **kw):
        return await self.client.post("/api/login", json={"username": username, "password": password}, **kw)

    async def audit(self, action: str) -> list[dict]:
        return await self.rt.db.fetch(
            "SELECT actor_id, actor, origin, action, entity, record_id, changes FROM hoso_audit WHERE action = {} "
            "ORDER BY id", action)


@contextlib.asynccontextmanager
async def running(config_root, database_url: str, plugins=()):
    """Migrate ``database_url`` to the configuration at ``config_root`` and serve the app on it."""
    rt = await migrated_runtime(load_config(config_root), database_url)
    app = create_app(Runtime.create(config_root, database_url, plugins=plugins))
    try:
        async with AsyncTestClient(app) as client:
            yield Web(app, rt, client)
    finally:
        await rt.db.close()  # the test's own runtime kept its pool (a connection per query costs a server process)


@pytest.fixture
async def web(config_dir, database_url):
    async with running(config_dir.root, database_url) as w:
        yield w


@pytest.fixture
async def admin(web):
    """``web`` with a superuser logged in."""
    await web.user("admin.test", superuser=True)
    r = await web.login("admin.test")
    assert r.status_code == 200, r.text
    return web
