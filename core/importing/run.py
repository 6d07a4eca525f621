"""An import: the preview of every problem by row and column, then the writes through the record service.

``preview`` reads nothing but the file and the database: it matches the columns, reads every cell, looks up units,
records and accounts, finds the rows already imported, refuses units where the entity's module is off, and checks
every remaining row through ``RecordService.create_many(dry_run=True)`` (validation, write guards, scope), so
that every problem a write would meet is listed before anything is written. ``import_file`` writes only when
the preview found no problem, or when the caller chose to skip the bad rows; it writes in batches (one
transaction each), keeps each imported row's content hash with the record it became (``hoso_import_row``), and
records the import itself (``hoso_import``, and an ``import`` audit entry with the file's name, sha256 and
counts).

Re-importing: a row whose content hash (the entity and its matched cells, as text) was imported before is a
duplicate and is not written again; with ``key`` (a field), a row whose key value a live record already holds is
a duplicate too. Rows repeated within one file count once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hoso.audit import AuditEvent
from hoso.config import EntityDef, FieldDef
from hoso.db import fold, quote
from hoso.i18n import t
from hoso.importing.cells import CellError, Column, choice_keys, convert, match_columns, text_of
from hoso.importing.reading import Table
from hoso.modules import check_new_record
from hoso.records.access import Access, accounts_in_reach
from hoso.records.bulk import BatchInvalid
from hoso.records.context import RecordContext
from hoso.records.errors import Forbidden, NotFound, ValidationError
from hoso.records.forms import top_field
from hoso.records.search import fold_sql
from hoso.records.system_fields import system_fields

if TYPE_CHECKING:  # pragma: no cover
    from hoso.runtime import Runtime

__all__ = ["ImportOptions", "Problem", "ImportResult", "preview", "import_file", "DEFAULT_BATCH"]

DEFAULT_BATCH = 500
_LOOKUP_CHUNK = 500


@dataclass
class ImportOptions:
    """``key``: a field whose value identifies a record (a row whose key a live record holds is a duplicate).
    ``skip_bad``: write the good rows and leave the bad ones (else a single problem writes nothing).
    ``ignore``: headers of columns the user confirmed to leave out (unknown columns, or fields the system fills).
    ``dry_run``: preview only. ``batch``: records per transaction."""

    key: str | None = None
    skip_bad: bool = False
    ignore: frozenset[str] = frozenset()
    dry_run: bool = False
    batch: int = DEFAULT_BATCH
    form: str | None = None


@dataclass(frozen=True)
class Problem:
    """A problem of line ``row`` of the file (1 is the header; None: the whole file) in column ``column``."""

    row: int | None
    column: str
    message: str


@dataclass
class ImportResult:
    entity: str
    file_name: str
    sha256: str
    rows: int = 0
    created: int = 0
    duplicates: int = 0
    skipped: int = 0
    empty: int = 0
    would_create: int = 0
    problems: list[Problem] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)  # header -> field name
    unknown: list[str] = field(default_factory=list)  # headers not imported: unknown or filled by the system
    written: bool = False  # records were created
    stopped: bool = False  # a batch was refused while writing: the batches before it were written
    import_id: int | None = None  # the hoso_import row, once the writes started
    encoding: str = ""

    @property
    def bad_rows(self) -> list[int]:
        return sorted({p.row for p in self.problems if p.row is not None and p.row > 1})

    @property
    def blocking(self) -> bool:
        """Problems that stop the import whatever the user chooses (the file, the header, columns not confirmed)."""
        return any(p.row is None or p.row <= 1 for p in self.problems)

    def as_json(self) -> dict:
        return {"entity": self.entity, "file": self.file_name, "sha256": self.sha256, "rows": self.rows,
                "created": self.created, "duplicates": self.duplicates, "skipped": self.skipped,
                "empty": self.empty, "would_create": self.would_create, "written": self.written,
                "stopped": self.stopped, "import_id": self.import_id, "columns": self.columns,
                "unknown_columns": self.unknown, "encoding": self.encoding,
                "problems": [{"row": p.row, "column": p.column, "message": p.message} for p in self.problems]}

    @classmethod
    def from_json(cls, data: dict) -> ImportResult:
        """The result ``as_json`` gave (kept with a background import's job)."""
        return cls(data["entity"], data["file"], data["sha256"], rows=data["rows"], created=data["created"],
                   duplicates=data["duplicates"], skipped=data["skipped"], empty=data["empty"],
                   would_create=data["would_create"], written=data["written"], stopped=data["stopped"],
                   import_id=data["import_id"], columns=data["columns"], unknown=data["unknown_columns"],
                   encoding=data["encoding"],
                   problems=[Problem(p["row"], p["column"], p["message"]) for p in data["problems"]])


@dataclass
class _Row:
    line: int
    payload: dict
    digest: str
    key: Any = None


class _Import:
    """The state of one import: the file's rows as payloads, their problems, the lookups made."""

    def __init__(self, rt: Runtime, ctx: RecordContext, entity: EntityDef, table: Table, options: ImportOptions):
        self.rt = rt
        self.ctx = ctx
        self.lang = ctx.lang
        self.entity = entity
        self.table = table
        self.options = options
        self.svc = rt.records()
        self.result = ImportResult(entity.name, table.file_name, table.sha256, rows=len(table.rows),
                                   encoding=table.encoding)
        self.columns: list[Column] = []
        self.header_of: dict[str, str] = {}
        self.rows: list[_Row] = []

    def problem(self, row: int | None, column: str, message: str) -> None:
        self.result.problems.append(Problem(row, column, message))

    # -- columns and cells ----------------------------------------------------------------------------------------
    def match(self) -> None:
        system = system_fields(self.rt.config, self.entity)
        given = {n for n in (system.code, *system.states) if n}
        self.columns, problems = match_columns(self.entity, self.table.header, given, self.lang)
        for column, message in problems:
            self.problem(1, column, message)
        for c in self.columns:
            if c.field is not None:
                self.result.columns[c.header] = c.field.name
                self.header_of[c.field.name] = c.header
            elif c.reason in ("unknown", "system"):
                self.result.unknown.append(c.header)
                if c.header not in self.options.ignore:
                    message = "import_column_unknown" if c.reason == "unknown" else "import_column_system"
                    self.problem(1, c.header, t(message, self.lang, entity=self.entity.label.get(self.lang)
                                                if self.entity.label else self.entity.name))
        if not self.result.columns:
            self.problem(1, "", t("import_no_columns", self.lang))
        key_field = self.options.key
        if key_field is not None and (not self.entity.has_field(key_field) or key_field not in self.header_of):
            self.problem(None, key_field, t("import_key_column", self.lang, field=key_field))

    def read_rows(self) -> None:
        choices: dict[str, dict[str, str]] = {}
        for c in self.columns:
            if c.field is not None and c.field.list and c.field.list not in choices:
                choices[c.field.list] = choice_keys(self.rt.config, c.field.list)
        for i, cells in enumerate(self.table.rows):
            line = i + 2
            if all(v is None or (isinstance(v, str) and not v.strip()) for v in cells):
                self.result.empty += 1
                continue
            payload: dict[str, Any] = {}
            shown: dict[str, str] = {}
            for c in self.columns:
                if c.field is None:
                    continue
                shown[c.field.name] = text_of(cells[c.index])
                try:
                    value = convert(c.field, cells[c.index], self.lang, choices)
                except CellError as exc:
                    self.problem(line, c.header, str(exc))
                    continue
                if value is not None:
                    payload[c.field.name] = value
            digest = hashlib.sha256(json.dumps([self.entity.name, shown], sort_keys=True,
                                               ensure_ascii=False).encode()).hexdigest()
            self.rows.append(_Row(line, payload, digest))

    # -- references -----------------------------------------------------------------------------------------------
    async def resolve(self) -> None:
        """Units, records and accounts named in cells become their ids (a name held by several is a problem)."""
        for c in self.columns:
            fd = c.field
            if fd is None or fd.traits.refers_to not in ("unit", "entity", "user"):
                continue
            names = {r.payload[fd.name] for r in self.rows if isinstance(r.payload.get(fd.name), str)}
            if not names:
                continue
            if fd.traits.refers_to == "unit":
                found = await self._units(names)
            elif fd.traits.refers_to == "entity":
                found = await self._records(self.rt.config.entity(fd.entity), names)
            else:
                found = await self._accounts(names)
            for r in self.rows:
                name = r.payload.get(fd.name)
                if not isinstance(name, str):
                    continue
                ids = found.get(name, [])
                if len(ids) == 1:
                    r.payload[fd.name] = ids[0]
                else:
                    del r.payload[fd.name]
                    key = "import_not_found" if not ids else "import_ambiguous"
                    self.problem(r.line, c.header, t(key, self.lang, value=name))

    async def _units(self, names: set[str]) -> dict[str, list[int]]:
        rows = await self.rt.db.fetch("SELECT id, code, name_vi, name_en, valid_to FROM hoso_unit")
        by_code = {fold(r["code"]): r["id"] for r in rows}
        by_name: dict[str, list[dict]] = {}
        for r in rows:
            for name in {fold(r["name_vi"] or ""), fold(r["name_en"] or "")} - {""}:
                by_name.setdefault(name, []).append(r)
        out: dict[str, list[int]] = {}
        for name in names:
            key = fold(name)
            if key in by_code:
                out[name] = [by_code[key]]
                continue
            candidates = by_name.get(key, [])
            open_ones = [r for r in candidates if r["valid_to"] is None]
            out[name] = [r["id"] for r in (open_ones or candidates)]
        return out

    async def _records(self, target: EntityDef, names: set[str]) -> dict[str, list[int]]:
        """Records of ``target`` the actor may read, by code (its naming field) or title (its title field)."""
        access = Access(self.rt, self.ctx)
        pred = await access.scoped("read", target)
        out: dict[str, list[int]] = {n: [] for n in names}
        if pred.is_false:
            return out
        keyed = [f for f in (target.naming.field if target.naming else None, target.title_field) if f]
        if not keyed:
            return out
        folded: dict[str, list[str]] = {}
        for n in names:
            folded.setdefault(fold(n), []).append(n)
        keys = list(folded)
        for start in range(0, len(keys), _LOOKUP_CHUNK):
            chunk = keys[start:start + _LOOKUP_CHUNK]
            marks = ", ".join("{}" for _ in chunk)
            cols = ", ".join(f"{fold_sql('t.' + quote(f), self.rt.db.is_sqlite)} AS {quote('k_' + f)}"
                             for f in keyed)
            where = " OR ".join(f"{fold_sql('t.' + quote(f), self.rt.db.is_sqlite)} IN ({marks})" for f in keyed)
            rows = await self.rt.db.fetch(
                f"SELECT t.id, {cols} FROM {quote(target.table)} t WHERE t.sys_deleted_at IS NULL AND ({pred.sql}) "
                f"AND ({where})", *pred.args, *(chunk * len(keyed)))
            for r in rows:
                hit = {r[f"k_{f}"] for f in keyed} & set(chunk)
                for key in hit:
                    for n in folded[key]:
                        if r["id"] not in out[n]:
                            out[n].append(r["id"])
        # A code names one record: where a code matches, titles that happen to equal it do not make it ambiguous.
        return out

    async def _accounts(self, names: set[str]) -> dict[str, list[int]]:
        access = Access(self.rt, self.ctx)
        reach = accounts_in_reach(self.rt, access.actor, self.entity, "u")
        rows = await self.rt.db.fetch(f"SELECT u.id, u.username, u.display_name FROM hoso_user u WHERE {reach.sql}",
                                      *reach.args)
        by_login = {fold(r["username"]): r["id"] for r in rows}
        by_name: dict[str, list[int]] = {}
        for r in rows:
            if r["display_name"]:
                by_name.setdefault(fold(r["display_name"]), []).append(r["id"])
        return {n: [by_login[fold(n)]] if fold(n) in by_login else by_name.get(fold(n), []) for n in names}

    # -- duplicates -----------------------------------------------------------------------------------------------
    async def duplicates(self) -> None:
        """Leave out rows imported before (same content hash), rows whose key a live record holds, and rows
        repeated within the file."""
        seen_digests = await self._known_digests([r.digest for r in self.rows])
        key = self.options.key
        taken: set[Any] = set()
        if key is not None and self.entity.has_field(key):
            taken = await self._taken_keys(self.entity.field(key), [r.payload.get(key) for r in self.rows])
        kept: list[_Row] = []
        for r in self.rows:
            value = r.payload.get(key) if key else None
            duplicate = r.digest in seen_digests or (value is not None and _comparable(value) in taken)
            seen_digests.add(r.digest)
            if value is not None:
                taken.add(_comparable(value))
            if duplicate:
                self.result.duplicates += 1
            else:
                kept.append(r)
        self.rows = kept

    async def _known_digests(self, digests: list[str]) -> set[str]:
        known: set[str] = set()
        for start in range(0, len(digests), _LOOKUP_CHUNK):
            chunk = digests[start:start + _LOOKUP_CHUNK]
            marks = ", ".join("{}" for _ in chunk)
            rows = await self.rt.db.fetch(f"SELECT row_hash FROM hoso_import_row WHERE entity = {{}} "
                                          f"AND row_hash IN ({marks})", self.entity.name, *chunk)
            known |= {r["row_hash"] for r in rows}
        return known

    async def _taken_keys(self, fd: FieldDef, values: list[Any]) -> set[Any]:
        field_type = self.rt.registry.field_type(fd.type)
        stored: dict[Any, Any] = {}
        for v in values:
            if v is None:
                continue
            try:
                stored[field_type.to_db(field_type.parse(fd, v))] = _comparable(v)
            except ValueError:
                continue  # the cell's own problem is reported by the dry run
        keys = list(stored)
        taken: set[Any] = set()
        for start in range(0, len(keys), _LOOKUP_CHUNK):
            chunk = keys[start:start + _LOOKUP_CHUNK]
            marks = ", ".join("{}" for _ in chunk)
            rows = await self.rt.db.fetch(f"SELECT {quote(fd.name)} AS v FROM {quote(self.entity.table)} "
                                          f"WHERE sys_deleted_at IS NULL AND {quote(fd.name)} IN ({marks})", *chunk)
            for r in rows:
                for db_value, original in stored.items():
                    if r["v"] == db_value:
                        taken.add(original)
        return taken

    # -- checks and writes ----------------------------------------------------------------------------------------
    def _report(self, rows: list[_Row], exc: BatchInvalid) -> set[int]:
        bad = set()
        for i, found in exc.rows.items():
            bad.add(i)
            for f, message in found:
                name = top_field(f) if f else ""
                self.problem(rows[i].line, self.header_of.get(name, name), message)
        return bad

    async def modules(self) -> None:
        """A record of a module's entity goes only to units where the module is on (as the API and the admin
        check before the record service): asked once per unit."""
        field_name = self.entity.unit_field
        if field_name is None:
            return
        verdicts: dict[Any, list[tuple[str, str]]] = {}
        for r in self.rows:
            unit = r.payload.get(field_name)
            if unit is None:
                continue
            if unit not in verdicts:
                try:
                    await check_new_record(self.rt, self.entity, {field_name: unit}, self.lang)
                    verdicts[unit] = []
                except ValidationError as exc:
                    verdicts[unit] = exc.problems
            for f, message in verdicts[unit]:
                self.problem(r.line, self.header_of.get(f, f), message)

    async def check(self, progress: Callable[[int, int], None] | None) -> None:
        """Every row without a problem yet, through the record service's checks, nothing kept."""
        self.repeated_unique()
        bad_lines = set(self.result.bad_rows)
        pending = [r for r in self.rows if r.line not in bad_lines]
        done = 0
        for start in range(0, len(pending), self.options.batch):
            rows = pending[start:start + self.options.batch]
            # A batch refused at one stage (validation, guards, scope) is checked again without its bad rows, so
            # that the problems of the later stages are listed too.
            while rows:
                try:
                    await self.svc.create_many(self.entity.name, [r.payload for r in rows], self.ctx,
                                               form=self.options.form, dry_run=True)
                    break
                except BatchInvalid as exc:
                    bad = self._report(rows, exc)
                    rows = [r for i, r in enumerate(rows) if i not in bad]
            done += len(pending[start:start + self.options.batch])
            if progress:
                progress(done, len(pending))
        bad_lines = set(self.result.bad_rows)
        self.result.would_create = sum(1 for r in self.rows if r.line not in bad_lines)

    def repeated_unique(self) -> None:
        """A unique field's value held by two rows of the file: the later row is a problem, naming the line of the
        first. (Each batch's check sees the records stored and the rows of its own batch, not the other batches' rows,
        which the write would then refuse half-way through the file.)"""
        fields = tuple(fd for fd in self.entity.column_fields if fd.unique)
        if not fields:
            return
        names = [fd.name for fd in fields]
        bad_lines = set(self.result.bad_rows)
        first: dict[tuple[str, Any], int] = {}
        for r in self.rows:
            if r.line in bad_lines:
                continue
            values, _problems = self.svc.validator.parse(fields, {k: r.payload[k] for k in names if k in r.payload},
                                                         self.ctx)
            for fd in fields:
                v = values.get(fd.name)
                if v is None:
                    continue
                key = (fd.name, _comparable(self.rt.registry.field_type(fd.type).to_db(v)))
                if key in first:
                    self.problem(r.line, self.header_of.get(fd.name, fd.name),
                                 t("import_repeated_value", self.lang, value=v, line=first[key]))
                else:
                    first[key] = r.line

    async def write(self, progress: Callable[[int, int], None] | None) -> None:
        bad_lines = set(self.result.bad_rows)
        self.result.skipped = len(bad_lines)
        rows = [r for r in self.rows if r.line not in bad_lines]
        db = self.rt.db
        now = dt.datetime.now(dt.UTC)
        async with db.transaction():
            self.result.import_id = int(await db.fetchval(
                "INSERT INTO hoso_import (entity, file_name, sha256, actor_id, actor, started_at, \"rows\", created, "
                "duplicates, skipped, status) VALUES ({}, {}, {}, {}, {}, {}, {}, 0, {}, {}, 'running') RETURNING id",
                self.entity.name, self.table.file_name, self.table.sha256, self.ctx.user_id, self.ctx.user_name, now,
                self.result.rows, self.result.duplicates, self.result.skipped))
        import_id = self.result.import_id
        try:
            for start in range(0, len(rows), self.options.batch):
                batch = rows[start:start + self.options.batch]
                while batch:
                    try:
                        await self._write_batch(batch, import_id)
                        break
                    except BatchInvalid as exc:
                        # Something changed since the preview (another writer took a unique value, a period was
                        # locked): with skip_bad the rows refused now are left out, else the import stops here.
                        bad = self._report(batch, exc)
                        if not self.options.skip_bad:
                            self.result.stopped = True
                            return
                        self.result.skipped += len(bad)
                        batch = [r for i, r in enumerate(batch) if i not in bad]
                if progress:
                    progress(min(start + self.options.batch, len(rows)), len(rows))
        finally:
            await self._finish(import_id)

    async def _write_batch(self, batch: list[_Row], import_id: int) -> None:
        async def keep(records: list[dict]) -> None:
            marks = ", ".join("({}, {}, {}, {})" for _ in records)
            args = [v for r, rec in zip(batch, records, strict=True)
                    for v in (import_id, self.entity.name, r.digest, rec["id"])]
            await self.rt.db.execute(f"INSERT INTO hoso_import_row (import_id, entity, row_hash, record_id) "
                                     f"VALUES {marks}", *args)

        created = await self.svc.create_many(self.entity.name, [r.payload for r in batch], self.ctx,
                                             form=self.options.form, in_transaction=keep)
        self.result.created += len(created)

    async def _finish(self, import_id: int) -> None:
        r = self.result
        r.written = r.created > 0
        status = "stopped" if r.stopped else "done"
        async with self.rt.db.transaction():
            await self.rt.db.execute(
                "UPDATE hoso_import SET finished_at = {}, created = {}, skipped = {}, status = {} WHERE id = {}",
                dt.datetime.now(dt.UTC), r.created, r.skipped, status, import_id)
        await self.svc.audit(AuditEvent("import", self.entity.name, None, self.ctx.user_id, self.ctx.user_name,
                                        self.ctx.origin, {"@file": r.file_name, "@sha256": r.sha256,
                                                          "@import_id": import_id, "@rows": r.rows,
                                                          "@created": r.created, "@duplicates": r.duplicates,
                                                          "@skipped": r.skipped, "@status": status}))


def _comparable(value: Any) -> Any:
    return json.dumps(value, sort_keys=True, default=str) if isinstance(value, (list, dict)) else value


async def _prepared(rt: Runtime, ctx: RecordContext, entity_name: str, table: Table, options: ImportOptions,
                    progress: Callable[[int, int], None] | None) -> _Import:
    try:
        entity = rt.config.entity(entity_name)
    except KeyError:
        raise NotFound(t("import_no_entity", ctx.lang, entity=entity_name)) from None
    if not await Access(rt, ctx).may_at_all("create", entity):
        raise Forbidden(t("forbidden", ctx.lang, action="create"))
    job = _Import(rt, ctx, entity, table, options)
    job.match()
    if job.result.blocking:
        return job
    job.read_rows()
    await job.resolve()
    await job.duplicates()
    await job.modules()
    await job.check(progress)
    # By line, the file's and the header's first; a line's problems in the order they were found.
    job.result.problems.sort(key=lambda p: p.row or 0)
    return job


async def preview(rt: Runtime, ctx: RecordContext, entity_name: str, table: Table,
                  options: ImportOptions | None = None,
                  progress: Callable[[int, int], None] | None = None) -> ImportResult:
    """Every problem of the file, by row and column, and what an import would do; writes nothing.

    Raises NotFound (no such entity), Forbidden (the actor may create no record of it)."""
    job = await _prepared(rt, ctx, entity_name, table, options or ImportOptions(), progress)
    return job.result


async def import_file(rt: Runtime, ctx: RecordContext, entity_name: str, table: Table,
                      options: ImportOptions | None = None,
                      progress: Callable[[str, int, int], None] | None = None) -> ImportResult:
    """Preview, then write the rows (all of them, or with ``skip_bad`` the good ones) in batches.

    Nothing is written when the preview finds a problem of the file or its header, or a bad row without
    ``skip_bad``, or with ``dry_run``. ``progress(stage, done, total)``: stage ``check`` then ``write``."""
    options = options or ImportOptions()
    job = await _prepared(rt, ctx, entity_name, table, options,
                          (lambda d, n: progress("check", d, n)) if progress else None)
    result = job.result
    if result.blocking or options.dry_run or (result.problems and not options.skip_bad):
        return result
    await job.write((lambda d, n: progress("write", d, n)) if progress else None)
    return result
