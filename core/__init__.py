"""hoso: YAML-defined records systems with a generated admin, extended by plugins.

The names a plugin author needs are importable from here (``from hoso import hookimpl, FieldType``). Only the
hook markers are loaded with the package; every other name is imported on first use, so ``import hoso`` stays
cheap and a low module can import ``hoso`` without pulling in the database, the web stack or the admin.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from hoso.hookspecs import hookimpl, hookspec

if TYPE_CHECKING:  # pragma: no cover
    from hoso.admin.forms import AdminForm
    from hoso.admin.plugin_pages import AdminMenuEntry, AdminPage
    from hoso.config import Config, ConfigKind, EntityDef, FieldDef, TransitionDef, WorkflowDef
    from hoso.fields import Converter, FieldType
    from hoso.plugin_manager import PluginError, await_me_maybe, get_plugin_manager
    from hoso.plugin_types import ActionDef, RecordEvent, ScheduledWork, ScopeRule, SystemTable
    from hoso.records.attachments import Storage
    from hoso.audit import AuditEvent
    from hoso.records.context import RecordContext
    from hoso.runtime import Runtime
    from hoso.web.api import request_context, same_site

# name -> module holding it; loaded by ``__getattr__`` on first access.
_LAZY: dict[str, str] = {
    "hookimpl": "hoso.hookspecs",
    "hookspec": "hoso.hookspecs",
    "get_plugin_manager": "hoso.plugin_manager",
    "await_me_maybe": "hoso.plugin_manager",
    "PluginError": "hoso.plugin_manager",
    "ScheduledWork": "hoso.plugin_types",
    "RecordEvent": "hoso.plugin_types",
    "SystemTable": "hoso.plugin_types",
    "ActionDef": "hoso.plugin_types",
    "ScopeRule": "hoso.plugin_types",
    "FieldType": "hoso.fields",
    "Converter": "hoso.fields",
    "Config": "hoso.config",
    "ConfigKind": "hoso.config",
    "EntityDef": "hoso.config",
    "FieldDef": "hoso.config",
    "WorkflowDef": "hoso.config",
    "TransitionDef": "hoso.config",
    "RecordContext": "hoso.records.context",
    "AuditEvent": "hoso.audit",
    "Storage": "hoso.records.attachments",
    "Runtime": "hoso.runtime",
    "AdminForm": "hoso.admin.forms",
    "AdminPage": "hoso.admin.plugin_pages",
    "AdminMenuEntry": "hoso.admin.plugin_pages",
    "request_context": "hoso.web.api",
    "same_site": "hoso.web.api",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hoso' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
