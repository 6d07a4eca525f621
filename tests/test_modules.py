"""A module switched on per unit exists only for the users of those units (and of the units above them).

The configuration is the API tests' one with a hotline module: its entity ``call``, the intake form of cases
and its route prefix ``/hotline`` are on for centre TT (under province P01) only. staff1 works at TT, prov at
P01 (above TT), staff2 at TT2 (P01's other centre) and far at TT3 (under P02). Every check goes through HTTP, on
both engines.
"""

from __future__ import annotations

import datetime as dt

import pydantic
import pytest
from litestar import Litestar, get
from litestar.datastructures import State
from litestar.testing import AsyncTestClient

from hoso import accounts
from hoso.admin.forms import AdminForm
from hoso.admin.plugin_pages import AdminPage
from hoso.config.types import Label
from hoso.hookspecs import hookimpl
from hoso.runtime import Runtime
from hoso.scope import Actor
from hoso.web.auth import WebSettings
from hoso.web.modules_guard import install
from hoso.web.problems import exception_handlers
from hoso.web.tokens import create_token
from tests.api import conftest as api_fixtures
from tests.records.conftest import CALENDAR, CASE, HIERARCHY, INTAKE, LISTS, PERFORMER, UNITS, WORKFLOW
from tests.web.conftest import PASSWORD, running

CALL = """
entity: call
label: {vi: Cuộc gọi tổng đài, en: Hotline call}
unit_field: unit
fields:
  caller: {type: text, required: true, label: {vi: Người gọi, en: Caller}}
  unit: {type: org_unit, required: true, label: {vi: Đơn vị, en: Unit}}
"""

CALL_GRANT = """
          - entity: call
            scope: subtree
            actions: [read, create]
"""

MODULES = """
modules:
  test.hotline:
    label: {vi: Tổng đài, en: Hotline}
    entities: [call]
    forms: [case_intake]
    routes: [/hotline]
    enabled_for: [TT]
"""


ROLES = api_fixtures.ROLES
api = api_fixtures.api  # the API tests' accounts and tokens, on this module's configuration (``api_config``)


def write_config(config_dir, modules: str = MODULES):
    config_dir.write("forms_config/lists/lists.yaml", LISTS)
    config_dir.write("forms_config/entities/case.yaml", CASE.replace("max_size: 1MB", "max_size: 1KB"))
    config_dir.write("forms_config/entities/performer.yaml", PERFORMER)
    config_dir.write("forms_config/entities/call.yaml", CALL)
    config_dir.write("forms_config/forms/case_intake.yaml", INTAKE)
    config_dir.write("forms_config/workflows/case_lifecycle.yaml", WORKFLOW)
    config_dir.write("forms_config/calendar.yaml", CALENDAR)
    config_dir.write("roles_config/hierarchy.yaml", HIERARCHY)
    config_dir.write("roles_config/units/units.csv", UNITS)
    config_dir.write("roles_config/modules.yaml", modules)
    for name, text in ROLES.items():
        if name in ("centre_staff", "provincial"):
            head, sep, tail = text.partition("        grants:\n")
            text = head + sep + CALL_GRANT.lstrip("\n") + tail
        config_dir.write(f"roles_config/roles/{name}.yaml", text)
    return config_dir


@pytest.fixture
def api_config(config_dir):
    return write_config(config_dir)


async def add_far_user(api) -> None:
    """far: centre staff at TT3, under the other province."""
    root = Actor(None, "root", superuser=True, origin="test-setup")
    rt = api.web.rt
    api.ids["far"] = await accounts.create_account(rt, root, "far", PASSWORD, "TT3", roles=("centre_staff",),
                                                   starts_on=dt.date.today() - dt.timedelta(days=30))
    api.tokens["far"] = (await create_token(rt, root, api.ids["far"], "test token of far"))[1]


def call(api, unit: str) -> dict:
    return {"caller": "Trần Thị Bình", "unit": api.units[unit]}


async def entity_names(api, user: str) -> set[str]:
    r = await api.req("GET", "/api/entities", user)
    assert r.status_code == 200, r.text
    return {e["name"] for e in r.json()}


async def test_the_entity_exists_where_the_module_is_on_and_above(api):
    await add_far_user(api)
    for user in ("staff1", "prov", "admin"):
        assert "call" in await entity_names(api, user), user
        r = await api.req("GET", "/api/records/call", user)
        assert r.status_code == 200, (user, r.text)
    for user in ("staff2", "far"):
        assert await entity_names(api, user) == {"case", "performer"}, user


