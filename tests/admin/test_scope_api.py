"""The admin's JSON endpoints per role: list, detail, count, ids, patch and delete never reach a row outside the
user's scope, whatever filters are sent; hidden fields are absent from the JSON."""

from __future__ import annotations

import datetime as dt

from tests.admin.conftest import HIDDEN_FOR_STAFF

HA_NOI = {"ha_noi", "ha_noi_branch"}


async def _listed(admin, **params) -> set[int]:
    r = await admin.get("/tables/case/", params={"__page_size": 100, **params})
    assert r.status_code == 200, r.text
    return {row["id"] for row in r.json()["rows"]}


SCOPES = [
    ("tt01.staff", HA_NOI),
    ("tt01.director", HA_NOI),
    ("tt02.staff", {"ha_giang"}),
    ("quan.tri", HA_NOI | {"ha_giang"}),
    ("luat.su", {"ha_noi"}),  # performer: the cases assigned to them
]


async def test_list_count_detail_ids_follow_the_scope(admin):
    for username, visible in SCOPES:
        await _check_scope(admin, username, visible)


async def _check_scope(admin, username, visible):
    seed = admin.seed
    assert (await admin.login(username)).status_code == 200
    expected = {seed.cases[k] for k in visible}
    hidden = {seed.cases[k] for k in seed.cases} - expected

    assert await _listed(admin) == expected
    assert await _listed(admin, __readable="true", __order="-received_on") == expected
    count = await admin.get("/tables/case/count/")
    assert count.status_code == 200 and count.json()["count"] == len(expected)

    # filters cannot widen the scope
    for row_id in hidden:
        assert await _listed(admin, id=row_id) == set()
        assert (await admin.get("/tables/case/count/", params={"id": row_id})).json()["count"] == 0
    if username != "quan.tri":
        other_unit = seed.units["TT-02"] if "ha_giang" not in visible else seed.units["TT-01"]
        assert await _listed(admin, unit=other_unit) == set()
        assert await _listed(admin, unit=seed.units["TT-02"], unit__operator="ne") <= expected

    for key, row_id in seed.cases.items():
        r = await admin.get(f"/tables/case/{row_id}/", params={"__readable": "true"})
        if row_id in expected:
            assert r.status_code == 200 and r.json()["code"] == seed.codes[key]
        else:
            assert r.status_code == 404, (key, r.text)
            assert seed.codes[key] not in r.text

    # the case drop-down of another table (e.g. a referencing field) offers only readable cases
    ids = await admin.get("/tables/case/ids/", params={"limit": 50})
    assert ids.status_code == 200
    assert {int(k) for k in ids.json()} == expected
    found = await admin.get("/tables/case/ids/", params={"search": seed.codes["ha_giang"].lower()})
    assert ("ha_giang" in visible) == bool(found.json())


async def test_patch_and_delete_never_reach_an_out_of_scope_row(admin):
    for username in ("tt01.staff", "tt01.director"):
        await _check_writes_out_of_scope(admin, username)


async def _check_writes_out_of_scope(admin, username):
    seed = admin.seed
    await admin.login(username)
    other = seed.cases["ha_giang"]
    before = await admin.web.rt.db.fetch('SELECT requester_name, sys_version, sys_deleted_at FROM "case" WHERE id = {}',
                                         other)
    r = await admin.send("PATCH", f"/tables/case/{other}/", {"requester_name": "Đã sửa", "sys_version": 1})
    assert r.status_code == 404, r.text
    r = await admin.send("PUT", f"/tables/case/{other}/", {"requester_name": "Đã sửa", "sys_version": 1})
    assert r.status_code in (404, 422), r.text
    r = await admin.send("DELETE", f"/tables/case/{other}/")
    assert r.status_code == 404, r.text
    r = await admin.send("DELETE", "/tables/case/", params={"id": other})
    assert r.status_code == 405
    after = await admin.web.rt.db.fetch('SELECT requester_name, sys_version, sys_deleted_at FROM "case" WHERE id = {}',
                                        other)
    assert after == before
    assert await admin.web.count("hoso_audit", "entity = 'case' AND record_id = {} AND action <> 'create'",
                                 other) == 0


