"""Who may see and change which records: one SQL predicate per (user, action, entity), deny by default.

A user holds role assignments, each at a unit and between dates. A role grants actions on an entity with a
scope. The predicate is computed in the database: the user's active assignments are joined to the unit closure
(the units reachable from a unit down the tree and, through lineage, to the units merged into it), so a user of a
merged province sees its predecessors' records and no list of ids is ever built in Python.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hoso.config import Config, EntityDef
from hoso.db import Database, quote
from hoso.i18n import LOCAL_ZONE, local_today
from hoso.model.tables import SCOPE_COLUMN

if TYPE_CHECKING:  # pragma: no cover
    pass

__all__ = ["Actor", "Predicate", "ScopeRules", "rebuild_closure", "SYSTEM_ACTOR", "ScopeDenied", "current_on",
           "assignments_of", "roles_on", "holdings_on", "effective_unit", "units_under", "MAX_BOUND_UNITS",
           "load_holdings", "holdings_join", "holdings_of", "HOLDING_COLUMNS", "LOCAL_ZONE", "local_today"]

# Longest chain of tree and lineage edges followed when building the closure.
MAX_CLOSURE_STEPS = 64
# Scopes by name; a grant may also give {field: F, to: E.G} (GrantDef.link), keyed "link:F:E.G".
SCOPES = ("own", "assigned", "unit", "subtree", "statistics", "national")
# Actions that read numbers, not rows: a "statistics" grant of them counts the records of its assignment's subtree.
AGGREGATE_ACTIONS = ("run_reports",)


class ScopeDenied(Exception):
    """The actor may not do this; the message says which action on which entity."""


@dataclass(frozen=True)
class Actor:
    """Who is acting. ``superuser`` passes every check (the bootstrap national administrator account)."""

    user_id: int | None
    username: str = "system"
    superuser: bool = False
    origin: str = "cli"
    lang: str = "vi"
    # The date at which assignments are judged (today by default): background jobs keep their requester's date.
    on: dt.date | None = None
    # The (role, unit id) pairs of the user's assignments current on ``today``, when the caller loaded them
    # (``holdings_on``): the predicate then has only the branches of the roles held, with the units as bound
    # values, which the planner can match to the index on the effective unit. None: judged in SQL.
    holdings: frozenset[tuple[str, int | None]] | None = None
    # The units under the held units, as (held unit, unit under it, depth) rows of the closure, when the caller
    # loaded them (``units_under``): the predicate then names the units themselves, so a page of one unit is a
    # range of the list indexes that start with the effective unit. None: looked up in SQL.
    closure: frozenset[tuple[int, int, int]] | None = None

    @property
    def today(self) -> dt.date:
        return self.on or local_today()


SYSTEM_ACTOR = Actor(None, "system", superuser=True)


@dataclass(frozen=True)
class Predicate:
    """An SQL boolean expression with ``{}`` placeholders and its arguments."""

    sql: str
    args: tuple[Any, ...] = ()

    @classmethod
    def true(cls) -> Predicate:
        return cls("1 = 1")

    @classmethod
    def false(cls) -> Predicate:
        return cls("1 = 0")

    @property
    def is_false(self) -> bool:
        return self.sql == "1 = 0"

    def and_(self, other: Predicate) -> Predicate:
        return Predicate(f"({self.sql}) AND ({other.sql})", self.args + other.args)


def _or(parts: list[Predicate]) -> Predicate:
    if any(p.sql == "1 = 1" for p in parts):
        return Predicate.true()
    parts = [p for p in parts if not p.is_false]
    if not parts:
        return Predicate.false()
    if len(parts) == 1:
        return parts[0]
    return Predicate(" OR ".join(f"({p.sql})" for p in parts), tuple(a for p in parts for a in p.args))


def current_on(on: dt.date, alias: str = "a") -> Predicate:
    """Rows of ``hoso_assignment`` (under ``alias``) current on ``on``: begun on or before it, not ended by it
    (``ends_on`` is the first day without the role). The one definition of a current assignment, for scopes,
    roles, account management, the API and the admin."""
    return Predicate(f"{alias}.starts_on <= {{}} AND ({alias}.ends_on IS NULL OR {alias}.ends_on > {{}})", (on, on))


def assignments_of(user_id: int | None, on: dt.date, alias: str = "a") -> Predicate:
    """The assignments of ``user_id`` current on ``on`` (rows of ``hoso_assignment`` under ``alias``)."""
    current = current_on(on, alias)
    return Predicate(f"{alias}.user_id = {{}} AND {current.sql}", (user_id, *current.args))


async def holdings_on(db: Database, user_id: int, on: dt.date) -> frozenset[tuple[str, int | None]]:
    """The (role, unit id) pairs of the assignments ``user_id`` holds on ``on``."""
    mine = assignments_of(user_id, on)
    rows = await db.fetch(f"SELECT DISTINCT a.role AS role, a.unit_id AS unit_id FROM hoso_assignment a "
                          f"WHERE {mine.sql}", *mine.args)
    return frozenset((r["role"], None if r["unit_id"] is None else int(r["unit_id"])) for r in rows)


async def roles_on(db: Database, user_id: int, on: dt.date) -> set[str]:
    """The roles ``user_id`` holds on ``on``, wherever they hold them."""
    mine = assignments_of(user_id, on)
    rows = await db.fetch(f"SELECT DISTINCT a.role AS role FROM hoso_assignment a WHERE {mine.sql}", *mine.args)
    return {r["role"] for r in rows}


# Most units a predicate names as values; a user holding a unit with more under it is judged through the closure.
MAX_BOUND_UNITS = 2000


async def units_under(db: Database, holdings: frozenset[tuple[str, int | None]]
                      ) -> frozenset[tuple[int, int, int]] | None:
    """The closure rows (held unit, unit under it, depth) of the units in ``holdings``, or None when there are
    more than MAX_BOUND_UNITS of them."""
    held = sorted({u for _r, u in holdings if u is not None})
    if not held:
        return frozenset()
    marks = ", ".join("{}" for _ in held)
    rows = await db.fetch(f"SELECT c.ancestor_id AS a, c.descendant_id AS d, c.depth AS depth FROM hoso_unit_closure c "
                          f"WHERE c.ancestor_id IN ({marks}) LIMIT {MAX_BOUND_UNITS + 1}", *held)
    if len(rows) > MAX_BOUND_UNITS:
        return None
    return frozenset((int(r["a"]), int(r["d"]), int(r["depth"])) for r in rows)


# What ``holdings_join`` adds to a statement's columns; ``holdings_of`` reads it back from the rows.
HOLDING_COLUMNS = "a.role AS h_role, a.unit_id AS h_unit, c.descendant_id AS h_d, c.depth AS h_depth"

Holdings = frozenset[tuple[str, int | None]]
Closure = frozenset[tuple[int, int, int]]


def holdings_join(rules: ScopeRules, user: str, on: dt.date) -> Predicate:
    """LEFT JOINs, for the account of alias ``user``, of the assignments it holds on ``on`` (alias ``a``) and of
    the closure rows under the units of the roles whose grants reach rows through units (alias ``c``: a unit,
    subtree, statistics or linked scope; a national role's units need none). A statement that reads the account
    (its token or session) reads its holdings with it: select ``HOLDING_COLUMNS``, read them with
    ``holdings_of``."""
    current, reach = current_on(on, "a"), _closure_join(rules)
    return Predicate(f"LEFT JOIN hoso_assignment a ON a.user_id = {user}.id AND {current.sql} {reach.sql}",
                     (*current.args, *reach.args))


def _closure_join(rules: ScopeRules) -> Predicate:
    """LEFT JOIN (alias ``c``) of the closure rows under the unit of assignment ``a`` when its role reaches rows
    through units."""
    roles = sorted(rules.unit_roles)
    reach = f"a.role IN ({', '.join('{}' for _ in roles)})" if roles else "1 = 0"
    return Predicate(f"LEFT JOIN hoso_unit_closure c ON c.ancestor_id = a.unit_id AND {reach}", tuple(roles))


def holdings_of(rows: list[dict]) -> tuple[Holdings, Closure | None]:
    """The (role, unit id) holdings and the closure rows (held unit, unit under it, depth) of the rows of a
    statement with ``holdings_join``; the closure is None when it names more than MAX_BOUND_UNITS units."""
    held = frozenset((r["h_role"], None if r["h_unit"] is None else int(r["h_unit"])) for r in rows
                     if r["h_role"] is not None)
    closure = frozenset((int(r["h_unit"]), int(r["h_d"]), int(r["h_depth"])) for r in rows if r["h_d"] is not None)
    return held, (None if len({(a, d) for a, d, _ in closure}) > MAX_BOUND_UNITS else closure)


async def load_holdings(db: Database, rules: ScopeRules, user_id: int, on: dt.date) -> tuple[Holdings, Closure | None]:
    """``holdings_on`` and ``units_under`` in one statement (see ``holdings_join``)."""
    reach, mine = _closure_join(rules), assignments_of(user_id, on)
    rows = await db.fetch(f"SELECT {HOLDING_COLUMNS} FROM hoso_assignment a {reach.sql} WHERE {mine.sql}",
                          *reach.args, *mine.args)
    return holdings_of(rows)


def _within_units(entity: EntityDef, alias: str, units: list[int], own_only: bool,
                  closure: frozenset[tuple[int, int, int]] | None = None) -> Predicate:
    """Rows whose effective unit lies under one of ``units`` (at depth 0 only, for ``own_only``); with the
    ``closure`` rows of those units, the units under them are named as values."""
    if not units:
        return Predicate.false()
    if closure is not None:
        held = set(units)
        under = sorted({d for a, d, depth in closure if a in held and (depth == 0 or not own_only)})
        if not under:
            return Predicate.false()
        return Predicate(f"{effective_unit(entity, alias)} IN ({', '.join('{}' for _ in under)})", tuple(under))
    marks = ", ".join("{}" for _ in units)
    depth = " AND c.depth = 0" if own_only else ""
    return Predicate(f"{effective_unit(entity, alias)} IN (SELECT c.descendant_id FROM hoso_unit_closure c "
                     f"WHERE c.ancestor_id IN ({marks}){depth})", tuple(units))


def _aggregate(scope: str, action: str) -> bool:
    """A statistics grant of an aggregate action: the records of the assignment's subtree, as numbers only."""
    return scope == "statistics" and action in AGGREGATE_ACTIONS


def effective_unit(entity: EntityDef, alias: str | None = None) -> str:
    """SQL for the unit a record answers to: the one a split gave it (``sys_scope_unit``), else its unit field.
    ``entity`` must have a unit field."""
    if entity.unit_field is None:
        raise ValueError(f"entity {entity.name!r} has no unit field")
    prefix = f"{alias}." if alias else ""
    return f"COALESCE({prefix}{quote(SCOPE_COLUMN)}, {prefix}{quote(entity.unit_field)})"


class ScopeRules:
    """The roles of a configuration, indexed for predicate building."""

    def __init__(self, config: Config, plugin_rules: dict | None = None):
        self.config = config
        self.plugin_rules = plugin_rules or {}  # scope name -> hoso.plugin_types.ScopeRule (hoso_scope_rules)
        # (entity, action) -> scope -> role names
        self._roles: dict[tuple[str, str], dict[str, list[str]]] = {}
        for role in config.roles:
            for grant in role.grants:
                for action in grant.actions:
                    by_scope = self._roles.setdefault((grant.entity, action), {})
                    by_scope.setdefault(grant.scope_key, [])
                    if role.name not in by_scope[grant.scope_key]:
                        by_scope[grant.scope_key].append(role.name)
        # Roles with a grant that reaches rows through the units the role is held at (``load_holdings``).
        self.unit_roles = frozenset(
            role.name for role in config.roles for grant in role.grants
            if grant.scope_key in ("unit", "subtree", "statistics") or grant.scope_key.startswith("link:"))

    def roles_for(self, entity: str, action: str) -> dict[str, list[str]]:
        return self._roles.get((entity, action), {})

    def hidden_fields(self, roles: set[str], entity: str) -> set[str]:
        """Fields hidden from a user holding ``roles``: hidden only if every granting role hides it."""
        grants = [g for r in self.config.roles if r.name in roles for g in r.grants if g.entity == entity
                  and "read" in g.actions]
        if not grants:
            return set()
        hidden = set(grants[0].hidden_fields)
        for g in grants[1:]:
            hidden &= set(g.hidden_fields)
        return hidden

    def read_only_fields(self, roles: set[str], entity: str) -> set[str]:
        grants = [g for r in self.config.roles if r.name in roles for g in r.grants if g.entity == entity
                  and "update" in g.actions]
        if not grants:
            return set()
        ro = set(grants[0].read_only_fields)
        for g in grants[1:]:
            ro &= set(g.read_only_fields)
        return ro

    def predicate(self, actor: Actor, action: str, entity: EntityDef, alias: str = "t") -> Predicate:
        """Rows of ``entity`` on which ``actor`` may do ``action``, as SQL over table alias ``alias``.

        Deny by default: without a rule the predicate is false. ``statistics`` scope never yields rows: for an
        aggregate action (``run_reports``) it selects the records its assignment's subtree counts, which only
        ever reach a user as numbers.
        """
        if actor.superuser:
            return Predicate.true()
        if actor.user_id is None:
            return Predicate.false()
        if actor.holdings is not None:
            return self._held_predicate(actor.user_id, actor.holdings, action, entity, alias, actor.closure)
        today = actor.today
        by_scope = self.roles_for(entity.name, action)
        parts: list[Predicate] = []
        for scope, roles in by_scope.items():
            marks = ", ".join("{}" for _ in roles)
            mine = assignments_of(actor.user_id, today)
            active = (mine.sql + f" AND a.role IN ({marks})", (*mine.args, *roles))
            if scope == "national":
                parts.append(Predicate(f"EXISTS (SELECT 1 FROM hoso_assignment a WHERE {active[0]})", active[1]))
            elif (scope in ("unit", "subtree") or _aggregate(scope, action)) and entity.unit_field:
                depth = " AND c.depth = 0" if scope == "unit" else ""
                col = effective_unit(entity, alias)
                parts.append(Predicate(
                    f"{col} IN (SELECT c.descendant_id FROM hoso_unit_closure c JOIN hoso_assignment a "
                    f"ON a.unit_id = c.ancestor_id WHERE {active[0]}{depth})", active[1]))
            elif scope.startswith("link:"):
                parts.append(self._link_predicate(entity, alias, scope, actor.user_id, active))
            elif scope == "own":
                parts.append(Predicate(
                    f"{alias}.sys_created_by = {{}} AND EXISTS (SELECT 1 FROM hoso_assignment a WHERE {active[0]})",
                    (actor.user_id, *active[1])))
            elif scope == "assigned":
                assigned = self._assigned_predicate(entity, alias, actor.user_id)
                if assigned is not None:
                    parts.append(Predicate(
                        f"({assigned.sql}) AND EXISTS (SELECT 1 FROM hoso_assignment a WHERE {active[0]})",
                        assigned.args + active[1]))
            elif scope in self.plugin_rules:
                parts.append(self._plugin_predicate(self.plugin_rules[scope], entity, alias, actor.user_id, active))
            # "statistics": aggregates only, never rows.
        return _or(parts)

    def _held_predicate(self, user_id: int, holdings: frozenset[tuple[str, int | None]], action: str,
                        entity: EntityDef, alias: str,
                        closure: frozenset[tuple[int, int, int]] | None = None) -> Predicate:
        """``predicate`` for a user whose current assignments are known: a branch per scope of a role they
        hold, the units bound as values, no assignment looked up in SQL."""
        parts: list[Predicate] = []
        for scope, roles in self.roles_for(entity.name, action).items():
            units = sorted({u for r, u in holdings if r in roles and u is not None})
            if not any(r in roles for r, _u in holdings):
                continue
            if scope == "national":
                return Predicate.true()
            if (scope in ("unit", "subtree") or _aggregate(scope, action)) and entity.unit_field:
                parts.append(_within_units(entity, alias, units, scope == "unit", closure))
            elif scope.startswith("link:"):
                within = (_within_units(entity, alias, units, False, closure) if entity.unit_field
                          else Predicate.true())
                parts.append(within.and_(self._linked(entity, alias, scope, user_id)))
            elif scope == "own":
                parts.append(Predicate(f"{alias}.sys_created_by = {{}}", (user_id,)))
            elif scope == "assigned":
                assigned = self._assigned_predicate(entity, alias, user_id)
                if assigned is not None:
                    parts.append(assigned)
            elif scope in self.plugin_rules:
                rows = self.plugin_rules[scope].predicate(entity, alias, user_id)
                if rows is not None:
                    parts.append(Predicate(f"({rows[0]})", tuple(rows[1])))
        return _or(parts)

    @staticmethod
    def _plugin_predicate(rule, entity: EntityDef, alias: str, user_id: int, active: tuple[str, tuple]) -> Predicate:
        rows = rule.predicate(entity, alias, user_id)
        if rows is None:
            return Predicate.false()
        return Predicate(f"({rows[0]}) AND EXISTS (SELECT 1 FROM hoso_assignment a WHERE {active[0]})",
                         tuple(rows[1]) + active[1])

    def _link_predicate(self, entity: EntityDef, alias: str, scope: str, user_id: int,
                        active: tuple[str, tuple]) -> Predicate:
        """Scope ``{field: F, to: E.G}`` (key ``link:F:E.G``): rows whose F is the G of a live record of E whose user
        field is the user, and that answer to a unit in the subtree of one of the role's assignments."""
        linked = self._linked(entity, alias, scope, user_id)
        if entity.unit_field:
            col = effective_unit(entity, alias)
            within = Predicate(f"{col} IN (SELECT c.descendant_id FROM hoso_unit_closure c JOIN hoso_assignment a "
                               f"ON a.unit_id = c.ancestor_id WHERE {active[0]})", active[1])
        else:
            within = Predicate(f"EXISTS (SELECT 1 FROM hoso_assignment a WHERE {active[0]})", active[1])
        return within.and_(linked)

    def _linked(self, entity: EntityDef, alias: str, scope: str, user_id: int) -> Predicate:
        """Rows whose F is the G of a live record of E whose user field is the user (scope ``link:F:E.G``)."""
        _link, field, to = scope.split(":", 2)
        ename, gname = to.split(".", 1)
        other = self.config.entity(ename)
        ufield = next(f for f in other.column_fields if f.type == "user")
        return Predicate(
            f"{alias}.{quote(field)} IN (SELECT p.{quote(gname)} FROM {quote(other.table)} p WHERE "
            f"p.{quote(ufield.name)} = {{}} AND p.sys_deleted_at IS NULL AND p.{quote(gname)} IS NOT NULL)",
            (user_id,))

    def _assigned_predicate(self, entity: EntityDef, alias: str, user_id: int) -> Predicate | None:
        """Records assigned to the user: a user field of the record, or a reference to a record whose
        user field is the user (e.g. case.performer -> performer.account)."""
        for fd in entity.column_fields:
            if fd.type == "user":
                return Predicate(f"{alias}.{quote(fd.name)} = {{}}", (user_id,))
        for fd in entity.column_fields:
            if fd.type == "reference":
                target = self.config.entity(fd.entity)
                ufield = next((f for f in target.column_fields if f.type == "user"), None)
                if ufield is not None:
                    return Predicate(
                        f"{alias}.{quote(fd.name)} IN (SELECT p.id FROM {quote(target.table)} p "
                        f"WHERE p.{quote(ufield.name)} = {{}})", (user_id,))
        return None

    def may(self, actor: Actor, action: str, entity: str) -> bool:
        """Whether any rule could allow ``action`` on ``entity`` for some row (before looking at rows)."""
        return actor.superuser or bool(self.roles_for(entity, action))


async def rebuild_closure(db: Database) -> int:
    """Recompute hoso_unit_closure from the unit tree and merge lineage; return the number of pairs.

    Depth counts tree edges only: a unit merged into another is at depth 0 from its successor, so "my unit"
    scope of the successor covers it too.
    """
    await db.execute("DELETE FROM hoso_unit_closure")
    # The step counter bounds the walk: a lineage that loops back into the tree (which restructuring refuses)
    # would otherwise recurse forever through weight-0 edges.
    await db.execute(
        "INSERT INTO hoso_unit_closure (ancestor_id, descendant_id, depth) "
        "WITH RECURSIVE edges(parent, child, w) AS ("
        "  SELECT CAST(parent_id AS BIGINT), CAST(id AS BIGINT), CAST(1 AS BIGINT) FROM hoso_unit"
        "  WHERE parent_id IS NOT NULL"
        "  UNION ALL SELECT other_id, unit_id, CAST(0 AS BIGINT) FROM hoso_unit_lineage"
        "  WHERE kind = 'merged_into' AND other_id IS NOT NULL"
        "), tc(anc, des, depth, steps) AS ("
        "  SELECT CAST(id AS BIGINT), CAST(id AS BIGINT), CAST(0 AS BIGINT), CAST(0 AS BIGINT) FROM hoso_unit"
        "  UNION SELECT tc.anc, e.child, tc.depth + e.w, tc.steps + 1 FROM tc JOIN edges e ON e.parent = tc.des"
        f"  WHERE tc.steps < {MAX_CLOSURE_STEPS}"
        ") SELECT anc, des, MIN(depth) FROM tc GROUP BY anc, des"
    )
    return int(await db.fetchval("SELECT COUNT(*) AS n FROM hoso_unit_closure") or 0)
