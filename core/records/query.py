"""The list query: which records an actor sees, filtered, searched, sorted and paged.

``RecordService.list`` answers with it; ``where`` is the selection alone (scope, filters, search), for work that
counts or groups the same records a list would show, such as reports.
"""

from __future__ import annotations

import builtins  # the class below has a list() method, which hides the builtin in its annotations
import json
from typing import TYPE_CHECKING, Any

from hoso.config import EntityDef, FieldDef
from hoso.db import quote
from hoso.i18n import t
from hoso.records.access import Access, hidden_by_any_role
from hoso.records.context import RecordContext
from hoso.records.errors import ValidationError
from hoso.records.search import fold, like_pattern
from hoso.records.store import RecordStore

if TYPE_CHECKING:  # pragma: no cover
    from hoso.runtime import Runtime

__all__ = ["RecordQuery", "DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE", "LIST_SYSTEM_COLUMNS", "FILTER_OPS"]

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
# Columns a list may filter and sort on besides the fields.
LIST_SYSTEM_COLUMNS = ("id", "sys_version", "sys_created_at", "sys_created_by", "sys_updated_at", "sys_updated_by",
                       "sys_deleted_at")
FILTER_OPS = {"eq": "=", "ne": "<>", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}


class RecordQuery:
    def __init__(self, rt: Runtime, store: RecordStore):
        self.rt = rt
        self.db = rt.db
        self.store = store

    async def list(self, entity: EntityDef, access: Access, ctx: RecordContext, *, filters: dict | None = None,
                   sort: str | list[str] | None = None, page: int = 1, page_size: int = DEFAULT_PAGE_SIZE,
                   search: str | None = None, deleted: bool = False) -> tuple[list[dict], int]:
        """A page of the records ``access`` may read and how many there are in all (see ``RecordService.list``)."""
        hidden = await access.hidden(entity)
        problems: list[tuple[str, str]] = []
        for name, value, low, high in (("page", page, 1, 10 ** 9), ("page_size", page_size, 1, MAX_PAGE_SIZE)):
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                problems.append((name, t("bad_page", ctx.lang, low=low, high=high)))
        sql_where, all_args = await self._select(entity, access, ctx, filters, search, deleted, problems)
        order = self.order(entity, sort, hidden, ctx, problems)
        if problems:
            raise ValidationError(problems)
        total = int(await self.db.fetchval(f"SELECT COUNT(*) AS n FROM {quote(entity.table)} t WHERE {sql_where}",
                                           *all_args) or 0)
        rows = await self.db.fetch(
            f"SELECT {self.store.columns(entity)} FROM {quote(entity.table)} t WHERE {sql_where} ORDER BY {order} "
            "LIMIT {} OFFSET {}", *all_args, page_size, (page - 1) * page_size)
        out = []
        for r in rows:
            record = self.store.load_row(entity.fields, r)
            out.append({k: v for k, v in record.items() if k not in hidden} if hidden else record)
        return out, total

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
        """Conditions: every word of ``search`` appears in the record's text, ignoring case and diacritics."""
        clauses: list[str] = []
        cargs: list = []
        if await self.store.has_column(entity.table, "sys_search"):
            for word in fold(search).split()[:10]:
                clauses.append("t.sys_search LIKE {} ESCAPE '\\'")
                cargs.append(like_pattern(word))
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
                        known = ", ".join([*FILTER_OPS, "in", "null"])
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
        keys = [sort] if isinstance(sort, str) else list(sort or ["-id"])
        names = {f.name for f in entity.column_fields if not f.traits.chooses_many} | set(LIST_SYSTEM_COLUMNS)
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
