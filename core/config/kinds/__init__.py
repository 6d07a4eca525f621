"""The built-in configuration kinds, one module each, registered through ``hoso_config_kinds``.

A plugin adds a kind the same way: return ``hoso.config.ConfigKind`` objects from its own
``hoso_config_kinds`` implementation.
"""

from __future__ import annotations

from hoso.hookspecs import hookimpl

from ..kind import ConfigKind
from . import calendar, entity, form, hierarchy, lists, modules, report, role, workflow

__all__ = ["BUILTIN_KINDS", "KINDS", "hoso_config_kinds"]

# In the order their files are read (and hashed).
BUILTIN_KINDS: tuple[ConfigKind, ...] = (
    lists.KIND, entity.KIND, form.KIND, workflow.KIND, report.KIND, hierarchy.KIND, role.KIND, modules.KIND,
    calendar.KIND,
)
KINDS: dict[str, ConfigKind] = {k.name: k for k in BUILTIN_KINDS}


@hookimpl
def hoso_config_kinds() -> list[ConfigKind]:
    return list(BUILTIN_KINDS)
