"""A report's result as files: CSV for any spreadsheet, XLSX laid out like the official form.

- ``to_csv(result)``: UTF-8 with a byte order mark (Excel then reads the Vietnamese labels correctly), one header
  row per level of column groups above the column labels, then the rows, subtotals and the total;
- ``write_xlsx(result, out)``: the title with the report, the unit and the period (dd/mm/yyyy), merged header
  cells for column groups, the row dimensions as merged headers on the left, subtotals and the total in bold,
  numbers as numbers;
- ``write_rows_xlsx(columns, rows, out)`` and ``rows_csv(columns, rows)``: many records (the records behind a
  cell) streamed with bounded memory: XlsxWriter's constant-memory mode writes each row to disk as it comes, so
  the sheet has one header row and no merged cells (that mode cannot merge).

Labels are in the request's language (Vietnamese unless the request asks for English).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, Any

import xlsxwriter

from hoso.i18n import t
from hoso.records.context import LOCAL_ZONE
from hoso.reports.model import Column, ReportResult, ResultRow

__all__ = ["BOM", "CSV_TYPE", "XLSX_TYPE", "to_csv", "write_xlsx", "xlsx_bytes", "rows_csv", "write_rows_xlsx",
           "header_grid", "header_cells", "row_cells", "filename", "title_lines", "day", "moment"]

BOM = "\ufeff"
CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def day(d: dt.date | None) -> str:
    return "" if d is None else d.strftime("%d/%m/%Y")


def moment(at: dt.datetime | None) -> str:
    """A time as users read it: dd/mm/yyyy HH:MM in Asia/Ho_Chi_Minh."""
    if at is None:
        return ""
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    return at.astimezone(LOCAL_ZONE).strftime("%d/%m/%Y %H:%M")


def title_lines(result: ReportResult) -> list[str]:
    """The report's label, then its unit, its period (with the dates) and the moment its numbers stand at."""
    lang = result.request.lang
    lines = [result.report.label.get(lang)]
    if result.unit:
        name = result.unit.get("name_en") if lang == "en" and result.unit.get("name_en") else result.unit.get("name_vi")
        lines.append(t("report_unit", lang, unit=f"{name} ({result.unit.get('code')})"))
    else:
        lines.append(t("report_unit", lang, unit=t("report_whole_scope", lang)))
    p = result.period
    if p is None:
        lines.append(t("report_period", lang, period=t("report_all_records", lang)))
    else:
        lines.append(t("report_period", lang, period=f"{p.label.get(lang)} ({day(p.start)} - {day(p.end)})"))
    if result.request.as_of is not None:
        lines.append(t("report_as_of", lang, at=moment(result.request.as_of)))
    if result.request.structure != "recorded":
        lines.append(t("report_mapped_on", lang, on=day(dt.date.fromisoformat(result.request.structure))))
    lines.append(t("report_generated", lang, at=moment(result.generated_at)))
    return lines


def header_grid(result: ReportResult) -> list[list[str]]:
    """The header as rows of text: one row per level of column groups, then the dimension and column labels.

    A group's label stands in the first column it spans (the rest empty), as a merged cell reads in CSV."""
    lang = result.request.lang
    depth = max((len(c.groups) for c in result.columns), default=0)
    ndim = len(result.dimensions)
    grid: list[list[str]] = []
    for level in range(depth):
        line = [""] * ndim
        previous: tuple | None = None
        for c in result.columns:
            prefix = tuple(g.get(lang) for g in c.groups[:level + 1]) if len(c.groups) > level else None
            line.append(prefix[-1] if prefix is not None and prefix != previous else "")
            previous = prefix
        grid.append(line)
    grid.append([d.label.get(lang) for d in result.dimensions] + [c.label.get(lang) for c in result.columns])
    return grid


def row_cells(result: ReportResult, row: ResultRow) -> list[str]:
    """The left-hand labels of a row: a subtotal names the dimensions it fixes, then "Cộng"; the total says so."""
    lang = result.request.lang
    ndim = max(len(result.dimensions), 1)
    if row.kind == "total":
        return [t("report_total", lang)] + [""] * (ndim - 1)
    labels = [str(x) if x is not None else "" for x in row.labels][:ndim]
    if row.kind == "subtotal":
        labels = labels[:row.depth]
        labels.append(t("report_subtotal", lang))
    return (labels + [""] * ndim)[:ndim]


def _body(result: ReportResult) -> Iterator[ResultRow]:
    yield from result.rows
    yield result.total


