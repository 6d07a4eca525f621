"""Every hook a hoso plugin can implement, in one place.

Core calls only ``pm.hook.*``; the built-in behaviour is itself a set of plugins (``hoso.plugin_manager.DEFAULT_PLUGINS``).
``register_*``-style hooks (those returning lists of things) are collected once at start-up; a name registered
twice stops start-up with an error naming both plugins. Hooks may return a value or an awaitable where noted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # pragma: no cover
    from hoso.config import Config, EntityDef, FieldDef, TransitionDef, WorkflowDef
    from hoso.fields import Converter, FieldType
    from hoso.records.attachments import Storage
    from hoso.records.forms import CompiledForm
    from hoso.audit import AuditEvent
    from hoso.records.context import RecordContext

hookspec = pluggy.HookspecMarker("hoso")
hookimpl = pluggy.HookimplMarker("hoso")

__all__ = ["hookspec", "hookimpl"]


@hookspec
def hoso_field_types() -> "list[FieldType]":
    """Field types this plugin provides.

    Collected once at start-up. Each ``FieldType`` says how values of the type are stored (a piccolo column),
    parsed from input and written to JSON. A type name provided twice stops start-up.

    :return: a list of ``hoso.fields.FieldType``.
    """


@hookspec
def hoso_converters() -> "list[Converter]":
    """Value conversions used by a declared type change (``convert: {from: ...}``).

    Collected once at start-up. A ``Converter`` names the source and target types (``"*"`` matches any) and a
    function turning one stored value of the old type into a value of the new type, raising ``ValueError`` with
    a reason when it cannot. The most specific converter wins (exact names before ``"*"``).

    :return: a list of ``hoso.fields.Converter``.
    """


@hookspec
def hoso_validate_record(entity: "EntityDef", values: dict, context: "RecordContext", form: "CompiledForm",
                         previous: "dict | None") -> "list[tuple[str, str]] | None":
    """Check a record before it is written.

    Called for every create, update and workflow transition, from every path (API, admin, import, plugins),
    inside the write's transaction. The built-in ``hoso.plugins.validators`` checks the form: its JSON Schema
    (types, required fields, options, lengths, patterns, bounds), its conditions and its rules. Every
    implementation runs and all problems are reported together; a field that already has a problem (e.g. a
    value that could not be parsed, which is then missing from ``values``) is reported once.

    :param entity: the entity definition.
    :param values: the complete record as it will be stored (parsed Python values; child tables as lists of
        dicts).
    :param context: who writes, from where, in which language (``context.lang``) messages should be.
    :param form: the ``hoso.records.forms.CompiledForm`` the write goes through (the entity's own form when
        the caller named none); ``form.name`` is None for the entity's own form.
    :param previous: the record before an update or transition (None on create).
    :return: a list of ``(field_name, message)`` problems, or None. May be an awaitable.
    """


@hookspec
def hoso_write_audit(event: "AuditEvent", db: Any) -> None:
    """Persist one audit event.

    Called inside the transaction that makes the change, so the change and its audit entry commit together.
    The built-in writer appends to ``hoso_audit``; a deployment may add another writer (e.g. to ship events
    to a central log) without replacing it.

    :param event: what happened: actor, time, origin, entity, record id, action and field differences.
    :param db: the ``hoso.db.Database`` in use.
    :return: nothing; may be an awaitable.
    """


@hookspec
def hoso_transition_guard(entity: "EntityDef", workflow: "WorkflowDef", transition: "TransitionDef",
                          record: dict, values: dict, context: "RecordContext") -> "str | list[tuple[str, str]] | None":
    """Decide whether a workflow transition may happen, after the built-in checks passed.

    The built-in checks are: the actor's role grants ``transition:<name>`` on this record (scope predicate),
    the record is in one of the transition's ``from`` states, the version is current, the fields the
    transition ``requires`` are filled in and the record is valid. Every guard runs; any refusal refuses.

    :param entity: the entity definition.
    :param workflow: the workflow the transition belongs to.
    :param transition: the transition (``name``, ``from_states``, ``to``, ``requires``).
    :param record: the record as it is now (before the transition).
    :param values: the record as the transition would leave it (state field already set to ``transition.to``).
    :param context: who acts, from where, in which language.
    :return: None to allow; a message (refusal of the whole step) or a list of ``(field_name, message)`` to
        refuse. May be an awaitable.
    """


@hookspec
def hoso_transition_done(entity: "EntityDef", workflow: "WorkflowDef", transition: "TransitionDef",
                         record: dict, context: "RecordContext", db: Any) -> None:
    """React to a workflow transition (side effects: notify, create a follow-up record, call a service).

    Called inside the transaction of the transition, after the record and its audit entry were written: what
    the plugin writes through ``db`` commits with the transition, and an exception undoes the transition.
    Slow work (mail, remote calls) should be queued rather than done here.

    :param entity: the entity definition.
    :param workflow: the workflow the transition belongs to.
    :param transition: the transition that happened.
    :param record: the record after the transition.
    :param context: who acted, from where.
    :param db: the ``hoso.db.Database`` in use.
    :return: nothing; may be an awaitable.
    """


@hookspec(firstresult=True)
def hoso_attachment_storage(config: "Config") -> "Storage | None":
    """The storage backend for attachment files (the first plugin that answers wins).

    The built-in ``hoso.plugins.storage`` keeps files in a local directory (``HOSO_FILES_DIR``, default
    ``var/files``). A backend implements ``hoso.records.attachments.Storage``: ``open_writer(key)`` returns a
    writer taking chunks (``write``) that either ``commit`` (the file appears under ``key`` whole) or ``abort``
    (nothing is left); ``read(key)`` yields chunks; ``remove(key)`` is used only to discard a file whose
    record change failed. Stored files are never overwritten: a replaced attachment keeps its old versions.

    :param config: the loaded configuration.
    :return: a ``Storage``, or None to leave the choice to another plugin.
    """


@hookspec
def hoso_startup(config: "Config") -> None:
    """Called once when an application starts, after the configuration was loaded and checked.

    :param config: the loaded configuration.
    :return: nothing; may be an awaitable.
    """


# --- config kinds ---


@hookspec
def hoso_config_kinds() -> "list[hoso.config.ConfigKind]":
    """Configuration kinds (kinds of YAML file) this plugin adds to the deployment's configuration.

    Collected once at start-up. A kind's files are read from its ``location`` under the configuration root
    (and under every folder ``hoso_config_directories`` adds), validated against its JSON Schema, built by
    its ``build`` and cross-checked by its ``check`` once every kind is built. Without further code its
    problems are reported with file:line:column and key path by ``hoso check`` and at start-up, its files
    count in the definitions hash that ``hoso migrate`` records (so ``hoso plan`` and the running application
    see a change), and ``config.kind(name)`` returns what ``build`` made. A kind name provided twice stops
    start-up.

    Example::

        NOTICE_SCHEMA = {"type": "object", "required": ["notice", "text"], "additionalProperties": False,
                         "properties": {"notice": {"type": "string"}, "text": {"$ref": "hoso:defs#/$defs/label"}}}

        def build(ctx, files):
            return {f.data["notice"]: f.data["text"] for f in files if not f.partial}

        @hookimpl
        def hoso_config_kinds():
            return [ConfigKind("notice", "forms_config/notices", NOTICE_SCHEMA, build)]

    :return: a list of ``hoso.config.ConfigKind``.
    """


@hookspec
def hoso_config_directories() -> "list[str | os.PathLike[str]]":
    """Configuration folders this plugin package ships, merged with the deployment's configuration.

    Collected once at start-up. Each folder holds a ``forms_config/`` and/or ``roles_config/`` folder laid out
    like the deployment's (``forms_config/entities/*.yaml``, ``forms_config/forms/*.yaml``, ...); its files are
    read after the deployment's, checked together with them, and count in the definitions hash. Errors name the
    plugin's file; a name defined both by the deployment and by the plugin is an error naming both files.

    Example::

        @hookimpl
        def hoso_config_directories():
            return [Path(__file__).parent / "config"]

    :return: a list of folder paths.
    """
