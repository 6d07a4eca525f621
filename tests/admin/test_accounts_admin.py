"""The admin's accounts pages over HTTP, on both engines: a centre's director lists and finds (ignoring diacritics)
the accounts of the centre, creates one (a one-time password shown once), grants and ends roles, transfers,
locks, resets (sessions and tokens end), links a performer record and mints and revokes API tokens; the pickers
offer only what ``hoso.accounts`` allows, and forged POSTs (a role above the director's, another province's unit
or account, an ended assignment, a locked page, no CSRF token) are refused with the API's message, changing
nothing. Every change is audited."""

from __future__ import annotations

import html
import re

from hoso.records.service import RecordContext
from hoso.web.auth import start_session
from tests.web.conftest import PASSWORD

PAGE = "/admin/hoso/accounts/"


async def _post(admin, path: str, data: dict, token: bool = True):
    body = {**data, **({"csrftoken": await admin.csrf()} if token else {})}
    return await admin.client.post(PAGE + path, data=body, headers={"Origin": "http://testserver.local"},
                                   follow_redirects=False)


async def _state(admin) -> tuple:
    """What an account action may change: assignments, users, sessions, tokens, performers' accounts, audit."""
    db = admin.web.rt.db
    out = []
    for sql in ("SELECT id, user_id, role, unit_id, starts_on, ends_on FROM hoso_assignment ORDER BY id",
                "SELECT id, unit_id, locked, must_change_password, password FROM hoso_user ORDER BY id",
                "SELECT token, user_id FROM hoso_session ORDER BY token",
                "SELECT id, revoked_at FROM hoso_api_token ORDER BY id",
                "SELECT id, account FROM performer ORDER BY id",
                "SELECT COUNT(*) AS n FROM hoso_audit"):
        out.append([tuple(r.values()) for r in await db.fetch(sql)])
    return tuple(out)


def _options(html: str, select_id: str) -> list[str]:
    block = re.search(rf'<select id="{select_id}"[^>]*>(.*?)</select>', html, re.S)
    assert block, select_id
    return re.findall(r'<option value="([^"]*)"', block.group(1))


def _secret(html: str) -> str:
    found = re.search(r'<code class="secret">([^<]+)</code>', html)
    assert found, html[:2000]
    return found.group(1)


