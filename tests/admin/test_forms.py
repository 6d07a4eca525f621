"""Admin forms: workflow transitions for the roles allowed, a record's history page, and the form hook through
which plugins (report templates) add forms that download files."""

from __future__ import annotations

import csv
import io
import json

import pydantic

from hoso.admin.forms import AdminForm, Download
from hoso.config.types import Label
from hoso.hookspecs import hookimpl
from tests.admin.conftest import AdminClient, serving


async def _slugs(admin) -> set[str]:
    r = await admin.get("/forms/")
    assert r.status_code == 200, r.text
    return {f["slug"] for f in r.json()}


async def test_transition_forms_only_for_roles_allowed(admin):
    await admin.login("tt01.staff")  # centre staff: accept, refuse, transfer, return_file, archive
    assert await _slugs(admin) == {"case-accept", "case-refuse", "case-transfer", "case-return-file",
                                   "case-archive"}
    grouped = (await admin.get("/forms/grouped/")).json()
    assert list(grouped["grouped"]) == ["Quy trình: Vụ việc trợ giúp pháp lý"]
    assert (await admin.get("/forms/case-assign/")).status_code == 404
    assert (await admin.get("/forms/case-assign/schema/")).status_code == 404
    r = await admin.send("POST", "/forms/case-assign/", {"sys_record": admin.seed.codes["ha_noi"]})
    assert r.status_code == 404
    await admin.login("tt01.director")
    assert {"case-assign", "case-appraise", "case-evaluate"} <= await _slugs(admin)
    await admin.login("thong.ke")
    assert await _slugs(admin) == set()


async def test_a_transition_goes_through_the_workflow(admin):
    seed = admin.seed
    await admin.login("tt01.staff")
    schema = (await admin.get("/forms/case-accept/schema/")).json()
    assert list(schema["properties"]) == ["sys_record", "sys_version", "accepted_on", "beneficiary_groups",
                                          "field_of_law", "form_of_aid"]
    assert schema["properties"]["accepted_on"]["title"] == "Ngày thụ lý"
    assert schema["properties"]["form_of_aid"]["extra"]["choices"]["TV"]["display_name"] == "Tư vấn pháp luật"
    meta = (await admin.get("/forms/case-accept/")).json()
    assert meta["name"] == "Thụ lý (Vụ việc trợ giúp pháp lý)"

    # a required field of the step is missing: refused, naming it
    r = await admin.send("POST", "/forms/case-accept/", {"sys_record": seed.codes["ha_noi"]})
    assert r.status_code == 422
    assert "Ngày thụ lý (accepted_on)" in r.json()["custom_form_error"]
    # out of scope: as if it did not exist
    r = await admin.send("POST", "/forms/case-accept/", {"sys_record": seed.codes["ha_giang"],
                                                        "accepted_on": "2025-03-05"})
    assert r.status_code == 422 and seed.codes["ha_giang"] in r.json()["custom_form_error"]
    assert await admin.web.rt.db.fetchval('SELECT status FROM "case" WHERE id = {}', seed.cases["ha_giang"]) == \
        "received"
    # a stale version is refused
    r = await admin.send("POST", "/forms/case-accept/", {"sys_record": seed.codes["ha_noi"], "sys_version": 7,
                                                        "accepted_on": "2025-03-05"})
    assert r.status_code == 422
    r = await admin.send("POST", "/forms/case-accept/", {"sys_record": seed.codes["ha_noi"],
                                                        "accepted_on": "2025-03-05"})
    assert r.status_code == 200, r.text
    assert r.json()["custom_form_success"] == (
        f"Đã thực hiện “Thụ lý” cho hồ sơ {seed.codes['ha_noi']}: trạng thái mới là Đã thụ lý.")
    row = (await admin.web.rt.db.fetch('SELECT status, accepted_on, sys_version FROM "case" WHERE id = {}',
                                       seed.cases["ha_noi"]))[0]
    assert row["status"] == "accepted" and str(row["accepted_on"]) == "2025-03-05" and row["sys_version"] == 2
    audit = await admin.web.rt.db.fetch("SELECT actor, changes FROM hoso_audit WHERE action = 'transition' "
                                        "AND record_id = {}", seed.cases["ha_noi"])
    assert audit[0]["actor"] == "tt01.staff" and json.loads(audit[0]["changes"])["@transition"] == "accept"
    # the same step again: not from this state
    r = await admin.send("POST", "/forms/case-accept/", {"sys_record": str(seed.cases["ha_noi"]),
                                                        "accepted_on": "2025-03-06"})
    assert r.status_code == 422


