"""Report benchmarks: "Biểu 24" (people assisted by field of law x form of aid; columns total, men, women and
one per beneficiary group; the current year's records) on generated cases, side by side in one process, so
the figures are ratios.

Run with `python bench/reports.py [--cases N] [--postgres URL] [--sqlite PATH] [--runs R] [--summary]
[--writes SECONDS]`. Without --postgres, a database of its own is made on HOSO_BENCH_POSTGRES_URL (default
postgresql://postgres@127.0.0.1:5432/test) and dropped afterwards; without --sqlite, a temporary file. A database
or file given by name is migrated and loaded once, then reused by later runs with the same --cases.

For each engine, national and one province (--province, default STP-01: a centre and its branches):

  hand-written   the indexed SQL of the report, written for it (one statement: leaf rows, subtotals and total)
  compiled       hoso.reports.engine.run_report on the template (--report, default people_assisted), when the
                 engine exists                                             target: within 1.5x of hand-written
  as of          the compiled report as of a past moment vs live, when the engine takes as_of    target <= 3x
  snapshot       an approved report served from its snapshot, when hoso.reports.snapshots exists target <= 5 ms

--summary (PostgreSQL): a summary table at the grain (recorded unit, month, field of law, form of aid) with one
counter column per option, maintained by a trigger in the write's transaction; the national report read from it
(target <= 25 ms at 1,000,000 cases) and checked equal to the hand-written report. --writes S: case creations
through the API (`hoso serve`, bench/api.py's client) for S seconds without, then with, the summary's trigger
(target >= 300/s), and the summary checked equal to the cases again afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import json
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
os.environ.setdefault("HOSO_DISABLE_ENTRYPOINTS", "1")
PG_URL = os.environ.get("HOSO_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")

from hoso.model.summaries import PREFIX  # noqa: E402
from hoso.runtime import Runtime  # noqa: E402
from run import _pg  # noqa: E402  (bench/run.py: one SQL statement on its own connection)

RESULTS: list[dict] = []
FORMS = ["TV", "TGTT", "DDNTT"]
FIELDS = ["HS", "DS", "HNGD", "HC", "LD", "DD", "CSXH", "KHAC"]
STATUSES = ["received", "accepted", "assigned", "in_progress", "ended", "appraised", "archived", "refused"]
GENDERS = ["male", "female", "female", "male", "other", None]
CHANNELS = ["in_person", "post", "online", "hotline", "mobile_app"]
GIVEN = ["An", "Bình", "Chi", "Dũng", "Hà", "Hương", "Khánh", "Lan", "Minh", "Ngọc", "Phúc", "Quyên", "Sơn", "Thảo"]
FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ"]
FIRST_YEAR = 2020


def report(name: str, value: float, unit: str, target: float | None = None, detail: str = "",
           higher: bool = False) -> None:
    ok = "" if target is None else ("PASS" if (value >= target if higher else value <= target) else "FAIL")
    cmp = ">=" if higher else "<="
    line = f"{name:<44} {value:10.3f} {unit:<4}" + (f" (target {cmp} {target} {unit}) {ok}" if target is not None
                                                    else "")
    if detail:
        line += f"  {detail}"
    print(line, flush=True)
    RESULTS.append({"name": name, "value": value, "unit": unit, "target": target, "detail": detail,
                    "higher": higher})


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


async def timed(fn: Callable[[], Awaitable[Any]], runs: int, warmup: int = 2) -> tuple[list[float], Any]:
    times, outs = await interleaved({"": fn}, runs, warmup)
    return times[""], outs[""]


async def interleaved(fns: dict[str, Callable[[], Awaitable[Any]]], runs: int, warmup: int = 2
                      ) -> tuple[dict[str, list[float]], dict[str, Any]]:
    """Each function ``runs`` times, taking turns (so that a busy moment of the machine weighs on all alike);
    the seconds of each run and the last answer of each."""
    outs: dict[str, Any] = {}
    for _ in range(warmup):
        for name, fn in fns.items():
            outs[name] = await fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(runs):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            outs[name] = await fn()
            times[name].append(time.perf_counter() - t0)
    return times, outs


# -- data ------------------------------------------------------------------------------------------------------
def groups_list(config) -> list[str]:
    return list(config.choice_list("beneficiary_group").values())


def generate(units: list[tuple[int, str]], groups: list[str], rows: int, today: dt.date, seed: int = 10):
    """``rows`` cases spread over the units and the days from 1 January FIRST_YEAR to ``today``: tuples in the
    order of COLUMNS."""
    rnd = random.Random(seed)
    span = (today - dt.date(FIRST_YEAR, 1, 1)).days + 1
    now = dt.datetime.now(dt.UTC)
    for i in range(rows):
        unit_id, _ = units[i % len(units)]
        form = FORMS[rnd.randrange(3)]
        received = dt.date(FIRST_YEAR, 1, 1) + dt.timedelta(days=rnd.randrange(span))
        k = 1 if rnd.random() < 0.7 else 2
        chosen = rnd.sample(groups, k)
        name = f"{rnd.choice(FAMILY)} Văn {rnd.choice(GIVEN)} {i}"
        yield (f"B.{form}.{i}.{received.year}", received, rnd.choice(CHANNELS), name, rnd.choice(GENDERS),
               1940 + rnd.randrange(70), json.dumps(chosen), rnd.choice(FIELDS), form, rnd.choice(STATUSES),
               unit_id, 1, now, now, name.lower())


COLUMNS = ["code", "received_on", "request_channel", "requester_name", "gender", "birth_year",
           "beneficiary_groups", "field_of_law", "form_of_aid", "status", "unit", "sys_version", "sys_created_at",
           "sys_updated_at", "sys_search"]
# The hand-written report's index: every column it reads, so that both engines answer from the index alone.
INDEX = ("CREATE INDEX IF NOT EXISTS bench_case_b24 ON \"case\" (received_on, unit, field_of_law, form_of_aid, "
         "gender, beneficiary_groups, status, sys_deleted_at)")


async def prepare(url: str, rows: int, today: dt.date):
    """A migrated runtime on ``url`` holding ``rows`` generated cases (loaded unless already there)."""
    from hoso.config import load_config
    from hoso.model.summaries import drop_summary, existing_summaries
    from tests.helpers import migrated_runtime

    rt = await migrated_runtime(load_config(REPO), url)
    have = await rt.db.fetchval("SELECT COUNT(*) AS n FROM \"case\" WHERE code LIKE 'B.%'")
    if have == rows:
        if "bench_case_b24" not in await rt.db.index_names("case"):
            await rt.db.execute(INDEX)
            await rt.db.execute("ANALYZE")
        return rt, 0.0
    units = await case_units(rt)
    groups = groups_list(rt.config)
    t0 = time.perf_counter()
    # a bulk load goes in without the summary tables' triggers; migrate builds the tables from the records after
    for table in await existing_summaries(rt.db):
        await drop_summary(rt.db, table)
    await rt.db.execute("DELETE FROM \"case\"")
    if rt.db.is_sqlite:
        await rt.db.close()
        path = urlparse(url).path
        con = sqlite3.connect(path)
        try:
            con.execute("PRAGMA journal_mode=WAL")
            # timestamps as the record service writes them on SQLite ("YYYY-MM-DD HH:MM:SS.ffffff+00:00")
            con.executemany(f"INSERT INTO \"case\" ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                            ((r[0], r[1].isoformat(), *r[2:12], str(r[12]), str(r[13]), r[14])
                             for r in generate(units, groups, rows, today)))
            con.execute(INDEX)
            con.commit()
            con.execute("ANALYZE")
        finally:
            con.close()
        rt = await migrated_runtime(load_config(REPO), url)
    else:
        import asyncpg

        conn = await asyncpg.connect(url)
        try:
            batch: list[tuple] = []
            for r in generate(units, groups, rows, today):
                batch.append(r)
                if len(batch) == 100_000:
                    await conn.copy_records_to_table("case", columns=COLUMNS, records=batch)
                    batch = []
            if batch:
                await conn.copy_records_to_table("case", columns=COLUMNS, records=batch)
            await conn.execute(INDEX)
            await conn.execute('VACUUM ANALYZE "case"')
        finally:
            await conn.close()
        await rt.db.close()
        rt = await migrated_runtime(load_config(REPO), url)  # builds the summary tables, back-filled
    return rt, time.perf_counter() - t0


# -- the hand-written report -------------------------------------------------------------------------------------
def measures(groups: list[str]) -> list[tuple[str, str]]:
    """(column key, SQL condition or None for all) of Biểu 24."""
    return [("total", "TRUE"), ("men", "t.gender = 'male'"), ("women", "t.gender = 'female'")] + [
        (g, f"t.beneficiary_groups LIKE '%\"{g}\"%'") for g in groups]


# The template's filter (forms_config/reports/people_assisted.yaml): refused and transferred requests do not count.
FILTER = "t.status <> 'refused' AND t.status <> 'transferred'"


def handwritten_sql(groups: list[str], unit_ids: list[int] | None) -> str:
    """Biểu 24 in one statement: the leaf rows (field of law x form of aid), a subtotal per field of law and the
    total. Placeholders: the period's first and last day."""
    cols = measures(groups)
    agg = ", ".join(f"COUNT(*) FILTER (WHERE {c}) AS \"{k}\"" if c != "TRUE" else f"COUNT(*) AS \"{k}\""
                    for k, c in cols)
    sums = ", ".join(f"SUM(\"{k}\") AS \"{k}\"" for k, _ in cols)
    where = f"t.sys_deleted_at IS NULL AND {FILTER} AND t.received_on >= {{}} AND t.received_on <= {{}}"
    if unit_ids is not None:
        where += f" AND t.unit IN ({', '.join(str(int(u)) for u in unit_ids)})"
    return (f"WITH g AS (SELECT t.field_of_law, t.form_of_aid, {agg} FROM \"case\" t WHERE {where} "
            "GROUP BY t.field_of_law, t.form_of_aid) "
            "SELECT 2 AS lvl, field_of_law, form_of_aid, " + ", ".join(f'"{k}"' for k, _ in cols) + " FROM g "
            f"UNION ALL SELECT 1, field_of_law, NULL, {sums} FROM g GROUP BY field_of_law "
            f"UNION ALL SELECT 0, NULL, NULL, {sums} FROM g")


