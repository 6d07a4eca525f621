"""SQLite: the engine keeps a few idle connections for its statements and transactions instead of opening one per
statement (each opening read the whole schema again). What it keeps must behave as new connections did: a
connection whose statement or transaction failed is not kept, what one connection commits the others read, the
number kept is bounded, their threads never hold the process open, and ``Database.close`` closes them."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from hoso import db as hoso_db
from hoso.db import Database


@pytest.fixture
async def database(tmp_path):
    db = Database.from_url(f"sqlite:///{tmp_path / 'kept.db'}")
    await db.start()
    await db.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT UNIQUE)")
    try:
        yield db
    finally:
        await db.close()


async def test_statements_and_transactions_share_the_kept_connections(database):
    engine = database.engine
    await database.execute("INSERT INTO item (name) VALUES ({})", "a")
    kept = list(engine._idle)
    assert len(kept) == 1 and all(c._thread.daemon for c in kept)
    assert await database.fetchval("SELECT COUNT(*) AS n FROM item") == 1
    assert engine._idle == kept, "the same connection, taken and given back"
    async with database.transaction():
        await database.execute("INSERT INTO item (name) VALUES ({})", "b")
        assert engine._idle == []
    assert engine._idle == kept, "the transaction's connection is given back after its COMMIT"
    async with database.reading():
        assert await database.fetchval("SELECT COUNT(*) AS n FROM item") == 2


async def test_a_connection_whose_statement_failed_is_not_kept(database):
    engine = database.engine
    await database.execute("INSERT INTO item (name) VALUES ({})", "a")
    (first,) = engine._idle
    with pytest.raises(sqlite3.IntegrityError):
        await database.execute("INSERT INTO item (name) VALUES ({})", "a")
    assert first not in engine._idle and first._connection is None, "closed"
    with pytest.raises(ValueError):
        async with database.transaction():
            await database.execute("INSERT INTO item (name) VALUES ({})", "b")
            raise ValueError("the caller gives up")
    assert await database.fetchval("SELECT COUNT(*) AS n FROM item") == 1, "rolled back"
    (kept,) = engine._idle
    assert await database.fetchval("SELECT 1 AS one") == 1
    assert engine._idle == [kept], "a rolled-back connection is clean and kept"


async def test_what_one_connection_commits_the_others_read_and_no_more_are_kept_than_the_bound(database):
    engine = database.engine
    await asyncio.gather(*(database.execute("INSERT INTO item (name) VALUES ({})", f"n{i}") for i in range(12)))
    counts = await asyncio.gather(*(database.fetchval("SELECT COUNT(*) AS n FROM item") for _ in range(10)))
    assert counts == [12] * 10
    assert 1 <= len(engine._idle) <= hoso_db.SQLITE_KEPT_CONNECTIONS
    # a schema changed by another connection (here a plain sqlite3 one) is noticed by the kept ones
    path = database.url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as other:
        other.execute("ALTER TABLE item ADD COLUMN note TEXT")
        other.execute("UPDATE item SET note = 'x'")
    assert {r["note"] for r in await database.fetch("SELECT note FROM item")} == {"x"}
    kept = list(engine._idle)
    await database.close()
    assert engine._idle == [] and all(c._connection is None for c in kept)
