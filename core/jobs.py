"""Background jobs: a queue on the project's own table (``hoso_job``), claimed by workers on both engines.

A job is a row. ``enqueue(db, kind, payload)`` inserts it with the caller's database, so a job enqueued while a
record is written (``hoso_write_guard``, ``hoso_transition_done``: their ``db`` argument) is part of the write's
transaction: when the write rolls back, the job never existed.

Workers (``hoso worker`` processes, or the one ``hoso serve`` runs in-process when ``HOSO_EMBEDDED_WORKER`` is on)
claim due jobs by one statement: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, a conditional UPDATE on SQLite (one
writer at a time), so two workers never hold the same job. A claim is a lease of the kind's ``lease`` seconds; a
worker that dies mid-job leaves the lease to expire, and the job is claimed again (the lost attempt counts). A
failing job is tried again after an exponential backoff with jitter, and is ``dead`` after the kind's
``max_attempts``, or at once when its handler raises ``PermanentFailure`` (trying again cannot help: the other
side refused the message itself); an administrator may send a dead job back to the queue (``retry_dead``).

A ``key`` deduplicates: while a job of the same kind and key waits to run (``pending`` or ``failed``), another
enqueue with that key is a no-op and returns None. A running job does not hold its key, so a change made while it
runs gets a job of its own.

States: ``pending`` (waiting for its first run), ``running`` (claimed, lease held), ``failed`` (waiting to be tried
again), ``dead`` (out of attempts, or failed for good), ``done``. Times are milliseconds since the epoch, on both
engines.

Plugins declare job kinds with ``hoso_job_kinds`` (``hoso.plugin_types.JobKind``). The worker loop also runs the
scheduled work of ``hoso.scheduler`` (one process at a time, by its own leases).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hoso.db import Database
from hoso.plugin_manager import collect
from hoso.plugin_types import Job, JobKind
from hoso.runtime import applied_definitions, reload_runtime
from hoso.scheduler import TICK_SECONDS, run_due, scheduled_work
from hoso.settings import get as setting

if TYPE_CHECKING:  # pragma: no cover
    from hoso.runtime import Runtime

__all__ = ["TABLE", "STATES", "WAITING", "PermanentFailure", "enqueue", "claim", "complete", "fail", "expire",
           "retry_dead", "jobs", "job", "release", "queue_health", "purge_done", "job_kinds", "backoff_delay", "Worker",
           "now_ms"]

log = logging.getLogger(__name__)

TABLE = "hoso_job"
STATES = ("pending", "running", "failed", "dead", "done")
WAITING = ("pending", "failed")
# The longest wait between two attempts, however many failed before.
MAX_BACKOFF_SECONDS = 6 * 3600
ERROR_CHARS = 4000
# Job ids are the table's serial key: a 32-bit integer on PostgreSQL.
MAX_ID = 2 ** 31 - 1

_COLUMNS = ("id, kind, payload, dedup_key, state, attempts, run_at, lease_owner, lease_until, last_error, "
            "result, user_id, created_at, finished_at")


class PermanentFailure(Exception):
    """Raised by a job's handler when trying again cannot help (e.g. the receiver refused the message itself with
    a 4xx answer): the job is ``dead`` at once, its message kept as the reason. Any other exception is a failed
    attempt, tried again after the backoff."""


def now_ms() -> int:
    return int(time.time() * 1000)


def _wait_key(kind: str, key: str) -> str:
    return f"{kind}\x1f{key}"


async def enqueue(db: Database, kind: str, payload: Any = None, *, key: str | None = None, delay: float = 0,
                  user_id: int | None = None, now: int | None = None) -> int | None:
    """Queue a job of ``kind`` with ``payload`` (JSON-ready) in ``db``'s current transaction, if any; its id, or
    None when a job of this kind and ``key`` is already waiting to run. ``delay`` (seconds) puts off its first
    run; ``user_id`` names the user it runs for (shown in the admin; exports are read back by that user only)."""
    at = now_ms() if now is None else now
    wait_key = None if key is None else _wait_key(kind, key)
    row = await db.fetch(
        f"INSERT INTO {TABLE} (kind, payload, dedup_key, wait_key, state, attempts, run_at, lease_until, user_id, "
        "created_at) VALUES ({}, {}, {}, {}, 'pending', 0, {}, 0, {}, {}) ON CONFLICT (wait_key) DO NOTHING "
        "RETURNING id",
        kind, json.dumps(payload, ensure_ascii=False), key, wait_key, at + int(delay * 1000), user_id, at)
    return row[0]["id"] if row else None


def _job(row: dict) -> Job:
    return Job(id=row["id"], kind=row["kind"], payload=json.loads(row["payload"]) if row["payload"] else None,
               attempts=row["attempts"], key=row["dedup_key"], user_id=row["user_id"])


async def claim(db: Database, kinds: dict[str, JobKind], owner: str, *, limit: int = 1,
                now: int | None = None, sweep: bool = True) -> list[Job]:
    """Take up to ``limit`` due jobs of ``kinds`` for ``owner``: waiting ones whose time came, and running ones
    whose lease expired (their worker died). Each attempt counts, the claimed one included. ``sweep`` first makes
    dead the jobs whose lease expired on their last attempt (``expire``)."""
    if not kinds:
        return []
    at = now_ms() if now is None else now
    if sweep:
        await expire(db, kinds, now=at)
    names = sorted(kinds)
    marks = ", ".join("{}" for _ in names)
    # A job whose lease expired is taken again while it has attempts left (else ``expire`` makes it dead).
    maxes = " ".join("WHEN {} THEN CAST({} AS INTEGER)" for _ in names)
    due = (f"kind IN ({marks}) AND ((state IN ('pending', 'failed') AND run_at <= {{}}) "
           f"OR (state = 'running' AND lease_until <= {{}} AND attempts < CASE kind {maxes} END))")
    due_args = (*names, at, at, *[a for n in names for a in (n, kinds[n].max_attempts)])
    pick = f"SELECT id FROM {TABLE} WHERE {due} ORDER BY run_at, id LIMIT {{}}"
    pick_args = (*due_args, limit)
    # Each job's lease is its kind's.
    leases = " ".join("WHEN {} THEN CAST({} AS BIGINT)" for _ in names)
    lease_args = [a for n in names for a in (n, at + int(kinds[n].lease * 1000))]
    update = (f"UPDATE {TABLE} SET state = 'running', attempts = attempts + 1, lease_owner = {{}}, "
              f"lease_until = CASE kind {leases} END, wait_key = NULL WHERE id IN ({{pick}}) AND {due} "
              f"RETURNING {_COLUMNS}")
    if db.is_sqlite:  # one writer at a time: the statement picks and takes at once
        rows = await db.fetch(update.replace("{pick}", pick), owner, *lease_args, *pick_args, *due_args)
    else:
        # The locking CTE runs once, skipping the rows other workers hold, and keeps its rows locked.
        rows = await db.fetch(f"WITH picked AS ({pick} FOR UPDATE SKIP LOCKED) "
                              + update.replace("{pick}", "SELECT id FROM picked"),
                              *pick_args, owner, *lease_args, *due_args)
    return [_job(r) for r in sorted(rows, key=lambda r: r["id"])]


async def expire(db: Database, kinds: dict[str, JobKind], *, now: int | None = None) -> int:
    """Make dead the running jobs whose lease expired on their last attempt; how many."""
    at = now_ms() if now is None else now
    rows = await db.fetch(f"SELECT id, kind, attempts FROM {TABLE} WHERE state = 'running' AND lease_until <= {{}}",
                          at)
    dead = 0
    for r in rows:
        kind = kinds.get(r["kind"])
        if kind is not None and r["attempts"] >= kind.max_attempts:
            done = await db.fetch(
                f"UPDATE {TABLE} SET state = 'dead', lease_owner = NULL, finished_at = {{}}, last_error = {{}} "
                "WHERE id = {} AND state = 'running' AND lease_until <= {} RETURNING id",
                at, "lease expired: the worker stopped before the job ended", r["id"], at)
            dead += len(done)
    return dead


async def complete(db: Database, job_id: int, owner: str, result: Any = None, *, now: int | None = None) -> bool:
    """Mark the job done with ``result``; False when ``owner`` no longer holds it (its lease expired and another
    worker took it)."""
    at = now_ms() if now is None else now
    rows = await db.fetch(
        f"UPDATE {TABLE} SET state = 'done', lease_owner = NULL, lease_until = 0, finished_at = {{}}, "
        "result = {}, last_error = NULL WHERE id = {} AND state = 'running' AND lease_owner = {} RETURNING id",
        at, json.dumps(result, ensure_ascii=False, default=str), job_id, owner)
    return bool(rows)


def backoff_delay(kind: JobKind, attempts: int, rand: Callable[[], float] = random.random) -> float:
    """Seconds to wait after the ``attempts``-th failure: ``kind.backoff`` doubled per failure (at most six
    hours), of which a random half is waited (jitter), so failed jobs do not come back all at once."""
    base = min(kind.backoff * 2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS)
    return base / 2 + rand() * base / 2


async def fail(db: Database, job: Job, kind: JobKind, owner: str, error: str, *, now: int | None = None,
               rand: Callable[[], float] = random.random, permanent: bool = False) -> str | None:
    """Record a failed attempt: ``failed`` (tried again after a backoff) or ``dead`` after ``max_attempts`` (at
    once when ``permanent``); the new state, or None when ``owner`` no longer holds the job. A job whose key
    another job took while it ran gives its key up and is tried again all the same."""
    at = now_ms() if now is None else now
    error = error[:ERROR_CHARS]
    if permanent or job.attempts >= kind.max_attempts:
        rows = await db.fetch(
            f"UPDATE {TABLE} SET state = 'dead', lease_owner = NULL, lease_until = 0, finished_at = {{}}, "
            "last_error = {} WHERE id = {} AND state = 'running' AND lease_owner = {} RETURNING id",
            at, error, job.id, owner)
        return "dead" if rows else None
    run_at = at + int(backoff_delay(kind, job.attempts, rand) * 1000)
    rows = await db.fetch(
        f"UPDATE {TABLE} SET state = 'failed', lease_owner = NULL, lease_until = 0, run_at = {{}}, last_error = {{}}, "
        f"wait_key = CASE WHEN dedup_key IS NULL OR EXISTS (SELECT 1 FROM {TABLE} o WHERE o.wait_key = {{}}) "
        "THEN NULL ELSE {} END WHERE id = {} AND state = 'running' AND lease_owner = {} RETURNING id",
        run_at, error, _wait_key(job.kind, job.key or ""), _wait_key(job.kind, job.key or ""), job.id, owner)
    return "failed" if rows else None


async def retry_dead(db: Database, job_id: int, *, now: int | None = None) -> bool:
    """Send a dead job back to the queue with its attempts reset; False when it is not dead."""
    if not 0 < job_id <= MAX_ID:
        return False
    at = now_ms() if now is None else now
    rows = await db.fetch(
        f"UPDATE {TABLE} SET state = 'pending', attempts = 0, run_at = {{}}, finished_at = NULL, "
        f"wait_key = CASE WHEN dedup_key IS NULL OR EXISTS (SELECT 1 FROM {TABLE} o "
        "WHERE o.wait_key = kind || {} || dedup_key) THEN NULL ELSE kind || {} || dedup_key END "
        "WHERE id = {} AND state = 'dead' RETURNING id", at, "\x1f", "\x1f", job_id)
    return bool(rows)


async def release(db: Database, job_id: int, held: Any, payload: Any, *, now: int | None = None) -> bool:
    """Make a waiting job due now with ``payload``, if it still waits with payload ``held``; False when it does not
    (it ran, or another caller released it first: of two callers racing, one wins)."""
    if not 0 < job_id <= MAX_ID:
        return False
    at = now_ms() if now is None else now
    rows = await db.fetch(
        f"UPDATE {TABLE} SET payload = {{}}, run_at = {{}} WHERE id = {{}} AND state = 'pending' AND payload = {{}} "
        "RETURNING id", json.dumps(payload, ensure_ascii=False), at, job_id, json.dumps(held, ensure_ascii=False))
    return bool(rows)


async def jobs(db: Database, state: str | None = None, *, limit: int = 100, user_id: int | None = None,
               kind: str | None = None) -> list[dict]:
    """The newest jobs, optionally of one ``state``, ``user_id`` and ``kind``, as rows."""
    where, args = ["1 = 1"], []
    for column, value in (("state", state), ("user_id", user_id), ("kind", kind)):
        if value is not None:
            where.append(f"{column} = {{}}")
            args.append(value)
    return await db.fetch(f"SELECT {_COLUMNS} FROM {TABLE} WHERE {' AND '.join(where)} ORDER BY id DESC "
                          "LIMIT {}", *args, limit)


async def job(db: Database, job_id: int) -> dict | None:
    """The job ``job_id``, or None (also for an id no job can have)."""
    if not 0 < job_id <= MAX_ID:
        return None
    rows = await db.fetch(f"SELECT {_COLUMNS} FROM {TABLE} WHERE id = {{}}", job_id)
    return rows[0] if rows else None


async def purge_done(rt: Runtime, *, now: int | None = None) -> int:
    """Remove the jobs done more than ``HOSO_JOBS_KEEP_DAYS`` ago, with the files of report exports among them;
    how many. Dead and failed jobs stay until an administrator has dealt with them."""
    from hoso.plugins.jobs import EXPORT_KIND, export_path

    at = now_ms() if now is None else now
    before = at - int(setting("HOSO_JOBS_KEEP_DAYS") * 86_400_000)
    rows = await rt.db.fetch(f"DELETE FROM {TABLE} WHERE state = 'done' AND finished_at < {{}} RETURNING id, kind",
                             before)
    for r in rows:
        if r["kind"] == EXPORT_KIND:
            for fmt in ("csv", "xlsx"):
                export_path(r["id"], fmt).unlink(missing_ok=True)
    return len(rows)


async def queue_health(rt: Runtime, *, now: int | None = None) -> dict:
    """What /readyz and metrics read: jobs by state, the age in seconds of the oldest job due and waiting, and
    the running jobs whose lease expired (their worker stopped)."""
    at = now_ms() if now is None else now
    db = rt.db
    counts = {s: 0 for s in STATES}
    for r in await db.fetch(f"SELECT state, COUNT(*) AS n FROM {TABLE} GROUP BY state"):
        counts[r["state"]] = int(r["n"])
    oldest = await db.fetchval(f"SELECT MIN(run_at) AS m FROM {TABLE} WHERE state IN ('pending', 'failed') "
                               "AND run_at <= {}", at)
    stuck = await db.fetchval(f"SELECT COUNT(*) AS n FROM {TABLE} WHERE state = 'running' AND lease_until <= {{}}",
                              at)
    return {"counts": counts, "oldest_due_seconds": 0.0 if oldest is None else (at - int(oldest)) / 1000,
            "expired_leases": int(stuck or 0)}


def job_kinds(rt: Runtime) -> dict[str, JobKind]:
    """The job kinds plugins declare (``hoso_job_kinds``), by name; a name given twice stops start-up. None while
    the table's plugin is blocked."""
    if rt.pm.is_blocked("hoso.plugins.jobs"):
        return {}
    return {k.name: k for k in collect(rt.pm, "hoso_job_kinds", lambda k: [k.name], "job kind")}


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Worker:
    """Runs jobs: ``concurrency`` loops, each claiming one job at a time, and every ``tick`` seconds the scheduled
    work and the removal of old done jobs (``purge_done``). ``hoso worker`` runs one in its own process;
    ``hoso serve`` one inside the application."""

    def __init__(self, rt: Runtime, *, concurrency: int = 1, poll: float | None = None,
                 tick: float = TICK_SECONDS, kinds: dict[str, JobKind] | None = None, scheduled: bool = True):
        self.rt = rt
        self.concurrency = max(1, concurrency)
        self.poll = setting("HOSO_JOBS_POLL_SECONDS") if poll is None else poll
        self.tick = tick
        self.kinds = job_kinds(rt) if kinds is None else kinds
        self.works = scheduled_work(rt) if scheduled else []
        self.owner = _owner()
        self.ran = 0
        self.swept = -1.0e9
        self.definitions_poll = setting("HOSO_DEFINITIONS_POLL_SECONDS")
        self.checked = time.monotonic()
        self.stopping = asyncio.Event()

    async def follow_definitions(self) -> bool:
        """Move to the definitions ``hoso migrate`` applied since this worker started (when the files on disk are
        them), as every application process does; True when it moved. Jobs claimed after it run on them."""
        applied = await applied_definitions(self.rt)
        if applied is None or applied == self.rt.config.content_hash:
            return False
        new = await asyncio.to_thread(reload_runtime, self.rt, applied)
        if new is None:
            return False
        self.rt = new
        log.info("the worker moved to definitions %s", applied[:12])
        return True

    async def run_one(self) -> bool:
        """Claim one due job and run it; False when none was due."""
        if time.monotonic() - self.checked >= self.definitions_poll:
            self.checked = time.monotonic()
            try:
                await self.follow_definitions()
            except Exception:  # the database is away for a moment, or the files do not load: the next check retries
                log.warning("checking the applied definitions failed", exc_info=True)
        # Jobs out of attempts whose lease expired are made dead at most once a second per worker.
        sweep = time.monotonic() - self.swept >= 1.0
        if sweep:
            self.swept = time.monotonic()
        claimed = await claim(self.rt.db, self.kinds, self.owner, sweep=sweep)
        if not claimed:
            return False
        await self._run(claimed[0])
        return True

    async def _run(self, job: Job) -> None:
        kind = self.kinds[job.kind]
        try:
            result = await asyncio.wait_for(kind.handler(self.rt, job), timeout=kind.lease)
        except Exception as exc:  # the job goes on: the failure is kept with its row, and it is tried again
            if isinstance(exc, TimeoutError):
                error = f"timed out after {kind.lease:g} s"
            else:
                error = f"{type(exc).__name__}: {exc}"
            permanent = isinstance(exc, PermanentFailure)
            log.warning("job %s (%s) attempt %s failed%s: %s", job.id, job.kind, job.attempts,
                        " for good" if permanent else "", error)
            await fail(self.rt.db, job, kind, self.owner, error, permanent=permanent)
        else:
            if not await complete(self.rt.db, job.id, self.owner, result):
                log.warning("job %s (%s) ended after its lease was taken over", job.id, job.kind)
        self.ran += 1

    async def run_once(self) -> int:
        """Run the jobs due now (until none is left) and the scheduled work due now; how many jobs ran."""
        before = self.ran
        if self.works:
            await run_due(self.rt, self.works)
        while await self.run_one():
            pass
        return self.ran - before

    def stop(self) -> None:
        """Stop after the jobs running now: no job is claimed and no scheduled work started after this."""
        self.stopping.set()

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), timeout=seconds)

    async def _loop(self) -> None:
        errors = 0
        while not self.stopping.is_set():
            try:
                busy = await self.run_one()
                errors = 0
            except Exception:  # e.g. the database briefly unreachable: try again after a growing pause
                log.exception("jobs could not be claimed")
                busy, errors = False, errors + 1
            if not busy:
                await self._pause(min(self.poll * 2 ** errors, 60.0))

    async def _schedule(self) -> None:
        while not self.stopping.is_set():
            try:
                if self.works:
                    await run_due(self.rt, self.works)
                await purge_done(self.rt)
            except Exception:  # the schedule goes on at the next tick
                log.exception("scheduled work could not be started")
            await self._pause(self.tick)

    async def run_forever(self) -> None:
        """Run until ``stop`` (then return once the jobs running have ended) or until cancelled (a job cut short
        is taken again when its lease expires)."""
        tasks = [asyncio.create_task(self._loop()) for _ in range(self.concurrency if self.kinds else 0)]
        if self.works or self.kinds:
            tasks.append(asyncio.create_task(self._schedule()))
        if not tasks:
            return
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
