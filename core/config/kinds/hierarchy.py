"""The unit hierarchy: ``roles_config/hierarchy.yaml``, its levels and unit types, the unit files it names
(YAML or CSV) and the folder of restructurings (change sets) it names."""

from __future__ import annotations

from ..kind import ConfigKind
from ..loader import SCHEMA_DIR, _check_unit_types, _did_you_mean, _label, _read_restructurings, _read_units
from ..types import HierarchyDef, UnitTypeDef


def build(ctx, files) -> HierarchyDef | None:
    hierarchy = None
    for f in files:
        d = f.data
        for tname, t in d["unit_types"].items():
            if t["level"] not in d["levels"]:
                f.error(("unit_types", tname, "level"), f"unknown level {t['level']!r}"
                        f"{_did_you_mean(t['level'], d['levels'])}; levels: {', '.join(d['levels'])}")
        before = len(ctx.issues)
        units = _read_units(ctx, f, set(d["unit_types"]))
        ctx.units_complete = len(ctx.issues) == before and not f.partial
        if not f.partial:
            hierarchy = HierarchyDef(tuple(d["levels"]),
                                     tuple(UnitTypeDef(n, t["level"], _label(t["label"]))
                                           for n, t in d["unit_types"].items()),
                                     tuple(units), _read_restructurings(ctx, f), d.get("restructurings"))
    return hierarchy


def check(ctx, hierarchy: HierarchyDef | None) -> None:
    """``unit_types`` of the entities' org_unit fields name unit types of the hierarchy."""
    if hierarchy is not None:
        _check_unit_types(ctx.files.get("entity", []), {t.name for t in hierarchy.unit_types})


KIND = ConfigKind("hierarchy", "roles_config/hierarchy.yaml", SCHEMA_DIR / "hierarchy.schema.json", build,
                  check=check, config_field="hierarchy")
