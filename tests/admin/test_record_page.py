"""The record page over HTTP, on both engines: a readable record in the user's scope only, workflow steps acting on
that record by id and version (a stale version is a conflict), pickers offering only what the user may pick, the
old history address leading to it, the list buttons following the grants, and the trash (restore needs
``restore``, only deleted records in scope are listed)."""

from __future__ import annotations

import re

PAGE = "/admin/hoso/record/case/{}/"


async def _post(admin, path: str, data: dict):
    token = await admin.csrf()
    return await admin.client.post(path, data={**data, "csrftoken": token},
                                   headers={"Origin": "http://testserver.local"}, follow_redirects=False)


async def _row(admin, case: int) -> dict:
    rows = await admin.web.rt.db.fetch('SELECT status, sys_version, performer, accepted_on, sys_deleted_at, '
                                       'form_of_aid FROM "case" WHERE id = {}', case)
    return dict(rows[0])


async def test_the_record_page_reads_as_people_read_and_stays_in_scope(admin):
    seed = admin.seed
    case = seed.cases["ha_noi"]
    await admin.login("tt01.staff")
    r = await admin.send("PATCH", f"/tables/case/{case}/", {"summary": "Tranh chấp đất đai", "sys_version": 1})
    assert r.status_code == 200, r.text
    page = await admin.client.get(PAGE.format(case))
    assert page.status_code == 200, page.text
    text = page.text
    assert f"Lịch sử của hồ sơ {seed.codes['ha_noi']}" in text
    fields = dict(re.findall(r'<tr data-field="(\w+)"><th>[^<]*</th><td>(.*?)</td></tr>', text))
    assert fields["received_on"] == "04/03/2025"  # dd/mm/yyyy
    assert fields["urgent"] == "Không"  # booleans as Có/Không
    assert fields["request_channel"] == "Trực tiếp"  # a choice's label, not its code
    assert fields["unit"] and not fields["unit"].isdigit() and "#" not in fields["unit"]  # the unit's name
    assert fields["phone"] == ""  # empty as blank
    # later steps of the workflow, and the other fields of their sections (the refusal note, the hearings)
    assert not {"accepted_on", "assigned_on", "refusal_note", "hearings", "result_note"} & set(fields)
    assert fields["performer"] == "Lê Văn Luật"  # a linked record by its title
    assert "requester_citizen_id" not in fields and "001090000001" not in text  # hidden from centre staff
    # the timeline: the display name, the field's label, local time
    history = text.split('id="hoso-record-history"', 1)[1]
    assert "Cán bộ tt01.staff" in history and "Tóm tắt nội dung vụ việc" in history
    assert "<ins>Tranh chấp đất đai</ins>" in history and "summary" not in history
    assert re.search(r'rp-when">\d\d/\d\d/\d{4} \d\d:\d\d<', history)
    # the steps this user may take now, as buttons, and none other
    assert set(re.findall(r'id="hoso-step-(\w+)"', text)) == {"accept", "refuse", "transfer"}
    # the old history address leads here
    r = await admin.client.get(f"/admin/hoso/history/case/{case}", follow_redirects=False)
    assert r.status_code == 301 and r.headers["location"] == PAGE.format(case)
    # the edit form: the form's sections, system fields as text, only the fields that apply now
    edit = PAGE.format(case) + "edit"
    form = (await admin.client.get(edit)).text
    inputs = set(re.findall(r'name="(\w+)"', form))
    assert {"requester_name", "form_of_aid", "summary"} <= inputs
    assert not inputs & {"code", "status", "sys_deleted_at", "accepted_on", "procedural_stage", "unit_id"}
    assert 'data-field="code"><label>Mã vụ việc</label><div class="rp-text">' + seed.codes["ha_noi"] in form
    # choosing participation in proceedings draws its conditional fields, saving nothing
    fields = "form_of_aid,procedural_stage,litigation_role"
    r = await _post(admin, edit, {"__fields": fields, "__redraw": "1", "sys_version": "2", "form_of_aid": "TGTT"})
    assert r.status_code == 200 and 'name="procedural_stage"' in r.text and 'name="litigation_role"' in r.text
    # the intake form's conditions hold when saving: a proceedings case without a stage is refused
    r = await _post(admin, edit, {"__fields": fields, "sys_version": "2", "form_of_aid": "TGTT"})
    assert r.status_code == 422
    assert re.search(r'data-field="procedural_stage">.*?rp-error" role="alert">[^<]+<', r.text, re.S)
    assert (await _row(admin, case))["sys_version"] == 2
    r = await _post(admin, edit, {"__fields": fields, "sys_version": "2", "form_of_aid": "TGTT",
                                  "procedural_stage": "investigation", "litigation_role": "defence"})
    assert r.status_code == 303 and r.headers["location"] == PAGE.format(case) + "?done=edit", r.text
    assert (await _row(admin, case))["sys_version"] == 3
    r = await _post(admin, edit, {"__fields": "summary", "sys_version": "2", "summary": "Đã cũ"})
    assert r.status_code == 409 and "phiên bản hiện tại: 3" in r.text
    # its files: a PDF previewed in the page, shown inline only when asked, downloaded otherwise
    from hoso.records.service import RecordContext

    async def chunks():
        yield b"%PDF-1.4\n% hoso\n%%EOF\n"

    info = await admin.web.rt.records().upload("case", case, "scanned_file", "hồ sơ.pdf", "application/pdf",
                                               chunks(), RecordContext.system(admin.web.rt.config))
    page = (await admin.client.get(PAGE.format(case))).text
    assert f'<iframe class="rp-preview" src="/admin/hoso/files/{info.id}?inline=1"' in page
    r = await admin.client.get(f"/admin/hoso/files/{info.id}", params={"inline": "1"})
    assert r.status_code == 200 and r.headers["content-disposition"].startswith("inline;")
    r = await admin.client.get(f"/admin/hoso/files/{info.id}")
    assert r.headers["content-disposition"].startswith("attachment;")
    # another province's record, or a user who may not read cases: as if it did not exist
    other = seed.cases["ha_giang"]
    r = await admin.client.get(PAGE.format(other))
    assert r.status_code == 404 and seed.codes["ha_giang"] not in r.text
    r = await _post(admin, PAGE.format(other) + "step/accept", {"sys_version": "1", "accepted_on": "2025-03-05"})
    assert r.status_code == 404 and (await _row(admin, other))["status"] == "received"
    await admin.login("thong.ke")
    assert (await admin.client.get(PAGE.format(case))).status_code == 404


