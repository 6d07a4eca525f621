"""Options and helpers shared by the ``hoso`` command and its sub-command modules."""

from __future__ import annotations

import asyncio
import errno
import socket
import sqlite3
import sys
from pathlib import Path
from typing import NoReturn

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from hoso.config import ConfigErrors, load_config
from hoso.i18n import t
from hoso.settings import SETTINGS, SettingError
from hoso.settings import get as setting

__all__ = ["console", "err_console", "CONFIG_OPTION", "DB_OPTION", "HosoGroup", "describe_failure", "load_or_exit",
           "runtime", "run", "with_db", "progress"]

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

# The environment is read through hoso.settings (click's own envvar would bypass its checks).
CONFIG_OPTION = click.option(
    "--config", "config_dir", default=lambda: setting("HOSO_CONFIG"), type=click.Path(file_okay=False, path_type=Path),
    help="Configuration root holding forms_config/ and roles_config/ (env HOSO_CONFIG; default: the repository).",
)
DB_OPTION = click.option(
    "--database", "database_url", default=lambda: setting("HOSO_DATABASE_URL"),
    show_default=SETTINGS["HOSO_DATABASE_URL"].default,
    help="Database URL: sqlite:///path.db or postgresql://user@host/db (env HOSO_DATABASE_URL).",
)


def load_or_exit(config_dir):
    from hoso.fields import Registry
    from hoso.plugin_manager import config_extensions, get_plugin_manager

    pm = get_plugin_manager()
    try:
        # Field types, kinds, folders, actions and scopes registered by installed plugins may be named in the files.
        return load_config(config_dir, **Registry(pm).config_options(), **config_extensions(pm))
    except ConfigErrors as exc:
        err_console.print(exc.render(), markup=False)
        sys.exit(2)


def runtime(config_dir, database_url, missing: str = "error"):
    """The configuration and the database ``database_url`` names.

    A missing SQLite file is an error unless ``missing`` says otherwise: ``"empty"`` reads an empty database
    without creating anything (plans), ``"create"`` creates it (migrate), in an existing folder or in the
    default var/.
    """
    from hoso.db import DEFAULT_DATABASE_URL, Database
    from hoso.runtime import Runtime

    config = load_or_exit(config_dir)
    _opened["url"] = database_url
    db = Database.from_url(database_url, missing=missing, create_parent=database_url == DEFAULT_DATABASE_URL)
    return Runtime.create(config, db=db)


_opened: dict[str, str | None] = {"url": None}


class HosoGroup(click.Group):
    """The ``hoso`` group: any failure of a sub-command becomes a message naming the problem and exit status 1,
    never a traceback (``HOSO_DEBUG=1`` shows the traceback, for developers)."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Abort, click.exceptions.Exit):
            raise
        except Exception as exc:
            if _debug():
                raise
            fail(*describe_failure(exc))


def _debug() -> bool:
    # A mistyped HOSO_DEBUG must not hide the failure being reported.
    try:
        return setting("HOSO_DEBUG")
    except SettingError:
        return False


def fail(key: str, detail: str) -> NoReturn:
    """Print a failure as the command line shows every failure (headline in both languages, then the detail) and
    exit with status 1."""
    detail = "\n".join(f"  {line}" for line in detail.splitlines())
    err_console.print(f"lỗi: {t(key, 'vi')} / error: {t(key, 'en')}\n{detail}", markup=False, soft_wrap=True)
    sys.exit(1)


def describe_failure(exc: BaseException) -> tuple[str, str]:
    """The message key (core/i18n.py) and the detail that explain ``exc`` to the person at the command line."""
    import asyncpg

    from hoso.db import DatabaseMissing, DatabaseURLError, redact
    from hoso.model.migrate import MigrationError, SnapshotCorrupt
    from hoso.plugin_manager import PluginError

    url = redact(_opened["url"]) if _opened["url"] else "the database"
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, PluginError):
        return "cli_plugin", detail
    if isinstance(exc, SettingError):
        return "cli_setting", detail
    if isinstance(exc, DatabaseMissing):
        return "cli_db_missing", detail
    if isinstance(exc, DatabaseURLError):
        return "cli_db_url", detail
    if isinstance(exc, SnapshotCorrupt):
        return "cli_snapshot_corrupt", detail
    if isinstance(exc, MigrationError):
        # A read-only database or a full disk says so first, whichever change met it.
        cause = describe_failure(exc.__cause__)[0] if exc.__cause__ is not None else None
        return (cause if cause in ("cli_db_readonly", "cli_disk_full") else "cli_migration_failed"), detail
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return "cli_db_missing", f"{url}: {detail}"
    if isinstance(exc, (asyncpg.InvalidAuthorizationSpecificationError, asyncpg.InvalidPasswordError)):
        return "cli_db_refused", f"{url}: {detail}"
    if isinstance(exc, asyncpg.ReadOnlySQLTransactionError):
        return "cli_db_readonly", f"{url}: {detail}"
    if isinstance(exc, asyncpg.DiskFullError):
        return "cli_disk_full", f"{url}: {detail}"
    if isinstance(exc, (asyncpg.PostgresError, asyncpg.InterfaceError)):
        return "cli_db_error", f"{url}: {detail}"
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        if code == sqlite3.SQLITE_FULL or "disk is full" in detail:
            return "cli_disk_full", f"{url}: {detail}"
        if code == sqlite3.SQLITE_READONLY or "readonly" in detail:
            return "cli_db_readonly", f"{url}: {detail}"
        return "cli_db_error", f"{url}: {detail}"
    if isinstance(exc, OSError):
        if exc.errno == errno.ENOSPC:
            return "cli_disk_full", detail
        if exc.errno == errno.EROFS:
            return "cli_db_readonly", detail
        if isinstance(exc, (ConnectionError, socket.gaierror, TimeoutError)) or exc.errno in (
                errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ETIMEDOUT):
            return "cli_db_unreachable", f"{url}: {detail}"
        return "cli_file_error", detail
    return "cli_unexpected", f"{type(exc).__name__}: {detail}"


def run(coro):
    return asyncio.run(coro)


async def with_db(rt, work):
    """``await work()`` with ``rt``'s database open, closed afterwards whatever happens."""
    await rt.db.start()
    try:
        return await work()
    finally:
        await rt.db.close()


def progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                    TimeElapsedColumn(), console=err_console, transient=not sys.stderr.isatty())
