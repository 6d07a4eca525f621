"""The JSON Schemas stay in step with the typed objects, the documentation and each other."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource

from hoso.config import (
    FIELD_TYPES,
    ChoiceList,
    ChoiceOption,
    Conversion,
    EntityDef,
    FieldDef,
    FormDef,
    FormSection,
    GrantDef,
    HierarchyDef,
    IndexDef,
    Label,
    ListingDef,
    ModuleDef,
    NamingDef,
    ReportDef,
    RoleDef,
    SearchDef,
    TransitionDef,
    UnitRow,
    UnitTypeDef,
    WorkflowDef,
)
from hoso.config.kinds import KINDS
from hoso.config.loader import SCHEMA_DIR

DOCS = Path(__file__).resolve().parents[2] / "docs" / "config-format.md"
DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"


def _schemas() -> dict[str, dict]:
    return {p.name.removesuffix(".schema.json"): json.loads(p.read_text(encoding="utf-8"))
            for p in sorted(SCHEMA_DIR.glob("*.schema.json"))}


SCHEMAS = _schemas()

# Where a YAML key and the attribute it fills are named differently. Keys that name the object itself
# ("entity: case") fill ``name``; "from"/"map" are Python keywords or builtins, so the attributes differ;
# a list option's "vi"/"en" are folded into its ``label``.
FIELD_KEY_TO_ATTR = {"convert": "convert"}
CONVERT_KEY_TO_ATTR = {"from": "from_type", "map": "mapping"}

# (schema, where the object's schema sits in it, the type it becomes, key -> attribute where they differ,
#  attributes that come from elsewhere: the mapping key the object is defined under, or the source file)
MAPPINGS = [
    ("entity", ("$defs", "field"), FieldDef, FIELD_KEY_TO_ATTR, {"name"}),
    ("entity", ("$defs", "field", "properties", "convert"), Conversion, CONVERT_KEY_TO_ATTR, set()),
    ("entity", (), EntityDef, {"entity": "name", "list": "listing"}, {"source"}),
    ("entity", ("properties", "naming"), NamingDef, {}, set()),
    ("entity", ("properties", "list"), ListingDef, {}, set()),
    ("entity", ("properties", "search"), SearchDef, {}, set()),
    ("entity", ("properties", "indexes", "items"), IndexDef, {}, set()),
    ("lists", ("properties", "lists", "additionalProperties"), ChoiceList, {}, {"name"}),
    ("lists", ("properties", "lists", "additionalProperties", "properties", "options", "items"), ChoiceOption,
     {"vi": "label", "en": "label"}, set()),
    ("defs", ("$defs", "label"), Label, {}, set()),
    ("form", (), FormDef, {"form": "name"}, {"source"}),
    ("form", ("properties", "sections", "items"), FormSection, {}, set()),
    ("workflow", (), WorkflowDef, {"workflow": "name"}, {"source"}),
    ("workflow", ("properties", "transitions", "additionalProperties"), TransitionDef, {"from": "from_states"},
     {"name"}),
    ("report", (), ReportDef, {"report": "name"}, {"source"}),
    # units: the files' rows, read into UnitRow objects; restructurings: the folder (restructurings_folder) whose
    # change sets are read into RestructuringRef objects
    ("hierarchy", (), HierarchyDef, {}, {"restructurings_folder"}),
    ("hierarchy", ("properties", "unit_types", "additionalProperties"), UnitTypeDef, {}, {"name"}),
    ("units", ("properties", "units", "items"), UnitRow, {}, set()),
    ("role", (), RoleDef, {"role": "name"}, {"source"}),
    ("role", ("properties", "grants", "items"), GrantDef, {}, {"link"}),  # link: an object scope's field and to
    ("modules", ("properties", "modules", "additionalProperties"), ModuleDef, {}, {"name"}),
]


def _at(schema: dict, where: tuple) -> dict:
    for k in where:
        schema = schema[k]
    return schema


@pytest.mark.parametrize("schema,where,cls,renames,elsewhere", MAPPINGS,
                         ids=[f"{m[0]}:{m[2].__name__}" for m in MAPPINGS])
def test_schema_keys_map_to_attributes(schema, where, cls, renames, elsewhere):
    keys = set(_at(SCHEMAS[schema], where)["properties"])
    attrs = {f.name for f in dataclasses.fields(cls)}
    assert set(renames) <= keys, f"renames for keys the schema does not have: {set(renames) - keys}"
    mapped = {renames.get(k, k) for k in keys}
    assert mapped <= attrs, f"schema keys with no {cls.__name__} attribute: {mapped - attrs}"
    assert attrs - mapped <= elsewhere, f"{cls.__name__} attributes no schema key fills: {attrs - mapped - elsewhere}"


def test_field_types_match():
    assert tuple(SCHEMAS["entity"]["$defs"]["field_type"]["enum"]) == FIELD_TYPES


def test_every_object_schema_refuses_unknown_keys():
    def walk(node, where):
        if isinstance(node, dict):
            if "properties" in node:
                assert node.get("additionalProperties") is False, f"{where} allows unknown keys"
            for k, v in node.items():
                walk(v, f"{where}/{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{where}/{i}")

    for name, schema in SCHEMAS.items():
        walk(schema, name)


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_schema_is_valid_draft_2020_12(name):
    schema = SCHEMAS[name]
    assert schema["$schema"] == DRAFT_2020_12
    assert schema["$id"] == f"hoso:{name}"
    jsonschema.Draft202012Validator.check_schema(schema)
    assert jsonschema.validators.validator_for(schema) is jsonschema.Draft202012Validator


def test_every_kind_has_a_schema():
    # units files are referenced from hierarchy.yaml; restructuring change sets are read by `hoso restructure`.
    assert set(KINDS) | {"units", "defs", "restructuring"} == set(SCHEMAS)


def test_every_reference_resolves():
    registry = Registry().with_resources((s["$id"], Resource.from_contents(s)) for s in SCHEMAS.values())
    refs = []

    def walk(node, base):
        if isinstance(node, dict):
            if "$ref" in node:
                refs.append((base, node["$ref"]))
            for v in node.values():
                walk(v, base)
        elif isinstance(node, list):
            for v in node:
                walk(v, base)

    for s in SCHEMAS.values():
        walk(s, s["$id"])
    assert refs
    for base, ref in refs:
        resolver = registry.resolver(base_uri=base)
        assert resolver.lookup(ref).contents is not None, f"{base}: {ref}"


def test_base_config_files_validate(cfg):
    """The base configuration of these tests is valid for the schemas as plain JSON Schema, too."""
    registry = Registry().with_resources((s["$id"], Resource.from_contents(s)) for s in SCHEMAS.values())
    kind_of = {"lists": "lists", "entities": "entity", "forms": "form", "workflows": "workflow",
               "reports": "report", "roles": "role", "hierarchy.yaml": "hierarchy", "modules.yaml": "modules"}
    checked = 0
    for rel, text in cfg.BASE.items():
        if not rel.endswith(".yaml"):
            continue
        kind = kind_of[rel.split("/")[1]]
        validator = jsonschema.Draft202012Validator(SCHEMAS[kind], registry=registry)
        assert list(validator.iter_errors(yaml.load(text, Loader=_NoDates))) == [], rel
        checked += 1
    assert checked == 9


class _NoDates(yaml.SafeLoader):
    """Dates stay text, as the loader keeps them."""


_NoDates.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


# -- the loader fills each attribute from its key ------------------------------------------------------------

EVERY_FIELD_KEY = """\
entity: sample
label: {vi: Mẫu}
fields:
  fee:
    type: decimal
    label: {vi: Phí, en: Fee}
    help: {vi: Số tiền}
    required: true
    unique: true
    index: true
    default: 1.5
    min: 0
    max: 100
    max_digits: 5
    decimal_places: 2
    renamed_from: old_fee
    convert: {from: text, map: {"free": 0}}
  note:
    type: text
    label: {vi: Ghi chú}
    min_length: 1
    max_length: 20
    pattern: "[a-z ]+"
  kind: {type: choice, list: form_of_aid, label: {vi: Loại}}
  owner: {type: reference, entity: lawyer, label: {vi: Chủ}}
  office: {type: org_unit, unit_types: [legal_aid_centre], label: {vi: Đơn vị}}
  rows:
    type: child_table
    label: {vi: Dòng}
    fields:
      n: {type: integer, label: {vi: N}}
