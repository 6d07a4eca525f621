"""Creating many records in one transaction: the bulk path of the record service (imports, digitisation).

``create_many`` checks every record exactly as ``RecordService.create`` does (parsing, the fields a payload may
not write, the plugins' validators, references, units, uniqueness, the write guards, the scope of the unit) and
then writes the whole batch at once: multi-row INSERTs for the records and their child rows, the numbers of each
naming series taken once per batch, one statement for the history versions, one for the scope check. The
record hooks keep their contracts: ``hoso_validate_record`` and ``hoso_write_guard`` are asked for each record
before anything is written, ``hoso_write_audit`` receives one event per record and ``hoso_record_created`` is
called for each record inside the transaction, ``hoso_after_commit`` once with the batch's events after it
committed. One invalid record writes nothing of the batch.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from hoso.audit import AuditEvent, audit_batch
from hoso.db import quote
from hoso.i18n import t
from hoso.jsonconv import changes as jsonable_changes
from hoso.jsonconv import comparable as jsonable_deep
from hoso.model.history import history_table
from hoso.records import events
from hoso.records.access import Access
from hoso.records.context import RecordContext, is_empty
from hoso.records.errors import Forbidden, ValidationError
from hoso.records.guard import guard_batch, write_guard
from hoso.records.naming import code_parts, format_code, take_in_series
from hoso.records.validation import RecordValidator, child_id_problems

if TYPE_CHECKING:  # pragma: no cover
    from hoso.config import EntityDef, FieldDef
    from hoso.records.service import RecordService

__all__ = ["BatchInvalid", "create_many", "MAX_PARAMETERS"]

# Both engines bind at most 32,767 parameters per statement (SQLite since 3.32, asyncpg): a multi-row INSERT is
# cut into statements below this.
MAX_PARAMETERS = 32_000


class BatchInvalid(ValidationError):
    """Records of a batch are invalid; nothing of the batch was written.

    ``rows`` maps the position of each invalid record in the batch (from 0) to its ``(field, message)``
    problems; ``problems`` lists them all as ``[position].field``."""

    def __init__(self, rows: dict[int, list[tuple[str, str]]]):
        self.rows = rows
        super().__init__([(f"[{i}].{f}" if f else f"[{i}]", m) for i, found in sorted(rows.items())
                          for f, m in found])


async def create_many(svc: RecordService, entity_name: str, payloads: list[dict], ctx: RecordContext, *,
                      form: str | None = None,
                      in_transaction: Callable[[list[dict]], Awaitable[None]] | None = None,
                      dry_run: bool = False) -> list[dict]:
    """Create a record from each payload, all in one transaction, as ``create`` would one by one.

    ``in_transaction(records)`` runs inside the transaction once the records were written (e.g. to keep which
    file rows they came from), so that what it writes commits with them. Returns the records as the actor sees
    them, in the order of ``payloads``. Raises Forbidden (no role may create), BatchInvalid (nothing written).

    ``dry_run``: every check, the scope's included (over the batch's values: nothing is inserted, no id or code
    is taken, no series is locked), and nothing kept; returns an empty list when the batch would be written."""
    entity = svc._entity(entity_name)
    access = Access(svc.rt, ctx)
    if not await access.may_at_all("create", entity):
        raise Forbidden(t("forbidden", ctx.lang, action="create"))
    if not payloads:
        return []
    compiled = svc._compiled(entity, form, ctx)
    validator = svc.validator
    workflows = svc.config.workflows_for(entity.name)
    parsed: list[dict] = []
    found: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for i, payload in enumerate(payloads):
        values, problems = validator.parse(entity.fields, payload, ctx)
        if isinstance(payload, dict):
            problems += await validator.write_problems(entity, payload, values, ctx, access, compiled, None)
            problems += child_id_problems(entity, values, None, ctx)
            for wf in workflows:
                if payload.get(wf.state_field) in (None, ""):
                    values[wf.state_field] = wf.initial
        if problems:
            found[i] = problems
        parsed.append(values)
    now = dt.datetime.now(dt.UTC)
    await svc.store.register_form(compiled)
    try:
        return await _write(svc, entity, access, compiled, parsed, found, ctx, now, in_transaction, dry_run)
    except _DryRun:
        return []


class _DryRun(Exception):
    """Raised inside a dry run's transaction once every check passed, to roll it back."""