def as_table(rows: list[dict], keys: list[str]) -> dict[tuple, tuple]:
    """Rows keyed by (level, field of law, form of aid); values as ints (SUM gives numerics on PostgreSQL)."""
    return {(r["lvl"], r["field_of_law"], r["form_of_aid"]): tuple(int(r[k] or 0) for k in keys) for r in rows}


def differences(table: dict[tuple, tuple], hand: dict[tuple, tuple], most: int = 4) -> str:
    """The first cells where ``table`` and ``hand`` disagree, as ``row: got vs hand-written``."""
    keys = sorted(set(table) | set(hand), key=repr)
    out = [f"{k}: {table.get(k)} vs {hand.get(k)}" for k in keys if table.get(k) != hand.get(k)]
    return "; ".join(out[:most]) + (f"; and {len(out) - most} more" if len(out) > most else "")


def compiled_table(result, keys: list[str]) -> dict[tuple, tuple] | None:
    """A ReportResult as the same table, when its columns carry the hand-written keys."""
    col_keys = [c.key for c in result.columns]
    index = []
    for k in keys:
        hits = [i for i, ck in enumerate(col_keys) if ck == k or ck.endswith(":" + k)]
        if len(hits) != 1:
            return None
        index.append(hits[0])
    out = {}
    for r in [*result.rows, result.total]:
        keys_ = tuple(r.keys) + (None,) * (2 - len(r.keys))
        lvl = {"total": 0, "subtotal": 1}.get(r.kind, 2)
        out[(lvl, *keys_[:2])] = tuple(int(r.values[i] or 0) for i in index)
    return out