async def test_history_page_shows_changes_files_and_steps(admin):
    seed = admin.seed
    case = seed.cases["ha_noi"]
    await admin.login("tt01.staff")
    await admin.send("PATCH", f"/tables/case/{case}/", {"summary": "Tranh chấp đất đai", "sys_version": 1})
    page = await admin.client.get(f"/admin/hoso/history/case/{case}")
    assert page.status_code == 200
    text = page.text
    assert f"Lịch sử của hồ sơ {seed.codes['ha_noi']}" in text
    assert "Tóm tắt nội dung vụ việc</span>: <ins>Tranh chấp đất đai</ins>" in text
    assert "Cán bộ tt01.staff" in text and "Tạo hồ sơ" in text and "Sửa hồ sơ" in text
    assert 'id="hoso-step-accept"' in text  # the steps this user may take now
    assert "hoso-step-assign" not in text
    assert "001090000001" not in text  # a field hidden from centre staff
    lookup = await admin.client.get("/admin/hoso/history/", params={"table": "case", "record": seed.codes["ha_noi"]},
                                    follow_redirects=False)
    assert lookup.status_code == 303 and lookup.headers["location"] == f"/admin/hoso/history/case/{case}"
    assert (await admin.client.get(f"/admin/hoso/history/case/{seed.cases['ha_giang']}")).status_code == 404
    await admin.login("thong.ke")
    assert (await admin.client.get(f"/admin/hoso/history/case/{case}")).status_code == 404


class ReportPlugin:
    """A stand-in for a report template: a form that downloads the user's cases as CSV."""

    class Period(pydantic.BaseModel):
        year: int = pydantic.Field(title="Năm")

    @hookimpl
    def hoso_admin_forms(self, config):
        async def run(req):
            rows, _total = await req.rt.records().list("case", req.user.ctx, page_size=1000, sort="code")
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerow(["code", "requester_name"])
            for row in rows:
                if str(row["received_on"]).startswith(str(req.data.year)):
                    writer.writerow([row["code"], row.get("requester_name")])
            return Download(f"vu-viec-{req.data.year}.csv", out.getvalue(), "text/csv")

        return [AdminForm("cases-csv", Label("Xuất danh sách vụ việc", "Export cases"), self.Period, run,
                          group=Label("Báo cáo", "Reports"), allowed=lambda user: user.may("export", "case"))]


async def test_plugin_forms_download_files(prepared, admin_db, monkeypatch):
    monkeypatch.setenv("HOSO_ADMIN_RELOAD_SECONDS", "0")
    async with serving(prepared.config, admin_db, plugins=[ReportPlugin()]) as web:
        admin = AdminClient(web, prepared.seed)
        await admin.login("tt01.staff")
        grouped = (await admin.get("/forms/grouped/")).json()["grouped"]
        assert grouped["Báo cáo"] == [{"name": "Xuất danh sách vụ việc", "slug": "cases-csv", "description": None}]
        r = await admin.send("POST", "/forms/cases-csv/", {"year": 2025})
        assert r.status_code == 200, r.text
        assert r.headers["content-disposition"] == 'attachment; filename="vu-viec-2025.csv"'
        assert r.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(r.text)))
        assert rows == [["code", "requester_name"], [prepared.seed.codes["ha_noi_branch"], "Trần Thị Bình"],
                        [prepared.seed.codes["ha_noi"], "Nguyễn Văn An"]]  # Hà Giang's case is out of scope
        r = await admin.send("POST", "/forms/cases-csv/", {"year": "not a year"})
        assert r.status_code == 422
        await admin.login("thong.ke")  # may export statistics only: no case rows, no form
        assert "cases-csv" not in {f["slug"] for f in (await admin.get("/forms/")).json()}
        assert (await admin.send("POST", "/forms/cases-csv/", {"year": 2025})).status_code == 404


async def test_transition_forms_take_names_and_labels(admin):
    """piccolo-admin's custom forms have no drop-downs: links and options are typed by name or label."""
    seed = admin.seed
    await admin.login("tt01.director")
    r = await admin.send("POST", "/forms/case-accept/", {"sys_record": seed.codes["ha_noi"],
                                                        "accepted_on": "2025-03-05",
                                                        "form_of_aid": "tư vấn pháp luật"})
    assert r.status_code == 200, r.text
    # a performer of another centre is not found by name, and so not assigned
    r = await admin.send("POST", "/forms/case-assign/", {"sys_record": seed.codes["ha_noi"],
                                                        "performer": "Phạm Thị Hà", "assigned_on": "2025-03-06",
                                                        "assignment_decision": "15/QĐ-TGPL"})
    assert r.status_code == 422 and "Người thực hiện (performer)" in r.json()["custom_form_error"]
    r = await admin.send("POST", "/forms/case-assign/", {"sys_record": seed.codes["ha_noi"],
                                                        "performer": "Lê Văn Luật", "assigned_on": "2025-03-06",
                                                        "assignment_decision": "15/QĐ-TGPL"})
    assert r.status_code == 200, r.text
    row = (await admin.web.rt.db.fetch('SELECT status, performer FROM "case" WHERE id = {}', seed.cases["ha_noi"]))[0]
    assert row["status"] == "assigned" and row["performer"] == seed.performers["tt01"]
    r = await admin.send("POST", "/forms/case-discontinue/", {"sys_record": seed.codes["ha_noi"],
                                                             "discontinued_on": "2025-03-07",
                                                             "not_continued_reason": "no such reason"})
    assert r.status_code == 422 and "not_continued_reason" in r.json()["custom_form_error"]
