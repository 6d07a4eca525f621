"""Entities: ``forms_config/entities/*.yaml``, the record types, their fields and tables."""

from __future__ import annotations

import re

from ..kind import ConfigKind
from ..loader import SCHEMA_DIR, _entity, _table_clashes
from ..types import EntityDef


def build(ctx, files) -> dict[str, EntityDef]:
    lists = ctx.results["lists"]
    entities: dict[str, EntityDef] = {}
    entity_files: dict = {}
    partial_entities: list = []
    for f in files:
        e = _entity(f)
        if e.name in entities:
            f.error(("entity",), f"entity {e.name!r} is already defined in {entities[e.name].source}")
            continue
        if e.table.startswith("hoso_"):
            f.error(("table",) if "table" in f.data else ("entity",),
                    f"table names starting with 'hoso_' are reserved for the system; found {e.table!r}")
            ctx.broken.setdefault("entity", set()).add(e.name)  # no "unknown entity" errors elsewhere
            continue
        if f.partial:
            partial_entities.append((f, e))
            continue
        entities[e.name] = e
        entity_files[e.name] = f
    for name in _table_clashes(entities, entity_files):
        del entities[name]
        ctx.broken.setdefault("entity", set()).add(name)
    for name, e in entities.items():
        ctx.checker.entity(entity_files[name], e, lists, entities)
    for f, e in partial_entities:
        ctx.checker.entity(f, e, lists, entities)
    return entities


def declared_names(data, text: str) -> set[str] | None:
    return names_under("entity", data, text)


def names_under(key: str, data, text: str) -> set[str] | None:
    """The name a file gives under the top-level ``key``, read from the text when the YAML did not load."""
    if isinstance(data, dict) and isinstance(data.get(key), str):
        return {data[key]}
    m = re.search(rf"(?m)^{key}:[ \t]*[\"']?([A-Za-z_][A-Za-z0-9_]*)[\"']?[ \t]*(#.*)?$", text)
    return {m[1]} if m else None


KIND = ConfigKind("entity", "forms_config/entities", SCHEMA_DIR / "entity.schema.json", build,
                  after=("lists",), config_field="entities", export=lambda r: tuple(r.values()),
                  described_as="an entity", declared_names=declared_names)
