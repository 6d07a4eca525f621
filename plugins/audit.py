"""The built-in audit writer: one append-only row in hoso_audit per event."""

from __future__ import annotations

import json

from hoso.audit import batched_rows, insert_audit_rows
from hoso.hookspecs import hookimpl


@hookimpl(trylast=True)
async def hoso_write_audit(event, db):
    row = (event.at, event.actor_id, event.actor, event.origin, event.action, event.entity, event.record_id,
           json.dumps(event.changes, ensure_ascii=False, sort_keys=True), event.request_id)
    batch = batched_rows()
    if batch is not None:
        batch.append(row)  # written with the batch's other rows, in the same transaction (hoso.audit.audit_batch)
    else:
        await insert_audit_rows(db, [row])
