"""Checking a record before it is written: parsing a payload, the fields it may not write, the plugins' checks,
references, units and uniqueness. The record service calls these inside its write's transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, NoReturn

from hoso.config import EntityDef, FieldDef
from hoso.db import quote
from hoso.i18n import t
from hoso.jsonconv import comparable as jsonable_deep
from hoso.jsonconv import json_ready as jsonable
from hoso.lineage import lookup_successor
from hoso.plugin_manager import await_me_maybe
from hoso.records.access import Access, accounts_in_reach
from hoso.records.context import RecordContext, as_date
from hoso.records.errors import Forbidden, ValidationError
from hoso.records.forms import CompiledForm, top_field
from hoso.records.system_fields import system_fields

if TYPE_CHECKING:  # pragma: no cover
    from hoso.runtime import Runtime

__all__ = ["RecordValidator", "record_date_field", "child_id_problems"]


class RecordValidator:
    def __init__(self, rt: Runtime, *, batch: bool = False):
        self.rt = rt
        self.db = rt.db
        self.config = rt.config
        # The rows of the units read, kept for one batch of records checked in one transaction (None: not kept).
        self._units: dict[Any, list[dict]] | None = {} if batch else None

    async def unit_row(self, unit_id: Any) -> list[dict]:
        """The unit ``unit_id`` (id, code, names, type, valid_to), as a list of zero or one row."""
        if self._units is not None and unit_id in self._units:
            return self._units[unit_id]
        rows = await self.db.fetch("SELECT id, code, name_vi, name_en, type, valid_to FROM hoso_unit WHERE id = {}",
                                   unit_id)
        if self._units is not None:
            self._units[unit_id] = rows
        return rows

    def parse(self, fields: tuple[FieldDef, ...], payload: dict, ctx: RecordContext, prefix: str = "",
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
                    row_id, p = child_row_id(row, f"{prefix}{fd.name}[{i}].id", ctx)
                    parsed, more = self.parse(fd.fields, {k: v for k, v in row.items() if k != "id"}, ctx,
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

    async def write_problems(self, entity: EntityDef, payload: dict, values: dict, ctx: RecordContext,
                             access: Access, form: CompiledForm, current: dict | None) -> list[tuple[str, str]]:
        """Fields the payload may not write: hidden or read-only for the actor, not on the form, given by the
        system (code, workflow state) or uploaded separately (attachments)."""
        problems = []
        hidden = await access.hidden(entity)
        read_only = await access.read_only(entity) if current is not None else set()
        on_form = set(form.field_names)
        given = system_fields(self.config, entity)
        lang = ctx.lang
        for key in payload:
            if not entity.has_field(key):
                continue  # reported as unknown
            fd = entity.field(key)
            new = values.get(key)
            changed = current is None or jsonable_deep(current.get(key)) != jsonable_deep(new)
            if key in hidden:
                problems.append((key, t("hidden_field", lang)))
            elif key not in on_form:
                problems.append((key, t("not_on_form", lang, form=form.label)))
            elif key == given.code:
                if (current is None and new is not None) or (current is not None and changed):
                    problems.append((key, t("code_by_series", lang)))
            elif key in given.states:
                if (current is None and new not in (None, given.states[key])) or (current is not None and changed):
                    problems.append((key, t("state_by_workflow", lang)))
            elif key in given.attachments:
                if new is not None and changed:
                    problems.append((key, t("use_upload", lang)))
            elif key in read_only and changed:
                problems.append((key, t("read_only_field", lang)))
            elif fd.is_child_table and new:
                for i, row in enumerate(new):
                    for cf in fd.fields:
                        if cf.traits.refers_to == "file" and row.get(cf.name) is not None:
                            problems.append((f"{key}[{i}].{cf.name}", t("use_upload", lang)))
        return problems

    async def validate(self, entity: EntityDef, values: dict, ctx: RecordContext, access: Access,
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
        add(await self.check_references(entity, values, ctx, access, previous, reported))
        add(await self.check_unique(entity, values, ctx, access, record_id, previous, reported))
        return out

    async def check_references(self, entity: EntityDef, values: dict, ctx: RecordContext, access: Access,
                               previous: dict | None, skip: set[str]) -> list[tuple[str, str]]:
        """References point to live records the actor may read; units exist and are open; users exist.

        Values an update leaves unchanged are not checked again."""
        problems = []

        async def check(fd: FieldDef, v: Any, where: str):
            if fd.traits.refers_to == "entity":
                if not await access.readable_reference(self.config.entity(fd.entity), v):
                    problems.append((where, t("not_found", ctx.lang, value=v)))
            elif fd.traits.refers_to == "unit":
                row = await self.unit_row(v)
                problem = await self.closed_unit_problem(entity, v, values, ctx, hidden, row)
                if problem is None and fd.unit_types:
                    unit_type = row[0]["type"]
                    if unit_type not in fd.unit_types:
                        problem = self.unit_type_problem(fd, ctx)
                if problem:
                    problems.append((where, problem))
            elif fd.traits.refers_to == "user":
                # An account outside the writer's reach is answered like a missing one: no account-id oracle.
                reach = accounts_in_reach(self.rt, access.actor, entity, "u")
                if await self.db.fetchval(f"SELECT u.id FROM hoso_user u WHERE u.id = {{}} AND {reach.sql}",
                                          v, *reach.args) is None:
                    problems.append((where, t("not_found", ctx.lang, value=v)))

        hidden = await access.hidden(entity)
        date_field = record_date_field(entity)
        date_changed = (previous is not None and date_field is not None
                        and jsonable_deep(previous.get(date_field)) != jsonable_deep(values.get(date_field)))
        for fd in _referring_fields(entity):
            if fd.name in skip:
                continue
            v = values.get(fd.name)
            unchanged = previous is not None and jsonable_deep(previous.get(fd.name)) == jsonable_deep(v)
            if unchanged and date_changed and fd.traits.refers_to == "unit" and v is not None:
                # A new record date must still fall inside the validity of the unit it is recorded under.
                problem = await self.closed_unit_problem(entity, v, values, ctx, hidden)
                if problem:
                    problems.append((fd.name, problem))
                continue
            if v is None or unchanged:
                continue
            if fd.is_child_table:
                refers = [cf for cf in fd.fields if cf.traits.refers_to]
                for i, row in enumerate(v):
                    for cf in refers:
                        if row.get(cf.name) is not None:
                            await check(cf, row[cf.name], f"{fd.name}[{i}].{cf.name}")
            else:
                await check(fd, v, fd.name)
        return problems

    async def closed_unit_problem(self, entity: EntityDef, unit_id: Any, values: dict, ctx: RecordContext,
                                  hidden: set[str], unit_row: list[dict] | None = None) -> str | None:
        """Why a record may not be recorded under unit ``unit_id``, or None.

        A closed unit still takes the records dated before it closed (entered late, under the unit as it was):
        the record's date is the entity's naming ``date_field``; without one, today. Whether the actor may write
        under that unit is the scope's business (it follows lineage, so a successor reaches its predecessors).
        A date field hidden from the actor (``hidden``) is not named nor shown in the message. ``unit_row``: the
        unit's ``unit_row`` when the caller has read it.
        """
        rows = await self.unit_row(unit_id) if unit_row is None else unit_row
        if not rows:
            return t("not_found", ctx.lang, value=unit_id)
        u = rows[0]
        if u["valid_to"] is None:
            return None
        closed = as_date(u["valid_to"])
        date_field = record_date_field(entity)
        on = values.get(date_field) if date_field else None
        on = as_date(on) if on is not None else ctx.today
        if on < closed:
            return None
        name = (u["name_en"] if ctx.lang == "en" and u["name_en"] else u["name_vi"])
        successors = [s for s in await lookup_successor(self.db, u["code"]) if s["id"] != u["id"]]
        successor = t("unit_successor", ctx.lang, units=", ".join(
            f"{s['code']} ({s['name_en'] if ctx.lang == 'en' and s['name_en'] else s['name_vi']})"
            for s in successors)) if successors else ""
        unit = f"{u['code']} ({name})"
        if date_field is None or date_field in hidden:
            return t("unit_closed", ctx.lang, unit=unit, closed=dmy(closed), successor=successor)
        fd = entity.field(date_field)
        label = (fd.label.en if ctx.lang == "en" and fd.label.en else fd.label.vi) if fd.label else date_field
        return t("unit_closed_dated", ctx.lang, unit=unit, closed=dmy(closed), date=label, on=dmy(on),
                 successor=successor)

    def unit_type_problem(self, fd: FieldDef, ctx: RecordContext) -> str:
        """The message refusing a unit of another type than ``fd.unit_types``, naming the allowed types."""
        names = []
        hierarchy = self.config.hierarchy
        for name in fd.unit_types:
            try:
                names.append(hierarchy.unit_type(name).label.get(ctx.lang) if hierarchy else name)
            except KeyError:
                names.append(name)
        return t("unit_type", ctx.lang, allowed=", ".join(names))

    async def check_unique(self, entity, values, ctx, access, record_id, previous, skip) -> list[tuple[str, str]]:
        """Unique fields hold values no other record holds, in the whole database (a citizen ID names one
        person nationwide). The refusal is the same whether the other record is one the writer may read or not,
        and names neither that record nor its unit; a conflict with a record out of the writer's scope is also
        audited (``unique_conflict``), so that probing another province's values leaves a trace."""
        problems = []
        for fd in entity.column_fields:
            v = values.get(fd.name)
            if not fd.unique or v is None or fd.name in skip:
                continue
            if previous is not None and jsonable_deep(previous.get(fd.name)) == jsonable_deep(v):
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
                    access.unique_conflicts.append((fd.name, jsonable(v), int(other)))
        return problems

    async def require_scope(self, entity: EntityDef, action: str, record_id: int, access: Access,
                            ctx: RecordContext) -> None:
        """After a write: the row must satisfy the actor's ``action`` predicate, or the write is undone.

        A record placed in a unit outside the actor's scope is refused naming the unit field."""
        if access.superuser or await access.row_allows(action, entity, record_id):
            return
        self.refuse_out_of_scope(entity, action, ctx)

    @staticmethod
    def refuse_out_of_scope(entity: EntityDef, action: str, ctx: RecordContext) -> NoReturn:
        """The refusal of a write whose row the actor's ``action`` predicate does not hold for."""
        if entity.unit_field:
            raise ValidationError([(entity.unit_field, t("out_of_scope", ctx.lang))])
        raise Forbidden(t("forbidden", ctx.lang, action=action))


