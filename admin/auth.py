"""Admin logins: the same accounts, sessions and rules as the API.

piccolo-admin's own session handling (cookie ``id``, its own expiry rules, ``admin`` flag required) is replaced:

* ``POST /admin/public/login/`` checks the password with ``hoso.web.auth.authenticate`` (inactive and locked
  accounts refused), audits the attempt like ``POST /api/login``, and starts a ``hoso_session`` session (idle
  and absolute expiry from ``WebSettings``) whose cookie also logs the user into the API, and back;
* every ``/admin/api/...`` request is authenticated by ``HosoAuthBackend``, which installs itself in place of
  piccolo_api's ``SessionsAuthBackend`` and asks ``hoso.web.auth.session_user``: an ended session, or one of a
  locked or deactivated account, is refused (401) and removed;
* ``POST /admin/public/logout/`` ends the session; ``POST /admin/api/change-password/`` uses hoso's password
  rules (``hoso.accounts.change_own_password``: strength, throttled and audited wrong current passwords), ends
  every session of the account and gives this browser a new one;
* an account whose password was reset (``must_change_password``) gets 403 from the private API, except the
  password change and what the admin's shell needs to show it; the admin's script then opens the change page.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from piccolo_api.shared.auth import User
from starlette.authentication import AuthCredentials, AuthenticationBackend, AuthenticationError
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response

from hoso.audit import AuditEvent
from hoso.i18n import t
from hoso.modules import names_off
from hoso.records.access import Permissions
from hoso.records.service import RecordContext
from hoso.scope import Actor, holdings_on, local_today
from hoso.web.auth import (
    COOKIE,
    CurrentUser,
    audited_login,
    client_address,
    end_session,
    session_user,
    start_session,
    write_audit,
)

if TYPE_CHECKING:  # pragma: no cover
    from hoso.admin.app import AdminBuild

__all__ = ["AdminUser", "HosoAuthBackend", "auth_error", "PasswordChangeRequired", "LANG_COOKIE", "admin_user",
           "login_endpoint", "logout_endpoint",
           "change_password_endpoint", "request_lang"]

LANG_COOKIE = "hoso_admin_lang"
_SCOPE_KEY = "hoso.admin_user"


def request_lang(conn: HTTPConnection, default: str = "vi") -> str:
    """The language of the admin's interface: the one the user chose in the admin (a cookie), else the default."""
    value = (conn.cookies.get(LANG_COOKIE) or "").strip().lower()
    return value if value in ("vi", "en") else default


class AdminUser(User):
    """The logged-in user of one admin request: the hoso account, its active roles and its record context."""

    def __init__(self, build: AdminBuild, current: CurrentUser, holdings: frozenset[tuple[str, int | None]],
                 lang: str, origin: str, piccolo_user: Any):
        super().__init__(user=piccolo_user)
        self.build = build
        self.current = current
        self.holdings = holdings
        self.roles = {role for role, _unit in holdings}
        self.lang = lang
        self.origin = origin
        # Names owned by modules that are off for this user (hoso.modules): absent from every admin surface.
        self.modules_off: dict[str, frozenset[str]] = {}
        self.ctx = RecordContext(config=build.rt.config, user_id=current.id, user_name=current.username,
                                 origin=origin, lang=lang, superuser=current.superuser)

    @property
    def superuser(self) -> bool:
        return self.current.superuser

    @property
    def actor(self) -> Actor:
        # The holdings loaded for this request: the scope predicate has only the branches of the roles held.
        return replace(self.ctx.actor, holdings=self.holdings)

    @property
    def display_name(self) -> str:
        return self.current.name

    # -- what the roles allow, before looking at rows: the record service's own answer -----------------------
    @property
    def permissions(self) -> Permissions:
        return Permissions(self.build.rt.scope, frozenset(self.roles), self.superuser)

    def may(self, action: str, entity: str) -> bool:
        """Whether a role of the user grants ``action`` on ``entity`` for some rows (statistics never does)."""
        if entity in self.modules_off.get("entities", ()):
            return False
        return self.permissions.may(action, entity)

    def hidden(self, entity: str) -> set[str]:
        return self.permissions.hidden(entity)

    def read_only(self, entity: str) -> set[str]:
        return self.permissions.read_only(entity)


async def _holdings(build: AdminBuild, user_id: int) -> frozenset[tuple[str, int | None]]:
    return await holdings_on(build.rt.db, user_id, local_today())


async def admin_user(conn: HTTPConnection) -> AdminUser | None:
    """The user of a live hoso session on this request (looked up once per request), or None."""
    if _SCOPE_KEY in conn.scope:
        return conn.scope[_SCOPE_KEY]
    build: AdminBuild = conn.scope["hoso.admin"]
    rt, settings = build.rt, build.settings
    current = await session_user(rt, settings, conn.cookies.get(COOKIE))
    user = None
    if current is not None:
        User_ = build.tables.user.table
        # the table class is built at run time from the configuration: its columns are not known statically
        piccolo_user: Any = User_(_ignore_missing=True, id=current.id, username=current.username,
                                  display_name=current.display_name)
        # piccolo-admin's superuser_validators and media storage read these attributes.
        piccolo_user.superuser = current.superuser
        piccolo_user.admin = True
        piccolo_user.active = True
        user = AdminUser(build, current, await _holdings(build, current.id),
                         request_lang(conn, build.admin.default_language), client_address(conn, settings),
                         piccolo_user)
        user.modules_off = await names_off(rt, current)
    conn.scope[_SCOPE_KEY] = user
    return user


