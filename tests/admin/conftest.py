"""Fixtures for the admin: the reference configuration, migrated and seeded once per engine, cloned per test.

The seeded database holds two centres' cases (Hà Nội TT-01 with its branch CN1-01, Hà Giang TT-02), their
performers, and one account per role under test. Each test gets its own copy (a file copy on SQLite, a
``CREATE DATABASE ... TEMPLATE`` on PostgreSQL) and the web application served on it.

The test configuration is the reference one with an admin.yaml (menu groups, list columns) and one change: centre
staff have ``requester_citizen_id`` hidden (the reference roles hide no field), so hidden fields can be checked.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from hoso.records.service import RecordContext
from hoso.runtime import Runtime
from hoso.scope import SYSTEM_ACTOR
from tests.conftest import PG_URL, REPO, _pg_admin, _with_db, drop_database
from tests.helpers import load_full_config
from tests.web.conftest import PASSWORD, Web

HIDDEN_FOR_STAFF = "requester_citizen_id"

# username -> (role, unit code) ; None role: a superuser
ACCOUNTS: dict[str, tuple[str | None, str]] = {
    "quan.tri": (None, "CUC"),
    "tt01.staff": ("centre_staff", "TT-01"),
    "tt01.director": ("centre_director", "TT-01"),
    "tt02.staff": ("centre_staff", "TT-02"),
    "thong.ke": ("national_statistician", "CUC"),
    "khoa.user": ("centre_staff", "TT-01"),
    "luat.su": ("performer_role", "TT-01"),  # the account of performer Lê Văn Luật: sees the cases assigned
}
CASE = {"received_on": "2025-03-04", "request_channel": "in_person", "requester_name": "Nguyễn Văn An",
        "beneficiary_groups": ["HN"], "field_of_law": "DS", "form_of_aid": "TV"}


ADMIN_YAML = """\
site_name: {vi: Quản trị hồ sơ trợ giúp pháp lý, en: Legal aid records admin}
default_language: vi
menu:
  - group: {vi: Vụ việc, en: Cases}
    entities: [case, case_transfer]
  - group: {vi: Người thực hiện và tổ chức, en: Performers and organisations}
    entities: [performer, organisation]
entities:
  case:
    form: case_file
    list_columns: [code, status, unit, received_on, requester_name, form_of_aid]
