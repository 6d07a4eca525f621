"""Plugin system tables declare indexes: ``hoso plan`` lists a missing one, ``hoso migrate`` creates it (also on a
table that exists already); the period-lock table is indexed for the write guard, which runs one statement per
write whatever the number of locks (one more to name the unit of a refusal), on both engines."""

from __future__ import annotations

import datetime as dt

import pytest
from piccolo.columns import Integer, Varchar

from hoso.hookspecs import hookimpl
from hoso.plugin_manager import PluginError
from hoso.plugin_types import SystemTable, system_index_name
from hoso.records.bulk import BatchInvalid
from hoso.records.service import RecordContext, ValidationError
from hoso.runtime import Runtime
from tests.helpers import migrated_runtime, remigrate


class Indexed:
    def __init__(self, indexes):
        self.indexes = indexes

    @hookimpl
    def hoso_system_tables(self):
        return [SystemTable("hoso_test_tally", lambda: {"kind": Varchar(length=20), "n": Integer()},
                            indexes=self.indexes)]


async def test_a_declared_index_is_planned_and_created_also_on_an_existing_table(config_dir, database_url):
    rt = await migrated_runtime(config_dir.load(), database_url, plugins=[Indexed(())])
    try:
        assert "hoso_test_tally" in await rt.db.table_names()
        lock_ix = system_index_name("hoso_period_lock", ("entity", "date_field", "unit_id", "period_start"))
        assert lock_ix in await rt.db.index_names("hoso_period_lock")
        plan, rt2 = await remigrate(rt, config_dir.root, plugins=[Indexed((("kind", "n"),))])
        name = system_index_name("hoso_test_tally", ("kind", "n"))
        added = [c for c in plan.changes if c.kind == "add_system_index"]
        assert [(c.table, c.data["name"], c.data["columns"]) for c in added] == [("hoso_test_tally", name,
                                                                                  ["kind", "n"])]
        assert f"index {name} on (kind, n)" in plan.render()
        assert name in await rt.db.index_names("hoso_test_tally")
        plan, _rt3 = await remigrate(rt2, config_dir.root, plugins=[Indexed((("kind", "n"),))])
        assert not [c for c in plan.changes if c.kind == "add_system_index"]  # once
    finally:
        await rt.db.close()


def test_an_index_on_an_unknown_column_stops_start_up(config_dir):
    with pytest.raises(PluginError) as exc:
        _ = Runtime.create(config_dir.load(), "sqlite:///:memory:", plugins=[Indexed((("kind", "colour"),))]).tables
    assert "hoso_test_tally" in str(exc.value) and "colour" in str(exc.value)


def test_long_index_names_fit_postgresql():
    name = system_index_name("hoso_" + "x" * 60, ("a" * 30, "b" * 30))
    assert len(name) <= 63 and name != system_index_name("hoso_" + "x" * 60, ("a" * 30, "c" * 30))


