"""Hotline intake throughput over real HTTP, on PostgreSQL, with the population lookup on its stand-in.
Run on demand: `python bench/intake.py [--seconds 15] [--clients 24] [--workers 2]`.

Migrates the reference configuration with the legal-aid plugin into a database of its own
(HOSO_BENCH_POSTGRES_URL, default postgresql://postgres@127.0.0.1:5432/test; dropped afterwards), creates a
centre_staff account at TT-11 (Điện Biên, where the hotline module is on) with a token limited to
`legal_aid.hotline`, starts the population stand-in (`hoso population-standin`) and `hoso serve --workers N` on free
loopback ports as subprocesses, then posts intake requests (each with a new citizen ID, so each is looked up)
from ``--clients`` concurrent connections. Target (issue 12): >= 300 requests/s. Prints requests/s, p50/p95
latency and the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import httpx

from serving import free_port as _free_port
from serving import percentile
from serving import run_sql as _pg
from serving import wait_for as _wait

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


async def drive(base: str, token: str, seconds: float, clients: int) -> tuple[int, list[float], dict[int, int]]:
    latencies: list[float] = []
    errors: dict[int, int] = {}
    stop = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, headers={"authorization": f"Bearer {token}"}, timeout=60,
                                 limits=limits) as client:
        async def one(w: int) -> None:
            i = 0
            while time.perf_counter() < stop:
                i += 1
                body = {"channel": "hotline", "unit": "TT-11", "citizen_id": f"0{w:03d}{i:08d}",
                        "summary": "Hỏi về thủ tục thừa kế", "form_of_aid": "TV", "field_of_law": "DS",
                        "beneficiary_groups": ["HN"]}
                t0 = time.perf_counter()
                r = await client.post("/api/intake", json=body)
                latencies.append(time.perf_counter() - t0)
                if r.status_code != 201:
                    errors[r.status_code] = errors.get(r.status_code, 0) + 1
                    if errors[r.status_code] == 1:
                        print(r.status_code, r.text[:300], flush=True)
        started = time.perf_counter()
        await asyncio.gather(*(one(w) for w in range(clients)))
        elapsed = time.perf_counter() - started
    return int(len(latencies) / elapsed), latencies, errors


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=float, default=15)
    p.add_argument("--clients", type=int, default=24)
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args()
    name = f"hoso_bench_intake_{uuid.uuid4().hex[:8]}"
    parts = urlparse(PG_URL)
    url = urlunparse(parts._replace(path=f"/{name}"))
    asyncio.run(_pg(PG_URL, f'CREATE DATABASE "{name}"'))
    procs: list[subprocess.Popen] = []
    try:
        token = asyncio.run(_prepare(url))
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
        rate, lat, errors = asyncio.run(drive(f"http://127.0.0.1:{port}", token, args.seconds, args.clients))
        print(f"intake: {rate} requests/s (target >= 300), p50 {percentile(lat, 50) * 1000:.1f} ms, "
              f"p95 {percentile(lat, 95) * 1000:.1f} ms, {len(lat)} requests, errors {errors}, "
              f"{args.clients} clients, {args.workers} workers, load average {os.getloadavg()}")
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
