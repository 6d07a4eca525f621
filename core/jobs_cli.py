"""``hoso worker``: run background jobs (``hoso.jobs``) and scheduled work in a process of their own.

Attached to the main command in core/cli.py with ``main.add_command(worker)``. Production runs one or more of
these beside the application processes (with ``HOSO_EMBEDDED_WORKER=0`` for the application); any number may
run at once, on one database: each job is claimed by one of them, each scheduled work run by one at a time.
"""

from __future__ import annotations

import asyncio
import signal
import sys

import click

from hoso._cli_common import CONFIG_OPTION, DB_OPTION, console, err_console
from hoso._cli_common import run as _run
from hoso._cli_common import runtime as _runtime
from hoso.i18n import both
from hoso.settings import get as setting

__all__ = ["worker"]


@click.command()
@CONFIG_OPTION
@DB_OPTION
@click.option("--once", is_flag=True, help="Run the jobs and the scheduled work due now, then exit.")
@click.option("--concurrency", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Jobs run at once by this process.")
def worker(config_dir, database_url, once, concurrency):
    """Run background jobs and scheduled work until stopped (Ctrl-C or SIGTERM); several may run at once."""
    # A SIGTERM while the worker is still starting (loading definitions, checking the database) is kept and
    # honoured once it runs: it then claims no job and exits cleanly, as a stop after the start would.
    early_stop = []
    if not once:
        signal.signal(signal.SIGTERM, lambda signum, _frame: early_stop.append(signum))
    from hoso.jobs import Worker
    from hoso.web.app import DefinitionsDiffer, ensure_applied

    rt = _runtime(config_dir, database_url)

    async def go() -> int:
        await rt.db.start()
        try:
            await ensure_applied(rt)
            w = Worker(rt, concurrency=concurrency)
            if once:
                return await w.run_once()
            console.print(both("worker_started", kinds=", ".join(sorted(w.kinds)) or "-",
                               works=", ".join(x.name for x in w.works) or "-", concurrency=concurrency),
                          markup=False, soft_wrap=True)
            task = asyncio.current_task()
            loop = asyncio.get_running_loop()
            # SIGTERM lets the jobs running end, up to HOSO_WORKER_STOP_SECONDS; then (or on a second SIGTERM)
            # they are cut short, and taken again when their leases expire.
            grace = setting("HOSO_WORKER_STOP_SECONDS")

            def on_term() -> None:
                if w.stopping.is_set() or task is None:
                    if task is not None:
                        task.cancel()
                    return
                w.stop()
                loop.call_later(grace, task.cancel)

            loop.add_signal_handler(signal.SIGTERM, on_term)
            if early_stop:
                on_term()
            try:
                await w.run_forever()
            except asyncio.CancelledError:
                pass
            return w.ran
        finally:
            await rt.db.close()

    try:
        ran = _run(go())
    except DefinitionsDiffer as exc:
        err_console.print(str(exc), markup=False)
        sys.exit(1)
    except KeyboardInterrupt:  # pragma: no cover - interactive
        return
    console.print(both("worker_ran", n=ran), markup=False)
