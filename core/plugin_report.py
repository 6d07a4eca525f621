"""What ``hoso plugins`` prints: each plugin, where it comes from, the hooks it implements, and the modules."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

import pluggy

from hoso.plugin_manager import DEFAULT_PLUGINS, ESSENTIAL_PLUGINS, shown_name

if TYPE_CHECKING:  # pragma: no cover
    from hoso.config import Config

__all__ = ["describe_plugins", "module_lines"]


def describe_plugins(pm: pluggy.PluginManager) -> list[str]:
    """One block of lines per plugin, in the order they were registered (blocked ones included)."""
    dists = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
    lines = []
    for name, plugin in pm.list_name_plugin():
        lines.append(f"{shown_name(name, plugin)}  [{_origin(name, plugin, dists)}]  {_status(name, plugin)}")
        if plugin is not None:
            hooks = sorted(caller.name for caller in pm.get_hookcallers(plugin) or ())
            lines.append(f"    hooks: {', '.join(hooks) or '-'}")
    return lines


def _origin(name: str, plugin: Any, dists: dict[int, Any]) -> str:
    if name in DEFAULT_PLUGINS:
        return f"built-in, hoso {_version('hoso')}"
    dist = dists.get(id(plugin))
    if dist is not None:
        return f"entry point, {dist.project_name} {dist.version}"
    return "entry point" if plugin is None else "registered by the application or HOSO_PLUGINS"


def _status(name: str, plugin: Any) -> str:
    if plugin is None:
        return "blocked (HOSO_BLOCK_PLUGINS)"
    return "essential" if name in ESSENTIAL_PLUGINS else "blockable"


def _version(dist: str) -> str:
    try:
        return version(dist)
    except PackageNotFoundError:  # pragma: no cover
        return "?"


def module_lines(config: Config) -> list[str]:
    """Each module of roles_config/modules.yaml with the units it is on for (each with the units below it)."""
    if not config.modules:
        return ["modules: none configured (roles_config/modules.yaml)"]
    lines = ["modules:"]
    for module in config.modules:
        where = f"on for {', '.join(module.enabled_for)} and the units below" if module.enabled_for else "off"
        lines.append(f"  {module.name}: {where}")
    return lines
