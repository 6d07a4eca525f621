"""Roles: ``roles_config/roles/*.yaml``, what each role may do, on which records (its scope)."""

from __future__ import annotations

from ..kind import ConfigKind
from ..loader import SCHEMA_DIR, ConfigFile, _did_you_mean, _label
from ..types import EntityDef, GrantDef, RoleDef
from .entity import names_under


def build(ctx, files) -> list[RoleDef]:
    transitions_by_entity: dict[str, set[str]] = {}
    for w in ctx.results["workflow"]:
        transitions_by_entity.setdefault(w.entity, set()).update(t.name for t in w.transitions)
    roles: list[RoleDef] = []
    role_files: dict = {}
    partial_roles: list = []
    for f in files:
        d = f.data
        if d["role"] in role_files:
            f.error(("role",), f"role {d['role']!r} is already defined in {role_files[d['role']].rel}")
            continue
        if not f.partial:
            role_files[d["role"]] = f
        grants = [_grant(ctx, f, i, g, transitions_by_entity) for i, g in enumerate(d["grants"])]
        role = RoleDef(d["role"], _label(d["label"]), tuple(grants), tuple(d.get("can_grant", ())), source=f.rel)
        if f.partial:
            partial_roles.append((f, role))
        else:
            roles.append(role)
    for f, r in [(role_files[r.name], r) for r in roles] + partial_roles:
        for j, name in enumerate(r.can_grant):
            if name not in role_files and name not in ctx.broken.get("role", ()):
                f.error(("can_grant", j), f"unknown role {name!r}{_did_you_mean(name, role_files)}"
                        + ctx.unreadable_note("role"))
    return roles


def _grant(ctx, f, i: int, g: dict, transitions_by_entity: dict[str, set[str]]) -> GrantDef:
    entities = ctx.results["entity"]
    e = ctx.checker.entity_ref(f, ("grants", i, "entity"), g["entity"], entities)
    for j, a in enumerate(g["actions"]):
        if a.startswith("transition:"):
            tname = a.split(":", 1)[1]
            known = transitions_by_entity.get(g["entity"], set())
            if e is not None and tname not in known and g["entity"] not in ctx.broken.get("workflow", ()):
                f.error(("grants", i, "actions", j),
                        f"unknown workflow transition {tname!r} of entity {g['entity']!r}"
                        + _did_you_mean(tname, known)
                        + (f"; transitions: {', '.join(sorted(known))}" if known else "; it has no workflow")
                        + ctx.unreadable_note("workflow"))
    for key in ("hidden_fields", "read_only_fields"):
        ctx.checker.fields_exist(f, e, g["entity"], [(("grants", i, key, j), n) for j, n in enumerate(g.get(key, ()))],
                                 key)
    given, link = g["scope"], None
    scope = given
    if isinstance(given, dict):
        scope, link = "link", _link_scope(f, ("grants", i, "scope"), e, given, entities)
    _disclosure(ctx, f, ("grants", i), g, scope)
    return GrantDef(g["entity"], tuple(g["actions"]), scope, tuple(g.get("hidden_fields", ())),
                    tuple(g.get("read_only_fields", ())), link, g.get("finest_level"), g.get("suppress_below", 0),
                    g.get("rows"))


def _disclosure(ctx, f: ConfigFile, path: tuple, g: dict, scope: str) -> None:
    """``finest_level`` and ``suppress_below`` limit report numbers: they need ``run_reports``; the level is one of
    the hierarchy's; a statistics scope never gets rows."""
    for key in ("finest_level", "suppress_below"):
        if key in g and "run_reports" not in g["actions"]:
            f.error(path + (key,), f"{key} limits the numbers of reports: the grant needs the action run_reports",
                    key=True)
    if g.get("rows") is True and scope == "statistics":
        f.error(path + ("rows",), "a grant with scope statistics never gets rows: remove rows: true or give the "
                "grant a scope that reads rows")
    level = g.get("finest_level")
    hierarchy = ctx.results.get("hierarchy")
    if level is not None and hierarchy is not None and level not in hierarchy.levels:
        f.error(path + ("finest_level",), f"unknown level {level!r}{_did_you_mean(level, hierarchy.levels)}; "
                f"levels of roles_config/hierarchy.yaml: {', '.join(hierarchy.levels)}")


def declared_names(data, text: str) -> set[str] | None:
    return names_under("role", data, text)


def _link_scope(f: ConfigFile, path: tuple, e: EntityDef | None, scope: dict,
                entities: dict[str, EntityDef]) -> tuple[str, str, str] | None:
    """Check a scope ``{field: F, to: E.G}``: F a reference field of the grant's entity, E an entity with one user
    field, G a reference field of E to the same entity as F. F may be ``id``, the record itself: G then refers
    to the grant's entity (the records a record of the user's names, e.g. the cases sampled for a reviewer)."""
    if e is None:
        return None
    name, to = scope["field"], scope["to"]
    fd = next((x for x in e.column_fields if x.name == name), None)
    target = e.name if name == "id" else (fd.entity if fd is not None and fd.type == "reference" else None)
    if target is None:
        refs = [x.name for x in e.column_fields if x.type == "reference"]
        f.error(path + ("field",), f"expected id or a reference field of entity {e.name!r}"
                + (f" ({', '.join(refs)})" if refs else " (it has none)") + f"; found {name!r}"
                + _did_you_mean(name, refs))
        return None
    ename, gname = to.split(".", 1)
    other = entities.get(ename)
    if other is None:
        f.error(path + ("to",), f"unknown entity {ename!r}" + _did_you_mean(ename, entities))
        return None
    users = [x.name for x in other.column_fields if x.type == "user"]
    if len(users) != 1:
        f.error(path + ("to",), f"entity {ename!r} must have exactly one user field, which says whose record it is; "
                f"found {len(users)}")
        return None
    gd = next((x for x in other.column_fields if x.name == gname), None)
    if gd is None or gd.type != "reference" or gd.entity != target:
        refs = [x.name for x in other.column_fields if x.type == "reference" and x.entity == target]
        f.error(path + ("to",), f"expected a reference field of entity {ename!r} to entity {target!r}, like "
                f"{name!r}" + (f" ({', '.join(refs)})" if refs else "") + f"; found {gname!r}"
                + _did_you_mean(gname, refs))
        return None
    return (name, ename, gname)


KIND = ConfigKind("role", "roles_config/roles", SCHEMA_DIR / "role.schema.json", build,
                  after=("hierarchy", "entity", "workflow"), config_field="roles", export=tuple,
                  declared_names=declared_names)
