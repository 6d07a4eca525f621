"""The built-in audit writer: one append-only row in hoso_audit per event."""

from __future__ import annotations

import json

from hoso.hookspecs import hookimpl


@hookimpl(trylast=True)
async def hoso_write_audit(event, db):
    await db.execute(
        "INSERT INTO hoso_audit (at, actor_id, actor, origin, action, entity, record_id, changes, request_id) "
        "VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {})",
        event.at, event.actor_id, event.actor, event.origin, event.action, event.entity, event.record_id,
        json.dumps(event.changes, ensure_ascii=False, sort_keys=True), event.request_id,
    )