async def test_statistics_only_user_reaches_no_case_row(admin):
    seed = admin.seed
    await admin.login("thong.ke")
    tables = await admin.get("/tables/")
    assert tables.status_code == 200 and tables.json() == []
    grouped = (await admin.get("/tables/grouped/")).json()
    assert grouped == {"grouped": {}, "ungrouped": []}
    for path in ("/tables/case/", "/tables/case/count/", "/tables/case/schema/", "/tables/case/new/",
                 f"/tables/case/{seed.cases['ha_noi']}/", "/tables/performer/", "/tables/case__hearings/"):
        r = await admin.get(path)
        assert r.status_code == 404, (path, r.status_code, r.text)
        assert seed.codes["ha_noi"] not in r.text
    assert (await admin.get("/tables/case/ids/")).json() == {}
    r = await admin.send("PATCH", f"/tables/case/{seed.cases['ha_noi']}/", {"requester_name": "x"})
    assert r.status_code == 404
    r = await admin.send("DELETE", f"/tables/case/{seed.cases['ha_noi']}/")
    assert r.status_code == 404
    r = await admin.send("POST", "/tables/case/", {"requester_name": "x"})
    assert r.status_code == 404
    forms = (await admin.get("/forms/")).json()
    assert forms == []
    labels = (await admin.client.get("/admin/hoso/labels/")).json()["tables"]
    assert "case" not in labels and "performer" not in labels


