"""The scoped CRUD behind every admin table: piccolo-admin's ``PiccoloCRUD``, made to follow hoso's rules.

piccolo-admin builds one ``PiccoloCRUD`` per table by the module-level name ``piccolo_admin.endpoints.PiccoloCRUD``
(see ``hoso.admin.router``, which substitutes ``ScopedCRUD``). Its FastAPI routes call ``root`` (list, create),
``detail`` (read, patch, put, delete one row), ``get_ids`` (foreign-key drop-downs), ``get_count``,
``get_schema``, ``get_new`` and ``get_references``; every one is overridden here:

* **reads** carry the actor's ``read`` predicate (``ScopeRules.predicate``, the SQL the API uses) in their SQL:
  ``_apply_filters`` adds it to every list, count and bulk query, ``get_single`` reads through
  ``RecordService.get``, ``get_ids`` and the readable values of references are scoped queries. Deleted records
  are left out. A row outside the scope is a 404, like one that does not exist.
* **lists**: filters on choices match by equality and on text by a folded word prefix, counts are bounded and
  kept per scope and filters (``hoso.admin.filters``).
* **fields** hidden from the user's roles are absent from the schema, the rows, the filters, the sort keys and
  the readable values; read-only ones are marked in their title and refused by the record service.
* **writes** go through the record service only: ``create``, ``update`` (with the row's ``sys_version`` for
  optimistic locking; only fields whose value changed are sent), ``delete`` (soft, with the reason the user
  gave: none is refused) and
  ``upload`` for attachments. Child-table rows are written by updating their parent record. Its errors come
  back as 422 with the field named (``{"detail": [{"loc": ["body", field], "msg": ...}]}``), 409 for a stale
  version, 403 and 404.
"""

from __future__ import annotations

import contextvars
import copy
import json
import re
from typing import TYPE_CHECKING, Any

import asyncpg
from piccolo.columns import Array, BigInt, ForeignKey, Integer, Serial, Text, Varchar
from piccolo.columns.combination import WhereRaw
from piccolo.columns.operators.comparison import IsNotNull, IsNull, NotEqual
from piccolo.querystring import QueryString
from piccolo_api.crud.endpoints import (
    MalformedQuery,
    ParamException,
    PiccoloCRUD,
)
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from hoso.admin.auth import AdminUser
from hoso.admin.filters import CountCache, range_clauses, split_ranges, text_match
from hoso.admin.media import take_staged
from hoso.admin.tables import VERSION_COLUMN, TableSpec
from hoso.db import quote
from hoso.i18n import t
from hoso.jsonconv import dumps, json_ready
from hoso.modules import check_new_record
from hoso.records.access import hidden_by_any_role, managed_accounts
from hoso.records.errors import (
    Forbidden,
    InvalidTransition,
    NotFound,
    RecordError,
    StaleVersion,
    ValidationError,
)
from hoso.records.search import fold
from hoso.records.system_fields import system_fields
from hoso.scope import Predicate
from hoso.settings import get as setting

if TYPE_CHECKING:  # pragma: no cover
    from hoso.admin.app import AdminBuild

__all__ = ["ScopedCRUD", "CURRENT_USER", "error_response"]

# Ids are 32-bit (SERIAL) columns, BigInt columns 64-bit: values beyond them fail in the PostgreSQL driver.
MAX_ID = 2**31 - 1
MAX_BIGINT = 2**63 - 1
MAX_PAGE = 10**9  # pages beyond this would make OFFSET overflow
MAX_OFFSET = 10**9
MAX_IDS_LIMIT = 1000
# A count on PostgreSQL that takes longer than this gives way to the planner's estimate (said as such).
COUNT_TIMEOUT_MS = 150
# query parameters that page or shape the rows, not choose them: a count does not depend on them
NOT_FILTERS = frozenset({"__page", "__page_size", "__order", "__visible_fields", "__readable", "__range_header",
                         "__range_header_name"})

BROWSE_PAGE_MAX = 100  # the largest page piccolo-admin's list offers; larger pages are its CSV export
# The user of the request being served: ``_apply_filters`` has no request argument.
CURRENT_USER: contextvars.ContextVar[AdminUser | None] = contextvars.ContextVar("hoso_admin_user", default=None)
# The record search's conditions for the request's text filters, by (field, value) (``_prepare_searches``).
SEARCHES: contextvars.ContextVar[dict[tuple[str, str], tuple[list[str], list]] | None] = contextvars.ContextVar(
    "hoso_admin_searches", default=None)


