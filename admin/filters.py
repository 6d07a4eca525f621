"""What the admin's list filters mean, and its bounded, cached counts.

piccolo-api filters text columns with ``ILIKE '%value%'``, choice columns included (a status filter matched
every status containing the letters typed). The admin's CRUD (``hoso.admin.crud``) uses these instead:

* a **choice** (and any text column without words: codes of a choice list, file keys) matches by equality (``ne``
  excludes; ``is_null``/``not_null`` as asked);
* a **text** field matches when the value, folded like the search column (lower case, without Vietnamese
  diacritics, ``đ`` as ``d``), begins the field or one of its words: "nguyen van" finds "Nguyễn Văn An" and
  "Trần Nguyễn Văn", not "Nguyên"'s substrings elsewhere; ``__match=exact`` asks for the whole folded value. The
  same answers on SQLite and PostgreSQL (``text_match``). When the field feeds the search column, the record must
  also be found by the record search for the value (``RecordQuery.search``), which its search index serves;
* dates, numbers, references, units and booleans keep piccolo-api's equality and range operators (``e``, ``ne``,
  ``lt``, ``lte``, ``gt``, ``gte``), which compare values, not text; dates and numbers also take a range of two
  bounds, ``field__from`` and ``field__to`` (both included, either may be left out; dates as dd/mm/yyyy or
  yyyy-mm-dd), which the API writes ``field__gte`` and ``field__lte``.

Counts: piccolo-admin asks for the count before every page of rows, with the same filters. ``CountCache`` keeps a
count per (table, scope predicate, filters) for ``COUNT_TTL`` seconds, so a page change does not count again. A
count stops at ``HOSO_LIST_COUNT_CAP`` + 1 rows (the API's cap), and that number means "more than the cap" (the
admin's page says so). On PostgreSQL a count that takes longer than ``hoso.admin.crud.COUNT_TIMEOUT_MS`` (a text
filter over the whole country) is cancelled and the planner's estimate given instead, marked ``estimated`` (the
admin's page says "about"). A write through the admin forgets the counts of its table.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

from hoso.config import Config
from hoso.db import quote
from hoso.i18n import t
from hoso.records.search import word_prefix_sql
from hoso.scope import Predicate, assignments_of

if TYPE_CHECKING:  # pragma: no cover
    from hoso.admin.auth import AdminUser

__all__ = ["text_match", "CountCache", "COUNT_TTL", "picker_match", "picker_units", "MAX_PICKER_SEARCH",
           "split_ranges", "range_clauses"]

# The longest text a picker (a foreign-key drop-down) searches for; longer is cut (no readable value is longer).
MAX_PICKER_SEARCH = 200
MAX_PICKER_ID = 2**31 - 1  # the linked tables' ids are 32-bit

COUNT_TTL = 60.0  # seconds a count is reused for the same scope and filters
COUNT_CACHE_SIZE = 2048


def text_match(column: str, value: str, sqlite: bool, exact: bool = False) -> tuple[str, list[str]]:
    r"""SQL (and its arguments) true when ``value``, folded, is the whole folded text of ``column`` (``exact``) or
    begins it or one of its words: ``hoso.records.search.word_prefix_sql``, which the API's ``starts`` uses too, so
    the admin and the API answer the same rows for the same text (``sqlite`` is kept for callers; ``hoso_fold``
    is the same function on both engines)."""
    return word_prefix_sql(column, value, exact)


def picker_match(readable: str, search: str) -> tuple[str, list[Any]]:
    """SQL (``{}`` placeholders) and arguments for a picker's search: the readable value (a record's title, a
    unit's name, a user's name) has the text as a word prefix, ignoring case and diacritics ("tra vinh" finds
    "Trà Vinh"), or the row's id is the text. The value is folded as stored (a missing one matches no text), so
    that on PostgreSQL the fold index of a title field (a trigram index over ``hoso_fold(field)``) serves the
    search; the id is compared as a number (its primary key serves it)."""
    text = search.strip()[:MAX_PICKER_SEARCH]
    clause, args = word_prefix_sql(f"CAST({readable} AS TEXT)", text)
    if text.isascii() and text.isdigit() and int(text) <= MAX_PICKER_ID:
        return f"({clause} OR t.id = {{}})", [*args, int(text)]
    return clause, args


def picker_units(config: Config, user: AdminUser) -> Predicate | None:
    """The units a unit picker offers ``user`` (alias ``t`` over ``hoso_unit``): those under the units of the
    user's current assignments; None (every unit) for a superuser or a holder of a role with a national scope."""
    if user.superuser:
        return None
    if any(g.scope == "national" for r in config.roles if r.name in user.roles for g in r.grants):
        return None
    mine = assignments_of(user.ctx.user_id, user.ctx.actor.today)
    return Predicate("t.id IN (SELECT c.descendant_id FROM hoso_unit_closure c JOIN hoso_assignment a "
                     f"ON a.unit_id = c.ancestor_id WHERE {mine.sql})", mine.args)


