"""Locked periods: a period approved at the locking level refuses every write of records dated inside it, for the
unit's subtree, through the API and the admin, until a higher level unlocks it; approving again locks again."""

from __future__ import annotations

import json

import pytest

from hoso.hookspecs import hookimpl
from hoso.records.service import RecordContext, ValidationError
from hoso.reports import approval
from hoso.reports.model import ReportRequest
from hoso.runtime import Runtime
from tests.admin.conftest import admin, admin_db, prepared  # noqa: F401  (fixtures)
from tests.helpers import migrated_runtime
from tests.reports.approval_setup import deployment, scoped_run  # noqa: F401  (fixture)


class Refuser:
    """Refuses writes of records whose requester is "blocked" (created or kept), and deletes of "keep"."""

    def __init__(self):
        self.seen: list[str] = []

    @hookimpl
    async def hoso_write_guard(self, entity, action, before, after, context, db):
        self.seen.append(action)
        assert await db.fetchval("SELECT COUNT(*) AS n FROM hoso_unit") >= 1  # the database, in the transaction
        if after is not None and after.get("requester") == "blocked":
            return [("requester", f"{action} refused")]
        if action == "delete" and before["requester"] == "keep":
            return "deletion refused"
        return None


async def test_a_write_guard_plugin_refuses_every_kind_of_write(config_dir, database_url):
    guard = Refuser()
    rt = await migrated_runtime(config_dir.load(), database_url, plugins=[guard])
    try:
        svc, ctx = rt.records(), RecordContext.system(rt.config)
        unit = await rt.db.fetchval("SELECT id FROM hoso_unit WHERE code = 'TT'")
        body = {"received_on": "2025-03-03", "form_of_aid": "TV", "unit": unit}
        with pytest.raises(ValidationError) as exc:
            await svc.create("case", {**body, "requester": "blocked"}, ctx)
        assert exc.value.problems == [("requester", "create refused")]
        assert await rt.db.fetchval('SELECT COUNT(*) AS n FROM "case"') == 0
        rec = await svc.create("case", {**body, "requester": "keep"}, ctx)
        with pytest.raises(ValidationError) as exc:
            await svc.update("case", rec["id"], {"requester": "blocked"}, 1, ctx)
        assert exc.value.problems == [("requester", "update refused")]
        with pytest.raises(ValidationError) as exc:
            await svc.delete("case", rec["id"], "trùng", 1, ctx)
        assert exc.value.problems == [("", "deletion refused")]
        row = (await rt.db.fetch('SELECT requester, sys_version, sys_deleted_at FROM "case"'))[0]
        assert (row["requester"], row["sys_version"], row["sys_deleted_at"]) == ("keep", 1, None)
        assert await rt.db.fetchval("SELECT COUNT(*) AS n FROM hoso_audit WHERE entity = 'case'") == 1
        await svc.update("case", rec["id"], {"requester": "other"}, 1, ctx)
        await svc.delete("case", rec["id"], "trùng", 2, ctx)
        await svc.restore("case", rec["id"], ctx)
        assert guard.seen == ["create", "create", "update", "delete", "update", "delete", "restore"]
    finally:
        await rt.db.close()


async def _edit(d, user: str, case: dict, **changes):
    current = (await d.req("GET", f"/api/records/case/{case['id']}", user)).json()
    return await d.req("PATCH", f"/api/records/case/{case['id']}", user,
                       json={**changes, "sys_version": current["sys_version"]})


