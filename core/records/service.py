"""The record service: the one path through which records are created, read and changed.

Every caller (the API, the admin, imports, demo data, plugins) goes through it, so parsing, validation (forms,
conditions, rules, plugin validators), scope checks, workflow rules, naming series, optimistic locking and
audit hold everywhere. The public methods and what they raise are documented in docs/records.md.

Reads put the actor's scope predicate into their SQL: a record outside the actor's scope is reported as
``NotFound``, exactly like a record that does not exist. Writes check the predicate of their action on the
row (``create``, ``update``, ``delete``, ``restore``, ``transition:<name>``), inside the write's transaction.
"""

from __future__ import annotations

import builtins  # the class below has a list() method, which hides the builtin in its annotations
import contextlib
import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from hoso.audit import AuditEvent
from hoso.config import EntityDef
from hoso.db import quote
from hoso.fields import same
from hoso.i18n import t
from hoso.jsonconv import changes as jsonable_changes
from hoso.jsonconv import comparable as jsonable_deep
from hoso.jsonconv import json_ready
from hoso.records import events
from hoso.records.access import Access, hidden_by_any_role
from hoso.records.attachments import AttachmentInfo, Storage, download, upload, versions
from hoso.records.bulk import create_many
from hoso.records.context import LOCAL_ZONE, RecordContext, is_empty
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
from hoso.records.forms import CompiledForm
from hoso.records.guard import write_guard
from hoso.records.history import history, transitions_of
from hoso.records.inserting import IN_SCOPE, insert_created
from hoso.records.naming import code_parts, format_code, next_in_series
from hoso.records.query import DEFAULT_PAGE_SIZE, ListPage, RecordQuery
from hoso.records.search import search_text
from hoso.records.store import RecordStore, RuntimeCache
from hoso.records.validation import RecordValidator, child_id_problems
from hoso.records.workflow import Step, available, overdue, require_editable

if TYPE_CHECKING:  # pragma: no cover
    from hoso.runtime import Runtime

# RecordContext, AuditEvent and the errors are named here too: callers import them with the service.
__all__ = ["RecordContext", "AuditEvent", "RecordService", "RecordError", "ValidationError", "StaleVersion",
           "NotFound", "Forbidden", "InvalidTransition", "AttachmentTooLarge", "AttachmentCorrupt", "LOCAL_ZONE"]


