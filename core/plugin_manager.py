"""The plugin manager and the list of built-in plugins."""

from __future__ import annotations

import importlib
import inspect
from typing import Any, Iterable

import pluggy

from hoso import hookspecs
from hoso.settings import get as setting

__all__ = ["DEFAULT_PLUGINS", "get_plugin_manager", "await_me_maybe", "PluginError"]

# Built-in behaviour is plugins too; a deployment's plugin implementing the same hook wins where a hook
# takes one answer, and adds to the list where hooks collect.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "hoso.plugins.fields",
    "hoso.plugins.converters",
    "hoso.plugins.audit",
    "hoso.plugins.validators",
    "hoso.plugins.storage",
)


class PluginError(Exception):
    pass


def get_plugin_manager(extra: Iterable[Any] = (), *, load_entrypoints: bool | None = None) -> pluggy.PluginManager:
    """A fresh plugin manager with the default plugins, entry-point plugins and ``extra`` registered.

    Entry points (group ``hoso``) are skipped under test (``HOSO_DISABLE_ENTRYPOINTS=1``) so a test run does not
    depend on what is installed.
    """
    pm = pluggy.PluginManager("hoso")
    pm.add_hookspecs(hookspecs)
    for name in DEFAULT_PLUGINS:
        pm.register(importlib.import_module(name), name=name)
    if load_entrypoints is None:
        load_entrypoints = not setting("HOSO_DISABLE_ENTRYPOINTS")
    if load_entrypoints:
        pm.load_setuptools_entrypoints("hoso")
    for plugin in extra:
        pm.register(plugin)
    return pm


async def await_me_maybe(value: Any) -> Any:
    """Resolve a hook answer that may be a value, a callable or an awaitable."""
    if callable(value):
        value = value()
    if inspect.isawaitable(value):
        value = await value
    return value
