"""The list query: which records an actor sees, filtered, searched, sorted and paged.

``RecordService.list`` answers with it; ``where`` is the selection alone (scope, filters, search), for work that
counts or groups the same records a list would show, such as reports.
"""

from __future__ import annotations

import base64
import binascii
import builtins  # the class below has a list() method, which hides the builtin in its annotations
import datetime as dt
import decimal
import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hoso.config import EntityDef, FieldDef
from hoso.db import quote
from hoso.i18n import t
from hoso.model.migrate import FULLTEXT_VECTOR
from hoso.records.access import Access, hidden_by_any_role
from hoso.records.context import RecordContext
from hoso.records.errors import ValidationError
from hoso.records.search import INDEXED_WORD, fold, like_pattern, prefix_pattern, word_prefix_sql
from hoso.records.store import RecordStore
from hoso.scope import effective_unit
from hoso.settings import get as setting

if TYPE_CHECKING:  # pragma: no cover
    from hoso.runtime import Runtime

__all__ = ["RecordQuery", "ListPage", "DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE", "LIST_SYSTEM_COLUMNS", "FILTER_OPS",
           "COUNT_MODES", "TEXT_OPS", "ALTERNATIVES"]

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
# Columns a list may filter and sort on besides the fields.
LIST_SYSTEM_COLUMNS = ("id", "sys_version", "sys_created_at", "sys_created_by", "sys_updated_at", "sys_updated_by",
                       "sys_deleted_at")
