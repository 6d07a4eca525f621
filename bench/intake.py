"""Hotline intake throughput over real HTTP, on PostgreSQL, with the population lookup on its stand-in.
Run on demand: `python bench/intake.py [--seconds 15] [--clients 24] [--workers 2]`.

Migrates the reference configuration with the legal-aid plugin into a database of its own
(HOSO_BENCH_POSTGRES_URL, default postgresql://postgres@127.0.0.1:5432/test; dropped afterwards), creates a
centre_staff account at TT-11 (Điện Biên, where the hotline module is on) with a token limited to
`legal_aid.hotline`, starts the population stand-in (`hoso population-standin`) and `hoso serve --workers N` on free
loopback ports as subprocesses, then posts intake requests (each with a new citizen ID that the stand-in holds, so
each is looked up and fills the requester's name)
from ``--clients`` concurrent connections, after ``--warmup`` seconds of the same that are not counted. Target
(issue 12): >= 300 requests/s. Prints requests/s, p50/p95 latency, the load average, and the CPU time each request
cost in the server's processes, in PostgreSQL's backends of the database, in the stand-in and in this client (from
/proc): their sum bounds the rate these cores can reach when nothing else runs on them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import aiohttp
import httpx

from serving import free_port as _free_port
from serving import run_sql as _pg

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "plugins/legal_aid"))
PG_URL = os.environ.get("HOSO_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


async def _prepare(url: str) -> str:
    import datetime as dt

    from hoso import accounts
    from hoso.scope import Actor
    from hoso.web.tokens import create_token
    from tests.helpers import load_full_config, migrated_runtime

    # the legal-aid plugin comes in through its entry point, as in `hoso serve`
    rt = await migrated_runtime(load_full_config(REPO), url)
    try:
        root = Actor(None, "root", superuser=True, origin="bench")
        uid = await accounts.create_account(rt, root, "bench.hotline", "bench-password-42", "TT-11",
                                            roles=("centre_staff",), starts_on=dt.date.today() - dt.timedelta(1))
        return (await create_token(rt, root, uid, "bench hotline", module="legal_aid.hotline"))[1]
    finally:
        await rt.db.close()


def _wait(url: str, proc: subprocess.Popen) -> None:
    for _ in range(600):
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            if proc.poll() is not None:
                raise RuntimeError(f"{proc.args} exited") from None
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


def _cpu(pid: int) -> float:
    """CPU seconds (user and system) used by process ``pid`` so far; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tree(pid: int) -> set[int]:
    """``pid`` and its descendants (the server's worker processes)."""
    found, todo = set(), [pid]
    while todo:
        p = todo.pop()
        found.add(p)
        for task in Path(f"/proc/{p}/task").glob("*/children"):
            try:
                todo += [int(c) for c in task.read_text().split()]
            except OSError:
                continue
    return found


