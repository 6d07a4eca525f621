"""Field types carry their traits: the loader, search and conditions ask the type, not its name."""

from __future__ import annotations

import pytest

from hoso.config import BUILTIN_TRAITS, FieldTraits, load_config
from hoso.config.conditions import ExpressionError, compile_expression, entity_field_info
from hoso.fields import FieldType, Registry
from hoso.plugin_manager import get_plugin_manager
from hoso.records.search import search_text

LAWYER = """\
entity: lawyer
label: {vi: Luật sư, en: Lawyer}
table: lawyer_registry
fields:
  full_name: {type: text, required: true, label: {vi: Họ tên}}
  active: {type: boolean, default: true, label: {vi: Đang hoạt động}}
  badge: {type: badge, label: {vi: Số thẻ}%s}
  stars: {type: stars, label: {vi: Xếp hạng}%s}
"""
LAWYER_FILE = "forms_config/entities/lawyer.yaml"

# A badge is text, but a code of fixed shape: no length or pattern constraints, found by search.
BADGE = FieldTraits(searchable=True, value_kind="text")
# Stars are a number from 1 to 5: ordered, so min and max apply.
STARS = FieldTraits(orderable=True, numeric=True, value_kind="number", options=frozenset({"min", "max"}))
PLUGIN_TRAITS = {"badge": BADGE, "stars": STARS}


def lawyer(badge_keys: str = "", star_keys: str = "") -> dict[str, str]:
    return {LAWYER_FILE: LAWYER % (badge_keys, star_keys)}


def test_builtin_types_carry_their_traits():
    types = Registry(get_plugin_manager(load_entrypoints=False)).field_types
    assert types["text"].textual and types["text"].searchable and not types["text"].orderable
    assert types["choice"].textual and types["choice"].has_choices and not types["choice"].searchable
    assert types["date"].orderable and not types["date"].numeric
    assert types["decimal"].numeric and {"max_digits", "decimal_places"} <= types["decimal"].traits.options
    assert "unit_types" in types["org_unit"].traits.options and not types["org_unit"].traits.has_default
    # child_table is a structure of the loader, not a type with values of its own
    assert set(types) == set(BUILTIN_TRAITS) - {"child_table"}
    assert all(ft.traits is BUILTIN_TRAITS[name] for name, ft in types.items())


def test_a_plugin_type_without_traits_takes_those_of_its_storage():
    ft = FieldType("code", "text", lambda fd: None, lambda fd, v: v)
    assert ft.textual and not ft.searchable and not ft.orderable
    assert FieldType("score", "integer", lambda fd: None, lambda fd, v: v).orderable


def test_the_loader_asks_the_type_whether_min_and_max_apply(cfg):
    config = load_config(cfg.make(lawyer(star_keys=", min: 1, max: 5")), field_types=PLUGIN_TRAITS)
    stars = config.entity("lawyer").field("stars")
    assert (stars.min, stars.max, stars.traits) == (1, 5, STARS)
    issues = _issues(cfg, lawyer(badge_keys=", min: 1"), PLUGIN_TRAITS)
    assert issues == [(LAWYER_FILE, 7, 10, "fields.badge",
                       "min and max apply to integer, decimal, date and datetime fields, not to a badge field")]


def test_the_loader_asks_the_type_whether_length_constraints_apply(cfg):
    issues = _issues(cfg, lawyer(badge_keys=", max_length: 9"), PLUGIN_TRAITS)
    assert issues == [(LAWYER_FILE, 7, 10, "fields.badge",
                       "length and pattern constraints apply to text fields, not to a badge field")]
    # The same type given only its storage class ("text") takes length constraints, as text does.
    config = load_config(cfg.make(lawyer(badge_keys=", max_length: 9")), field_types={"badge": "text",
                                                                                       "stars": "integer"})
    assert config.entity("lawyer").field("badge").max_length == 9


def test_search_asks_the_type(cfg):
    config = load_config(cfg.make(lawyer()), field_types=PLUGIN_TRAITS)
    fields = config.entity("lawyer").fields
    text = search_text(fields, {"full_name": "Nguyễn Văn An", "badge": "LS-0042", "stars": 4, "active": True})
    assert text == "nguyen van an ls-0042"
    storage_only = load_config(cfg.make(lawyer()), field_types={"badge": "text", "stars": "integer"})
    assert search_text(storage_only.entity("lawyer").fields, {"badge": "LS-0042"}) is None


def test_conditions_ask_the_type(cfg):
    config = load_config(cfg.make(lawyer()), field_types=PLUGIN_TRAITS)
    info = entity_field_info(config.entity("lawyer").fields)
    assert compile_expression("stars >= 3", info).evaluate({"stars": 4})
    with pytest.raises(ExpressionError, match="cannot compare a number with text"):
        compile_expression("stars == 'three'", info)


def _issues(cfg, changes, field_types):
    from hoso.config import ConfigErrors

    with pytest.raises(ConfigErrors) as info:
        load_config(cfg.make(changes), field_types=field_types)
    return [(i.file, i.line, i.column, i.path, i.message) for i in info.value.issues]
