"""/healthz answers without the database; /readyz checks the database, the applied definitions and the checks
plugins add, caches its answer, and answers 503 with a problem document naming what failed (never a secret)."""

from __future__ import annotations

import asyncpg
import pytest

from hoso.audit import REQUEST_ID
from hoso.hookspecs import hookimpl
from hoso.plugin_manager import PluginError
from hoso.plugin_types import ReadinessCheck
from hoso.runtime import Runtime
from hoso.server import create_app
from tests.web.conftest import running


@pytest.fixture(autouse=True)
def _uncached(monkeypatch):
    monkeypatch.setenv("HOSO_READY_CACHE_SECONDS", "0")


def _break_database(web, monkeypatch, error=ConnectionRefusedError):
    """Every query of the app's runtime fails as it does when the server cannot be reached."""
    calls = []

    async def refused(*args, **kwargs):
        calls.append(REQUEST_ID.get())  # None: background work of the app, not a request
        raise error("connection refused")

    db = web.app.state.rt.db
    monkeypatch.setattr(db, "fetch", refused)
    monkeypatch.setattr(db, "execute", refused)
    return calls


async def test_healthz_answers_without_the_database(web, monkeypatch):
    calls = _break_database(web, monkeypatch)
    r = await web.client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "alive"}
    assert r.headers["x-request-id"] not in calls


async def test_readyz_is_ready_on_a_migrated_database(web):
    r = await web.client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ready", "checks": {"database": {"ok": True}, "definitions": {"ok": True},
                                                      "jobs": {"ok": True}}}


async def test_readyz_names_an_unreachable_database_and_shows_no_secret(web, monkeypatch, database_url):
    _break_database(web, monkeypatch)
    r = await web.client.get("/readyz", headers={"Accept-Language": "en"})
    assert r.status_code == 503
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.headers["retry-after"] == "5"
    body = r.json()
    assert body["type"] == "urn:hoso:problem:not-ready" and body["status"] == 503
    assert body["checks"]["database"] == {"ok": False, "reason": "unreachable"}
    assert body["checks"]["definitions"]["ok"] is False
    assert "database" in body["detail"]
    for secret in (database_url, "refused", "Traceback", "postgres@"):
        assert secret not in r.text


async def test_readyz_fails_when_other_definitions_were_applied(web):
    await web.rt.db.execute("INSERT INTO hoso_schema_state (applied_at, applied_by, content_hash, snapshot) "
                            "SELECT applied_at, 'other', {}, snapshot FROM hoso_schema_state ORDER BY id DESC "
                            "LIMIT 1", "f" * 64)
    r = await web.client.get("/readyz")
    assert r.status_code == 503
    checks = r.json()["checks"]
    assert checks["database"] == {"ok": True} and checks["definitions"]["ok"] is False
    assert "hoso migrate" in checks["definitions"]["reason"]


async def test_readyz_keeps_its_answer_for_the_cache_time(config_dir, database_url, monkeypatch):
    monkeypatch.setenv("HOSO_READY_CACHE_SECONDS", "3600")
    async with running(config_dir.root, database_url) as web:
        assert (await web.client.get("/readyz")).status_code == 200
        calls = _break_database(web, monkeypatch)
        cached = await web.client.get("/readyz")
        assert cached.status_code == 200 and cached.headers["x-request-id"] not in calls
        web.app.state.readiness.cache_seconds = 0
        asked = await web.client.get("/readyz")
        assert asked.status_code == 503 and asked.headers["x-request-id"] in calls


class _Outbox:
    stuck: str | None = None

    @hookimpl
    def hoso_readiness_checks(self, runtime):
        async def not_stuck(rt):
            assert rt is runtime
            return self.stuck

        return [ReadinessCheck("outbox", not_stuck)]


async def test_a_plugin_readiness_check_makes_readyz_fail(config_dir, database_url):
    outbox = _Outbox()
    async with running(config_dir.root, database_url, plugins=[outbox]) as web:
        r = await web.client.get("/readyz")
        assert r.status_code == 200 and r.json()["checks"]["outbox"] == {"ok": True}
        outbox.stuck = "3 messages past their lease"
        r = await web.client.get("/readyz")
        assert r.status_code == 503
        assert r.json()["checks"]["outbox"] == {"ok": False, "reason": "3 messages past their lease"}
        assert "outbox" in r.json()["detail"]


class _Raising:
    @hookimpl
    def hoso_readiness_checks(self, runtime):
        async def broken(rt):
            raise RuntimeError("secret detail")

        return [ReadinessCheck("broken", broken)]


async def test_a_raising_check_fails_without_its_message(config_dir, database_url):
    async with running(config_dir.root, database_url, plugins=[_Raising()]) as web:
        r = await web.client.get("/readyz")
        assert r.status_code == 503
        assert r.json()["checks"]["broken"] == {"ok": False, "reason": "failed (RuntimeError)"}
        assert "secret detail" not in r.text


class _Clashing:
    @hookimpl
    def hoso_readiness_checks(self, runtime):
        async def fine(rt):
            return None

        return [ReadinessCheck("database", fine)]


def test_a_check_named_like_a_built_in_one_stops_start_up(config_dir, tmp_path):
    rt = Runtime.create(config_dir.root, f"sqlite:///{tmp_path / 'x.db'}", plugins=[_Clashing()])
    with pytest.raises(PluginError, match="database"):
        create_app(rt)


async def test_an_api_request_without_a_database_is_a_503_problem(admin):
    for error in (ConnectionRefusedError, asyncpg.exceptions.ConnectionDoesNotExistError,
                  asyncpg.exceptions.CannotConnectNowError, asyncpg.exceptions.InterfaceError):
        with pytest.MonkeyPatch.context() as mp:
            _break_database(admin, mp, error)
            r = await admin.client.get("/api/records/case", headers={"Accept-Language": "en"})
        assert r.status_code == 503, (error, r.text)
        assert r.headers["content-type"].startswith("application/problem+json"), error
        assert r.json()["type"] == "urn:hoso:problem:database-unavailable", error
        assert "try again" in r.json()["detail"] and "Traceback" not in r.text, error
        assert r.headers["retry-after"] == "5", error
    assert (await admin.client.get("/api/records/case")).status_code == 200  # the database back: answers again


async def test_only_the_served_hosts_are_answered_but_probes_pass(config_dir, database_url, monkeypatch):
    monkeypatch.setenv("HOSO_SERVED_HOSTS", "hoso.example.vn,*.tgpl.example.vn")
    async with running(config_dir.root, database_url) as web:
        for host, status in (("hoso.example.vn", 200), ("hanoi.tgpl.example.vn", 200), ("evil.example", 400),
                             ("testserver.local", 400)):
            r = await web.client.get("/api/entities", headers={"Host": host})
            assert (r.status_code == 400) == (status == 400), (host, r.status_code)
        for path in ("/healthz", "/readyz"):
            assert (await web.client.get(path, headers={"Host": "10.0.0.5:8000"})).status_code == 200


def test_a_misplaced_wildcard_in_the_served_hosts_names_the_setting(config_dir, tmp_path, monkeypatch):
    from hoso.settings import SettingError

    monkeypatch.setenv("HOSO_SERVED_HOSTS", "hoso.*.vn")
    rt = Runtime.create(config_dir.root, f"sqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(SettingError, match="HOSO_SERVED_HOSTS"):
        create_app(rt)
