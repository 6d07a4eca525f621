"""Measurement: list reads through the record service on PostgreSQL, side by side in one run: the first page
with the bounded count and with the exact count, a deep page by cursor and by page number, and a search, for a
centre staff member and a national user.

Run with `python bench/list_pages.py [--cases N] [--runs R]`. Uses HOSO_BENCH_POSTGRES_URL (default
postgresql://postgres@127.0.0.1:5432/test) and works in a database of its own, dropped afterwards. The cases
are the reference configuration's, generated in SQL with their folded search text as the record service writes
it (names of Vietnamese people: the search finds some), spread over every unit; the migration's list and search
indexes are built before the rows are loaded and analysed after. Prints the median of R runs per request (ms)
and the ratios that matter: deep page by page number / by cursor, exact count / bounded count, and the search
without / with its trigram index (dropped at the end of the run).
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
PG_URL = os.environ.get("HOSO_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
STAFF_UNIT = "TT-01"

from run import _pg  # noqa: E402  (bench/run.py, beside this script: one SQL statement on its own connection)

FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô"]
MIDDLE = ["Văn", "Thị", "Hữu", "Đức", "Minh", "Thanh", "Ngọc", "Quang"]
GIVEN = ["An", "Bình", "Cường", "Dung", "Hà", "Hải", "Hạnh", "Hùng", "Lan", "Linh", "Long", "Mai", "Nam", "Phúc",
         "Quân", "Sơn", "Tâm", "Thảo", "Trang", "Tuấn", "Vy", "Yến"]


def _array(words: list[str]) -> str:
    return "ARRAY[" + ", ".join(f"'{w}'" for w in words) + "]"


async def _seed(rt, cases: int) -> None:
    """Cases in SQL, with the search text the record service would write (code and requester, folded)."""
    from hoso.records.search import fold_sql

    name = (f"(f.a[1 + g % {len(FAMILY)}]) || ' ' || (m.a[1 + (g / 7) % {len(MIDDLE)}]) || ' ' || "
            f"(n.a[1 + (g / 13) % {len(GIVEN)}])")
    await rt.db.execute(
        'INSERT INTO "case" (code, received_on, request_channel, requester_name, beneficiary_groups, field_of_law, '
        "form_of_aid, status, unit, sys_version, sys_created_at, sys_search) "
        "SELECT s.code, s.received_on, 'in_person', s.name, '[\"TE\"]', 'DS', 'TV', "
        "(ARRAY['received', 'accepted', 'ended'])[1 + s.g % 3], s.unit, 1, now(), "
        f"{fold_sql('s.code', False)} || ' ' || {fold_sql('s.name', False)} FROM ("
        "SELECT g, 'B' || g AS code, DATE '2024-01-01' + (g * 7919) % 700 AS received_on, "
        f"{name} AS name, u.ids[1 + g % array_length(u.ids, 1)] AS unit FROM generate_series(1, {{}}) g, "
        "(SELECT array_agg(id ORDER BY id) AS ids FROM hoso_unit) u, "
        f"(SELECT {_array(FAMILY)} AS a) f, (SELECT {_array(MIDDLE)} AS a) m, (SELECT {_array(GIVEN)} AS a) n) s",
        cases)
    await rt.db.execute("ANALYZE")


async def _users(rt) -> dict[str, int]:
    out = {}
    unit = await rt.db.fetchval("SELECT id FROM hoso_unit WHERE code = {}", STAFF_UNIT)
    for username, role in (("bench.staff", "centre_staff"), ("bench.national", "national_admin")):
        await rt.db.execute(
            "INSERT INTO hoso_user (username, password, email, first_name, last_name, active, admin, superuser, "
            "display_name, unit_id, locked, must_change_password) VALUES ({}, 'x', {}, '', '', TRUE, FALSE, FALSE, "
            "'bench', {}, FALSE, FALSE)", username, f"{username}@localhost", unit)
        user = int(await rt.db.fetchval("SELECT id FROM hoso_user WHERE username = {}", username))
        await rt.db.execute("INSERT INTO hoso_assignment (user_id, role, unit_id, starts_on, created_at) "
                            "VALUES ({}, {}, {}, {}, {})", user, role, unit, dt.date(2020, 1, 1),
                            dt.datetime.now(dt.UTC))
        out[username] = user
    await rt.db.execute("ANALYZE hoso_assignment")
    return out


async def _median(svc, ctx, runs: int, **kw):
    """The median time (ms) of R calls of ``list_page("case", ctx, **kw)``, after one to warm, and the page."""
    await svc.list_page("case", ctx, **kw)
    times = []
    result = None
    for _ in range(runs):
        start = time.perf_counter()
        result = await svc.list_page("case", ctx, **kw)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), result


async def measure(url: str, cases: int, runs: int) -> None:
    from hoso.config import load_config
    from hoso.model.migrate import search_index
    from hoso.records.service import RecordContext
    from tests.helpers import migrated_runtime

    with tempfile.TemporaryDirectory() as tmp:
        for part in ("forms_config", "roles_config"):
            shutil.copytree(REPO / part, Path(tmp) / part)
        rt = await migrated_runtime(load_config(Path(tmp)), url)
    try:
        await _seed(rt, cases)
        users = await _users(rt)
        svc = rt.records()
        searches: dict[str, float] = {}
        q = "nguyen van an"
        print(f"{cases} cases; median of {runs} runs, ms", flush=True)
        for username, user in users.items():
            ctx = RecordContext(rt.config, user_id=user, user_name=username, lang="en")
            visible = (await svc.list_page("case", ctx, page_size=1, count="exact")).total or 0
            size = 50
            deep = max(2, min(visible // size - 1, 1000))
            first_auto, page = await _median(svc, ctx, runs, page_size=size)
            first_exact, _ = await _median(svc, ctx, runs, page_size=size, count="exact")
            first_none, _ = await _median(svc, ctx, runs, page_size=size, count="none")
            # the cursor of the page before the deep one (not timed)
            cursor = (await svc.list_page("case", ctx, page=deep - 1, page_size=size, count="none")).next_cursor
            by_offset, off_page = await _median(svc, ctx, runs, page=deep, page_size=size, count="none")
            by_cursor, cur_page = await _median(svc, ctx, runs, cursor=cursor, page_size=size, count="none")
            assert [r["id"] for r in off_page.items] == [r["id"] for r in cur_page.items], "the same page"
            search, found = await _median(svc, ctx, runs, search=q, page_size=size)
            by_name, _ = await _median(svc, ctx, runs, sort="requester_name", page_size=size)
            searches[username] = search
            print(f"{username} ({visible} visible; count said {page.total}, exact={page.total_exact}):")
            print(f"  first page: count auto {first_auto:7.1f}  exact {first_exact:7.1f}  none {first_none:7.1f}"
                  f"   exact/auto x{first_exact / first_auto:.1f}")
            print(f"  page {deep}: by page number {by_offset:7.1f}  by cursor {by_cursor:7.1f}"
                  f"   offset/cursor x{by_offset / by_cursor:.1f}")
            print(f"  sorted by requester_name: {by_name:7.1f}")
            print(f"  search {q!r} ({found.total} found): {search:7.1f}", flush=True)
        # the same searches without the trigram index, as before it existed (dropped at the end of the run)
        (index,) = search_index(rt.config.entity("case"))
        await rt.db.execute(f'DROP INDEX "{index}"')
        for username, user in users.items():
            ctx = RecordContext(rt.config, user_id=user, user_name=username, lang="en")
            plain, _ = await _median(svc, ctx, runs, search=q, page_size=50)
            print(f"{username}: search without the index {plain:7.1f}   without/with x{plain / searches[username]:.1f}")
    finally:
        await rt.db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    name = f"hoso_bench_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg(PG_URL, f'CREATE DATABASE "{name}"'))
    try:
        asyncio.run(measure(urlunparse(urlparse(PG_URL)._replace(path="/" + name)), args.cases, args.runs))
    finally:
        asyncio.run(_pg(PG_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
