"""Report snapshots: a submitted or approved report stored as it was computed, and served without recomputing.

A snapshot holds the template's name and hash, the request's parameters, the as-of time, the result JSON
(``ReportResult.to_json()``) in a canonical text, and the sha256 of that text. Serving a snapshot reads the text,
checks the hash (a mismatch is refused, never served) and returns the JSON exactly as stored: later edits of the
records change nothing in it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import TYPE_CHECKING, Any

from piccolo.columns import BigInt, Text, Timestamptz, Varchar

from hoso.plugin_types import SystemTable
from hoso.reports.model import ReportResult

if TYPE_CHECKING:  # pragma: no cover
    from hoso.records.context import RecordContext

__all__ = ["SNAPSHOT_TABLE", "SnapshotCorrupt", "canonical", "content_hash", "store_snapshot", "load_snapshot",
           "checked_snapshot"]

SNAPSHOT_TABLE = SystemTable("hoso_report_snapshot", lambda: {
    "report": Varchar(length=100, null=False),
    "entity": Varchar(length=100, null=False),
    "template_hash": Varchar(length=64, null=False),
    "request_key": Text(null=False),
    "scope_key": Varchar(length=64, null=False),
    "unit_id": BigInt(null=True),
    "as_of": Timestamptz(null=True, default=None),
    "result": Text(null=False),
    "content_hash": Varchar(length=64, null=False),
    "created_by": BigInt(null=True, default=None),
    "created_by_name": Varchar(length=150, null=False),
    "created_at": Timestamptz(null=False),
})


class SnapshotCorrupt(Exception):
    """A stored snapshot no longer matches its content hash: it is not served."""

    def __init__(self, snapshot_id: int):
        self.snapshot_id = snapshot_id
        super().__init__(f"report snapshot {snapshot_id} does not match its content hash")


def canonical(result_json: dict) -> str:
    """The one text of a result JSON that is stored and hashed (sorted keys, no spaces, UTF-8 kept)."""
    return json.dumps(result_json, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


async def store_snapshot(db: Any, result: ReportResult, ctx: RecordContext, *, unit_id: int | None,
                         scope_key: str) -> tuple[int, str]:
    """Store ``result`` (inside the caller's transaction); return the snapshot's id and content hash."""
    text = canonical(result.to_json())
    digest = content_hash(text)
    as_of = result.request.as_of or result.generated_at
    snapshot_id = await db.fetchval(
        "INSERT INTO hoso_report_snapshot (report, entity, template_hash, request_key, scope_key, unit_id, as_of, "
        "result, content_hash, created_by, created_by_name, created_at) "
        "VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}) RETURNING id",
        result.report.name, result.report.entity, result.template_hash, result.request.key(), scope_key, unit_id,
        as_of, text, digest, ctx.user_id, ctx.user_name, dt.datetime.now(dt.UTC))
    return int(snapshot_id), digest


async def load_snapshot(db: Any, snapshot_id: int) -> dict | None:
    """The snapshot's row with its ``result`` parsed, after checking its hash (SnapshotCorrupt otherwise);
    None when there is no such snapshot."""
    rows = await db.fetch("SELECT id, report, entity, template_hash, request_key, scope_key, unit_id, as_of, result, "
                          "content_hash, created_by, created_by_name, created_at FROM hoso_report_snapshot "
                          "WHERE id = {}", snapshot_id)
    if not rows:
        return None
    return checked_snapshot(dict(rows[0]))


def checked_snapshot(row: dict) -> dict:
    """A snapshot row read from the table (``result`` and ``request_key`` as stored), its hash checked
    (SnapshotCorrupt otherwise), with ``result`` and ``request`` parsed."""
    if content_hash(row["result"]) != row["content_hash"]:
        raise SnapshotCorrupt(int(row["id"]))
    row["result"] = json.loads(row["result"])
    row["request"] = json.loads(row.pop("request_key"))
    return row
