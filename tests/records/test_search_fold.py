"""The folding and the search indexes against plain-Python oracles, on both engines.

* ``hoso_fold`` in SQL (PostgreSQL's IMMUTABLE function, SQLite's connection function) equals ``hoso.db.fold`` for
  random Vietnamese strings (letters with every tone, đ, upper and lower case, runs of white space).
* The record search with a ``fulltext`` index finds exactly the records whose folded text has every folded word of
  the query as a word prefix; with a ``trigram`` index, anywhere. The word-prefix filter (``starts``) agrees with
  ``hoso.records.search.word_prefix``.
* ``hoso plan`` shows the function, the search index and the fold indexes; changing the index kind rebuilds it.
"""

from __future__ import annotations

import asyncio
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hoso.db import fold
from hoso.model.migrate import make_plan
from hoso.records.search import word_prefix
from hoso.records.service import RecordContext
from tests.helpers import migrated_runtime, remigrate

VOWELS = "aàáảãạăằắẳẵặâầấẩẫậeèéẻẽẹêềếểễệiìíỉĩịoòóỏõọôồốổỗộơờớởỡợuùúủũụưừứửữựyỳýỷỹỵ"
LETTERS = VOWELS + "bcdđghklmnpqrstvx"
ALPHABET = LETTERS + LETTERS.upper() + "0123456789"

NOTE = """
entity: note
label: {{vi: Ghi chép, en: Note}}
title_field: name
search: {{index: {kind}}}
fields:
  name: {{type: text, label: {{vi: Tên}}}}
"""

words = st.text(alphabet=ALPHABET, min_size=1, max_size=7)
spaces = st.sampled_from([" ", " ", " ", "  ", "\t", " \n "])


@st.composite
def phrases(draw, max_words: int = 4) -> str:
    parts = draw(st.lists(words, min_size=1, max_size=max_words))
    out = draw(st.sampled_from(["", " "]))
    for i, w in enumerate(parts):
        out += (draw(spaces) if i else "") + w
    return out + draw(st.sampled_from(["", " "]))


def _nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


def _config(config_dir, kind: str):
    config_dir.write("forms_config/entities/note.yaml", NOTE.format(kind=kind))
    return config_dir.load()


@pytest.fixture
def fold_db(config_dir, database_url):
    """The test configuration with a note entity (``search: fulltext``), migrated."""
    config = _config(config_dir, "fulltext")

    async def go():
        rt = await migrated_runtime(config, database_url)
        await rt.db.close()

    asyncio.run(go())
    return config, database_url


async def _runtime(config, url):
    from hoso.runtime import Runtime

    rt = Runtime.create(config, url)
    await rt.db.start()
    return rt


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(st.one_of(phrases(), phrases().map(_nfd)), min_size=1, max_size=30))
def test_sql_fold_is_python_fold(fold_db, texts):
    config, url = fold_db

    async def go():
        rt = await _runtime(config, url)
        try:
            for text in texts:
                assert await rt.db.fetchval("SELECT hoso_fold({}) AS f", text) == fold(text), repr(text)
        finally:
            await rt.db.close()

    asyncio.run(go())


def _queries(names: list[str]):
    """Queries drawn from the names' words (whole, cut, with or without diacritics, in another case) and random
    words."""
    name_words = [w for n in names for w in n.split()] or ["a"]
    cut = st.sampled_from(name_words).flatmap(lambda w: st.integers(1, len(w)).map(lambda k: w[:k]))
    variant = st.one_of(cut, cut.map(fold), cut.map(str.upper), words)
    return st.lists(variant, min_size=1, max_size=3).map(" ".join)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fulltext_search_is_the_word_prefix_oracle(fold_db, data):
    config, url = fold_db
    names = data.draw(st.lists(phrases(3), min_size=1, max_size=12), label="names")
    queries = data.draw(st.lists(_queries(names), min_size=1, max_size=6), label="queries")

    async def go():
        rt = await _runtime(config, url)
        try:
            # the records of this example only (ids are never reused: the history keeps them)
            start = {"id": {"gt": int(await rt.db.fetchval("SELECT COALESCE(MAX(id), 0) AS m FROM note"))}}
            svc = rt.records()
            ctx = RecordContext.system(rt.config)
            ids = {}
            for n in names:
                ids[(await svc.create("note", {"name": n}, ctx))["id"]] = n
            for q in queries:
                rows, _total = await svc.list("note", ctx, search=q, filters=start, page_size=1000)
                expected = {i for i, n in ids.items() if all(word_prefix(n, w) for w in fold(q).split()[:10])}
                assert {r["id"] for r in rows} == expected, (q, names)
                rows, _total = await svc.list("note", ctx, filters={**start, "name": {"starts": q}},
                                           page_size=1000)
                assert {r["id"] for r in rows} == {i for i, n in ids.items() if word_prefix(n, q)}, (q, names)
        finally:
            await rt.db.close()

    asyncio.run(go())


async def test_trigram_finds_anywhere_and_the_kind_change_rebuilds_the_index(config_dir, database_url):
    rt = await migrated_runtime(_config(config_dir, "trigram"), database_url)
    try:
        svc = rt.records()
        ctx = RecordContext.system(rt.config)
        for n in ("Nguyễn Văn An", "Trần Thị Bình", "Hoàng Nguyên"):
            await svc.create("note", {"name": n}, ctx)
        rows, _ = await svc.list("note", ctx, search="guyen")
        assert sorted(r["name"] for r in rows) == ["Hoàng Nguyên", "Nguyễn Văn An"]  # anywhere
        config = _config(config_dir, "fulltext")
        plan = await make_plan(rt.db, config, rt.registry)
        text = plan.render()
        assert "search index (fulltext: name)" in text and "drop search index (trigram: name)" in text, text
        plan, rt = await remigrate(rt, config)
        svc = rt.records()
        rows, _ = await svc.list("note", ctx, search="guyen")
        assert rows == []  # the start of a word only
        rows, _ = await svc.list("note", ctx, search="NGUYEN")
        assert sorted(r["name"] for r in rows) == ["Hoàng Nguyên", "Nguyễn Văn An"]
        await svc.create("note", {"name": "Nguyễn Thị Mới"}, ctx)  # written after the rebuild: found
        rows, _ = await svc.list("note", ctx, search="nguyen thi")
        assert [r["name"] for r in rows] == ["Nguyễn Thị Mới"]
        again = await make_plan(rt.db, config, rt.registry)
        assert not [c for c in again.changes if c.kind in ("add_index", "create_system_object")], again.render()
    finally:
        await rt.db.close()


async def test_plan_shows_the_fold_function_and_indexes(config_dir, database_url):
    from hoso.runtime import Runtime

    config = _config(config_dir, "trigram")
    rt = Runtime.create(config, database_url)
    await rt.db.start()
    try:
        text = (await make_plan(rt.db, config, rt.registry)).render()
        assert "fold index (PostgreSQL) ix_note_fold_name on (name)" in text
        assert ("create function hoso_fold" in text) == (not rt.db.is_sqlite)
    finally:
        await rt.db.close()
