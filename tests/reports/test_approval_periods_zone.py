"""Periods on date-and-time fields are days in Asia/Ho_Chi_Minh on both engines, whatever the database session's
zone: 23:30 UTC on the last day of a month is the next month in Vietnam (period filter, period rows, the lock
guard's day)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hoso.config import load_config
from hoso.config.types import Label
from hoso.records.context import LOCAL_ZONE
from hoso.reports.engine import run_report
from hoso.reports.model import Period, ReportRequest
from hoso.reports.periods import local_day, period_bounds, resolve_period
from tests.helpers import migrated_runtime
from tests.reports.conftest import ctx_of, set_users, unit_ids, write_config

CALLS = """
report: calls
entity: case
label: {vi: Cuộc gọi theo tháng, en: Calls by month}
date_field: called_at
rows: [{period: month}]
columns:
  - {key: total, measure: count, label: {vi: Tổng số, en: Total}}
"""

UTC = dt.UTC
# (UTC instant, the month in Vietnam)
CALLS_AT = [
    (dt.datetime(2025, 1, 31, 16, 59, 59, tzinfo=UTC), "2025-01"),  # 23:59:59 on 31/01 in Vietnam
    (dt.datetime(2025, 1, 31, 17, 0, tzinfo=UTC), "2025-02"),  # midnight: 01/02
    (dt.datetime(2025, 1, 31, 23, 30, tzinfo=UTC), "2025-02"),  # 06:30 on 01/02
    (dt.datetime(2024, 12, 31, 17, 30, tzinfo=UTC), "2025-01"),  # 00:30 on 01/01/2025: another year
    (dt.datetime(2025, 2, 28, 16, 0, 0, 500000, tzinfo=UTC), "2025-02"),  # 23:00:00.5 on 28/02
]


@pytest.fixture
async def zoned(tmp_path, database_url):
    root = tmp_path / "config"
    write_config(root)
    case = root / "forms_config/entities/case.yaml"
    case.write_text(case.read_text(encoding="utf-8")
                    + "  called_at: {type: datetime, label: {vi: Thời điểm gọi, en: Called at}}\n", encoding="utf-8")
    (root / "forms_config/reports/calls.yaml").write_text(CALLS, encoding="utf-8")
    rt = await migrated_runtime(load_config(root), database_url)
    if not rt.db.is_sqlite:  # a session zone far from Vietnam's: the buckets must not follow it
        name = await rt.db.fetchval("SELECT current_database()")
        await rt.db.execute(f"ALTER DATABASE \"{name}\" SET timezone TO 'America/Los_Angeles'")
        await rt.db.reset()
        assert await rt.db.fetchval("SHOW timezone") == "America/Los_Angeles"
    await set_users(rt)
    ids = await unit_ids(rt)
    async with rt.db.transaction():
        for i, (at, _month) in enumerate(CALLS_AT):
            await rt.db.execute('INSERT INTO "case" (id, received_on, unit, called_at, sys_version) '
                                "VALUES ({}, {}, {}, {}, 1)", i + 1, dt.date(2025, 1, 15), ids["C11"], at)
    yield rt
    await rt.db.close()


async def test_a_month_of_datetimes_is_a_month_in_vietnam_on_both_engines(zoned):
    rt = zoned
    for user in (None, 1):  # the system and the national user
        ctx = ctx_of(rt, user)
        for month in ("2024-12", "2025-01", "2025-02", "2025-03"):
            result = await run_report(rt, ctx, ReportRequest("calls", period=month))
            expected = sum(1 for _at, m in CALLS_AT if m == month)
            assert result.total.values == [expected], (month, user)
            assert [r.keys for r in result.rows] == ([(month,)] if expected else [])
        everything = await run_report(rt, ctx, ReportRequest("calls"))
        by_month: dict[str, int] = {}
        for _at, m in CALLS_AT:
            by_month[m] = by_month.get(m, 0) + 1
        assert {r.keys[0]: r.values[0] for r in everything.rows} == by_month
        year = await run_report(rt, ctx, ReportRequest("calls", period="2025"))
        assert year.total.values == [len(CALLS_AT)]


@given(st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2090, 1, 1), timezones=st.just(UTC)))
def test_local_day_and_period_bounds_agree_with_the_zone(at):
    day = local_day(at)
    assert day == at.astimezone(LOCAL_ZONE).date() == local_day(at.isoformat())
    # the instant lies inside the bounds of the month of its local day
    start = day.replace(day=1)
    nxt = (start + dt.timedelta(days=32)).replace(day=1)
    low, high = period_bounds(Period("m", start, nxt - dt.timedelta(days=1), Label("m")), True)
    assert low <= at < high
    assert period_bounds(Period("m", start, nxt - dt.timedelta(days=1), Label("m")), False) == (start, nxt)


def test_a_month_resolves_to_the_days_of_the_month(report_config):
    class Rt:
        config = report_config

    report = next(r for r in report_config.reports if r.name == "monthly")
    p = resolve_period(Rt(), report, "2025-01")
    low, high = period_bounds(p, True)
    assert (low, high) == (dt.datetime(2024, 12, 31, 17, tzinfo=UTC), dt.datetime(2025, 1, 31, 17, tzinfo=UTC))
