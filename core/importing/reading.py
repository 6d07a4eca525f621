"""Reading an import file (CSV or XLSX) into a header and rows of cells, refusing what cannot be read safely.

A CSV file may be UTF-8 (with or without the byte order mark Excel writes), UTF-16 (with its byte order mark) or
Windows-1258 (Vietnamese Windows; its letters with combining tone marks are composed); it may be separated by
commas, semicolons or tabs. An XLSX file is read with
openpyxl in read-only mode, first sheet, values only (formulas are never evaluated: their cached values are read,
and a cell that holds only a formula with no cached value is empty). The size limits (HOSO_IMPORT_MAX_BYTES,
HOSO_IMPORT_MAX_ROWS) hold before anything is read in full, including an XLSX file's unpacked size.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import unicodedata
import zipfile
from dataclasses import dataclass, field
from typing import Any

from hoso.i18n import t
from hoso.settings import get as setting

__all__ = ["Table", "FileProblem", "read_table", "CSV_ENCODINGS"]

CSV_ENCODINGS = ("utf-8", "utf-16", "cp1258")


@dataclass
class Table:
    """The cells of a file: ``header`` (the first row, stripped) and ``rows`` (each as long as the header; row
    ``i`` of ``rows`` is line ``i + 2`` of the file)."""

    file_name: str
    sha256: str
    header: list[str]
    rows: list[list[Any]]
    encoding: str = ""
    notes: list[str] = field(default_factory=list)


class FileProblem(ValueError):
    """The file cannot be imported at all; the message says why (in the user's language)."""


def read_table(file_name: str, data: bytes, lang: str = "vi") -> Table:
    """The header and rows of ``data``, a CSV or XLSX file named ``file_name``. Raises FileProblem."""
    limit = setting("HOSO_IMPORT_MAX_BYTES")
    if len(data) > limit:
        raise FileProblem(t("import_too_large", lang, size=len(data), limit=limit))
    if not data.strip(b"\xef\xbb\xbf\xff\xfe\x00 \t\r\n"):
        raise FileProblem(t("import_empty", lang))
    digest = hashlib.sha256(data).hexdigest()
    if data[:4] == b"PK\x03\x04":
        header, rows, encoding = _xlsx(data, lang, limit)
    elif file_name.lower().endswith((".xlsx", ".xlsm", ".xls")):
        raise FileProblem(t("import_not_xlsx", lang))
    else:
        header, rows, encoding = _csv(data, lang)
    header = [_header_text(h) for h in header]
    while header and header[-1] == "" and all(len(r) < len(header) or r[len(header) - 1] in (None, "")
                                               for r in rows):
        header.pop()  # trailing empty columns (a spreadsheet's formatting reaches further than its data)
    if not header:
        raise FileProblem(t("import_empty", lang))
    width = len(header)
    out: list[list[Any]] = []
    for r in rows:
        cells = list(r[:width]) + [None] * (width - len(r))
        if len(r) > width and any(c not in (None, "") for c in r[width:]):
            raise FileProblem(t("import_cells_beyond_header", lang, row=len(out) + 2))
        out.append(cells)
    while out and all(c in (None, "") for c in out[-1]):
        out.pop()
    if len(out) > setting("HOSO_IMPORT_MAX_ROWS"):
        raise FileProblem(t("import_too_many_rows", lang, rows=len(out), limit=setting("HOSO_IMPORT_MAX_ROWS")))
    return Table(file_name, digest, header, out, encoding)


def _header_text(value: Any) -> str:
    return " ".join(str(value).split()) if value is not None else ""


def _decode(data: bytes, lang: str) -> tuple[str, str]:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict"), "utf-8"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            raise FileProblem(t("import_encoding", lang)) from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    if b"\x00" in data:
        raise FileProblem(t("import_encoding", lang))
    try:
        return data.decode("cp1258"), "cp1258"
    except UnicodeDecodeError:
        raise FileProblem(t("import_encoding", lang)) from None


def _csv(data: bytes, lang: str) -> tuple[list[Any], list[list[Any]], str]:
    text, encoding = _decode(data, lang)
    # Windows-1258 writes most Vietnamese letters as a letter and a combining tone mark: stored composed (NFC),
    # as every other path stores text.
    text = unicodedata.normalize("NFC", text)
    if "\x00" in text:
        raise FileProblem(t("import_encoding", lang))
    first = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first.count)
    try:
        lines = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True))
    except csv.Error as exc:
        raise FileProblem(t("import_bad_csv", lang, reason=str(exc))) from None
    lines = [ln for ln in lines]
    if not lines:
        raise FileProblem(t("import_empty", lang))
    return lines[0], lines[1:], encoding


def _xlsx(data: bytes, lang: str, limit: int) -> tuple[list[Any], list[list[Any]], str]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        unpacked = sum(i.file_size for i in archive.infolist())
    except (zipfile.BadZipFile, ValueError):
        raise FileProblem(t("import_not_xlsx", lang)) from None
    if unpacked > limit:
        raise FileProblem(t("import_too_large", lang, size=unpacked, limit=limit))
    import openpyxl  # imported here: reading XLSX is the only use, and it costs time at start-up

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds on a damaged or foreign file
        raise FileProblem(t("import_not_xlsx", lang)) from None
    try:
        sheet = book.worksheets[0] if book.worksheets else None
        if sheet is None:
            raise FileProblem(t("import_empty", lang))
        rows: list[list[Any]] = []
        max_rows = setting("HOSO_IMPORT_MAX_ROWS") + 1
        for values in sheet.iter_rows(values_only=True):
            rows.append([_xlsx_cell(v) for v in values])
            if len(rows) > max_rows + 1:
                raise FileProblem(t("import_too_many_rows", lang, rows=f">{max_rows - 1}", limit=max_rows - 1))
    finally:
        book.close()
    if not rows:
        raise FileProblem(t("import_empty", lang))
    return rows[0], rows[1:], "xlsx"


def _xlsx_cell(v: Any) -> Any:
    if isinstance(v, str):
        return unicodedata.normalize("NFC", v)
    if isinstance(v, dt.datetime) and v.time() == dt.time(0):
        return v.date()
    if isinstance(v, dt.time):
        return v.isoformat()
    return v
