"""Search as people type, measured through HTTP against `hoso serve` on the database `bench/lists.py load` filled
(the reference configuration with the case list's trigram search index; `hoso migrate` adds hoso_fold and the
fold indexes).

  python bench/search.py [--url URL] [--port P] [--reps R]

For the centre user and the national user of bench/lists.py, p50 and p95 over R requests of:
- the global search `GET /api/search?q=...` (every entity the user may read, 5 hits each), for a common name,
  a rare one and a text with no hit (target p95 <= 200 ms);
- the admin's text filter on the requester's name (`/admin/api/tables/case/?requester_name=...` and its count),
  the JSON requests piccolo-admin sends when a filter applies (target p95 <= 400 ms for the page in Chromium);
- the folding per row, side by side in one connection: `hoso_fold(requester_name)` against the `translate`
  expression it replaced, over the same rows.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lists import DEFAULT_URL, PASSWORD, Server, _tokens, pct  # noqa: E402  (bench/lists.py, beside this script)

QUERIES = {"common name": "nguyen van", "rare name": "tuyet ngoc", "no hit": "zzqx"}
USERS = ("bench.centre", "bench.national")


def line(user: str, name: str, values: list[float], target: float | None = None) -> None:
    p50, p95 = statistics.median(values), pct(values, 0.95)
    verdict = "" if target is None else f"  (target p95 <= {target:.0f} ms) {'PASS' if p95 <= target else 'FAIL'}"
    print(f"{user:<15} {name:<28} p50 {p50:7.1f}  p95 {p95:7.1f} ms{verdict}", flush=True)


async def timed(call, reps: int) -> list[float]:
    await call()
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        r = await call()
        out.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200, r.text[:300]
    return out


async def measure(url: str, port: int, reps: int) -> None:
    import httpx

    tokens = await _tokens(url)
    with Server(url, port) as base:
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            for user in USERS:
                headers = {"Authorization": f"Bearer {tokens[user]}"}
                for name, q in QUERIES.items():
                    values = await timed(lambda q=q, h=headers: client.get("/api/search", params={"q": q},
                                                                         headers=h), reps)
                    line(user, f"search: {name}", values, 200)
            for user in USERS:
                async with httpx.AsyncClient(base_url=base, timeout=60) as admin:
                    await admin.get("/admin/")
                    csrf = admin.cookies.get("csrftoken")
                    r = await admin.post("/admin/public/login/", json={"username": user, "password": PASSWORD},
                                         headers={"X-CSRFToken": csrf})
                    assert r.status_code == 200, r.text
                    for name, q in QUERIES.items():
                        params = {"requester_name": q, "__page": 1, "__page_size": 15, "__order": "-id"}
                        values = await timed(lambda p=params: admin.get("/admin/api/tables/case/", params=p), reps)
                        line(user, f"admin filter: {name}", values)
                        # a new count per filter text (the admin keeps a count per filter for 60 s): the same
                        # text with more trailing spaces each time, which the folding drops
                        spaces = iter(range(1, 10 ** 6))
                        values = await timed(lambda q=q, s=spaces: admin.get("/admin/api/tables/case/count/", params={
                            "requester_name": q + " " * next(s)}), reps)
                        line(user, f"admin count: {name}", values)
    await fold_cost(url, reps)


async def fold_cost(url: str, reps: int) -> None:
    import asyncpg

    from hoso.records.search import FOLDED_LETTERS

    src = "".join(FOLDED_LETTERS).replace("'", "''")
    dst = "".join(FOLDED_LETTERS.values())
    old = f"btrim(regexp_replace(lower(translate(requester_name, '{src}', '{dst}')), '\\s+', ' ', 'g'))"
    conn = await asyncpg.connect(url)
    try:
        n = 20000
        for name, expr in (("fold per row: hoso_fold", "hoso_fold(requester_name)"), ("fold per row: translate",
                                                                                      old)):
            sql = f"SELECT count(*) FROM (SELECT {expr} AS f FROM \"case\" LIMIT {n}) s WHERE f LIKE 'zzqx%'"
            await conn.fetchval(sql)
            values = []
            for _ in range(max(3, reps // 5)):
                t0 = time.perf_counter()
                await conn.fetchval(sql)
                values.append((time.perf_counter() - t0) * 1e6 / n)
            print(f"{'sql':<15} {name:<28} p50 {statistics.median(values):7.2f} us/row", flush=True)
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--port", type=int, default=18071)
    parser.add_argument("--reps", type=int, default=30)
    args = parser.parse_args()
    asyncio.run(measure(args.url, args.port, args.reps))


if __name__ == "__main__":
    main()
