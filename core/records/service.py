"""The record service: the one path through which records are created, read and changed.

Every caller (the API, the admin, imports, demo data, plugins) goes through it, so parsing, validation (forms,
conditions, rules, plugin validators), scope checks, workflow rules, naming series, optimistic locking and
audit hold everywhere. The public methods and what they raise are documented in docs/records.md.

Reads put the actor's scope predicate into their SQL: a record outside the actor's scope is reported as
``NotFound``, exactly like a record that does not exist. Writes check the predicate of their action on the
row (``create``, ``update``, ``delete``, ``restore``, ``transition:<name>``), inside the write's transaction.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, AsyncIterator
from zoneinfo import ZoneInfo

from hoso.config import Config, EntityDef, FieldDef
from hoso.config.loader import naming_placeholders
from hoso.db import quote
from hoso.i18n import t
from hoso.jsonconv import changes as _jsonable_changes, comparable as _jsonable_deep, json_ready as _jsonable
from hoso.plugin_manager import await_me_maybe
from hoso.records.access import Access, accounts_in_reach, hidden_by_any_role, may_see_addresses
from hoso.records.errors import (
    AttachmentCorrupt,
    AttachmentTooLarge,
    Forbidden,
    InvalidTransition,
    NotFound,
    RecordError,
    StaleVersion,
    ValidationError,
)
from hoso.records.forms import CompiledForm, FormCache, top_field
from hoso.records.search import SEARCHABLE_TYPES, fold, like_pattern, search_text

if TYPE_CHECKING:  # pragma: no cover
    from hoso.records.attachments import AttachmentInfo, Storage
    from hoso.runtime import Runtime

__all__ = ["RecordContext", "AuditEvent", "RecordService", "RecordError", "ValidationError", "StaleVersion",
           "NotFound", "Forbidden", "InvalidTransition", "AttachmentTooLarge", "AttachmentCorrupt"]

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
# System columns returned with every record.
RECORD_SYSTEM_COLUMNS = ("sys_version", "sys_created_at", "sys_created_by", "sys_updated_at", "sys_updated_by",
                         "sys_deleted_at", "sys_deleted_by", "sys_delete_reason", "sys_form_version")
# Columns a list may filter and sort on besides the fields.
LIST_SYSTEM_COLUMNS = ("id", "sys_version", "sys_created_at", "sys_created_by", "sys_updated_at", "sys_updated_by",
                       "sys_deleted_at")
FILTER_OPS = {"eq": "=", "ne": "<>", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
# Dates such as "today" in rules ("received_on <= today()") are Vietnam's dates.
LOCAL_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")


@dataclass(frozen=True)
class RecordContext:
    """Who is acting, from where, in which language.

    Deny by default: a context without a user and without ``superuser`` may do nothing. Command-line tools,
    imports and background work of the system itself use ``RecordContext.system(config)``.
    """

    config: Config
    user_id: int | None = None
    user_name: str = "system"
    origin: str = "cli"
    lang: str = "vi"
    superuser: bool = False
    on: dt.date | None = None

    @classmethod
    def system(cls, config: Config, origin: str = "cli") -> "RecordContext":
        return cls(config, None, "system", origin, "vi", True)

    @property
    def actor(self):
        from hoso.scope import Actor

        return Actor(self.user_id, self.user_name, self.superuser, self.origin, self.lang, self.on)

    @property
    def today(self) -> dt.date:
        """``on``, else today's date where the records are kept (Asia/Ho_Chi_Minh), whatever the server's zone."""
        return self.on or dt.datetime.now(LOCAL_ZONE).date()


@dataclass
class AuditEvent:
    """One append-only audit entry. ``changes`` maps each changed field to ``[before, after]``; keys starting
    with ``@`` carry details that are not fields (the transition's name, a file's checksum)."""

    action: str
    entity: str | None
    record_id: int | None
    actor_id: int | None
    actor: str
    origin: str
    changes: dict = field(default_factory=dict)
    at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))


def _empty(v: Any) -> bool:
    return v is None or v == "" or (isinstance(v, (list, tuple)) and len(v) == 0)


class _RuntimeCache:
    """What the record service keeps per runtime: compiled forms, column checks, the storage backend."""

    def __init__(self, rt: "Runtime"):
        self.forms = FormCache(rt.config, rt.registry)
        self.columns: dict[str, set[str]] = {}
        self.storage: Any = None
        # Form versions known to be in hoso_form_version (registered once per process, not per write).
        self.registered_forms: set[str] = set()


class RecordService:
    def __init__(self, runtime: "Runtime"):
        self.rt = runtime
        self.db = runtime.db
        self.config = runtime.config
        cache = runtime.__dict__.get("_records_cache")
        if cache is None:
            cache = runtime.__dict__["_records_cache"] = _RuntimeCache(runtime)
        self._cache: _RuntimeCache = cache

    # -- definitions ------------------------------------------------------------------------------------------
    def _entity(self, name: str) -> EntityDef:
        try:
            return self.config.entity(name)
        except KeyError:
            raise NotFound(f"there is no entity {name!r}") from None

    def form(self, entity_name: str, form: str | None = None) -> CompiledForm:
        """The compiled form ``form`` of the entity (None: the entity's own form of all its fields).

        ``form(...).definition()`` is the JSON a client needs to draw it (JSON Schema, sections, conditions).
        Raises KeyError for a form that does not exist or belongs to another entity.
        """
        return self._cache.forms.get(self._entity(entity_name), form)

    def _compiled(self, entity: EntityDef, form: str | None, ctx: RecordContext) -> CompiledForm:
        try:
            return self._cache.forms.get(entity, form)
        except KeyError:
            raise ValidationError([("form", t("unknown_form", ctx.lang, value=form))]) from None

    async def form_definition(self, version: str) -> dict | None:
        """The definition of a form version a record was saved under (its ``sys_form_version``)."""
        raw = await self.db.fetchval("SELECT definition FROM hoso_form_version WHERE version = {}", version)
        return json.loads(raw) if raw else None

    async def _has_column(self, table: str, column: str) -> bool:
        # Databases migrated before a system column existed may lack it until the next migration.
        cols = self._cache.columns.get(table)
        if cols is None or column not in cols:
            cols = set(await self.db.column_names(table))
            self._cache.columns[table] = cols
        return column in cols

    # -- parsing ------------------------------------------------------------------------------------------------
    def _parse(self, fields: tuple[FieldDef, ...], payload: dict, ctx: RecordContext, prefix: str = "",
               partial: bool = False) -> tuple[dict, list[tuple[str, str]]]:
        problems: list[tuple[str, str]] = []
        if not isinstance(payload, dict):
            return {}, [(prefix.rstrip(".") or "record", t("invalid", ctx.lang, reason="expected an object"))]
        known = {f.name: f for f in fields}
        for key in payload:
            if key not in known:
                problems.append((prefix + str(key), t("unknown_field", ctx.lang)))
        values: dict[str, Any] = {}
        for fd in fields:
            if fd.name not in payload:
                if not partial and fd.default is not None and not fd.is_child_table:
                    default = list(fd.default) if isinstance(fd.default, tuple) else fd.default
                    values[fd.name] = self.rt.registry.field_type(fd.type).parse(fd, default)
                continue
            raw = payload[fd.name]
            if raw is None or raw == "":
                values[fd.name] = None
                continue
            if fd.is_child_table:
                if not isinstance(raw, list) or not all(isinstance(r, dict) for r in raw):
                    problems.append((prefix + fd.name, t("invalid", ctx.lang, reason="expected a list of rows")))
                    continue
                rows = []
                for i, row in enumerate(raw):
                    row_id, p = _child_row_id(row, f"{prefix}{fd.name}[{i}].id", ctx)
                    parsed, more = self._parse(fd.fields, {k: v for k, v in row.items() if k != "id"}, ctx,
                                               prefix=f"{prefix}{fd.name}[{i}].")
                    problems += p + more
                    if row_id is not None:
                        parsed["id"] = row_id
                    rows.append(parsed)
                values[fd.name] = rows
                continue
            try:
                values[fd.name] = self.rt.registry.field_type(fd.type).parse(fd, raw)
            except ValueError as exc:
                problems.append((prefix + fd.name, t("invalid", ctx.lang, reason=str(exc))))
        return values, problems

    async def _write_problems(self, entity: EntityDef, payload: dict, values: dict, ctx: RecordContext,
                              access: Access, form: CompiledForm, current: dict | None) -> list[tuple[str, str]]:
        """Fields the payload may not write: hidden or read-only for the actor, not on the form, given by the
        system (code, workflow state) or uploaded separately (attachments)."""
        problems = []
        hidden = await access.hidden(entity)
        read_only = await access.read_only(entity) if current is not None else set()
        on_form = set(form.field_names)
        states = {w.state_field: w for w in self.config.workflows_for(entity.name)}
        code = entity.naming.field if entity.naming else None
        lang = ctx.lang
        for key in payload:
            if not entity.has_field(key):
                continue  # reported as unknown
            fd = entity.field(key)
            new = values.get(key)
            changed = current is None or _jsonable_deep(current.get(key)) != _jsonable_deep(new)
            if key in hidden:
                problems.append((key, t("hidden_field", lang)))
            elif key not in on_form:
                problems.append((key, t("not_on_form", lang, form=form.label)))
            elif key == code:
                if (current is None and new is not None) or (current is not None and changed):
                    problems.append((key, t("code_by_series", lang)))
            elif key in states:
                if (current is None and new not in (None, states[key].initial)) or (current is not None and changed):
                    problems.append((key, t("state_by_workflow", lang)))
            elif fd.type == "attachment":
                if new is not None and changed:
                    problems.append((key, t("use_upload", lang)))
            elif key in read_only and changed:
                problems.append((key, t("read_only_field", lang)))
            elif fd.is_child_table and new:
                for i, row in enumerate(new):
                    for cf in fd.fields:
                        if cf.type == "attachment" and row.get(cf.name) is not None:
                            problems.append((f"{key}[{i}].{cf.name}", t("use_upload", lang)))
        return problems

    # -- validation ---------------------------------------------------------------------------------------------
    async def _validate(self, entity: EntityDef, values: dict, ctx: RecordContext, access: Access,
                        form: CompiledForm, record_id: int | None, previous: dict | None,
                        problems: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """All problems of the record ``values``: those found so far, the plugins' (the form checks are one),
        and the database checks (references, units, uniqueness). A field is reported once."""
        reported = {top_field(f) for f, _m in problems}
        out = list(problems)

        def add(found):
            for f, m in found or ():
                if top_field(f) not in reported and (f, m) not in out:
                    out.append((f, m))

        form = form.for_writer(await access.hidden(entity))
        for result in self.rt.pm.hook.hoso_validate_record(entity=entity, values=values, context=ctx, form=form,
                                                           previous=previous):
            add(await await_me_maybe(result))
        reported |= {top_field(f) for f, _m in out}
        add(await self._check_references(entity, values, ctx, access, previous, reported))
        add(await self._check_unique(entity, values, ctx, access, record_id, previous, reported))
        return out

    async def _check_references(self, entity: EntityDef, values: dict, ctx: RecordContext, access: Access,
                                previous: dict | None, skip: set[str]) -> list[tuple[str, str]]:
        """References point to live records the actor may read; units exist and are open; users exist.

        Values an update leaves unchanged are not checked again."""
        problems = []

        async def check(fd: FieldDef, v: Any, where: str):
            if fd.type == "reference":
                if not await access.readable_reference(self.config.entity(fd.entity), v):
                    problems.append((where, t("not_found", ctx.lang, value=v)))
            elif fd.type == "org_unit":
                problem = await self._closed_unit_problem(entity, v, values, ctx, hidden)
                if problem is None and fd.unit_types:
                    unit_type = await self.db.fetchval("SELECT type FROM hoso_unit WHERE id = {}", v)
                    if unit_type not in fd.unit_types:
                        problem = self._unit_type_problem(fd, ctx)
                if problem:
                    problems.append((where, problem))
            elif fd.type == "user":
                # An account outside the writer's reach is answered like a missing one: no account-id oracle.
                reach = accounts_in_reach(self.rt, access.actor, entity, "u")
                if await self.db.fetchval(f"SELECT u.id FROM hoso_user u WHERE u.id = {{}} AND {reach.sql}",
                                          v, *reach.args) is None:
                    problems.append((where, t("not_found", ctx.lang, value=v)))

        hidden = await access.hidden(entity)
        date_field = _record_date_field(entity)
        date_changed = (previous is not None and date_field is not None
                        and _jsonable_deep(previous.get(date_field)) != _jsonable_deep(values.get(date_field)))
        for fd in entity.fields:
            if fd.name in skip:
                continue
            v = values.get(fd.name)
            unchanged = previous is not None and _jsonable_deep(previous.get(fd.name)) == _jsonable_deep(v)
            if unchanged and date_changed and fd.type == "org_unit" and v is not None:
                # A new record date must still fall inside the validity of the unit it is recorded under.
                problem = await self._closed_unit_problem(entity, v, values, ctx, hidden)
                if problem:
                    problems.append((fd.name, problem))
                continue
            if v is None or unchanged:
                continue
            if fd.is_child_table:
                for i, row in enumerate(v):
                    for cf in fd.fields:
                        if row.get(cf.name) is not None:
                            await check(cf, row[cf.name], f"{fd.name}[{i}].{cf.name}")
            else:
                await check(fd, v, fd.name)
        return problems

    async def _closed_unit_problem(self, entity: EntityDef, unit_id: Any, values: dict, ctx: RecordContext,
                                   hidden: set[str]) -> str | None:
        """Why a record may not be recorded under unit ``unit_id``, or None.

        A closed unit still takes the records dated before it closed (entered late, under the unit as it was):
        the record's date is the entity's naming ``date_field``; without one, today. Whether the actor may write
        under that unit is the scope's business (it follows lineage, so a successor reaches its predecessors).
        A date field hidden from the actor (``hidden``) is not named nor shown in the message.
        """
        rows = await self.db.fetch("SELECT id, code, name_vi, name_en, valid_to FROM hoso_unit WHERE id = {}", unit_id)
        if not rows:
            return t("not_found", ctx.lang, value=unit_id)
        u = rows[0]
        if u["valid_to"] is None:
            return None
        closed = _as_date(u["valid_to"])
        date_field = _record_date_field(entity)
        on = values.get(date_field) if date_field else None
        on = _as_date(on) if on is not None else ctx.today
        if on < closed:
            return None
        name = (u["name_en"] if ctx.lang == "en" and u["name_en"] else u["name_vi"])
        from hoso.restructure.lineage import lookup_successor

        successors = [s for s in await lookup_successor(self.db, u["code"]) if s["id"] != u["id"]]
        successor = t("unit_successor", ctx.lang, units=", ".join(
            f"{s['code']} ({s['name_en'] if ctx.lang == 'en' and s['name_en'] else s['name_vi']})"
            for s in successors)) if successors else ""
        unit = f"{u['code']} ({name})"
        if date_field is None or date_field in hidden:
            return t("unit_closed", ctx.lang, unit=unit, closed=_dmy(closed), successor=successor)
        fd = entity.field(date_field)
        label = (fd.label.en if ctx.lang == "en" and fd.label.en else fd.label.vi) if fd.label else date_field
        return t("unit_closed_dated", ctx.lang, unit=unit, closed=_dmy(closed), date=label, on=_dmy(on),
                 successor=successor)

    def _unit_type_problem(self, fd: FieldDef, ctx: RecordContext) -> str:
        """The message refusing a unit of another type than ``fd.unit_types``, naming the allowed types."""
        names = []
        for name in fd.unit_types:
            try:
                names.append(self.config.hierarchy.unit_type(name).label.get(ctx.lang))
            except (AttributeError, KeyError):
                names.append(name)
        return t("unit_type", ctx.lang, allowed=", ".join(names))

    async def _check_unique(self, entity, values, ctx, access, record_id, previous, skip) -> list[tuple[str, str]]:
        """Unique fields hold values no other record holds, in the whole database (a citizen ID names one
        person nationwide). The refusal is the same whether the other record is one the writer may read or not,
        and names neither that record nor its unit; a conflict with a record out of the writer's scope is also
        audited (``unique_conflict``), so that probing another province's values leaves a trace."""
        problems = []
        for fd in entity.column_fields:
            v = values.get(fd.name)
            if not fd.unique or v is None or fd.name in skip:
                continue
            if previous is not None and _jsonable_deep(previous.get(fd.name)) == _jsonable_deep(v):
                continue
            sql = f"SELECT id FROM {quote(entity.table)} WHERE {quote(fd.name)} = {{}}"
            args = [self.rt.registry.field_type(fd.type).to_db(v)]
            if record_id is not None:
                sql += " AND id <> {}"
                args.append(record_id)
            other = await self.db.fetchval(sql, *args)
            if other is not None:
                problems.append((fd.name, t("not_unique", ctx.lang, value=v)))
                if not await access.row_allows("read", entity, other):
                    access.unique_conflicts.append((fd.name, _jsonable(v), int(other)))
        return problems

    @contextlib.asynccontextmanager
    async def _conflicts_audited(self, entity: EntityDef, access: Access, ctx: RecordContext):
        """Around a write's transaction: after a refusal, audit its conflicts with records out of the writer's
        scope (the refused transaction itself was rolled back with whatever it wrote)."""
        try:
            yield
        except ValidationError:
            if access.unique_conflicts:
                await self.audit(AuditEvent("unique_conflict", entity.name, None, ctx.user_id, ctx.user_name,
                                            ctx.origin, {"@conflicts": [
                                                {"field": f, "value": v, "record_id": other}
                                                for f, v, other in access.unique_conflicts]}))
            raise

    async def _require_scope(self, entity: EntityDef, action: str, record_id: int, access: Access,
                             ctx: RecordContext) -> None:
        """After a write: the row must satisfy the actor's ``action`` predicate, or the write is undone.

        A record placed in a unit outside the actor's scope is refused naming the unit field."""
        if access.superuser or await access.row_allows(action, entity, record_id):
            return
        if entity.unit_field:
            raise ValidationError([(entity.unit_field, t("out_of_scope", ctx.lang))])
        raise Forbidden(t("forbidden", ctx.lang, action=action))

    # -- naming series ----------------------------------------------------------------------------------------
    async def _next_in_series(self, key: str) -> int:
        # One statement on both engines; inside the record's transaction, so a rollback gives the number back
        # and concurrent creators of the same series queue on the row lock: codes are gap-free and unique.
        return int(await self.db.fetchval(
            "INSERT INTO hoso_series (key, last_value) VALUES ({}, 1) "
            "ON CONFLICT (key) DO UPDATE SET last_value = hoso_series.last_value + 1 RETURNING last_value",
            key,
        ))

    async def _make_code(self, entity: EntityDef, values: dict, now: dt.datetime) -> str:
        naming = entity.naming
        assert naming is not None
        when = values.get(naming.date_field) if naming.date_field else None
        year = (when or now).year
        context: dict[str, Any] = {"year": year}
        for name, _spec in naming_placeholders(naming.pattern):
            head, _, attr = name.partition(".")
            if name in ("seq", "year"):
                continue
            v = values.get(head)
            if attr:
                # A unit without a short code (e.g. created by a restructuring) writes its full code.
                column = "COALESCE(short_code, code)" if attr == "short_code" else quote(attr)
                v = await self.db.fetchval(f"SELECT {column} AS v FROM hoso_unit WHERE id = {{}}", v) if v else None
            context[name] = "" if v is None else v
        parts = []
        for name in naming.sequence_per:
            parts.append(str(year) if name == "year" else str(values.get(name)))
        seq = await self._next_in_series(f"{entity.name}|{naming.field}|" + "|".join(parts))
        context["seq"] = seq
        # str.format cannot look up dotted names in a flat dict; rewrite {unit.code} as a plain key.
        pattern = naming.pattern
        flat = {}
        for i, (name, _spec) in enumerate(naming_placeholders(pattern)):
            flat[f"p{i}"] = context[name]
            pattern = pattern.replace("{" + name, "{" + f"p{i}", 1)
        return pattern.format(**flat)

    # -- writes -----------------------------------------------------------------------------------------------
    def _to_db(self, fields: tuple[FieldDef, ...], values: dict) -> dict:
        out = {}
        for fd in fields:
            if fd.is_child_table or fd.name not in values:
                continue
            v = values[fd.name]
            out[fd.name] = None if v is None else self.rt.registry.field_type(fd.type).to_db(v)
        return out

    async def _search_column(self, entity: EntityDef, values: dict) -> dict:
        if not await self._has_column(entity.table, "sys_search"):
            return {}
        return {"sys_search": search_text(entity.fields, values, hidden_by_any_role(self.rt, entity))}

    async def _register_form(self, form: CompiledForm) -> None:
        """Keep the form's definition under its version, once per process.

        Called before the write's transaction, in a statement of its own: a version registered for a write that
        then fails does no harm, and the next writes of this version make no query at all.
        """
        if form.version in self._cache.registered_forms:
            return
        await self.db.execute(
            "INSERT INTO hoso_form_version (version, form, entity, definition, created_at) VALUES ({}, {}, {}, {}, {}) "
            "ON CONFLICT (version) DO NOTHING",
            form.version, form.name, form.entity.name, json.dumps(form.definition(), ensure_ascii=False, default=str),
            dt.datetime.now(dt.timezone.utc))
        self._cache.registered_forms.add(form.version)

    async def create(self, entity_name: str, payload: dict, ctx: RecordContext, *, form: str | None = None) -> dict:
        """Create a record from ``payload`` (field -> value, as JSON would carry it) through ``form``.

        Raises Forbidden (no role may create), ValidationError (nothing written; an out-of-scope unit is a
        problem of the unit field)."""
        entity = self._entity(entity_name)
        access = Access(self.rt, ctx)
        if not await access.may_at_all("create", entity):
            raise Forbidden(t("forbidden", ctx.lang, action="create"))
        compiled = self._compiled(entity, form, ctx)
        values, problems = self._parse(entity.fields, payload, ctx)
        if not isinstance(payload, dict):
            raise ValidationError(problems)
        problems += await self._write_problems(entity, payload, values, ctx, access, compiled, None)
        problems += _child_id_problems(entity, values, None, ctx)
        for wf in self.config.workflows_for(entity.name):
            if payload.get(wf.state_field) in (None, ""):
                values[wf.state_field] = wf.initial  # whatever the field's default: a record starts here
        now = dt.datetime.now(dt.timezone.utc)
        await self._register_form(compiled)
        async with self._conflicts_audited(entity, access, ctx), self.db.transaction():
            problems = await self._validate(entity, values, ctx, access, compiled, None, None, problems)
            if problems:
                raise ValidationError(problems)
            if entity.naming:
                values[entity.naming.field] = await self._make_code(entity, values, now)
            row = self._to_db(entity.fields, values)
            row.update(sys_version=1, sys_created_at=now, sys_created_by=ctx.user_id, sys_updated_at=now,
                       sys_updated_by=ctx.user_id, sys_form_version=compiled.version)
            row.update(await self._search_column(entity, values))
            cols = ", ".join(quote(c) for c in row)
            marks = ", ".join("{}" for _ in row)
            record_id = await self.db.fetchval(
                f"INSERT INTO {quote(entity.table)} ({cols}) VALUES ({marks}) RETURNING id", *row.values()
            )
            for child in entity.child_tables:
                await self._write_children(entity, child, record_id, values.get(child.name) or [])
            await self._require_scope(entity, "create", record_id, access, ctx)
            changes = {k: [None, v] for k, v in values.items() if not _empty(v)}
            await self._audit(AuditEvent("create", entity.name, record_id, ctx.user_id, ctx.user_name, ctx.origin,
                                         _jsonable_changes(changes)))
            record = await self._fetch(entity, record_id)
        return await self._visible(entity, record, access)

    async def update(self, entity_name: str, record_id: int, payload: dict, version: int, ctx: RecordContext, *,
                     form: str | None = None) -> dict:
        """Change the fields in ``payload``; ``version`` is the ``sys_version`` the caller read.

        Raises NotFound, Forbidden, StaleVersion (with the current version), ValidationError."""
        entity = self._entity(entity_name)
        return await self._change(entity, record_id, payload, version, ctx, self._compiled(entity, form, ctx))

    async def _change(self, entity: EntityDef, record_id: int, payload: dict, version: int, ctx: RecordContext,
                      compiled: CompiledForm, step: "Any | None" = None) -> dict:
        """The one update path, shared by ``update`` and ``transition`` (``step``: the workflow step)."""
        access = Access(self.rt, ctx)
        action = f"transition:{step.transition.name}" if step else "update"
        payload = {} if payload is None else payload
        changes_in, problems = self._parse(entity.fields, payload, ctx, partial=True)
        if not isinstance(payload, dict):
            raise ValidationError(problems)
        now = dt.datetime.now(dt.timezone.utc)
        await self._register_form(compiled)
        async with self._conflicts_audited(entity, access, ctx), self.db.transaction():
            current = await self._locked(entity, record_id, access, ctx)
            if not await access.row_allows(action, entity, record_id):
                raise Forbidden(t("forbidden", ctx.lang, action=step.label(ctx.lang) if step else action))
            if current["sys_version"] != version:
                raise StaleVersion(current["sys_version"])
            if step is not None:
                step.check_state(current, ctx)
            else:
                _require_editable(self.config, entity, current, ctx)
            problems += await self._write_problems(entity, payload, changes_in, ctx, access, compiled, current)
            problems += _child_id_problems(entity, changes_in, current, ctx)
            merged = {fd.name: current.get(fd.name) for fd in entity.fields}
            merged.update(changes_in)
            if step is not None:
                merged[step.workflow.state_field] = step.transition.to
                changes_in[step.workflow.state_field] = step.transition.to
                problems += step.missing(merged, ctx)
            problems = await self._validate(entity, merged, ctx, access, compiled, record_id, current, problems)
            if step is not None and not problems:
                problems = await step.guard(self.rt, entity, current, merged, ctx)
            if problems:
                raise ValidationError(problems)
            diff = {}
            for k, v in changes_in.items():
                if _jsonable_deep(current.get(k)) != _jsonable_deep(v) or _row_ids(current.get(k)) != _row_ids(v):
                    diff[k] = [current.get(k), v]
            if not diff and step is None:
                return await self._visible(entity, current, access)  # nothing changes: no new version
            row = self._to_db(entity.fields, {k: v for k, v in changes_in.items() if k in diff})
            row.update(sys_version=version + 1, sys_updated_at=now, sys_updated_by=ctx.user_id,
                       sys_form_version=compiled.version)
            row.update(await self._search_column(entity, merged))
            sets = ", ".join(f"{quote(c)} = {{}}" for c in row)
            updated = await self.db.fetch(
                f"UPDATE {quote(entity.table)} SET {sets} WHERE id = {{}} AND sys_version = {{}} RETURNING id",
                *row.values(), record_id, version,
            )
            if not updated:
                raise StaleVersion(await self.db.fetchval(
                    f"SELECT sys_version FROM {quote(entity.table)} WHERE id = {{}}", record_id))
            for child in entity.child_tables:
                if child.name in diff:
                    await self._sync_children(entity, child, record_id, changes_in[child.name] or [])
            if entity.unit_field in diff:
                await self._require_scope(entity, action, record_id, access, ctx)
            changes = _jsonable_changes(diff)
            if step is not None:
                changes.update({"@transition": step.transition.name, "@workflow": step.workflow.name})
            await self._audit(AuditEvent("transition" if step else "update", entity.name, record_id, ctx.user_id,
                                         ctx.user_name, ctx.origin, changes))
            record = await self._fetch(entity, record_id)
            if step is not None:
                await step.done(self.rt, entity, record, ctx)
        return await self._visible(entity, record, access)

    async def delete(self, entity_name: str, record_id: int, reason: str, version: int, ctx: RecordContext) -> dict:
        """Soft-delete: the record is hidden from reads and lists, kept with who, when and why.

        Raises NotFound, Forbidden (no ``delete`` on this row), StaleVersion, ValidationError (no reason)."""
        entity = self._entity(entity_name)
        access = Access(self.rt, ctx)
        reason = reason.strip() if isinstance(reason, str) else ""
        now = dt.datetime.now(dt.timezone.utc)
        async with self.db.transaction():
            current = await self._locked(entity, record_id, access, ctx)
            if not await access.row_allows("delete", entity, record_id):
                raise Forbidden(t("forbidden", ctx.lang, action="delete"))
            if current["sys_version"] != version:
                raise StaleVersion(current["sys_version"])
            _require_editable(self.config, entity, current, ctx)
            if not reason:
                raise ValidationError([("reason", t("reason_required", ctx.lang))])
            await self.db.execute(
                f"UPDATE {quote(entity.table)} SET sys_deleted_at = {{}}, sys_deleted_by = {{}}, "
                "sys_delete_reason = {}, sys_version = {}, sys_updated_at = {}, sys_updated_by = {} WHERE id = {}",
                now, ctx.user_id, reason, version + 1, now, ctx.user_id, record_id)
            await self._audit(AuditEvent("delete", entity.name, record_id, ctx.user_id, ctx.user_name, ctx.origin,
                                         {"sys_deleted_at": [None, now.isoformat()],
                                          "sys_delete_reason": [None, reason]}))
            record = await self._fetch(entity, record_id)
        return await self._visible(entity, record, access)

    async def restore(self, entity_name: str, record_id: int, ctx: RecordContext, *, version: int | None = None) -> dict:
        """Undo a soft delete (needs the ``restore`` action on the row, a higher role than ``delete``).

        Raises NotFound (no deleted record the actor may see), Forbidden, StaleVersion."""
        entity = self._entity(entity_name)
        access = Access(self.rt, ctx)
        now = dt.datetime.now(dt.timezone.utc)
        async with self.db.transaction():
            current = await self._locked(entity, record_id, access, ctx, deleted=True)
            if not await access.row_allows("restore", entity, record_id):
                raise Forbidden(t("forbidden", ctx.lang, action="restore"))
            if version is not None and current["sys_version"] != version:
                raise StaleVersion(current["sys_version"])
            await self.db.execute(
                f"UPDATE {quote(entity.table)} SET sys_deleted_at = NULL, sys_deleted_by = NULL, "
                "sys_delete_reason = NULL, sys_version = {}, sys_updated_at = {}, sys_updated_by = {} WHERE id = {}",
                current["sys_version"] + 1, now, ctx.user_id, record_id)
            await self._audit(AuditEvent("restore", entity.name, record_id, ctx.user_id, ctx.user_name, ctx.origin,
                                         _jsonable_changes({
                                             "sys_deleted_at": [current["sys_deleted_at"], None],
                                             "sys_delete_reason": [current["sys_delete_reason"], None]})))
            record = await self._fetch(entity, record_id)
        return await self._visible(entity, record, access)

    async def transition(self, entity_name: str, record_id: int, name: str, payload: dict | None, version: int,
                         ctx: RecordContext, *, form: str | None = None) -> dict:
        """Take the workflow step ``name``, writing the fields in ``payload`` with it (e.g. ``accepted_on``).

        Raises NotFound, Forbidden (the actor's roles do not grant ``transition:<name>`` on this record),
        StaleVersion, InvalidTransition (not from the current state), ValidationError (unknown step, missing
        required fields, invalid record, refused by a plugin guard)."""
        from hoso.records.workflow import Step

        entity = self._entity(entity_name)
        step = Step.find(self.config, entity, name, ctx)
        return await self._change(entity, record_id, payload or {}, version, ctx,
                                  self._compiled(entity, form, ctx), step)

    async def available_transitions(self, entity_name: str, record_id: int, ctx: RecordContext) -> list[dict]:
        """The steps the actor may take on the record now: ``[{name, label, to, requires}]``."""
        from hoso.records.workflow import available

        entity = self._entity(entity_name)
        access = Access(self.rt, ctx)
        record = await self._fetch_visible(entity, record_id, access)
        return await available(self.rt, entity, record, access, ctx)

    async def _write_children(self, entity: EntityDef, child: FieldDef, parent_id: int, rows: list[dict]) -> None:
        table = quote(entity.child_table_name(child.name))
        for pos, r in enumerate(rows):
            data = self._to_db(child.fields, r)
            data.update(parent_id=parent_id, position=pos)
            cols = ", ".join(quote(c) for c in data)
            marks = ", ".join("{}" for _ in data)
            await self.db.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", *data.values())

    async def _sync_children(self, entity: EntityDef, child: FieldDef, parent_id: int, rows: list[dict]) -> None:
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
            data = {fd.name: None for fd in child.fields}  # a value left out of the row is emptied
            data.update(self._to_db(child.fields, r))
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

    async def _audit(self, event: AuditEvent) -> None:
        for result in self.rt.pm.hook.hoso_write_audit(event=event, db=self.db):
            await await_me_maybe(result)

    async def audit(self, event: AuditEvent) -> None:
        """Write one audit entry through every audit writer (for changes made outside this service, such as
        logins and role assignments). Entries are append-only: no method changes or removes one."""
        async with self.db.transaction():
            await self._audit(event)

    # -- reads ------------------------------------------------------------------------------------------------
    def _load_row(self, fields: tuple[FieldDef, ...], row: dict) -> dict:
        out = dict(row)
        for fd in fields:
            if fd.is_child_table or fd.name not in out:
                continue
            v = out[fd.name]
            out[fd.name] = None if v is None else self.rt.registry.field_type(fd.type).load(v)
        for k in ("sys_created_at", "sys_updated_at", "sys_deleted_at"):
            if isinstance(out.get(k), str):
                out[k] = _as_datetime(out[k])
        return out

    def _columns(self, entity: EntityDef, alias: str = "t") -> str:
        return ", ".join([f"{alias}.id"] + [f"{alias}.{quote(f.name)}" for f in entity.column_fields]
                         + [f"{alias}.{c}" for c in RECORD_SYSTEM_COLUMNS])

    async def _fetch(self, entity: EntityDef, record_id: int, where: str = "", args: tuple = (),
                     lock: bool = False) -> dict:
        """The record with its child rows, or NotFound; ``where`` adds conditions over alias ``t``."""
        sql = f"SELECT {self._columns(entity)} FROM {quote(entity.table)} t WHERE t.id = {{}}"
        if where:
            sql += f" AND {where}"
        if lock and not self.db.is_sqlite:
            sql += " FOR UPDATE OF t"  # writers of one record queue here (SQLite: the transaction's write lock)
        rows = await self.db.fetch(sql, record_id, *args)
        if not rows:
            raise NotFound(f"{entity.name} {record_id} does not exist")
        record = self._load_row(entity.fields, rows[0])
        for child in entity.child_tables:
            ccols = ", ".join(["id"] + [quote(f.name) for f in child.fields])
            crows = await self.db.fetch(
                f"SELECT {ccols} FROM {quote(entity.child_table_name(child.name))} WHERE parent_id = {{}} "
                "ORDER BY position", record_id)
            record[child.name] = [self._load_row(child.fields, r) for r in crows]
        return record

    def _read_where(self, entity: EntityDef, access: Access, deleted: bool | None = False) -> tuple[str, tuple]:
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

    async def _fetch_visible(self, entity: EntityDef, record_id: int, access: Access,
                             deleted: bool | None = False, lock: bool = False) -> dict:
        where, args = self._read_where(entity, access, deleted)
        return await self._fetch(entity, record_id, where, args, lock)

    async def _locked(self, entity: EntityDef, record_id: int, access: Access, ctx: RecordContext,
                      deleted: bool = False) -> dict:
        """The record for a write, locked until the transaction ends; NotFound when the actor cannot see it."""
        try:
            return await self._fetch_visible(entity, record_id, access, deleted, lock=True)
        except NotFound:
            raise NotFound(t("record_not_found", ctx.lang, entity=entity.name, id=record_id)) from None

    async def _visible(self, entity: EntityDef, record: dict, access: Access) -> dict:
        hidden = await access.hidden(entity)
        return {k: v for k, v in record.items() if k not in hidden} if hidden else record

    async def get(self, entity_name: str, record_id: int, ctx: RecordContext | None = None, *,
                  include_deleted: bool = False) -> dict:
        """One record with its child rows, without the fields hidden from the actor.

        NotFound when it does not exist, is deleted (unless ``include_deleted`` and the actor may restore it)
        or is outside the actor's read scope. ``ctx=None`` reads as the system: kept for old callers, to be
        removed; pass the caller's context."""
        entity = self._entity(entity_name)
        ctx = ctx or RecordContext.system(self.config)
        access = Access(self.rt, ctx)
        try:
            record = await self._fetch_visible(entity, record_id, access, None if include_deleted else False)
        except NotFound:
            raise NotFound(t("record_not_found", ctx.lang, entity=entity.name, id=record_id)) from None
        return await self._visible(entity, record, access)

    async def list(self, entity_name: str, ctx: RecordContext, *, filters: dict | None = None,
                   sort: str | list[str] | None = None, page: int = 1, page_size: int = DEFAULT_PAGE_SIZE,
                   search: str | None = None, deleted: bool = False) -> tuple[list[dict], int]:
        """A page of the records the actor may read, and how many there are in all.

        ``filters``: ``{field: value}`` (equal; for a multiple choice: holds the option; None: empty) or
        ``{field: {op: value, ...}}`` with ops ``eq ne lt lte gt gte in null``. ``sort``: a field or a list,
        ``-`` for descending (default ``-id``). ``search``: words that must all appear in the record's text
        fields, ignoring case and diacritics. ``deleted``: list deleted records instead (needs ``restore``).
        Rows hold the entity's own columns, not child tables."""
        entity = self._entity(entity_name)
        access = Access(self.rt, ctx)
        hidden = await access.hidden(entity)
        problems: list[tuple[str, str]] = []
        for name, value, low, high in (("page", page, 1, 10 ** 9), ("page_size", page_size, 1, MAX_PAGE_SIZE)):
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                problems.append((name, t("bad_page", ctx.lang, low=low, high=high)))
        where, args = self._read_where(entity, access, deleted)
        clauses, cargs = self._filters(entity, filters or {}, hidden, ctx, problems)
        order = self._order(entity, sort, hidden, ctx, problems)
        if search and search.strip():
            if await self._has_column(entity.table, "sys_search"):
                for word in fold(search).split()[:10]:
                    clauses.append("t.sys_search LIKE {} ESCAPE '\\'")
                    cargs.append(like_pattern(word))
            else:
                # A table migrated before sys_search existed: case-insensitive, but diacritics count.
                cols = [f"LOWER(t.{quote(f.name)})" for f in entity.column_fields
                        if f.type in SEARCHABLE_TYPES and f.name not in hidden_by_any_role(self.rt, entity)]
                for word in search.lower().split()[:10]:
                    clauses.append("(" + (" OR ".join(f"{c} LIKE {{}} ESCAPE '\\'" for c in cols) or "1 = 0") + ")")
                    cargs += [like_pattern(word)] * len(cols)
        if problems:
            raise ValidationError(problems)
        sql_where = " AND ".join([where] + clauses)
        all_args = (*args, *cargs)
        total = int(await self.db.fetchval(f"SELECT COUNT(*) AS n FROM {quote(entity.table)} t WHERE {sql_where}",
                                           *all_args) or 0)
        rows = await self.db.fetch(
            f"SELECT {self._columns(entity)} FROM {quote(entity.table)} t WHERE {sql_where} ORDER BY {order} "
            "LIMIT {} OFFSET {}", *all_args, page_size, (page - 1) * page_size)
        out = []
        for r in rows:
            record = self._load_row(entity.fields, r)
            out.append({k: v for k, v in record.items() if k not in hidden} if hidden else record)
        return out, total

    def _filters(self, entity: EntityDef, filters: dict, hidden: set[str], ctx: RecordContext,
                 problems: list) -> tuple[list[str], list]:
        clauses: list[str] = []
        args: list = []
        if not isinstance(filters, dict):
            problems.append(("filters", t("bad_filter", ctx.lang, reason="expected an object")))
            return clauses, args
        for name, spec in filters.items():
            where = f"filters.{name}"
            fd = next((f for f in entity.column_fields if f.name == name), None)
            if (fd is None and name not in LIST_SYSTEM_COLUMNS) or name in hidden:
                problems.append((where, t("unknown_field", ctx.lang)))
                continue
            col = f"t.{quote(name)}"
            ops = spec if isinstance(spec, dict) else {"eq": spec}
            for op, raw in ops.items():
                try:
                    if op == "null":
                        clauses.append(f"{col} IS {'' if raw else 'NOT '}NULL")
                    elif op in ("eq", "ne") and raw is None:
                        clauses.append(f"{col} IS {'' if op == 'eq' else 'NOT '}NULL")
                    elif op == "in":
                        if not isinstance(raw, list) or not raw:
                            raise ValueError("'in' needs a non-empty list")
                        values = [self._filter_value(fd, name, v) for v in raw]
                        clauses.append(f"{col} IN ({', '.join('{}' for _ in values)})")
                        args += values
                    elif op in FILTER_OPS:
                        if fd is not None and fd.type == "multi_choice":
                            if op not in ("eq", "ne"):
                                raise ValueError(f"{op!r} does not apply to a multiple choice")
                            option = json.dumps(str(raw), ensure_ascii=False)
                            clauses.append(f"{'' if op == 'eq' else 'NOT '}(COALESCE({col}, '') LIKE {{}} ESCAPE '\\')")
                            args.append(like_pattern(option))
                        else:
                            clauses.append(f"{col} {FILTER_OPS[op]} {{}}")
                            args.append(self._filter_value(fd, name, raw))
                    else:
                        raise ValueError(f"unknown operator {op!r}; operators: {', '.join([*FILTER_OPS, 'in', 'null'])}")
                except ValueError as exc:
                    problems.append((where, t("bad_filter", ctx.lang, reason=str(exc))))
        return clauses, args

    def _filter_value(self, fd: FieldDef | None, name: str, raw: Any) -> Any:
        if fd is None:
            if name in ("sys_created_at", "sys_updated_at", "sys_deleted_at"):
                return self.rt.registry.field_type("datetime").parse(None, raw)
            return self.rt.registry.field_type("integer").parse(None, raw)
        ft = self.rt.registry.field_type(fd.type)
        if fd.type == "multi_choice":
            raise ValueError("a multiple choice is filtered with eq/ne on one option")
        return ft.to_db(ft.parse(fd, raw))

    def _order(self, entity: EntityDef, sort: str | list[str] | None, hidden: set[str], ctx: RecordContext,
               problems: list) -> str:
        keys = [sort] if isinstance(sort, str) else list(sort or ["-id"])
        names = {f.name for f in entity.column_fields if f.type != "multi_choice"} | set(LIST_SYSTEM_COLUMNS)
        parts = []
        for key in keys:
            desc = isinstance(key, str) and key.startswith("-")
            name = key[1:] if desc else key
            if not isinstance(name, str) or name not in names or name in hidden:
                problems.append(("sort", t("bad_sort", ctx.lang, value=key)))
                continue
            parts.append(f"t.{quote(name)} {'DESC' if desc else 'ASC'}")
        if not any(p.startswith('t."id"') for p in parts):
            parts.append('t."id" DESC' if keys and str(keys[0]).startswith("-") else 't."id" ASC')
        return ", ".join(parts)

    async def history(self, entity_name: str, record_id: int, ctx: RecordContext) -> list[dict]:
        """Every audit entry of the record, oldest first: ``{id, at, action, actor, actor_id, origin, changes,
        detail}``. ``changes`` maps fields to ``[before, after]`` (hidden fields left out); ``detail`` holds the
        rest (``transition``, ``workflow``, a file's name, size and sha256). A deleted record's history is
        readable by those who may restore it."""
        entity = self._entity(entity_name)
        access = Access(self.rt, ctx)
        await self._require_visible(entity, record_id, access, ctx)
        hidden = await access.hidden(entity)
        addresses = may_see_addresses(self.rt, await access.roles(), access.superuser)
        rows = await self.db.fetch(
            "SELECT id, at, actor_id, actor, origin, action, changes FROM hoso_audit WHERE entity = {} "
            "AND record_id = {} ORDER BY id", entity.name, record_id)
        out = []
        for r in rows:
            raw = json.loads(r["changes"]) if r["changes"] else {}
            entry = _history_entry(raw, hidden)
            if entry is None:
                continue
            changes, detail = entry
            at = _as_datetime(r["at"]) if isinstance(r["at"], str) else r["at"]
            out.append({"id": r["id"], "at": at, "action": r["action"], "actor": r["actor"],
                        "actor_id": r["actor_id"], "origin": r["origin"] if addresses else None,
                        "changes": changes, "detail": detail})
        return out

    async def reindex_search(self, entity_name: str, ctx: RecordContext, batch: int = 1000) -> int:
        """Recompute ``sys_search`` of every record (after the column was added to an existing table, or after
        the searchable or hidden fields changed); system work only. Returns the number of records."""
        entity = self._entity(entity_name)
        if not ctx.superuser:
            raise Forbidden(t("forbidden", ctx.lang, action="reindex"))
        if not await self._has_column(entity.table, "sys_search"):
            return 0
        cols = ", ".join(["id"] + [quote(f.name) for f in entity.column_fields if f.type in SEARCHABLE_TYPES])
        skip = hidden_by_any_role(self.rt, entity)
        done, last = 0, 0
        while True:
            rows = await self.db.fetch(f"SELECT {cols} FROM {quote(entity.table)} WHERE id > {{}} ORDER BY id "
                                       "LIMIT {}", last, batch)
            if not rows:
                return done
            async with self.db.transaction():
                for r in rows:
                    await self.db.execute(f"UPDATE {quote(entity.table)} SET sys_search = {{}} WHERE id = {{}}",
                                          search_text(entity.fields, r, skip), r["id"])
            done += len(rows)
            last = rows[-1]["id"]

    async def transition_history(self, entity_name: str, record_id: int, ctx: RecordContext) -> list[dict]:
        """The workflow steps taken: ``{at, transition, workflow, from, to, actor, actor_id, origin}``."""
        entity = self._entity(entity_name)
        out = []
        states = {w.name: w.state_field for w in self.config.workflows_for(entity.name)}
        for h in await self.history(entity_name, record_id, ctx):
            if h["action"] != "transition":
                continue
            wf = h["detail"].get("workflow")
            before, after = h["changes"].get(states.get(wf, ""), [None, None])
            out.append({"at": h["at"], "transition": h["detail"].get("transition"), "workflow": wf,
                        "from": before, "to": after, "actor": h["actor"], "actor_id": h["actor_id"],
                        "origin": h["origin"]})
        return out

    async def _require_visible(self, entity: EntityDef, record_id: int, access: Access, ctx: RecordContext) -> None:
        where, args = self._read_where(entity, access, None)
        found = await self.db.fetchval(f"SELECT 1 AS ok FROM {quote(entity.table)} t WHERE t.id = {{}} AND {where}",
                                       record_id, *args)
        if found is None:
            raise NotFound(t("record_not_found", ctx.lang, entity=entity.name, id=record_id))

    async def overdue(self, entity_name: str, ctx: RecordContext, *, on: dt.date | None = None, page: int = 1,
                      page_size: int = DEFAULT_PAGE_SIZE) -> tuple[list[dict], int]:
        """Records the actor may read that stayed in a state past its deadline on ``on`` (default: today),
        most overdue first; each row has ``sys_deadline``: ``{state, workflow, due_on, days_overdue, within,
        label}``."""
        from hoso.records.workflow import overdue

        entity = self._entity(entity_name)
        return await overdue(self, entity, Access(self.rt, ctx), ctx, on or ctx.today, page, page_size)

    # -- attachments ----------------------------------------------------------------------------------------------
    @property
    def storage(self) -> "Storage":
        """The attachment storage chosen by the ``hoso_attachment_storage`` hook (once per runtime)."""
        if self._cache.storage is None:
            storage = self.rt.pm.hook.hoso_attachment_storage(config=self.config)
            if storage is None:
                # hoso.plugins.storage is the default; it answers here until it is listed in DEFAULT_PLUGINS.
                from hoso.plugins.storage import hoso_attachment_storage

                storage = hoso_attachment_storage(self.config)
            self._cache.storage = storage
        return self._cache.storage

    async def upload(self, entity_name: str, record_id: int, field: str, filename: str, content_type: str,
                     stream: AsyncIterator[bytes], ctx: RecordContext, *, version: int | None = None,
                     size_hint: int | None = None, sha256: str | None = None) -> "AttachmentInfo":
        """Store a file as the new version of an attachment field, streaming (never the whole file in memory).

        Needs ``update`` on the record. ``size_hint`` (e.g. Content-Length) refuses a too large file before
        reading it; ``sha256`` (hex) is compared with the received bytes. Older versions stay downloadable.
        Raises NotFound, Forbidden, StaleVersion (``version`` given and stale), AttachmentTooLarge,
        ValidationError (field, type, content or checksum)."""
        from hoso.records.attachments import upload

        return await upload(self, self._entity(entity_name), record_id, field, filename, content_type, stream, ctx,
                            version=version, size_hint=size_hint, sha256=sha256)

    async def download(self, entity_name: str, record_id: int, field: str, ctx: RecordContext, *,
                       version: int | None = None) -> tuple["AttachmentInfo", AsyncIterator[bytes]]:
        """The current (or ``version``) file of an attachment field and an iterator of its bytes.

        Needs ``read`` on the record; audited. The iterator checks size and sha256 as it goes and raises
        AttachmentCorrupt at the end when the stored file was changed. Raises NotFound otherwise."""
        from hoso.records.attachments import download

        return await download(self, self._entity(entity_name), record_id, field, ctx, version=version)

    async def attachments(self, entity_name: str, record_id: int, field: str, ctx: RecordContext
                          ) -> list["AttachmentInfo"]:
        """Every stored version of an attachment field, newest first (needs ``read`` on the record)."""
        from hoso.records.attachments import versions

        return await versions(self, self._entity(entity_name), record_id, field, ctx)

    # -- JSON -----------------------------------------------------------------------------------------------------
    def dump(self, entity_name: str, record: dict) -> dict:
        """A record as JSON-ready values."""
        entity = self.config.entity(entity_name)
        out = {}
        for k, v in record.items():
            if entity.has_field(k) and entity.field(k).is_child_table:
                child = entity.field(k)
                out[k] = [{ck: _dump_value(self.rt, child, ck, cv) for ck, cv in r.items()} for r in v]
            else:
                out[k] = _dump_value(self.rt, entity, k, v)
        return out


def _history_entry(raw: dict, hidden: set[str]) -> tuple[dict, dict] | None:
    """An audit entry's ``(changes, detail)`` as a reader with ``hidden`` fields may see it, or None when the
    entry is about hidden fields only (an update of them, a file stored in or read from one): showing it would
    tell that a hidden field changed, and a file's name, size and checksum say what it holds."""
    fields = {k for k in raw if not k.startswith("@")}
    file = raw.get("@file")
    if isinstance(file, dict) and isinstance(file.get("field"), str):
        fields.add(file["field"])
    if hidden and fields and fields <= hidden:
        return None
    changes = {k: v for k, v in raw.items() if not k.startswith("@") and k not in hidden}
    detail = {k[1:]: v for k, v in raw.items() if k.startswith("@")}
    if fields & hidden:
        detail.pop("file", None)
    return changes, detail


def _record_date_field(entity: EntityDef) -> str | None:
    """The field that dates a record (the naming series' date_field), which decides the units it may go under."""
    return entity.naming.date_field if entity.naming and entity.naming.date_field else None


def _dmy(day: dt.date) -> str:
    return day.strftime("%d/%m/%Y")


def _require_editable(config: Config, entity: EntityDef, record: dict, ctx: RecordContext) -> None:
    from hoso.records.workflow import require_editable

    require_editable(config, entity, record, ctx)


def _row_ids(value: Any) -> list | None:
    """The ids of child rows, in order (None for a value that is not a list of rows): a change of rows that
    differ only by id, such as reordering equal rows, is a change too."""
    if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
        return None
    return [r.get("id") for r in value]


def _child_row_id(row: dict, where: str, ctx: RecordContext) -> tuple[int | None, list[tuple[str, str]]]:
    """The ``id`` a child row of a payload names (an existing row to keep), or None for a new row."""
    raw = row.get("id") if isinstance(row, dict) else None
    if raw is None or raw == "":
        return None, []
    if isinstance(raw, bool) or not isinstance(raw, (int, str)) or not str(raw).isdigit() \
            or not 0 < int(raw) < 2 ** 63:
        return None, [(where, t("invalid", ctx.lang, reason="expected the id of a row of this record"))]
    return int(raw), []


def _child_id_problems(entity: EntityDef, values: dict, current: dict | None,
                       ctx: RecordContext) -> list[tuple[str, str]]:
    """Child rows may name only rows of this record (never another record's), each once; a new record has none."""
    problems = []
    for child in entity.child_tables:
        rows = values.get(child.name) or []
        own = {r.get("id") for r in (current or {}).get(child.name) or []}
        seen: set[int] = set()
        for i, row in enumerate(rows):
            row_id = row.get("id")
            if row_id is None:
                continue
            if row_id not in own or row_id in seen:
                problems.append((f"{child.name}[{i}].id", t("not_found", ctx.lang, value=row_id)))
            seen.add(row_id)
    return problems


def _top(field_path: str) -> str:
    return field_path.split("[", 1)[0].split(".", 1)[0]


def _as_date(v: Any) -> dt.date:
    return dt.date.fromisoformat(v) if isinstance(v, str) else v


def _as_datetime(v: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(v)
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def _dump_value(rt, owner, name, value):
    if value is None:
        return None
    fields = owner.fields
    for fd in fields:
        if fd.name == name and not fd.is_child_table:
            return rt.registry.field_type(fd.type).dump(value)
    return _jsonable(value)