RANGE_BOUNDS = {"from": ">=", "to": "<="}
RANGE_TYPES = ("date", "datetime", "integer", "decimal", "number")


def split_ranges(params: dict[str, Any]) -> tuple[dict[str, Any], dict[tuple[str, str], Any]]:
    """``params`` without the range bounds (``field__from``, ``field__to``), and those bounds by (field, bound)."""
    rest: dict[str, Any] = {}
    ranges: dict[tuple[str, str], Any] = {}
    for key, value in params.items():
        name, sep, bound = key.rpartition("__")
        if sep and name and bound in RANGE_BOUNDS:
            ranges[(name, bound)] = value[-1] if isinstance(value, list) else value
        else:
            rest[key] = value
    return rest, ranges


def range_clauses(rt: Any, fields: dict[str, Any], column: str, ranges: dict[tuple[str, str], Any], lang: str
                  ) -> list[tuple[str, Any]]:
    """SQL (one ``{}`` each, over ``column.format(name)``) and the value of each range bound: ``from`` is the
    smallest value kept, ``to`` the largest, both included; dates as dd/mm/yyyy or yyyy-mm-dd. Raises ValueError
    naming the field when it has no range (not a date or a number, unknown) or a bound is not its type."""
    out = []
    for (name, bound), raw in ranges.items():
        fd = fields.get(name)
        if fd is None or fd.type not in RANGE_TYPES:
            raise ValueError(t("admin_bad_filter", lang, name=f"{name}__{bound}"))
        text = str(raw).strip()
        if text == "":
            continue
        if fd.type == "date" and "/" in text:
            day, _, rest = text.partition("/")
            month, _, year = rest.partition("/")
            text = f"{year.zfill(4)}-{month.zfill(2)}-{day.zfill(2)}"
        try:
            ft = rt.registry.field_type(fd.type)
            value = ft.to_db(ft.parse(fd, text))
        except Exception as exc:  # the field type's own refusal, said with the field's name
            raise ValueError(t("admin_bad_range", lang, name=name, value=str(raw)[:40])) from exc
        out.append((f"{column.format(quote(name))} {RANGE_BOUNDS[bound]} {{}}", value))
    return out


class CountCache:
    """Counts (and whether each is an estimate) by key for ``ttl`` seconds, the least recently used dropped beyond
    ``size``."""

    def __init__(self, ttl: float = COUNT_TTL, size: int = COUNT_CACHE_SIZE):
        self.ttl, self.size = ttl, size
        self._items: OrderedDict[Hashable, tuple[float, tuple[int, bool]]] = OrderedDict()

    def get(self, key: Hashable) -> tuple[int, bool] | None:
        hit = self._items.get(key)
        if hit is None:
            return None
        if hit[0] < time.monotonic():
            del self._items[key]
            return None
        self._items.move_to_end(key)
        return hit[1]

    def put(self, key: Hashable, count: tuple[int, bool]) -> None:
        self._items[key] = (time.monotonic() + self.ttl, count)
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self._items.clear()
