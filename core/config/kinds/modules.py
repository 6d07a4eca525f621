"""Optional modules: ``roles_config/modules.yaml``, features switched on for some units only."""

from __future__ import annotations

from collections.abc import Iterable

from ..kind import ConfigKind
from ..loader import HIERARCHY_FILE, SCHEMA_DIR, ConfigFile, _did_you_mean, _label
from ..types import ModuleDef

# Keys of a module naming definitions of other kinds, and the kind each must exist as.
MODULE_NAMED_KINDS = {"entities": "entity", "forms": "form", "workflows": "workflow", "roles": "role",
                      "reports": "report"}
# Keys whose names come from plugins at run time (routes and admin menu entries): checked for shape only.
MODULE_FREE_KEYS = ("routes", "menus")


def _names(result) -> set[str]:
    return set(result) if isinstance(result, dict) else {x.name for x in result}


def build(ctx, files) -> list[ModuleDef]:
    """The modules, once every name they give is checked: an entity belongs to one module at most.

    A plugin may ship its own ``roles_config/modules.yaml`` declaring its modules; a module two plugins declare is
    an error naming both files. The deployment's file may name a plugin's module again: the keys it gives
    (typically ``enabled_for``) replace the plugin's, so the deployment decides where a module is on.
    """
    known = {key: _names(ctx.results.get(kind) or ()) for key, kind in MODULE_NAMED_KINDS.items()}
    owner: dict[str, str] = {}
    declared: dict[str, tuple[ConfigFile, dict]] = {}
    deployment = [f for f in files if f.rel == KIND.location]
    for f in [*(f for f in files if f.rel != KIND.location), *deployment]:
        for name, m in f.data["modules"].items():
            _check_module_units(ctx, f, name, m.get("enabled_for", ()))
            _check_module_names(ctx, f, name, m, known)
            for j, entity in enumerate(m.get("entities", ())):
                if entity in owner and owner[entity] != name:
                    f.error(("modules", name, "entities", j), f"entity {entity!r} already belongs to module "
                            f"{owner[entity]!r}: an entity belongs to one module at most")
                owner.setdefault(entity, name)
            earlier = declared.get(name)
            if earlier is not None and f.rel != KIND.location:
                f.error(("modules", name), f"module {name!r} is already declared in {earlier[0].rel}")
                continue
            merged = {**earlier[1], **m} if earlier is not None else m
            declared[name] = (f, merged) if not f.partial else (f, {})
    modules: list[ModuleDef] = []
    for name, (_f, m) in declared.items():
        if m:
            lists = {k: tuple(m.get(k, ())) for k in (*MODULE_NAMED_KINDS, *MODULE_FREE_KEYS)}
            modules.append(ModuleDef(name, _label(m["label"]), tuple(m.get("enabled_for", ())), **lists))
    return modules


def _check_module_names(loader, f: ConfigFile, module: str, m: dict, known: dict[str, set[str]]) -> None:
    for key, kind in MODULE_NAMED_KINDS.items():
        for j, name in enumerate(m.get(key, ())):
            if name in known[key] or name in loader.broken.get(kind, ()):
                continue
            f.error(("modules", module, key, j), f"unknown {kind} {name!r}{_did_you_mean(name, known[key])}"
                    + (f"; defined: {', '.join(sorted(known[key]))}" if known[key] else f"; no {kind} is defined")
                    + loader.unreadable_note(kind))


def _check_module_units(loader, f: ConfigFile, module: str, codes: Iterable[str]) -> None:
    """A module is switched on for units that exist: in the unit files, or given a code by a restructuring."""
    if not loader.units_complete:
        return  # the errors of the hierarchy or its unit files are reported; not every unit is known
    for j, code in enumerate(codes):
        if code in loader.unit_codes or code in loader.restructured_codes():
            continue
        if not loader.unit_codes:
            f.error(("modules", module, "enabled_for", j), f"unknown unit {code!r}: no units are defined (the "
                    f"'units' of {HIERARCHY_FILE} name no unit file with rows)")
            continue
        known = sorted(loader.unit_codes | loader.restructured_codes())
        f.error(("modules", module, "enabled_for", j),
                f"unknown unit {code!r}{_did_you_mean(code, known)}: expected the code of a unit of the "
                "hierarchy's unit files, or one given by a restructuring in roles_config/restructurings/")


# After the kinds whose names a module gives, and the hierarchy: the units it is switched on for must be known.
KIND = ConfigKind("modules", "roles_config/modules.yaml", SCHEMA_DIR / "modules.schema.json", build,
                  after=("hierarchy", "entity", "form", "workflow", "role", "report"), config_field="modules",
                  export=tuple, described_as="a modules", merged=True)
