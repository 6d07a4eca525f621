"""Snapshots and cached results: stored as computed, served unchanged with their hash checked, and never served
across scopes (one province's user never sees another's numbers)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random

from hoso.records.context import RecordContext
from hoso.reports import cache as report_cache
from hoso.reports.cache import ResultCache, cacheable, scope_key
from hoso.reports.model import ReportRequest
from hoso.reports.snapshots import canonical, content_hash
from tests.reports.approval_setup import deployment, scoped_run  # noqa: F401  (fixture)


async def test_a_snapshot_is_served_unchanged_after_later_edits_and_its_hash_is_checked(deployment):  # noqa: F811
    d = deployment
    case = await d.create_case("dir1", "TT", received_on="2025-02-02")
    await d.create_case("dir1", "TT", received_on="2025-04-04", form_of_aid="TGTT", procedural_stage="investigation")
    sub = (await d.submit("dir1")).json()
    r = await d.req("GET", f"/api/report-snapshots/{sub['snapshot_id']}", "prov1")
    assert r.status_code == 200, r.text
    snap = r.json()
    assert snap["content_hash"] == content_hash(canonical(snap["result"]))
    assert snap["result"]["total"]["values"] == [2]
    assert [(row["keys"], row["values"]) for row in snap["result"]["rows"]] == [(["TGTT"], [1]), (["TV"], [1])]
    assert snap["report"] == "cases_by_form" and snap["request"]["unit"] == "TT"
    assert snap["template_hash"] and snap["created_by_name"] == "dir1"

    # later edits (the period is not locked yet) change the records, not the snapshot
    current = (await d.req("GET", f"/api/records/case/{case['id']}", "dir1")).json()
    r = await d.req("PATCH", f"/api/records/case/{case['id']}", "dir1",
                    json={"form_of_aid": "TGTT", "procedural_stage": "investigation",
                          "sys_version": current["sys_version"]})
    assert r.status_code == 200, r.text
    await d.create_case("dir1", "TT", received_on="2025-05-05")
    again = (await d.req("GET", f"/api/report-snapshots/{sub['snapshot_id']}", "min")).json()
    assert again == snap
    live = await scoped_run(d.rt, RecordContext.system(d.rt.config),
                            ReportRequest("cases_by_form", period="2025-H1", unit="TT"))
    assert live.total.values == [3]  # the records did change

    # a stored snapshot altered behind the application's back is refused, not served
    tampered = snap["result"] | {"total": {**snap["result"]["total"], "values": [99]}}
    await d.rt.db.execute("UPDATE hoso_report_snapshot SET result = {} WHERE id = {}", canonical(tampered),
                          sub["snapshot_id"])
    r = await d.req("GET", f"/api/report-snapshots/{sub['snapshot_id']}", "prov1")
    assert r.status_code == 500 and "does not match its content hash" in r.json()["detail"]
    assert "99" not in r.text


async def test_one_province_never_sees_another_provinces_snapshots_or_submissions(deployment):  # noqa: F811
    d = deployment
    await d.create_case("dir1", "TT")
    await d.create_case("dir3", "TT3")
    await d.create_case("dir3", "TT3", form_of_aid="TGTT", procedural_stage="investigation")
    s1 = (await d.submit("dir1", unit="TT")).json()
    s3 = (await d.submit("dir3", unit="TT3")).json()
    assert s1["snapshot_id"] != s3["snapshot_id"]

    for user, mine, theirs in (("prov1", s1, s3), ("prov2", s3, s1)):
        assert (await d.req("GET", f"/api/report-snapshots/{mine['snapshot_id']}", user)).status_code == 200
        r = await d.req("GET", f"/api/report-snapshots/{theirs['snapshot_id']}", user)
        assert r.status_code == 404, r.text
        r = await d.req("GET", f"/api/report-submissions/{theirs['id']}", user)
        assert r.status_code == 404
        listed = (await d.req("GET", "/api/report-submissions", user)).json()
        assert [s["id"] for s in listed] == [mine["id"]]
    # the centres see their own only; the ministry sees both
    assert [s["id"] for s in (await d.req("GET", "/api/report-submissions", "dir2")).json()] == []
    assert {s["id"] for s in (await d.req("GET", "/api/report-submissions", "min")).json()} == {s1["id"], s3["id"]}

    # only approved numbers from below: P01's officer gets TT's once approved, TT2 missing, nothing of P02
    r = await d.req("GET", "/api/report-approved/cases_by_form?period=2025-H1", "prov1")
    assert r.status_code == 200, r.text
    assert (r.json()["units"], r.json()["missing"]) == ([], ["TT", "TT2"])
    assert (await d.act("prov1", s1["id"], "approve")).status_code == 200
    assert (await d.act("prov2", s3["id"], "approve")).status_code == 200
    body = (await d.req("GET", "/api/report-approved/cases_by_form?period=2025-H1", "prov1")).json()
    assert [u["unit"] for u in body["units"]] == ["TT"] and body["missing"] == ["TT2"]
    assert body["total"] == [1]
    body = (await d.req("GET", "/api/report-approved/cases_by_form?period=2025-H1", "min")).json()
    assert [u["unit"] for u in body["units"]] == ["TT", "TT3"] and body["missing"] == ["TT2"]
    assert body["total"] == [3]
    body = (await d.req("GET", "/api/report-approved/cases_by_form?period=2025-H1&unit=P02", "min")).json()
    assert [u["unit"] for u in body["units"]] == ["TT3"] and body["total"] == [2]
    r = await d.req("GET", "/api/report-approved/cases_by_form", "min")
    assert r.status_code == 400  # the period is required
    r = await d.req("GET", "/api/report-approved/nope?period=2025-H1", "min")
    assert r.status_code == 422


async def test_a_role_that_sees_aggregates_only_gets_no_snapshot(deployment):  # noqa: F811
    """A snapshot holds one centre's numbers, unsuppressed: the national statistician (provinces at the finest,
    cells under 5 hidden) is refused it and the approved numbers built from snapshots, the ministry is not."""
    d = deployment
    await d.create_case("dir1", "TT")
    sub = (await d.submit("dir1", unit="TT")).json()
    assert (await d.act("prov1", sub["id"], "approve")).status_code == 200
    for url in (f"/api/report-snapshots/{sub['snapshot_id']}", "/api/report-approved/cases_by_form?period=2025-H1"):
        refused = await d.req("GET", url, "stat")
        assert refused.status_code == 403, refused.text
        assert "aggregates only" in refused.json()["detail"] and "[1]" not in refused.text
        assert (await d.req("GET", url, "min")).status_code == 200


async def test_cached_results_are_never_served_across_scopes(deployment):  # noqa: F811
    """Random runs by users of different provinces and levels, through the cache, against the same runs made
    directly (the oracle): every answer is the requester's own, and repeated runs are served from the cache."""
    d = deployment
    rng = random.Random(10)
    for unit, user in (("TT", "dir1"), ("TT2", "dir2"), ("TT3", "dir3")):
        for _ in range(rng.randint(1, 4)):
            await d.create_case(user, unit, received_on=f"2025-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}")
    users = ("prov1", "prov2", "min", "dir1", "dir3")
    ctxs = {u: RecordContext(d.rt.config, user_id=d.ids[u], user_name=u, origin="test") for u in users}
    past = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    requests = [ReportRequest("cases_by_form", period=p, as_of=past) for p in ("2025", "2025-H1", "2025-Q3")]
    oracle = {(u, r.period): (await scoped_run(d.rt, ctxs[u], r)).total.values for u in users for r in requests}
    assert oracle[("prov1", "2025")] != oracle[("prov2", "2025")]  # the scopes do give different numbers

    cache = ResultCache(size=64)
    calls = 0

    async def counting(rt, ctx, request):
        nonlocal calls
        calls += 1
        return await scoped_run(rt, ctx, request)

    for _ in range(60):
        user, request = rng.choice(users), rng.choice(requests)
        result = await cache.run(d.rt, ctxs[user], request, "template-v1", counting)
        assert result.total.values == oracle[(user, request.period)], (user, request.period)
    assert calls == len({(u, r.period) for u in users for r in requests}) and cache.hits == 60 - calls

    # keys differ by scope, and the same user in two roles' places gets two keys
    keys = {await scope_key(d.rt, ctxs[u], "case") for u in users}
    assert len(keys) == len(users)
    assert await scope_key(d.rt, ctxs["prov1"], "case") == await scope_key(d.rt, ctxs["prov1"], "case")
    # live runs are never cached; a run as of a moment still to come is not either
    live = ReportRequest("cases_by_form", period="2025")
    assert not cacheable(live) and not cacheable(ReportRequest("cases_by_form", as_of=past + dt.timedelta(days=1)))
    # nor one as of a moment so recent that a write running then may still commit with an earlier time
    recent = dt.datetime.now(dt.UTC) - report_cache.SETTLED_AFTER / 2
    assert not cacheable(ReportRequest("cases_by_form", as_of=recent))
    # the labels are part of a result: another language is another key
    english = dataclasses.replace(requests[0], lang="en")
    assert await cache.key(d.rt, ctxs["min"], english, "t") != await cache.key(d.rt, ctxs["min"], requests[0], "t")
    before = calls
    await cache.run(d.rt, ctxs["prov1"], live, "template-v1", counting)
    await cache.run(d.rt, ctxs["prov1"], live, "template-v1", counting)
    assert calls == before + 2
    # a new template version is a new key
    await cache.run(d.rt, ctxs["prov1"], requests[0], "template-v2", counting)
    assert calls == before + 3
    # the cache is bounded: the least recently used entry goes first
    small = report_cache.ResultCache(size=2)
    for r in requests:
        await small.run(d.rt, ctxs["min"], r, "template-v1", counting)
    assert len(small) == 2 and small.get(await small.key(d.rt, ctxs["min"], requests[0], "template-v1")) is None


