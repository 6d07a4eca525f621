"""A PostgreSQL restart while serving: requests fail cleanly (503 problem documents, quickly, never a traceback)
and service resumes once the database is back, without restarting hoso. The restart is played by a TCP proxy
between hoso and the server (tests/ops/tcp_proxy.py) that closes every connection and refuses new ones."""

from __future__ import annotations

import asyncio
import time

import pytest

from hoso.config import load_config
from hoso.runtime import Runtime
from hoso.server import create_app
from tests.helpers import migrated_runtime
from tests.ops.tcp_proxy import TcpProxy
from tests.web.conftest import PASSWORD

CASE = {"received_on": "2025-03-04", "form_of_aid": "TV", "requester": "Phạm Thị Dung"}


@pytest.fixture
def proxy(postgres_url):
    p = TcpProxy.to(postgres_url).start()
    yield p
    p.stop()


async def _app_through(config_root, postgres_url: str, proxy: TcpProxy):
    rt = await migrated_runtime(load_config(config_root), postgres_url)
    from hoso.users import create_user

    await create_user(rt, "admin.faults", PASSWORD, superuser=True, actor="test")
    unit = await rt.db.fetchval("SELECT id FROM hoso_unit WHERE code = 'TT'")
    return rt, unit, create_app(Runtime.create(config_root, proxy.url_through(postgres_url)))


async def test_a_database_restart_gives_503s_then_service_resumes(config_dir, postgres_url, proxy, monkeypatch):
    from litestar.testing import AsyncTestClient

    monkeypatch.setenv("HOSO_READY_CACHE_SECONDS", "0")
    rt, unit, app = await _app_through(config_dir.root, postgres_url, proxy)
    try:
        async with AsyncTestClient(app) as client:
            r = await client.post("/api/login", json={"username": "admin.faults", "password": PASSWORD})
            assert r.status_code == 200, r.text
            assert (await client.post("/api/records/case", json={**CASE, "unit": unit})).status_code == 201

            proxy.cut()
            for method, path, body in (("GET", "/api/records/case", None),
                                       ("POST", "/api/records/case", {**CASE, "unit": unit}),
                                       ("GET", "/readyz", None)):
                started = time.monotonic()
                r = await client.request(method, path, json=body, headers={"Accept-Language": "en"})
                assert time.monotonic() - started < 10, f"{method} {path} hung"
                assert r.status_code == 503, (method, path, r.text)
                assert r.headers["content-type"].startswith("application/problem+json")
                assert "Traceback" not in r.text and "asyncpg" not in r.text
            assert (await client.get("/healthz")).status_code == 200
            admin = await client.get("/admin/api/tables/", headers={"Accept-Language": "en"})
            assert admin.status_code == 503 and admin.json()["type"] == "urn:hoso:problem:database-unavailable"
            assert await rt.db.fetchval("SELECT COUNT(*) AS n FROM \"case\"") == 1  # the refused write left nothing

            proxy.restore()
            deadline = time.monotonic() + 15
            while True:
                r = await client.get("/api/records/case")
                if r.status_code == 200 or time.monotonic() > deadline:
                    break
                assert r.status_code == 503, r.text
                await asyncio.sleep(0.1)
            assert r.status_code == 200, r.text
            created = await client.post("/api/records/case", json={**CASE, "unit": unit})
            assert created.status_code == 201, created.text
            assert (await client.get("/readyz")).status_code == 200
            assert await rt.db.fetchval("SELECT COUNT(*) AS n FROM \"case\"") == 2
            # the pool reconnected through the proxy rather than hoso being restarted
            assert proxy.accepted >= 2
    finally:
        await rt.db.close()
