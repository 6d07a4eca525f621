"""The internals of piccolo-admin and piccolo-api that hoso hooks into. Upgrading either must fail here, loudly,
before an admin without row scoping could be served (admin/router.py lists the hook points)."""

from __future__ import annotations

import inspect
import re
from importlib.metadata import version
from pathlib import Path

import piccolo_admin.endpoints as pae
from piccolo_api.crud.endpoints import PiccoloCRUD
from piccolo_api.fastapi.endpoints import FastAPIWrapper
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.routing import Mount

from hoso.admin.auth import HosoAuthBackend
from hoso.admin.crud import ScopedCRUD
from hoso.admin.router import HOOKED_CRUD_METHODS, HosoAdminRouter
from tests.conftest import REPO

PINS = {"piccolo-admin": "1.14.0", "piccolo-api": "1.11.0", "piccolo": "1.38.0"}

# method -> its parameters in piccolo-api 1.11
SIGNATURES = {
    "root": ["self", "request"],
    "get_all": ["self", "request", "params"],
    "detail": ["self", "request"],
    "get_single": ["self", "request", "row_id"],
    "get_ids": ["self", "request"],
    "get_count": ["self", "request"],
    "get_schema": ["self", "request"],
    "get_new": ["self", "request"],
    "get_references": ["self", "request"],
    "post_single": ["self", "request", "data"],
    "patch_single": ["self", "request", "row_id", "data"],
    "put_single": ["self", "request", "row_id", "data"],
    "delete_single": ["self", "request", "row_id"],
    "delete_all": ["self", "request", "params"],
    "_apply_filters": ["self", "query", "params"],
    "_split_params": ["self", "params"],
    "_parse_params": ["self", "params"],
}


def test_versions_are_pinned_and_installed():
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    for name, pinned in PINS.items():
        assert re.search(rf'"{re.escape(name)}(\[[^\]]*\])?=={re.escape(pinned)}"', text), f"{name} is not pinned"
        assert version(name) == pinned, f"{name} {version(name)} is installed, hoso hooks into {pinned}"


def test_piccolo_crud_methods_hoso_overrides_are_there():
    for name, params in SIGNATURES.items():
        method = getattr(PiccoloCRUD, name, None)
        assert method is not None, f"PiccoloCRUD.{name} is gone"
        assert list(inspect.signature(method).parameters) == params, f"PiccoloCRUD.{name} changed its signature"
    for name in HOOKED_CRUD_METHODS:
        assert getattr(ScopedCRUD, name) is not getattr(PiccoloCRUD, name), f"ScopedCRUD does not override {name}"


def test_admin_builds_crud_by_module_name_and_routes_call_the_hooked_methods():
    init = inspect.getsource(pae.AdminRouter.__init__)
    assert "piccolo_crud=PiccoloCRUD(" in init, "AdminRouter no longer builds its CRUD by the module-level name"
    assert "FastAPIWrapper(" in init
    assert "SessionsAuthBackend(" in init and 'self.mount(path="/api", app=auth_middleware(private_app))' in init
    create = inspect.getsource(pae.create_admin)
    assert "return AdminRouter(" in create
    wrapper = inspect.getsource(FastAPIWrapper.__init__)
    called = set(re.findall(r"piccolo_crud\.(\w+)\(request=request\)", wrapper))
    assert called == {"root", "get_ids", "get_new", "get_count", "get_schema", "get_references", "detail"}, called
    # every route of a table reaches the CRUD only through those methods (all overridden)
    assert called <= set(HOOKED_CRUD_METHODS)
    for name in ("get_table_list", "get_table_list_grouped", "get_forms", "get_grouped_forms", "get_single_form",
                 "get_single_form_schema", "post_single_form"):
        assert f"endpoint=self.{name}" in init, f"AdminRouter no longer routes to self.{name}"
        assert name in HosoAdminRouter.__dict__


async def test_a_built_admin_is_scoped_everywhere(admin):
    build = admin.web.app.state.admin.build
    router = build.router
    assert isinstance(router, HosoAdminRouter)
    assert set(build.cruds) == set(build.tables.specs)
    assert all(type(c) is ScopedCRUD for c in build.cruds.values())
    mounts = [r for r in router.routes if isinstance(r, Mount) and r.path == "/api"]
    assert len(mounts) == 1 and isinstance(mounts[0].app, AuthenticationMiddleware)
    assert isinstance(mounts[0].app.backend, HosoAuthBackend)
    # the routes FastAPI serves for the tables hold ScopedCRUD instances only
    private = mounts[0].app.app
    cruds = set()
    for route in private.routes:
        endpoint = getattr(route, "endpoint", None)
        for cell in getattr(endpoint, "__closure__", None) or ():
            if isinstance(cell.cell_contents, PiccoloCRUD):
                cruds.add(type(cell.cell_contents))
    assert cruds == {ScopedCRUD}
    # and the module-level names are back as they were
    assert pae.PiccoloCRUD is PiccoloCRUD and pae.AdminRouter is not HosoAdminRouter


def test_pinned_front_end_is_the_one_the_integration_was_written_for():
    """The admin's front end calls the endpoints and reads the fields hoso answers; its bundle is in the wheel."""
    dist = Path(pae.__file__).parent / "dist" / "assets"
    bundles = list(dist.glob("index-*.js"))
    assert len(bundles) == 1
    js = bundles[0].read_text(encoding="utf-8")
    for needle in ("./public/login/", "./public/logout/", "tables/${t.tableName}/ids/", "X-CSRFToken",
                   "extra.choices", "extra.foreign_key", "custom_form_error", "piccoloAdminDefaultLanguage"):
        assert needle in js, needle