"""


def _expected(key: str, value):
    if key in ("label", "help"):
        return Label(value["vi"], value.get("en"))
    if key == "convert":
        return Conversion(value["from"], tuple(value["map"].items()) if "map" in value else None)
    if key in ("fields", "unit_types"):
        return tuple(value)  # names, compared below
    return value


def test_every_field_key_reaches_its_attribute(cfg):
    config = cfg.load({"forms_config/entities/sample.yaml": EVERY_FIELD_KEY})
    entity = config.entity("sample")
    data = yaml.safe_load(EVERY_FIELD_KEY)["fields"]
    seen = set()
    for name, d in data.items():
        fd = entity.field(name)
        for key, value in d.items():
            attr = FIELD_KEY_TO_ATTR.get(key, key)
            got = getattr(fd, attr)
            if key == "fields":
                got = tuple(f.name for f in got)
            assert got == _expected(key, value), (name, key)
            seen.add(key)
    # the sample really uses every key the schema allows
    assert seen == set(SCHEMAS["entity"]["$defs"]["field"]["properties"])


# -- the documentation lists the same keys and types ---------------------------------------------------------


def _doc_paragraph(start: str) -> set[str]:
    text = DOCS.read_text(encoding="utf-8")
    m = re.search(rf"^{re.escape(start)}(.*?)(?:\n\n|\Z)", text, re.S | re.M)
    assert m, f"no paragraph starting {start!r} in {DOCS}"
    return set(re.findall(r"`([a-z_]+)`", m.group(1)))


def test_docs_list_every_field_key():
    keys = set(SCHEMAS["entity"]["$defs"]["field"]["properties"])
    assert keys <= _doc_paragraph("Field keys:")


def test_docs_list_every_field_type():
    assert set(FIELD_TYPES) <= _doc_paragraph("Field types:")
