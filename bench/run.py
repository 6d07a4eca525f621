"""Benchmarks, on data they generate. Run with `make bench` (or `python bench/run.py [NAME ...]`).

Each benchmark prints its figure next to its target. PostgreSQL benchmarks use HOSO_BENCH_POSTGRES_URL
(default postgresql://postgres@127.0.0.1:5432/test) and work in a database of their own, dropped afterwards.

  startup     `hoso check` plus application start-up on the reference configuration   target < 2 s
  add_field   adding a nullable field to an entity holding 1,000,000 rows (PostgreSQL) target < 5 s

``load_cases`` (used by bench/lists.py) fills the case table with generated cases that are stored as the record
service stores them: values parsed by the service's validator (defaults included), codes from the naming series
(and the series left at their last number), the search column, the version, the form version and the
created/updated columns. ``python bench/run.py --check-loader`` writes a few cases through the service and through
the loader and compares their columns.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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

# Vietnamese names, with their diacritics: the search column folds them ("Nguyễn" is found by "nguyen").
FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ",
          "Ngô", "Dương", "Lý"]
MIDDLE = ["Văn", "Thị", "Hữu", "Đức", "Minh", "Ngọc", "Thanh", "Quang", "Xuân", "Thu"]
GIVEN = ["An", "Bình", "Cường", "Dũng", "Hà", "Hùng", "Hương", "Lan", "Long", "Mai", "Nam", "Phúc", "Quân",
         "Sơn", "Thảo", "Trang", "Tuấn", "Việt", "Yến", "Đạt", "Khánh", "Nhung", "Oanh", "Tâm"]
ADDRESS = ["Phố Huế, Hà Nội", "Đường Lê Lợi, Huế", "Phường Bến Nghé, Thành phố Hồ Chí Minh",
           "Xã Đồng Văn, Hà Giang", "Thị trấn Sa Pa, Lào Cai", "Phường Hải Châu, Đà Nẵng"]
CHANNELS = ["in_person", "post", "online", "hotline", "mobile_app"]
GROUPS = ["NCC", "HN", "TE", "DTTS", "MBN", "KKTC_NCT", "KKTC_NKT"]
LAW = ["HS", "DS", "HNGD", "HC", "LD", "DD", "CSXH", "KHAC"]
AID = ["TV", "TGTT", "DDNTT"]
# (status, the lifecycle date fields a case in that status has, each some days after the previous one)
LIFECYCLE = [("received", []), ("accepted", ["accepted_on"]), ("assigned", ["accepted_on", "assigned_on"]),
             ("in_progress", ["accepted_on", "assigned_on", "started_on"]),
             ("ended", ["accepted_on", "assigned_on", "started_on", "ended_on"]), ("refused", ["refused_on"])]
CASE_COLUMNS_SKIPPED = ("id", "code", "sys_created_at", "sys_updated_at")


def case_payload(i: int, unit_id: int, today=None) -> dict:
    """The ``i``-th generated case, as a client would send it to the record service (JSON values)."""
    import datetime as dt

    today = today or dt.date.today()
    span = (today - dt.date(2019, 1, 1)).days - 60
    received = dt.date(2019, 1, 1) + dt.timedelta(days=(i * 7919) % span)
    status, dates = LIFECYCLE[(i // 7) % len(LIFECYCLE)]
    payload = {
        "received_on": received.isoformat(), "request_channel": CHANNELS[i % len(CHANNELS)],
        "requester_name": f"{FAMILY[i % 16]} {MIDDLE[(i // 16) % 10]} {GIVEN[(i // 160) % len(GIVEN)]}",
        "gender": "female" if i % 2 else "male", "birth_year": 1940 + i % 70,
        "address": ADDRESS[i % len(ADDRESS)], "beneficiary_groups": [GROUPS[i % len(GROUPS)]],
        "field_of_law": LAW[(i // 3) % len(LAW)], "form_of_aid": AID[i % 3], "status": status, "unit": unit_id}
    if payload["form_of_aid"] == "TGTT":
        payload.update(procedural_stage=["investigation", "prosecution", "trial"][i % 3],
                       litigation_role=["defence", "protection", "representation"][i % 3])
    for k, name in enumerate(dates, 1):
        payload[name] = (received + dt.timedelta(days=3 * k)).isoformat()
    return payload


class CaseRows:
    """Rows of the case table for generated payloads, made with the record service's own parts."""

    def __init__(self, rt):
        import datetime as dt

        from hoso.records.access import hidden_by_any_role
        from hoso.records.context import RecordContext

        self.rt = rt
        self.service = rt.records()
        self.entity = rt.config.entity("case")
        self.ctx = RecordContext.system(rt.config, origin="bench")
        self.form = self.service._compiled(self.entity, None, self.ctx)
        self.hidden = hidden_by_any_role(rt, self.entity)
        self.now = dt.datetime.now(dt.UTC)
        self.series: dict[str, int] = {}
        self.short: dict[int, str] = {}
        self.columns: list[str] = []  # every column a row so far has had
        self.known: set[str] = set()

    async def prepare(self) -> None:
        rows = await self.rt.db.fetch("SELECT id, COALESCE(short_code, code) AS c FROM hoso_unit")
        self.short = {int(r["id"]): r["c"] for r in rows}
        for r in await self.rt.db.fetch("SELECT key, last_value FROM hoso_series"):
            self.series[r["key"]] = int(r["last_value"])
        await self.service.store.register_form(self.form)

    def row(self, payload: dict) -> dict:
        from hoso.records.search import search_text

        entity = self.entity
        values, problems = self.service.validator.parse(entity.fields, payload, self.ctx)
        if problems:
            raise ValueError(problems)
        for wf in self.rt.config.workflows_for(entity.name):
            if payload.get(wf.state_field) in (None, ""):
                values[wf.state_field] = wf.initial
        year = values["received_on"].year
        form = values["form_of_aid"]
        key = f"case|code|{values['unit']}|{form}|{year}"
        seq = self.series[key] = self.series.get(key, 0) + 1
        values["code"] = f"{self.short[values['unit']]}.{form}.{seq:02}.{year}"
        row = self.service.store.to_db(entity.fields, values)
        row.update(sys_version=1, sys_created_at=self.now, sys_created_by=None, sys_updated_at=self.now,
                   sys_updated_by=None, sys_form_version=self.form.version,
                   sys_search=search_text(entity.fields, values, self.hidden))
        for c in row:
            if c not in self.known:
                self.known.add(c)
                self.columns.append(c)
        return row

    async def save_series(self) -> None:
        """Leave every naming series at its last number: the service's next case continues it."""
        for key, value in self.series.items():
            await self.rt.db.execute(
                "INSERT INTO hoso_series (key, last_value) VALUES ({}, {}) "
                "ON CONFLICT (key) DO UPDATE SET last_value = {}", key, value, value)


