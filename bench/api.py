"""API benchmarks over real HTTP, on PostgreSQL. Run on demand: `python bench/api.py [create] [upload]`.

Migrates the reference configuration into a database of its own (HOSO_BENCH_POSTGRES_URL, default
postgresql://postgres@127.0.0.1:5432/test; dropped afterwards), creates a superuser with an API token, starts
`hoso serve` on 127.0.0.1 at a free port as a subprocess, then:

  create   case creations from 16-32 concurrent clients for ~15 s, spread over every centre (TT-xx)
           target >= 300/s; p50 and p95 latency are reported
  upload   one 1 GB file streamed to the case's `scanned_file` (generated chunks, starting with %PDF-): the
           server's peak RSS growth (VmHWM)                                        target < 100 MB
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

from serving import REPO, free_port, fresh_database, percentile, serve, serve_env, stop, wait_for

sys.path.insert(0, str(REPO))
PG_URL = os.environ.get("HOSO_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
RESULTS: list[dict] = []


def report(name: str, value: float, unit: str, target: float | None, detail: str = "", higher: bool = False) -> None:
    ok = "" if target is None else ("PASS" if (value >= target if higher else value < target) else "FAIL")
    cmp = ">=" if higher else "<"
    line = f"{name:<34} {value:10.3f} {unit:<4}" + (f" (target {cmp} {target} {unit}) {ok}" if target is not None
                                                    else "")
    if detail:
        line += f"  {detail}"
    print(line, flush=True)
    RESULTS.append({"name": name, "value": value, "unit": unit, "target": target, "detail": detail})


async def _prepare(url: str) -> tuple[str, dict[str, int]]:
    """Migrate, create a superuser and its token; return the token and the centres' unit ids."""
    from hoso.config import load_config
    from hoso.scope import Actor
    from hoso.users import create_user
    from hoso.web.tokens import create_token
    from tests.helpers import migrated_runtime

    rt = await migrated_runtime(load_config(REPO), url)
    try:
        uid = await create_user(rt, "bench.admin", "bench-password-42", superuser=True, actor="bench")
        _, token = await create_token(rt, Actor(None, "root", superuser=True, origin="bench"), uid, "bench")
        units = {r["code"]: r["id"] for r in await rt.db.fetch("SELECT id, code FROM hoso_unit")
                 if r["code"].startswith("TT-")}
        return token, units
    finally:
        await rt.db.close()


def _case(unit_id: int, i: int) -> dict:
    return {"unit": unit_id, "received_on": "2025-07-02", "request_channel": "in_person",
            "requester_name": f"Nguyễn Văn An {i}", "form_of_aid": "TV", "field_of_law": "CIVIL",
            "beneficiary_groups": ["NN"]}


def make_app():
    """The app for `uvicorn --factory api:make_app` (the multi-worker run): configuration and database from
    HOSO_CONFIG and HOSO_DATABASE_URL."""
    from hoso.runtime import Runtime
    from hoso.server import create_app

    return create_app(Runtime.create(Path(os.environ["HOSO_CONFIG"]), os.environ["HOSO_DATABASE_URL"]))


def _rss(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmHWM", "VmRSS")):
            key, value = line.split(":", 1)
            out[key] = int(value.split()[0]) * 1024
    return out


async def bench_create(base: str, headers: dict, units: dict[str, int], seconds: float, tasks: int) -> None:
    import httpx

    from hoso.config import load_config

    cfg = load_config(REPO)
    field_of_law = cfg.choice_list("field_of_law").values()
    groups = cfg.choice_list("beneficiary_group").values()
    unit_ids = list(units.values())
    latencies: list[float] = []
    errors: dict[int, int] = {}
    stop = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=tasks, max_keepalive_connections=tasks)
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60, limits=limits) as client:
        async def worker(w: int) -> None:
            i = 0
            while time.perf_counter() < stop:
                body = _case(unit_ids[(w * 7919 + i) % len(unit_ids)], i)
                body["field_of_law"] = "CIVIL" if "CIVIL" in field_of_law else field_of_law[0]
                body["beneficiary_groups"] = [groups[0]]
                t0 = time.perf_counter()
                r = await client.post("/api/records/case", json=body)
                latencies.append(time.perf_counter() - t0)
                if r.status_code != 201:
                    errors[r.status_code] = errors.get(r.status_code, 0) + 1
                    if errors[r.status_code] == 1:
                        print(f"  unexpected {r.status_code}: {r.text[:300]}", flush=True)
                i += 1

        # warm up (connections, the naming series of each unit)
        r = await client.post("/api/records/case", json={**_case(unit_ids[0], 0),
                                                        "field_of_law": field_of_law[0] if "CIVIL" not in
                                                        field_of_law else "CIVIL", "beneficiary_groups": [groups[0]]})
        assert r.status_code == 201, r.text
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(w) for w in range(tasks)))
        elapsed = time.perf_counter() - t0
    ok = len(latencies) - sum(errors.values())
    detail = f"{ok} created in {elapsed:.1f} s by {tasks} clients over {len(unit_ids)} centres"
    if errors:
        detail += f"; errors {errors}"
    report("api: case creations", ok / elapsed, "/s", 300, detail, higher=True)
    report("api: create latency p50", percentile(latencies, 50) * 1000, "ms", None)
    report("api: create latency p95", percentile(latencies, 95) * 1000, "ms", None)


