"""`hoso migrate` creates the history tables with their entities, evolves them with their columns (new fields,
renames, retired fields, type conversions: history keeps everything), and gives a database migrated before
history existed one version per record (both engines)."""

from __future__ import annotations

import datetime as dt

import hoso.records.store
from hoso.model.history import history_table
from hoso.model.migrate import apply_plan, make_plan
from hoso.records.service import RecordContext
from hoso.reports.source import records_source
from tests.helpers import migrated_runtime, remigrate
from tests.records.conftest import CASE, records_config  # noqa: F401 - fixture

HIST = history_table("case")


async def hist_columns(rt) -> list[str]:
    return await rt.db.column_names(HIST)


async def new_case(rt, **extra) -> dict:
    unit = await rt.db.fetchval("SELECT id FROM hoso_unit WHERE code = 'TT'")
    payload = {"received_on": "2025-03-03", "form_of_aid": "TV", "unit": unit, "requester": "An", "age": 30}
    payload.update(extra)
    return await rt.records().create("case", payload, RecordContext.system(rt.config, origin="test"))


async def test_plan_shows_the_history_tables_it_creates(records_config, database_url):  # noqa: F811
    from hoso.runtime import Runtime

    rt = Runtime.create(records_config.load(), database_url)
    await rt.db.start()
    try:
        plan = await make_plan(rt.db, rt.config, rt.registry)
        text = plan.render()
        assert f"create_history   case: create history table {HIST!r}" in text, text
        assert f"create history table {history_table('performer')!r}" in text
        assert f"create_history   case.hearings: create history table {history_table('case__hearings')!r}" in text
        await apply_plan(rt.db, rt.config, rt.registry, plan, applied_by="test")
        assert HIST in await rt.db.table_names()
        # Indexed for as-of reads: by time, and by record and time.
        assert {f"{HIST}_from", f"{HIST}_id_from", f"{HIST}_open"} <= await rt.db.index_names(HIST)
        again = await make_plan(rt.db, rt.config, rt.registry)
        assert not [c for c in again.changes if "history" in c.kind], again.render()
    finally:
        await rt.db.close()


async def test_history_follows_new_renamed_and_retired_fields(records_config, database_url):  # noqa: F811
    rt = await migrated_runtime(records_config.load(), database_url)
    try:
        ctx = RecordContext.system(rt.config, origin="test")
        rec = await new_case(rt, note="ghi chú")
        before_add = dt.datetime.now(dt.UTC)
        # Fields added after records exist: the history gains their columns; earlier versions hold NULL.
        added = "  district: {type: text, label: {vi: Huyện}}\n  ward: {type: text, label: {vi: Phường}}\n"
        records_config.write("forms_config/entities/case.yaml", CASE.replace(
            "  note: {type: long_text,", added + "  note: {type: long_text,"))
        plan, rt2 = await remigrate(rt, records_config.load())
        assert ("add_field", "district") in [(c.kind, c.field) for c in plan.changes], plan.render()
        assert {"district", "ward"} <= set(await hist_columns(rt))
        rec = await rt2.records().update("case", rec["id"], {"district": "Ba Đình", "ward": "Kim Mã"},
                                         rec["sys_version"], ctx)
        rows = await rt.db.fetch(f'SELECT district, ward FROM "{HIST}" WHERE id = {{}} ORDER BY sys_history_id',
                                 rec["id"])
        assert [(r["district"], r["ward"]) for r in rows] == [(None, None), ("Ba Đình", "Kim Mã")]
        src, args = await records_source(rt2, rt2.config.entity("case"), before_add)
        old = await rt.db.fetch(f"SELECT t.district, t.note FROM {src} t WHERE t.id = {{}}", *args, rec["id"])
        assert [(r["district"], r["note"]) for r in old] == [(None, "ghi chú")]

        # A rename: the history's column is renamed with it, its values kept.
        renamed = added.replace("  ward: {type: text,", "  commune: {type: text, renamed_from: ward,")
        records_config.write("forms_config/entities/case.yaml", CASE.replace(
            "  note: {type: long_text,", renamed + "  note: {type: long_text,"))
        plan, rt3 = await remigrate(rt2, records_config.load())
        assert ("rename_field", "commune") in [(c.kind, c.field) for c in plan.changes], plan.render()
        cols = await hist_columns(rt)
        assert "commune" in cols and "ward" not in cols
        assert [r["commune"] for r in await rt.db.fetch(
            f'SELECT commune FROM "{HIST}" WHERE id = {{}} ORDER BY sys_history_id', rec["id"])] == [None, "Kim Mã"]

        # A retired field: the column stays in both tables, and versions still copy it.
        records_config.write("forms_config/entities/case.yaml", CASE.replace(
            "  note: {type: long_text,", renamed.split("\n")[1] + "\n  note: {type: long_text,"))
        plan, rt4 = await remigrate(rt3, records_config.load())
        assert ("retire_field", "district") in [(c.kind, c.field) for c in plan.changes], plan.render()
        rec = await rt4.records().update("case", rec["id"], {"age": 44}, rec["sys_version"], ctx)
        last = await rt.db.fetch(f'SELECT district, age FROM "{HIST}" WHERE id = {{}} AND sys_valid_to IS NULL',
                                 rec["id"])
        assert [(r["district"], r["age"]) for r in last] == [("Ba Đình", 44)]
    finally:
        await rt.db.close()


