"""Modules switched on per unit: the one policy deciding where a module exists.

A module (roles_config/modules.yaml) names entities, forms, workflows, roles, route prefixes, admin menus and
reports. It is on for the units its ``enabled_for`` codes lead to today, following lineage, so that a code a
restructuring recoded or merged away still switches on the unit that answers for it, and for their subtrees
(the unit closure, which includes the units merged into a unit).

A module exists for a user when one of the user's current assignments is at a unit where it is on, or at an
ancestor of such a unit: a province or ministry supervising a unit that has the module sees it too. Superusers
see every module; anonymous requests see only the modules on at a root unit. Where a module does not exist,
nothing it names exists either: every surface asks this module, never the YAML.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hoso.config import Config, EntityDef, ModuleDef
from hoso.db import Database
from hoso.i18n import t
from hoso.scope import local_today

if TYPE_CHECKING:  # pragma: no cover
    from hoso.runtime import Runtime

__all__ = ["ModuleSwitches", "ModuleOff", "switches", "names_off", "check_new_record", "path_under"]



class ModuleOff(ValueError):
    """A record of a module's entity at a unit where the module is off."""

    def __init__(self, module: ModuleDef, unit: str, field: str):
        self.module, self.unit, self.field = module, unit, field
        super().__init__(self.text("vi"))

    def text(self, lang: str) -> str:
        label = self.module.label
        return t("module_off", lang, module=self.module.name, unit=self.unit,
                 label=label.vi if lang == "vi" else label.en or label.vi)


# The keys of a module that name definitions or admin entries (routes are matched on the request path).
_NAMED_KEYS = ("entities", "forms", "workflows", "roles", "menus", "reports")


@dataclass(frozen=True)
class _Who:
    user_id: int | None
    superuser: bool


def _who(user: Any) -> _Who:
    """The account behind a request's user, an admin user, a record context or an actor (None: anonymous)."""
    if user is None:
        return _Who(None, False)
    current = getattr(user, "current", None)  # the admin's user wraps the account
    if current is not None:
        user = current
    uid = getattr(user, "user_id", None)
    if uid is None:
        uid = getattr(user, "id", None)
    return _Who(uid, bool(getattr(user, "superuser", False)))


class ModuleSwitches:
    """Where each module of a configuration is on, resolved against the units of the database on one date.

    ``inside[m]``: the units where ``m`` is on (enabled units and their subtrees); ``above[m]``: the ancestors
    of the enabled units, whose users see the module without being able to create its records there.
    """

    def __init__(self, db: Database, config: Config, on: dt.date, inside: dict[str, frozenset[int]],
                 above: dict[str, frozenset[int]], roots: frozenset[int]):
        self.db, self.config, self.on = db, config, on
        self.inside, self.above, self.roots = inside, above, roots
        self.by_name = {m.name: m for m in config.modules}
        self._entity_module = {e: m for m in config.modules for e in m.entities}

    # -- building ---------------------------------------------------------------------------------------------
    @classmethod
    async def load(cls, db: Database, config: Config, on: dt.date | None = None) -> ModuleSwitches:
        on = on or local_today()
        inside: dict[str, frozenset[int]] = {}
        above: dict[str, frozenset[int]] = {}
        for m in config.modules:
            enabled = await _enabled_units(db, m.enabled_for, on)
            inside[m.name] = await _closure(db, "descendant_id", "ancestor_id", enabled)
            above[m.name] = await _closure(db, "ancestor_id", "descendant_id", enabled)
        roots = frozenset(r["id"] for r in await db.fetch("SELECT id FROM hoso_unit WHERE parent_id IS NULL"))
        return cls(db, config, on, inside, above, roots)

    # -- questions about units --------------------------------------------------------------------------------
    def unit_has(self, module: str, unit_id: int | None) -> bool:
        """Whether ``module`` is on at the unit: the unit is an enabled unit or inside one's subtree."""
        return unit_id is not None and unit_id in self.inside.get(module, frozenset())

    def visible_at(self, module: str, unit_ids: set[int]) -> bool:
        """Whether someone assigned at ``unit_ids`` sees ``module``: on there, or on somewhere below."""
        return bool(unit_ids & (self.inside.get(module, frozenset()) | self.above.get(module, frozenset())))

    def module_of_entity(self, entity: str) -> ModuleDef | None:
        return self._entity_module.get(entity)

    def module_of_route(self, path: str) -> ModuleDef | None:
        for m in self.config.modules:
            if any(path_under(path, prefix) for prefix in m.routes):
                return m
        return None

    # -- questions about users --------------------------------------------------------------------------------
    async def enabled_for_user(self, user: Any) -> set[str]:
        """The names of the modules that exist for ``user`` (None: an anonymous request)."""
        who = _who(user)
        if who.superuser:
            return set(self.by_name)
        if who.user_id is None:  # anonymous: only what is on for everyone, at a root of the tree
            return {name for name in self.by_name if self.roots & self.inside.get(name, frozenset())}
        units = set(await self._units_of(who.user_id, user))
        return {name for name in self.by_name if self.visible_at(name, units)}

    async def entity_available(self, user: Any, entity: str) -> bool:
        m = self.module_of_entity(entity)
        return m is None or m.name in await self.enabled_for_user(user)

    async def route_available(self, user: Any, path: str) -> bool:
        m = self.module_of_route(path)
        return m is None or m.name in await self.enabled_for_user(user)

    async def names_available(self, user: Any, key: str, names: list[str]) -> list[str]:
        """``names`` (entities, menus, reports, forms...) without those of modules that do not exist for ``user``."""
        owned = {n: m.name for m in self.config.modules for n in getattr(m, key)}
        if not any(n in owned for n in names):
            return list(names)
        on = await self.enabled_for_user(user)
        return [n for n in names if n not in owned or owned[n] in on]

    async def names_off(self, user: Any) -> dict[str, frozenset[str]]:
        """Per key (``entities``, ``forms``, ``menus``, ``reports``...), the names owned by modules off for ``user``."""
        naming = [m for m in self.config.modules if any(getattr(m, k) for k in _NAMED_KEYS)]
        if not naming:
            return {k: frozenset() for k in _NAMED_KEYS}  # nothing to hide: who the user is does not matter
        on = await self.enabled_for_user(user)
        off = [m for m in naming if m.name not in on]
        return {k: frozenset(n for m in off for n in getattr(m, k)) for k in _NAMED_KEYS}

    def check_unit(self, entity: str, unit_id: int | None, unit_label: str, field: str) -> None:
        """Refuse (ModuleOff) a record of a module's entity answering to a unit where the module is off."""
        m = self.module_of_entity(entity)
        if m is not None and unit_id is not None and not self.unit_has(m.name, unit_id):
            raise ModuleOff(m, unit_label, field)

    async def _units_of(self, user_id: int, user: Any = None) -> frozenset[int]:
        """The units ``user_id`` is assigned at on this date: from the holdings read with a request's account when
        they are of this date (``hoso.web.identity.CurrentUser``), else read."""
        user = getattr(user, "current", None) or user
        held = getattr(user, "holdings", None)
        if held is not None and getattr(user, "held_on", None) == self.on and getattr(user, "id", None) == user_id:
            return frozenset(unit for _role, unit in held if unit is not None)
        rows = await self.db.fetch(
            "SELECT DISTINCT unit_id FROM hoso_assignment WHERE user_id = {} AND starts_on <= {} "
            "AND (ends_on IS NULL OR ends_on > {})", user_id, self.on, self.on)
        return frozenset(r["unit_id"] for r in rows if r["unit_id"] is not None)


