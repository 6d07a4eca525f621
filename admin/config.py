"""How the generated admin shows a configuration: ``forms_config/admin.yaml`` (optional), the ``admin`` kind.

```yaml
site_name: {vi: Quản trị hồ sơ trợ giúp pháp lý, en: Legal aid records admin}
default_language: vi
menu:
  - group: {vi: Vụ việc, en: Cases}
    entities: [case]
entities:
  case:
    form: case_file              # the form the admin edits with (default: the entity's fullest form)
    list_columns: [code, status, unit, received_on, requester_name]
```

The file is a configuration kind (``KIND``, registered through ``hoso_config_kinds`` by this module): it is
validated by ``admin/schemas/admin.schema.json`` and cross-checked against the entities and forms, and
``hoso check`` reports its errors with file, line, column and key like every other kind's. Without the file
every entity is listed ungrouped, edited with its fullest form, and listed with a few columns chosen from its
definition (title, unit, workflow state, required fields).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hoso.config import (
    Config,
    ConfigErrors,
    ConfigFile,
    ConfigIssue,
    ConfigKind,
    EntityDef,
    FieldDef,
    FormDef,
)
from hoso.config.loader import _did_you_mean, _Loader
from hoso.config.types import Label
from hoso.hookspecs import hookimpl

__all__ = ["ADMIN_FILE", "DEFAULT_SITE_NAME", "KIND", "AdminConfig", "hoso_config_kinds", "load_admin_config"]

ADMIN_FILE = "forms_config/admin.yaml"
SCHEMA = Path(__file__).resolve().parent / "schemas" / "admin.schema.json"
DEFAULT_SITE_NAME = Label("Quản trị hồ sơ", "Records admin")
LIST_COLUMNS = 8


@dataclass(frozen=True)
class AdminConfig:
    site_name: Label = DEFAULT_SITE_NAME
    default_language: str = "vi"
    # (group label, entity names), in menu order
    menu: tuple[tuple[Label, tuple[str, ...]], ...] = ()
    forms: dict[str, str] = field(default_factory=dict)
    list_columns: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def menu_group(self, entity: str) -> Label | None:
        for label, names in self.menu:
            if entity in names:
                return label
        return None

    def edit_form(self, config: Config, entity: EntityDef) -> FormDef | None:
        """The form the admin writes with: the configured one, else the entity's form with the most fields."""
        name = self.forms.get(entity.name)
        if name:
            return config.form(name)
        forms = [f for f in config.forms if f.entity == entity.name]
        if not forms:
            return None
        return max(forms, key=lambda f: sum(len(s.fields) for s in f.sections))

    def columns_for_list(self, config: Config, entity: EntityDef, ordered: list[str]) -> list[str]:
        if entity.name in self.list_columns:
            return list(self.list_columns[entity.name])
        states = [w.state_field for w in config.workflows_for(entity.name)]
        picked: list[str] = []
        for name in [entity.title_field, *states, entity.unit_field]:
            if name and name not in picked and entity.has_field(name):
                picked.append(name)
        for name in ordered:
            fd = entity.field(name) if entity.has_field(name) else None
            if fd is None or name in picked or fd.is_child_table or _too_big_for_a_list(fd):
                continue
            if fd.required and len(picked) < LIST_COLUMNS:
                picked.append(name)
        for name in ordered:
            fd = entity.field(name) if entity.has_field(name) else None
            if len(picked) >= LIST_COLUMNS:
                break
            if fd is not None and name not in picked and not fd.is_child_table and not _too_big_for_a_list(fd) and (
                    not fd.traits.chooses_many):
                picked.append(name)
        return picked


def _too_big_for_a_list(fd: FieldDef) -> bool:
    """Paragraphs and files do not fit a list cell."""
    return fd.traits.multiline or fd.traits.refers_to == "file"


def _label(raw: dict) -> Label:
    return Label(raw["vi"], raw.get("en"))


# -- the configuration kind ---------------------------------------------------------------------------------------


