"""User accounts: creation and password checks (hashing by piccolo's BaseUser: PBKDF2-SHA256)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from hoso.audit import AuditEvent, write_audit

if TYPE_CHECKING:  # pragma: no cover
    from hoso.runtime import Runtime

__all__ = ["Localised", "UserError", "Throttled", "Unknown", "check_password", "create_user", "MIN_PASSWORD_LENGTH"]

MIN_PASSWORD_LENGTH = 10
USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{3,100}$")


class Localised(Exception):
    """An error whose message comes from the catalogue (hoso.i18n) in the reader's language.

    ``str()`` gives the English text (logs, the CLI's English users, tests); ``text(lang)`` the user's language.
    Plain text (no catalogue key) is shown as it is.
    """

    def __init__(self, key_or_text: str, **kwargs):
        from hoso.i18n import has, t

        self.key = key_or_text if has(key_or_text) else None
        self.kwargs = kwargs
        super().__init__(t(key_or_text, "en", **kwargs) if self.key else key_or_text)

    def text(self, lang: str = "vi") -> str:
        from hoso.i18n import t

        return t(self.key, lang, **self.kwargs) if self.key else str(self)


class UserError(Localised, ValueError):
    pass


class Throttled(Localised):
    """Too many failed attempts: answer 429."""


class Unknown(Localised, LookupError):
    """What an id names does not exist: answer 404."""


# Words of this application and its users that zxcvbn's (English) dictionaries do not know.
_LOCAL_WORDS = ("hoso", "matkhau", "mat khau", "trogiupphaply", "tro giup phap ly", "trungtam", "trung tam",
                "vietnam", "viet nam", "hanoi", "saigon", "hochiminh", "quantri", "admin", "anhyeuem", "emyeuanh",
                "yeuem", "yeuanh", "xinchao", "tuphap", "sotuphap", "luatsu")
# zxcvbn's score: 3 means about 10^8 guesses or more, "safely unguessable" for an online attack.
MIN_PASSWORD_SCORE = 3


def check_password(password: str, *personal: str | None) -> None:
    """Refuse a password that is short or easy to guess: UserError naming the problem.

    The estimate is zxcvbn's (common passwords, names, English words, keyboard walks, repeats, sequences,
    dates, l33t), fed with the account's own username, name and e-mail and with Vietnamese words of this
    application, which its dictionaries lack.
    """
    from zxcvbn import zxcvbn

    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError("pw_too_short", n=MIN_PASSWORD_LENGTH)
    if password.isdecimal():
        # Phone numbers, citizen ID numbers and dates: the first things tried against a Vietnamese account.
        raise UserError("pw_too_weak")
    inputs = [p for value in personal if value for p in (value, *re.split(r"[@._\s-]+", value)) if len(p) > 2]
    if zxcvbn(password, user_inputs=[*inputs, *_LOCAL_WORDS])["score"] < MIN_PASSWORD_SCORE:
        raise UserError("pw_too_weak")


async def create_user(rt: Runtime, username: str, password: str, *, email: str | None = None,
                      display_name: str | None = None, superuser: bool = False, unit_code: str | None = None,
                      actor: str = "system", actor_id: int | None = None, origin: str = "cli") -> int:
    if not USERNAME.match(username):
        raise UserError("acct_bad_username")
    check_password(password, username, display_name, email)
    User = rt.tables.users
    db = rt.db
    async with db.transaction():
        if await db.fetchval("SELECT id FROM hoso_user WHERE username = {}", username) is not None:
            raise UserError("acct_exists", username=username)
        unit_id = None
        if unit_code:
            from hoso.units import UnitCodeError, resolve_unit_code

            try:
                unit, _note = await resolve_unit_code(db, unit_code)
            except UnitCodeError as exc:
                raise UserError(str(exc)) from None
            unit_id, unit_code = unit["id"], unit["code"]
        user = User(username=username, password=password, email=email or f"{username}@localhost",
                    display_name=display_name or username, active=True, admin=superuser, superuser=superuser,
                    unit_id=unit_id)
        await user.save()
        event = AuditEvent("user.create", "hoso_user", user.id, actor_id, actor, origin,
                           {"username": [None, username], "superuser": [None, superuser], "unit": [None, unit_code]})
        await write_audit(rt.pm, db, event)
        return user.id


async def verify_password(rt: Runtime, username: str, password: str) -> int | None:
    """The id of the user whose username and password these are, or None.

    PBKDF2 takes a tenth of a second on purpose: it runs in a worker thread so that other requests go on
    meanwhile. An unknown username costs the same time as a wrong password, so timing reveals nothing.
    """
    import asyncio
    import hmac

    User = rt.tables.users
    if len(username) > 100 or len(password) > User._max_password_length or "\x00" in username:
        await asyncio.to_thread(User.hash_password, "\ufffd")  # the same time as any other refusal
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


# Failed attempts are counted per bucket in fixed windows of this length.
THROTTLE_WINDOW_SECONDS = 15 * 60


def throttle_bucket(*parts: str) -> str:
    """A fixed-length bucket name for any username, address or id (NULs and long input included)."""
    import hashlib

    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


async def reserve_attempt(rt: Runtime, bucket: str, limit: int) -> bool:
    """Count one attempt in ``bucket`` if fewer than ``limit`` were counted in the current window.

    One statement decides and counts, so parallel requests, in one process or several, cannot all pass the
    check before any is counted (the row is locked by the upsert on PostgreSQL; SQLite runs one writer at a
    time). A refused attempt is not counted, so the window ends on time whatever an attacker keeps sending.
    Call ``release_attempt`` when the attempt turns out to be no failure.
    """
    import time

    now = int(time.time())
    cutoff = now - THROTTLE_WINDOW_SECONDS
    rows = await rt.db.fetch(
        "INSERT INTO hoso_throttle (bucket, window_start, attempts) VALUES ({}, {}, 1) "
        "ON CONFLICT (bucket) DO UPDATE SET "
        "attempts = CASE WHEN hoso_throttle.window_start <= {} THEN 1 ELSE hoso_throttle.attempts + 1 END, "
        "window_start = CASE WHEN hoso_throttle.window_start <= {} THEN {} ELSE hoso_throttle.window_start END "
        "WHERE hoso_throttle.window_start <= {} OR hoso_throttle.attempts < {} RETURNING attempts",
        bucket, now, cutoff, cutoff, now, cutoff, limit)
    return bool(rows)


async def release_attempt(rt: Runtime, bucket: str) -> None:
    await rt.db.execute("UPDATE hoso_throttle SET attempts = attempts - 1 WHERE bucket = {} AND attempts > 0", bucket)


async def sweep_attempts(rt: Runtime) -> None:
    """Forget buckets whose window has ended or that count nothing, so the table does not grow with every
    address ever seen."""
    import time

    await rt.db.execute("DELETE FROM hoso_throttle WHERE window_start <= {} OR attempts = 0",
                        int(time.time()) - THROTTLE_WINDOW_SECONDS)
