"""piccolo Table classes for the admin, built from the configuration.

They name the same database tables as ``hoso.model.tables`` but are shaped for piccolo-admin: columns follow the
order of the entity's edit form, references, org units and users are ``ForeignKey`` columns (so the admin shows
readable values and offers drop-downs; reading needs no constraint in the database), multiple choices are
arrays, attachments are media columns. They are never used to write: every write goes through the record service.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from piccolo.columns import (
    Array,
    BigInt,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    Numeric,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.readable import Readable
from piccolo.table import Table, create_table_class

from hoso.admin.config import AdminConfig
from hoso.config import Config, EntityDef, FieldDef
from hoso.db import Database
from hoso.fields import Registry

__all__ = ["TableSpec", "AdminTables", "build_admin_tables", "VERSION_COLUMN"]

VERSION_COLUMN = "sys_version"


@dataclass
class TableSpec:
    """One admin table: what it shows and where its rows come from."""

    kind: str  # "entity", "child", "unit" or "user"
    table: type[Table]
    entity: EntityDef | None = None
    child: FieldDef | None = None
    fields: list[FieldDef] = field(default_factory=list)  # shown fields, in order
    # column -> ("entity", name) | ("unit", None) | ("user", None) | ("parent", entity name)
    links: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    list_columns: list[str] = field(default_factory=list)
    form: str | None = None  # the form the admin writes with

    @property
    def tablename(self) -> str:
        return self.table._meta.tablename

    def field(self, name: str) -> FieldDef | None:
        return next((f for f in self.fields if f.name == name), None)

    @property
    def entity_def(self) -> EntityDef:
        """The entity an entity or child table shows; only asked once the kind says there is one."""
        if self.entity is None:
            raise LookupError(f"admin table {self.tablename!r} ({self.kind}) shows no entity")
        return self.entity

    @property
    def child_def(self) -> FieldDef:
        """The child-table field a child table shows; only asked once the kind says it is one."""
        if self.child is None:
            raise LookupError(f"admin table {self.tablename!r} ({self.kind}) is not a child table")
        return self.child


@dataclass
class AdminTables:
    specs: dict[str, TableSpec]  # by tablename
    by_entity: dict[str, TableSpec]
    unit: TableSpec
    user: TableSpec

    def spec_for(self, table: type[Table]) -> TableSpec:
        return self.specs[table._meta.tablename]

    @property
    def tables(self) -> list[type[Table]]:
        return [s.table for s in self.specs.values()]


def _class_name(name: str) -> str:
    return "Admin" + ("".join(p.capitalize() for p in name.split("_")) or "T")


def _readable(column_name: str):
    def get_readable(cls) -> Readable:
        return Readable(template="%s", columns=[getattr(cls, column_name)])

    return classmethod(get_readable)


def _column(fd: FieldDef, registry: Registry, targets: dict[str, type[Table]], unit: type[Table],
            user: type[Table]) -> Any:
    common: dict[str, Any] = {"default": None, "null": True}
    refers_to = fd.traits.refers_to
    if refers_to == "entity":
        target = targets.get(fd.entity or "")
        return ForeignKey(references=target, **common) if target is not None else BigInt(**common)
    if refers_to == "unit":
        return ForeignKey(references=unit, **common)
    if refers_to == "user":
        return ForeignKey(references=user, **common)
    if refers_to == "file":
        return Varchar(length=255, **common)
    if fd.traits.chooses_many:
        return Array(base_column=Varchar(), **common)
    if fd.traits.multiline:
        return Text(**common)
    storage = registry.field_type(fd.type).storage if fd.type in registry.field_types else "text"
    if storage == "integer":
        return BigInt(**common)
    if storage == "decimal":
        return Numeric(digits=(fd.max_digits or 18, fd.decimal_places or 2), **common)
    if storage == "boolean":
        return Boolean(**common)
    if storage == "date":
        return Date(**common)
    if storage == "datetime":
        return Timestamptz(**common)
    return Varchar(length=max(fd.max_length or 255, 1), **common)


def _link(fd: FieldDef) -> tuple[str, str | None]:
    """What a foreign-key column leads to: (``entity``, its entity), (``unit``, None) or (``user``, None)."""
    kind = fd.traits.refers_to or "entity"
    return kind, fd.entity if kind == "entity" else None


def _ordered_fields(config: Config, admin: AdminConfig, entity: EntityDef) -> tuple[list[FieldDef], str | None]:
    """The entity's fields in the order of its edit form (fields on no section at the end), and the form."""
    form = admin.edit_form(config, entity)
    order: list[str] = []
    if form is not None:
        for section in form.sections:
            order += [n for n in section.fields if n not in order and entity.has_field(n)]
    order += [f.name for f in entity.fields if f.name not in order]
    return [entity.field(n) for n in order], (form.name if form is not None else None)


