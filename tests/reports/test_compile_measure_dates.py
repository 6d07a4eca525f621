"""Measures with dates of their own (the bulletin's cases accepted in the month by one date and ended in the month by
another), against a plain-Python oracle on both engines: random cases and periods, period rows grouping each
measure by its own date, additive and non-additive measures, the cell drill-down, and runs as of a past moment."""

from __future__ import annotations

import datetime as dt
import textwrap

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hoso.config import ConfigErrors, load_config
from hoso.reports.engine import cell_records, run_report
from hoso.reports.model import ReportRequest
from hoso.reports.periods import resolve_period
from tests.helpers import migrated_runtime
from tests.reports.conftest import ctx_of, load_cases, set_users, write_config

DUAL = """
report: dual
entity: case
label: {vi: Tiếp nhận và kết thúc, en: Received and ended}
date_field: received_on
rows: [{period: month}, form_of_aid]
columns:
  - {key: received, measure: count, label: {vi: Tiếp nhận, en: Received}}
  - {key: ended, measure: count, date_field: ended_on, label: {vi: Kết thúc, en: Ended}}
  - {key: ended_old, measure: count, date_field: ended_on, where: age >= 40, label: {vi: Kết thúc 40+, en: Ended 40+}}
  - {key: received_age, measure: sum, field: age, label: {vi: Tổng tuổi, en: Sum of ages}}
  - {key: ended_avg_age, measure: avg, field: age, date_field: ended_on, label: {vi: Tuổi TB, en: Average age}}
subtotals: true
"""

MONTHS = ["2025-01", "2025-02", "2025-03"]


@pytest.fixture
async def rt(tmp_path, database_url):
    root = tmp_path / "config"
    write_config(root)
    (root / "forms_config/reports/dual.yaml").write_text(textwrap.dedent(DUAL).lstrip(), encoding="utf-8")
    runtime = await migrated_runtime(load_config(root), database_url)
    await set_users(runtime)
    yield runtime
    await runtime.db.close()


DAY = st.dates(min_value=dt.date(2025, 1, 1), max_value=dt.date(2025, 3, 31))
CASES = st.lists(st.tuples(DAY, st.one_of(st.none(), st.integers(0, 60)), st.sampled_from(["TV", "TGTT"]),
                           st.integers(18, 80), st.sampled_from(["C11", "C12", "C21"])), max_size=14)
PERIODS = st.sampled_from([None, "2025", "2025-Q1", *MONTHS])


def oracle(rt, cases: list[dict], period: str | None, units: set[str] | None = None) -> dict:
    """(kind, keys) -> column -> value, computed in Python: each measure takes the records whose date (its own,
    else received_on) falls in the period, grouped by that date's month."""
    report = next(r for r in rt.config.reports if r.name == "dual")
    p = resolve_period(rt, report, period)
    rows: dict[tuple, dict[str, list]] = {}

    def add(kind: str, keys: tuple, column: str, value) -> None:
        rows.setdefault((kind, keys), {}).setdefault(column, []).append(value)

    for c in cases:
        if units is not None and c["unit"] not in units:
            continue
        for column, date, where, value in (("received", "received_on", True, 1),
                                           ("received_age", "received_on", True, c["age"]),
                                           ("ended", "ended_on", True, 1),
                                           ("ended_old", "ended_on", c["age"] >= 40, 1),
                                           ("ended_avg_age", "ended_on", True, c["age"])):
            day = c[date]
            if day is None or not where or (p is not None and not p.start <= day <= p.end):
                continue
            month = day.strftime("%Y-%m")
            add("row", (month, c["form_of_aid"]), column, value)
            add("subtotal", (month, None), column, value)
            add("total", (None, None), column, value)
    out = {}
    for key, cols in rows.items():
        out[key] = {"received": len(cols.get("received", [])), "ended": len(cols.get("ended", [])),
                    "ended_old": len(cols.get("ended_old", [])),
                    "received_age": sum(cols["received_age"]) if cols.get("received_age") else None,
                    "ended_avg_age": (sum(cols["ended_avg_age"]) / len(cols["ended_avg_age"])
                                      if cols.get("ended_avg_age") else None)}
    if ("total", (None, None)) not in out:
        out[("total", (None, None))] = {"received": 0, "ended": 0, "ended_old": 0, "received_age": None,
                                        "ended_avg_age": None}
    return out


def got(result) -> dict:
    cols = [c.key for c in result.columns]
    out = {}
    for r in [*result.rows, result.total]:
        values = dict(zip(cols, r.values, strict=True))
        if values["ended_avg_age"] is not None:
            values["ended_avg_age"] = float(values["ended_avg_age"])
        out[(r.kind, tuple(r.keys))] = values
    return out


