"""The generated admin: piccolo-admin mounted at ``/admin/``, scoped and written through the record service.

See docs/admin.md. ``AdminApp(runtime, settings)`` is mounted by ``hoso.server.create_app``.
"""

from __future__ import annotations

from hoso.admin.app import AdminApp, AdminBuild
from hoso.admin.forms import AdminForm, AdminFormRequest, Download

__all__ = ["AdminApp", "AdminBuild", "AdminForm", "AdminFormRequest", "Download"]
