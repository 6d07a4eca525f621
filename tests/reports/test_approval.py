"""Approval of a report up three levels (centre -> province -> ministry) over HTTP, on both engines."""

from __future__ import annotations

import json

from tests.reports.approval_setup import deployment, engine_deployment  # noqa: F401  (fixtures)


async def _audit(d, sid: int) -> list[tuple[str, dict]]:
    rows = await d.rt.db.fetch("SELECT action, actor, changes FROM hoso_audit WHERE entity = 'report_submission' "
                               "AND record_id = {} ORDER BY id", sid)
    return [(r["action"], json.loads(r["changes"])) for r in rows]


async def test_approval_up_three_levels_with_a_return_for_correction(deployment):  # noqa: F811
    d = deployment
    await d.create_case("dir1", "TT")
    await d.create_case("dir1", "TT", form_of_aid="TGTT", procedural_stage="investigation")
    # a draft first: no level acts on it
    r = await d.submit("dir1", draft=True)
    assert r.status_code == 201 and r.json()["status"] == "draft", r.text
    r = await d.act("prov1", r.json()["id"], "approve")
    assert r.status_code == 409 and "is not awaiting approval (status draft)" in r.json()["detail"]
    r = await d.submit("dir1", comment="báo cáo 6 tháng")
    assert r.status_code == 201, r.text
    sub = r.json()
    sid = sub["id"]
    assert (sub["status"], sub["level"], sub["unit"], sub["period"]) == ("submitted", "centre", "TT", "2025-H1")
    assert sub["period_start"] == "2025-01-01" and sub["period_end"] == "2025-06-30"
    first_snapshot = sub["snapshot_id"]

    # the same parameters cannot be submitted twice while pending
    r = await d.submit("dir1")
    assert r.status_code == 409 and f"submission {sid}" in r.json()["detail"]
    # the ministry cannot approve before the province; the centre cannot approve its own report
    for user in ("min", "dir1", "prov2"):
        r = await d.act(user, sid, "approve")
        assert r.status_code in (403, 404), (user, r.text)
    assert r.status_code == 404  # prov2 does not even see a submission of another province
    # returning needs a comment
    r = await d.act("prov1", sid, "return", comment="  ")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "comment"
    r = await d.act("prov1", sid, "return", comment="thiếu vụ việc tháng 6", version=sub["version"])
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "returned"
    # a returned report is not approved
    r = await d.act("prov1", sid, "approve")
    assert r.status_code == 409

    # corrected and submitted again: a new snapshot with the new numbers
    await d.create_case("dir1", "TT", received_on="2025-06-20")
    r = await d.submit("dir1")
    assert r.status_code == 201, r.text
    assert r.json()["id"] == sid and r.json()["status"] == "submitted"
    assert r.json()["snapshot_id"] != first_snapshot
    snap = (await d.req("GET", f"/api/report-snapshots/{r.json()['snapshot_id']}", "prov1")).json()
    assert snap["result"]["total"]["values"] == [3]

    # a stale version is refused
    r = await d.act("prov1", sid, "approve", version=1)
    assert r.status_code == 409 and r.json()["detail"].startswith("the report submission was changed")
    r = await d.act("prov1", sid, "approve", comment="đồng ý")
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["level"], r.json()["final"]) == ("approved", "province", False)
    r = await d.act("min", sid, "approve", comment="đạt")
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["level"], r.json()["final"]) == ("approved", "ministry", True)
    # nothing is above the top
    r = await d.act("min", sid, "approve")
    assert r.status_code == 409

    steps = (await d.req("GET", f"/api/report-submissions/{sid}", "dir1")).json()["steps"]
    assert [(s["action"], s["level"], s["actor"]) for s in steps] == [
        ("draft", "centre", "dir1"), ("submit", "centre", "dir1"), ("return", "province", "prov1"),
        ("submit", "centre", "dir1"), ("approve", "province", "prov1"), ("approve", "ministry", "min")]
    assert steps[2]["comment"] == "thiếu vụ việc tháng 6"
    audit = await _audit(d, sid)
    assert [a for a, _c in audit] == ["report_draft", "report_submit", "report_return", "report_submit",
                                      "report_approve", "report_approve"]
    assert audit[2][1]["@comment"] == "thiếu vụ việc tháng 6" and audit[4][1]["@locked"] is True
    assert audit[3][1]["@content_hash"] == snap["content_hash"]


async def test_a_user_without_approve_reports_is_refused_and_nothing_is_written(deployment):  # noqa: F811
    d = deployment
    await d.create_case("dir1", "TT")
    r = await d.submit("staff1")
    assert r.status_code == 403, r.text
    assert "you may not submit the report of unit TT" in r.json()["detail"]
    # a director of another centre may not submit for TT either
    r = await d.submit("dir3")
    assert r.status_code == 403
    assert await d.count("hoso_report_submission") == 0 and await d.count("hoso_report_snapshot") == 0
    r = await d.submit("dir1")
    sid = r.json()["id"]
    # centre staff can neither approve nor return nor unlock
    for step, body in (("approve", {}), ("return", {"comment": "x"}), ("unlock", {"reason": "x"})):
        r = await d.act("staff1", sid, step, **body)
        assert r.status_code in (403, 404, 409), (step, r.text)
    assert (await d.req("GET", f"/api/report-submissions/{sid}", "dir1")).json()["status"] == "submitted"
    assert len(await _audit(d, sid)) == 1


