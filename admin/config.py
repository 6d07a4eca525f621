"""How the generated admin shows a configuration: ``forms_config/admin.yaml`` (optional).

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

The file is validated by ``admin/schemas/admin.schema.json``; errors name the file, line and key like the
configuration loader's. Without the file every entity is listed ungrouped, edited with its fullest form, and
listed with a few columns chosen from its definition (title, unit, workflow state, required fields).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import jsonschema

from hoso.config import Config, EntityDef, FormDef
from hoso.config._yaml import YamlSyntaxError, load_with_positions, position_of
from hoso.config.loader import ConfigErrors, ConfigIssue
from hoso.config.types import Label

__all__ = ["AdminConfig", "ADMIN_FILE", "load_admin_config", "DEFAULT_SITE_NAME"]

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
            if fd is None or name in picked or fd.is_child_table or fd.type in ("long_text", "attachment"):
                continue
            if fd.required and len(picked) < LIST_COLUMNS:
                picked.append(name)
        for name in ordered:
            fd = entity.field(name) if entity.has_field(name) else None
            if len(picked) >= LIST_COLUMNS:
                break
            if fd is not None and name not in picked and not fd.is_child_table and fd.type not in (
                    "long_text", "attachment", "multi_choice"):
                picked.append(name)
        return picked


@lru_cache(maxsize=1)
def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def _label(raw: dict) -> Label:
    return Label(raw["vi"], raw.get("en"))


def load_admin_config(config: Config) -> AdminConfig:
    """The admin settings of ``config`` (its ``forms_config/admin.yaml``), or the defaults without the file.

    Raises ConfigErrors (file, line, key path, message) for an invalid file, as the configuration loader does.
    """
    path = Path(config.root) / ADMIN_FILE
    if not path.is_file():
        return AdminConfig()
    rel = ADMIN_FILE
    try:
        data, positions, duplicates = load_with_positions(path.read_text(encoding="utf-8"))
    except YamlSyntaxError as exc:
        raise ConfigErrors([ConfigIssue(rel, exc.line, exc.column, "", exc.message)]) from None
    except UnicodeDecodeError:
        raise ConfigErrors([ConfigIssue(rel, 1, 1, "", "the file is not UTF-8 text")]) from None
    issues: list[ConfigIssue] = []
    for dpath, (line, col), key, (first, _c) in duplicates:
        issues.append(ConfigIssue(rel, line, col, ".".join(map(str, dpath)),
                                  f"duplicate key {key!r} (first at line {first}): each key may appear once"))
    data = {} if data is None else data
    for err in sorted(_validator().iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        where = tuple(err.absolute_path)
        line, col = position_of(positions, where, key=err.validator == "additionalProperties")
        issues.append(ConfigIssue(rel, line, col, ".".join(map(str, where)), err.message))
    if issues:
        raise ConfigErrors(issues)

    def check(where: tuple, message: str, ok: bool) -> None:
        if not ok:
            line, col = position_of(positions, where)
            issues.append(ConfigIssue(rel, line, col, ".".join(map(str, where)), message))

    menu = []
    seen: dict[str, int] = {}
    for i, group in enumerate(data.get("menu", [])):
        for j, name in enumerate(group["entities"]):
            check(("menu", i, "entities", j), f"there is no entity {name!r}", config.has_entity(name))
            if name in seen:
                line, col = position_of(positions, ("menu", i, "entities", j))
                issues.append(ConfigIssue(rel, line, col, f"menu.{i}.entities.{j}",
                                          f"entity {name!r} is already in menu group {seen[name] + 1}"))
            seen[name] = i
        menu.append((_label(group["group"]), tuple(group["entities"])))
    forms: dict[str, str] = {}
    columns: dict[str, tuple[str, ...]] = {}
    for name, spec in (data.get("entities") or {}).items():
        check(("entities", name), f"there is no entity {name!r}", config.has_entity(name))
        if not config.has_entity(name):
            continue
        entity = config.entity(name)
        if "form" in spec:
            form = next((f for f in config.forms if f.name == spec["form"]), None)
            check(("entities", name, "form"), f"entity {name!r} has no form {spec['form']!r}",
                  form is not None and form.entity == name)
            forms[name] = spec["form"]
        if "list_columns" in spec:
            for k, col in enumerate(spec["list_columns"]):
                check(("entities", name, "list_columns", k), f"entity {name!r} has no field {col!r} to list",
                      entity.has_field(col) and not entity.field(col).is_child_table)
            columns[name] = tuple(spec["list_columns"])
    if issues:
        raise ConfigErrors(issues)
    return AdminConfig(
        site_name=_label(data["site_name"]) if "site_name" in data else DEFAULT_SITE_NAME,
        default_language=data.get("default_language", "vi"),
        menu=tuple(menu),
        forms=forms,
        list_columns=columns,
    )
