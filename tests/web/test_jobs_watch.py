"""The background jobs as an operator sees them: /readyz fails when a job waits long past its time (no worker
takes jobs), and /metrics reports the queue by state, the oldest wait and the expired leases."""

from __future__ import annotations

import pytest

from hoso.jobs import enqueue
from hoso.web.jobs_watch import STUCK_SECONDS
from tests.web.test_metrics import BEARER, samples


@pytest.fixture(autouse=True)
def _settings(monkeypatch):
    monkeypatch.setenv("HOSO_READY_CACHE_SECONDS", "0")
    monkeypatch.setenv("HOSO_EMBEDDED_WORKER", "0")  # nobody takes the jobs
    monkeypatch.setenv("HOSO_METRICS_TOKEN", "s3cret-metrics-token")


async def _due_ago(web, job_id: int, seconds: float) -> None:
    await web.rt.db.execute("UPDATE hoso_job SET run_at = run_at - {} WHERE id = {}", int(seconds * 1000), job_id)


async def test_readyz_fails_when_a_job_waits_past_the_limit(web):
    job_id = await enqueue(web.rt.db, "report_export", {"probe": True})
    await _due_ago(web, job_id, STUCK_SECONDS - 60)
    r = await web.client.get("/readyz")
    assert r.status_code == 200 and r.json()["checks"]["jobs"] == {"ok": True}

    await _due_ago(web, job_id, 120)  # now due STUCK_SECONDS + 60 s ago
    r = await web.client.get("/readyz")
    assert r.status_code == 503
    body = r.json()
    assert "jobs" in body["detail"] or "jobs" in str(body.get("checks", body))


async def test_metrics_report_the_queue(web):
    waiting = [await enqueue(web.rt.db, "report_export", {"n": i}) for i in range(3)]
    await web.rt.db.execute("UPDATE hoso_job SET state = 'dead' WHERE id = {}", waiting[0])
    await _due_ago(web, waiting[1], 42)
    r = await web.client.get("/metrics", headers=BEARER)
    assert r.status_code == 200, r.text
    found = samples(r.text)
    assert found[("hoso_jobs", (("state", "pending"),))] == 2
    assert found[("hoso_jobs", (("state", "dead"),))] == 1
    assert found[("hoso_jobs", (("state", "done"),))] == 0
    assert 42 <= found[("hoso_jobs_oldest_due_seconds", ())] < 42 + 60
    assert found[("hoso_jobs_expired_leases", ())] == 0
