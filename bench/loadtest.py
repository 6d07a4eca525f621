"""The deadline load test: many users at once on `hoso serve` with PostgreSQL, driven by locust
(bench/locustfile.py), headless, bounded in time, against 127.0.0.1 only.

Run with `python bench/loadtest.py [--users N] [--minutes T] [--cases N] [--postgres URL] [--port P]
[--workers W]` (W server processes, default 2).
Without --postgres, a database of its own is made on HOSO_BENCH_POSTGRES_URL (default
postgresql://postgres@127.0.0.1:5432/test), loaded with --cases generated cases (bench/reports.py's loader) and
dropped afterwards; a database given by name is loaded once and reused.

The runner migrates, loads accounts with passwords (centre staff, provincial officers, national statisticians),
starts `hoso serve` on 127.0.0.1:--port, logs every account in through /api/login, runs locust for --minutes with
--users concurrent users mixing case lists, record reads, case creations and edits, report runs and exports, stops
the server, and then checks that every write the server acknowledged is in the database as acknowledged.

  p95 of every request (logins excluded: they happen before)       target <= 500 ms
  errors (non-2xx answers, failed connections)                       target 0
  lost writes (acknowledged creations or edits not in the database)  target 0
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import datetime as dt
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse, urlunparse

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
os.environ.setdefault("HOSO_DISABLE_ENTRYPOINTS", "1")
PG_URL = os.environ.get("HOSO_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")

from reports import RESULTS, report  # noqa: E402  (bench/reports.py: the figures and their targets)
from run import _pg  # noqa: E402  (bench/run.py: one SQL statement on its own connection)


@contextlib.contextmanager
def serve(url: str, port: int, workers: int = 1) -> Iterator[subprocess.Popen]:
    """`hoso serve` on 127.0.0.1:``port`` over ``url`` with ``workers`` processes until the block ends (then
    SIGINT, then kill)."""
    from serving import serve as start
    from serving import serve_env, stop, wait_for

    files = tempfile.TemporaryDirectory(prefix="hoso-bench-files-")
    server = start(serve_env(url, HOSO_FILES_DIR=files.name), port, workers=workers)
    try:
        wait_for(f"http://127.0.0.1:{port}/api/health", server, status=200, seconds=120)
        yield server
    finally:
        stop(server)
        files.cleanup()


async def prepare_token(url: str) -> tuple[str, dict[str, int]]:
    """A new superuser with an API token on a migrated database; the token and the centres' unit ids."""
    from hoso.config import load_config
    from hoso.runtime import Runtime
    from hoso.scope import Actor
    from hoso.users import create_user
    from hoso.web.tokens import create_token

    rt = Runtime.create(load_config(REPO), url)
    await rt.db.start()
    try:
        uid = await create_user(rt, f"bench.admin.{uuid.uuid4().hex[:8]}", secrets.token_urlsafe(18),
                                superuser=True, actor="bench")
        _, token = await create_token(rt, Actor(None, "root", superuser=True, origin="bench"), uid, "bench")
        units = {r["code"]: r["id"] for r in await rt.db.fetch("SELECT id, code FROM hoso_unit")
                 if r["code"].startswith("TT-")}
        return token, units
    finally:
        await rt.db.close()


