"""Helpers for tests that need a migrated database."""

from __future__ import annotations

import atexit
import dataclasses
import hashlib
import os
import sqlite3
import tempfile
import uuid
from contextlib import closing
from pathlib import Path
from urllib.parse import urlparse, urlunparse

from hoso.config import Config, load_config
from hoso.fields import Registry
from hoso.model.migrate import apply_plan, make_plan
from hoso.plugin_manager import config_extensions, get_plugin_manager
from hoso.runtime import Runtime
from hoso.units import sync_units


def load_full_config(root, plugins=()) -> Config:
    """The configuration under ``root`` as ``hoso`` loads it: with the kinds the built-in plugins add (the
    admin's admin.yaml, the report approvals), so its content hash is the one the commands and the server see."""
    pm = get_plugin_manager(plugins)
    return load_config(root, **Registry(pm).config_options(), **config_extensions(pm))


async def migrated_runtime(config, database_url: str, plugins=()) -> Runtime:
    """A runtime whose database has been migrated to ``config`` and loaded with its units.

    Many tests migrate the same configuration into a new, empty database. The first migration of a configuration
    in a test process is kept as a template (a file, or a PostgreSQL template database), and an empty database is
    then filled by copying it: the same tables, rows and units as migrating, in a fraction of the time. A database
    that is not empty, or a runtime with extra plugins, is migrated as usual."""
    rt = Runtime.create(config, database_url, plugins=plugins)
    key = None if plugins else _template_key(rt)
    if key is not None and await _copy_template(key, rt, database_url):
        await rt.db.start()
        return rt
    await rt.db.start()
    await _migrate(rt)
    return rt


async def _migrate(rt: Runtime) -> None:
    plan = await make_plan(rt.db, rt.config, rt.registry)
    assert plan.ok, plan.render()
    await apply_plan(rt.db, rt.config, rt.registry, plan, applied_by="test")
    await sync_units(rt)


# configuration key -> template (a file path for SQLite, a database name for PostgreSQL), in this process
_TEMPLATES: dict[tuple[str, str], str] = {}
_PG_SERVERS: dict[str, str] = {}  # template database name -> the URL of a database on its server


def _template_key(rt: Runtime) -> tuple[str, str] | None:
    if os.environ.get("HOSO_TEST_NO_TEMPLATES"):
        return None
    # The whole definition, not the content hash alone: tests change loaded configurations in memory.
    text = repr(dataclasses.replace(rt.config, root=""))
    return (rt.db.kind, hashlib.sha256(text.encode()).hexdigest()[:16])


async def _copy_template(key: tuple[str, str], rt: Runtime, url: str) -> bool:
    """Fill the empty database ``url`` from the template of ``key`` (made first when missing); False when the
    database is not empty (then nothing was done)."""
    if rt.db.is_sqlite:
        target = Path(url[len("sqlite:///"):])
        with closing(sqlite3.connect(target)) as conn:
            if conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0]:
                return False
        if key not in _TEMPLATES:
            folder = Path(tempfile.mkdtemp(prefix="hoso-templates-"))
            atexit.register(_remove_folder, folder)
            path = folder / f"{key[1]}.db"
            await _migrate_template(rt, f"sqlite:///{path}")
            _TEMPLATES[key] = str(path)
        with closing(sqlite3.connect(_TEMPLATES[key])) as src, closing(sqlite3.connect(target)) as dst:
            src.backup(dst)
        return True
    import asyncpg

    name = urlparse(url).path.lstrip("/")
    conn = await asyncpg.connect(url)
    try:
        if await conn.fetchval("SELECT COUNT(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                               "WHERE n.nspname = current_schema()"):
            return False
    finally:
        await conn.close()
    if key not in _TEMPLATES:
        template = f"hoso_template_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        await _pg(url, f'CREATE DATABASE "{template}"')
        _PG_SERVERS[template] = url
        await _migrate_template(rt, urlunparse(urlparse(url)._replace(path="/" + template)))
        _TEMPLATES[key] = template
    await _pg(url, f'DROP DATABASE "{name}" WITH (FORCE)')
    await _pg(url, f'CREATE DATABASE "{name}" TEMPLATE "{_TEMPLATES[key]}"')
    return True


async def _migrate_template(rt: Runtime, url: str) -> None:
    template = Runtime.create(rt.config, url)
    await template.db.start()
    try:
        await _migrate(template)
    finally:
        await template.db.close()
    if template.db.is_sqlite:  # the whole database in its file, for the copies
        with closing(sqlite3.connect(url[len("sqlite:///"):])) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


async def _pg(url: str, sql: str) -> None:
    import asyncpg

    # statements from the tests' own database: a database cannot be dropped from inside itself
    conn = await asyncpg.connect(os.environ.get("HOSO_TEST_POSTGRES_URL")
                                 or urlunparse(urlparse(url)._replace(path="/postgres")))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _remove_folder(folder: Path) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


async def drop_templates(url: str) -> None:
    """Drop this process's PostgreSQL template databases (at the end of the test session), and those left by test
    processes that no longer run (stopped before their end)."""
    import asyncpg

    for template, server in list(_PG_SERVERS.items()):
        await _pg(server, f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')
        del _PG_SERVERS[template]
    conn = await asyncpg.connect(url)
    try:
        names = [r["datname"] for r in await conn.fetch(
            "SELECT datname FROM pg_database WHERE datname LIKE 'hoso\\_template\\_%'")]
    finally:
        await conn.close()
    for name in names:
        pid = name.split("_")[2]
        if pid.isdigit() and not _running(int(pid)):
            await _pg(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def remigrate(rt: Runtime, config, plugins=()):
    """Plan and apply ``config`` (a Config or a folder) against ``rt``'s database; return the plan and a new
    runtime."""
    new = Runtime.create(config, db=rt.db, plugins=plugins)
    plan = await make_plan(new.db, new.config, new.registry)
    if plan.ok and plan.has_changes:
        await apply_plan(new.db, new.config, new.registry, plan, applied_by="test")
    return plan, new
