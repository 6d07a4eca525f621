"""What the admin's list filters mean, and its bounded, cached counts.

piccolo-api filters text columns with ``ILIKE '%value%'``, choice columns included (a status filter matched
every status containing the letters typed). The admin's CRUD (``hoso.admin.crud``) uses these instead:

* a **choice** (and any text column without words: codes of a choice list, file keys) matches by equality (``ne``
  excludes; ``is_null``/``not_null`` as asked);
* a **text** field matches when the value, folded like the search column (lower case, without Vietnamese
  diacritics, ``đ`` as ``d``), begins the field or one of its words: "nguyen van" finds "Nguyễn Văn An" and
  "Trần Nguyễn Văn", not "Nguyên"'s substrings elsewhere; ``__match=exact`` asks for the whole folded value. The
  same answers on SQLite and PostgreSQL (``text_match``). When the field feeds the search column, every folded word
  must also be in that column, a condition the search index serves;
* dates, numbers, references, units and booleans keep piccolo-api's equality and range operators (``e``, ``ne``,
  ``lt``, ``lte``, ``gt``, ``gte``), which compare values, not text.

Counts: piccolo-admin asks for the count before every page of rows, with the same filters. ``CountCache`` keeps a
count per (table, scope predicate, filters) for ``COUNT_TTL`` seconds, so a page change does not count again; a
count stops at ``COUNT_CAP`` + 1 rows, and that number means "more than ``COUNT_CAP``" (the admin's page says so).
A write through the admin forgets the counts of its table.
"""

from __future__ import annotations

import time
import unicodedata
from collections import OrderedDict
from collections.abc import Hashable

from hoso.records.search import fold

__all__ = ["fold_sql", "text_match", "CountCache", "COUNT_CAP", "COUNT_TTL"]

COUNT_CAP = 10_000
COUNT_TTL = 60.0  # seconds a count is reused for the same scope and filters
COUNT_CACHE_SIZE = 2048

_VOWELS = ("aàáảãạăằắẳẵặâầấẩẫậ" "eèéẻẽẹêềếểễệ" "iìíỉĩị" "oòóỏõọôồốổỗộơờớởỡợ" "uùúủũụưừứửữự" "yỳýỷỹỵ" "đ")
# Every letter with a Vietnamese diacritic, in both cases, and what ``fold`` makes of it; then the combining
# marks of a decomposed text (dropped).
_FOLDS: tuple[tuple[str, str], ...] = tuple(
    (ch, fold(ch)) for ch in dict.fromkeys(_VOWELS + _VOWELS.upper()) if fold(ch) != ch) + tuple(
    (mark, "") for mark in ("\u0300", "\u0301", "\u0303", "\u0309", "\u0323", "\u0306", "\u0302", "\u031b"))
assert all(unicodedata.combining(m) for m, out in _FOLDS if out == "")


def fold_sql(expr: str) -> str:
    """PostgreSQL folding the text ``expr`` as ``hoso.records.search.fold`` folds Vietnamese text (case, diacritics,
    ``đ``). Letters of other alphabets keep their marks; white space is left as it is."""
    src = "".join(ch for ch, _ in _FOLDS)
    dst = "".join(out for _, out in _FOLDS)
    # translate drops the characters of ``src`` beyond the length of ``dst``: the combining marks come last
    return f"translate(lower({expr}), '{src}', '{dst}')"


def _variants() -> dict[str, str]:
    out: dict[str, str] = {}
    for ch, folded in _FOLDS:
        if folded:
            out[folded] = out.get(folded, folded + folded.upper()) + ch
    return out


_VARIANTS = _variants()


def _glob(folded: str) -> str:
    """A GLOB pattern (SQLite; case-sensitive) matching every text that ``fold`` makes ``folded``."""
    out = []
    for ch in folded:
        if ch in _VARIANTS:
            out.append(f"[{_VARIANTS[ch]}]")
        elif ch.isalpha() and ch.upper() != ch:
            out.append(f"[{ch}{ch.upper()}]")
        elif ch in "*?[]":
            out.append(f"[{ch}]")
        else:
            out.append(ch)
    return "".join(out)


def text_match(column: str, value: str, engine: str, exact: bool = False) -> tuple[str, list[str]]:
    r"""SQL (and its arguments) true when ``value``, folded, is the whole folded text of ``column`` (``exact``) or
    begins it or one of its words. On PostgreSQL the column is folded (``fold_sql``) and compared with ``LIKE``; on
    SQLite, which has no function for it, ``GLOB`` compares it with a pattern in which each letter stands for all of
    its forms (``[aAàÀ...]``)."""
    folded = fold(value)
    if engine == "postgres":
        expr = fold_sql(column)
        if exact:
            return f"{expr} = {{}}", [folded]
        escaped = folded.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return (f"({expr} LIKE {{}} ESCAPE '\\' OR {expr} LIKE {{}} ESCAPE '\\')",
                [escaped + "%", "% " + escaped + "%"])
    pattern = _glob(folded)
    if exact:
        return f"{column} GLOB {{}}", [pattern]
    return f"({column} GLOB {{}} OR {column} GLOB {{}})", [pattern + "*", "* " + pattern + "*"]


class CountCache:
    """Counts by key for ``ttl`` seconds, the least recently used dropped beyond ``size``."""

    def __init__(self, ttl: float = COUNT_TTL, size: int = COUNT_CACHE_SIZE):
        self.ttl, self.size = ttl, size
        self._items: OrderedDict[Hashable, tuple[float, int]] = OrderedDict()

    def get(self, key: Hashable) -> int | None:
        hit = self._items.get(key)
        if hit is None:
            return None
        if hit[0] < time.monotonic():
            del self._items[key]
            return None
        self._items.move_to_end(key)
        return hit[1]

    def put(self, key: Hashable, count: int) -> None:
        self._items[key] = (time.monotonic() + self.ttl, count)
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self._items.clear()
