"""Every hook a hoso plugin can implement, in one place, grouped by the phase in which it is called.

Core calls only ``pm.hook.*``; the built-in behaviour is itself a set of plugins
(``hoso.plugin_manager.DEFAULT_PLUGINS``), registered so that a deployment's implementation runs first.
Hooks returning lists of things (field types, converters, routes, commands, scheduled work) are collected once
at start-up; a name registered twice stops start-up with an error naming both plugins. Unless a hook says
otherwise, an implementation may return a value, a callable or an awaitable
(``hoso.plugin_manager.await_me_maybe``). ``docs/hooks.md`` has one section per hook.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # pragma: no cover
    import os

    import click

    from hoso.admin.forms import AdminForm
    from hoso.admin.plugin_pages import AdminMenuEntry, AdminPage
    from hoso.audit import AuditEvent
    from hoso.config import Config, ConfigKind, EntityDef, TransitionDef, WorkflowDef
    from hoso.fields import Converter, FieldType
    from hoso.plugin_types import (
        ActionDef,
        JobKind,
        MetricGauge,
        ReadinessCheck,
        RecordEvent,
        ScheduledWork,
        ScopeRule,
        SystemTable,
    )
    from hoso.records.attachments import Storage
    from hoso.records.context import RecordContext
    from hoso.records.forms import CompiledForm
    from hoso.runtime import Runtime

hookspec = pluggy.HookspecMarker("hoso")
hookimpl = pluggy.HookimplMarker("hoso")

__all__ = ["hookspec", "hookimpl"]


# === start-up and definitions ===================================================================================


@hookspec
def hoso_field_types() -> list[FieldType]:
    """Field types this plugin provides.

    Collected once at start-up. Each ``FieldType`` says how values of the type are stored (a piccolo column),
    parsed from input and written to JSON. A type name provided twice stops start-up.

    Example::

        @hookimpl
        def hoso_field_types():
            return [FieldType("postcode", "text", lambda fd: Text(null=True), parse_postcode)]

    :return: a list of ``hoso.fields.FieldType``.
    """


@hookspec
def hoso_converters() -> list[Converter]:
    """Value conversions used by a declared type change (``convert: {from: ...}``).

    Collected once at start-up. A ``Converter`` names the source and target types (``"*"`` matches any) and a
    function turning one stored value of the old type into a value of the new type, raising ``ValueError`` with
    a reason when it cannot. The most specific converter wins (exact names before ``"*"``).

    Example::

        @hookimpl
        def hoso_converters():
            return [Converter("text", "postcode", lambda fd, v: str(v).removeprefix("VN-"))]

    :return: a list of ``hoso.fields.Converter``.
    """


@hookspec
def hoso_config_kinds() -> list[ConfigKind]:
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
def hoso_config_directories() -> list[str | os.PathLike[str]]:
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


@hookspec
def hoso_system_tables() -> list[SystemTable]:
    """Tables this plugin needs besides the entities' tables, created by ``hoso migrate``.

    Collected once at start-up; a table name already used by hoso or another plugin stops start-up. ``hoso
    plan`` lists a missing table (or a missing column of one) as a change; at run time the table class is
    ``runtime.tables.system[name]``. ``SystemTable(..., indexes=(("col_a", "col_b"),))`` declares indexes:
    ``hoso plan`` lists a missing one, ``hoso migrate`` creates it, also on a table that exists already; an index
    naming no column of the table stops start-up.

    Example::

        @hookimpl
        def hoso_system_tables():
            return [SystemTable("hotline_call", lambda: {"phone": Varchar(length=20), "at": Timestamptz()})]

    :return: a list of ``hoso.plugin_types.SystemTable(name, columns)``.
    """


@hookspec
def hoso_actions() -> list[ActionDef]:
    """Actions roles may hold besides the built-in ones (``read``, ``create``, ... ``run_reports``).

    Collected once at start-up, before the configuration is loaded: a grant in ``roles_config`` may then name
    the action, and a grant naming an action no one defines is a configuration error. A name hoso or another
    plugin already uses stops start-up. Check it like any action: ``user.may("run_hotline", "case")`` in the
    admin, ``runtime.scope.roles_for(entity, action)`` elsewhere.

    Example::

        @hookimpl
        def hoso_actions():
            return [ActionDef("run_hotline", {"vi": "Trực tổng đài", "en": "Answer the hotline"})]

    :return: a list of ``hoso.plugin_types.ActionDef(name, label)``.
    """


@hookspec
def hoso_scope_rules() -> list[ScopeRule]:
    """Scope kinds roles may name in a grant besides the built-in ones (``own``, ``unit``, ``subtree``, ...).

    Collected once at start-up, before the configuration is loaded; a name hoso or another plugin already uses
    stops start-up. A grant with ``scope: <name>`` reaches the rows the rule's SQL predicate selects, while the
    user holds the granting role.

    Example::

        @hookimpl
        def hoso_scope_rules():
            return [ScopeRule("same_district", {"vi": "Cùng huyện", "en": "Same district"},
                              lambda entity, alias, user_id: (
                                  f"{alias}.district = (SELECT district FROM staff WHERE account = {{}})",
                                  (user_id,)))]

    :return: a list of ``hoso.plugin_types.ScopeRule(name, label, predicate)``.
    """


@hookspec
def hoso_startup(config: Config) -> None:
    """Called once when an application starts, after the configuration was loaded and checked.

    Example::

        @hookimpl
        async def hoso_startup(config):
            await warm_cache(config)

    :param config: the loaded configuration.
    :return: nothing; may be an awaitable.
    """


# === surfaces: web routes, commands, admin, scheduled work =======================================================


@hookspec
def hoso_routes(runtime: Runtime) -> list[Any]:
    """Litestar route handlers or routers to mount in the web application.

    Collected once when the application is built; two handlers answering the same path and method stop
    start-up. Handlers reach the runtime and the signed-in user as the built-in API does
    (``hoso.web.api.request_context(request)`` returns the user's ``RecordContext``, or answers 401;
    writing handlers add ``guards=[hoso.web.api.same_site]``),
    so what a plugin reads through ``runtime.records()`` is scoped like everything else.

    Example::

        @hookimpl
        def hoso_routes(runtime):
            @get("/api/reports/caseload")
            async def caseload(request: Request) -> dict:
                _rows, total = await runtime.records().list("case", await request_context(request))
                return {"cases": total}
            return [caseload]

    :param runtime: the ``hoso.runtime.Runtime`` the application serves.
    :return: a list of Litestar route handlers or ``Router`` objects.
    """


@hookspec
def hoso_cli_commands() -> list[click.Command]:
    """Commands to add to the ``hoso`` command line.

    Collected when a command runs (``hoso --help`` lists them). A command whose name is already taken, by hoso
    or by another plugin, stops the command line with an error naming both.

    Example::

        @hookimpl
        def hoso_cli_commands():
            @click.command()
            def hello():
                click.echo("xin chào / hello")
            return [hello]

    :return: a list of ``click.Command`` (or groups).
    """


@hookspec
def hoso_admin_forms(config: Config) -> list[AdminForm]:
    """Forms to add to the generated admin, e.g. report templates that download CSV or XLSX.

    Each ``hoso.admin.forms.AdminForm`` says who may use it (``allowed``); its handler gets the user's record
    context, so what it reads is scoped like everything else.

    Example::

        @hookimpl
        def hoso_admin_forms(config):
            return [AdminForm("caseload", CaseloadModel, export_caseload, allowed=may_run_reports)]

    :param config: the loaded configuration.
    :return: a list of ``hoso.admin.forms.AdminForm``.
    """


@hookspec
def hoso_admin_menu_entries(config: Config) -> list[AdminMenuEntry]:
    """Links to add to the admin's sidebar (after the built-in ones).

    Collected when the admin is built; a label used twice stops start-up. The sidebar is the same for every
    user: a link to a page the user may not open leads to a 404 page, so link pages through
    ``hoso_admin_pages`` and let the page decide who may see it.

    Example::

        @hookimpl
        def hoso_admin_menu_entries(config):
            return [AdminMenuEntry({"vi": "Tổng đài", "en": "Hotline"}, "./hoso/pages/hotline")]

    :param config: the loaded configuration.
    :return: a list of ``hoso.admin.plugin_pages.AdminMenuEntry(label, href)``.
    """


@hookspec
def hoso_admin_pages(runtime: Runtime) -> list[AdminPage]:
    """Pages to serve in the admin, at ``/admin/hoso/pages/<path>``.

    Collected when the admin is built; a path used twice stops start-up. A page is shown to a signed-in admin
    user it allows (``allowed(user)``; others get 404); ``render(request, user)`` returns the HTML body (escape
    what users entered) or a starlette ``Response``, and reads through ``user.ctx`` so what it shows is scoped
    like everything else.

    Example::

        @hookimpl
        def hoso_admin_pages(runtime):
            async def render(request, user):
                _rows, total = await runtime.records().list("case", user.ctx)
                return f"<p>{total}</p>"
            return [AdminPage("hotline", {"vi": "Tổng đài", "en": "Hotline"}, render,
                              allowed=lambda user: user.may("run_hotline", "case"))]

    :param runtime: the ``hoso.runtime.Runtime`` the admin serves.
    :return: a list of ``hoso.admin.plugin_pages.AdminPage(path, title, render, allowed)``.
    """


@hookspec
def hoso_scheduled_work() -> list[ScheduledWork]:
    """Named work to run at an interval (``hoso.plugin_types.ScheduledWork``).

    Collected once at start-up; a name used twice stops start-up. ``hoso serve`` runs due work in-process (while
    ``HOSO_EMBEDDED_WORKER`` is on), ``hoso worker`` and ``hoso run-scheduled`` run it from the command line; a
    lease row in ``hoso_schedule`` keeps two processes from running the same work at once. A failure is logged
    and the work is tried again at its next turn.

    Example::

        @hookimpl
        def hoso_scheduled_work():
            return [ScheduledWork("remind_overdue", dt.timedelta(hours=1), send_reminders)]

    :return: a list of ``ScheduledWork(name, every, run)``; ``run`` is ``async (runtime) -> None``.
    """


# === records ====================================================================================================


@hookspec
def hoso_validate_record(entity: EntityDef, values: dict, context: RecordContext, form: CompiledForm,
                         previous: dict | None) -> list[tuple[str, str]] | None:
    """Check a record before it is written.

    Called for every create, update and workflow transition, from every path (API, admin, import, plugins),
    inside the write's transaction. The built-in ``hoso.plugins.validators`` (essential: it cannot be blocked)
    checks the form: its JSON Schema (types, required fields, options, lengths, patterns, bounds), its
    conditions and its rules. Every implementation runs and all problems are reported together; a field that
    already has a problem (e.g. a value that could not be parsed, which is then missing from ``values``) is
    reported once.

    Example::

        @hookimpl
        def hoso_validate_record(entity, values, context):
            if entity.name == "case" and values.get("ended_on") and values["ended_on"] < values["received_on"]:
                return [("ended_on", "ngày kết thúc không được trước ngày tiếp nhận")]

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
def hoso_transition_guard(entity: EntityDef, workflow: WorkflowDef, transition: TransitionDef,
                          record: dict, values: dict, context: RecordContext) -> str | list[tuple[str, str]] | None:
    """Decide whether a workflow transition may happen, after the built-in checks passed.

    The built-in checks are: the actor's role grants ``transition:<name>`` on this record (scope predicate),
    the record is in one of the transition's ``from`` states, the version is current, the fields the
    transition ``requires`` are filled in and the record is valid. Every guard runs; any refusal refuses.

    Example::

        @hookimpl
        def hoso_transition_guard(entity, workflow, transition, record, values, context):
            if transition.name == "assign" and values.get("performer") == record.get("performer"):
                return [("performer", "chọn người thực hiện khác")]

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
def hoso_write_guard(entity: EntityDef, action: str, before: dict | None, after: dict | None,
                     context: RecordContext, db: Any) -> str | list[tuple[str, str]] | None:
    """Decide whether a write of a record may happen, whatever path it comes from.

    Called for every create, update, transition, delete and restore (API, admin, import, plugins), inside the
    write's transaction, after the built-in checks (scope, version, validation) passed and before the row is
    written. Every guard runs; any refusal refuses, and nothing is written. The built-in
    ``hoso.plugins.period_lock`` refuses writes to records dated inside an approved, locked reporting period.

    Example::

        @hookimpl
        async def hoso_write_guard(entity, action, before, after, context, db):
            if action == "delete" and await db.fetchval("SELECT 1 FROM legal_hold WHERE record = {}", before["id"]):
                return "hồ sơ đang bị phong tỏa / the record is on legal hold"

    :param entity: the entity definition.
    :param action: ``create``, ``update``, ``transition:<name>``, ``delete`` or ``restore``.
    :param before: the stored record before the write (None on create).
    :param after: the record as the write would leave it (None on delete).
    :param context: who writes, from where, in which language.
    :param db: the ``hoso.db.Database`` in use (inside the write's transaction).
    :return: None to allow; a message or a list of ``(field_name, message)`` to refuse. May be an awaitable.
    """


@hookspec
def hoso_transition_done(entity: EntityDef, workflow: WorkflowDef, transition: TransitionDef,
                         record: dict, context: RecordContext, db: Any, runtime: Runtime,
                         previous: dict) -> None:
    """React to a workflow transition (side effects: notify, create a follow-up record, call a service).

    Called inside the transaction of the transition, after the record and its audit entry were written: what
    the plugin writes through ``db`` commits with the transition, and an exception undoes the transition.
    Slow work (mail, remote calls) belongs in ``hoso_after_commit``.

    Example::

        @hookimpl
        async def hoso_transition_done(entity, workflow, transition, record, context, db):
            if transition.name == "end":
                await db.execute("UPDATE tally SET ended = ended + 1")

    :param entity: the entity definition.
    :param workflow: the workflow the transition belongs to.
    :param transition: the transition that happened.
    :param record: the record after the transition.
    :param context: who acted, from where.
    :param db: the ``hoso.db.Database`` in use.
    :param runtime: the ``hoso.runtime.Runtime`` of the write, for follow-up writes through its record service
        (``runtime.records()``), which join the transition's transaction.
    :param previous: the record before the transition.
    :return: nothing; may be an awaitable.
    """


@hookspec
def hoso_record_created(entity: EntityDef, record: dict, context: RecordContext) -> None:
    """A record was created (inside the write's transaction: an exception undoes the write).

    Example::

        @hookimpl
        def hoso_record_created(entity, record, context):
            if entity.name == "case":
                COUNTS["case"] += 1

    :param entity: the entity definition.
    :param record: the record as stored (with ``id`` and ``sys_*`` columns).
    :param context: who wrote it, from where, in which language.
    :return: nothing; may be an awaitable.
    """


@hookspec
def hoso_record_changed(entity: EntityDef, before: dict, after: dict, context: RecordContext,
                        runtime: Runtime) -> None:
    """A record was updated (inside the write's transaction). Not called for an update that changed nothing.

    What the plugin writes through ``runtime.records()`` joins the write's transaction: it commits with the
    update, and an exception undoes the update.

    Example::

        @hookimpl
        def hoso_record_changed(entity, before, after, context):
            if before.get("performer") != after.get("performer"):
                log.info("case %s reassigned", after["id"])

    :param entity: the entity definition.
    :param before: the record before the update.
    :param after: the record after the update.
    :param context: who wrote it, from where, in which language.
    :param runtime: the ``hoso.runtime.Runtime`` of the write, for follow-up writes through its record service.
    :return: nothing; may be an awaitable.
    """


@hookspec
def hoso_record_deleted(entity: EntityDef, record: dict, context: RecordContext) -> None:
    """A record was (softly) deleted, inside the write's transaction.

    Example::

        @hookimpl
        def hoso_record_deleted(entity, record, context):
            log.info("%s %s deleted: %s", entity.name, record["id"], record["sys_delete_reason"])

    :param entity: the entity definition.
    :param record: the record after the delete (``sys_deleted_at``, ``sys_delete_reason`` set).
    :param context: who deleted it.
    :return: nothing; may be an awaitable.
    """


@hookspec
def hoso_record_restored(entity: EntityDef, record: dict, context: RecordContext) -> None:
    """A deleted record was restored, inside the write's transaction.

    Example::

        @hookimpl
        def hoso_record_restored(entity, record, context):
            log.info("%s %s restored", entity.name, record["id"])

    :param entity: the entity definition.
    :param record: the record after the restore.
    :param context: who restored it.
    :return: nothing; may be an awaitable.
    """


@hookspec
def hoso_record_transitioned(entity: EntityDef, record: dict, transition: TransitionDef,
                             context: RecordContext) -> None:
    """A record took a workflow transition, inside the write's transaction (after ``hoso_transition_done``).

    Example::

        @hookimpl
        def hoso_record_transitioned(entity, record, transition, context):
            if transition.to == "closed":
                log.info("case %s closed", record["code"])

    :param entity: the entity definition.
    :param record: the record after the transition.
    :param transition: the transition taken (``name``, ``from_states``, ``to``).
    :param context: who acted.
    :return: nothing; may be an awaitable.
    """


@hookspec
def hoso_after_commit(events: list[RecordEvent]) -> None:
    """The record events of one write, once its transaction committed; never called when it rolled back.

    The place for slow or outward work (mail, a search index, a remote service): the change is durable and
    a failure here cannot undo it (it is logged, and the other implementations still run).

    Example::

        @hookimpl
        async def hoso_after_commit(events):
            for e in events:
                if e.kind == "transitioned" and e.record.get("status") == "closed":
                    await notify_requester(e.record)

    :param events: the ``hoso.plugin_types.RecordEvent`` list, in the order they happened.
    :return: nothing; may be an awaitable.
    """


# === storage and audit ==========================================================================================


@hookspec
def hoso_write_audit(event: AuditEvent, db: Any) -> None:
    """Persist one audit event.

    Called inside the transaction that makes the change, so the change and its audit entry commit together.
    The built-in writer ``hoso.plugins.audit`` (essential: it cannot be blocked) appends to ``hoso_audit``; a
    deployment may add another writer (e.g. to ship events to a central log) without replacing it.

    Example::

        @hookimpl
        def hoso_write_audit(event, db):
            central_log.append((event.action, event.entity, event.record_id))

    :param event: what happened: actor, time, origin, entity, record id, action and field differences.
    :param db: the ``hoso.db.Database`` in use.
    :return: nothing; may be an awaitable.
    """


@hookspec(firstresult=True)
def hoso_attachment_storage(config: Config) -> Storage | None:
    """The storage backend for attachment files (the first plugin that answers wins).

    The built-in ``hoso.plugins.storage`` keeps files in a local directory (``HOSO_FILES_DIR``, default
    ``var/files``). A backend implements ``hoso.records.attachments.Storage``: ``open_writer(key)`` returns a
    writer taking chunks (``write``) that either ``commit`` (the file appears under ``key`` whole) or ``abort``
    (nothing is left); ``read(key)`` yields chunks; ``remove(key)`` is used only to discard a file whose
    record change failed. Stored files are never overwritten: a replaced attachment keeps its old versions.

    Example::

        @hookimpl
        def hoso_attachment_storage(config):
            return ObjectStorage(bucket="hoso-files")

    :param config: the loaded configuration.
    :return: a ``Storage``, or None to leave the choice to another plugin.
    """


# === operations =================================================================================================


@hookspec
def hoso_readiness_checks(runtime: Runtime) -> list[ReadinessCheck]:
    """Checks ``/readyz`` runs besides its own (database reachable, definitions applied).

    Collected once when the application is created; a name used twice stops start-up. A failing check makes
    ``/readyz`` answer 503, so a load balancer stops sending requests to the process (e.g. "jobs not stuck").
    The answer is cached for ``HOSO_READY_CACHE_SECONDS``.

    Example::

        @hookimpl
        def hoso_readiness_checks(runtime):
            async def outbox_moving(rt):
                late = await rt.db.fetchval("SELECT COUNT(*) AS n FROM outbox WHERE due < {}", cutoff())
                return f"{late} messages late" if late else None
            return [ReadinessCheck("outbox", outbox_moving)]

    :param runtime: the ``hoso.runtime.Runtime`` the application serves.
    :return: a list of ``ReadinessCheck(name, check)``; ``check`` is ``async (runtime) -> str | None``.
    """


@hookspec
def hoso_metrics(runtime: Runtime) -> list[MetricGauge]:
    """Gauges ``/metrics`` reads at each scrape, besides the request and database-pool metrics.

    Collected once when the application is created; a name used twice stops start-up. Each gauge is read in the
    process answering the scrape, so it should state a fact of the shared database (a queue's depth, failed
    jobs), not of one process. A gauge whose read fails is left out of that scrape and the failure is logged.

    Example::

        @hookimpl
        def hoso_metrics(runtime):
            async def depth(rt):
                rows = await rt.db.fetch("SELECT queue, COUNT(*) AS n FROM outbox GROUP BY queue")
                return {(r["queue"],): r["n"] for r in rows}
            return [MetricGauge("hoso_outbox_waiting", "Messages waiting", depth, labels=("queue",))]

    :param runtime: the ``hoso.runtime.Runtime`` the application serves.
    :return: a list of ``MetricGauge(name, help, read, labels)``.
    """


# === background jobs ============================================================================================


@hookspec
def hoso_job_kinds() -> list[JobKind]:
    """Kinds of background job (``hoso.plugin_types.JobKind``) that workers run.

    Jobs are report exports, notifications, calls to other systems: slow work a request should not wait for.

    Collected when a worker starts; a name used twice stops start-up. Enqueue a job with
    ``hoso.jobs.enqueue(db, kind, payload, key=...)``: called with the ``db`` a write's hook receives
    (``hoso_write_guard``, ``hoso_transition_done``), the job commits with the write and never exists when the
    write rolls back. A failing job is tried again after a backoff and is dead after ``max_attempts``.

    Example::

        @hookimpl
        def hoso_job_kinds():
            return [JobKind("notify_lawyer", send_notice, max_attempts=8, backoff=30)]

        @hookimpl
        async def hoso_transition_done(entity, workflow, transition, record, context, db):
            if transition.name == "assign":
                await enqueue(db, "notify_lawyer", {"case": record["id"]}, key=str(record["id"]))

    :return: a list of ``JobKind(name, handler, max_attempts, backoff, lease)``; ``handler`` is
        ``async (runtime, job) -> result``.
    """
