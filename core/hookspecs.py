"""Every hook a hoso plugin can implement, in one place.

Core calls only ``pm.hook.*``; the built-in behaviour is itself a set of plugins (``core.plugins.DEFAULT_PLUGINS``).
``register_*``-style hooks (those returning lists of things) are collected once at start-up; a name registered
twice stops start-up with an error naming both plugins. Hooks may return a value or an awaitable where noted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # pragma: no cover
    from core.config import Config, EntityDef, FieldDef
    from core.fields import Converter, FieldType
    from core.records.service import AuditEvent, RecordContext

hookspec = pluggy.HookspecMarker("hoso")
hookimpl = pluggy.HookimplMarker("hoso")

__all__ = ["hookspec", "hookimpl"]


@hookspec
def hoso_field_types() -> "list[FieldType]":
    """Field types this plugin provides.

    Collected once at start-up. Each ``FieldType`` says how values of the type are stored (a piccolo column),
    parsed from input and written to JSON. A type name provided twice stops start-up.

    :return: a list of ``core.fields.FieldType``.
    """


@hookspec
def hoso_converters() -> "list[Converter]":
    """Value conversions used by a declared type change (``convert: {from: ...}``).

    Collected once at start-up. A ``Converter`` names the source and target types (``"*"`` matches any) and a
    function turning one stored value of the old type into a value of the new type, raising ``ValueError`` with
    a reason when it cannot. The most specific converter wins (exact names before ``"*"``).

    :return: a list of ``core.fields.Converter``.
    """


@hookspec
def hoso_validate_record(entity: "EntityDef", values: dict, context: "RecordContext") -> "list[tuple[str, str]] | None":
    """Check a record before it is written, after the built-in field checks passed.

    Called for every create and update, from every path (API, admin, import, plugins).

    :param entity: the entity definition.
    :param values: the complete record as it will be stored (parsed Python values).
    :param context: who writes, and from where.
    :return: a list of ``(field_name, message)`` problems, or None. May be an awaitable.
    """


@hookspec
def hoso_write_audit(event: "AuditEvent", db: Any) -> None:
    """Persist one audit event.

    Called inside the transaction that makes the change, so the change and its audit entry commit together.
    The built-in writer appends to ``hoso_audit``; a deployment may add another writer (e.g. to ship events
    to a central log) without replacing it.

    :param event: what happened: actor, time, origin, entity, record id, action and field differences.
    :param db: the ``core.db.Database`` in use.
    :return: nothing; may be an awaitable.
    """


@hookspec
def hoso_startup(config: "Config") -> None:
    """Called once when an application starts, after the configuration was loaded and checked.

    :param config: the loaded configuration.
    :return: nothing; may be an awaitable.
    """
