"""Following unit lineage: from an old code to the unit(s) that answer for it.

It sits below the records and the restructuring engine: the record service names a closed unit's successor,
and the restructuring writes the lineage rows read here.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from hoso.db import Database
from hoso.i18n import local_today

__all__ = ["lookup_successor", "find_unit_by_code", "sync_unit_edges", "MERGED_INTO", "SPLIT_INTO", "ABOLISHED",
           "FORWARD_KINDS"]

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


def _date(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _codes(units: list[dict], recoded: list[dict]) -> dict[str, int]:
    """Every code a unit ever held -> the unit (codes are never given to another unit)."""
    out = {u["code"]: u["id"] for u in units}
    for r in recoded:
        if r["detail"] and r["detail"] not in out:
            out[r["detail"]] = r["unit_id"]
    return out


def _history(unit: dict, moves: list[dict], codes: dict[str, int]) -> list[tuple[int | None, dt.date | None,
                                                                                 dt.date | None]]:
    """The parent links of a unit that has none yet, read back from its ``moved`` lineage (each says where the
    unit hung before, by code, and where it went): ``[(parent, valid_from, valid_to)]`` in date order."""
    start, end = _date(unit["valid_from"]), _date(unit["valid_to"])
    if not moves:
        return [(unit["parent_id"], start, end)]
    first = json.loads(moves[0]["detail"] or "{}").get("from")
    parent: int | None = codes.get(first) if first else None
    out: list[tuple[int | None, dt.date | None, dt.date | None]] = []
    since = start
    for m in moves:
        on = _date(m["effective_on"])
        if since is None or (on is not None and on > since):
            out.append((parent, since, on))
            since = on
        parent = m["other_id"]
    # The last link is the unit's parent now, whatever the lineage says.
    out.append((unit["parent_id"], since, end))
    return out


async def sync_unit_edges(db: Database, on: dt.date | None = None) -> int:
    """Bring the dated parent links (hoso_unit_edge) in line with hoso_unit; return the rows written.

    Called in the transaction that changes units: a unit whose parent changed gets its open link closed on ``on``
    (the effective date of the change; default today) and a new one from that day; a unit that closed gets its
    open link closed on its ``valid_to``; a unit without links gets its history, read back from its ``moved``
    lineage (so an existing database is backfilled by ``hoso migrate``). A change dated on or before the start of
    the open link replaces its parent (one link per unit and day)."""
    if "hoso_unit_edge" not in set(await db.table_names()):
        return 0
    on = on or local_today()
    units = [dict(r) for r in await db.fetch("SELECT id, code, parent_id, valid_from, valid_to FROM hoso_unit")]
    last: dict[int, dict] = {}
    for r in await db.fetch("SELECT id, unit_id, parent_id, valid_from, valid_to FROM hoso_unit_edge"):
        prev = last.get(r["unit_id"])
        if prev is None or (_date(r["valid_from"]) or dt.date.min, r["id"]) > (
                _date(prev["valid_from"]) or dt.date.min, prev["id"]):
            last[r["unit_id"]] = dict(r)
    inserts: list[tuple] = []
    updates: list[tuple] = []
    missing = [u for u in units if u["id"] not in last]
    if missing:
        lineage = await db.fetch("SELECT unit_id, kind, other_id, effective_on, detail FROM hoso_unit_lineage "
                                 "WHERE kind IN ('moved', 'recoded') ORDER BY effective_on, id")
        codes = _codes(units, [r for r in lineage if r["kind"] == "recoded"])
        moves: dict[int, list[dict]] = {}
        for r in lineage:
            if r["kind"] == "moved":
                moves.setdefault(r["unit_id"], []).append(dict(r))
        for u in missing:
            inserts.extend((u["id"], p, a, b) for p, a, b in _history(u, moves.get(u["id"], []), codes))
    for u in units:
        e = last.get(u["id"])
        if e is None:
            continue
        end = _date(u["valid_to"])
        if e["parent_id"] != u["parent_id"]:
            since = _date(e["valid_from"])
            if since is not None and since >= on:
                updates.append((u["parent_id"], since, end, e["id"]))
            else:
                updates.append((e["parent_id"], since, on, e["id"]))
                inserts.append((u["id"], u["parent_id"], on, end))
        elif _date(e["valid_to"]) != end:
            updates.append((e["parent_id"], _date(e["valid_from"]), end, e["id"]))
    if updates:
        await db.executemany("UPDATE hoso_unit_edge SET parent_id = ?, valid_from = ?, valid_to = ? WHERE id = ?",
                             updates)
    if inserts:
        await db.executemany("INSERT INTO hoso_unit_edge (unit_id, parent_id, valid_from, valid_to) "
                             "VALUES (?, ?, ?, ?)", inserts)
    return len(updates) + len(inserts)
