"""Property: a live report served from its summary table equals the same report compiled over the records.

Random templates the summary can hold (field, unit and period rows; counts, conditional counts, one column per
option, sums of whole numbers; template filters), random records, then random writes through SQL (inserts, edits
of any counted field, unit moves and splits, soft deletes, restores, deletes) that the triggers must follow in
the write's transaction; then, for users of different scopes and random requests (periods, units, run filters,
as recorded or mapped), the template with ``summary: true`` and its copy without give the same rows and total.
Runs on both engines.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hoso.config.types import Label, ReportColumnDef, ReportDef
from hoso.model.migrate import apply_plan, make_plan
from hoso.model.summaries import ROLLUP, existing_summaries, summary_for
from hoso.reports.engine import compile_report, run_report
from hoso.reports.model import ReportError, ReportRequest
from hoso.runtime import Runtime
from hoso.scope import ScopeDenied
from tests.helpers import examples
from tests.reports.conftest import ctx_of, load_cases, unit_ids
from tests.reports.test_report_property import DIMENSIONS, GROUPS, PERIODS, cases, conditions


@st.composite
def columns(draw):
    kind = draw(st.sampled_from(["count", "where", "per_option", "sum"]))
    lab = Label("c")
    if kind == "count":
        return [ReportColumnDef("n", "count", lab)]
    if kind == "where":
        return [ReportColumnDef("w", "count", lab, None, draw(conditions()))]
    if kind == "per_option":
        return [ReportColumnDef(f"groups:{g}", "count", lab, None, f'"{g}" in groups') for g in GROUPS]
    return [ReportColumnDef("age_sum", "sum", lab, "age", draw(st.one_of(st.none(), conditions())))]


@st.composite
def templates(draw):
    dims = draw(st.lists(st.sampled_from(DIMENSIONS), min_size=1, max_size=2, unique_by=lambda d: d.key))
    cols: list[ReportColumnDef] = []
    for group in draw(st.lists(columns(), min_size=1, max_size=3)):
        cols += [c for c in group if c.key not in {x.key for x in cols}]
    return ReportDef("prop", "case", Label("Báo cáo"), tuple(dims), tuple(cols), "received_on",
                     draw(st.one_of(st.none(), conditions())), ("form_of_aid", "urgent", "field_of_law"),
                     draw(st.booleans()), summary=True)


ONE = cases().filter(bool).map(lambda found: found[0])
CHANGED = ["received_on", "ended_on", "field_of_law", "form_of_aid", "gender", "groups", "age", "urgent", "status",
           "unit", "scope_unit"]
OPS = st.lists(st.one_of(
    st.tuples(st.just("insert"), ONE),
    st.tuples(st.just("update"), st.integers(0, 10**6), st.lists(st.sampled_from(CHANGED), min_size=1, max_size=3,
                                                                  unique=True), ONE),
    st.tuples(st.just("soft_delete"), st.integers(0, 10**6)),
    st.tuples(st.just("restore"), st.integers(0, 10**6)),
    st.tuples(st.just("delete"), st.integers(0, 10**6))), max_size=10)
REQUESTS = st.builds(
    lambda period, unit, filters, structure: ReportRequest("prop", period=period, unit=unit, filters=filters,
                                                           structure=structure),
    st.sampled_from([None, *PERIODS]), st.sampled_from([None, None, "P1", "C11", "C21"]),
    st.sampled_from([None, None, {"form_of_aid": "TV"}, {"field_of_law": {"in": ["HS"]}}, {"urgent": True}]),
    st.sampled_from(["recorded", "2026-01-01"]))


def _db_value(name: str, value, ids: dict[str, int]):
    if name == "groups" and value is not None:
        return json.dumps(list(value), ensure_ascii=False)
    if name in ("unit", "scope_unit") and value is not None:
        return ids[value]
    return value


async def apply_ops(rt, ops) -> None:
    """The writes, each in its own transaction, as the record service makes them (the triggers run inside)."""
    ids = await unit_ids(rt)
    for op in ops:
        async with rt.db.transaction():
            found = [int(r["id"]) for r in await rt.db.fetch('SELECT id FROM "case" ORDER BY id')]
            if op[0] == "insert":
                c = op[1]
                names = [n for n in CHANGED if n != "scope_unit"]
                await rt.db.execute(
                    f'INSERT INTO "case" (id, code, {", ".join(chr(34) + n + chr(34) for n in names)}, sys_version, '
                    f"sys_scope_unit) VALUES ({{}}, 'n', {', '.join('{}' for _ in names)}, 1, {{}})",
                    max(found, default=0) + 1, *(_db_value(n, c.get(n), ids) for n in names),
                    _db_value("scope_unit", c["scope_unit"], ids))
                continue
            if not found:
                continue
            case_id = found[op[1] % len(found)]
            if op[0] == "update":
                cols = ["sys_scope_unit" if n == "scope_unit" else n for n in op[2]]
                sets = ", ".join(f'"{c}" = {{}}' for c in cols)
                await rt.db.execute(f'UPDATE "case" SET {sets}, sys_version = sys_version + 1 WHERE id = {{}}',
                                    *(_db_value(n, op[3].get(n), ids) for n in op[2]), case_id)
            elif op[0] == "soft_delete":
                await rt.db.execute('UPDATE "case" SET sys_deleted_at = {} WHERE id = {}', dt.datetime.now(dt.UTC),
                                    case_id)
            elif op[0] == "restore":
                await rt.db.execute('UPDATE "case" SET sys_deleted_at = NULL WHERE id = {}', case_id)
            else:
                await rt.db.execute('DELETE FROM "case" WHERE id = {}', case_id)


def _numbers(result) -> dict:
    return {(r.kind, tuple(r.keys)): r.values for r in [*result.rows, result.total]}


async def _outcome(rt, user, request):
    try:
        return _numbers(await run_report(rt, ctx_of(rt, user), request))
    except (ReportError, ScopeDenied) as exc:
        return type(exc).__name__, str(exc)


@pytest.mark.slow
@settings(max_examples=examples(25), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(records=cases(), report=templates(), ops=OPS, requests=st.lists(REQUESTS, min_size=1, max_size=3))
def test_summary_report_equals_the_compiled_report(property_db, records, report, ops, requests):
    config, url = property_db
    compiled = dataclasses.replace(report, name="prop_compiled", summary=False)

    async def check():
        rt = Runtime.create(config, url)
        rt.config = dataclasses.replace(rt.config, reports=(report, compiled))
        await rt.db.start()
        try:
            await load_cases(rt, [{**r, "code": f"c{i}"} for i, r in enumerate(records)])
            plan = await make_plan(rt.db, rt.config, rt.registry)  # builds the template's table, back-filled
            await apply_plan(rt.db, rt.config, rt.registry, plan, applied_by="test")
            table = summary_for(rt.config, rt.registry, report, rt.db.kind).table
            assert await existing_summaries(rt.db) == {table}
            await apply_ops(rt, ops)
            for request in requests:
                read = await compile_report(rt, ctx_of(rt, 1), dataclasses.replace(request, filters=None))
                assert table in read.sql  # a national live run of whole months reads the summary
                if request.unit is None and not any(d.kind == "unit" for d in report.rows):
                    assert table + ROLLUP in read.sql  # over every unit: its national roll-up
                for user in (None, 1, 2, 3, 5):
                    got = await _outcome(rt, user, request)
                    expected = await _outcome(rt, user, dataclasses.replace(request, report="prop_compiled"))
                    assert got == expected, (user, report, request, ops)
        finally:
            await rt.db.close()

    asyncio.run(check())
