"""A test-only plugin: a `postcode` field type, a cross-field validator, a second audit writer, a transition guard
and side effect, and a swappable attachment storage."""

from __future__ import annotations

import re

from piccolo.columns import Text

from hoso.fields import Converter, FieldType
from hoso.hookspecs import hookimpl

AUDITED: list = []
STARTED: list = []
TRANSITIONS: list = []
# Set by a test to a hoso.records.attachments.Storage to replace the built-in local directory.
STORAGE: list = []


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