def _referring_fields(entity: EntityDef) -> tuple[FieldDef, ...]:
    """The fields whose values ``check_references`` checks: those that refer to something, and child tables (the
    others have nothing to check there; every write asks, so the answer is kept with the entity)."""
    kept = entity.__dict__.get("_referring_fields")
    if kept is None:
        kept = entity.__dict__["_referring_fields"] = tuple(
            fd for fd in entity.fields if fd.is_child_table or fd.traits.refers_to)
    return kept


def record_date_field(entity: EntityDef) -> str | None:
    """The field that dates a record (the naming series' date_field), which decides the units it may go under."""
    return entity.naming.date_field if entity.naming and entity.naming.date_field else None


def dmy(day: dt.date) -> str:
    return day.strftime("%d/%m/%Y")


def child_row_id(row: dict, where: str, ctx: RecordContext) -> tuple[int | None, list[tuple[str, str]]]:
    """The ``id`` a child row of a payload names (an existing row to keep), or None for a new row."""
    raw = row.get("id") if isinstance(row, dict) else None
    if raw is None or raw == "":
        return None, []
    if isinstance(raw, bool) or not isinstance(raw, (int, str)) or not str(raw).isdigit() \
            or not 0 < int(raw) < 2 ** 63:
        return None, [(where, t("invalid", ctx.lang, reason="expected the id of a row of this record"))]
    return int(raw), []


def child_id_problems(entity: EntityDef, values: dict, current: dict | None,
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
