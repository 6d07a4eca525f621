"""The audit entry and its one writer: every audited change, wherever it is made, goes through ``write_audit``."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from hoso.plugin_manager import await_me_maybe

__all__ = ["AuditEvent", "REQUEST_ID", "write_audit", "AUDIT_COLUMNS", "audit_batch", "batched_rows",
           "insert_audit_rows"]

# The id of the web request being served (``hoso.web.logs``): every audit entry made while serving it carries it,
# so an entry can be matched with the request's log lines. None outside a request (commands, scheduled work).
REQUEST_ID: ContextVar[str | None] = ContextVar("hoso_request_id", default=None)


@dataclass
class AuditEvent:
    """One append-only audit entry. ``changes`` maps each changed field to ``[before, after]``; keys starting
    with ``@`` carry details that are not fields (the transition's name, a file's checksum)."""

    action: str
    entity: str | None
    record_id: int | None
    actor_id: int | None
    actor: str
    origin: str
    changes: dict = field(default_factory=dict)
    at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    request_id: str | None = field(default_factory=REQUEST_ID.get)


async def write_audit(pm: Any, db: Any, event: AuditEvent) -> None:
    """Hand ``event`` to every ``hoso_write_audit`` implementation, in the caller's transaction (so the entry
    is kept exactly when the change it describes is)."""
    for result in pm.hook.hoso_write_audit(event=event, db=db):
        await await_me_maybe(result)


# The columns of hoso_audit that the built-in writer fills, in the order of its rows.
AUDIT_COLUMNS = ("at", "actor_id", "actor", "origin", "action", "entity", "record_id", "changes", "request_id")
# Rows both engines bind in one statement (9 parameters each, under their 32,767 limit).
_ROWS_PER_INSERT = 3600

_BATCH: ContextVar[list[tuple] | None] = ContextVar("hoso_audit_batch", default=None)


def batched_rows() -> list[tuple] | None:
    """Inside ``audit_batch``: the list the built-in writer appends its rows to; else None (write at once)."""
    return _BATCH.get()


@asynccontextmanager
async def audit_batch(db: Any) -> AsyncIterator[None]:
    """Within the block (inside a write's transaction), the built-in writer gathers the rows of the events it is
    given and writes them with multi-row INSERTs when the block ends, in the same transaction. Every
    ``hoso_write_audit`` implementation is still called once per event, when the event happens."""
    token = _BATCH.set([])
    try:
        yield
        rows = _BATCH.get() or []
    finally:
        _BATCH.reset(token)
    await insert_audit_rows(db, rows)


async def insert_audit_rows(db: Any, rows: list[tuple]) -> None:
    cols = ", ".join(AUDIT_COLUMNS)
    one = "(" + ", ".join("{}" for _ in AUDIT_COLUMNS) + ")"
    for start in range(0, len(rows), _ROWS_PER_INSERT):
        chunk = rows[start:start + _ROWS_PER_INSERT]
        await db.execute(f"INSERT INTO hoso_audit ({cols}) VALUES {', '.join(one for _ in chunk)}",
                         *[v for row in chunk for v in row])
