"""API tokens for integrations.

A token acts as one user account (typically a service account with its own role assignments), so it is scoped
exactly like that user. Tokens are created and revoked by those who may manage that account
(``hoso.accounts``), shown once, and stored only as a SHA-256 digest. A locked or inactive account's tokens
stop working at once; so do revoked and expired tokens. Creating, revoking and refusing tokens is audited.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import replace
from typing import TYPE_CHECKING

from litestar.connection import ASGIConnection

from hoso.accounts import require_manages_account
from hoso.audit import AuditEvent, write_audit
from hoso.config import Config
from hoso.modules import path_under
from hoso.scope import HOLDING_COLUMNS, Actor, holdings_join, local_today
from hoso.web.identity import QUALIFIED_USER_COLUMNS, CurrentUser, may_log_in, user_with_holdings

if TYPE_CHECKING:  # pragma: no cover
    from hoso.runtime import Runtime

__all__ = ["create_token", "revoke_token", "list_tokens", "token_user", "TOKEN_PREFIX", "token_module_allows"]

TOKEN_PREFIX = "hoso_"
USE_RECORD_INTERVAL = dt.timedelta(minutes=1)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_token(rt: Runtime, actor: Actor, user_id: int, name: str,
                       expires_on: dt.date | None = None, module: str | None = None) -> tuple[int, str]:
    """A new token for ``user_id``; returns (id, token). The token is not stored and cannot be shown again.

    ``module`` limits the token to that module's routes (``roles_config/modules.yaml``): any other route refuses
    it (403), and a route that asks for a token of its module refuses every other token and session."""
    await require_manages_account(rt, actor, user_id)
    if not name.strip():
        raise ValueError("a token needs a name saying what it is for")
    if module is not None and module not in {m.name for m in rt.config.modules}:
        raise ValueError(f"there is no module {module!r}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = dt.datetime.now(dt.UTC)
    async with rt.db.transaction():
        token_id = await rt.db.fetchval(
            "INSERT INTO hoso_api_token (name, user_id, token_hash, created_by, created_at, expires_on, module) "
            "VALUES ({}, {}, {}, {}, {}, {}, {}) RETURNING id",
            name.strip(), user_id, _digest(token), actor.user_id, now, expires_on, module)
        await write_audit(rt.pm, rt.db, AuditEvent(
            "token.create", "hoso_user", user_id, actor.user_id, actor.username, actor.origin,
            {"token": [None, token_id], "name": [None, name.strip()], "module": [None, module]}))
    return token_id, token


async def revoke_token(rt: Runtime, actor: Actor, token_id: int) -> None:
    user_id = await rt.db.fetchval("SELECT user_id FROM hoso_api_token WHERE id = {}", token_id)
    if user_id is None:
        raise LookupError(f"no token {token_id}")
    if actor.user_id != user_id:
        await require_manages_account(rt, actor, user_id)
    async with rt.db.transaction():
        await rt.db.execute("UPDATE hoso_api_token SET revoked_at = {} WHERE id = {} AND revoked_at IS NULL",
                            dt.datetime.now(dt.UTC), token_id)
        await write_audit(rt.pm, rt.db, AuditEvent(
            "token.revoke", "hoso_user", user_id, actor.user_id, actor.username, actor.origin,
            {"token": [token_id, None]}))


async def list_tokens(rt: Runtime, user_id: int) -> list[dict]:
    return await rt.db.fetch(
        "SELECT id, name, created_at, expires_on, revoked_at, last_used_at, module FROM hoso_api_token "
        "WHERE user_id = {} ORDER BY id", user_id)


async def token_user(connection: ASGIConnection) -> CurrentUser | None:
    """The user of a valid ``Authorization: Bearer`` token, or None."""
    header = connection.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.startswith(TOKEN_PREFIX):
        return None
    rt = connection.app.state.rt
    today = local_today()
    # the token, its account and the account's holdings in one statement (a request's first round trip)
    held = holdings_join(rt.scope, "u", today)
    rows = await rt.db.fetch(
        f"SELECT k.id AS token_id, k.last_used_at AS last_used_at, k.module AS token_module, "
        f"{QUALIFIED_USER_COLUMNS}, {HOLDING_COLUMNS} "
        f"FROM hoso_api_token k JOIN hoso_user u ON u.id = k.user_id {held.sql} WHERE k.token_hash = {{}} "
        "AND k.revoked_at IS NULL AND (k.expires_on IS NULL OR k.expires_on > {})",
        *held.args, _digest(token.strip()), today)
    if not rows or may_log_in(rows[0]) is not None:
        return None
    # Record use at most once a minute: an integration sends many requests at once with one token, and a
    # write on every request would queue them all on the token's row.
    now = dt.datetime.now(dt.UTC)
    last = rows[0]["last_used_at"]
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=dt.UTC)
    if last is None or now - last > USE_RECORD_INTERVAL:
        await rt.db.execute("UPDATE hoso_api_token SET last_used_at = {} WHERE id = {}", now, rows[0]["token_id"])
    user = user_with_holdings(rows, today)
    return replace(user, token_module=rows[0]["token_module"]) if rows[0]["token_module"] else user


def token_module_allows(config: Config, user: CurrentUser | None, path: str) -> bool:
    """Whether a token limited to a module may reach ``path``: only under that module's ``routes``."""
    if user is None or user.token_module is None:
        return True
    module = next((m for m in config.modules if m.name == user.token_module), None)
    return module is not None and any(path_under(path, prefix) for prefix in module.routes)

