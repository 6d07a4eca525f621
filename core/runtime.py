"""Everything a running hoso needs, built once: configuration, plugins, field types, database, tables."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pluggy

from hoso.config import Config, load_config
from hoso.db import Database, database_from_env
from hoso.fields import Registry
from hoso.model.tables import Tables, build_tables
from hoso.plugin_manager import config_extensions, get_plugin_manager, plugin_scope_rules
from hoso.scope import ScopeRules

__all__ = ["Runtime", "applied_definitions", "reload_runtime"]

log = logging.getLogger("hoso.runtime")


@dataclass
class Runtime:
    config: Config
    pm: pluggy.PluginManager
    registry: Registry
    db: Database
    tables: Tables
    scope: ScopeRules

    @classmethod
    def create(cls, config: Config | str | None = None, database_url: str | None = None,
               plugins: Iterable[Any] = (), db: Database | None = None) -> Runtime:
        pm = get_plugin_manager(plugins)
        registry = Registry(pm)
        if not isinstance(config, Config):
            config = load_config(config, **registry.config_options(), **config_extensions(pm))
        db = db or database_from_env(database_url)
        return cls(config, pm, registry, db, build_tables(db, config, registry),
                   ScopeRules(config, plugin_scope_rules(pm)))

    def records(self):
        from hoso.records.service import RecordService

        return RecordService(self)

    async def plan(self):
        from hoso.model.migrate import make_plan

        return await make_plan(self.db, self.config, self.registry)


async def applied_definitions(rt: Runtime) -> str | None:
    """The content hash of the definitions last applied to ``rt``'s database (None before any migration)."""
    return await rt.db.fetchval("SELECT content_hash FROM hoso_schema_state ORDER BY id DESC LIMIT 1")


def reload_runtime(base: Runtime, applied: str) -> Runtime | None:
    """A runtime for the configuration on disk when it is the one ``applied`` (else None), sharing ``base``'s
    database, plugins and field types: what a running process (an application, a worker) switches to after
    ``hoso migrate``."""
    config = load_config(base.config.root, **base.registry.config_options(), **config_extensions(base.pm))
    if config.content_hash != applied:
        log.warning("the database holds definitions %s but the configuration in %s is %s: this process keeps the "
                    "definitions it has", applied[:12], base.config.root, config.content_hash[:12])
        return None
    return Runtime(config, base.pm, base.registry, base.db, build_tables(base.db, config, base.registry),
                   ScopeRules(config, base.scope.plugin_rules))
