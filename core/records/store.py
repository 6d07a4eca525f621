"""The rows of an entity's tables as the record service and its siblings read and write them.

Nothing here checks who may write: the record service decides, inside its transaction, and then calls these.
Reads take the actor's scope as SQL (``read_where``), so a row out of scope is ``NotFound`` like a missing one.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import TYPE_CHECKING, Any

from hoso.audit import AuditEvent, write_audit
from hoso.config import EntityDef, FieldDef
from hoso.db import quote
from hoso.fields import same
from hoso.i18n import t
from hoso.model.history import history_columns, version_children, version_record
from hoso.model.migrate import search_index, search_table
from hoso.records.access import Access, hidden_by_any_role
from hoso.records.context import RecordContext, as_datetime
from hoso.records.errors import NotFound
from hoso.records.forms import CompiledForm, FormCache
from hoso.records.search import search_text

if TYPE_CHECKING:  # pragma: no cover
    from hoso.runtime import Runtime

__all__ = ["RuntimeCache", "RecordStore", "RECORD_SYSTEM_COLUMNS", "HISTORY_RECHECK_SECONDS"]

# How often a write looks again for a history table that was missing (a database not yet migrated to history).
HISTORY_RECHECK_SECONDS = 5.0

# System columns returned with every record.
RECORD_SYSTEM_COLUMNS = ("sys_version", "sys_created_at", "sys_created_by", "sys_updated_at", "sys_updated_by",
                         "sys_deleted_at", "sys_deleted_by", "sys_delete_reason", "sys_form_version")
# The column a record read by ``fetch(flag=...)`` carries the flag in (no field may be named so: "sys_" is reserved).
FLAG = "sys_flag"


class RuntimeCache:
    """What the record service keeps per runtime: compiled forms, column checks, the storage backend."""

    def __init__(self, rt: Runtime):
        self.forms = FormCache(rt.config, rt.registry)
        self.columns: dict[str, set[str]] = {}
        self.storage: Any = None
        # Form versions known to be in hoso_form_version (registered once per process, not per write).
        self.registered_forms: set[str] = set()
        # Per entity table: the columns its history versions copy.
        self.history: dict[str, list[str]] = {}
        self.history_missing: dict[str, float] = {}  # table -> when its history was last found missing
        # Entity name -> its SQLite FTS5 search table, or None (no search index, or PostgreSQL).
        self.search_tables: dict[str, str | None] = {}
        # Entity name -> how its records are dumped as JSON (``RecordService.dump``).
        self.dumpers: dict[str, Any] = {}
        # id of a tuple of fields -> (the tuple, the (name, load function) of those whose type converts values).
        self.loaders: dict[int, tuple[tuple[FieldDef, ...], list[tuple[str, Any]]]] = {}



class RecordStore:
    """Reads and writes of record rows, child rows, form versions and audit entries (in the caller's
    transaction)."""

    def __init__(self, rt: Runtime, cache: RuntimeCache):
        self.rt = rt
        self.db = rt.db
        self.config = rt.config
        self.cache = cache

    async def has_column(self, table: str, column: str) -> bool:
        # Databases migrated before a system column existed may lack it until the next migration.
        cols = self.cache.columns.get(table)
        if cols is None or column not in cols:
            cols = set(await self.db.column_names(table))
            self.cache.columns[table] = cols
        return column in cols

    async def search_table(self, entity: EntityDef) -> str | None:
        """The SQLite FTS5 table of the entity's search index, when ``hoso migrate`` has built it."""
        if entity.name not in self.cache.search_tables:
            found = None
            if entity.search is not None and self.db.is_sqlite:
                name = search_table(next(iter(search_index(entity))))
                found = name if name in await self.db.table_names() else None
            self.cache.search_tables[entity.name] = found
        return self.cache.search_tables[entity.name]

    def to_db(self, fields: tuple[FieldDef, ...], values: dict) -> dict:
        out = {}
        for fd in fields:
            if fd.is_child_table or fd.name not in values:
                continue
            v = values[fd.name]
            out[fd.name] = None if v is None else self.rt.registry.field_type(fd.type).to_db(v)
        return out

    async def search_column(self, entity: EntityDef, values: dict) -> dict:
        if not await self.has_column(entity.table, "sys_search"):
            return {}
        return {"sys_search": search_text(entity.search_fields, values, hidden_by_any_role(self.rt, entity))}

    async def register_form(self, form: CompiledForm) -> None:
        """Keep the form's definition under its version, once per process.

        Called before the write's transaction, in a statement of its own: a version registered for a write that
        then fails does no harm, and the next writes of this version make no query at all.
        """
        if form.version in self.cache.registered_forms:
            return
        await self.db.execute(
            "INSERT INTO hoso_form_version (version, form, entity, definition, created_at) VALUES ({}, {}, {}, {}, {}) "
            "ON CONFLICT (version) DO NOTHING",
            form.version, form.name, form.entity.name, json.dumps(form.definition(), ensure_ascii=False, default=str),
            dt.datetime.now(dt.UTC))
        self.cache.registered_forms.add(form.version)

    async def write_children(self, entity: EntityDef, child: FieldDef, parent_id: int, rows: list[dict]) -> None:
        table = quote(entity.child_table_name(child.name))
        for pos, r in enumerate(rows):
            data = self.to_db(child.fields, r)
            data.update(parent_id=parent_id, position=pos)
            cols = ", ".join(quote(c) for c in data)
            marks = ", ".join("{}" for _ in data)
            await self.db.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", *data.values())

    async def sync_children(self, entity: EntityDef, child: FieldDef, parent_id: int, rows: list[dict]) -> None:
        """Make the child rows of ``parent_id`` be ``rows``, in that order: a row with an ``id`` (one of this
        record's rows, checked by ``_child_id_problems``) is updated in place and keeps its id, a row without
        one is inserted, and the record's rows left out are deleted."""
        table = quote(entity.child_table_name(child.name))
        kept = [r["id"] for r in rows if r.get("id") is not None]
        if kept:
            marks = ", ".join("{}" for _ in kept)
            await self.db.execute(f"DELETE FROM {table} WHERE parent_id = {{}} AND id NOT IN ({marks})",
                                  parent_id, *kept)
        else:
            await self.db.execute(f"DELETE FROM {table} WHERE parent_id = {{}}", parent_id)
        for pos, r in enumerate(rows):
            data: dict[str, Any] = {fd.name: None for fd in child.fields}  # a value left out of the row is emptied
            data.update(self.to_db(child.fields, r))
            data["position"] = pos
            if r.get("id") is None:
                data["parent_id"] = parent_id
                cols = ", ".join(quote(c) for c in data)
                marks = ", ".join("{}" for _ in data)
                await self.db.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", *data.values())
            else:
                sets = ", ".join(f"{quote(c)} = {{}}" for c in data)
                await self.db.execute(f"UPDATE {table} SET {sets} WHERE id = {{}} AND parent_id = {{}}",
                                      *data.values(), r["id"], parent_id)

    async def _history_columns(self, table: str) -> list[str] | None:
        columns = self.cache.history.get(table)
        if columns is None:
            if time.monotonic() - self.cache.history_missing.get(table, -HISTORY_RECHECK_SECONDS) \
                    < HISTORY_RECHECK_SECONDS:
                return None
            columns = await history_columns(self.db, table)
            if columns is None:
                # A database migrated before history existed: `hoso migrate` creates it with a version per record,
                # and writes look for it again every few seconds, so versions start soon after it exists.
                self.cache.history_missing[table] = time.monotonic()
                return None
            self.cache.history[table] = columns
        return columns

    async def version(self, entity: EntityDef, record_id: int, *, created: bool = False,
                      children: tuple[FieldDef, ...] = (), record: bool = True) -> None:
        """Close the record's current history version and add its row as it now is, in the write's transaction
        (after the write's own statements); the same for the rows of the ``children`` tables the write changed.
        The version's time is taken here, under the record's lock, so the versions of one record follow each
        other. ``record`` False: the children's only (a creation's statement versioned the record)."""
        at = dt.datetime.now(dt.UTC)
        columns = await self._history_columns(entity.table) if record else None
        if columns is not None:
            await version_record(self.db, entity.table, columns, record_id, at, created=created)
        for child in children:
            table = entity.child_table_name(child.name)
            child_columns = await self._history_columns(table)
            if child_columns is not None:
                await version_children(self.db, table, child_columns, record_id, at, created=created)

    async def audit(self, event: AuditEvent) -> None:
        await write_audit(self.rt.pm, self.db, event)

    def load_row(self, fields: tuple[FieldDef, ...], row: dict) -> dict:
        out = dict(row)
        for name, load in self._loaders(fields):
            v = out.get(name)
            if v is not None:
                out[name] = load(v)
        for k in ("sys_created_at", "sys_updated_at", "sys_deleted_at"):
            if isinstance(out.get(k), str):
                out[k] = as_datetime(out[k])
        return out

    def _loaders(self, fields: tuple[FieldDef, ...]) -> list[tuple[str, Any]]:
        """The fields of ``fields`` whose type converts what the database gives, with their load functions, found
        once per runtime (a list page loads every value of every row; most types take them as they are)."""
        found = self.cache.loaders.get(id(fields))
        if found is None or found[0] is not fields:
            if len(self.cache.loaders) > 1000:  # callers pass the tuples of the definitions: never that many
                self.cache.loaders.clear()
            pairs = [(fd.name, self.rt.registry.field_type(fd.type).load) for fd in fields if not fd.is_child_table]
            found = self.cache.loaders[id(fields)] = (fields, [(n, f) for n, f in pairs if f is not same])
        return found[1]

    def columns(self, entity: EntityDef, alias: str | None = "t") -> str:
        """The columns a record is read from, over table alias ``alias`` (None: unqualified, as in RETURNING)."""
        p = f"{alias}." if alias else ""
        return ", ".join([f"{p}id"] + [f"{p}{quote(f.name)}" for f in entity.column_fields]
                         + [f"{p}{c}" for c in RECORD_SYSTEM_COLUMNS])

    async def fetch(self, entity: EntityDef, record_id: int, where: str = "", args: tuple = (),
                    lock: bool = False, children: tuple[FieldDef, ...] | None = None,
                    flag: tuple[str, tuple] | None = None) -> dict:
        """The record with its child rows, or NotFound; ``where`` adds conditions over alias ``t``. ``children``:
        the child tables to read (None: all), the others known to have no rows (a record just created). ``flag``:
        SQL over ``t`` and its arguments, whose value on the row the record carries as ``FLAG``."""
        columns, before = self.columns(entity), ()
        if flag is not None:
            columns, before = f"{columns}, ({flag[0]}) AS {FLAG}", tuple(flag[1])
        sql = f"SELECT {columns} FROM {quote(entity.table)} t WHERE t.id = {{}}"
        if where:
            sql += f" AND {where}"
        if lock and not self.db.is_sqlite:
            sql += " FOR UPDATE OF t"  # writers of one record queue here (SQLite: the transaction's write lock)
        rows = await self.db.fetch(sql, *before, record_id, *args)
        if not rows:
            raise NotFound(f"{entity.name} {record_id} does not exist")
        record = self.load_row(entity.fields, rows[0])
        await self.read_children(entity, record, children)
        return record

    async def read_children(self, entity: EntityDef, record: dict, children: tuple[FieldDef, ...] | None = None
                            ) -> None:
        """Put the child rows of ``record`` (read with its id) in it: of the tables ``children`` (None: all), the
        others known to have no rows."""
        read = None if children is None else {c.name for c in children}
        for child in entity.child_tables:
            if read is not None and child.name not in read:
                record[child.name] = []
                continue
            ccols = ", ".join(["id"] + [quote(f.name) for f in child.fields])
            crows = await self.db.fetch(
                f"SELECT {ccols} FROM {quote(entity.child_table_name(child.name))} WHERE parent_id = {{}} "
                "ORDER BY position", record["id"])
            record[child.name] = [self.load_row(child.fields, r) for r in crows]

    def read_where(self, entity: EntityDef, access: Access, deleted: bool | None = False) -> tuple[str, tuple]:
        """SQL (alias ``t``) for the rows the actor may read: live ones, or (``deleted``) deleted ones that the
        actor may also restore, or (None) both."""
        if access.superuser:
            read, restore = "1 = 1", ("1 = 1", ())
            args: tuple = ()
        else:
            pred = access.predicate("read", entity)
            read, args = f"({pred.sql})", pred.args
            rp = access.predicate("restore", entity)
            restore = (f"({rp.sql})", rp.args)
        if deleted is False:
            return f"t.sys_deleted_at IS NULL AND {read}", args
        if deleted is True:
            return f"t.sys_deleted_at IS NOT NULL AND {read} AND {restore[0]}", args + restore[1]
        return f"{read} AND (t.sys_deleted_at IS NULL OR {restore[0]})", args + restore[1]

    async def fetch_visible(self, entity: EntityDef, record_id: int, access: Access,
                            deleted: bool | None = False, lock: bool = False) -> dict:
        await access.roles()  # the holdings, for the per-user predicate
        where, args = self.read_where(entity, access, deleted)
        return await self.fetch(entity, record_id, where, args, lock)

    async def locked(self, entity: EntityDef, record_id: int, access: Access, ctx: RecordContext,
                     deleted: bool = False) -> dict:
        """The record for a write, locked until the transaction ends; NotFound when the actor cannot see it."""
        try:
            return await self.fetch_visible(entity, record_id, access, deleted, lock=True)
        except NotFound:
            raise NotFound(t("record_not_found", ctx.lang, entity=entity.name, id=record_id)) from None

    async def locked_for(self, entity: EntityDef, record_id: int, access: Access, ctx: RecordContext, action: str,
                         deleted: bool = False) -> tuple[dict, bool]:
        """``locked``, and whether the actor's ``action`` predicate holds on the row (``Access.row_allows``),
        answered by the same statement."""
        pred = await access.scoped(action, entity)
        where, args = self.read_where(entity, access, deleted)
        try:
            record = await self.fetch(entity, record_id, where, args, lock=True, flag=(pred.sql, pred.args))
        except NotFound:
            raise NotFound(t("record_not_found", ctx.lang, entity=entity.name, id=record_id)) from None
        return record, bool(record.pop(FLAG))

    async def visible(self, entity: EntityDef, record: dict, access: Access) -> dict:
        hidden = await access.hidden(entity)
        return {k: v for k, v in record.items() if k not in hidden} if hidden else record

    async def require_visible(self, entity: EntityDef, record_id: int, access: Access, ctx: RecordContext) -> None:
        await access.roles()  # the holdings, for the per-user predicate
        where, args = self.read_where(entity, access, None)
        found = await self.db.fetchval(f"SELECT 1 AS ok FROM {quote(entity.table)} t WHERE t.id = {{}} AND {where}",
                                       record_id, *args)
        if found is None:
            raise NotFound(t("record_not_found", ctx.lang, entity=entity.name, id=record_id))
