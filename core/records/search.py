"""Search that ignores case and Vietnamese diacritics: "nguyen van an" finds "Nguyễn Văn An".

The record service keeps ``sys_search`` on every entity table: the folded text of the record's searchable
fields. A search folds the query the same way and looks for every word in it with ``LIKE``, the same SQL on
SQLite and PostgreSQL.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from typing import Any

__all__ = ["fold", "search_text", "like_pattern", "prefix_pattern", "fold_sql", "FOLDED_LETTERS"]


def fold(text: str) -> str:
    """Lower case, without diacritics (đ becomes d), with runs of white space made one space."""
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.casefold().split())


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


def fold_sql(expr: str, sqlite: bool) -> str:
    """SQL folding ``expr`` as ``fold`` does, for letters (case and the diacritics of ``FOLDED_LETTERS``); white
    space is left as it is. PostgreSQL: one ``translate``; SQLite, whose ``lower`` knows only ASCII: a
    ``replace`` per letter. Both are deterministic, so an expression index may be built on them."""
    if not sqlite:
        src = "".join(FOLDED_LETTERS)
        dst = "".join(FOLDED_LETTERS.values())
        return f"lower(translate({expr}, '{src}', '{dst}'))"
    out = f"lower({expr})"
    for c, f in FOLDED_LETTERS.items():
        out = f"replace({out}, '{c}', '{f}')"
    return out
