"""What one actor may do with the records of one entity: scope predicates, hidden and read-only fields.

Rows are judged in the database with ``ScopeRules.predicate`` (deny by default); this module only asks the
questions the record service needs, once per call, and caches the actor's active roles.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.config import EntityDef
from core.db import quote
from core.scope import Predicate

if TYPE_CHECKING:  # pragma: no cover
    from core.records.service import RecordContext
    from core.runtime import Runtime

__all__ = ["Access"]


class Access:
    def __init__(self, rt: "Runtime", ctx: "RecordContext"):
        self.rt = rt
        self.ctx = ctx
        self.actor = ctx.actor
        self._roles: set[str] | None = None

    @property
    def superuser(self) -> bool:
        return self.actor.superuser

    async def may_at_all(self, action: str, entity: EntityDef) -> bool:
        """Whether one of the actor's roles grants ``action`` on ``entity`` for some rows (before looking at
        rows: a create refused here is Forbidden, one refused by the unit's scope names the unit field)."""
        if self.superuser:
            return True
        if self.actor.user_id is None:
            return False
        mine = await self.roles()
        return any(scope != "statistics" and mine.intersection(roles)
                   for scope, roles in self.rt.scope.roles_for(entity.name, action).items())

    def predicate(self, action: str, entity: EntityDef, alias: str = "t") -> Predicate:
        return self.rt.scope.predicate(self.actor, action, entity, alias)

    async def roles(self) -> set[str]:
        """The actor's roles on the context's date."""
        if self._roles is None:
            if self.actor.user_id is None:
                self._roles = set()
            else:
                today = self.actor.today
                rows = await self.rt.db.fetch(
                    "SELECT DISTINCT role FROM hoso_assignment WHERE user_id = {} AND starts_on <= {} "
                    "AND (ends_on IS NULL OR ends_on > {})", self.actor.user_id, today, today)
                self._roles = {r["role"] for r in rows}
        return self._roles

    async def hidden(self, entity: EntityDef) -> set[str]:
        """Fields the actor may neither see nor write."""
        if self.superuser:
            return set()
        return self.rt.scope.hidden_fields(await self.roles(), entity.name)

    async def read_only(self, entity: EntityDef) -> set[str]:
        """Fields the actor may not change on update."""
        if self.superuser:
            return set()
        return self.rt.scope.read_only_fields(await self.roles(), entity.name)

    async def row_allows(self, action: str, entity: EntityDef, record_id: int) -> bool:
        """Whether the stored row ``record_id`` satisfies the actor's ``action`` predicate."""
        if self.superuser:
            return True
        pred = self.predicate(action, entity)
        if pred.is_false:
            return False
        found = await self.rt.db.fetchval(
            f"SELECT 1 AS ok FROM {quote(entity.table)} t WHERE t.id = {{}} AND ({pred.sql})", record_id, *pred.args)
        return found is not None

    async def readable_reference(self, target: EntityDef, record_id: Any) -> bool:
        """A live record of ``target`` that the actor may read (a reference must point to one)."""
        pred = self.predicate("read", target)
        if pred.is_false:
            return False
        found = await self.rt.db.fetchval(
            f"SELECT 1 AS ok FROM {quote(target.table)} t WHERE t.id = {{}} AND t.sys_deleted_at IS NULL "
            f"AND ({pred.sql})", record_id, *pred.args)
        return found is not None


def hidden_by_any_role(rt: "Runtime", entity: EntityDef) -> set[str]:
    """Fields some role hides: they are left out of the search text, so a search cannot reveal them."""
    out: set[str] = set()
    for role in rt.config.roles:
        for g in role.grants:
            if g.entity == entity.name:
                out.update(g.hidden_fields)
    return out
