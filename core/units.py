"""Loading the configured unit tree into hoso_unit: the base units, then the declared change sets.

The hierarchy's unit files are the base (the tree before any restructuring); the change sets of its
``restructurings`` folder are the history, applied to the base in date order. ``hoso migrate`` brings a database
to "base, then every due change set", whichever way it got there: a fresh database gets the base units and then
each change set, a database restructured in place with ``hoso restructure apply`` is already there. So the same
files always give the same tree, lineage and history, and the start-up check compares the database with the units
as they are after the change sets.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hoso.audit import AuditEvent, write_audit
from hoso.config import RestructuringRef, UnitRow
from hoso.i18n import local_today
from hoso.lineage import sync_unit_edges

if TYPE_CHECKING:  # pragma: no cover
    from hoso.runtime import Runtime

__all__ = ["UnitPlan", "UnitSyncError", "UnitCodeError", "plan_units", "sync_units", "unit_id", "resolve_unit_code",
           "structure_at", "STRUCTURE_AT_SQL"]


class UnitSyncError(Exception):
    """The units of the configuration and those of the database cannot be brought together; nothing changed."""


@dataclass
class UnitPlan:
    """What ``sync_units`` would do: base units to insert, change sets to apply, and what blocks it."""

    base: list[UnitRow] = field(default_factory=list)
    change_sets: list[RestructuringRef] = field(default_factory=list)
    scheduled: list[RestructuringRef] = field(default_factory=list)  # effective after today: applied later
    errors: list[str] = field(default_factory=list)

    @property
    def has_changes(self) -> bool:
        return bool(self.base or self.change_sets)

    @property
    def ok(self) -> bool:
        return not self.errors

    def lines(self) -> list[str]:
        out = []
        if self.base:
            shown = ", ".join(u.code for u in self.base[:10]) + (
                f" and {len(self.base) - 10} more" if len(self.base) > 10 else "")
            out.append(f"load_units       {len(self.base)} unit(s) of the hierarchy's unit files: {shown}")
        for cs in self.change_sets:
            out.append(f"restructure      change set {cs.name} (effective {cs.effective}, {cs.rel})")
        for cs in self.scheduled:
            out.append(f"scheduled        change set {cs.name} takes effect on {cs.effective}: `hoso migrate` "
                       "applies it from that day")
        return out


async def _unit_state(db) -> tuple[dict[str, dict], dict[str, int], dict[str, dict]]:
    """Units by current code, old (recoded) codes -> unit id, and applied change sets by name."""
    if not {"hoso_unit", "hoso_unit_lineage", "hoso_restructuring"} <= set(await db.table_names()):
        return {}, {}, {}  # never migrated: every unit and change set is still to load
    by_code = {r["code"]: dict(r) for r in await db.fetch("SELECT id, code, valid_to FROM hoso_unit")}
    old: dict[str, int] = {}
    for r in await db.fetch("SELECT unit_id, detail FROM hoso_unit_lineage WHERE kind = 'recoded' "
                            "ORDER BY effective_on, id"):
        if r["detail"] and r["detail"] not in by_code:
            old[r["detail"]] = r["unit_id"]
    applied = {r["name"]: dict(r) for r in await db.fetch(
        "SELECT name, content_hash, effective_on FROM hoso_restructuring")}
    return by_code, old, applied


async def plan_units(rt: Runtime, today: dt.date | None = None) -> UnitPlan:
    """Compare the database's units with the configured base units and change sets (due by ``today``)."""
    out = UnitPlan()
    hierarchy = rt.config.hierarchy
    if hierarchy is None:
        return out
    today = today or local_today()
    by_code, old, applied = await _unit_state(rt.db)
    by_id = {u["id"]: u for u in by_code.values()}
    # A base unit the database knows under its code, or under the code a change set gave it, is loaded.
    missing = [u for u in hierarchy.units if u.code not in by_code and u.code not in old]
    if missing and applied:
        for u in missing:
            if u.parent_code is None or u.parent_code in {m.code for m in missing}:
                continue
            parent = by_code.get(u.parent_code) or by_id.get(old.get(u.parent_code))
            if parent is not None and parent["valid_to"] is not None:
                out.errors.append(
                    f"unit {u.code} of the unit files would be placed under {u.parent_code}, which a change set "
                    f"closed on {parent['valid_to']}; the unit files are the tree before every change set, so a "
                    f"unit created since is created by a change set: add `- create: {{code: {u.code}, ...}}` to a "
                    "new change set instead")
    out.base = missing
    declared = {cs.name: cs for cs in hierarchy.restructurings}
    pending: list[RestructuringRef] = []
    for cs in hierarchy.restructurings:
        prev = applied.get(cs.name)
        if prev is not None:
            if prev["content_hash"] != cs.content_hash:
                out.errors.append(f"change set {cs.name} ({cs.rel}) was applied with different content (sha256 "
                                  f"{prev['content_hash'][:16]}, the file now {cs.content_hash[:16]}); a change set "
                                  "is never changed once applied: restore the file and write a new change set")
            continue
        (pending if cs.effective <= today else out.scheduled).append(cs)
    if hierarchy.restructurings_folder is not None:
        for name, prev in sorted(applied.items(), key=lambda kv: (kv[1]["effective_on"], kv[0])):
            if name not in declared:
                out.errors.append(f"change set {name} (effective {prev['effective_on']}) was applied to the database "
                                  f"but is not in roles_config/{hierarchy.restructurings_folder}/: put its file back, "
                                  "so that the configuration describes the units of the database")
    for cs in pending:
        later = sorted(n for n, prev in applied.items() if prev["effective_on"] > cs.effective)
        if later:
            out.errors.append(f"change set {cs.name} ({cs.rel}) is effective on {cs.effective}, before change set(s) "
                              f"already applied ({', '.join(later)}): change sets apply in date order, so a database "
                              "built from the files would differ; give it a date after theirs")
    out.change_sets = pending
    return out


