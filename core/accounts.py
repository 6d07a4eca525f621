"""Account lifecycle: role assignments, transfers, locking and password resets, without escalation.

Who may manage whom:
- a role whose grants include ``manage_users`` may manage accounts at the units that grant's scope covers
  (``unit``: its own unit and its predecessors, ``subtree``: everything below, ``national``: everywhere);
- it may hand out only the roles listed in its ``can_grant``;
- it may act on an existing account (tokens, password reset, lock, end, transfer, new assignments) only if it
  covers the account's home unit and could itself grant *every* current or future assignment of that account
  (its role at its unit), so a centre cannot lock, reset or re-home a provincial or national account, nor one
  whose national assignment starts tomorrow;
- ending an assignment also needs the right to grant that assignment (its own role at its own unit), and may
  only move its end date earlier: an ended assignment is never re-opened or extended;
- nobody changes their own assignments, lock or password through these functions (``change_own_password``
  is the self-service path).
Every change is audited. Checks are SQL over the unit closure, like record scopes.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import TYPE_CHECKING, Any

from hoso.audit import AuditEvent, write_audit
from hoso.scope import Actor, assignments_of, current_on, local_today, roles_on
from hoso.users import (
    Localised,
    Throttled,
    Unknown,
    UserError,
    check_password,
    create_user,
    release_attempt,
    reserve_attempt,
    throttle_bucket,
    verify_password,
)

if TYPE_CHECKING:  # pragma: no cover
    from hoso.runtime import Runtime

__all__ = ["PermissionDenied", "active_roles", "may_manage_unit", "create_account", "grant_role", "end_assignment",
           "transfer", "lock", "unlock", "reset_password", "change_own_password", "assignments",
           "require_manages_account", "managed_units", "grantable", "manageable_accounts", "read_date"]


class PermissionDenied(Localised):
    pass


def read_date(value: str | None, field: str) -> dt.date | None:
    """A date typed by a user, dd/mm/yyyy (or yyyy-mm-dd, as date inputs send it); empty: None. UserError naming
    ``field`` otherwise."""
    if not value:
        return None
    for pattern in ("%d/%m/%Y", "%Y-%m-%d"):
        try:
            return dt.datetime.strptime(value, pattern).date()
        except ValueError:
            continue
    raise UserError("acct_bad_date", field=field, value=value)


def _date(d: dt.date) -> str:
    return d.strftime("%d/%m/%Y")


async def _audit(rt: Runtime, actor: Actor, action: str, user_id: int | None, changes: dict) -> None:
    event = AuditEvent(action, "hoso_user", user_id, actor.user_id, actor.username, actor.origin, changes)
    await write_audit(rt.pm, rt.db, event)


async def active_roles(rt: Runtime, user_id: int, on: dt.date | None = None) -> set[str]:
    return await roles_on(rt.db, user_id, on or local_today())


async def assignments(rt: Runtime, user_id: int, on: dt.date | None = None, active_only: bool = True) -> list[dict]:
    on = on or local_today()
    sql = ("SELECT a.id, a.role, a.unit_id, u.code AS unit_code, a.starts_on, a.ends_on, a.end_reason "
           "FROM hoso_assignment a JOIN hoso_unit u ON u.id = a.unit_id WHERE a.user_id = {}")
    args: list[Any] = [user_id]
    if active_only:
        current = current_on(on)
        sql += f" AND {current.sql}"
        args += current.args
    return await rt.db.fetch(sql + " ORDER BY a.id", *args)


def _managing_roles(rt: Runtime, role_to_grant: str | None) -> dict[str, list[str]]:
    """scope -> names of roles that may manage users (and grant ``role_to_grant``, when given)."""
    out: dict[str, list[str]] = {}
    for role in rt.config.roles:
        if role_to_grant is not None and role_to_grant not in role.can_grant:
            continue
        for g in role.grants:
            if "manage_users" in g.actions and g.scope in ("unit", "subtree", "national"):
                if role.name not in out.setdefault(g.scope, []):
                    out[g.scope].append(role.name)
    return out


async def may_manage_unit(rt: Runtime, actor: Actor, unit_id: int, role_to_grant: str | None = None) -> bool:
    """Whether ``actor`` may manage accounts at ``unit_id`` (and grant ``role_to_grant`` there)."""
    if actor.superuser:
        return True
    if actor.user_id is None:
        return False
    today = actor.today
    for scope, roles in _managing_roles(rt, role_to_grant).items():
        marks = ", ".join("{}" for _ in roles)
        mine = assignments_of(actor.user_id, today)
        active = f"{mine.sql} AND a.role IN ({marks})"
        args = [*mine.args, *roles]
        if scope == "national":
            found = await rt.db.fetchval(f"SELECT 1 AS ok FROM hoso_assignment a WHERE {active} LIMIT 1", *args)
        else:
            depth = " AND c.depth = 0" if scope == "unit" else ""
            found = await rt.db.fetchval(
                f"SELECT 1 AS ok FROM hoso_assignment a JOIN hoso_unit_closure c ON c.ancestor_id = a.unit_id "
                f"WHERE {active} AND c.descendant_id = {{}}{depth} LIMIT 1", *args, unit_id)
        if found:
            return True
    return False


async def managed_units(rt: Runtime, actor: Actor, role_to_grant: str | None = None, *,
                        open_only: bool = True) -> list[dict]:
    """The units at which ``actor`` may manage accounts (and grant ``role_to_grant``): ``may_manage_unit`` asked
    of every unit at once, ordered by code (``id``, ``code``, ``name_vi``, ``name_en``); ``open_only``: without
    the units closed by a restructuring (nothing is granted there)."""
    columns = "u.id AS id, u.code AS code, u.name_vi AS name_vi, u.name_en AS name_en"
    is_open = " AND u.valid_to IS NULL" if open_only else ""
    if actor.superuser:
        return await rt.db.fetch(f"SELECT {columns} FROM hoso_unit u WHERE 1 = 1{is_open} ORDER BY u.code")
    if actor.user_id is None:
        return []
    found: dict[int, dict] = {}
    for scope, roles in _managing_roles(rt, role_to_grant).items():
        marks = ", ".join("{}" for _ in roles)
        mine = assignments_of(actor.user_id, actor.today)
        active = f"{mine.sql} AND a.role IN ({marks})"
        args = [*mine.args, *roles]
        if scope == "national":
            held = await rt.db.fetchval(f"SELECT 1 AS ok FROM hoso_assignment a WHERE {active} LIMIT 1", *args)
            rows = await rt.db.fetch(f"SELECT {columns} FROM hoso_unit u WHERE 1 = 1{is_open}") if held else []
        else:
            depth = " AND c.depth = 0" if scope == "unit" else ""
            rows = await rt.db.fetch(
                f"SELECT DISTINCT {columns} FROM hoso_assignment a JOIN hoso_unit_closure c ON c.ancestor_id = "
                f"a.unit_id JOIN hoso_unit u ON u.id = c.descendant_id WHERE {active}{depth}{is_open}", *args)
        found.update((r["id"], dict(r)) for r in rows)
    return sorted(found.values(), key=lambda r: r["code"])


async def grantable(rt: Runtime, actor: Actor) -> dict[str, list[dict]]:
    """role -> the open units at which ``actor`` may grant it (roles it may grant nowhere are left out), in the
    configuration's order of roles."""
    out: dict[str, list[dict]] = {}
    for role in rt.config.roles:
        units = await managed_units(rt, actor, role.name)
        if units:
            out[role.name] = units
    return out


