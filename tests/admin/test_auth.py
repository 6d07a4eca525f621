"""The admin is mounted at /admin/ and logs in with hoso's accounts and sessions: one session for the API and the
admin, locked or inactive accounts and ended sessions refused."""

from __future__ import annotations

import datetime as dt
import json

from tests.web.conftest import PASSWORD


async def test_mounted_at_admin_with_a_redirect(admin):
    client = admin.client
    r = await client.get("/admin", follow_redirects=False)
    assert r.status_code == 308 and r.headers["location"] == "/admin/"
    r = await client.get("/admin?lang=vi", follow_redirects=False)
    assert r.headers["location"] == "/admin/?lang=vi"
    index = await client.get("/admin/")
    assert index.status_code == 200 and "./assets/" in index.text and "./hoso/admin.js" in index.text
    assert (await client.get("/admin/hoso/admin.js")).headers["content-type"].startswith("text/javascript")
    assert (await client.get("/adminx")).status_code == 404
    # the rest of the application is untouched, and the admin stays out of the API's OpenAPI document
    assert (await client.get("/api/health")).status_code == 200
    paths = (await client.get("/schema/openapi.json")).json()["paths"]
    assert paths and not any(p.startswith("/admin") for p in paths)


async def test_anonymous_requests_are_refused(admin):
    for path in ("/tables/", "/tables/case/", f"/tables/case/{admin.seed.cases['ha_noi']}/", "/forms/", "/user/"):
        r = await admin.get(path)
        assert r.status_code == 401, path
    assert (await admin.client.get("/admin/hoso/labels/")).status_code == 401
    assert (await admin.client.get("/admin/hoso/history/")).status_code == 401
    # piccolo's own session cookie means nothing here
    admin.client.cookies.set("id", "anything")
    assert (await admin.get("/tables/")).status_code == 401


async def test_same_accounts_and_one_session_for_api_and_admin(admin):
    seed = admin.seed
    r = await admin.login("tt01.staff")
    assert r.status_code == 200 and r.json()["user"]["username"] == "tt01.staff"
    assert "hoso_session" in r.cookies and "id" not in r.cookies
    me = await admin.client.get("/api/me")
    assert me.status_code == 200 and me.json()["id"] == seed.users["tt01.staff"]
    user = (await admin.get("/user/")).json()
    assert user == {"username": "Cán bộ tt01.staff", "user_id": str(seed.users["tt01.staff"])}
    audit = await admin.web.audit("login")
    assert audit[-1]["actor"] == "tt01.staff" and json.loads(audit[-1]["changes"]) == {"@via": "admin"}

    # a session started by the API works in the admin
    admin.client.cookies.clear()
    r = await admin.client.post("/api/login", json={"username": "tt02.staff", "password": PASSWORD})
    assert r.status_code == 200
    assert (await admin.get("/user/")).json()["user_id"] == str(seed.users["tt02.staff"])

    # logging out of the admin ends the API session too
    r = await admin.client.post("/admin/public/logout/", headers={"X-CSRFToken": await admin.csrf()})
    assert r.status_code == 200
    assert (await admin.client.get("/api/me")).status_code == 401
    assert (await admin.get("/tables/")).status_code == 401


async def test_login_needs_the_csrf_token(admin):
    r = await admin.client.post("/admin/public/login/", json={"username": "tt01.staff", "password": PASSWORD})
    assert r.status_code == 403


async def test_wrong_password_locked_and_inactive_accounts_are_refused(admin):
    r = await admin.login("tt01.staff", "wrong-password-1")
    assert r.status_code == 401 and "hoso_session" not in r.cookies
    r = await admin.login("khoa.user")  # locked in the seed
    assert r.status_code == 401 and "hoso_session" not in r.cookies
    failed = await admin.web.audit("login_failed")
    assert [json.loads(a["changes"])["reason"] for a in failed[-2:]] == ["bad_credentials", "locked"]
    await admin.web.rt.db.execute("UPDATE hoso_user SET active = {} WHERE username = 'tt02.staff'", False)
    assert (await admin.login("tt02.staff")).status_code == 401
    # piccolo-admin's own login form posts to the same place
    r = await admin.client.post("/admin/public/login", json={"username": "khoa.user", "password": PASSWORD},
                                headers={"X-CSRFToken": await admin.csrf()})
    assert r.status_code == 401


async def test_locking_an_account_ends_its_admin_session(admin):
    assert (await admin.login("tt01.staff")).status_code == 200
    assert (await admin.get("/tables/")).status_code == 200
    await admin.web.rt.db.execute("UPDATE hoso_user SET locked = {} WHERE username = 'tt01.staff'", True)
    assert (await admin.get("/tables/")).status_code == 401
    assert await admin.web.count("hoso_session", "user_id = {}", admin.seed.users["tt01.staff"]) == 0