async def load_accounts(rt, n: int, password: str) -> list[dict]:
    """``n`` accounts with a password: 1 in 40 national statisticians, 1 in 10 provincial officers (round the
    provinces), the others centre staff (round the centres)."""
    from hoso.users import create_user

    tag = uuid.uuid4().hex[:6]
    units = {r["code"]: r["id"] for r in await rt.db.fetch("SELECT id, code FROM hoso_unit")}
    centres = sorted(c for c in units if c.startswith("TT-"))
    provinces = sorted(c for c in units if c.startswith("STP-"))
    national = next(r["code"] for r in await rt.db.fetch("SELECT code FROM hoso_unit WHERE parent_id IS NULL"))
    # One password hash for every account (hashing is slow by design): the accounts still log in for real.
    first = await create_user(rt, f"load.{tag}.0", password, actor="bench")
    pw_hash = await rt.db.fetchval("SELECT password FROM hoso_user WHERE id = {}", first)
    accounts = []
    now = dt.datetime.now(dt.UTC)
    async with rt.db.transaction():
        for i in range(n):
            if i % 40 == 39:
                role, code = "national_statistician", national
            elif i % 10 == 8:
                role, code = "provincial_officer", provinces[(i * 3) % len(provinces)]
            else:
                role, code = "centre_staff", centres[(i * 7) % len(centres)]
            name = f"load.{tag}.{i}"
            if i == 0:
                uid = first
                await rt.db.execute("UPDATE hoso_user SET unit_id = {} WHERE id = {}", units[code], uid)
            else:
                uid = await rt.db.fetchval(
                    "INSERT INTO hoso_user (username, password, email, first_name, last_name, active, admin, "
                    "superuser, display_name, unit_id, locked, must_change_password) VALUES ({}, {}, {}, '', '', "
                    "TRUE, FALSE, FALSE, {}, {}, FALSE, FALSE) RETURNING id",
                    name, pw_hash, f"{name}@localhost", name, units[code])
            await rt.db.execute("INSERT INTO hoso_assignment (user_id, role, unit_id, starts_on, created_at) "
                                "VALUES ({}, {}, {}, {}, {})", uid, role, units[code], dt.date(2020, 1, 1), now)
            accounts.append({"username": name, "role": role, "unit": code, "unit_id": units[code]})
    return accounts


async def log_in(base: str, accounts: list[dict], password: str) -> list[float]:
    """Log every account in through /api/login; keep its session cookie; return the login times."""
    import httpx

    times: list[float] = []
    sem = asyncio.Semaphore(4)
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        async def one(acc: dict) -> None:
            async with sem:
                t0 = time.perf_counter()
                r = await client.post("/api/login", json={"username": acc["username"], "password": password})
                times.append(time.perf_counter() - t0)
                if r.status_code != 200:
                    raise RuntimeError(f"login of {acc['username']} refused: {r.status_code} {r.text[:200]}")
                acc["cookie"] = r.cookies["hoso_session"]

        await asyncio.gather(*(one(a) for a in accounts))
    return times


def read_stats(prefix: str) -> list[dict]:
    with open(prefix + "_stats.csv", encoding="utf-8") as f:
        return list(csv.DictReader(f))


async def check_writes(url: str, acks_path: Path) -> tuple[int, int, int]:
    """(acknowledged writes, cases written, lost): each case is written by one user only, in order, so its row
    must hold the last acknowledged summary, at least the last acknowledged version, and not be deleted."""
    import asyncpg

    last: dict[int, dict] = {}
    writes = 0
    if acks_path.exists():
        for line in acks_path.read_text(encoding="utf-8").splitlines():
            ack = json.loads(line)
            writes += 1
            prev = last.get(ack["id"])
            if prev is None or ack["version"] >= prev["version"]:
                last[ack["id"]] = ack
    conn = await asyncpg.connect(url)
    try:
        rows = {r["id"]: r for r in await conn.fetch(
            'SELECT id, summary, sys_version, sys_deleted_at FROM "case" WHERE id = ANY($1::int[])', list(last))}
    finally:
        await conn.close()
    lost = 0
    for case_id, ack in last.items():
        row = rows.get(case_id)
        if row is None or row["sys_deleted_at"] is not None or row["sys_version"] < ack["version"] \
                or row["summary"] != ack["summary"]:
            lost += 1
            if lost <= 5:
                print(f"  lost: case {case_id} acknowledged {ack}, database {dict(row) if row else None}", flush=True)
    return writes, len(last), lost


