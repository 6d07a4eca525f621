"""Accounts, role assignments and API tokens over HTTP: thin wrappers around hoso.accounts and hoso.web.tokens,
which hold every rule (no escalation, no editing one's own assignments, audit of every change)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, Router, get, post
from litestar.exceptions import ClientException, NotFoundException, PermissionDeniedException
from litestar.params import FromQuery, JSONBody, Parameter

from hoso import accounts
from hoso.accounts import PermissionDenied
from hoso.jsonconv import json_ready
from hoso.records.errors import ValidationError
from hoso.users import Throttled, Unknown, UserError
from hoso.web.api import MAX_ID, WriteOptions, request_context, same_site

__all__ = ["accounts_router"]


class AccountWriteOptions(WriteOptions):
    # account actions answer 200 with the changed object, not litestar's 201 for a POST
    status_code: int


WRITE: AccountWriteOptions = {"guards": [same_site], "status_code": 200}

# account, assignment and token ids are 32-bit in the database: larger ones are refused (400) instead of
# failing in the driver
Id = Annotated[int, Parameter(ge=1, le=MAX_ID)]


class NewAccount(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    username: str
    password: str
    unit: str
    display_name: str | None = None
    email: str | None = None
    roles: list[str] = []


class NewAssignment(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    role: str
    unit: str
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None


class EndAssignment(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    ends_on: dt.date | None = None
    reason: str = ""


class Transfer(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    unit: str
    on: dt.date | None = None
    roles: list[str] | None = None
    reason: str = "chuyển công tác"


class Lock(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: str


class PasswordReset(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    temporary_password: str | None = None


class PasswordChange(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    current_password: str
    new_password: str


class NewToken(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    user_id: Annotated[int, msgspec.Meta(ge=1, le=MAX_ID)]
    name: str
    expires_on: dt.date | None = None
    module: str | None = None  # limits the token to that module's routes


async def _actor(request: Request):
    ctx = await request_context(request)
    return request.app.state.rt, ctx.actor


async def _guarded(request: Request, coro) -> Any:
    """Run an account operation; its refusals become problem documents in the request's language."""
    from hoso.web.problems import request_lang

    lang = request_lang(request)
    try:
        return await coro
    except PermissionDenied as exc:
        raise PermissionDeniedException(detail=exc.text(lang)) from None
    except Throttled as exc:
        raise ClientException(status_code=429, detail=exc.text(lang)) from None
    except UserError as exc:
        raise ValidationError([("", exc.text(lang))]) from None
    except ValueError as exc:
        raise ValidationError([("", str(exc))]) from None
    except Unknown as exc:
        raise NotFoundException(detail=exc.text(lang)) from None
    except LookupError as exc:
        raise NotFoundException(detail=str(exc)) from None


@post("/api/users", tags=["accounts"], guards=[same_site], status_code=201)
async def create_account(request: Request, data: JSONBody[NewAccount]) -> dict:
    """Create an account at a unit the caller manages, with roles the caller may grant."""
    rt, actor = await _actor(request)
    uid = await _guarded(request, accounts.create_account(rt, actor, data.username, data.password, data.unit,
                                                          display_name=data.display_name, email=data.email,
                                                          roles=tuple(data.roles)))
    return {"id": uid, "username": data.username}


@get("/api/users/{user_id:int}/assignments", tags=["accounts"])
async def list_assignments(request: Request, user_id: Id, all: FromQuery[bool] = False) -> list[dict]:
    """The account's role assignments (active ones; ?all=true for the whole history)."""
    rt, actor = await _actor(request)
    if actor.user_id != user_id:
        await _guarded(request, accounts.require_manages_account(rt, actor, user_id))
    return json_ready(await accounts.assignments(rt, user_id, actor.today, active_only=not all))


@post("/api/users/{user_id:int}/assignments", tags=["accounts"], guards=[same_site], status_code=201)
async def grant(request: Request, user_id: Id, data: JSONBody[NewAssignment]) -> dict:
    rt, actor = await _actor(request)
    aid = await _guarded(request, accounts.grant_role(rt, actor, user_id, data.role, data.unit,
                                                      starts_on=data.starts_on, ends_on=data.ends_on))
    return {"id": aid}