async def test_director_creates_grants_ends_and_transfers_within_the_centre(admin):
    seed, db = admin.seed, admin.web.rt.db
    assert (await admin.login("tt01.director")).status_code == 200

    # the list: the centre's accounts only, found ignoring case and diacritics
    r = await admin.client.get(PAGE)
    assert r.status_code == 200 and "<h1>Tài khoản</h1>" in r.text
    listed = set(re.findall(r'data-username="([^"]+)"', r.text))
    assert {"tt01.staff", "luat.su", "khoa.user"} <= listed
    assert not listed & {"tt02.staff", "quan.tri", "thong.ke"}
    r = await admin.client.get(PAGE, params={"q": "CAN BO TT01.ST"})
    assert set(re.findall(r'data-username="([^"]+)"', r.text)) == {"tt01.staff"}
    # the pickers: the roles the director may grant, at the units of the centre
    assert _options(r.text, "c-role") == ["centre_staff", "performer_role"]
    units = _options(r.text, "c-unit")
    assert "TT-01" in units and "CN1-01" in units and "TT-02" not in units and "STP-01" not in units

    # create: a one-time password, shown once, to change at the first login
    r = await _post(admin, "create", {"username": "nv.moi", "display_name": "Đỗ Thị Mới", "role": "centre_staff",
                                      "unit": "TT-01"})
    assert r.status_code == 200, r.text
    temporary = _secret(r.text)
    uid = await db.fetchval("SELECT id FROM hoso_user WHERE username = 'nv.moi'")
    row = (await db.fetch("SELECT must_change_password, unit_id FROM hoso_user WHERE id = {}", uid))[0]
    assert row["must_change_password"] and row["unit_id"] == seed.units["TT-01"]
    actions = [r["action"] for r in await db.fetch(
        "SELECT action FROM hoso_audit WHERE entity = 'hoso_user' AND record_id = {} ORDER BY id", uid)]
    assert actions == ["user.create", "assignment.grant", "user.password_reset"]
    assert temporary not in (await admin.client.get(f"{PAGE}{uid}")).text  # shown once only
    # the new user logs in with it, and must change it first
    r = await admin.client.post("/api/login", json={"username": "nv.moi", "password": temporary})
    assert r.status_code == 200 and r.json()["user"]["must_change_password"] is True, r.text
    assert (await admin.login("tt01.director")).status_code == 200

    # forged creations: a role above the director's, a unit of another province; nothing changes
    before = await _state(admin)
    for data in ({"username": "x.one", "role": "centre_director", "unit": "TT-01"},
                 {"username": "x.two", "role": "centre_staff", "unit": "TT-02"}):
        r = await _post(admin, "create", data)
        assert r.status_code == 403 and 'id="hoso-account-error"' in r.text, r.text
    assert "TT-02" in r.text
    assert await _state(admin) == before

    # grant a role at the branch, then end it on a date
    r = await _post(admin, f"{uid}/grant", {"role": "performer_role", "unit": "CN1-01"})
    assert r.status_code == 303, r.text
    aid = await db.fetchval("SELECT id FROM hoso_assignment WHERE user_id = {} AND role = 'performer_role'", uid)
    page = (await admin.client.get(r.headers["location"])).text
    assert 'id="hoso-account-notice"' in page and f'data-assignment="{aid}"' in page
    before = await _state(admin)
    for data, status, words in (
            ({"role": "centre_director", "unit": "TT-01"}, 403, "centre_director"),
            ({"role": "national_admin", "unit": "CUC"}, 403, "national_admin"),
            ({"role": "centre_staff", "unit": "TT-02"}, 403, "TT-02"),
            ({"role": "centre_staff", "unit": "TT-01", "starts_on": "31/02/2026"}, 422, "31/02/2026")):
        r = await _post(admin, f"{uid}/grant", data)
        assert r.status_code == status and words in r.text, (data, r.status_code)
    assert await _state(admin) == before
    r = await _post(admin, f"{uid}/end", {"assignment": aid, "ends_on": "2099-01-01", "reason": "hết hợp đồng"})
    assert r.status_code == 303, r.text
    ends = await db.fetchval("SELECT ends_on FROM hoso_assignment WHERE id = {}", aid)
    assert str(ends)[:10] == "2099-01-01"
    # a later end date (re-opening the assignment) is refused, like the API; so is another account's assignment
    before = await _state(admin)
    r = await _post(admin, f"{uid}/end", {"assignment": aid, "ends_on": "2100-01-01"})
    assert r.status_code == 422 and "01/01/2099" in r.text
    other = await db.fetchval("SELECT id FROM hoso_assignment WHERE user_id = {}", seed.users["tt02.staff"])
    r = await _post(admin, f"{uid}/end", {"assignment": other})
    assert r.status_code == 422
    r = await _post(admin, f"{seed.users['tt02.staff']}/end", {"assignment": other})
    assert r.status_code == 403 and "TT-02" in r.text
    assert await _state(admin) == before

    # transfer to the branch; not to another province
    r = await _post(admin, f"{uid}/transfer", {"unit": "TT-02"})
    assert r.status_code == 403
    assert await _state(admin) == before
    r = await _post(admin, f"{uid}/transfer", {"unit": "CN1-01", "reason": "điều động"})
    assert r.status_code == 303, r.text
    assert await db.fetchval("SELECT unit_id FROM hoso_user WHERE id = {}", uid) == seed.units["CN1-01"]
    assert await admin.web.count("hoso_audit", f"action = 'user.transfer' AND record_id = {uid}") == 1

    # the account of another province, and a staff member without manage_users
    r = await admin.client.get(f"{PAGE}{seed.users['tt02.staff']}")
    assert r.status_code == 403 and "hoso-account-actions" not in r.text
    assert (await admin.login("tt01.staff")).status_code == 200
    assert (await admin.client.get(PAGE)).status_code == 404
    r = await _post(admin, f"{uid}/lock", {"reason": "x"})
    assert r.status_code == 404
    assert await db.fetchval("SELECT locked FROM hoso_user WHERE id = {}", uid) in (False, 0)