def approx(a: dict, b: dict) -> bool:
    if a.keys() != b.keys():
        return False
    for key in a:
        for col, v in a[key].items():
            w = b[key][col]
            if isinstance(v, float) or isinstance(w, float):
                if v is None or w is None or abs(v - w) > 1e-9:
                    return False
            elif v != w:
                return False
    return True


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=CASES, period=PERIODS)
async def test_each_measure_selects_and_groups_by_its_own_date(rt, raw, period):
    cases = [{"code": f"c{i}", "received_on": day, "ended_on": None if end is None else day + dt.timedelta(days=end),
              "form_of_aid": form, "age": age, "unit": unit} for i, (day, end, form, age, unit) in enumerate(raw)]
    await load_cases(rt, cases)
    result = await run_report(rt, ctx_of(rt, None), ReportRequest("dual", period=period))
    expected = oracle(rt, cases, period)
    assert approx(got(result), expected), (got(result), expected)
    # a province's user: only its centres' records, by the same rules
    mine = await run_report(rt, ctx_of(rt, 2), ReportRequest("dual", period=period))
    assert approx(got(mine), oracle(rt, cases, period, {"C11", "C12"}))


async def test_the_records_behind_a_cell_follow_the_columns_date(rt):
    cases = [{"code": "a", "received_on": dt.date(2025, 1, 10), "ended_on": dt.date(2025, 3, 5), "form_of_aid": "TGTT",
              "age": 50, "unit": "C11"},
             {"code": "b", "received_on": dt.date(2025, 3, 1), "ended_on": dt.date(2025, 3, 9), "form_of_aid": "TGTT",
              "age": 30, "unit": "C11"},
             {"code": "c", "received_on": dt.date(2025, 3, 2), "ended_on": None, "form_of_aid": "TGTT", "age": 41,
              "unit": "C21"}]
    await load_cases(rt, cases)
    ctx = ctx_of(rt, None)
    march = ReportRequest("dual", period="2025-03")
    result = got(await run_report(rt, ctx, march))
    assert result[("row", ("2025-03", "TGTT"))] == {"received": 2, "ended": 2, "ended_old": 1, "received_age": 71,
                                                    "ended_avg_age": 40.0}

    async def codes(keys, column):
        return sorted(r["code"] for r in await cell_records(rt, ctx, march, keys, column))

    assert await codes(("2025-03", "TGTT"), "received") == ["b", "c"]
    assert await codes(("2025-03", "TGTT"), "ended") == ["a", "b"]  # a: received in January, ended in March
    assert await codes(("2025-03", "TGTT"), "ended_old") == ["a"]
    assert await codes((), "ended") == ["a", "b"]
    assert await codes(("2025-01",), "ended") == []


async def test_as_of_a_past_moment_each_measure_by_its_own_date(rt):
    svc, ctx = rt.records(), ctx_of(rt, None)
    unit = await rt.db.fetchval("SELECT id FROM hoso_unit WHERE code = 'C11'")
    a = await svc.create("case", {"received_on": "2025-01-10", "form_of_aid": "TGTT", "age": 50, "unit": unit}, ctx)
    b = await svc.create("case", {"received_on": "2025-03-01", "ended_on": "2025-03-09", "form_of_aid": "TGTT",
                                  "age": 30, "unit": unit}, ctx)
    moment = dt.datetime.now(dt.UTC)
    await svc.update("case", a["id"], {"ended_on": "2025-03-05"}, a["sys_version"], ctx)  # ended later
    await svc.update("case", b["id"], {"ended_on": None}, b["sys_version"], ctx)  # reopened later
    now = got(await run_report(rt, ctx, ReportRequest("dual", period="2025-Q1")))
    then = got(await run_report(rt, ctx, ReportRequest("dual", period="2025-Q1", as_of=moment)))
    assert now[("total", (None, None))]["ended"] == 1 and now[("row", ("2025-03", "TGTT"))]["ended_old"] == 1
    assert then[("total", (None, None))]["ended"] == 1 and then[("row", ("2025-03", "TGTT"))]["ended_old"] == 0
    assert then[("row", ("2025-03", "TGTT"))]["ended_avg_age"] == 30.0
    assert then[("total", (None, None))]["received"] == now[("total", (None, None))]["received"] == 2


@pytest.mark.parametrize("column, message", [
    ("{key: x, measure: count, date_field: nope, label: {vi: X}}", "unknown field 'nope'"),
    ("{key: x, measure: count, date_field: age, label: {vi: X}}", "is not a date"),
])
def test_a_bad_measure_date_is_named_with_file_and_line(tmp_path, column, message):
    root = tmp_path / "config"
    write_config(root)
    (root / "forms_config/reports/bad.yaml").write_text(
        "report: bad\nentity: case\nlabel: {vi: Sai}\ndate_field: received_on\nrows: [form_of_aid]\ncolumns:\n"
        f"  - {column}\n", encoding="utf-8")
    with pytest.raises(ConfigErrors) as exc:
        load_config(root)
    assert "bad.yaml:7" in str(exc.value) and message in str(exc.value)


def test_a_measure_date_needs_the_reports_date(tmp_path):
    root = tmp_path / "config"
    write_config(root)
    (root / "forms_config/reports/bad.yaml").write_text(
        "report: bad\nentity: case\nlabel: {vi: Sai}\nrows: [form_of_aid]\ncolumns:\n"
        "  - {key: x, measure: count, date_field: ended_on, label: {vi: X}}\n", encoding="utf-8")
    with pytest.raises(ConfigErrors) as exc:
        load_config(root)
    assert "needs the report's date_field" in str(exc.value)
