"""Field types and value converters, and the registry that collects them from plugins once at start-up."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pluggy
from piccolo.columns import Column
from pluggy import HookImpl

from hoso.config import BUILTIN_TRAITS, ConfigKind, FieldDef, FieldTraits, traits_for_storage

__all__ = ["FieldType", "FieldTraits", "Converter", "Registry", "RegistryError", "same"]


def same(v: Any) -> Any:
    """A value as it is: what a type whose values need no conversion loads, dumps and stores (readers of many
    values, such as a list page, skip it)."""
    return v


@dataclass(frozen=True)
class FieldType:
    """How one field type is stored, parsed and shown.

    :param name: the type name used in entity YAML (``type: citizen_id``).
    :param storage: the storage class (``text``, ``integer``, ``decimal``, ``boolean``, ``date``, ``datetime``);
        two types with the same storage share a column type, so a change between them rewrites no column.
    :param column: builds the piccolo column for a field of this type.
    :param parse: turns an input value (JSON from a request, or a stored value during a conversion) into the
        Python value stored; raises ``ValueError`` with a message a user can act on.
    :param dump: turns a stored Python value into JSON.
    :param load: turns what the database returns into the Python value (e.g. JSON text into a list).
    :param to_db: turns the Python value into what the database stores.
    :param traits: what the type is (textual, orderable, searchable, its type-specific options ...), asked by
        the loader, search, conditions and the admin; by default a built-in type's own traits, else those
        its storage class implies.
    """

    name: str
    storage: str
    column: Callable[[FieldDef], Column]
    parse: Callable[[FieldDef, Any], Any]
    dump: Callable[[Any], Any] = same
    load: Callable[[Any], Any] = same
    to_db: Callable[[Any], Any] = same
    traits: FieldTraits = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.traits is None:
            object.__setattr__(self, "traits", BUILTIN_TRAITS.get(self.name) or traits_for_storage(self.storage))

    @property
    def textual(self) -> bool:
        return self.traits.textual

    @property
    def orderable(self) -> bool:
        return self.traits.orderable

    @property
    def searchable(self) -> bool:
        return self.traits.searchable

    @property
    def numeric(self) -> bool:
        return self.traits.numeric

    @property
    def has_choices(self) -> bool:
        return self.traits.has_choices


@dataclass(frozen=True)
class Converter:
    """Converts one stored value of type ``source`` into a value of type ``target`` (``"*"`` matches any)."""

    source: str
    target: str
    convert: Callable[[FieldDef, Any], Any]


class RegistryError(Exception):
    pass


def _provided(impl: HookImpl) -> Iterable[Any]:
    """What one plugin's implementation of a list-returning hook gives (None when it gives nothing)."""
    result: Any = impl.function()
    return result or ()


def _config_kinds(pm: pluggy.PluginManager) -> list[ConfigKind]:
    kinds: dict[str, ConfigKind] = {}
    owners: dict[str, str] = {}
    for impl in pm.hook.hoso_config_kinds.get_hookimpls():
        for kind in _provided(impl):
            if kind.name in kinds and kinds[kind.name] is not kind:
                raise RegistryError(f"configuration kind {kind.name!r} is provided by both {owners[kind.name]} "
                                    f"and {impl.plugin_name}")
            kinds[kind.name] = kind
            owners.setdefault(kind.name, impl.plugin_name)
    return list(kinds.values())


class Registry:
    """Field types and converters from every plugin, collected once."""

    def __init__(self, pm: pluggy.PluginManager):
        self.pm = pm
        self.field_types: dict[str, FieldType] = {}
        owners: dict[str, str] = {}
        for impl in pm.hook.hoso_field_types.get_hookimpls():
            for ft in _provided(impl):
                if ft.name in self.field_types:
                    raise RegistryError(
                        f"field type {ft.name!r} is provided by both {owners[ft.name]} and {impl.plugin_name}"
                    )
                self.field_types[ft.name] = ft
                owners[ft.name] = impl.plugin_name
        self.converters: list[Converter] = []
        for result in pm.hook.hoso_converters():
            self.converters.extend(result or ())
        self.config_kinds = _config_kinds(pm)
        self.config_directories = [(impl.plugin_name, str(folder))
                                   for impl in pm.hook.hoso_config_directories.get_hookimpls()
                                   for folder in _provided(impl)]

    def config_options(self) -> dict[str, Any]:
        """What ``load_config`` needs to know of the plugins: field types, configuration kinds and folders."""
        return {"field_types": self.traits_by_type(), "kinds": self.config_kinds,
                "directories": self.config_directories}

    def storage_by_type(self) -> dict[str, str]:
        """Field type name -> storage class, for the configuration loader."""
        return {name: ft.storage for name, ft in self.field_types.items()}

    def traits_by_type(self) -> dict[str, FieldTraits]:
        """Field type name -> what the type is, for the configuration loader."""
        return {name: ft.traits for name, ft in self.field_types.items()}

    def field_type(self, name: str) -> FieldType:
        try:
            return self.field_types[name]
        except KeyError:
            raise RegistryError(f"no plugin provides field type {name!r}") from None

    def converter(self, source: str, target: str) -> Converter | None:
        ranked: list[tuple[int, int, Converter]] = []
        for c in self.converters:
            if c.source in (source, "*") and c.target in (target, "*"):
                ranked.append(((c.source == "*") + (c.target == "*"), len(ranked), c))
        return min(ranked)[2] if ranked else None
