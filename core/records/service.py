"""The record service: the one path through which records are created, read and changed.

Every caller (the API, the admin, imports, demo data, plugins) goes through it, so parsing, validation,
naming series, optimistic locking and audit hold everywhere.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.config import Config, EntityDef, FieldDef
from core.config.loader import naming_placeholders
from core.db import quote
from core.i18n import t
from core.plugins import await_me_maybe

if TYPE_CHECKING:  # pragma: no cover
    from core.runtime import Runtime

__all__ = ["RecordContext", "AuditEvent", "RecordService", "ValidationError", "StaleVersion", "NotFound"]


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
        from core.scope import Actor

        return Actor(self.user_id, self.user_name, self.superuser, self.origin, self.lang, self.on)


@dataclass
class AuditEvent:
    action: str
    entity: str | None
    record_id: int | None
    actor_id: int | None
    actor: str
    origin: str
    changes: dict = field(default_factory=dict)
    at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))


class ValidationError(Exception):
    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{f}: {m}" for f, m in problems))


class StaleVersion(Exception):
    def __init__(self, current: int):
        self.current = current
        super().__init__(f"the record was changed by someone else; its current version is {current}")


class NotFound(Exception):
    pass


def _jsonable(v: Any) -> Any:
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    if isinstance(v, decimal.Decimal):
        return str(v)
    if isinstance(v, tuple):
        return list(v)
    return v


class RecordService:
    def __init__(self, runtime: "Runtime"):
        self.rt = runtime
        self.db = runtime.db
        self.config = runtime.config

    # -- parsing and validation -------------------------------------------------------------------------------
    def _parse(self, fields: tuple[FieldDef, ...], payload: dict, ctx: RecordContext, prefix: str = "",
               partial: bool = False) -> tuple[dict, list[tuple[str, str]]]:
        problems: list[tuple[str, str]] = []
        known = {f.name: f for f in fields}
        for key in payload:
            if key not in known:
                problems.append((prefix + key, t("unknown_field", ctx.lang)))
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
                    parsed, p = self._parse(fd.fields, row, ctx, prefix=f"{prefix}{fd.name}[{i}].")
                    problems += p
                    rows.append(parsed)
                values[fd.name] = rows
                continue
            try:
                values[fd.name] = self.rt.registry.field_type(fd.type).parse(fd, raw)
            except ValueError as exc:
                problems.append((prefix + fd.name, t("invalid", ctx.lang, reason=str(exc))))
        return values, problems

    async def _validate(self, entity: EntityDef, values: dict, ctx: RecordContext, record_id: int | None) -> None:
        problems: list[tuple[str, str]] = []
        for result in self.rt.pm.hook.hoso_validate_record(entity=entity, values=values, context=ctx):
            result = await await_me_maybe(result)
            problems += list(result or ())
        problems += await self._check_references(entity, values, ctx)
        problems += await self._check_unique(entity, values, ctx, record_id)
        if problems:
            raise ValidationError(problems)

    async def _check_references(self, entity: EntityDef, values: dict, ctx: RecordContext) -> list[tuple[str, str]]:
        problems = []
        for fd in entity.column_fields:
            v = values.get(fd.name)
            if v is None:
                continue
            if fd.type == "org_unit":
                table, extra = "hoso_unit", ""
            elif fd.type == "user":
                table, extra = "hoso_user", ""
            elif fd.type == "reference":
                table, extra = self.config.entity(fd.entity).table, " AND sys_deleted_at IS NULL"
            else:
                continue
            found = await self.db.fetchval(f"SELECT id FROM {quote(table)} WHERE id = {{}}{extra}", v)
            if found is None:
                problems.append((fd.name, t("not_found", ctx.lang, value=v)))
        return problems

    async def _check_unique(self, entity, values, ctx, record_id) -> list[tuple[str, str]]:
        problems = []
        for fd in entity.column_fields:
            v = values.get(fd.name)
            if not fd.unique or v is None:
                continue
            sql = f"SELECT id FROM {quote(entity.table)} WHERE {quote(fd.name)} = {{}}"
            args = [self.rt.registry.field_type(fd.type).to_db(v)]
            if record_id is not None:
                sql += " AND id <> {}"
                args.append(record_id)
            if await self.db.fetchval(sql, *args) is not None:
                problems.append((fd.name, t("not_unique", ctx.lang, value=v)))
        return problems

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
                v = await self.db.fetchval(f"SELECT {quote(attr)} FROM hoso_unit WHERE id = {{}}", v) if v else None
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

    async def create(self, entity_name: str, payload: dict, ctx: RecordContext) -> dict:
        entity = self.config.entity(entity_name)
        values, problems = self._parse(entity.fields, payload, ctx)
        if entity.naming and payload.get(entity.naming.field) not in (None, ""):
            problems.append((entity.naming.field, t("invalid", ctx.lang, reason="the code is given by the naming series")))
        if problems:
            raise ValidationError(problems)
        now = dt.datetime.now(dt.timezone.utc)
        async with self.db.transaction():
            await self._validate(entity, values, ctx, None)
            if entity.naming:
                values[entity.naming.field] = await self._make_code(entity, values, now)
            row = self._to_db(entity.fields, values)
            row.update(sys_version=1, sys_created_at=now, sys_created_by=ctx.user_id, sys_updated_at=now,
                       sys_updated_by=ctx.user_id)
            cols = ", ".join(quote(c) for c in row)
            marks = ", ".join("{}" for _ in row)
            record_id = await self.db.fetchval(
                f"INSERT INTO {quote(entity.table)} ({cols}) VALUES ({marks}) RETURNING id", *row.values()
            )
            for child in entity.child_tables:
                await self._write_children(entity, child, record_id, values.get(child.name) or [])
            changes = {k: [None, _jsonable(v)] for k, v in values.items() if v is not None}
            await self._audit(AuditEvent("create", entity.name, record_id, ctx.user_id, ctx.user_name, ctx.origin,
                                         _jsonable_changes(changes)))
        return await self.get(entity_name, record_id)

    async def update(self, entity_name: str, record_id: int, payload: dict, version: int, ctx: RecordContext) -> dict:
        entity = self.config.entity(entity_name)
        changes_in, problems = self._parse(entity.fields, payload, ctx, partial=True)
        if entity.naming and entity.naming.field in payload:
            problems.append((entity.naming.field, t("invalid", ctx.lang, reason="the code is given by the naming series")))
        if problems:
            raise ValidationError(problems)
        now = dt.datetime.now(dt.timezone.utc)
        async with self.db.transaction():
            current = await self.get(entity_name, record_id)
            if current["sys_version"] != version:
                raise StaleVersion(current["sys_version"])
            merged = {fd.name: current.get(fd.name) for fd in entity.fields}
            merged.update(changes_in)
            await self._validate(entity, merged, ctx, record_id)
            row = self._to_db(entity.fields, {k: v for k, v in changes_in.items()})
            row.update(sys_version=version + 1, sys_updated_at=now, sys_updated_by=ctx.user_id)
            sets = ", ".join(f"{quote(c)} = {{}}" for c in row)
            updated = await self.db.fetch(
                f"UPDATE {quote(entity.table)} SET {sets} WHERE id = {{}} AND sys_version = {{}} RETURNING id",
                *row.values(), record_id, version,
            )
            if not updated:
                raise StaleVersion(await self.db.fetchval(
                    f"SELECT sys_version FROM {quote(entity.table)} WHERE id = {{}}", record_id))
            for child in entity.child_tables:
                if child.name in changes_in:
                    await self.db.execute(
                        f"DELETE FROM {quote(entity.child_table_name(child.name))} WHERE parent_id = {{}}", record_id)
                    await self._write_children(entity, child, record_id, changes_in[child.name] or [])
            diff = {}
            for k, v in changes_in.items():
                if _jsonable_deep(current.get(k)) != _jsonable_deep(v):
                    diff[k] = [_jsonable_deep(current.get(k)), _jsonable_deep(v)]
            await self._audit(AuditEvent("update", entity.name, record_id, ctx.user_id, ctx.user_name, ctx.origin, diff))
        return await self.get(entity_name, record_id)

    async def _write_children(self, entity: EntityDef, child: FieldDef, parent_id: int, rows: list[dict]) -> None:
        table = quote(entity.child_table_name(child.name))
        for pos, r in enumerate(rows):
            data = self._to_db(child.fields, r)
            data.update(parent_id=parent_id, position=pos)
            cols = ", ".join(quote(c) for c in data)
            marks = ", ".join("{}" for _ in data)
            await self.db.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", *data.values())

    async def _audit(self, event: AuditEvent) -> None:
        for result in self.rt.pm.hook.hoso_write_audit(event=event, db=self.db):
            await await_me_maybe(result)

    # -- reads ------------------------------------------------------------------------------------------------
    def _load_row(self, fields: tuple[FieldDef, ...], row: dict) -> dict:
        out = dict(row)
        for fd in fields:
            if fd.is_child_table or fd.name not in out:
                continue
            v = out[fd.name]
            out[fd.name] = None if v is None else self.rt.registry.field_type(fd.type).load(v)
        return out

    async def get(self, entity_name: str, record_id: int) -> dict:
        entity = self.config.entity(entity_name)
        cols = ", ".join(["id"] + [quote(f.name) for f in entity.column_fields] + ["sys_version", "sys_created_at",
                                                                                  "sys_updated_at", "sys_deleted_at"])
        rows = await self.db.fetch(f"SELECT {cols} FROM {quote(entity.table)} WHERE id = {{}}", record_id)
        if not rows:
            raise NotFound(f"{entity_name} {record_id} does not exist")
        record = self._load_row(entity.fields, rows[0])
        for child in entity.child_tables:
            ccols = ", ".join(["id"] + [quote(f.name) for f in child.fields])
            crows = await self.db.fetch(
                f"SELECT {ccols} FROM {quote(entity.child_table_name(child.name))} WHERE parent_id = {{}} "
                "ORDER BY position", record_id)
            record[child.name] = [self._load_row(child.fields, r) for r in crows]
        return record

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


def _dump_value(rt, owner, name, value):
    if value is None:
        return None
    fields = owner.fields
    for fd in fields:
        if fd.name == name and not fd.is_child_table:
            return rt.registry.field_type(fd.type).dump(value)
    return _jsonable(value)


def _jsonable_deep(v):
    if isinstance(v, list):
        return [_jsonable_deep(x) for x in v]
    if isinstance(v, dict):
        return {k: _jsonable_deep(x) for k, x in v.items() if k != "id"}
    return _jsonable(v)


def _jsonable_changes(changes: dict) -> dict:
    return {k: [_jsonable_deep(b), _jsonable_deep(a)] for k, (b, a) in changes.items()}
