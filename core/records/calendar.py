"""Working days and deadlines: "answer within 3 working days", "hand the file back within 30 days".

The calendar (``forms_config/calendar.yaml``) names the weekend days, the public holidays (single days or
ranges, e.g. the Lunar New Year) and weekend days worked in exchange. Without a calendar, Saturday and Sunday
are days off and there are no holidays.

* ``N working days`` from a date ends on the N-th working day after it.
* ``N days`` / ``N weeks`` from a date ends N (or 7N) calendar days after it; when that day is not a working
  day the period ends on the next working day (as the Civil Code counts periods).

A record is overdue on day D when its period ended before D.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from hoso.config import CalendarDef

__all__ = ["Period", "WorkCalendar", "parse_period"]

_PERIOD = re.compile(r"^\s*(\d{1,4})\s+(working\s+days?|days?|weeks?|ngày\s+làm\s+việc|ngày|tuần)\s*$", re.I)
_ONE_DAY = dt.timedelta(days=1)
# Far enough for any configured period plus the longest run of holidays.
_MAX_STEPS = 20000


@dataclass(frozen=True)
class Period:
    amount: int
    working: bool  # count working days (else calendar days, rolled forward to a working day)

    def __str__(self) -> str:
        return f"{self.amount} {'working ' if self.working else ''}day{'s' if self.amount != 1 else ''}"


def parse_period(text: str) -> Period:
    """``"3 working days"``, ``"30 days"``, ``"2 weeks"`` (or ``"3 ngày làm việc"``, ``"30 ngày"``, ``"2 tuần"``)."""
    m = _PERIOD.match(text)
    if not m:
        raise ValueError(f"expected a period such as '3 working days' or '30 days'; found {text!r}")
    n, unit = int(m[1]), " ".join(m[2].lower().split())
    if unit.startswith(("working", "ngày làm")):
        return Period(n, True)
    if unit.startswith(("week", "tuần")):
        return Period(7 * n, False)
    return Period(n, False)


class WorkCalendar:
    def __init__(self, calendar: CalendarDef | None = None):
        calendar = calendar or CalendarDef()
        self.weekend = set(calendar.weekend)
        self.worked = set(calendar.working_days)
        self.holidays: set[dt.date] = set()
        for h in calendar.holidays:
            day = h.start
            while day <= h.end:
                self.holidays.add(day)
                day += _ONE_DAY

    def is_working_day(self, day: dt.date) -> bool:
        if day in self.worked:
            return True
        return day.weekday() not in self.weekend and day not in self.holidays

    def next_working_day(self, day: dt.date) -> dt.date:
        """``day`` itself when it is a working day, else the first working day after it."""
        for _ in range(_MAX_STEPS):
            if self.is_working_day(day):
                return day
            day += _ONE_DAY
        raise ValueError("the calendar has no working day")

    def due(self, start: dt.date, period: Period) -> dt.date:
        """The last day of ``period`` counted from ``start``."""
        if not period.working:
            return self.next_working_day(start + dt.timedelta(days=period.amount))
        day, left = start, period.amount
        for _ in range(_MAX_STEPS):
            if left <= 0:
                return day
            day += _ONE_DAY
            if self.is_working_day(day):
                left -= 1
        raise ValueError("the calendar has no working day")

    def latest_overdue_start(self, on: dt.date, period: Period) -> dt.date:
        """The last start date whose period ended before ``on``: a record is overdue on ``on`` exactly when
        its start is on or before this day (``due`` never decreases as the start moves later)."""
        day = on - _ONE_DAY - dt.timedelta(days=period.amount)
        # due(day) >= day + amount, so starting here only a few steps back are needed.
        for _ in range(_MAX_STEPS):
            if self.due(day, period) < on:
                return day
            day -= _ONE_DAY
        raise ValueError("the calendar has no working day")