async def test_lock_reset_tokens_links_and_english(admin):
    seed, rt = admin.seed, admin.web.rt
    db = rt.db
    staff = seed.users["tt01.staff"]
    settings = admin.web.app.state.settings
    await start_session(rt, settings, staff)
    assert (await admin.login("tt01.director")).status_code == 200

    # tokens: created (shown once), listed, revoked; a token of another account is not revoked from this page
    r = await _post(admin, f"{staff}/token", {"name": "đồng bộ sổ thụ lý", "expires_on": "2099-12-31"})
    assert r.status_code == 200, r.text
    token = _secret(r.text)
    assert token.startswith("hoso_")
    assert (await admin.client.get("/api/cases", headers={"Authorization": f"Bearer {token}"})).status_code \
        in (200, 404)
    tid = await db.fetchval("SELECT id FROM hoso_api_token WHERE user_id = {}", staff)
    page = (await admin.client.get(f"{PAGE}{staff}")).text
    assert f'data-token="{tid}"' in page and "31/12/2099" in page and token not in page
    r = await _post(admin, f"{staff}/token", {"name": "x", "expires_on": "01/01/2000"})
    assert r.status_code == 422
    r = await _post(admin, f"{staff}/token", {"name": "cũ"})
    second = await db.fetchval("SELECT MAX(id) AS id FROM hoso_api_token")
    before = await _state(admin)
    r = await _post(admin, f"{seed.users['luat.su']}/revoke", {"token": second})
    assert r.status_code == 422
    assert await _state(admin) == before
    r = await _post(admin, f"{staff}/revoke", {"token": tid})
    assert r.status_code == 303
    assert await db.fetchval("SELECT revoked_at FROM hoso_api_token WHERE id = {}", tid) is not None

    # reset: a one-time password, every session and token of the account ended
    assert await admin.web.count("hoso_session", f"user_id = {staff}") == 1
    r = await _post(admin, f"{staff}/reset", {})
    assert r.status_code == 200, r.text
    temporary = _secret(r.text)
    assert await admin.web.count("hoso_session", f"user_id = {staff}") == 0
    assert await admin.web.count("hoso_api_token", f"user_id = {staff} AND revoked_at IS NULL") == 0
    assert await db.fetchval("SELECT must_change_password FROM hoso_user WHERE id = {}", staff) in (True, 1)
    assert (await admin.client.post("/api/login", json={"username": "tt01.staff", "password": PASSWORD})
            ).status_code == 401
    assert (await admin.client.post("/api/login", json={"username": "tt01.staff", "password": temporary})
            ).status_code == 200
    assert (await admin.login("tt01.director")).status_code == 200

    # lock needs a reason; it ends the sessions; unlock; another province's account is refused
    await start_session(rt, settings, staff)
    before = await _state(admin)
    r = await _post(admin, f"{staff}/lock", {"reason": ""})
    assert r.status_code == 422 and "lý do" in r.text
    r = await _post(admin, f"{seed.users['tt02.staff']}/lock", {"reason": "x"})
    assert r.status_code == 403
    r = await _post(admin, f"{staff}/lock", {"reason": "nghỉ việc"}, token=False)
    assert r.status_code == 403
    assert await _state(admin) == before
    r = await _post(admin, f"{staff}/lock", {"reason": "nghỉ việc"})
    assert r.status_code == 303
    assert await admin.web.count("hoso_session", f"user_id = {staff}") == 0
    page = (await admin.client.get(f"{PAGE}{staff}")).text
    assert 'id="hoso-account-unlock"' in page and 'id="hoso-account-lock"' not in page
    r = await _post(admin, f"{staff}/unlock", {})
    assert r.status_code == 303
    assert await db.fetchval("SELECT locked FROM hoso_user WHERE id = {}", staff) in (False, 0)

    # link a performer record of the centre to the account; another province's performer is not reachable
    system = RecordContext.system(rt.config)
    free = await rt.records().create("performer", {"name": "Vũ Văn Mới", "kind": "assistant",
                                                   "unit": seed.units["TT-01"]}, system)
    page = (await admin.client.get(f"{PAGE}{staff}")).text
    offered = _options(page, "l-performer")
    assert f"{free['id']}:{free['sys_version']}" in offered
    assert not any(o.startswith(f"{seed.performers['tt02']}:") for o in offered)
    before = await _state(admin)
    r = await _post(admin, f"{staff}/link", {"entity": "performer", "field": "account",
                                             "record": f"{seed.performers['tt02']}:1"})
    assert r.status_code == 404
    r = await _post(admin, f"{staff}/link", {"entity": "case", "field": "account", "record": f"{free['id']}:1"})
    assert r.status_code == 422
    assert await _state(admin) == before
    r = await _post(admin, f"{staff}/link", {"entity": "performer", "field": "account",
                                             "record": f"{free['id']}:{free['sys_version']}"})
    assert r.status_code == 303, r.text
    assert await db.fetchval("SELECT account FROM performer WHERE id = {}", free["id"]) == staff
    page = (await admin.client.get(f"{PAGE}{staff}")).text
    assert f'data-record="{free["id"]}"' in page and "Vũ Văn Mới" in page
    r = await _post(admin, f"{staff}/unlink", {"entity": "performer", "field": "account", "record": free["id"],
                                               "version": free["sys_version"] + 1})
    assert r.status_code == 303, r.text
    assert await db.fetchval("SELECT account FROM performer WHERE id = {}", free["id"]) is None

    # every change is in the audit, and in the account's history, in Vietnamese with local times
    actions = {r["action"] for r in await db.fetch(
        "SELECT action FROM hoso_audit WHERE entity = 'hoso_user' AND record_id = {}", staff)}
    assert {"token.create", "token.revoke", "user.password_reset", "user.lock", "user.unlock"} <= actions
    assert await admin.web.count("hoso_audit", f"entity = 'performer' AND record_id = {free['id']}") >= 3
    page = (await admin.client.get(f"{PAGE}{staff}")).text
    assert "đặt lại mật khẩu" in page and re.search(r"\d\d/\d\d/\d{4} \d\d:\d\d", page)

    # in English, and bad input
    admin.client.cookies.set("hoso_admin_lang", "en")
    r = await admin.client.get(PAGE)
    assert r.status_code == 200 and "<h1>Accounts</h1>" in r.text and "Tài khoản" not in r.text
    r = await _post(admin, f"{staff}/grant", {"role": "centre_director", "unit": "TT-01"})
    assert r.status_code == 403 and "you may not grant role 'centre_director' at unit 'TT-01'" in html.unescape(r.text)
    for path, data in ((f"{staff}/nothing", {}), ("99999999999/lock", {"reason": "x"})):
        assert (await _post(admin, path, data)).status_code == 404
    r = await _post(admin, f"{staff}/end", {"assignment": "abc"})
    assert r.status_code == 422 and "Role assignments" in r.text
    r = await _post(admin, "create", {"username": "a b", "role": "centre_staff", "unit": "TT-01"})
    assert r.status_code == 422 and "username" in r.text and 'value="a b"' in r.text

    # a director locked meanwhile: the page refuses the POST of the session it had, changing nothing
    from hoso.accounts import lock
    from hoso.scope import SYSTEM_ACTOR

    await lock(rt, SYSTEM_ACTOR, seed.users["tt01.director"], "nghỉ việc")
    before = await _state(admin)
    r = await _post(admin, f"{staff}/lock", {"reason": "x"})
    assert r.status_code == 401
    assert await _state(admin) == before


