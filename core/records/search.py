"""Search that ignores case and Vietnamese diacritics: "nguyen van an" finds "Nguyễn Văn An".

The record service keeps ``sys_search`` on every entity table: the folded text of the record's searchable
fields. A search folds the query the same way and looks for every word in it with ``LIKE``, the same SQL on
SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from typing import Any

from hoso.db import FOLD_FUNCTION, fold

__all__ = ["fold", "search_text", "like_pattern", "prefix_pattern", "fold_sql", "FOLDED_LETTERS"]


def search_text(fields: Iterable[Any], values: dict, skip: AbstractSet[str] = frozenset()) -> str | None:
    """The folded text of ``values`` for the searchable ``fields`` (FieldDefs), leaving out ``skip``."""
    parts = []
    for fd in fields:
        if fd.traits.searchable and fd.name not in skip:
            v = values.get(fd.name)
            if v not in (None, ""):
                parts.append(fold(str(v)))
    return " ".join(parts) or None


def like_pattern(word: str) -> str:
    r"""``%word%`` with LIKE's wildcards escaped (used with ``ESCAPE '\'``)."""
    return "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def prefix_pattern(word: str) -> str:
    r"""``word%`` with LIKE's wildcards escaped (used with ``ESCAPE '\'``)."""
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def fold_sql(expr: str, sqlite: bool) -> str:
    """SQL folding ``expr`` as ``fold`` does. SQLite: the connection's ``hoso_fold``, which is ``fold``;
    PostgreSQL: ``translate`` of the letters with diacritics of Latin scripts and Vietnamese (``FOLDED_LETTERS``),
    lower case, white space runs made one space. Both are deterministic."""
    if sqlite:
        return f"{FOLD_FUNCTION}({expr})"
    src = "".join(FOLDED_LETTERS)
    dst = "".join(FOLDED_LETTERS.values())
    return f"btrim(regexp_replace(lower(translate({expr}, '{src}', '{dst}')), '\\s+', ' ', 'g'))"


def _folded_letters() -> dict[str, str]:
    """Letters with diacritics (Latin-1, Latin Extended-A and -B, Vietnamese) and what ``fold`` makes of them,
    where that is one ASCII letter."""
    out = {}
    for code in [*range(0xC0, 0x250), *range(0x1EA0, 0x1EFA)]:
        c = chr(code)
        f = fold(c)
        if len(f) == 1 and f.isascii() and f.isalpha() and f != c:
            out[c] = f
    return out


FOLDED_LETTERS = _folded_letters()
