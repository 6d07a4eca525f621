"""VNeID result delivery through the transactional outbox (issue 12, item 6): a job exists iff the step
committed, is delivered once per key despite retries, and a failure for good shows in the admin's jobs page."""

from __future__ import annotations

import pytest

import hoso_legal_aid
from hoso.hookspecs import hookimpl
from hoso.jobs import Worker, job_kinds
from hoso.records.context import RecordContext
from hoso.runtime import Runtime
from hoso.users import create_user
from hoso_legal_aid.vneid import JOB_KIND, MAX_ATTEMPTS, delivery_key
from hoso_legal_aid.vneid_standin import StandInVneid
from tests.legal_aid.conftest import legal_aid_app

CITIZEN = "001099012345"


class FailsAfterEnqueue:
    """A later step of the same transition that fails: the transition, and what it queued, roll back."""

    def __init__(self):
        self.seen: list[int] = []

    @hookimpl(trylast=True)
    async def hoso_transition_done(self, entity, workflow, transition, record, context, db):
        # the job is there, inside the step's transaction, when the step fails
        self.seen.append(int(await db.fetchval("SELECT COUNT(*) FROM hoso_job WHERE kind = {}", JOB_KIND)))
        raise RuntimeError("a later side effect failed")


async def case_in_progress(rt, citizen_id: str | None) -> dict:
    svc, ctx = rt.records(), RecordContext.system(rt.config)
    unit = int(await rt.db.fetchval("SELECT id FROM hoso_unit WHERE code = {}", "TT-01"))
    case = await svc.create("case", {"received_on": "2026-01-05", "requester_name": "Lê Thị Hoa",
                                     "requester_citizen_id": citizen_id, "beneficiary_groups": ["NCC"],
                                     "field_of_law": "HS", "form_of_aid": "TV", "unit": unit}, ctx)
    await rt.db.execute('UPDATE "case" SET status = {} WHERE id = {}', "in_progress", case["id"])
    return await svc.get("case", case["id"], ctx)


async def end(rt, case: dict) -> dict:
    return await rt.records().transition("case", case["id"], "end", {"ended_on": "2026-02-01",
                                                                     "result": "judgment"},
                                         case["sys_version"], RecordContext.system(rt.config))


async def vneid_jobs(rt) -> list[dict]:
    return await rt.db.fetch("SELECT id, dedup_key, state, attempts, last_error, payload FROM hoso_job "
                             "WHERE kind = {} ORDER BY id", JOB_KIND)


async def dead_jobs_page(rt, client):
    """The admin's page of dead jobs, read as a superuser signed in to the admin."""
    await create_user(rt, "quan.tri.vneid", "correct-horse-42", superuser=True, actor="test")
    await client.get("/admin/")
    r = await client.post("/admin/public/login/", json={"username": "quan.tri.vneid", "password": "correct-horse-42"},
                          headers={"X-CSRFToken": client.cookies.get("csrftoken")})
    assert r.status_code == 200, r.text
    return await client.get("/admin/hoso/jobs/", params={"state": "dead"})


async def run_due(worker: Worker, rt) -> None:
    """Run what is due, then make the waiting jobs due at once (the backoff's time passing)."""
    await worker.run_once()
    await rt.db.execute("UPDATE hoso_job SET run_at = 0 WHERE state IN ('pending', 'failed')")


