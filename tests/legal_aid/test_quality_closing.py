"""Closing an evaluation plan ends its reviewers' access to its cases on every read path (API list and get,
search, the evaluate step, the admin's list and record), keeps who reviewed what, and cannot be undone: the plan
is not reopened nor sampled again, and no sample of it names a reviewer again. Both engines, over HTTP."""

from __future__ import annotations

import datetime as dt

import pytest

from hoso.records.context import RecordContext
from hoso.scope import Actor
from hoso.users import create_user
from hoso.web.tokens import create_token
from tests.legal_aid.conftest import legal_aid_app
from tests.test_quality import SCORES, _case, _insert

PASSWORD = "correct-horse-42"


async def _account(rt, username: str, role: str, unit: int) -> tuple[int, str]:
    user = await create_user(rt, username, PASSWORD, actor="test")
    await rt.db.execute("INSERT INTO hoso_assignment (user_id, role, unit_id, starts_on, created_at) "
                        "VALUES ({}, {}, {}, {}, {})", user, role, unit, dt.date.today() - dt.timedelta(days=30),
                        dt.datetime.now(dt.UTC))
    token = (await create_token(rt, Actor(None, "root", superuser=True, origin="test"), user, username))[1]
    return user, token


async def _people(rt, performer_name: str) -> tuple[dict, int, str, int, str, int]:
    """The units by code, a provincial officer and a quality reviewer at STP-01 (each an id and a token), and a
    performer of TT-01."""
    units = {r["code"]: r["id"] for r in await rt.db.fetch("SELECT id, code FROM hoso_unit")}
    officer, officer_token = await _account(rt, "can.bo.so", "provincial_officer", units["STP-01"])
    reviewer, reviewer_token = await _account(rt, "chuyen.gia", "quality_reviewer", units["STP-01"])
    performer = await _insert(rt, "performer", name=performer_name, kind="assistant", unit=units["TT-01"],
                              active=True)
    return units, officer, officer_token, reviewer, reviewer_token, performer


@pytest.mark.slow
async def test_a_closed_plan_ends_its_reviewers_access_for_good(reference_config_dir, database_url):
    async with legal_aid_app(reference_config_dir, database_url) as (rt, client):
        units, officer, officer_token, reviewer, reviewer_token, performer = await _people(rt, "Người thực hiện A")
        cases = [await _case(rt, n, units["TT-01"], performer) for n in range(1, 4)]
        await rt.records().reindex_search("case", RecordContext.system(rt.config))

        async def call(method: str, url: str, token: str, **kw):
            headers = {"Authorization": f"Bearer {token}", "Accept-Language": "en"}
            return await client.request(method, url, headers=headers, **kw)

        r = await call("POST", "/api/records/evaluation_plan", officer_token, json={
            "title": "Kế hoạch 2025", "year": 2025, "unit": units["STP-01"], "share_percent": 100})
        assert r.status_code == 201, r.text
        plan = r.json()["id"]
        r = await call("POST", f"/api/quality/plans/{plan}/sample", officer_token, json={"reviewers": [reviewer]})
        assert r.status_code == 200, r.text
        assert sorted(r.json()["cases"]) == cases
        evaluated, pending = cases[0], cases[1]
        r = await call("POST", f"/api/quality/cases/{evaluated}/evaluate", reviewer_token,
                       json={"evaluated_on": "2025-12-01", "scores": SCORES})
        assert r.status_code == 200, r.text

        # The admin, as the reviewer (a session of their own).
        await client.get("/admin/")
        r = await client.post("/admin/public/login/", json={"username": "chuyen.gia", "password": PASSWORD},
                              headers={"X-CSRFToken": client.cookies.get("csrftoken")})
        assert r.status_code == 200, r.text
        # the session goes with the admin's requests only (a session cookie would win over the API's tokens)
        session = {"Cookie": f"hoso_session={client.cookies.get('hoso_session')}"}
        client.cookies.delete("hoso_session")

        async def reads() -> dict:
            listed = await call("GET", "/api/records/case?page_size=100", reviewer_token)
            search = await call("GET", "/api/search?q=người yêu cầu&per_entity=20", reviewer_token)
            admin_list = await client.get("/admin/api/tables/case/", params={"__page_size": 100}, headers=session)
            return {
                "list": sorted(c["id"] for c in listed.json()["items"]),
                "get": [(await call("GET", f"/api/records/case/{c}", reviewer_token)).status_code for c in cases],
                "history": (await call("GET", f"/api/records/case/{pending}/history", reviewer_token)).status_code,
                "search": sorted(h["id"] for g in search.json()["results"] if g["entity"] == "case"
                                 for h in g["items"]),
                "samples": len((await call("GET", "/api/records/evaluation_sample", reviewer_token)).json()["items"]),
                "admin_list": sorted(row["id"] for row in admin_list.json()["rows"]),
                "admin_get": (await client.get(f"/admin/api/tables/case/{pending}/", headers=session)).status_code,
            }

        assert await reads() == {"list": cases, "get": [200, 200, 200], "history": 200, "search": cases,
                                 "samples": 3, "admin_list": cases, "admin_get": 200}

        # Deleting the sampled plan would leave its samples, and the access, behind: refused, even nationally.
        _, national_token = await _account(rt, "quan.tri.cuc", "national_admin", units["CUC"])
        version = (await call("GET", f"/api/records/evaluation_plan/{plan}", national_token)).json()["sys_version"]
        r = await call("DELETE", f"/api/records/evaluation_plan/{plan}", national_token,
                       params={"version": version, "reason": "nhầm"})
        assert r.status_code == 422 and "close it" in r.text, r.text
        assert await rt.db.fetchval("SELECT sys_deleted_at FROM evaluation_plan WHERE id = {}", plan) is None
        assert (await reads())["list"] == cases

        # The officer closes the plan: every read path of the reviewer is empty at once.
        version = (await call("GET", f"/api/records/evaluation_plan/{plan}", officer_token)).json()["sys_version"]
        r = await call("PATCH", f"/api/records/evaluation_plan/{plan}", officer_token,
                       json={"status": "closed", "sys_version": version})
        assert r.status_code == 200, r.text
        assert await reads() == {"list": [], "get": [404, 404, 404], "history": 404, "search": [], "samples": 0,
                                 "admin_list": [], "admin_get": 404}
        r = await call("POST", f"/api/quality/cases/{pending}/evaluate", reviewer_token,
                       json={"evaluated_on": "2025-12-02", "scores": SCORES})
        assert r.status_code == 404, r.text
        assert await rt.db.fetchval('SELECT status FROM "case" WHERE id = {}', pending) == "appraised"

        # Who reviewed what stays on the samples, and the change is in each sample's history under the officer.
        samples = await rt.db.fetch('SELECT id, reviewer, reviewed_by FROM "evaluation_sample" WHERE plan = {} '
                                    "ORDER BY id", plan)
        assert [(s["reviewer"], s["reviewed_by"]) for s in samples] == [(None, reviewer)] * 3
        r = await call("GET", f"/api/records/evaluation_sample/{samples[0]['id']}/history", officer_token)
        assert r.status_code == 200, r.text
        last = r.json()[-1]
        assert last["actor_id"] == officer and "reviewer" in last["changes"] and "reviewed_by" in last["changes"], last

        # For good: not reopened, not sampled again, no reviewer named again on a sample of it.
        version = (await call("GET", f"/api/records/evaluation_plan/{plan}", officer_token)).json()["sys_version"]
        for status in ("sampled", "draft"):
            r = await call("PATCH", f"/api/records/evaluation_plan/{plan}", officer_token,
                           json={"status": status, "sys_version": version})
            assert r.status_code == 422 and "cannot be reopened" in r.text, r.text
        r = await call("POST", f"/api/quality/plans/{plan}/sample", officer_token, json={})
        assert r.status_code == 409 and "closed" in r.text, r.text
        sample_version = (await call("GET", f"/api/records/evaluation_sample/{samples[1]['id']}",
                                     officer_token)).json()["sys_version"]
        r = await call("PATCH", f"/api/records/evaluation_sample/{samples[1]['id']}", officer_token,
                       json={"reviewer": reviewer, "sys_version": sample_version})
        assert r.status_code == 422 and "is closed" in r.text, r.text
        assert await reads() == {"list": [], "get": [404, 404, 404], "history": 404, "search": [], "samples": 0,
                                 "admin_list": [], "admin_get": 404}