async def manageable_accounts(rt: Runtime, actor: Actor, search: str = "", limit: int = 200,
                              after: str | None = None) -> list[dict]:
    """The accounts whose home unit ``actor`` manages (all of them for a superuser), matching ``search`` (words
    of the username, display name or e-mail, ignoring case and diacritics), by username, at most ``limit``;
    ``after``: only usernames after this one (the next page).

    Acting on one still asks ``require_manages_account``: an account may hold a role the actor may not grant."""
    from hoso.db import fold
    from hoso.records.search import fold_sql, like_pattern

    where: list[str] = ["u.superuser = {}"]
    args: list[Any] = [False]
    if not actor.superuser:
        # units closed by a restructuring keep their accounts until they are transferred
        ids = [u["id"] for u in await managed_units(rt, actor, open_only=False)]
        if not ids:
            return []
        where.append("u.unit_id IN ({})".format(", ".join("{}" for _ in ids)))
        args += ids
    for word in fold(search).split():
        text = " || ' ' || ".join(f"COALESCE({c}, '')" for c in ("u.username", "u.display_name", "u.email"))
        where.append(f"{fold_sql('(' + text + ')')} LIKE {{}} ESCAPE '\\'")
        args.append(like_pattern(word))
    if after:
        where.append("u.username > {}")
        args.append(after)
    return await rt.db.fetch(
        "SELECT u.id AS id, u.username AS username, u.display_name AS display_name, u.email AS email, "
        "u.locked AS locked, u.active AS active, u.must_change_password AS must_change_password, "
        "n.code AS unit_code, n.name_vi AS unit_name_vi, n.name_en AS unit_name_en "
        "FROM hoso_user u LEFT JOIN hoso_unit n ON n.id = u.unit_id "
        f"WHERE {' AND '.join(where)} ORDER BY u.username LIMIT {int(limit)}", *args)


