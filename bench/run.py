"""Benchmarks, on data they generate. Run with `make bench` (or `python bench/run.py [NAME ...]`).

Each benchmark prints its figure next to its target. PostgreSQL benchmarks use HOSO_BENCH_POSTGRES_URL
(default postgresql://postgres@127.0.0.1:5432/test) and work in a database of their own, dropped afterwards.

  startup     `hoso check` plus application start-up on the reference configuration   target < 2 s
  add_field   adding a nullable field to an entity holding 1,000,000 rows (PostgreSQL) target < 5 s
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse, urlunparse

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
PG_URL = os.environ.get("HOSO_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
RESULTS: list[dict] = []


def report(name: str, value: float, unit: str, target: float | None, detail: str = "") -> None:
    ok = "" if target is None else ("PASS" if value < target else "FAIL")
    line = f"{name:<34} {value:10.3f} {unit:<4}" + (f" (target < {target} {unit}) {ok}" if target is not None else "")
    if detail:
        line += f"  {detail}"
    print(line, flush=True)
    RESULTS.append({"name": name, "value": value, "unit": unit, "target": target, "detail": detail})


def bench_startup(runs: int = 5) -> None:
    """Wall time of a fresh interpreter running `hoso check`, then of one building and starting the app."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "HOSO_DATABASE_URL": f"sqlite:///{tmp}/bench.db", "HOSO_CONFIG": str(REPO)}
        hoso = str(Path(sys.executable).with_name("hoso"))
        subprocess.run([hoso, "migrate", "--yes"], env=env, check=True, capture_output=True)
        check_times, start_times = [], []
        starter = textwrap.dedent("""
            import asyncio
            from litestar.testing import TestClient
            from hoso.runtime import Runtime
            from hoso.server import create_app
            app = create_app(Runtime.create())
            with TestClient(app) as client:   # runs the start-up hooks, including the definitions check
                assert client.get("/api/health").status_code == 200
        """)
        for _ in range(runs):
            t0 = time.perf_counter()
            subprocess.run([hoso, "check"], env=env, check=True, capture_output=True)
            t1 = time.perf_counter()
            subprocess.run([sys.executable, "-c", starter], env=env, check=True, capture_output=True, cwd=REPO)
            t2 = time.perf_counter()
            check_times.append(t1 - t0)
            start_times.append(t2 - t1)
    check, start = statistics.median(check_times), statistics.median(start_times)
    report("startup: hoso check", check, "s", None, f"median of {runs}")
    report("startup: app start (health ok)", start, "s", None, f"median of {runs}")
    report("startup: check + app start", check + start, "s", 2.0)


async def _pg(url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def bench_add_field(rows: int = 1_000_000) -> None:
    import asyncpg

    from hoso.config import load_config
    from hoso.model.migrate import apply_plan, make_plan
    from hoso.runtime import Runtime

    name = f"hoso_bench_{uuid.uuid4().hex[:10]}"
    url = urlunparse(urlparse(PG_URL)._replace(path="/" + name))
    entity = textwrap.dedent("""
        entity: person
        label: {vi: Người}
        fields:
          name: {type: text, required: true, label: {vi: Tên}}
          born_on: {type: date, label: {vi: Ngày sinh}}
          score: {type: integer, index: true, label: {vi: Điểm}}
    """)
    asyncio.run(_pg(PG_URL, f'CREATE DATABASE "{name}"'))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            (root / "forms_config/entities").mkdir(parents=True)
            (root / "forms_config/entities/person.yaml").write_text(entity, encoding="utf-8")

            async def go():
                rt = Runtime.create(load_config(root), url)
                await rt.db.start()
                plan = await make_plan(rt.db, rt.config, rt.registry)
                await apply_plan(rt.db, rt.config, rt.registry, plan, applied_by="bench")
                await rt.db.close()
                conn = await asyncpg.connect(url)
                t0 = time.perf_counter()
                import datetime as dt

                batch = 100_000
                for start in range(0, rows, batch):
                    await conn.copy_records_to_table(
                        "person", columns=["name", "born_on", "score", "sys_version"],
                        records=[(f"Người {i}", dt.date(1950 + i % 60, 1 + i % 12, 1 + i % 28), i % 1000, 1)
                                 for i in range(start, min(rows, start + batch))])
                await conn.execute("ANALYZE person")
                await conn.close()
                load_time = time.perf_counter() - t0
                (root / "forms_config/entities/person.yaml").write_text(
                    entity + "  phone: {type: phone, label: {vi: Điện thoại}}\n", encoding="utf-8")
                rt2 = Runtime.create(load_config(root), url)
                await rt2.db.start()
                t1 = time.perf_counter()
                plan = await make_plan(rt2.db, rt2.config, rt2.registry)
                t2 = time.perf_counter()
                await apply_plan(rt2.db, rt2.config, rt2.registry, plan, applied_by="bench")
                t3 = time.perf_counter()
                kinds = [c.kind for c in plan.changes]
                n = await rt2.db.fetchval("SELECT COUNT(*) AS n FROM person WHERE phone IS NULL")
                await rt2.db.close()
                assert kinds == ["add_field"], kinds
                assert n == rows, n
                return load_time, t2 - t1, t3 - t2

            load_time, plan_time, apply_time = asyncio.run(go())
        report(f"add_field: load {rows:,} rows (COPY)", load_time, "s", None)
        report("add_field: plan", plan_time, "s", None)
        report("add_field: apply", apply_time, "s", None)
        report("add_field: plan + apply", plan_time + apply_time, "s", 5.0)
    finally:
        asyncio.run(_pg(PG_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


BENCHMARKS = {"startup": bench_startup, "add_field": bench_add_field}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", choices=[[], *BENCHMARKS], help="benchmarks to run (default: all)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()
    for name in args.names or BENCHMARKS:
        BENCHMARKS[name]()
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(RESULTS, indent=2))
    if any(r["target"] is not None and r["value"] >= r["target"] for r in RESULTS):
        sys.exit(1)


if __name__ == "__main__":
    main()
