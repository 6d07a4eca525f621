"""Import throughput through the record service with every rule on: `python bench/imports.py [--engine E]`.

Migrates the reference configuration (PostgreSQL: a database of its own from HOSO_BENCH_POSTGRES_URL, default
postgresql://postgres@127.0.0.1:5432/test, dropped afterwards; SQLite: a file on disk in a temporary folder), gives
a centre staff account its role at one province, and writes generated cases as that account, side by side in one
process: ``create`` one record per transaction, ``create_many`` in batches, and a whole CSV file through
``hoso.importing`` (reading, matching, preview, then the batches). Every write is validated, named, scoped,
audited and versioned; the targets are 2,000 records/s on PostgreSQL and 1,000 on SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import io
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
PG_URL = os.environ.get("HOSO_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
TARGETS = {"postgres": 2000.0, "sqlite": 1000.0}

from run import case_payload, reference_runtime  # noqa: E402  (bench/run.py: generated cases, a database)


def _payloads(start: int, n: int, units: list[int]) -> list[dict]:
    # Received cases (status left to the workflow): what a digitisation file holds.
    out = []
    for i in range(start, start + n):
        p = case_payload(i, units[i % len(units)], dt.date(2025, 12, 31))
        for k in ("status", "accepted_on", "assigned_on", "started_on", "ended_on", "refused_on"):
            p.pop(k, None)
        p["received_on"] = f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}"
        out.append(p)
    return out


async def _staff(rt, province_code: str):
    from hoso.records.context import RecordContext
    from hoso.users import create_user

    unit = await rt.db.fetchval("SELECT id FROM hoso_unit WHERE code = {}", province_code)
    uid = await create_user(rt, "bench.staff", "a-long-bench-password-2026", unit_code=province_code)
    await rt.db.execute("INSERT INTO hoso_assignment (user_id, role, unit_id, starts_on, ends_on, created_at) "
                        "VALUES ({}, 'centre_staff', {}, {}, NULL, {})", uid, unit, dt.date(2000, 1, 1),
                        dt.datetime.now(dt.UTC))
    return RecordContext(rt.config, uid, "bench.staff", "bench", "vi")


def _to_csv(rows: list[dict], entity, rt, units: dict[int, str]) -> bytes:
    """The payloads as a centre's spreadsheet: Vietnamese labels, option labels, unit codes, dd/mm/yyyy."""
    names: list[str] = []
    for r in rows:
        names += [n for n in r if n not in names]
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow([entity.field(n).label.vi for n in names])
    for r in rows:
        line = []
        for n in names:
            v, fd = r.get(n), entity.field(n)
            if v is None:
                line.append("")
            elif fd.type == "date":
                line.append(dt.date.fromisoformat(v).strftime("%d/%m/%Y"))
            elif fd.list:
                labels = {o.value: o.label.vi for o in rt.config.choice_list(fd.list).options}
                line.append("; ".join(labels[x] for x in v) if isinstance(v, list) else labels[v])
            elif fd.type == "org_unit":
                line.append(units[v])
            else:
                line.append(str(v))
        w.writerow(line)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


async def main(engine: str, n: int, batch: int, single: int) -> None:
    async with reference_runtime(engine, "hoso-bench-imports-") as rt:
        units = await rt.db.fetch("SELECT id, code, parent_id FROM hoso_unit WHERE code LIKE 'TT-%' "
                                  "AND valid_to IS NULL ORDER BY code")
        province = await rt.db.fetchval("SELECT code FROM hoso_unit WHERE id = {}", units[0]["parent_id"])
        mine = [u for u in units if u["parent_id"] == units[0]["parent_id"]]
        ctx = await _staff(rt, province)
        svc = rt.records()
        unit_ids = [u["id"] for u in mine]
        await svc.create_many("case", _payloads(0, 50, unit_ids), ctx)  # warm up: caches, series, pool
        start = 50
        t0 = time.perf_counter()
        for p in _payloads(start, single, unit_ids):
            await svc.create("case", p, ctx)
        one = single / (time.perf_counter() - t0)
        start += single
        rates = []
        for _ in range(3):
            payloads = _payloads(start, n, unit_ids)
            start += n
            t0 = time.perf_counter()
            for k in range(0, n, batch):
                await svc.create_many("case", payloads[k:k + batch], ctx)
            rates.append(n / (time.perf_counter() - t0))
        many = statistics.median(rates)
        target = TARGETS[engine]
        print(f"{engine}: create, one per transaction   {one:8.0f} records/s  ({single} records)")
        print(f"{engine}: create_many, batches of {batch:<5} {many:8.0f} records/s  (median of 3 x {n}: "
              f"{', '.join(f'{r:.0f}' for r in rates)}) target >= {target:.0f} {'PASS' if many >= target else 'FAIL'}")
        await _import_file(rt, ctx, engine, start, n, batch, unit_ids, {u["id"]: u["code"] for u in mine})


async def _import_file(rt, ctx, engine, start, n, batch, unit_ids, codes) -> None:
    from hoso.importing import ImportOptions, import_file, read_table

    entity = rt.config.entity("case")
    data = _to_csv(_payloads(start, n, unit_ids), entity, rt, codes)
    t0 = time.perf_counter()
    table = read_table("cases.csv", data, ctx.lang)
    result = await import_file(rt, ctx, "case", table, ImportOptions(batch=batch))
    rate = result.created / (time.perf_counter() - t0)
    target = TARGETS[engine]
    print(f"{engine}: CSV import (read, preview, write) {rate:8.0f} records/s  ({result.created} of {n} rows, "
          f"{len(data) / 1e6:.1f} MB) target >= {target:.0f} {'PASS' if rate >= target else 'FAIL'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--n", type=int, default=5000, help="records per measured round")
    parser.add_argument("--batch", type=int, default=500, help="records per create_many call")
    parser.add_argument("--single", type=int, default=300, help="records created one by one")
    args = parser.parse_args()
    asyncio.run(main(args.engine, args.n, args.batch, args.single))
