"""Helpers for tests that need a migrated database."""

from __future__ import annotations

import atexit
import dataclasses
import hashlib
import os
import sqlite3
import tempfile
from contextlib import closing
from pathlib import Path

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

    Many tests migrate the same configuration into a new, empty SQLite file. The first migration of a
    configuration in a test process is kept as a template file, and an empty file is then filled by copying it: the
    same tables, rows and units as migrating, in a fraction of the time. (On PostgreSQL a copy would cost more than
    the migration: dropping the empty database forces a checkpoint.) A database that is not empty, or a runtime
    with extra plugins, is migrated as usual."""
    rt = Runtime.create(config, database_url, plugins=plugins)
    key = None if plugins or not rt.db.is_sqlite else _template_key(rt)
    if key is not None and _empty(database_url):
        if key not in _TEMPLATES:
            await _make_template(key, rt)
        with closing(sqlite3.connect(_TEMPLATES[key])) as src, closing(sqlite3.connect(_path(database_url))) as dst:
            src.backup(dst)
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


def _template_key(rt: Runtime) -> str | None:
    if os.environ.get("HOSO_TEST_NO_TEMPLATES"):
        return None
    # The whole definition, not the content hash alone: tests change loaded configurations in memory.
    return hashlib.sha256(repr(dataclasses.replace(rt.config, root="")).encode()).hexdigest()[:16]


def _path(url: str) -> Path:
    return Path(url[len("sqlite:///"):])


def _empty(url: str) -> bool:
    with closing(sqlite3.connect(_path(url))) as conn:
        return not conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0]


async def _make_template(key: str, rt: Runtime) -> None:
    folder = Path(tempfile.mkdtemp(prefix="hoso-templates-"))
    atexit.register(_remove_folder, folder)
    path = folder / f"{key}.db"
    template = Runtime.create(rt.config, f"sqlite:///{path}")
    await template.db.start()
    try:
        await _migrate(template)
    finally:
        await template.db.close()
    with closing(sqlite3.connect(path)) as conn:  # the whole database in its file, for the copies
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    _TEMPLATES[key] = path


def _remove_folder(folder: Path) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)
