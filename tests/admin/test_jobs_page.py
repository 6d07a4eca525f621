"""The admin's page of background jobs: by state, with errors, a retry for dead jobs; for job managers only."""

from __future__ import annotations

import datetime as dt
import re

from hoso.config import load_config
from hoso.jobs import enqueue, job
from hoso.plugin_manager import config_extensions, get_plugin_manager
from hoso.users import create_user
from tests.admin.conftest import AdminClient, serving
from tests.helpers import migrated_runtime
from tests.web.conftest import PASSWORD


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


JOB_ADMIN = """
role: job_admin
label: {vi: Quản trị công việc nền}
grants:
  - {entity: case, actions: [read, manage_jobs], scope: national}
"""


async def test_a_role_granting_manage_jobs_opens_the_page(config_dir, database_url, monkeypatch):
    monkeypatch.setenv("HOSO_ADMIN_RELOAD_SECONDS", "0")
    monkeypatch.setenv("HOSO_EMBEDDED_WORKER", "0")
    config_dir.write("roles_config/roles/job_admin.yaml", JOB_ADMIN)
    config = load_config(config_dir.root, **config_extensions(get_plugin_manager(load_entrypoints=False)))
    rt = await migrated_runtime(config, database_url)
    try:
        ops = await create_user(rt, "ops.user", PASSWORD, unit_code="TT")
        await create_user(rt, "plain.user", PASSWORD, unit_code="TT")
        await rt.db.execute("INSERT INTO hoso_assignment (user_id, role, unit_id, starts_on, ends_on, created_at) "
                            "VALUES ({}, 'job_admin', (SELECT id FROM hoso_unit WHERE code = 'TT'), {}, NULL, {})",
                            ops, dt.date(2000, 1, 1), dt.datetime.now(dt.UTC))
        dead = await _dead_job(rt.db)
    finally:
        await rt.db.close()
    async with serving(config, database_url) as web:
        admin = AdminClient(web, None)  # type: ignore[arg-type]
        await admin.login("plain.user")
        assert (await web.client.get("/admin/hoso/jobs/")).status_code == 404
        assert (await admin.login("ops.user")).status_code == 200
        r = await web.client.get("/admin/hoso/jobs/", params={"state": "dead"})
        assert r.status_code == 200 and f'<tr data-state="dead"><td>{dead}</td>' in r.text
        r = await web.client.post(f"/admin/hoso/jobs/{dead}/retry", headers={"X-CSRFToken": await admin.csrf()},
                                  follow_redirects=False)
        assert r.status_code == 303
        for missing in (2 ** 31, 2 ** 40):  # past the 32-bit key of PostgreSQL
            r = await web.client.post(f"/admin/hoso/jobs/{missing}/retry",
                                      headers={"X-CSRFToken": await admin.csrf()}, follow_redirects=False)
            assert r.status_code == 409, r.text
        assert (await job(web.rt.db, dead))["state"] == "pending"