"""


def make_config(root: Path) -> Path:
    shutil.copytree(REPO / "forms_config", root / "forms_config")
    shutil.copytree(REPO / "roles_config", root / "roles_config")
    staff = root / "roles_config" / "roles" / "centre_staff.yaml"
    text = staff.read_text(encoding="utf-8")
    marker = "    read_only_fields: [appraisal_result, evaluated_on, evaluation_score, evaluation_grade]\n"
    assert marker in text, "the reference centre_staff role changed: update tests/admin/conftest.py"
    staff.write_text(text.replace(marker, marker + f"    hidden_fields: [{HIDDEN_FOR_STAFF}]\n"), encoding="utf-8")
    (root / "forms_config" / "admin.yaml").write_text(ADMIN_YAML, encoding="utf-8")
    return root


def run(coro):
    """Run ``coro`` to completion in a thread of its own (callers may already be inside an event loop, e.g.
    Playwright's)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


@dataclass
class Seed:
    """Ids of the seeded rows."""

    units: dict[str, int] = field(default_factory=dict)
    users: dict[str, int] = field(default_factory=dict)
    cases: dict[str, int] = field(default_factory=dict)  # name -> id: ha_noi, ha_noi_branch, ha_giang
    codes: dict[str, str] = field(default_factory=dict)
    performers: dict[str, int] = field(default_factory=dict)


async def _seed(root: Path, url: str) -> Seed:
    from hoso.accounts import create_account, lock
    from hoso.users import create_user
    from tests.helpers import migrated_runtime

    config = load_full_config(root)
    rt = await migrated_runtime(config, url)
    seed = Seed()
    try:
        for code in ("CUC", "STP-01", "TT-01", "CN1-01", "TT-02"):
            seed.units[code] = await rt.db.fetchval("SELECT id FROM hoso_unit WHERE code = {}", code)
        for username, (role, unit) in ACCOUNTS.items():
            if role is None:
                uid = await create_user(rt, username, PASSWORD, superuser=True, unit_code=unit,
                                        display_name="Quản trị viên", actor="test")
            else:
                uid = await create_account(rt, SYSTEM_ACTOR, username, PASSWORD, unit, roles=(role,),
                                           display_name=f"Cán bộ {username}")
            seed.users[username] = uid
        await lock(rt, SYSTEM_ACTOR, seed.users["khoa.user"], "test")
        system = RecordContext.system(rt.config)
        service = rt.records()
        for key, name, unit, account in (("tt01", "Lê Văn Luật", "TT-01", seed.users["luat.su"]),
                                         ("tt02", "Phạm Thị Hà", "TT-02", None)):
            p = await service.create("performer", {"name": name, "kind": "assistant", "unit": seed.units[unit],
                                                   "account": account}, system)
            seed.performers[key] = p["id"]
        for key, unit, extra in (("ha_noi", "TT-01", {"performer": seed.performers["tt01"],
                                                       HIDDEN_FOR_STAFF: "001090000001"}),
                                 ("ha_noi_branch", "CN1-01", {"requester_name": "Trần Thị Bình"}),
                                 ("ha_giang", "TT-02", {"requester_name": "Hoàng Văn Cường",
                                                        "received_on": "2024-11-20"})):
            record = await service.create("case", {**CASE, "unit": seed.units[unit], **extra}, system)
            seed.cases[key] = record["id"]
            seed.codes[key] = record["code"]
    finally:
        await rt.db.close()
    return seed


@dataclass
class Prepared:
    root: Path
    url: str
    seed: Seed
    engine: str

    @property
    def config(self):
        """The test configuration, loaded once."""
        if "_config" not in self.__dict__:
            self.__dict__["_config"] = load_full_config(self.root)
        return self.__dict__["_config"]


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def prepared(request, tmp_path_factory) -> Prepared:
    """The seeded reference database, once per engine and test session."""
    base = tmp_path_factory.mktemp(f"admin-{request.param}")
    root = make_config(base / "config")
    if request.param == "sqlite":
        url = f"sqlite:///{base / 'seed.db'}"
        seed = run(_seed(root, url))
        yield Prepared(root, url, seed, "sqlite")
        return
    if not PG_URL:
        pytest.skip("PostgreSQL not configured: set HOSO_TEST_POSTGRES_URL=postgresql://user@host:port/db")
    name = f"hoso_admin_seed_{uuid.uuid4().hex[:10]}"
    run(_pg_admin(PG_URL, f'CREATE DATABASE "{name}"'))
    try:
        seed = run(_seed(root, _with_db(PG_URL, name)))
        yield Prepared(root, name, seed, "postgres")
    finally:
        drop_database(name)


@contextlib.contextmanager
def clone(prepared: Prepared, directory: Path):
    """A copy of the seeded database (its URL)."""
    if prepared.engine == "sqlite":
        src = Path(prepared.url[len("sqlite:///"):])
        dst = directory / "test.db"
        shutil.copyfile(src, dst)
        yield f"sqlite:///{dst}"
        return
    name = f"hoso_admin_{uuid.uuid4().hex[:12]}"
    run(_pg_admin(PG_URL, f'CREATE DATABASE "{name}" TEMPLATE "{prepared.url}"'))
    try:
        yield _with_db(PG_URL, name)
    finally:
        drop_database(name)


@pytest.fixture
def admin_db(prepared, tmp_path) -> str:
    """A copy of the seeded database for one test."""
    with clone(prepared, tmp_path) as url:
        yield url


@dataclass
class AdminClient:
    """A client of the admin's JSON API with a CSRF token and helpers."""

    web: Web
    seed: Seed

    @property
    def client(self) -> AsyncTestClient:
        return self.web.client

    async def csrf(self) -> str:
        token = self.client.cookies.get("csrftoken")
        if not token:
            await self.client.get("/admin/")
            token = self.client.cookies.get("csrftoken")
        return token

    async def login(self, username: str, password: str = PASSWORD):
        self.client.cookies.delete("hoso_session")
        return await self.client.post("/admin/public/login/", json={"username": username, "password": password},
                                      headers={"X-CSRFToken": await self.csrf()})

    async def get(self, path: str, **kw):
        return await self.client.get("/admin/api" + path, **kw)

    async def send(self, method: str, path: str, json: Any = None, **kw):
        headers = {"X-CSRFToken": await self.csrf(), **kw.pop("headers", {})}
        return await self.client.request(method, "/admin/api" + path, json=json, headers=headers, **kw)


@contextlib.asynccontextmanager
async def serving(config, url: str, plugins=()):
    """The web application (with the admin) on ``url`` for ``config`` (a Config or a folder); a second runtime for
    the test's own queries."""
    from hoso.server import create_app

    if not hasattr(config, "entities"):
        config = load_full_config(config)
    test_rt = Runtime.create(config, url)
    await test_rt.db.start()  # a pool: on PostgreSQL a connection per query costs a server process each
    app = create_app(Runtime.create(config, url, plugins=plugins))
    try:
        async with AsyncTestClient(app) as client:
            yield Web(app, test_rt, client)
    finally:
        await test_rt.db.close()


@pytest.fixture
async def admin(prepared, admin_db, monkeypatch) -> AdminClient:
    monkeypatch.setenv("HOSO_ADMIN_RELOAD_SECONDS", "0")
    async with serving(prepared.config, admin_db) as web:
        yield AdminClient(web, prepared.seed)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item (the browser tests screenshot failures)."""
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)