async def province_units(rt, code: str) -> list[int]:
    """The units where a province's cases are recorded: its centres and their branches."""
    prov = await rt.db.fetchval("SELECT id FROM hoso_unit WHERE code = {}", code)
    centre_ids = [r["id"] for r in await rt.db.fetch("SELECT id FROM hoso_unit WHERE parent_id = {}", prov)]
    return [*centre_ids, *[r["id"] for r in await rt.db.fetch(
        f"SELECT id FROM hoso_unit WHERE parent_id IN ({', '.join(map(str, centre_ids))})")]]


async def case_units(rt) -> list[tuple[int, str]]:
    """The units cases are recorded at (centres and branches), in the order the loader spreads cases over."""
    return [(r["id"], r["code"]) for r in await rt.db.fetch(
        "SELECT id, code FROM hoso_unit WHERE type IN ('legal_aid_centre', 'centre_branch') ORDER BY code")]


# -- one engine --------------------------------------------------------------------------------------------------
async def bench_engine(label: str, url: str, rows: int, runs: int, province: str, report_name: str,
                       today: dt.date) -> Any:
    rt, load = await prepare(url, rows, today)
    if load:
        report(f"{label}: load {rows:,} cases", load, "s")
    groups = groups_list(rt.config)
    keys = [k for k, _ in measures(groups)]
    # the year as the report resolves it: from 1 January to the annual cut-off of forms_config/calendar.yaml
    # (actual data to 30 November), which the hand-written statement must use too
    from hoso.reports.periods import resolve_period

    period = resolve_period(rt, next(r for r in rt.config.reports if r.name == report_name), str(today.year))
    assert period is not None
    year = period.start, period.end
    unit_ids = await province_units(rt, province)
    in_year = await rt.db.fetchval("SELECT COUNT(*) AS n FROM \"case\" WHERE received_on >= {} AND received_on <= {}",
                                   *year)
    print(f"{label}: {rows:,} cases, {in_year:,} received in {today.year}; {province} = units {unit_ids}",
          flush=True)
    out: dict[str, Any] = {"rt": rt, "groups": groups, "year": year, "unit_ids": unit_ids}
    engine = None
    try:
        from hoso.reports import engine
    except ImportError:
        print(f"{label}: hoso.reports.engine is not there yet: compiled side skipped", flush=True)
    ctx = req = None
    if engine is not None:
        from hoso.records.context import RecordContext

        ctx = RecordContext.system(rt.config, origin="bench")
    # the same templates with no summary table: the compiled statement over the cases, side by side
    plain = Runtime.create(dataclasses.replace(rt.config, reports=tuple(
        dataclasses.replace(r, summary=False) for r in rt.config.reports)), db=rt.db)
    for scope, ids, unit_code in (("national", None, None), (province, unit_ids, province)):
        sql = handwritten_sql(groups, ids)
        fns: dict[str, Callable[[], Awaitable[Any]]] = {"hand": lambda sql=sql: rt.db.fetch(sql, *year)}
        if engine is not None:
            from hoso.reports.model import ReportRequest

            req = ReportRequest(report_name, period=str(today.year), unit=unit_code)
            try:
                await engine.run_report(plain, ctx, req)
                fns["compiled"] = lambda req=req, ctx=ctx: engine.run_report(plain, ctx, req)
                stmt = await engine.compile_report(plain, ctx, req)
                fns["statement"] = lambda stmt=stmt: rt.db.fetch(stmt.sql, *stmt.args)
                served = await engine.compile_report(rt, ctx, req)
                if PREFIX in served.sql:  # the template's summary table answers live runs
                    fns["summary"] = lambda req=req, ctx=ctx: engine.run_report(rt, ctx, req)
                    fns["summary statement"] = lambda stmt=served: rt.db.fetch(stmt.sql, *stmt.args)
            except Exception as exc:  # the engine is another piece's: report what it says and go on
                print(f"{label}: compiled {scope}: {type(exc).__name__}: {exc}", flush=True)
        times, outs = await interleaved(fns, runs)
        hand = as_table(outs["hand"], keys)
        out[f"hand:{scope}"] = hand
        h50 = statistics.median(times["hand"]) * 1000
        report(f"{label}: hand-written {scope} p50", h50, "ms", None, f"p95 {pct(times['hand'], .95) * 1000:.1f} "
               f"ms; {runs} runs; total {hand[(0, None, None)][0]:,}")
        if "compiled" not in fns:
            continue
        c50 = statistics.median(times["compiled"]) * 1000
        table = compiled_table(outs["compiled"], keys)
        same = "columns differ from Biểu 24's" if table is None else (
            "equal to hand-written" if table == hand else f"DIFFERENT from hand-written: {differences(table, hand)}")
        report(f"{label}: compiled {scope} p50", c50, "ms", None,
               f"p95 {pct(times['compiled'], .95) * 1000:.1f} ms; {same}")
        report(f"{label}: compiled / hand-written {scope}", c50 / h50, "x", 1.5)
        s50 = statistics.median(times["statement"]) * 1000
        report(f"{label}: compiled statement alone {scope} p50", s50, "ms", None,
               f"{s50 / h50:.2f}x hand-written; the rest of run_report (compiling, labels, totals) "
               f"{c50 - s50:.1f} ms")
        if "summary" in times:
            m50 = statistics.median(times["summary"]) * 1000
            table = compiled_table(outs["summary"], keys)
            same = "equal to hand-written" if table == hand else "DIFFERENT from hand-written"
            target = 25.0 if label == "postgres" and scope == "national" else None
            report(f"{label}: summary table {scope} p50", m50, "ms", target,
                   f"p95 {pct(times['summary'], .95) * 1000:.1f} ms; run_report; {same}")
            report(f"{label}: summary / compiled {scope}", m50 / c50, "x", None, f"compiled p50 {c50:.1f} ms")
            q50 = statistics.median(times["summary statement"]) * 1000
            report(f"{label}: summary statement alone {scope} p50", q50, "ms", None,
                   f"p95 {pct(times['summary statement'], .95) * 1000:.1f} ms; the rest of run_report "
                   f"{m50 - q50:.1f} ms")
            if table != hand:
                raise SystemExit(f"{label}: the report from its summary table differs from the cases ({scope})")
        if scope == "national":
            await as_of_and_snapshot(label, rt, engine, ctx, req, times["compiled"], runs)
    return out


