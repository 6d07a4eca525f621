"""Messages shown to users: one catalogue per language (hoso.messages.vi, hoso.messages.en) and one lookup.
Vietnamese comes first: a key missing from another language falls back to it."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from hoso.messages import en, vi

__all__ = ["LANGUAGES", "CATALOGUES", "t", "both", "has", "LOCAL_ZONE", "local_today"]

# Dates such as "today" (an assignment's first and last day, rules' today(), the unit tree of today, a change set
# that is due) are Vietnam's dates, whatever the server's zone: a day ends at midnight in Hà Nội, not in UTC.
LOCAL_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")


def local_today() -> dt.date:
    """Today's date where the records are kept (Asia/Ho_Chi_Minh)."""
    return dt.datetime.now(LOCAL_ZONE).date()


LANGUAGES = ("vi", "en")
CATALOGUES: dict[str, dict[str, str]] = {"vi": vi.MESSAGES, "en": en.MESSAGES}


def t(key: str, lang: str = "vi", **kwargs) -> str:
    """The message ``key`` in ``lang`` (Vietnamese when the language is unknown), filled with ``kwargs``."""
    catalogue = CATALOGUES.get(lang) or CATALOGUES["vi"]
    template = catalogue.get(key) or CATALOGUES["vi"][key]
    return template.format(**kwargs)


def both(key: str, **kwargs) -> str:
    """A message for the command line: Vietnamese first, then English."""
    return f"{t(key, 'vi', **kwargs)}\n{t(key, 'en', **kwargs)}"


def has(key: str) -> bool:
    return key in CATALOGUES["vi"]