class RecordService:
    def __init__(self, runtime: Runtime):
        self.rt = runtime
        self.db = runtime.db
        self.config = runtime.config
        cache = runtime.__dict__.get("_records_cache")
        if cache is None:
            cache = runtime.__dict__["_records_cache"] = RuntimeCache(runtime)
        self._cache: RuntimeCache = cache
        # The seams of the service: its siblings (attachments, workflow, reports) use these public parts.
        self.store = RecordStore(runtime, cache)
        self.validator = RecordValidator(runtime)
        self.query = RecordQuery(runtime, self.store)

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

    # -- writes -----------------------------------------------------------------------------------------------
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

    async def create(self, entity_name: str, payload: dict, ctx: RecordContext, *, form: str | None = None) -> dict:
        """Create a record from ``payload`` (field -> value, as JSON would carry it) through ``form``.

        Raises Forbidden (no role may create), ValidationError (nothing written; an out-of-scope unit is a
        problem of the unit field)."""
        entity = self._entity(entity_name)
        access = Access(self.rt, ctx)
        if not await access.may_at_all("create", entity):
            raise Forbidden(t("forbidden", ctx.lang, action="create"))
        compiled = self._compiled(entity, form, ctx)
        values, problems = self.validator.parse(entity.fields, payload, ctx)
        if not isinstance(payload, dict):
            raise ValidationError(problems)
        problems += await self.validator.write_problems(entity, payload, values, ctx, access, compiled, None)
        problems += child_id_problems(entity, values, None, ctx)
        for wf in self.config.workflows_for(entity.name):
            if payload.get(wf.state_field) in (None, ""):
                values[wf.state_field] = wf.initial  # whatever the field's default: a record starts here
        now = dt.datetime.now(dt.UTC)
        await self.store.register_form(compiled)
        async with events.collected(self.rt), self._conflicts_audited(entity, access, ctx), self.db.transaction():
            problems = await self.validator.validate(entity, values, ctx, access, compiled, None, None, problems)
            if problems:
                raise ValidationError(problems)
            await write_guard(self.rt, entity, "create", None, values, ctx)
            # Everything the row needs is found before its number is taken: from then on, until COMMIT, the
            # other creators of its series wait (see hoso.records.inserting).
            series = await code_parts(self.db, entity, values, now) if entity.naming else None
            pred = None if access.superuser else await access.scoped("create", entity)

            def columns() -> dict:
                row = self.store.to_db(entity.fields, values)
                row.update(sys_version=1, sys_created_at=now, sys_created_by=ctx.user_id, sys_updated_at=now,
                           sys_updated_by=ctx.user_id, sys_form_version=compiled.version)
                return row

            # The stored row comes back from the INSERT (nothing below changes it): it is the record read back.
            stored = None
            if not self.db.is_sqlite and not (pred is not None and pred.is_false):
                stored = await insert_created(self.store, entity, values, columns(), series, pred, now)
            one_statement = stored is not None
            if stored is None:
                if series is not None:
                    assert entity.naming is not None
                    number = await next_in_series(self.db, series[0])
                    values[entity.naming.field] = format_code(entity, series[1], number)
                row = columns()
                row.update(await self.store.search_column(entity, values))
                cols = ", ".join(quote(c) for c in row)
                marks = ", ".join("{}" for _ in row)
                stored = (await self.db.fetch(
                    f"INSERT INTO {quote(entity.table)} ({cols}) VALUES ({marks}) "
                    f"RETURNING {self.store.columns(entity, alias=None)}", *row.values()))[0]
            record_id = stored["id"]
            # a new record's child tables without rows have no rows to version nor to read back
            filled = tuple(c for c in entity.child_tables if values.get(c.name))
            for child in filled:
                await self.store.write_children(entity, child, record_id, values[child.name])
            await self.store.version(entity, record_id, created=True, children=filled, record=not one_statement)
            if not one_statement:
                await self.validator.require_scope(entity, "create", record_id, access, ctx)
            elif not stored.pop(IN_SCOPE):
                self.validator.refuse_out_of_scope(entity, "create", ctx)
            changes = {k: (None, v) for k, v in values.items() if not is_empty(v)}
            await self.store.audit(AuditEvent("create", entity.name, record_id, ctx.user_id, ctx.user_name,
                                              ctx.origin, jsonable_changes(changes)))
            record = self.store.load_row(entity.fields, stored)
            await self.store.read_children(entity, record, filled)
            await events.emit(self.rt, "created", entity, record, ctx)
        return await self.store.visible(entity, record, access)

    async def create_many(self, entity_name: str, payloads: builtins.list[dict], ctx: RecordContext, *,
                          form: str | None = None, in_transaction: Any = None,
                          dry_run: bool = False) -> builtins.list[dict]:
        """Create a record from each payload in one transaction, each checked as ``create`` checks it; one
        invalid record writes nothing (see ``hoso.records.bulk.create_many``).

        ``dry_run``: check everything, keep nothing. Raises Forbidden, BatchInvalid (a ValidationError whose
        ``rows`` maps positions to their problems)."""
        return await create_many(self, entity_name, payloads, ctx, form=form, in_transaction=in_transaction,
                                 dry_run=dry_run)

    async def update(self, entity_name: str, record_id: int, payload: dict, version: int, ctx: RecordContext, *,
                     form: str | None = None) -> dict:
        """Change the fields in ``payload``; ``version`` is the ``sys_version`` the caller read.

        Raises NotFound, Forbidden, StaleVersion (with the current version), ValidationError."""
        entity = self._entity(entity_name)
        return await self._change(entity, record_id, payload, version, ctx, self._compiled(entity, form, ctx))

    async def _change(self, entity: EntityDef, record_id: int, payload: dict, version: int, ctx: RecordContext,
                      compiled: CompiledForm, step: Any | None = None) -> dict:
        """The one update path, shared by ``update`` and ``transition`` (``step``: the workflow step)."""
        access = Access(self.rt, ctx)
        action = f"transition:{step.transition.name}" if step else "update"
        payload = {} if payload is None else payload
        changes_in, problems = self.validator.parse(entity.fields, payload, ctx, partial=True)
        if not isinstance(payload, dict):
            raise ValidationError(problems)
        now = dt.datetime.now(dt.UTC)
        await self.store.register_form(compiled)
        async with events.collected(self.rt), self._conflicts_audited(entity, access, ctx), self.db.transaction():
            current, allowed = await self.store.locked_for(entity, record_id, access, ctx, action)
            # As read, before anything of this change could touch them.
            unchanged_children = {c.name: [dict(r) for r in current.get(c.name) or []] for c in entity.child_tables}
            if not allowed:
                raise Forbidden(t("forbidden", ctx.lang, action=step.label(ctx.lang) if step else action))
            if current["sys_version"] != version:
                raise StaleVersion(current["sys_version"])
            if step is not None:
                step.check_state(current, ctx)
            else:
                require_editable(self.config, entity, current, ctx)
            problems += await self.validator.write_problems(entity, payload, changes_in, ctx, access, compiled,
                                                            current)
            problems += child_id_problems(entity, changes_in, current, ctx)
            merged = {fd.name: current.get(fd.name) for fd in entity.fields}
            merged.update(changes_in)
            moved = False
            if step is not None:
                merged[step.workflow.state_field] = step.transition.to
                changes_in[step.workflow.state_field] = step.transition.to
                problems += step.missing(merged, ctx)
                moved = step.move(entity, current, merged, changes_in)
            problems = await self.validator.validate(entity, merged, ctx, access, compiled, record_id, current,
                                                     problems)
            if step is not None and not problems:
                problems = await step.guard(self.rt, entity, current, merged, ctx)
            if problems:
                raise ValidationError(problems)
            if moved and step is not None:
                await step.renumber(self.db, entity, current, merged, changes_in, now)
            diff: dict[str, tuple[Any, Any]] = {}
            for k, v in changes_in.items():
                if jsonable_deep(current.get(k)) != jsonable_deep(v) or _row_ids(current.get(k)) != _row_ids(v):
                    diff[k] = (current.get(k), v)
            if not diff and step is None:
                return await self.store.visible(entity, current, access)  # nothing changes: no new version
            await write_guard(self.rt, entity, action, current, {**current, **merged}, ctx)
            row = self.store.to_db(entity.fields, {k: v for k, v in changes_in.items() if k in diff})
            row.update(sys_version=version + 1, sys_updated_at=now, sys_updated_by=ctx.user_id,
                       sys_form_version=compiled.version)
            row.update(await self.store.search_column(entity, merged))
            sets = ", ".join(f"{quote(c)} = {{}}" for c in row)
            # The row comes back from the UPDATE (nothing below changes it): it is the record read back.
            updated = await self.db.fetch(
                f"UPDATE {quote(entity.table)} SET {sets} WHERE id = {{}} AND sys_version = {{}} "
                f"RETURNING {self.store.columns(entity, alias=None)}",
                *row.values(), record_id, version,
            )
            if not updated:
                raise StaleVersion(await self.db.fetchval(
                    f"SELECT sys_version FROM {quote(entity.table)} WHERE id = {{}}", record_id))
            for child in entity.child_tables:
                if child.name in diff:
                    await self.store.sync_children(entity, child, record_id, changes_in[child.name] or [])
            await self.store.version(entity, record_id,
                                     children=tuple(c for c in entity.child_tables if c.name in diff))
            if entity.unit_field in diff and not moved:  # a transfer is allowed where the record was
                await self.validator.require_scope(entity, action, record_id, access, ctx)
            changes = jsonable_changes(diff)
            if step is not None:
                changes.update({"@transition": step.transition.name, "@workflow": step.workflow.name})
            await self.store.audit(AuditEvent("transition" if step else "update", entity.name, record_id,
                                              ctx.user_id, ctx.user_name, ctx.origin, changes))
            record = self.store.load_row(entity.fields, updated[0])
            # The child tables the change wrote are read again (their new rows have ids); the others are as read.
            await self.store.read_children(entity, record, tuple(c for c in entity.child_tables if c.name in diff))
            for child in entity.child_tables:
                if child.name not in diff:
                    record[child.name] = [dict(r) for r in unchanged_children[child.name]]
            if step is not None:
                await step.done(self.rt, entity, record, ctx, current)
            await events.emit(self.rt, "transitioned" if step else "changed", entity, record, ctx, before=current,
                              transition=step.transition if step else None)
        return await self.store.visible(entity, record, access)

    async def delete(self, entity_name: str, record_id: int, reason: str, version: int, ctx: RecordContext) -> dict:
        """Soft-delete: the record is hidden from reads and lists, kept with who, when and why.

        Raises NotFound, Forbidden (no ``delete`` on this row), StaleVersion, ValidationError (no reason)."""
        entity = self._entity(entity_name)
        access = Access(self.rt, ctx)
        reason = reason.strip() if isinstance(reason, str) else ""
        now = dt.datetime.now(dt.UTC)
        async with events.collected(self.rt), self.db.transaction():
            current, allowed = await self.store.locked_for(entity, record_id, access, ctx, "delete")
            if not allowed:
                raise Forbidden(t("forbidden", ctx.lang, action="delete"))
            if current["sys_version"] != version:
                raise StaleVersion(current["sys_version"])
            require_editable(self.config, entity, current, ctx)
            if not reason:
                raise ValidationError([("reason", t("reason_required", ctx.lang))])
            await write_guard(self.rt, entity, "delete", current, None, ctx)
            await self.db.execute(
                f"UPDATE {quote(entity.table)} SET sys_deleted_at = {{}}, sys_deleted_by = {{}}, "
                "sys_delete_reason = {}, sys_version = {}, sys_updated_at = {}, sys_updated_by = {} WHERE id = {}",
                now, ctx.user_id, reason, version + 1, now, ctx.user_id, record_id)
            await self.store.version(entity, record_id)
            await self.store.audit(AuditEvent("delete", entity.name, record_id, ctx.user_id, ctx.user_name,
                                              ctx.origin, {"sys_deleted_at": [None, now.isoformat()],
                                                           "sys_delete_reason": [None, reason]}))
            record = await self.store.fetch(entity, record_id)
            await events.emit(self.rt, "deleted", entity, record, ctx)
        return await self.store.visible(entity, record, access)

    async def restore(self, entity_name: str, record_id: int, ctx: RecordContext, *,
                      version: int | None = None) -> dict:
        """Undo a soft delete (needs the ``restore`` action on the row, a higher role than ``delete``).

        Raises NotFound (no deleted record the actor may see), Forbidden, StaleVersion."""
        entity = self._entity(entity_name)
        access = Access(self.rt, ctx)
        now = dt.datetime.now(dt.UTC)
        async with events.collected(self.rt), self.db.transaction():
            current, allowed = await self.store.locked_for(entity, record_id, access, ctx, "restore", deleted=True)
            if not allowed:
                raise Forbidden(t("forbidden", ctx.lang, action="restore"))
            if version is not None and current["sys_version"] != version:
                raise StaleVersion(current["sys_version"])
            await write_guard(self.rt, entity, "restore", current, {**current, "sys_deleted_at": None}, ctx)
            await self.db.execute(
                f"UPDATE {quote(entity.table)} SET sys_deleted_at = NULL, sys_deleted_by = NULL, "
                "sys_delete_reason = NULL, sys_version = {}, sys_updated_at = {}, sys_updated_by = {} WHERE id = {}",
                current["sys_version"] + 1, now, ctx.user_id, record_id)
            await self.store.version(entity, record_id)
            await self.store.audit(AuditEvent("restore", entity.name, record_id, ctx.user_id, ctx.user_name,
                                              ctx.origin, jsonable_changes({
                                                  "sys_deleted_at": (current["sys_deleted_at"], None),
                                                  "sys_delete_reason": (current["sys_delete_reason"], None)})))
            record = await self.store.fetch(entity, record_id)
            await events.emit(self.rt, "restored", entity, record, ctx)
        return await self.store.visible(entity, record, access)

    async def transition(self, entity_name: str, record_id: int, name: str, payload: dict | None, version: int,
                         ctx: RecordContext, *, form: str | None = None) -> dict:
        """Take the workflow step ``name``, writing the fields in ``payload`` with it (e.g. ``accepted_on``).

        Raises NotFound, Forbidden (the actor's roles do not grant ``transition:<name>`` on this record),
        StaleVersion, InvalidTransition (not from the current state), ValidationError (unknown step, missing
        required fields, invalid record, refused by a plugin guard)."""
        entity = self._entity(entity_name)
        step = Step.find(self.config, entity, name, ctx)
        return await self._change(entity, record_id, payload or {}, version, ctx,
                                  self._compiled(entity, form, ctx), step)

    async def available_transitions(self, entity_name: str, record_id: int, ctx: RecordContext) -> list[dict]:
        """The steps the actor may take on the record now: ``[{name, label, to, requires}]``."""
        entity = self._entity(entity_name)
        access = Access(self.rt, ctx)
        record = await self.store.fetch_visible(entity, record_id, access)
        return await available(self.rt, entity, record, access, ctx)

    async def audit(self, event: AuditEvent) -> None:
        """Write one audit entry through every audit writer (for changes made outside this service, such as
        logins and role assignments). Entries are append-only: no method changes or removes one."""
        async with self.db.transaction():
            await self.store.audit(event)

    # -- reads ------------------------------------------------------------------------------------------------
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
            async with self.db.read_together():  # the record and its child rows: one pooled connection
                record = await self.store.fetch_visible(entity, record_id, access,
                                                        None if include_deleted else False)
        except NotFound:
            raise NotFound(t("record_not_found", ctx.lang, entity=entity.name, id=record_id)) from None
        return await self.store.visible(entity, record, access)

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
        return await self.query.list(entity, Access(self.rt, ctx), ctx, filters=filters, sort=sort, page=page,
                                     page_size=page_size, search=search, deleted=deleted)

    async def list_page(self, entity_name: str, ctx: RecordContext, *, filters: dict | None = None,
                        sort: str | builtins.list[str] | None = None, page: int = 1,
                        page_size: int = DEFAULT_PAGE_SIZE, search: str | None = None, deleted: bool = False,
                        cursor: str | None = None, count: str = "auto") -> ListPage:
        """A page of the records the actor may read, as ``list`` selects and sorts them, by page number or after
        ``cursor`` (the ``next_cursor`` of the page before), with a count that costs no scan of the table.

        ``count``: ``auto`` counts exactly up to HOSO_LIST_COUNT_CAP, beyond it answers the cap with
        ``total_exact`` False ("more than"); ``exact`` always counts; ``none`` does not count (``total`` None).
        A cursor of another list (other sort, filters, search) or an altered one is a ValidationError on
        ``cursor``; so is a cursor with a page number. Without ``sort``, the entity's ``list.sort`` applies, else
        ``-id``; the id always ends the order, so pages neither repeat nor skip a record."""
        entity = self._entity(entity_name)
        return await self.query.page(entity, Access(self.rt, ctx), ctx, filters=filters, sort=sort, page=page,
                                     page_size=page_size, search=search, deleted=deleted, cursor=cursor,
                                     count=count)

    async def history(self, entity_name: str, record_id: int, ctx: RecordContext) -> builtins.list[dict]:
        """Every audit entry of the record, oldest first: ``{id, at, action, actor, actor_id, origin, changes,
        detail}``. ``changes`` maps fields to ``[before, after]`` (hidden fields left out); ``detail`` holds the
        rest (``transition``, ``workflow``, a file's name, size and sha256). A deleted record's history is
        readable by those who may restore it."""
        entity = self._entity(entity_name)
        return await history(self.store, entity, record_id, Access(self.rt, ctx), ctx)

    async def transition_history(self, entity_name: str, record_id: int, ctx: RecordContext) -> builtins.list[dict]:
        """The workflow steps taken: ``{at, transition, workflow, from, to, actor, actor_id, origin}``."""
        entity = self._entity(entity_name)
        return transitions_of(self.config, entity, await self.history(entity_name, record_id, ctx))

    async def reindex_search(self, entity_name: str, ctx: RecordContext, batch: int = 1000) -> int:
        """Recompute ``sys_search`` of every record (after the column was added to an existing table, or after
        the searchable or hidden fields changed); system work only. Returns the number of records."""
        entity = self._entity(entity_name)
        if not ctx.superuser:
            raise Forbidden(t("forbidden", ctx.lang, action="reindex"))
        if not await self.store.has_column(entity.table, "sys_search"):
            return 0
        cols = ", ".join(["id"] + [quote(f.name) for f in entity.search_fields])
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
                                          search_text(entity.search_fields, r, skip), r["id"])
            done += len(rows)
            last = rows[-1]["id"]

    async def overdue(self, entity_name: str, ctx: RecordContext, *, on: dt.date | None = None, page: int = 1,
                      page_size: int = DEFAULT_PAGE_SIZE, not_overdue_on: dt.date | None = None,
                      count: bool | int = True) -> tuple[builtins.list[dict], int | None]:
        """Records the actor may read that stayed in a state past its deadline on ``on`` (default: today),
        longest waiting first (by the start of the first deadline's period that the record is past), and how many
        there are (None with ``count=False``, which spares the count; with ``count=N``, counted up to N + 1 only,
        enough to say "more than N"); each row has ``sys_deadline``: ``{state, workflow, due_on, days_overdue,
        within, label}``. ``not_overdue_on``: only the records not yet overdue on that day (those falling due in
        between)."""
        entity = self._entity(entity_name)
        return await overdue(self, entity, Access(self.rt, ctx), ctx, on or ctx.today, page, page_size,
                             not_overdue_on=not_overdue_on, count=count)

    # -- attachments ----------------------------------------------------------------------------------------------
    @property
    def storage(self) -> Storage:
        """The attachment storage chosen by the ``hoso_attachment_storage`` hook (once per runtime)."""
        if self._cache.storage is None:
            storage = self.rt.pm.hook.hoso_attachment_storage(config=self.config)
            if storage is None:
                # The built-in storage plugin always answers; no answer means it was unregistered.
                raise RuntimeError("no attachment storage: no plugin answers hoso_attachment_storage")
            self._cache.storage = storage
        return self._cache.storage

    async def upload(self, entity_name: str, record_id: int, field: str, filename: str, content_type: str,
                     stream: AsyncIterator[bytes], ctx: RecordContext, *, version: int | None = None,
                     size_hint: int | None = None, sha256: str | None = None) -> AttachmentInfo:
        """Store a file as the new version of an attachment field, streaming (never the whole file in memory).

        Needs ``update`` on the record. ``size_hint`` (e.g. Content-Length) refuses a too large file before
        reading it; ``sha256`` (hex) is compared with the received bytes. Older versions stay downloadable.
        Raises NotFound, Forbidden, StaleVersion (``version`` given and stale), AttachmentTooLarge,
        ValidationError (field, type, content or checksum)."""
        return await upload(self, self._entity(entity_name), record_id, field, filename, content_type, stream, ctx,
                            version=version, size_hint=size_hint, sha256=sha256)

    async def download(self, entity_name: str, record_id: int, field: str, ctx: RecordContext, *,
                       version: int | None = None) -> tuple[AttachmentInfo, AsyncIterator[bytes]]:
        """The current (or ``version``) file of an attachment field and an iterator of its bytes.

        Needs ``read`` on the record; audited. The iterator checks size and sha256 as it goes and raises
        AttachmentCorrupt at the end when the stored file was changed. Raises NotFound otherwise."""
        return await download(self, self._entity(entity_name), record_id, field, ctx, version=version)

    async def attachments(self, entity_name: str, record_id: int, field: str, ctx: RecordContext
                          ) -> builtins.list[AttachmentInfo]:
        """Every stored version of an attachment field, newest first (needs ``read`` on the record)."""
        return await versions(self, self._entity(entity_name), record_id, field, ctx)

    # -- JSON -----------------------------------------------------------------------------------------------------
    def dump(self, entity_name: str, record: dict) -> dict:
        """A record as JSON-ready values."""
        dumper = self._cache.dumpers.get(entity_name)
        if dumper is None:
            # each field's dump function, found once per runtime (a list dumps every value of every row)
            dumper = self._cache.dumpers[entity_name] = _Dumper(self.rt, self.config.entity(entity_name).fields)
        return dumper(record)


