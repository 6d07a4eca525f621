"""Optional modules: ``roles_config/modules.yaml``, features switched on for some units only."""

from __future__ import annotations

from typing import Iterable

from ..kind import ConfigKind
from ..loader import HIERARCHY_FILE, SCHEMA_DIR, ConfigFile, _did_you_mean, _label
from ..types import ModuleDef


def build(ctx, files) -> list[ModuleDef]:
    modules = []
    for f in files:
        for name, m in f.data["modules"].items():
            _check_module_units(ctx, f, name, m.get("enabled_for", ()))
            if not f.partial:
                modules.append(ModuleDef(name, _label(m["label"]), tuple(m.get("enabled_for", ()))))
    return modules


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


# After the hierarchy: the units a module is switched on for must be known.
KIND = ConfigKind("modules", "roles_config/modules.yaml", SCHEMA_DIR / "modules.schema.json", build,
                  after=("hierarchy",), config_field="modules", export=tuple, described_as="a modules")