def build(ctx: Any, files: list[ConfigFile]) -> AdminConfig:
    """The admin settings of the file, or the defaults without it (or while it has schema errors)."""
    if not files or files[0].partial:
        return AdminConfig()
    data = files[0].data
    return AdminConfig(
        site_name=_label(data["site_name"]) if "site_name" in data else DEFAULT_SITE_NAME,
        default_language=data.get("default_language", "vi"),
        menu=tuple((_label(g["group"]), tuple(g["entities"])) for g in data.get("menu", ())),
        forms={name: spec["form"] for name, spec in (data.get("entities") or {}).items() if "form" in spec},
        list_columns={name: tuple(spec["list_columns"]) for name, spec in (data.get("entities") or {}).items()
                      if "list_columns" in spec},
    )


def check(ctx: Any, _admin: AdminConfig) -> None:
    """The entities, forms and fields the file names exist (once every kind is built)."""
    entities: dict[str, EntityDef] = ctx.results.get("entity") or {}
    forms: list[FormDef] = list(ctx.results.get("form") or ())
    for f in ctx.files.get("admin", ()):
        _check_menu(ctx, f, entities)
        for name, spec in (f.data.get("entities") or {}).items():
            _entity_known(ctx, f, ("entities", name), name, entities)
            if name in entities:
                _check_entity(f, entities[name], spec, forms)


def _entity_known(ctx: Any, f: ConfigFile, path: tuple, name: str, entities: dict[str, EntityDef]) -> bool:
    """False (and the error reported) for a name no entity has; an entity whose file failed to load is known."""
    if name in entities or name in ctx.broken.get("entity", ()):
        return True
    f.error(path, f"there is no entity {name!r}{_did_you_mean(name, entities)}", key=path[0] == "entities")
    return False


def _check_menu(ctx: Any, f: ConfigFile, entities: dict[str, EntityDef]) -> None:
    seen: dict[str, int] = {}
    for i, group in enumerate(f.data.get("menu", ())):
        for j, name in enumerate(group.get("entities", ())):
            _entity_known(ctx, f, ("menu", i, "entities", j), name, entities)
            if name in seen:
                f.error(("menu", i, "entities", j), f"entity {name!r} is already in menu group {seen[name] + 1}")
            seen[name] = i


def _check_entity(f: ConfigFile, entity: EntityDef, spec: dict, forms: list[FormDef]) -> None:
    name = entity.name
    if "form" in spec:
        own = [x.name for x in forms if x.entity == name]
        if spec["form"] not in own:
            f.error(("entities", name, "form"),
                    f"entity {name!r} has no form {spec['form']!r}{_did_you_mean(spec['form'], own)}")
    listable = [fd.name for fd in entity.fields if not fd.is_child_table]
    for k, column in enumerate(spec.get("list_columns", ())):
        if column not in listable:
            f.error(("entities", name, "list_columns", k),
                    f"entity {name!r} has no field {column!r} to list{_did_you_mean(column, listable)}")


KIND = ConfigKind("admin", ADMIN_FILE, SCHEMA, build, check=check, after=("entity", "form"), hashed=False,
                  described_as="an admin")
"""The ``admin`` kind: ``forms_config/admin.yaml``, how the generated admin shows the configuration.

It is presentation only and therefore not hashed (``hashed=False``): changing it needs no migration, and the
running admin picks the change up by itself, reading the file again when its modification time changes.
"""


@hookimpl
def hoso_config_kinds() -> list[ConfigKind]:
    return [KIND]


def load_admin_config(config: Config) -> AdminConfig:
    """The admin settings of ``config`` read from disk now (its ``forms_config/admin.yaml``), or the defaults
    without the file: what the running admin reloads when the file changes, checked like ``hoso check`` does.

    Raises ConfigErrors (file, line, key path, message) for an invalid file; key paths are dotted
    (``menu.0.entities.1``), as the admin has always logged them.
    """
    ctx = _Loader(Path(config.root), kinds=[KIND])
    ctx.results.update(entity={e.name: e for e in config.entities}, form=list(config.forms))
    ctx.files["admin"] = ctx.parse_kind("admin")
    admin = KIND.build(ctx, ctx.files["admin"])
    check(ctx, admin)
    if ctx.issues:
        raise ConfigErrors([_dotted(i) for i in ctx.issues])
    return admin


def _dotted(issue: ConfigIssue) -> ConfigIssue:
    return ConfigIssue(issue.file, issue.line, issue.column, re.sub(r"\[(\d+)\]", r".\1", issue.path),
                       issue.message)