async def load_cases(rt, rows: int, unit_ids: list[int], *, start: int = 0, batch: int = 50_000) -> float:
    """Add ``rows`` generated cases spread evenly over ``unit_ids`` (COPY on PostgreSQL, one transaction per batch
    on SQLite); return the seconds taken. ``start`` numbers the first one (loads can be resumed)."""
    maker = CaseRows(rt)
    await maker.prepare()
    t0 = time.perf_counter()
    url = rt.db.url
    if rt.db.kind == "postgres":
        import asyncpg

        conn = await asyncpg.connect(url)
        try:
            for first in range(start, start + rows, batch):
                records = [maker.row(case_payload(i, unit_ids[i % len(unit_ids)]))
                           for i in range(first, min(start + rows, first + batch))]
                cols = maker.columns
                await conn.copy_records_to_table("case", columns=cols,
                                                 records=[tuple(r.get(c) for c in cols) for r in records])
            await conn.execute('ANALYZE "case"')
        finally:
            await conn.close()
    else:
        import sqlite3

        from hoso.db import FOLD_FUNCTION, fold

        conn = sqlite3.connect(url[len("sqlite:///"):], timeout=60)
        # what hoso's own SQLite connections know (an index or trigger may use it)
        conn.create_function(FOLD_FUNCTION, 1, lambda v: None if v is None else fold(str(v)), deterministic=True)
        try:
            for first in range(start, start + rows, batch):
                records = [maker.row(case_payload(i, unit_ids[i % len(unit_ids)]))
                           for i in range(first, min(start + rows, first + batch))]
                cols = maker.columns
                marks = ", ".join("?" for _ in cols)
                with conn:
                    conn.executemany(f'INSERT INTO "case" ({", ".join(cols)}) VALUES ({marks})',
                                     [tuple(r.get(c) for c in cols) for r in records])
            conn.execute('ANALYZE "case"')
            conn.commit()
        finally:
            conn.close()
    await maker.save_series()
    return time.perf_counter() - t0


