"""Logins and sessions.

Passwords are checked by the ``hoso_user`` table class (piccolo ``BaseUser``: PBKDF2-SHA256). A login creates
a row in ``hoso_session`` (piccolo_api ``SessionsBase``) whose random token travels in the HttpOnly,
SameSite=Lax cookie ``hoso_session``. A session ends after ``idle`` without requests (each request slides the
idle expiry forward) and in any case ``max_age`` after the login. An inactive or locked account cannot log in,
and its open sessions stop working at their next request.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie

from core.plugins import await_me_maybe
from core.records.service import AuditEvent

if TYPE_CHECKING:  # pragma: no cover
    from core.runtime import Runtime

__all__ = ["COOKIE", "WebSettings", "CurrentUser", "authenticate", "start_session", "session_user",
           "end_session", "write_audit", "client_address", "session_cookie", "current_user", "same_origin",
           "without_nul"]

COOKIE = "hoso_session"
_STATE_KEY = "hoso_user"
_USER_COLUMNS = ("id, username, email, display_name, active, superuser, locked, must_change_password, unit_id")


def _env_number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r}: expected a number") from None
    if value <= 0:
        raise ValueError(f"{name}={raw!r}: expected a number greater than 0")
    return value


def _env_flag(env: Mapping[str, str], name: str) -> bool:
    return (env.get(name) or "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class WebSettings:
    """Settings of the web application, read from the environment when the app is created.

    ``HOSO_SESSION_IDLE_MINUTES`` (default 60), ``HOSO_SESSION_MAX_HOURS`` (default 24), ``HOSO_SECURE_COOKIE``
    (1 behind HTTPS), ``HOSO_TRUST_FORWARDED`` (1 behind a reverse proxy that sets X-Forwarded-For),
    ``HOSO_LOGIN_MAX_FAILURES`` (default 5 per username, 50 per address, in 15 minutes; then 429),
    ``HOSO_ALLOWED_HOSTS`` (comma-separated host names, with a port where it is not the default: the public
    names a browser's Origin may carry when a reverse proxy passes another Host; writes from other origins are
    refused).
    """

    session_idle: dt.timedelta = dt.timedelta(hours=1)
    session_max: dt.timedelta = dt.timedelta(hours=24)
    secure_cookie: bool = False
    trust_forwarded: bool = False
    # Failed logins allowed per username (and 10 times that per client address) in a 15-minute window.
    login_max_failures: int = 5
    allowed_hosts: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "WebSettings":
        env = os.environ if env is None else env
        return cls(
            session_idle=dt.timedelta(minutes=_env_number(env, "HOSO_SESSION_IDLE_MINUTES", 60)),
            session_max=dt.timedelta(hours=_env_number(env, "HOSO_SESSION_MAX_HOURS", 24)),
            secure_cookie=_env_flag(env, "HOSO_SECURE_COOKIE"),
            trust_forwarded=_env_flag(env, "HOSO_TRUST_FORWARDED"),
            login_max_failures=int(_env_number(env, "HOSO_LOGIN_MAX_FAILURES", 5)),
            allowed_hosts=tuple(h.strip().lower() for h in (env.get("HOSO_ALLOWED_HOSTS") or "").split(",")
                                if h.strip()),
        )


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

    @property
    def name(self) -> str:
        return self.display_name or self.username

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "username": self.username, "display_name": self.display_name, "email": self.email,
                "superuser": self.superuser, "unit_id": self.unit_id,
                "must_change_password": self.must_change_password}


def _user_from_row(row: dict, token: str = "") -> CurrentUser:
    return CurrentUser(id=int(row["id"]), username=row["username"], email=row.get("email"),
                       display_name=row.get("display_name"), superuser=bool(row.get("superuser")),
                       unit_id=row.get("unit_id"), must_change_password=bool(row.get("must_change_password")),
                       token=token)


async def _load_user(rt: "Runtime", user_id: int) -> dict | None:
    rows = await rt.db.fetch(f"SELECT {_USER_COLUMNS} FROM hoso_user WHERE id = {{}}", user_id)
    return rows[0] if rows else None


def _may_log_in(row: dict | None) -> str | None:
    """Why the account may not log in, or None."""
    if row is None:
        return "unknown_user"
    if not row.get("active"):
        return "inactive"
    if row.get("locked"):
        return "locked"
    return None


async def authenticate(rt: "Runtime", username: str, password: str) -> tuple[CurrentUser | None, str | None]:
    """The user whose username and password these are, or None and the reason (for the audit, not the client)."""
    from core.users import verify_password

    user_id = await verify_password(rt, username, password)
    if user_id is None:
        return None, "bad_credentials"
    row = await _load_user(rt, user_id)
    reason = _may_log_in(row)
    if reason:
        return None, reason
    return _user_from_row(row), None


def _now() -> dt.datetime:
    # piccolo_api's SessionsBase compares its (naive) timestamps with datetime.now(): use the same clock.
    return dt.datetime.now()


async def start_session(rt: "Runtime", settings: WebSettings, user_id: int) -> str:
    Session = rt.tables.system["session"]
    now = _now()
    # Sweep sessions that ended, so the table does not grow with every login.
    await Session.delete().where((Session.expiry_date < now) | (Session.max_expiry_date < now))
    max_expiry = now + settings.session_max
    session = await Session.create_session(user_id, expiry_date=min(now + settings.session_idle, max_expiry),
                                           max_expiry_date=max_expiry)
    return session.token


async def session_user(rt: "Runtime", settings: WebSettings, token: str | None) -> CurrentUser | None:
    """The user of a live session, sliding its idle expiry forward; None for a missing or ended session."""
    if not token or len(token) > 100:
        return None
    Session = rt.tables.system["session"]
    row = await Session.select(Session.id, Session.user_id, Session.expiry_date, Session.max_expiry_date) \
        .where(Session.token == token).first()
    if not row:
        return None
    now = _now()
    if row["expiry_date"] <= now or row["max_expiry_date"] <= now:
        await Session.delete().where(Session.id == row["id"])
        return None
    user = await _load_user(rt, row["user_id"])
    if _may_log_in(user):
        await Session.delete().where(Session.id == row["id"])
        return None
    new_expiry = min(now + settings.session_idle, row["max_expiry_date"])
    # Write only when the expiry moves noticeably, not on every request.
    threshold = min(dt.timedelta(minutes=1), settings.session_idle / 10)
    if new_expiry - row["expiry_date"] > threshold:
        await Session.update({Session.expiry_date: new_expiry}).where(Session.id == row["id"])
    return _user_from_row(user, token)


async def end_session(rt: "Runtime", token: str | None) -> None:
    if token and len(token) <= 100:
        await rt.tables.system["session"].remove_session(token)


async def write_audit(rt: "Runtime", event: AuditEvent) -> None:
    async with rt.db.transaction():
        for result in rt.pm.hook.hoso_write_audit(event=event, db=rt.db):
            await await_me_maybe(result)


def client_address(connection: ASGIConnection, settings: WebSettings) -> str:
    if settings.trust_forwarded:
        forwarded = connection.headers.get("x-forwarded-for")
        if forwarded:
            return forwarded.split(",", 1)[0].strip()[:100]
    client = connection.client
    return client.host if client and client.host else "unknown"


def session_cookie(token: str, settings: WebSettings) -> Cookie:
    return Cookie(key=COOKIE, value=token, path="/", httponly=True, samesite="lax", secure=settings.secure_cookie,
                  max_age=int(settings.session_max.total_seconds()))


async def current_user(connection: ASGIConnection) -> CurrentUser | None:
    """The logged-in user of this request (looked up once per request), or None."""
    state = connection.scope.setdefault("state", {})
    if _STATE_KEY not in state:
        app_state = connection.app.state
        state[_STATE_KEY] = await session_user(app_state.rt, app_state.settings, connection.cookies.get(COOKIE))
    return state[_STATE_KEY]


def same_origin(connection: ASGIConnection) -> bool:
    """False when the browser says the request comes from another site: its Origin (else Referer) names
    neither the request's Host nor one of ``HOSO_ALLOWED_HOSTS``."""
    from core.web.security import origin_allowed

    settings = getattr(connection.app.state, "settings", None)
    return origin_allowed(connection.headers.get("origin"), connection.headers.get("referer"),
                          connection.headers.get("host"), settings.allowed_hosts if settings else ())


