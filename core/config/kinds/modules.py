"""Optional modules: ``roles_config/modules.yaml``, features switched on for some units only."""

from __future__ import annotations

from ..kind import ConfigKind
from ..loader import SCHEMA_DIR, _check_module_units, _label
from ..types import ModuleDef


def build(ctx, files) -> list[ModuleDef]:
    modules = []
    for f in files:
        for name, m in f.data["modules"].items():
            _check_module_units(ctx, f, name, m.get("enabled_for", ()))
            if not f.partial:
                modules.append(ModuleDef(name, _label(m["label"]), tuple(m.get("enabled_for", ()))))
    return modules


# After the hierarchy: the units a module is switched on for must be known.
KIND = ConfigKind("modules", "roles_config/modules.yaml", SCHEMA_DIR / "modules.schema.json", build,
                  after=("hierarchy",), config_field="modules", export=tuple, described_as="a modules")
