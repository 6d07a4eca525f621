"""Hostile input at the HTTP boundary: every request here was a 5xx on PostgreSQL (SQLite let them through), and
must now be a 4xx problem document that changes nothing.

Classes: ids and integers beyond their columns' range (ids are 32-bit ``SERIAL`` columns, versions of
attachments 32-bit, integer fields and references 64-bit), NUL characters in any string that reaches SQL (a
PostgreSQL text value cannot hold one), and JSON nested deeper than any record needs (RecursionError).
"""

from __future__ import annotations

from tests.api.conftest import Api

PROBLEM = "application/problem+json"
BIG_ID = 2**31  # one more than the largest id a 32-bit SERIAL column holds
HUGE = 99999999999999999999  # beyond 64 bits


def _is_problem(r, *statuses: int) -> None:
    assert r.status_code in statuses, (r.status_code, r.text[:300])
    assert r.headers["content-type"].startswith(PROBLEM), r.headers["content-type"]
    body = r.json()
    assert body["status"] == r.status_code and body["detail"]


GETS = [
    f"/api/records/case/{BIG_ID}",
    f"/api/records/case/{BIG_ID}/history",
    f"/api/records/case/{BIG_ID}/transitions",
    f"/api/records/case/{BIG_ID}/attachments/scan",
    f"/api/records/case/1/attachments/scan/download?version={BIG_ID}",
    f"/api/records/case?id={HUGE}",
    f"/api/records/case?id={BIG_ID}",
    f"/api/records/case?id__in=1,{BIG_ID}",
    f"/api/records/case?age={HUGE}",
    f"/api/records/case?performer={2**63}",
    f"/api/records/case?page={2**40}",
    f"/api/users/{BIG_ID}/assignments",
    "/api/records/case?q=a%00b",
    "/api/records/case?requester=a%00b",
    "/api/records/case?sort=%00",
    "/api/records/case?requester__in=x,%00",
    "/api/records/case/overdue?on=%00",
]


async def test_out_of_range_and_nul_queries_are_4xx(api: Api):
    for url in GETS:
        for user in ("admin", "staff1"):
            _is_problem(await api.req("GET", url, user), 400, 404, 422)


async def test_nul_in_a_query_names_the_parameter(api: Api):
    r = await api.req("GET", "/api/records/case?page=1&requester=a%00b", "staff1")
    _is_problem(r, 400)
    assert r.json()["errors"] == [{"field": "requester", "message": "Must not contain a NUL character (\\u0000)."}]
    r = await api.req("GET", "/api/records/case?requester=ab", "staff1")
    assert r.status_code == 200
    r = await api.req("GET", f"/api/records/case?id__in=1,{BIG_ID}", "staff1")
    _is_problem(r, 422)
    assert r.json()["errors"] == [{"field": "id__in", "message": "The value is out of range (1 to 2147483647)."}]


async def test_out_of_range_ids_in_writes_are_4xx(api: Api):
    case = await api.create_case("staff1")
    before = await api.count()
    for method, url, kw in [
        ("PATCH", f"/api/records/case/{BIG_ID}", {"json": {"sys_version": 1, "requester": "x"}}),
        ("DELETE", f"/api/records/case/{BIG_ID}?version=1&reason=x", {}),
        ("POST", f"/api/records/case/{BIG_ID}/restore", {}),
        ("POST", f"/api/records/case/{BIG_ID}/transitions/accept", {"json": {"sys_version": 1}}),
        ("PUT", f"/api/records/case/{case['id']}/attachments/scan?filename=a.pdf&version={BIG_ID}",
         {"content": b"%PDF-1.4", "headers": {"Content-Type": "application/pdf"}}),
        ("POST", "/api/records/case", {"json": api.case(performer=9223372036854775807)}),
        ("POST", "/api/records/case", {"json": api.case(performer=BIG_ID)}),
        ("POST", "/api/records/case", {"json": api.case(unit=BIG_ID)}),
        ("POST", "/api/records/performer", {"json": {"name": "x", "unit": api.units["TT"], "account": BIG_ID}}),
        ("POST", f"/api/users/{BIG_ID}/lock", {"json": {"reason": "x"}}),
        ("POST", "/api/tokens", {"json": {"user_id": BIG_ID, "name": "x"}}),
    ]:
        _is_problem(await api.req(method, url, "dir1", **kw), 400, 404, 409, 422)
    assert await api.count() == before


