"""Helpers for tests that need a migrated database."""

from __future__ import annotations

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
    """A runtime whose database has been migrated to ``config`` and loaded with its units."""
    rt = Runtime.create(config, database_url, plugins=plugins)
    await rt.db.start()
    plan = await make_plan(rt.db, rt.config, rt.registry)
    assert plan.ok, plan.render()
    await apply_plan(rt.db, rt.config, rt.registry, plan, applied_by="test")
    await sync_units(rt)
    return rt


async def remigrate(rt: Runtime, config, plugins=()):
    """Plan and apply ``config`` (a Config or a folder) against ``rt``'s database; return the plan and a new
    runtime."""
    new = Runtime.create(config, db=rt.db, plugins=plugins)
    plan = await make_plan(new.db, new.config, new.registry)
    if plan.ok and plan.has_changes:
        await apply_plan(new.db, new.config, new.registry, plan, applied_by="test")
    return plan, new