class PasswordChangeRequired(AuthenticationError):
    """The account's password was reset: only the password change is open to it."""


# What the admin's private API lets an account whose password was reset do: the change itself, and what the
# admin's shell needs to show the change-password page.
PASSWORD_CHANGE_PATHS = ("/change-password/", "/user/", "/meta/")


class HosoAuthBackend(AuthenticationBackend):
    """Authenticates piccolo-admin's private API with hoso's session cookie and rules."""

    async def authenticate(self, conn: HTTPConnection):
        user = await admin_user(conn)
        if user is None:
            raise AuthenticationError("no live session")
        if user.current.must_change_password and conn.url.path.partition("/api")[2] not in PASSWORD_CHANGE_PATHS:
            raise PasswordChangeRequired("the password must be changed first")
        return AuthCredentials(scopes=["authenticated"]), user


def auth_error(conn: HTTPConnection, exc: Exception) -> Response:
    """piccolo-admin's answer to a refused request (401), or 403 naming the password change, which the
    admin's script (admin/pages.py) opens."""
    if isinstance(exc, PasswordChangeRequired):
        build: AdminBuild = conn.scope["hoso.admin"]
        return JSONResponse({"detail": t("pw_change_required", request_lang(conn, build.admin.default_language)),
                             "must_change_password": True}, status_code=403)
    return JSONResponse({"error": "Auth failed"}, status_code=401)


def _lang(request: Request) -> str:
    build: AdminBuild = request.scope["hoso.admin"]
    return request_lang(request, build.admin.default_language)


async def _body(request: Request) -> dict:
    try:
        body = await request.json()
    except Exception:
        try:
            body = dict(await request.form())
        except Exception:
            body = {}
    return body if isinstance(body, dict) else {}


def _set_session_cookie(response: Response, token: str, build: AdminBuild) -> None:
    settings = build.settings
    response.set_cookie(COOKIE, token, max_age=int(settings.session_max.total_seconds()), path="/", httponly=True,
                        samesite="lax", secure=settings.secure_cookie)


async def login_endpoint(request: Request) -> Response:
    build: AdminBuild = request.scope["hoso.admin"]
    rt, settings = build.rt, build.settings
    lang = _lang(request)
    body = await _body(request)
    username, password = body.get("username"), body.get("password")
    origin = client_address(request, settings)
    if not (isinstance(username, str) and isinstance(password, str) and username and password):
        return JSONResponse({"detail": t("admin_login_fields", lang)}, status_code=422)
    user, outcome = await audited_login(rt, settings, username, password, origin, via="admin")
    if outcome == "throttled":
        return JSONResponse({"detail": t("admin_too_many_logins", lang)}, status_code=429)
    if user is None:
        return JSONResponse({"detail": t("admin_login_failed", lang)}, status_code=401)
    token = await start_session(rt, settings, user.id)
    response = JSONResponse({"user": user.public()})
    _set_session_cookie(response, token, build)
    return response


async def logout_endpoint(request: Request) -> Response:
    build: AdminBuild = request.scope["hoso.admin"]
    rt, settings = build.rt, build.settings
    token = request.cookies.get(COOKIE)
    user = await session_user(rt, settings, token)
    await end_session(rt, token)
    if user is not None:
        await write_audit(rt, AuditEvent("logout", "hoso_user", user.id, user.id, user.username,
                                         client_address(request, settings), {"@via": "admin"}))
    response = JSONResponse({"detail": "ok"})
    response.delete_cookie(COOKIE, path="/")
    return response


async def change_password_endpoint(request: Request) -> Response:
    """hoso's password change: every session of the account ends and this one is replaced by a new session."""
    from hoso.accounts import PermissionDenied, change_own_password
    from hoso.users import Throttled, UserError

    build: AdminBuild = request.scope["hoso.admin"]
    user = await admin_user(request)
    lang = _lang(request)
    if user is None:
        return JSONResponse({"error": "Auth failed"}, status_code=401)
    body = await _body(request)
    current, new, confirm = (body.get("current_password"), body.get("new_password"),
                             body.get("confirm_new_password"))
    if not (isinstance(current, str) and current and isinstance(new, str) and new
            and isinstance(confirm, str) and confirm):
        return JSONResponse({"detail": t("admin_login_fields", lang)}, status_code=422)
    if new != confirm:
        return JSONResponse({"detail": t("password_mismatch", lang)}, status_code=422)
    try:
        await change_own_password(build.rt, user.current.id, current, new, origin=user.origin,
                                  max_failures=build.settings.login_max_failures)
    except Throttled as exc:
        return JSONResponse({"detail": exc.text(lang)}, status_code=429)
    except (PermissionDenied, UserError) as exc:
        return JSONResponse({"detail": exc.text(lang)}, status_code=422)
    response = JSONResponse({"detail": "ok"})
    _set_session_cookie(response, await start_session(build.rt, build.settings, user.current.id), build)
    return response