async def _write(svc, entity, access, compiled, parsed, found, ctx, now, in_transaction, dry_run) -> list[dict]:
    validator = RecordValidator(svc.rt, batch=True)  # keeps the units it reads for the whole batch
    async with events.collected(svc.rt), svc._conflicts_audited(entity, access, ctx), svc.db.transaction():
        for i, values in enumerate(parsed):
            problems = await validator.validate(entity, values, ctx, access, compiled, None, None, found.pop(i, []))
            if problems:
                found[i] = problems
        _unique_within(entity, parsed, found, ctx)
        if found:
            raise BatchInvalid(dict(found))
        with guard_batch():
            for i, values in enumerate(parsed):
                try:
                    await write_guard(svc.rt, entity, "create", None, values, ctx)
                except ValidationError as exc:
                    found[i] = exc.problems
        if found:
            raise BatchInvalid(dict(found))
        if dry_run:
            # Checked against the batch's values, not against inserted rows: a preview takes no id and no code,
            # locks no series and maintains no index (see ``_staged``).
            if not access.superuser:
                table, staged = await _staged(svc, entity, parsed, ctx, compiled.version, now)
                await _require_scope(svc, entity, staged, access, ctx, table)
            raise _DryRun()
        if entity.naming:
            await _name(svc, entity, parsed, now)
        ids = await _insert(svc, entity, parsed, ctx, compiled.version, now)
        for child in entity.child_tables:
            rows = _padded([dict(svc.store.to_db(child.fields, r), parent_id=rid, position=pos)
                            for rid, values in zip(ids, parsed, strict=True)
                            for pos, r in enumerate(values.get(child.name) or [])],
                           _null_by_default(svc, child.fields))
            await _insert_rows(svc, entity.child_table_name(child.name), rows, returning=False)
        await _require_scope(svc, entity, ids, access, ctx)
        await _versions(svc, entity, ids)
        async with audit_batch(svc.db):
            for rid, values in zip(ids, parsed, strict=True):
                changes = {k: (None, v) for k, v in values.items() if not is_empty(v)}
                await svc.store.audit(AuditEvent("create", entity.name, rid, ctx.user_id, ctx.user_name,
                                                 ctx.origin, jsonable_changes(changes)))
        records = await _fetch_many(svc, entity, ids)
        for record in records:
            await events.emit(svc.rt, "created", entity, record, ctx)
        if in_transaction is not None:
            await in_transaction(records)
    return [await svc.store.visible(entity, record, access) for record in records]


def _unique_within(entity: EntityDef, parsed: list[dict], found: dict[int, list[tuple[str, str]]],
                   ctx: RecordContext) -> None:
    """Two records of one batch may not share a unique value either (the database checks saw neither)."""
    for fd in entity.column_fields:
        if not fd.unique:
            continue
        seen: set[Any] = set()
        for i, values in enumerate(parsed):
            v = values.get(fd.name)
            if v is None:
                continue
            key = repr(jsonable_deep(v))
            if key in seen and not any(f == fd.name for f, _m in found.get(i, ())):
                found[i].append((fd.name, t("not_unique", ctx.lang, value=v)))
            seen.add(key)


async def _name(svc: RecordService, entity: EntityDef, parsed: list[dict], now: dt.datetime) -> None:
    """The codes of the batch: each series' numbers taken in one statement, in the order of the batch."""
    assert entity.naming is not None
    unit_codes: dict[tuple[str, Any], Any] = {}
    keyed: dict[str, list[tuple[dict, dict]]] = defaultdict(list)
    for values in parsed:
        key, context = await code_parts(svc.db, entity, values, now, unit_codes)
        keyed[key].append((values, context))
    for key, members in keyed.items():
        first = await take_in_series(svc.db, key, len(members))
        for n, (values, context) in enumerate(members):
            values[entity.naming.field] = format_code(entity, context, first + n)


