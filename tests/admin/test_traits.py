"""The admin and the record forms ask a field's type what it is: a plugin type with the traits of a built-in type
is shown, listed, filtered and typed in like it."""

from __future__ import annotations

import dataclasses

import pytest
from piccolo.columns import Array, ForeignKey, Text, Varchar

from hoso.admin.app import AdminBuild
from hoso.admin.config import load_admin_config
from hoso.admin.forms import _field_extra, _python_type
from hoso.admin.router import _table_configs
from hoso.config import FieldTraits
from hoso.hookspecs import hookimpl
from hoso.plugins.fields import BUILTIN_TYPES
from hoso.records.forms import compile_form
from hoso.records.service import RecordContext, ValidationError
from hoso.runtime import Runtime
from hoso.web.auth import WebSettings
from tests.helpers import migrated_runtime

_BUILTIN = {ft.name: ft for ft in BUILTIN_TYPES}

# Each plugin type stores its values as the built-in one does; only its traits say what it is.
MEMO = FieldTraits(textual=True, searchable=True, value_kind="text", can_be_unique=False, multiline=True)
PICKS = FieldTraits(has_choices=True, value_kind="list", options=frozenset({"list"}), can_be_unique=False,
                    can_be_indexed=False)
SCAN = FieldTraits(refers_to="file", value_kind="number", has_default=False, can_be_unique=False)
DESK = FieldTraits(refers_to="unit", value_kind="number", has_default=False)


class LookAlikes:
    """A plugin whose types look like built-in ones by their traits, under names of their own."""

    @hookimpl
    def hoso_field_types(self):
        return [dataclasses.replace(_BUILTIN[builtin], name=name, traits=traits) for name, builtin, traits in (
            ("memo", "long_text", MEMO), ("picks", "multi_choice", PICKS), ("scan", "attachment", SCAN),
            ("desk", "org_unit", DESK))]


NOTE = """
entity: note
label: {vi: Ghi chú, en: Note}
title_field: title
fields:
  title: {type: text, required: true, label: {vi: Tiêu đề}}
  body: {type: long_text, label: {vi: Nội dung}}
  memo: {type: memo, label: {vi: Ghi nhớ}}
  tags: {type: multi_choice, list: form_of_aid, label: {vi: Nhãn}}
  picks: {type: picks, list: form_of_aid, label: {vi: Lựa chọn}}
  file: {type: attachment, label: {vi: Tệp}}
  scan: {type: scan, label: {vi: Bản quét}}
  unit: {type: org_unit, label: {vi: Đơn vị}}
  desk: {type: desk, label: {vi: Bàn tiếp nhận}}
  remark: {type: text, label: {vi: Lưu ý}}
"""

# (built-in field, plugin field of the same traits)
PAIRS = [("body", "memo"), ("tags", "picks"), ("file", "scan"), ("unit", "desk")]


@pytest.fixture
def build(config_dir, tmp_path) -> AdminBuild:
    config_dir.write("forms_config/entities/note.yaml", NOTE)
    rt = Runtime.create(str(config_dir.root), f"sqlite:///{tmp_path / 'admin.db'}", plugins=[LookAlikes()])
    return AdminBuild(rt, WebSettings(), load_admin_config(rt.config))


def _field(build: AdminBuild, name: str):
    return build.rt.config.entity("note").field(name)


def test_the_plugin_types_know_their_traits(build):
    assert [_field(build, plugin).traits for _, plugin in PAIRS] == [MEMO, PICKS, SCAN, DESK]


def test_a_plugin_type_gets_the_admin_column_of_the_built_in_type_with_its_traits(build):
    table = build.tables.by_entity["note"].table
    kinds = {name: type(getattr(table, name)) for pair in PAIRS for name in pair}
    assert kinds == {"body": Text, "memo": Text, "tags": Array, "picks": Array, "file": Varchar, "scan": Varchar,
                     "unit": ForeignKey, "desk": ForeignKey}
    assert table.desk._foreign_key_meta.resolved_references is build.tables.unit.table
    assert type(table.remark) is Varchar


def test_a_plugin_link_leads_where_the_built_in_one_does(build):
    links = build.tables.by_entity["note"].links
    assert links["desk"] == links["unit"] == ("unit", None)


def test_paragraphs_choices_and_files_are_left_out_of_list_columns(build):
    columns = build.tables.by_entity["note"].list_columns
    assert columns == ["title", "unit", "desk", "remark"]


def test_a_plugin_file_type_is_an_upload_column(build):
    config = next(c for c in _table_configs(build) if c.table_class is build.tables.by_entity["note"].table)
    assert sorted(m.column._meta.name for m in config.media_storage) == ["file", "scan"]


@pytest.mark.parametrize("builtin, plugin", PAIRS)
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_a_plugin_field_is_typed_in_like_the_built_in_one(build, builtin, plugin, lang):
    one, other = _field(build, builtin), _field(build, plugin)
    assert _python_type(build, other) == _python_type(build, one)
    extra, expected = _field_extra(build, other, lang), _field_extra(build, one, lang)
    # the help text starts with the field's own help (none here): what is typed in is the same
    assert extra == expected


def test_paragraphs_are_a_text_area_and_links_say_what_to_type(build):
    assert _field_extra(build, _field(build, "memo"), "vi")["widget"] == "text-area"
    assert "widget" not in _field_extra(build, _field(build, "remark"), "vi")
    assert _field_extra(build, _field(build, "desk"), "en")["help_text"] == "The unit's code, name or ID"
    assert _python_type(build, _field(build, "picks")) == list[str]
    assert _python_type(build, _field(build, "desk")) is str


def test_the_record_form_checks_a_plugin_multiple_choice_like_the_built_in_one(build):
    form = compile_form(build.rt.config, build.rt.config.entity("note"), None, build.rt.registry)
    schema = form.schema["properties"]
    assert schema["picks"]["type"] == schema["tags"]["type"] == "array"
    assert schema["picks"]["uniqueItems"] and schema["tags"]["uniqueItems"]
    problems = form.check({"title": "A", "tags": ["XX"], "picks": ["XX"]}, "en")
    assert sorted(name for name, _ in problems) == ["picks", "tags"]


async def test_a_plugin_multiple_choice_is_filtered_and_refused_as_a_sort_key(config_dir, database_url):
    config_dir.write("forms_config/entities/note.yaml", NOTE)
    rt = await migrated_runtime(str(config_dir.root), database_url, plugins=[LookAlikes()])
    try:
        ctx = RecordContext.system(rt.config)
        svc = rt.records()
        await svc.create("note", {"title": "A", "tags": ["TV"], "picks": ["TV"]}, ctx)
        await svc.create("note", {"title": "B", "tags": ["TGTT"], "picks": ["TGTT"]}, ctx)
        for name in ("tags", "picks"):
            rows, total = await svc.list("note", ctx, filters={name: "TV"})
            assert [r["title"] for r in rows] == ["A"] and total == 1
            with pytest.raises(ValidationError) as exc:
                await svc.list("note", ctx, sort=name)
            assert exc.value.problems[0][0] == "sort"
            with pytest.raises(ValidationError) as exc:
                await svc.list("note", ctx, filters={name: {"gt": "TV"}})
            assert "multiple choice" in exc.value.problems[0][1]
    finally:
        await rt.db.close()
