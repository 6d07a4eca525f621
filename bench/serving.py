"""What the benchmarks over HTTP share: a PostgreSQL database of their own, `hoso serve` started as a process on a
free loopback port and waited for, its end, and latency percentiles.

    from serving import fresh_database, free_port, percentile, serve, stop, wait_for
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlparse, urlunparse

REPO = Path(__file__).resolve().parent.parent
HOSO = str(Path(sys.executable).with_name("hoso"))

__all__ = ["REPO", "HOSO", "free_port", "run_sql", "fresh_database", "serve_env", "serve", "log_tail", "wait_for",
           "stop", "percentile", "load_average"]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def run_sql(url: str, sql: str) -> None:
    """One statement on its own connection (CREATE and DROP DATABASE cannot run in a transaction)."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@asynccontextmanager
async def fresh_database(server_url: str, prefix: str = "hoso_bench") -> AsyncIterator[str]:
    """The URL of a new, empty database on the PostgreSQL server of ``server_url``, dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    await run_sql(server_url, f'CREATE DATABASE "{name}"')
    try:
        yield urlunparse(urlparse(server_url)._replace(path="/" + name))
    finally:
        await run_sql(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def serve_env(url: str, **settings: str) -> dict[str, str]:
    """The environment of a server on ``url`` with the repository's configuration and ``settings`` (HOSO_*);
    the repository first on PYTHONPATH, so that packages not (yet) in the editable install resolve."""
    return {**os.environ, "HOSO_DATABASE_URL": url, "HOSO_CONFIG": str(REPO),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])), **settings}


def serve(env: dict[str, str], port: int, workers: int = 1, command: Sequence[str] | None = None,
          quiet: bool = False) -> subprocess.Popen:
    """`hoso serve` on 127.0.0.1:``port`` with ``workers`` processes (or ``command``), its standard error kept in a
    file for ``wait_for`` to show should it exit (``quiet``: thrown away). A file, not a pipe: the server logs every
    request, and a pipe nobody reads stops it once full (64 KiB, a few hundred requests)."""
    cmd = list(command or [HOSO, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)])
    log = None if quiet else tempfile.TemporaryFile()
    proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL if log is None else log)
    proc.hoso_log = log  # type: ignore[attr-defined]
    return proc


def log_tail(proc: subprocess.Popen, size: int = 2000) -> str:
    """The end of what ``proc`` (from ``serve``) wrote to its standard error."""
    log = getattr(proc, "hoso_log", None)
    if log is None:
        return ""
    log.seek(0)
    return log.read().decode(errors="replace")[-size:]


def wait_for(url: str, proc: subprocess.Popen, status: int | None = None, seconds: float = 180.0) -> None:
    """Until ``url`` answers (with ``status``, when given); RuntimeError when ``proc`` exits or time runs out."""
    import httpx

    end = time.monotonic() + seconds
    last = "no answer"
    while time.monotonic() < end:
        try:
            got = httpx.get(url, timeout=10).status_code
            if status in (None, got):
                return
            last = f"status {got}"
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[:2]} exited: {log_tail(proc)}")
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer{'' if status is None else f' {status}'} in {seconds:g} s ({last})")


def stop(proc: subprocess.Popen, sig: int = signal.SIGINT) -> None:
    """Ask ``proc`` to stop (``sig``), and kill it after 15 s."""
    proc.send_signal(sig)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile of ``values`` (nearest rank); NaN when there are none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))]


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} cores)"
