"""Scheduled work (``hoso_scheduled_work``): due work is run by one process at a time.

Each work has a row in ``hoso_schedule`` (a system table of the built-in ``hoso.plugins.scheduler``). A process
takes the work by one conditional UPDATE that succeeds only when the work is due and nobody holds a live lease,
so two servers sharing a database never run it at once; a process that dies mid-run loses the lease when it
expires (after the work's interval, at least a minute). Times are whole seconds since the epoch, which compare
the same way on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from typing import TYPE_CHECKING

from hoso.plugin_manager import collect
from hoso.plugin_types import ScheduledWork

if TYPE_CHECKING:  # pragma: no cover
    from hoso.runtime import Runtime

__all__ = ["scheduled_work", "run_due", "run_forever", "TABLE"]

log = logging.getLogger(__name__)

TABLE = "hoso_schedule"
MIN_LEASE = 60
# How often a serving process looks for due work.
TICK_SECONDS = 30


def scheduled_work(rt: Runtime) -> list[ScheduledWork]:
    """The work plugins schedule; a name given twice stops start-up. None while the table's plugin is blocked."""
    if rt.pm.is_blocked("hoso.plugins.scheduler"):
        return []
    return collect(rt.pm, "hoso_scheduled_work", lambda w: [w.name], "scheduled work")


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


async def _take(rt: Runtime, work: ScheduledWork, now: int, owner: str) -> bool:
    db = rt.db
    await db.execute(f"INSERT INTO {TABLE} (name, next_run_at, lease_until) VALUES ({{}}, {{}}, {{}}) "
                     "ON CONFLICT (name) DO NOTHING", work.name, now, 0)
    lease = now + max(int(work.every.total_seconds()), MIN_LEASE)
    taken = await db.fetch(
        f"UPDATE {TABLE} SET lease_owner = {{}}, lease_until = {{}} WHERE name = {{}} AND next_run_at <= {{}} "
        "AND lease_until <= {} RETURNING name", owner, lease, work.name, now, now)
    return bool(taken)


async def _release(rt: Runtime, work: ScheduledWork, started: int, error: str | None) -> None:
    await rt.db.execute(
        f"UPDATE {TABLE} SET lease_owner = NULL, lease_until = 0, last_run_at = {{}}, next_run_at = {{}}, "
        "last_error = {} WHERE name = {}",
        started, started + int(work.every.total_seconds()), error, work.name)


async def run_due(rt: Runtime, works: list[ScheduledWork] | None = None, *, now: int | None = None) -> list[str]:
    """Run every due work this process could take; the names of those it ran. A failing work is logged and
    tried again at its next turn."""
    works = scheduled_work(rt) if works is None else works
    owner = _owner()
    ran = []
    for work in works:
        started = int(time.time()) if now is None else now
        if not await _take(rt, work, started, owner):
            continue
        error = None
        try:
            await work.run(rt)
        except Exception as exc:  # the schedule goes on; the failure is kept with the work's row
            log.exception("scheduled work %s failed", work.name)
            error = f"{type(exc).__name__}: {exc}"
        await _release(rt, work, started, error)
        ran.append(work.name)
    return ran


async def run_forever(rt: Runtime, tick: float = TICK_SECONDS) -> None:
    """Look for due work every ``tick`` seconds until cancelled (``hoso serve``, ``hoso run-scheduled``)."""
    works = scheduled_work(rt)
    if not works:
        return
    while True:
        try:
            await run_due(rt, works)
        except Exception:  # e.g. the database briefly unreachable: try again at the next tick
            log.exception("scheduled work could not be started")
        await asyncio.sleep(tick)
