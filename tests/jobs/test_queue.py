"""The job queue on both engines: the outbox, safe claims, leases, backoff, dead jobs, deduplication."""

from __future__ import annotations

import asyncio

import pytest

from hoso import JobKind
from hoso.jobs import (
    Worker,
    backoff_delay,
    claim,
    complete,
    enqueue,
    fail,
    job,
    job_kinds,
    jobs,
    queue_health,
    retry_dead,
)
from hoso.plugin_manager import PluginError
from hoso.records.service import RecordContext, RecordError
from hoso.runtime import Runtime
from tests.plugins.jobs_probe import Probe

T0 = 1_800_000_000_000  # a fixed "now", in milliseconds



async def case_payload(rt) -> dict:
    unit = await rt.db.fetchval("SELECT id FROM hoso_unit WHERE code = {}", "TT")
    return {"received_on": "2025-03-01", "form_of_aid": "TV", "requester": "Nguyễn Văn A", "unit": unit}


async def test_a_job_enqueued_in_a_rolled_back_write_never_runs(rt, probe):
    probe.enqueue_on_write, probe.refuse = True, True
    ctx = RecordContext.system(rt.config)
    CASE = await case_payload(rt)
    with pytest.raises(RuntimeError, match="refused after the guard"):
        await rt.records().create("case", CASE, ctx)
    assert await jobs(rt.db) == []
    assert await Worker(rt).run_once() == 0 and probe.ran == []
    # The same write committed: its job commits with it and runs.
    probe.refuse = False
    await rt.records().create("case", CASE, ctx)
    [queued] = await jobs(rt.db)
    assert queued["state"] == "pending" and queued["kind"] == "ok"
    assert await Worker(rt).run_once() == 1
    assert probe.ran == [queued["id"]]
    done = await job(rt.db, queued["id"])
    assert done["state"] == "done" and '"Nguyễn Văn A"' in done["result"]


async def test_a_job_enqueued_in_a_refused_write_never_runs(rt, probe):
    """A validation refusal also rolls the job back."""
    probe.enqueue_on_write = True
    with pytest.raises(RecordError):
        await rt.records().create("case", {**await case_payload(rt), "form_of_aid": "XX"},
                                  RecordContext.system(rt.config))
    assert await jobs(rt.db) == []


async def test_two_workers_never_run_the_same_job(rt, probe, other_runtimes):
    ids = [await enqueue(rt.db, "ok", {"n": n}) for n in range(80)]
    workers = [Worker(r, scheduled=False) for r in other_runtimes[:2]]

    async def drain(worker):
        while await worker.run_one():
            pass

    # Two workers, each with three loops on connections of its own.
    await asyncio.gather(*(drain(w) for w in workers for _ in range(3)))
    assert sorted(probe.ran) == sorted(ids), "every job ran exactly once"
    assert sum(w.ran for w in workers) == 80
    assert {r["state"] for r in await jobs(rt.db, limit=1000)} == {"done"}


async def test_a_crashed_workers_job_is_taken_again_after_its_lease(rt):
    kinds = job_kinds(rt)
    job_id = await enqueue(rt.db, "ok", None, now=T0)
    [first] = await claim(rt.db, kinds, "worker-a", now=T0)  # then worker-a dies
    assert first.id == job_id and first.attempts == 1
    lease_ms = int(kinds["ok"].lease * 1000)
    assert await claim(rt.db, kinds, "worker-b", now=T0 + lease_ms - 1) == [], "the lease still holds"
    [again] = await claim(rt.db, kinds, "worker-b", now=T0 + lease_ms)
    assert again.id == job_id and again.attempts == 2
    assert not await complete(rt.db, job_id, "worker-a", now=T0 + lease_ms + 1), "a lost lease cannot complete"
    assert await complete(rt.db, job_id, "worker-b", now=T0 + lease_ms + 1)
    assert (await job(rt.db, job_id))["state"] == "done"


