"""Any sequence of enqueues, claims, completions, failures, retries and clock steps leaves the job table as a plain
Python model of the queue says, on both engines: states, attempts, times, holders, deduplicated enqueues."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

from hoso.jobs import claim, complete, enqueue, fail, job_kinds, jobs, retry_dead
from tests.helpers import migrated_runtime
from tests.plugins.jobs_probe import Probe

T0 = 1_800_000_000_000


@dataclass
class M:
    """A job as the model keeps it."""

    id: int
    kind: str
    key: str | None
    state: str = "pending"
    attempts: int = 0
    run_at: int = T0
    owner: str | None = None
    lease_until: int = 0
    waiting_key: bool = True  # holds its key (deduplicates) while it waits


class Model:
    def __init__(self, kinds):
        self.kinds = kinds
        self.jobs: dict[int, M] = {}

    def enqueue(self, db_id, kind, key, now):
        if key is not None and any(j.kind == kind and j.key == key and j.waiting_key and j.state in ("pending",
                                                                                                      "failed")
                                   for j in self.jobs.values()):
            return None
        assert db_id is not None and db_id not in self.jobs
        self.jobs[db_id] = M(db_id, kind, key, run_at=now, waiting_key=key is not None)
        return db_id

    def claim(self, owner, now):
        for j in self.jobs.values():  # expire
            if j.state == "running" and j.lease_until <= now and j.attempts >= self.kinds[j.kind].max_attempts:
                j.state, j.owner = "dead", None
        due = [j for j in self.jobs.values()
               if (j.state in ("pending", "failed") and j.run_at <= now)
               or (j.state == "running" and j.lease_until <= now)]
        if not due:
            return None
        j = min(due, key=lambda j: (j.run_at, j.id))
        j.state, j.attempts, j.owner, j.waiting_key = "running", j.attempts + 1, owner, False
        j.lease_until = now + int(self.kinds[j.kind].lease * 1000)
        return j.id

    def complete(self, job_id, owner):
        j = self.jobs[job_id]
        if j.state != "running" or j.owner != owner:
            return False
        j.state, j.owner, j.lease_until = "done", None, 0
        return True

    def fail(self, job_id, owner, now):
        j = self.jobs[job_id]
        if j.state != "running" or j.owner != owner:
            return None
        kind = self.kinds[j.kind]
        j.owner, j.lease_until = None, 0
        if j.attempts >= kind.max_attempts:
            j.state = "dead"
            return "dead"
        base = min(kind.backoff * 2 ** max(j.attempts - 1, 0), 6 * 3600)
        j.state, j.run_at = "failed", now + int(base * 1000)  # rand() = 1.0: the whole wait
        twin = any(o.kind == j.kind and o.key == j.key and o.waiting_key and o.state in ("pending", "failed")
                   for o in self.jobs.values() if o.id != j.id)
        j.waiting_key = j.key is not None and not twin
        return "failed"

    def retry(self, job_id, now):
        j = self.jobs.get(job_id)
        if j is None or j.state != "dead":
            return False
        twin = any(o.kind == j.kind and o.key == j.key and o.waiting_key and o.state in ("pending", "failed")
                   for o in self.jobs.values() if o.id != j.id)
        j.state, j.attempts, j.run_at, j.waiting_key = "pending", 0, now, j.key is not None and not twin
        return True


@pytest.fixture
def queue(config_dir, database_url):
    loop = asyncio.new_event_loop()
    rt = loop.run_until_complete(migrated_runtime(config_dir.load(), database_url, plugins=[Probe()]))
    yield loop, rt
    loop.run_until_complete(rt.db.close())
    loop.close()


operation = st.one_of(
    st.tuples(st.just("enqueue"), st.sampled_from(["ok", "broken"]), st.sampled_from([None, "a", "b"])),
    st.tuples(st.just("claim"), st.sampled_from(["w1", "w2"])),
    st.tuples(st.just("complete"), st.integers(0, 7), st.sampled_from(["w1", "w2"])),
    st.tuples(st.just("fail"), st.integers(0, 7), st.sampled_from(["w1", "w2"])),
    st.tuples(st.just("retry"), st.integers(0, 7)),
    st.tuples(st.just("wait"), st.sampled_from([0, 1000, 10_000, 40_000, 300_000])),
)


# No shrinking: a failure notes the operations, and shrinking database runs is unbounded.
@settings(max_examples=40, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ops=st.lists(operation, min_size=5, max_size=30))
def test_the_queue_behaves_as_its_model(queue, ops):
    loop, rt = queue
    note(f"ops={ops}")
    kinds = job_kinds(rt)
    model = Model(kinds)

    async def run() -> None:
        await rt.db.execute("DELETE FROM hoso_job")
        now = T0
        held: list[tuple[int, str]] = []  # the claims made: (job id, worker)
        claimed = {}  # job id -> the job as its latest claim returned it
        for op in ops:
            if op[0] == "enqueue":
                got = await enqueue(rt.db, op[1], None, key=op[2], now=now)
                assert model.enqueue(got, op[1], op[2], now) == got, op
            elif op[0] == "claim":
                got_jobs = await claim(rt.db, kinds, op[1], now=now)
                expected = model.claim(op[1], now)
                assert [j.id for j in got_jobs] == ([] if expected is None else [expected]), op
                for j in got_jobs:
                    held.append((j.id, op[1]))
                    claimed[j.id] = j
            elif op[0] in ("complete", "fail") and held:
                job_id, _holder = held[op[1] % len(held)]
                owner = op[2]
                if op[0] == "complete":
                    assert await complete(rt.db, job_id, owner, now=now) == model.complete(job_id, owner), op
                else:
                    got_state = await fail(rt.db, claimed[job_id], kinds[claimed[job_id].kind], owner, "x", now=now,
                                           rand=lambda: 1.0)
                    assert got_state == model.fail(job_id, owner, now), op
            elif op[0] == "retry" and model.jobs:
                job_id = sorted(model.jobs)[op[1] % len(model.jobs)]
                assert await retry_dead(rt.db, job_id, now=now) == model.retry(job_id, now), op
            elif op[0] == "wait":
                now += op[1]
            rows = {r["id"]: r for r in await jobs(rt.db, limit=1000)}
            assert set(rows) == set(model.jobs)
            for job_id, m in model.jobs.items():
                r = rows[job_id]
                assert (r["state"], r["attempts"], r["lease_owner"]) == (m.state, m.attempts, m.owner), (op, m, r)
                if m.state in ("pending", "failed"):
                    assert r["run_at"] == m.run_at, (op, m, r)

    loop.run_until_complete(run())