async def _unit_id(rt: Runtime, code: str) -> int:
    from hoso.units import UnitCodeError, resolve_unit_code

    try:  # an old, recoded code leads to its unit; a closed unit is refused naming its successor
        unit, _note = await resolve_unit_code(rt.db, code)
    except UnitCodeError as exc:
        raise UserError(str(exc)) from None
    return unit["id"]


async def _user(rt: Runtime, user_id: int) -> dict:
    rows = await rt.db.fetch("SELECT id, username, unit_id, locked, superuser FROM hoso_user WHERE id = {}", user_id)
    if not rows:
        raise UserError("acct_no_user", id=user_id)
    return rows[0]


async def _unit_code(rt: Runtime, unit_id: int) -> str:
    return await rt.db.fetchval("SELECT code FROM hoso_unit WHERE id = {}", unit_id) or str(unit_id)


async def _pending_assignments(rt: Runtime, user_id: int, today: dt.date) -> list[dict]:
    """Assignments of ``user_id`` that are current or start later (not ended by ``today``)."""
    return await rt.db.fetch(
        "SELECT a.id, a.role, a.unit_id, u.code AS unit_code, a.starts_on, a.ends_on FROM hoso_assignment a "
        "JOIN hoso_unit u ON u.id = a.unit_id WHERE a.user_id = {} AND (a.ends_on IS NULL OR a.ends_on > {}) "
        "AND (a.ends_on IS NULL OR a.ends_on > a.starts_on) ORDER BY a.id", user_id, today)


async def require_manages_account(rt: Runtime, actor: Actor, user_id: int) -> dict:
    """The target account, if ``actor`` covers all of it; PermissionDenied otherwise.

    All of it: the home unit, and every assignment that is current *or starts later*, judged on its own role
    at its own unit. A future assignment counts because it will give the account its powers without anyone
    acting again: a centre must not mint a token today for tomorrow's national administrator.
    """
    if actor.user_id is not None and actor.user_id == user_id and not actor.superuser:
        raise PermissionDenied("acct_own")
    target = await _user(rt, user_id)
    if actor.superuser:
        return target
    if target["superuser"]:
        raise PermissionDenied("acct_superuser")
    pending = await _pending_assignments(rt, user_id, actor.today)
    if target["unit_id"] is None and not pending:
        raise PermissionDenied("acct_no_unit", username=target["username"])
    if target["unit_id"] is not None and not await may_manage_unit(rt, actor, target["unit_id"]):
        raise PermissionDenied("acct_home_unit", username=target["username"],
                               unit=await _unit_code(rt, target["unit_id"]))
    for a in pending:
        if not await may_manage_unit(rt, actor, a["unit_id"], a["role"]):
            if a["starts_on"] > actor.today:
                raise PermissionDenied("acct_holds_future", username=target["username"], role=a["role"],
                                       unit=a["unit_code"], date=_date(a["starts_on"]))
            raise PermissionDenied("acct_holds", username=target["username"], role=a["role"], unit=a["unit_code"])
    return target


