"""A test-only plugin: a `postcode` field type, a cross-field validator and a second audit writer."""

from __future__ import annotations

import re

from piccolo.columns import Text

from core.fields import Converter, FieldType
from core.hookspecs import hookimpl

AUDITED: list = []
STARTED: list = []


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
