"""Admin pages and sidebar links from plugins (hoso_admin_pages, hoso_admin_menu_entries)."""

from __future__ import annotations

import html
from types import SimpleNamespace

import pytest

from hoso import AdminMenuEntry, AdminPage, hookimpl
from hoso.admin.plugin_pages import menu_links, page_routes
from hoso.plugin_manager import PluginError
from hoso.runtime import Runtime
from tests.admin.conftest import AdminClient, serving


class CaseCount:
    """A page counting the cases the user may read, for users who may export cases; and its sidebar link."""

    @hookimpl
    def hoso_admin_menu_entries(self, config):
        return [AdminMenuEntry({"vi": "Đếm vụ việc", "en": "Case count"}, "./hoso/pages/case-count")]

    @hookimpl
    def hoso_admin_pages(self, runtime):
        async def render(request, user):
            _rows, total = await runtime.records().list("case", user.ctx)
            return f"<p id='n'>{total}</p><p>{html.escape(user.display_name)}</p>"

        return [AdminPage("case-count", {"vi": "Đếm vụ việc", "en": "Case count"}, render,
                          allowed=lambda user: user.may("read", "case"))]


async def test_plugin_page_is_scoped_and_linked_from_the_sidebar(prepared, admin_db, monkeypatch):
    monkeypatch.setenv("HOSO_ADMIN_RELOAD_SECONDS", "0")
    async with serving(prepared.config, admin_db, plugins=[CaseCount()]) as web:
        admin = AdminClient(web, prepared.seed)
        r = await web.client.get("/admin/hoso/pages/case-count")
        assert r.status_code == 401
        await admin.login("quan.tri")
        links = (await admin.get("/links/")).json()
        assert links["Đếm vụ việc"] == "./hoso/pages/case-count"
        r = await web.client.get("/admin/hoso/pages/case-count")
        assert r.status_code == 200, r.text
        assert "<title>Đếm vụ việc</title>" in r.text and "<p id='n'>3</p>" in r.text
        await admin.login("tt02.staff")  # sees Hà Giang's case only
        r = await web.client.get("/admin/hoso/pages/case-count")
        assert r.status_code == 200 and "<p id='n'>1</p>" in r.text
        await admin.login("thong.ke")  # statistics only: may not read case rows, so no page
        r = await web.client.get("/admin/hoso/pages/case-count")
        assert r.status_code == 404 and r.text == "Không tìm thấy trang."


def test_one_path_or_label_taken_twice_stops_start_up(prepared, tmp_path):
    build = SimpleNamespace(rt=Runtime.create(prepared.config, f"sqlite:///{tmp_path / 'x.db'}",
                                              plugins=[CaseCount(), CaseCount()]))
    with pytest.raises(PluginError, match="admin page 'case-count' is registered by both 'CaseCount' and "
                                          "'CaseCount'"):
        page_routes(build)
    with pytest.raises(PluginError, match="admin menu entry 'Case count' is registered by both"):
        menu_links(build, "en")
