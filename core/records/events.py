"""Record events: the ``hoso_record_*`` hooks inside a write's transaction, ``hoso_after_commit`` after it.

A write runs inside ``collected(rt)``, entered before its transaction begins and left after it ended. Events
emitted inside are gathered; when the outermost ``collected`` ends normally (the transaction committed) they go
to ``hoso_after_commit``; when it ends by an exception (the transaction rolled back) they are dropped. A write
nested in another write (e.g. a plugin creating a follow-up record from ``hoso_record_created``) adds its events
to the outer one's, so a rolled-back outer write announces nothing.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

from hoso.plugin_manager import await_me_maybe, plugin_name
from hoso.plugin_types import RecordEvent

if TYPE_CHECKING:  # pragma: no cover
    from hoso.config import EntityDef, TransitionDef
    from hoso.records.service import RecordContext
    from hoso.runtime import Runtime

__all__ = ["collected", "emit"]

log = logging.getLogger(__name__)

_PENDING: ContextVar[list[RecordEvent] | None] = ContextVar("hoso_pending_record_events", default=None)


@asynccontextmanager
async def collected(rt: Runtime) -> AsyncIterator[None]:
    pending = _PENDING.get()
    if pending is not None:
        mark = len(pending)
        try:
            yield
        except BaseException:
            del pending[mark:]  # the nested write's own savepoint rolled back
            raise
        return
    token = _PENDING.set([])
    try:
        yield
        events = _PENDING.get() or []
    finally:
        _PENDING.reset(token)
    if events:
        await _after_commit(rt, events)


async def emit(rt: Runtime, kind: str, entity: EntityDef, record: dict, context: RecordContext, *,
               before: dict | None = None, transition: TransitionDef | None = None) -> None:
    """Call ``hoso_record_<kind>`` (inside the write's transaction) and hold the event for after the commit."""
    hook = getattr(rt.pm.hook, f"hoso_record_{kind}")
    if kind == "changed":
        results = hook(entity=entity, before=before, after=record, context=context, runtime=rt)
    elif kind == "transitioned":
        results = hook(entity=entity, record=record, transition=transition, context=context)
    else:
        results = hook(entity=entity, record=record, context=context)
    for result in results:
        await await_me_maybe(result)
    pending = _PENDING.get()
    if pending is not None:
        pending.append(RecordEvent(kind, entity, record, context, before, transition))


async def _after_commit(rt: Runtime, events: list[RecordEvent]) -> None:
    # The change is durable: one failing implementation must neither undo it nor silence the others.
    for impl in reversed(rt.pm.hook.hoso_after_commit.get_hookimpls()):
        try:
            await await_me_maybe(impl.function(**({"events": list(events)} if impl.argnames else {})))
        except Exception:
            log.exception("hoso_after_commit of plugin %s failed", plugin_name(rt.pm, impl))