def _entity_order(config: Config) -> list[EntityDef]:
    """Entities with referenced entities first (a reference cycle is broken where it closes)."""
    done: list[EntityDef] = []
    visiting: set[str] = set()

    def visit(e: EntityDef) -> None:
        if e in done or e.name in visiting:
            return
        visiting.add(e.name)
        for fd in e.fields:
            if fd.traits.refers_to == "entity" and fd.entity and config.has_entity(fd.entity) and fd.entity != e.name:
                visit(config.entity(fd.entity))
        visiting.discard(e.name)
        done.append(e)

    for e in config.entities:
        visit(e)
    return done


def build_admin_tables(db: Database, config: Config, registry: Registry, admin: AdminConfig) -> AdminTables:
    engine = db.engine

    def make(class_name: str, tablename: str, members: dict, help_text: str | None = None) -> type[Table]:
        kwargs: dict[str, Any] = {"tablename": tablename, "db": engine}
        if help_text:
            kwargs["help_text"] = help_text
        return create_table_class(class_name, class_kwargs=kwargs, class_members=members)

    unit = make("AdminHosoUnit", "hoso_unit", {
        "code": Varchar(length=40, default=None, null=True),
        "name_vi": Text(default=None, null=True),
        "name_en": Text(default=None, null=True),
        "type": Varchar(length=63, default=None, null=True),
        "valid_from": Date(default=None, null=True),
        "valid_to": Date(default=None, null=True),
        "get_readable": _readable("name_vi"),
    }, "Đơn vị")
    user = make("AdminHosoUser", "hoso_user", {
        "username": Varchar(length=100, default=None, null=True),
        "display_name": Text(default=None, null=True),
        "get_readable": _readable("username"),
    }, "Tài khoản")
    specs: dict[str, TableSpec] = {}
    by_entity: dict[str, TableSpec] = {}
    unit_spec = TableSpec("unit", unit)
    user_spec = TableSpec("user", user)
    targets: dict[str, type[Table]] = {}
    for entity in _entity_order(config):
        fields, form = _ordered_fields(config, admin, entity)
        members: dict[str, Any] = {}
        links: dict[str, tuple[str, str | None]] = {}
        shown: list[FieldDef] = []
        for fd in fields:
            if fd.is_child_table:
                continue
            col = _column(fd, registry, targets, unit, user)
            members[fd.name] = col
            shown.append(fd)
            if isinstance(col, ForeignKey):
                links[fd.name] = _link(fd)
        members[VERSION_COLUMN] = BigInt(default=None, null=True)  # nullable: the add form leaves it empty
        readable = entity.title_field if entity.title_field and entity.has_field(entity.title_field) else None
        if readable:
            members["get_readable"] = _readable(readable)
        table = make(_class_name(entity.name), entity.table, members, entity.label.vi)
        targets[entity.name] = table
        spec = TableSpec("entity", table, entity, None, shown, links, form=form)
        spec.list_columns = admin.columns_for_list(config, entity, [f.name for f in shown])
        specs[spec.tablename] = spec
        by_entity[entity.name] = spec
    for entity in config.entities:
        parent = targets[entity.name]
        for child in entity.child_tables:
            members = {"parent_id": ForeignKey(references=parent, default=None, null=True),
                       "position": Integer(default=0)}
            links = {"parent_id": ("parent", entity.name)}
            shown = []
            for fd in child.fields:
                col = _column(fd, registry, targets, unit, user)
                members[fd.name] = col
                shown.append(fd)
                if isinstance(col, ForeignKey):
                    links[fd.name] = _link(fd)
            table = make(_class_name(f"{entity.name}_{child.name}"), entity.child_table_name(child.name), members,
                         child.label.vi)
            spec = TableSpec("child", table, entity, child, shown, links)
            spec.list_columns = ["parent_id", *[f.name for f in shown][:6]]
            specs[spec.tablename] = spec
    specs[unit_spec.tablename] = unit_spec
    specs[user_spec.tablename] = user_spec
    return AdminTables(specs, by_entity, unit_spec, user_spec)
