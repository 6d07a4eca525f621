"""Fixtures for the HTTP API tests: the legal-aid configuration of tests/records (cases with a form, a
workflow and attachments limited to 1 KB), roles for two centres, a centre director who manages accounts, a
statistics-only user and a performer, each with a Bearer token, on both engines.

Everything a test checks goes through HTTP (``AsyncTestClient``); the database is only read, to count rows and
audit entries. The users are set up directly (``hoso.accounts`` as a superuser), which is not under test here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pytest

from hoso import accounts
from hoso.scope import Actor
from hoso.web.tokens import create_token
from tests.records.conftest import (
    CALENDAR,
    CASE,
    HIERARCHY,
    INTAKE,
    LISTS,
    PERFORMER,
    UNITS,
    WORKFLOW,
)
from tests.web.conftest import PASSWORD, Web, running

ROLES = {
    "centre_staff": """
        role: centre_staff
        label: {vi: Cán bộ Trung tâm}
        grants:
          - entity: case
            scope: subtree
            actions: [read, create, update, transition:accept, transition:refuse]
          - entity: performer
            scope: subtree
            actions: [read, create]
    """,
    "centre_director": """
        role: centre_director
        label: {vi: Giám đốc Trung tâm}
        grants:
          - entity: case
            scope: subtree
            actions: [read, create, update, delete, restore, manage_users, transition:accept, transition:refuse,
                      transition:end, transition:archive]
          - entity: performer
            scope: subtree
            actions: [read, create, update, delete, restore, manage_users]
        can_grant: [centre_staff, performer_role, service]
    """,
    "service": """
        role: service
        label: {vi: Tài khoản tích hợp}
        grants:
          - entity: case
            scope: subtree
            actions: [read]
    """,
    "statistician": """
        role: statistician
        label: {vi: Thống kê}
        grants:
          - entity: case
            scope: statistics
            actions: [run_reports, export]
    """,
    "performer_role": """
        role: performer_role
        label: {vi: Người thực hiện}
        grants:
          - entity: case
            scope: assigned
            actions: [read, update, transition:end]
    """,
    "provincial": """
        role: provincial
        label: {vi: Sở}
        grants:
          - entity: case
            scope: subtree
            actions: [read, manage_users]
        can_grant: [centre_director, centre_staff]
    """,
}

# users: name -> (unit, roles)
USERS = {
    "staff1": ("TT", ["centre_staff"]),
    "staff2": ("TT2", ["centre_staff"]),
    "dir1": ("TT", ["centre_director"]),
    "dir2": ("TT2", ["centre_director"]),
    "stats": ("P01", ["statistician"]),
    "lawyer": ("TT", ["performer_role"]),
    "svc1": ("TT", ["service"]),
    "svc2": ("TT2", ["service"]),
    "prov": ("P01", ["provincial"]),
}


@pytest.fixture
def api_config(config_dir):
    config_dir.write("forms_config/lists/lists.yaml", LISTS)
    config_dir.write("forms_config/entities/case.yaml", CASE.replace("max_size: 1MB", "max_size: 1KB"))
    config_dir.write("forms_config/entities/performer.yaml", PERFORMER)
    config_dir.write("forms_config/forms/case_intake.yaml", INTAKE)
    config_dir.write("forms_config/workflows/case_lifecycle.yaml", WORKFLOW)
    config_dir.write("forms_config/calendar.yaml", CALENDAR)
    config_dir.write("roles_config/hierarchy.yaml", HIERARCHY)
    config_dir.write("roles_config/units/units.csv", UNITS)
    for name, text in ROLES.items():
        config_dir.write(f"roles_config/roles/{name}.yaml", text)
    return config_dir


@dataclass
class Api:
    web: Web
    ids: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    units: dict[str, int] = field(default_factory=dict)

    @property
    def client(self):
        return self.web.client

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}", "Accept-Language": "en"}

    async def req(self, method: str, url: str, user: str, **kw):
        headers = {**self.auth(user), **kw.pop("headers", {})}
        return await self.client.request(method, url, headers=headers, **kw)

    def case(self, unit: str = "TT", /, **extra: Any) -> dict:
        body = {"received_on": "2025-03-03", "form_of_aid": "TV", "requester": "Nguyễn Văn An", "age": 40,
                "unit": self.units[unit]}
        body.update(extra)
        return body

    async def create_case(self, user: str, unit: str = "TT", /, **extra: Any) -> dict:
        r = await self.req("POST", "/api/records/case", user, json=self.case(unit, **extra))
        assert r.status_code == 201, r.text
        return r.json()

    async def count(self, table: str = "case", where: str = "", *args: Any) -> int:
        return await self.web.count(table, where, *args)

    async def audit(self, **where: Any) -> list[dict]:
        sql = "SELECT id, actor_id, actor, origin, action, entity, record_id, changes FROM hoso_audit"
        if where:
            sql += " WHERE " + " AND ".join(f"{k} = {{}}" for k in where)
        return await self.web.rt.db.fetch(sql + " ORDER BY id", *where.values())


@pytest.fixture
async def api(api_config, database_url, tmp_path, monkeypatch):
    files = tmp_path / "files"
    monkeypatch.setenv("HOSO_FILES_DIR", str(files))
    async with running(api_config.root, database_url) as web:
        a = Api(web)
        rt = web.rt
        for r in await rt.db.fetch("SELECT id, code FROM hoso_unit"):
            a.units[r["code"]] = r["id"]
        root = Actor(None, "root", superuser=True, origin="test-setup")
        start = dt.date.today() - dt.timedelta(days=30)
        for name, (unit, roles) in USERS.items():
            a.ids[name] = await accounts.create_account(rt, root, name, PASSWORD, unit, roles=tuple(roles),
                                                        starts_on=start)
            a.tokens[name] = (await create_token(rt, root, a.ids[name], f"test token of {name}"))[1]
        a.ids["admin"] = await web.user("admin", superuser=True)
        a.tokens["admin"] = (await create_token(rt, root, a.ids["admin"], "test token of admin"))[1]
        a.files = files
        yield a
