"""API tokens and account management over HTTP: scope of a token, revocation, locking, and no escalation."""

from __future__ import annotations

CASES = "/api/records/case"


async def _seed(api):
    tt = [await api.create_case("staff1", "TT") for _ in range(2)]
    tt2 = [await api.create_case("staff2", "TT2")]
    return tt, tt2


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}", "Accept-Language": "en"}


async def test_director_token_for_service_account_has_exactly_its_scope(api):
    tt, tt2 = await _seed(api)
    r = await api.req("POST", "/api/tokens", "dir1", json={"user_id": api.ids["svc1"], "name": "phần mềm kế toán"})
    assert r.status_code == 201, r.text
    token_id, token = r.json()["id"], r.json()["token"]
    assert await api.count("hoso_api_token", "token_hash = {}", token) == 0  # only a digest is stored
    r = await api.client.get(CASES, headers=bearer(token))
    assert r.status_code == 200, r.text
    assert {i["id"] for i in r.json()["items"]} == {c["id"] for c in tt} and r.json()["total"] == 2
    assert (await api.client.get(f"{CASES}/{tt2[0]['id']}", headers=bearer(token))).status_code == 404
    # the service role reads only
    r = await api.client.post(CASES, json=api.case("TT"), headers=bearer(token))
    assert r.status_code == 403, r.text
    r = await api.client.patch(f"{CASES}/{tt[0]['id']}", json={"sys_version": 1, "note": "x"}, headers=bearer(token))
    assert r.status_code == 403, r.text
    # revoked: 401
    r = await api.req("POST", f"/api/tokens/{token_id}/revoke", "dir1")
    assert r.status_code == 200, r.text
    r = await api.client.get(CASES, headers=bearer(token))
    assert r.status_code == 401, r.text
    # garbage tokens: 401
    for header in ("Bearer hoso_nope", "Bearer ", "Basic abc", "bearer " + token + "x"):
        assert (await api.client.get(CASES, headers={"Authorization": header})).status_code == 401
    actions = [(a["action"], a["actor"], a["record_id"]) for a in await api.audit(entity="hoso_user")
               if a["action"].startswith("token.") and a["actor"] == "dir1"]
    assert actions == [("token.create", "dir1", api.ids["svc1"]), ("token.revoke", "dir1", api.ids["svc1"])]


async def test_token_outside_the_directors_subtree_is_403(api):
    before = await api.count("hoso_api_token")
    for user in ("svc2", "staff2", "prov", "admin"):
        r = await api.req("POST", "/api/tokens", "dir1", json={"user_id": api.ids[user], "name": "x"})
        assert r.status_code == 403, (user, r.text)
    # nor may a staff member create tokens at all
    r = await api.req("POST", "/api/tokens", "staff1", json={"user_id": api.ids["svc1"], "name": "x"})
    assert r.status_code == 403, r.text
    # nor revoke another centre's token
    tid = await api.web.rt.db.fetchval("SELECT id FROM hoso_api_token WHERE user_id = {}", api.ids["svc2"])
    r = await api.req("POST", f"/api/tokens/{tid}/revoke", "dir1")
    assert r.status_code == 403, r.text
    assert (await api.req("GET", CASES, "svc2")).status_code == 200
    assert await api.count("hoso_api_token") == before


async def test_locked_accounts_tokens_stop_working(api):
    await _seed(api)
    assert (await api.req("GET", CASES, "svc1")).status_code == 200
    r = await api.req("POST", f"/api/users/{api.ids['svc1']}/lock", "dir1", json={"reason": "lộ token"})
    assert r.status_code == 200, r.text
    assert (await api.req("GET", CASES, "svc1")).status_code == 401
    r = await api.req("POST", f"/api/users/{api.ids['svc1']}/unlock", "dir1")
    assert r.status_code == 200, r.text
    assert (await api.req("GET", CASES, "svc1")).status_code == 200
    # a director cannot lock an account of another centre, nor a provincial one, nor itself
    for user in ("staff2", "prov", "dir1"):
        r = await api.req("POST", f"/api/users/{api.ids[user]}/lock", "dir1", json={"reason": "x"})
        assert r.status_code == 403, (user, r.text)
        assert (await api.req("GET", CASES, user)).status_code == 200
    rows = [a for a in await api.audit(entity="hoso_user", record_id=api.ids["svc1"]) if a["actor"] == "dir1"]
    assert [a["action"] for a in rows] == ["user.lock", "user.unlock"] or len(rows) == 2, rows


