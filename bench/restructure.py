"""Benchmark: the 2025 merger of provinces (63 -> 34) applied to PostgreSQL holding 1,000,000 cases, while
province-scoped reads of cases keep being served.

Run with `python bench/restructure.py [--cases N] [--readers N]`. Uses HOSO_BENCH_POSTGRES_URL (default
postgresql://postgres@127.0.0.1:5432/test) and works in a database of its own, dropped afterwards.

  restructure: apply                  the change set roles_config/restructurings/2025-07-01-provinces.yaml
                                                                                                     target < 60 s
  restructure: reads during apply     first pages of 50 cases (scope predicate of a provincial officer), p50/p95/max
  restructure: first page after       a province-scoped first page of 50 cases out of 1,000,000 (p95)    target < 50 ms
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import statistics
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse, urlunparse

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HOSO_DISABLE_ENTRYPOINTS", "1")
PG_URL = os.environ.get("HOSO_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
CHANGE_SET = REPO / "roles_config/restructurings/2025-07-01-provinces.yaml"
RESULTS: list[dict] = []


def report(name: str, value: float, unit: str, target: float | None, detail: str = "") -> None:
    ok = "" if target is None else ("PASS" if value < target else "FAIL")
    line = f"{name:<34} {value:10.3f} {unit:<4}" + (f" (target < {target} {unit}) {ok}" if target is not None else "")
    if detail:
        line += f"  {detail}"
    print(line, flush=True)
    RESULTS.append({"name": name, "value": value, "unit": unit, "target": target, "detail": detail})


async def _pg(url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


STATUSES = ["received", "accepted", "assigned", "in_progress", "ended", "returned", "appraised", "archived",
            "refused"]
FORMS = ["TV", "TGTT", "DDNTT"]
FIELDS = ["HS", "DS", "HNGD", "HC", "LD", "DD", "CSXH", "KHAC"]


async def load_cases(url: str, centres: list[tuple[int, str]], rows: int) -> float:
    """COPY ``rows`` cases spread evenly over the centres; return the seconds taken."""
    import asyncpg

    conn = await asyncpg.connect(url)
    t0 = time.perf_counter()
    now = dt.datetime.now(dt.UTC)
    batch = 100_000
    cols = ["code", "received_on", "request_channel", "requester_name", "beneficiary_groups", "field_of_law",
            "form_of_aid", "status", "unit", "sys_version", "sys_created_at", "sys_updated_at"]
    try:
        for start in range(0, rows, batch):
            records = []
            for i in range(start, min(rows, start + batch)):
                unit_id, code = centres[i % len(centres)]
                form = FORMS[i % 3]
                year = 2019 + i % 7
                records.append((f"{code}.{form}.{i}.{year}", dt.date(year, 1 + i % 12, 1 + i % 28), "in_person",
                                f"Người yêu cầu {i}", '["TE"]', FIELDS[i % 8], form, STATUSES[i % 9], unit_id, 1,
                                now, now))
            await conn.copy_records_to_table("case", columns=cols, records=records)
        await conn.execute('ANALYZE "case"')
    finally:
        await conn.close()
    return time.perf_counter() - t0


async def first_page(db, rt, user_id: int) -> float:
    from hoso.scope import Actor

    pred = rt.scope.predicate(Actor(user_id, f"officer{user_id}", origin="bench"), "read", rt.config.entity("case"))
    t0 = time.perf_counter()
    rows = await db.fetch(f'SELECT t.id, t.code, t.status, t.received_on FROM "case" t WHERE {pred.sql} '
                          "ORDER BY t.id DESC LIMIT 50", *pred.args)
    elapsed = time.perf_counter() - t0
    assert len(rows) == 50, len(rows)
    return elapsed


async def run(rows: int, readers: int) -> None:
    from hoso.config import load_config
    from hoso.model.migrate import apply_plan, make_plan
    from hoso.restructure import apply, plan
    from hoso.runtime import Runtime
    from hoso.units import sync_units

    name = f"hoso_bench_{uuid.uuid4().hex[:10]}"
    url = urlunparse(urlparse(PG_URL)._replace(path="/" + name))
    await _pg(PG_URL, f'CREATE DATABASE "{name}"')
    try:
        config = load_config(REPO)
        rt = Runtime.create(config, url)
        await rt.db.start()
        p = await make_plan(rt.db, rt.config, rt.registry)
        await apply_plan(rt.db, rt.config, rt.registry, p, applied_by="bench")
        await sync_units(rt)
        centres = [(r["id"], r["code"]) for r in await rt.db.fetch(
            "SELECT id, code FROM hoso_unit WHERE type = 'legal_aid_centre' ORDER BY code")]
        assert len(centres) == 63
        load_time = await load_cases(url, centres, rows)
        report(f"restructure: load {rows:,} cases (COPY)", load_time, "s", None, f"over {len(centres)} centres")
        # One provincial officer per old Department of Justice (user id = its unit id).
        stp = [r["id"] for r in await rt.db.fetch(
            "SELECT id FROM hoso_unit WHERE type = 'provincial_department' ORDER BY code")]
        now = dt.datetime.now(dt.UTC)
        async with rt.db.transaction():
            await rt.db.executemany(
                "INSERT INTO hoso_assignment (user_id, role, unit_id, starts_on, created_at) VALUES (?, ?, ?, ?, ?)",
                [(u, "provincial_officer", u, dt.date(2020, 1, 1), now) for u in stp])
        await rt.db.execute("ANALYZE")

        # Readers on a pool of their own, as other application processes would be.
        reader_rt = Runtime.create(config, url)
        await reader_rt.db.start()
        for u in stp[:5]:  # warm up
            await first_page(reader_rt.db, reader_rt, u)
        before = [await first_page(reader_rt.db, reader_rt, random.choice(stp)) for _ in range(100)]
        report("restructure: first page before", _pct(before, 0.95) * 1000, "ms", None,
               f"p50 {statistics.median(before) * 1000:.1f} ms over {len(before)} reads")

        t0 = time.perf_counter()
        pl = await plan(rt, CHANGE_SET)
        report("restructure: plan", time.perf_counter() - t0, "s", None,
               f"{len(pl.operations)} operations, counts over {rows:,} cases")
        assert pl.ok, pl.render()

        stop = asyncio.Event()
        samples: list[tuple[float, float]] = []  # (started at, latency)
        failures: list[BaseException] = []

        async def reader(seed: int) -> None:
            rnd = random.Random(seed)
            while not stop.is_set():
                started = time.perf_counter()
                try:
                    samples.append((started, await first_page(reader_rt.db, reader_rt, rnd.choice(stp))))
                except BaseException as exc:  # noqa: BLE001 - reported below
                    failures.append(exc)
                    return

        tasks = [asyncio.create_task(reader(i)) for i in range(readers)]
        await asyncio.sleep(0.5)
        a0 = time.perf_counter()
        result = await apply(rt, CHANGE_SET, applied_by="bench")
        a1 = time.perf_counter()
        await asyncio.sleep(0.2)
        stop.set()
        await asyncio.gather(*tasks)
        if failures:
            raise failures[0]
        during = [lat for started, lat in samples if a0 <= started <= a1 or a0 <= started + lat <= a1]
        report("restructure: apply 63 -> 34", a1 - a0, "s", 60.0,
               f"{result.summary['units_closed']} units closed, {result.summary['lineage_rows']} lineage rows, "
               f"{result.summary['assignments_ended']} assignments re-homed")
        report("restructure: reads during apply", len(during), "n", None,
               f"p50 {_pct(during, 0.5) * 1000:.1f} ms, p95 {_pct(during, 0.95) * 1000:.1f} ms, "
               f"max {max(during, default=float('nan')) * 1000:.1f} ms; {readers} reader(s), "
               f"{len(samples)} reads in all")
        active = await rt.db.fetchval("SELECT COUNT(*) FROM hoso_unit WHERE type = 'provincial_department' "
                                      "AND valid_to IS NULL")
        assert active == 34, active
        # After the merger: the officers now hold their assignments at the 34 provinces.
        officers = [r["user_id"] for r in await rt.db.fetch(
            "SELECT DISTINCT user_id FROM hoso_assignment WHERE ends_on IS NULL ORDER BY user_id")]
        for u in officers[:5]:
            await first_page(reader_rt.db, reader_rt, u)
        after = [await first_page(reader_rt.db, reader_rt, random.choice(officers)) for _ in range(200)]
        report("restructure: first page after", _pct(after, 0.95) * 1000, "ms", 50.0,
               f"p95 of {len(after)} reads; p50 {statistics.median(after) * 1000:.1f} ms, max "
               f"{max(after) * 1000:.1f} ms; province-scoped, 50 of {rows:,} cases")
        big = await rt.db.fetchval(
            "SELECT MAX(n) FROM (SELECT a.user_id, COUNT(*) AS n FROM hoso_assignment a JOIN hoso_unit_closure c "
            "ON c.ancestor_id = a.unit_id JOIN \"case\" t ON COALESCE(t.sys_scope_unit, t.unit) = c.descendant_id "
            "WHERE a.ends_on IS NULL GROUP BY a.user_id) s")
        print(f"{'':<34} largest merged province holds {big:,} cases", flush=True)
        await reader_rt.db.close()
        await rt.db.close()
    finally:
        await _pg(PG_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--readers", type=int, default=2, help="concurrent readers during the apply")
    args = parser.parse_args(argv)
    asyncio.run(run(args.cases, args.readers))


if __name__ == "__main__":
    main()
