"""Scope through HTTP: each user sees and changes only its own unit's cases; everything else is 404."""

from __future__ import annotations


async def _seed(api):
    a = await api.create_case("staff1", "TT", requester="Nguyễn Văn An")
    b = await api.create_case("staff1", "TT", requester="Trần Thị Bình", received_on="2025-03-05")
    c = await api.create_case("staff2", "TT2", requester="Nguyễn Văn Anh Đức")
    return a, b, c


async def test_lists_show_only_the_users_unit(api):
    a, b, c = await _seed(api)
    r = await api.req("GET", "/api/records/case", "staff1")
    assert r.status_code == 200, r.text
    body = r.json()
    assert {i["id"] for i in body["items"]} == {a["id"], b["id"]} and body["total"] == 2
    r = await api.req("GET", "/api/records/case", "staff2")
    assert {i["id"] for i in r.json()["items"]} == {c["id"]} and r.json()["total"] == 1
    # the director of TT sees TT only; the superuser sees all
    r = await api.req("GET", "/api/records/case", "dir1")
    assert r.json()["total"] == 2
    r = await api.req("GET", "/api/records/case", "admin")
    assert r.json()["total"] == 3
    # a statistics-only user holds a grant, but no rows
    r = await api.req("GET", "/api/records/case", "stats")
    assert r.status_code == 200 and r.json() == {"items": [], "total": 0, "total_exact": True, "page": 1,
                                                "page_size": 50, "next_cursor": None}
    r = await api.req("GET", f"/api/records/case/{a['id']}", "stats")
    assert r.status_code == 404
    # a user with no grant on performer at all
    r = await api.req("GET", "/api/records/performer", "stats")
    assert r.status_code == 403


async def test_other_units_records_are_404_for_every_verb(api):
    a, b, c = await _seed(api)
    other = f"/api/records/case/{c['id']}"
    assert (await api.req("GET", other, "staff1")).status_code == 404
    r = await api.req("PATCH", other, "staff1", json={"sys_version": c["sys_version"], "requester": "X"})
    assert r.status_code == 404, r.text
    r = await api.req("DELETE", other, "dir1", params={"version": c["sys_version"], "reason": "nope"})
    assert r.status_code == 404, r.text
    r = await api.req("POST", other + "/transitions/accept", "staff1",
                      json={"sys_version": c["sys_version"], "accepted_on": "2025-03-06"})
    assert r.status_code == 404, r.text
    assert (await api.req("GET", other + "/history", "staff1")).status_code == 404
    assert (await api.req("GET", other + "/transitions", "staff1")).status_code == 404
    assert (await api.req("POST", other + "/restore", "dir1")).status_code == 404
    # nothing changed
    r = await api.req("GET", other, "staff2")
    assert r.json()["requester"] == c["requester"] and r.json()["sys_version"] == c["sys_version"]
    assert r.json()["status"] == "received"
    # a 404 for an unknown id looks the same as one for another unit's record
    missing = await api.req("GET", "/api/records/case/999999", "staff1")
    hidden = await api.req("GET", other, "staff1")
    assert missing.status_code == hidden.status_code == 404
    assert missing.json()["type"] == hidden.json()["type"]


async def test_search_ignores_diacritics_within_scope(api):
    a, b, c = await _seed(api)
    r = await api.req("GET", "/api/records/case", "staff1", params={"q": "nguyen van an"})
    assert [i["id"] for i in r.json()["items"]] == [a["id"]] and r.json()["total"] == 1
    r = await api.req("GET", "/api/records/case", "staff2", params={"q": "nguyen van an"})
    assert [i["id"] for i in r.json()["items"]] == [c["id"]]
    r = await api.req("GET", "/api/records/case", "staff2", params={"q": "duc"})  # đ counts as d
    assert [i["id"] for i in r.json()["items"]] == [c["id"]]
    r = await api.req("GET", "/api/records/case", "staff1", params={"q": "duc"})
    assert r.json() ["total"] == 0
    r = await api.req("GET", "/api/records/case", "admin", params={"q": "NGUYEN"})
    assert r.json()["total"] == 2


async def test_filters_and_sort(api):
    a, b, c = await _seed(api)
    d = await api.create_case("staff1", "TT", requester="Lê Văn Cường", received_on="2025-02-01", form_of_aid="TGTT",
                              procedural_stage="trial")
    path = "/api/records/case"
    r = await api.req("GET", path, "staff1", params={"form_of_aid": "TGTT"})
    assert [i["id"] for i in r.json()["items"]] == [d["id"]]
    r = await api.req("GET", path, "staff1", params={"received_on__gte": "2025-03-04"})
    assert [i["id"] for i in r.json()["items"]] == [b["id"]]
    r = await api.req("GET", path, "staff1", params={"id__in": f"{a['id']},{c['id']},{d['id']}"})
    assert {i["id"] for i in r.json()["items"]} == {a["id"], d["id"]}  # c is out of scope
    r = await api.req("GET", path, "staff1", params={"procedural_stage__null": "true"})
    assert {i["id"] for i in r.json()["items"]} == {a["id"], b["id"]}
    r = await api.req("GET", path, "staff1", params={"sort": "received_on"})
    assert [i["id"] for i in r.json()["items"]] == [d["id"], a["id"], b["id"]]
    r = await api.req("GET", path, "staff1", params={"sort": "-received_on", "page_size": 2, "page": 2})
    assert [i["id"] for i in r.json()["items"]] == [d["id"]] and r.json()["total"] == 3
    # bad filters and sorts name the parameter
    for params, name in [({"nosuch": "1"}, "nosuch"), ({"age__like": "1"}, "age__like"), ({"sort": "nosuch"}, "sort"),
                         ({"age": "old"}, "age"), ({"page_size": "5000"}, "page_size")]:
        r = await api.req("GET", path, "staff1", params=params)
        assert r.status_code in (400, 422), (params, r.text)
        assert any(name in (e["field"] + e["message"]) for e in r.json().get("errors", [])), (params, r.text)


async def test_performer_sees_only_assigned_cases(api):
    p = await api.req("POST", "/api/records/performer", "dir1",
                      json={"name": "Luật sư A", "unit": api.units["TT"], "account": api.ids["lawyer"]})
    assert p.status_code == 201, p.text
    a = await api.create_case("staff1", "TT", performer=p.json()["id"])
    await api.create_case("staff1", "TT")
    r = await api.req("GET", "/api/records/case", "lawyer")
    assert [i["id"] for i in r.json()["items"]] == [a["id"]] and r.json()["total"] == 1
    r = await api.req("PATCH", f"/api/records/case/{a['id']}", "lawyer", json={"sys_version": a["sys_version"],
                                                                             "note": "gặp thân chủ"})
    assert r.status_code == 200, r.text
    assert r.json()["note"] == "gặp thân chủ"


async def test_session_cookie_login_gives_the_same_scope(api):
    await _seed(api)
    r = await api.web.login("staff2")
    assert r.status_code == 200, r.text
    r = await api.client.get("/api/records/case")
    assert r.status_code == 200 and r.json()["total"] == 1
    await api.client.post("/api/logout")
    api.client.cookies.clear()
    assert (await api.client.get("/api/records/case")).status_code == 401