async def test_steps_act_on_that_record_by_id_and_version(admin):
    seed = admin.seed
    case = seed.cases["ha_noi_branch"]
    await admin.login("tt01.director")
    # a field missing: shown next to it, in Vietnamese, nothing written
    r = await _post(admin, PAGE.format(case) + "step/accept", {"sys_version": "1", "accepted_on": ""})
    assert r.status_code == 422, r.text
    assert re.search(r'data-field="accepted_on">.*?rp-error" role="alert">[^<]+<', r.text, re.S)
    assert (await _row(admin, case))["status"] == "received"
    r = await _post(admin, PAGE.format(case) + "step/accept", {
        "sys_version": "1", "accepted_on": "2025-03-05", "beneficiary_groups": "HN", "field_of_law": "DS",
        "form_of_aid": "TV"})
    assert r.status_code == 303 and r.headers["location"] == PAGE.format(case) + "?done=accept", r.text
    row = await _row(admin, case)
    assert row["status"] == "accepted" and row["sys_version"] == 2
    page = await admin.client.get(r.headers["location"])
    assert 'id="hoso-record-state">Đã thụ lý<' in page.text and 'id="hoso-step-assign"' in page.text
    # the same version again: someone changed it in between
    r = await _post(admin, PAGE.format(case) + "step/assign", {"sys_version": "1", "assigned_on": "2025-03-06",
                                                               "assignment_decision": "15/QĐ-TGPL",
                                                               "performer": str(seed.performers["tt01"])})
    assert r.status_code == 409 and "phiên bản hiện tại: 2" in r.text
    assert (await _row(admin, case))["status"] == "accepted"
    # the performer picker offers the centre's performers, not another province's, and refuses one forged
    options = (await admin.client.get("/admin/hoso/record/case/options/performer", params={"q": "le van"})).json()
    assert [o[0] for o in options] == [seed.performers["tt01"]] and options[0][1] == "Lê Văn Luật"
    found = (await admin.client.get("/admin/hoso/record/case/options/performer", params={"q": "pham"})).json()
    assert found == []
    r = await _post(admin, PAGE.format(case) + "step/assign", {"sys_version": "2", "assigned_on": "2025-03-06",
                                                               "assignment_decision": "15/QĐ-TGPL",
                                                               "performer": str(seed.performers["tt02"])})
    assert r.status_code == 422 and (await _row(admin, case))["performer"] is None
    r = await _post(admin, PAGE.format(case) + "step/assign", {"sys_version": "2", "assigned_on": "2025-03-06",
                                                               "assignment_decision": "15/QĐ-TGPL",
                                                               "performer": str(seed.performers["tt01"])})
    assert r.status_code == 303, r.text
    row = await _row(admin, case)
    assert row["status"] == "assigned" and row["performer"] == seed.performers["tt01"]
    page = (await admin.client.get(PAGE.format(case))).text
    fields = dict(re.findall(r'<tr data-field="(\w+)"><th>[^<]*</th><td>(.*?)</td></tr>', page))
    assert fields["performer"] == "Lê Văn Luật" and fields["accepted_on"] == "05/03/2025"
    assert "Cử người thực hiện" in page.split('id="hoso-record-history"', 1)[1]
    # a step the user's roles do not grant
    await admin.login("tt01.staff")
    r = await _post(admin, PAGE.format(case) + "step/start", {"sys_version": "3", "started_on": "2025-03-07"})
    assert r.status_code == 403 and (await _row(admin, case))["status"] == "assigned"


