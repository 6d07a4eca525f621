"""Several `hoso serve` processes on one database: logins throttled as one, and a migration in a third process seen
by every surface of every process without a restart and without a failed request.

Each server is a real `hoso serve` subprocess on a free port; the test speaks HTTP to them.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from hoso.config import load_config
from hoso.users import create_user
from tests.api.test_schemathesis import _wait_until_up
from tests.conftest import ENGINES, MINIMAL_CASE, ConfigDir, _fresh_postgres
from tests.helpers import migrated_runtime
from tests.test_cli_errors import free_port

pytestmark = pytest.mark.slow

HOSO = str(Path(sys.executable).parent / "hoso")
PASSWORD = "correct-horse-42"
CASE = {"received_on": "2025-03-04", "form_of_aid": "TV", "requester": "Nguyễn Văn An"}
NEW_FIELD = "  interpreter: {type: text, label: {vi: Người phiên dịch, en: Interpreter}}\n"
POLL = 0.5  # HOSO_DEFINITIONS_POLL_SECONDS of the servers
MAX_FAILURES = 3  # HOSO_LOGIN_MAX_FAILURES of the servers
SWITCH_WITHIN = 15.0  # seconds for every surface of both processes to serve a migration (polled every POLL)


@dataclass
class Server:
    base: str
    proc: subprocess.Popen
    log: Path

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, timeout=30)


@dataclass
class Cluster:
    root: Path
    url: str
    servers: list[Server]
    unit: int
    env: dict = field(default_factory=dict)


def _start(root: Path, url: str, log: Path, env: dict) -> Server:
    port = free_port()
    out = log.open("wb")
    proc = subprocess.Popen([HOSO, "serve", "--config", str(root), "--database", url, "--port", str(port)],
                            env=env, stdout=out, stderr=subprocess.STDOUT)
    return Server(f"http://127.0.0.1:{port}", proc, log)


def _wait_up(server: Server) -> None:
    _wait_until_up(server.proc, server.base, server.log)


async def _prepare(root: Path, url: str) -> int:
    rt = await migrated_runtime(load_config(root), url)
    try:
        await create_user(rt, "quan.tri", PASSWORD, superuser=True, actor="test")
        await create_user(rt, "nguoi.dung", PASSWORD, actor="test")
        return int(await rt.db.fetchval("SELECT id FROM hoso_unit WHERE code = {}", "TT"))
    finally:
        await rt.db.close()


@pytest.fixture(params=ENGINES)
def cluster(request, tmp_path) -> Iterator[Cluster]:
    """Two `hoso serve` processes on one fresh database (SQLite file or PostgreSQL), a small configuration."""
    from tests.conftest import MINIMAL_HIERARCHY, MINIMAL_LISTS, MINIMAL_UNITS

    if request.param == "sqlite":
        urls: Iterator[str] = iter([f"sqlite:///{tmp_path / 'shared.db'}"])
    else:
        urls = _fresh_postgres()
    url = next(urls)
    try:
        config = ConfigDir(tmp_path / "config")
        config.write("forms_config/lists/lists.yaml", MINIMAL_LISTS)
        config.write("forms_config/entities/case.yaml", MINIMAL_CASE)
        config.write("roles_config/hierarchy.yaml", MINIMAL_HIERARCHY)
        config.write("roles_config/units/units.csv", MINIMAL_UNITS)
        unit = asyncio.run(_prepare(config.root, url))
        env = {**os.environ, "HOSO_DEFINITIONS_POLL_SECONDS": str(POLL), "HOSO_ADMIN_RELOAD_SECONDS": str(POLL),
               "HOSO_LOGIN_MAX_FAILURES": str(MAX_FAILURES), "HOSO_FILES_DIR": str(tmp_path / "files")}
        servers = [_start(config.root, url, tmp_path / f"server{i}.log", env) for i in range(2)]
        try:
            for s in servers:
                _wait_up(s)
            yield Cluster(config.root, url, servers, unit, env)
        finally:
            for s in servers:
                s.proc.terminate()
            for s in servers:
                try:
                    s.proc.wait(timeout=30)
                except subprocess.TimeoutExpired:  # pragma: no cover - a hung server
                    s.proc.kill()
                    s.proc.wait()
            for s in servers:
                log = s.log.read_text(errors="replace")
                assert "Traceback" not in log, log[-3000:]
    finally:
        next(urls, None)  # drops the PostgreSQL database


def _login(client: httpx.Client, username: str = "quan.tri", password: str = PASSWORD) -> httpx.Response:
    return client.post("/api/login", json={"username": username, "password": password})


def _admin_login(client: httpx.Client, username: str, password: str) -> httpx.Response:
    if "csrftoken" not in client.cookies:
        client.get("/admin/")
    return client.post("/admin/public/login/", json={"username": username, "password": password},
                       headers={"X-CSRFToken": client.cookies["csrftoken"]})


def test_failed_logins_spread_over_two_processes_lock_as_in_one(cluster):
    a, b = (s.client() for s in cluster.servers)
    with a, b:
        answers = []
        for i in range(MAX_FAILURES + 2):  # alternately on each process, through the API and the admin
            if i % 2 == 0:
                r = a.post("/api/login", json={"username": "nguoi.dung", "password": "wrong-password"})
            else:
                r = _admin_login(b, "nguoi.dung", "wrong-password")
            answers.append(r.status_code)
        assert answers == [401] * MAX_FAILURES + [429, 429]
        assert _admin_login(a, "nguoi.dung", PASSWORD).status_code == 429
        # the right password no longer helps, on either process; another account is not locked out
        assert _login(a, "nguoi.dung").status_code == 429
        assert _login(b, "nguoi.dung").status_code == 429
        assert _login(b).status_code == 200


class Traffic(threading.Thread):
    """Creates, reads and lists cases on both processes in turn until stopped; every answer that is not 2xx is
    kept."""

    def __init__(self, cluster: Cluster, cookie: str):
        super().__init__(daemon=True)
        self.cluster = cluster
        self.cookie = cookie
        self.stop = threading.Event()
        self.failures: list[tuple[str, str, int, str]] = []
        self.requests = 0

    def _call(self, client: httpx.Client, method: str, path: str, **kw) -> httpx.Response | None:
        self.requests += 1
        try:
            r = client.request(method, path, **kw)
        except httpx.HTTPError as exc:
            self.failures.append((str(client.base_url), f"{method} {path}", 0, repr(exc)))
            return None
        if not 200 <= r.status_code < 300:
            self.failures.append((str(client.base_url), f"{method} {path}", r.status_code, r.text[:300]))
            return None
        return r

    def run(self) -> None:
        clients = [s.client() for s in self.cluster.servers]
        for c in clients:
            c.cookies.set("hoso_session", self.cookie)
        try:
            i = 0
            while not self.stop.is_set():
                writer, reader = clients[i % 2], clients[(i + 1) % 2]
                i += 1
                r = self._call(writer, "POST", "/api/records/case", json={**CASE, "unit": self.cluster.unit})
                if r is not None:
                    self._call(reader, "GET", f"/api/records/case/{r.json()['id']}")
                self._call(reader, "GET", "/api/records/case", params={"page_size": 5})
                self._call(writer, "GET", "/admin/api/tables/case/", params={"__page_size": 5})
        finally:
            for c in clients:
                c.close()


def _serves_new_field(client: httpx.Client, unit: int) -> bool:
    r = client.post("/api/records/case", json={**CASE, "unit": unit, "interpreter": "Lò Văn Pá"})
    if r.status_code != 201:
        return False
    got = client.get(f"/api/records/case/{r.json()['id']}")
    schema = client.get("/admin/api/tables/case/schema/")
    return (got.status_code == 200 and got.json().get("interpreter") == "Lò Văn Pá"
            and schema.status_code == 200 and "interpreter" in schema.json()["properties"]
            and "interpreter" in client.get("/schema/openapi.json").text)


def test_a_migration_in_a_third_process_reaches_every_surface_of_both_without_a_failed_request(cluster):
    a, b = (s.client() for s in cluster.servers)
    with a, b:
        assert _login(a).status_code == 200
        cookie = a.cookies["hoso_session"]
        b.cookies.set("hoso_session", cookie)  # one session, in the database: it works on both processes
        for c in (a, b):
            assert c.get("/api/me").status_code == 200
            assert c.post("/api/records/case", json={**CASE, "unit": cluster.unit, "interpreter": "x"}
                          ).status_code == 422  # not a field yet
            assert "interpreter" not in c.get("/admin/api/tables/case/schema/").json()["properties"]

        traffic = Traffic(cluster, cookie)
        traffic.start()
        try:
            time.sleep(1.0)
            entity = cluster.root / "forms_config" / "entities" / "case.yaml"
            entity.write_text(entity.read_text(encoding="utf-8") + NEW_FIELD, encoding="utf-8")
            done = subprocess.run([HOSO, "migrate", "--yes", "--config", str(cluster.root), "--database", cluster.url],
                                  env=cluster.env, capture_output=True, text=True, timeout=300)
            assert done.returncode == 0, done.stdout + done.stderr
            migrated = time.monotonic()
            pending = {0: a, 1: b}
            seen: dict[int, float] = {}
            while pending and time.monotonic() - migrated < SWITCH_WITHIN:
                for i, c in list(pending.items()):
                    if _serves_new_field(c, cluster.unit):
                        seen[i] = time.monotonic() - migrated
                        del pending[i]
                time.sleep(0.1)
            assert not pending, f"processes {sorted(pending)} still serve the old definitions after {SWITCH_WITHIN}s"
            time.sleep(1.0)  # traffic goes on after the switch
        finally:
            traffic.stop.set()
            traffic.join(timeout=60)
        assert traffic.requests > 20
        assert traffic.failures == []
        # the old records are still there, readable with the new field empty, on both processes
        for c in (a, b):
            first = c.get("/api/records/case", params={"sort": "id", "page_size": 1}).json()
            items = first["items"] if isinstance(first, dict) else first
            assert items and items[0].get("interpreter") is None


def _children(pid: int) -> set[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:  # pragma: no cover - not Linux
        pytest.skip("needs /proc")
    return {int(p) for p in text.split()}


def _two_workers(config_dir, tmp_path, **env: str) -> tuple[subprocess.Popen, Server]:
    """`hoso serve --workers 2` on a new SQLite database, its log in a file."""
    url = f"sqlite:///{tmp_path / 'workers.db'}"
    asyncio.run(_prepare(config_dir.root, url))
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([HOSO, "serve", "--config", str(config_dir.root), "--database", url,
                                 "--port", str(port), "--workers", "2"], stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, **env})
    return proc, Server(f"http://127.0.0.1:{port}", proc, log)


def test_serve_workers_runs_that_many_processes_on_one_port(config_dir, tmp_path):
    proc, server = _two_workers(config_dir, tmp_path)
    log = server.log
    try:
        _wait_up(server)
        with server.client() as c:
            assert _login(c).status_code == 200
            assert all(c.get("/api/me").status_code == 200 for _ in range(10))
        workers = _children(proc.pid) - {p for p in _children(proc.pid)
                                         if "resource_tracker" in Path(f"/proc/{p}/cmdline").read_text()}
        assert len(workers) == 2
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    text = log.read_text(errors="replace")
    assert "Traceback" not in text
    assert "died" not in text  # each worker started once: none was killed while it started


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_REUSEPORT spreads connections on Linux")
def test_serve_workers_spread_connections_opened_together(config_dir, tmp_path):
    """Each worker listens on a socket of its own (SO_REUSEPORT), so connections opened together are spread over
    the workers. With the one socket uvicorn shares, the first worker to wake accepted them all (a benchmark's 24
    connections, all on one of two workers)."""
    proc, server = _two_workers(config_dir, tmp_path, HOSO_LOG_FORMAT="json")
    log = server.log

    async def traffic() -> None:
        clients = [httpx.AsyncClient(base_url=server.base, timeout=60) for _ in range(40)]
        try:
            for _ in range(5):  # the 40 connections open together, then each asks four more times
                answers = await asyncio.gather(*(c.get("/api/me") for c in clients))
                assert {r.status_code for r in answers} == {401}
        finally:
            await asyncio.gather(*(c.aclose() for c in clients))

    try:
        _wait_up(server)
        asyncio.run(traffic())
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    lines = log.read_text(errors="replace").splitlines()
    # every process logs as HOSO_LOG_FORMAT says (Litestar's own logging set up no longer replaces it in workers)
    assert all(line.startswith("{") for line in lines[1:]), [line for line in lines[1:] if not line.startswith("{")]
    served: dict[int, int] = {}
    for line in lines:
        if line.startswith("{") and '"path": "/api/me"' in line:
            entry = json.loads(line)
            served[entry["pid"]] = served.get(entry["pid"], 0) + 1
    assert sum(served.values()) == 200, served
    assert len(served) == 2 and min(served.values()) >= 40, served  # each worker at least 8 connections of 40