def _csv_value(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return defused(v)


# A spreadsheet opening a CSV file runs a cell starting with one of these as a formula (=HYPERLINK(...), +cmd|...).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def defused(v: Any) -> Any:
    """A text cell of a CSV file that a spreadsheet would run as a formula, made text by a leading apostrophe
    (values typed or imported by users are exported again: see docs/import.md)."""
    if isinstance(v, str) and v.startswith(_FORMULA_START):
        return "'" + v
    return v


def to_csv(result: ReportResult) -> str:
    """The report as CSV text, starting with the byte order mark."""
    buf = io.StringIO()
    buf.write(BOM)
    w = csv.writer(buf, lineterminator="\r\n")
    for line in header_grid(result):
        w.writerow(line)
    for row in _body(result):
        w.writerow(row_cells(result, row) + [_csv_value(v) for v in row.values])
    return buf.getvalue()


def rows_csv(columns: Sequence[tuple[str, str]], rows: Iterable[dict]) -> Iterator[str]:
    """Records as CSV chunks (``columns``: (key, label) pairs), one chunk per record: nothing is held."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([label for _, label in columns])
    yield BOM + buf.getvalue()
    for record in rows:
        buf.seek(0)
        buf.truncate()
        w.writerow([defused(_plain(record.get(key))) for key, _ in columns])
        yield buf.getvalue()


def _plain(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, dt.datetime):
        return moment(v)
    if isinstance(v, dt.date):
        return day(v)
    if isinstance(v, (list, tuple)):
        return ", ".join(str(x) for x in v)
    if isinstance(v, dict):
        return str(v)
    return v


_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def filename(result: ReportResult, ext: str) -> str:
    """``<report>[_<period>][_<unit>].<ext>``, ASCII only."""
    parts = [result.report.name]
    if result.period is not None:
        parts.append(result.period.code)
    if result.unit:
        parts.append(str(result.unit.get("code")))
    return _SAFE.sub("-", "_".join(parts)) + "." + ext


# -- XLSX ------------------------------------------------------------------------------------------------------


def _formats(wb: Any) -> dict[str, Any]:
    border = {"border": 1, "valign": "vcenter", "font_name": "Times New Roman", "font_size": 11}
    return {
        "title": wb.add_format({"bold": True, "font_size": 14, "align": "center", "valign": "vcenter",
                                "font_name": "Times New Roman"}),
        "subtitle": wb.add_format({"italic": True, "align": "center", "font_name": "Times New Roman"}),
        "head": wb.add_format({**border, "bold": True, "align": "center", "text_wrap": True, "bg_color": "#DDEBF7"}),
        "label": wb.add_format({**border}),
        "num": wb.add_format({**border, "num_format": "#,##0"}),
        "dec": wb.add_format({**border, "num_format": "#,##0.00"}),
        "sub_label": wb.add_format({**border, "bold": True, "bg_color": "#F2F2F2"}),
        "sub_num": wb.add_format({**border, "bold": True, "bg_color": "#F2F2F2", "num_format": "#,##0"}),
        "sub_dec": wb.add_format({**border, "bold": True, "bg_color": "#F2F2F2", "num_format": "#,##0.00"}),
        "total_label": wb.add_format({**border, "bold": True, "bg_color": "#D9D9D9"}),
        "total_num": wb.add_format({**border, "bold": True, "bg_color": "#D9D9D9", "num_format": "#,##0"}),
        "total_dec": wb.add_format({**border, "bold": True, "bg_color": "#D9D9D9", "num_format": "#,##0.00"}),
    }


def _merge(ws: Any, r1: int, c1: int, r2: int, c2: int, text: str, fmt: Any) -> None:
    if r1 == r2 and c1 == c2:
        ws.write_string(r1, c1, text, fmt)
    else:
        ws.merge_range(r1, c1, r2, c2, text, fmt)


def _spans(columns: Sequence[Column], level: int, lang: str) -> list[tuple[int, int, str]]:
    """Runs of consecutive columns sharing their groups down to ``level``: (first, last, label)."""
    out: list[tuple[int, int, str]] = []
    previous: tuple | None = None
    for i, c in enumerate(columns):
        prefix = tuple(g.get(lang) for g in c.groups[:level + 1]) if len(c.groups) > level else None
        if prefix is not None and prefix == previous and out:
            out[-1] = (out[-1][0], i, out[-1][2])
        elif prefix is not None:
            out.append((i, i, prefix[-1]))
        previous = prefix
    return out


def header_cells(result: ReportResult) -> list[tuple[int, int, int, int, str]]:
    """The header as merged cells ``(first row, first column, last row, last column, text)``, rows counted from
    the header's top: each row dimension spans every header row; a column group spans its run of consecutive
    columns on its level; a column's own label fills the rows its groups leave below them."""
    lang = result.request.lang
    depth = max((len(c.groups) for c in result.columns), default=0)
    ndim = max(len(result.dimensions), 1)
    out: list[tuple[int, int, int, int, str]] = []
    for j in range(ndim):
        text = result.dimensions[j].label.get(lang) if j < len(result.dimensions) else ""
        out.append((0, j, depth, j, text))
    for level in range(depth):
        for first, last, text in _spans(result.columns, level, lang):
            out.append((level, ndim + first, level, ndim + last, text))
    for i, c in enumerate(result.columns):
        out.append((len(c.groups), ndim + i, depth, ndim + i, c.label.get(lang)))
    return out


def write_xlsx(result: ReportResult, out: str | IO[bytes]) -> None:
    """The report as an XLSX workbook written to ``out`` (a path or a binary file)."""
    lang = result.request.lang
    wb = xlsxwriter.Workbook(out, {"strings_to_numbers": False, "strings_to_formulas": False,
                                   "strings_to_urls": False})
    try:
        f = _formats(wb)
        ws = wb.add_worksheet(t("report_sheet", lang))
        ndim = max(len(result.dimensions), 1)
        width = ndim + len(result.columns)
        r = 0
        for i, line in enumerate(title_lines(result)):
            _merge(ws, r, 0, r, width - 1, line, f["title"] if i == 0 else f["subtitle"])
            r += 1
        r += 1  # a blank line under the title
        head_top = r
        cells = header_cells(result)
        for r1, c1, r2, c2, text in cells:
            _merge(ws, head_top + r1, c1, head_top + r2, c2, text, f["head"])
        head_bottom = head_top + max(r2 for _, _, r2, _, _ in cells)
        r = head_bottom + 1
        ws.freeze_panes(r, ndim)
        for row in _body(result):
            style = {"row": "", "subtotal": "sub_", "total": "total_"}.get(row.kind, "")
            for j, text in enumerate(row_cells(result, row)):
                ws.write_string(r, j, text, f[f"{style}label" if style else "label"])
            for i, v in enumerate(row.values):
                col = ndim + i
                if v is None:
                    ws.write_blank(r, col, None, f[f"{style}num" if style else "num"])
                elif isinstance(v, bool):
                    ws.write_number(r, col, int(v), f[f"{style}num" if style else "num"])
                elif isinstance(v, int) or (isinstance(v, float) and v.is_integer()):
                    ws.write_number(r, col, v, f[f"{style}num" if style else "num"])
                elif isinstance(v, (float,)):
                    ws.write_number(r, col, v, f[f"{style}dec" if style else "dec"])
                else:
                    ws.write_number(r, col, float(v), f[f"{style}dec" if style else "dec"])
            r += 1
        for j in range(ndim):
            ws.set_column(j, j, 28)
        ws.set_column(ndim, max(width - 1, ndim), 14)
        ws.set_landscape()
        ws.fit_to_pages(1, 0)
        ws.repeat_rows(head_top, head_bottom)
    finally:
        wb.close()


def xlsx_bytes(result: ReportResult) -> bytes:
    buf = io.BytesIO()
    write_xlsx(result, buf)
    return buf.getvalue()


def write_rows_xlsx(columns: Sequence[tuple[str, str]], rows: Iterable[dict], out: str | IO[bytes], *,
                    sheet: str = "records") -> int:
    """Records to an XLSX workbook with bounded memory: one bold header row, then one row per record, each
    written to a temporary file as it comes (constant-memory mode). Returns the number of records."""
    wb = xlsxwriter.Workbook(out, {"constant_memory": True, "strings_to_numbers": False,
                                   "strings_to_formulas": False, "strings_to_urls": False})
    n = 0
    try:
        head = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
        ws = wb.add_worksheet(sheet[:31])
        for j, (_, label) in enumerate(columns):
            ws.write_string(0, j, label, head)
        ws.freeze_panes(1, 0)
        for n, record in enumerate(rows, start=1):
            for j, (key, _) in enumerate(columns):
                v = _plain(record.get(key))
                if isinstance(v, bool):
                    ws.write_boolean(n, j, v)
                elif isinstance(v, (int, float)):
                    ws.write_number(n, j, v)
                elif v != "":
                    ws.write_string(n, j, str(v))
    finally:
        wb.close()
    return n
