"""Which unit each recorded unit counts under in a report: as recorded, or mapped to the structure at a date.

Two ways to count a record at a level of the hierarchy (``roles_config/hierarchy.yaml``: each unit type has a
level):

- **as recorded**: the record counts at the unit it was recorded under, rolled up to that unit's ancestor at the
  level in the tree as it stood on the report's date (the period's end, or its as-of date). A unit closed by then
  rolls up through the parents it had when it closed.
- **mapped to the structure at a date X**: the record counts at the unit that answers for it (its
  ``sys_scope_unit`` when a split gave it one, else its recorded unit), followed through lineage to the unit open
  on X that answers for it (merged into, closed with a successor, abolished: the next unit; recoded, renamed and
  moved units keep their id), then rolled up to its ancestor at the level in the tree of X. A successor of a
  successor (two restructurings) leads to the last one open on X. A unit closed without a successor, or split
  (whose records already carry their successor), folds into the parent it had when it closed.

The tree of a date is read from the dated parent links (``hoso_unit_edge``); see ``hoso.units.structure_at``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hoso.i18n import both
from hoso.lineage import ABOLISHED, MERGED_INTO
from hoso.reports.model import ReportError
from hoso.units import structure_at

if TYPE_CHECKING:  # pragma: no cover
    from hoso.runtime import Runtime

__all__ = ["unit_groups", "group_map", "parse_structure", "UnitHistory", "structure_at"]

# Lineage kinds after which a unit's records fold into the parent it had when it closed.
_TO_PARENT = ("closed", "split_into")
_ONE_DAY = dt.timedelta(days=1)


def _date(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def parse_structure(structure: str | dt.date) -> str | dt.date:
    """``"recorded"`` or a date (a ``date`` or an ISO text); raises ReportError naming ``structure`` otherwise."""
    if isinstance(structure, dt.date):
        return structure
    if structure == "recorded":
        return structure
    try:
        return dt.date.fromisoformat(str(structure))
    except ValueError:
        raise ReportError([("structure", both("structure_bad", value=structure))]) from None


@dataclass
class UnitHistory:
    """The units, their dated parent links and their forward lineage, as plain data: what the mapping reads."""

    types: dict[int, str]  # unit id -> unit type
    spans: dict[int, tuple[dt.date | None, dt.date | None]]  # unit id -> (valid_from, valid_to)
    parents: dict[int, int | None]  # unit id -> parent now (for units without dated links)
    links: dict[int, list[tuple[dt.date | None, dt.date | None, int | None]]] = field(default_factory=dict)
    forward: dict[int, list[tuple[dt.date, str, int | None]]] = field(default_factory=dict)  # (on, kind, other)

    def open_on(self, unit: int, day: dt.date) -> bool:
        start, end = self.spans[unit]
        return (start is None or start <= day) and (end is None or end > day)

    def parent_on(self, unit: int, day: dt.date) -> int | None:
        """The parent on ``day``: the link valid that day; for a day after the unit closed, its last link before;
        for a day before it began, its first link."""
        links = self.links.get(unit)
        if not links:
            return self.parents.get(unit)
        before: list[int | None] = []
        for start, end, parent in links:  # sorted by start
            if start is None or start <= day:
                if end is None or end > day:
                    return parent
                before.append(parent)
        return before[-1] if before else links[0][2]

    def ancestor_at(self, unit: int, day: dt.date, level: str | None, levels: dict[str, str]) -> int | None:
        """``unit`` itself or its nearest ancestor on ``day`` whose type is at ``level`` (None: no such)."""
        if level is None:
            return unit
        seen: set[int] = set()
        x: int | None = unit
        while x is not None and x not in seen and x in self.types:
            if levels.get(self.types[x]) == level:
                return x
            seen.add(x)
            x = self.parent_on(x, day)
        return None

    def successor_on(self, unit: int, day: dt.date) -> int:
        """The unit open on ``day`` that answers for ``unit``, following lineage dated up to ``day``."""
        seen: set[int] = set()
        x = unit
        while x not in seen and x in self.types:
            seen.add(x)
            if self.open_on(x, day):
                return x
            nxt: int | None = None
            for on, kind, other in self.forward.get(x, ()):
                if on > day:
                    continue
                if kind in (MERGED_INTO, ABOLISHED) and other is not None:
                    nxt = other
                    break
                if kind in _TO_PARENT or kind == ABOLISHED:
                    end = self.spans[x][1]
                    nxt = self.parent_on(x, end - _ONE_DAY) if end is not None else None
                    break
            if nxt is None:
                return x
            x = nxt
        return x


def group_map(history: UnitHistory, levels: dict[str, str], *, level: str | None, structure: str | dt.date,
              on: dt.date) -> dict[int, int | None]:
    """Every unit -> the unit it counts under (None: it has no ancestor at ``level``)."""
    out: dict[int, int | None] = {}
    for unit in history.types:
        if structure == "recorded":
            out[unit] = history.ancestor_at(unit, on, level, levels)
        else:
            assert isinstance(structure, dt.date)
            out[unit] = history.ancestor_at(history.successor_on(unit, structure), structure, level, levels)
    return out


async def _history(rt: Runtime) -> UnitHistory:
    """The unit history of ``rt``'s database, cached until units, links or lineage change."""
    db = rt.db
    row = (await db.fetch("SELECT (SELECT MAX(id) FROM hoso_unit) AS u, (SELECT MAX(id) FROM hoso_unit_edge) AS e, "
                          "(SELECT MAX(id) FROM hoso_unit_lineage) AS l, "
                          "(SELECT MAX(id) FROM hoso_restructuring) AS r"))[0]
    key = (row["u"], row["e"], row["l"], row["r"])
    cache = rt.__dict__.setdefault("_unit_history", {})
    if key in cache:
        return cache[key]
    units = await db.fetch("SELECT id, type, parent_id, valid_from, valid_to FROM hoso_unit")
    h = UnitHistory({u["id"]: u["type"] for u in units},
                    {u["id"]: (_date(u["valid_from"]), _date(u["valid_to"])) for u in units},
                    {u["id"]: u["parent_id"] for u in units})
    for e in await db.fetch("SELECT unit_id, parent_id, valid_from, valid_to FROM hoso_unit_edge"):
        h.links.setdefault(e["unit_id"], []).append((_date(e["valid_from"]), _date(e["valid_to"]), e["parent_id"]))
    for links in h.links.values():
        links.sort(key=lambda x: x[0] or dt.date.min)
    kinds = (MERGED_INTO, ABOLISHED, *_TO_PARENT)
    marks = ", ".join("{}" for _ in kinds)
    for r in await db.fetch(f"SELECT unit_id, kind, other_id, effective_on FROM hoso_unit_lineage "
                            f"WHERE kind IN ({marks}) ORDER BY effective_on, id", *kinds):
        h.forward.setdefault(r["unit_id"], []).append((_date(r["effective_on"]) or dt.date.min, r["kind"],
                                                       r["other_id"]))
    cache.clear()
    cache[key] = h
    return h


