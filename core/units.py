"""Loading the configured unit tree into hoso_unit."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from core.runtime import Runtime

__all__ = ["sync_units", "unit_id"]


async def sync_units(rt: "Runtime") -> int:
    """Insert the configured units that the database does not have yet; return how many were added.

    Existing units are never changed here: renames, moves and merges are dated restructurings, so the
    history of a unit is kept.
    """
    hierarchy = rt.config.hierarchy
    if hierarchy is None or not hierarchy.units:
        return 0
    db = rt.db
    async with db.transaction():
        existing = {r["code"]: r["id"] for r in await db.fetch("SELECT id, code FROM hoso_unit")}
        added = 0
        pending = [u for u in hierarchy.units if u.code not in existing]
        # Parents first: repeat until every unit whose parent is known has been inserted.
        while pending:
            progressed = []
            for u in pending:
                if u.parent_code and u.parent_code not in existing:
                    continue
                new_id = await db.fetchval(
                    "INSERT INTO hoso_unit (code, name_vi, name_en, type, parent_id, valid_from, valid_to, short_code) "
                    "VALUES ({}, {}, {}, {}, {}, {}, NULL, {}) RETURNING id",
                    u.code, u.name_vi, u.name_en, u.type, existing.get(u.parent_code) if u.parent_code else None,
                    u.valid_from, u.short_code,
                )
                existing[u.code] = new_id
                progressed.append(u)
                added += 1
            if not progressed:
                raise ValueError("units with unknown parents: " + ", ".join(u.code for u in pending))
            pending = [u for u in pending if u not in progressed]
        if added:
            from core.scope import rebuild_closure

            await rebuild_closure(db)
            from core.records.service import AuditEvent

            event = AuditEvent("units.load", "hoso_unit", None, None, "system", "cli", {"added": added})
            for result in rt.pm.hook.hoso_write_audit(event=event, db=db):
                from core.plugins import await_me_maybe

                await await_me_maybe(result)
    return added


async def unit_id(rt: "Runtime", code: str) -> int | None:
    return await rt.db.fetchval("SELECT id FROM hoso_unit WHERE code = {}", code)
