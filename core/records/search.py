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

__all__ = ["fold", "search_text", "like_pattern"]


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
