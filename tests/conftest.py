"""Shared fixtures: every database test runs on SQLite, and on PostgreSQL when HOSO_TEST_POSTGRES_URL is set.

A PostgreSQL test gets a database of its own, created from the configured server and dropped afterwards,
so runs never collide.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import shutil
import textwrap
import threading
import uuid
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import pytest

os.environ["HOSO_DISABLE_ENTRYPOINTS"] = "1"
# A database connection opened while the test machine is at its busiest (three workers, a browser, and batches of
# DROP DATABASE each forcing a checkpoint of the server) can take longer than the production timeout of 5 s: a
# test's server start-up once failed so (asyncpg TimeoutError). The timeout's own behaviour is tested with refused
# connections, which fail at once whatever it is.
os.environ.setdefault("HOSO_DB_CONNECT_TIMEOUT", "60")

# Test accounts are hashed with few PBKDF2 rounds: hundreds of accounts are created and logged in per run, each
# costing 0.2 s at the production count. Verification reads the count from the stored hash, so the code under
# test is the same; tests/test_users_hashing.py checks the production count in a fresh interpreter.
from piccolo.apps.user.tables import BaseUser  # noqa: E402

BaseUser._pbkdf2_iteration_count = 1_000

REPO = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("HOSO_TEST_POSTGRES_URL")
ENGINES = ["sqlite", "postgres"]


def _with_db(url: str, name: str) -> str:
    """The URL of database ``name`` on the server of ``url``. Test databases are thrown away, so their commits do
    not wait for the disk: ``synchronous_commit=off`` (a server setting asyncpg takes from the URL) keeps every
    transactional guarantee but durability after a crash of the server, and takes 2 to 4 ms off each commit."""
    p = urlparse(url)
    query = p.query if "synchronous_commit=" in p.query else "&".join(filter(None, [p.query, "synchronous_commit=off"]))
    return urlunparse(p._replace(path="/" + name, query=query))


async def _pg_admin(url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def pytest_collection_modifyitems(config, items):
    """A test marked ``one_engine`` runs once, on SQLite: its PostgreSQL case is deselected, not skipped."""
    drop = [item for item in items if item.get_closest_marker("one_engine") is not None
            and "postgres" in getattr(getattr(item, "callspec", None), "params", {}).values()]
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = [item for item in items if item not in drop]


@pytest.fixture(params=ENGINES)
def database_url(request, tmp_path):
    """A fresh, empty database URL, once per engine."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    yield from _fresh_postgres()


@pytest.fixture
def postgres_url():
    """A fresh, empty PostgreSQL database URL, for what only PostgreSQL has (PL/pgSQL triggers)."""
    yield from _fresh_postgres()


def _fresh_postgres():
    if not PG_URL:
        pytest.skip("PostgreSQL not configured: set HOSO_TEST_POSTGRES_URL=postgresql://user@host:port/db")
    name = f"hoso_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_admin(PG_URL, f'CREATE DATABASE "{name}"'))
    try:
        yield _with_db(PG_URL, name)
    finally:
        drop_database(name)


class _Dropper:
    """Drops the test databases in a thread of its own: a DROP DATABASE waits for a checkpoint of the server (0.3 to
    1.5 s here), which the next test need not wait for. The session's end waits until all are dropped."""

    def __init__(self) -> None:
        self.names: queue.Queue[str | None] = queue.Queue()
        self.thread: threading.Thread | None = None
        self.failed: list[str] = []

    def drop(self, name: str) -> None:
        if self.thread is None:
            self.thread = threading.Thread(target=self._run, name="drop-test-databases", daemon=True)
            self.thread.start()
        self.names.put(name)

    def _run(self) -> None:
        # The databases are dropped BATCH at a time (the rest at the session's end), on connections of their own:
        # drops requested together share the server's checkpoint (one per batch instead of one per database; 24
        # databases: 24 checkpoints and 6.3 s one by one, 6 and 2.8 s by eight).
        done = False
        while not done:
            batch = [self.names.get()]
            while len(batch) < self.BATCH and batch[-1] is not None:  # a full batch, or the session's end
                batch.append(self.names.get())
            done = None in batch
            names = [n for n in batch if n is not None]
            if names:
                asyncio.run(self._drop(names))

    BATCH = 8

    async def _drop(self, names: list[str]) -> None:
        results = await asyncio.gather(*(_pg_admin(PG_URL, f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)')
                                         for n in names), return_exceptions=True)
        self.failed += [f"{n}: {r}" for n, r in zip(names, results, strict=True) if isinstance(r, BaseException)]

    def close(self) -> None:
        if self.thread is not None:
            self.names.put(None)
            self.thread.join()
            self.thread = None