async def test_off_is_answered_like_an_unknown_entity(api):
    created = await api.req("POST", "/api/records/call", "staff1", json=call(api, "TT"))
    assert created.status_code == 201, created.text
    rid = created.json()["id"]
    requests = [("GET", "", None), ("GET", f"/{rid}", None), ("POST", "", call(api, "TT2")),
                ("PATCH", f"/{rid}", {"sys_version": 1, "caller": "X"}), ("GET", f"/{rid}/history", None),
                ("GET", "/overdue", None)]
    for method, tail, body in requests:
        gated = await api.req(method, f"/api/records/call{tail}", "staff2", json=body)
        unknown = await api.req(method, f"/api/records/nosuch{tail}", "staff2", json=body)
        assert gated.status_code == 404, (method, tail, gated.text)
        assert (gated.status_code, gated.json()) == (unknown.status_code, unknown.json()), (method, tail)
    # the router reads repeated slashes as one: so does the guard
    for path in ("/api//records/call", "/api/records//call", f"/api/records/call//{rid}", "/api///records//call/"):
        sent = await api.req("GET", path, "staff2")
        assert sent.status_code == 404, (path, sent.text)
        assert (await api.req("GET", path, "staff1")).status_code == 200, path
    assert await api.count("call") == 1  # staff2's create never reached the table


async def test_a_record_at_a_unit_where_the_module_is_off_is_refused(api):
    # prov sees the module (TT, below P01, has it) and may create calls in P01's subtree, but TT2 has it off.
    r = await api.req("POST", "/api/records/call", "prov", json=call(api, "TT2"))
    assert r.status_code == 422, r.text
    [error] = r.json()["errors"]
    assert error["field"] == "unit"
    assert "test.hotline" in error["message"] and "TT2" in error["message"]
    assert "not switched on" in error["message"]
    r = await api.req("POST", "/api/records/call", "prov", json=call(api, "TT2"), headers={"Accept-Language": "vi"})
    assert r.status_code == 422 and "chưa được bật" in r.json()["errors"][0]["message"]
    assert await api.count("call") == 0
    # a unit id no unit can have (past PostgreSQL's 32-bit key) is refused as unknown, not a server error
    r = await api.req("POST", "/api/records/call", "prov", json={**call(api, "TT"), "unit": 2 ** 42})
    assert r.status_code == 422, r.text
    assert await api.count("call") == 0
    r = await api.req("POST", "/api/records/call", "prov", json=call(api, "TT"))
    assert r.status_code == 201, r.text


@get("/hotline/ping")
async def hotline_ping() -> dict:
    return {"pong": True}


@get("/hotlines")
async def not_the_module() -> dict:
    return {"other": True}


async def test_plugin_routes_under_the_module_prefix_answer_404_where_it_is_off(api, api_config, database_url):
    await add_far_user(api)
    rt = Runtime.create(api_config.root, database_url)

    async def start() -> None:
        await rt.db.start()

    async def stop() -> None:
        await rt.db.close()

    app = install(Litestar(route_handlers=[hotline_ping, not_the_module], exception_handlers=exception_handlers(),
                           on_startup=[start], on_shutdown=[stop],
                           state=State({"rt": rt, "settings": WebSettings.from_env()})))
    async with AsyncTestClient(app) as client:
        async def status(path: str, user: str | None) -> int:
            headers = api.auth(user) if user else {}
            return (await client.get(path, headers=headers)).status_code

        assert await status("/hotline/ping", "staff1") == 200
        assert await status("/hotline/ping", "prov") == 200
        assert await status("/hotline/ping", "admin") == 200
        assert await status("/hotline/ping", "staff2") == 404
        assert await status("/hotline/ping", "far") == 404
        assert await status("/hotline/ping", None) == 404  # anonymous: on at no root unit
        assert await status("/hotlines", "staff2") == 200  # a prefix is matched on whole path segments
        assert await status("/hotline//ping", "staff2") == 404 and await status("/hotline//ping", "staff1") == 200


