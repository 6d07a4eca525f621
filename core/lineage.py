"""Following unit lineage: from an old code to the unit(s) that answer for it.

It sits below the records and the restructuring engine: the record service names a closed unit's successor,
and the restructuring writes the lineage rows read here.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hoso.db import Database

__all__ = ["lookup_successor", "find_unit_by_code", "MERGED_INTO", "SPLIT_INTO", "ABOLISHED", "FORWARD_KINDS"]

# Lineage kinds that lead from a closed unit to the unit(s) answering for it.
MERGED_INTO = "merged_into"
SPLIT_INTO = "split_into"
ABOLISHED = "abolished"
FORWARD_KINDS = (MERGED_INTO, SPLIT_INTO, ABOLISHED)

_UNIT_COLS = "id, code, name_vi, name_en, type, parent_id, valid_from, valid_to"


async def find_unit_by_code(db: Database, code: str) -> dict | None:
    """The unit a code names: the unit holding it now, else the unit last recoded away from it."""
    rows = await db.fetch(f"SELECT {_UNIT_COLS} FROM hoso_unit WHERE code = {{}}", code)
    if rows:
        return dict(rows[0])
    rows = await db.fetch(
        "SELECT unit_id FROM hoso_unit_lineage WHERE kind = 'recoded' AND detail = {} "
        "ORDER BY effective_on DESC, id DESC", code)
    if not rows:
        return None
    found = await db.fetch(f"SELECT {_UNIT_COLS} FROM hoso_unit WHERE id = {{}}", rows[0]["unit_id"])
    return dict(found[0]) if found else None


def _open_on(unit: dict, on: dt.date | None) -> bool:
    vt = unit["valid_to"]
    return vt is None or (on is not None and vt > on)


async def lookup_successor(db: Database, code: str, on_date: dt.date | None = None) -> list[dict[str, Any]]:
    """The unit(s) that answer for the unit once coded ``code``, following lineage (recoded, merged into, split
    into, abolished) up to ``on_date`` (default: every restructuring applied).

    Each answer is a unit row (id, code, name_vi, name_en, type, parent_id, valid_from, valid_to) with ``path``:
    the codes from the starting unit to the answer. An open unit answers for itself; a unit closed without a
    successor is returned itself (its ``valid_to`` says it is closed). An unknown code gives an empty list.
    """
    start = await find_unit_by_code(db, code)
    if start is None:
        return []
    kinds = ", ".join(f"'{k}'" for k in FORWARD_KINDS)
    out: list[dict] = []
    seen: set[int] = set()
    first = [code] if code == start["code"] else [code, start["code"]]
    queue: list[tuple[dict, list[str]]] = [(start, first)]
    while queue:
        unit, path = queue.pop(0)
        if unit["id"] in seen:
            continue
        seen.add(unit["id"])
        if _open_on(unit, on_date):
            out.append({**unit, "path": path})
            continue
        sql = (f"SELECT l.other_id, l.kind FROM hoso_unit_lineage l WHERE l.unit_id = {{}} AND l.kind IN ({kinds}) "
               "AND l.other_id IS NOT NULL")
        args: list[Any] = [unit["id"]]
        if on_date is not None:
            sql += " AND l.effective_on <= {}"
            args.append(on_date)
        nxt = await db.fetch(sql + " ORDER BY l.id", *args)
        if not nxt:
            out.append({**unit, "path": path})
            continue
        for r in nxt:
            rows = await db.fetch(f"SELECT {_UNIT_COLS} FROM hoso_unit WHERE id = {{}}", r["other_id"])
            if rows:
                queue.append((dict(rows[0]), path + [rows[0]["code"]]))
    return out