async def test_no_escalation_through_the_api(api):
    users, assignments = await api.count("hoso_user"), await api.count("hoso_assignment")
    staff1 = api.ids["staff1"]
    # a role not in can_grant
    for role in ("provincial", "centre_director", "statistician"):
        r = await api.req("POST", f"/api/users/{staff1}/assignments", "dir1", json={"role": role, "unit": "TT"})
        assert r.status_code == 403, (role, r.text)
    # a unit outside the subtree
    for unit in ("TT2", "P01", "TT3"):
        r = await api.req("POST", f"/api/users/{staff1}/assignments", "dir1", json={"role": "centre_staff",
                                                                                   "unit": unit})
        assert r.status_code == 403, (unit, r.text)
    # one's own assignments
    r = await api.req("POST", f"/api/users/{api.ids['dir1']}/assignments", "dir1",
                      json={"role": "centre_staff", "unit": "TT"})
    assert r.status_code == 403, r.text
    r = await api.req("POST", f"/api/users/{api.ids['prov']}/assignments", "prov",
                      json={"role": "centre_director", "unit": "TT"})
    assert r.status_code == 403, r.text
    own = await api.web.rt.db.fetchval("SELECT id FROM hoso_assignment WHERE user_id = {}", api.ids["dir1"])
    r = await api.req("POST", f"/api/assignments/{own}/end", "dir1", json={"reason": "x"})
    assert r.status_code == 403, r.text
    # accounts outside the subtree, or with roles one may not grant
    for unit, roles in [("TT2", []), ("P01", []), ("TT", ["provincial"])]:
        r = await api.req("POST", "/api/users", "dir1", json={"username": f"new.{unit}.{len(roles)}",
                                                              "password": "a-long-password-1", "unit": unit,
                                                              "roles": roles})
        assert r.status_code == 403, (unit, roles, r.text)
    # staff manage nobody
    r = await api.req("POST", "/api/users", "staff1", json={"username": "x.y", "password": "a-long-password-1",
                                                            "unit": "TT"})
    assert r.status_code == 403, r.text
    # another centre's account is not even listed
    r = await api.req("GET", f"/api/users/{api.ids['staff2']}/assignments", "dir1")
    assert r.status_code == 403, r.text
    assert await api.count("hoso_user") == users and await api.count("hoso_assignment") == assignments
    # what is allowed works, and is audited
    r = await api.req("POST", "/api/users", "dir1", json={"username": "lawyer2", "password": "a-long-password-1",
                                                          "unit": "TT", "roles": ["performer_role"]})
    assert r.status_code == 201, r.text
    new = r.json()["id"]
    r = await api.req("POST", f"/api/users/{staff1}/assignments", "dir1", json={"role": "performer_role",
                                                                               "unit": "TT"})
    assert r.status_code == 201, r.text
    r = await api.req("GET", f"/api/users/{staff1}/assignments", "dir1")
    assert {a["role"] for a in r.json()} == {"centre_staff", "performer_role"}
    rows = [a for a in await api.audit(entity="hoso_user") if a["actor"] == "dir1"]
    assert {a["record_id"] for a in rows} >= {new, staff1}, rows
    assert all(a["actor_id"] == api.ids["dir1"] and a["origin"] for a in rows)


