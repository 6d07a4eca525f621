"""Plugins: registration, overriding and extending built-in behaviour through every hook."""

from __future__ import annotations

import pytest

from hoso.fields import FieldType, Registry, RegistryError
from hoso.hookspecs import hookimpl
from hoso.plugin_manager import DEFAULT_PLUGINS, get_plugin_manager
from hoso.records.service import RecordContext, ValidationError
from tests.helpers import migrated_runtime, remigrate
from tests.plugins import postcode

PERSON = """
entity: person
label: {vi: Người}
fields:
  name: {type: text, required: true, label: {vi: Tên}}
  nickname: {type: text, label: {vi: Biệt danh}}
  postcode: {type: text, label: {vi: Mã bưu chính}}
"""


def test_default_plugins_are_registered():
    pm = get_plugin_manager(load_entrypoints=False)
    assert [p for p in DEFAULT_PLUGINS if pm.get_plugin(p) is None] == []
    registry = Registry(pm)
    assert {"text", "integer", "choice", "citizen_id", "org_unit"} <= set(registry.field_types)


def test_a_field_type_provided_twice_stops_startup():
    class Clash:
        @hookimpl
        def hoso_field_types(self):
            return [FieldType("text", "text", lambda fd: None, lambda fd, v: v)]

    with pytest.raises(RegistryError, match="field type 'text' is provided by both"):
        Registry(get_plugin_manager([Clash()], load_entrypoints=False))


def test_registry_exposes_plugin_types_and_converters():
    registry = Registry(get_plugin_manager([postcode], load_entrypoints=False))
    assert registry.field_type("postcode").storage == "text"
    assert registry.converter("text", "postcode").convert(None, "VN-100000") == "100000"
    assert registry.converter("integer", "text") is not None, "built-in converters stay available"


async def test_plugin_validator_and_audit_writer_run_on_every_write(config_dir, database_url):
    config_dir.write("forms_config/entities/person.yaml", PERSON)
    postcode.AUDITED.clear()
    rt = await migrated_runtime(config_dir.load(), database_url, plugins=[postcode])
    try:
        svc = rt.records()
        with pytest.raises(ValidationError) as exc:
            await svc.create("person", {"name": "An", "nickname": "An"}, RecordContext.system(rt.config))
        assert exc.value.problems == [("nickname", "must differ from the name")]
        assert await rt.db.fetchval('SELECT COUNT(*) AS n FROM "person"') == 0
        rec = await svc.create("person", {"name": "An", "nickname": "Bé"}, RecordContext.system(rt.config))
        # Both writers ran: the plugin's and the built-in one.
        assert ("create", "person", rec["id"]) in postcode.AUDITED
        assert await rt.db.fetchval("SELECT COUNT(*) AS n FROM hoso_audit WHERE entity = 'person'") == 1
    finally:
        await rt.db.close()


async def test_plugin_field_type_in_yaml_and_its_converter(config_dir, database_url):
    """A plugin's field type can be named in entity YAML; its converter wins over the built-in parse."""
    from hoso.config import ConfigErrors

    config_dir.write("forms_config/entities/person.yaml", PERSON)
    rt = await migrated_runtime(config_dir.load(), database_url, plugins=[postcode])
    try:
        svc = rt.records()
        await svc.create("person", {"name": "An", "postcode": "VN-100000"}, RecordContext.system(rt.config))
        first = await svc.create("person", {"name": "Bình", "postcode": "700000"}, RecordContext.system(rt.config))
        ids = [first["id"]]
        changed = PERSON.replace("postcode: {type: text,", "postcode: {type: postcode, convert: {from: text},")
        config_dir.write("forms_config/entities/person.yaml", changed)
        # Without the plugin the type is unknown, and the error says so.
        with pytest.raises(ConfigErrors, match="found 'postcode'"):
            config_dir.load()
        plan, rt2 = await remigrate(rt, str(config_dir.root), plugins=[postcode])
        assert plan.ok, plan.render()
        assert [c.kind for c in plan.changes] == ["convert_field"]
        rows = await rt.db.fetch('SELECT postcode FROM "person" ORDER BY id')
        assert [r["postcode"] for r in rows] == ["100000", "700000"]
        with pytest.raises(ValidationError) as exc:
            await rt2.records().create("person", {"name": "Chi", "postcode": "HN"}, RecordContext.system(rt2.config))
        assert exc.value.problems[0][0] == "postcode" and "6-digit postcode" in exc.value.problems[0][1]
        assert ids
    finally:
        await rt.db.close()
