"""Report files: the CSV (BOM, labels, header rows for groups, subtotals and total) and the XLSX read back with
openpyxl (title, merged header cells, totals equal to the sum of the rows, numbers as numbers)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import openpyxl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hoso.config import ReportDef
from hoso.config.types import Label, ReportColumnDef, ReportDimensionDef
from hoso.reports.model import Column, Dimension, ReportRequest, ReportResult, ResultRow
from hoso.reports.render import BOM, filename, rows_csv, to_csv, write_rows_xlsx, xlsx_bytes
from tests.reports.results import AT, bieu24

UNIT = {"code": "HN", "name_vi": "Hà Nội", "name_en": "Hanoi"}


def _csv_rows(text: str) -> list[list[str]]:
    assert text.startswith(BOM)
    return list(csv.reader(io.StringIO(text[1:])))


def test_csv_has_bom_vietnamese_labels_group_rows_subtotals_and_total():
    text = to_csv(bieu24())
    raw = text.encode("utf-8")
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = _csv_rows(text)
    assert rows[0] == ["", "", "", "Giới tính", "", "Diện người được trợ giúp", ""]
    assert rows[1] == ["Lĩnh vực", "Hình thức", "Tổng số", "Nam", "Nữ", "Người thuộc hộ nghèo", "Trẻ em"]
    assert rows[2] == ["Dân sự", "Tư vấn", "5", "3", "2", "1", "0"]
    assert rows[4] == ["Dân sự", "Cộng", "9", "4", "5", "3", "1"]
    assert rows[-1] == ["Tổng cộng", "", "16", "11", "5", "3", "5"]
    assert len(rows) == 2 + 3 + 2 + 1


def test_csv_in_english_when_asked():
    rows = _csv_rows(to_csv(bieu24("en")))
    assert rows[1][:3] == ["Field of law", "Form of aid", "Total"]
    assert rows[0][3] == "Gender"
    assert rows[-1][0] == "Total" and rows[4][1] == "Subtotal"


def test_suppressed_cells_are_empty_not_zero():
    result = bieu24()
    result.rows[0].values[3] = None
    assert _csv_rows(to_csv(result))[2][5] == ""
    ws = openpyxl.load_workbook(io.BytesIO(xlsx_bytes(result))).active
    data = [r for r in ws.iter_rows(values_only=True) if r[1] == "Tư vấn"]
    assert data[0][5] is None


def _sheet(result):
    return openpyxl.load_workbook(io.BytesIO(xlsx_bytes(result))).active


def test_xlsx_title_unit_and_period_in_dd_mm_yyyy():
    ws = _sheet(bieu24(unit=UNIT))
    assert ws["A1"].value == "Số người được trợ giúp pháp lý"
    assert ws["A1"].font.b
    assert ws["A2"].value == "Đơn vị: Hà Nội (HN)"
    assert ws["A3"].value == "Kỳ báo cáo: 6 tháng đầu năm 2025 (01/01/2025 - 31/05/2025)"
    assert ws["A4"].value == "Lập lúc: 03/07/2025 09:30"
    assert "A1:G1" in {str(r) for r in ws.merged_cells.ranges}


def test_xlsx_without_unit_or_period_says_whole_scope_and_all_records():
    ws = _sheet(bieu24(period=False))
    assert ws["A2"].value == "Đơn vị: toàn bộ phạm vi được xem"
    assert ws["A3"].value == "Kỳ báo cáo: toàn bộ số liệu"


def test_xlsx_merged_headers_like_the_official_form():
    ws = _sheet(bieu24())
    merged = {str(r) for r in ws.merged_cells.ranges}
    # title block rows 1-3, a blank row, then two header rows (6 and 7)
    assert {"A6:A7", "B6:B7", "C6:C7", "D6:E6", "F6:G6"} <= merged
    assert ws["A6"].value == "Lĩnh vực" and ws["D6"].value == "Giới tính"
    assert ws["F6"].value == "Diện người được trợ giúp" and ws["C6"].value == "Tổng số"
    assert [ws.cell(7, c).value for c in range(4, 8)] == ["Nam", "Nữ", "Người thuộc hộ nghèo", "Trẻ em"]
    assert ws["A6"].font.b


def test_xlsx_numbers_are_numbers_totals_are_bold_and_equal_the_sum_of_rows():
    ws = _sheet(bieu24())
    body = list(ws.iter_rows(min_row=8, values_only=False))
    leaves = [r for r in body if r[1].value not in ("Cộng", None, "") and r[0].value != "Tổng cộng"]
    total = body[-1]
    assert total[0].value == "Tổng cộng" and total[0].font.b and total[2].font.b
    for col in range(2, 7):
        assert all(isinstance(r[col].value, int) for r in leaves)
        assert total[col].value == sum(r[col].value for r in leaves)
    subtotals = [r for r in body if r[1].value == "Cộng"]
    assert len(subtotals) == 2 and all(r[1].font.b for r in subtotals)
    assert not leaves[0][2].font.b


def test_filename_names_report_period_and_unit():
    assert filename(bieu24(unit=UNIT), "xlsx") == "people_assisted_2025-H1_HN.xlsx"
    assert filename(bieu24(period=False), "csv") == "people_assisted.csv"


def test_large_row_export_streams_one_header_row(tmp_path: Path):
    columns = [("code", "Mã"), ("received_on", "Ngày thụ lý"), ("n", "Số")]
    import datetime as dt

    def records():
        for i in range(5000):
            yield {"code": f"C{i}", "received_on": dt.date(2025, 1, 1 + i % 28), "n": i}

    out = tmp_path / "rows.xlsx"
    assert write_rows_xlsx(columns, records(), str(out)) == 5000
    ws = openpyxl.load_workbook(out, read_only=True).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0] == ("Mã", "Ngày thụ lý", "Số")
    assert rows[1] == ("C0", "01/01/2025", 0) and rows[-1][2] == 4999 and len(rows) == 5001
    chunks = list(rows_csv(columns, records()))
    assert chunks[0].startswith(BOM + "Mã,") and len(chunks) == 5001


# -- property: any layout of column groups reads back from the XLSX as the result says ------------------------

_label = st.sampled_from(["A", "B", "C"])


@st.composite
def results(draw):
    ncols = draw(st.integers(1, 6))
    columns = []
    for i in range(ncols):
        groups = tuple(Label(g, g) for g in draw(st.lists(_label, max_size=2)))
        columns.append(Column(f"c{i}", Label(f"col{i}", f"col{i}"), groups))
    ndim = draw(st.integers(1, 3))
    nrows = draw(st.integers(0, 6))
    rows = [ResultRow(tuple(range(ndim)), tuple(f"r{k}d{j}" for j in range(ndim)),
                      draw(st.lists(st.integers(0, 10**6), min_size=ncols, max_size=ncols))) for k in range(nrows)]
    total = ResultRow((None,) * ndim, ("",) * ndim, [sum(r.values[i] for r in rows) for i in range(ncols)],
                      kind="total")
    report = ReportDef(name="r", entity="case", label=Label("R"),
                       rows=tuple(ReportDimensionDef("field", f"d{j}") for j in range(ndim)),
                       columns=tuple(ReportColumnDef(c.key, "count", c.label, groups=c.groups) for c in columns))
    return ReportResult(report, ReportRequest("r"), [Dimension(f"d{j}", Label(f"D{j}")) for j in range(ndim)],
                        columns, rows, total, AT)


def _expected_merges(result, top):
    """The oracle: header ranges computed cell by cell, the plain way."""
    ndim = len(result.dimensions)
    depth = max(len(c.groups) for c in result.columns)
    out = set()
    for j in range(ndim):
        if depth:
            out.add((top, j, top + depth, j))
    for level in range(depth):
        i = 0
        while i < len(result.columns):
            c = result.columns[i]
            if len(c.groups) <= level:
                i += 1
                continue
            key = [g.vi for g in c.groups[:level + 1]]
            k = i
            while k + 1 < len(result.columns) and [g.vi for g in result.columns[k + 1].groups[:level + 1]] == key \
                    and len(result.columns[k + 1].groups) > level:
                k += 1
            if k > i:
                out.add((top + level, ndim + i, top + level, ndim + k))
            i = k + 1
    for i, c in enumerate(result.columns):
        if len(c.groups) < depth:
            out.add((top + len(c.groups), ndim + i, top + depth, ndim + i))
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(results())
def test_xlsx_headers_and_values_read_back(result):
    ws = openpyxl.load_workbook(io.BytesIO(xlsx_bytes(result))).active
    ndim = len(result.dimensions)
    width = ndim + len(result.columns)
    top = 5  # 0-based: title, unit, period, produced, blank
    merges = {(r.min_row - 1, r.min_col - 1, r.max_row - 1, r.max_col - 1) for r in ws.merged_cells.ranges}
    titles = {(i, 0, i, width - 1) for i in range(4)} if width > 1 else set()
    assert merges == titles | _expected_merges(result, top)
    depth = max(len(c.groups) for c in result.columns)
    for i, c in enumerate(result.columns):
        assert ws.cell(top + len(c.groups) + 1, ndim + i + 1).value == c.label.vi
    first = top + depth + 2
    for k, row in enumerate([*result.rows, result.total]):
        got = [ws.cell(first + k, ndim + i + 1).value for i in range(len(result.columns))]
        assert got == row.values
    total_row = first + len(result.rows)
    for i in range(len(result.columns)):
        assert ws.cell(total_row, ndim + i + 1).value == sum(
            ws.cell(first + k, ndim + i + 1).value for k in range(len(result.rows)))
