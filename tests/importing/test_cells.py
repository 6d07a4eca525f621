"""Cells read as people write them, against plain-Python oracles; hostile files never raise anything but a
FileProblem, on both engines."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hoso.config.types import FieldDef, Label
from hoso.importing import FileProblem, ImportOptions, preview, read_table
from hoso.importing.cells import EXCEL_EPOCH, CellError, convert

INTEGER = FieldDef("n", "integer", Label("Số"))
DECIMAL = FieldDef("d", "decimal", Label("Số thập phân"))
DATE = FieldDef("day", "date", Label("Ngày"))
BOOLEAN = FieldDef("b", "boolean", Label("Có không"))


def _vietnamese(n: int) -> str:
    """The oracle: ``n`` with a point between each group of three digits."""
    sign, digits = ("-" if n < 0 else ""), str(abs(n))
    groups = []
    while digits:
        groups.insert(0, digits[-3:])
        digits = digits[:-3]
    return sign + ".".join(groups)


@given(st.integers(-10**12, 10**12))
def test_whole_numbers_with_vietnamese_separators(n):
    assert convert(INTEGER, _vietnamese(n), "vi", {}) == n
    assert convert(INTEGER, str(n), "vi", {}) == n
    assert convert(INTEGER, float(n), "vi", {}) == n  # a spreadsheet's number


@given(st.integers(-10**9, 10**9), st.integers(1, 999_999))
def test_decimals_with_a_decimal_comma(whole, frac):
    text = f"{_vietnamese(whole)},{frac}"
    assert Decimal(convert(DECIMAL, text, "vi", {})) == Decimal(f"{whole}.{frac}")


@given(st.text(max_size=12))
def test_a_number_cell_is_a_number_or_a_message(text):
    try:
        value = convert(INTEGER, text, "vi", {})
    except CellError as exc:
        assert str(exc)
    else:
        assert value is None or isinstance(value, int)


@given(st.dates(min_value=dt.date(1900, 3, 1), max_value=dt.date(9999, 12, 31)))
def test_dates_as_written_and_as_excel_serials(day):
    assert convert(DATE, day.strftime("%d/%m/%Y"), "vi", {}) == day.isoformat()
    assert convert(DATE, f"{day.day}/{day.month}/{day.year:04d}", "vi", {}) == day.isoformat()
    assert convert(DATE, f"{day.year:04d}-{day.month:02d}-{day.day:02d}", "vi", {}) == day.isoformat()
    assert convert(DATE, (day - EXCEL_EPOCH).days, "vi", {}) == day.isoformat()


def test_dates_that_do_not_exist_and_booleans():
    for bad in ("31/02/2025", "2025/13/01", "hôm qua", "0", "13/13/2025"):
        with pytest.raises(CellError):
            convert(DATE, bad, "vi", {})
    assert [convert(BOOLEAN, v, "vi", {}) for v in ("Có", "không", "x", "YES", "0", True)] == [
        True, False, True, True, False, True]
    with pytest.raises(CellError, match="Có"):
        convert(BOOLEAN, "có lẽ", "vi", {})


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(st.binary(max_size=300),
                      st.text(max_size=200).map(lambda s: ("Ngày tiếp nhận,Tuổi,Đơn vị\n" + s).encode()),
                      st.lists(st.lists(st.sampled_from(["", "=1+1", "@x", "-", "1.2.3", "99999999", "TT", "\x00",
                                                         '"', "31/12/2025", "Tuổi"]), min_size=1, max_size=4),
                               max_size=5).map(lambda rows: "\n".join(",".join(r) for r in
                                                                      [["Ngày tiếp nhận", "Tuổi", "Đơn vị"], *rows])
                                               .encode("utf-16"))))
async def test_hostile_files_give_messages_and_write_nothing(world, data):
    before = await world.count()
    try:
        table = read_table("x.csv", data, "vi")
    except FileProblem as exc:
        assert str(exc)
        return
    result = await preview(world.rt, world.ctx("staff"), "case", table, ImportOptions(ignore=frozenset()))
    for p in result.problems:
        assert p.message and (p.row is None or p.row >= 1)
    assert await world.count() == before
