"""Logins and sessions.

Passwords are checked by the ``hoso_user`` table class (piccolo ``BaseUser``: PBKDF2-SHA256). A login creates
a row in ``hoso_session`` (piccolo_api ``SessionsBase``) whose random token travels in the HttpOnly,
SameSite=Lax cookie ``hoso_session``. A session ends after ``idle`` without requests (each request slides the
idle expiry forward) and in any case ``max_age`` after the login. An inactive or locked account cannot log in,
and its open sessions stop working at their next request.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie

from hoso import audit
from hoso.audit import AuditEvent
from hoso.db import quote
from hoso.scope import HOLDING_COLUMNS, holdings_join, local_today
from hoso.settings import get as setting
from hoso.web.identity import (
    QUALIFIED_USER_COLUMNS,
    USER_COLUMNS,
    CurrentUser,
    may_log_in,
    user_from_row,
    user_with_holdings,
)
from hoso.web.tokens import token_user

if TYPE_CHECKING:  # pragma: no cover
    from hoso.runtime import Runtime

__all__ = ["COOKIE", "WebSettings", "CurrentUser", "authenticate", "start_session", "session_user",
           "end_session", "write_audit", "client_address", "SERVER_OPTIONS", "session_cookie", "current_user",
           "same_origin", "without_nul", "require_module_token"]

COOKIE = "hoso_session"
_STATE_KEY = "hoso_user"


# How `hoso serve` runs uvicorn: uvicorn's own X-Forwarded-For handling (on by default, trusting 127.0.0.1)
# would rewrite the client address before hoso sees it; hoso believes only HOSO_TRUSTED_PROXIES.
SERVER_OPTIONS: dict[str, Any] = {"proxy_headers": False, "server_header": False}


@dataclass(frozen=True)
class WebSettings:
    """Settings of the web application, read from the environment when the app is created: the session's
    idle and maximum age, the Secure cookie flag, the trusted reverse proxies, the failed-login limit and the
    public host names (``HOSO_SESSION_*``, ``HOSO_SECURE_COOKIE``, ``HOSO_TRUSTED_PROXIES``,
    ``HOSO_LOGIN_MAX_FAILURES``, ``HOSO_ALLOWED_HOSTS``: see docs/settings.md)."""

    session_idle: dt.timedelta = dt.timedelta(hours=1)
    session_max: dt.timedelta = dt.timedelta(hours=24)
    secure_cookie: bool = False
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    # Failed logins allowed per username (and 10 times that per client address) in a 15-minute window.
    login_max_failures: int = 5
    allowed_hosts: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> WebSettings:
        return cls(
            session_idle=dt.timedelta(minutes=setting("HOSO_SESSION_IDLE_MINUTES", env)),
            session_max=dt.timedelta(hours=setting("HOSO_SESSION_MAX_HOURS", env)),
            secure_cookie=setting("HOSO_SECURE_COOKIE", env),
            trusted_proxies=setting("HOSO_TRUSTED_PROXIES", env),
            login_max_failures=setting("HOSO_LOGIN_MAX_FAILURES", env),
            allowed_hosts=tuple(h.lower() for h in setting("HOSO_ALLOWED_HOSTS", env)),
        )


async def _load_user(rt: Runtime, user_id: int) -> dict | None:
    rows = await rt.db.fetch(f"SELECT {USER_COLUMNS} FROM hoso_user WHERE id = {{}}", user_id)
    return rows[0] if rows else None


async def authenticate(rt: Runtime, username: str, password: str) -> tuple[CurrentUser | None, str | None]:
    """The user whose username and password these are, or None and the reason (for the audit, not the client)."""
    from hoso.users import verify_password

    user_id = await verify_password(rt, username, password)
    if user_id is None:
        return None, "bad_credentials"
    row = await _load_user(rt, user_id)
    reason = may_log_in(row)
    if reason or row is None:  # a missing row has a reason too
        return None, reason
    return user_from_row(row), None


def _now() -> dt.datetime:
    # piccolo_api's SessionsBase compares its (naive) timestamps with datetime.now(): use the same clock.
    return dt.datetime.now()


async def start_session(rt: Runtime, settings: WebSettings, user_id: int) -> str:
    Session = rt.tables.sessions
    now = _now()
    # Sweep sessions that ended, so the table does not grow with every login.
    await Session.delete().where((Session.expiry_date < now) | (Session.max_expiry_date < now))
    max_expiry = now + settings.session_max
    session = await Session.create_session(user_id, expiry_date=min(now + settings.session_idle, max_expiry),
                                           max_expiry_date=max_expiry)
    return session.token


async def session_user(rt: Runtime, settings: WebSettings, token: str | None) -> CurrentUser | None:
    """The user of a live session, sliding its idle expiry forward; None for a missing or ended session."""
    if not token or len(token) > 100:
        return None
    Session = rt.tables.sessions
    # the session, its account and the account's holdings in one statement (a request's first round trip)
    today = local_today()
    held = holdings_join(rt.scope, "u", today)
    rows = await rt.db.fetch(
        f"SELECT s.id AS session_id, s.expiry_date AS expiry_date, s.max_expiry_date AS max_expiry_date, "
        f"{QUALIFIED_USER_COLUMNS}, {HOLDING_COLUMNS} FROM {quote(Session._meta.tablename)} s "
        f"LEFT JOIN hoso_user u ON u.id = s.user_id {held.sql} WHERE s.token = {{}}", *held.args, token)
    if not rows:
        return None
    row = rows[0]
    now = _now()
    if row["expiry_date"] <= now or row["max_expiry_date"] <= now:
        await Session.delete().where(Session.id == row["session_id"])
        return None
    user = row if row["id"] is not None else None
    if user is None or may_log_in(user):
        await Session.delete().where(Session.id == row["session_id"])
        return None
    new_expiry = min(now + settings.session_idle, row["max_expiry_date"])
    # Write only when the expiry moves noticeably, not on every request.
    threshold = min(dt.timedelta(minutes=1), settings.session_idle / 10)
    if new_expiry - row["expiry_date"] > threshold:
        await Session.update({Session.expiry_date: new_expiry}).where(Session.id == row["session_id"])
    return user_with_holdings(rows, today, token)


async def end_session(rt: Runtime, token: str | None) -> None:
    if token and len(token) <= 100:
        await rt.tables.sessions.remove_session(token)


async def write_audit(rt: Runtime, event: AuditEvent) -> None:
    """Audit a change made outside a transaction of its own (a login, a logout, a token)."""
    async with rt.db.transaction():
        await audit.write_audit(rt.pm, rt.db, event)


def _ip(text: str):
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


class AnyConnection(Protocol):
    """A Litestar connection or, in the admin, a Starlette one: both have the peer and the headers."""

    @property
    def client(self) -> Any: ...

    @property
    def headers(self) -> Any: ...


def client_address(connection: AnyConnection, settings: WebSettings) -> str:
    """The client's address: the peer's, or, when the peer is a trusted proxy, the nearest address in
    X-Forwarded-For that is not a trusted proxy (entries further left could be written by anyone)."""
    client = connection.client
    peer = client.host if client and client.host else "unknown"
    trusted = settings.trusted_proxies
    ip = _ip(peer)
    if not trusted or ip is None or not any(ip in net for net in trusted):
        return peer
    headers = connection.headers  # Litestar's (getall) or, in the admin, Starlette's (getlist)
    values = headers.getall("x-forwarded-for", []) if hasattr(headers, "getall") else \
        headers.getlist("x-forwarded-for")
    hops = [h for part in values for h in part.split(",")]
    for hop in reversed(hops):
        ip = _ip(hop)
        if ip is None:
            break  # not written by a proxy of ours
        if not any(ip in net for net in trusted):
            return str(ip)
    return peer


def session_cookie(token: str, settings: WebSettings) -> Cookie:
    return Cookie(key=COOKIE, value=token, path="/", httponly=True, samesite="lax", secure=settings.secure_cookie,
                  max_age=int(settings.session_max.total_seconds()))


# What an account whose password was reset may do until it sets its own: nothing else (403).
PASSWORD_CHANGE_ALLOWS = {("POST", "/api/me/password"), ("GET", "/api/me"), ("POST", "/api/logout"),
                          ("POST", "/logout")}


async def current_user(connection: ASGIConnection) -> CurrentUser | None:
    """The user of this request's session cookie or ``Authorization: Bearer`` token (looked up once per
    request), or None. An account that must change its password gets 403 outside PASSWORD_CHANGE_ALLOWS."""
    state = connection.scope.setdefault("state", {})
    if _STATE_KEY not in state:
        app_state = connection.app.state
        user = await session_user(app_state.rt, app_state.settings, connection.cookies.get(COOKIE))
        if user is None:
            user = await token_user(connection)
        state[_STATE_KEY] = user
    user = state[_STATE_KEY]
    if user is not None and user.token_module is not None:
        from hoso.web.tokens import token_module_allows

        if not token_module_allows(connection.app.state.rt.config, user, connection.scope.get("path") or "/"):
            from litestar.exceptions import PermissionDeniedException

            from hoso.web.problems import msg, request_lang

            raise PermissionDeniedException(detail=msg("token_module_only", request_lang(connection),
                                                       module=user.token_module))
    if user is not None and user.must_change_password and \
            (connection.scope.get("method"), connection.scope.get("path")) not in PASSWORD_CHANGE_ALLOWS:
        from litestar.exceptions import PermissionDeniedException

        from hoso.i18n import t
        from hoso.web.problems import request_lang

        raise PermissionDeniedException(detail=t("pw_change_required", request_lang(connection)))
    return user


def same_origin(connection: ASGIConnection) -> bool:
    """False when the browser says the request comes from another site: its Origin (else Referer) names
    neither the request's Host nor one of ``HOSO_ALLOWED_HOSTS``."""
    from hoso.web.security import origin_allowed

    settings = getattr(connection.app.state, "settings", None)
    return origin_allowed(connection.headers.get("origin"), connection.headers.get("referer"),
                          connection.headers.get("host"), settings.allowed_hosts if settings else ())


