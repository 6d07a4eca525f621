"""What a user sees as "today" is the day in Asia/Ho_Chi_Minh: the code asks ``hoso.i18n.local_today`` (or an aware
datetime), never the machine's own date, which on a server kept in UTC is a day behind Vietnam from 00:00 to 07:00
there (a case received at 06:30 would be dated the day before, a unit abolished today still offered)."""

from __future__ import annotations

import datetime as dt
import re
from types import SimpleNamespace

from hoso import i18n
from tests.conftest import REPO

# the machine's date or naive local time
MACHINE_CLOCK = re.compile(r"\b(?:date\.today|datetime\.today|datetime\.utcnow)\(\)|\bdatetime\.now\(\)")
ALLOWED = {
    # piccolo_api's sessions compare their naive timestamps with datetime.now(): the same clock, never shown
    ("core/web/auth.py", "return dt.datetime.now()"),
}


def test_the_code_never_asks_the_machine_for_the_date():
    found = []
    for folder in ("core", "admin", "plugins"):
        for path in sorted((REPO / folder).rglob("*.py")):
            rel = path.relative_to(REPO).as_posix()
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                code = line.split("#", 1)[0]
                if MACHINE_CLOCK.search(code) and (rel, line.strip()) not in ALLOWED:
                    found.append(f"{rel}:{number}: {line.strip()}")
    assert not found, "use hoso.i18n.local_today() or an aware datetime:\n" + "\n".join(found)


def test_local_today_is_the_day_in_vietnam(monkeypatch):
    """23:30 UTC on 6 May is 06:30 on 7 May in Hà Nội."""

    class Clock(dt.datetime):
        @classmethod
        def now(cls, tz=None):
            instant = dt.datetime(2025, 5, 6, 23, 30, tzinfo=dt.UTC)
            return instant.astimezone(tz) if tz is not None else instant.replace(tzinfo=None)

    monkeypatch.setattr(i18n, "dt", SimpleNamespace(datetime=Clock, date=dt.date))
    assert i18n.local_today() == dt.date(2025, 5, 7)
