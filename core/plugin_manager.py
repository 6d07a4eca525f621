"""The plugin manager: the built-in plugins, entry-point plugins, blocking, and start-up checks.

Start-up stops (``PluginError``, message in Vietnamese then English) when a plugin implements a hook that does
not exist (a misspelt ``hoso_*`` name, with the closest hook named), when a blocked name is unknown or
essential, and, in ``collect``, when two plugins register one name.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import re
from collections.abc import Callable, Iterable
from typing import Any

import pluggy

from hoso import hookspecs
from hoso.i18n import t
from hoso.settings import get as setting

__all__ = ["DEFAULT_PLUGINS", "ESSENTIAL_PLUGINS", "get_plugin_manager", "await_me_maybe", "PluginError",
           "collect", "plugin_name", "hook_names", "blocked_names", "plugin_system_tables", "plugin_actions",
           "plugin_scope_rules", "config_extensions"]

# Built-in behaviour is plugins too; a deployment's plugin implementing the same hook wins where a hook
# takes one answer, and adds to the list where hooks collect.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "hoso.plugins.fields",
    "hoso.plugins.converters",
    "hoso.plugins.audit",
    "hoso.plugins.validators",
    "hoso.plugins.storage",
    "hoso.config.kinds",
    "hoso.plugins.scheduler",
    "hoso.plugins.period_lock",
    "hoso.admin.config",
    "hoso.plugins.jobs",
    "hoso.plugins.notifications",
)
# Without these, records would be written unchecked or without their audit trail: they cannot be blocked.
# The built-in configuration kinds are read whatever the plugin manager holds (hoso.config.load_config adds them),
# so blocking them could only mislead.
ESSENTIAL_PLUGINS: frozenset[str] = frozenset({"hoso.plugins.audit", "hoso.plugins.validators", "hoso.config.kinds"})

BLOCK_SETTING = "HOSO_BLOCK_PLUGINS"
# Modules to register as plugins besides the entry points (also under test, where entry points are skipped).
PLUGINS_SETTING = "HOSO_PLUGINS"



class PluginError(Exception):
    """A plugin problem that stops start-up; the message is in Vietnamese, then English."""

    @classmethod
    def of(cls, key: str, **values: Any) -> PluginError:
        return cls(f"{t(key, 'vi', **values)} / {t(key, 'en', **values)}")


def hook_names() -> list[str]:
    """The name of every hook in ``hoso.hookspecs``."""
    return sorted(n for n, f in inspect.getmembers(hookspecs, inspect.isfunction) if n.startswith("hoso_"))


def blocked_names(value: str | None = None) -> list[str]:
    """The plugin names ``HOSO_BLOCK_PLUGINS`` (or ``value``, comma-separated) lists."""
    if value is None:
        return list(setting(BLOCK_SETTING))
    return [n.strip() for n in value.split(",") if n.strip()]


def added_names() -> list[str]:
    """The modules ``HOSO_PLUGINS`` names, to register as plugins."""
    return list(setting(PLUGINS_SETTING))


def get_plugin_manager(extra: Iterable[Any] = (), *, load_entrypoints: bool | None = None,
                       block: Iterable[str] | None = None) -> pluggy.PluginManager:
    """A fresh plugin manager with the default plugins, entry-point plugins and ``extra`` registered.

    Entry points (group ``hoso``) are skipped under test (``HOSO_DISABLE_ENTRYPOINTS=1``) so a test run does not
    depend on what is installed; ``HOSO_PLUGINS`` names modules to register all the same. ``block`` (default:
    ``HOSO_BLOCK_PLUGINS``) names plugins not to load.
    """
    pm = pluggy.PluginManager("hoso")
    pm.add_hookspecs(hookspecs)
    if load_entrypoints is None:
        load_entrypoints = not setting("HOSO_DISABLE_ENTRYPOINTS")
    _block(pm, list(blocked_names() if block is None else block), load_entrypoints)
    for name in DEFAULT_PLUGINS:
        _register(pm, importlib.import_module(name), name)
    if load_entrypoints:
        try:
            pm.load_setuptools_entrypoints("hoso")
        except pluggy.PluginValidationError as exc:
            raise _validation_error(exc) from None
    for name in added_names():
        module = importlib.import_module(name)
        if not pm.is_registered(module):
            _register(pm, module, name)
    for plugin in extra:
        _register(pm, plugin, None)
    check_pending(pm)
    return pm


def _entry_point_names() -> list[str]:
    from importlib.metadata import entry_points

    return [ep.name for ep in entry_points(group="hoso")]


def _block(pm: pluggy.PluginManager, names: list[str], entrypoints: bool) -> None:
    known = [*DEFAULT_PLUGINS, *(_entry_point_names() if entrypoints else []),
             *added_names()]
    for name in names:
        if name in ESSENTIAL_PLUGINS:
            raise PluginError.of("plugin_block_essential", setting=BLOCK_SETTING, name=name)
        if name not in known:
            raise PluginError.of("plugin_block_unknown", setting=BLOCK_SETTING, name=name, known=", ".join(known))
        pm.set_blocked(name)


def _register(pm: pluggy.PluginManager, plugin: Any, name: str | None) -> None:
    try:
        pm.register(plugin, name=name)
    except pluggy.PluginValidationError as exc:
        raise _validation_error(exc) from None


def _validation_error(exc: pluggy.PluginValidationError) -> PluginError:
    text = str(exc)
    hook = re.search(r"for hook '(\w+)'", text)
    hook_name = hook.group(1) if hook else "?"
    args = re.search(r"Argument\(s\) \{(.*?)\} are declared in the hookimpl", text)
    if args:
        return PluginError.of("plugin_bad_args", plugin=_display(exc.plugin), hook=hook_name, args=args.group(1))
    return PluginError.of("plugin_bad_hook", plugin=_display(exc.plugin), hook=hook_name, detail=text.strip())


def _display(plugin: Any) -> str:
    return getattr(plugin, "__name__", None) or type(plugin).__name__


def check_pending(pm: pluggy.PluginManager) -> None:
    """Stop start-up when a plugin defines a ``hoso_*`` function that is no hook (marked or not: an unmarked
    misspelling would otherwise be silently ignored)."""
    known = set(hook_names())
    for name, plugin in pm.list_name_plugin():
        if plugin is None:  # blocked
            continue
        for attr in dir(plugin):
            if attr.startswith("hoso_") and attr not in known and callable(getattr(plugin, attr, None)):
                close = difflib.get_close_matches(attr, sorted(known), n=1)
                key = "plugin_unknown_hook_near" if close else "plugin_unknown_hook"
                raise PluginError.of(key, plugin=shown_name(name, plugin), hook=attr, near=close[0] if close else "")
    pm.check_pending()


def plugin_name(pm: pluggy.PluginManager, impl: pluggy.HookImpl) -> str:
    return shown_name(impl.plugin_name or pm.get_name(impl.plugin), impl.plugin)


def shown_name(name: str | None, plugin: Any) -> str:
    """A plugin's registered name, or for an object registered without one (pluggy names it by its id) its
    class's name."""
    return name if name and not name.isdigit() else _display(plugin)