async def test_the_pickers_offer_exactly_what_the_rules_allow(prepared, admin_db):
    """``managed_units`` (one statement per scope, the pickers' source) agrees with ``may_manage_unit`` (the check
    every action makes) for a centre's director and staff, a national administrator and a superuser, every role and
    units of two provinces: what is offered is what is accepted, and nothing else."""
    from hoso import accounts
    from hoso.runtime import Runtime
    from hoso.scope import SYSTEM_ACTOR, Actor

    rt = Runtime.create(prepared.config, admin_db)
    await rt.db.start()
    try:
        national = await accounts.create_account(rt, SYSTEM_ACTOR, "qt.quocgia", PASSWORD, "CUC",
                                                 roles=("national_admin",))
        users = prepared.seed.users
        actors = [Actor(users["tt01.director"], "tt01.director"), Actor(users["tt01.staff"], "tt01.staff"),
                  Actor(national, "qt.quocgia"), Actor(None, "root", superuser=True), Actor(None, "nobody")]
        # the centre, its branch, its province, the ministry, another province's centre and one of its branches
        units = [prepared.seed.units[code] for code in ("TT-01", "CN1-01", "STP-01", "CUC", "TT-02")]
        units.append(await rt.db.fetchval("SELECT MIN(descendant_id) AS id FROM hoso_unit_closure WHERE "
                                          "ancestor_id = {} AND depth = 1", prepared.seed.units["TT-02"]))
        offered_somewhere = 0
        for actor in actors:
            for role in [None, *(r.name for r in rt.config.roles)]:
                offered = {u["id"] for u in await accounts.managed_units(rt, actor, role)}
                for unit in units:
                    assert (unit in offered) == await accounts.may_manage_unit(rt, actor, unit, role), \
                        (actor.username, role, unit)
                offered_somewhere += bool(offered & set(units))
            grantable = await accounts.grantable(rt, actor)
            for r in grantable:
                assert grantable[r] == await accounts.managed_units(rt, actor, r)
        director = next(a for a in actors if a.username == "tt01.director")
        assert set(await accounts.grantable(rt, director)) == {"centre_staff", "performer_role"}
        assert offered_somewhere >= 5
    finally:
        await rt.db.close()


