"""The audit entry and its one writer: every audited change, wherever it is made, goes through ``write_audit``."""

from __future__ import annotations

import datetime as dt
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from hoso.plugin_manager import await_me_maybe

__all__ = ["AuditEvent", "REQUEST_ID", "write_audit"]

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