async def test_idle_and_absolute_expiry_end_the_session(admin):
    uid = admin.seed.users["tt01.staff"]
    db = admin.web.rt.db
    await admin.login("tt01.staff")
    assert (await admin.get("/tables/")).status_code == 200
    # idle: the expiry slides forward with requests, but a session left alone ends
    await db.execute("UPDATE hoso_session SET expiry_date = {} WHERE user_id = {}",
                     dt.datetime.now() - dt.timedelta(seconds=1), uid)
    assert (await admin.get("/tables/")).status_code == 401
    # absolute: 24 hours after the login, whatever the activity
    await admin.login("tt01.staff")
    await db.execute("UPDATE hoso_session SET max_expiry_date = {} WHERE user_id = {}",
                     dt.datetime.now() - dt.timedelta(seconds=1), uid)
    assert (await admin.get("/tables/")).status_code == 401
    # a fresh session has the web settings' limits (1 h idle, 24 h in all)
    await admin.login("tt01.staff")
    row = (await db.fetch("SELECT expiry_date, max_expiry_date FROM hoso_session WHERE user_id = {}", uid))[0]
    expiry, max_expiry = (v if isinstance(v, dt.datetime) else dt.datetime.fromisoformat(v)
                          for v in (row["expiry_date"], row["max_expiry_date"]))
    assert dt.timedelta(minutes=59) < expiry.replace(tzinfo=None) - dt.datetime.now() <= dt.timedelta(hours=1)
    assert dt.timedelta(hours=23) < max_expiry.replace(tzinfo=None) - dt.datetime.now() <= dt.timedelta(hours=24)


async def test_change_password_uses_hoso_rules(admin):
    await admin.login("tt01.staff")
    old = admin.client.cookies.get("hoso_session")
    r = await admin.send("POST", "/change-password/", {"current_password": PASSWORD, "new_password": "short",
                                                       "confirm_new_password": "short"})
    assert r.status_code == 422
    r = await admin.send("POST", "/change-password/", {"current_password": PASSWORD,
                                                       "new_password": "a-new-password-77",
                                                       "confirm_new_password": "a-new-password-77"})
    assert r.status_code == 200, r.text
    # This browser gets a new session; every other session of the account ends (issue 8, item 4).
    assert (await admin.get("/tables/")).status_code == 200
    uid = admin.seed.users["tt01.staff"]
    [token] = [x["token"] for x in await admin.web.rt.db.fetch("SELECT token FROM hoso_session WHERE user_id = {}",
                                                               uid)]
    assert token == admin.client.cookies.get("hoso_session") and token != old
    admin.client.cookies.set("hoso_session", old)
    assert (await admin.get("/tables/")).status_code == 401
    assert (await admin.login("tt01.staff", "a-new-password-77")).status_code == 200
    assert await admin.web.count("hoso_audit", "action = 'user.password_change'") == 1


async def test_failed_logins_are_throttled_like_the_api(admin):
    for _ in range(5):
        assert (await admin.login("tt02.staff", "wrong-password-1")).status_code == 401
    r = await admin.login("tt02.staff")  # even the right password, for 15 minutes
    assert r.status_code == 429 and "hoso_session" not in r.cookies
    failed = await admin.web.audit("login_failed")
    assert json.loads(failed[-1]["changes"])["reason"] == "throttled"
    r = await admin.client.post("/api/login", json={"username": "tt02.staff", "password": PASSWORD})
    assert r.status_code == 429  # the API counts the admin's failures too


async def test_a_reset_password_must_be_changed_before_anything_else(admin):
    """Issue 8, item 4: the temporary password gave full access to the admin."""
    from hoso.accounts import reset_password
    from hoso.scope import Actor

    uid = admin.seed.users["tt01.staff"]
    temporary = await reset_password(admin.web.rt, Actor(None, "root", superuser=True), uid)
    assert (await admin.login("tt01.staff", temporary)).status_code == 200
    for path in ("/tables/", "/tables/case/", "/forms/"):
        r = await admin.get(path)
        assert r.status_code == 403 and r.json()["must_change_password"] is True, path
        assert "đổi mật khẩu" in r.json()["detail"]
    assert (await admin.get("/user/")).status_code == 200  # the admin's shell still shows the change page
    assert (await admin.client.get("/admin/hoso/history/")).status_code == 403
    script = (await admin.client.get("/admin/hoso/admin.js")).text
    assert "must_change_password" in script and "#/change-password/" in script
    r = await admin.send("POST", "/change-password/", {"current_password": temporary,
                                                       "new_password": "aaaaaaaaaaaa",
                                                       "confirm_new_password": "aaaaaaaaaaaa"})
    assert r.status_code == 422 and "quá dễ đoán" in r.json()["detail"]
    r = await admin.send("POST", "/change-password/", {"current_password": temporary,
                                                       "new_password": "a-new-password-77",
                                                       "confirm_new_password": "a-new-password-77"})
    assert r.status_code == 200, r.text
    assert (await admin.get("/tables/")).status_code == 200


async def test_wrong_current_passwords_in_the_admin_are_throttled_and_audited(admin):
    await admin.login("tt01.staff")
    for i in range(5):
        r = await admin.send("POST", "/change-password/", {"current_password": f"wrong-{i}-password",
                                                           "new_password": "a-new-password-77",
                                                           "confirm_new_password": "a-new-password-77"})
        assert r.status_code == 422, r.text
    r = await admin.send("POST", "/change-password/", {"current_password": PASSWORD,
                                                       "new_password": "a-new-password-77",
                                                       "confirm_new_password": "a-new-password-77"})
    assert r.status_code == 429, r.text
    assert await admin.web.count("hoso_audit", "action = 'password_change_failed'") == 6
