"""The admin writes under the same rules as the API: child rows edited in place, the intake form's conditions,
cross-field and unit-type rules, read-only states, steps and history by record id, CSV export by grant."""

from __future__ import annotations


async def _hearings(admin, case):
    return [dict(r) for r in await admin.web.rt.db.fetch(
        "SELECT id, held_on, note FROM case__hearings WHERE parent_id = {} ORDER BY position", case)]


async def test_editing_one_hearing_keeps_the_other_hearings_ids(admin):
    case = admin.seed.cases["ha_noi"]
    await admin.login("tt01.staff")
    for day in ("2025-04-01", "2025-05-01", "2025-06-01"):
        r = await admin.send("POST", "/tables/case__hearings/", {"parent_id": case, "held_on": day})
        assert r.status_code == 201, r.text
    before = await _hearings(admin, case)
    assert len(before) == 3
    r = await admin.send("PATCH", f"/tables/case__hearings/{before[1]['id']}/", {"note": "Hoãn phiên tòa"})
    assert r.status_code == 200 and r.json()["id"] == before[1]["id"], r.text
    after = await _hearings(admin, case)
    assert [h["id"] for h in after] == [h["id"] for h in before]
    assert [h["note"] for h in after] == [None, "Hoãn phiên tòa", None]
    r = await admin.send("DELETE", f"/tables/case__hearings/{before[0]['id']}/")
    assert r.status_code == 204, r.text
    assert [h["id"] for h in await _hearings(admin, case)] == [before[1]["id"], before[2]["id"]]
    r = await admin.send("POST", "/tables/case__hearings/", {"parent_id": case, "held_on": "2025-07-01"})
    new_id = r.json()[0]["id"]
    assert [h["id"] for h in await _hearings(admin, case)] == [before[1]["id"], before[2]["id"], new_id]


def _problems(r) -> dict[str, str]:
    assert r.status_code == 422, r.text
    return {d["loc"][-1]: d["msg"] for d in r.json()["detail"]}


async def test_the_intake_forms_conditions_hold_in_the_admin(admin):
    from hoso.records.service import RecordContext, ValidationError
    from tests.admin.test_writes import new_case

    seed = admin.seed
    await admin.login("tt01.staff")
    before = await admin.web.count("case")
    # participation in proceedings needs a procedural stage and a role in the proceedings (case_intake)
    found = _problems(await admin.send("POST", "/tables/case/", new_case(seed, form_of_aid="TGTT")))
    assert {"procedural_stage", "litigation_role"} <= set(found), found
    # and only it may have them
    found = _problems(await admin.send("POST", "/tables/case/", new_case(seed, procedural_stage="XX_ST")))
    assert "procedural_stage" in found and "không áp dụng" in found["procedural_stage"]
    r = await admin.send("PATCH", f"/tables/case/{seed.cases['ha_noi']}/", {"form_of_aid": "TGTT", "sys_version": 1})
    assert "procedural_stage" in _problems(r)
    assert await admin.web.count("case") == before
    # the API's default (no form named) and the record service itself decide the same
    service = admin.web.rt.records()
    system = RecordContext.system(admin.web.rt.config)
    try:
        await service.create("case", {**new_case(seed, form_of_aid="TGTT"), "code": None, "status": None,
                                      "sys_version": None}, system)
    except ValidationError as exc:
        assert "procedural_stage" in [f for f, _m in exc.problems]
    else:
        raise AssertionError("a proceedings case without a stage was saved")
    stage = admin.web.rt.config.choice_list("procedural_stage").options[0].value
    role = admin.web.rt.config.choice_list("litigation_role").options[0].value
    r = await admin.send("POST", "/tables/case/", new_case(seed, form_of_aid="TGTT", procedural_stage=stage,
                                                          litigation_role=role))
    assert r.status_code == 201, r.text


async def test_dates_and_the_filing_unit_are_checked(admin):
    import datetime as dt
    from zoneinfo import ZoneInfo

    from tests.admin.test_writes import new_case

    seed = admin.seed
    await admin.login("quan.tri")  # a superuser: the unit's scope is not what refuses it
    before = await admin.web.count("case")
    # tomorrow where the rule's today() is judged: Vietnam (after 17:00 UTC, already the next day there)
    tomorrow = (dt.datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date() + dt.timedelta(days=1)).isoformat()
    found = _problems(await admin.send("POST", "/tables/case/", new_case(seed, received_on=tomorrow)))
    assert "received_on" in found and "sau ngày hôm nay" in found["received_on"]
    found = _problems(await admin.send("POST", "/tables/case/", new_case(seed, unit=seed.units["STP-01"])))
    assert "unit" in found and "Trung tâm Trợ giúp pháp lý nhà nước" in found["unit"], found
    assert "unit" in _problems(await admin.send("POST", "/tables/case/", new_case(seed, unit=seed.units["CUC"])))
    r = await admin.send("PATCH", f"/tables/case/{seed.cases['ha_noi']}/",
                         {"assigned_on": "2025-03-01", "sys_version": 1})  # received 2025-03-04
    found = _problems(r)
    assert "assigned_on" in found and "trước ngày tiếp nhận" in found["assigned_on"]
    assert await admin.web.count("case") == before
    # a branch may file cases
    r = await admin.send("POST", "/tables/case/", new_case(seed, unit=seed.units["CN1-01"]))
    assert r.status_code == 201, r.text


