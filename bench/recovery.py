"""Recovery after a PostgreSQL outage: `python bench/recovery.py [--rounds N] [--outage SECONDS]`.

Serves the application in this process on a database of its own (HOSO_BENCH_POSTGRES_URL, default
postgresql://postgres@127.0.0.1:5432/test; dropped afterwards), reached through a TCP proxy
(tests/ops/tcp_proxy.py). Each round cuts the proxy (every connection closed, new ones refused, as a restarting
server does) while a client lists cases every 10 ms, keeps it cut for ``--outage`` seconds, restores it, and
measures:

- fail-fast: the slowest answer while the database was away (each must be a 503 problem document);
- recovery: from the proxy listening again to the first 200 answer (no hoso restart).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse, urlunparse

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
PG_URL = os.environ.get("HOSO_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")

from run import _pg  # noqa: E402  (bench/run.py: one SQL statement on its own connection)

POLL = 0.01


async def _rounds(url: str, rounds: int, outage: float) -> tuple[list[float], list[float]]:
    from litestar.testing import AsyncTestClient

    from hoso.config import load_config
    from hoso.runtime import Runtime
    from hoso.server import create_app
    from hoso.users import create_user
    from tests.helpers import migrated_runtime
    from tests.ops.tcp_proxy import TcpProxy

    config = REPO  # the reference configuration
    rt = await migrated_runtime(load_config(config), url)
    await create_user(rt, "bench.recovery", "correct-horse-42", superuser=True, actor="bench")
    await rt.db.close()
    proxy = TcpProxy.to(url).start()
    recoveries, slowest = [], []
    try:
        app = create_app(Runtime.create(config, proxy.url_through(url)))
        async with AsyncTestClient(app) as client:
            r = await client.post("/api/login", json={"username": "bench.recovery", "password": "correct-horse-42"})
            assert r.status_code == 200, r.text
            entity = (await client.get("/api/entities")).json()[0]["name"]
            for _ in range(rounds):
                assert (await client.get(f"/api/records/{entity}")).status_code == 200
                proxy.cut()
                worst, ends = 0.0, time.monotonic() + outage
                while time.monotonic() < ends:
                    started = time.monotonic()
                    r = await client.get(f"/api/records/{entity}")
                    worst = max(worst, time.monotonic() - started)
                    assert r.status_code == 503, r.text
                    await asyncio.sleep(POLL)
                proxy.restore()
                back = time.monotonic()
                while (await client.get(f"/api/records/{entity}")).status_code != 200:
                    await asyncio.sleep(POLL)
                recoveries.append(time.monotonic() - back)
                slowest.append(worst)
    finally:
        proxy.stop()
    return recoveries, slowest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--outage", type=float, default=2.0)
    args = parser.parse_args()
    os.environ["HOSO_DISABLE_ENTRYPOINTS"] = "1"
    name = f"hoso_bench_{uuid.uuid4().hex[:10]}"
    asyncio.run(_pg(PG_URL, f'CREATE DATABASE "{name}"'))
    url = urlunparse(urlparse(PG_URL)._replace(path="/" + name))
    try:
        recoveries, slowest = asyncio.run(_rounds(url, args.rounds, args.outage))
    finally:
        asyncio.run(_pg(PG_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    ms = [r * 1000 for r in recoveries]
    print(f"recovery after a {args.outage:g} s outage, {args.rounds} rounds: median {statistics.median(ms):.1f} ms, "
          f"max {max(ms):.1f} ms (from the database listening again to the first 200)")
    print(f"slowest answer while the database was away: {max(slowest) * 1000:.1f} ms (every one a 503)")


if __name__ == "__main__":
    main()
