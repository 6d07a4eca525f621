"""User accounts: creation and password checks (hashing by piccolo's BaseUser: PBKDF2-SHA256)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from core.records.service import AuditEvent
from core.plugins import await_me_maybe

if TYPE_CHECKING:  # pragma: no cover
    from core.runtime import Runtime

__all__ = ["Localised", "UserError", "create_user", "MIN_PASSWORD_LENGTH"]

MIN_PASSWORD_LENGTH = 10
USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{3,100}$")


class Localised(Exception):
    """An error whose message comes from the catalogue (core.i18n) in the reader's language.

    ``str()`` gives the English text (logs, the CLI's English users, tests); ``text(lang)`` the user's language.
    Plain text (no catalogue key) is shown as it is.
    """

    def __init__(self, key_or_text: str, **kwargs):
        from core.i18n import MESSAGES, t

        self.key = key_or_text if key_or_text in MESSAGES else None
        self.kwargs = kwargs
        super().__init__(t(key_or_text, "en", **kwargs) if self.key else key_or_text)

    def text(self, lang: str = "vi") -> str:
        from core.i18n import t

        return t(self.key, lang, **self.kwargs) if self.key else str(self)


class UserError(Localised, ValueError):
    pass


async def create_user(rt: "Runtime", username: str, password: str, *, email: str | None = None,
                      display_name: str | None = None, superuser: bool = False, unit_code: str | None = None,
                      actor: str = "system", actor_id: int | None = None, origin: str = "cli") -> int:
    if not USERNAME.match(username):
        raise UserError("a username is 3 to 100 letters, digits or . _ @ -")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    User = rt.tables.system["user"]
    db = rt.db
    async with db.transaction():
        if await db.fetchval("SELECT id FROM hoso_user WHERE username = {}", username) is not None:
            raise UserError(f"user {username!r} already exists")
        unit_id = None
        if unit_code:
            unit_id = await db.fetchval("SELECT id FROM hoso_unit WHERE code = {}", unit_code)
            if unit_id is None:
                raise UserError(f"no unit with code {unit_code!r}")
        user = User(username=username, password=password, email=email or f"{username}@localhost",
                    display_name=display_name or username, active=True, admin=superuser, superuser=superuser,
                    unit_id=unit_id)
        await user.save()
        event = AuditEvent("user.create", "hoso_user", user.id, actor_id, actor, origin,
                           {"username": [None, username], "superuser": [None, superuser], "unit": [None, unit_code]})
        for result in rt.pm.hook.hoso_write_audit(event=event, db=db):
            await await_me_maybe(result)
        return user.id


async def verify_password(rt: "Runtime", username: str, password: str) -> int | None:
    """The id of the user whose username and password these are, or None.

    PBKDF2 takes a tenth of a second on purpose: it runs in a worker thread so that other requests go on
    meanwhile. An unknown username costs the same time as a wrong password, so timing reveals nothing.
    """
    import asyncio
    import hmac

    User = rt.tables.system["user"]
    if len(username) > 100 or len(password) > User._max_password_length:
        return None
    rows = await rt.db.fetch("SELECT id, password FROM hoso_user WHERE username = {}", username)
    if not rows:
        await asyncio.to_thread(User.hash_password, password)
        return None
    stored = rows[0]["password"]
    _algorithm, iterations, salt, _hashed = User.split_stored_password(stored)
    candidate = await asyncio.to_thread(User.hash_password, password, salt, int(iterations))
    if not hmac.compare_digest(candidate.encode(), stored.encode()):
        return None
    return rows[0]["id"]


async def recent_login_failures(rt: "Runtime", username: str, origin: str, minutes: int = 15) -> tuple[int, int]:
    """Failed logins in the last ``minutes`` for this username, and from this address (from the audit)."""
    import datetime as dt

    since = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=minutes)
    by_user = await rt.db.fetchval(
        "SELECT COUNT(*) AS n FROM hoso_audit WHERE action = 'login_failed' AND actor = {} AND at > {}",
        username[:100], since)
    by_origin = await rt.db.fetchval(
        "SELECT COUNT(*) AS n FROM hoso_audit WHERE action = 'login_failed' AND origin = {} AND at > {}",
        origin, since)
    return int(by_user or 0), int(by_origin or 0)