async def test_a_lease_expiring_on_the_last_attempt_makes_the_job_dead(rt):
    kinds = job_kinds(rt)
    job_id = await enqueue(rt.db, "broken", None, now=T0)
    lease_ms = int(kinds["broken"].lease * 1000)
    at = T0
    for attempt in (1, 2, 3):
        [taken] = await claim(rt.db, kinds, f"w{attempt}", now=at)
        assert taken.attempts == attempt
        at += lease_ms
    assert await claim(rt.db, kinds, "w4", now=at, sweep=False) == [], "out of attempts: never taken again"
    assert (await job(rt.db, job_id))["state"] == "running"
    assert await claim(rt.db, kinds, "w4", now=at) == []
    row = await job(rt.db, job_id)
    assert row["state"] == "dead" and "lease expired" in row["last_error"]
    assert (await queue_health(rt, now=at))["counts"]["dead"] == 1


async def test_a_handler_running_past_its_lease_fails(rt):
    job_id = await enqueue(rt.db, "slow", None)
    assert await Worker(rt, scheduled=False).run_one()
    row = await job(rt.db, job_id)
    assert row["state"] == "failed" and row["last_error"].startswith("timed out after 0.2 s")


async def test_a_stopped_worker_lets_its_running_job_end_and_claims_no_more(rt):
    started, release = asyncio.Event(), asyncio.Event()

    async def held(rt_, job_):
        started.set()
        await release.wait()
        return "ended"

    kinds = {"held": JobKind("held", held)}
    first = await enqueue(rt.db, "held", None)
    second = await enqueue(rt.db, "held", None)
    worker = Worker(rt, scheduled=False, kinds=kinds, poll=0.01)
    running = asyncio.create_task(worker.run_forever())
    await asyncio.wait_for(started.wait(), 10)
    worker.stop()
    await asyncio.sleep(0.05)
    assert not running.done(), "the running job is waited for"
    release.set()
    await asyncio.wait_for(running, 10)
    assert (await job(rt.db, first))["state"] == "done"
    assert (await job(rt.db, second))["state"] == "pending", "no job is claimed after stop"


async def test_backoff_grows_with_jitter_and_the_job_dies_after_max_attempts(rt):
    kinds = job_kinds(rt)
    kind = kinds["broken"]  # max_attempts 3, backoff 10 s
    job_id = await enqueue(rt.db, "broken", None, now=T0)
    at = T0
    waits = []
    for _ in (1, 2):
        [taken] = await claim(rt.db, kinds, "w", now=at)
        assert await fail(rt.db, taken, kind, "w", "ValueError: never works", now=at, rand=lambda: 1.0) == "failed"
        row = await job(rt.db, job_id)
        assert row["state"] == "failed" and row["last_error"] == "ValueError: never works"
        waits.append(row["run_at"] - at)
        assert await claim(rt.db, kinds, "w", now=row["run_at"] - 1) == [], "not before its backoff"
        at = row["run_at"]
    assert waits == [10_000, 20_000]
    [taken] = await claim(rt.db, kinds, "w", now=at)
    assert await fail(rt.db, taken, kind, "w", "ValueError: never works", now=at) == "dead"
    assert await claim(rt.db, kinds, "w", now=at + 10**9) == []
    assert [r["id"] for r in await jobs(rt.db, "dead")] == [job_id]
    # An administrator sends it back: attempts start again.
    assert await retry_dead(rt.db, job_id, now=at)
    assert not await retry_dead(rt.db, job_id, now=at), "only a dead job is sent back"
    [again] = await claim(rt.db, kinds, "w", now=at)
    assert again.id == job_id and again.attempts == 1


def test_backoff_delay_stays_between_half_and_all_of_the_doubled_base():
    kind = JobKind("k", lambda rt, job: None, backoff=3)  # type: ignore[arg-type, return-value]
    for attempts in range(1, 30):
        base = min(3 * 2 ** (attempts - 1), 6 * 3600)
        assert backoff_delay(kind, attempts, lambda: 0.0) == base / 2
        assert backoff_delay(kind, attempts, lambda: 1.0) == base


async def test_a_worker_retries_a_flaky_job_until_it_succeeds(rt, probe):
    job_id = await enqueue(rt.db, "flaky", {"fail_times": 2})
    worker = Worker(rt, scheduled=False)
    assert await worker.run_once() == 3  # backoff 0: tried again at once
    assert probe.calls[job_id] == 3 and probe.ran == [job_id]
    row = await job(rt.db, job_id)
    assert row["state"] == "done" and row["attempts"] == 3 and row["last_error"] is None


