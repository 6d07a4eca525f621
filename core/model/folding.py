"""``hoso_fold(text)`` in SQL: the record search's folding (``hoso.db.fold``) where the database computes it.

SQLite connections know ``hoso_fold`` as a Python function (``hoso.db``). On PostgreSQL ``hoso migrate`` creates
it as an IMMUTABLE function (so expression indexes may use it): ``unaccent`` (a contrib extension shipped with
PostgreSQL, like pg_trgm) with its dictionary named, lower case, tabs and line breaks as spaces, and runs of
spaces made one only when the text has any (most names have none, and the regular expression is the costly
part). Where the ``unaccent`` extension cannot be created, the function translates the letters with diacritics
of Latin scripts and Vietnamese (``FOLDED_LETTERS``) instead, which is correct but several times slower.

Both fold Vietnamese as ``hoso.db.fold`` does. Beyond it, ``unaccent`` also folds letters that are not a letter
with a mark in Unicode (ø, ł, ð, œ, æ become o, l, d, oe, ae), which ``fold`` leaves as they are.
"""

from __future__ import annotations

from hoso.db import FOLD_FUNCTION, fold

__all__ = ["FOLDED_LETTERS", "FOLD_FUNCTION", "fold_function_ddl"]


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
# White space other than the space (what Python's str.split splits on), each made a space.
_WHITE = [chr(c) for c in range(0x3001) if chr(c).isspace() and chr(c) != " "]
_SPACES = "E'" + "".join(f"\\u{ord(c):04x}" for c in _WHITE) + "'"


def _function(unaccented: str) -> str:
    """``CREATE OR REPLACE FUNCTION hoso_fold`` folding with the SQL expression ``unaccented`` (over ``x``).

    No braces: the statement is run through piccolo, whose ``{}`` are placeholders."""
    return (
        f"CREATE OR REPLACE FUNCTION {FOLD_FUNCTION}(x text) RETURNS text LANGUAGE plpgsql IMMUTABLE STRICT "
        "PARALLEL SAFE AS $fold$ "
        f"DECLARE s text := lower(translate({unaccented}, {_SPACES}, '{' ' * len(_WHITE)}')); "
        "BEGIN "
        "IF strpos(s, '  ') > 0 OR left(s, 1) = ' ' OR right(s, 1) = ' ' THEN "
        "RETURN btrim(regexp_replace(s, '  +', ' ', 'g')); END IF; "
        "RETURN s; END $fold$")


def fold_function_ddl() -> list[str]:
    """PostgreSQL statements creating (or replacing) ``hoso_fold``: with ``unaccent`` when the extension can be
    created, else with ``translate``."""
    src = "".join(FOLDED_LETTERS).replace("'", "''")
    dst = "".join(FOLDED_LETTERS.values())
    fallback = _function(f"translate(x, '{src}', '{dst}')").replace("'", "''")
    with_unaccent = _function("%s.unaccent('%s.unaccent'::regdictionary, x)").replace("'", "''")
    return [
        "DO $ddl$ DECLARE ns text; BEGIN "
        "BEGIN CREATE EXTENSION IF NOT EXISTS unaccent; "
        "EXCEPTION WHEN OTHERS THEN NULL; END; "
        "SELECT quote_ident(n.nspname) INTO ns FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
        "WHERE e.extname = 'unaccent'; "
        f"IF ns IS NULL THEN EXECUTE '{fallback}'; "
        f"ELSE EXECUTE format('{with_unaccent}', ns, ns); END IF; "
        "END $ddl$",
    ]
