"""Lists at national scale, measured the way users meet them: through HTTP against `hoso serve`, on cases loaded
by bench/run.py's loader (stored as the record service stores them), next to the hand-written SQL of the same
query in the same run. The configuration is the reference one (copied to var/bench-lists/), the case list's
`list:` (sortable columns) and `search:` (trigram index) declared when the reference does not declare them.

  python bench/lists.py load  [--url URL] [--cases N]     migrate, load N cases (default 1,000,000), add the users
  python bench/lists.py run   [--url URL] [--port P] [--reps R] [--json FILE]
  python bench/lists.py admin [--url URL] [--port P]      the admin's case list in Chromium (Playwright)
  python bench/lists.py home  [--url URL] [--port P]      each user's home page in the admin, through HTTP
  python bench/lists.py login [--url URL] [--port P]      from the login to the case list's first row (Chromium)

URL is a PostgreSQL URL (default HOSO_BENCH_LISTS_URL, else postgresql://postgres@127.0.0.1:5432/hoso_listadmin)
or sqlite:///path. `load` leaves the database in place so that `run` and `admin` can be repeated on it.

Users: ``bench.centre`` (centre staff of TT-01: the centre and its branches), ``bench.national`` (national
administrator) and ``bench.empty`` (centre staff of a branch that holds no case). For each, p50 and p95 over R
requests of: the first page, a later page (by the API's cursor when it offers one, else by page number), the list
sorted by a date field, a filter on a choice, a search for a name, the count (the API's ``total``) and, for
``bench.empty``, the first page of its empty scope. Targets are issue 14's (p95, ms) and "within 2x of the
hand-written SQL".
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
DEFAULT_URL = os.environ.get("HOSO_BENCH_LISTS_URL", "postgresql://postgres@127.0.0.1:5432/hoso_listadmin")
PAGE = 50
DEFAULT_ORDER = "t.received_on DESC, t.id DESC"  # the case list's default sort (list.sort: -received_on)
CENTRE = "TT-01"
EMPTY_UNIT = "CN2-40"  # a branch left without cases: its staff's scope is empty
USERS = {"bench.centre": ("centre_staff", CENTRE), "bench.national": ("national_admin", "CUC"),
         "bench.empty": ("centre_staff", EMPTY_UNIT)}
PASSWORD = "bench-password-42"
# issue 14 "What must hold" (p95, ms)
TARGETS = {"first page": 30, "later page": 30, "date sort": 40, "choice filter": 40, "name search": 60,
           "count": 30, "empty scope": 10}
RESULTS: list[dict] = []
# The reference configuration, with the case list's sortable columns and search index declared when it does not
# declare them (the list indexes and the trigram index `hoso migrate` builds from them).
CONFIG = REPO / "var" / "bench-lists"
LISTING = "list:\n  sortable: [received_on, code, status]\nsearch: {index: trigram}\n"


def bench_config() -> Path:
    import shutil

    for part in ("forms_config", "roles_config"):
        if (CONFIG / part).exists():
            shutil.rmtree(CONFIG / part)
        shutil.copytree(REPO / part, CONFIG / part)
    case = CONFIG / "forms_config" / "entities" / "case.yaml"
    text = case.read_text(encoding="utf-8")
    if "\nsearch:" not in text and "\nlist:" not in text:
        case.write_text(text + LISTING, encoding="utf-8")
    return CONFIG

from run import load_cases  # noqa: E402  (bench/run.py, beside this script)


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(p * len(s) + 0.5)) - 1))]


async def _runtime(url: str):
    from hoso.config import load_config
    from tests.helpers import migrated_runtime

    return await migrated_runtime(load_config(bench_config()), url)


async def load(url: str, cases: int) -> None:
    from hoso.accounts import create_account
    from hoso.scope import SYSTEM_ACTOR

    rt = await _runtime(url)
    try:
        have = int(await rt.db.fetchval('SELECT COUNT(*) AS n FROM "case"') or 0)
        today = dt.date.today()
        units = [int(r["id"]) for r in await rt.db.fetch(
            "SELECT id FROM hoso_unit WHERE type IN ('legal_aid_centre', 'centre_branch') AND code <> {} "
            "AND (valid_to IS NULL OR valid_to > {}) ORDER BY id", EMPTY_UNIT, today)]
        if have < cases:
            seconds = await load_cases(rt, cases - have, units, start=have)
            print(f"loaded {cases - have:,} cases over {len(units)} units in {seconds:.0f} s", flush=True)
        if not rt.db.is_sqlite:
            # what autovacuum does to a table that stopped growing: the visibility map that lets a count be read
            # from an index alone (the loader only analyses)
            import asyncpg

            conn = await asyncpg.connect(url)
            try:
                await conn.execute('VACUUM ANALYZE "case"')
            finally:
                await conn.close()
        for username, (role, unit) in USERS.items():
            if await rt.db.fetchval("SELECT id FROM hoso_user WHERE username = {}", username) is None:
                await create_account(rt, SYSTEM_ACTOR, username, PASSWORD, unit, roles=(role,),
                                     display_name=username)
    finally:
        await rt.db.close()


async def _tokens(url: str) -> dict[str, str]:
    from hoso.runtime import Runtime
    from hoso.scope import SYSTEM_ACTOR
    from hoso.web.tokens import create_token

    rt = Runtime.create(bench_config(), url)
    await rt.db.start()
    try:
        out = {}
        for username in USERS:
            uid = int(await rt.db.fetchval("SELECT id FROM hoso_user WHERE username = {}", username))
            _, out[username] = await create_token(rt, SYSTEM_ACTOR, uid, f"bench {time.time():.0f}")
        return out
    finally:
        await rt.db.close()


class Server:
    """`hoso serve` on 127.0.0.1:``port`` over ``url``, as a subprocess."""

    def __init__(self, url: str, port: int):
        self.url, self.port = url, port
        self.proc: subprocess.Popen | None = None
        self.files = tempfile.TemporaryDirectory(prefix="hoso-bench-lists-")

    def __enter__(self) -> str:
        from serving import serve, serve_env, wait_for

        env = serve_env(self.url, HOSO_CONFIG=str(bench_config()), HOSO_FILES_DIR=self.files.name)
        self.proc = serve(env, self.port)
        base = f"http://127.0.0.1:{self.port}"
        wait_for(base + "/api/health", self.proc, 200, seconds=60)
        return base

    def __exit__(self, *exc) -> None:
        from serving import stop

        if self.proc is not None:
            stop(self.proc)
        self.files.cleanup()


def report(user: str, name: str, http: list[float], sql: list[float] | None, note: str = "") -> None:
    p50, p95 = statistics.median(http), pct(http, 0.95)
    target = TARGETS.get(name)
    line = f"{user:<15} {name:<14} http p50 {p50:7.1f} p95 {p95:7.1f} ms"
    entry: dict = {"user": user, "query": name, "http_p50": p50, "http_p95": p95, "target_p95": target,
                   "note": note}
    if sql:
        s50, s95 = statistics.median(sql), pct(sql, 0.95)
        ratio = p50 / s50 if s50 else float("inf")
        line += f" | sql p50 {s50:7.2f} p95 {s95:7.2f} ms | ratio {ratio:5.1f}x"
        entry.update(sql_p50=s50, sql_p95=s95, ratio=ratio)
    if target is not None:
        ok = p95 <= target and (not sql or entry["ratio"] <= 2)
        line += f"  (target p95 <= {target} ms, <= 2x) {'PASS' if ok else 'FAIL'}"
        entry["pass"] = ok
    if note:
        line += f"  [{note}]"
    print(line, flush=True)
    RESULTS.append(entry)


class HandSQL:
    """The hand-written SQL of each measured query, on a connection of its own (asyncpg or sqlite3)."""

    def __init__(self, url: str):
        self.url = url
        self.pg = url.startswith("postgres")
        self.conn = None

    async def open(self) -> None:
        if self.pg:
            import asyncpg

            self.conn = await asyncpg.connect(self.url)
        else:
            import sqlite3

            self.conn = sqlite3.connect(self.url[len("sqlite:///"):])

    async def close(self) -> None:
        if self.pg:
            await self.conn.close()
        else:
            self.conn.close()

    async def run(self, sql: str, *args) -> list:
        if self.pg:
            n = 0
            for i in range(len(args)):
                sql = sql.replace("?", f"${i + 1}", 1)
                n += 1
            return await self.conn.fetch(sql, *args)
        return self.conn.execute(sql, args).fetchall()

    async def timed(self, reps: int, sql: str, *args) -> list[float]:
        await self.run(sql, *args)
        out = []
        for _ in range(reps):
            t0 = time.perf_counter()
            await self.run(sql, *args)
            out.append((time.perf_counter() - t0) * 1000)
        return out


def _keyset(hand: HandSQL, received_on: str, record_id: int) -> tuple:
    day = received_on if not hand.pg else dt.date.fromisoformat(received_on)
    return day, record_id


async def _units_of(hand: HandSQL, code: str) -> list[int]:
    rows = await hand.run("SELECT id, parent_id FROM hoso_unit")
    children: dict = {}
    for r in rows:
        children.setdefault(r[1], []).append(r[0])
    [root] = [r[0] for r in await hand.run("SELECT id FROM hoso_unit WHERE code = ?", code)]
    out, todo = [], [root]
    while todo:
        u = todo.pop()
        out.append(u)
        todo += children.get(u, [])
    return sorted(out)


async def measure(url: str, port: int, reps: int) -> None:
    import httpx

    tokens = await _tokens(url)
    hand = HandSQL(url)
    await hand.open()
    cols = "*"
    try:
        with Server(url, port) as base:
            async with httpx.AsyncClient(base_url=base, timeout=120) as client:
                for user in ("bench.centre", "bench.national", "bench.empty"):
                    headers = {"Authorization": f"Bearer {tokens[user]}"}
                    units = None if user == "bench.national" else await _units_of(hand, USERS[user][1])
                    # the effective unit, as the list indexes (and the scope predicate) read it
                    scope = "" if units is None else \
                        f"AND COALESCE(t.sys_scope_unit, t.unit) IN ({', '.join(str(u) for u in units)}) "
                    base_where = f"t.sys_deleted_at IS NULL {scope}"

                    async def http(params: dict, headers=headers) -> tuple[list[float], dict]:
                        r = await client.get("/api/records/case", params=params, headers=headers)
                        assert r.status_code == 200, r.text[:500]
                        times = []
                        for _ in range(reps):
                            t0 = time.perf_counter()
                            r = await client.get("/api/records/case", params=params, headers=headers)
                            times.append((time.perf_counter() - t0) * 1000)
                        return times, r.json()

                    if user == "bench.empty":
                        h, body = await http({"page_size": PAGE})
                        s = await hand.timed(reps, f'SELECT {cols} FROM "case" t WHERE {base_where}'
                                             f"ORDER BY {DEFAULT_ORDER} LIMIT 50")
                        report(user, "empty scope", h, s, f"{len(body['items'])} rows")
                        continue
                    h, body = await http({"page_size": PAGE})
                    s = await hand.timed(reps, f'SELECT {cols} FROM "case" t WHERE {base_where}'
                                         f"ORDER BY {DEFAULT_ORDER} LIMIT 50")
                    report(user, "first page", h, s, f"total {body.get('total')} (exact: {body.get('total_exact')})")
                    cursor_key = next((k for k in ("next_cursor", "cursor", "next") if body.get(k)), None)
                    # a later page: 20 pages on
                    params: dict = {"page_size": PAGE}
                    if cursor_key:
                        for _ in range(20):
                            params = {"page_size": PAGE, "cursor": body[cursor_key]}
                            r = await client.get("/api/records/case", params=params, headers=headers)
                            body = r.json()
                        note = "by cursor, page 21"
                    else:
                        params = {"page_size": PAGE, "page": 21}
                        note = "by page number 21 (the API offers no cursor)"
                    before = body["items"][-1]  # the last row of page 20: the keyset of the hand-written page 21
                    h, body = await http(params)
                    s = await hand.timed(reps, f'SELECT {cols} FROM "case" t WHERE {base_where}'
                                         f"AND (t.received_on, t.id) < (?, ?) "
                                         f"ORDER BY {DEFAULT_ORDER} LIMIT 50",
                                         *_keyset(hand, before["received_on"], before["id"]))
                    report(user, "later page", h, s, note + "; sql by keyset")
                    h, _ = await http({"page_size": PAGE, "sort": "-accepted_on"})
                    s = await hand.timed(reps, f'SELECT {cols} FROM "case" t WHERE {base_where}'
                                         "ORDER BY t.accepted_on DESC, t.id DESC LIMIT 50")
                    report(user, "date sort", h, s, "sort=-accepted_on")
                    h, body = await http({"page_size": PAGE, "status": "accepted"})
                    s = await hand.timed(reps, f'SELECT {cols} FROM "case" t WHERE {base_where}'
                                         f"AND t.status = ? ORDER BY {DEFAULT_ORDER} LIMIT 50", "accepted")
                    report(user, "choice filter", h, s, f"status=accepted, total {body.get('total')}")
                    h, body = await http({"page_size": PAGE, "q": "Nguyễn Văn Khánh"})
                    s = await hand.timed(reps, f'SELECT {cols} FROM "case" t WHERE {base_where}'
                                         "AND t.sys_search LIKE ? AND t.sys_search LIKE ? AND t.sys_search LIKE ? "
                                         f"ORDER BY {DEFAULT_ORDER} LIMIT 50", "%nguyen%", "%van%", "%khanh%")
                    report(user, "name search", h, s, f"q=Nguyễn Văn Khánh, total {body.get('total')}")
                    h, body = await http({"page_size": 1})
                    s = await hand.timed(reps, f'SELECT COUNT(*) FROM (SELECT 1 FROM "case" t WHERE {base_where}'
                                         "LIMIT 10001) x")
                    report(user, "count", h, s, f"the API's total with a page of 1: {body.get('total')}; sql: "
                                                "bounded at 10,001")
    finally:
        await hand.close()


def measure_home(url: str, port: int, reps: int) -> None:
    """Each user's home page in the admin (`GET /admin/hoso/home/`: their records, the deadlines, the counts by
    state), after a login through /api/login. No target in the issue; it is what a user waits for after signing in."""
    import httpx

    with Server(url, port) as base:
        for user in USERS:
            with httpx.Client(base_url=base, timeout=120) as client:
                r = client.post("/api/login", json={"username": user, "password": PASSWORD})
                assert r.status_code == 200, r.text[:300]
                assert client.get("/admin/hoso/home/").status_code == 200
                times = []
                for _ in range(reps):
                    t0 = time.perf_counter()
                    r = client.get("/admin/hoso/home/")
                    times.append((time.perf_counter() - t0) * 1000)
                    assert r.status_code == 200
                times.sort()
                print(f"{user:<15} home page      http p50 {statistics.median(times):7.1f} "
                      f"p95 {times[max(0, round(len(times) * 0.95) - 1)]:7.1f} ms", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["load", "run", "admin", "home", "login"])
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--port", type=int, default=18070)
    parser.add_argument("--reps", type=int, default=40)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.command == "load":
        asyncio.run(load(args.url, args.cases))
    elif args.command == "run":
        asyncio.run(measure(args.url, args.port, args.reps))
    elif args.command == "home":
        measure_home(args.url, args.port, min(args.reps, 10))
    elif args.command == "login":
        from admin_browser import measure_login  # bench/admin_browser.py

        measure_login(args.url, args.port, RESULTS, reps=min(args.reps, 10))
    else:
        from admin_browser import measure_admin  # bench/admin_browser.py

        measure_admin(args.url, args.port, RESULTS, reps=min(args.reps, 20))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(RESULTS, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