def _ids_window(request: Request, user: AdminUser) -> tuple[int | None, int] | Response:
    """``limit`` (1 to MAX_IDS_LIMIT, or absent) and ``offset`` (0 to MAX_OFFSET) of a drop-down's options."""
    try:
        limit = int(request.query_params["limit"]) if "limit" in request.query_params else None
        offset = int(request.query_params.get("offset") or 0)
    except ValueError:
        return Response(t("admin_window_integers", user.lang), status_code=400)
    if limit is not None and not 1 <= limit <= MAX_IDS_LIMIT:
        return Response(t("admin_out_of_range", user.lang, name="limit", low=1, high=MAX_IDS_LIMIT), status_code=400)
    if not 0 <= offset <= MAX_OFFSET:
        return Response(t("admin_out_of_range", user.lang, name="offset", low=0, high=MAX_OFFSET), status_code=400)
    return limit, offset


def _json(data: Any, status: int = 200) -> Response:
    return Response(dumps(data), status_code=status,
                    media_type="application/json")


def error_response(exc: RecordError, user: AdminUser, labels: dict[str, str] | None = None) -> Response:
    """A record service error as piccolo-admin shows it (422 lists each field and its problem)."""
    if isinstance(exc, ValidationError):
        labels = labels or {}
        detail = []
        for field, message in exc.problems:
            top = field.split("[", 1)[0].split(".", 1)[0]
            label = labels.get(top)
            detail.append({"loc": ["body", field], "msg": f"{label}: {message}" if label else message,
                           "type": "value_error"})
        return JSONResponse({"detail": detail}, status_code=422)
    if isinstance(exc, StaleVersion):
        return PlainTextResponse(t("stale", user.lang, current=exc.current), status_code=409)
    if isinstance(exc, InvalidTransition):
        return PlainTextResponse(str(exc), status_code=409)
    if isinstance(exc, Forbidden):
        return PlainTextResponse(str(exc) or t("admin_forbidden", user.lang), status_code=403)
    if isinstance(exc, NotFound):
        return PlainTextResponse(t("admin_not_found", user.lang), status_code=404)
    return PlainTextResponse(str(exc), status_code=400)


