"""Reporting periods: a period code names a date range of the report's date field."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from typing import TYPE_CHECKING

from hoso.config import ReportDef
from hoso.config.types import Label
from hoso.reports.model import Period, ReportError

if TYPE_CHECKING:  # pragma: no cover
    from hoso.runtime import Runtime

__all__ = ["resolve_period"]

_CODE = re.compile(r"^(\d{4})(?:-(H[12]|Q[1-4]|\d{2}))?$")


def resolve_period(rt: Runtime, report: ReportDef, code: str | None) -> Period | None:
    """The period ``code`` names ("2025", "2025-H1", "2025-Q3", "2025-07"); None for None.

    Raises ReportError naming the parameter when the code is not a period."""
    if code is None:
        return None
    m = _CODE.match(code.strip())
    if not m:
        raise ReportError([("period", f"{code!r} is not a period (2025, 2025-H1, 2025-Q3, 2025-07)")])
    year, part = int(m.group(1)), m.group(2)
    if part is None:
        start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
        label = Label(f"Năm {year}", f"Year {year}")
    elif part[0] == "H":
        half = int(part[1])
        start, end = dt.date(year, 1 + 6 * (half - 1), 1), dt.date(year, 6 * half, 30 if half == 1 else 31)
        label = Label(f"{'6 tháng đầu năm' if half == 1 else '6 tháng cuối năm'} {year}",
                      f"{'First' if half == 1 else 'Second'} half of {year}")
    elif part[0] == "Q":
        q = int(part[1])
        last = 3 * q
        start, end = dt.date(year, last - 2, 1), dt.date(year, last, calendar.monthrange(year, last)[1])
        label = Label(f"Quý {q} năm {year}", f"Q{q} {year}")
    else:
        month = int(part)
        if not 1 <= month <= 12:
            raise ReportError([("period", f"{code!r}: no month {month}")])
        start, end = dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1])
        label = Label(f"Tháng {month:02d}/{year}", f"{calendar.month_name[month]} {year}")
    return Period(code, start, end, label)
