"""Home pages per role and in-app notifications, at the HTTP level, on both engines.

The home page's lists and numbers are compared with the API's own answers for the same account (one session
serves both), so a home page that reads outside the record service's scope, or counts differently, fails.
"""

from __future__ import annotations

import datetime as dt

import pytest

from hoso.plugins import notifications
from hoso.plugins.notifications import notify
from hoso.records.context import LOCAL_ZONE, RecordContext
from hoso.scheduler import run_due, scheduled_work


async def _home(admin, username: str) -> dict:
    r = await admin.login(username)
    assert r.status_code == 200, r.text
    got = await admin.client.get("/admin/hoso/home/data")
    assert got.status_code == 200, got.text
    return got.json()


async def _api(admin, path: str) -> dict:
    r = await admin.client.get("/api/records/case" + path)
    assert r.status_code == 200, r.text
    return r.json()


async def _reports(admin) -> list[str]:
    r = await admin.client.get("/api/reports")
    assert r.status_code == 200, r.text
    body = r.json()
    return [x["name"] for x in (body["items"] if isinstance(body, dict) else body)]


async def test_home_pages_answer_what_the_api_answers_for_each_role(admin):
    seed = admin.seed
    # centre staff: new requests, cases by status and overdue cases of their scope
    home = await _home(admin, "tt01.staff")
    new = await _api(admin, "?status=received&page_size=100")
    assert sorted(i["id"] for i in home["new"]) == sorted(r["id"] for r in new["items"])
    assert {seed.cases["ha_noi"], seed.cases["ha_noi_branch"]} <= {i["id"] for i in home["new"]}
    assert seed.cases["ha_giang"] not in {i["id"] for i in home["new"] + home["overdue"]}
    (group,) = home["by_state"]
    for state in group["states"]:
        listed = await _api(admin, f"?status={state['state']}&page_size=1")
        assert state["count"] == listed["total"], state
        assert state["url"].endswith(f"#/case?status={state['state']}")
    assert sum(s["count"] for s in group["states"]) == (await _api(admin, "?page_size=1"))["total"]
    overdue = await _api(admin, "/overdue?page_size=100")
    assert home["overdue_total"] == overdue["total"] > 0
    assert [i["id"] for i in home["overdue"]] == [r["id"] for r in overdue["items"]][:len(home["overdue"])]
    assert all(i["url"] == f"/admin/hoso/record/case/{i['id']}/" for i in home["new"] + home["overdue"])
    assert home["mine"] == [] and [r["name"] for r in home["reports"]] == await _reports(admin)
    # the other province's staff see theirs only
    home = await _home(admin, "tt02.staff")
    assert [i["id"] for i in home["new"]] == [seed.cases["ha_giang"]]
    # the performer: the cases assigned to them (the API's list for them), their deadlines, no new requests
    home = await _home(admin, "luat.su")
    listed = await _api(admin, "?page_size=100")
    assert [i["id"] for i in home["mine"]] == [r["id"] for r in listed["items"]] == [seed.cases["ha_noi"]]
    assert home["new"] == [] and home["by_state"] == []
    assert [i["id"] for i in home["overdue"]] == [r["id"] for r in (await _api(admin, "/overdue"))["items"]]
    # the statistician: the reports they may run, no rows
    home = await _home(admin, "thong.ke")
    names = await _reports(admin)
    assert [r["name"] for r in home["reports"]] == names and names
    assert home["mine"] == home["new"] == home["overdue"] == []
    page = await admin.client.get("/admin/hoso/home/")
    assert page.status_code == 200 and "/admin/hoso/reports/?name=" in page.text
    # a notification of a record the reader cannot read (moved, reassigned) is not shown
    await notify(admin.web.rt.db, seed.users["tt02.staff"], "assigned", "case", seed.cases["ha_noi"], "assign")
    await notify(admin.web.rt.db, seed.users["tt02.staff"], "assigned", "case", seed.cases["ha_giang"], "assign")
    home = await _home(admin, "tt02.staff")
    assert home["unread"] == 1 and [n["url"] for n in home["notifications"]] == [
        f"/admin/hoso/record/case/{seed.cases['ha_giang']}/"]
    page = await admin.client.get("/admin/hoso/home/")
    assert seed.codes["ha_noi"] not in page.text


@pytest.fixture
def no_worker(monkeypatch):
    """The served app runs no scheduled work of its own: the test runs it, once it has made its case."""
    monkeypatch.setenv("HOSO_EMBEDDED_WORKER", "0")