async def as_of_and_snapshot(label, rt, engine, ctx, req, live_times, runs) -> None:
    """As-of vs live and a snapshot read, each only when the pieces they need exist."""

    past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    try:
        live = await engine.run_report(rt, ctx, req)
        times, then = await timed(lambda: engine.run_report(rt, ctx, dataclasses.replace(req, as_of=past)), runs)
        # nothing of the period was written in the last minute: the two must agree
        same = "equal to live" if then.total.values == live.total.values else (
            f"DIFFERENT from live (total {then.total.values[0]} vs {live.total.values[0]})")
        report(f"{label}: as of a past moment / live", statistics.median(times) / statistics.median(live_times),
               "x", 3.0, f"as of p50 {statistics.median(times) * 1000:.1f} ms; {same}")
    except Exception as exc:
        print(f"{label}: as of: not available ({type(exc).__name__}: {str(exc)[:200]})", flush=True)
    try:
        from hoso.reports import snapshots
    except ImportError:
        print(f"{label}: hoso.reports.snapshots is not there yet: snapshot read skipped", flush=True)
        return
    try:
        from hoso.reports import approval

        def read(snapshot_id: int) -> Awaitable[Any]:  # the served path: the requester's reach checked
            return approval.read_snapshot(rt, ctx, snapshot_id)
    except ImportError:
        def read(snapshot_id: int) -> Awaitable[Any]:
            return snapshots.load_snapshot(rt.db, snapshot_id)
    try:
        result = await engine.run_report(rt, ctx, req)
        async with rt.db.transaction():
            snapshot_id, _ = await snapshots.store_snapshot(rt.db, result, ctx, unit_id=None,
                                                            scope_key=result.scope_key)
        times, served = await timed(lambda: read(snapshot_id), runs)
        body = served.get("result", served)
        same = "equal to the live run" if body.get("total") == result.to_json()["total"] else "DIFFERENT total"
        report(f"{label}: approved report from its snapshot p50", statistics.median(times) * 1000, "ms", 5.0,
               f"p95 {pct(times, .95) * 1000:.2f} ms; {same}")
    except Exception as exc:
        print(f"{label}: snapshot read: not available ({type(exc).__name__}: {str(exc)[:200]})", flush=True)


