"""The ``hoso`` command."""

from __future__ import annotations

import sys
import time

import click

from hoso._cli_common import CONFIG_OPTION, DB_OPTION, HosoGroup, console, err_console, fail
from hoso._cli_common import load_or_exit as _load
from hoso._cli_common import progress as _progress
from hoso._cli_common import run as _run
from hoso._cli_common import runtime as _runtime
from hoso.i18n import both
from hoso.settings import get as setting
from hoso.settings_cli import settings_command


class PluginCommands(HosoGroup):
    """The ``hoso`` group with the commands plugins add (``hoso_cli_commands``), collected on first need so that
    importing the command line costs nothing; a name claimed twice stops the command line."""

    def plugin_commands(self, ctx) -> dict[str, click.Command]:
        # Kept per invocation: the plugins to load depend on the environment (HOSO_PLUGINS, HOSO_BLOCK_PLUGINS).
        meta = ctx.find_root().meta
        if "hoso.plugin_commands" not in meta:
            from hoso.plugin_manager import PluginError, collect, get_plugin_manager

            try:
                commands = collect(get_plugin_manager(), "hoso_cli_commands", lambda c: [c.name], "command")
                clash = next((c.name for c in commands if c.name in self.commands), None)
                if clash:
                    raise PluginError.of("plugin_duplicate", what="command", name=clash, first="hoso",
                                         second="a plugin")
            except PluginError as exc:
                fail("cli_plugin", str(exc))
            meta["hoso.plugin_commands"] = {c.name: c for c in commands}
        return meta["hoso.plugin_commands"]

    def list_commands(self, ctx):
        return sorted({*super().list_commands(ctx), *self.plugin_commands(ctx)})

    def get_command(self, ctx, name):
        plugins = self.plugin_commands(ctx)
        return super().get_command(ctx, name) or plugins.get(name)


@click.group(cls=PluginCommands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="hoso")
def main() -> None:
    """hoso: YAML-defined records systems with a generated admin."""


@main.command()
@CONFIG_OPTION
def check(config_dir):
    """Validate the configuration (no database needed)."""
    started = time.perf_counter()
    cfg = _load(config_dir)
    units = len(cfg.hierarchy.units) if cfg.hierarchy else 0
    console.print(
        f"Configuration OK: {len(cfg.entities)} entities, {len(cfg.lists)} lists, {len(cfg.forms)} forms, "
        f"{len(cfg.workflows)} workflows, {len(cfg.reports)} reports, {len(cfg.roles)} roles, {units} units "
        f"({time.perf_counter() - started:.2f}s)"
    )


@main.command()
@CONFIG_OPTION
@DB_OPTION
def plan(config_dir, database_url):
    """Show what `hoso migrate` would change, with the rows each change touches."""
    # A plan creates nothing: a database file that does not exist yet is planned as an empty one.
    rt = _runtime(config_dir, database_url, missing="empty")

    async def go():
        await rt.db.start()
        try:
            return await _plans(rt)
        finally:
            await rt.db.close()

    p, units = _run(go())
    if rt.db.stand_in:
        err_console.print(f"The database file of {database_url} does not exist yet: planned against an empty "
                          "database, nothing was created.", markup=False, soft_wrap=True)
    _print_plan(p, units)
    sys.exit(0 if p.ok and units.ok else 1)


async def _plans(rt):
    """The definitions plan and the units plan (base units and change sets) of ``rt``'s database."""
    from hoso.units import plan_units

    return await rt.plan(), await plan_units(rt)


def _print_plan(p, units) -> None:
    extra = units.lines()
    if p.has_changes or p.errors or not extra and not units.errors:
        console.print(p.render(), markup=False)
    if extra:
        console.print("Units:\n" + "\n".join(f"  {line}" for line in extra), markup=False, soft_wrap=True)
    if units.errors:
        console.print(f"{len(units.errors)} problem(s) block loading the units:\n"
                      + "\n".join(f"  {e}" for e in units.errors), markup=False, soft_wrap=True)


