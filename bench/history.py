"""The write-path cost of record history, side by side in one process: `python bench/history.py [--engine E]`.

Migrates the reference configuration (PostgreSQL: a database of its own from HOSO_BENCH_POSTGRES_URL, default
postgresql://postgres@127.0.0.1:5432/test, dropped afterwards; SQLite: a temporary file), then creates cases
through the record service from concurrent tasks in alternating rounds: with history (a version per write) and
without (the version step skipped), and reports the rates and their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
PG_URL = os.environ.get("HOSO_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")

from run import reference_runtime  # noqa: E402  (bench/run.py: a migrated database of its own)


async def _round(rt, units: list[int], n: int, tasks: int, history: bool) -> float:
    """Cases created per second in one round of ``n`` creations by ``tasks`` concurrent writers."""
    from hoso.records.context import RecordContext
    from hoso.records.store import RecordStore

    ctx = RecordContext.system(rt.config, origin="bench")
    svc = rt.records()
    law = rt.config.choice_list("field_of_law").values()[0]
    group = rt.config.choice_list("beneficiary_group").values()[0]
    original = RecordStore.version

    async def skip(self, entity, record_id, *, created=False, children=()):
        return None

    RecordStore.version = original if history else skip  # type: ignore[method-assign]
    try:
        counter = iter(range(n))

        async def writer(w: int) -> None:
            for i in counter:
                await svc.create("case", {"unit": units[(w * 7919 + i) % len(units)], "received_on": "2025-07-02",
                                          "request_channel": "in_person", "requester_name": f"Nguyễn Văn An {i}",
                                          "form_of_aid": "TV", "field_of_law": law,
                                          "beneficiary_groups": [group]}, ctx)

        t0 = time.perf_counter()
        await asyncio.gather(*(writer(w) for w in range(tasks)))
        return n / (time.perf_counter() - t0)
    finally:
        RecordStore.version = original  # type: ignore[method-assign]


async def main(engine: str, rounds: int, n: int, tasks: int) -> None:
    if engine == "sqlite":
        tasks = 1
    async with reference_runtime(engine, "hoso-bench-history-") as rt:
        units = [r["id"] for r in await rt.db.fetch("SELECT id, code FROM hoso_unit") if r["code"].startswith("TT-")]
        await _round(rt, units, 50, tasks, True)  # warm up: naming series, caches, pool
        with_h: list[float] = []
        without: list[float] = []
        for _ in range(rounds):
            without.append(await _round(rt, units, n, tasks, False))
            with_h.append(await _round(rt, units, n, tasks, True))
        a, b = statistics.median(with_h), statistics.median(without)

        def rounds_of(xs: list[float]) -> str:
            return ", ".join(f"{x:.0f}" for x in xs)

        print(f"{engine}: case creations with history    {a:8.1f} /s  (rounds: {rounds_of(with_h)})")
        print(f"{engine}: case creations without history {b:8.1f} /s  (rounds: {rounds_of(without)})")
        print(f"{engine}: with / without history          {a / b:8.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--n", type=int, default=400, help="creations per round")
    parser.add_argument("--tasks", type=int, default=16, help="concurrent writers (PostgreSQL)")
    args = parser.parse_args()
    asyncio.run(main(args.engine, args.rounds, args.n, args.tasks))