def collect(pm: pluggy.PluginManager, hook: str, key: Callable[[Any], Any], what: str,
            **kwargs: Any) -> list[Any]:
    """Every item the implementations of list-returning ``hook`` give, stopping at a key given twice.

    ``key(item)`` lists the names an item takes (a command's name; a route's paths with their methods);
    ``what`` names the kind of item in the error (``"command"``). Items keep the order of
    ``pm.hook.<hook>()`` (deployment plugins first).
    """
    seen: dict[Any, str] = {}
    items: list[Any] = []
    for impl in reversed(getattr(pm.hook, hook).get_hookimpls()):
        args = {a: kwargs[a] for a in impl.argnames}
        for item in impl.function(**args) or ():
            by = plugin_name(pm, impl)
            for k in key(item):
                if k in seen:
                    raise PluginError.of("plugin_duplicate", what=what, name=k, first=seen[k], second=by)
                seen[k] = by
            items.append(item)
    return items


async def await_me_maybe(value: Any) -> Any:
    """Resolve a hook answer that may be a value, a callable or an awaitable."""
    if callable(value):
        value = value()
    if inspect.isawaitable(value):
        value = await value
    return value


def plugin_system_tables(pm: pluggy.PluginManager, make: Callable[..., Any], taken: set[str]) -> dict[str, Any]:
    """The table classes of ``hoso_system_tables``, built by ``make(class_name, table_name, columns)``; a name
    the system or another plugin already uses stops start-up."""
    out: dict[str, Any] = {}
    for table in collect(pm, "hoso_system_tables", lambda t: [t.name], "table"):
        if table.name in taken:
            raise PluginError.of("plugin_duplicate", what="table", name=table.name, first="hoso",
                                 second=_owner(pm, "hoso_system_tables"))
        class_name = "".join(part.title() for part in table.name.split("_"))
        columns = table.columns()
        for index in table.indexes:
            unknown = [c for c in index if c not in columns and c != "id"]
            if not index or unknown:
                raise PluginError.of("plugin_index_column", table=table.name, index=", ".join(index),
                                     columns=", ".join(unknown) or "-")
        out[table.name] = make(class_name, table.name, columns)
        out[table.name]._hoso_indexes = tuple(tuple(i) for i in table.indexes)
    return out


def _owner(pm: pluggy.PluginManager, hook: str) -> str:
    return ", ".join(plugin_name(pm, impl) for impl in getattr(pm.hook, hook).get_hookimpls())


# The built-in actions and scopes (hoso.config.loader.ACTIONS, hoso.scope.SCOPES), which plugins may not take.
_BUILT_IN_ACTIONS = {"read", "create", "update", "delete", "restore", "export", "run_reports", "approve_reports",
                     "manage_users"}
_BUILT_IN_SCOPES = {"own", "assigned", "unit", "subtree", "statistics", "national", "link"}


def _named(pm: pluggy.PluginManager, hook: str, what: str, taken: set[str]) -> list[Any]:
    items = collect(pm, hook, lambda item: [item.name], what)
    for item in items:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", item.name):
            raise PluginError.of("plugin_bad_name", what=what, name=item.name, plugin=_owner(pm, hook))
        if item.name in taken:
            raise PluginError.of("plugin_duplicate", what=what, name=item.name, first="hoso", second=_owner(pm, hook))
    return items


def plugin_actions(pm: pluggy.PluginManager) -> list[Any]:
    """The actions of ``hoso_actions``; a name hoso or another plugin uses stops start-up."""
    return _named(pm, "hoso_actions", "action", _BUILT_IN_ACTIONS)


def plugin_scope_rules(pm: pluggy.PluginManager) -> dict[str, Any]:
    """The scope kinds of ``hoso_scope_rules`` by name; a name hoso or another plugin uses stops start-up."""
    return {rule.name: rule for rule in _named(pm, "hoso_scope_rules", "scope", _BUILT_IN_SCOPES)}


def config_extensions(pm: pluggy.PluginManager) -> dict[str, Any]:
    """What plugins add to the configuration's vocabulary, as keyword arguments of ``load_config``."""
    return {"actions": [a.name for a in plugin_actions(pm)], "scope_kinds": list(plugin_scope_rules(pm))}