async def create_account(rt: Runtime, actor: Actor, username: str, password: str, unit_code: str, *,
                         display_name: str | None = None, email: str | None = None,
                         roles: tuple[str, ...] = (), starts_on: dt.date | None = None) -> int:
    """Create an account at a unit the actor manages, with optional role assignments there."""
    unit_id = await _unit_id(rt, unit_code)
    if not await may_manage_unit(rt, actor, unit_id):
        raise PermissionDenied("acct_may_not_create", unit=unit_code)
    for role in roles:
        if not await may_manage_unit(rt, actor, unit_id, role):
            raise PermissionDenied("acct_may_not_grant", role=role, unit=unit_code)
    async with rt.db.transaction():
        uid = await create_user(rt, username, password, email=email, display_name=display_name,
                                unit_code=unit_code, actor=actor.username, actor_id=actor.user_id, origin=actor.origin)
        for role in roles:
            await _insert_assignment(rt, actor, uid, role, unit_id, starts_on or actor.today, None)
    return uid


async def _insert_assignment(rt, actor, user_id, role, unit_id, starts_on, ends_on) -> int:
    try:
        rt.config.role(role)
    except KeyError:
        raise UserError("acct_no_role", role=role) from None
    if ends_on is not None and ends_on <= starts_on:
        raise UserError("acct_end_not_after_start")
    aid = await rt.db.fetchval(
        "INSERT INTO hoso_assignment (user_id, role, unit_id, starts_on, ends_on, granted_by, created_at) "
        "VALUES ({}, {}, {}, {}, {}, {}, {}) RETURNING id",
        user_id, role, unit_id, starts_on, ends_on, actor.user_id, dt.datetime.now(dt.UTC))
    await _audit(rt, actor, "assignment.grant", user_id, {"role": [None, role], "unit_id": [None, unit_id],
                                                          "starts_on": [None, starts_on.isoformat()],
                                                          "ends_on": [None, ends_on.isoformat() if ends_on else None]})
    return aid


async def grant_role(rt: Runtime, actor: Actor, user_id: int, role: str, unit_code: str, *,
                     starts_on: dt.date | None = None, ends_on: dt.date | None = None) -> int:
    """Assign ``role`` at ``unit_code`` to a user, between dates."""
    if actor.user_id is not None and actor.user_id == user_id and not actor.superuser:
        raise PermissionDenied("acct_own")
    unit_id = await _unit_id(rt, unit_code)
    if not await may_manage_unit(rt, actor, unit_id, role):
        raise PermissionDenied("acct_may_not_grant", role=role, unit=unit_code)
    await require_manages_account(rt, actor, user_id)
    async with rt.db.transaction():
        return await _insert_assignment(rt, actor, user_id, role, unit_id, starts_on or actor.today, ends_on)


