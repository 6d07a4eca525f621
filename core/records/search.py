"""Search that ignores case and Vietnamese diacritics: "nguyen van an" finds "Nguyễn Văn An".

The record service keeps ``sys_search`` on every entity table: the folded text of the record's searchable
fields. A search folds the query the same way and looks for every word in it with ``LIKE``, the same SQL on
SQLite and PostgreSQL: anywhere in the text with a ``trigram`` search index (or none), at the start of a word
with a ``fulltext`` one.

Filters on one text field (the admin's text filters, the API's ``starts``) and pickers match a **word prefix**:
the value, folded, begins the field's folded text or one of its words ("nguyen van" finds "Nguyễn Văn An" and
"Trần Nguyễn Văn", not "Nguyên"). ``word_prefix_sql`` writes that test; the database folds with ``hoso_fold``
(``hoso.model.folding``), which PostgreSQL fold indexes (``hoso migrate``) serve.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from typing import Any

from hoso.db import FOLD_FUNCTION, fold
from hoso.model.folding import FOLDED_LETTERS

__all__ = ["fold", "search_text", "like_pattern", "prefix_pattern", "fold_sql", "FOLDED_LETTERS", "word_prefix_sql",
           "word_prefix", "INDEXED_WORD"]

# The words a full-text index may look up: letters and digits only (its tokens start where such a word starts).
INDEXED_WORD = re.compile(r"[a-z0-9]+")


def search_text(fields: Iterable[Any], values: dict, skip: AbstractSet[str] = frozenset()) -> str | None:
    """The folded text of ``values`` for the searchable ``fields`` (FieldDefs), leaving out ``skip``."""
    parts = []
    for fd in fields:
        if fd.traits.searchable and fd.name not in skip:
            v = values.get(fd.name)
            if v not in (None, ""):
                parts.append(fold(str(v)))
    return " ".join(parts) or None


def _escape(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def like_pattern(word: str) -> str:
    r"""``%word%`` with LIKE's wildcards escaped (used with ``ESCAPE '\'``)."""
    return "%" + _escape(word) + "%"


def prefix_pattern(word: str) -> str:
    r"""``word%`` with LIKE's wildcards escaped (used with ``ESCAPE '\'``)."""
    return _escape(word) + "%"


def fold_sql(expr: str, sqlite: bool = False) -> str:
    """SQL folding ``expr`` as ``fold`` does: ``hoso_fold`` on both engines (SQLite: the connection's Python
    function; PostgreSQL: the IMMUTABLE function ``hoso migrate`` creates)."""
    return f"{FOLD_FUNCTION}({expr})"


def word_prefix(text: str, value: str) -> bool:
    """Python's answer to ``word_prefix_sql``: ``value``, folded, begins ``text``, folded, or one of its words."""
    folded, wanted = fold(text), fold(value)
    return bool(wanted) and (folded.startswith(wanted) or f" {wanted}" in folded)


def word_prefix_sql(expr: str, value: str, exact: bool = False) -> tuple[str, list[str]]:
    r"""SQL (``{}`` placeholders) and arguments true when ``value``, folded, is the whole folded text of ``expr``
    (``exact``) or begins it or one of its words. A value with nothing left once folded (a lone diacritic) finds
    nothing."""
    folded = fold(value)
    if not folded:
        return "1 = 0", []
    col = fold_sql(expr)
    if exact:
        return f"{col} = {{}}", [folded]
    starts = prefix_pattern(folded)
    return f"({col} LIKE {{}} ESCAPE '\\' OR {col} LIKE {{}} ESCAPE '\\')", [starts, "% " + starts]
