"""Writing many generated records fast, with what the record service would write for them.

``load_records`` takes records and the workflow steps each takes (as ``RecordGenerator.values`` and ``walk``
draw them) and writes, per batch, in one transaction and with a handful of multi-row statements:

- the record rows in their final state (values parsed as the service parses them, defaults and the initial
  state included, the naming series' numbers taken once per batch, ``sys_search`` of the final values,
  ``sys_version`` one per write) and their child rows;
- the history: one version per write (the creation, then each step), each closed when the next begins, and the
  child rows' first version;
- the audit: one ``create`` entry per record and one ``transition`` entry per step, with the changes the service
  would record (the fields whose value changed, ``@transition`` and ``@workflow``);
- the report summaries follow by their triggers, the SQLite search index by its triggers.

It does not check the records (the generator draws records the service accepts: see the tests) and calls no
record hook (``hoso_record_created``, ``hoso_transition_done``...): it is meant for demonstration and load data,
not for imports of real data, which go through ``RecordService.create_many``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from hoso.audit import insert_audit_rows
from hoso.db import quote
from hoso.jsonconv import changes as jsonable_changes
from hoso.jsonconv import comparable
from hoso.model.history import history_columns, history_table
from hoso.records.bulk import _name, _null_by_default
from hoso.records.context import RecordContext, is_empty

if TYPE_CHECKING:  # pragma: no cover
    from hoso.config import EntityDef
    from hoso.runtime import Runtime

__all__ = ["load_records", "MAX_PARAMETERS"]

MAX_PARAMETERS = 32_000  # both engines bind at most 32,767 parameters per statement
_TICK = dt.timedelta(microseconds=1)

Drawn = tuple[dict, list[tuple[str, dict]]]


async def load_records(rt: Runtime, entity_name: str, drawn: Iterable[Drawn], ctx: RecordContext, *,
                       batch: int = 2000, progress: Callable[[int], Any] | None = None) -> list[int]:
    """Write ``drawn`` records (payload, steps) of the entity, ``batch`` per transaction; returns their ids."""
    svc = rt.records()
    entity = rt.config.entity(entity_name)
    compiled = svc.form(entity_name)
    await svc.store.register_form(compiled)
    ids: list[int] = []
    chunk: list[Drawn] = []
    for item in drawn:
        chunk.append(item)
        if len(chunk) >= batch:
            ids += await _write(rt, entity, chunk, ctx, compiled.version)
            chunk = []
            if progress:
                progress(len(ids))
    if chunk:
        ids += await _write(rt, entity, chunk, ctx, compiled.version)
        if progress:
            progress(len(ids))
    return ids


def _versions(rt: Runtime, entity: EntityDef, payload: dict, steps: list[tuple[str, dict]],
              ctx: RecordContext) -> tuple[dict, list[tuple[str | None, dict, dict]]]:
    """The record's values when created and after each step, as the service parses them: ``(created,
    [(transition, values after it, audit changes)])``."""
    validator = rt.records().validator
    values, problems = validator.parse(entity.fields, payload, ctx)
    if problems:
        raise ValueError(f"{entity.name}: {problems}")
    workflows = {t.name: (wf, t) for wf in rt.config.workflows_for(entity.name) for t in wf.transitions}
    for wf in rt.config.workflows_for(entity.name):
        if payload.get(wf.state_field) in (None, ""):
            values[wf.state_field] = wf.initial
    out: list[tuple[str | None, dict, dict]] = []
    current = values
    for name, step_payload in steps:
        wf, tr = workflows[name]
        changes_in, problems = validator.parse(entity.fields, step_payload, ctx, partial=True)
        if problems:
            raise ValueError(f"{entity.name} {name}: {problems}")
        changes_in[wf.state_field] = tr.to
        diff = {k: (current.get(k), v) for k, v in changes_in.items() if comparable(current.get(k)) != comparable(v)}
        current = {**current, **changes_in}
        changes: dict[str, Any] = dict(jsonable_changes(diff))
        changes.update({"@transition": tr.name, "@workflow": wf.name})
        out.append((name, current, changes))
    return values, out


async def _write(rt: Runtime, entity: EntityDef, chunk: list[Drawn], ctx: RecordContext,
                 form_version: str) -> list[int]:
    svc = rt.records()
    store = svc.store
    db = rt.db
    now = dt.datetime.now(dt.UTC)
    parsed = [_versions(rt, entity, payload, steps, ctx) for payload, steps in chunk]
    async with db.transaction():
        if entity.naming:
            await _name(svc, entity, [created for created, _steps in parsed], now)
        rows = []
        for created, steps in parsed:
            final = steps[-1][1] if steps else created
            if entity.naming:
                final[entity.naming.field] = created[entity.naming.field]
            row = store.to_db(entity.fields, final)
            row.update(sys_version=1 + len(steps), sys_created_at=now, sys_created_by=ctx.user_id,
                       sys_updated_at=now + _TICK * len(steps), sys_updated_by=ctx.user_id,
                       sys_form_version=form_version)
            row.update(await store.search_column(entity, final))
            rows.append(row)
        for name in _null_by_default(svc, entity.fields):
            for row in rows:
                row.setdefault(name, None)
        ids = await _insert(rt, entity.table, rows, returning=True)
        for child in entity.child_tables:
            child_rows = [dict(store.to_db(child.fields, r), parent_id=rid, position=pos)
                          for rid, (created, _s) in zip(ids, parsed, strict=True)
                          for pos, r in enumerate(created.get(child.name) or [])]
            await _insert(rt, entity.child_table_name(child.name), child_rows, returning=False)
            table = entity.child_table_name(child.name)
            columns = await history_columns(db, table)
            if columns and child_rows:
                cols = ", ".join(quote(c) for c in columns)
                picked = ", ".join(f"c.{quote(c)}" for c in columns)
                await db.execute(f"INSERT INTO {quote(history_table(table))} ({cols}, sys_valid_from) SELECT {picked}, "
                                 f"p.sys_created_at FROM {quote(table)} c JOIN {quote(entity.table)} p "
                                 f"ON p.id = c.parent_id WHERE c.parent_id IN ({_in(ids)}) ORDER BY c.id")
        await _history(rt, entity, ids, parsed, ctx, form_version, now)
        audit = []
        for rid, (created, steps) in zip(ids, parsed, strict=True):
            changes = jsonable_changes({k: (None, v) for k, v in created.items() if not is_empty(v)})
            audit.append(_audit_row(now, ctx, "create", entity.name, rid, changes))
            for i, step in enumerate(steps, start=1):
                audit.append(_audit_row(now + _TICK * i, ctx, "transition", entity.name, rid, step[2]))
        await insert_audit_rows(db, audit)
    return ids


def _audit_row(at: dt.datetime, ctx: RecordContext, action: str, entity: str, rid: int, changes: dict) -> tuple:
    return (at, ctx.user_id, ctx.user_name, ctx.origin, action, entity, rid,
            json.dumps(changes, ensure_ascii=False, sort_keys=True), None)


async def _history(rt: Runtime, entity: EntityDef, ids: list[int], parsed: list, ctx: RecordContext,
                   form_version: str, now: dt.datetime) -> None:
    """One version per write of each record: the creation and each step, each closed when the next begins."""
    columns = await history_columns(rt.db, entity.table)
    if columns is None:
        return
    store = rt.records().store
    rows = []
    for rid, (created, steps) in zip(ids, parsed, strict=True):
        states = [created] + [values for _n, values, _c in steps]
        for i, values in enumerate(states):
            data = store.to_db(entity.fields, {**values, **({entity.naming.field: created[entity.naming.field]}
                                                              if entity.naming else {})})
            data.update(id=rid, sys_version=i + 1, sys_created_at=now, sys_created_by=ctx.user_id,
                        sys_updated_at=now + _TICK * i, sys_updated_by=ctx.user_id, sys_form_version=form_version)
            row = {c: data.get(c) for c in columns}
            row["sys_valid_from"] = now + _TICK * i
            row["sys_valid_to"] = now + _TICK * (i + 1) if i + 1 < len(states) else None
            rows.append(row)
    await _insert(rt, history_table(entity.table), rows, returning=False)


def _in(ids: list[int]) -> str:
    return ", ".join(str(int(i)) for i in ids)


async def _insert(rt: Runtime, table: str, rows: list[dict], *, returning: bool) -> list[int]:
    """Multi-row INSERTs of rows with the same columns (missing ones NULL); the ids in the order of ``rows``."""
    if not rows:
        return []
    cols = sorted({c for row in rows for c in row})
    names = ", ".join(quote(c) for c in cols)
    one = "(" + ", ".join("{}" for _ in cols) + ")"
    per = max(1, MAX_PARAMETERS // len(cols))
    ids: list[int] = []
    for start in range(0, len(rows), per):
        chunk = rows[start:start + per]
        args = [row.get(c) for row in chunk for c in cols]
        sql = f"INSERT INTO {quote(table)} ({names}) VALUES {', '.join(one for _ in chunk)}"
        if returning:
            # both engines number the rows of one INSERT in the order of its VALUES
            ids += sorted(int(r["id"]) for r in await rt.db.fetch(sql + " RETURNING id", *args))
        else:
            await rt.db.execute(sql, *args)
    return ids