async def test_a_close_that_would_leave_a_sample_out_is_refused_by_name(reference_config_dir, database_url):
    """A plan whose samples the closer cannot all change (one was put on a case of another province) is not closed:
    the answer names the sample, the plan stays open and every reviewer keeps their sample until someone whose
    scope holds it closes the plan."""
    async with legal_aid_app(reference_config_dir, database_url) as (rt, client):
        units, _officer, officer_token, reviewer, _token, performer = await _people(rt, "Người thực hiện B")
        here = await _case(rt, 1, units["TT-01"], performer)
        there = await _case(rt, 2, units["TT-02"], None)
        headers = {"Authorization": f"Bearer {officer_token}", "Accept-Language": "vi"}
        r = await client.post("/api/records/evaluation_plan", headers=headers, json={
            "title": "Kế hoạch 2025", "year": 2025, "unit": units["STP-01"], "share_percent": 100})
        assert r.status_code == 201, r.text
        plan = r.json()["id"]
        await rt.db.execute("UPDATE evaluation_plan SET status = 'sampled' WHERE id = {}", plan)
        own = await _insert(rt, "evaluation_sample", plan=plan, case_file=here, unit=units["TT-01"], reviewer=reviewer)
        stray = await _insert(rt, "evaluation_sample", plan=plan, case_file=there, unit=units["TT-02"],
                              reviewer=reviewer)
        version = (await client.get(f"/api/records/evaluation_plan/{plan}", headers=headers)).json()["sys_version"]
        r = await client.patch(f"/api/records/evaluation_plan/{plan}", headers=headers,
                               json={"status": "closed", "sys_version": version})
        assert r.status_code == 422, r.text
        assert f"mẫu {stray} nằm ngoài phạm vi" in r.text and [e["field"] for e in r.json()["errors"]] == ["status"]
        assert await rt.db.fetchval("SELECT status FROM evaluation_plan WHERE id = {}", plan) == "sampled"
        rows = await rt.db.fetch("SELECT id, reviewer, reviewed_by FROM evaluation_sample ORDER BY id")
        assert [(s["id"], s["reviewer"], s["reviewed_by"]) for s in rows] == [(own, reviewer, None),
                                                                               (stray, reviewer, None)]