async def test_the_guard_runs_one_statement_per_write_whatever_the_locks(config_dir, database_url, monkeypatch):
    from hoso.plugins import period_lock

    rt = await migrated_runtime(config_dir.load(), database_url)
    try:
        units = {r["code"]: int(r["id"]) for r in await rt.db.fetch("SELECT id, code FROM hoso_unit")}
        now = dt.datetime.now(dt.UTC)
        async with rt.db.transaction():
            for i in range(25):  # the years 2000-2024, then the first half of 2025
                start = dt.date(2000 + i, 1, 1)
                await rt.db.execute(
                    "INSERT INTO hoso_period_lock (submission_id, entity, date_field, unit_id, period, period_start, "
                    "period_end, locked_at, locked_by) VALUES (0, 'case', 'received_on', {}, {}, {}, {}, {}, 'x')",
                    units["TT"], str(start.year), start, dt.date(2000 + i, 12, 31), now)
            await rt.db.execute(
                "INSERT INTO hoso_period_lock (submission_id, entity, date_field, unit_id, period, period_start, "
                "period_end, locked_at, locked_by) VALUES (0, 'case', 'received_on', {}, '2025-H1', {}, {}, {}, "
                "'x')", units["TT"], dt.date(2025, 1, 1), dt.date(2025, 6, 30), now)
        statements = []
        for name in ("fetch", "fetchval", "execute"):
            original = getattr(rt.db, name)

            def counted(sql, *args, _original=original):
                statements.append(sql)
                return _original(sql, *args)

            monkeypatch.setattr(rt.db, name, counted)
        entity = rt.config.entity("case")
        ctx = RecordContext.system(rt.config)
        free = {"unit": units["TT"], "received_on": dt.date(2025, 7, 2)}
        assert await period_lock.hoso_write_guard(entity=entity, action="update", before=free, after=free,
                                                  context=ctx, db=rt.db) is None
        assert len(statements) == 1
        statements.clear()
        inside = {**free, "received_on": dt.date(2025, 3, 3)}
        problems = await period_lock.hoso_write_guard(entity=entity, action="update", before=free, after=inside,
                                                      context=ctx, db=rt.db)
        assert len(statements) == 2 and [f for f, _m in problems] == ["received_on"]  # the second names the unit
        assert "03/03/2025" in problems[0][1] and "2025-H1" in problems[0][1]
        statements.clear()
        assert await period_lock.hoso_write_guard(entity=entity, action="update", before={"unit": units["TT"]},
                                                  after=None, context=ctx, db=rt.db) is None
        assert statements == []  # a record with no date: nothing to read
        monkeypatch.undo()
        # through the record service: a case of a locked day is refused, the next day's is not
        svc = rt.records()
        body = {"form_of_aid": "TV", "requester": "Nguyễn Văn An", "unit": units["TT"]}
        with pytest.raises(ValidationError):
            await svc.create("case", {**body, "received_on": "2025-06-30"}, ctx)
        await svc.create("case", {**body, "received_on": "2025-07-01"}, ctx)
    finally:
        await rt.db.close()


async def test_a_batch_asks_the_lock_table_once_while_no_lock_holds(config_dir, database_url, monkeypatch):
    """``create_many`` (an import's batches): the guard reads which date fields have a lock once for the batch, not
    once per record; a lock then found is still applied to each record."""
    rt = await migrated_runtime(config_dir.load(), database_url)
    try:
        units = {r["code"]: int(r["id"]) for r in await rt.db.fetch("SELECT id, code FROM hoso_unit")}
        svc, ctx = rt.records(), RecordContext.system(rt.config)
        body = {"form_of_aid": "TV", "requester": "Nguyễn Văn An", "unit": units["TT"]}
        statements: list[str] = []
        original = rt.db.fetch

        def counted(sql, *args):
            statements.append(sql)
            return original(sql, *args)

        monkeypatch.setattr(rt.db, "fetch", counted)
        created = await svc.create_many("case", [{**body, "received_on": f"2025-03-{d:02d}"} for d in range(1, 21)],
                                        ctx)
        assert len(created) == 20
        assert len([s for s in statements if "hoso_period_lock" in s]) == 1, statements
        monkeypatch.undo()
        await rt.db.execute(
            "INSERT INTO hoso_period_lock (submission_id, entity, date_field, unit_id, period, period_start, "
            "period_end, locked_at, locked_by) VALUES (0, 'case', 'received_on', {}, '2025-Q1', {}, {}, {}, 'x')",
            units["TT"], dt.date(2025, 1, 1), dt.date(2025, 3, 31), dt.datetime.now(dt.UTC))
        with pytest.raises(BatchInvalid) as refused:
            await svc.create_many("case", [{**body, "received_on": "2025-04-01"},
                                           {**body, "received_on": "2025-03-31"}], ctx)
        assert list(refused.value.rows) == [1]
    finally:
        await rt.db.close()
