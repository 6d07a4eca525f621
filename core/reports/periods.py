"""Reporting periods: a period code names a date range of the report's date field, ended by its cut-off.

Codes: ``2025`` (the year), ``2025-H1``/``2025-H2`` (six months), ``2025-Q3`` (a quarter), ``2025-07`` (a month).
The six-month and annual periods may have a configured cut-off (``periods:`` in forms_config/calendar.yaml):
the last day of actual data, e.g. 31 May for the first six months (June is estimated) and 30 November for the
year, or 31 October for reporters of another unit type or level. A period with a cut-off ends on it.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from typing import TYPE_CHECKING

from hoso.config import ReportDef
from hoso.config.types import CutoffDef, Label
from hoso.i18n import t
from hoso.reports.model import Period, ReportError

if TYPE_CHECKING:  # pragma: no cover
    from hoso.runtime import Runtime

__all__ = ["resolve_period", "reporter_of"]

_CODE = re.compile(r"^(\d{4})(?:-(H[12]|Q[1-4]|\d{2}))?$")


def _day(year: int, month_day: tuple[int, int]) -> dt.date:
    month, day = month_day
    return dt.date(year, month, min(day, calendar.monthrange(year, month)[1]))


def _reporter_names(rt: Runtime, reporter: str | None) -> tuple[str, ...]:
    """The unit type ``reporter``, then its level."""
    if reporter is None:
        return ()
    names = [reporter]
    hierarchy = rt.config.hierarchy
    if hierarchy is not None:
        try:
            names.append(hierarchy.unit_type(reporter).level)
        except KeyError:
            pass
    return tuple(names)


def resolve_period(rt: Runtime, report: ReportDef, code: str | None, reporter: str | None = None, *,
                   lang: str = "vi") -> Period | None:
    """The period ``code`` names ("2025", "2025-H1", "2025-Q3", "2025-07"); None for None.

    ``reporter``: the reporting unit's type (e.g. ``centre``), for cut-offs that differ by unit type or level;
    None: the default cut-off. Raises ReportError naming the parameter (message in ``lang``) when the code is not
    a period."""
    if code is None:
        return None
    m = _CODE.match(code.strip()) if isinstance(code, str) else None
    if not m or int(m.group(1)) < 1:
        raise ReportError([("period", t("report_period_code", lang, code=code))])
    code = code.strip()
    year, part = int(m.group(1)), m.group(2)
    periods = rt.config.calendar.periods if rt.config.calendar is not None else None
    cut: CutoffDef | None = None
    if part is None:
        start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
        label = Label(f"Năm {year}", f"Year {year}")
        cut = periods.year if periods else None
    elif part[0] == "H":
        half = int(part[1])
        start, end = dt.date(year, 1 + 6 * (half - 1), 1), dt.date(year, 6 * half, 30 if half == 1 else 31)
        label = Label(f"{'6 tháng đầu năm' if half == 1 else '6 tháng cuối năm'} {year}",
                      f"{'First' if half == 1 else 'Second'} half of {year}")
        cut = (periods.h1 if half == 1 else periods.h2) if periods else None
    elif part[0] == "Q":
        q = int(part[1])
        last = 3 * q
        start, end = dt.date(year, last - 2, 1), dt.date(year, last, calendar.monthrange(year, last)[1])
        label = Label(f"Quý {q} năm {year}", f"Q{q} {year}")
    else:
        month = int(part)
        if not 1 <= month <= 12:
            raise ReportError([("period", t("report_period_month", lang, code=code, month=month))])
        start, end = dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1])
        label = Label(f"Tháng {month:02d}/{year}", f"{calendar.month_name[month]} {year}")
    if cut is None:
        return Period(code, start, end, label)
    cutoff = _day(year, cut.for_reporter(_reporter_names(rt, reporter)))
    shown = cutoff.strftime("%d/%m/%Y")
    label = Label(f"{label.vi} (số liệu thực tế đến {shown})", f"{label.en} (actual data to {shown})")
    return Period(code, start, cutoff, label, cutoff)


async def reporter_of(rt: Runtime, unit_code: str | None, *, lang: str = "vi") -> str | None:
    """The unit type of the unit ``unit_code`` (the ``reporter`` of ``resolve_period``); None for None.

    Raises ReportError naming ``unit`` for a code that is no unit."""
    if unit_code is None:
        return None
    kind = await rt.db.fetchval("SELECT type FROM hoso_unit WHERE code = {}", unit_code)
    if kind is None:
        raise ReportError([("unit", t("report_unit_unknown", lang, code=unit_code))])
    return str(kind)
