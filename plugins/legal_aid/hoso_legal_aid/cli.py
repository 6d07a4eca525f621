"""``hoso demo``: the reference deployment's demonstration data, from the command line."""

from __future__ import annotations

import sys

import click

from hoso._cli_common import CONFIG_OPTION, DB_OPTION, console, err_console
from hoso._cli_common import progress as _progress
from hoso._cli_common import run as _run
from hoso._cli_common import runtime as _runtime

__all__ = ["demo"]


@click.command()
@CONFIG_OPTION
@DB_OPTION
@click.option("--cases", default=200, show_default=True, type=int, help="How many demo cases to create.")
@click.option("--once", is_flag=True, help="Do nothing if demo data was loaded before.")
def demo(config_dir, database_url, cases, once):
    """Load demo data (performers, organisations, cases) and a demo login."""
    from hoso_legal_aid.demo import load_demo

    rt = _runtime(config_dir, database_url)

    async def go():
        await rt.db.start()
        try:
            from hoso.web.app import DefinitionsDiffer, ensure_applied

            try:
                await ensure_applied(rt)
            except DefinitionsDiffer as exc:
                err_console.print(str(exc), markup=False)
                sys.exit(1)
            with _progress() as bar:
                task = bar.add_task("demo cases", total=cases)
                result = await load_demo(rt, cases=cases, once=once,
                                         progress=lambda n: bar.update(task, completed=n))
            return result
        finally:
            await rt.db.close()

    result = _run(go())
    console.print(result["message"], markup=False)
    console.print(f"Log in at http://127.0.0.1:8000/ as [bold]{result['username']}[/bold] "
                  f"with password [bold]{result['password']}[/bold]")
