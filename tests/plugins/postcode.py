"""A test-only plugin: a `postcode` field type, a cross-field validator, a second audit writer, a transition guard
and side effect, a swappable attachment storage, a configuration kind (postcode areas,
``forms_config/postcode_areas/*.yaml``) and configuration folders shipped with the plugin."""

from __future__ import annotations

import re

from piccolo.columns import Text

from hoso.config import ConfigKind, Label
from hoso.fields import Converter, FieldType
from hoso.hookspecs import hookimpl

AUDITED: list = []
STARTED: list = []
TRANSITIONS: list = []
# Set by a test to a hoso.records.attachments.Storage to replace the built-in local directory.
STORAGE: list = []
# Set by a test: configuration roots (with forms_config/ and roles_config/) the plugin ships.
CONFIG_DIRECTORIES: list = []


def _postcode(fd, v):
    s = str(v).strip()
    if not re.fullmatch(r"\d{6}", s):
        raise ValueError(f"expected a 6-digit postcode; found {v!r}")
    return s


@hookimpl
def hoso_field_types():
    return [FieldType("postcode", "text", lambda fd: Text(default=None, null=True), _postcode)]


@hookimpl
def hoso_converters():
    # Old free-text postcodes sometimes carry a "VN-" prefix.
    return [Converter("text", "postcode", lambda fd, v: str(v).removeprefix("VN-"))]


@hookimpl
async def hoso_validate_record(entity, values, context):
    if entity.name == "person" and values.get("name") == values.get("nickname") and values.get("name"):
        return [("nickname", "must differ from the name")]
    return None


@hookimpl
def hoso_write_audit(event, db):
    AUDITED.append((event.action, event.entity, event.record_id))


@hookimpl
def hoso_startup(config):
    STARTED.append(config.content_hash)


@hookimpl
def hoso_transition_guard(entity, workflow, transition, record, values, context):
    # A case whose note says so may not be ended: a guard refusing with a message.
    if transition.name == "end" and (values.get("note") or "").startswith("blocked"):
        return "this case is blocked by the test plugin"
    return None


@hookimpl
async def hoso_transition_done(entity, workflow, transition, record, context, db):
    TRANSITIONS.append((entity.name, transition.name, record["id"], record.get(workflow.state_field)))


@hookimpl
def hoso_attachment_storage(config):
    return STORAGE[-1] if STORAGE else None


@hookimpl
def hoso_config_directories():
    return list(CONFIG_DIRECTORIES)


# -- a configuration kind: postcode areas ----------------------------------------------------------------------

AREA_SCHEMA = {
    "type": "object",
    "properties": {
        "area": {"$ref": "hoso:defs#/$defs/identifier"},
        "label": {"$ref": "hoso:defs#/$defs/label"},
        "postcodes": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        # the entity whose records are delivered to this area (cross-checked against the entities)
        "entity": {"type": "string"},
    },
    "required": ["area", "label", "postcodes"],
    "additionalProperties": False,
}


def _build_areas(ctx, files) -> dict[str, tuple[Label, tuple[str, ...]]]:
    areas: dict[str, tuple[Label, tuple[str, ...]]] = {}
    seen: dict[str, str] = {}
    for f in files:
        d = f.data
        if d["area"] in seen:
            f.error(("area",), f"area {d['area']!r} is already defined in {seen[d['area']]}")
            continue
        seen[d["area"]] = f.rel
        for j, code in enumerate(d["postcodes"]):
            try:
                _postcode(None, code)
            except ValueError as exc:
                f.error(("postcodes", j), str(exc))
        if not f.partial:
            areas[d["area"]] = (Label(d["label"]["vi"], d["label"].get("en")), tuple(d["postcodes"]))
    return areas


def _check_areas(ctx, areas) -> None:
    for f in ctx.files["postcode_area"]:
        if "entity" in f.data:
            ctx.checker.entity_ref(f, ("entity",), f.data["entity"], ctx.results["entity"])


POSTCODE_AREAS = ConfigKind("postcode_area", "forms_config/postcode_areas", AREA_SCHEMA, _build_areas,
                            check=_check_areas, described_as="a postcode area")


@hookimpl
def hoso_config_kinds():
    return [POSTCODE_AREAS]
