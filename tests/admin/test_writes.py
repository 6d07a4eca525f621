"""Writes in the admin go through the record service: naming series, validation with the field named, workflow
rules, read-only fields, optimistic locking, soft delete, audit, attachments and child rows."""

from __future__ import annotations

import json

from hoso.records.service import RecordContext
from tests.admin.conftest import CASE


def new_case(seed, **changes) -> dict:
    """What piccolo-admin's add form posts: every field of the form, empty ones as null."""
    return {**CASE, "unit": seed.units["TT-01"], "code": None, "status": "received", "urgent": False,
            "summary": None, "performer": None, "sys_version": None, **changes}


async def test_create_through_the_form_gets_a_code_and_is_audited(admin):
    seed = admin.seed
    await admin.login("tt01.staff")
    r = await admin.send("POST", "/tables/case/", new_case(seed, requester_name="Đỗ Thị Duyên",
                                                          received_on="2025-06-01"))
    assert r.status_code == 201, r.text
    [created] = r.json()
    row = (await admin.get(f"/tables/case/{created['id']}/")).json()
    # the naming series: the seeded case of the same centre, form of aid and year was number 01
    assert seed.codes["ha_noi"].endswith(".TV.01.2025")
    assert row["code"] == seed.codes["ha_noi"].replace(".01.", ".02.")
    assert row["sys_version"] == 1 and row["status"] == "received"
    db = admin.web.rt.db
    assert await db.fetchval('SELECT sys_created_by FROM "case" WHERE id = {}', created["id"]) == \
        seed.users["tt01.staff"]
    audit = await db.fetch("SELECT actor, actor_id, origin, changes FROM hoso_audit WHERE action = 'create' "
                           "AND entity = 'case' AND record_id = {}", created["id"])
    assert len(audit) == 1 and audit[0]["actor"] == "tt01.staff" and audit[0]["origin"] == "testclient"
    assert json.loads(audit[0]["changes"])["requester_name"] == [None, "Đỗ Thị Duyên"]
    form_version = await db.fetchval('SELECT sys_form_version FROM "case" WHERE id = {}', created["id"])
    assert await db.fetchval("SELECT form FROM hoso_form_version WHERE version = {}", form_version) == "case_file"


async def test_invalid_writes_are_refused_naming_the_field(admin):
    seed = admin.seed
    await admin.login("tt01.staff")
    before = await admin.web.count("case")

    async def problems(payload):
        r = await admin.send("POST", "/tables/case/", payload)
        assert r.status_code == 422, r.text
        return {d["loc"][-1]: d["msg"] for d in r.json()["detail"]}

    found = await problems(new_case(seed, requester_name=None))
    assert "requester_name" in found and found["requester_name"].startswith("Họ và tên người yêu cầu: ")
    assert "received_on" in await problems(new_case(seed, received_on="2018-12-31"))  # min: 2019-01-01
    assert "form_of_aid" in await problems(new_case(seed, form_of_aid="XYZ"))
    assert "code" in await problems(new_case(seed, code="TT.TV.99.2025"))  # given by the series
    assert "status" in await problems(new_case(seed, status="accepted"))  # only through the workflow
    assert "unit" in await problems(new_case(seed, unit=seed.units["TT-02"]))  # outside the user's units
    assert await admin.web.count("case") == before

    # English messages for a user who chose English in the admin
    admin.client.cookies.set("hoso_admin_lang", "en")
    found = await problems(new_case(seed, requester_name=None))
    assert found["requester_name"].startswith("Requester's name: ")


async def test_update_is_locked_optimistically_and_checks_roles(admin):
    seed = admin.seed
    case = seed.cases["ha_noi"]
    await admin.login("tt01.staff")
    row = (await admin.get(f"/tables/case/{case}/")).json()
    assert row["sys_version"] == 1

    # the edit form sends every field; only the changed one is written
    r = await admin.send("PATCH", f"/tables/case/{case}/", {**row, "summary": "Tranh chấp đất đai"})
    assert r.status_code == 200, r.text
    assert r.json()["summary"] == "Tranh chấp đất đai" and r.json()["sys_version"] == 2
    changes = await admin.web.rt.db.fetch("SELECT changes FROM hoso_audit WHERE action = 'update' "
                                          "AND record_id = {}", case)
    assert list(json.loads(changes[0]["changes"])) == ["summary"]

    # a form loaded before that change is refused
    r = await admin.send("PATCH", f"/tables/case/{case}/", {**row, "summary": "Nội dung khác"})
    assert r.status_code == 409 and "2" in r.text
    # read-only for centre staff, and state changes only through the workflow
    r = await admin.send("PATCH", f"/tables/case/{case}/", {"evaluation_score": 90, "sys_version": 2})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "evaluation_score"]
    r = await admin.send("PATCH", f"/tables/case/{case}/", {"status": "archived", "sys_version": 2})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "status"]
    schema = (await admin.get("/tables/case/schema/")).json()["properties"]
    assert schema["evaluation_score"]["title"] == "Điểm đánh giá (chỉ xem)"
    assert await admin.web.rt.db.fetchval('SELECT sys_version FROM "case" WHERE id = {}', case) == 2