@main.command()
@CONFIG_OPTION
@DB_OPTION
@click.option("--yes", is_flag=True, help="Apply without asking.")
@click.option("--as", "applied_by", default=None, help="Name recorded as who applied the change (default: OS user).")
def migrate(config_dir, database_url, yes, applied_by):
    """Apply the configuration to the database in one transaction, and load the unit tree."""
    from hoso.model.migrate import apply_plan
    from hoso.units import UnitSyncError, sync_units

    rt = _runtime(config_dir, database_url, missing="create")

    async def go():
        await rt.db.start()
        try:
            p, units = await _plans(rt)
            _print_plan(p, units)
            if not p.ok or not units.ok:
                sys.exit(1)
            if (p.has_changes or units.has_changes) and not yes and not click.confirm(
                    "Apply these changes?", default=False):
                console.print("Nothing changed.")
                return
            if p.definitions and not p.has_changes:
                await apply_plan(rt.db, rt.config, rt.registry, p, applied_by=applied_by)
                console.print(f"Recorded {len(p.definitions)} changed definition file(s).")
            if p.has_changes:
                with _progress() as bar:
                    task = bar.add_task("migrating", total=max(len(p.changes), 1))

                    def step(msg, i, total):
                        bar.update(task, completed=i, description=msg[:60])

                    await apply_plan(rt.db, rt.config, rt.registry, p, applied_by=applied_by, progress=step)
                console.print(f"Applied {len(p.changes)} change(s).")
                await _reindex_new_search_columns(rt, p)
            n = await sync_units(rt, applied_by=applied_by,
                                 report=lambda text: console.print(text, markup=False, soft_wrap=True))
            if n:
                console.print(f"Loaded {n} unit(s) from the hierarchy configuration.")
        except UnitSyncError as exc:
            err_console.print(str(exc), markup=False)
            sys.exit(1)
        finally:
            # A MigrationError (nothing was changed) reaches the command group, which prints it.
            await rt.db.close()

    _run(go())


async def _reindex_new_search_columns(rt, plan) -> None:
    """Existing records get their search text when the search column first reaches their table."""
    from hoso.records.service import RecordContext

    done = set()
    for change in plan.changes:
        new_column = change.kind == "add_entity_system_column" and change.field == "sys_search"
        # a new search index may search other fields than the text stored so far: the text is recomputed
        new_index = change.kind == "add_index" and change.data.get("search")
        if (new_column or new_index) and change.rows and change.table not in done:
            done.add(change.table)
            n = await rt.records().reindex_search(change.table, RecordContext.system(rt.config))
            console.print(f"Indexed {n if n is not None else change.rows} {change.table} record(s) for search.")


@main.command()
@CONFIG_OPTION
@DB_OPTION
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=lambda: setting("HOSO_WORKERS"), type=click.IntRange(1, 64), show_default="1",
              help="Application processes on this port (env HOSO_WORKERS); each follows `hoso migrate` on its own.")
def serve(config_dir, database_url, host, port, workers):
    """Serve the web application and API."""
    from hoso.server import DefinitionsDiffer, create_holder, run_server
    from hoso.web.logs import log_config

    rt = _runtime(config_dir, database_url)
    try:
        app = create_holder(rt)
        logs = log_config()
        _run(_check_applied(rt))
    except DefinitionsDiffer as exc:
        err_console.print(str(exc), markup=False)
        sys.exit(1)
    except ValueError as exc:  # a HOSO_* setting (hoso.settings)
        fail("cli_setting", str(exc))
    shown = f", {workers} processes" if workers > 1 else ""
    console.print(f"hoso serving on http://{host}:{port}/  (API under /api/{shown})")
    # each worker process builds its own application from the same configuration and database
    run_server(app, host=host, port=port, workers=workers, config_dir=config_dir, database_url=database_url,
               log_config=logs)


async def _check_applied(rt, started: bool = False):
    from hoso.web.app import ensure_applied

    if started:
        await ensure_applied(rt)
        return
    await rt.db.start()
    try:
        await ensure_applied(rt)
    finally:
        await rt.db.close()


@main.command()
@CONFIG_OPTION
def plugins(config_dir):
    """List the plugins, the hooks each implements, and where each module is on."""
    from hoso.plugin_manager import get_plugin_manager
    from hoso.plugin_report import describe_plugins, module_lines

    cfg = _load(config_dir)
    for line in describe_plugins(get_plugin_manager()):
        console.print(line, markup=False, soft_wrap=True)
    console.print("\n".join(module_lines(cfg)), markup=False, soft_wrap=True)


