"""Columns matched to fields, and cells turned into the values a payload of the record service carries.

A column matches a field by its Vietnamese or English label or by its name, ignoring case, diacritics and runs of
spaces. A cell is read as people write it: dates as dd/mm/yyyy (also d/m/yyyy, dd-mm-yyyy, yyyy-mm-dd, and Excel's
serial day numbers), numbers with Vietnamese separators (``1.234.567,5``; a single point followed by other than
three digits is a decimal point, as in ``12.5``), yes/no as Có/Không, choices by their label or their value,
several choices separated by ``;``, units by code or name, records by their code or title.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from hoso.config import EntityDef, FieldDef
from hoso.db import fold
from hoso.i18n import t
from hoso.records.context import LOCAL_ZONE

__all__ = ["Column", "match_columns", "CellError", "convert", "IMPORTABLE_REFERENCES", "EXCEL_EPOCH"]

# Excel's day 0 (its day 60 is the 29 February 1900 that never was: serials from 61 on count from here).
EXCEL_EPOCH = dt.date(1899, 12, 30)
IMPORTABLE_REFERENCES = ("entity", "unit", "user")

_TRUE = {"co", "x", "yes", "y", "true", "1", "dung", "đung"}
_FALSE = {"khong", "no", "n", "false", "0", "sai"}
_DATE = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})$")
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")


@dataclass(frozen=True)
class Column:
    """Column ``index`` of the file, headed ``header``: the field it fills, or None (unknown, or a field no import
    may fill, with ``reason``)."""

    index: int
    header: str
    field: FieldDef | None
    reason: str = ""


class CellError(ValueError):
    """A cell that cannot be read as its field's value (the message names what was expected)."""


def match_columns(entity: EntityDef, header: list[str], system: set[str], lang: str) -> tuple[list[Column],
                                                                                               list[tuple[str, str]]]:
    """The columns of ``header`` and the problems of the header itself (an empty or repeated header, two columns
    for one field). ``system``: fields the system fills (code, workflow state, attachments)."""
    by_key: dict[str, FieldDef] = {}
    for fd in entity.fields:
        if not fd.is_child_table:
            for key in (fd.name, fd.label.vi if fd.label else None, fd.label.en if fd.label else None):
                if key:
                    by_key.setdefault(fold(key), fd)
    columns: list[Column] = []
    problems: list[tuple[str, str]] = []
    seen_headers: dict[str, int] = {}
    seen_fields: dict[str, str] = {}
    for i, h in enumerate(header):
        where = h or _letter(i)
        if not h:
            problems.append((where, t("import_header_empty", lang)))
            columns.append(Column(i, where, None, "empty"))
            continue
        if fold(h) in seen_headers:
            problems.append((h, t("import_header_repeated", lang, other=seen_headers[fold(h)] + 1, n=i + 1)))
            columns.append(Column(i, h, None, "repeated"))
            continue
        seen_headers[fold(h)] = i
        matched = by_key.get(fold(h))
        if matched is None:
            columns.append(Column(i, h, None, "unknown"))
        elif matched.name in system or matched.traits.refers_to == "file":
            columns.append(Column(i, h, None, "system"))
        elif matched.name in seen_fields:
            problems.append((h, t("import_field_twice", lang, other=seen_fields[matched.name])))
            columns.append(Column(i, h, None, "repeated"))
        else:
            seen_fields[matched.name] = h
            columns.append(Column(i, h, matched))
    return columns, problems


def _letter(i: int) -> str:
    """The spreadsheet letter of column ``i`` (0: A, 26: AA)."""
    out = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        out = chr(65 + r) + out
    return out