NUL_BODIES = [
    ("POST", "/api/records/case", lambda a: a.case(requester="An\x00")),
    ("POST", "/api/records/case", lambda a: a.case(note="x\x00y")),
    ("POST", "/api/records/case", lambda a: a.case(hearings=[{"held_on": "2025-03-04", "court": "T\x00A"}])),
    ("POST", "/api/records/case", lambda a: a.case(form_of_aid="TV\x00")),
    ("POST", "/api/records/case", lambda a: {**a.case(), "unknown\x00": 1}),
    ("POST", "/api/users", lambda a: {"username": "nul\x00user", "password": "Correct-Horse-Battery-9", "unit": "TT"}),
    ("POST", "/api/users", lambda a: {"username": "nuluser", "password": "Correct-Horse-Battery-9", "unit": "T\x00T"}),
    ("POST", "/api/users", lambda a: {"username": "nuluser", "password": "Correct-Horse-Battery-9", "unit": "TT",
                                      "roles": ["centre_staff\x00"]}),
]


async def test_nul_in_json_strings_is_422_naming_the_field(api: Api):
    before = (await api.count(), await api.count("hoso_user"))
    for method, url, body in NUL_BODIES:
        r = await api.req(method, url, "dir1", json=body(api))
        _is_problem(r, 422)
        assert r.json()["errors"] and all(e["field"] for e in r.json()["errors"])
    assert (await api.count(), await api.count("hoso_user")) == before
    r = await api.req("POST", "/api/records/case", "dir1",
                      json=api.case(hearings=[{"held_on": "2025-03-04", "court": "T\x00A"}], note="\x00"))
    assert {e["field"] for e in r.json()["errors"]} == {"hearings[0].court", "note"}


async def test_nul_in_update_and_transition_bodies(api: Api):
    case = await api.create_case("staff1")
    r = await api.req("PATCH", f"/api/records/case/{case['id']}", "staff1",
                      json={"sys_version": case["sys_version"], "requester": "\x00"})
    _is_problem(r, 422)
    assert r.json()["errors"][0]["field"] == "requester"
    r = await api.req("POST", f"/api/records/case/{case['id']}/transitions/refuse", "dir1",
                      json={"sys_version": case["sys_version"], "refusal_reason": "other\x00"})
    _is_problem(r, 422)
    r = await api.req("GET", f"/api/records/case/{case['id']}", "staff1")
    assert r.json()["requester"] == case["requester"] and r.json()["sys_version"] == case["sys_version"]


async def test_nul_in_an_attachment_file_name(api: Api):
    case = await api.create_case("staff1")
    r = await api.req("PUT", f"/api/records/case/{case['id']}/attachments/scan?filename=a%00.pdf", "staff1",
                      content=b"%PDF-1.4", headers={"Content-Type": "application/pdf"})
    _is_problem(r, 400, 422)
    assert await api.count("hoso_attachment") == 0


async def test_deeply_nested_json_is_400(api: Api):
    for depth in (100, 5000, 200_000):
        body = ("[" * depth + "]" * depth).encode()
        for url in ("/api/records/case", "/api/users", "/api/login"):
            r = await api.req("POST", url, "dir1", content=body, headers={"Content-Type": "application/json"})
            _is_problem(r, 400, 422)
        nested = '{"requester": ' + "[" * depth + "]" * depth + "}"
        r = await api.req("POST", "/api/records/case", "dir1", content=nested.encode(),
                          headers={"Content-Type": "application/json"})
        _is_problem(r, 400)
    # an ordinary body with many brackets, but shallow, still goes through
    r = await api.req("POST", "/api/records/case", "dir1",
                      json=api.case(hearings=[{"held_on": "2025-03-04"} for _ in range(40)]))
    assert r.status_code == 201, r.text


async def test_nul_login_is_refused_audited_and_throttled(api: Api):
    """A NUL in the username is a failed login like any other: 401, audited, and counted toward the limit."""
    name = "staff1\x00"
    for _ in range(api.web.app.state.settings.login_max_failures):
        r = await api.client.post("/api/login", json={"username": name, "password": "x"})
        _is_problem(r, 401)
    _is_problem(await api.client.post("/api/login", json={"username": name, "password": "x"}), 429)
    failed = await api.web.audit("login_failed")
    assert len(failed) == api.web.app.state.settings.login_max_failures + 1
    assert all(row["actor"].startswith("staff1") for row in failed)
    r = await api.client.post("/login", data={"username": "x\x00", "password": "y"})
    assert r.status_code == 401 and "\x00" not in r.text
    assert len(await api.web.audit("login_failed")) == len(failed) + 1