async def test_bad_requests_are_refused_with_problem_details(deployment):  # noqa: F811
    d = deployment
    cases = [
        ({"report": "nope", "period": "2025-H1", "unit": "TT"}, 422, "report"),
        ({"report": "cases_by_form", "period": "2025-H1", "unit": "XX"}, 422, "unit"),
        ({"report": "cases_by_form", "period": "2025-H1", "unit": "P01"}, 422, "unit"),  # not a centre
        ({"report": "cases_by_form", "period": "2025-H9", "unit": "TT"}, 422, "period"),
        ({"report": "cases_by_form", "period": "2025-H1"}, 422, "unit"),  # no unit
        ({"report": "cases_by_form", "period": "2025-H1", "unit": "TT", "colour": "red"}, 422, None),
    ]
    for body, status, fld in cases:
        r = await d.req("POST", "/api/report-submissions", "dir1", json=body)
        assert r.status_code == status, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        if fld:
            assert r.json()["errors"][0]["field"] == fld, r.text
    assert await d.count("hoso_report_submission") == 0
    r = await d.req("GET", "/api/report-submissions?status=lost", "dir1")
    assert r.status_code == 422 and "status 'lost' is not valid" in r.json()["detail"]
    for url in ("/api/report-submissions/999", "/api/report-snapshots/999"):
        r = await d.req("GET", url, "dir1")
        assert r.status_code == 404, r.text
    r = await d.act("min", 999, "unlock", reason="x")
    assert r.status_code == 404
    r = await d.req("GET", "/api/report-submissions/0", "dir1")
    assert r.status_code == 400
    # Vietnamese by default
    r = await d.req("POST", "/api/report-submissions", "dir1", headers={"Accept-Language": "vi"},
                    json={"report": "cases_by_form", "period": "2025-H1", "unit": "XX"})
    assert r.json()["detail"] == "không có đơn vị 'XX'"


async def test_the_approval_routes_are_in_the_openapi_document(deployment):  # noqa: F811
    doc = (await deployment.web.client.get("/schema/openapi.json")).json()
    paths = doc["paths"]
    for path, method in (("/api/report-submissions", "post"), ("/api/report-submissions", "get"),
                         ("/api/report-submissions/{submission_id}/approve", "post"),
                         ("/api/report-submissions/{submission_id}/return", "post"),
                         ("/api/report-submissions/{submission_id}/unlock", "post"),
                         ("/api/report-snapshots/{snapshot_id}", "get"), ("/api/report-approved/{report}", "get")):
        op = paths[path][method]
        assert {"401", "403", "404" if "{" in path else "400"} <= set(op["responses"]), (path, method)
        if method == "post":
            assert "422" in op["responses"] and "requestBody" in op


async def test_a_submission_stores_the_engine_run_of_the_submitter_and_serves_it_unchanged(engine_deployment):  # noqa: F811
    from hoso.records.context import RecordContext
    from hoso.reports.engine import run_report, template_hash
    from hoso.reports.model import ReportRequest
    from hoso.reports.snapshots import canonical, content_hash

    d = engine_deployment
    await d.create_case("dir1", "TT", received_on="2025-02-02")
    await d.create_case("dir1", "TT", received_on="2025-03-03", form_of_aid="TGTT", procedural_stage="investigation")
    await d.create_case("dir1", "TT", received_on="2025-08-08")  # another period
    await d.create_case("dir2", "TT2", received_on="2025-02-02")  # another centre
    r = await d.submit("dir1", comment="e2e")
    assert r.status_code == 201, r.text
    sub = r.json()
    snap = (await d.req("GET", f"/api/report-snapshots/{sub['snapshot_id']}", "prov1")).json()
    rt = d.web.rt
    report = next(x for x in rt.config.reports if x.name == "cases_by_form")
    assert snap["template_hash"] == template_hash(report)
    assert snap["content_hash"] == content_hash(canonical(snap["result"]))
    dir1 = RecordContext(rt.config, user_id=d.ids["dir1"], user_name="dir1", origin="test", lang="en")
    live = (await run_report(rt, dir1, ReportRequest("cases_by_form", period="2025-H1", unit="TT",
                                                      lang="en"))).to_json()
    for key in ("rows", "total", "columns", "period", "request", "template_hash"):
        assert snap["result"][key] == live[key], key
    assert snap["result"]["total"]["values"][0] == 2
    # later edits change the live run, not the snapshot
    await d.create_case("dir1", "TT", received_on="2025-04-04")
    after = (await d.req("GET", f"/api/report-snapshots/{sub['snapshot_id']}", "min")).json()
    assert after == snap
    live = await run_report(rt, dir1, ReportRequest("cases_by_form", period="2025-H1", unit="TT"))
    assert live.total.values[0] == 3
    # approved up the levels; the province's officer gets only approved numbers from below
    assert (await d.act("prov1", sub["id"], "approve")).status_code == 200
    assert (await d.act("min", sub["id"], "approve")).status_code == 200
    body = (await d.req("GET", "/api/report-approved/cases_by_form?period=2025-H1", "prov1")).json()
    assert [u["unit"] for u in body["units"]] == ["TT"] and body["missing"] == ["TT2"]
    assert body["total"][0] == 2
    assert (await d.req("GET", f"/api/report-snapshots/{sub['snapshot_id']}", "prov2")).status_code == 404
