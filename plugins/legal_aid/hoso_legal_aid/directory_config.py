"""The public directory's configuration: ``forms_config/directory.yaml``, which says what visitors see.

Only the fields a directory entity lists under ``public`` are ever shown, in the page and in the JSON; the file is
validated by its JSON Schema (file:line errors) and checked against the entities and roles it names.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from hoso.config import ConfigKind
from hoso_legal_aid.directory_cache import watch

__all__ = ["DIRECTORY", "DirectoryDef", "DirectoryEntity", "DIRECTORY_SCHEMA"]

_NAMES = {"type": "array", "items": {"$ref": "hoso:defs#/$defs/identifier"}, "uniqueItems": True}

DIRECTORY_SCHEMA = {
    "type": "object",
    "properties": {
        "directory": {
            "type": "object",
            "properties": {
                "role": {"$ref": "hoso:defs#/$defs/identifier"},
                "units": {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1,
                          "uniqueItems": True},
                "page_size": {"type": "integer", "minimum": 1, "maximum": 1000},
                "max_page_size": {"type": "integer", "minimum": 1, "maximum": 1000},
                "entities": {
                    "type": "object",
                    "minProperties": 1,
                    "additionalProperties": {
                        "type": "object",
                        "properties": {
                            "label": {"$ref": "hoso:defs#/$defs/label"},
                            "public": {**_NAMES, "minItems": 1},
                            "search": _NAMES,
                            "sort": {"$ref": "hoso:defs#/$defs/identifier"},
                            "current": {
                                "type": "object",
                                "properties": {
                                    "true": _NAMES,
                                    "from": {"$ref": "hoso:defs#/$defs/identifier"},
                                    "until": {"$ref": "hoso:defs#/$defs/identifier"},
                                },
                                "additionalProperties": False,
                            },
                        },
                        "required": ["label", "public"],
                        "additionalProperties": False,
                    },
                },
            },
            "required": ["role", "units", "entities"],
            "additionalProperties": False,
        },
    },
    "required": ["directory"],
    "additionalProperties": False,
}

# Field types whose values a directory may search by word prefix.
_DATE_TYPES = ("date",)
_BOOLEAN_TYPES = ("boolean",)


@dataclass(frozen=True)
class DirectoryEntity:
    """One list of the directory: an entity, the fields shown, the fields searched, what makes a row current."""

    entity: str
    label_vi: str
    label_en: str
    public: tuple[str, ...]
    search: tuple[str, ...] = ()
    sort: str | None = None
    true_fields: tuple[str, ...] = ()
    valid_from: str | None = None
    valid_until: str | None = None

    def label(self, lang: str) -> str:
        return self.label_en if lang == "en" and self.label_en else self.label_vi


@dataclass(frozen=True)
class DirectoryDef:
    role: str
    units: tuple[str, ...]
    entities: tuple[DirectoryEntity, ...]
    page_size: int = 20
    max_page_size: int = 100

    def entity(self, name: str) -> DirectoryEntity | None:
        return next((e for e in self.entities if e.entity == name), None)


def _hint(name: str, known) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _by_name(result) -> dict:
    if isinstance(result, dict):
        return dict(result)
    return {x.name: x for x in result or ()}


def build(ctx, files) -> DirectoryDef | None:
    entities = _by_name(ctx.results.get("entity"))
    roles = _by_name(ctx.results.get("role"))
    out = None
    for f in files:
        d = f.data["directory"]
        if d["role"] not in roles and "role" not in ctx.broken:
            f.error(("directory", "role"), f"unknown role {d['role']!r}{_hint(d['role'], roles)}")
        elif d["role"] in roles:
            _check_role(f, roles[d["role"]], d)
        if d.get("page_size", 20) > d.get("max_page_size", 100):
            f.error(("directory", "page_size"), "page_size must not exceed max_page_size")
        lists = []
        for name, spec in d["entities"].items():
            where = ("directory", "entities", name)
            e = entities.get(name)
            if e is None:
                if "entity" not in ctx.broken:
                    f.error(where, f"unknown entity {name!r}{_hint(name, entities)}")
                continue
            lists.append(_entity(f, where, e, name, spec))
        # writes of what the directory shows retire the answers it keeps, in whichever process they are made
        scopes = {g.scope for g in roles[d["role"]].grants} if d["role"] in roles else {None}
        watch({e.entity: _read_fields(e, entities[e.entity]) for e in lists},
              {e.entity: _shown_only(e, entities[e.entity]) if scopes <= {"subtree", "unit"} else ()
               for e in lists})
        if not f.partial and out is None:
            out = DirectoryDef(d["role"], tuple(d["units"]), tuple(lists), d.get("page_size", 20),
                               d.get("max_page_size", 100))
    return out


def _read_fields(de: DirectoryEntity, entity) -> set[str]:
    """The fields of ``entity`` an answer of its list reads: shown, searched, sorted by, what makes a row
    current, the unit it is filtered and scoped by, the title another list shows it by."""
    out = set(de.public) | set(de.search) | set(de.true_fields)
    out |= {x for x in (de.sort, de.valid_from, de.valid_until, entity.unit_field, entity.title_field) if x}
    return out


def _shown_only(de: DirectoryEntity, entity) -> set[str]:
    """The fields of ``entity`` its list only shows: a change of them alone changes only the answers showing the
    record (not searched, sorted or filtered by, not what makes a row current, not its unit nor its title, which
    another list may show it by)."""
    return set(de.public) - set(de.search) - set(de.true_fields) - {"kind"} - {
        x for x in (de.sort, de.valid_from, de.valid_until, entity.unit_field, entity.title_field) if x}


def _check_role(f, role, d) -> None:
    """The visitors' role reads, and nothing more, and only the directory's entities; no role grants it."""
    for i, g in enumerate(role.grants):
        if set(g.actions) != {"read"} or g.entity not in d["entities"]:
            f.error(("directory", "role"), f"role {role.name!r} must only grant 'read' on the directory's "
                    f"entities (its grant {i + 1} gives {', '.join(g.actions)} on {g.entity!r})")


def _entity(f, where, e, name: str, spec: dict) -> DirectoryEntity:
    fields = {fd.name: fd for fd in e.column_fields}

    def field(path: tuple, fname: str, types: tuple[str, ...] = (), what: str = "") -> None:
        fd = fields.get(fname)
        if fd is None:
            f.error(where + path, f"unknown field {fname!r} of entity {name!r}{_hint(fname, fields)}")
        elif types and fd.type not in types:
            f.error(where + path, f"field {fname!r} of entity {name!r} is a {fd.type}: expected {what}")

    for i, fname in enumerate(spec["public"]):
        field(("public", i), fname)
    for i, fname in enumerate(spec.get("search", ())):
        field(("search", i), fname)
        if fname in fields and not fields[fname].traits.searchable:
            f.error(where + ("search", i), f"field {fname!r} of entity {name!r} is not text: it cannot be searched")
        if fname not in spec["public"]:
            f.error(where + ("search", i), f"field {fname!r} is searched but not public: a search would tell "
                    "what it holds")
    if "sort" in spec:
        field(("sort",), spec["sort"])
        if spec["sort"] not in spec["public"]:
            f.error(where + ("sort",), f"field {spec['sort']!r} sorts the list but is not public")
    current = spec.get("current", {})
    for i, fname in enumerate(current.get("true", ())):
        field(("current", "true", i), fname, _BOOLEAN_TYPES, "a boolean")
    for key in ("from", "until"):
        if key in current:
            field(("current", key), current[key], _DATE_TYPES, "a date")
    label = spec["label"]
    return DirectoryEntity(name, label["vi"], label.get("en") or label["vi"], tuple(spec["public"]),
                           tuple(spec.get("search", ())), spec.get("sort"), tuple(current.get("true", ())),
                           current.get("from"), current.get("until"))


DIRECTORY = ConfigKind("directory", "forms_config/directory.yaml", DIRECTORY_SCHEMA, build,
                       after=("entity", "role"), described_as="a public directory")