async def test_results_leave_through_the_outbox_once_per_key(reference_config_dir, database_url, monkeypatch):
    standin = StandInVneid().start()
    monkeypatch.setenv("HOSO_VNEID_URL", standin.url)
    monkeypatch.setenv("HOSO_EMBEDDED_WORKER", "0")  # the test runs the worker itself
    try:
        async with legal_aid_app(reference_config_dir, database_url) as (rt, client):
            # a step that fails after the job was queued leaves no job, and the case as it was
            fails = FailsAfterEnqueue()
            failing = Runtime.create(rt.config, db=rt.db, plugins=[hoso_legal_aid, fails])
            first = await case_in_progress(rt, CITIZEN)
            with pytest.raises(RuntimeError):
                await end(failing, first)
            assert fails.seen == [1] and await vneid_jobs(rt) == []
            assert (await rt.records().get("case", first["id"]))["status"] == "in_progress"

            # a committed step has its job, keyed by case, step and version; no citizen ID, no job
            ended = await end(rt, first)
            second = await end(rt, await case_in_progress(rt, "079188000111"))
            await end(rt, await case_in_progress(rt, None))
            queued = await vneid_jobs(rt)
            keys = [delivery_key(c["id"], "end", c["sys_version"]) for c in (ended, second)]
            assert [j["dedup_key"] for j in queued] == keys
            assert CITIZEN in queued[0]["payload"] and '"outcome": "ended"' in queued[0]["payload"]

            # the receiver refuses one, then records one but its answer is lost: tried again, kept once per key
            standin.fail_next(1)
            standin.lose_next(1)
            worker = Worker(rt, kinds=job_kinds(rt), scheduled=False)
            for _ in range(4):
                await run_due(worker, rt)
            assert [j["state"] for j in await vneid_jobs(rt)] == ["done", "done"]
            assert sorted(standin.deliveries) == sorted(keys)
            assert sorted(standin.attempts) == sorted([keys[0]] * 3 + [keys[1]]) or \
                sorted(standin.attempts) == sorted([keys[1]] * 3 + [keys[0]]) or \
                sorted(standin.attempts) == sorted(keys * 2), standin.attempts
            assert standin.deliveries[keys[0]]["requester_citizen_id"] == CITIZEN

            # the receiver is down: after its attempts the job is dead, with its reason, in the admin
            standin.stop()
            await end(rt, await case_in_progress(rt, "079188000222"))
            for _ in range(MAX_ATTEMPTS):
                await run_due(worker, rt)
            dead = (await vneid_jobs(rt))[-1]
            assert dead["state"] == "dead" and dead["attempts"] == MAX_ATTEMPTS
            assert "VNeID unreachable" in dead["last_error"]
            page = await dead_jobs_page(rt, client)
            assert page.status_code == 200, page.text
            assert f'<tr data-state="dead"><td>{dead["id"]}</td><td>{JOB_KIND}</td>' in page.text
            assert "không kết nối được VNeID" in page.text and "Chạy lại</button>" in page.text
    finally:
        standin.stop()




@pytest.mark.slow
async def test_a_result_the_receiver_rejects_is_dead_at_once(reference_config_dir, database_url, monkeypatch):
    """A 4xx but 408/409/425/429 means the message is wrong: dead after one attempt with the receiver's answer,
    shown as failed for good in the admin; those four and 5xx are tried again; a 409 naming the key is delivered."""
    standin = StandInVneid().start()
    monkeypatch.setenv("HOSO_VNEID_URL", standin.url)
    monkeypatch.setenv("HOSO_EMBEDDED_WORKER", "0")
    try:
        async with legal_aid_app(reference_config_dir, database_url) as (rt, client):
            worker = Worker(rt, kinds=job_kinds(rt), scheduled=False)
            outcomes = {}
            for n, status in enumerate((400, 422, 408, 409, 425, 429, 503)):
                await end(rt, await case_in_progress(rt, f"0791880003{n:02d}"))
                standin.reject_next(1, status)
                await run_due(worker, rt)
                first = (await vneid_jobs(rt))[-1]
                await run_due(worker, rt)
                outcomes[status] = (first["state"], first["attempts"], (await vneid_jobs(rt))[-1]["state"])
            assert outcomes == {400: ("dead", 1, "dead"), 422: ("dead", 1, "dead"),
                                **{s: ("failed", 1, "done") for s in (408, 409, 425, 429, 503)}}, outcomes
            rejected = (await vneid_jobs(rt))[1]
            assert "HTTP 422" in rejected["last_error"] and "the result is invalid" in rejected["last_error"]
            assert "VNeID rejected the result, not sent again" in rejected["last_error"]
            assert len(standin.deliveries) == 5 and rejected["dedup_key"] not in standin.deliveries

            # the receiver answers a repeated key with 409 "already delivered": that is a delivery
            standin.conflict_on_repeat(True)
            standin.lose_next(1)
            ended = await end(rt, await case_in_progress(rt, "079188000399"))
            for _ in range(2):
                await run_due(worker, rt)
            job = (await vneid_jobs(rt))[-1]
            assert (job["state"], job["attempts"]) == ("done", 2)
            key = delivery_key(ended["id"], "end", ended["sys_version"])
            assert standin.attempts[-2:] == [key, key] and key in standin.deliveries

            page = await dead_jobs_page(rt, client)
            row = f'<tr data-state="dead"><td>{rejected["id"]}</td><td>{JOB_KIND}</td><td>Hỏng (không thử lại nữa)'
            assert row in page.text and "the result is invalid" in page.text, page.text
    finally:
        standin.stop()