def _null_by_default(svc: RecordService, fields: tuple[FieldDef, ...]) -> list[str]:
    """The fields whose column is NULL when an INSERT leaves it out: a row of the batch that has no value for one
    is given NULL, so that rows differing only there go in one statement and store what single INSERTs store."""
    out = []
    for fd in fields:
        if fd.is_child_table:
            continue
        column = svc.rt.registry.field_type(fd.type).column(fd)
        if column._meta.null and column.default is None:
            out.append(fd.name)
    return out


def _padded(rows: list[dict], names: list[str]) -> list[dict]:
    for row in rows:
        for name in names:
            row.setdefault(name, None)
    return rows


async def _rows(svc: RecordService, entity: EntityDef, parsed: list[dict], ctx: RecordContext, form_version: str,
                now: dt.datetime, *, search: bool = True) -> list[dict]:
    """The entity table's rows of the batch: its columns and the system fields of a creation."""
    rows = []
    nullable = _null_by_default(svc, entity.fields)
    for values in parsed:
        row = _padded([svc.store.to_db(entity.fields, values)], nullable)[0]
        row.update(sys_version=1, sys_created_at=now, sys_created_by=ctx.user_id, sys_updated_at=now,
                   sys_updated_by=ctx.user_id, sys_form_version=form_version)
        if search:
            row.update(await svc.store.search_column(entity, values))
        rows.append(row)
    return rows


async def _insert(svc: RecordService, entity: EntityDef, parsed: list[dict], ctx: RecordContext, form_version: str,
                  now: dt.datetime) -> list[int]:
    rows = await _rows(svc, entity, parsed, ctx, form_version, now)
    return await _insert_rows(svc, entity.table, rows, returning=True)


async def _staged(svc: RecordService, entity: EntityDef, parsed: list[dict], ctx: RecordContext, form_version: str,
                  now: dt.datetime) -> tuple[str, list[int]]:
    """A dry run's batch as rows of a temporary table made like the entity's (the same columns and types, no index,
    no constraint, no sequence), with the ids -1, -2, ... that no record has, so that the scope predicate reads them
    as it would read the inserted rows. The table goes with the dry run's rollback. Returns its name and the ids,
    in the order of ``parsed``."""
    table = f"hoso_dry_{entity.table}"
    await svc.db.execute(f"CREATE TEMP TABLE {quote(table)} AS SELECT * FROM {quote(entity.table)} WHERE 1 = 0")
    rows = await _rows(svc, entity, parsed, ctx, form_version, now, search=False)
    ids = [-(i + 1) for i in range(len(rows))]
    for rid, row in zip(ids, rows, strict=True):
        row["id"] = rid
    await _insert_rows(svc, table, rows, returning=False)
    return table, ids