FILTER_OPS = {"eq": "=", "ne": "<>", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
# Filter keys combining filter objects: one of them holds, or each of them holds.
ALTERNATIVES = {"$any": " OR ", "$all": " AND "}
# Operators of text fields besides the comparisons: ``starts``, a prefix ignoring case and diacritics.
TEXT_OPS = ("starts",)
# How a list counts: ``auto`` exactly up to HOSO_LIST_COUNT_CAP, then "more than" the cap; ``exact``; ``none``.
COUNT_MODES = ("auto", "exact", "none")
# Most units a page is read from one by one (``RecordQuery._unit_by_unit``); a wider scope is read in one go.
MAX_MERGED_UNITS = 32


@dataclass
class ListPage:
    """A page of a list.

    ``total``: how many records match (None when not counted); ``total_exact`` False means "at least ``total``"
    (the count stopped at the cap). ``next_cursor``: pass it as ``cursor`` for the page after this one (None on
    the last page). ``page``: the page number, None for a page asked by cursor."""

    items: builtins.list[dict]
    total: int | None
    total_exact: bool
    next_cursor: str | None
    page: int | None
    page_size: int


@dataclass(frozen=True)
class _Key:
    name: str
    desc: bool

    @property
    def sql(self) -> str:
        return f"t.{quote(self.name)}"


class RecordQuery:
    def __init__(self, rt: Runtime, store: RecordStore):
        self.rt = rt
        self.db = rt.db
        self.store = store

    async def list(self, entity: EntityDef, access: Access, ctx: RecordContext, *, filters: dict | None = None,
                   sort: str | list[str] | None = None, page: int = 1, page_size: int = DEFAULT_PAGE_SIZE,
                   search: str | None = None, deleted: bool = False) -> tuple[list[dict], int]:
        """A page of the records ``access`` may read and how many there are in all (see ``RecordService.list``)."""
        result = await self.page(entity, access, ctx, filters=filters, sort=sort, page=page, page_size=page_size,
                                 search=search, deleted=deleted, count="exact")
        return result.items, int(result.total or 0)

    async def page(self, entity: EntityDef, access: Access, ctx: RecordContext, *, filters: dict | None = None,
                   sort: str | builtins.list[str] | None = None, page: int = 1,
                   page_size: int = DEFAULT_PAGE_SIZE, search: str | None = None, deleted: bool = False,
                   cursor: str | None = None, count: str = "auto") -> ListPage:
        """A page of the records ``access`` may read, by page number or after ``cursor``, with a count
        (see ``RecordService.list_page``). The rows and the count are one query unless the page is empty."""
        hidden = await access.hidden(entity)
        problems: list[tuple[str, str]] = []
        for name, value, low, high in (("page", page, 1, 10 ** 9), ("page_size", page_size, 1, MAX_PAGE_SIZE)):
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                problems.append((name, t("bad_page", ctx.lang, low=low, high=high)))
        if count not in COUNT_MODES:
            problems.append(("count", t("bad_count", ctx.lang, values=", ".join(COUNT_MODES))))
        sql_where, all_args = await self._select(entity, access, ctx, filters, search, deleted, problems)
        keys = self.sort_keys(entity, sort, hidden, ctx, problems)
        after: tuple[str, tuple] | None = None
        if cursor is not None:
            if page != 1:
                problems.append(("cursor", t("cursor_with_page", ctx.lang)))
            else:
                after = self._after(entity, keys, self._fingerprint(entity, keys, filters, search, deleted), cursor,
                                    ctx, problems)
        if problems:
            raise ValidationError(problems)
        order = self._order_sql(keys)
        table = quote(entity.table)
        cap = int(setting("HOSO_LIST_COUNT_CAP"))
        counter: tuple[str, tuple] | None = None
        if count == "exact":
            counter = (f"SELECT COUNT(*) FROM {table} t WHERE {sql_where}", all_args)
        elif count == "auto":
            counter = (f"SELECT COUNT(*) FROM (SELECT 1 AS one FROM {table} t WHERE {sql_where} LIMIT {cap + 1}) c",
                       all_args)
        page_where, page_args = sql_where, all_args
        if after is not None:
            page_where, page_args = f"{sql_where} AND {after[0]}", (*all_args, *after[1])
        count_col = f", ({counter[0]}) AS sys_list_total" if counter else ""
        source, source_args = f"{table} t WHERE {page_where}", page_args
        units = None if search and search.strip() or deleted else self._unit_by_unit(entity, access, keys)
        if units:
            source, source_args = self._merged(entity, table, page_where, page_args, order, units,
                                               page * page_size + 1)
        rows = await self.db.fetch(
            f"SELECT {self.store.columns(entity)}{count_col} FROM {source} ORDER BY {order} "
            "LIMIT {} OFFSET {}", *(counter[1] if counter else ()), *source_args, page_size + 1,
            (page - 1) * page_size)
        total: int | None = None
        if counter:
            if rows:
                total = int(rows[0]["sys_list_total"])
            elif page == 1 and after is None:
                total = 0
            else:
                total = int(await self.db.fetchval(counter[0], *counter[1]) or 0)
        exact = count == "exact" or (total is not None and total <= cap)
        if count == "auto" and total is not None and total > cap:
            total = cap
        more = len(rows) > page_size
        rows = rows[:page_size]
        next_cursor = (self._cursor(keys, rows[-1], self._fingerprint(entity, keys, filters, search, deleted))
                       if more and rows else None)
        out = []
        for r in rows:
            record = self.store.load_row(entity.fields, r)
            record.pop("sys_list_total", None)
            out.append({k: v for k, v in record.items() if k not in hidden} if hidden else record)
        return ListPage(out, total, exact, next_cursor, None if after is not None else page, page_size)

    def _unit_by_unit(self, entity: EntityDef, access: Access, keys: builtins.list[_Key]) -> tuple[int, ...] | None:
        """The units to read a page from one by one, or None to read it in one go.

        A user whose scope is nothing but a few units (a centre and its branches, a province) sees rows of several
        ranges of a list index that starts with the effective unit; the database cannot read several ranges in
        the list's order, so it would read every visible row (or walk the national index) and sort. Read unit by
        unit, each unit's rows are one range in order and the engine merges them. Only for an order a list index
        serves (the same direction throughout), so each unit's part is an index range."""
        if access.superuser or not entity.unit_field or len({k.desc for k in keys}) != 1:
            return None
        served = [tuple(k.lstrip("-") for k in entity.listing.sort)] + [(c,) for c in entity.listing.sortable]
        wanted = tuple(k.name for k in keys if k.name != "id")
        if keys[-1].name != "id" or wanted not in [tuple(c for c in cols if c != "id") for cols in served]:
            return None
        pred = access.predicate("read", entity)
        marks = ", ".join("{}" for _ in pred.args)
        if pred.sql != f"{effective_unit(entity, 't')} IN ({marks})" or not 1 < len(pred.args) <= MAX_MERGED_UNITS:
            return None
        return tuple(int(u) for u in pred.args)

    def _merged(self, entity: EntityDef, table: str, where: str, args: tuple, order: str, units: tuple[int, ...],
                limit: int) -> tuple[str, tuple]:
        """FROM (alias ``t``) of the rows of ``where``, read unit by unit: the first ``limit`` rows of each unit in
        ``order``, one part per unit, which together hold the first ``limit`` rows of all (``where`` selects
        only rows of ``units``)."""
        unit = effective_unit(entity, "t")
        parts = [f"SELECT * FROM (SELECT t.* FROM {table} t WHERE {where} AND {unit} = {{}} ORDER BY {order} "
                 f"LIMIT {{}}) u{i}" for i in range(len(units))]
        return f"({' UNION ALL '.join(parts)}) t", tuple(a for u in units for a in (*args, u, limit))

    async def where(self, entity: EntityDef, access: Access, ctx: RecordContext, *, filters: dict | None = None,
                    search: str | None = None, deleted: bool = False) -> tuple[str, tuple]:
        """SQL (alias ``t``) and arguments selecting the rows a list with these filters and search shows.

        Raises ValidationError naming every bad filter."""
        problems: list[tuple[str, str]] = []
        selected = await self._select(entity, access, ctx, filters, search, deleted, problems)
        if problems:
            raise ValidationError(problems)
        return selected

    async def _select(self, entity: EntityDef, access: Access, ctx: RecordContext, filters: dict | None,
                      search: str | None, deleted: bool, problems: builtins.list) -> tuple[str, tuple]:
        hidden = await access.hidden(entity)
        where, args = self.store.read_where(entity, access, deleted)
        clauses, cargs = self.filters(entity, filters or {}, hidden, ctx, problems)
        if search and search.strip():
            more, more_args = await self.search(entity, search)
            clauses += more
            cargs += more_args
        return " AND ".join([where] + clauses), (*args, *cargs)

    async def search(self, entity: EntityDef, search: str) -> tuple[builtins.list[str], builtins.list]:
        """Conditions: every word of ``search`` appears in the record's text, ignoring case and diacritics:
        anywhere (a ``trigram`` search index, or none), or at the start of a word (a ``fulltext`` one)."""
        clauses: list[str] = []
        cargs: list = []
        if await self.store.has_column(entity.table, "sys_search"):
            fts = await self.store.search_table(entity)
            fulltext = entity.search is not None and entity.search.index == "fulltext"
            matched: list[str] = []  # SQLite: the FTS5 query of the words it can find, all in one
            for word in fold(search).split()[:10]:
                if fulltext:
                    # the full-text index finds the candidates (words of letters and digits, by their start); the
                    # LIKE keeps the answer exactly the word-prefix one
                    if INDEXED_WORD.fullmatch(word):
                        if fts:
                            matched.append(f'"{word}"*')
                        elif not self.db.is_sqlite:
                            clauses.append(f"{FULLTEXT_VECTOR.format(col='t.sys_search')} @@ "
                                           "to_tsquery('simple'::regconfig, {})")
                            cargs.append(f"{word}:*")
                    clauses.append("(t.sys_search LIKE {} ESCAPE '\\' OR t.sys_search LIKE {} ESCAPE '\\')")
                    cargs += [prefix_pattern(word), "% " + prefix_pattern(word)]
                    continue
                if fts and len(word) >= 3:
                    # the FTS5 trigram table finds the candidates; the LIKE below keeps the answer exactly the
                    # LIKE search's
                    matched.append('"' + word.replace('"', '""') + '"')
                clauses.append("t.sys_search LIKE {} ESCAPE '\\'")
                cargs.append(like_pattern(word))
            if matched and fts:
                # One MATCH of every word (FTS5 intersects them itself): a subquery per word listed the rows of
                # each, "nguyen" alone a third of the table (1,000,000 cases, "Nguyễn Văn Khánh": 1,048 ms)
                clauses.insert(0, f"t.id IN (SELECT rowid FROM {quote(fts)} WHERE {quote(fts)} MATCH {{}})")
                cargs.insert(0, " ".join(matched))
        else:
            # A table migrated before sys_search existed: case-insensitive, but diacritics count.
            cols = [f"LOWER(t.{quote(f.name)})" for f in entity.column_fields
                    if f.traits.searchable and f.name not in hidden_by_any_role(self.rt, entity)]
            for word in search.lower().split()[:10]:
                clauses.append("(" + (" OR ".join(f"{c} LIKE {{}} ESCAPE '\\'" for c in cols) or "1 = 0") + ")")
                cargs += [like_pattern(word)] * len(cols)
        return clauses, cargs

    def filters(self, entity: EntityDef, filters: dict, hidden: set[str], ctx: RecordContext,
                problems: builtins.list) -> tuple[builtins.list[str], builtins.list]:
        """SQL conditions (alias ``t``) for ``filters``; a problem per bad filter is added to ``problems``."""
        clauses: list[str] = []
        args: list = []
        if not isinstance(filters, dict):
            problems.append(("filters", t("bad_filter", ctx.lang, reason="expected an object")))
            return clauses, args
        for name, spec in filters.items():
            where = f"filters.{name}"
            if name in ALTERNATIVES:
                # ``$any``: one of the filter objects holds; ``$all``: each holds (to combine several ``$any``)
                if not isinstance(spec, list) or not spec or not all(isinstance(alt, dict) for alt in spec):
                    problems.append((where, t("bad_filter", ctx.lang, reason="expected a non-empty list of objects")))
                    continue
                parts = []
                for alt in spec:
                    more, more_args = self.filters(entity, alt, hidden, ctx, problems)
                    parts.append("(" + (" AND ".join(more) or "1 = 1") + ")")
                    args += more_args
                clauses.append("(" + ALTERNATIVES[name].join(parts) + ")")
                continue
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
                        values = [self.filter_value(fd, name, v) for v in raw]
                        clauses.append(f"{col} IN ({', '.join('{}' for _ in values)})")
                        args += values
                    elif op == "starts":
                        if fd is None or not fd.traits.searchable:
                            raise ValueError("'starts' applies to text fields")
                        if not isinstance(raw, str) or not fold(raw):
                            raise ValueError("'starts' needs some text")
                        # a word prefix, as the admin's text filters (hoso.records.search.word_prefix_sql)
                        clause, more = word_prefix_sql(col, raw)
                        clauses.append(clause)
                        args += more
                    elif op in FILTER_OPS:
                        if fd is not None and fd.traits.chooses_many:
                            if op not in ("eq", "ne"):
                                raise ValueError(f"{op!r} does not apply to a multiple choice")
                            option = json.dumps(str(raw), ensure_ascii=False)
                            clauses.append(f"{'' if op == 'eq' else 'NOT '}(COALESCE({col}, '') LIKE {{}} ESCAPE '\\')")
                            args.append(like_pattern(option))
                        else:
                            clauses.append(f"{col} {FILTER_OPS[op]} {{}}")
                            args.append(self.filter_value(fd, name, raw))
                    else:
                        known = ", ".join([*FILTER_OPS, "in", "null", *TEXT_OPS])
                        raise ValueError(f"unknown operator {op!r}; operators: {known}")
                except ValueError as exc:
                    problems.append((where, t("bad_filter", ctx.lang, reason=str(exc))))
        return clauses, args

    def filter_value(self, fd: FieldDef | None, name: str, raw: Any) -> Any:
        if fd is None:
            # a system column has no field definition; the datetime and integer parsers do not read one
            kind = "datetime" if name in ("sys_created_at", "sys_updated_at", "sys_deleted_at") else "integer"
            return self.rt.registry.field_type(kind).parse(None, raw)  # type: ignore[arg-type]
        ft = self.rt.registry.field_type(fd.type)
        if fd.traits.chooses_many:
            raise ValueError("a multiple choice is filtered with eq/ne on one option")
        return ft.to_db(ft.parse(fd, raw))

    def order(self, entity: EntityDef, sort: str | builtins.list[str] | None, hidden: set[str], ctx: RecordContext,
              problems: builtins.list) -> str:
        """ORDER BY (alias ``t``) for ``sort``; a problem per bad key is added to ``problems``."""
        return self._order_sql(self.sort_keys(entity, sort, hidden, ctx, problems))

    def sort_keys(self, entity: EntityDef, sort: str | builtins.list[str] | None, hidden: set[str],
                  ctx: RecordContext, problems: builtins.list) -> builtins.list[_Key]:
        """The columns a list is ordered by: ``sort``, else the entity's ``list.sort``, else ``-id``; the id last,
        as a tie-breaker in the first key's direction, so the order is total."""
        keys = [sort] if isinstance(sort, str) else list(sort or entity.listing.sort or ["-id"])
        names = {f.name for f in entity.column_fields if not f.traits.chooses_many} | set(LIST_SYSTEM_COLUMNS)
        out: list[_Key] = []
        for key in keys:
            desc = isinstance(key, str) and key.startswith("-")
            name = key[1:] if desc else key
            if not isinstance(name, str) or name not in names or name in hidden:
                problems.append(("sort", t("bad_sort", ctx.lang, value=key)))
                continue
            if any(k.name == name for k in out):
                continue  # a column sorted twice: the first says the order
            out.append(_Key(name, desc))
        ids = [i for i, k in enumerate(out) if k.name == "id"]
        if ids:
            return out[:ids[0] + 1]  # the id is unique: keys after it never decide
        out.append(_Key("id", bool(out[0].desc) if out else True))
        return out

    def _order_sql(self, keys: builtins.list[_Key]) -> str:
        return ", ".join(f"{k.sql} {'DESC' if k.desc else 'ASC'}" for k in keys)

    # -- cursors --------------------------------------------------------------------------------------------------
    # A cursor holds the sort values of the last row of a page and a fingerprint of the list (entity, sort,
    # filters, search, deleted): a cursor of another list, or one that was altered, is refused (400), and its
    # values are parsed by the field types and bound as parameters, never put into the SQL.
    # NULLs sort as the engine sorts them: last in ascending order on PostgreSQL, first on SQLite.

    @staticmethod
    def _fingerprint(entity: EntityDef, keys: builtins.list[_Key], filters: dict | None, search: str | None,
                     deleted: bool) -> str:
        what = json.dumps([entity.name, [(k.name, k.desc) for k in keys], filters or {}, fold(search or ""),
                           bool(deleted)], sort_keys=True, default=str, ensure_ascii=False)
        return hashlib.sha256(what.encode()).hexdigest()[:16]

    @staticmethod
    def _cursor(keys: builtins.list[_Key], row: dict, fingerprint: str) -> str:
        values = [_json_value(row[k.name]) for k in keys]
        body = json.dumps({"v": values, "f": fingerprint}, separators=(",", ":"), ensure_ascii=False)
        check = hashlib.sha256(body.encode()).hexdigest()[:8]
        return base64.urlsafe_b64encode(f"{body}|{check}".encode()).decode().rstrip("=")

    def _after(self, entity: EntityDef, keys: builtins.list[_Key], fingerprint: str, cursor: Any,
               ctx: RecordContext, problems: builtins.list) -> tuple[str, tuple] | None:
        """SQL (alias ``t``) for the rows after the cursor's row in the order of ``keys``."""
        try:
            if not isinstance(cursor, str) or len(cursor) > 4096:
                raise ValueError("not a cursor")
            text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
            body, _, check = text.rpartition("|")
            if hashlib.sha256(body.encode()).hexdigest()[:8] != check:
                raise ValueError("altered")
            data = json.loads(body)
            if not isinstance(data, dict) or data.get("f") != fingerprint:
                raise ValueError("another list")
            raw = data.get("v")
            if not isinstance(raw, list) or len(raw) != len(keys):
                raise ValueError("wrong shape")
            values = [None if v is None else self._cursor_value(entity, k.name, v)
                      for k, v in zip(keys, raw, strict=True)]
            if values[[k.name for k in keys].index("id")] is None:
                raise ValueError("no id")
        except (ValueError, TypeError, UnicodeDecodeError, binascii.Error, decimal.InvalidOperation):
            problems.append(("cursor", t("bad_cursor", ctx.lang)))
            return None
        return self._after_sql(keys, values)

    def _cursor_value(self, entity: EntityDef, name: str, raw: Any) -> Any:
        fd = next((f for f in entity.column_fields if f.name == name), None)
        if isinstance(raw, (dict, list)):
            raise ValueError("not a value")
        value = self.filter_value(fd, name, raw)
        if name == "id" and not 1 <= int(value) <= 2 ** 31 - 1:
            raise ValueError("id out of range")
        return value

    def _after_sql(self, keys: builtins.list[_Key], values: builtins.list) -> tuple[str, tuple]:
        nulls_high = not self.db.is_sqlite  # where NULLs fall in ascending order
        branches: list[str] = []
        args: list = []
        equal: list[str] = []
        equal_args: list = []
        for k, v in zip(keys, values, strict=True):
            later_nulls = k.desc != nulls_high  # NULLs come after every value in this key's direction
            if v is None:
                beyond, beyond_args = (f"{k.sql} IS NOT NULL", []) if not later_nulls else (None, [])
            else:
                op = "<" if k.desc else ">"
                beyond = f"({k.sql} {op} {{}} OR {k.sql} IS NULL)" if later_nulls else f"{k.sql} {op} {{}}"
                beyond_args = [v]
            if beyond is not None:
                branches.append("(" + " AND ".join([*equal, beyond]) + ")")
                args += [*equal_args, *beyond_args]
            if v is None:
                equal.append(f"{k.sql} IS NULL")
            else:
                equal.append(f"{k.sql} = {{}}")
                equal_args.append(v)
        sql = "(" + (" OR ".join(branches) or "1 = 0") + ")"
        # The first key's bound, on its own, lets the engine start its index range scan at the cursor.
        first, v = keys[0], values[0]
        if len(keys) > 1:
            if v is not None and not (first.desc != nulls_high):
                sql = f"{first.sql} {'<=' if first.desc else '>='} {{}} AND {sql}"
                args = [v, *args]
            elif v is None and first.desc != nulls_high:
                sql = f"{first.sql} IS NULL AND {sql}"
        return sql, tuple(args)


def _json_value(v: Any) -> Any:
    """A sort value as the cursor keeps it (JSON): dates and times in ISO form, decimals as text."""
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    if isinstance(v, decimal.Decimal):
        return str(v)
    return v
