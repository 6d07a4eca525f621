"""Invalid payloads, workflow transitions, optimistic locking, soft delete and restore, through HTTP."""

from __future__ import annotations

CASES = "/api/records/case"

INVALID = [
    # (what, user, body changes, form, field named)
    ("wrong type", "staff1", {"age": "forty"}, None, "age"),
    ("wrong type (date)", "staff1", {"received_on": "yesterday"}, None, "received_on"),
    ("unknown field", "staff1", {"colour": "blue"}, None, "colour"),
    ("missing required", "staff1", {"requester": None}, None, "requester"),
    ("choice not in list", "staff1", {"form_of_aid": "XYZ"}, None, "form_of_aid"),
    ("retired choice", "staff1", {"refusal_reason": "old_reason"}, None, "refusal_reason"),
    ("out-of-scope unit", "staff1", {"unit": "TT2"}, None, "unit"),
    ("unknown unit", "staff1", {"unit": 987654}, None, "unit"),
    ("out-of-scope reference", "staff1", {"performer": "other-unit"}, None, "performer"),
    ("entity rule", "staff1", {"ended_on": "2025-01-01"}, None, "ended_on"),
    ("form required_if", "staff1", {"form_of_aid": "TGTT"}, "case_intake", "procedural_stage"),
    ("form visible_if", "staff1", {"procedural_stage": "trial"}, "case_intake", "procedural_stage"),
    ("form rule", "staff1", {"form_of_aid": "TGTT", "procedural_stage": "trial", "age": 12}, "case_intake", "age"),
    ("system field", "staff1", {"status": "accepted"}, None, "status"),
]


async def test_invalid_create_is_422_naming_the_field_and_writes_nothing(api):
    """Each invalid create of INVALID (one database for all: each must write nothing)."""
    p = await api.req("POST", "/api/records/performer", "staff2", json={"name": "B", "unit": api.units["TT2"]})
    assert p.status_code == 201, p.text
    for what, user, changes, form, field in INVALID:
        if changes.get("performer") == "other-unit":
            changes = {**changes, "performer": p.json()["id"]}
        if changes.get("unit") == "TT2":
            changes = {**changes, "unit": api.units["TT2"]}
        body = api.case("TT", **changes)
        body = {k: v for k, v in body.items() if v is not None}
        before = await api.count("case")
        audits = len(await api.audit())
        r = await api.req("POST", CASES, user, json=body, params={"form": form} if form else None)
        assert r.status_code == 422, (what, r.text)
        problem = r.json()
        assert r.headers["content-type"].startswith("application/problem+json"), what
        assert field in [e["field"] for e in problem["errors"]], (what, problem)
        assert all(e["message"] for e in problem["errors"]), what
        assert await api.count("case") == before, what
        assert len(await api.audit()) == audits, what


async def test_invalid_update_is_422_and_changes_nothing(api):
    c = await api.create_case("staff1")
    url = f"{CASES}/{c['id']}"
    for changes, field in [({"age": -1}, "age"), ({"nope": 1}, "nope"), ({"requester": None}, "requester"),
                           ({"form_of_aid": "ZZ"}, "form_of_aid"), ({"unit": api.units["TT2"]}, "unit"),
                           ({"ended_on": "2020-01-01"}, "ended_on"), ({"code": "X"}, "code"),
                           ({}, "sys_version")]:
        body = {"sys_version": c["sys_version"], **changes} if field != "sys_version" else changes
        r = await api.req("PATCH", url, "staff1", json=body)
        assert r.status_code == 422, (changes, r.text)
        assert field in [e["field"] for e in r.json()["errors"]], (changes, r.json())
    r = await api.req("GET", url, "staff1")
    assert r.json()["sys_version"] == c["sys_version"] and r.json()["unit"] == api.units["TT"]
    assert len(await api.audit(action="update")) == 0


async def test_non_json_bodies(api):
    r = await api.req("POST", CASES, "staff1", content=b"[1, 2]", headers={"content-type": "application/json"})
    assert r.status_code == 400, r.text
    r = await api.req("POST", CASES, "staff1", content=b"{", headers={"content-type": "application/json"})
    assert r.status_code == 400, r.text
    r = await api.req("POST", CASES, "staff1", content=b"a=1", headers={"content-type": "text/plain"})
    assert r.status_code == 415, r.text
    assert await api.count("case") == 0