async def test_hidden_fields_are_absent_from_the_json(admin):
    seed = admin.seed
    await admin.login("tt01.staff")
    schema = (await admin.get("/tables/case/schema/")).json()
    assert HIDDEN_FOR_STAFF not in schema["properties"]
    assert HIDDEN_FOR_STAFF not in schema["extra"]["visible_filter_names"]
    assert HIDDEN_FOR_STAFF not in schema["extra"]["visible_fields_options"]
    rows = (await admin.get("/tables/case/", params={"__readable": "true"})).json()["rows"]
    assert rows and all(HIDDEN_FOR_STAFF not in row for row in rows)
    one = await admin.get(f"/tables/case/{seed.cases['ha_noi']}/", params={"__readable": "true"})
    assert one.status_code == 200 and HIDDEN_FOR_STAFF not in one.json()
    assert "001090000001" not in one.text
    assert HIDDEN_FOR_STAFF not in (await admin.get("/tables/case/new/")).json()
    # nor can it be filtered, sorted or asked for
    for params in ({HIDDEN_FOR_STAFF: "001090000001"}, {"__order": HIDDEN_FOR_STAFF},
                   {"__order": f"-{HIDDEN_FOR_STAFF}"}, {"__visible_fields": f"id,{HIDDEN_FOR_STAFF}"}):
        r = await admin.get("/tables/case/", params=params)
        assert r.status_code == 400, params
        r = await admin.get("/tables/case/count/", params=params)
        assert r.status_code == 400, params
    # nor written
    r = await admin.send("PATCH", f"/tables/case/{seed.cases['ha_noi']}/", {HIDDEN_FOR_STAFF: "001090000002"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", HIDDEN_FOR_STAFF]

    # a role that does not hide it sees it
    await admin.login("tt01.director")
    one = await admin.get(f"/tables/case/{seed.cases['ha_noi']}/")
    assert one.json()[HIDDEN_FOR_STAFF] == "001090000001"
    assert HIDDEN_FOR_STAFF in (await admin.get("/tables/case/schema/")).json()["properties"]


async def test_references_are_readable_and_scoped(admin):
    seed = admin.seed
    await admin.login("tt01.staff")
    row = (await admin.get(f"/tables/case/{seed.cases['ha_noi']}/", params={"__readable": "true"})).json()
    assert row["unit"] == seed.units["TT-01"]
    assert row["unit_readable"] == "Trung tâm Trợ giúp pháp lý nhà nước Hà Nội"
    assert row["performer"] == seed.performers["tt01"] and row["performer_readable"] == "Lê Văn Luật"
    listed = (await admin.get("/tables/case/", params={"__readable": "true"})).json()["rows"]
    assert {r["unit_readable"] for r in listed} == {
        "Trung tâm Trợ giúp pháp lý nhà nước Hà Nội", "Chi nhánh số 1 - Trung tâm Trợ giúp pháp lý nhà nước Hà Nội"}

    # a reference to a record outside the scope shows no name
    await admin.web.rt.db.execute('UPDATE "case" SET performer = {} WHERE id = {}', seed.performers["tt02"],
                                  seed.cases["ha_noi_branch"])
    row = (await admin.get(f"/tables/case/{seed.cases['ha_noi_branch']}/", params={"__readable": "true"})).json()
    assert row["performer_readable"] == f"Người thực hiện trợ giúp pháp lý #{seed.performers['tt02']}"
    assert "Phạm Thị Hà" not in str(row)

    # drop-downs offer only readable rows
    performers = (await admin.get("/tables/performer/ids/")).json()
    assert performers == {str(seed.performers["tt01"]): "Lê Văn Luật"}
    # unit pickers offer the units under the user's own (docs/lists.md), ignoring case and diacritics
    units = (await admin.get("/tables/hoso_unit/ids/", params={"search": "hà giang", "limit": 5})).json()
    assert units == {}
    units = (await admin.get("/tables/hoso_unit/ids/", params={"search": "HA NOI", "limit": 5})).json()
    assert "Trung tâm Trợ giúp pháp lý nhà nước Hà Nội" in units.values()
    # accounts: only those the user may manage, none for centre staff (tests/api/test_disclosure.py)
    users = (await admin.get("/tables/hoso_user/ids/")).json()
    assert users == {}


async def test_child_rows_follow_their_parent(admin):
    seed = admin.seed
    for parent in ("ha_noi", "ha_giang"):
        await admin.web.rt.db.execute(
            'INSERT INTO "case__hearings" (parent_id, position, held_on, court) VALUES ({}, 0, {}, {})',
            seed.cases[parent], dt.date(2025, 4, 1), f"Tòa án {parent}")
    await admin.login("tt01.staff")
    rows = (await admin.get("/tables/case__hearings/", params={"__readable": "true"})).json()["rows"]
    assert [r["court"] for r in rows] == ["Tòa án ha_noi"]
    assert rows[0]["parent_id_readable"] == seed.codes["ha_noi"]
    assert (await admin.get("/tables/case__hearings/count/")).json()["count"] == 1
    other = await admin.web.rt.db.fetchval('SELECT id FROM "case__hearings" WHERE court = {}', "Tòa án ha_giang")
    assert (await admin.get(f"/tables/case__hearings/{other}/")).status_code == 404
    assert (await admin.send("DELETE", f"/tables/case__hearings/{other}/")).status_code == 404
    refs = (await admin.get("/tables/case/references/")).json()["references"]
    assert {"tableName": "case__hearings", "columnName": "parent_id"} in refs


async def test_the_admins_filters_work_within_the_scope(admin):
    seed = admin.seed
    await admin.login("tt01.staff")
    ha_noi = {seed.cases["ha_noi"], seed.cases["ha_noi_branch"]}
    assert await _listed(admin, beneficiary_groups="HN") == ha_noi  # a multiple choice holds the option
    assert await _listed(admin, beneficiary_groups="TE") == set()
    assert await _listed(admin, form_of_aid="TV", form_of_aid__match="exact") == ha_noi
    assert await _listed(admin, requester_name="bình") == {seed.cases["ha_noi_branch"]}
    assert await _listed(admin, received_on="2025-01-01", received_on__operator="gte") == ha_noi
    assert await _listed(admin, received_on="2025-01-01", received_on__operator="lt") == set()  # Hà Giang's: 2024
    r = await admin.get("/tables/case/count/", params={"performer__operator": "not_null"})
    assert r.json()["count"] == 1
    assert (await admin.get("/tables/case/", params={"nowhere": "x"})).status_code == 400
    assert (await admin.get("/tables/case/", params={"scanned_file": "1"})).status_code == 400