async def test_assignments_and_nearing_deadlines_notify_the_performers_account(no_worker, admin, monkeypatch):
    seed = admin.seed
    case = seed.cases["ha_noi_branch"]
    await admin.login("tt01.director")
    got = await _api(admin, f"/{case}")
    r = await admin.client.post(f"/api/records/case/{case}/transitions/accept", json={
        "sys_version": got["sys_version"], "accepted_on": "2025-05-07", "beneficiary_groups": ["HN"],
        "field_of_law": "DS", "form_of_aid": "TV"})
    assert r.status_code == 200, r.text
    r = await admin.client.post(f"/api/records/case/{case}/transitions/assign", json={
        "sys_version": r.json()["sys_version"], "performer": seed.performers["tt01"], "assigned_on": "2025-05-08",
        "assignment_decision": "15/QĐ-TGPL"})
    assert r.status_code == 200, r.text
    rows = await admin.web.rt.db.fetch("SELECT user_id, kind, entity, record_id FROM hoso_notification")
    assert [dict(r) for r in rows] == [{"user_id": seed.users["luat.su"], "kind": "assigned", "entity": "case",
                                        "record_id": case}]
    assert (await _home(admin, "tt01.director"))["unread"] == 0
    home = await _home(admin, "luat.su")
    assert home["unread"] == 1 and [n["url"] for n in home["notifications"]] == [f"/admin/hoso/record/case/{case}/"]
    assert case in {i["id"] for i in home["mine"]}
    page = await admin.client.get("/admin/hoso/home/?part=fragment")
    assert "hoso-unread'>1<" in page.text and seed.codes["ha_noi_branch"] in page.text
    r = await admin.client.post("/admin/hoso/home/read", data={"csrftoken": await admin.csrf()},
                                headers={"X-CSRFToken": await admin.csrf(), "Origin": "http://testserver.local"})
    assert r.status_code in (200, 303), r.text
    home = await _home(admin, "luat.su")
    assert home["unread"] == 0 and len(home["notifications"]) == 1 and home["notifications"][0]["read"]
    # the scheduled work: a deadline that nears
    await admin.web.rt.db.execute("DELETE FROM hoso_notification")
    rt = admin.web.rt
    monkeypatch.setenv("HOSO_NOTIFY_DEADLINE_DAYS", "10")
    today = dt.datetime.now(LOCAL_ZONE).date()
    system = RecordContext.system(rt.config)
    case = await rt.records().create("case", {
        "received_on": today.isoformat(), "request_channel": "in_person", "requester_name": "Vũ Văn Hạn",
        "beneficiary_groups": ["HN"], "field_of_law": "DS", "form_of_aid": "TV", "unit": seed.units["TT-01"],
        "performer": seed.performers["tt01"]}, system)
    work = [w for w in scheduled_work(rt) if w.name == "notify_deadlines"]
    assert await run_due(rt, work) == ["notify_deadlines"]  # as hoso serve's worker and hoso run-scheduled run it
    await work[0].run(rt)  # again: still one notification per account, record and due date
    rows = await rt.db.fetch("SELECT user_id, kind, record_id, due_on FROM hoso_notification")
    # the new case only: the seeded ones are long overdue (the overdue list shows them), not nearing
    assert [(r["user_id"], r["kind"], r["record_id"]) for r in rows] == [(seed.users["luat.su"], "deadline",
                                                                          case["id"])]
    due = rows[0]["due_on"]
    due = dt.date.fromisoformat(due) if isinstance(due, str) else due
    assert today <= due <= today + dt.timedelta(days=10)
    home = await _home(admin, "luat.su")
    assert [n["kind"] for n in home["notifications"]] == ["deadline"]
    assert due.strftime("%d/%m/%Y") in home["notifications"][0]["text"]
    assert case["id"] in {i["id"] for i in home["due_soon"]}
    # read, the deadline is not announced again at the next run (one per account, record and due date)
    await notifications.mark_read(rt, seed.users["luat.su"])
    await work[0].run(rt)
    assert await rt.db.fetchval("SELECT COUNT(*) FROM hoso_notification") == 1


async def test_the_home_page_shows_only_notifications_whose_record_the_reader_can_read(no_worker, admin):
    """Notifications hold an entity and an id; the page reads the records with the reader's scope, one list per
    entity, and leaves out what the reader cannot read (another province, deleted, an entity gone)."""
    seed, rt = admin.seed, admin.web.rt
    user = seed.users["tt01.staff"]
    await rt.db.execute("DELETE FROM hoso_notification")
    mine, other = seed.cases["ha_noi_branch"], seed.cases["ha_giang"]
    gone = await rt.records().create("case", {
        "received_on": "2025-05-02", "request_channel": "in_person", "requester_name": "Đỗ Thị Mất",
        "beneficiary_groups": ["HN"], "field_of_law": "DS", "form_of_aid": "TV", "unit": seed.units["TT-01"]},
        RecordContext.system(rt.config))
    await rt.records().delete("case", gone["id"], "nhập trùng", gone["sys_version"], RecordContext.system(rt.config))
    for entity, record_id in (("case", mine), ("case", other), ("case", gone["id"]), ("no_such_entity", mine),
                              ("case", mine)):
        await notifications.notify(rt.db, user, "assigned", entity, record_id, f"t{record_id}")
    await rt.db.execute("UPDATE hoso_notification SET read_at = NULL")
    await rt.db.execute("INSERT INTO hoso_notification (user_id, kind, entity, record_id, detail, created_at) "
                        "VALUES ({}, 'assigned', 'case', {}, 'again', {})", user, mine, dt.datetime.now(dt.UTC))
    home = await _home(admin, "tt01.staff")
    assert [n["url"] for n in home["notifications"]] == [f"/admin/hoso/record/case/{mine}/"] * 2
    assert home["unread"] == 2
    assert seed.codes["ha_noi_branch"] in home["notifications"][0]["text"]


async def test_overdue_records_beyond_the_counted_bound_are_said_as_more_than(admin, monkeypatch):
    """A national user's home page counted every overdue record of the country at each visit; it counts up to a
    bound and says "more than" beyond it."""
    from hoso.admin import home as home_module

    exact = await _home(admin, "tt01.staff")
    assert exact["overdue_exact"] is True and exact["overdue_total"] >= 2
    bound = exact["overdue_total"] - 2
    monkeypatch.setattr(home_module, "OVERDUE_COUNTED", bound)
    bounded = await _home(admin, "tt01.staff")
    assert bounded["overdue_exact"] is False and bounded["overdue_total"] == bound + 1  # one past the bound
    assert bounded["overdue"] == exact["overdue"]
    page = await admin.client.get("/admin/hoso/home/")
    assert page.status_code == 200 and f"Quá hạn (hơn {bound})" in page.text