async def test_the_reports_api_serves_settled_runs_from_the_cache_within_each_scope(deployment):  # noqa: F811
    d = deployment
    await d.create_case("dir1", "TT", received_on="2025-02-02")
    await d.create_case("dir3", "TT3", received_on="2025-02-02")
    await d.create_case("dir3", "TT3", received_on="2025-03-03")
    to_come = (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).date().isoformat()  # the end of a day still to come
    url = "/api/reports/cases_by_form?period=2025"
    settled = "/api/reports/cases_by_form?period=2025&as_of=" + \
        (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat().replace("+", "%2B")
    # the cases as if written two hours ago
    await d.rt.db.execute("UPDATE hoso_h_case SET sys_valid_from = {}",
                          dt.datetime.now(dt.UTC) - dt.timedelta(hours=2))
    assert getattr(d.web.app.state, "report_cache", None) is None
    first = {u: (await d.req("GET", settled, u)).json()["total"]["values"] for u in ("prov1", "prov2", "prov1")}
    cache = d.web.app.state.report_cache
    assert cache.misses == 2 and cache.hits == 1  # prov1's second run came from the cache, prov2 had its own
    assert first == {"prov1": [1], "prov2": [2]}  # each province its own numbers
    await d.create_case("dir1", "TT", received_on="2025-04-04")
    live = {u: (await d.req("GET", url, u)).json()["total"]["values"] for u in ("prov1", "prov2")}
    assert live == {"prov1": [2], "prov2": [2]} and (cache.misses, cache.hits) == (2, 1)  # live runs: not cached
    assert (await d.req("GET", url + f"&as_of={to_come}", "prov1")).status_code in (200, 400)
    assert (cache.misses, cache.hits) == (2, 1)  # a moment still to come is not cached