async def _insert_base(rt: Runtime, units: list[UnitRow], by_code: dict[str, dict], old: dict[str, int]) -> int:
    db = rt.db
    ids = {code: u["id"] for code, u in by_code.items()} | dict(old)
    pending = list(units)
    added = 0
    # Parents first: repeat until every unit whose parent is known has been inserted.
    while pending:
        progressed = []
        for u in pending:
            if u.parent_code and u.parent_code not in ids:
                continue
            ids[u.code] = await db.fetchval(
                "INSERT INTO hoso_unit (code, name_vi, name_en, type, parent_id, valid_from, valid_to, short_code) "
                "VALUES ({}, {}, {}, {}, {}, {}, NULL, {}) RETURNING id",
                u.code, u.name_vi, u.name_en, u.type, ids.get(u.parent_code) if u.parent_code else None,
                u.valid_from, u.short_code,
            )
            progressed.append(u)
            added += 1
        if not progressed:
            raise UnitSyncError("units with unknown parents: " + ", ".join(u.code for u in pending))
        pending = [u for u in pending if u not in progressed]
    return added


async def sync_units(rt: Runtime, *, applied_by: str | None = None,
                     report: Callable[[str], None] | None = None) -> int:
    """Insert the configured base units the database does not have yet, then apply every due change set not yet
    applied, in date order, all in one transaction; return how many units were added.

    Existing units are never changed by the unit files: renames, moves and merges are dated change sets, so the
    history of a unit is kept. Raises UnitSyncError (nothing changed) when the files and the database disagree.
    """
    hierarchy = rt.config.hierarchy
    db = rt.db
    if hierarchy is None or not (hierarchy.units or hierarchy.restructurings):
        async with db.transaction():
            await sync_unit_edges(db)  # units written by other means get their dated parent links
        return 0
    async with db.transaction():
        # A database migrated before the dated parent links existed gets them from its lineage first.
        await sync_unit_edges(db)
        up = await plan_units(rt)
        if not up.ok:
            raise UnitSyncError("the units of the configuration cannot be loaded; nothing changed:\n"
                                + "\n".join(f"  {e}" for e in up.errors))
        added = 0
        if up.base:
            by_code, old, _applied = await _unit_state(db)
            added = await _insert_base(rt, up.base, by_code, old)
            await sync_unit_edges(db)
            from hoso.scope import rebuild_closure

            await rebuild_closure(db)
            event = AuditEvent("units.load", "hoso_unit", None, None, "system", "cli", {"added": added})
            await write_audit(rt.pm, db, event)
        if up.change_sets:
            from hoso.restructure import RestructureError, RestructureErrors, apply

            for cs in up.change_sets:
                try:
                    result = await apply(rt, cs.path, applied_by=applied_by)
                except RestructureErrors as exc:
                    raise UnitSyncError(f"change set {cs.name} cannot be applied; nothing changed:\n"
                                        + exc.render()) from None
                except RestructureError as exc:
                    raise UnitSyncError(f"change set {cs.name} cannot be applied; nothing changed:\n{exc}") from None
                if report:
                    report(result.render())
    return added


