"""Reporting periods: a period code names a date range of the report's date field, ended by its cut-off.

Codes: ``2025`` (the year), ``2025-H1``/``2025-H2`` (six months), ``2025-Q3`` (a quarter), ``2025-07`` (a month).
The six-month and annual periods may have a configured cut-off (``periods:`` in forms_config/calendar.yaml):
the last day of actual data, e.g. 31 May for the first six months (June is estimated) and 30 November for the
year, or 31 October for reporters of another unit type or level. A period with a cut-off ends on it.

A period is a range of days where the records are kept (Asia/Ho_Chi_Minh, ``hoso.records.context.LOCAL_ZONE``):
a date-and-time field is placed on its day in that zone on both engines, whatever the database session's zone
(23:30 UTC on 31 January is 1 February in Vietnam). ``local_day`` does it in Python, ``local_date_sql`` in SQL
(period rows) and ``period_bounds`` gives the instants a period's days begin and end at (the period filter, which
keeps the column's index usable).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from typing import TYPE_CHECKING

from hoso.config import ReportDef
from hoso.config.types import CutoffDef, Label
from hoso.i18n import t
from hoso.records.context import LOCAL_ZONE
from hoso.reports.model import Period, ReportError

if TYPE_CHECKING:  # pragma: no cover
    from hoso.runtime import Runtime

__all__ = ["resolve_period", "reporter_of", "local_day", "local_date_sql", "period_bounds"]

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
    # years a record can carry: the date range of the database's dates, with a day to spare at the end
    if not m or not 1900 <= int(m.group(1)) <= 9998:
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


def local_day(value: dt.datetime | dt.date | str) -> dt.date:
    """The day ``value`` falls on where the records are kept: a date is itself; a date and time (an ISO text, or a
    datetime; without a zone it is UTC, as date-and-time fields store it) is converted to the deployment's zone."""
    if isinstance(value, str):
        text = value.strip()
        timed = "T" in text or " " in text
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00")) if timed else dt.date.fromisoformat(text)
    if not isinstance(value, dt.datetime):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(LOCAL_ZONE).date()


def local_date_sql(col: str, dialect: str) -> str:
    """SQL for the local day of a date-and-time column: a ``timestamp`` in the zone on PostgreSQL (its date parts
    are the local ones), a ``YYYY-MM-DD HH:MM:SS`` text shifted by the zone's offset on SQLite (which stores UTC
    text; the zone's offset now: Asia/Ho_Chi_Minh keeps no daylight saving time)."""
    if dialect == "sqlite":
        offset = dt.datetime.now(LOCAL_ZONE).utcoffset() or dt.timedelta()
        minutes = int(offset.total_seconds() // 60)
        return f"datetime({col}, '{minutes:+d} minutes')"
    return f"({col} AT TIME ZONE '{LOCAL_ZONE.key}')"


def period_bounds(period: Period, timed: bool) -> tuple[dt.date | dt.datetime, dt.date | dt.datetime]:
    """[low, high) of a period on its date field: its first day and the day after its end, or, for a
    date-and-time field (``timed``), the instants those days begin at in the deployment's zone, in UTC."""
    low, high = period.start, period.end + dt.timedelta(days=1)
    if not timed:
        return low, high
    return tuple(dt.datetime(d.year, d.month, d.day, tzinfo=LOCAL_ZONE).astimezone(dt.UTC)  # type: ignore[return-value]
                 for d in (low, high))