# -- the summary table's write cost and the report over HTTP (PostgreSQL) -----------------------------------------
async def bench_summary(pg: dict, url: str, runs: int, writes: float, tasks: int) -> None:
    """Case creations through the API with the summary tables' triggers (the deployment as configured), then with
    none (the tables dropped), then the tables rebuilt by migrate and checked equal to the cases again; and the
    national report through HTTP GET /api/reports/people_assisted."""
    from hoso.config import load_config
    from hoso.model.summaries import existing_summaries
    from tests.helpers import migrated_runtime

    groups, year = pg["groups"], pg["year"]
    keys = [k for k, _ in measures(groups)]
    await http_report(url, year[0].year, runs)
    if not writes:
        return
    with_triggers = await api_creations(url, writes, tasks, "summary triggers on")
    with tempfile.TemporaryDirectory(prefix="hoso-bench-config-") as tmp:
        # the reference configuration with every template's summary switched off, migrated: the tables and their
        # triggers dropped, as a deployment would have them
        plain = Path(tmp)
        for folder in ("forms_config", "roles_config"):
            shutil.copytree(REPO / folder, plain / folder)
        for path in (plain / "forms_config" / "reports").glob("*.yaml"):
            path.write_text(path.read_text(encoding="utf-8").replace("\nsummary: true\n", "\n"), encoding="utf-8")
        off = await migrated_runtime(load_config(plain), url)
        left = await existing_summaries(off.db)
        await off.db.close()
        if left:
            raise SystemExit(f"summary tables left after migrating without them: {sorted(left)}")
        without = await api_creations(url, writes, tasks, "no summary table", config=plain)
    report("postgres: API creations, summary triggers / none", with_triggers / without, "x", None,
           f"{with_triggers:.0f}/s vs {without:.0f}/s, {tasks} clients, {writes:.0f} s each")
    t0 = time.perf_counter()
    fresh = await migrated_runtime(load_config(REPO), url)
    built = time.perf_counter() - t0
    n = await fresh.db.fetchval('SELECT COUNT(*) AS n FROM "case"')
    report("postgres: summary tables rebuilt by migrate", built, "s", None, f"back-filled from {n:,} cases")
    from hoso.records.context import RecordContext
    from hoso.reports.engine import run_report
    from hoso.reports.model import ReportRequest

    hand = as_table(await fresh.db.fetch(handwritten_sql(groups, None), *year), keys)
    got = compiled_table(await run_report(fresh, RecordContext.system(fresh.config, origin="bench"),
                                          ReportRequest("people_assisted", period=str(year[0].year))), keys)
    await fresh.db.close()
    if got != hand:
        raise SystemExit("the report from its rebuilt summary table differs from the cases")
    print("postgres: the rebuilt summary table gives the hand-written figures after the API's writes", flush=True)