async def test_an_archived_case_is_read_only(admin):
    seed = admin.seed
    case = seed.cases["ha_noi"]
    db = admin.web.rt.db
    await db.execute('UPDATE "case" SET status = {} WHERE id = {}', "archived", case)
    await admin.login("tt01.director")
    r = await admin.send("PATCH", f"/tables/case/{case}/", {"summary": "Sửa sau khi lưu trữ", "sys_version": 1})
    assert r.status_code == 409 and "chỉ được xem" in r.text, r.text
    r = await admin.send("POST", "/tables/case__hearings/", {"parent_id": case, "held_on": "2025-04-01"})
    assert r.status_code == 409, r.text
    r = await admin.send("DELETE", f"/tables/case/{case}/")
    assert r.status_code == 409, r.text
    row = (await db.fetch('SELECT summary, sys_version, sys_deleted_at FROM "case" WHERE id = {}', case))[0]
    assert row["summary"] is None and row["sys_version"] == 1 and row["sys_deleted_at"] is None
    # the API refuses it the same way (the record service decides)
    r = await admin.client.patch(f"/api/records/case/{case}", json={"summary": "x", "sys_version": 1},
                                 headers={"Origin": "http://testserver.local"})
    assert r.status_code == 409, r.text


async def test_steps_and_history_never_act_on_the_first_of_several_codes(admin):
    from hoso.records.service import RecordContext
    from tests.admin.conftest import CASE

    seed = admin.seed
    rt = admin.web.rt
    # the same code in another province: codes are unique per centre only (every centre's short code is TT)
    other = await rt.records().create("case", {**CASE, "unit": seed.units["TT-02"]}, RecordContext.system(rt.config))
    code = seed.codes["ha_noi"]
    assert other["code"] == code
    await admin.login("quan.tri")  # a national user sees both
    r = await admin.send("POST", "/forms/case-accept/", {"sys_record": code, "accepted_on": "2025-03-05"})
    assert r.status_code == 422, r.text
    message = r.json()["custom_form_error"]
    assert f"#{seed.cases['ha_noi']}" in message and f"#{other['id']}" in message
    statuses = await rt.db.fetch('SELECT status FROM "case" WHERE id IN ({}, {})', seed.cases["ha_noi"], other["id"])
    assert {s["status"] for s in statuses} == {"received"}
    page = await admin.client.get("/admin/hoso/history/", params={"table": "case", "record": code},
                                  follow_redirects=False)
    assert page.status_code == 200 and f"#{other['id']}" in page.text
    # by id, the step acts on exactly that record
    r = await admin.send("POST", "/forms/case-accept/", {"sys_record": str(other["id"]), "accepted_on": "2025-03-05"})
    assert r.status_code == 200, r.text
    assert await rt.db.fetchval('SELECT status FROM "case" WHERE id = {}', other["id"]) == "accepted"
    assert await rt.db.fetchval('SELECT status FROM "case" WHERE id = {}', seed.cases["ha_noi"]) == "received"
    # a user who sees one of them is not asked to choose
    await admin.login("tt01.staff")
    page = await admin.client.get("/admin/hoso/history/", params={"table": "case", "record": code},
                                  follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].endswith(f"/case/{seed.cases['ha_noi']}")


async def test_csv_export_needs_the_export_grant_and_is_audited(admin):
    seed = admin.seed
    await admin.login("luat.su")  # a performer: reads the cases assigned to them, may not export
    assert (await admin.get("/tables/case/", params={"__page_size": 15})).status_code == 200
    r = await admin.get("/tables/case/", params={"__page_size": 1000, "__readable": "true", "__page": 1})
    assert r.status_code == 403 and "xuất dữ liệu" in r.text
    assert (await admin.client.get("/admin/hoso/labels/")).json()["export"] == []
    assert await admin.web.count("hoso_audit", "action = 'export'") == 0
    await admin.login("tt01.staff")
    assert "case" in (await admin.client.get("/admin/hoso/labels/")).json()["export"]
    r = await admin.get("/tables/case/", params={"__page_size": 1000, "__readable": "true", "__page": 1,
                                                  "form_of_aid": "TV"})
    assert r.status_code == 200 and len(r.json()["rows"]) == 2  # Hà Nội and its branch
    audit = await admin.web.rt.db.fetch("SELECT actor_id, entity, changes FROM hoso_audit WHERE action = 'export'")
    assert len(audit) == 1 and audit[0]["actor_id"] == seed.users["tt01.staff"] and audit[0]["entity"] == "case"
    import json

    detail = json.loads(audit[0]["changes"])
    assert detail["@rows"] == 2 and detail["@filters"] == {"form_of_aid": "TV"}
