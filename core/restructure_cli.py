"""``hoso restructure``: plan and apply dated change sets of the unit tree, follow lineage, show the tree of a date.

Attached to the main command in core/cli.py with ``main.add_command(restructure)``.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from hoso._cli_common import CONFIG_OPTION, DB_OPTION, console, err_console
from hoso._cli_common import progress as _progress
from hoso._cli_common import run as _run
from hoso._cli_common import runtime as _runtime
from hoso._cli_common import with_db as _with_db
from hoso.i18n import local_today

__all__ = ["restructure"]

FILE_ARG = click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))


@click.group()
def restructure() -> None:
    """Restructurings: dated change sets of the unit tree (roles_config/restructurings/*.yaml)."""


@restructure.command("plan")
@CONFIG_OPTION
@DB_OPTION
@FILE_ARG
@click.option("--full", is_flag=True, help="List every operation and re-homed assignment (default: the first 100).")
def plan_cmd(config_dir, database_url, file, full):
    """Show what applying FILE would do: per operation the units, users, records and open workflow records."""
    from hoso.restructure import RestructureErrors, plan

    rt = _runtime(config_dir, database_url)
    try:
        p = _run(_with_db(rt, lambda: plan(rt, file)))
    except RestructureErrors as exc:
        err_console.print(exc.render(), markup=False, soft_wrap=True)
        sys.exit(2)
    console.print(p.render(None if full else 100), markup=False, soft_wrap=True)
    sys.exit(0 if p.ok else 1)


@restructure.command("apply")
@CONFIG_OPTION
@DB_OPTION
@FILE_ARG
@click.option("--yes", is_flag=True, help="Apply without asking.")
@click.option("--as", "applied_by", default=None,
              help="Name recorded as who applied the change set (default: OS user).")
@click.option("--batch-size", type=click.IntRange(min=100), default=None,
              help="Re-assign the records of split units in batches of this many rows (default: one statement).")
@click.option("--full", is_flag=True, help="List every operation of the plan shown first.")
def apply_cmd(config_dir, database_url, file, yes, applied_by, batch_size, full):
    """Apply FILE in one transaction (a second apply changes nothing), after showing its plan."""
    from hoso.restructure import RestructureError, RestructureErrors, apply, plan

    rt = _runtime(config_dir, database_url)

    async def go():
        p = await plan(rt, file)
        console.print(p.render(None if full else 100), markup=False, soft_wrap=True)
        if p.already_applied is not None:
            return 0
        if not p.ok:
            return 1
        if not yes and not click.confirm("Apply this change set?", default=False):
            console.print("Nothing changed.")
            return 0
        with _progress() as bar:
            task = bar.add_task("restructuring", total=8)

            def step(msg, i, total):
                bar.update(task, completed=i, total=total, description=msg[:60])

            result = await apply(rt, file, applied_by=applied_by, batch_size=batch_size, progress=step)
        console.print(result.render(), markup=False, soft_wrap=True)
        return 0

    try:
        code = _run(_with_db(rt, go))
    except RestructureErrors as exc:
        err_console.print(exc.render(), markup=False, soft_wrap=True)
        sys.exit(2)
    except RestructureError as exc:
        err_console.print(f"error: {exc}", markup=False, soft_wrap=True)
        sys.exit(1)
    sys.exit(code)


@restructure.command("successor")
@CONFIG_OPTION
@DB_OPTION
@click.argument("code")
@click.option("--on", "on_date", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Follow only the restructurings effective on or before this date (YYYY-MM-DD).")
def successor_cmd(config_dir, database_url, code, on_date):
    """Show the unit(s) answering now (or --on a date) for the unit once coded CODE."""
    from hoso.restructure import lookup_successor

    rt = _runtime(config_dir, database_url)
    day = on_date.date() if on_date else None
    found = _run(_with_db(rt, lambda: lookup_successor(rt.db, code, day)))
    if not found:
        err_console.print(f"no unit has, or had, the code {code!r}", markup=False, soft_wrap=True)
        sys.exit(1)
    for u in found:
        closed = u["valid_to"] is not None and (day is None or u["valid_to"] <= day)
        state = f", closed {u['valid_to']} without a successor" if closed else ""
        console.print(f"{' -> '.join(u['path'])}: {u['code']} {u['name_vi']} ({u['type']}{state})", markup=False,
                      soft_wrap=True)


@restructure.command("list")
@CONFIG_OPTION
@DB_OPTION
def list_cmd(config_dir, database_url):
    """List the change sets applied to the database."""
    from hoso.restructure import applied_restructurings

    rt = _runtime(config_dir, database_url)
    rows = _run(_with_db(rt, lambda: applied_restructurings(rt.db)))
    if not rows:
        console.print("No change set has been applied.")
    for r in rows:
        console.print(f"{r['effective_on']}  {r['name']}  applied {r['applied_at']:%Y-%m-%d %H:%M} by "
                      f"{r['applied_by']}  sha256 {r['content_hash'][:16]}", markup=False, soft_wrap=True)


@restructure.command("tree")
@CONFIG_OPTION
@DB_OPTION
@click.option("--on", "on_date", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="The date whose tree to show (YYYY-MM-DD; default today).")
def tree_cmd(config_dir: str | None, database_url: str | None, on_date: dt.datetime | None) -> None:
    """Show the unit tree as it stood on a date: every unit open that day, under its parent that day."""
    from hoso.units import structure_at

    rt = _runtime(config_dir, database_url)
    day = on_date.date() if on_date else local_today()
    units = _run(_with_db(rt, lambda: structure_at(rt, day)))
    if not units:
        console.print(f"No unit was open on {day:%d/%m/%Y}.")
        return
    ids = {u["id"] for u in units}
    children: dict[int | None, list[dict]] = {}
    for u in units:
        children.setdefault(u["parent_id"] if u["parent_id"] in ids else None, []).append(u)
    console.print(f"Units open on {day:%d/%m/%Y}: {len(units)}", markup=False)

    def show(parent: int | None, depth: int) -> None:
        for u in children.get(parent, []):
            console.print(f"{'  ' * depth}{u['code']} {u['name_vi']} ({u['type']})", markup=False, soft_wrap=True)
            show(u["id"], depth + 1)

    show(None, 0)