async def loader_differences(rt, n: int = 6) -> list[str]:
    """Write ``n`` generated cases through the record service and the same ones through ``load_cases``; the
    columns in which a loaded case differs from its service-written twin (none when the loader is right). Codes
    are compared without their sequence number (both take the next of the same series)."""
    from hoso.records.context import RecordContext

    units = [int(r["id"]) for r in await rt.db.fetch(
        "SELECT id FROM hoso_unit WHERE type IN ('legal_aid_centre', 'centre_branch') ORDER BY id")][:n]
    ctx = RecordContext.system(rt.config, origin="bench")
    service = rt.records()
    made = [(await service.create("case", case_payload(i, units[i % len(units)]), ctx))["id"] for i in range(n)]
    first = int(await rt.db.fetchval('SELECT MAX(id) AS n FROM "case"'))
    await load_cases(rt, n, units, start=0, batch=n)
    problems = []
    for i, made_id in enumerate(made):
        a = dict((await rt.db.fetch('SELECT * FROM "case" WHERE id = {}', made_id))[0])
        b = dict((await rt.db.fetch('SELECT * FROM "case" WHERE id = {}', first + 1 + i))[0])
        if a["sys_search"] and b["sys_search"]:  # the code is one of its words
            b["sys_search"] = b["sys_search"].replace(b["code"].lower(), a["code"].lower())
        for column in a:
            if column in CASE_COLUMNS_SKIPPED:
                continue
            if a[column] != b[column] or type(a[column]) is not type(b[column]):
                problems.append(f"case {i}: {column}: service {a[column]!r}, loader {b[column]!r}")
        if a["code"].rsplit(".", 2)[0] != b["code"].rsplit(".", 2)[0]:
            problems.append(f"case {i}: code: service {a['code']!r}, loader {b['code']!r}")
    return problems


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


@contextlib.asynccontextmanager
async def reference_runtime(engine: str, prefix: str):
    """A runtime on the reference configuration, migrated in a database of its own: on PostgreSQL one created
    from HOSO_BENCH_POSTGRES_URL and dropped afterwards, on SQLite a file on disk in a temporary folder."""
    from hoso.config import load_config
    from tests.helpers import migrated_runtime

    tmp = tempfile.TemporaryDirectory(prefix=prefix)
    db = f"hoso_bench_{uuid.uuid4().hex[:10]}"
    if engine == "postgres":
        url = urlunparse(urlparse(PG_URL)._replace(path="/" + db))
        await _pg(PG_URL, f'CREATE DATABASE "{db}"')
    else:
        url = f"sqlite:///{tmp.name}/bench.db"
    try:
        rt = await migrated_runtime(load_config(REPO), url)
        try:
            yield rt
        finally:
            await rt.db.close()
    finally:
        if engine == "postgres":
            await _pg(PG_URL, f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        tmp.cleanup()


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
