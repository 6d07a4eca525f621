"""Helpers for tests that need a migrated database."""

from __future__ import annotations

import atexit
import dataclasses
import hashlib
import os
import sqlite3
import tempfile
import types
from contextlib import closing
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import asyncpg

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


def examples(n: int) -> int:
    """How many examples a database-backed property test tries: ``n`` times ``HOSO_PROPERTY_SCALE`` (default 0.5,
    what `make test` runs; `make fuzz` runs 2, four times as many)."""
    return max(5, round(n * float(os.environ.get("HOSO_PROPERTY_SCALE", "0.5"))))


async def migrated_runtime(config, database_url: str, plugins=()) -> Runtime:
    """A runtime whose database has been migrated to ``config`` and loaded with its units.

    Many tests migrate the same configuration into a new, empty database. The first migration of a configuration
    in a test process is kept as a template, and an empty database is then made a copy of it: the same tables, rows
    and units as migrating, in a fraction of the time. On SQLite the template is a file, copied with SQLite's
    backup; on PostgreSQL it is a database, and the empty one is renamed aside (dropped in the background: a DROP
    DATABASE waits for a checkpoint) and created again from the template. A database that is not empty, or a
    runtime with extra plugins, is migrated as usual."""
    rt = Runtime.create(config, database_url, plugins=plugins)
    key = _template_key(rt, plugins)
    if key is not None and rt.db.is_sqlite and _empty(database_url):
        if key not in _TEMPLATES:
            await _make_template(key, rt, plugins)
        with closing(sqlite3.connect(_TEMPLATES[key])) as src, closing(sqlite3.connect(_path(database_url))) as dst:
            src.backup(dst)
        await rt.db.start()
        return rt
    # PostgreSQL templates only in a test run: their databases are dropped by the test session's end (a benchmark
    # using this helper migrates, and leaves no template behind)
    if key is not None and not rt.db.is_sqlite and "PYTEST_CURRENT_TEST" in os.environ \
            and await _pg_empty(database_url):
        await _pg_copy(key, rt, database_url, plugins)
        await rt.db.start()
        return rt
    await rt.db.start()
    await _migrate(rt)
    return rt


async def remigrate(rt: Runtime, config, plugins=()):
    """Plan and apply ``config`` (a Config or a folder) against ``rt``'s database; return the plan and a new
    runtime."""
    new = Runtime.create(config, db=rt.db, plugins=plugins)
    plan = await make_plan(new.db, new.config, new.registry)
    if plan.ok and plan.has_changes:
        await apply_plan(new.db, new.config, new.registry, plan, applied_by="test")
    return plan, new


async def _migrate(rt: Runtime) -> None:
    plan = await make_plan(rt.db, rt.config, rt.registry)
    assert plan.ok, plan.render()
    await apply_plan(rt.db, rt.config, rt.registry, plan, applied_by="test")
    await sync_units(rt)


# configuration key -> template file, in this process
_TEMPLATES: dict[str, Path] = {}


def _template_key(rt: Runtime, plugins=()) -> str | None:
    """The key of the runtime's template: its whole definition (not the content hash alone: tests change loaded
    configurations in memory) and its plugins when they are modules (a plugin object may hold state of its test)."""
    if os.environ.get("HOSO_TEST_NO_TEMPLATES") or not all(isinstance(p, types.ModuleType) for p in plugins):
        return None
    definition = repr(dataclasses.replace(rt.config, root="")) + repr(sorted(p.__name__ for p in plugins))
    return hashlib.sha256(definition.encode()).hexdigest()[:16]


def _path(url: str) -> Path:
    return Path(url[len("sqlite:///"):])


def _empty(url: str) -> bool:
    with closing(sqlite3.connect(_path(url))) as conn:
        return not conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0]


async def _make_template(key: str, rt: Runtime, plugins=()) -> None:
    folder = Path(tempfile.mkdtemp(prefix="hoso-templates-"))
    atexit.register(_remove_folder, folder)
    path = folder / f"{key}.db"
    template = Runtime.create(rt.config, f"sqlite:///{path}", plugins=plugins)
    await template.db.start()
    try:
        await _migrate(template)
    finally:
        await template.db.close()
    with closing(sqlite3.connect(path)) as conn:  # the whole database in its file, for the copies
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    _TEMPLATES[key] = path


# configuration key -> template database on the PostgreSQL server, in this process
_PG_TEMPLATES: dict[str, str] = {}


def pg_templates() -> list[str]:
    """The template databases this process made (dropped at the session's end)."""
    return list(_PG_TEMPLATES.values())


async def _pg_empty(url: str) -> bool:
    conn = await asyncpg.connect(url.split("?", 1)[0])
    try:
        return not await conn.fetchval("SELECT COUNT(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                                       "WHERE n.nspname = 'public'")
    finally:
        await conn.close()


async def _pg_copy(key: str, rt: Runtime, url: str, plugins=()) -> None:
    """Make the empty database of ``url`` a copy of the configuration's template (migrated first if need be)."""
    from tests.conftest import PG_URL, drop_database

    # the server's administrative connection: the tests' configured database, else the server's ``postgres``
    # (a benchmark using these helpers without HOSO_TEST_POSTGRES_URL)
    parsed = urlparse(url)
    server, name = PG_URL or urlunparse(parsed._replace(path="/postgres", query="")), parsed.path.lstrip("/")
    if key not in _PG_TEMPLATES:
        template = f"hoso_tmpl_{key}_{os.getpid()}"
        conn = await asyncpg.connect(server)
        try:
            await conn.execute(f'CREATE DATABASE "{template}"')
        finally:
            await conn.close()
        migrated = Runtime.create(rt.config, urlunparse(urlparse(url)._replace(path=f"/{template}")), plugins=plugins)
        await migrated.db.start()
        try:
            await _migrate(migrated)
        finally:
            await migrated.db.close()
        _PG_TEMPLATES[key] = template
    conn = await asyncpg.connect(server)
    try:
        aside = f"{name}_x"
        await conn.execute(f'ALTER DATABASE "{name}" RENAME TO "{aside}"')
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{_PG_TEMPLATES[key]}"')
    finally:
        await conn.close()
    drop_database(aside)


def _remove_folder(folder: Path) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)
