"""Summary tables in the configuration and in migrate: what a template may ask for (file:line errors otherwise),
what `hoso plan` shows, the back-fill, the rebuild when the template changes, the triggers removed with the table,
and the runs that stay on the compiled path. Both engines."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from hoso.config import ConfigErrors, load_config
from hoso.model.migrate import apply_plan, make_plan
from hoso.model.summaries import drop_summary, existing_summaries, summary_for
from hoso.reports.engine import compile_report, run_report
from hoso.reports.model import ReportRequest
from hoso.runtime import Runtime
from hoso.units import sync_units
from tests.reports.conftest import REPORTS, ctx_of, load_cases, set_users, write_config

REPO = Path(__file__).resolve().parents[2]
PEOPLE = "forms_config/reports/people.yaml"


def _people(extra: str = "", columns: str = "") -> str:
    text = REPORTS["people"].lstrip("\n") + "summary: true\n" + extra
    return text.replace("  - {per_option: groups}\n", "  - {per_option: groups}\n" + columns)


BAD = [
    ("a distinct count", "", "  - {key: p, measure: count_distinct, field: citizen_id, label: {vi: x}}\n",
     ["'p'", "count_distinct", "remove summary"]),
    ("an average", "", "  - {key: a, measure: avg, field: age, label: {vi: x}}\n", ["'a'", "avg"]),
    ("a minimum", "", "  - {key: a, measure: min, field: age, label: {vi: x}}\n", ["'a'", "min"]),
    ("a condition of the day", "", "  - {key: w, measure: count, where: received_on < today(), label: {vi: x}}\n",
     ["today()"]),
    ("a column of its own date", "", "  - {key: e, measure: count, date_field: ended_on, label: {vi: x}}\n",
     ["'e'", "ended_on", "remove summary"]),
]


@pytest.mark.parametrize("what,extra,columns,words", BAD, ids=[b[0] for b in BAD])
def test_a_summary_of_what_does_not_add_up_is_refused_at_its_line(tmp_path, what, extra, columns, words):
    write_config(tmp_path)
    text = _people(extra, columns)
    (tmp_path / PEOPLE).write_text(text, encoding="utf-8")
    with pytest.raises(ConfigErrors) as exc:
        load_config(tmp_path)
    issues = [i for i in exc.value.issues if i.file == PEOPLE and i.path == "summary"]
    assert issues, exc.value.render()
    assert issues[0].line == text[:text.index("summary: true")].count("\n") + 1
    for w in words:
        assert w in issues[0].message, issues[0].message


def test_counts_and_sums_of_whole_numbers_may_be_summarised(tmp_path):
    write_config(tmp_path)
    (tmp_path / PEOPLE).write_text(_people(columns="  - {key: s, measure: sum, field: age, label: {vi: x}}\n"),
                                   encoding="utf-8")
    people = next(r for r in load_config(tmp_path).reports if r.name == "people")
    assert people.summary and people.column("s").measure == "sum"


def test_the_reference_reports_that_add_up_have_a_summary():
    reports = {r.name: r.summary for r in load_config(REPO).reports}
    # the bulletin counts ended cases by the day they ended: no summary counts them by another date
    assert reports == {"people_assisted": True, "litigation_cases": False, "performer_quotas": True,
                       "cases_by_unit": False}


CASES = [
    {"code": "a", "received_on": dt.date(2025, 1, 5), "field_of_law": "HS", "form_of_aid": "TV", "gender": "male",
     "groups": ["TE"], "age": 30, "status": "accepted", "unit": "C11"},
    {"code": "b", "received_on": dt.date(2025, 2, 5), "field_of_law": "DS", "form_of_aid": "TV", "gender": "female",
     "groups": ["TE", "HN"], "age": 40, "status": "accepted", "unit": "C21"},
    {"code": "c", "received_on": dt.date(2025, 3, 9), "field_of_law": "DS", "form_of_aid": "TGTT",
     "gender": "female", "groups": [], "status": "refused", "unit": "C12"},
]


async def _runtime(config, url):
    rt = Runtime.create(config, url)
    await rt.db.start()
    return rt


async def _migrate(rt):
    plan = await make_plan(rt.db, rt.config, rt.registry)
    await apply_plan(rt.db, rt.config, rt.registry, plan, applied_by="test")
    return plan


def test_migrate_builds_back_fills_rebuilds_and_drops_the_table(tmp_path, database_url):
    write_config(tmp_path)
    (tmp_path / PEOPLE).write_text(_people(), encoding="utf-8")

    async def run():
        rt = await _runtime(load_config(tmp_path), database_url)
        try:
            await _migrate(rt)
            await sync_units(rt)
            await set_users(rt)
            await load_cases(rt, CASES)
            people = next(r for r in rt.config.reports if r.name == "people")
            first = summary_for(rt.config, rt.registry, people, rt.db.kind)
            assert await existing_summaries(rt.db) == {first.table}
            request = ReportRequest("people", period="2025")
            result = await run_report(rt, ctx_of(rt, 1), request)
            assert result.total.values == [2, 1, 1, 2, 1, 0]  # kept by the triggers since the load
            plan = await make_plan(rt.db, rt.config, rt.registry)
            assert not plan.has_changes, plan.render()

            # a changed template: a new table, back-filled from the records; the old one and its triggers gone
            (tmp_path / PEOPLE).write_text(_people(columns="  - {key: s, measure: sum, field: age, label: {vi: x}}\n"),
                                           encoding="utf-8")
            new = await _runtime(load_config(tmp_path), database_url)
            try:
                plan = await make_plan(new.db, new.config, new.registry)
                kinds = [(c.kind, c.table) for c in plan.changes]
                people2 = next(r for r in new.config.reports if r.name == "people")
                second = summary_for(new.config, new.registry, people2, new.db.kind)
                assert kinds == [("drop_summary", first.table), ("build_summary", second.table)]
                assert "build_summary" in plan.render() and "'people'" in plan.render()
                await apply_plan(new.db, new.config, new.registry, plan, applied_by="test")
                assert await existing_summaries(new.db) == {second.table}
                served = await compile_report(new, ctx_of(new, 1), request)
                assert second.table in served.sql
                assert (await run_report(new, ctx_of(new, 1), request)).total.values == [2, 1, 1, 2, 1, 0, 70]
                async with new.db.transaction():  # the old table's triggers went with it: writes still work
                    await new.db.execute('DELETE FROM "case" WHERE code = {}', "a")
                assert (await run_report(new, ctx_of(new, 1), request)).total.values == [1, 0, 1, 1, 1, 0, 40]

                # summary removed from the template: the table and its triggers are dropped
                (tmp_path / PEOPLE).write_text(REPORTS["people"].lstrip("\n"), encoding="utf-8")
                last = await _runtime(load_config(tmp_path), database_url)
                try:
                    plan = await _migrate(last)
                    assert [c.kind for c in plan.changes] == ["drop_summary"]
                    assert await existing_summaries(last.db) == set()
                    async with last.db.transaction():
                        await last.db.execute('DELETE FROM "case" WHERE code = {}', "b")
                    assert (await run_report(last, ctx_of(last, 1), request)).total.values == [0, 0, 0, 0, 0, 0]
                finally:
                    await last.db.close()
            finally:
                await new.db.close()
        finally:
            await rt.db.close()

    asyncio.run(run())


def test_runs_the_summary_cannot_answer_exactly_stay_compiled(tmp_path, database_url):
    config = write_config(tmp_path)
    config = dataclasses.replace(config, reports=tuple(dataclasses.replace(r, summary=True) if r.name == "people"
                                                       else r for r in config.reports))

    async def run():
        rt = await _runtime(config, database_url)
        try:
            await _migrate(rt)
            await sync_units(rt)
            await set_users(rt)
            await load_cases(rt, CASES)
            people = next(r for r in rt.config.reports if r.name == "people")
            table = summary_for(rt.config, rt.registry, people, rt.db.kind).table
            past = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)

            async def reads(user, **kw) -> bool:
                return table in (await compile_report(rt, ctx_of(rt, user), ReportRequest("people", **kw))).sql

            assert await reads(1, period="2025")
            assert await reads(2, period="2025-H1", unit="C11", structure="2026-01-01")
            assert await reads(3, filters={"form_of_aid": "TV"})
            assert not await reads(1, period="2025", as_of=past)  # the history
            assert not await reads(1, filters={"urgent": True})  # not a row of the report
            # a table that lost a trigger, or is gone (a bulk load dropped it): the run is compiled, same numbers
            before = (await run_report(rt, ctx_of(rt, 2), ReportRequest("people"))).total.values
            s = summary_for(rt.config, rt.registry, people, rt.db.kind)
            async with rt.db.transaction():
                if rt.db.is_sqlite:
                    await rt.db.execute(f'DROP TRIGGER "{s.triggers()[1]}"')
                else:
                    await rt.db.execute(f'DROP TRIGGER "{s.triggers()[1]}" ON "case"')
            assert not await reads(1, period="2025")
            async with rt.db.transaction():
                await drop_summary(rt.db, table)
            assert not await reads(1, period="2025")
            assert (await run_report(rt, ctx_of(rt, 2), ReportRequest("people"))).total.values == before
        finally:
            await rt.db.close()

    asyncio.run(run())