def without_nul(value: Any) -> Any:
    """``value`` with NUL characters shown as U+FFFD when it is a string: a database text value cannot hold a
    NUL, and a username holding one matches no account but must still be audited and throttled as sent."""
    return value.replace("\x00", "\ufffd") if isinstance(value, str) else value


async def audited_login(rt: "Runtime", settings: WebSettings, username: Any, password: Any, origin: str,
                        via: str | None = None) -> tuple[CurrentUser | None, str]:
    """The one login check of the API and the admin: throttle, verify, audit.

    Returns the user and "ok", or None and "throttled" (too many recent failures for this username or address;
    answer 429) or "refused" (wrong credentials, locked or inactive account; answer 401 without saying which).
    Every attempt is audited, with ``via`` naming the entry point when it is not the API.
    """
    from core.users import recent_login_failures

    username = without_nul(username)
    detail = {"@via": via} if via else {}
    if isinstance(username, str) and username:
        by_user, by_origin = await recent_login_failures(rt, username, origin)
        limit = settings.login_max_failures
        if by_user >= limit or by_origin >= 10 * limit:
            await write_audit(rt, AuditEvent("login_failed", "hoso_user", None, None, username[:100], origin,
                                             {"reason": "throttled", **detail}))
            return None, "throttled"
    user, reason = None, "missing_credentials"
    if isinstance(username, str) and isinstance(password, str) and username and password:
        user, reason = await authenticate(rt, username, password)
    if user is None:
        actor = username[:100] if isinstance(username, str) else ""
        await write_audit(rt, AuditEvent("login_failed", "hoso_user", None, None, actor, origin,
                                         {"reason": reason, **detail}))
        return None, "refused"
    await write_audit(rt, AuditEvent("login", "hoso_user", user.id, user.id, user.username, origin, detail))
    return user, "ok"
