"""The admin's plugin hook. It is added to the plugin manager when the admin is built, so plugins implement it
with the usual ``hoso.hookspecs.hookimpl`` marker.

(To be moved into ``core/hookspecs.py`` with the other hooks; until then this module keeps the admin's hook
with the admin.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:  # pragma: no cover
    from hoso.admin.forms import AdminForm
    from hoso.config import Config

__all__ = ["hoso_admin_forms", "ensure_hookspecs"]

hookspec = pluggy.HookspecMarker("hoso")


@hookspec
def hoso_admin_forms(config: "Config") -> "list[AdminForm]":
    """Forms to add to the generated admin (``hoso.admin.forms.AdminForm``), e.g. report templates that download
    CSV or XLSX. Each form says who may use it (``allowed``); its handler gets the user's record context, so
    what it reads is scoped like everything else."""


def ensure_hookspecs(pm: pluggy.PluginManager) -> None:
    caller = getattr(pm.hook, "hoso_admin_forms", None)
    if caller is None or caller.spec is None:
        import hoso.admin.hooks

        pm.add_hookspecs(hoso.admin.hooks)