async def test_delete_is_soft_needs_the_role_and_is_audited(admin):
    seed = admin.seed
    case = seed.cases["ha_noi_branch"]
    await admin.login("tt01.staff")  # centre staff may not delete
    r = await admin.send("DELETE", f"/tables/case/{case}/")
    assert r.status_code == 403, r.text
    await admin.login("tt01.director")
    r = await admin.send("DELETE", f"/tables/case/{case}/", params={"__reason": "Nhập trùng"})
    assert r.status_code == 204, r.text
    row = (await admin.web.rt.db.fetch('SELECT sys_deleted_at, sys_delete_reason, sys_deleted_by FROM "case" '
                                       "WHERE id = {}", case))[0]
    assert row["sys_deleted_at"] is not None and row["sys_delete_reason"] == "Nhập trùng"
    assert row["sys_deleted_by"] == seed.users["tt01.director"]
    assert (await admin.get(f"/tables/case/{case}/")).status_code == 404
    listed = (await admin.get("/tables/case/")).json()["rows"]
    assert case not in {r["id"] for r in listed}
    assert await admin.web.count("hoso_audit", "action = 'delete' AND record_id = {}", case) == 1
    # a delete without a reason is refused, naming it, and changes nothing
    other = seed.cases["ha_noi"]
    r = await admin.send("DELETE", f"/tables/case/{other}/")
    assert r.status_code == 422 and "lý do" in r.text, r.text
    assert await admin.web.rt.db.fetchval('SELECT sys_deleted_at FROM "case" WHERE id = {}', other) is None


PDF = b"%PDF-1.4\n% hoso test file\n" + b"0" * 2000 + b"\n%%EOF\n"


async def test_attachments_upload_through_the_record_service_and_download_in_scope(admin):
    seed = admin.seed
    case = seed.cases["ha_noi"]
    await admin.login("tt01.staff")
    csrf = await admin.csrf()
    r = await admin.client.post("/admin/api/media/", data={"table_name": "case", "column_name": "scanned_file"},
                                files={"file": ("hồ sơ vụ việc.pdf", PDF, "application/pdf")},
                                headers={"X-CSRFToken": csrf})
    assert r.status_code == 200, r.text
    key = r.json()["file_key"]
    assert key.startswith("upload:")
    r = await admin.send("PATCH", f"/tables/case/{case}/", {"scanned_file": key, "sys_version": 1})
    assert r.status_code == 200, r.text
    row = r.json()
    assert row["sys_version"] == 2 and row["scanned_file"].isdigit()
    info = dict((await admin.web.rt.db.fetch("SELECT filename, size, uploaded_by FROM hoso_attachment WHERE id = {}",
                                             int(row["scanned_file"])))[0])
    assert info == {"filename": "hồ sơ vụ việc.pdf", "size": len(PDF), "uploaded_by": seed.users["tt01.staff"]}
    url = await admin.send("POST", "/media/generate-file-url/", {"column_name": "scanned_file", "table_name": "case",
                                                                "file_key": row["scanned_file"]})
    assert url.status_code == 200 and url.json()["file_url"] == f"./hoso/files/{row['scanned_file']}"
    got = await admin.client.get(f"/admin/hoso/files/{row['scanned_file']}")
    assert got.status_code == 200 and got.content == PDF
    assert "attachment" in got.headers["content-disposition"]
    assert await admin.web.count("hoso_audit", "action = 'attachment.download' AND record_id = {}", case) == 1

    # another user's staged upload cannot be used, and another centre cannot download
    await admin.login("tt01.director")
    r = await admin.send("PATCH", f"/tables/case/{case}/", {"scanned_file": key, "sys_version": 2})
    assert r.status_code in (200, 422)
    assert await admin.web.rt.db.fetchval('SELECT sys_version FROM "case" WHERE id = {}', case) == 2
    await admin.login("tt02.staff")
    assert (await admin.client.get(f"/admin/hoso/files/{row['scanned_file']}")).status_code == 404
    await admin.login("thong.ke")
    assert (await admin.client.get(f"/admin/hoso/files/{row['scanned_file']}")).status_code == 404


async def test_child_rows_are_written_through_their_parent(admin):
    seed = admin.seed
    case = seed.cases["ha_noi"]
    await admin.login("tt01.staff")
    r = await admin.send("POST", "/tables/case__hearings/", {"parent_id": case, "held_on": "2025-04-01",
                                                             "court": "Tòa án nhân dân quận Ba Đình"})
    assert r.status_code == 201, r.text
    hearing = r.json()[0]["id"]
    assert await admin.web.rt.db.fetchval('SELECT sys_version FROM "case" WHERE id = {}', case) == 2
    r = await admin.send("POST", "/tables/case__hearings/", {"parent_id": case, "court": "Không có ngày"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "held_on"
    r = await admin.send("PATCH", f"/tables/case__hearings/{hearing}/", {"note": "Hoãn phiên tòa"})
    assert r.status_code == 200 and r.json()["note"] == "Hoãn phiên tòa"
    record = await admin.web.rt.records().get("case", case, RecordContext.system(admin.web.rt.config))
    assert [h["note"] for h in record["hearings"]] == ["Hoãn phiên tòa"]
    r = await admin.send("POST", "/tables/case__hearings/", {"parent_id": seed.cases["ha_giang"],
                                                             "held_on": "2025-04-01"})
    assert r.status_code == 404
