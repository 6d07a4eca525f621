"""Login, logout, sessions and deny-by-default access, on both engines."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

from tests.web.conftest import PASSWORD, running

GENERIC = "Wrong username or password, or the account may not log in."
EN = {"Accept-Language": "en-GB,en;q=0.8"}


def problem_ok(r, status):
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert set(body) >= {"type", "title", "status", "detail"} and body["status"] == status
    return body


async def test_health_needs_no_login(web, engine_name):
    r = await web.client.get("/api/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": engine_name, "definitions": web.rt.config.content_hash}


async def test_login_sets_a_session_cookie_and_is_audited(web):
    uid = await web.user("anna.tran", superuser=True)
    r = await web.login("anna.tran")
    assert r.status_code == 200, r.text
    assert r.json()["user"]["username"] == "anna.tran"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("hoso_session=")
    assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower() and "Path=/" in cookie
    assert await web.count("hoso_session", "user_id = {}", uid) == 1

    me = await web.client.get("/api/me")
    assert me.status_code == 200
    assert me.json()["id"] == uid and me.json()["superuser"] is True

    [entry] = await web.audit("login")
    assert entry["actor_id"] == uid and entry["actor"] == "anna.tran" and entry["record_id"] == uid
    assert entry["origin"] == "testclient"  # the client address


async def test_wrong_password_and_unknown_user_get_the_same_401_and_are_audited(web):
    await web.user("binh.le")
    wrong = await web.login("binh.le", "not-the-password", headers=EN)
    unknown = await web.login("nobody.here", PASSWORD, headers=EN)
    for r in (wrong, unknown):
        assert problem_ok(r, 401)["detail"] == GENERIC
        assert "set-cookie" not in r.headers
    assert await web.count("hoso_session") == 0
    failed = await web.audit("login_failed")
    assert [(f["actor"], f["actor_id"], f["origin"]) for f in failed] == [
        ("binh.le", None, "testclient"), ("nobody.here", None, "testclient")]
    assert json.loads(failed[0]["changes"]) == {"reason": "bad_credentials"}
    assert await web.audit("login") == []
    assert (await web.client.get("/api/me")).status_code == 401


async def test_locked_and_inactive_accounts_are_refused(web):
    await web.user("chi.locked", superuser=True, locked=True)
    await web.user("dung.inactive", superuser=True, active=False)
    for name in ("chi.locked", "dung.inactive"):
        r = await web.login(name, headers=EN)
        assert problem_ok(r, 401)["detail"] == GENERIC  # the right password, but no hint why
        assert "set-cookie" not in r.headers
    reasons = [json.loads(f["changes"])["reason"] for f in await web.audit("login_failed")]
    assert reasons == ["locked", "inactive"]
    assert await web.count("hoso_session") == 0


async def test_locking_an_account_ends_its_open_sessions(web):
    uid = await web.user("em.soon.locked", superuser=True)
    assert (await web.login("em.soon.locked")).status_code == 200
    assert (await web.client.get("/api/records/case")).status_code == 200
    await web.rt.db.execute("UPDATE hoso_user SET locked = {} WHERE id = {}", True, uid)
    problem_ok(await web.client.get("/api/records/case"), 401)
    assert await web.count("hoso_session") == 0


async def test_a_session_cookie_is_required(web):
    for method, url in (("GET", "/api/me"), ("GET", "/api/entities"), ("GET", "/api/records/case"),
                        ("GET", "/api/records/case/1"), ("POST", "/api/records/case")):
        r = await web.client.request(method, url, json={} if method == "POST" else None, headers=EN)
        assert problem_ok(r, 401)["detail"] == "You must log in to do this.", url
    web.client.cookies.set("hoso_session", "forged-token")
    problem_ok(await web.client.get("/api/me"), 401)


async def test_users_without_a_role_grant_get_403_on_records(web):
    await web.user("giang.staff", unit_code="TT")
    assert (await web.login("giang.staff")).status_code == 200
    me = (await web.client.get("/api/me")).json()
    assert me["superuser"] is False and me["unit"]["code"] == "TT"
    assert (await web.client.get("/api/entities")).status_code == 200  # definitions are not records
    before = await web.count("case")
    for method, url in (("GET", "/api/records/case"), ("GET", "/api/records/case/1"),
                        ("POST", "/api/records/case")):
        r = await web.client.request(method, url, headers=EN,
                                     json={"received_on": "2025-01-01"} if method == "POST" else None)
        body = problem_ok(r, 403)
        assert "roles grant no access" in body["detail"]
    vi = problem_ok(await web.client.get("/api/records/case"), 403)
    assert "Vai trò của bạn" in vi["detail"]
    assert await web.count("case") == before


async def test_logout_ends_the_session_and_is_audited(web):
    uid = await web.user("hai.pham", superuser=True)
    assert (await web.login("hai.pham")).status_code == 200
    r = await web.client.post("/api/logout")
    assert r.status_code == 204
    assert "Max-Age=0" in r.headers["set-cookie"]
    assert await web.count("hoso_session") == 0
    [entry] = await web.audit("logout")
    assert entry["actor_id"] == uid and entry["origin"] == "testclient"
    assert (await web.client.get("/api/me")).status_code == 401
    # Logging out again is harmless and writes nothing.
    assert (await web.client.post("/api/logout")).status_code == 204
    assert len(await web.audit("logout")) == 1


async def test_an_idle_session_expires(web):
    await web.user("khanh.vu", superuser=True)
    assert (await web.login("khanh.vu")).status_code == 200
    Session = web.rt.tables.system["session"]
    await Session.update({Session.expiry_date: dt.datetime.now() - dt.timedelta(seconds=1)}).where(Session.id > 0)
    problem_ok(await web.client.get("/api/me"), 401)
    assert await web.count("hoso_session") == 0  # an ended session is removed


async def test_a_session_ends_at_its_absolute_expiry_even_when_active(web):
    await web.user("lan.do", superuser=True)
    assert (await web.login("lan.do")).status_code == 200
    Session = web.rt.tables.system["session"]
    await Session.update({Session.max_expiry_date: dt.datetime.now() - dt.timedelta(seconds=1)}).where(Session.id > 0)
    problem_ok(await web.client.get("/api/me"), 401)


async def test_session_lifetimes_come_from_the_environment(config_dir, database_url, monkeypatch):
    monkeypatch.setenv("HOSO_SESSION_IDLE_MINUTES", "5")
    monkeypatch.setenv("HOSO_SESSION_MAX_HOURS", "2")
    async with running(config_dir.root, database_url) as web:
        await web.user("minh.ho", superuser=True)
        before = dt.datetime.now()
        r = await web.login("minh.ho")
        assert "Max-Age=7200" in r.headers["set-cookie"]
        Session = web.rt.tables.system["session"]
        [s] = await Session.select(Session.expiry_date, Session.max_expiry_date)
        assert dt.timedelta(minutes=5) <= s["expiry_date"] - before < dt.timedelta(minutes=5, seconds=30)
        assert dt.timedelta(hours=2) <= s["max_expiry_date"] - before < dt.timedelta(hours=2, seconds=30)
        # A request slides the idle expiry forward, up to the absolute expiry.
        await Session.update({Session.expiry_date: dt.datetime.now() + dt.timedelta(minutes=1)}).where(Session.id > 0)
        assert (await web.client.get("/api/me")).status_code == 200
        [s] = await Session.select(Session.expiry_date)
        assert s["expiry_date"] - dt.datetime.now() > dt.timedelta(minutes=4)


async def test_tiny_idle_timeout_from_the_environment(config_dir, database_url, monkeypatch):
    monkeypatch.setenv("HOSO_SESSION_IDLE_MINUTES", "0.0001")  # 6 ms
    async with running(config_dir.root, database_url) as web:
        await web.user("nam.ngo", superuser=True)
        assert (await web.login("nam.ngo")).status_code == 200
        await asyncio.sleep(0.05)
        problem_ok(await web.client.get("/api/me"), 401)


def test_bad_session_settings_are_refused(monkeypatch):
    from hoso.web.auth import WebSettings

    monkeypatch.setenv("HOSO_SESSION_IDLE_MINUTES", "soon")
    try:
        WebSettings.from_env()
    except ValueError as exc:
        assert "HOSO_SESSION_IDLE_MINUTES" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("expected ValueError")


async def test_cross_site_posts_are_refused(web):
    await web.user("oanh.ly", superuser=True)
    r = await web.login("oanh.ly", headers={"Origin": "https://evil.example"})
    problem_ok(r, 403)
    assert await web.audit("login") == []
    r = await web.login("oanh.ly", headers={"Origin": "http://testserver.local"})
    assert r.status_code == 200


async def test_login_needs_a_json_body_with_strings(web):
    problem_ok(await web.client.post("/api/login", data={"username": "x", "password": "y"}), 415)
    problem_ok(await web.client.post("/api/login", json=["x"]), 400)
    problem_ok(await web.client.post("/api/login", json={"username": 1, "password": 2}), 400)


async def test_repeated_failed_logins_are_throttled_even_with_the_right_password(web):
    await web.user("giang.pham")
    for _ in range(5):
        assert (await web.login("giang.pham", "wrong-password-x", headers=EN)).status_code == 401
    r = await web.login("giang.pham", headers=EN)  # the right password, but too late
    assert problem_ok(r, 429)["status"] == 429
    assert "set-cookie" not in r.headers
    assert await web.count("hoso_session") == 0
    reasons = [json.loads(f["changes"])["reason"] for f in await web.audit("login_failed")]
    assert reasons[-1] == "throttled"
    # Another account from elsewhere is not affected by this username's failures.
    await web.user("hoa.vu")
    assert (await web.login("hoa.vu", headers=EN)).status_code == 200