async def test_buttons_follow_the_grants_and_the_trash_restores_in_scope(admin):
    seed = admin.seed
    await admin.login("luat.su")
    grants = (await admin.client.get("/admin/hoso/record/grants/")).json()["tables"]
    assert grants["case"]["create"] is False and grants["case"]["delete"] is False
    assert (await admin.client.get("/admin/hoso/trash/case/")).status_code == 403
    await admin.login("tt01.director")
    grants = (await admin.client.get("/admin/hoso/record/grants/")).json()["tables"]
    assert grants["case"] == {"entity": "case", "record": True, "create": True, "update": True, "delete": True,
                              "restore": True}
    # a bulk delete is one delete per row, each with the reason asked once
    mine = [seed.cases["ha_noi"], seed.cases["ha_noi_branch"]]
    for case in mine:
        assert (await admin.send("DELETE", f"/tables/case/{case}/")).status_code == 422
    for case in mine:
        r = await admin.send("DELETE", f"/tables/case/{case}/", params={"__reason": "Nhập trùng"})
        assert r.status_code == 204, r.text
    # another province's deleted record is not in this trash
    system = admin.web.rt.records()
    from hoso.records.service import RecordContext

    ctx = RecordContext.system(admin.web.rt.config)
    await system.delete("case", seed.cases["ha_giang"], "Nhập trùng", 1, ctx)
    trash = await admin.client.get("/admin/hoso/trash/case/")
    assert trash.status_code == 200, trash.text
    listed = {int(i) for i in re.findall(r'<tr data-id="(\d+)">', trash.text)}
    assert listed == set(mine) and "Nhập trùng" in trash.text and "Cán bộ tt01.director" in trash.text
    # restore: staff may not, the director may
    await admin.login("tt01.staff")
    r = await _post(admin, f"/admin/hoso/trash/case/{mine[0]}/restore", {"sys_version": "2"})
    assert r.status_code in (403, 404) and (await _row(admin, mine[0]))["sys_deleted_at"] is not None
    await admin.login("tt01.director")
    r = await _post(admin, f"/admin/hoso/trash/case/{seed.cases['ha_giang']}/restore", {"sys_version": "2"})
    assert r.status_code == 404 and (await _row(admin, seed.cases["ha_giang"]))["sys_deleted_at"] is not None
    r = await _post(admin, f"/admin/hoso/trash/case/{mine[0]}/restore", {"sys_version": "2"})
    assert r.status_code == 303 and r.headers["location"] == PAGE.format(mine[0]) + "?done=restore", r.text
    assert (await _row(admin, mine[0]))["sys_deleted_at"] is None
    page = (await admin.client.get(PAGE.format(mine[0]))).text
    history = page.split('id="hoso-record-history"', 1)[1]
    assert "Khôi phục hồ sơ" in history and "Xóa hồ sơ" in history and "Nhập trùng" in history
