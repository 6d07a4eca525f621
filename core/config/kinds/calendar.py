"""The working calendar: ``forms_config/calendar.yaml``, weekends, holidays and weekend days worked."""

from __future__ import annotations

import datetime as dt

from ..kind import ConfigKind
from ..loader import SCHEMA_DIR, _label
from ..types import CalendarDef, HolidayDef

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _calendar(f) -> CalendarDef:
    d = f.data["calendar"]

    def day(path: tuple, text: str) -> dt.date | None:
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            f.error(path, f"expected a date as YYYY-MM-DD; found {text!r}")
            return None

    holidays = []
    for i, h in enumerate(d.get("holidays", ())):
        start = day(("calendar", "holidays", i, "date"), h["date"])
        end = day(("calendar", "holidays", i, "to"), h["to"]) if "to" in h else start
        if start and end and end < start:
            f.error(("calendar", "holidays", i, "to"), f"the holiday ends ({end}) before it starts ({start})")
        elif start and end:
            holidays.append(HolidayDef(start, end, _label(h.get("label"))))
    worked = tuple(x for i, w in enumerate(d.get("working_days", ()))
                   if (x := day(("calendar", "working_days", i), w)) is not None)
    weekend = tuple(_WEEKDAYS.index(w) for w in d.get("weekend", ("saturday", "sunday")))
    return CalendarDef(weekend, tuple(holidays), worked)


def build(ctx, files) -> CalendarDef | None:
    calendar = None
    for f in files:
        cal = _calendar(f)
        calendar = calendar if f.partial else cal
    return calendar


KIND = ConfigKind("calendar", "forms_config/calendar.yaml", SCHEMA_DIR / "calendar.schema.json", build,
                  config_field="calendar")
