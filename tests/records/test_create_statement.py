"""A new record's number is held from the statement that takes it to COMMIT (codes are gap-free): on PostgreSQL
that statement also writes the row, its first version and the scope's answer, so that only the audit entry
follows it; SQLite, one writer at a time, takes the long way. Both give the same record, code and version."""

from __future__ import annotations

import asyncio

import pytest

from hoso.records.errors import ValidationError
from hoso.records.inserting import _digits_sql


def _recorded(monkeypatch, db) -> list[str]:
    seen: list[str] = []
    for name in ("fetch", "execute"):  # fetchval reads through fetch
        original = getattr(db, name)

        def wrapper(sql, *args, _original=original, **kwargs):
            seen.append(sql)
            return _original(sql, *args, **kwargs)

        monkeypatch.setattr(db, name, wrapper)
    return seen


async def test_a_new_records_number_is_held_for_one_statement_on_postgres(world, monkeypatch):
    w = world
    seen = _recorded(monkeypatch, w.rt.db)
    first = await w.svc.create("case", w.case(), w.ctx("staff"))
    taking = [i for i, sql in enumerate(seen) if "hoso_series" in sql]
    assert len(taking) == 1
    after = seen[taking[0] + 1:]
    if w.rt.db.kind == "postgres":
        statement = seen[taking[0]]
        assert 'INSERT INTO "case"' in statement and 'INSERT INTO "hoso_h_case"' in statement
        assert len(after) == 1 and "hoso_audit" in after[0]
    else:
        assert any('INSERT INTO "case"' in sql for sql in after)
        assert any("hoso_h_case" in sql for sql in after)
    monkeypatch.undo()
    second = await w.svc.create("case", w.case(requester="Trần Thị Bình"), w.ctx("staff"))
    assert [first["code"], second["code"]] == ["TT.TV.01.2025", "TT.TV.02.2025"]
    for record in (first, second):
        kept = await w.rt.db.fetch('SELECT code, requester, sys_valid_to FROM "hoso_h_case" WHERE id = {}',
                                   record["id"])
        assert [dict(r) for r in kept] == [{"code": record["code"], "requester": record["requester"],
                                            "sys_valid_to": None}]
    searched = await w.rt.db.fetchval('SELECT sys_search FROM "case" WHERE id = {}', second["id"])
    assert "tt.tv.02.2025" in searched.split() and "tran thi binh" in searched


async def test_a_creation_refused_by_the_scope_keeps_nothing_and_gives_its_number_back(world):
    w = world
    with pytest.raises(ValidationError) as refused:
        await w.svc.create("case", w.case(unit="TT3"), w.ctx("staff"))
    assert refused.value.problems == [("unit", "is outside the units you work for")]
    assert await w.count() == 0 and await w.count("hoso_h_case") == 0
    assert (await w.svc.create("case", w.case(unit="TT3"), w.ctx("other")))["code"] == "TT3.TV.01.2025"


@pytest.mark.one_engine
def test_only_numbers_padded_with_zeros_are_written_in_sql():
    assert _digits_sql("") == "n.v::text" and _digits_sql("d") is None
    assert "lpad(n.v::text, 5, '0')" in _digits_sql("05d") and "lpad(n.v::text, 2, '0')" in _digits_sql("02")
    for spec in (">5", "5", "x", "05x", ",", "+05"):
        assert _digits_sql(spec) is None, spec


async def test_concurrent_creators_of_one_series_get_consecutive_codes_refused_ones_none(world):
    """Twelve creations at once, eight in one series and four refused by the scope after taking the number of
    another: the eight have the codes 01 to 08, each once, each its own version; the other series gave its
    numbers back."""
    w = world
    staff, director = w.ctx("staff"), w.ctx("director")

    async def one(i: int):
        try:
            # "staff" works for TT only: its creations at TT3 are refused, after the number was taken
            ctx, unit = (staff, "TT3") if i % 3 == 0 else (director if i % 2 else staff, "TT")
            return await w.svc.create("case", w.case(unit=unit, requester=f"Người {i}"), ctx)
        except ValidationError as exc:
            return exc

    results = await asyncio.gather(*(one(i) for i in range(12)))
    kept = [r for r in results if isinstance(r, dict)]
    assert len(kept) == 8 and sum(isinstance(r, ValidationError) for r in results) == 4
    assert sorted(r["code"] for r in kept) == [f"TT.TV.{n:02}.2025" for n in range(1, 9)]
    versions = await w.rt.db.fetch('SELECT id, code FROM "hoso_h_case" ORDER BY id')
    assert sorted((v["id"], v["code"]) for v in versions) == sorted((r["id"], r["code"]) for r in kept)
    assert (await w.svc.create("case", w.case(unit="TT3"), w.ctx("other")))["code"] == "TT3.TV.01.2025"
