"""Test-only plugin of background jobs: job kinds whose handlers record what they ran (see tests/jobs/)."""

from __future__ import annotations

import asyncio
import os
import time

from hoso import JobKind, hookimpl
from hoso.jobs import enqueue


class Probe:
    """Job kinds ``ok`` (records the job), ``flaky`` (fails until its payload's ``fail_times``), ``broken`` (always
    fails, dead after 3 attempts) and ``slow`` (waits longer than its lease). Optionally enqueues an ``ok`` job from
    every write's guard, and refuses creates after it (``refuse``), to test the outbox."""

    def __init__(self, *, enqueue_on_write: bool = False, refuse: bool = False):
        self.ran: list[int] = []
        self.calls: dict[int, int] = {}
        self.enqueue_on_write = enqueue_on_write
        self.refuse = refuse

    @hookimpl
    def hoso_job_kinds(self):
        async def ok(rt, job):
            self.ran.append(job.id)
            await asyncio.sleep(0)
            return {"echo": job.payload}

        async def flaky(rt, job):
            self.calls[job.id] = self.calls.get(job.id, 0) + 1
            if self.calls[job.id] <= job.payload["fail_times"]:
                raise RuntimeError(f"attempt {job.attempts} failed")
            self.ran.append(job.id)

        async def broken(rt, job):
            raise ValueError("never works")

        async def slow(rt, job):
            await asyncio.sleep(5)

        return [JobKind("ok", ok), JobKind("flaky", flaky, max_attempts=5, backoff=0),
                JobKind("broken", broken, max_attempts=3, backoff=10), JobKind("slow", slow, lease=0.2)]

    @hookimpl
    async def hoso_write_guard(self, entity, action, before, after, context, db):
        if self.enqueue_on_write:
            await enqueue(db, "ok", {"requester": (after or {}).get("requester")})

    @hookimpl
    def hoso_record_created(self, entity, record, context):
        if self.refuse:
            raise RuntimeError("refused after the guard")


async def _logged(rt, job):
    """Appends the job's id to the file JOBS_PROBE_LOG names (one line per run, from any process)."""
    await asyncio.sleep(0.01)
    with open(os.environ["JOBS_PROBE_LOG"], "a", encoding="utf-8") as f:
        f.write(f"{job.id} {os.getpid()}\n")


@hookimpl
def hoso_job_kinds():
    """The probe's kinds and ``logged``, for ``HOSO_PLUGINS=tests.plugins.jobs_probe`` (the command line). With
    JOBS_PROBE_STARTING set, a worker starting writes that file and takes a further 3 s to start."""
    if starting := os.environ.get("JOBS_PROBE_STARTING"):
        with open(starting, "w", encoding="utf-8") as f:
            f.write(str(os.getpid()))
        time.sleep(3)
    return [*Probe().hoso_job_kinds(), JobKind("logged", _logged)]
