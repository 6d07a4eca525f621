"""Writing many generated records fast, with what the record service would write for them.

``load_records`` takes records and the workflow steps each takes (as ``RecordGenerator.values`` and ``walk``
draw them) and writes, per batch, in one transaction:

- the record rows in their final state (values parsed as the service parses them, defaults and the initial
  state included, the naming series' numbers taken once per batch, ``sys_search`` of the final values,
  ``sys_version`` one per write) and their child rows;
- the history: one version per write (the creation, then each step), each closed when the next begins, and the
  child rows' first version;
- the audit: one ``create`` entry per record and one ``transition`` entry per step, with the changes the service
  would record (the fields whose value changed, ``@transition`` and ``@workflow``);
- the report summaries and the SQLite search index: their insert triggers are off while the batch's rows go in,
  then the batch is added to them in a few set-based statements (the same counts the triggers give), and the
  triggers are back on before the transaction ends (a failed batch leaves them as they were).

Rows go in by the engine's bulk path: PostgreSQL's COPY (asyncpg ``copy_records_to_table``), SQLite's
``executemany``; the record ids are taken before (PostgreSQL: from the table's sequence; SQLite: after the
largest id, under the transaction's write lock).

It does not check the records (the generator draws records the service accepts: see the tests) and calls no
record hook (``hoso_record_created``, ``hoso_transition_done``...): it is meant for demonstration and load data,
not for imports of real data, which go through ``RecordService.create_many``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass
from itertools import islice
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from hoso.audit import AUDIT_COLUMNS
from hoso.db import Database, quote
from hoso.jsonconv import changes as jsonable_changes
from hoso.jsonconv import comparable
from hoso.model.history import history_columns, history_table
from hoso.model.migrate import search_index, search_table
from hoso.model.summaries import Summary, desired_summaries
from hoso.records.access import hidden_by_any_role
from hoso.records.bulk import _name, _null_by_default
from hoso.records.context import RecordContext, is_empty
from hoso.records.search import search_text

if TYPE_CHECKING:  # pragma: no cover
    from hoso.config import EntityDef, FieldDef
    from hoso.runtime import Runtime

__all__ = ["load_records"]

_TICK = dt.timedelta(microseconds=1)
_SYS = ("sys_version", "sys_created_at", "sys_created_by", "sys_updated_at", "sys_updated_by", "sys_form_version")

Drawn = tuple[dict, list[tuple[str, dict]]]
# a step as written: (transition, the values after it, the parsed values it sent, the audit entry's changes)
Step = tuple[str, dict, dict, dict]


async def load_records(rt: Runtime, entity_name: str, drawn: Iterable[Drawn], ctx: RecordContext, *,
                       batch: int = 2000, progress: Callable[[int], Any] | None = None) -> list[int]:
    """Write ``drawn`` records (payload, steps) of the entity, ``batch`` per transaction; returns their ids.

    The next batch is drawn and parsed in a thread while the database writes the current one (``drawn`` is read
    from that thread, one batch at a time, in order)."""
    svc = rt.records()
    compiled = svc.form(entity_name)
    await svc.store.register_form(compiled)
    entity = rt.config.entity(entity_name)
    plan = await _Plan.read(rt, entity, compiled.version)
    items = iter(drawn)

    def next_batch() -> list[tuple[dict, list[Step]]]:
        return [_versions(rt, entity, payload, steps, ctx) for payload, steps in islice(items, batch)]

    ids: list[int] = []
    pending = asyncio.ensure_future(asyncio.to_thread(next_batch))
    try:
        while parsed := await pending:
            pending = asyncio.ensure_future(asyncio.to_thread(next_batch))
            ids += await _write(rt, plan, parsed, ctx)
            if progress:
                progress(len(ids))
    finally:
        if not pending.done():  # a failed write: the thread drawing the next batch ends before we do
            with suppress(Exception):
                await pending
    return ids


@dataclass
class _Plan:
    """What every batch of an entity needs, read once: the columns, converters, history tables, the summaries
    and the search index whose insert triggers a batch does the work of."""

    entity: EntityDef
    form_version: str
    convert: list[tuple[str, Callable[[Any], Any]]]  # column field -> its value as stored
    nullable: list[str]
    search: tuple[FieldDef, ...] | None  # the searched fields, when the table has sys_search
    hidden: set[str]
    history: list[str] | None
    children: list[tuple[FieldDef, str, list[tuple[str, Callable[[Any], Any]]], list[str] | None]]
    summaries: list[Summary]
    fts: tuple[str, str] | None  # SQLite: the search index's insert trigger and FTS5 table

    @classmethod
    async def read(cls, rt: Runtime, entity: EntityDef, form_version: str) -> _Plan:
        db = rt.db
        svc = rt.records()
        children = []
        for child in entity.child_tables:
            table = entity.child_table_name(child.name)
            children.append((child, table, _converters(rt, child.fields), await history_columns(db, table)))
        fts = None
        if db.is_sqlite and entity.search is not None and await svc.store.search_table(entity):
            index = next(iter(search_index(entity)))
            fts = (f"{index}__ai", search_table(index))
        summaries = [s for s in desired_summaries(rt.config, rt.registry, db.kind).values()
                     if s.entity.name == entity.name and s.table in await db.table_names()]
        return cls(entity=entity, form_version=form_version, convert=_converters(rt, entity.fields),
                   nullable=_null_by_default(svc, entity.fields),
                   search=entity.search_fields if await svc.store.has_column(entity.table, "sys_search") else None,
                   hidden=hidden_by_any_role(rt, entity), history=await history_columns(db, entity.table),
                   children=children, summaries=summaries, fts=fts)

    def insert_triggers(self) -> list[str]:
        return [n for s in self.summaries for n in s.insert_triggers()] + ([self.fts[0]] if self.fts else [])


def _converters(rt: Runtime, fields: tuple[FieldDef, ...]) -> list[tuple[str, Callable[[Any], Any]]]:
    return [(fd.name, rt.registry.field_type(fd.type).to_db) for fd in fields if not fd.is_child_table]


def _stored(convert: list[tuple[str, Callable[[Any], Any]]], values: dict) -> dict:
    """``values`` as the record store writes them (``RecordStore.to_db``)."""
    return {name: (None if (v := values[name]) is None else to_db(v)) for name, to_db in convert if name in values}


def _versions(rt: Runtime, entity: EntityDef, payload: dict, steps: list[tuple[str, dict]],
              ctx: RecordContext) -> tuple[dict, list[Step]]:
    """The record's values when created and after each step, as the service parses them: ``(created,
    [(transition, values after it, values it sent, audit changes)])``."""
    validator = rt.records().validator
    values, problems = validator.parse(entity.fields, payload, ctx)
    if problems:
        raise ValueError(f"{entity.name}: {problems}")
    workflows = {t.name: (wf, t) for wf in rt.config.workflows_for(entity.name) for t in wf.transitions}
    for wf in rt.config.workflows_for(entity.name):
        if payload.get(wf.state_field) in (None, ""):
            values[wf.state_field] = wf.initial
    out: list[Step] = []
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
        out.append((name, current, changes_in, changes))
    return values, out


async def _write(rt: Runtime, plan: _Plan, parsed: list[tuple[dict, list[Step]]], ctx: RecordContext) -> list[int]:
    svc = rt.records()
    db = rt.db
    entity = plan.entity
    now = dt.datetime.now(dt.UTC)
    sys_values = {"sys_created_at": now, "sys_created_by": ctx.user_id, "sys_updated_by": ctx.user_id,
                  "sys_form_version": plan.form_version}
    async with db.transaction():
        if entity.naming:
            await _name(svc, entity, [created for created, _steps in parsed], now)
        ids = await db.new_ids(entity.table, len(parsed))
        rows, versions = [], []
        for rid, (created, steps) in zip(ids, parsed, strict=True):
            code = {entity.naming.field: created[entity.naming.field]} if entity.naming else {}
            state = {**_stored(plan.convert, created), **code}
            for i in range(len(steps) + 1):
                if i:
                    state = {**state, **_stored(plan.convert, steps[i - 1][2])}
                versions.append({**state, **sys_values, "id": rid, "sys_version": i + 1,
                                 "sys_updated_at": now + _TICK * i, "sys_valid_from": now + _TICK * i,
                                 "sys_valid_to": now + _TICK * (i + 1) if i < len(steps) else None})
            row = dict(versions[-1])
            del row["sys_valid_from"], row["sys_valid_to"]
            if plan.search is not None:
                final = {**(steps[-1][1] if steps else created), **code}
                row["sys_search"] = search_text(plan.search, final, plan.hidden)
            rows.append(row)
        for name in plan.nullable:
            for row in rows:
                row.setdefault(name, None)
        triggers = await _triggers_off(db, entity.table, plan.insert_triggers())
        await _copy(db, entity.table, rows)
        for child, table, convert, hist in plan.children:
            child_rows = [{**_stored(convert, r), "parent_id": rid, "position": pos}
                          for rid, (created, _s) in zip(ids, parsed, strict=True)
                          for pos, r in enumerate(created.get(child.name) or [])]
            await _copy(db, table, child_rows)
            if hist and child_rows:
                cols = ", ".join(quote(c) for c in hist)
                picked = ", ".join(f"c.{quote(c)}" for c in hist)
                await db.execute(f"INSERT INTO {quote(history_table(table))} ({cols}, sys_valid_from) SELECT {picked}, "
                                 f"p.sys_created_at FROM {quote(table)} c JOIN {quote(entity.table)} p "
                                 f"ON p.id = c.parent_id WHERE c.parent_id IN ({_in(ids)}) ORDER BY c.id")
        if plan.history is not None:
            wanted = [*plan.history, "sys_valid_from", "sys_valid_to"]
            blank = dict.fromkeys(wanted)
            pick = itemgetter(*wanted)
            await db.copy_records(history_table(entity.table), wanted,
                                [pick({**blank, **v}) for v in versions])
        audit = []
        for rid, (created, steps) in zip(ids, parsed, strict=True):
            changes = jsonable_changes({k: (None, v) for k, v in created.items() if not is_empty(v)})
            audit.append(_audit_row(now, ctx, "create", entity.name, rid, changes))
            for i, step in enumerate(steps, start=1):
                audit.append(_audit_row(now + _TICK * i, ctx, "transition", entity.name, rid, step[3]))
        await db.copy_records("hoso_audit", list(AUDIT_COLUMNS), audit)
        batch = f"t.id IN ({_in(ids)})"
        for s in plan.summaries:
            for statement in s.add_sql(batch):
                await db.execute(statement)
        if plan.fts:
            await db.execute(f"INSERT INTO {quote(plan.fts[1])} (rowid, sys_search) SELECT t.id, t.sys_search "
                             f"FROM {quote(entity.table)} t WHERE {batch} ORDER BY t.id")
        await _triggers_on(db, entity.table, triggers)
    return ids


def _audit_row(at: dt.datetime, ctx: RecordContext, action: str, entity: str, rid: int, changes: dict) -> tuple:
    return (at, ctx.user_id, ctx.user_name, ctx.origin, action, entity, rid,
            json.dumps(changes, ensure_ascii=False, sort_keys=True), None)


def _in(ids: list[int]) -> str:
    return ", ".join(str(int(i)) for i in ids)


async def _copy(db: Database, table: str, rows: list[dict]) -> None:
    """Insert ``rows`` (the columns any of them has; missing ones NULL) by the engine's bulk path."""
    if not rows:
        return
    cols = sorted(set().union(*rows))
    pick = itemgetter(*cols)
    records = [pick(row) if len(row) == len(cols) else tuple(row.get(c) for c in cols) for row in rows]
    await db.copy_records(table, cols, records if len(cols) > 1 else [(v,) for v in records])


async def _triggers_off(db: Database, table: str, names: list[str]) -> list[str]:
    """Switch off the named triggers of ``table`` for the transaction; returns what ``_triggers_on`` needs."""
    if not names:
        return []
    if db.is_sqlite:  # no switch: drop them and create them again from their recorded text
        marks = ", ".join("{}" for _ in names)
        found = [r["sql"] for r in await db.fetch(
            f"SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = {{}} AND name IN ({marks}) "
            "ORDER BY name", table, *names)]
        for name in names:
            await db.execute(f"DROP TRIGGER IF EXISTS {quote(name)}")
        return found
    for name in names:
        await db.execute(f"ALTER TABLE {quote(table)} DISABLE TRIGGER {quote(name)}")
    return names


async def _triggers_on(db: Database, table: str, saved: list[str]) -> None:
    for item in saved:
        await db.execute(item if db.is_sqlite else f"ALTER TABLE {quote(table)} ENABLE TRIGGER {quote(item)}")
