"""Working-day deadlines with holidays, weekends and compensating working days."""

from __future__ import annotations

import datetime as dt

import pytest

from hoso.config import CalendarDef, HolidayDef
from hoso.records.calendar import Period, WorkCalendar, parse_period

D = dt.date
CAL = WorkCalendar(CalendarDef(
    weekend=(5, 6),
    holidays=(HolidayDef(D(2025, 1, 25), D(2025, 2, 2)), HolidayDef(D(2025, 4, 30), D(2025, 5, 1))),
    working_days=(D(2025, 4, 26),)))


@pytest.mark.parametrize("text,period", [
    ("3 working days", Period(3, True)), ("1 working day", Period(1, True)), ("30 days", Period(30, False)),
    ("2 weeks", Period(14, False)), ("3 ngày làm việc", Period(3, True)), ("30 ngày", Period(30, False)),
    ("2 tuần", Period(14, False)), (" 5  Working  Days ", Period(5, True)),
])
def test_periods(text, period):
    assert parse_period(text) == period


def test_bad_period():
    with pytest.raises(ValueError, match="expected a period"):
        parse_period("three days")


def test_working_days():
    assert CAL.due(D(2025, 3, 3), Period(3, True)) == D(2025, 3, 6)        # Mon -> Thu
    assert CAL.due(D(2025, 3, 7), Period(3, True)) == D(2025, 3, 12)       # Fri -> Wed over the weekend
    assert CAL.due(D(2025, 1, 24), Period(3, True)) == D(2025, 2, 5)       # over the Lunar New Year
    assert CAL.due(D(2025, 4, 25), Period(2, True)) == D(2025, 4, 28)      # Saturday 26 April is worked
    assert CAL.due(D(2025, 3, 31), Period(30, False)) == D(2025, 5, 2)     # 30 April, 1 May off -> Friday
    assert CAL.due(D(2025, 3, 1), Period(7, False)) == D(2025, 3, 10)      # lands on Saturday -> Monday
    assert not CAL.is_working_day(D(2025, 1, 27)) and CAL.is_working_day(D(2025, 4, 26))


def test_latest_overdue_start_agrees_with_due():
    for offset in range(120):
        on = D(2025, 1, 1) + dt.timedelta(days=offset)
        for period in (Period(3, True), Period(30, False), Period(1, True), Period(0, True)):
            last = CAL.latest_overdue_start(on, period)
            for back in range(0, 60):
                start = on - dt.timedelta(days=back)
                assert (CAL.due(start, period) < on) == (start <= last), (on, period, start)


def test_default_calendar_has_weekends_only():
    cal = WorkCalendar()
    assert cal.due(D(2025, 1, 24), Period(3, True)) == D(2025, 1, 29)