@post("/api/assignments/{assignment_id:int}/end", tags=["accounts"], **WRITE)
async def end(request: Request, assignment_id: Id, data: JSONBody[EndAssignment]) -> dict:
    rt, actor = await _actor(request)
    ends_on = await _guarded(request, accounts.end_assignment(rt, actor, assignment_id, data.ends_on, data.reason))
    return {"id": assignment_id, "ended": True, "ends_on": ends_on.isoformat()}


@post("/api/users/{user_id:int}/transfer", tags=["accounts"], **WRITE)
async def transfer(request: Request, user_id: Id, data: JSONBody[Transfer]) -> dict:
    """Move a person to another unit ("chuyển công tác"): old assignments end, new ones start."""
    rt, actor = await _actor(request)
    ids = await _guarded(request, accounts.transfer(rt, actor, user_id, data.unit, on=data.on,
                                                    roles=tuple(data.roles) if data.roles is not None else None,
                                                    reason=data.reason))
    return {"assignments": ids}


@post("/api/users/{user_id:int}/lock", tags=["accounts"], **WRITE)
async def lock(request: Request, user_id: Id, data: JSONBody[Lock]) -> dict:
    """Lock an account at once; its sessions end."""
    rt, actor = await _actor(request)
    await _guarded(request, accounts.lock(rt, actor, user_id, data.reason))
    return {"id": user_id, "locked": True}


@post("/api/users/{user_id:int}/unlock", tags=["accounts"], **WRITE)
async def unlock(request: Request, user_id: Id) -> dict:
    rt, actor = await _actor(request)
    await _guarded(request, accounts.unlock(rt, actor, user_id))
    return {"id": user_id, "locked": False}


@post("/api/users/{user_id:int}/reset-password", tags=["accounts"], **WRITE)
async def reset_password(request: Request, user_id: Id, data: JSONBody[PasswordReset]) -> dict:
    """Set a temporary password, returned once; it must be changed at next login."""
    rt, actor = await _actor(request)
    temporary = await _guarded(request, accounts.reset_password(rt, actor, user_id, data.temporary_password))
    return {"id": user_id, "temporary_password": temporary, "must_change_password": True}


@post("/api/me/password", tags=["accounts"], **WRITE)
async def change_password(request: Request, data: JSONBody[PasswordChange]) -> Response:
    """Change one's own password. Every session of the account ends; a request that came with a session
    cookie gets a new one. Wrong current passwords are audited and throttled (429)."""
    from hoso.web.auth import COOKIE, session_cookie, start_session

    rt, actor = await _actor(request)
    settings = request.app.state.settings
    await _guarded(request, accounts.change_own_password(rt, actor.user_id, data.current_password,
                                                         data.new_password, origin=actor.origin,
                                                         max_failures=settings.login_max_failures))
    cookies = []
    if request.cookies.get(COOKIE):
        cookies.append(session_cookie(await start_session(rt, settings, actor.user_id), settings))
    return Response({"changed": True}, cookies=cookies)


@post("/api/tokens", tags=["accounts"], guards=[same_site], status_code=201)
async def create_token(request: Request, data: JSONBody[NewToken]) -> dict:
    """An API token acting as the given account (shown once)."""
    from hoso.web.tokens import create_token as make

    rt, actor = await _actor(request)
    token_id, token = await _guarded(request, make(rt, actor, data.user_id, data.name, data.expires_on,
                                                            data.module))
    return {"id": token_id, "token": token}


@post("/api/tokens/{token_id:int}/revoke", tags=["accounts"], **WRITE)
async def revoke_token(request: Request, token_id: Id) -> dict:
    from hoso.web.tokens import revoke_token as revoke

    rt, actor = await _actor(request)
    await _guarded(request, revoke(rt, actor, token_id))
    return {"id": token_id, "revoked": True}


def accounts_router() -> Router:
    return Router(path="/", route_handlers=[create_account, list_assignments, grant, end, transfer, lock, unlock,
                                            reset_password, change_password, create_token, revoke_token])
