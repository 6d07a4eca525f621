"""The working calendar: ``forms_config/calendar.yaml``, weekends, holidays and weekend days worked; and the
cut-offs of the reporting periods (``periods:``)."""

from __future__ import annotations

import datetime as dt

from ..kind import ConfigKind
from ..loader import SCHEMA_DIR, _label
from ..types import CalendarDef, CutoffDef, HolidayDef, PeriodsDef

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
    return CalendarDef(weekend, tuple(holidays), worked, _periods(f))


# The months a cut-off may fall in, per period: inside the period.
_SPANS = {"H1": (1, 6), "H2": (7, 12), "year": (1, 12)}


def _periods(f) -> PeriodsDef:
    d = f.data.get("periods") or {}

    def month_day(path: tuple, text: str, span: tuple[int, int]) -> tuple[int, int] | None:
        try:
            month, day = (int(x) for x in text.split("-"))
            dt.date(2000, month, day)  # a leap year: 02-29 is a day (the 28th in other years)
        except ValueError:
            f.error(path, f"expected a day of the year as MM-DD; found {text!r}")
            return None
        if not span[0] <= month <= span[1]:
            f.error(path, f"the cut-off {text} is outside the period (months {span[0]:02d} to {span[1]:02d})")
            return None
        return month, day

    def cutoff(path: tuple, c: dict | None, span: tuple[int, int]) -> CutoffDef | None:
        if c is None:
            return None
        base = month_day((*path, "actual_to"), c["actual_to"], span)
        others = tuple((who, md) for who, text in (c.get("by_reporter") or {}).items()
                       if (md := month_day((*path, "by_reporter", who), text, span)) is not None)
        return CutoffDef(base, others) if base is not None else None

    half = d.get("half_year") or {}
    return PeriodsDef(cutoff(("periods", "half_year", "H1"), half.get("H1"), _SPANS["H1"]),
                      cutoff(("periods", "half_year", "H2"), half.get("H2"), _SPANS["H2"]),
                      cutoff(("periods", "year"), d.get("year"), _SPANS["year"]))


def build(ctx, files) -> CalendarDef | None:
    calendar = None
    for f in files:
        cal = _calendar(f)
        calendar = calendar if f.partial else cal
    return calendar


KIND = ConfigKind("calendar", "forms_config/calendar.yaml", SCHEMA_DIR / "calendar.schema.json", build,
                  config_field="calendar")