@main.command("run-scheduled")
@CONFIG_OPTION
@DB_OPTION
@click.option("--once", is_flag=True, help="Run the work that is due now, then exit.")
def run_scheduled(config_dir, database_url, once):
    """Run the plugins' scheduled work (hoso serve runs it too); one process at a time runs each work."""
    from hoso.scheduler import run_due, run_forever

    rt = _runtime(config_dir, database_url)

    async def go():
        await rt.db.start()
        try:
            await _check_applied(rt, started=True)
            if once:
                return await run_due(rt)
            await run_forever(rt)
            return []
        finally:
            await rt.db.close()

    from hoso.web.app import DefinitionsDiffer

    try:
        ran = _run(go())
    except DefinitionsDiffer as exc:
        err_console.print(str(exc), markup=False)
        sys.exit(1)
    console.print(f"Ran: {', '.join(ran)}" if ran else "No work was due.", markup=False)


@main.group()
def user():
    """Manage user accounts."""


@user.command("create")
@CONFIG_OPTION
@DB_OPTION
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="The password (asked for when not given).")
@click.option("--email", default=None, help="Email address (default: USERNAME@localhost).")
@click.option("--name", "display_name", default=None, help="Display name.")
@click.option("--superuser", is_flag=True, help="Give every permission (national administrator account).")
@click.option("--unit", "unit_code", default=None, help="Code of the unit the account belongs to.")
def user_create(config_dir, database_url, username, password, email, display_name, superuser, unit_code):
    """Create a user account."""
    from hoso.users import create_user

    rt = _runtime(config_dir, database_url)

    async def go():
        await rt.db.start()
        try:
            await _unit_code_note(rt, unit_code)
            return await create_user(rt, username, password, email=email, display_name=display_name,
                                     superuser=superuser, unit_code=unit_code, actor="cli")
        finally:
            await rt.db.close()

    uid = _refused_or(go())
    console.print(both("cli_user_created", username=username, id=uid), markup=False)


def _refused_or(coro):
    """``coro``'s result; a refusal of the account functions is printed (Vietnamese, then English): exit 1."""
    from hoso.users import Localised

    try:
        return _run(coro)
    except Localised as exc:
        vi = f"lỗi: {exc.text('vi')}\n" if exc.key else ""
        err_console.print(f"{vi}error: {exc}", markup=False)
        sys.exit(1)


@user.command("grant")
@CONFIG_OPTION
@DB_OPTION
@click.argument("username")
@click.argument("role")
@click.option("--unit", "unit_code", required=True, help="Code of the unit where the role is held.")
@click.option("--from", "starts_on", default=None, help="First day (dd/mm/yyyy; default: today).")
@click.option("--until", "ends_on", default=None, help="Day it ends (dd/mm/yyyy; default: open-ended).")
def user_grant(config_dir, database_url, username, role, unit_code, starts_on, ends_on):
    """Grant ROLE at a unit to the account USERNAME (audited, as the command line)."""
    from hoso.accounts import grant_role, read_date
    from hoso.scope import Actor
    from hoso.users import UserError

    rt = _runtime(config_dir, database_url)

    async def go():
        await rt.db.start()
        try:
            await _unit_code_note(rt, unit_code)
            uid = await rt.db.fetchval("SELECT id FROM hoso_user WHERE username = {}", username)
            if uid is None:
                raise UserError("cli_no_user", username=username)
            # the operator of the command line acts for the system, like ``hoso user create --superuser``
            actor = Actor(None, "cli", superuser=True, origin="cli")
            return await grant_role(rt, actor, uid, role, unit_code, starts_on=read_date(starts_on, "--from"),
                                    ends_on=read_date(ends_on, "--until"))
        finally:
            await rt.db.close()

    aid = _refused_or(go())
    console.print(both("cli_role_granted", role=role, unit=unit_code, username=username, id=aid), markup=False)


async def _unit_code_note(rt, code: str | None) -> None:
    """Say which unit an old (recoded) unit code leads to; refusals are create_user's."""
    from hoso.units import UnitCodeError, resolve_unit_code

    if code:
        try:
            _unit, note = await resolve_unit_code(rt.db, code)
        except UnitCodeError:
            return
        if note:
            console.print(note, markup=False, soft_wrap=True)


from hoso.report_cli import report  # noqa: E402
from hoso.restructure_cli import restructure  # noqa: E402

main.add_command(restructure)
main.add_command(report)
main.add_command(settings_command)
from hoso.jobs_cli import worker  # noqa: E402

main.add_command(worker)

from hoso.import_cli import import_command  # noqa: E402

main.add_command(import_command)

if __name__ == "__main__":  # pragma: no cover
    main()
