"""Several application processes on one PostgreSQL: throughput by worker count, and how fast a migration reaches them.

Run: `python bench/processes.py [--seconds S] [--tasks T] [--workers 1,2,4] [--servers uvicorn,granian]`
(part of `make bench`). Migrates the reference configuration into a database of its own
(HOSO_BENCH_POSTGRES_URL, default postgresql://postgres@127.0.0.1:5432/test; dropped afterwards), then, side by
side in one run:

  throughput  for each server and worker count: `hoso serve --workers N` (uvicorn's process manager) or Granian
              with N workers on `hoso.server:app_factory`, case creations (POST /api/records/case) and list pages
              (GET /api/records/case, 20 rows) from T concurrent clients for S seconds each, with p50/p95 latency
  switch      three `hoso serve` processes on their own ports; a field is added to the configuration and
              `hoso migrate` run in a fourth process: the seconds from the end of the migration until every process
              accepts the field on POST and shows it on GET (HOSO_DEFINITIONS_POLL_SECONDS, default 2), and the
              answers that were not 2xx meanwhile (a client keeps creating cases on all three)

Granian is measured only when it is installed (`pip install granian`); hoso itself runs uvicorn.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse, urlunparse

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from api import _case as _api_case  # noqa: E402
from api import _free_port, _pg, _prepare, report  # noqa: E402

PG_URL = os.environ.get("HOSO_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
HOSO = str(Path(sys.executable).with_name("hoso"))
GRANIAN = str(Path(sys.executable).with_name("granian"))
NEW_FIELD = "  interpreter_name: {type: text, label: {vi: Người phiên dịch, en: Interpreter}}\n"


def _choices() -> tuple[str, str]:
    from hoso.config import load_config

    cfg = load_config(REPO)
    laws = cfg.choice_list("field_of_law").values()
    return ("CIVIL" if "CIVIL" in laws else laws[0]), cfg.choice_list("beneficiary_group").values()[0]


LAW, GROUP = _choices()


def _case(unit_id: int, i: int) -> dict:
    """A valid new case of the reference configuration (bench/api.py's, with options of today's lists)."""
    return {**_api_case(unit_id, i), "field_of_law": LAW, "beneficiary_groups": [GROUP]}


def _command(server: str, workers: int, port: int) -> list[str]:
    if server == "granian":
        return [GRANIAN, "--interface", "asgi", "--factory", "hoso.server:app_factory", "--host", "127.0.0.1",
                "--port", str(port), "--workers", str(workers), "--log-level", "warning", "--no-ws"]
    return [HOSO, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]


LOGS = Path(tempfile.mkdtemp(prefix="hoso-bench-processes-"))


def _start(cmd: list[str], env: dict) -> subprocess.Popen:
    """``cmd`` in a process group of its own (its workers stop with it); its output goes to a file of LOGS."""
    log = LOGS / f"server-{len(list(LOGS.iterdir()))}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    proc.log = log  # type: ignore[attr-defined]
    return proc


def _wait(proc: subprocess.Popen, base: str) -> None:
    import httpx

    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the server exited: " + proc.log.read_text(errors="replace")[-2000:])  # type: ignore
        try:
            if httpx.get(base + "/api/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{base} did not start within 180 s")


def _stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(30)
    except (subprocess.TimeoutExpired, ProcessLookupError):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000 if ordered else 0.0


async def _load(base: str, headers: dict, seconds: float, tasks: int, request) -> tuple[float, list[float], dict]:
    """``request(client, worker, i)`` from ``tasks`` clients for ``seconds``: (answers/s, latencies, errors)."""
    import httpx

    latencies: list[float] = []
    errors: dict[int, int] = {}
    limits = httpx.Limits(max_connections=tasks, max_keepalive_connections=tasks)
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60, limits=limits) as client:
        stop = time.perf_counter() + seconds

        async def worker(w: int) -> None:
            i = 0
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                status = await request(client, w, i)
                latencies.append(time.perf_counter() - t0)
                if not 200 <= status < 300:
                    errors[status] = errors.get(status, 0) + 1
                i += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(worker(w) for w in range(tasks)))
        elapsed = time.perf_counter() - t0
    ok = len(latencies) - sum(errors.values())
    return ok / elapsed, latencies, errors


async def bench_throughput(server: str, workers: int, env: dict, headers: dict, units: list[int], seconds: float,
                           tasks: int) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    proc = _start(_command(server, workers, port), env)
    try:
        _wait(proc, base)

        async def create(client, w, i):
            r = await client.post("/api/records/case", json=_case(units[(w * 7919 + i) % len(units)], i))
            return r.status_code

        async def page(client, w, i):
            r = await client.get("/api/records/case", params={"page_size": 20})
            return r.status_code

        await _load(base, headers, 2.0, tasks, page)  # warm up every worker's connections
        for name, request in (("creations", create), ("list pages", page)):
            rate, lat, errors = await _load(base, headers, seconds, tasks, request)
            detail = f"p50 {_pct(lat, 0.5):.0f} ms, p95 {_pct(lat, 0.95):.0f} ms, {tasks} clients, {seconds:.0f} s"
            if errors:
                detail += f"; errors {errors}"
            report(f"{server} x{workers}: {name}", rate, "/s", None, detail)
    finally:
        _stop(proc)


async def bench_switch(url: str, env: dict, headers: dict, units: list[int], processes: int = 3) -> None:
    """Seconds from the end of `hoso migrate` until every one of ``processes`` serves the new field."""
    import httpx

    root = Path(tempfile.mkdtemp(prefix="hoso-bench-config-"))
    procs: list[subprocess.Popen] = []
    try:
        for part in ("forms_config", "roles_config"):
            shutil.copytree(REPO / part, root / part)
        env = {**env, "HOSO_CONFIG": str(root)}
        bases = []
        for _ in range(processes):
            port = _free_port()
            procs.append(_start([HOSO, "serve", "--host", "127.0.0.1", "--port", str(port)], env))
            bases.append(f"http://127.0.0.1:{port}")
        for proc, base in zip(procs, bases, strict=True):
            _wait(proc, base)
        failures: list[str] = []
        sent = 0
        stop = asyncio.Event()

        async def traffic(client: httpx.AsyncClient) -> None:
            nonlocal sent
            i = 0
            while not stop.is_set():
                sent += 1
                i += 1
                try:
                    r = await client.post("/api/records/case", json=_case(units[i % len(units)], i))
                except httpx.HTTPError as exc:
                    failures.append(f"{client.base_url}: {exc!r}")
                    continue
                if not 200 <= r.status_code < 300:
                    failures.append(f"{client.base_url}: {r.status_code} {r.text[:200]}")

        clients = [httpx.AsyncClient(base_url=b, headers=headers, timeout=60) for b in bases]
        running = [asyncio.create_task(traffic(c)) for c in clients]
        try:
            await asyncio.sleep(1.0)
            entity = root / "forms_config" / "entities" / "case.yaml"
            text = entity.read_text(encoding="utf-8")
            entity.write_text(text.replace("  urgent:\n", NEW_FIELD + "  urgent:\n", 1), encoding="utf-8")
            t0 = time.perf_counter()
            migrate = await asyncio.create_subprocess_exec(HOSO, "migrate", "--yes", "--database", url, env=env,
                                                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            _, err = await migrate.communicate()
            if migrate.returncode:
                raise RuntimeError("hoso migrate failed: " + err.decode(errors="replace")[-2000:])
            migrated = time.perf_counter()
            seen: dict[int, float] = {}
            while len(seen) < len(clients) and time.perf_counter() - migrated < 60:
                for n, c in enumerate(clients):
                    if n in seen:
                        continue
                    r = await c.post("/api/records/case", json={**_case(units[0], n), "interpreter_name": "Pá"})
                    if r.status_code == 201:
                        got = await c.get(f"/api/records/case/{r.json()['id']}")
                        if got.json().get("interpreter_name") == "Pá":
                            seen[n] = time.perf_counter() - migrated
                await asyncio.sleep(0.05)
            await asyncio.sleep(1.0)
        finally:
            stop.set()
            await asyncio.gather(*running)
            for c in clients:
                await c.aclose()
        detail = (f"{processes} processes, migrate took {migrated - t0:.1f} s; each: "
                  + ", ".join(f"{seen[n]:.2f}" for n in sorted(seen))
                  + f"; {len(failures)} non-2xx of {sent} requests meanwhile")
        if len(seen) < len(clients):
            detail += f"; {len(clients) - len(seen)} never switched"
        for failure in failures[:5]:
            print(f"  {failure}", flush=True)
        report("all processes see a migrate", max(seen.values()) if seen else float("inf"), "s", 5.0, detail)
    finally:
        for proc in procs:
            _stop(proc)
        shutil.rmtree(root, ignore_errors=True)


async def main(seconds: float, tasks: int, workers: list[int], servers: list[str], names: list[str]) -> None:
    p = urlparse(PG_URL)
    db = f"hoso_bench_{uuid.uuid4().hex[:10]}"
    url = urlunparse(p._replace(path="/" + db))
    await _pg(PG_URL, f'CREATE DATABASE "{db}"')
    files = tempfile.mkdtemp(prefix="hoso-bench-files-")
    try:
        token, by_code = await _prepare(url)
        units = list(by_code.values())
        headers = {"Authorization": f"Bearer {token}"}
        env = {**os.environ, "HOSO_DATABASE_URL": url, "HOSO_CONFIG": str(REPO), "HOSO_FILES_DIR": files}
        print(f"{os.cpu_count()} cores; PostgreSQL {p.hostname}:{p.port or 5432}", flush=True)
        for server in servers if "throughput" in names else ():
            if server == "granian" and not Path(GRANIAN).exists():
                print("granian is not installed: skipped (pip install granian)", flush=True)
                continue
            for n in workers:
                await bench_throughput(server, n, env, headers, units, seconds, tasks)
        if "switch" in names:
            await bench_switch(url, env, headers, units)
        print(f"server logs: {LOGS}", flush=True)
    finally:
        shutil.rmtree(files, ignore_errors=True)
        await _pg(PG_URL, f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="throughput, switch (default: both)")
    parser.add_argument("--seconds", type=float, default=8.0, help="seconds per measurement (default 8)")
    parser.add_argument("--tasks", type=int, default=16, help="concurrent clients (default 16)")
    parser.add_argument("--workers", default="1,2,4", help="worker counts, comma-separated (default 1,2,4)")
    parser.add_argument("--servers", default="uvicorn,granian", help="uvicorn, granian or both (default both)")
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.tasks, [int(w) for w in args.workers.split(",")],
                     [s.strip() for s in args.servers.split(",") if s.strip()], args.names or ["throughput", "switch"]))