async def main(args) -> None:
    import httpx

    from reports import prepare

    own = args.postgres is None
    url = args.postgres or urlunparse(urlparse(PG_URL)._replace(path=f"/hoso_bench_{uuid.uuid4().hex[:10]}"))
    if own:
        await _pg(PG_URL, f'CREATE DATABASE "{urlparse(url).path[1:]}"')
    work = tempfile.TemporaryDirectory(prefix="hoso-loadtest-")
    try:
        today = dt.date.today()
        rt, load = await prepare(url, args.cases, today)
        if load:
            report(f"load {args.cases:,} cases", load, "s")
        password = secrets.token_urlsafe(18)
        accounts = await load_accounts(rt, args.users, password)
        await rt.db.close()
        base = f"http://127.0.0.1:{args.port}"
        with serve(url, args.port, args.workers) as server:
            logins = await log_in(base, accounts, password)
            report("login through /api/login p50", statistics.median(logins) * 1000, "ms", None,
                   f"{len(logins)} accounts, 4 at a time, before the run")
            reports_api = httpx.get(base + "/api/reports",
                                    cookies={"hoso_session": accounts[0]["cookie"]}).status_code == 200
            said = ("present: report runs and exports use it" if reports_api else
                    "absent: report runs fall back to a counted, filtered case list, exports to pages of 1,000")
            print(f"reports API {said}", flush=True)
            if not reports_api:  # statisticians may only run reports: without the API they have nothing to do
                accounts = [a for a in accounts if a["role"] != "national_statistician"]
            users_file = Path(work.name) / "users.json"
            acks = Path(work.name) / "acks.jsonl"
            users_file.write_text(json.dumps({"accounts": accounts, "reports_api": reports_api,
                                              "report": args.report, "year": today.year, "today": today.isoformat(),
                                              "acks": str(acks)}), encoding="utf-8")
            prefix = str(Path(work.name) / "locust")
            cmd = [sys.executable, "-m", "locust", "-f", str(REPO / "bench/locustfile.py"), "--headless",
                   "-u", str(args.users), "-r", str(args.spawn_rate), "-t", f"{int(args.minutes * 60)}s",
                   "--host", base, "--csv", prefix, "--only-summary", "--stop-timeout", "30", "--loglevel", "WARNING"]
            print("$ " + " ".join(cmd[1:]), flush=True)
            env = {**os.environ, "HOSO_LOAD_USERS": str(users_file)}
            t0 = time.perf_counter()
            done = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True)
            elapsed = time.perf_counter() - t0
            if server.poll() is not None:
                print("hoso serve stopped during the run", flush=True)
            said = [line for line in done.stderr.splitlines() if line.startswith("refused: ")]
            if said:
                print("locust said:\n  " + "\n  ".join(said[-20:]), flush=True)
            if done.returncode not in (0, 1):  # 1: some requests failed, counted below
                print(done.stdout[-3000:], done.stderr[-3000:], flush=True)
                raise SystemExit(f"locust exited with {done.returncode}")
        stats = read_stats(prefix)
        print(f"{'request':<34} {'count':>7} {'fail':>5} {'p50':>6} {'p95':>6} {'p99':>6} {'max':>7}  (ms)")
        for row in stats:
            print(f"{row['Name'][:34]:<34} {row['Request Count']:>7} {row['Failure Count']:>5} {row['50%']:>6} "
                  f"{row['95%']:>6} {row['99%']:>6} {float(row['Max Response Time']):>7.0f}", flush=True)
        agg = next(r for r in stats if r["Name"] == "Aggregated")
        detail = f"{args.users} users, {args.minutes:g} min, {args.cases:,} cases, {args.workers} server process(es)"
        report("load: requests p50", float(agg["50%"]), "ms", None, detail)
        report("load: requests p95", float(agg["95%"]), "ms", 500, detail)
        report("load: throughput", float(agg["Requests/s"]), "/s", None, f"{agg['Request Count']} requests in "
               f"{elapsed:.0f} s")
        report("load: errors", float(agg["Failure Count"]), "", 0)
        if Path(prefix + "_failures.csv").exists():
            for row in list(csv.DictReader(open(prefix + "_failures.csv", encoding="utf-8")))[:10]:
                print(f"  failure: {row}", flush=True)
        writes, cases, lost = await check_writes(url, acks)
        report("load: lost writes", float(lost), "", 0, f"{writes} acknowledged writes on {cases} cases checked")
    finally:
        work.cleanup()
        if own:
            await _pg(PG_URL, f'DROP DATABASE IF EXISTS "{urlparse(url).path[1:]}" WITH (FORCE)')


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--spawn-rate", type=float, default=20.0)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--postgres", help="a PostgreSQL database URL to load once and reuse")
    parser.add_argument("--port", type=int, default=18080)
    parser.add_argument("--workers", type=int, default=2, help="server processes (hoso serve --workers)")
    parser.add_argument("--report", default="people_assisted")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()
    if not 18080 <= args.port <= 18089:
        parser.error("--port: 18080 to 18089")
    asyncio.run(main(args))
    if args.json:
        args.json.write_text(json.dumps(RESULTS, indent=2))
    if any(r["target"] is not None and not (r["value"] >= r["target"] if r["higher"] else r["value"] <= r["target"])
           for r in RESULTS):
        sys.exit(1)