def levels_of(rt: Runtime) -> dict[str, str]:
    """Unit type -> its level in the hierarchy."""
    h = rt.config.hierarchy
    return {t.name: t.level for t in h.unit_types} if h else {}


def check_level(rt: Runtime, level: str | None) -> None:
    """Raises ReportError naming ``level`` when it is not a level of the hierarchy."""
    h = rt.config.hierarchy
    if level is not None and (h is None or level not in h.levels):
        levels = ", ".join(h.levels) if h else ""
        raise ReportError([("level", both("structure_level_unknown", level=level, levels=levels))])


def _values(pairs: Iterable[tuple[int, int | None]]) -> str:
    rows = ", ".join(f"({int(u)}, {'NULL' if g is None else int(g)})" for u, g in pairs)
    if not rows:
        return "(SELECT u.id AS unit_id, u.id AS group_id FROM hoso_unit u WHERE 1 = 0)"
    # Joined to hoso_unit, the relation is a materialised table SQLite indexes automatically for the records'
    # join (a bare VALUES list is scanned once per record there); PostgreSQL hashes either.
    return (f"(SELECT u.id AS unit_id, CAST(v.column2 AS BIGINT) AS group_id "
            f"FROM hoso_unit u JOIN (VALUES {rows}) AS v ON v.column1 = u.id)")


async def unit_groups(rt: Runtime, *, level: str | None, structure: str | dt.date,
                      on: dt.date) -> tuple[str, tuple]:
    """A relation ``(unit_id, group_id)`` as SQL with ``{}`` placeholders, and its arguments.

    Each unit a record may be counted at (its recorded unit, or its ``sys_scope_unit`` when mapped) appears
    once, with the unit it is counted under: itself when ``level`` is None, else its ancestor at ``level``
    (``group_id`` NULL when it has none, e.g. a unit above the level). ``structure`` "recorded": the tree as it
    stood on ``on``; a date: predecessors folded into successors open on that date, and the tree of that date.
    Raises ReportError for an unknown level or structure."""
    check_level(rt, level)
    shape = parse_structure(structure)
    if level is None and shape == "recorded":
        return "(SELECT u.id AS unit_id, u.id AS group_id FROM hoso_unit u)", ()
    history = await _history(rt)
    groups = group_map(history, levels_of(rt), level=level, structure=shape, on=on)
    return _values(sorted(groups.items())), ()
