"""Approval benchmarks, side by side in one process (ratios, not absolute times), on generated data.

  snapshot   serving an approved report from its snapshot (read, sha256 check, parse) for a Biểu 24-sized
             result (40 rows x 16 columns)                                         target <= 5 ms (median)
  guard      creating cases through the record service with the locked-period guard against the same with
             the guard's plugin blocked, batches interleaved, while a period of another centre is locked and
             ``--locks`` more lock rows (other units and periods, half of them unlocked) are in the table; the
             statements the guard runs per write are counted                       ratio reported

Run: `python bench/approval.py [--postgres] [--locks N]` (PostgreSQL: HOSO_BENCH_POSTGRES_URL, a database of its
own).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
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


def _case(unit_id: int, i: int) -> dict:
    return {"unit": unit_id, "received_on": "2025-07-02", "request_channel": "in_person",
            "requester_name": f"Nguyễn Văn An {i}", "form_of_aid": "TV", "field_of_law": "DS",
            "beneficiary_groups": ["HN"]}


def _result(rt):
    from hoso.config.types import Label
    from hoso.reports.model import Column, Dimension, ReportRequest, ReportResult, ResultRow
    from hoso.reports.periods import resolve_period

    report = next(r for r in rt.config.reports if r.name == "people_assisted")
    request = ReportRequest(report.name, period="2025-H1", unit="TT-01")
    columns = [Column(f"c{j}", Label(f"Cột {j}", f"Column {j}"), (Label("Nhóm", "Group"),)) for j in range(16)]
    rows = [ResultRow((f"law{i // 4}", f"form{i % 4}"), (f"Lĩnh vực {i // 4}", f"Hình thức {i % 4}"),
                      [i * j for j in range(16)]) for i in range(40)]
    total = ResultRow((None, None), ("Tổng cộng", ""), [sum(r.values[j] for r in rows) for j in range(16)], "total")
    return ReportResult(report, request, [Dimension("field_of_law", Label("Lĩnh vực")),
                                          Dimension("form_of_aid", Label("Hình thức"))], columns, rows, total,
                        dt.datetime.now(dt.UTC), period=resolve_period(rt, report, "2025-H1"),
                        template_hash="0" * 64)


async def _more_locks(rt, n: int) -> None:
    """``n`` lock rows of other units and earlier periods (every other one unlocked), as years of approvals leave."""
    units = [r["id"] for r in await rt.db.fetch("SELECT id FROM hoso_unit ORDER BY id")]
    now = dt.datetime.now(dt.UTC)
    rows = []
    for i in range(n):
        year, month = 2000 + (i // 12) % 25, 1 + i % 12
        start = dt.date(year, month, 1)
        end = (start + dt.timedelta(days=31)).replace(day=1) - dt.timedelta(days=1)
        rows.append((0, "case", "received_on", units[i % len(units)], f"{year}-{month:02d}", start, end, now, "bench",
                     now if i % 2 else None))
    async with rt.db.transaction():
        await rt.db.executemany(
            "INSERT INTO hoso_period_lock (submission_id, entity, date_field, unit_id, period, period_start, "
            "period_end, locked_at, locked_by, unlocked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


class _Counted:
    """Counts the statements run through ``db`` while on."""

    def __init__(self, db):
        self.n, self.on = 0, False
        for name in ("fetch", "fetchval", "execute"):
            original = getattr(db, name)

            def counted(*args, _original=original, **kw):
                self.n += self.on
                return _original(*args, **kw)

            setattr(db, name, counted)


async def run(url: str, cases: int, batches: int, locks: int) -> None:
    from hoso.plugin_manager import BLOCK_SETTING
    from hoso.records.service import RecordContext
    from hoso.reports import approval
    from hoso.reports.snapshots import load_snapshot, store_snapshot
    from hoso.runtime import Runtime
    from tests.helpers import migrated_runtime

    rt = await migrated_runtime(Runtime.create(REPO, url).config, url)
    rt = Runtime.create(REPO, db=rt.db)
    system = RecordContext.system(rt.config)
    try:
        units = {r["code"]: r["id"] for r in await rt.db.fetch("SELECT id, code FROM hoso_unit")}
        async with rt.db.transaction():
            snapshot_id, _digest = await store_snapshot(rt.db, _result(rt), system, unit_id=units["TT-01"],
                                                        scope_key="bench")
        times = []
        for _ in range(300):
            t0 = time.perf_counter()
            await load_snapshot(rt.db, snapshot_id)
            times.append((time.perf_counter() - t0) * 1000)
        median = statistics.median(times)
        print(f"snapshot served (read + sha256 + parse)  median {median:.3f} ms, p95 "
              f"{sorted(times)[int(len(times) * 0.95)]:.3f} ms (target <= 5 ms) {'PASS' if median <= 5 else 'FAIL'}")

        # a locked period of another centre, so that the guard finds a lock row and checks the unit
        result = _result(rt)
        sub = await approval.submit(rt, system, result, scope_key="bench")
        await approval.approve(rt, system, sub["id"])
        await _more_locks(rt, locks)
        os.environ[BLOCK_SETTING] = "hoso.plugins.period_lock"
        unguarded = Runtime.create(REPO, db=rt.db)
        os.environ.pop(BLOCK_SETTING)
        assert unguarded.pm.is_blocked("hoso.plugins.period_lock") and not rt.pm.is_blocked("hoso.plugins.period_lock")
        spent = {"guarded": 0.0, "unguarded": 0.0}
        n = 0
        for b in range(batches):
            for name, runtime in (("guarded", rt), ("unguarded", unguarded))[:: 1 if b % 2 == 0 else -1]:
                svc = runtime.records()
                t0 = time.perf_counter()
                for _ in range(cases):
                    n += 1
                    await svc.create("case", _case(units["TT-02"], n), RecordContext.system(runtime.config))
                spent[name] += time.perf_counter() - t0
        per = {k: v / (cases * batches) * 1000 for k, v in spent.items()}
        print(f"case create with the lock guard  {per['guarded']:.3f} ms, without {per['unguarded']:.3f} ms: ratio "
              f"{per['guarded'] / per['unguarded']:.3f} ({cases * batches} creates each, batches interleaved, "
              f"{locks + 1} lock rows)")
        from hoso.plugins import period_lock

        counter = _Counted(rt.db)
        entity = rt.config.entity("case")
        record = {"unit": units["TT-02"], "received_on": dt.date(2025, 7, 2)}
        counter.on = True
        await period_lock.hoso_write_guard(entity=entity, action="update", before=record, after=record,
                                           context=system, db=rt.db)
        counter.on = False
        guard = []
        for _ in range(300):
            t0 = time.perf_counter()
            await period_lock.hoso_write_guard(entity=entity, action="update", before=record, after=record,
                                               context=system, db=rt.db)
            guard.append((time.perf_counter() - t0) * 1000)
        print(f"the guard for one update: {counter.n} statement(s), median {statistics.median(guard):.3f} ms "
              f"(300 calls)")
    finally:
        await rt.db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--cases", type=int, default=50)
    parser.add_argument("--batches", type=int, default=6)
    parser.add_argument("--locks", type=int, default=5000)
    args = parser.parse_args()
    os.environ.setdefault("HOSO_DISABLE_ENTRYPOINTS", "1")
    if not args.postgres:
        with tempfile.TemporaryDirectory() as tmp:
            asyncio.run(run(f"sqlite:///{tmp}/bench.db", args.cases, args.batches, args.locks))
        return
    name = f"hoso_bench_{uuid.uuid4().hex[:10]}"
    asyncio.run(_pg(PG_URL, f'CREATE DATABASE "{name}"'))
    try:
        asyncio.run(run(urlunparse(urlparse(PG_URL)._replace(path="/" + name)), args.cases, args.batches,
                        args.locks))
    finally:
        asyncio.run(_pg(PG_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
