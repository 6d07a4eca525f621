"""Plan and migrate, with data present before and after each kind of change, on both engines."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import pytest

from hoso.model.migrate import MigrationError, applied_state, apply_plan, make_plan
from hoso.records.service import RecordContext, ValidationError
from hoso.runtime import Runtime
from tests.helpers import migrated_runtime, remigrate

PERSON = """
entity: person
label: {vi: Người}
fields:
  name: {type: text, required: true, label: {vi: Tên}}
  age: {type: text, label: {vi: Tuổi}}
  phone: {type: text, label: {vi: Điện thoại}}
"""


def kinds(plan):
    return [(c.kind, c.table, c.field) for c in plan.changes if not c.kind.startswith(("create_system", "add_system"))]


async def add_people(rt, rows):
    svc = rt.records()
    ctx = RecordContext(rt.config, origin="test", superuser=True)
    return [(await svc.create("person", r, ctx))["id"] for r in rows]


async def column_values(rt, table, column):
    rows = await rt.db.fetch(f'SELECT id, "{column}" AS v FROM "{table}" ORDER BY id')
    return [r["v"] for r in rows]


@pytest.fixture
def person_config(config_dir):
    config_dir.write("forms_config/entities/person.yaml", PERSON)
    return config_dir


async def test_fresh_database_is_created_and_recorded(config_dir, database_url):
    rt = await migrated_runtime(config_dir.load(), database_url)
    try:
        tables = await rt.db.table_names()
        assert {"case", "hoso_unit", "hoso_user", "hoso_audit", "hoso_series", "hoso_schema_state"} <= tables
        cols = await rt.db.column_names("case")
        assert {"id", "code", "received_on", "form_of_aid", "unit", "sys_version", "sys_deleted_at"} <= set(cols)
        state = await applied_state(rt.db)
        assert state["content_hash"] == rt.config.content_hash
        assert state["applied_by"] == "test"
        again = await make_plan(rt.db, rt.config, rt.registry)
        assert again.changes == [] and again.ok
        # the unique index for the naming series column and the org unit index exist
        assert "ix_case_unit" in await rt.db.index_names("case")
    finally:
        await rt.db.close()


async def test_add_nullable_field_keeps_rows(person_config, database_url):
    rt = await migrated_runtime(person_config.load(), database_url)
    try:
        ids = await add_people(rt, [{"name": "An"}, {"name": "Bình"}])
        person_config.write("forms_config/entities/person.yaml", PERSON + "  email: {type: email, label: {vi: Thư}}\n")
        plan, rt2 = await remigrate(rt, person_config.load())
        assert ("add_field", "person", "email") in kinds(plan)
        assert await column_values(rt, "person", "name") == ["An", "Bình"]
        assert await column_values(rt, "person", "email") == [None, None]
        rec = await rt2.records().create("person", {"name": "Chi", "email": "chi@example.vn"},
                                         RecordContext.system(rt2.config))
        assert rec["email"] == "chi@example.vn" and rec["id"] > max(ids)
    finally:
        await rt.db.close()


async def test_added_field_with_default_fills_existing_rows(person_config, database_url):
    rt = await migrated_runtime(person_config.load(), database_url)
    try:
        await add_people(rt, [{"name": "An"}, {"name": "Bình"}])
        person_config.write("forms_config/entities/person.yaml",
                            PERSON + "  active: {type: boolean, default: true, label: {vi: Còn hoạt động}}\n")
        plan, _ = await remigrate(rt, person_config.load())
        change = next(c for c in plan.changes if c.field == "active")
        assert change.rows == 2 and "default" in change.detail
        assert [bool(v) for v in await column_values(rt, "person", "active")] == [True, True]
    finally:
        await rt.db.close()


async def test_declared_rename_keeps_data(person_config, database_url):
    rt = await migrated_runtime(person_config.load(), database_url)
    try:
        await add_people(rt, [{"name": "An", "phone": "0912345678"}])
        person_config.write("forms_config/entities/person.yaml", PERSON.replace(
            "  phone: {type: text, label: {vi: Điện thoại}}",
            "  mobile: {type: text, renamed_from: phone, label: {vi: Di động}}"))
        plan, rt2 = await remigrate(rt, person_config.load())
        assert kinds(plan) == [("rename_field", "person", "mobile")]
        assert "phone" not in await rt.db.column_names("person")
        assert await column_values(rt, "person", "mobile") == ["0912345678"]
        # The YAML still says renamed_from: applying again changes nothing.
        again = await make_plan(rt2.db, rt2.config, rt2.registry)
        assert kinds(again) == []
    finally:
        await rt.db.close()


async def test_removed_field_is_retired_and_restored_with_its_data(person_config, database_url):
    rt = await migrated_runtime(person_config.load(), database_url)
    try:
        await add_people(rt, [{"name": "An", "phone": "0912345678"}])
        without_phone = PERSON.replace("  phone: {type: text, label: {vi: Điện thoại}}\n", "")
        person_config.write("forms_config/entities/person.yaml", without_phone)
        plan, rt2 = await remigrate(rt, person_config.load())
        assert kinds(plan) == [("retire_field", "person", "phone")]
        assert "phone" in await rt.db.column_names("person"), "a retired field keeps its column"
        assert await column_values(rt, "person", "phone") == ["0912345678"]
        rec = await rt2.records().get("person", 1)
        assert "phone" not in rec, "a retired field is hidden"
        state = await applied_state(rt.db)
        assert state["snapshot"]["tables"]["person"]["fields"]["phone"]["retired"] is True
        # Writing with the retired field is refused like any unknown field.
        with pytest.raises(ValidationError) as exc:
            await rt2.records().create("person", {"name": "Bình", "phone": "1"}, RecordContext.system(rt2.config))
        assert exc.value.problems[0][0] == "phone"
        person_config.write("forms_config/entities/person.yaml", PERSON)
        plan, rt3 = await remigrate(rt2, person_config.load())
        assert kinds(plan) == [("restore_field", "person", "phone")]
        assert (await rt3.records().get("person", 1))["phone"] == "0912345678"
    finally:
        await rt.db.close()


async def test_removed_entity_is_retired_with_its_table(person_config, database_url):
    rt = await migrated_runtime(person_config.load(), database_url)
    try:
        await add_people(rt, [{"name": "An"}])
        person_config.remove("forms_config/entities/person.yaml")
        plan, _ = await remigrate(rt, person_config.load())
        assert kinds(plan) == [("retire_table", "person", None)]
        assert plan.changes[-1].rows == 1
        assert "person" in await rt.db.table_names()
        person_config.write("forms_config/entities/person.yaml", PERSON)
        plan, rt3 = await remigrate(rt, person_config.load())
        assert ("restore_table", "person", None) in kinds(plan)
        assert (await rt3.records().get("person", 1))["name"] == "An"
    finally:
        await rt.db.close()


async def test_type_change_needs_a_declared_conversion(person_config, database_url):
    rt = await migrated_runtime(person_config.load(), database_url)
    try:
        await add_people(rt, [{"name": "An", "age": "41"}])
        person_config.write("forms_config/entities/person.yaml",
                            PERSON.replace("age: {type: text,", "age: {type: integer,"))
        new = Runtime.create(person_config.load(), db=rt.db)
        plan = await make_plan(new.db, new.config, new.registry)
        assert not plan.ok
        assert "convert: {from: text}" in str(plan.errors[0]) and plan.errors[0].field == "age"
        with pytest.raises(MigrationError):
            await apply_plan(new.db, new.config, new.registry, plan)
        person_config.write("forms_config/entities/person.yaml",
                            PERSON.replace("age: {type: text,", "age: {type: integer, convert: {from: date},"))
        new = Runtime.create(person_config.load(), db=rt.db)
        plan = await make_plan(new.db, new.config, new.registry)
        assert "convert.from says date but the stored type is text" in str(plan.errors[0])
    finally:
        await rt.db.close()


async def test_conversion_rewrites_values(person_config, database_url):
    rt = await migrated_runtime(person_config.load(), database_url)
    try:
        await add_people(rt, [{"name": "An", "age": "41"}, {"name": "Bình", "age": " 7 "}, {"name": "Chi"}])
        person_config.write("forms_config/entities/person.yaml",
                            PERSON.replace("age: {type: text,",
                                           "age: {type: integer, index: true, convert: {from: text},"))
        plan, rt2 = await remigrate(rt, person_config.load())
        assert ("convert_field", "person", "age") in kinds(plan)
        assert await column_values(rt, "person", "age") == [41, 7, None]
        rec = await rt2.records().create("person", {"name": "Dũng", "age": 30}, RecordContext.system(rt2.config))
        assert rec["age"] == 30
        # Typed column: integer comparison works in SQL.
        n = await rt.db.fetchval('SELECT COUNT(*) AS n FROM "person" WHERE "age" > {}', 10)
        assert n == 2
        assert "ix_person_age" in await rt.db.index_names("person")
    finally:
        await rt.db.close()


async def test_failed_conversion_changes_nothing_and_names_the_rows(person_config, database_url):
    rt = await migrated_runtime(person_config.load(), database_url)
    try:
        ids = await add_people(rt, [{"name": "An", "age": "41"}, {"name": "Bình", "age": "bảy"},
                                    {"name": "Chi", "age": "12"}, {"name": "Dũng", "age": "1.5"}])
        states_before = await rt.db.fetchval("SELECT COUNT(*) AS n FROM hoso_schema_state")
        cols_before = await rt.db.column_names("person")
        person_config.write("forms_config/entities/person.yaml",
                            PERSON.replace("age: {type: text,", "age: {type: integer, convert: {from: text},")
                            + "  email: {type: email, label: {vi: Thư}}\n")
        new = Runtime.create(person_config.load(), db=rt.db)
        plan = await make_plan(new.db, new.config, new.registry)
        assert not plan.ok
        err = plan.errors[0]
        assert err.field == "age" and err.record_ids == [ids[1], ids[3]]
        assert f"record ids: {ids[1]}, {ids[3]}" in str(err)
        with pytest.raises(MigrationError):
            await apply_plan(new.db, new.config, new.registry, plan)
        assert await rt.db.column_names("person") == cols_before, "no column was added"
        assert await column_values(rt, "person", "age") == ["41", "bảy", "12", "1.5"]
        assert await rt.db.fetchval("SELECT COUNT(*) AS n FROM hoso_schema_state") == states_before
    finally:
        await rt.db.close()


async def test_error_midway_rolls_back_every_change(person_config, database_url):
    """A failure during apply leaves the earlier steps undone."""
    rt = await migrated_runtime(person_config.load(), database_url)
    try:
        await add_people(rt, [{"name": "An"}])
        person_config.write("forms_config/entities/person.yaml",
                            PERSON + "  email: {type: email, label: {vi: Thư}}\n")
        new = Runtime.create(person_config.load(), db=rt.db)
        plan = await make_plan(new.db, new.config, new.registry)
        # Sabotage: renaming a column that does not exist fails inside the transaction, after the add.
        from hoso.model.migrate import Change

        plan.changes.append(Change("rename_field", "person", "broken", field="zzz", data={"old": "nope"}))
        with pytest.raises(MigrationError):
            await apply_plan(new.db, new.config, new.registry, plan)
        assert "email" not in await rt.db.column_names("person")
    finally:
        await rt.db.close()


async def test_same_storage_conversion_checks_values(person_config, database_url):
    rt = await migrated_runtime(person_config.load(), database_url)
    try:
        ids = await add_people(rt, [{"name": "An", "phone": "0912 345 678"}, {"name": "Bình", "phone": "gọi sau"}])
        changed = PERSON.replace("phone: {type: text,", "phone: {type: phone, convert: {from: text},")
        person_config.write("forms_config/entities/person.yaml", changed)
        new = Runtime.create(person_config.load(), db=rt.db)
        plan = await make_plan(new.db, new.config, new.registry)
        assert plan.errors and plan.errors[0].record_ids == [ids[1]]
        await rt.db.execute('UPDATE "person" SET "phone" = NULL WHERE id = {}', ids[1])
        plan, _ = await remigrate(rt, person_config.load())
        assert await column_values(rt, "person", "phone") == ["0912345678", None]
    finally:
        await rt.db.close()


async def test_mapped_conversion(config_dir, database_url):
    config_dir.write("forms_config/entities/person.yaml", PERSON + "  poor: {type: text, label: {vi: Hộ nghèo}}\n")
    rt = await migrated_runtime(config_dir.load(), database_url)
    try:
        await add_people(rt, [{"name": "An", "poor": "có"}, {"name": "Bình", "poor": "không"}, {"name": "Chi"}])
        config_dir.write("forms_config/entities/person.yaml", PERSON + (
            "  poor: {type: boolean, label: {vi: Hộ nghèo},"
            " convert: {from: text, map: {'có': true, 'không': false}}}\n"))
        plan, _ = await remigrate(rt, config_dir.load())
        assert plan.ok, plan.render()
        stored = await column_values(rt, "person", "poor")
        assert [None if v is None else bool(v) for v in stored] == [True, False, None]
    finally:
        await rt.db.close()


async def test_unique_index_refused_while_duplicates_exist(person_config, database_url):
    rt = await migrated_runtime(person_config.load(), database_url)
    try:
        ids = await add_people(rt, [{"name": "An", "phone": "1"}, {"name": "Bình", "phone": "1"},
                                    {"name": "Chi", "phone": "2"}])
        person_config.write("forms_config/entities/person.yaml",
                            PERSON.replace("phone: {type: text,", "phone: {type: text, unique: true,"))
        new = Runtime.create(person_config.load(), db=rt.db)
        plan = await make_plan(new.db, new.config, new.registry)
        assert plan.errors and plan.errors[0].record_ids == ids[:2]
        await rt.db.execute('UPDATE "person" SET "phone" = {} WHERE id = {}', "3", ids[1])
        plan, rt2 = await remigrate(rt, person_config.load())
        assert ("add_index", "person", None) in kinds(plan)
        assert "ux_person_phone" in await rt.db.index_names("person")
        with pytest.raises(ValidationError) as exc:
            await rt2.records().create("person", {"name": "Dũng", "phone": "2"}, RecordContext.system(rt2.config))
        assert exc.value.problems[0][0] == "phone"
        # Taking the constraint away drops the index again.
        person_config.write("forms_config/entities/person.yaml", PERSON)
        plan, _ = await remigrate(rt2, person_config.load())
        assert [c.kind for c in plan.changes] == ["drop_index"]
        assert "ux_person_phone" not in await rt.db.index_names("person")
    finally:
        await rt.db.close()


async def test_child_table_rows(config_dir, database_url):
    rt = await migrated_runtime(config_dir.load(), database_url)
    try:
        case_yaml = open(config_dir.root / "forms_config/entities/case.yaml").read()
        config_dir.write("forms_config/entities/case.yaml", case_yaml
                         + "  hearings:\n    type: child_table\n    label: {vi: Phiên tòa}\n    fields:\n"
                           "      held_on: {type: date, required: true, label: {vi: Ngày}}\n"
                           "      court: {type: text, label: {vi: Tòa}}\n")
        plan, rt2 = await remigrate(rt, config_dir.load())
        assert ("create_table", "case.hearings", None) in kinds(plan)
        unit = await rt2.db.fetchval("SELECT id FROM hoso_unit WHERE code = 'TT'")
        rec = await rt2.records().create("case", {
            "received_on": "2025-03-01", "form_of_aid": "TGTT", "requester": "An", "unit": unit,
            "hearings": [{"held_on": "2025-04-01", "court": "TAND"}, {"held_on": "2025-05-02"}]},
            RecordContext.system(rt2.config))
        assert [h["held_on"] for h in rec["hearings"]] == [dt.date(2025, 4, 1), dt.date(2025, 5, 2)]
        with pytest.raises(ValidationError) as exc:
            await rt2.records().create("case", {"received_on": "2025-03-01", "form_of_aid": "TGTT", "requester": "An",
                                                "unit": unit, "hearings": [{"court": "x"}]},
                                       RecordContext.system(rt2.config))
        assert exc.value.problems == [("hearings[0].held_on", "bắt buộc nhập")]
    finally:
        await rt.db.close()


async def test_audit_records_every_create(config_dir, database_url):
    rt = await migrated_runtime(config_dir.load(), database_url)
    try:
        unit = await rt.db.fetchval("SELECT id FROM hoso_unit WHERE code = 'TT'")
        rec = await rt.records().create("case", {"received_on": "2025-03-01", "form_of_aid": "TV", "requester": "An",
                                                 "unit": unit},
                                        RecordContext(rt.config, user_name="lan", origin="1.2.3.4", superuser=True))
        rows = await rt.db.fetch("SELECT * FROM hoso_audit WHERE entity = 'case'")
        assert len(rows) == 1
        changes = json.loads(rows[0]["changes"])
        assert rows[0]["action"] == "create" and rows[0]["actor"] == "lan" and rows[0]["origin"] == "1.2.3.4"
        assert changes["requester"] == [None, "An"] and changes["code"] == [None, rec["code"]]
        updated = await rt.records().update("case", rec["id"], {"requester": "An Nguyễn"}, 1,
                                            RecordContext.system(rt.config))
        assert updated["sys_version"] == 2
        rows = await rt.db.fetch("SELECT changes FROM hoso_audit WHERE action = 'update'")
        assert json.loads(rows[0]["changes"]) == {"requester": ["An", "An Nguyễn"]}
    finally:
        await rt.db.close()


async def test_twenty_concurrent_creations_get_consecutive_codes(config_dir, database_url):
    rt = await migrated_runtime(config_dir.load(), database_url)
    try:
        unit = await rt.db.fetchval("SELECT id FROM hoso_unit WHERE code = 'TT'")
        svc = rt.records()

        async def create(i):
            return await svc.create("case", {"received_on": "2025-06-01", "form_of_aid": "TV", "requester": f"R{i}",
                                             "unit": unit}, RecordContext.system(rt.config))

        records = await asyncio.gather(*(create(i) for i in range(20)))
        codes = sorted(r["code"] for r in records)
        assert codes == [f"TT.TV.{n:02d}.2025" for n in range(1, 21)]
        # Another form, unit or year has a sequence of its own.
        other = await svc.create("case", {"received_on": "2024-12-31", "form_of_aid": "TV", "requester": "X",
                                          "unit": unit}, RecordContext.system(rt.config))
        assert other["code"] == "TT.TV.01.2024"
    finally:
        await rt.db.close()


async def test_failed_create_gives_its_number_back(config_dir, database_url):
    rt = await migrated_runtime(config_dir.load(), database_url)
    try:
        unit = await rt.db.fetchval("SELECT id FROM hoso_unit WHERE code = 'TT'")
        svc = rt.records()
        ok = {"received_on": "2025-06-01", "form_of_aid": "TV", "requester": "A", "unit": unit}
        await svc.create("case", ok, RecordContext.system(rt.config))
        with pytest.raises(ValidationError):
            await svc.create("case", {**ok, "unit": 999999}, RecordContext.system(rt.config))
        third = await svc.create("case", ok, RecordContext.system(rt.config))
        assert third["code"] == "TT.TV.02.2025"
    finally:
        await rt.db.close()


async def test_audit_is_append_only_in_the_database(config_dir, database_url):
    rt = await migrated_runtime(config_dir.load(), database_url)
    try:
        unit = await rt.db.fetchval("SELECT id FROM hoso_unit WHERE code = 'TT'")
        await rt.records().create("case", {"received_on": "2025-03-01", "form_of_aid": "TV", "requester": "An",
                                           "unit": unit}, RecordContext.system(rt.config))
        before = await rt.db.fetchval("SELECT COUNT(*) AS n FROM hoso_audit")
        assert before >= 1
        for sql in ("UPDATE hoso_audit SET actor = 'someone else'", "DELETE FROM hoso_audit"):
            with pytest.raises(Exception, match="append-only"):
                async with rt.db.transaction():
                    await rt.db.execute(sql)
        assert await rt.db.fetchval("SELECT COUNT(*) AS n FROM hoso_audit") == before
        assert await rt.db.fetchval("SELECT COUNT(*) AS n FROM hoso_audit WHERE actor = 'someone else'") == 0
    finally:
        await rt.db.close()


async def test_system_columns_added_by_a_newer_version_reach_existing_tables(person_config, database_url):
    rt = await migrated_runtime(person_config.load(), database_url)
    try:
        await add_people(rt, [{"name": "Nguyễn Văn An"}])
        # An older database: the entity table lacks a system column this version has.
        await rt.db.execute('ALTER TABLE "person" DROP COLUMN "sys_search"')
        new = Runtime.create(person_config.load(), db=rt.db)
        plan = await make_plan(new.db, new.config, new.registry)
        assert [(c.kind, c.table, c.field) for c in plan.changes] == [
            ("add_entity_system_column", "person", "sys_search")]
        await apply_plan(new.db, new.config, new.registry, plan)
        assert "sys_search" in await rt.db.column_names("person")
        # `hoso migrate` then fills the search text of the existing records.
        from hoso.cli import _reindex_new_search_columns

        await _reindex_new_search_columns(new, plan)
        rows, total = await new.records().list("person", RecordContext.system(new.config), search="nguyen van an")
        assert total == 1 and rows[0]["name"] == "Nguyễn Văn An"
    finally:
        await rt.db.close()


async def test_unique_refusal_gives_the_true_number_of_duplicated_values(person_config, database_url):
    rt = await migrated_runtime(person_config.load(), database_url)
    try:
        ids = await add_people(rt, [{"name": f"p{i}", "phone": str(i // 2)} for i in range(50)]
                               + [{"name": "x", "phone": "z"}])
        person_config.write("forms_config/entities/person.yaml",
                            PERSON.replace("phone: {type: text,", "phone: {type: text, unique: true,"))
        new = Runtime.create(person_config.load(), db=rt.db)
        plan = await make_plan(new.db, new.config, new.registry)
        err = plan.errors[0]
        assert ("cannot be made unique: 25 value(s) are used more than once (the records of the first 20 listed)"
                in str(err))
        assert err.record_ids == ids[:40]
    finally:
        await rt.db.close()