_DROPPER = _Dropper()


def drop_database(name: str) -> None:
    """Drop the test database ``name`` of the configured server, soon (in the background)."""
    _DROPPER.drop(name)


def pytest_sessionfinish(session, exitstatus):
    from tests.helpers import pg_templates

    for name in pg_templates():
        drop_database(name)
    _DROPPER.close()
    if _DROPPER.failed:
        raise RuntimeError("test databases left on the server: " + "; ".join(_DROPPER.failed))


@contextlib.contextmanager
def shared_database(engine: str, tmp: Path, name: str):
    """A database for a module's shared fixture: a file under ``tmp`` on SQLite, a fresh database on PostgreSQL
    (dropped on leaving); skips the PostgreSQL case when it is not configured."""
    if engine == "sqlite":
        yield f"sqlite:///{tmp / (name + '.db')}"
        return
    yield from _fresh_postgres()


def reference_copy(tmp: Path) -> Path:
    """A copy of the repository's reference configuration under ``tmp``."""
    root = tmp / "reference"
    shutil.copytree(REPO / "forms_config", root / "forms_config")
    shutil.copytree(REPO / "roles_config", root / "roles_config")
    return root


@pytest.fixture
def engine_name(database_url):
    return "sqlite" if database_url.startswith("sqlite") else "postgres"


class ConfigDir:
    """A configuration root in a temporary folder, written from YAML snippets."""

    def __init__(self, root: Path):
        self.root = root

    def write(self, rel: str, text: str) -> ConfigDir:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return self

    def remove(self, rel: str) -> ConfigDir:
        (self.root / rel).unlink()
        return self

    def load(self):
        from hoso.config import load_config

        return load_config(self.root)


MINIMAL_LISTS = """
lists:
  form_of_aid:
    options:
      - {value: TV, vi: Tư vấn pháp luật, en: Legal advice}
      - {value: TGTT, vi: Tham gia tố tụng, en: Participation in proceedings}
"""

MINIMAL_HIERARCHY = """
levels: [province, centre]
unit_types:
  province: {level: province, label: {vi: Tỉnh}}
  centre: {level: centre, label: {vi: Trung tâm}}
units:
  - file: units/units.csv
"""

MINIMAL_UNITS = """
code,name_vi,name_en,type,parent_code,valid_from
P01,Tỉnh Một,Province One,province,,2019-01-01
TT,Trung tâm Một,Centre One,centre,P01,2019-01-01
TT2,Trung tâm Hai,Centre Two,centre,P01,2019-01-01
"""

MINIMAL_CASE = """
entity: case
label: {vi: Vụ việc, en: Case}
unit_field: unit
naming: {field: code, pattern: "{unit.code}.{form_of_aid}.{seq:02}.{year}", sequence_per: [unit, form_of_aid, year],
         date_field: received_on}
fields:
  code: {type: text, label: {vi: Mã}}
  received_on: {type: date, required: true, label: {vi: Ngày tiếp nhận}}
  form_of_aid: {type: choice, list: form_of_aid, required: true, label: {vi: Hình thức}}
  requester: {type: text, required: true, label: {vi: Người yêu cầu}}
  unit: {type: org_unit, required: true, label: {vi: Đơn vị}}
"""


@pytest.fixture
def config_dir(tmp_path) -> ConfigDir:
    """A small valid configuration: one case entity with a naming series, two centres."""
    c = ConfigDir(tmp_path / "config")
    c.write("forms_config/lists/lists.yaml", MINIMAL_LISTS)
    c.write("forms_config/entities/case.yaml", MINIMAL_CASE)
    c.write("roles_config/hierarchy.yaml", MINIMAL_HIERARCHY)
    c.write("roles_config/units/units.csv", MINIMAL_UNITS)
    return c


@pytest.fixture
def reference_config_dir(tmp_path) -> Path:
    """A copy of the repository's reference configuration."""
    return reference_copy(tmp_path)
