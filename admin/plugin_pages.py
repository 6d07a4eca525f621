"""Pages and sidebar links plugins add to the admin (``hoso_admin_pages``, ``hoso_admin_menu_entries``).

A plugin page is served at ``/admin/hoso/pages/<path>`` to a signed-in admin user the page allows (others get
404, as for a record they may not see); it renders HTML in the user's language with the user's record context,
so what it reads is scoped like everything else.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from hoso.admin.pages import _page, _page_user
from hoso.i18n import t
from hoso.plugin_manager import collect

if TYPE_CHECKING:  # pragma: no cover
    from hoso.admin.app import AdminBuild
    from hoso.admin.auth import AdminUser

__all__ = ["AdminPage", "AdminMenuEntry", "page_routes", "menu_links", "PAGES_PREFIX"]

PAGES_PREFIX = "/hoso/pages/"


@dataclass(frozen=True)
class AdminPage:
    """A page at ``/admin/hoso/pages/<path>`` (GET): ``render(request, user)`` returns the page's HTML body,
    escaped by the plugin, or a starlette ``Response``; ``title`` holds ``vi`` and ``en``; ``allowed(user)``
    says who may open it. ``name`` (default: the path) is how a module of roles_config/modules.yaml names the
    page under ``menus``: where that module is off for the user, the page answers 404."""

    path: str
    title: dict[str, str]
    render: Callable[[Request, AdminUser], Awaitable[str | Response]]
    allowed: Callable[[AdminUser], bool] = lambda user: True
    name: str = ""

    @property
    def menu_name(self) -> str:
        return self.name or self.path.strip("/")


@dataclass(frozen=True)
class AdminMenuEntry:
    """A sidebar link: ``label`` holds ``vi`` and ``en``; ``href`` is relative to the admin (``./hoso/pages/x``)
    or absolute."""

    label: dict[str, str]
    href: str


def menu_links(build: AdminBuild, lang: str) -> dict[str, str]:
    """The sidebar links plugins add, labelled in ``lang``; a label used twice stops start-up."""
    entries = collect(build.rt.pm, "hoso_admin_menu_entries", lambda e: [e.label.get(lang) or e.label["vi"]],
                      "admin menu entry", config=build.rt.config)
    return {e.label.get(lang) or e.label["vi"]: e.href for e in entries}


def page_routes(build: AdminBuild) -> list[Route]:
    """One route per plugin page; a path used twice stops start-up."""
    pages = collect(build.rt.pm, "hoso_admin_pages", lambda p: [p.path.strip("/")], "admin page", runtime=build.rt)
    return [Route(PAGES_PREFIX + page.path.strip("/"), _endpoint(page), methods=["GET"]) for page in pages]


def _endpoint(page: AdminPage) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        user = await _page_user(request)
        if isinstance(user, Response):
            return user
        if page.menu_name in user.modules_off.get("menus", frozenset()) or not page.allowed(user):
            return Response(t("page_not_found", user.lang), status_code=404, media_type="text/plain")
        body: Any = await page.render(request, user)
        if isinstance(body, Response):
            return body
        return HTMLResponse(_page(page.title.get(user.lang) or page.title["vi"], body))

    return endpoint
