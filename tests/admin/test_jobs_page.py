"""The admin's page of background jobs: by state, with errors, a retry for dead jobs; for job managers only."""

from __future__ import annotations

import re

from hoso.jobs import enqueue, job
from tests.admin.conftest import AdminClient, serving


async def _dead_job(db) -> int:
    job_id = await enqueue(db, "report_export", {"report": "x"})
    await db.execute("UPDATE hoso_job SET state = 'dead', attempts = 5, last_error = {} WHERE id = {}",
                     "ValueError: <b>no such report</b>", job_id)
    return job_id


async def test_the_jobs_page_lists_by_state_and_retries_a_dead_job(prepared, admin_db, monkeypatch):
    monkeypatch.setenv("HOSO_ADMIN_RELOAD_SECONDS", "0")
    monkeypatch.setenv("HOSO_EMBEDDED_WORKER", "0")  # the jobs stay as the test leaves them
    async with serving(prepared.config, admin_db) as web:
        admin = AdminClient(web, prepared.seed)
        await web.rt.db.start()
        try:
            dead = await _dead_job(web.rt.db)
            waiting = await enqueue(web.rt.db, "report_export", {"report": "y"})
            assert (await web.client.get("/admin/hoso/jobs/")).status_code == 401
            await admin.login("quan.tri")
            links = (await admin.get("/links/")).json()
            assert links["Công việc nền"] == "./hoso/jobs/"
            r = await web.client.get("/admin/hoso/jobs/")
            assert r.status_code == 200, r.text
            assert "<title>Công việc nền</title>" in r.text
            assert f'<tr data-state="dead"><td>{dead}</td>' in r.text
            assert f'<tr data-state="pending"><td>{waiting}</td>' in r.text
            assert "&lt;b&gt;no such report&lt;/b&gt;" in r.text and "<b>no such" not in r.text
            assert r.text.count("Chạy lại</button>") == 1, "only the dead job may be retried"
            r = await web.client.get("/admin/hoso/jobs/", params={"state": "dead"})
            assert f"<td>{dead}</td>" in r.text and f"<td>{waiting}</td>" not in r.text
            r = await web.client.get("/admin/hoso/jobs/", params={"state": "lost"})
            assert r.status_code == 400 and "'lost'" in r.text
            # The page's own form: the CSRF token travels as a form field.
            token = re.search(r'name="csrftoken" value="([^"]+)"', (await web.client.get("/admin/hoso/jobs/")).text)
            assert token
            r = await web.client.post(f"/admin/hoso/jobs/{dead}/retry", data={"csrftoken": token.group(1)},
                                      follow_redirects=False)
            assert r.status_code == 303, r.text
            row = await job(web.rt.db, dead)
            assert row["state"] == "pending" and row["attempts"] == 0
            assert await web.count("hoso_audit", "action = {} AND record_id = {}", "job_retry", dead) == 1
            r = await web.client.post(f"/admin/hoso/jobs/{dead}/retry", data={"csrftoken": token.group(1)},
                                      follow_redirects=False)
            assert r.status_code == 409, "no longer dead"
            r = await web.client.post(f"/admin/hoso/jobs/{waiting}/retry")
            assert r.status_code == 403, "without the CSRF token"
            # A user without manage_jobs sees no page and cannot retry.
            await admin.login("tt01.director")
            assert (await web.client.get("/admin/hoso/jobs/")).status_code == 404
            dead_again = await _dead_job(web.rt.db)
            r = await web.client.post(f"/admin/hoso/jobs/{dead_again}/retry", data={"csrftoken": token.group(1)},
                                      headers={"X-CSRFToken": await admin.csrf()})
            assert r.status_code == 404
            assert (await job(web.rt.db, dead_again))["state"] == "dead"
        finally:
            await web.rt.db.close()
