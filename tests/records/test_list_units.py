"""A page of a user whose scope is a few units is read unit by unit (one range of the list index per unit, merged
in the list's order): its pages, by number and by cursor, are exactly those of a sort in plain Python of the rows
the user may read, and its count is theirs; on both engines."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import examples
from tests.records.test_list_pages import cursor_ids, make_world, row_strategy, write_config

# The orders the list indexes serve (list.sort -day, sortable day, name, score), the id breaking ties; names are
# left out of the oracle's orders (the database's collation is not Python's).
ORDERS = [None, ["-day"], ["day"], ["score"], ["-score"], ["-day", "-id"]]


@pytest.fixture
def units_world(tmp_path, database_url):
    root = write_config(tmp_path / "config")

    async def setup():
        w = await make_world(root, database_url)
        await w.add_user("province", ("staff", "P01"))  # P01, TT and TT2: three units
        await w.add_user("staff", ("staff", "TT"))  # one unit: read in one go
        await w.rt.db.close()
        return w.users

    return root, database_url, asyncio.run(setup())


def _oracle(rows: list[dict], keys: list[str], nulls_high: bool) -> list[int]:
    """The ids of ``rows`` in the order of ``keys`` (then the id, in the first key's direction), NULLs where the
    engine puts them (PostgreSQL: last in ascending order; SQLite: first)."""
    keys = [*keys, ("-id" if keys[0].startswith("-") else "id")] if keys[-1].lstrip("-") != "id" else keys
    out = list(rows)
    for key in reversed(keys):
        name, desc = key.lstrip("-"), key.startswith("-")
        out.sort(key=lambda r, n=name: ((r[n] is None) == nulls_high, r[n] if r[n] is not None else 0),
                 reverse=desc)
    return [r["id"] for r in out]


class Statements:
    def __init__(self, engine, monkeypatch):
        self.seen: list[str] = []
        cls = type(engine)
        original = cls.run_querystring
        seen = self.seen

        async def run_querystring(self, querystring, *args, **kwargs):
            if self is engine:
                seen.append(str(querystring))
            return await original(self, querystring, *args, **kwargs)

        monkeypatch.setattr(cls, "run_querystring", run_querystring)


@settings(max_examples=examples(25), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(row_strategy, max_size=30), order=st.sampled_from(ORDERS), size=st.integers(1, 6),
       kind=st.sampled_from([None, "TV"]), deleted=st.sets(st.integers(0, 29), max_size=4))
def test_a_page_read_unit_by_unit_is_the_plain_sort_of_the_visible_rows(units_world, rows, order, size, kind,
                                                                        deleted):
    root, url, users = units_world

    async def run():
        w = await make_world(root, url)
        w.users = users
        try:
            ids = await w.load(rows)
            gone = [ids[i] for i in sorted(deleted) if i < len(ids)]
            for record_id in gone:
                await w.rt.db.execute('UPDATE "item" SET sys_deleted_at = {} WHERE id = {}',
                                      dt.datetime(2026, 1, 2, tzinfo=dt.UTC), record_id)
            mine = {w.units[u] for u in ("P01", "TT", "TT2")}
            stored = [dict(r) for r in await w.rt.db.fetch('SELECT id, day, score, kind, unit FROM "item"')]
            visible = [r for r in stored if r["unit"] in mine and r["id"] not in gone
                       and (kind is None or r["kind"] == kind)]
            keys = order or ["-day"]  # the entity's list.sort
            expected = _oracle(visible, keys, nulls_high=not w.rt.db.is_sqlite)
            ctx = w.ctx("province")
            filters = {"kind": kind} if kind else None
            offset, page = [], 1
            while True:
                got = await w.svc.list_page("item", ctx, sort=order, filters=filters, page=page, page_size=size,
                                            count="exact")
                assert got.total == len(expected)
                if not got.items:
                    break
                offset += [r["id"] for r in got.items]
                page += 1
            by_cursor = await cursor_ids(w, ctx, len(rows) + 2, sort=order, filters=filters, page_size=size)
            assert offset == expected, (keys, size)
            assert by_cursor == expected, (keys, size)
        finally:
            await w.rt.db.close()

    asyncio.run(run())


async def test_only_a_scope_of_several_units_in_an_indexed_order_is_read_unit_by_unit(units_world, monkeypatch):
    root, url, users = units_world
    w = await make_world(root, url)
    w.users = users
    try:
        await w.load([{"name": "An", "day": dt.date(2025, 1, d), "unit": u} for d in (1, 2) for u in ("TT", "TT2")])
        seen = Statements(w.rt.db.engine, monkeypatch).seen

        async def merged(ctx, **kw) -> bool:
            seen.clear()
            page = await w.svc.list_page("item", ctx, **kw)
            assert page.items
            [statement] = [s for s in seen if '"item"' in s and "ORDER BY" in s]
            return "UNION ALL" in statement

        assert await merged(w.ctx("province"))
        assert await merged(w.ctx("province"), sort="score", filters={"name": {"starts": "an"}})
        assert await merged(w.ctx("province"), sort="-day", page=2, page_size=1)
        assert not await merged(w.ctx("staff")), "one unit is one range already"
        assert not await merged(w.ctx()), "a superuser's scope names no unit"
        assert not await merged(w.ctx("province"), sort="kind"), "no list index orders by kind"
        assert not await merged(w.ctx("province"), sort=["day", "-score"]), "mixed directions"
        assert not await merged(w.ctx("province"), search="an"), "a search reads the search index"
    finally:
        await w.rt.db.close()
