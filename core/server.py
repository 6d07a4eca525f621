"""The whole hoso application: the web layer (API, sign-in, pages) with the admin mounted in it.

``hoso serve`` and the tests build the application here, so the web layer never needs to know the admin.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from litestar import Litestar

from hoso.admin import AdminApp
from hoso.web import app as web_app
from hoso.web.app import DefinitionsDiffer, ensure_applied
from hoso.web.auth import WebSettings

if TYPE_CHECKING:  # pragma: no cover
    from hoso.runtime import Runtime

__all__ = ["create_app", "DefinitionsDiffer", "ensure_applied"]


def create_app(rt: Runtime, settings: WebSettings | None = None) -> Litestar:
    """The application for ``rt``: the web layer with the admin at /admin/ (built once from the configuration,
    rebuilt after ``hoso migrate``; see docs/admin.md). It refuses to start when the database does not match the
    configuration."""
    settings = settings or WebSettings.from_env()
    return web_app.create_app(rt, settings, parts={"admin": AdminApp(rt, settings)})
