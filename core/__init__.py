"""hoso: YAML-defined records systems with a generated admin, extended by plugins.

The names a plugin author needs are importable from here (``from hoso import hookimpl, FieldType``). Only the
hook markers are loaded with the package; every other name is imported on first use, so ``import hoso`` stays
cheap and a low module can import ``hoso`` without pulling in the database, the web stack or the admin.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from hoso.hookspecs import hookimpl as hookimpl
from hoso.hookspecs import hookspec as hookspec

# The "name as name" form marks each name as re-exported for type checkers and linters.
if TYPE_CHECKING:  # pragma: no cover
    from hoso.admin.forms import AdminForm as AdminForm
    from hoso.admin.plugin_pages import AdminMenuEntry as AdminMenuEntry
    from hoso.admin.plugin_pages import AdminPage as AdminPage
    from hoso.audit import AuditEvent as AuditEvent
    from hoso.config import Config as Config
    from hoso.config import ConfigKind as ConfigKind
    from hoso.config import EntityDef as EntityDef
    from hoso.config import FieldDef as FieldDef
    from hoso.config import TransitionDef as TransitionDef
    from hoso.config import WorkflowDef as WorkflowDef
    from hoso.fields import Converter as Converter
    from hoso.fields import FieldType as FieldType
    from hoso.jobs import PermanentFailure as PermanentFailure
    from hoso.jobs import enqueue as enqueue
    from hoso.plugin_manager import PluginError as PluginError
    from hoso.plugin_manager import await_me_maybe as await_me_maybe
    from hoso.plugin_manager import get_plugin_manager as get_plugin_manager
    from hoso.plugin_types import ActionDef as ActionDef
    from hoso.plugin_types import Job as Job
    from hoso.plugin_types import JobKind as JobKind
    from hoso.plugin_types import RecordEvent as RecordEvent
    from hoso.plugin_types import ScheduledWork as ScheduledWork
    from hoso.plugin_types import ScopeRule as ScopeRule
    from hoso.plugin_types import SystemTable as SystemTable
    from hoso.records.attachments import Storage as Storage
    from hoso.records.context import RecordContext as RecordContext
    from hoso.runtime import Runtime as Runtime
    from hoso.web.api import request_context as request_context
    from hoso.web.api import same_site as same_site

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
    "Job": "hoso.plugin_types",
    "JobKind": "hoso.plugin_types",
    "enqueue": "hoso.jobs",
    "PermanentFailure": "hoso.jobs",
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
