"""The overdue lists against a plain-Python oracle: for any states and dates of the records, any day and any page
size, the records past a deadline are those whose state has a deadline whose due day (``WorkCalendar.due``) is
before that day, listed once, ordered by the start of the first such deadline (in the workflows' order) and then
by id, scoped to the reader; ``not_overdue_on`` leaves out those already overdue on the earlier day; the pages
put together are the whole list, and the count is its length. Two workflows on one entity, so that a record can
be in the states of two deadlines at once; on both engines."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hoso.records.calendar import WorkCalendar, parse_period
from hoso.records.service import RecordContext
from tests.helpers import examples, migrated_runtime
from tests.records.conftest import World

REVIEW = """
workflow: case_review
entity: case
label: {vi: Xem xét lại, en: Review}
state_field: refusal_reason
initial: not_eligible
states: [not_eligible, other]
transitions:
  reconsider: {from: [not_eligible], to: other, label: {vi: Xem xét lại, en: reconsider}}
deadlines:
  not_eligible: {within: 5 working days, from_field: accepted_on}
  other: {within: 2 days, from_field: refused_on}
"""

POOL = 10  # records made once; each example gives them its states and dates
DAY0 = dt.date(2025, 1, 20)  # the dates drawn: DAY0 + 0..20 days (the Lunar New Year holiday falls in them)

some_day = st.integers(0, 20).map(lambda n: DAY0 + dt.timedelta(days=n))
day = st.one_of(st.none(), some_day)
record = st.fixed_dictionaries({
    "status": st.sampled_from(["received", "accepted", "refused", "ended", "archived"]),
    "refusal_reason": st.sampled_from([None, "not_eligible", "other"]),
    "received_on": some_day, "accepted_on": day, "refused_on": day, "ended_on": day,
    "unit": st.sampled_from(["TT", "TT2", "TT3"]), "deleted": st.booleans()})


@pytest.fixture
def review_world(records_config, database_url):
    records_config.write("forms_config/workflows/case_review.yaml", REVIEW)

    async def setup():
        rt = await migrated_runtime(records_config.load(), database_url)
        w = World(rt)
        try:
            for r in await rt.db.fetch("SELECT id, code FROM hoso_unit"):
                w.units[r["code"]] = r["id"]
            await w.add_user("director", "centre_director", "P01")  # TT and TT2, not TT3
            ids = [(await w.svc.create("case", {"received_on": "2025-01-20", "form_of_aid": "TV", "requester": f"R{i}",
                                                "unit": w.units["TT"]}, w.system))["id"] for i in range(POOL)]
        finally:
            await rt.db.close()
        return w.units, w.users, ids

    return records_config, database_url, asyncio.run(setup())


def _oracle(rt, rows: list[dict], on: dt.date, not_on: dt.date | None) -> list[int]:
    calendar = WorkCalendar(rt.config.calendar)
    deadlines = [(wf.state_field, d.state, d.from_field, parse_period(d.within))
                 for wf in rt.config.workflows_for("case") for d in wf.deadlines]

    def start(r: dict, when: dt.date) -> dt.date | None:
        for field, state, from_field, period in deadlines:
            if r[field] == state and r[from_field] is not None and calendar.due(r[from_field], period) < when:
                return r[from_field]
        return None

    keyed = [(start(r, on), r["id"]) for r in rows if start(r, on) is not None
             and (not_on is None or start(r, not_on) is None)]
    return [rid for _s, rid in sorted(keyed)]


@settings(max_examples=examples(30), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=st.lists(record, min_size=POOL, max_size=POOL), on=st.integers(0, 40), back=st.integers(0, 15),
       size=st.integers(1, 4))
def test_overdue_lists_are_the_plain_python_ones(review_world, records, on, back, size):
    config_dir, url, (units, users, ids) = review_world
    on_day = DAY0 + dt.timedelta(days=on)
    earlier = on_day - dt.timedelta(days=back)

    async def run():
        rt = await migrated_runtime(config_dir.load(), url)
        w = World(rt)
        w.units, w.users = units, users
        try:
            for rid, r in zip(ids, records, strict=True):
                await rt.db.execute(
                    'UPDATE "case" SET status = {}, refusal_reason = {}, received_on = {}, accepted_on = {}, '
                    "refused_on = {}, ended_on = {}, unit = {}, sys_deleted_at = {} WHERE id = {}",
                    r["status"], r["refusal_reason"], r["received_on"], r["accepted_on"], r["refused_on"],
                    r["ended_on"], units[r["unit"]],
                    dt.datetime(2025, 1, 1, tzinfo=dt.UTC) if r["deleted"] else None, rid)
            visible = [{**r, "id": rid} for rid, r in zip(ids, records, strict=True)
                       if r["unit"] != "TT3" and not r["deleted"]]
            ctx = w.ctx("director")
            for not_on in (None, earlier):
                expected = _oracle(rt, visible, on_day, not_on)
                whole, total = await w.svc.overdue("case", ctx, on=on_day, not_overdue_on=not_on, page_size=100)
                assert [r["id"] for r in whole] == expected, not_on
                assert total == len(expected)
                paged, page = [], 1
                while True:
                    got, bounded = await w.svc.overdue("case", ctx, on=on_day, not_overdue_on=not_on, page=page,
                                                       page_size=size, count=2)
                    assert bounded == min(len(expected), 3)
                    if not got:
                        break
                    paged += [r["id"] for r in got]
                    page += 1
                assert paged == expected, (not_on, size)
                for r in whole:  # each row says which deadline it is past: the first of its states
                    assert r["sys_deadline"]["due_on"] < on_day
        finally:
            await rt.db.close()

    asyncio.run(run())


async def test_each_deadline_is_read_from_its_own_index_in_the_order_of_its_start(review_world):
    """PostgreSQL's EXPLAIN (after ANALYZE) and SQLite's EXPLAIN QUERY PLAN of a national overdue list: each
    deadline's branch reads the deadline's partial index (the rows in its state, by the start of the period), so
    that the page costs its rows, not the country's overdue records (1,000,000 cases: the home page 649 -> 117 ms)."""
    config_dir, url, (units, users, _ids) = review_world
    rt = await migrated_runtime(config_dir.load(), url)
    try:
        sqlite = rt.db.is_sqlite
        states = ["received", "accepted", "refused", "ended", "archived"]
        rows = [(f"R{i}", DAY0 + dt.timedelta(days=i % 300), "TV", states[i % 5], units["TT"],
                 DAY0 + dt.timedelta(days=i % 200), DAY0 + dt.timedelta(days=i % 150),
                 ["not_eligible", "other", None][i % 3], 1, dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
                for i in range(4000)]
        for i in range(0, len(rows), 500):
            values = ", ".join("({}, {}, {}, {}, {}, {}, {}, {}, {}, {})" for _ in rows[i:i + 500])
            await rt.db.execute('INSERT INTO "case" (requester, received_on, form_of_aid, status, unit, ended_on, '
                                "refused_on, refusal_reason, sys_version, sys_created_at) VALUES " + values,
                                *[v for r in rows[i:i + 500] for v in r])
        await rt.db.execute("ANALYZE" if sqlite else 'ANALYZE "case"')
        seen: list[tuple[str, tuple]] = []
        fetch = rt.db.fetch

        async def spy(sql, *args):
            seen.append((sql, args))
            return await fetch(sql, *args)

        rt.db.fetch = spy  # type: ignore[method-assign]
        try:
            got, _n = await rt.records().overdue("case", RecordContext.system(rt.config), on=dt.date(2026, 1, 1),
                                                 page_size=20, count=False)
        finally:
            rt.db.fetch = fetch  # type: ignore[method-assign]
        assert len(got) == 20
        [(sql, args)] = [(s, a) for s, a in seen if "UNION ALL" in s]
        found = await rt.db.fetch(("EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN ") + sql, *args)
        plan = "\n".join(str(r["detail"] if sqlite else r["QUERY PLAN"]) for r in found)
        for name in ("ix_case_due_status_received_received_on", "ix_case_due_status_ended_ended_on",
                     "ix_case_due_refusal_reason_not_eligible_accepted_on",
                     "ix_case_due_refusal_reason_other_refused_on"):
            assert (f"USING INDEX {name}" if sqlite else f"Index Scan using {name} on ") in plan, plan
    finally:
        await rt.db.close()
