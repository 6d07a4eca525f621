"""Plan and apply definition changes.

The database keeps, in ``hoso_schema_state``, a snapshot of the definitions last applied: for every entity
table and child table, its fields with their types and whether they are retired, and its indexes. ``plan``
compares that snapshot with the YAML and lists the changes, with the rows each touches and any problem that
blocks it; ``apply`` makes them in one transaction and records the new snapshot.

Nothing is ever dropped: a field missing from the YAML is retired (column and data kept, hidden), and an
entity missing from the YAML is retired with its table. Putting either back restores it.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

from piccolo.columns import BigInt
from piccolo.table import Table, create_table_class

from hoso.config import Config, EntityDef, FieldDef, WorkflowDef
from hoso.db import FOLD_FUNCTION, Database, quote, text_literal
from hoso.fields import Registry
from hoso.model.history import (
    HISTORY_SKIPPED,
    add_history_column,
    create_history,
    history_table,
    keep_converted_column,
    rename_history_column,
)
from hoso.model.summaries import (
    Summary,
    build_summary,
    desired_summaries,
    drop_summary,
    existing_summaries,
    summary_current,
)
from hoso.model.tables import (
    CHILD_COLUMNS,
    SCOPE_COLUMN,
    SYSTEM_COLUMNS,
    SYSTEM_OBJECTS,
    build_system_tables,
    index_name,
    table_spec_key,
)
from hoso.plugin_types import system_index_name

__all__ = ["Change", "Plan", "PlanError", "MigrationError", "SnapshotCorrupt", "make_plan", "apply_plan",
           "desired_snapshot", "applied_state", "SNAPSHOT_FORMAT", "list_indexes", "search_index", "search_table",
           "search_index_ddl", "fold_indexes", "FULLTEXT_VECTOR"]

SNAPSHOT_FORMAT = 1
TMP_SUFFIX = "__hoso_new"
UNIQUE_VALUES_SHOWN = 20  # duplicated values whose records a refused unique index lists
ProgressFn = Callable[[str, int, int], None]


class MigrationError(Exception):
    """A change cannot be applied; the database was left as it was."""


class SnapshotCorrupt(MigrationError):
    """The stored record of the applied definitions cannot be read."""


@dataclass
class PlanError:
    table: str
    field: str | None
    message: str
    record_ids: list[int] = dc_field(default_factory=list)

    def __str__(self) -> str:
        where = f"{self.table}.{self.field}" if self.field else self.table
        ids = ""
        if self.record_ids:
            shown = ", ".join(map(str, self.record_ids[:50]))
            more = f" and {len(self.record_ids) - 50} more" if len(self.record_ids) > 50 else ""
            ids = f" (record ids: {shown}{more})"
        return f"{where}: {self.message}{ids}"


@dataclass
class Change:
    """One step of a plan."""

    kind: str  # create_table, retire_table, restore_table, add_field, rename_field, retire_field,
    # restore_field, convert_field, add_index, drop_index, create_system_table, add_system_column, switch_module,
    # create_history, add_history_column, add_system_index, drop_summary, build_summary
    table: str  # the table key: entity name, or "entity.child" for child tables, or a system table name
    detail: str
    rows: int = 0
    field: str | None = None
    data: dict = dc_field(default_factory=dict)

    @property
    def column(self) -> str:
        """The field a field-level change is about (every such kind names one)."""
        if self.field is None:
            raise ValueError(f"a {self.kind} change of {self.table!r} names no field")
        return self.field

    def describe(self) -> str:
        rows = f" [{self.rows} row{'s' if self.rows != 1 else ''}]" if self.rows else ""
        return f"{self.kind:<16} {self.table}{'.' + self.field if self.field else ''}: {self.detail}{rows}"


@dataclass
class Plan:
    changes: list[Change]
    errors: list[PlanError]
    snapshot: dict
    previous: dict | None
    content_hash: str
    # Definition files added, changed or removed since the last migrate that change nothing in the database
    # (a form's label, a plugin kind's file): `hoso migrate` records them; the application runs either way.
    definitions: list[str] = dc_field(default_factory=list)
    # The summary tables the configuration asks for, by table name (hoso.model.summaries).
    summaries: dict[str, Summary] = dc_field(default_factory=dict)

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    @property
    def ok(self) -> bool:
        return not self.errors

    def render(self) -> str:
        if not self.changes and not self.errors:
            if self.definitions:
                return ("No changes to the database. Definition files changed since the last migrate (`hoso "
                        "migrate` records them):\n" + "\n".join(f"  {d}" for d in self.definitions))
            return "No changes: the database matches the configuration."
        lines = []
        if self.changes:
            lines.append(f"{len(self.changes)} change{'s' if len(self.changes) != 1 else ''}:")
            lines += [f"  {c.describe()}" for c in self.changes]
        if self.errors:
            lines.append(f"{len(self.errors)} problem{'s' if len(self.errors) != 1 else ''} block this plan:")
            lines += [f"  {e}" for e in self.errors]
        return "\n".join(lines)


# -- snapshots ------------------------------------------------------------------------------------------------


def _field_specs(fields: tuple[FieldDef, ...]) -> dict[str, dict]:
    return {f.name: {"type": f.type, "retired": False} for f in fields if not f.is_child_table}


def _desired_indexes(table: str, entity: EntityDef | None, fields: tuple[FieldDef, ...], child: bool) -> dict:
    wanted: dict[str, dict] = {}

    def add(columns: tuple[str, ...], unique: bool):
        wanted[index_name(table, columns, unique)] = {"columns": list(columns), "unique": unique}

    if child:
        add(("parent_id",), False)
    for f in fields:
        if f.is_child_table:
            continue
        if f.unique:
            add((f.name,), True)
        elif f.index or f.type in ("reference", "org_unit", "user"):
            add((f.name,), False)
    if entity is not None and not child:
        for idx in entity.indexes:
            add(idx.fields, idx.unique)
        if entity.unit_field:
            # Scope predicates filter on the answering unit and page by id: one index serves both.
            wanted[index_name(table, ("scope", "id"), False)] = {
                "columns": [SCOPE_COLUMN, entity.unit_field, "id"], "unique": False,
                "expr": f'COALESCE({quote(SCOPE_COLUMN)}, {quote(entity.unit_field)}), "id"'}
            # A list's count reads the live rows of the user's units: this index holds them and what the scope
            # predicate reads, so the count is read from the index alone (no row of the table is visited).
            wanted[index_name(table, ("live", "scope", "id"), False)] = {
                "columns": [SCOPE_COLUMN, entity.unit_field, "id"], "unique": False,
                "expr": f'COALESCE({quote(SCOPE_COLUMN)}, {quote(entity.unit_field)}), "id"',
                "include": [SCOPE_COLUMN, entity.unit_field, "sys_deleted_at"], "where": "sys_deleted_at IS NULL"}
        wanted.update(list_indexes(entity))
        if entity.search is not None:
            wanted.update(search_index(entity))
            wanted.update(fold_indexes(entity))
    return wanted


def list_indexes(entity: EntityDef) -> dict[str, dict]:
    """The indexes for the ways the entity's lists are read: its default sort and each sortable column, then the
    id. On a scoped entity, each twice: after the record's effective unit, so a scoped, sorted page is an index
    range scan, and alone, for users whose scope spans every unit (national roles). Partial, over live rows only
    (every list reads those), and carrying ``sys_deleted_at`` (SQLite counts a partial index as covering only when
    it holds its condition's columns): a count filtered on a sortable column (``status=accepted``) reads the
    index alone, with no visit to the table to skip deleted rows. Named ``ix_<table>_list_scope_<columns>_id`` and
    ``ix_<table>_list_<columns>_id``."""
    wanted: dict[str, dict] = {}
    orders = [tuple(k.lstrip("-") for k in entity.listing.sort)] if entity.listing.sort else []
    orders += [(name,) for name in entity.listing.sortable]
    live = "sys_deleted_at IS NULL"
    for cols in orders:
        cols = tuple(c for c in dict.fromkeys(cols) if c != "id")
        if not cols:
            continue  # ordered by id: the scope index (or the primary key) serves it
        body = ", ".join(quote(c) for c in cols) + ', "id"'
        if entity.unit_field:
            wanted[index_name(entity.table, ("list", "scope", *cols, "id"), False)] = {
                "columns": [SCOPE_COLUMN, entity.unit_field, *cols, "id"], "unique": False, "list": True,
                "expr": f"COALESCE({quote(SCOPE_COLUMN)}, {quote(entity.unit_field)}), {body}",
                "include": ["sys_deleted_at"], "where": live}
        wanted[index_name(entity.table, ("list", *cols, "id"), False)] = {
            "columns": [*cols, "id"], "unique": False, "list": True, "include": ["sys_deleted_at"], "where": live}
    return wanted


def deadline_indexes(entity: EntityDef, workflows: Iterable[WorkflowDef]) -> dict[str, dict]:
    """One index per deadline of the entity's workflows, for the lists of overdue records
    (``hoso.records.workflow.overdue``): the live rows in the deadline's state, by the date its period starts from,
    then the id, so that the longest waiting come first without reading the others. Partial, so that it holds
    only the rows in that state (a few per cent of the table each) and costs a write only there. Named
    ``ix_<table>_due_<state field>_<state>_<date field>``."""
    wanted: dict[str, dict] = {}
    for wf in workflows:
        for d in wf.deadlines:
            slug = re.sub(r"[^a-z0-9_]", "_", d.state.lower())
            if slug != d.state:  # two states must not share a name
                slug += "_" + hashlib.sha1(d.state.encode()).hexdigest()[:6]
            wanted[index_name(entity.table, ("due", wf.state_field, slug, d.from_field), False)] = {
                "columns": [d.from_field, "id"], "unique": False, "deadline": True,
                "where": f"{quote(wf.state_field)} = {text_literal(d.state)} AND sys_deleted_at IS NULL"}
    return wanted


def search_index(entity: EntityDef) -> dict[str, dict]:
    """The entity's search index over ``sys_search``; its name carries a digest of the searched fields, so a
    change of fields is a new index (and ``hoso migrate`` recomputes the search text)."""
    assert entity.search is not None
    fields = sorted(f.name for f in entity.search_fields)
    digest = hashlib.sha1(json.dumps([entity.search.index, fields]).encode()).hexdigest()[:8]
    return {index_name(entity.table, ("search", digest), False): {
        "columns": ["sys_search"], "unique": False, "search": entity.search.index, "fields": fields}}


def fold_indexes(entity: EntityDef) -> dict[str, dict]:
    """PostgreSQL: a pg_trgm GIN index over ``hoso_fold(field)`` of each searched field, which serves the word
    prefix filters of the admin and the API's ``starts`` on that field (``hoso.records.search.word_prefix_sql``).
    Long texts get none (a filter on a summary is rare, and each index costs on every write). SQLite has none
    (its ``hoso_fold`` is a function of hoso's connections only)."""
    return {index_name(entity.table, ("fold", f.name), False): {"columns": [f.name], "unique": False, "fold": True}
            for f in entity.search_fields if f.type != "long_text"}


def desired_snapshot(config: Config, previous: dict | None = None) -> dict:
    """The snapshot the YAML asks for, carrying retired tables and fields over from ``previous``."""
    tables: dict[str, dict] = {}
    for e in config.entities:
        tables[table_spec_key(e)] = {
            "table": e.table,
            "retired": False,
            "scoped": bool(e.unit_field),
            "fields": _field_specs(e.fields),
            "indexes": {**_desired_indexes(e.table, e, e.fields, child=False),
                        **deadline_indexes(e, config.workflows_for(e.name))},
        }
        for c in e.child_tables:
            t = e.child_table_name(c.name)
            tables[table_spec_key(e, c)] = {
                "table": t,
                "retired": False,
                "fields": _field_specs(c.fields),
                "indexes": _desired_indexes(t, e, c.fields, child=True),
            }
    renamed = _renames(config)
    if previous:
        for key, spec in previous.get("tables", {}).items():
            if key not in tables:
                tables[key] = {**spec, "retired": True, "indexes": {}}
                continue
            for fname, fspec in spec["fields"].items():
                if fname not in tables[key]["fields"] and fname not in renamed.get(key, {}).values():
                    tables[key]["fields"][fname] = {**fspec, "retired": True}
    return {"format": SNAPSHOT_FORMAT, "tables": tables, "modules": _module_specs(config),
            "files": dict(config.file_hashes)}


def _changed_files(previous: dict | None, snapshot: dict) -> list[str]:
    """The definition files added, changed or removed since ``previous`` (which may predate file digests)."""
    before = (previous or {}).get("files")
    if before is None:
        return []
    now = snapshot["files"]
    out = [f"{name} ({'changed' if name in before else 'added'})" for name, digest in now.items()
           if before.get(name) != digest]
    return out + [f"{name} (removed)" for name in before if name not in now]


def _module_specs(config: Config) -> dict:
    """Where each module is on and what it names: switching a module is a definition change to plan and apply."""
    return {m.name: {"enabled_for": sorted(m.enabled_for), "entities": sorted(m.entities), "routes": sorted(m.routes)}
            for m in config.modules}


def _module_changes(previous: dict | None, snapshot: dict) -> list[Change]:
    before = (previous or {}).get("modules") or {}
    out = []
    for name, spec in snapshot["modules"].items():
        old = before.get(name)
        if old != spec:
            was = f" (was: {', '.join(old.get('enabled_for', ())) or 'nowhere'})" if isinstance(old, dict) else ""
            out.append(Change("switch_module", name, f"module on for {', '.join(spec['enabled_for']) or 'nowhere'}"
                              f"{was}", data={"module": name}))
    out += [Change("switch_module", name, "module no longer in the configuration: off everywhere",
                   data={"module": name}) for name in before if name not in snapshot["modules"]]
    return out


def _renames(config: Config) -> dict[str, dict[str, str]]:
    """Per table key, new field name -> the name it was renamed from."""
    out: dict[str, dict[str, str]] = {}
    for e in config.entities:
        out[table_spec_key(e)] = {f.name: f.renamed_from for f in e.fields if f.renamed_from}
        for c in e.child_tables:
            out[table_spec_key(e, c)] = {f.name: f.renamed_from for f in c.fields if f.renamed_from}
    return out


def _field_defs(config: Config) -> dict[str, dict[str, FieldDef]]:
    out: dict[str, dict[str, FieldDef]] = {}
    for e in config.entities:
        out[table_spec_key(e)] = {f.name: f for f in e.fields if not f.is_child_table}
        for c in e.child_tables:
            out[table_spec_key(e, c)] = {f.name: f for f in c.fields}
    return out


async def applied_state(db: Database) -> dict | None:
    """The last applied state (snapshot, hash, time, who), or None for a database never migrated."""
    if "hoso_schema_state" not in await db.table_names():
        return None
    rows = await db.fetch(
        "SELECT snapshot, content_hash, applied_at, applied_by FROM hoso_schema_state ORDER BY id DESC LIMIT 1"
    )
    if not rows:
        return None
    row = rows[0]
    return {"snapshot": _read_snapshot(row["snapshot"]), "content_hash": row["content_hash"],
            "applied_at": row["applied_at"], "applied_by": row["applied_by"]}


def _read_snapshot(text: str) -> dict:
    where = "the last row of hoso_schema_state (column snapshot)"
    try:
        snapshot = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise SnapshotCorrupt(f"{where} is not valid JSON ({exc}); nothing was changed. Restore the database "
                              "from a backup, or put back the snapshot of the previous row") from None
    tables = snapshot.get("tables") if isinstance(snapshot, dict) else None
    if not isinstance(tables, dict) or not all(
            isinstance(t, dict) and isinstance(t.get("table"), str) and isinstance(t.get("fields"), dict)
            for t in tables.values()):
        raise SnapshotCorrupt(f"{where} does not have the expected shape (format {SNAPSHOT_FORMAT}: "
                              "{\"tables\": {key: {\"table\": ..., \"fields\": {...}}}}); nothing was changed")
    return snapshot


# -- planning -------------------------------------------------------------------------------------------------


async def _count(db: Database, table: str) -> int:
    return int(await db.fetchval(f"SELECT COUNT(*) AS n FROM {quote(table)}") or 0)


def _empty_table_class(db: Database, tablename: str) -> type[Table]:
    return create_table_class("HosoTmp", class_kwargs={"tablename": tablename, "db": db.engine})


async def make_plan(db: Database, config: Config, registry: Registry) -> Plan:
    # every read of the plan on one connection (on SQLite one per statement otherwise: most of a plan's time)
    async with db.reading():
        return await _make_plan(db, config, registry)


async def _make_plan(db: Database, config: Config, registry: Registry) -> Plan:
    state = await applied_state(db)
    previous = state["snapshot"] if state else None
    snapshot = desired_snapshot(config, previous)
    plan = Plan([], [], snapshot, previous, config.content_hash, _changed_files(previous, snapshot))
    existing_tables = await db.table_names()

    # System tables first: created when missing, and given any column a newer hoso added.
    for name, cls in build_system_tables(db, registry.pm).items():
        tname = cls._meta.tablename
        if tname not in existing_tables:
            plan.changes.append(Change("create_system_table", tname, "create system table", data={"system": name}))
        else:
            have = set(await db.column_names(tname))
            for col in cls._meta.columns:
                if col._meta.db_column_name not in have:
                    plan.changes.append(Change("add_system_column", tname, "add column", field=col._meta.name,
                                               data={"system": name}))
        have_indexes = await db.index_names(tname) if tname in existing_tables else set()
        for columns in getattr(cls, "_hoso_indexes", ()):
            iname = system_index_name(tname, columns)
            if iname not in have_indexes:
                plan.changes.append(Change("add_system_index", tname, f"index {iname} on ({', '.join(columns)})",
                                           data={"name": iname, "columns": list(columns)}))

    have_objects = await _system_object_names(db)
    for oname, (okind, otable, lite, pg) in SYSTEM_OBJECTS.items():
        if oname not in have_objects and (lite if db.is_sqlite else pg):
            plan.changes.append(Change("create_system_object", otable, f"create {okind} {oname}", data={"name": oname}))

    prev_tables = (previous or {}).get("tables", {})
    defs = _field_defs(config)
    renames = _renames(config)
    for key, spec in snapshot["tables"].items():
        before = prev_tables.get(key)
        table = spec["table"]
        if spec["retired"]:
            if before and not before.get("retired"):
                rows = await _count(db, table) if table in existing_tables else 0
                plan.changes.append(Change("retire_table", key, f"entity no longer in the configuration: table "
                                           f"{table!r} and its data are kept, hidden", rows=rows))
            continue
        if before is None or table not in existing_tables:
            if table in existing_tables:
                plan.errors.append(PlanError(key, None, f"table {table!r} already exists in the database but "
                                             "was not created by hoso: rename the entity's table"))
                continue
            plan.changes.append(Change("create_table", key, f"create table {table!r} with "
                                       f"{len(spec['fields'])} fields"))
            for iname, ispec in spec["indexes"].items():
                plan.changes.append(Change("add_index", key, f"{_index_words(ispec)}{iname} on "
                                           f"({', '.join(ispec['columns'])})", data={"name": iname, **ispec}))
            plan.changes.append(Change("create_history", key, f"create history table "
                                       f"{history_table(table)!r} (a version per write)"))
            continue
        counted: int | None = None

        async def row_count(table: str = table) -> int:
            nonlocal counted
            if counted is None:
                counted = await _count(db, table)
            return counted

        if before.get("retired"):
            plan.changes.append(Change("restore_table", key, f"entity back in the configuration: table {table!r} "
                                       "shown again", rows=await row_count()))
        if before["table"] != table:
            plan.errors.append(PlanError(key, None, f"the table name changed from {before['table']!r} to "
                                         f"{table!r}: renaming an entity's table is not supported"))
            continue
        if "." not in key:
            # System columns a newer hoso added to every entity table.
            have = set(await db.column_names(table))
            for sys_col in SYSTEM_COLUMNS:
                if sys_col not in have:
                    plan.changes.append(Change("add_entity_system_column", key, "add system column",
                                               field=sys_col, rows=await row_count()))
        # Drop indexes that are no longer wanted before any column work, so columns can be rewritten.
        for iname in before.get("indexes", {}):
            if iname not in spec["indexes"]:
                plan.changes.append(Change("drop_index", key, f"drop {_index_words(before['indexes'][iname])}{iname}",
                                           data={**before["indexes"][iname], "name": iname}))
        consumed: set[str] = set()
        for fname, fspec in spec["fields"].items():
            if fspec["retired"]:
                old = before["fields"].get(fname)
                if old and not old.get("retired"):
                    plan.changes.append(Change("retire_field", key, "field no longer in the configuration: "
                                               "column and data kept, hidden", field=fname, rows=await row_count()))
                continue
            fd = defs[key][fname]
            old_name = fname
            old = before["fields"].get(fname)
            if old is None and renames[key].get(fname) in before["fields"]:
                old_name = renames[key][fname]
                old = before["fields"][old_name]
                consumed.add(old_name)
                plan.changes.append(Change("rename_field", key, f"rename {old_name!r} to {fname!r}", field=fname,
                                           rows=await row_count(), data={"old": old_name}))
            if old is None:
                detail = f"add {fd.type} field"
                n = await row_count()
                if fd.default is not None and n:
                    detail += f", existing rows get the default {fd.default!r}"
                plan.changes.append(Change("add_field", key, detail, field=fname,
                                           rows=n if fd.default is not None else 0,
                                           data={"default": fd.default is not None}))
                continue
            if old.get("retired"):
                plan.changes.append(Change("restore_field", key, "field back in the configuration: its kept data "
                                           "is shown again", field=fname, rows=await row_count()))
            if old["type"] != fd.type:
                await _plan_conversion(db, plan, key, table, fd, old_name, old["type"], registry, await row_count())
        if spec.get("scoped") and not before.get("scoped"):
            if SCOPE_COLUMN not in await db.column_names(table):
                plan.changes.append(Change("add_scope_column", key, f"add {SCOPE_COLUMN} (records become scoped by "
                                           "their unit)", field=SCOPE_COLUMN, rows=await row_count()))
        # Retired-by-rename fields vanish from the snapshot (they live on under the new name).
        for old_name in consumed:
            snapshot["tables"][key]["fields"].pop(old_name, None)
        for iname, ispec in spec["indexes"].items():
            if iname not in before.get("indexes", {}):
                if ispec["unique"]:
                    await _check_unique(db, plan, key, table, ispec["columns"], before, spec, renames[key])
                plan.changes.append(Change("add_index", key, f"{_index_words(ispec)}{iname} on "
                                           f"({', '.join(ispec['columns'])})", rows=await row_count(),
                                           data={"name": iname, **ispec}))
        await _plan_history(db, plan, key, table, existing_tables, row_count)
    plan.changes += _module_changes(previous, snapshot)
    await _plan_summaries(db, config, registry, plan)
    return plan


async def _plan_summaries(db: Database, config: Config, registry: Registry, plan: Plan) -> None:
    """Summary tables (hoso.model.summaries): a stale one is dropped before the other changes (its triggers name
    columns they may convert), a missing or changed one is built after them, back-filled from the records; one
    whose entity's table changes is rebuilt."""
    wanted = plan.summaries = desired_summaries(config, registry, db.kind)
    have = await existing_summaries(db)
    changed = {c.table for c in plan.changes if c.kind not in ("add_index", "drop_index", "create_history",
                                                               "add_history_column", "switch_module")}
    drops, builds = [], []
    for table in sorted(have):
        s = wanted.get(table)
        if s is None or table_spec_key(s.entity) in changed:
            drops.append(Change("drop_summary", table, "drop summary table and its triggers",
                                data={"summary": table}))
    for table, s in wanted.items():
        key = table_spec_key(s.entity)
        if table in have and key not in changed and await summary_current(db, s):
            continue
        rows = await _count(db, s.entity.table) if s.entity.table in await db.table_names() else 0
        builds.append(Change("build_summary", table, f"summary table of report {s.report.name!r}, kept by triggers "
                             f"on {s.entity.table!r}, back-filled from its records", rows=rows,
                             data={"summary": table}))
    plan.changes[:0] = drops
    plan.changes += builds


async def _plan_history(db: Database, plan: Plan, key: str, table: str, existing_tables: set[str],
                        row_count: Callable[[], Any]) -> None:
    """The history table of an entity table that has none yet (one version per existing row), or the columns
    its table has and it lacks."""
    hist = history_table(table)
    if hist not in existing_tables:
        plan.changes.append(Change("create_history", key, f"create history table {hist!r} with one version per "
                                   "existing record", rows=await row_count()))
        return
    have = set(await db.column_names(hist))
    for col in await db.column_names(table):
        if col not in have and col not in HISTORY_SKIPPED:
            plan.changes.append(Change("add_history_column", key, f"add column to history table {hist!r}",
                                       field=col))


def _index_words(spec: dict) -> str:
    """How ``hoso plan`` names an index: "unique index ", "list index ", "search index (trigram: a, b) "."""
    if spec.get("search"):
        return f"search index ({spec['search']}: {', '.join(spec.get('fields', ()))}) "
    if spec.get("fold"):
        return "fold index (PostgreSQL) "
    if spec.get("list"):
        return "list index "
    if spec.get("deadline"):
        return "deadline index "
    return "unique index " if spec.get("unique") else "index "


async def _plan_conversion(db, plan, key, table, fd: FieldDef, column, old_type, registry: Registry, n):
    conv = fd.convert
    if conv is None:
        plan.errors.append(PlanError(key, fd.name, f"type changes from {old_type} to {fd.type}: declare how to "
                                     f"convert the stored values, e.g. convert: {{from: {old_type}}}"))
        return
    if conv.from_type != old_type:
        plan.errors.append(PlanError(key, fd.name, f"convert.from says {conv.from_type} but the stored type is "
                                     f"{old_type}"))
        return
    # A preview only: the values are converted again inside the apply's transaction, under a write lock, so
    # rows written between plan and apply are converted too (issue 8, item 15).
    converted, error = await _convert_values(db, key, table, column, fd, old_type, registry)
    if error is not None:
        plan.errors.append(error)
        return
    same_storage = registry.field_type(old_type).storage == registry.field_type(fd.type).storage
    plan.changes.append(Change("convert_field", key, f"convert {old_type} to {fd.type}"
                               + (" (values checked and rewritten in place)" if same_storage else
                                  " (column rewritten)"),
                               field=fd.name, rows=len(converted),
                               data={"same_storage": same_storage, "from": old_type}))


async def _convert_values(db, key, table, column, fd: FieldDef, old_type, registry: Registry
                          ) -> tuple[list[tuple[int, Any]], PlanError | None]:
    """Every stored value of ``column`` converted to ``fd``'s type, as (id, database value) pairs; or the
    problem naming every row that cannot convert."""
    old_ft = registry.field_type(old_type)
    new_ft = registry.field_type(fd.type)
    converter = registry.converter(old_type, fd.type)
    conv = fd.convert
    mapping = dict(conv.mapping) if conv is not None and conv.mapping is not None else None
    rows = await db.fetch(f"SELECT id, {quote(column)} AS v FROM {quote(table)} WHERE {quote(column)} IS NOT NULL "
                          "ORDER BY id")
    converted: list[tuple[int, Any]] = []
    failed: list[int] = []
    reasons: dict[str, int] = {}
    for r in rows:
        value = old_ft.load(r["v"])
        try:
            if mapping is not None:
                lookup = value if not isinstance(value, (list, tuple)) else tuple(value)
                if lookup not in mapping and str(lookup) not in mapping:
                    raise ValueError(f"{value!r} is not in the declared map")
                value = mapping[lookup] if lookup in mapping else mapping[str(lookup)]
                value = new_ft.parse(fd, value) if value is not None else None
            elif converter is not None:
                value = new_ft.parse(fd, converter.convert(fd, value))
            else:
                value = new_ft.parse(fd, value)
        except ValueError as exc:
            failed.append(r["id"])
            reasons[str(exc)] = reasons.get(str(exc), 0) + 1
            continue
        converted.append((r["id"], new_ft.to_db(value)))
    if failed:
        why = "; ".join(f"{msg} ({k} row{'s' if k != 1 else ''})" for msg, k in list(reasons.items())[:3])
        return converted, PlanError(key, fd.name, f"{len(failed)} value(s) cannot be converted from {old_type} "
                                    f"to {fd.type}: {why}", record_ids=failed)
    return converted, None


async def _check_unique(db: Database, plan: Plan, key, table, columns, before, spec, renames) -> None:
    # Only columns that exist now can be checked; a new column is empty, so it cannot hold duplicates.
    present = []
    for c in columns:
        old = renames.get(c, c)
        if old not in before["fields"]:
            return
        present.append(old)
    cols = ", ".join(quote(c) for c in present)
    not_null = " AND ".join(f"{quote(c)} IS NOT NULL" for c in present)
    grouped = f"SELECT {cols} FROM {quote(table)} WHERE {not_null} GROUP BY {cols} HAVING COUNT(*) > 1"
    total = int(await db.fetchval(f"SELECT COUNT(*) AS n FROM ({grouped}) AS d") or 0)
    if total:
        shown = await db.fetch(f"{grouped} ORDER BY MIN(id) LIMIT {UNIQUE_VALUES_SHOWN}")
        ids: list[int] = []
        for d in shown:
            cond = " AND ".join(f"{quote(c)} = {{}}" for c in present)
            rows = await db.fetch(f"SELECT id FROM {quote(table)} WHERE {cond} ORDER BY id", *[d[c] for c in present])
            ids += [r["id"] for r in rows]
        which = (f"the records of the first {len(shown)}" if total > len(shown) else "their records")
        plan.errors.append(PlanError(key, ", ".join(columns), f"cannot be made unique: {total} value(s) are "
                                     f"used more than once ({which} listed)", record_ids=ids))


# -- applying -------------------------------------------------------------------------------------------------


async def apply_plan(db: Database, config: Config, registry: Registry, plan: Plan, *, applied_by: str | None = None,
                     progress: ProgressFn | None = None) -> None:
    """Apply ``plan`` in one transaction; on any error nothing changes."""
    if not plan.ok:
        raise MigrationError("the plan has problems; nothing was changed:\n" + "\n".join(f"  {e}" for e in plan.errors))
    system = build_system_tables(db, registry.pm)
    entity_by_key: dict[str, tuple[EntityDef, FieldDef | None]] = {}
    for e in config.entities:
        entity_by_key[table_spec_key(e)] = (e, None)
        for c in e.child_tables:
            entity_by_key[table_spec_key(e, c)] = (e, c)
    total = len(plan.changes)
    async with db.transaction():
        if not db.is_sqlite:
            # One migration at a time, across every app process.
            await db.execute("SELECT pg_advisory_xact_lock(724207)")
            # Writers wait until the conversion commits, so none of their writes is converted from a stale read
            # or overwritten. Readers go on. (SQLite: the IMMEDIATE transaction already holds the write lock.)
            for table in _converted_tables(plan):
                await db.execute(f"LOCK TABLE {quote(table)} IN SHARE ROW EXCLUSIVE MODE")
        for i, change in enumerate(plan.changes):
            if progress:
                progress(change.describe(), i, total)
            try:
                await _apply_change(db, registry, plan, change, system, entity_by_key)
            except MigrationError:
                raise
            except Exception as exc:
                raise MigrationError(_apply_failure(change, exc)) from exc
        summary = json.dumps([c.describe() for c in plan.changes], ensure_ascii=False)
        await db.execute(
            "INSERT INTO hoso_schema_state (applied_at, applied_by, content_hash, snapshot, summary) "
            "VALUES ({}, {}, {}, {}, {})",
            dt.datetime.now(dt.UTC), applied_by or _whoami(), plan.content_hash,
            json.dumps(plan.snapshot, ensure_ascii=False, sort_keys=True), summary,
        )
    await db.reset()
    if progress:
        progress("done", total, total)


def _apply_failure(change: Change, exc: Exception) -> str:
    why = str(exc).strip() or type(exc).__name__
    if change.kind == "add_index" and change.data.get("unique"):
        return (f"{change.table}: the unique index {change.data['name']} cannot be created: values were used more "
                f"than once since the plan ({why}); nothing was changed. Run `hoso plan` to list the records")
    return f"applying '{change.describe()}' failed: {why}; nothing was changed"


def _converted_tables(plan: Plan) -> list[str]:
    return sorted({plan.snapshot["tables"][c.table]["table"] for c in plan.changes if c.kind == "convert_field"})


def _whoami() -> str:
    try:
        return getpass.getuser()
    except Exception:  # pragma: no cover - no user name in some containers
        return "unknown"


async def _apply_change(db: Database, registry: Registry, plan: Plan, change: Change, system, entity_by_key):
    kind = change.kind
    if kind == "create_system_table":
        cls = system[change.data["system"]]
        for ddl in cls.create_table(if_not_exists=True).ddl:
            await db.execute(ddl)
        for col in cls._meta.columns:
            if col._meta.index:
                name = quote("ix_" + cls._meta.tablename + "_" + col._meta.name)
                await db.execute(f"CREATE INDEX IF NOT EXISTS {name}"
                                 f" ON {quote(cls._meta.tablename)} ({quote(col._meta.db_column_name)})")
        return
    if kind == "create_system_object":
        _okind, _otable, lite, pg = SYSTEM_OBJECTS[change.data["name"]]
        for statement in lite if db.is_sqlite else pg:
            await db.execute(statement)
        return
    if kind == "add_system_index":
        columns = ", ".join(quote(c) for c in change.data["columns"])
        await db.execute(f"CREATE INDEX IF NOT EXISTS {quote(change.data['name'])} ON {quote(change.table)} "
                         f"({columns})")
        return
    if kind == "add_system_column":
        cls = system[change.data["system"]]
        col = cls._meta.get_column_by_name(change.field)
        await _add_column(db, cls._meta.tablename, change.column, col)
        return
    if kind == "switch_module":
        return  # recorded in the snapshot only: hoso.modules reads the switches from the configuration
    if kind == "drop_summary":
        await drop_summary(db, change.data["summary"])
        return
    if kind == "build_summary":
        await build_summary(db, plan.summaries[change.data["summary"]])
        return
    spec = plan.snapshot["tables"][change.table]
    table = spec["table"]
    if kind in ("retire_table", "restore_table", "retire_field", "restore_field"):
        return  # recorded in the snapshot only: the data stays where it is
    if kind == "add_history_column":
        await add_history_column(db, table, change.column)
        return
    entity, child = entity_by_key[change.table]
    if kind == "create_history":
        await create_history(db, table, dt.datetime.now(dt.UTC), entity.table if child else None)
        return
    fields = child.fields if child else entity.fields
    # The history of a table follows its columns (when it has one already; one created later in the plan copies
    # the table as it is then).
    versioned = history_table(table) in await db.table_names()
    if kind == "create_table":
        members: dict[str, Any] = {}
        if child:
            members.update({n: make() for n, make in CHILD_COLUMNS.items()})
        for fd in fields:
            if not fd.is_child_table:
                members[fd.name] = registry.field_type(fd.type).column(fd)
        if not child:
            members.update({n: make() for n, make in SYSTEM_COLUMNS.items()})
            if entity.unit_field:
                members[SCOPE_COLUMN] = BigInt(default=None, null=True)
        cls = create_table_class("HosoNew", class_kwargs={"tablename": table, "db": db.engine}, class_members=members)
        for ddl in cls.create_table().ddl:
            await db.execute(ddl)
        return
    if kind == "add_field":
        fd = next(f for f in fields if f.name == change.field)
        ft = registry.field_type(fd.type)
        await _add_column(db, table, fd.name, ft.column(fd))
        if fd.default is not None:
            value = ft.to_db(ft.parse(fd, list(fd.default) if isinstance(fd.default, tuple) else fd.default))
            await db.execute(f"UPDATE {quote(table)} SET {quote(fd.name)} = {{}}", value)
        if versioned:
            await add_history_column(db, table, fd.name)
        return
    if kind == "add_entity_system_column":
        await _add_column(db, table, change.column, SYSTEM_COLUMNS[change.column]())
        if versioned and change.column not in HISTORY_SKIPPED:
            await add_history_column(db, table, change.column)
        return
    if kind == "add_scope_column":
        await _add_column(db, table, SCOPE_COLUMN, BigInt(default=None, null=True))
        if versioned:
            await add_history_column(db, table, SCOPE_COLUMN)
        return
    if kind == "rename_field":
        await db.execute(f"ALTER TABLE {quote(table)} RENAME COLUMN {quote(change.data['old'])} "
                         f"TO {quote(change.column)}")
        if versioned:
            await rename_history_column(db, table, change.data["old"], change.column)
        return
    if kind == "convert_field":
        fd = next(f for f in fields if f.name == change.field)
        # Converted from what is stored now, inside the transaction and under the write lock.
        values, error = await _convert_values(db, change.table, table, change.field, fd, change.data["from"], registry)
        if error is not None:
            raise MigrationError(f"a value written since the plan cannot be converted; nothing was changed:\n  {error}")
        col = quote(change.column)
        if change.data.get("same_storage"):
            await db.executemany(f"UPDATE {quote(table)} SET {col} = ? WHERE id = ?", [(v, i) for i, v in values])
            return
        tmp = change.column + TMP_SUFFIX
        await _add_column(db, table, tmp, registry.field_type(fd.type).column(fd))
        await db.executemany(f"UPDATE {quote(table)} SET {quote(tmp)} = ? WHERE id = ?", [(v, i) for i, v in values])
        # Any index still naming the old column goes first (SQLite cannot drop an indexed column).
        for iname in await _indexes_on(db, table, change.column):
            await db.execute(f"DROP INDEX IF EXISTS {quote(iname)}")
        await db.execute(f"ALTER TABLE {quote(table)} DROP COLUMN {col}")
        await db.execute(f"ALTER TABLE {quote(table)} RENAME COLUMN {quote(tmp)} TO {col}")
        if versioned:
            await keep_converted_column(db, table, change.column, change.data["from"])
        return
    if kind == "add_index":
        if change.data.get("search"):
            for statement in search_index_ddl(db.is_sqlite, table, change.data["name"], change.data["search"]):
                await db.execute(statement)
            return
        if change.data.get("fold"):
            if not db.is_sqlite:
                await db.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
                await db.execute(f"CREATE INDEX IF NOT EXISTS {quote(change.data['name'])} ON {quote(table)} USING gin "
                                 f"({FOLD_FUNCTION}({quote(change.data['columns'][0])}) gin_trgm_ops)")
            return
        cols = change.data.get("expr") or ", ".join(quote(c) for c in change.data["columns"])
        unique = "UNIQUE " if change.data["unique"] else ""
        extra = ""
        if change.data.get("include"):
            # columns the index carries for index-only reads (SQLite has no INCLUDE: they end the key there; it
            # counts a partial index as covering only when it holds the columns of its condition too)
            carried = ", ".join(quote(c) for c in change.data["include"])
            if db.is_sqlite:
                cols += f", {carried}"
            else:
                extra = f" INCLUDE ({carried})"
        if change.data.get("where"):
            extra += f" WHERE {change.data['where']}"  # a partial index: the condition is the code's, not YAML's
        await db.execute(f"CREATE {unique}INDEX IF NOT EXISTS {quote(change.data['name'])} ON {quote(table)} "
                         f"({cols}){extra}")
        return
    if kind == "drop_index":
        if change.data.get("search") and db.is_sqlite:
            for statement in drop_search_index_ddl(change.data["name"]):
                await db.execute(statement)
            return
        await db.execute(f"DROP INDEX IF EXISTS {quote(change.data['name'])}")
        return
    raise MigrationError(f"unknown change kind {kind!r}")  # pragma: no cover


# The PostgreSQL full-text index's expression (and the search's, which must be the same to use it).
FULLTEXT_VECTOR = "to_tsvector('simple'::regconfig, COALESCE({col}, ''))"


def search_table(index: str) -> str:
    """The SQLite FTS5 table of a search index (PostgreSQL keeps a GIN index of that name instead)."""
    return f"{index}__fts"


def search_index_ddl(sqlite: bool, table: str, index: str, kind: str = "trigram") -> list[str]:
    """Statements that build a search index over ``table.sys_search`` and fill it from the rows there now.

    ``trigram``: on PostgreSQL a pg_trgm GIN index, which serves ``sys_search LIKE '%word%'`` itself; on SQLite an
    FTS5 table with the trigram tokenizer. ``fulltext``: on PostgreSQL a GIN index over
    ``to_tsvector('simple', sys_search)`` (the text is folded already: no dictionary, no stop words); on SQLite an
    FTS5 table with the ``unicode61 remove_diacritics 2`` tokenizer. The FTS5 tables are kept in step with the
    table by triggers, so every write reaches them, through the record service or not (restructuring, imports)."""
    if not sqlite:
        if kind == "fulltext":
            return [f"CREATE INDEX IF NOT EXISTS {quote(index)} ON {quote(table)} USING gin "
                    f"({FULLTEXT_VECTOR.format(col='sys_search')})"]
        return ["CREATE EXTENSION IF NOT EXISTS pg_trgm",
                f"CREATE INDEX IF NOT EXISTS {quote(index)} ON {quote(table)} USING gin (sys_search gin_trgm_ops)"]
    fts = quote(search_table(index))
    t = quote(table)
    tokenizer = "unicode61 remove_diacritics 2" if kind == "fulltext" else "trigram"
    return [
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {fts} USING fts5(sys_search, content={t}, content_rowid='id', "
        f"tokenize='{tokenizer}')",
        f"CREATE TRIGGER IF NOT EXISTS {quote(index + '__ai')} AFTER INSERT ON {t} BEGIN "
        f"INSERT INTO {fts}(rowid, sys_search) VALUES (new.id, new.sys_search); END",
        f"CREATE TRIGGER IF NOT EXISTS {quote(index + '__ad')} AFTER DELETE ON {t} BEGIN "
        f"INSERT INTO {fts}({fts}, rowid, sys_search) VALUES ('delete', old.id, old.sys_search); END",
        f"CREATE TRIGGER IF NOT EXISTS {quote(index + '__au')} AFTER UPDATE OF sys_search ON {t} BEGIN "
        f"INSERT INTO {fts}({fts}, rowid, sys_search) VALUES ('delete', old.id, old.sys_search); "
        f"INSERT INTO {fts}(rowid, sys_search) VALUES (new.id, new.sys_search); END",
        f"INSERT INTO {fts}({fts}) VALUES ('rebuild')",
    ]


def drop_search_index_ddl(index: str) -> list[str]:
    """SQLite: drop a search index's triggers and FTS5 table."""
    return [*(f"DROP TRIGGER IF EXISTS {quote(index + s)}" for s in ("__ai", "__ad", "__au")),
            f"DROP TABLE IF EXISTS {quote(search_table(index))}"]


async def _add_column(db: Database, table: str, name: str, column) -> None:
    cls = _empty_table_class(db, table)
    ddl = cls.alter().add_column(name, column).ddl
    for statement in [ddl] if isinstance(ddl, str) else list(ddl):
        await db.execute(statement)


async def _system_object_names(db: Database) -> set[str]:
    if db.is_sqlite:
        rows = await db.fetch("SELECT name FROM sqlite_master WHERE type IN ('trigger', 'index')")
    else:
        rows = await db.fetch(
            "SELECT tgname AS name FROM pg_trigger WHERE NOT tgisinternal UNION "
            "SELECT indexname AS name FROM pg_indexes WHERE schemaname = current_schema() UNION "
            "SELECT proname AS name FROM pg_proc WHERE pronamespace = current_schema()::regnamespace")
    return {r["name"] for r in rows}


async def _indexes_on(db: Database, table: str, column: str) -> list[str]:
    if db.is_sqlite:
        out = []
        for iname in await db.index_names(table):
            cols = await db.fetch(f"PRAGMA index_info({quote(iname)})")
            if any(c["name"] == column for c in cols):
                out.append(iname)
        return out
    rows = await db.fetch(
        "SELECT i.relname AS name FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
        "JOIN pg_class t ON t.oid = x.indrelid JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY(x.indkey) "
        "WHERE t.relname = {} AND a.attname = {} AND NOT x.indisprimary", table, column)
    return [r["name"] for r in rows]