async def test_every_change_is_audited_with_actor_and_origin(api):
    start = max(a["id"] for a in await api.audit())
    c = await api.create_case("staff1")
    url = f"{CASES}/{c['id']}"
    r = await api.req("PATCH", url, "staff1", json={"sys_version": c["sys_version"], "note": "ghi chú"})
    c = r.json()
    r = await api.req("POST", url + "/transitions/accept", "staff1",
                      json={"sys_version": c["sys_version"], "accepted_on": "2025-03-04"})
    c = r.json()
    r = await api.req("PUT", url + "/attachments/scan", "staff1", params={"filename": "a.pdf"},
                      content=b"%PDF-1.4\n%%EOF\n", headers={"content-type": "application/pdf"})
    assert r.status_code == 201, r.text
    c = (await api.req("GET", url, "dir1")).json()
    r = await api.req("DELETE", url, "dir1", params={"version": c["sys_version"], "reason": "trùng"})
    assert r.status_code == 200, r.text
    r = await api.req("POST", url + "/restore", "dir1")
    assert r.status_code == 200, r.text
    r = await api.req("POST", "/api/tokens", "dir1", json={"user_id": api.ids["svc1"], "name": "n"})
    assert r.status_code == 201
    rows = await api.audit(entity="case", record_id=c["id"])
    actions = [a["action"] for a in rows]
    assert len(rows) >= 6, actions
    for expected in ("create", "update", "delete", "restore"):
        assert expected in actions, (expected, actions)
    assert any("transition" in a for a in actions) and any("attach" in a or "upload" in a for a in actions)
    http_rows = [a for a in await api.audit() if a["id"] > start]
    assert len(http_rows) >= 7
    for a in http_rows:
        assert a["actor"] and a["actor_id"] in api.ids.values(), a
        assert a["origin"] and a["origin"] not in ("cli", "system"), a


async def test_ending_an_assignment_never_reopens_it(api):
    """Issue 8, item 1: the exact request that made a centre director's account a higher administrator."""
    import datetime as dt

    from hoso import accounts
    from hoso.scope import Actor, local_today

    rt, root = api.web.rt, Actor(None, "root", superuser=True)
    today = local_today()
    ended = today - dt.timedelta(days=3)
    higher = await accounts.grant_role(rt, root, api.ids["staff1"], "provincial", "P01",
                                       starts_on=today - dt.timedelta(days=20), ends_on=ended)
    own = await accounts.grant_role(rt, root, api.ids["staff1"], "centre_staff", "TT",
                                    starts_on=today - dt.timedelta(days=20), ends_on=ended)
    r = await api.req("POST", f"/api/assignments/{higher}/end", "dir1", json={"ends_on": "2099-12-31"})
    assert r.status_code == 403, r.text
    assert "role 'provincial' at unit 'P01', which you may not grant" in r.json()["detail"]
    r = await api.req("POST", f"/api/assignments/{own}/end", "dir1", json={"ends_on": "2099-12-31"},
                      headers={"Accept-Language": "vi"})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "chỉ có thể dời ngày kết thúc sớm hơn" in r.json()["errors"][0]["message"]
    r = await api.req("POST", "/api/assignments/999999/end", "dir1", json={})
    assert r.status_code == 404, r.text
    rows = await rt.db.fetch("SELECT id, ends_on FROM hoso_assignment WHERE id IN ({}, {}) ORDER BY id", higher, own)
    assert [x["ends_on"] for x in rows] == [ended, ended]
    assert {a["role"] for a in (await api.req("GET", f"/api/users/{api.ids['staff1']}/assignments", "dir1")).json()} \
        == {"centre_staff"}
    # What is allowed: ending the current assignment earlier than it would end.
    [current] = [a for a in (await api.req("GET", f"/api/users/{api.ids['staff1']}/assignments", "dir1")).json()]
    r = await api.req("POST", f"/api/assignments/{current['id']}/end", "dir1", json={"reason": "nghỉ việc"})
    assert r.status_code == 200 and r.json()["ends_on"] == today.isoformat(), r.text


async def test_bearer_tokens_work_on_me_and_entities(api):
    """Issue 8, item 6: docs/web.md says tokens work wherever a session does; /api/me and /api/entities said 401."""
    r = await api.req("GET", "/api/me", "svc1")
    assert r.status_code == 200, r.text
    assert r.json()["id"] == api.ids["svc1"] and r.json()["unit"]["code"] == "TT"
    r = await api.req("GET", "/api/entities", "svc1")
    assert r.status_code == 200 and {e["name"] for e in r.json()} >= {"case"}
    for header in ("Bearer hoso_nope", "Basic abc"):
        assert (await api.client.get("/api/me", headers={"Authorization": header})).status_code == 401