def path_under(path: str, prefix: str) -> bool:
    """Whether ``path`` is ``prefix`` or below it, by whole segments (``/hotline`` covers ``/hotline/x``, not
    ``/hotlines``)."""
    prefix = prefix.rstrip("/")
    return path == prefix or path.startswith(prefix + "/") or prefix == ""


async def _enabled_units(db: Database, codes: tuple[str, ...], on: dt.date) -> set[int]:
    """The units that answer today for ``codes``: lineage is followed so a restructuring orphans no switch."""
    from hoso.restructure.lineage import lookup_successor

    out: set[int] = set()
    for code in codes:
        for unit in await lookup_successor(db, code, on):
            valid_to = unit["valid_to"]
            if isinstance(valid_to, str):
                valid_to = dt.date.fromisoformat(valid_to)
            if valid_to is None or valid_to > on:
                out.add(int(unit["id"]))
    return out


async def _closure(db: Database, want: str, given: str, ids: set[int]) -> frozenset[int]:
    if not ids:
        return frozenset()
    marks = ", ".join("{}" for _ in ids)
    rows = await db.fetch(f"SELECT DISTINCT {want} AS u FROM hoso_unit_closure WHERE {given} IN ({marks})",
                          *sorted(ids))
    return frozenset(int(r["u"]) for r in rows) | frozenset(ids)


async def switches(rt: Runtime, on: dt.date | None = None) -> ModuleSwitches:
    """The switches of ``rt``'s configuration today, rebuilt when the units or their lineage changed."""
    on = on or local_today()
    if not rt.config.modules:
        return ModuleSwitches(rt.db, rt.config, on, {}, {}, frozenset())
    # Units are only ever added (the unit files) or restructured (a row of hoso_restructuring per change set
    # applied), never deleted: the two largest ids tell whether the tree changed, from two index lookups, where
    # counting the closure read it whole on every request.
    row = (await rt.db.fetch("SELECT (SELECT MAX(id) FROM hoso_unit) AS u, "
                             "(SELECT MAX(id) FROM hoso_restructuring) AS r"))[0]
    key = (rt.config.content_hash, on, row["u"], row["r"])
    cache = rt.__dict__.setdefault("_module_switches", {})
    found = cache.get(key)
    if found is None or found.config is not rt.config:
        cache.clear()
        found = cache[key] = await ModuleSwitches.load(rt.db, rt.config, on)
    return found


async def names_off(rt: Runtime, user: Any) -> dict[str, frozenset[str]]:
    """``ModuleSwitches.names_off`` for today, without reading the units when no module names anything."""
    if not any(getattr(m, k) for m in rt.config.modules for k in _NAMED_KEYS):
        return {k: frozenset() for k in _NAMED_KEYS}
    return await (await switches(rt)).names_off(user)


async def check_new_record(rt: Runtime, entity: EntityDef, values: dict, lang: str = "vi") -> None:
    """Refuse (a ValidationError on the unit field, naming the module) a new record of a module's entity at a
    unit where the module is off. A missing or unknown unit is left to the record service to report."""
    from hoso.records.errors import ValidationError

    if entity.unit_field is None or not any(entity.name in m.entities for m in rt.config.modules):
        return
    value = values.get(entity.unit_field)
    unit_id = value if isinstance(value, int) and not isinstance(value, bool) else (
        int(value) if isinstance(value, str) and value.strip().isdigit() else None)
    if unit_id is None or not 0 < unit_id < 2 ** 31:  # no unit has it (PostgreSQL's key is 32-bit)
        return
    rows = await rt.db.fetch("SELECT code FROM hoso_unit WHERE id = {}", unit_id)
    if not rows:
        return
    try:
        (await switches(rt)).check_unit(entity.name, unit_id, rows[0]["code"], entity.unit_field)
    except ModuleOff as exc:
        raise ValidationError([(exc.field, exc.text(lang))]) from None
