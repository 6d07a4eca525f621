"""Background jobs claimed and completed per second by 1 and by 4 workers, side by side in one process:
`python bench/jobs.py [--engine postgres|sqlite] [--jobs N] [--rounds R]`.

Migrates the reference configuration (PostgreSQL: a database of its own from HOSO_BENCH_POSTGRES_URL, default
postgresql://postgres@127.0.0.1:5432/test, dropped afterwards; SQLite: a temporary file). Each round enqueues
``--jobs`` jobs of a kind whose handler does nothing, then drains them with 1 worker, then again with 4 workers;
each worker has a runtime and connections of its own (as ``hoso worker`` processes would), claims one job at a
time (``FOR UPDATE SKIP LOCKED`` on PostgreSQL) and marks it done. Rounds alternate so a busy moment of the
machine weighs on both alike; every job is checked to have run exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse, urlunparse

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
PG_URL = os.environ.get("HOSO_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")

from run import _pg  # noqa: E402  (bench/run.py: one SQL statement on its own connection)


async def _round(runtimes, kinds, ran: list[int], n: int, workers: int) -> float:
    """Jobs per second drained by ``workers`` workers, after ``n`` were enqueued."""
    from hoso.jobs import Worker, enqueue

    db = runtimes[0].db
    async with db.transaction():
        ids = [await enqueue(db, "bench_noop", {"i": i}) for i in range(n)]
    ran.clear()
    pool = [Worker(rt, kinds=kinds, scheduled=False) for rt in runtimes[:workers]]

    async def drain(w) -> None:
        while await w.run_one():
            pass

    t0 = time.perf_counter()
    await asyncio.gather(*(drain(w) for w in pool))
    elapsed = time.perf_counter() - t0
    assert sorted(ran) == sorted(ids), "every job ran exactly once"
    return n / elapsed


async def main(engine: str, rounds: int, n: int) -> None:
    from hoso.config import load_config
    from hoso.plugin_types import JobKind
    from hoso.runtime import Runtime
    from tests.helpers import migrated_runtime

    tmp = tempfile.TemporaryDirectory(prefix="hoso-bench-jobs-")
    if engine == "postgres":
        p = urlparse(PG_URL)
        name = f"hoso_bench_{uuid.uuid4().hex[:10]}"
        url = urlunparse(p._replace(path="/" + name))
        await _pg(PG_URL, f'CREATE DATABASE "{name}"')
    else:
        url = f"sqlite:///{tmp.name}/bench.db"
    ran: list[int] = []

    async def noop(rt, job) -> None:
        ran.append(job.id)

    kinds = {"bench_noop": JobKind("bench_noop", noop)}
    runtimes = []
    try:
        config = load_config(REPO)
        first = await migrated_runtime(config, url)
        runtimes = [first] + [Runtime.create(config, url) for _ in range(3)]
        for rt in runtimes[1:]:
            await rt.db.start()
        await _round(runtimes, kinds, ran, 50, 4)  # warm up: pools, statements
        one: list[float] = []
        four: list[float] = []
        for _ in range(rounds):
            one.append(await _round(runtimes, kinds, ran, n, 1))
            four.append(await _round(runtimes, kinds, ran, n, 4))
        a, b = statistics.median(one), statistics.median(four)

        def rounds_of(xs: list[float]) -> str:
            return ", ".join(f"{x:.0f}" for x in xs)

        print(f"{engine}: jobs claimed and done by 1 worker  {a:8.1f} /s  (rounds: {rounds_of(one)})")
        print(f"{engine}: jobs claimed and done by 4 workers {b:8.1f} /s  (rounds: {rounds_of(four)})")
        print(f"{engine}: 4 workers / 1 worker              {b / a:8.2f}")
    finally:
        for rt in runtimes:
            await rt.db.close()
        if engine == "postgres":
            await _pg(PG_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        tmp.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=1000, help="jobs per round")
    args = parser.parse_args()
    asyncio.run(main(args.engine, args.rounds, args.jobs))
