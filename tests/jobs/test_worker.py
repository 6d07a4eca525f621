"""Where jobs run: ``hoso worker`` processes, or the worker inside ``hoso serve`` (HOSO_EMBEDDED_WORKER)."""

from __future__ import annotations

import asyncio
import time

from click.testing import CliRunner

from hoso.cli import main
from hoso.jobs import enqueue, job
from hoso.runtime import Runtime
from tests.web.conftest import running


def hoso(*args, **env):
    return CliRunner().invoke(main, [str(a) for a in args], env={"HOSO_BLOCK_PLUGINS": None, **env})


async def _until_done(rt, job_id: int, seconds: float = 15.0) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        row = await job(rt.db, job_id)
        if row["state"] == "done":
            return row
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job_id} is still {row['state']}")


async def test_the_application_runs_jobs_in_process(config_dir, database_url, probe, monkeypatch):
    monkeypatch.setenv("HOSO_JOBS_POLL_SECONDS", "0.05")
    async with running(config_dir.root, database_url, plugins=[probe]) as web:
        job_id = await enqueue(web.rt.db, "ok", {"from": "the API"})
        row = await _until_done(web.rt, job_id)
        assert probe.ran == [job_id] and row["result"] == '{"echo": {"from": "the API"}}'


async def test_without_the_embedded_worker_jobs_wait_for_a_worker(config_dir, database_url, probe, monkeypatch):
    monkeypatch.setenv("HOSO_JOBS_POLL_SECONDS", "0.05")
    monkeypatch.setenv("HOSO_EMBEDDED_WORKER", "0")
    async with running(config_dir.root, database_url, plugins=[probe]) as web:
        job_id = await enqueue(web.rt.db, "ok", None)
        await asyncio.sleep(0.5)
        assert (await job(web.rt.db, job_id))["state"] == "pending" and probe.ran == []


def test_worker_command_runs_due_jobs_once(config_dir, database_url):
    assert hoso("migrate", "--yes", "--config", config_dir.root, "--database", database_url).exit_code == 0

    async def queue() -> list[int | None]:
        rt = Runtime.create(config_dir.root, database_url)
        await rt.db.start()
        try:
            return [await enqueue(rt.db, "ok", {"n": n}) for n in range(3)]
        finally:
            await rt.db.close()

    ids = asyncio.run(queue())
    result = hoso("worker", "--once", "--config", config_dir.root, "--database", database_url,
                  HOSO_PLUGINS="tests.plugins.jobs_probe")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["Đã chạy 3 công việc nền.", "Ran 3 background jobs."]

    async def states() -> list[str]:
        rt = Runtime.create(config_dir.root, database_url)
        await rt.db.start()
        try:
            return [(await job(rt.db, i))["state"] for i in ids if i is not None]
        finally:
            await rt.db.close()

    assert asyncio.run(states()) == ["done"] * 3
    again = hoso("worker", "--once", "--config", config_dir.root, "--database", database_url,
                 HOSO_PLUGINS="tests.plugins.jobs_probe")
    assert again.output.splitlines()[-1] == "Ran 0 background jobs."


def test_worker_command_refuses_a_bad_concurrency(config_dir, tmp_path):
    result = hoso("worker", "--concurrency", "0", "--config", config_dir.root, "--database",
                  f"sqlite:///{tmp_path / 'x.db'}")
    assert result.exit_code == 2 and "--concurrency" in result.output