async def end_assignment(rt: Runtime, actor: Actor, assignment_id: int, ends_on: dt.date | None = None,
                         reason: str = "") -> dt.date:
    """End an assignment on ``ends_on`` (default: today; a future assignment is cancelled: it ends the day it
    starts). Returns the end date.

    An end date only ever moves earlier: an ended assignment cannot be re-opened or extended (that would be a
    grant, which ``grant_role`` checks), and a date before the start is refused rather than changed.
    """
    rows = await rt.db.fetch(
        "SELECT a.user_id, a.role, a.unit_id, u.code AS unit_code, a.starts_on, a.ends_on FROM hoso_assignment a "
        "JOIN hoso_unit u ON u.id = a.unit_id WHERE a.id = {}", assignment_id)
    if not rows:
        raise Unknown("acct_no_assignment", id=assignment_id)
    a = rows[0]
    await require_manages_account(rt, actor, a["user_id"])
    if not await may_manage_unit(rt, actor, a["unit_id"], a["role"]):
        raise PermissionDenied("acct_assignment_role", id=assignment_id, role=a["role"], unit=a["unit_code"])
    if ends_on is None:
        ends_on = max(actor.today, a["starts_on"])
    elif ends_on < a["starts_on"]:
        raise UserError("acct_end_before_start", id=assignment_id, date=_date(ends_on), start=_date(a["starts_on"]))
    if a["ends_on"] is not None and ends_on >= a["ends_on"]:
        raise UserError("acct_end_later", id=assignment_id, current=_date(a["ends_on"]))
    async with rt.db.transaction():
        # The condition repeats the check inside the write, so a concurrent end cannot be undone by this one.
        done = await rt.db.fetch(
            "UPDATE hoso_assignment SET ends_on = {}, end_reason = {} WHERE id = {} "
            "AND (ends_on IS NULL OR ends_on > {}) RETURNING id", ends_on, reason or None, assignment_id, ends_on)
        if not done:
            raise UserError("acct_end_later", id=assignment_id, current=_date(a["ends_on"] or ends_on))
        await _audit(rt, actor, "assignment.end", a["user_id"], {"assignment": [assignment_id, assignment_id],
                                                                  "ends_on": [a["ends_on"] and a["ends_on"].isoformat(),
                                                                              ends_on.isoformat()],
                                                                  "reason": [None, reason or None]})
    return ends_on


async def transfer(rt: Runtime, actor: Actor, user_id: int, to_unit_code: str, *, on: dt.date | None = None,
                   roles: tuple[str, ...] | None = None, reason: str = "chuyển công tác") -> list[int]:
    """Move a person to another unit: old assignments end on ``on``, new ones start there.

    Records keep their author; only the scope changes. ``roles`` defaults to the roles held before.
    """
    on = on or actor.today
    target = await require_manages_account(rt, actor, user_id)
    to_unit = await _unit_id(rt, to_unit_code)
    current = await assignments(rt, user_id, on)
    new_roles = tuple(roles) if roles is not None else tuple(dict.fromkeys(a["role"] for a in current))
    for role in new_roles:
        if not await may_manage_unit(rt, actor, to_unit, role):
            raise PermissionDenied("acct_may_not_grant", role=role, unit=to_unit_code)
    # ``on`` may lie in the past: an assignment that was active then has ended since, and is judged on its own.
    for a in current:
        if not await may_manage_unit(rt, actor, a["unit_id"], a["role"]):
            raise PermissionDenied("acct_assignment_role", id=a["id"], role=a["role"], unit=a["unit_code"])
    async with rt.db.transaction():
        for a in current:
            # Only ever earlier: ``on`` is before the end of an assignment active on ``on``.
            await rt.db.execute("UPDATE hoso_assignment SET ends_on = {}, end_reason = {} WHERE id = {} "
                                "AND (ends_on IS NULL OR ends_on > {})", on, reason, a["id"], on)
        new_ids = [await _insert_assignment(rt, actor, user_id, role, to_unit, on, None) for role in new_roles]
        await rt.db.execute("UPDATE hoso_user SET unit_id = {} WHERE id = {}", to_unit, user_id)
        await _audit(rt, actor, "user.transfer", user_id, {
            "unit_id": [target["unit_id"], to_unit], "ended_assignments": [None, [a["id"] for a in current]],
            "on": [None, on.isoformat()], "reason": [None, reason]})
    return new_ids


