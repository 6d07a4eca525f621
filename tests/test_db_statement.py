"""hoso's statements (``hoso.db.Statement``) compile as piccolo's QueryString compiles the same text and plain
arguments, on both engines' placeholders, and read ``{{`` and ``}}`` as ``str.format`` does (piccolo's own
compilation misplaces arguments after them); a text whose placeholders and arguments do not match is refused."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st
from piccolo.querystring import QueryString

from hoso.db import KEPT_STATEMENT_TEXT, Statement

plain = st.one_of(st.sampled_from(["{}", " ", "'", "$1", "?", "%s", "SELECT ", " = ", ", "]),
                  st.text(st.characters(blacklist_characters="{}"), max_size=8))
value = st.one_of(st.none(), st.integers(), st.text(max_size=5), st.dates(), st.booleans(),
                  st.just(dt.datetime(2026, 1, 2, tzinfo=dt.UTC)))


# a short text is compiled once and kept, a long one at each run: both ways are checked
long_or_short = st.sampled_from(["", " " * KEPT_STATEMENT_TEXT])


@given(parts=st.lists(plain, max_size=12), pad=long_or_short, data=st.data())
def test_a_statement_compiles_as_piccolos_query_string(parts, pad, data):
    template = pad + "".join(parts)
    n = parts.count("{}")
    args = data.draw(st.lists(value, min_size=n, max_size=n))
    for engine in ("postgres", "sqlite"):
        assert Statement(template, *args).compile_string(engine) == QueryString(template, *args).compile_string(
            engine_type=engine), (template, engine)


@given(parts=st.lists(st.one_of(plain, st.sampled_from(["{{", "}}"])), max_size=12), pad=long_or_short)
def test_escaped_braces_are_read_as_str_format_reads_them(parts, pad):
    template = "".join(parts) + pad
    n = parts.count("{}")
    args = list(range(n))
    assert Statement(template, *args).compile_string("postgres") == (
        template.format(*[f"${i + 1}" for i in range(n)]), args)
    assert Statement(template, *args).compile_string("sqlite") == (template.format(*["?"] * n), args)


def test_a_statement_with_too_few_or_too_many_arguments_is_refused():
    with pytest.raises(ValueError, match="2 placeholders and 1 arguments"):
        Statement("SELECT {} + {}", 1).compile_string("postgres")
    with pytest.raises(ValueError, match="0 placeholders and 1 arguments"):
        Statement("SELECT 1", 1).compile_string("sqlite")
