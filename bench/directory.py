"""The public directory under anonymous load, through HTTP against `hoso serve` (issue 12, item 4).

Fills a database with the reference configuration, the legal-aid plugin and ``--organisations`` organisations and
``--performers`` performers (some out of service), starts `hoso serve` on it (no embedded worker), then runs
``--readers`` concurrent anonymous readers for ``--seconds`` (``--think``: seconds each waits between its
requests, on average; 0 by default, a closed loop), each asking in turn for the page, a search without
diacritics, a province, a second page and the JSON. Prints the latency percentiles per kind of request and in
all, the throughput, and the load average before and after (the client shares the machine with the server).

    python bench/directory.py                       # SQLite in a temporary folder
    python bench/directory.py --url postgresql://postgres@127.0.0.1:5432/postgres   # a new database there
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse, urlunparse

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

TARGET_P95_MS = 100.0
WORDS = ["Luật", "Đông", "Nam", "Bình", "Minh", "An", "Phúc", "Hòa", "Tâm", "Việt"]
PEOPLE = ["Nguyễn Văn", "Trần Thị", "Lê Minh", "Phạm Quốc", "Hoàng Thu", "Vũ Đức"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def prepare(url: str, organisations: int, performers: int) -> list[str]:
    """Migrate ``url`` with the plugin and fill it; the province codes."""
    from hoso.model.migrate import apply_plan, make_plan
    from hoso.records.context import RecordContext
    from hoso.runtime import Runtime
    from hoso.units import sync_units

    # the legal-aid plugin comes in through its entry point, as with `hoso serve`
    rt = Runtime.create(str(REPO), url)
    await rt.db.start()
    try:
        plan = await make_plan(rt.db, rt.config, rt.registry)
        await apply_plan(rt.db, rt.config, rt.registry, plan, applied_by="bench")
        await sync_units(rt)
        centres = [r["id"] for r in await rt.db.fetch(
            "SELECT id FROM hoso_unit WHERE type = 'legal_aid_centre' AND valid_to IS NULL")]
        provinces = [r["code"] for r in await rt.db.fetch(
            "SELECT code FROM hoso_unit WHERE type = 'provincial_department' AND valid_to IS NULL")]
        rng = random.Random(7)
        kinds = rt.config.choice_list("organisation_kind").values()
        pkinds = rt.config.choice_list("performer_kind").values()
        ctx = RecordContext.system(rt.config, "bench")
        svc = rt.records()
        orgs = [{"name": f"Công ty Luật {rng.choice(WORDS)} {rng.choice(WORDS)} {i}", "kind": rng.choice(kinds),
                 "unit": rng.choice(centres), "address": f"{i} Phố {rng.choice(WORDS)}",
                 "phone": f"024{i:07d}", "active": rng.random() > 0.1,
                 "contract_until": None if rng.random() > 0.1 else "2020-01-01"} for i in range(organisations)]
        made = await svc.create_many("organisation", orgs, ctx)
        ids = [r["id"] for r in made]
        people = [{"name": f"{rng.choice(PEOPLE)} {rng.choice(WORDS)}", "kind": rng.choice(pkinds),
                   "unit": rng.choice(centres), "organisation": rng.choice(ids) if rng.random() < 0.5 else None,
                   "active": rng.random() > 0.1} for _ in range(performers)]
        await svc.create_many("performer", people, ctx)
        return provinces
    finally:
        await rt.db.close()


def requests_for(provinces: list[str]) -> list[tuple[str, str, dict]]:
    return [("page", "/directory", {}),
            ("search", "/directory", {"q": "luat dong"}),
            ("province", "/directory", {"province": provinces[0] if provinces else ""}),
            ("page 2", "/directory", {"list": "performer", "page": "2"}),
            ("json", "/api/directory/organisation", {"q": "cong ty", "page_size": "50"})]


async def load(base: str, readers: int, seconds: float, provinces: list[str], think: float = 0.0
               ) -> dict[str, list[float]]:
    import httpx

    kinds = requests_for(provinces)
    times: dict[str, list[float]] = {name: [] for name, _p, _q in kinds}
    errors = 0
    end = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=readers, max_keepalive_connections=readers)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        async def reader(n: int) -> None:
            nonlocal errors
            i = n
            while time.monotonic() < end:
                name, path, params = kinds[i % len(kinds)]
                i += 1
                start = time.perf_counter()
                try:
                    r = await client.get(path, params=params)
                    ok = r.status_code == 200
                except httpx.HTTPError:  # a timeout (60 s) under overload: counted, the reader goes on
                    ok = False
                elapsed = (time.perf_counter() - start) * 1000
                if not ok:
                    errors += 1
                times[name].append(elapsed)
                if think:
                    await asyncio.sleep(random.uniform(0, 2 * think))  # a person reading the page

        await asyncio.gather(*(reader(n) for n in range(readers)))
    times["errors"] = [float(errors)]
    return times


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


async def main(args) -> None:
    import httpx

    folder = tempfile.TemporaryDirectory(prefix="hoso-bench-directory-")
    if args.url:
        import asyncpg

        p = urlparse(args.url)
        name = f"hoso_bench_dir_{uuid.uuid4().hex[:8]}"
        conn = await asyncpg.connect(args.url)
        await conn.execute(f'CREATE DATABASE "{name}"')
        await conn.close()
        url = urlunparse(p._replace(path="/" + name))
    else:
        url = f"sqlite:///{folder.name}/directory.db"
    server = None
    try:
        started = time.perf_counter()
        provinces = await prepare(url, args.organisations, args.performers)
        print(f"filled in {time.perf_counter() - started:.1f} s: {args.organisations} organisations, "
              f"{args.performers} performers ({url.split(':')[0]})")
        port = args.port or _free_port()
        env = {**os.environ, "HOSO_DATABASE_URL": url, "HOSO_CONFIG": str(REPO),
               "HOSO_EMBEDDED_WORKER": "0",
               "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
        hoso = str(Path(sys.executable).with_name("hoso"))
        server = subprocess.Popen([hoso, "serve", "--host", "127.0.0.1", "--port", str(port),
                                   "--workers", str(args.workers)], env=env, cwd=REPO,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        base = f"http://127.0.0.1:{port}"
        for _ in range(600):
            try:
                if httpx.get(base + "/directory", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None:
                raise RuntimeError("hoso serve exited: " + server.stderr.read().decode()[-2000:])
            time.sleep(0.1)
        await load(base, 5, 2.0, provinces)  # warm up
        before = os.getloadavg()
        started = time.perf_counter()
        times = await load(base, args.readers, args.seconds, provinces, args.think)
        wall = time.perf_counter() - started
        after = os.getloadavg()
        errors = int(times.pop("errors")[0])
        every = [v for values in times.values() for v in values]
        print(f"{args.readers} anonymous readers (think {args.think:g} s on average) for {args.seconds:g} s: "
              f"{len(every)} requests, {len(every) / wall:.0f}/s, {errors} not 200 or timed out")
        for name, values in [*times.items(), ("all", every)]:
            print(f"  {name:<10} n={len(values):<6} p50 {pct(values, 50):7.1f} ms  p95 {pct(values, 95):7.1f} ms  "
                  f"p99 {pct(values, 99):7.1f} ms  mean {statistics.fmean(values) if values else 0:7.1f} ms")
        p95 = pct(every, 95)
        print(f"p95 {p95:.1f} ms (target <= {TARGET_P95_MS:g} ms): {'met' if p95 <= TARGET_P95_MS else 'NOT met'}")
        print(f"load average before {before[0]:.2f} {before[1]:.2f} {before[2]:.2f}, "
              f"after {after[0]:.2f} {after[1]:.2f} {after[2]:.2f} ({os.cpu_count()} cores)")
    finally:
        if server is not None:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
        folder.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--readers", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--organisations", type=int, default=2000)
    parser.add_argument("--performers", type=int, default=6000)
    parser.add_argument("--url", default=None, help="a PostgreSQL server URL (a database is created there)")
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--think", type=float, default=0.0,
                        help="average seconds a reader waits between requests (0: none, a closed loop)")
    parser.add_argument("--workers", type=int, default=1, help="`hoso serve --workers`")
    asyncio.run(main(parser.parse_args()))