async def http_report(url: str, year: int, runs: int) -> None:
    """The national Biểu 24 of ``year`` through `hoso serve` (GET /api/reports/people_assisted, JSON)."""
    import httpx

    from loadtest import prepare_token, serve

    token, _units = await prepare_token(url)
    with serve(url, port=18082):
        async with httpx.AsyncClient(base_url="http://127.0.0.1:18082", timeout=60,
                                     headers={"Authorization": f"Bearer {token}"}) as client:
            async def get() -> httpx.Response:
                r = await client.get("/api/reports/people_assisted", params={"period": str(year)})
                if r.status_code != 200:
                    raise SystemExit(f"GET /api/reports/people_assisted: {r.status_code} {r.text[:300]}")
                return r

            times, last = await timed(get, runs)
    report("postgres: HTTP GET national report p50", statistics.median(times) * 1000, "ms", None,
           f"p95 {pct(times, .95) * 1000:.1f} ms; {len(last.content):,} bytes of JSON")


async def api_creations(url: str, seconds: float, tasks: int, what: str, config: Path = REPO) -> float:
    """Case creations per second through `hoso serve` on ``url`` (bench/api.py's client)."""
    from api import RESULTS as API_RESULTS
    from api import bench_create
    from loadtest import prepare_token, serve

    token, units = await prepare_token(url)
    with serve(url, port=18081, config=config):
        API_RESULTS.clear()
        await bench_create("http://127.0.0.1:18081", {"Authorization": f"Bearer {token}"}, units, seconds, tasks)
    rate = next(r["value"] for r in API_RESULTS if r["name"] == "api: case creations")
    report(f"postgres: API case creations, {what}", rate, "/s", 300, f"{tasks} clients, {seconds:.0f} s",
           higher=True)
    return rate