async def test_admin_tables_of_an_off_module_do_not_exist(api):
    client = api.client

    async def as_user(username: str):
        client.cookies.clear()
        await client.get("/admin/")
        r = await client.post("/admin/public/login/", json={"username": username, "password": PASSWORD},
                              headers={"X-CSRFToken": client.cookies.get("csrftoken")})
        assert r.status_code in (200, 303), r.text
        tables = await client.get("/admin/api/tables/")
        assert tables.status_code == 200, tables.text
        return tables.json(), (await client.get("/admin/api/tables/call/")).status_code

    tables, status = await as_user("staff1")
    assert "call" in tables and status == 200
    tables, status = await as_user("staff2")
    assert "call" not in tables and "case" in tables
    assert status == 404


async def test_a_method_no_route_serves_is_answered_alike(api):
    for method in ("PUT", "DELETE"):
        gated = await api.req(method, "/api/records/call", "staff2")
        unknown = await api.req(method, "/api/records/nosuch", "staff2")
        assert (gated.status_code, gated.json()) == (unknown.status_code, unknown.json()), method


async def test_a_form_of_an_off_module_is_unknown(api):
    with_form = await api.req("POST", "/api/records/case?form=case_intake", "staff1", json=api.case("TT"))
    assert with_form.status_code == 201, with_form.text
    refused = await api.req("POST", "/api/records/case?form=case_intake", "staff2", json=api.case("TT2"))
    unknown = await api.req("POST", "/api/records/case?form=nosuch", "staff2", json=api.case("TT2"))
    assert refused.status_code == 422, refused.text
    [error], [other] = refused.json()["errors"], unknown.json()["errors"]
    assert error == {"field": "form", "message": other["message"].replace("nosuch", "case_intake")}
    rid = with_form.json()["id"]
    patched = await api.req("PATCH", f"/api/records/case/{rid}?form=case_intake", "staff2",
                            json={"sys_version": 1, "requester": "X"})
    assert patched.status_code == 422 and patched.json()["errors"][0]["field"] == "form"
    assert await api.count("case") == 1


class HotlinePlugin:
    """A plugin adding an admin form that the hotline module names among its menus."""

    class Period(pydantic.BaseModel):
        year: int = pydantic.Field(title="Năm")

    @hookimpl
    def hoso_admin_forms(self, config):
        return [AdminForm("hotline-calls", Label("Cuộc gọi trong năm", "Calls of the year"), self.Period,
                          lambda req: f"{req.data.year}")]

    @hookimpl
    def hoso_admin_pages(self, runtime):
        async def render(request, user):
            return "<p id='board'>hotline</p>"

        return [AdminPage("hotline-board", {"vi": "Bảng tổng đài", "en": "Hotline board"}, render)]


async def test_admin_forms_of_an_off_module_are_absent(config_dir, database_url):
    write_config(config_dir, MODULES.replace("routes: [/hotline]",
                                             "routes: [/hotline]\n    menus: [hotline-calls, hotline-board]"))
    async with running(config_dir.root, database_url, plugins=[HotlinePlugin()]) as web:
        root = Actor(None, "root", superuser=True, origin="test-setup")
        start = dt.date.today() - dt.timedelta(days=30)
        for name, unit in (("near", "TT"), ("away", "TT2")):
            await accounts.create_account(web.rt, root, name, PASSWORD, unit, roles=("centre_staff",),
                                          starts_on=start)
        client = web.client

        async def forms_of(username: str) -> tuple[set[str], int, int]:
            client.cookies.clear()
            await client.get("/admin/")
            csrf = {"X-CSRFToken": client.cookies.get("csrftoken")}
            r = await client.post("/admin/public/login/", json={"username": username, "password": PASSWORD},
                                  headers=csrf)
            assert r.status_code in (200, 303), r.text
            listed = {f["slug"] for f in (await client.get("/admin/api/forms/")).json()}
            opened = (await client.get("/admin/api/forms/hotline-calls/")).status_code
            sent = (await client.post("/admin/api/forms/hotline-calls/", json={"year": 2025}, headers=csrf)).status_code
            page = (await client.get("/admin/hoso/pages/hotline-board")).status_code
            return listed, opened, sent, page

        listed, opened, sent, page = await forms_of("near")
        assert "hotline-calls" in listed and opened == 200 and sent == 200 and page == 200
        listed, opened, sent, page = await forms_of("away")
        assert "hotline-calls" not in listed and opened == 404 and sent == 404 and page == 404