async def _insert_rows(svc: RecordService, table: str, rows: list[dict], *, returning: bool) -> list[int]:
    """Insert ``rows`` (PostgreSQL: by COPY; SQLite: multi-row INSERTs); the ids in the order of ``rows`` when
    ``returning``."""
    ids: list[int | None] = [None] * len(rows)
    # Runs of rows with the same columns, in order, so that ids follow the order of ``rows`` as single
    # INSERTs would number them (and a column a row leaves out takes its default, as in an INSERT).
    runs: list[tuple[tuple[str, ...], list[int]]] = []
    for i, row in enumerate(rows):
        cols = tuple(sorted(row))
        if runs and runs[-1][0] == cols:
            runs[-1][1].append(i)
        else:
            runs.append((cols, [i]))
    if not svc.db.is_sqlite:
        return await _copied(svc, table, rows, runs, returning)
    for cols, members in runs:
        per = max(1, MAX_PARAMETERS // max(1, len(cols)))
        names = ", ".join(quote(c) for c in cols)
        one = "(" + ", ".join("{}" for _ in cols) + ")"
        for start in range(0, len(members), per):
            chunk = members[start:start + per]
            args = [rows[i][c] for i in chunk for c in cols]
            sql = f"INSERT INTO {quote(table)} ({names}) VALUES {', '.join(one for _ in chunk)}"
            if returning:
                # Both engines number the rows of one INSERT in the order of its VALUES; RETURNING may list them
                # in any order, so the ids are sorted back into it.
                got = sorted(r["id"] for r in await svc.db.fetch(sql + " RETURNING id", *args))
                for i, rid in zip(chunk, got, strict=True):
                    ids[i] = rid
            else:
                await svc.db.execute(sql, *args)
    return [int(i) for i in ids if i is not None]


async def _copied(svc: RecordService, table: str, rows: list[dict], runs: list[tuple[tuple[str, ...], list[int]]],
                  returning: bool) -> list[int]:
    """PostgreSQL: ``rows`` by COPY (a multi-row INSERT of 500 records of 40 columns is 20,000 parameters, which
    PostgreSQL parses and plans every time: 0.2 ms a record for the case table, of which COPY takes about a third).
    The ids are taken from the table's sequence first, in increasing order, as the INSERT would number them."""
    ids = await svc.db.new_ids(table, len(rows)) if returning else []
    for cols, members in runs:
        records = [tuple(rows[i][c] for c in cols) + ((ids[i],) if returning else ()) for i in members]
        await svc.db.copy_records(table, [*cols, "id"] if returning else list(cols), records)
    return ids


def _in(ids: list[int]) -> str:
    # The ids come from the database as integers: written inline, they cost no parameter slots.
    return ", ".join(str(int(i)) for i in ids)


async def _versions(svc: RecordService, entity: EntityDef, ids: list[int]) -> None:
    """The first history version of every record of the batch and of its child rows, one statement each."""
    at = dt.datetime.now(dt.UTC)
    tables = [(entity.table, "id")] + [(entity.child_table_name(c.name), "parent_id") for c in entity.child_tables]
    for table, key in tables:
        columns = await svc.store._history_columns(table)
        if columns is None:
            continue
        cols = ", ".join(quote(c) for c in columns)
        await svc.db.execute(f"INSERT INTO {quote(history_table(table))} ({cols}, sys_valid_from) SELECT {cols}, "
                             f"{{}} FROM {quote(table)} WHERE {key} IN ({_in(ids)}) ORDER BY id", at)


async def _require_scope(svc: RecordService, entity: EntityDef, ids: list[int], access: Access,
                         ctx: RecordContext, table: str | None = None) -> None:
    """Every record of the batch (rows ``ids`` of the entity's table, or of ``table``) satisfies the actor's
    ``create`` predicate, or the batch is undone, naming the unit field of each record out of scope."""
    if access.superuser:
        return
    pred = await access.scoped("create", entity)
    allowed: set[int] = set()
    if not pred.is_false:
        rows = await svc.db.fetch(f"SELECT t.id FROM {quote(table or entity.table)} t WHERE t.id IN ({_in(ids)}) "
                                  f"AND ({pred.sql})", *pred.args)
        allowed = {int(r["id"]) for r in rows}
    refused = [i for i, rid in enumerate(ids) if rid not in allowed]
    if not refused:
        return
    if not entity.unit_field:
        raise Forbidden(t("forbidden", ctx.lang, action="create"))
    raise BatchInvalid({i: [(entity.unit_field, t("out_of_scope", ctx.lang))] for i in refused})


async def _fetch_many(svc: RecordService, entity: EntityDef, ids: list[int]) -> list[dict]:
    """The records ``ids`` as ``RecordStore.fetch`` reads each, in the order of ``ids``."""
    rows = await svc.db.fetch(f"SELECT {svc.store.columns(entity)} FROM {quote(entity.table)} t "
                              f"WHERE t.id IN ({_in(ids)})")
    by_id = {r["id"]: svc.store.load_row(entity.fields, r) for r in rows}
    for child in entity.child_tables:
        ccols = ", ".join(["id", "parent_id"] + [quote(f.name) for f in child.fields])
        crows = await svc.db.fetch(f"SELECT {ccols} FROM {quote(entity.child_table_name(child.name))} "
                                   f"WHERE parent_id IN ({_in(ids)}) ORDER BY parent_id, position")
        for record in by_id.values():
            record[child.name] = []
        for r in crows:
            row = dict(r)
            parent = row.pop("parent_id")
            by_id[parent][child.name].append(svc.store.load_row(child.fields, row))
    return [by_id[i] for i in ids]
