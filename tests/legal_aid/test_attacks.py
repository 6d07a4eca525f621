"""Hostile inputs on the legal-aid deployment's own endpoints (intake, drawing a plan's sample, evaluating a case,
the public directory), through HTTP on both engines: each answers a 4xx naming the problem, without a trace of
the server's insides, and changes nothing. Two samplings of the same plan racing: one draws, the other is told
409, and no case is drawn twice. Reviewers whose assignment ended or has not started reach nothing.

One world per engine (module-scoped), each attack one parametrised case."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from typing import Any

import pytest
import pytest_asyncio
from litestar.testing import AsyncTestClient

import hoso_legal_aid
from hoso import accounts
from hoso.records.context import LOCAL_ZONE, RecordContext
from hoso.runtime import Runtime
from hoso.scope import Actor
from hoso.server import create_app
from hoso.web.tokens import create_token
from tests.conftest import ENGINES, reference_copy, shared_database
from tests.helpers import load_full_config, migrated_runtime
from tests.test_legal_aid_intake import small_reference
from tests.test_quality import SCORES, _case, _insert
from tests.web.conftest import PASSWORD

pytestmark = pytest.mark.asyncio(loop_scope="module")

PLUGINS = [hoso_legal_aid]
ROOT = Actor(None, "root", superuser=True, origin="test-setup")
DEEP = 10_000
BIG = 2 ** 63 + 1
MEGABYTE = "a" * 1_000_000
INTAKE = {"channel": "hotline", "unit": "TT-11", "citizen_id": "001203004567", "requester_name": "Lò Văn Pấng",
          "summary": "Tranh chấp đất đai", "form_of_aid": "TV", "field_of_law": "DS", "beneficiary_groups": ["HN"]}


class World:
    client: AsyncTestClient
    rt: Runtime
    tokens: dict[str, str]
    users: dict[str, int]
    plan: int  # a draft plan, never sampled by the attacks
    case: int  # a case sampled for the reviewer
    cases_of: dict[str, int]  # the case sampled for each reviewer out of their assignment
    unit: int
    performer: int


async def _world(root, url: str):
    config = load_full_config(small_reference(root), PLUGINS)
    rt = await migrated_runtime(config, url, PLUGINS)
    w = World()
    w.rt, w.tokens, w.users = rt, {}, {}
    today = dt.datetime.now(LOCAL_ZONE).date()  # assignments are judged on Vietnam's date
    for name, unit, role, module in (("hotline", "TT-11", "centre_staff", "legal_aid.hotline"),
                                     ("officer", "STP-01", "provincial_officer", None),
                                     ("reviewer", "STP-01", "quality_reviewer", None),
                                     ("ended", "STP-01", "quality_reviewer", None),
                                     ("future", "STP-01", "quality_reviewer", None)):
        uid = await accounts.create_account(rt, ROOT, f"tk.{name}", PASSWORD, unit, roles=(role,),
                                            starts_on=today - dt.timedelta(days=30))
        w.users[name] = uid
        w.tokens[name] = (await create_token(rt, ROOT, uid, name, module=module))[1]
    w.unit = await rt.db.fetchval("SELECT id FROM hoso_unit WHERE code = {}", "TT-01")
    w.performer = await _insert(rt, "performer", name="Người thực hiện A", kind="assistant", unit=w.unit, active=True)
    cases = [await _case(rt, n, w.unit, w.performer) for n in range(1, 4)]
    await rt.records().reindex_search("case", RecordContext.system(rt.config))
    app = create_app(Runtime.create(config, url, plugins=PLUGINS))
    async with AsyncTestClient(app) as client:
        w.client = client
        sampled = await _plan(w, 100)
        r = await send(w, "officer", "POST", f"/api/quality/plans/{sampled}/sample",
                       {"reviewers": [w.users["reviewer"], w.users["ended"], w.users["future"]]})
        assert r.status_code == 200, r.text
        samples = await rt.db.fetch('SELECT case_file, reviewer FROM "evaluation_sample"')
        by_reviewer = {s["reviewer"]: s["case_file"] for s in samples}
        assert sorted(by_reviewer.values()) == cases
        # then one reviewer's assignment ends and another's moves to tomorrow; both keep their samples
        await rt.db.execute("UPDATE hoso_assignment SET ends_on = {} WHERE user_id = {}", today, w.users["ended"])
        await rt.db.execute("UPDATE hoso_assignment SET starts_on = {} WHERE user_id = {}",
                            today + dt.timedelta(days=1), w.users["future"])
        w.case = by_reviewer[w.users["reviewer"]]
        w.cases_of = {name: by_reviewer[w.users[name]] for name in ("ended", "future")}
        w.plan = await _plan(w, 10)
        yield w
    await rt.db.close()


async def _plan(w: World, share: float) -> int:
    unit = await w.rt.db.fetchval("SELECT id FROM hoso_unit WHERE code = {}", "STP-01")
    r = await send(w, "officer", "POST", "/api/records/evaluation_plan",
                   {"title": f"Kế hoạch {uuid.uuid4().hex[:6]}", "year": 2025, "unit": unit, "share_percent": share})
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def send(w: World, who: str | None, method: str, url: str, body: Any = None, *, raw: str | None = None):
    headers = {"Accept-Language": "en", "Content-Type": "application/json"}
    if who:
        headers["Authorization"] = f"Bearer {w.tokens[who]}"
    content = raw if raw is not None else (None if body is None else json.dumps(body))
    return await w.client.request(method, url, content=content, headers=headers)


@pytest.fixture(scope="module", params=ENGINES)
def database(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("attacks")
    with shared_database(request.param, tmp, "attacks") as url:
        yield reference_copy(tmp), url


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(database):
    async for w in _world(*database):
        yield w


async def _state(w: World) -> tuple:
    """What an attack must leave as it was: the records and their versions, and the jobs."""
    db = w.rt.db
    out = []
    for table in ("case", "evaluation_sample", "evaluation_plan", "performer", "organisation"):
        out.append(tuple(await db.fetch(f'SELECT id, sys_version, sys_deleted_at FROM "{table}" ORDER BY id')))
    out.append(await db.fetchval("SELECT COUNT(*) FROM hoso_job"))
    return tuple(out)


def _deep(n: int = DEEP) -> str:
    return "[" * n + "]" * n


P = "/api/quality/plans/{plan}/sample"
E = "/api/quality/cases/{case}/evaluate"
OK_EVAL = {"evaluated_on": "2025-12-01", "scores": SCORES}
# (id, who, method, url, body or raw JSON text, statuses allowed, words the answer must hold)
ATTACKS: list[tuple[str, str | None, str, str, Any, tuple[int, ...], tuple[str, ...]]] = [
    ("intake-deep", "hotline", "POST", "/api/intake", {"raw": f'{{"summary": {_deep()}}}'}, (400, 422), ()),
    ("intake-nul", "hotline", "POST", "/api/intake", {**INTAKE, "requester_name": "Lò\x00Văn"}, (422,),
     ("requester_name",)),
    ("intake-nul-key", "hotline", "POST", "/api/intake", {**INTAKE, "sum\x00mary": "x"}, (422,), ()),
    ("intake-huge", "hotline", "POST", "/api/intake", {**INTAKE, "summary": MEGABYTE}, (413,), ("too large (at most",)),
    ("intake-int-past-2^63", "hotline", "POST", "/api/intake", {**INTAKE, "birth_year": BIG}, (422,),
     ("birth_year",)),
    ("intake-float-int", "hotline", "POST", "/api/intake", {**INTAKE, "birth_year": 1980.5}, (422,),
     ("birth_year",)),
    ("intake-bool-int", "hotline", "POST", "/api/intake", {**INTAKE, "birth_year": True}, (422,), ("birth_year",)),
    ("intake-array-body", "hotline", "POST", "/api/intake", [INTAKE], (400, 422), ()),
    ("intake-object-for-list", "hotline", "POST", "/api/intake", {**INTAKE, "beneficiary_groups": {"HN": 1}},
     (422,), ("beneficiary_groups",)),
    ("intake-unknown-query", "hotline", "POST", "/api/intake?debug=1", INTAKE, (400,), ("debug",)),
    ("sample-deep", "officer", "POST", P, {"raw": f'{{"reviewers": {_deep()}}}'}, (400, 422), ()),
    ("sample-nul", "officer", "POST", P, {"reviewers": ["1\x00"]}, (422,), ("reviewers",)),
    ("sample-huge", "officer", "POST", P, {"reviewers": [MEGABYTE]}, (413,), ("too large (at most",)),
    ("sample-int-past-2^63", "officer", "POST", P, {"reviewers": [BIG]}, (422,), ("reviewers",)),
    ("sample-version-past-2^63", "officer", "POST", P, {"sys_version": BIG}, (422,), ("sys_version",)),
    ("sample-float-int", "officer", "POST", P, {"reviewers": [1.0]}, (422,), ("reviewers",)),
    ("sample-bool-int", "officer", "POST", P, {"sys_version": True}, (422,), ("sys_version",)),
    ("sample-object-for-list", "officer", "POST", P, {"reviewers": {"0": 1}}, (422,), ("reviewers",)),
    ("sample-array-body", "officer", "POST", P, [], (400,), ()),
    ("sample-unknown-query", "officer", "POST", P + "?force=1", {}, (400,), ("force",)),
    ("sample-unknown-key", "officer", "POST", P, {"seed": 1}, (422,), ("seed",)),
    ("sample-id-past-2^31", "officer", "POST", "/api/quality/plans/2147483648/sample", {}, (400, 404), ()),
    ("sample-id-past-2^63", "officer", "POST", f"/api/quality/plans/{BIG}/sample", {}, (400, 404), ()),
    ("sample-id-negative", "officer", "POST", "/api/quality/plans/-1/sample", {}, (400, 404), ()),
    ("sample-reviewer-ended", "officer", "POST", P, {"reviewers": ["@ended"]}, (422,), ("reviewers",)),
    ("sample-reviewer-future", "officer", "POST", P, {"reviewers": ["@future"]}, (422,), ("reviewers",)),
    ("evaluate-deep", "reviewer", "POST", E, {"raw": f'{{"scores": {_deep()}}}'}, (400, 422), ()),
    ("evaluate-nul", "reviewer", "POST", E, {**OK_EVAL, "evaluated_on": "2025-12-01\x00"}, (422,),
     ("evaluated_on",)),
    ("evaluate-nul-criterion", "reviewer", "POST", E, {**OK_EVAL, "scores": {**SCORES, "x\x00": 1}}, (422,),
     ("scores",)),
    ("evaluate-huge", "reviewer", "POST", E, {**OK_EVAL, "evaluation_note": MEGABYTE}, (413,),
     ("too large (at most",)),
    ("evaluate-int-past-2^63", "reviewer", "POST", E, {**OK_EVAL, "scores": {**SCORES, "other": BIG}}, (422,),
     ("other",)),
    ("evaluate-float-int", "reviewer", "POST", E, {**OK_EVAL, "scores": {**SCORES, "other": 9.5}}, (422,),
     ("score",)),
    ("evaluate-bool-int", "reviewer", "POST", E, {**OK_EVAL, "scores": {**SCORES, "other": True}}, (422,),
     ("score",)),
    ("evaluate-array-for-object", "reviewer", "POST", E, {**OK_EVAL, "scores": [28, 55, 9]}, (422,), ("scores",)),
    ("evaluate-version-past-2^63", "reviewer", "POST", E, {**OK_EVAL, "sys_version": BIG}, (422,),
     ("sys_version",)),
    ("evaluate-version-float", "reviewer", "POST", E, {**OK_EVAL, "sys_version": 1.5}, (422,), ("sys_version",)),
    ("evaluate-unknown-query", "reviewer", "POST", E + "?as=admin", OK_EVAL, (400,), ("as",)),
    ("evaluate-id-past-2^31", "reviewer", "POST", "/api/quality/cases/2147483648/evaluate", OK_EVAL, (400, 404), ()),
    ("evaluate-id-past-2^63", "reviewer", "POST", f"/api/quality/cases/{BIG}/evaluate", OK_EVAL, (400, 404), ()),
    ("evaluate-id-negative", "reviewer", "POST", "/api/quality/cases/-5/evaluate", OK_EVAL, (400, 404), ()),
    ("evaluate-reviewer-ended", "ended", "POST", "/api/quality/cases/@ended/evaluate", OK_EVAL, (403, 404), ()),
    ("evaluate-reviewer-future", "future", "POST", "/api/quality/cases/@future/evaluate", OK_EVAL, (403, 404), ()),
    ("directory-nul", None, "GET", "/api/directory/organisation?q=a%00b", None, (400,), ("q",)),
        # an address is at most 64 KiB for the client (and a few for any proxy): the longest it can send
    ("directory-huge", None, "GET", f"/api/directory/organisation?q={MEGABYTE[:60_000]}", None, (400,), ("q",)),
    ("directory-int-past-2^63", None, "GET", f"/api/directory/organisation?page={BIG}", None, (400,), ("page",)),
    ("directory-float-int", None, "GET", "/api/directory/organisation?page_size=2.5", None, (400,),
     ("page_size",)),
    ("directory-bool-int", None, "GET", "/api/directory/organisation?page=true", None, (400,), ("page",)),
    ("directory-negative", None, "GET", "/api/directory/organisation?page=-1", None, (400,), ("page",)),
    ("directory-array-for-value", None, "GET", "/api/directory/organisation?kind=a&kind=b", None, (400,),
     ("kind",)),
    ("directory-unknown-query", None, "GET", "/api/directory/organisation?sort=id", None, (400,), ("sort",)),
    ("directory-nul-entity", None, "GET", "/api/directory/organi%00sation", None, (400,), ("path",)),
    ("directory-page-nul", None, "GET", "/directory?q=%00", None, (400,), ("q",)),
    ("directory-page-huge", None, "GET", f"/directory?page_size={BIG}", None, (400,), ("page_size",)),
    ("directory-page-unknown-query", None, "GET", "/directory?admin=1", None, (400,), ("admin",)),
    ("directory-page-float", None, "GET", "/directory?page=1.0", None, (400,), ("page",)),
]


@pytest.mark.parametrize(("who", "method", "url", "body", "statuses", "words"),
                         [a[1:] for a in ATTACKS], ids=[a[0] for a in ATTACKS])
async def test_an_attack_is_refused_by_name_and_changes_nothing(world, who, method, url, body, statuses, words):
    w = world
    url = url.format(plan=w.plan, case=w.case)
    for name, case in w.cases_of.items():
        url = url.replace(f"@{name}", str(case))
    if isinstance(body, dict) and body.get("reviewers") and isinstance(body["reviewers"], list):
        body = {**body, "reviewers": [w.users[r[1:]] if isinstance(r, str) and r.startswith("@") else r
                                      for r in body["reviewers"]]}
    before = await _state(w)
    if isinstance(body, dict) and "raw" in body:
        r = await send(w, who, method, url, raw=body["raw"])
    else:
        r = await send(w, who, method, url, body)
    assert r.status_code in statuses, (r.status_code, r.text[:500])
    text = r.text[:5000]
    assert "Traceback" not in text and "Internal" not in text
    for word in words:
        assert word in text, (word, text[:500])
    assert await _state(w) == before


async def test_two_samplings_racing_draw_once(world):
    w = world
    plan = await _plan(w, 100)
    drawn = await w.rt.db.fetchval('SELECT COUNT(*) FROM "evaluation_sample"')
    fresh = [await _case(w.rt, n, w.unit, w.performer) for n in (50, 51)]
    first, second = await asyncio.gather(*(send(w, "officer", "POST", f"/api/quality/plans/{plan}/sample", {})
                                           for _ in range(2)))
    assert sorted((first.status_code, second.status_code)) == [200, 409], (first.text, second.text)
    loser = first if first.status_code == 409 else second
    assert "sample" in loser.text
    rows = await w.rt.db.fetch('SELECT case_file FROM "evaluation_sample"')
    assert len(rows) == len({r["case_file"] for r in rows})  # never a case drawn twice
    assert sorted(r["case_file"] for r in rows)[-2:] == fresh and len(rows) == drawn + 2
    assert await w.rt.db.fetchval('SELECT status FROM "evaluation_plan" WHERE id = {}', plan) == "sampled"


@pytest.mark.parametrize("zone", ["Etc/GMT+12", "Etc/GMT-14"])
async def test_assignments_are_judged_on_vietnams_date_whatever_the_servers_zone(world, zone, monkeypatch):
    """An assignment ending today in Hà Nội has ended, and one starting tomorrow there has not started, on a
    server whose clock is in another zone: between them, these two zones disagree with Vietnam's date at any
    hour, so a request judged on the server's date shows here whenever the test runs."""
    import time

    w = world
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        got = {who: (await send(w, who, "GET", "/api/records/case")).status_code
               for who in ("reviewer", "ended", "future")}
    finally:
        monkeypatch.undo()
        time.tzset()
    assert got == {"reviewer": 200, "ended": 403, "future": 403}, got
