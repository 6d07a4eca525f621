"""The public directory under anonymous readers, through HTTP against `hoso serve --workers N` (issue 12, item 4:
"directory page p95 under 200 concurrent anonymous readers, target <= 100 ms", the directory always current).

Fills a new database (PostgreSQL by default; dropped afterwards) with the reference configuration, the legal-aid
plugin and ``--organisations`` organisations and ``--performers`` performers (some out of service), starts
`hoso serve --workers` on it (no embedded worker), then runs ``--readers`` anonymous readers for ``--seconds``.
Each is a person: asks for a page, reads it for ``--think`` seconds on average (uniformly from half to one and
a half times that; 0: none, a closed loop), then asks for the next one, chosen at random among the first page of
a list, a search without diacritics (by a name's word), a province, a later page, the other language and the
JSON. ``--write-every`` seconds, a member of staff changes an organisation through the record service, so that
every kept answer is retired as it would be in service. Prints the latency percentiles per kind of request and
in all, the throughput, and the load average before and after (the client shares the machine with the server).

    python bench/directory.py                                  # 200 readers, think 2 s, 2 workers, PostgreSQL
    python bench/directory.py --readers 50 --think 0           # the closed loop
    python bench/directory.py --url postgresql://user@host:5432/postgres --write-every 10 [--write-field address]
    python bench/directory.py --sqlite                         # SQLite in a temporary folder
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from serving import REPO, free_port, fresh_database, load_average, percentile, serve, serve_env, stop, wait_for

sys.path.insert(0, str(REPO))

TARGET_P95_MS = 100.0
WORDS = ["Luật", "Đông", "Nam", "Bình", "Minh", "An", "Phúc", "Hòa", "Tâm", "Việt"]
PEOPLE = ["Nguyễn Văn", "Trần Thị", "Lê Minh", "Phạm Quốc", "Hoàng Thu", "Vũ Đức"]
# what a visitor types: words of the names, without diacritics
SEARCHES = ["luat dong", "cong ty", "binh", "minh", "phuc", "hoa", "viet", "nguyen", "tran thi", "pham quoc"]


async def prepare(url: str, organisations: int, performers: int) -> list[str]:
    """Migrate ``url`` with the plugin and fill it; the province codes."""
    from hoso.model.migrate import apply_plan, make_plan
    from hoso.records.context import RecordContext
    from hoso.runtime import Runtime
    from hoso.units import sync_units

    # the legal-aid plugin comes in through its entry point, as with `hoso serve`
    rt = Runtime.create(str(REPO), url)
    await rt.db.start()
    try:
        plan = await make_plan(rt.db, rt.config, rt.registry)
        await apply_plan(rt.db, rt.config, rt.registry, plan, applied_by="bench")
        await sync_units(rt)
        centres = [r["id"] for r in await rt.db.fetch(
            "SELECT id FROM hoso_unit WHERE type = 'legal_aid_centre' AND valid_to IS NULL")]
        provinces = [r["code"] for r in await rt.db.fetch(
            "SELECT code FROM hoso_unit WHERE type = 'provincial_department' AND valid_to IS NULL")]
        rng = random.Random(7)
        kinds = rt.config.choice_list("organisation_kind").values()
        pkinds = rt.config.choice_list("performer_kind").values()
        ctx = RecordContext.system(rt.config, "bench")
        svc = rt.records()
        orgs = [{"name": f"Công ty Luật {rng.choice(WORDS)} {rng.choice(WORDS)} {i}", "kind": rng.choice(kinds),
                 "unit": rng.choice(centres), "address": f"{i} Phố {rng.choice(WORDS)}",
                 "phone": f"024{i:07d}", "active": rng.random() > 0.1,
                 "contract_until": None if rng.random() > 0.1 else "2020-01-01"} for i in range(organisations)]
        made = await svc.create_many("organisation", orgs, ctx)
        ids = [r["id"] for r in made]
        people = [{"name": f"{rng.choice(PEOPLE)} {rng.choice(WORDS)}", "kind": rng.choice(pkinds),
                   "unit": rng.choice(centres), "organisation": rng.choice(ids) if rng.random() < 0.5 else None,
                   "active": rng.random() > 0.1} for _ in range(performers)]
        await svc.create_many("performer", people, ctx)
        if not rt.db.is_sqlite:  # the planner's statistics, as autovacuum would have them in service
            await rt.db.execute("ANALYZE")
        return provinces
    finally:
        await rt.db.close()


def next_request(rng: random.Random, provinces: list[str]) -> tuple[str, str, dict]:
    """What a visitor asks for next: (kind, path, parameters)."""
    lists = ("organisation", "performer")
    kind = rng.choice(("page", "search", "search", "province", "page n", "english", "json"))
    if kind == "page":
        return kind, "/directory", {"list": rng.choice(lists)}
    if kind == "search":
        return kind, "/directory", {"list": rng.choice(lists), "q": rng.choice(SEARCHES)}
    if kind == "province":
        return kind, "/directory", {"list": rng.choice(lists), "province": rng.choice(provinces)}
    if kind == "page n":
        return kind, "/directory", {"list": rng.choice(lists), "page": str(rng.randint(2, 5))}
    if kind == "english":
        return kind, "/directory", {"list": rng.choice(lists), "lang": "en"}
    return kind, f"/api/directory/{rng.choice(lists)}", {"q": rng.choice(SEARCHES), "page_size": "50"}


async def load(base: str, readers: int, seconds: float, provinces: list[str], think: float = 0.0,
               seed: int = 11) -> tuple[dict[str, list[float]], list[tuple[float, float]], int]:
    """Latencies (ms) by kind of request, (seconds since the start, latency) of each request, and how many
    requests failed (not 200, or no answer in 60 s)."""
    import aiohttp

    times: dict[str, list[float]] = {}
    timeline: list[tuple[float, float]] = []
    errors = 0
    begin = time.monotonic()
    end = begin + seconds
    # aiohttp rather than httpx: the readers share the servers' two cores, and an httpx request cost about five
    # times the CPU of an aiohttp one (3 against 0.6 ms on this machine)
    connector = aiohttp.TCPConnector(limit=readers)
    async with aiohttp.ClientSession(base, connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as client:
        async def reader(n: int) -> None:
            nonlocal errors
            rng = random.Random(seed * 1000 + n)
            if think:  # people arrive over the first pause, not all in the same instant
                await asyncio.sleep(rng.uniform(0, think))
            while time.monotonic() < end:
                name, path, params = next_request(rng, provinces)
                start = time.perf_counter()
                try:
                    async with client.get(path, params=params) as answer:
                        await answer.read()
                        ok = answer.status == 200
                except (aiohttp.ClientError, TimeoutError):  # a timeout under overload: counted, the reader goes on
                    ok = False
                elapsed = (time.perf_counter() - start) * 1000
                times.setdefault(name, []).append(elapsed)
                timeline.append((time.monotonic() - begin, elapsed))
                errors += not ok
                if think:
                    await asyncio.sleep(rng.uniform(think / 2, think * 3 / 2))  # reading the page

        await asyncio.gather(*(reader(n) for n in range(readers)))
    return times, timeline, errors


async def staff(url: str, every: float, seconds: float, field: str = "phone") -> int:
    """Change an organisation's ``field`` (its phone: only the answers showing it change; its address, which the
    directory searches: every answer) every ``every`` seconds through the record service; how many changes."""
    from hoso.records.context import RecordContext
    from hoso.runtime import Runtime

    rt = Runtime.create(str(REPO), url)
    await rt.db.start()
    svc, ctx = rt.records(), RecordContext.system(rt.config, "bench")
    done = 0
    end = time.monotonic() + seconds
    try:
        ids = [r["id"] for r in await rt.db.fetch("SELECT id FROM organisation ORDER BY id LIMIT 100")]
        while time.monotonic() + every < end:
            await asyncio.sleep(every)
            row = await svc.get("organisation", ids[done % len(ids)], ctx)
            value = f"028{done:07d}" if field == "phone" else f"{done} Đường Số {done % 30 + 1}, Phường {done % 12 + 1}"
            await svc.update("organisation", row["id"], {field: value}, row["sys_version"], ctx)
            done += 1
    finally:
        await rt.db.close()
    return done


@asynccontextmanager
async def database(args) -> AsyncIterator[str]:
    if args.sqlite:
        with tempfile.TemporaryDirectory(prefix="hoso-bench-directory-") as folder:
            yield f"sqlite:///{folder}/directory.db"
    else:
        async with fresh_database(args.url, "hoso_bench_dir") as url:
            yield url


async def main(args) -> None:
    async with database(args) as url:
        started = time.perf_counter()
        provinces = await prepare(url, args.organisations, args.performers)
        print(f"filled in {time.perf_counter() - started:.1f} s: {args.organisations} organisations, "
              f"{args.performers} performers ({url.split(':')[0]})")
        port = args.port or free_port()
        server = serve(serve_env(url, HOSO_EMBEDDED_WORKER="0", HOSO_LOG_LEVEL="WARNING"), port, args.workers)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for(base + "/directory", server, 200)
            await load(base, 5, 2.0, provinces, seed=1)  # warm up: connections, the first pages
            before = load_average()
            started = time.perf_counter()
            writes = (staff(url, args.write_every, args.seconds, args.write_field) if args.write_every
                      else asyncio.sleep(0, 0))
            (times, timeline, errors), changed = await asyncio.gather(
                load(base, args.readers, args.seconds, provinces, args.think), writes)
            wall = time.perf_counter() - started
            after = load_average()
        finally:
            stop(server)
    every = [v for values in times.values() for v in values]
    print(f"{args.readers} anonymous readers (think {args.think:g} s on average), {args.workers} workers, "
          f"{args.seconds:g} s: {len(every)} requests, {len(every) / wall:.1f}/s, {errors} not 200 or timed out"
          + (f"; {changed} organisations changed meanwhile" if args.write_every else ""))
    for name, values in [*sorted(times.items()), ("all", every)]:
        print(f"  {name:<9} n={len(values):<6} p50 {percentile(values, 50):7.1f} ms  "
              f"p95 {percentile(values, 95):7.1f} ms  p99 {percentile(values, 99):7.1f} ms  "
              f"mean {statistics.fmean(values) if values else 0:7.1f} ms")
    window = max(10.0, args.seconds / 6)  # the first answers are read from the database, later ones kept
    for start in range(0, int(args.seconds), int(window)):
        part = [ms for at, ms in timeline if start <= at < start + window]
        print(f"  {start:>4}-{start + int(window)} s: n={len(part):<6} p50 {percentile(part, 50):7.1f} ms  "
              f"p95 {percentile(part, 95):7.1f} ms  p99 {percentile(part, 99):7.1f} ms")
    p95 = percentile(every, 95)
    print(f"p95 {p95:.1f} ms (target <= {TARGET_P95_MS:g} ms): {'met' if p95 <= TARGET_P95_MS else 'NOT met'}")
    print(f"load average before {before}, after {after}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--readers", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--think", type=float, default=2.0,
                        help="average seconds a reader reads a page before the next (0: none, a closed loop)")
    parser.add_argument("--workers", type=int, default=2, help="`hoso serve --workers`")
    parser.add_argument("--organisations", type=int, default=3000)
    parser.add_argument("--performers", type=int, default=20000)
    parser.add_argument("--write-field", choices=("phone", "address"), default="phone",
                        help="what the staff change: a phone (shown only) or an address (searched)")
    parser.add_argument("--write-every", type=float, default=0.0,
                        help="seconds between two changes of an organisation by staff (0: none)")
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="the PostgreSQL server (a database is created there and dropped afterwards)")
    parser.add_argument("--sqlite", action="store_true", help="a SQLite file in a temporary folder instead")
    parser.add_argument("--port", type=int, default=None)
    asyncio.run(main(parser.parse_args()))
