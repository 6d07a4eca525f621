"""Reporting periods and their configured cut-offs (forms_config/calendar.yaml ``periods:``)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hoso.config import ConfigErrors
from hoso.reports.model import ReportError
from hoso.reports.periods import reporter_of, resolve_period
from tests.records.conftest import World, records_config, world  # noqa: F401 - fixtures

HIERARCHY = """
levels: [province, centre]
unit_types:
  province: {level: province, label: {vi: Tỉnh}}
  centre: {level: centre, label: {vi: Trung tâm}}
  branch: {level: centre, label: {vi: Chi nhánh}}
  department: {level: province, label: {vi: Sở}}
units:
  - file: units/units.csv
"""

PERIODS = """
calendar:
  weekend: [saturday, sunday]
periods:
  half_year:
    H1: {actual_to: "05-31"}
  year:
    actual_to: "11-30"
    by_reporter: {centre: "10-31", department: "11-15"}
"""


def runtime(config_dir, calendar: str | None = PERIODS):
    config_dir.write("roles_config/hierarchy.yaml", HIERARCHY)
    if calendar is not None:
        config_dir.write("forms_config/calendar.yaml", calendar)
    return SimpleNamespace(config=config_dir.load())


def test_built_in_periods_without_cut_offs(config_dir):
    rt = runtime(config_dir, None)
    p = resolve_period(rt, None, "2025")
    assert (p.start, p.end, p.cutoff) == (dt.date(2025, 1, 1), dt.date(2025, 12, 31), None)
    p = resolve_period(rt, None, "2025-H1")
    assert (p.start, p.end, p.cutoff, p.label.vi) == (dt.date(2025, 1, 1), dt.date(2025, 6, 30), None,
                                                      "6 tháng đầu năm 2025")
    p = resolve_period(rt, None, "2024-H2")
    assert (p.start, p.end) == (dt.date(2024, 7, 1), dt.date(2024, 12, 31))
    p = resolve_period(rt, None, "2024-Q1")
    assert (p.start, p.end) == (dt.date(2024, 1, 1), dt.date(2024, 3, 31))
    p = resolve_period(rt, None, " 2024-02 ")
    assert (p.code, p.start, p.end, p.label.vi) == ("2024-02", dt.date(2024, 2, 1), dt.date(2024, 2, 29),
                                                    "Tháng 02/2024")
    assert resolve_period(rt, None, None) is None


@pytest.mark.parametrize("code", ["2025-13", "2025-00", "2025-H3", "2025-Q5", "25", "abc", "", "0000", "1899",
                                  "9999-12", "2025-h1"])
def test_a_code_that_is_no_period_names_the_parameter(config_dir, code):
    rt = runtime(config_dir, None)
    with pytest.raises(ReportError) as err:
        resolve_period(rt, None, code)
    assert [p for p, _ in err.value.problems] == ["period"]
    assert "không phải là kỳ báo cáo" in err.value.problems[0][1] or "không có tháng" in err.value.problems[0][1]
    with pytest.raises(ReportError) as err:
        resolve_period(rt, None, code, lang="en")
    assert "is not a period" in err.value.problems[0][1] or "there is no month" in err.value.problems[0][1]


def test_six_month_and_annual_cut_offs_by_reporter_type_and_level(config_dir):
    rt = runtime(config_dir)
    h1 = resolve_period(rt, None, "2025-H1")
    assert (h1.start, h1.end, h1.cutoff) == (dt.date(2025, 1, 1), dt.date(2025, 5, 31), dt.date(2025, 5, 31))
    assert h1.label.vi == "6 tháng đầu năm 2025 (số liệu thực tế đến 31/05/2025)"
    assert h1.label.en == "First half of 2025 (actual data to 31/05/2025)"
    h2 = resolve_period(rt, None, "2025-H2")  # no cut-off configured: to its last day
    assert (h2.end, h2.cutoff) == (dt.date(2025, 12, 31), None)
    year = resolve_period(rt, None, "2025")
    assert (year.start, year.end, year.cutoff) == (dt.date(2025, 1, 1), dt.date(2025, 11, 30), dt.date(2025, 11, 30))
    assert resolve_period(rt, None, "2025", "province").cutoff == dt.date(2025, 11, 30)
    assert resolve_period(rt, None, "2025", "centre").cutoff == dt.date(2025, 10, 31)
    # A unit type is looked up first, then its level: a branch is at the centre level, a department has its own.
    assert resolve_period(rt, None, "2025", "branch").cutoff == dt.date(2025, 10, 31)
    assert resolve_period(rt, None, "2025", "department").cutoff == dt.date(2025, 11, 15)
    assert resolve_period(rt, None, "2025", "unknown_type").cutoff == dt.date(2025, 11, 30)
    # Months and quarters have no cut-off.
    assert resolve_period(rt, None, "2025-11").end == dt.date(2025, 11, 30)
    assert resolve_period(rt, None, "2025-Q4").end == dt.date(2025, 12, 31)


def test_a_cut_off_on_29_february_is_the_28th_in_other_years(config_dir):
    rt = runtime(config_dir, PERIODS.replace('H1: {actual_to: "05-31"}', 'H1: {actual_to: "02-29"}'))
    assert resolve_period(rt, None, "2024-H1").end == dt.date(2024, 2, 29)
    assert resolve_period(rt, None, "2025-H1").end == dt.date(2025, 2, 28)


@pytest.mark.parametrize("bad, message", [
    ('H1: {actual_to: "13-01"}', "periods.half_year.H1.actual_to: expected a day of the year as MM-DD; found '13-01'"),
    ('H1: {actual_to: "07-31"}', "periods.half_year.H1.actual_to: the cut-off 07-31 is outside the period "
                                 "(months 01 to 06)"),
    ('H1: {actual_to: "5-31"}', "periods.half_year.H1.actual_to"),
    ('H1: {until: "05-31"}', "periods.half_year.H1"),
])
def test_a_bad_cut_off_is_an_error_with_its_file_and_line(config_dir, bad, message):
    config_dir.write("forms_config/calendar.yaml", PERIODS.replace('H1: {actual_to: "05-31"}', bad))
    with pytest.raises(ConfigErrors) as err:
        config_dir.load()
    text = str(err.value)
    assert "forms_config/calendar.yaml:5:" in text and message in text, text


def _oracle_days(code: str) -> list[dt.date]:
    """The days of a period by walking the calendar."""
    year, _, part = code.partition("-")
    y = int(year)
    day, out = dt.date(y, 1, 1), []
    while day.year == y:
        if (not part or (part[0] == "H" and (day.month - 1) // 6 + 1 == int(part[1]))
                or (part[0] == "Q" and (day.month - 1) // 3 + 1 == int(part[1]))
                or (part[0] not in "HQ" and day.month == int(part))):
            out.append(day)
        day += dt.timedelta(days=1)
    return out


@given(year=st.integers(1900, 2100),
       part=st.sampled_from(["", "H1", "H2", "Q1", "Q2", "Q3", "Q4"] + [f"{m:02d}" for m in range(1, 13)]))
def test_a_period_covers_exactly_its_days(year, part):
    rt = SimpleNamespace(config=SimpleNamespace(calendar=None, hierarchy=None))
    code = f"{year}-{part}" if part else str(year)
    p = resolve_period(rt, None, code)
    days = _oracle_days(code)
    assert (p.start, p.end) == (days[0], days[-1])


async def test_reporter_of_a_unit_is_its_type(world: World):  # noqa: F811 - the fixture
    assert await reporter_of(world.rt, "TT") == "centre"
    assert await reporter_of(world.rt, "P01") == "province"
    assert await reporter_of(world.rt, None) is None
    with pytest.raises(ReportError) as err:
        await reporter_of(world.rt, "NOPE")
    assert err.value.problems[0][0] == "unit"