async def test_workflow_transitions_respect_roles_and_are_in_history(api):
    c = await api.create_case("staff1")
    url = f"{CASES}/{c['id']}"
    r = await api.req("GET", url + "/transitions", "staff1")
    assert {t["name"] for t in r.json()} == {"accept", "refuse"}
    # the performer cannot see it; the statistician cannot either
    r = await api.req("POST", url + "/transitions/accept", "lawyer",
                      json={"sys_version": c["sys_version"], "accepted_on": "2025-03-04"})
    assert r.status_code == 404
    # missing required field of the transition
    r = await api.req("POST", url + "/transitions/accept", "staff1", json={"sys_version": c["sys_version"]})
    assert r.status_code == 422 and "accepted_on" in [e["field"] for e in r.json()["errors"]], r.text
    r = await api.req("POST", url + "/transitions/accept", "staff1",
                      json={"sys_version": c["sys_version"], "accepted_on": "2025-03-04"})
    assert r.status_code == 200, r.text
    c = r.json()
    assert c["status"] == "accepted" and c["accepted_on"] == "2025-03-04"
    # staff may not end a case: their role lacks transition:end
    r = await api.req("POST", url + "/transitions/end", "staff1",
                      json={"sys_version": c["sys_version"], "ended_on": "2025-03-10"})
    assert r.status_code == 403, r.text
    # not from this state
    r = await api.req("POST", url + "/transitions/refuse", "dir1",
                      json={"sys_version": c["sys_version"], "refused_on": "2025-03-10", "refusal_reason": "other"})
    assert r.status_code == 409, r.text
    r = await api.req("POST", url + "/transitions/nosuch", "dir1", json={"sys_version": c["sys_version"]})
    assert r.status_code in (404, 422), r.text
    r = await api.req("POST", url + "/transitions/end", "dir1",
                      json={"sys_version": c["sys_version"], "ended_on": "2025-03-10"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "ended"
    r = await api.req("GET", url + "/history", "dir1")
    assert r.status_code == 200
    history = r.json()
    transitions = [h for h in history if "transition" in h["action"]]
    assert len(transitions) == 2, history
    assert [h["actor"] for h in transitions] == ["staff1", "dir1"]
    # client addresses are for superusers and national account managers only (tests/api/test_disclosure.py)
    assert {h["origin"] for h in history} == {None}
    r = await api.req("GET", url + "/history", "admin")
    assert all(h["origin"] for h in r.json())
    rows = await api.audit(entity="case", record_id=c["id"])
    assert [(r["actor"], r["actor_id"]) for r in rows if "transition" in r["action"]] == [
        ("staff1", api.ids["staff1"]), ("dir1", api.ids["dir1"])]


async def test_stale_update_is_409_with_the_current_version(api):
    c = await api.create_case("staff1")
    url = f"{CASES}/{c['id']}"
    r = await api.req("PATCH", url, "staff1", json={"sys_version": c["sys_version"], "note": "một"})
    assert r.status_code == 200, r.text
    fresh = r.json()
    assert fresh["sys_version"] == c["sys_version"] + 1
    r = await api.req("PATCH", url, "dir1", json={"sys_version": c["sys_version"], "note": "hai"})
    assert r.status_code == 409, r.text
    assert r.json()["current_version"] == fresh["sys_version"]
    r = await api.req("DELETE", url, "dir1", params={"version": c["sys_version"], "reason": "trùng"})
    assert r.status_code == 409 and r.json()["current_version"] == fresh["sys_version"]
    r = await api.req("GET", url, "staff1")
    assert r.json()["note"] == "một"


async def test_soft_delete_with_reason_and_restore(api):
    c = await api.create_case("staff1")
    url = f"{CASES}/{c['id']}"
    # staff may not delete
    r = await api.req("DELETE", url, "staff1", params={"version": c["sys_version"], "reason": "trùng"})
    assert r.status_code == 403, r.text
    # a reason is needed
    r = await api.req("DELETE", url, "dir1", params={"version": c["sys_version"], "reason": ""})
    assert r.status_code in (400, 422), r.text
    r = await api.req("DELETE", url, "dir1", params={"version": c["sys_version"], "reason": "nhập trùng"})
    assert r.status_code == 200, r.text
    deleted = r.json()
    assert deleted["sys_delete_reason"] == "nhập trùng" and deleted["sys_deleted_at"]
    assert await api.count("case") == 1  # soft
    assert (await api.req("GET", url, "staff1")).status_code == 404
    assert (await api.req("GET", CASES, "staff1")).json()["total"] == 0
    r = await api.req("GET", CASES, "dir1", params={"deleted": "true"})
    assert [i["id"] for i in r.json()["items"]] == [c["id"]]
    # staff cannot restore (cannot even see it); the other centre's director cannot either
    assert (await api.req("POST", url + "/restore", "staff1")).status_code == 404
    assert (await api.req("POST", url + "/restore", "dir2")).status_code == 404
    r = await api.req("POST", url + "/restore", "dir1")
    assert r.status_code == 200, r.text
    assert r.json()["sys_deleted_at"] is None
    assert (await api.req("GET", url, "staff1")).status_code == 200
    actions = [(a["action"], a["actor"]) for a in await api.audit(entity="case", record_id=c["id"])]
    assert ("delete", "dir1") in actions and ("restore", "dir1") in actions, actions
    reasons = [a for a in await api.audit(entity="case", record_id=c["id"], action="delete")]
    assert "nhập trùng" in str(reasons[0]["changes"]) or reasons
