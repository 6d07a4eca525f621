"""Where jobs run: ``hoso worker`` processes, or the worker inside ``hoso serve`` (HOSO_EMBEDDED_WORKER)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from hoso.cli import main
from hoso.jobs import enqueue, job
from hoso.runtime import Runtime
from tests.conftest import REPO
from tests.web.conftest import running


def hoso(*args, **env):
    return CliRunner().invoke(main, [str(a) for a in args], env={"HOSO_BLOCK_PLUGINS": None, **env})


async def _enqueue_many(root, database_url: str, kind: str, n: int) -> list[int | None]:
    rt = Runtime.create(root, database_url)
    await rt.db.start()
    try:
        return [await enqueue(rt.db, kind, {"n": i}) for i in range(n)]
    finally:
        await rt.db.close()


async def _states(root, database_url: str, ids) -> list[str]:
    rt = Runtime.create(root, database_url)
    await rt.db.start()
    try:
        return [(await job(rt.db, i))["state"] for i in ids]
    finally:
        await rt.db.close()


async def _until_done(rt, job_id: int, seconds: float = 60.0) -> dict:  # a wait, not a measure
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

    ids = asyncio.run(_enqueue_many(config_dir.root, database_url, "ok", 3))
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


def test_two_worker_processes_share_the_jobs_and_stop_on_sigterm(config_dir, database_url, tmp_path):
    """Two ``hoso worker`` processes on one database: every job runs once, in one of them; SIGTERM stops both."""
    assert hoso("migrate", "--yes", "--config", config_dir.root, "--database", database_url).exit_code == 0
    log = tmp_path / "runs.log"

    ids = asyncio.run(_enqueue_many(config_dir.root, database_url, "logged", 60))
    env = {**os.environ, "HOSO_PLUGINS": "tests.plugins.jobs_probe", "JOBS_PROBE_LOG": str(log),
           "HOSO_JOBS_POLL_SECONDS": "0.1", "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    hoso_bin = str(Path(sys.executable).with_name("hoso"))
    outs = [tmp_path / f"worker{i}.out" for i in range(2)]
    workers = [subprocess.Popen([hoso_bin, "worker", "--concurrency", "2", "--config", str(config_dir.root),
                                 "--database", database_url], env=env, cwd=REPO, stdout=out.open("w"),
                                stderr=subprocess.PIPE, text=True) for out in outs]
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            started = all("Running background jobs" in out.read_text() for out in outs)
            if started and log.exists() and len(log.read_text().splitlines()) >= len(ids):
                break
            time.sleep(0.2)
        time.sleep(0.5)  # a job run twice would show now
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        errors = [w.communicate(timeout=30)[1] for w in workers]
    runs = [line.split() for line in log.read_text().splitlines()]
    assert sorted(int(job_id) for job_id, _pid in runs) == sorted(ids), "every job ran exactly once"
    for w, out, err in zip(workers, outs, errors, strict=True):
        assert w.returncode == 0, err
        out = out.read_text()
        assert "Ran " in out and "Traceback" not in err


def test_a_worker_stopped_while_it_starts_exits_cleanly_and_claims_nothing(config_dir, database_url, tmp_path):
    """SIGTERM while ``hoso worker`` is still starting (here: loading its plugins) is honoured once it runs."""
    assert hoso("migrate", "--yes", "--config", config_dir.root, "--database", database_url).exit_code == 0
    log, starting = tmp_path / "runs.log", tmp_path / "starting"
    ids = asyncio.run(_enqueue_many(config_dir.root, database_url, "logged", 3))
    env = {**os.environ, "HOSO_PLUGINS": "tests.plugins.jobs_probe", "JOBS_PROBE_LOG": str(log),
           "JOBS_PROBE_STARTING": str(starting), "HOSO_JOBS_POLL_SECONDS": "0.1", "PYTHONPATH": str(REPO)}
    w = subprocess.Popen([str(Path(sys.executable).with_name("hoso")), "worker", "--config", str(config_dir.root),
                          "--database", database_url], env=env, cwd=REPO, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        while not starting.exists() and time.monotonic() < deadline and w.poll() is None:
            time.sleep(0.05)
        assert starting.exists(), "the worker reached its plugins"
    finally:
        w.send_signal(signal.SIGTERM)
        out, err = w.communicate(timeout=60)
    assert w.returncode == 0, err
    assert out.splitlines()[-1] == "Ran 0 background jobs." and "Traceback" not in err
    assert not log.exists(), "no job was claimed after the stop"
    assert asyncio.run(_states(config_dir.root, database_url, ids)) == ["pending"] * 3