def _backends(database: str) -> set[int]:
    """PostgreSQL's server processes of connections to ``database`` (on this machine)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                title = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if title.startswith(b"postgres: ") and f" {database} ".encode() in title:
                found.add(int(entry.name))
    return found


class CpuMeter:
    """CPU seconds spent in named groups of processes between ``start`` and ``stop``."""

    def __init__(self, groups: dict[str, Callable[[], set[int]]]):
        self.groups = groups
        self.before: dict[int, float] = {}
        self.spent: dict[str, float] = {}

    def start(self) -> None:
        self.before = {pid: _cpu(pid) for find in self.groups.values() for pid in find()}
        self.client = time.process_time()

    def stop(self) -> None:
        self.spent = {name: sum(_cpu(pid) - self.before.get(pid, 0.0) for pid in find())
                      for name, find in self.groups.items()}
        self.spent["this client"] = time.process_time() - self.client


async def drive(base: str, token: str, seconds: float, clients: int, first: int = 1
                ) -> tuple[float, list[float], dict[int, int]]:
    """``clients`` kept-alive connections posting intakes for ``seconds``. aiohttp rather than httpx: the client
    shares the server's cores, and an httpx request cost it about four times the CPU (3.2 against 0.8 ms per
    intake)."""
    latencies: list[float] = []
    errors: dict[int, int] = {}
    stop = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(base, connector=connector, headers={"authorization": f"Bearer {token}"},
                                     timeout=aiohttp.ClientTimeout(total=60)) as client:
        async def one(w: int) -> None:
            i = 0
            while time.perf_counter() < stop:
                i += 1
                body = {"channel": "hotline", "unit": "TT-11", "citizen_id": f"{first + w:03d}{i:09d}",
                        "summary": "Hỏi về thủ tục thừa kế", "form_of_aid": "TV", "field_of_law": "DS",
                        "beneficiary_groups": ["HN"]}
                t0 = time.perf_counter()
                async with client.post("/api/intake", json=body) as r:
                    text = await r.text()
                latencies.append(time.perf_counter() - t0)
                if r.status != 201:
                    errors[r.status] = errors.get(r.status, 0) + 1
                    if errors[r.status] == 1:
                        print(r.status, text[:300], flush=True)
        started = time.perf_counter()
        await asyncio.gather(*(one(w) for w in range(clients)))
        elapsed = time.perf_counter() - started
    return len(latencies) / elapsed, latencies, errors


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=float, default=15)
    p.add_argument("--clients", type=int, default=24)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--warmup", type=float, default=3)
    args = p.parse_args()
    name = f"hoso_bench_intake_{uuid.uuid4().hex[:8]}"
    parts = urlparse(PG_URL)
    url = urlunparse(parts._replace(path=f"/{name}"))
    asyncio.run(_pg(PG_URL, f'CREATE DATABASE "{name}"'))
    procs: list[subprocess.Popen] = []
    try:
        t0 = time.perf_counter()
        token = asyncio.run(_prepare(url))
        print(f"migrated in {time.perf_counter() - t0:.1f} s", flush=True)
        hoso = str(Path(sys.executable).with_name("hoso"))
        pop_port, port = _free_port(), _free_port()
        env = {**os.environ, "HOSO_DATABASE_URL": url, "HOSO_CONFIG": str(REPO),
               "HOSO_POPULATION_URL": f"http://127.0.0.1:{pop_port}", "HOSO_EMBEDDED_WORKER": "0",
               "HOSO_LOG_LEVEL": "WARNING"}
        procs.append(subprocess.Popen([hoso, "population-standin", "--port", str(pop_port)], env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        _wait(f"http://127.0.0.1:{pop_port}/api/v1/citizens/001203004567", procs[-1])
        procs.append(subprocess.Popen([hoso, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers",
                                       str(args.workers)], env=env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))
        _wait(f"http://127.0.0.1:{port}/api/health", procs[-1])
        print(f"serving after {time.perf_counter() - t0:.1f} s", flush=True)
        base = f"http://127.0.0.1:{port}"
        # every worker compiles its forms and fills its caches on its first requests: not counted
        asyncio.run(drive(base, token, args.warmup, args.clients, first=500))
        server, standin = procs[1].pid, procs[0].pid
        meter = CpuMeter({"server": lambda: _tree(server), "PostgreSQL": lambda: _backends(name),
                          "population stand-in": lambda: {standin}})
        meter.start()
        rate, lat, errors = asyncio.run(drive(base, token, args.seconds, args.clients))
        meter.stop()
        lat.sort()
        print(f"intake: {rate:.1f} requests/s (target >= 300), p50 {statistics.median(lat) * 1000:.1f} ms, "
              f"p95 {lat[int(len(lat) * 0.95)] * 1000:.1f} ms, {len(lat)} requests, errors {errors}, "
              f"{args.clients} clients, {args.workers} workers, load average {os.getloadavg()}")
        per = {k: v * 1000 / len(lat) for k, v in meter.spent.items()}
        total = sum(per.values())
        cores = os.cpu_count() or 1
        print("CPU per request: " + ", ".join(f"{k} {v:.2f} ms" for k, v in per.items())
              + f"; total {total:.2f} ms: at most {cores * 1000 / total:.0f} requests/s on {cores} cores, "
              f"{cores * 1000 / (total - per['this client']):.0f} with the client elsewhere", flush=True)
    finally:
        for proc in reversed(procs):
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        asyncio.run(_pg(PG_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
