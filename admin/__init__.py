"""The generated admin: piccolo-admin mounted at ``/admin/``, scoped and written through the record service.

See docs/admin.md. ``AdminApp(runtime, settings)`` is mounted by ``hoso.server.create_app``.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hoso.admin.app import AdminApp, AdminBuild
    from hoso.admin.forms import AdminForm, AdminFormRequest, Download

__all__ = ["AdminApp", "AdminBuild", "AdminForm", "AdminFormRequest", "Download"]

# Imported on first use: every plugin manager loads ``hoso.admin.config`` (the admin kind), and the command
# line should not pay for piccolo-admin to check a configuration.
_HOME = {"AdminApp": "hoso.admin.app", "AdminBuild": "hoso.admin.app", "AdminForm": "hoso.admin.forms",
         "AdminFormRequest": "hoso.admin.forms", "Download": "hoso.admin.forms"}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'hoso.admin' has no attribute {name!r}")
    return getattr(import_module(_HOME[name]), name)