async def test_a_key_waiting_to_run_deduplicates(rt):
    kinds = job_kinds(rt)
    first = await enqueue(rt.db, "broken", {"v": 1}, key="case-7", now=T0)
    assert first is not None
    assert await enqueue(rt.db, "broken", {"v": 2}, key="case-7", now=T0) is None, "already waiting: a no-op"
    assert await enqueue(rt.db, "ok", {"v": 2}, key="case-7", now=T0) is not None, "keys are per kind"
    assert await enqueue(rt.db, "broken", {"v": 2}, key="case-8", now=T0) is not None
    [taken] = [j for j in await claim(rt.db, kinds, "w", limit=10, now=T0) if j.id == first]
    # Running: the key is free again, so a change made meanwhile gets a job of its own.
    second = await enqueue(rt.db, "broken", {"v": 3}, key="case-7", now=T0)
    assert second is not None
    # The first fails while the second waits: it gives up its key and is tried again all the same.
    assert await fail(rt.db, taken, kinds["broken"], "w", "ValueError: x", now=T0) == "failed"
    assert (await job(rt.db, first))["state"] == "failed"
    assert await enqueue(rt.db, "broken", {"v": 4}, key="case-7", now=T0) is None
    waiting = [r["id"] for r in await jobs(rt.db, "failed")] + [r["id"] for r in await jobs(rt.db, "pending")]
    assert first in waiting and second in waiting


async def test_a_failed_job_keeps_its_key_while_it_waits(rt):
    kinds = job_kinds(rt)
    first = await enqueue(rt.db, "broken", None, key="k", now=T0)
    [taken] = await claim(rt.db, kinds, "w", now=T0)
    await fail(rt.db, taken, kinds["broken"], "w", "ValueError: x", now=T0)
    assert await enqueue(rt.db, "broken", None, key="k", now=T0) is None
    assert [r["id"] for r in await jobs(rt.db)] == [first]


async def test_jobs_of_a_kind_no_worker_knows_wait(rt):
    await enqueue(rt.db, "unknown_kind", None)
    assert await Worker(rt, scheduled=False).run_once() == 0
    health = await queue_health(rt)
    assert health["counts"]["pending"] == 1 and health["oldest_due_seconds"] >= 0


async def test_queue_health_counts_states_age_and_expired_leases(rt):
    kinds = job_kinds(rt)
    await enqueue(rt.db, "ok", None, now=T0)
    await enqueue(rt.db, "ok", None, now=T0 + 1000)
    await enqueue(rt.db, "ok", None, now=T0, delay=3600)  # not due yet: not counted in the age
    [taken] = await claim(rt.db, kinds, "w", now=T0 + 5000)
    health = await queue_health(rt, now=T0 + 5000)
    assert health == {"counts": {"pending": 2, "running": 1, "failed": 0, "dead": 0, "done": 0},
                      "oldest_due_seconds": 4.0, "expired_leases": 0}
    later = T0 + 5000 + int(kinds["ok"].lease * 1000)
    assert (await queue_health(rt, now=later))["expired_leases"] == 1
    assert taken.attempts == 1


async def test_a_scheduled_work_runs_once_per_slot_with_three_workers_up(config_dir, database_url, rt,
                                                                        other_runtimes):
    from tests.plugins.hooks_probe import Schedule

    work = Schedule()
    runtimes = [Runtime.create(config_dir.root, database_url, plugins=[work]) for _ in range(3)]
    for r in runtimes:
        await r.db.start()
    try:
        workers = [Worker(r) for r in runtimes]
        await asyncio.gather(*(w.run_once() for w in workers))
        assert len(work.runs) == 1, "one worker took the slot"
        await asyncio.gather(*(w.run_once() for w in workers))
        assert len(work.runs) == 1, "the next slot is an hour later"
    finally:
        for r in runtimes:
            await r.db.close()


def test_two_kinds_of_one_name_stop_start_up(config_dir, tmp_path, probe):
    rt = Runtime.create(config_dir.root, f"sqlite:///{tmp_path / 'x.db'}", plugins=[probe, Probe()])
    with pytest.raises(PluginError, match="job kind 'ok' is registered by both"):
        job_kinds(rt)


def test_a_job_kind_with_no_attempts_is_refused():
    with pytest.raises(ValueError, match="max_attempts must be at least 1"):
        JobKind("k", lambda rt, job: None, max_attempts=0)  # type: ignore[arg-type, return-value]
