"""What one actor may do with the records of one entity: scope predicates, hidden and read-only fields.

Rows are judged in the database with ``ScopeRules.predicate`` (deny by default); this module only asks the
questions the record service needs, once per call, and caches the actor's active roles. ``Permissions`` is what
a set of roles allows before looking at rows: the record service (so the API) and the admin both ask it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from hoso.config import EntityDef
from hoso.db import quote
from hoso.scope import Predicate, ScopeRules, assignments_of, current_on, load_holdings

if TYPE_CHECKING:  # pragma: no cover
    from hoso.records.context import RecordContext
    from hoso.runtime import Runtime

__all__ = ["Access", "Permissions"]


@dataclass(frozen=True)
class Permissions:
    """What the roles a user holds allow, before looking at rows (a superuser may do everything)."""

    rules: ScopeRules
    roles: frozenset[str]
    superuser: bool = False

    def may(self, action: str, entity: str) -> bool:
        """Whether a role grants ``action`` on ``entity`` for some rows (a statistics scope never does)."""
        if self.superuser:
            return True
        return any(scope != "statistics" and self.roles.intersection(roles)
                   for scope, roles in self.rules.roles_for(entity, action).items())

    def hidden(self, entity: str) -> set[str]:
        """Fields the user may neither see nor write."""
        return set() if self.superuser else self.rules.hidden_fields(set(self.roles), entity)

    def read_only(self, entity: str) -> set[str]:
        """Fields the user may not change on update."""
        return set() if self.superuser else self.rules.read_only_fields(set(self.roles), entity)


class Access:
    def __init__(self, rt: Runtime, ctx: RecordContext):
        self.rt = rt
        self.ctx = ctx
        self.actor = ctx.actor
        self._roles: set[str] | None = None
        # Uniqueness conflicts with records the actor may not read: ``(field, value, other record's id)``.
        self.unique_conflicts: list[tuple[str, Any, int]] = []
        self._readable: dict[tuple[str, Any], bool] = {}
        self._hidden: dict[str, frozenset[str]] = {}

    @property
    def superuser(self) -> bool:
        return self.actor.superuser

    async def may_at_all(self, action: str, entity: EntityDef) -> bool:
        """Whether one of the actor's roles grants ``action`` on ``entity`` for some rows (before looking at
        rows: a create refused here is Forbidden, one refused by the unit's scope names the unit field)."""
        return (await self.permissions()).may(action, entity.name)

    def predicate(self, action: str, entity: EntityDef, alias: str = "t") -> Predicate:
        """The scope predicate: per user once ``roles`` has loaded the holdings, else judged in SQL."""
        return self.rt.scope.predicate(self.actor, action, entity, alias)

    async def scoped(self, action: str, entity: EntityDef, alias: str = "t") -> Predicate:
        """The scope predicate built from the actor's holdings (loaded once per operation)."""
        await self.roles()
        return self.predicate(action, entity, alias)

    async def roles(self) -> set[str]:
        """The actor's roles on the date its assignments are judged; loads its holdings with them."""
        if self._roles is None:
            if self.actor.user_id is None:
                self._roles = set()
            else:
                if self.actor.holdings is None:
                    held, closure = await load_holdings(self.rt.db, self.rt.scope, self.actor.user_id,
                                                        self.actor.today)
                    self.actor = replace(self.actor, holdings=held, closure=closure)
                self._roles = {role for role, _unit in self.actor.holdings or ()}
        return self._roles

    async def permissions(self) -> Permissions:
        """What the actor's roles on the context's date allow (a superuser's, everything: no roles are read)."""
        if self.superuser:
            return Permissions(self.rt.scope, frozenset(), True)
        return Permissions(self.rt.scope, frozenset(await self.roles()), False)

    async def hidden(self, entity: EntityDef) -> set[str]:
        """Fields the actor may neither see nor write (worked out once per entity: a write asks several times)."""
        if entity.name not in self._hidden:
            self._hidden[entity.name] = frozenset((await self.permissions()).hidden(entity.name))
        return set(self._hidden[entity.name])

    async def read_only(self, entity: EntityDef) -> set[str]:
        """Fields the actor may not change on update."""
        return (await self.permissions()).read_only(entity.name)

    async def row_allows(self, action: str, entity: EntityDef, record_id: int) -> bool:
        """Whether the stored row ``record_id`` satisfies the actor's ``action`` predicate."""
        if self.superuser:
            return True
        pred = await self.scoped(action, entity)
        if pred.is_false:
            return False
        found = await self.rt.db.fetchval(
            f"SELECT 1 AS ok FROM {quote(entity.table)} t WHERE t.id = {{}} AND ({pred.sql})", record_id, *pred.args)
        return found is not None

    async def readable_reference(self, target: EntityDef, record_id: Any) -> bool:
        """A live record of ``target`` that the actor may read (a reference must point to one); answered once
        per record within one operation (a batch names the same performer many times)."""
        key = (target.name, record_id)
        if key not in self._readable:
            pred = await self.scoped("read", target)
            found = None if pred.is_false else await self.rt.db.fetchval(
                f"SELECT 1 AS ok FROM {quote(target.table)} t WHERE t.id = {{}} AND t.sys_deleted_at IS NULL "
                f"AND ({pred.sql})", record_id, *pred.args)
            self._readable[key] = found is not None
        return self._readable[key]


def hidden_by_any_role(rt: Runtime, entity: EntityDef) -> set[str]:
    """Fields some role hides: they are left out of the search text, so a search cannot reveal them."""
    out: set[str] = set()
    for role in rt.config.roles:
        for g in role.grants:
            if g.entity == entity.name:
                out.update(g.hidden_fields)
    return out


