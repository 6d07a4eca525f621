"""Benchmark: what rolling records up to a level costs, as recorded and mapped to the structure of a date, side by
side in one process (ratios), on the reference deployment's units after the 2025 merger of provinces.

Run with `python bench/report_structure.py [--cases N] [--repeat N]`. Uses SQLite in a temporary folder and, when
HOSO_BENCH_POSTGRES_URL is set, PostgreSQL too (a database of its own, dropped afterwards).

  structure: unit_groups (cold)       building the (unit, province) relation from the unit history
  structure: unit_groups (warm)       the same, the history cached
  structure: count per province       cases counted per province through the relation (recorded, mapped), against
                                      the same count hand-written over the unit closure, and against a plain
                                      GROUP BY of the recorded unit (no roll-up)
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse, urlunparse

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HOSO_DISABLE_ENTRYPOINTS", "1")
PG_URL = os.environ.get("HOSO_BENCH_POSTGRES_URL")
CHANGE_SET = REPO / "roles_config/restructurings/2025-07-01-provinces.yaml"
CASE = """entity: case
label: {vi: Vụ việc}
unit_field: unit
fields:
  unit: {type: org_unit, label: {vi: Đơn vị}}
  received_on: {type: date, label: {vi: Ngày tiếp nhận}}
"""


def config_root(tmp: Path) -> Path:
    root = tmp / "config"
    (root / "roles_config").mkdir(parents=True)
    shutil.copy(REPO / "roles_config/hierarchy.yaml", root / "roles_config/hierarchy.yaml")
    shutil.copytree(REPO / "roles_config/units", root / "roles_config/units")
    (root / "forms_config/entities").mkdir(parents=True)
    (root / "forms_config/entities/case.yaml").write_text(CASE, encoding="utf-8")
    return root


async def timed(fn, repeat: int) -> float:
    """Median seconds of ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        await fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


async def bench(url: str, root: Path, cases: int, repeat: int) -> None:
    from hoso.model.migrate import apply_plan, make_plan
    from hoso.reports.structure import unit_groups
    from hoso.restructure import apply
    from hoso.runtime import Runtime
    from hoso.units import sync_units

    rt = Runtime.create(root, url)
    await rt.db.start()
    try:
        p = await make_plan(rt.db, rt.config, rt.registry)
        await apply_plan(rt.db, rt.config, rt.registry, p, applied_by="bench")
        await sync_units(rt)
        centres = [r["id"] for r in await rt.db.fetch("SELECT id FROM hoso_unit WHERE type = 'legal_aid_centre'")]
        rows = [(centres[i % len(centres)], dt.date(2024 + i % 2, 1 + i % 12, 1 + i % 28), 1) for i in range(cases)]
        async with rt.db.transaction():
            for k in range(0, len(rows), 5000):
                await rt.db.executemany('INSERT INTO "case" (unit, received_on, sys_version) VALUES (?, ?, ?)',
                                        rows[k:k + 5000])
        await apply(rt, CHANGE_SET, applied_by="bench")
        await rt.db.execute('ANALYZE "case"')
        units = await rt.db.fetchval("SELECT COUNT(*) FROM hoso_unit")
        on = dt.date(2025, 12, 31)

        async def cold():
            rt.__dict__.pop("_unit_history", None)
            await unit_groups(rt, level="province", structure="recorded", on=on)

        async def warm():
            await unit_groups(rt, level="province", structure="recorded", on=on)

        print(f"[{rt.db.kind}] {cases} cases, {units} units, the 2025 merger applied")
        print(f"  unit_groups cold            {await timed(cold, repeat) * 1000:8.2f} ms")
        print(f"  unit_groups warm            {await timed(warm, repeat) * 1000:8.2f} ms")

        async def count(structure):
            rel, args = await unit_groups(rt, level="province", structure=structure, on=on)
            col = "t.unit" if structure == "recorded" else "COALESCE(t.sys_scope_unit, t.unit)"
            return await rt.db.fetch(f'SELECT g.group_id, COUNT(*) AS n FROM "case" t LEFT JOIN {rel} g '
                                     f"ON g.unit_id = {col} GROUP BY g.group_id", *args)

        async def closure():
            return await rt.db.fetch(
                'SELECT c.ancestor_id, COUNT(*) AS n FROM "case" t JOIN hoso_unit_closure c '
                "ON c.descendant_id = t.unit JOIN hoso_unit p ON p.id = c.ancestor_id "
                "AND p.type = 'provincial_department' GROUP BY c.ancestor_id")

        async def plain():
            return await rt.db.fetch('SELECT t.unit, COUNT(*) AS n FROM "case" t GROUP BY t.unit')

        base = await timed(plain, repeat)
        hand = await timed(closure, repeat)
        rec = await timed(lambda: count("recorded"), repeat)
        mapped = await timed(lambda: count(dt.date(2025, 7, 1)), repeat)
        print(f"  GROUP BY recorded unit      {base * 1000:8.2f} ms  1.00x")
        print(f"  per province, closure join  {hand * 1000:8.2f} ms  {hand / base:.2f}x (hand-written, today's tree)")
        print(f"  per province, recorded      {rec * 1000:8.2f} ms  {rec / base:.2f}x")
        print(f"  per province, mapped        {mapped * 1000:8.2f} ms  {mapped / base:.2f}x")
    finally:
        await rt.db.close()


async def main(cases: int, repeat: int) -> None:
    import asyncpg

    with tempfile.TemporaryDirectory() as tmp:
        root = config_root(Path(tmp))
        await bench(f"sqlite:///{Path(tmp) / 'bench.db'}", root, cases, repeat)
        if PG_URL:
            name = f"hoso_bench_{uuid.uuid4().hex[:10]}"
            conn = await asyncpg.connect(PG_URL)
            await conn.execute(f'CREATE DATABASE "{name}"')
            await conn.close()
            try:
                await bench(urlunparse(urlparse(PG_URL)._replace(path="/" + name)), root, cases, repeat)
            finally:
                conn = await asyncpg.connect(PG_URL)
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                await conn.close()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=7)
    a = ap.parse_args()
    asyncio.run(main(a.cases, a.repeat))
