"""Who is asking: the signed-in account as the web layer sees it, read from its ``hoso_user`` row.

Sessions (``hoso.web.auth``) and API tokens (``hoso.web.tokens``) both turn a row into a ``CurrentUser`` here,
and both refuse the same accounts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

from hoso.scope import holdings_of

__all__ = ["USER_COLUMNS", "QUALIFIED_USER_COLUMNS", "CurrentUser", "user_from_row", "may_log_in",
           "user_with_holdings"]

USER_COLUMNS = "id, username, email, display_name, active, superuser, locked, must_change_password, unit_id"
# The same columns of ``hoso_user`` under the alias ``u``, for statements that join the account to its session
# or token.
QUALIFIED_USER_COLUMNS = ", ".join(f"u.{c} AS {c}" for c in USER_COLUMNS.split(", "))


@dataclass(frozen=True)
class CurrentUser:
    id: int
    username: str
    email: str | None
    display_name: str | None
    superuser: bool
    unit_id: int | None
    must_change_password: bool
    token: str = ""
    # The (role, unit) holdings on ``held_on`` and the closure rows under them, read with the account
    # (``hoso.scope.holdings_join``), so the request's record service reads no assignment again.
    holdings: frozenset[tuple[str, int | None]] | None = None
    closure: frozenset[tuple[int, int, int]] | None = None
    held_on: dt.date | None = None
    # the module a token is limited to (``hoso.web.tokens``): only that module's routes answer it
    token_module: str | None = None

    @property
    def name(self) -> str:
        return self.display_name or self.username

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "username": self.username, "display_name": self.display_name, "email": self.email,
                "superuser": self.superuser, "unit_id": self.unit_id,
                "must_change_password": self.must_change_password}


def user_from_row(row: dict, token: str = "") -> CurrentUser:
    return CurrentUser(id=int(row["id"]), username=row["username"], email=row.get("email"),
                       display_name=row.get("display_name"), superuser=bool(row.get("superuser")),
                       unit_id=row.get("unit_id"), must_change_password=bool(row.get("must_change_password")),
                       token=token)


def user_with_holdings(rows: list[dict], on: dt.date, token: str = "") -> CurrentUser:
    """The account of rows read with ``hoso.scope.holdings_join`` (the first row's), with its holdings on ``on``."""
    held, closure = holdings_of(rows)
    return replace(user_from_row(rows[0], token), holdings=held, closure=closure, held_on=on)


def may_log_in(row: dict | None) -> str | None:
    """Why the account may not log in, or None."""
    if row is None:
        return "unknown_user"
    if not row.get("active"):
        return "inactive"
    if row.get("locked"):
        return "locked"
    return None