async def _end_sessions(rt: Runtime, user_id: int) -> None:
    await rt.db.execute("DELETE FROM hoso_session WHERE user_id = {}", user_id)


async def lock(rt: Runtime, actor: Actor, user_id: int, reason: str) -> None:
    """Lock an account at once: it cannot log in and every open session ends."""
    await require_manages_account(rt, actor, user_id)
    async with rt.db.transaction():
        await rt.db.execute("UPDATE hoso_user SET locked = {} WHERE id = {}", True, user_id)
        await _end_sessions(rt, user_id)
        await _audit(rt, actor, "user.lock", user_id, {"locked": [False, True], "reason": [None, reason]})


async def unlock(rt: Runtime, actor: Actor, user_id: int) -> None:
    await require_manages_account(rt, actor, user_id)
    async with rt.db.transaction():
        await rt.db.execute("UPDATE hoso_user SET locked = {} WHERE id = {}", False, user_id)
        await _audit(rt, actor, "user.unlock", user_id, {"locked": [True, False]})


async def reset_password(rt: Runtime, actor: Actor, user_id: int, temporary: str | None = None) -> str:
    """Set a temporary password that must be changed at next login. Returns it.

    Whoever knew the old password may hold a session or have minted tokens: every session of the account ends
    and every API token it has is revoked (integrations get new ones from whoever manages the account).
    """
    target = await require_manages_account(rt, actor, user_id)
    temporary = temporary or secrets.token_urlsafe(12)
    check_password(temporary, target["username"])
    User = rt.tables.users
    async with rt.db.transaction():
        await rt.db.execute("UPDATE hoso_user SET password = {}, must_change_password = {} WHERE id = {}",
                            User.hash_password(temporary), True, user_id)
        await _end_sessions(rt, user_id)
        revoked = await rt.db.fetch("UPDATE hoso_api_token SET revoked_at = {} WHERE user_id = {} "
                                    "AND revoked_at IS NULL RETURNING id", dt.datetime.now(dt.UTC), user_id)
        await _audit(rt, actor, "user.password_reset", user_id, {
            "must_change_password": [None, True], "revoked_tokens": [None, sorted(r["id"] for r in revoked)]})
    return temporary


async def change_own_password(rt: Runtime, user_id: int, old: str, new: str, origin: str = "web", *,
                              max_failures: int = 5) -> None:
    """Change one's own password, knowing the current one. Every session of the account ends: the caller
    starts a new one for the request that changed it.

    Wrong current passwords are audited and throttled like logins (``max_failures`` per account in 15
    minutes; then Throttled), so a stolen session is no password oracle.
    """
    rows = await rt.db.fetch("SELECT username, display_name, email FROM hoso_user WHERE id = {}", user_id)
    if not rows:
        raise PermissionDenied("pw_wrong")
    username = rows[0]["username"]
    me = Actor(user_id, username, origin=origin)
    bucket = throttle_bucket("password", str(user_id))
    if not await reserve_attempt(rt, bucket, max_failures):
        await _audit(rt, me, "password_change_failed", user_id, {"reason": [None, "throttled"]})
        raise Throttled("pw_throttled")
    if await verify_password(rt, username, old) != user_id:
        await _audit(rt, me, "password_change_failed", user_id, {"reason": [None, "bad_credentials"]})
        raise PermissionDenied("pw_wrong")
    await release_attempt(rt, bucket)
    if new == old:
        raise UserError("pw_same")
    check_password(new, username, rows[0]["display_name"], rows[0]["email"])
    User = rt.tables.users
    async with rt.db.transaction():
        await rt.db.execute("UPDATE hoso_user SET password = {}, must_change_password = {} WHERE id = {}",
                            User.hash_password(new), False, user_id)
        await _end_sessions(rt, user_id)
        await _audit(rt, me, "user.password_change", user_id, {"must_change_password": [None, False]})