def without_nul(value: Any) -> Any:
    """``value`` with NUL characters shown as U+FFFD when it is a string: a database text value cannot hold a
    NUL, and a username holding one matches no account but must still be audited and throttled as sent."""
    return value.replace("\x00", "\ufffd") if isinstance(value, str) else value


def _audit_name(username: Any) -> str:
    """A username as the audit may hold it: text, at most 100 characters, no NUL (PostgreSQL refuses it)."""
    return username[:100].replace("\x00", "\ufffd") if isinstance(username, str) else ""


async def audited_login(rt: Runtime, settings: WebSettings, username: Any, password: Any, origin: str,
                        via: str | None = None) -> tuple[CurrentUser | None, str]:
    """The one login check of the API and the admin: throttle, verify, audit.

    Returns the user and "ok", or None and "throttled" (answer 429) or "refused" (wrong credentials, locked or
    inactive account; answer 401 without saying which). Every attempt is audited, with ``via`` naming the entry
    point when it is not the API.

    The throttle allows ``login_max_failures`` failures per username *and address*, and ten times that per
    address, in 15 minutes. A slot is taken before the password is checked and given back when the login
    succeeds, so parallel attempts cannot all be checked (hoso.users.reserve_attempt); refused attempts take no
    slot. Someone guessing a username's password from one address does not lock its owner out elsewhere.
    """
    from hoso.users import release_attempt, reserve_attempt, sweep_attempts, throttle_bucket

    username = without_nul(username)
    detail = {"@via": via} if via else {}
    actor = _audit_name(username)
    if not (isinstance(username, str) and isinstance(password, str) and username and password):
        await write_audit(rt, AuditEvent("login_failed", "hoso_user", None, None, actor, origin,
                                         {"reason": "missing_credentials", **detail}))
        return None, "refused"
    limit = settings.login_max_failures
    taken: list[str] = []
    for bucket, most in ((throttle_bucket("login", username.casefold(), origin), limit),
                         (throttle_bucket("login-from", origin), 10 * limit)):
        if not await reserve_attempt(rt, bucket, most):
            for earlier in taken:
                await release_attempt(rt, earlier)
            await write_audit(rt, AuditEvent("login_failed", "hoso_user", None, None, actor, origin,
                                             {"reason": "throttled", **detail}))
            return None, "throttled"
        taken.append(bucket)
    user, reason = await authenticate(rt, username, password)
    if user is None:
        await write_audit(rt, AuditEvent("login_failed", "hoso_user", None, None, actor, origin,
                                         {"reason": reason, **detail}))
        return None, "refused"
    for bucket in taken:
        await release_attempt(rt, bucket)
    await sweep_attempts(rt)
    await write_audit(rt, AuditEvent("login", "hoso_user", user.id, user.id, user.username, origin, detail))
    return user, "ok"


async def require_module_token(connection: ASGIConnection, module: str) -> CurrentUser:
    """The request's user when it comes with a token limited to ``module``; 401 without any user, 403 for a
    session or another token (a token of another module, or a token of no module)."""
    from litestar.exceptions import NotAuthorizedException, PermissionDeniedException

    from hoso.web.problems import msg, request_lang

    user = await current_user(connection)
    lang = request_lang(connection)
    if user is None:
        raise NotAuthorizedException(msg("unauthenticated", lang))
    if user.token_module != module:
        raise PermissionDeniedException(msg("token_module_required", lang, module=module))
    return user