async def test_the_list_pages_through_every_account_and_no_other(admin, monkeypatch):
    """Pages of the list, by username: walking the "next" links lists each account of the director's centre once
    (the same set one long page lists), keeps the search, and never reaches another centre's accounts."""
    from hoso.admin import accounts as accounts_page

    assert (await admin.login("tt01.director")).status_code == 200
    listed = {q: re.findall(r'data-username="([^"]+)"', (await admin.client.get(PAGE, params={"q": q})).text)
              for q in ("", "tt01")}
    everyone = listed[""]
    assert len(everyone) >= 4 and 2 <= len(listed["tt01"]) < len(everyone)
    monkeypatch.setattr(accounts_page, "LIMIT", 2)
    for q, expected in listed.items():
        seen: list[str] = []
        url: str | None = f"{PAGE}?q={q}"
        first = True
        while url is not None and len(seen) <= len(everyone):
            r = await admin.client.get(url)
            assert r.status_code == 200, r.text
            page = re.findall(r'data-username="([^"]+)"', r.text)
            assert len(page) <= 2
            seen += page
            assert ('id="hoso-account-first"' in r.text) == (not first)
            first = False
            nxt = re.search(r'id="hoso-account-next" href="([^"]+)"', r.text)
            url = html.unescape(nxt.group(1)) if nxt else None
            assert url is None or f"q={q}&" in url
        assert seen == expected, (q, seen)
    # a forged "after" lists what follows it, still within the centre
    r = await admin.client.get(PAGE, params={"after": "a"})
    assert set(re.findall(r'data-username="([^"]+)"', r.text)) <= set(everyone)
