"""A type conversion loses no write made between plan and apply, or during the apply (issue 8, item 15).

Writers go through a second connection, as another app process would. A write counts as acknowledged when
its statement returned; afterwards every acknowledged write must be in the table, converted.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

import pytest

from hoso.db import Database
from hoso.model.migrate import MigrationError, apply_plan, make_plan
from hoso.runtime import Runtime
from tests.helpers import migrated_runtime
from tests.model.test_migrate import PERSON

AS_INTEGER = PERSON.replace("age: {type: text,", "age: {type: integer, convert: {from: text},")


class Writer:
    """Updates and inserts people through its own connection, remembering what was acknowledged."""

    def __init__(self, url: str):
        self.db = Database.from_url(url)
        self.acked: dict[int, int | None] = {}  # id -> last acknowledged age

    async def _age_write(self, sql: str, age: int, *args):
        # The age goes in as a quoted literal, which both the text and the converted integer column accept
        # (a bound parameter is typed: PostgreSQL would refuse text for the integer column and vice versa).
        return await self.db.fetch(sql.replace("{age}", f"'{int(age)}'"), *args)

    async def update(self, rid: int, age: int) -> None:
        await self._age_write('UPDATE "person" SET "age" = {age} WHERE id = {}', age, rid)
        self.acked[rid] = age

    async def insert(self, age: int) -> int:
        rows = await self._age_write('INSERT INTO "person" ("age", "name") VALUES ({age}, {}) RETURNING id', age, "mới")
        self.acked[rows[0]["id"]] = age
        return rows[0]["id"]


async def ages(db: Database) -> dict[int, object]:
    return {r["id"]: r["age"] for r in await db.fetch('SELECT id, "age" FROM "person" ORDER BY id')}


async def seed(rt, n: int) -> list[int]:
    async with rt.db.transaction():
        await rt.db.executemany('INSERT INTO "person" ("name", "age") VALUES (?, ?)',
                                [(f"p{i}", str(i)) for i in range(n)])
    return sorted(await ages(rt.db))


@asynccontextmanager
async def planned_conversion(config_dir, database_url, rows: int):
    """``rows`` people with a text age, a writer on its own connection, and the plan converting age to integer."""
    config_dir.write("forms_config/entities/person.yaml", PERSON)
    rt = await migrated_runtime(config_dir.load(), database_url)
    writer = Writer(database_url)
    await writer.db.start()
    try:
        ids = await seed(rt, rows)
        config_dir.write("forms_config/entities/person.yaml", AS_INTEGER)
        new = Runtime.create(config_dir.load(), db=rt.db)
        plan = await make_plan(new.db, new.config, new.registry)
        assert plan.ok, plan.render()
        yield new, plan, writer, ids
    finally:
        await writer.db.close()
        await rt.db.close()


async def test_writes_between_plan_and_apply_and_during_apply_are_kept(config_dir, database_url):
    async with planned_conversion(config_dir, database_url, 3000) as (new, plan, writer, ids):
        # Between plan and apply: changed, created, and emptied rows.
        for k, rid in enumerate(ids[:50]):
            await writer.update(rid, 1000 + k)
        created = [await writer.insert(2000 + k) for k in range(20)]
        await writer.db.execute('UPDATE "person" SET "age" = NULL WHERE id = {}', ids[60])
        writer.acked[ids[60]] = None

        # During the apply: a writer keeps updating and inserting until a few writes after it finished.
        applied = asyncio.Event()

        async def keep_writing():
            k, after = 0, 0
            while after < 5:
                if applied.is_set():
                    after += 1
                k += 1
                if k % 3:
                    await writer.update(ids[100 + k % 500], 5000 + k)
                else:
                    await writer.insert(7000 + k)
                await asyncio.sleep(0.002)
            return k

        task = asyncio.create_task(keep_writing())
        await asyncio.sleep(0.02)
        await apply_plan(new.db, new.config, new.registry, plan, applied_by="test")
        applied.set()
        assert await task > 5

        stored = await ages(new.db)
        expected = dict(zip(ids, range(3000), strict=False))
        expected.update(writer.acked)
        assert set(stored) >= set(expected), "no row went missing"
        lost = {rid: (age, stored[rid]) for rid, age in expected.items() if stored[rid] != age}
        assert not lost, f"{len(lost)} acknowledged write(s) lost or not converted: {list(lost.items())[:5]}"
        assert all(stored[rid] is not None for rid in created)
        assert all(isinstance(v, int) for v in stored.values() if v is not None), "every value is converted"


async def test_unconvertible_value_written_after_the_plan_fails_the_apply(config_dir, database_url):
    async with planned_conversion(config_dir, database_url, 10) as (new, plan, writer, ids):
        states = await new.db.fetchval("SELECT COUNT(*) AS n FROM hoso_schema_state")
        await writer.db.execute('UPDATE "person" SET "age" = {} WHERE id = {}', "bảy", ids[3])
        bad = (await writer.db.fetch('INSERT INTO "person" ("name", "age") VALUES ({}, {}) RETURNING id',
                                     "x", "?"))[0]["id"]
        before = await ages(new.db)
        with pytest.raises(MigrationError) as exc:
            await apply_plan(new.db, new.config, new.registry, plan, applied_by="test")
        assert f"record ids: {ids[3]}, {bad}" in str(exc.value)
        assert "cannot be converted from text to integer" in str(exc.value)
        assert await ages(new.db) == before, "nothing changed"
        assert await new.db.fetchval("SELECT COUNT(*) AS n FROM hoso_schema_state") == states
        # The column is still text: a new plan sees the same conversion and the same problem.
        again = await make_plan(new.db, new.config, new.registry)
        assert again.errors and again.errors[0].record_ids == [ids[3], bad]


async def test_writer_is_held_off_between_the_apply_reading_and_writing_the_values(config_dir, database_url,
                                                                                      monkeypatch):
    """The race made deterministic: a write sent right after the apply read the values waits for the commit,
    then lands on the converted column; it is not overwritten by the value read before it."""
    from hoso.model import migrate

    async with planned_conversion(config_dir, database_url, 10) as (new, plan, writer, ids):
        converting = migrate._convert_values
        sent: list[asyncio.Task] = []
        finished_during_apply: list[bool] = []

        async def read_then_let_a_writer_in(*args, **kwargs):
            result = await converting(*args, **kwargs)
            task = asyncio.create_task(writer.update(ids[2], 4242))
            done, _ = await asyncio.wait({task}, timeout=0.5)
            finished_during_apply.append(bool(done))
            sent.append(task)
            return result

        monkeypatch.setattr(migrate, "_convert_values", read_then_let_a_writer_in)
        await apply_plan(new.db, new.config, new.registry, plan, applied_by="test")
        await asyncio.wait_for(sent[0], 30)
        assert finished_during_apply == [False], "the writer waited for the conversion to commit"
        assert (await ages(new.db))[ids[2]] == 4242