async def test_a_locked_period_refuses_edits_through_the_api_until_a_higher_level_unlocks(deployment):  # noqa: F811
    d = deployment
    inside = await d.create_case("dir1", "TT", received_on="2025-03-03")
    outside = await d.create_case("dir1", "TT", received_on="2025-07-03")
    other_centre = await d.create_case("dir2", "TT2", received_on="2025-03-03")
    other_province = await d.create_case("dir3", "TT3", received_on="2025-03-03")
    sid = (await d.submit("dir1")).json()["id"]
    # submitted, not yet approved at the locking level: edits go on
    assert (await _edit(d, "dir1", inside, note="trước khi duyệt")).status_code == 200
    assert (await d.act("prov1", sid, "approve")).status_code == 200

    r = await _edit(d, "dir1", inside, note="sau khi duyệt")
    assert r.status_code == 422, r.text
    message = r.json()["errors"][0]
    assert message == {"field": "received_on", "message": "reporting period 2025-H1 (01/01/2025 - 30/06/2025) of "
                       "unit TT (Centre One) is approved and locked: records dated 03/03/2025 cannot be changed"}
    r = await d.req("PATCH", f"/api/records/case/{inside['id']}", "dir1", headers={"Accept-Language": "vi"},
                    json={"note": "x", "sys_version": 2})
    assert "kỳ báo cáo 2025-H1 (01/01/2025 - 30/06/2025) của đơn vị TT (Trung tâm Một)" in r.text
    # creating, deleting, or moving a record into the period is refused too
    r = await d.req("POST", "/api/records/case", "dir1", json={"received_on": "2025-05-05", "form_of_aid": "TV",
                                                                 "requester": "Lê Văn Bình", "age": 30,
                                                                 "unit": d.units["TT"]})
    assert r.status_code == 422 and "records dated 05/05/2025 cannot be changed" in r.text, r.text
    r = await d.req("DELETE", f"/api/records/case/{inside['id']}?version=2&reason=nhầm", "dir1")
    assert r.status_code == 422 and "is approved and locked" in r.text, r.text
    r = await _edit(d, "dir1", outside, received_on="2025-06-30")
    assert r.status_code == 422 and "records dated 30/06/2025 cannot be changed" in r.text, r.text
    assert (await d.count("case")) == 4
    row = (await d.rt.db.fetch('SELECT note, sys_version, sys_deleted_at FROM "case" WHERE id = {}', inside["id"]))[0]
    assert (row["note"], row["sys_version"], row["sys_deleted_at"]) == ("trước khi duyệt", 2, None)
    # outside the period, the other centre of the province, and another province: not locked
    assert (await _edit(d, "dir1", outside, note="tháng 7")).status_code == 200
    assert (await _edit(d, "dir2", other_centre, note="TT2")).status_code == 200
    assert (await _edit(d, "dir3", other_province, note="TT3")).status_code == 200

    # only a level above the province unlocks, and with a reason
    r = await d.act("prov1", sid, "unlock", reason="sửa số liệu")
    assert r.status_code == 403 and "only level ministry or above" in r.json()["detail"]
    r = await d.act("min", sid, "unlock", reason=" ")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "reason"
    r = await d.act("min", sid, "unlock", reason="sửa số liệu tháng 3")
    assert r.status_code == 200 and r.json()["status"] == "unlocked" and r.json()["locked"] is False
    r = await d.act("min", sid, "unlock", reason="lần nữa")
    assert r.status_code == 409
    audit = await d.rt.db.fetch("SELECT actor, changes FROM hoso_audit WHERE action = 'report_unlock'")
    assert audit[0]["actor"] == "min" and json.loads(audit[0]["changes"])["@comment"] == "sửa số liệu tháng 3"
    assert (await _edit(d, "dir1", inside, note="đã sửa")).status_code == 200

    # submitted and approved again: locked again
    assert (await d.submit("dir1")).status_code == 201
    assert (await d.act("prov1", sid, "approve")).status_code == 200
    r = await _edit(d, "dir1", inside, note="lần nữa")
    assert r.status_code == 422 and "is approved and locked" in r.text, r.text
    # the lock covers the submitting centre's subtree only: TT2 stays open
    assert (await _edit(d, "dir2", other_centre, note="TT2 lần 2")).status_code == 200


async def test_a_locked_period_refuses_edits_through_the_admin_until_unlocked(admin, prepared):  # noqa: F811
    seed = admin.seed
    case = seed.cases["ha_noi"]  # TT-01, received 04/03/2025
    rt = Runtime.create(prepared.root, db=admin.web.rt.db)
    system = RecordContext.system(rt.config)
    result = await scoped_run(rt, system, ReportRequest("cases_by_unit", period="2025-H1", unit="TT-01"))
    sub = await approval.submit(rt, system, result, scope_key="system")
    await approval.approve(rt, system, sub["id"])  # the province: locks

    await admin.login("tt01.director")
    row = (await admin.get(f"/tables/case/{case}/")).json()
    r = await admin.send("PATCH", f"/tables/case/{case}/", {**row, "summary": "Sửa sau khi khóa"})
    assert r.status_code == 422, r.text
    assert "2025-H1" in r.text and "TT-01" in r.text and "04/03/2025" in r.text
    assert await admin.web.rt.db.fetchval('SELECT sys_version FROM "case" WHERE id = {}', case) == row["sys_version"]
    # the branch's case is in the centre's subtree: locked too; Hà Giang's is not
    branch = seed.cases["ha_noi_branch"]
    await admin.login("quan.tri")
    brow = (await admin.get(f"/tables/case/{branch}/")).json()
    r = await admin.send("PATCH", f"/tables/case/{branch}/", {**brow, "summary": "x"})
    assert r.status_code == 422 and "TT-01" in r.text, r.text
    grow = (await admin.get(f"/tables/case/{seed.cases['ha_giang']}/")).json()
    assert (await admin.send("PATCH", f"/tables/case/{seed.cases['ha_giang']}/",
                             {**grow, "summary": "x"})).status_code == 200

    await approval.unlock(rt, system, sub["id"], reason="mở để sửa")
    await admin.login("tt01.director")
    r = await admin.send("PATCH", f"/tables/case/{case}/", {**row, "summary": "Sửa sau khi mở khóa"})
    assert r.status_code == 200, r.text
    assert r.json()["summary"] == "Sửa sau khi mở khóa"