async def test_a_conversion_keeps_the_earlier_values_in_history(records_config, database_url):  # noqa: F811
    members = "  members: {type: integer, label: {vi: Số người}}\n"
    records_config.write("forms_config/entities/case.yaml", CASE.replace("  note: {type: long_text,",
                                                                         members + "  note: {type: long_text,"))
    rt = await migrated_runtime(records_config.load(), database_url)
    try:
        ctx = RecordContext.system(rt.config, origin="test")
        rec = await new_case(rt, members=42)
        records_config.write("forms_config/entities/case.yaml", CASE.replace(
            "  note: {type: long_text,", members.replace("type: integer,", "type: text, convert: {from: integer},")
            + "  note: {type: long_text,"))
        plan, rt2 = await remigrate(rt, records_config.load())
        assert ("convert_field", "members") in [(c.kind, c.field) for c in plan.changes], plan.render()
        cols = await hist_columns(rt)
        assert "members" in cols and "members__integer" in cols
        rec = await rt2.records().update("case", rec["id"], {"members": "bốn mươi"}, rec["sys_version"], ctx)
        rows = await rt.db.fetch(f'SELECT members, members__integer FROM "{HIST}" WHERE id = {{}} '
                                 "ORDER BY sys_history_id", rec["id"])
        assert [(r["members"], r["members__integer"]) for r in rows] == [(None, 42), ("bốn mươi", None)]
    finally:
        await rt.db.close()


async def test_a_database_migrated_before_history_gets_a_version_per_record(records_config, database_url,  # noqa: F811
                                                                             monkeypatch):
    rt = await migrated_runtime(records_config.load(), database_url)
    try:
        ctx = RecordContext.system(rt.config, origin="test")
        live = await new_case(rt, requester="Live")
        gone = await new_case(rt, requester="Gone")
        gone = await rt.records().delete("case", gone["id"], "trùng", gone["sys_version"], ctx)
        await rt.db.execute(f'DROP TABLE "{HIST}"')  # as before history existed
        rt2 = type(rt).create(records_config.load(), db=rt.db)
        # Writes before the migration go on without a history.
        await rt2.records().update("case", live["id"], {"age": 31}, live["sys_version"], ctx)
        plan = await make_plan(rt2.db, rt2.config, rt2.registry)
        [change] = [c for c in plan.changes if c.kind == "create_history"]
        assert change.table == "case" and change.rows == 2, plan.render()
        await apply_plan(rt2.db, rt2.config, rt2.registry, plan, applied_by="test")
        rows = await rt.db.fetch(f'SELECT id, requester, age, sys_deleted_at, sys_valid_from, sys_valid_to FROM '
                                 f'"{HIST}" ORDER BY id, sys_valid_from')
        by_id: dict[int, list] = {}
        for r in rows:
            by_id.setdefault(r["id"], []).append(r)
        assert [(r["age"], r["sys_valid_to"]) for r in by_id[live["id"]]] == [(31, None)]
        # The deleted record: live from its creation to its deletion, then deleted.
        assert [r["sys_deleted_at"] is not None for r in by_id[gone["id"]]] == [False, True]
        assert by_id[gone["id"]][0]["sys_valid_to"] == by_id[gone["id"]][1]["sys_valid_from"]
        entity = rt2.config.entity("case")
        src, args = await records_source(rt2, entity, gone["sys_deleted_at"] - dt.timedelta(microseconds=1))
        then = await rt.db.fetch(f"SELECT t.id, t.sys_deleted_at FROM {src} t ORDER BY t.id", *args)
        assert [(r["id"], r["sys_deleted_at"]) for r in then] == [(live["id"], None), (gone["id"], None)]
        # The next write, once the running process looks again, closes the first version.
        monkeypatch.setattr(hoso.records.store, "HISTORY_RECHECK_SECONDS", 0.0)
        rec = await rt2.records().get("case", live["id"], ctx)
        await rt2.records().update("case", live["id"], {"age": 32}, rec["sys_version"], ctx)
        assert await rt.db.fetchval(f'SELECT COUNT(*) AS n FROM "{HIST}" WHERE id = {{}}', live["id"]) == 2
    finally:
        await rt.db.close()