# -- main --------------------------------------------------------------------------------------------------------
async def main(args) -> None:
    today = dt.date.today()
    own_pg = args.postgres is None
    pg_url = args.postgres or urlunparse(urlparse(PG_URL)._replace(path=f"/hoso_bench_{uuid.uuid4().hex[:10]}"))
    tmp = None
    if own_pg:
        await _pg(PG_URL, f'CREATE DATABASE "{urlparse(pg_url).path[1:]}"')
    try:
        pg = None
        if not args.no_postgres:
            pg = await bench_engine("postgres", pg_url, args.cases, args.runs, args.province, args.report, today)
            if args.summary or args.writes:
                await bench_summary(pg, pg_url, args.runs, args.writes, args.tasks)
            await pg["rt"].db.close()
        if not args.no_sqlite:
            if args.sqlite is None:
                tmp = tempfile.TemporaryDirectory(prefix="hoso-bench-reports-")
                sqlite_path = Path(tmp.name) / "bench.db"
            else:
                sqlite_path = Path(args.sqlite)
            lite = await bench_engine("sqlite", f"sqlite:///{sqlite_path}", args.cases, args.runs, args.province,
                                      args.report, today)
            await lite["rt"].db.close()
            if pg is None:
                return
            for scope in ("national", args.province):
                if lite[f"hand:{scope}"] != pg[f"hand:{scope}"]:
                    raise SystemExit(f"the engines disagree on the hand-written report ({scope})")
            print("sqlite and postgres: the same hand-written figures, national and province", flush=True)
            pairs = {r["name"]: r["value"] for r in RESULTS}
            for scope in ("national", args.province):
                a, b = pairs.get(f"sqlite: hand-written {scope} p50"), pairs.get(f"postgres: hand-written {scope} p50")
                if a and b:
                    report(f"hand-written {scope}: sqlite / postgres", a / b, "x")
    finally:
        if tmp is not None:
            tmp.cleanup()
        if own_pg:
            await _pg(PG_URL, f'DROP DATABASE IF EXISTS "{urlparse(pg_url).path[1:]}" WITH (FORCE)')


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--postgres", help="a PostgreSQL database URL to load once and reuse")
    parser.add_argument("--sqlite", help="a SQLite file to load once and reuse")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--province", default="STP-01")
    parser.add_argument("--report", default="people_assisted")
    parser.add_argument("--summary", action="store_true",
                        help="also the national report through HTTP, and with --writes the triggers' write cost")
    parser.add_argument("--writes", type=float, default=0.0, help="seconds of API case creations, before/after")
    parser.add_argument("--tasks", type=int, default=24, help="concurrent clients of --writes")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()
    asyncio.run(main(args))
    if args.json:
        args.json.write_text(json.dumps(RESULTS, indent=2))
    if any(r["target"] is not None and not (r["value"] >= r["target"] if r["higher"] else r["value"] <= r["target"])
           for r in RESULTS):
        sys.exit(1)
