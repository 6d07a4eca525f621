"""Report exports in the background, on both engines: queued with 202, run by the application's worker with the
requester's scope, the file downloaded by the requester only; bad parameters refused before anything is queued."""

from __future__ import annotations

import asyncio
import io
import time

import openpyxl
import pytest

from tests.api.test_reports_api import get, world


@pytest.fixture
async def web(tmp_path, database_url, monkeypatch):
    monkeypatch.setenv("HOSO_JOBS_POLL_SECONDS", "0.05")
    monkeypatch.setenv("HOSO_EXPORTS_DIR", str(tmp_path / "exports"))
    async with world(tmp_path / "config", database_url) as w:
        yield w


async def post(web, url: str, user: str = "prov", **kw):
    return await web.client.post(url, headers={"Authorization": f"Bearer {web.tokens[user]}",
                                               "Accept-Language": "vi"}, **kw)


async def _done(web, url: str, user: str) -> dict:
    deadline = time.monotonic() + 60  # a wait, not a measure: a slow machine with the suite on every core
    while time.monotonic() < deadline:
        body = (await get(web, url, user)).json()
        if body["state"] == "done":
            return body
        assert body["state"] in ("pending", "running"), body
        await asyncio.sleep(0.05)
    raise AssertionError(f"the export at {url} did not end")


async def test_an_export_runs_in_the_background_with_the_requesters_scope(web):
    r = await post(web, "/api/reports/people/exports?period=2025&format=csv")
    assert r.status_code == 202, r.text
    export = r.json()
    assert export["state"] == "pending" and export["url"] == f"/api/reports/people/exports/{export['id']}"
    state = await _done(web, export["url"], "prov")
    assert state["file"] == export["url"] + "/file" and state["filename"].endswith(".csv")
    file = await get(web, state["file"], "prov")
    assert file.status_code == 200 and file.headers["content-type"].startswith("text/csv")
    # The same numbers as the report run at once by the same user (province P1: its scope, not the nation's).
    direct = await get(web, "/api/reports/people?period=2025&format=csv", "prov")
    assert file.content == direct.content
    national = await get(web, "/api/reports/people?period=2025&format=csv", "nat")
    assert file.content != national.content


async def test_another_user_cannot_see_or_download_an_export(web):
    export = (await post(web, "/api/reports/people/exports?period=2025")).json()
    state = await _done(web, export["url"], "prov")
    for user in ("nat", "centre"):
        assert (await get(web, export["url"], user)).status_code == 404
        assert (await get(web, state["file"], user)).status_code == 404
    assert (await get(web, f"/api/reports/by_unit/exports/{export['id']}", "prov")).status_code == 404
    for missing in (999999, 2 ** 31, 2 ** 63 - 1):  # past the 32-bit key of PostgreSQL too
        assert (await get(web, f"/api/reports/people/exports/{missing}", "prov")).status_code == 404
        assert (await get(web, f"/api/reports/people/exports/{missing}/file", "prov")).status_code == 404
    assert (await get(web, export["url"], None)).status_code == 401
    # The default format is the official layout in XLSX.
    workbook = openpyxl.load_workbook(io.BytesIO((await get(web, state["file"], "prov")).content))
    assert workbook.active.max_row > 3


async def test_bad_parameters_or_no_right_queue_nothing(web):
    r = await post(web, "/api/reports/people/exports?period=soon&format=pdf")
    assert r.status_code == 400, r.text
    assert {e["field"] for e in r.json()["errors"]} == {"period", "format"}
    # what only the run would find (a month that does not exist, a unit that does not) is found before queueing
    r = await post(web, "/api/reports/people/exports?period=2025-13&unit=NOPE")
    assert r.status_code == 400, r.text
    assert {e["field"] for e in r.json()["errors"]} == {"period", "unit"}
    assert (await post(web, "/api/reports/nothing/exports")).status_code == 404
    assert (await post(web, "/api/reports/people/exports", user="reader")).status_code == 403
    # parameters sent as a JSON body would otherwise be dropped, and the export run with the defaults
    r = await post(web, "/api/reports/people/exports", json={"period": "2025", "format": "csv"})
    assert r.status_code == 400 and "chuỗi truy vấn" in r.json()["detail"], r.text
    assert await web.count("hoso_job") == 0


async def test_a_file_is_not_served_before_the_export_is_done(web, monkeypatch):
    from hoso.jobs import enqueue, job

    job_id = await enqueue(web.rt.db, "report_export", {"report": "people", "params": {}, "filters": {},
                                                         "format": "csv", "lang": "vi"},
                           user_id=await web.rt.db.fetchval("SELECT id FROM hoso_user WHERE username = 'prov'"),
                           delay=3600)
    r = await get(web, f"/api/reports/people/exports/{job_id}/file", "prov")
    assert r.status_code == 409 and (await job(web.rt.db, job_id))["state"] == "pending"


async def test_done_jobs_are_removed_with_their_files_after_the_kept_days(web, tmp_path):
    from hoso.jobs import enqueue, job, now_ms, purge_done

    export = (await post(web, "/api/reports/people/exports?period=2025&format=csv")).json()
    await _done(web, export["url"], "prov")
    files = list((tmp_path / "exports").iterdir())
    assert [f.name for f in files] == [f"{export['id']}.csv"]
    dead = await enqueue(web.rt.db, "report_export", None)
    await web.rt.db.execute("UPDATE hoso_job SET state = 'dead', finished_at = 0 WHERE id = {}", dead)
    assert await purge_done(web.rt) == 0, "done minutes ago: kept"
    assert await purge_done(web.rt, now=now_ms() + 8 * 86_400_000) == 1
    assert list((tmp_path / "exports").iterdir()) == []
    assert (await get(web, export["url"], "prov")).status_code == 404
    assert (await job(web.rt.db, dead))["state"] == "dead", "a dead job waits for an administrator"