async def bench_upload(base: str, headers: dict, units: dict[str, int], pid: int, size: int) -> None:
    import hashlib

    import httpx

    from hoso.config import load_config

    cfg = load_config(REPO)
    body = {**_case(next(iter(units.values())), 0), "field_of_law": cfg.choice_list("field_of_law").values()[0],
            "beneficiary_groups": [cfg.choice_list("beneficiary_group").values()[0]]}
    chunk = os.urandom(1024 * 1024)
    digest = hashlib.sha256()

    async def chunks():
        head = b"%PDF-1.7\n"
        sent = 0
        while sent < size:
            piece = (head + chunk)[: min(len(chunk), size - sent)] if sent == 0 else chunk[: size - sent]
            digest.update(piece)
            sent += len(piece)
            yield piece

    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=600) as client:
        r = await client.post("/api/records/case", json=body)
        assert r.status_code == 201, r.text
        case = r.json()
        before = _rss(pid)
        t0 = time.perf_counter()
        r = await client.put(f"/api/records/case/{case['id']}/attachments/scanned_file",
                             params={"filename": "big.pdf"}, content=chunks(),
                             headers={"content-type": "application/pdf", "content-length": str(size)})
        elapsed = time.perf_counter() - t0
        after = _rss(pid)
        assert r.status_code == 201, r.text
        assert r.json()["sha256"] == digest.hexdigest(), "the stored file differs from the one sent"
    growth = (after["VmHWM"] - before["VmHWM"]) / 2**20
    report("api: 1 GB upload peak RSS growth", growth, "MB", 100,
           f"VmHWM {before['VmHWM'] / 2**20:.0f} -> {after['VmHWM'] / 2**20:.0f} MB; "
           f"{size / 2**20 / elapsed:.0f} MB/s")


async def main(names: list[str], seconds: float, tasks: int, size: int, workers: int = 1,
               port: int | None = None) -> None:
    async with fresh_database(PG_URL) as url:
        token, units = await _prepare(url)
        port = port or free_port()
        files = tempfile.TemporaryDirectory(prefix="hoso-bench-files-")
        env = serve_env(url, HOSO_FILES_DIR=files.name)
        command = None
        if workers > 1:  # uvicorn's workers; the upload's RSS is then measured in the supervisor only: use 1
            command = [sys.executable, "-m", "uvicorn", "--factory", "api:make_app", "--app-dir",
                       str(REPO / "bench"), "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
                       "--log-level", "warning"]
        server = serve(env, port, command=command)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for(base + "/api/health", server, 200)
            headers = {"Authorization": f"Bearer {token}"}
            if "create" in names:
                await bench_create(base, headers, units, seconds, tasks)
            if "upload" in names and workers == 1:
                await bench_upload(base, headers, units, server.pid, size)
            files.cleanup()
        finally:
            stop(server)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="create, upload (default: both)")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--tasks", type=int, default=24)
    parser.add_argument("--workers", type=int, default=1,
                        help="uvicorn worker processes (>1: the create benchmark only)")
    parser.add_argument("--size", type=int, default=2**30, help="upload size in bytes (default 1 GB)")
    parser.add_argument("--port", type=int, default=None, help="the server's port on 127.0.0.1 (default: a free one)")
    args = parser.parse_args()
    unknown = set(args.names) - {"create", "upload"}
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    asyncio.run(main(args.names or ["create", "upload"], args.seconds, args.tasks, args.size, args.workers,
                     args.port))