def _row_ids(value: Any) -> list | None:
    """The ids of child rows, in order (None for a value that is not a list of rows): a change of rows that
    differ only by id, such as reordering equal rows, is a change too."""
    if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
        return None
    return [r.get("id") for r in value]


class _Dumper:
    """How a record of some fields is dumped as JSON: the fields whose type converts values (each with its dump
    function), the child tables (each with a dumper of its rows' fields), and every other key of a record (the
    fields whose values are kept as they are, ``id`` and the system columns) made JSON-ready only when it is not
    a field (a field of a name the first of that name decides, as a lookup would)."""

    __slots__ = ("converted", "children", "fields")

    def __init__(self, rt, fields, nested: bool = True):
        converted: dict[str, Any] = {}
        children: dict[str, _Dumper] = {}
        names: set[str] = set()
        for fd in fields:
            if fd.name in names or (fd.is_child_table and not nested):
                continue  # the rows of a child table dump their own fields; anything else in them is made JSON-ready
            names.add(fd.name)
            if fd.is_child_table:
                children[fd.name] = _Dumper(rt, fd.fields, nested=False)
                continue
            dump = rt.registry.field_type(fd.type).dump
            if dump is not same:
                converted[fd.name] = dump
        self.converted = converted
        self.children = children
        self.fields = frozenset(names)

    def __call__(self, record: dict) -> dict:
        out = dict(record)
        for k in out.keys() - self.fields:  # id and the system columns
            v = out[k]
            if v is not None:
                out[k] = json_ready(v)
        for k, how in self.converted.items():
            v = out.get(k)
            if v is not None:
                out[k] = how(v)
        for k, rows in self.children.items():
            if k in out:
                out[k] = [rows(r) for r in out[k]]
        return out