def _national_grant_roles(rt: Runtime, entity: EntityDef | None, action: str | None = None) -> list[str]:
    """Roles with a national-scope grant (on ``entity``, of ``action``, when given)."""
    out = []
    for role in rt.config.roles:
        for g in role.grants:
            if g.scope == "national" and (entity is None or g.entity == entity.name) \
                    and (action is None or action in g.actions) and role.name not in out:
                out.append(role.name)
    return out


def _everyone_or_no_one(actor: Any) -> Predicate | None:
    """Superusers reach every account, an actor without an account none; None: it depends on the roles."""
    if actor.superuser:
        return Predicate.true()
    if actor.user_id is None:
        return Predicate.false()
    return None


def accounts_in_reach(rt: Runtime, actor: Any, entity: EntityDef, alias: str = "u") -> Predicate:
    """Accounts (rows of ``hoso_user`` under ``alias``) that a writer of ``entity`` may name in a ``user`` field:
    those sharing the writer's scope, i.e. whose home unit or a current assignment lies under a unit where the
    writer holds a current assignment (every account, for a role with a national grant on the entity).

    One definition for the API and the admin (both write through the record service): an account outside it
    is answered exactly like an account that does not exist, so the field cannot probe for account ids."""
    fixed = _everyone_or_no_one(actor)
    if fixed is not None:
        return fixed
    today = actor.today
    national = _national_grant_roles(rt, entity)
    if national:
        marks = ", ".join("{}" for _ in national)
        held = assignments_of(actor.user_id, today, "na")
        national_sql = f"EXISTS (SELECT 1 FROM hoso_assignment na WHERE {held.sql} AND na.role IN ({marks}))"
        national_args: tuple = (*held.args, *national)
    else:
        national_sql, national_args = "1 = 0", ()
    mine = assignments_of(actor.user_id, today)
    units = ("SELECT c.descendant_id FROM hoso_unit_closure c JOIN hoso_assignment a ON a.unit_id = c.ancestor_id "
             f"WHERE {mine.sql}")
    theirs = current_on(today, "b")
    sql = (f"({national_sql} OR {alias}.unit_id IN ({units}) OR EXISTS (SELECT 1 FROM hoso_assignment b "
           f"WHERE b.user_id = {alias}.id AND {theirs.sql} AND b.unit_id IN ({units})))")
    return Predicate(sql, (*national_args, *mine.args, *theirs.args, *mine.args))


def managed_accounts(rt: Runtime, actor: Any, alias: str = "u") -> Predicate:
    """Accounts (rows of ``hoso_user`` under ``alias``) that ``actor`` may manage, in SQL: for one of the
    actor's roles with ``manage_users``, the account's home unit and every assignment it holds now or later lie
    in that role's units and are of roles it may grant. Never the actor's own account nor a superuser's (see
    ``hoso.accounts``). The admin's account table shows these rows only."""
    fixed = _everyone_or_no_one(actor)
    if fixed is not None:
        return fixed
    today = actor.today
    held, within = assignments_of(actor.user_id, today, "ma"), assignments_of(actor.user_id, today)
    parts: list[str] = []
    args: list[Any] = []
    for role in rt.config.roles:
        scopes = {g.scope for g in role.grants if "manage_users" in g.actions
                  and g.scope in ("unit", "subtree", "national")}
        if not scopes:
            continue
        holds = f"EXISTS (SELECT 1 FROM hoso_assignment ma WHERE {held.sql} AND ma.role = {{}})"
        if "national" in scopes:
            reach, reach_args = "SELECT id FROM hoso_unit", ()
        else:
            depth = "" if "subtree" in scopes else " AND c.depth = 0"
            reach = ("SELECT c.descendant_id FROM hoso_unit_closure c JOIN hoso_assignment a "
                     f"ON a.unit_id = c.ancestor_id WHERE {within.sql} AND a.role = {{}}{depth}")
            reach_args = (*within.args, role.name)
        grantable = list(role.can_grant)
        if grantable:
            foreign_role = f"b.role NOT IN ({', '.join('{}' for _ in grantable)})"
        else:
            foreign_role = "1 = 1"
        # As hoso.accounts judges it: an account without a home unit is reached through its assignments, so one
        # with neither belongs to no one's units.
        parts.append(
            f"({holds} AND ({alias}.unit_id IN ({reach}) OR {alias}.unit_id IS NULL AND EXISTS (SELECT 1 FROM "
            f"hoso_assignment p WHERE p.user_id = {alias}.id AND (p.ends_on IS NULL OR p.ends_on > {{}}))) "
            f"AND NOT EXISTS (SELECT 1 "
            f"FROM hoso_assignment b WHERE b.user_id = {alias}.id AND (b.ends_on IS NULL OR b.ends_on > {{}}) "
            f"AND ({foreign_role} OR b.unit_id NOT IN ({reach}))))")
        args += [*held.args, role.name, *reach_args, today, today, *grantable, *reach_args]
    if not parts:
        return Predicate.false()
    sql = (f"({alias}.id <> {{}} AND NOT COALESCE({alias}.superuser, {{}}) AND ("
           + " OR ".join(parts) + "))")
    return Predicate(sql, (actor.user_id, False, *args))


def may_see_addresses(rt: Runtime, roles: set[str], superuser: bool) -> bool:
    """Whether a reader may see the client addresses recorded in the audit: superusers and holders of a
    national ``manage_users`` grant (those who investigate accounts). Everyone else sees no address: an address
    tells where a colleague works from and is personal data."""
    if superuser:
        return True
    return bool(roles.intersection(_national_grant_roles(rt, None, "manage_users")))