class UnitCodeError(ValueError):
    """A unit code that names no open unit; the message (Vietnamese, then English) says why and what to use.

    ``known``: the code names a unit (a closed one), as opposed to no unit at all."""

    def __init__(self, key: str, known: bool, **kwargs):
        from hoso.i18n import both

        self.key, self.known, self.kwargs = key, known, kwargs
        super().__init__(both(key, **kwargs))

    def message(self, lang: str) -> str:
        from hoso.i18n import t

        return t(self.key, lang, **self.kwargs)


def _unit_label(u: dict) -> str:
    return f"{u['code']} ({u['name_vi']})"


async def resolve_unit_code(db, code: str, on: dt.date | None = None) -> tuple[dict, str | None]:
    """The open unit a code names on ``on`` (default today), and a note when an old code led to it.

    An old code that a change set recoded leads to the unit that holds the new code. A closed unit is refused
    with a message naming the unit(s) that answer for it now. Raises UnitCodeError.
    """
    from hoso.i18n import both
    from hoso.lineage import find_unit_by_code, lookup_successor

    on = on or local_today()
    unit = await find_unit_by_code(db, code)
    if unit is None:
        raise UnitCodeError("unit_unknown", False, code=code)
    valid_to = unit["valid_to"]
    if isinstance(valid_to, str):
        valid_to = dt.date.fromisoformat(valid_to)
    if valid_to is not None and valid_to <= on:
        successors = [s for s in await lookup_successor(db, code) if s["id"] != unit["id"] and s["valid_to"] is None]
        closed = valid_to.strftime("%d/%m/%Y")
        if successors:
            raise UnitCodeError("unit_closed_successor", True, unit=_unit_label(unit), closed=closed,
                                successors=", ".join(_unit_label(s) for s in successors))
        raise UnitCodeError("unit_closed_no_successor", True, unit=_unit_label(unit), closed=closed)
    note = both("unit_recoded", old=code, unit=_unit_label(unit)) if unit["code"] != code else None
    return unit, note


async def unit_id(rt: Runtime, code: str) -> int | None:
    return await rt.db.fetchval("SELECT id FROM hoso_unit WHERE code = {}", code)


# The units open on a date (the one argument, given four times) with their parent on that date: the dated parent
# link valid that day, or, for a unit that has no link at all (written by other means), its parent now.
STRUCTURE_AT_SQL = (
    "SELECT u.id, u.code, u.name_vi, u.name_en, u.type, u.valid_from, u.valid_to, "
    "CASE WHEN e.id IS NOT NULL THEN e.parent_id "
    "WHEN NOT EXISTS (SELECT 1 FROM hoso_unit_edge x WHERE x.unit_id = u.id) THEN u.parent_id END AS parent_id "
    "FROM hoso_unit u LEFT JOIN hoso_unit_edge e ON e.unit_id = u.id "
    "AND (e.valid_from IS NULL OR e.valid_from <= {d}) AND (e.valid_to IS NULL OR e.valid_to > {d}) "
    "WHERE (u.valid_from IS NULL OR u.valid_from <= {d}) AND (u.valid_to IS NULL OR u.valid_to > {d})")


async def structure_at(rt: Runtime, on: dt.date) -> list[dict]:
    """The unit tree as it stood on ``on``: every unit open that day (``valid_from <= on < valid_to``) with its
    parent that day (``parent_id``, ``parent_code``), ordered by code.

    A restructuring changes the tree on its effective date, whenever it was applied: before that date this answers
    the old tree, from that date the new one."""
    sql = STRUCTURE_AT_SQL.replace("{d}", "{}")
    rows = [dict(r) for r in await rt.db.fetch(sql + " ORDER BY u.code", on, on, on, on)]
    codes = {r["id"]: r["code"] for r in rows}
    for r in rows:
        r["parent_code"] = codes.get(r["parent_id"])
    return rows