class ScopedCRUD(PiccoloCRUD):
    """``PiccoloCRUD`` for one admin table, scoped to the request's user; writes through the record service."""

    def __init__(self, table, *, build: AdminBuild, **kwargs: Any):
        self.build = build
        self.spec: TableSpec = build.tables.spec_for(table)
        super().__init__(table=table, **kwargs)
        if self.spec.kind in ("unit", "user"):
            self.read_only = True  # units and accounts are managed with the hoso commands, not here
        self._base_schema: dict | None = None
        self.counts = CountCache()

    # -- who is asking -----------------------------------------------------------------------------------------
    @property
    def rt(self):
        return self.build.rt

    def _user(self, request: Request) -> AdminUser:
        user = request.scope.get("user")
        if not isinstance(user, AdminUser):
            raise HTTPException(status_code=401, detail="Auth failed")
        CURRENT_USER.set(user)
        return user

    def may_read(self, user: AdminUser) -> bool:
        spec = self.spec
        if spec.kind == "entity":
            return user.may("read", spec.entity_def.name)
        if spec.kind == "child":
            entity = spec.entity_def.name
            return user.may("read", entity) and spec.child_def.name not in user.hidden(entity)
        return True

    def _reader(self, request: Request) -> AdminUser:
        """The user, if they may read this table at all (404 otherwise: the table does not exist for them)."""
        user = self._user(request)
        if not self.may_read(user):
            raise HTTPException(status_code=404, detail=t("no_table", user.lang))
        return user

    def _hidden(self, user: AdminUser) -> set[str]:
        if self.spec.kind == "entity":
            return user.hidden(self.spec.entity_def.name)
        return set()

    def _visible_names(self, user: AdminUser) -> list[str]:
        hidden = self._hidden(user)
        return [c._meta.name for c in self.table._meta.columns if c._meta.name not in hidden]

    def _labels(self, user: AdminUser) -> dict[str, str]:
        return {f.name: f.label.get(user.lang) for f in self.spec.fields}

    # -- the scope predicate ---------------------------------------------------------------------------------
    def scope_sql(self, user: AdminUser | None, alias: str | None = None) -> Predicate:
        """SQL (over ``alias``, default the quoted table name) for the rows of this table ``user`` may read."""
        alias = alias or quote(self.spec.tablename)
        if user is None:
            return Predicate.false()
        spec = self.spec
        if spec.kind == "entity":
            pred = self.rt.scope.predicate(user.actor, "read", spec.entity, alias)
            return Predicate(f"{alias}.sys_deleted_at IS NULL AND ({pred.sql})", pred.args)
        if spec.kind == "child":
            pred = self.rt.scope.predicate(user.actor, "read", spec.entity, "p_")
            return Predicate(f"{alias}.parent_id IN (SELECT p_.id FROM {quote(spec.entity_def.table)} p_ "
                             f"WHERE p_.sys_deleted_at IS NULL AND ({pred.sql}))", pred.args)
        if spec.kind == "user":
            return managed_accounts(self.rt, user.actor, alias)
        return Predicate.true()

    def _apply_filters(self, query, params):
        """piccolo-api's filters where they compare values (dates, numbers, references), hoso's for text and
        choices (``hoso.admin.filters``), then the user's read scope (deny when no user is known)."""
        arrays = {name: params.fields.pop(name) for name in list(params.fields)
                  if isinstance(getattr(self.table, name, None), Array)}
        texts = {name: params.fields.pop(name) for name in list(params.fields)
                 if isinstance(getattr(self.table, name, None), (Varchar, Text))}
        query = super()._apply_filters(query, params)
        for name, value in texts.items():
            for v in value if isinstance(value, list) else [value]:
                query = self._text_filter(query, name, v, params)
        for name, value in arrays.items():
            for v in value if isinstance(value, list) else [value]:
                if v is None:
                    continue
                pattern = "%" + json.dumps(str(v), ensure_ascii=False).replace("\\", "\\\\").replace(
                    "%", "\\%").replace("_", "\\_") + "%"
                query = query.where(WhereRaw(
                    f"COALESCE({quote(self.spec.tablename)}.{quote(name)}, '') LIKE {{}} ESCAPE '\\'", pattern))
        for clause, value in getattr(params, "hoso_ranges", ()):
            query = query.where(WhereRaw(clause, value))
        pred = self.scope_sql(CURRENT_USER.get())
        return query.where(WhereRaw(pred.sql, *pred.args))

    def _split_params(self, params):
        """piccolo-api's split, with the range bounds of dates and numbers (``field__from``, ``field__to``) kept
        apart as ``hoso_ranges`` (SQL and values; ValueError naming a bad one)."""
        rest, ranges = split_ranges(params)
        split = super()._split_params(rest)
        user = CURRENT_USER.get()
        fields = {f.name: f for f in self.spec.fields}
        if user is not None:
            fields = {k: v for k, v in fields.items() if k not in self._hidden(user)}
        split.hoso_ranges = range_clauses(self.rt, fields, f"{quote(self.spec.tablename)}.{{}}", ranges,
                                          user.lang if user is not None else "vi")
        return split

    def _text_filter(self, query, name: str, value: Any, params):
        """One filter on a text column: equality for choices and codes, a folded word prefix for words."""
        table = quote(self.spec.tablename)
        col = f"{table}.{quote(name)}"
        operator = params.operators[name]
        if operator in (IsNull, IsNotNull):
            empty = operator is IsNull
            return query.where(WhereRaw(f"({col} IS NULL OR {col} = '')" if empty else
                                        f"({col} IS NOT NULL AND {col} <> '')"))
        if value is None:
            return query
        value = str(value)
        negate = operator is NotEqual
        fd = self.spec.field(name)
        if fd is None or not fd.traits.textual or fd.traits.has_choices:
            return query.where(WhereRaw(f"({col} IS NULL OR {col} <> {{}})" if negate else f"{col} = {{}}", value))
        clause, args = text_match(col, value, self.rt.db.is_sqlite, exact=params.match_types[name] == "exact")
        if negate:
            return query.where(WhereRaw(f"({col} IS NULL OR NOT {clause})", *args))
        found = (SEARCHES.get() or {}).get((name, value))
        if found:
            # the record search finds the value's words (its search index serves it), the field says which; the
            # planner picks the index (the search's, the scope's or the sort's) that reads the fewest rows
            more, more_args = found
            # (its conditions are written over the alias t; the admin's query names the table)
            query = query.where(WhereRaw(" AND ".join(re.sub(r"\bt\.", f"{table}.", c) for c in more), *more_args))
        return query.where(WhereRaw(clause, *args))

    async def _prepare_searches(self, split) -> None:
        """The record search's conditions for each text filter on a field that feeds the search column (computed
        here: the filters are applied by synchronous code)."""
        found: dict[tuple[str, str], tuple[list[str], list]] = {}
        spec = self.spec
        if spec.kind == "entity":
            hidden = hidden_by_any_role(self.rt, spec.entity_def)
            query = self.rt.records().query
            for name, value in split.fields.items():
                fd = spec.field(name)
                if fd is None or not fd.traits.searchable or fd.traits.has_choices or name in hidden \
                        or split.operators[name] in (IsNull, IsNotNull, NotEqual):
                    continue
                for v in value if isinstance(value, list) else [value]:
                    # words of fewer than 3 letters: no trigram serves them, and the field's own test is exact
                    words = [w for w in fold(str(v or "")).split() if len(w) >= 3]
                    if words:
                        clauses, args = await query.search(spec.entity_def, " ".join(words))
                        if clauses:
                            found[(name, str(v))] = (clauses, args)
        SEARCHES.set(found)

    def _check_params(self, user: AdminUser, split) -> str | None:
        """Filters, sort keys and visible fields may not name hidden fields or attachment columns."""
        hidden = self._hidden(user)
        attachments = {f.name for f in self.spec.fields if f.traits.refers_to == "file"}
        columns = {c._meta.name for c in self.table._meta.columns}
        for name in split.fields:
            if name in hidden or name in attachments or name not in columns:
                return t("admin_bad_filter", user.lang, name=name)
        for ob in split.order_by or []:
            if ob.column._meta.name in hidden or ob.column._meta.call_chain:
                return t("admin_bad_sort", user.lang, name=ob.column._meta.name)
        for col in split.visible_fields or []:
            if col._meta.name in hidden or col._meta.call_chain:
                return t("admin_bad_filter", user.lang, name=col._meta.name)
        return self._check_ranges(user, split)

    def _check_ranges(self, user: AdminUser, split) -> str | None:
        """Integer filters and the page number must fit their columns (and OFFSET), or the driver fails."""
        if not 1 <= int(split.page or 1) <= MAX_PAGE:
            return t("admin_out_of_range", user.lang, name="__page", low=1, high=MAX_PAGE)
        for name, value in split.fields.items():
            column = getattr(self.table, name, None)
            if isinstance(column, BigInt):
                low, high = -MAX_BIGINT, MAX_BIGINT
            elif isinstance(column, (Serial, Integer, ForeignKey)):
                low, high = -MAX_ID, MAX_ID
            else:
                continue
            for v in value if isinstance(value, list) else [value]:
                text = str(v).strip()
                if text.lstrip("+-").isdigit() and not low <= int(text) <= high:
                    return t("admin_out_of_range", user.lang, name=name, low=low, high=high)
        return None

    # -- values out ------------------------------------------------------------------------------------------
    def _out_value(self, name: str, value: Any) -> Any:
        if value is None:
            return None
        fd = self.spec.field(name)
        if fd is not None:
            if fd.traits.refers_to == "file":
                return str(value)
            if fd.type in self.rt.registry.field_types:
                try:
                    value = self.rt.registry.field_type(fd.type).load(value)
                except Exception:  # a value the type cannot read is shown as stored
                    pass
        return json_ready(value)

    async def _rows_out(self, user: AdminUser, rows: list[dict], readable: bool) -> list[dict]:
        out = [{k: self._out_value(k, v) for k, v in r.items()} for r in rows]
        if readable:
            hidden = self._hidden(user)
            for col, (kind, target) in self.spec.links.items():
                if col in hidden:
                    continue
                ids = {r[col] for r in out if r.get(col) is not None}
                names = await self.build.readables(user, kind, target, ids) if ids else {}
                for r in out:
                    if col in r:
                        v = r.get(col)
                        r[f"{col}_readable"] = None if v is None else names.get(int(v), f"#{v}")
        return out

    # -- reads -----------------------------------------------------------------------------------------------
    async def get_schema(self, request: Request) -> Response:
        user = self._reader(request)
        if self._base_schema is None:
            self._base_schema = self.pydantic_model.model_json_schema()
        return _json(self.build.schema_for(user, self.spec, copy.deepcopy(self._base_schema)))

    async def get_new(self, request: Request) -> Response:
        user = self._reader(request)
        out: dict[str, Any] = {}
        spec = self.spec
        hidden = self._hidden(user)
        states = {}
        if spec.kind == "entity":
            states = system_fields(self.rt.config, spec.entity).states
        for fd in spec.fields:
            if fd.name in hidden:
                continue
            default = fd.default
            if fd.name in states:
                default = states[fd.name]
            out[fd.name] = json_ready(list(default) if isinstance(default, tuple) else default)
        return _json(out)

    async def get_references(self, request: Request) -> Response:
        user = self._reader(request)
        refs = []
        for column in self.table._meta.foreign_key_references:
            owner = column._meta.table._meta.tablename
            spec = self.build.tables.specs.get(owner)
            if spec is None or spec.kind in ("unit", "user"):
                continue
            crud = self.build.cruds.get(owner)
            if crud is None or not crud.may_read(user):
                continue
            if spec.kind == "entity" and column._meta.name in user.hidden(spec.entity_def.name):
                continue
            refs.append({"tableName": owner, "columnName": column._meta.name})
        return _json({"references": refs})

    async def get_count(self, request: Request) -> Response:
        """How many rows the list shows, up to HOSO_LIST_COUNT_CAP + 1 (exact with ``__exact=1``: the CSV export,
        which reads as many pages of 1,000 rows as the count says, asks so through the admin's script)."""
        user = self._reader(request)
        params = self._parse_params(request.query_params)
        exact = str(params.pop("__exact", "")).lower() in ("1", "true")
        try:
            split = self._split_params(params)
        except (ParamException, ValueError) as exc:
            return Response(str(exc), status_code=400)
        problem = self._check_params(user, split)
        if problem:
            return Response(problem, status_code=400)
        await self._prepare_searches(split)
        cap = int(setting("HOSO_LIST_COUNT_CAP"))
        pred = self.scope_sql(user)
        filters = tuple(sorted((k, str(v)) for k, v in request.query_params.multi_items() if k not in NOT_FILTERS))
        key = (pred.sql, tuple(map(str, pred.args)), filters, exact, cap)
        cached = self.counts.get(key)
        if cached is None:
            try:
                pk = self.table._meta.primary_key
                query = self._apply_filters(self.table.select(pk), split)
                if not exact:
                    query = query.limit(cap + 1)
            except (MalformedQuery, ValueError) as exc:
                return Response(str(exc), status_code=400)
            [inner] = query.querystrings
            estimated = False
            if exact or self.rt.db.is_sqlite:
                count = await self._count(inner)
            else:
                try:
                    count = await self._count(inner, COUNT_TIMEOUT_MS)
                except asyncpg.QueryCanceledError:  # not cheap: the planner's estimate, said as such
                    count, estimated = await self._estimate(inner), True
                    count = min(count, cap + 1)
            self.counts.put(key, (count, estimated))
        else:
            count, estimated = cached
        # the cap + 1 means "more than the cap": the admin's script shows it so (hoso.admin.pages), and an estimate
        # as "about"
        return _json({"count": count, "page_size": self.page_size, "bounded": not exact and count > cap,
                      "estimated": estimated})

    async def _count(self, inner: QueryString, timeout_ms: int | None = None) -> int:
        """COUNT(*) of the rows of ``inner``; on PostgreSQL, cancelled after ``timeout_ms``."""
        sql = QueryString("SELECT COUNT(*) AS n FROM ({}) AS bounded", inner)
        if timeout_ms is None:
            rows = await self.rt.db.engine.run_querystring(sql)
        else:
            async with self.rt.db.transaction():
                await self.rt.db.execute(f"SET LOCAL statement_timeout = {int(timeout_ms)}")
                rows = await self.rt.db.engine.run_querystring(sql)
        return int(rows[0]["n"])

    async def _estimate(self, inner: QueryString) -> int:
        """The planner's estimate of the rows of ``inner`` (PostgreSQL)."""
        rows = await self.rt.db.engine.run_querystring(QueryString("EXPLAIN (FORMAT JSON) {}", inner))
        plan = next(iter(rows[0].values()))
        plan = json.loads(plan) if isinstance(plan, str) else plan
        return max(0, int(plan[0]["Plan"]["Plan Rows"]))

    def forget_counts(self) -> None:
        """After a write through the admin: the counts of this table (and of a child table's parent) are stale."""
        self.counts.clear()
        if self.spec.kind == "entity":
            for child in self.spec.entity_def.child_tables:
                crud = self.build.cruds.get(self.spec.entity_def.child_table_name(child.name))
                if crud is not None:
                    crud.counts.clear()
        elif self.spec.kind == "child":
            parent = self.build.cruds.get(self.spec.entity_def.table)
            if parent is not None:
                parent.forget_counts()

    async def root(self, request: Request) -> Response:
        if request.method == "GET":
            return await self.get_all(request, params=self._parse_params(request.query_params))
        if request.method == "POST":
            self._user(request)
            try:
                data = await request.json()
            except ValueError:
                return Response(t("json_object", self._user(request).lang), status_code=400)
            return await self.post_single(request, data)
        if request.method == "DELETE":
            return await self.delete_all(request, params=dict(request.query_params))
        return Response(status_code=405)

    async def get_all(self, request: Request, params: dict | None = None) -> Response:
        user = self._reader(request)
        params = self._clean_data(params) if params else {}
        try:
            split = self._split_params(params)
        except (ParamException, ValueError) as exc:
            return Response(str(exc), status_code=400)
        problem = self._check_params(user, split)
        if problem:
            return Response(problem, status_code=400)
        names = self._visible_names(user)
        if split.visible_fields:
            names = [c._meta.name for c in split.visible_fields if c._meta.name in names]
        pk = self.table._meta.primary_key._meta.name
        if pk not in names:
            names.insert(0, pk)
        query = self.table.select(*[getattr(self.table, n) for n in names])
        await self._prepare_searches(split)
        try:
            query = self._apply_filters(query, split)
        except (MalformedQuery, ValueError) as exc:
            return Response(str(exc), status_code=400)
        for ob in split.order_by or []:
            query = query.order_by(ob.column, ascending=ob.ascending)
        if not split.order_by:
            query = query.order_by(self.table._meta.primary_key, ascending=False)
        page_size = split.page_size or self.page_size
        if page_size > self.max_page_size or page_size < 1:
            return JSONResponse({"error": "The page size limit has been exceeded"}, status_code=403)
        if page_size > BROWSE_PAGE_MAX and not self._may_export(user):
            return PlainTextResponse(t("export_forbidden", user.lang), status_code=403)
        query = query.limit(page_size).offset(max(split.page - 1, 0) * page_size)
        rows = await query.run()
        if page_size > BROWSE_PAGE_MAX:
            await self._audit_export(user, params, split.page, len(rows))
        return _json({"rows": await self._rows_out(user, rows, split.include_readable)})

    # -- CSV export ------------------------------------------------------------------------------------------
    def _may_export(self, user: AdminUser) -> bool:
        """piccolo-admin's CSV export reads the list in pages of 1,000 rows (browsing pages hold at most 100):
        only a role granting ``export`` on the entity may read such pages."""
        return self.spec.kind in ("entity", "child") and user.may("export", self.spec.entity_def.name)

    async def _audit_export(self, user: AdminUser, params: dict, page: int, rows: int) -> None:
        from hoso.audit import AuditEvent

        spec = self.spec
        detail = {"@format": "csv", "@table": spec.tablename, "@page": page, "@rows": rows,
                  "@filters": {k: str(v) for k, v in params.items() if not k.startswith("__")}}
        await self.rt.records().audit(AuditEvent("export", spec.entity_def.name, None, user.current.id,
                                                 user.current.username, user.origin, detail))

    async def get_ids(self, request: Request) -> Response:
        user = self._user(request)
        spec = self.spec
        if spec.kind == "child" or (spec.kind == "entity" and not self.may_read(user)):
            return _json({})  # nothing refers to child rows; an unreadable entity offers nothing
        window = _ids_window(request, user)
        if isinstance(window, Response):
            return window
        limit, offset = window
        target = spec.entity_def.name if spec.kind == "entity" else None
        options = await self.build.options(user, spec.kind, target, request.query_params.get("search"), limit,
                                           offset)
        return _json({str(k): v for k, v in options})

    async def detail(self, request: Request) -> Response:
        user = self._reader(request)
        raw = request.path_params.get("row_id", "")
        try:
            row_id = int(raw)
        except (TypeError, ValueError):
            return Response(t("admin_bad_id", user.lang), status_code=400)
        if row_id < 1:
            return Response(t("admin_bad_id", user.lang), status_code=400)
        if row_id > MAX_ID:  # no row has it, and the 32-bit id column cannot even be asked
            return Response(t("admin_not_found", self._user(request).lang), status_code=404)
        if request.method == "GET":
            return await self.get_single(request, row_id)
        if self.read_only:
            return Response(status_code=405)
        if request.method in ("PUT", "PATCH"):
            try:
                data = await request.json()
            except ValueError:
                return Response(t("json_object", self._user(request).lang), status_code=400)
            return await self.patch_single(request, row_id, data)
        if request.method == "DELETE":
            return await self.delete_single(request, row_id)
        return Response(status_code=405)

    async def _fetch_row(self, user: AdminUser, row_id: int, names: list[str]) -> dict | None:
        """One row of this table that ``user`` may read, with the columns ``names``."""
        spec = self.spec
        if spec.kind == "entity":
            try:
                record = await self.rt.records().get(spec.entity_def.name, row_id, user.ctx)
            except NotFound:
                return None
            return {n: record.get(n) for n in names}
        pred = self.scope_sql(user, "t")
        cols = ", ".join(f"t.{quote(n)}" for n in names)
        rows = await self.rt.db.fetch(
            f"SELECT {cols} FROM {quote(spec.tablename)} t WHERE t.id = {{}} AND ({pred.sql})", row_id, *pred.args)
        return dict(rows[0]) if rows else None

    async def get_single(self, request: Request, row_id: int) -> Response:
        user = self._reader(request)
        params = dict(request.query_params)
        try:
            split = self._split_params(params)
        except (ParamException, ValueError) as exc:
            return Response(str(exc), status_code=400)
        problem = self._check_params(user, split)
        if problem:
            return Response(problem, status_code=400)
        names = self._visible_names(user)
        if split.visible_fields:
            names = [c._meta.name for c in split.visible_fields if c._meta.name in names]
        row = await self._fetch_row(user, row_id, names)
        if row is None:
            return Response(t("admin_not_found", user.lang), status_code=404)
        [out] = await self._rows_out(user, [row], split.include_readable)
        return _json(out)

    # -- writes ------------------------------------------------------------------------------------------------
    def _same(self, name: str, new: Any, old: Any) -> bool:
        def empty(v):
            return v is None or v == "" or (isinstance(v, (list, tuple)) and not v)

        if empty(new) and empty(old):
            return True
        if empty(new) or empty(old):
            return False
        fd = self.spec.field(name)
        if fd is None or fd.type not in self.rt.registry.field_types:
            return new == old
        ft = self.rt.registry.field_type(fd.type)
        try:
            parsed = ft.parse(fd, new)
        except (ValueError, TypeError):
            return False
        try:
            old = ft.parse(fd, old)
        except (ValueError, TypeError):
            pass
        return json_ready(parsed) == json_ready(old)

    def _incoming(self, user: AdminUser, data: dict, current: dict | None) -> tuple[dict, dict[str, str]]:
        """The record service payload for the admin's form data, and the staged uploads by field.

        On create, empty values and system-given values left at their default are dropped; on update only
        the values that differ from the stored record are sent (the form sends every field it shows)."""
        spec = self.spec
        entity = spec.entity
        given = system_fields(self.rt.config, entity)
        code, states = given.code, given.states
        payload: dict[str, Any] = {}
        uploads: dict[str, str] = {}
        for key, value in data.items():
            if key in ("id", VERSION_COLUMN, "parent_id", "position") or key.endswith("_readable"):
                continue
            fd = spec.field(key)
            if fd is None:
                payload[key] = value  # the record service names unknown fields
                continue
            if fd.traits.refers_to == "file":
                if isinstance(value, str) and take_staged(value, user.current.id) is not None:
                    uploads[key] = value
                elif current is not None and not self._same(key, value, current.get(key)):
                    payload[key] = value  # refused by the record service: files are uploaded
                continue
            if current is None:
                if value is None or value == "" or value == []:
                    continue
                if key == code and not value:
                    continue
                if key in states and value == states[key]:
                    continue
                payload[key] = value
            elif not self._same(key, value, current.get(key)):
                payload[key] = value
        return payload, uploads

    async def _uploads(self, user: AdminUser, record_id: int, uploads: dict[str, str], version: int) -> int:
        service = self.rt.records()
        for field, key in uploads.items():
            staged = take_staged(key, user.current.id)
            if staged is None:
                continue
            info = await service.upload(self.spec.entity_def.name, record_id, field, staged.filename,
                                        staged.content_type, staged.chunks(), user.ctx, version=version,
                                        size_hint=staged.size)
            staged.remove()
            version = info.record_version if getattr(info, "record_version", None) else version + 1
        return version

    def _require_write(self, user: AdminUser, action: str) -> None:
        if self.spec.kind not in ("entity", "child") or self.read_only:
            raise HTTPException(status_code=405, detail=t("read_only_table", user.lang))
        if not user.may(action, self.spec.entity_def.name):
            raise HTTPException(status_code=403, detail=t("admin_forbidden", user.lang))

    async def post_single(self, request: Request, data: dict) -> Response:
        user = self._reader(request)
        if not isinstance(data, dict):
            return Response(t("json_object", user.lang), status_code=400)
        if self.spec.kind == "child":
            return await self._child_write(user, "create", None, data)
        self._require_write(user, "create")
        payload, uploads = self._incoming(user, data, None)
        service = self.rt.records()
        try:
            await check_new_record(self.rt, self.spec.entity_def, payload, user.lang)
            record = await service.create(self.spec.entity_def.name, payload, user.ctx, form=self.spec.form)
            if uploads:
                await self._uploads(user, record["id"], uploads, record["sys_version"])
        except RecordError as exc:
            return error_response(exc, user, self._labels(user))
        finally:
            self.forget_counts()
        return _json([{"id": record["id"]}], status=201)

    async def put_single(self, request: Request, row_id, data: dict) -> Response:
        return await self.patch_single(request, row_id, data)

    async def patch_single(self, request: Request, row_id, data: dict) -> Response:
        user = self._reader(request)
        if not isinstance(data, dict):
            return Response(t("json_object", user.lang), status_code=400)
        row_id = int(row_id)
        if self.spec.kind == "child":
            return await self._child_write(user, "update", row_id, data)
        self._require_write(user, "update")
        service = self.rt.records()
        entity = self.spec.entity_def.name
        try:
            current = await service.get(entity, row_id, user.ctx)
        except NotFound:
            return Response(t("admin_not_found", user.lang), status_code=404)
        version = data.get(VERSION_COLUMN)
        try:
            version = int(version) if version not in (None, "") else int(current["sys_version"])
        except (TypeError, ValueError):
            return error_response(ValidationError([(VERSION_COLUMN, t("bad_version", user.lang))]), user)
        payload, uploads = self._incoming(user, data, current)
        try:
            if payload or version != current["sys_version"]:
                record = await service.update(entity, row_id, payload, version, user.ctx, form=self.spec.form)
                version = int(record["sys_version"])
            if uploads:
                await self._uploads(user, row_id, uploads, version)
        except RecordError as exc:
            return error_response(exc, user, self._labels(user))
        finally:
            self.forget_counts()
        return await self.get_single(request, row_id)

    async def delete_single(self, request: Request, row_id) -> Response:
        user = self._reader(request)
        row_id = int(row_id)
        if self.spec.kind == "child":
            return await self._child_write(user, "delete", row_id, {})
        if self.spec.kind != "entity" or self.read_only:
            return Response(status_code=405)
        service = self.rt.records()
        entity = self.spec.entity_def.name
        try:
            current = await service.get(entity, row_id, user.ctx)
        except NotFound:
            return Response(t("admin_not_found", user.lang), status_code=404)
        # a delete needs its reason (``__reason``; the admin's script asks for it, for one row or each selected
        # row): the record service refuses one without, after its other checks (role, version, read-only state)
        reason = request.query_params.get("__reason") or request.headers.get("x-hoso-reason") or ""
        raw_version = request.query_params.get("__version")
        try:
            version = int(raw_version) if raw_version else int(current["sys_version"])
        except ValueError:
            return error_response(ValidationError([(VERSION_COLUMN, t("bad_version", user.lang))]), user)
        try:
            await service.delete(entity, row_id, reason, version, user.ctx)
        except RecordError as exc:
            return error_response(exc, user, self._labels(user))
        finally:
            self.forget_counts()
        return Response(status_code=204)

    async def delete_all(self, request: Request, params: dict | None = None) -> Response:
        return Response(status_code=405)  # no bulk deletes around the record service

    async def _child_write(self, user: AdminUser, op: str, row_id: int | None, data: dict) -> Response:
        """Write one child-table row by updating its parent record through the record service."""
        spec = self.spec
        self._require_write(user, "update")
        entity, child = spec.entity_def, spec.child_def
        service = self.rt.records()
        if op == "create":
            try:
                parent_id = int(data.get("parent_id", ""))
            except (TypeError, ValueError):
                return error_response(ValidationError([("parent_id", t("required", user.lang))]), user)
        else:
            row = await self._fetch_row(user, row_id, ["parent_id", "position"]) if row_id is not None else None
            if row is None:
                return Response(t("admin_not_found", user.lang), status_code=404)
            parent_id = int(row["parent_id"])
        try:
            parent = await service.get(entity.name, parent_id, user.ctx)
        except NotFound:
            return Response(t("admin_not_found", user.lang), status_code=404)
        # rows keep their ids, so the record service updates them in place: the other rows keep theirs
        rows = [dict(r) for r in parent.get(child.name) or []]
        ids = [r.get("id") for r in rows]
        values = {f.name: data[f.name] for f in child.fields if f.name in data}
        if op == "create":
            rows.append(values)
            position = len(rows) - 1
        else:
            position = ids.index(row_id)
            if op == "update":
                rows[position].update(values)
            else:
                rows.pop(position)
        parent_spec = self.build.tables.by_entity[entity.name]
        try:
            await service.update(entity.name, parent_id, {child.name: rows}, int(parent["sys_version"]), user.ctx,
                                 form=parent_spec.form)
        except RecordError as exc:
            self.forget_counts()
            labels = {f.name: f.label.get(user.lang) for f in child.fields}
            if isinstance(exc, ValidationError):
                exc = ValidationError([(f.split(".", 1)[1] if f.startswith(child.name + "[") and "." in f else f,
                                        msg) for f, msg in exc.problems])
            return error_response(exc, user, labels)
        self.forget_counts()
        if op == "delete":
            return Response(status_code=204)
        if op == "create":
            new_id = await self.rt.db.fetchval(
                f"SELECT id FROM {quote(spec.tablename)} WHERE parent_id = {{}} AND position = {{}}", parent_id,
                position)
            return _json([{"id": new_id}], status=201)
        row = await self._fetch_row(user, row_id, self._visible_names(user)) if row_id is not None else None
        if row is None:  # changed by someone else in between
            return Response(t("admin_not_found", user.lang), status_code=404)
        [out] = await self._rows_out(user, [row], False)
        return _json(out)
