"""Who acts on records (``RecordContext``) and the plain values records are compared, audited and sent as.

The record service, its siblings and their callers (the API, the admin, imports) share these; they depend on
nothing above the configuration and the scopes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from hoso.config import Config
from hoso.scope import LOCAL_ZONE, Actor, local_today

__all__ = ["RecordContext", "LOCAL_ZONE", "is_empty", "as_date", "as_datetime"]



@dataclass(frozen=True)
class RecordContext:
    """Who is acting, from where, in which language.

    Deny by default: a context without a user and without ``superuser`` may do nothing. Command-line tools,
    imports and background work of the system itself use ``RecordContext.system(config)``.
    """

    config: Config
    user_id: int | None = None
    user_name: str = "system"
    origin: str = "cli"
    lang: str = "vi"
    superuser: bool = False
    on: dt.date | None = None
    # The actor's current (role, unit) holdings and the closure rows under them, when the caller loaded them
    # (``hoso.scope.load_holdings``): the record service then reads no assignment again (see ``Actor``).
    holdings: frozenset[tuple[str, int | None]] | None = None
    closure: frozenset[tuple[int, int, int]] | None = None

    @classmethod
    def system(cls, config: Config, origin: str = "cli") -> RecordContext:
        return cls(config, None, "system", origin, "vi", True)

    @property
    def actor(self) -> Actor:
        return Actor(self.user_id, self.user_name, self.superuser, self.origin, self.lang, self.on, self.holdings,
                     self.closure)

    @property
    def today(self) -> dt.date:
        """``on``, else today's date where the records are kept (Asia/Ho_Chi_Minh), whatever the server's zone."""
        return self.on or local_today()








def is_empty(v: Any) -> bool:
    return v is None or v == "" or (isinstance(v, (list, tuple)) and len(v) == 0)


def as_date(v: Any) -> dt.date:
    return dt.date.fromisoformat(v) if isinstance(v, str) else v


def as_datetime(v: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(v)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)