def text_of(value: Any) -> str:
    """A cell as text: a whole number without ``.0``, a date as dd/mm/yyyy."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Có" if value else "Không"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.strftime("%d/%m/%Y %H:%M:%S")
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y")
    return str(value).strip()


def convert(fd: FieldDef, value: Any, lang: str, choices: dict[str, dict[str, str]]) -> Any:
    """The payload value of a cell of field ``fd`` (None for an empty cell). References are left as text, to be
    looked up in the database (``hoso.importing.run``). Raises CellError."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    kind = fd.type
    traits = fd.traits
    if traits.has_choices and kind == "multi_choice":
        parts = [p for p in re.split(r"[;\n]", text_of(value)) if p.strip()]
        return [_choice(fd, p, lang, choices) for p in parts]
    if traits.has_choices:
        return _choice(fd, text_of(value), lang, choices)
    if kind == "date":
        return _date(value, lang).isoformat()
    if kind == "datetime":
        return _datetime(value, lang).isoformat()
    if kind == "boolean":
        return _boolean(value, lang)
    if kind == "integer":
        number = _number(value, lang)
        if number != number.to_integral_value():
            raise CellError(t("import_not_whole", lang, value=text_of(value)))
        return int(number)
    if kind == "decimal":
        return str(_number(value, lang))
    if traits.refers_to in IMPORTABLE_REFERENCES:
        return text_of(value)
    return text_of(value)


def _choice(fd: FieldDef, text: str, lang: str, choices: dict[str, dict[str, str]]) -> str:
    options = choices.get(fd.list or "", {})
    found = options.get(fold(text))
    if found is None:
        raise CellError(t("import_no_option", lang, value=text.strip()))
    return found


def choice_keys(config: Any, list_name: str) -> dict[str, str]:
    """Folded value and labels of each live option of a choice list -> the option's value."""
    out: dict[str, str] = {}
    for o in config.choice_list(list_name).options:
        if o.retired:
            continue
        for key in (o.value, o.label.vi, o.label.en):
            if key:
                out.setdefault(fold(key), o.value)
    return out


def _date(value: Any, lang: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _serial(value, lang)
    text = str(value).strip()
    if text.isdigit() and 3 <= len(text) <= 6:
        return _serial(int(text), lang)
    m = _DATE.match(text)
    try:
        if m:
            return dt.date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
        m = _ISO.match(text)
        if m:
            return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        raise CellError(t("import_no_such_date", lang, value=text)) from None
    raise CellError(t("import_date", lang, value=text))


def _serial(n: float, lang: str) -> dt.date:
    if not 61 <= n < 2_958_466:  # from 1 March 1900 to 31 December 9999
        raise CellError(t("import_date", lang, value=text_of(n)))
    return EXCEL_EPOCH + dt.timedelta(days=int(n))


def _datetime(value: Any, lang: str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime.combine(value, dt.time(0))
    else:
        text = str(value).strip()
        day_text, _, time_text = text.partition(" ")
        day = _date(day_text, lang)
        m = _TIME.match(time_text.strip()) if time_text.strip() else None
        if time_text.strip() and not m:
            raise CellError(t("import_datetime", lang, value=text))
        try:
            clock = dt.time(int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)) if m else dt.time(0)
        except ValueError:
            raise CellError(t("import_datetime", lang, value=text)) from None
        moment = dt.datetime.combine(day, clock)
    return moment if moment.tzinfo else moment.replace(tzinfo=LOCAL_ZONE)


def _boolean(value: Any, lang: str) -> bool:
    if isinstance(value, bool):
        return value
    key = fold(text_of(value))
    if key in _TRUE:
        return True
    if key in _FALSE:
        return False
    raise CellError(t("import_boolean", lang, value=text_of(value)))


def _number(value: Any, lang: str) -> Decimal:
    if isinstance(value, bool):
        raise CellError(t("import_number", lang, value=text_of(value)))
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    text = "".join(str(value).split()).replace("\u00a0", "")
    if text.count(",") > 1:
        raise CellError(t("import_number", lang, value=str(value).strip()))
    if "," in text:
        whole, _, frac = text.partition(",")
        if not re.fullmatch(r"[+-]?\d{1,3}(\.\d{3})*|[+-]?\d+", whole) or not frac.isdigit():
            raise CellError(t("import_number", lang, value=str(value).strip()))
        text = whole.replace(".", "") + "." + frac
    elif re.fullmatch(r"[+-]?\d{1,3}(\.\d{3})+", text):
        text = text.replace(".", "")  # 1.234 and 1.234.567: thousands
    if not re.fullmatch(r"[+-]?\d+(\.\d+)?", text):
        raise CellError(t("import_number", lang, value=str(value).strip()))
    try:
        return Decimal(text)
    except InvalidOperation:
        raise CellError(t("import_number", lang, value=str(value).strip())) from None
