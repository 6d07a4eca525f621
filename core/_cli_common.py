"""Options and helpers shared by the ``hoso`` command and its sub-command modules."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from core.config import ConfigErrors, load_config

__all__ = ["console", "err_console", "CONFIG_OPTION", "DB_OPTION", "load_or_exit", "runtime", "run", "progress"]

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

CONFIG_OPTION = click.option(
    "--config", "config_dir", envvar="HOSO_CONFIG", type=click.Path(file_okay=False, path_type=Path),
    help="Configuration root holding forms_config/ and roles_config/ (env HOSO_CONFIG; default: the repository).",
)
DB_OPTION = click.option(
    "--database", "database_url", envvar="HOSO_DATABASE_URL", default="sqlite:///var/hoso.db", show_default=True,
    help="Database URL: sqlite:///path.db or postgresql://user@host/db (env HOSO_DATABASE_URL).",
)


def load_or_exit(config_dir):
    from core.fields import Registry
    from core.plugins import get_plugin_manager

    try:
        # Field types registered by installed plugins may be named in entity files.
        return load_config(config_dir, field_types=Registry(get_plugin_manager()).storage_by_type())
    except ConfigErrors as exc:
        err_console.print(exc.render(), markup=False)
        sys.exit(2)


def runtime(config_dir, database_url):
    from core.runtime import Runtime

    return Runtime.create(load_or_exit(config_dir), database_url)


def run(coro):
    return asyncio.run(coro)


def progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                    TimeElapsedColumn(), console=err_console, transient=not sys.stderr.isatty())
