"""piccolo Table classes built at run time: system tables, and one table per entity and child table."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from piccolo.apps.user.tables import BaseUser
from piccolo.columns import BigInt, Boolean, Date, Integer, Text, Timestamptz, Varchar
from piccolo.table import Table, create_table_class
from piccolo_api.session_auth.tables import SessionsBase

from hoso.config import Config, EntityDef, FieldDef
from hoso.db import FOLD_FUNCTION, Database
from hoso.fields import Registry
from hoso.model.folding import fold_function_ddl

__all__ = ["SYSTEM_COLUMNS", "SCOPE_COLUMN", "SYSTEM_OBJECTS", "CHILD_COLUMNS", "Tables", "build_system_tables",
           "build_tables", "index_name", "table_spec_key"]

# Columns every entity table has besides its fields. Field names starting with "sys_" and "id" are reserved.
SYSTEM_COLUMNS: dict[str, Any] = {
    "sys_version": lambda: BigInt(default=1, null=False),
    "sys_created_at": lambda: Timestamptz(default=None, null=True),
    "sys_created_by": lambda: BigInt(default=None, null=True),
    "sys_updated_at": lambda: Timestamptz(default=None, null=True),
    "sys_updated_by": lambda: BigInt(default=None, null=True),
    "sys_deleted_at": lambda: Timestamptz(default=None, null=True),
    "sys_deleted_by": lambda: BigInt(default=None, null=True),
    "sys_delete_reason": lambda: Text(default=None, null=True),
    "sys_form_version": lambda: Varchar(length=64, default=None, null=True),
    # Folded text (lower case, no diacritics) of the record's searchable fields, kept by the record service.
    "sys_search": lambda: Text(default=None, null=True),
}
# Only on entities with a unit_field: the unit that answers for the record after a split restructuring
# (NULL: the recorded unit). The recorded unit itself never changes.
SCOPE_COLUMN = "sys_scope_unit"
CHILD_COLUMNS: dict[str, Any] = {
    "parent_id": lambda: BigInt(default=None, null=True),
    "position": lambda: Integer(default=0, null=False),
}


# Database objects besides tables and columns that the system needs: name -> (kind, table, SQLite DDL,
# PostgreSQL DDL). The audit and the file register are append-only in the database itself, so not even a
# hand-written query can rewrite them.
_APPEND_ONLY_PG_FUNCTION = (
    "CREATE OR REPLACE FUNCTION hoso_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "RAISE EXCEPTION 'table % is append-only', TG_TABLE_NAME; END $$")


def _append_only(table: str) -> dict[str, tuple[str, str, list[str], list[str]]]:
    t = f"hoso_{table}"
    return {
        f"{t}_no_update": ("trigger", t,
                           [f"CREATE TRIGGER {t}_no_update BEFORE UPDATE ON {t} "
                            f"BEGIN SELECT RAISE(ABORT, '{t} is append-only'); END"],
                           [_APPEND_ONLY_PG_FUNCTION,
                            f"CREATE TRIGGER {t}_no_update BEFORE UPDATE OR DELETE OR TRUNCATE ON {t} "
                            "FOR EACH STATEMENT EXECUTE FUNCTION hoso_append_only()"]),
        # On PostgreSQL the trigger above covers DELETE and TRUNCATE too.
        f"{t}_no_delete": ("trigger", t,
                           [f"CREATE TRIGGER {t}_no_delete BEFORE DELETE ON {t} "
                            f"BEGIN SELECT RAISE(ABORT, '{t} is append-only'); END"], []),
    }


_HISTORY_INDEX = "CREATE INDEX ix_hoso_audit_history ON hoso_audit (entity, record_id, id)"
SYSTEM_OBJECTS: dict[str, tuple[str, str, list[str], list[str]]] = {
    **_append_only("audit"),
    "ix_hoso_audit_history": ("index", "hoso_audit", [_HISTORY_INDEX], [_HISTORY_INDEX]),
    # PostgreSQL's hoso_fold (SQLite connections define it in Python): filters, pickers and fold indexes use it
    FOLD_FUNCTION: ("function", "hoso_schema_state", [], fold_function_ddl()),
}


def index_name(table: str, columns: tuple[str, ...], unique: bool) -> str:
    """A stable index name within PostgreSQL's 63-character limit."""
    prefix = "ux" if unique else "ix"
    name = f"{prefix}_{table}_{'_'.join(columns)}"
    if len(name) > 63:
        digest = hashlib.sha1(name.encode()).hexdigest()[:10]
        name = f"{name[:52]}_{digest}"
    return name


def table_spec_key(entity: EntityDef, child: FieldDef | None = None) -> str:
    return entity.name if child is None else f"{entity.name}.{child.name}"


def _system_member_columns() -> dict[str, Any]:
    return {name: make() for name, make in SYSTEM_COLUMNS.items()}


def build_system_tables(db: Database, pm: Any = None) -> dict[str, type[Table]]:
    """The system tables, bound to ``db``'s engine, with those plugins need (``hoso_system_tables``)."""
    engine = db.engine

    def make(cls: str, tablename: str, members: dict, bases=(Table,)) -> type[Table]:
        return create_table_class(cls, bases=bases, class_kwargs={"tablename": tablename, "db": engine},
                                  class_members=members)

    tables = {
        "schema_state": make("HosoSchemaState", "hoso_schema_state", {
            "applied_at": Timestamptz(),
            "applied_by": Text(),
            "content_hash": Varchar(length=64),
            "snapshot": Text(),
            "summary": Text(default=None, null=True),
        }),
        "unit": make("HosoUnit", "hoso_unit", {
            "code": Varchar(length=40, unique=True),
            "name_vi": Text(),
            "name_en": Text(default=None, null=True),
            "type": Varchar(length=63),
            "parent_id": BigInt(default=None, null=True, index=True),
            "short_code": Varchar(length=20, default=None, null=True),
            "valid_from": Date(default=None, null=True),
            "valid_to": Date(default=None, null=True),
        }),
        "user": make("HosoUser", "hoso_user", {
            "display_name": Text(default=None, null=True),
            "unit_id": BigInt(default=None, null=True),
            "locked": Boolean(default=False),
            "must_change_password": Boolean(default=False),
        }, bases=(BaseUser,)),
        "session": make("HosoSession", "hoso_session", {}, bases=(SessionsBase,)),
        "api_token": make("HosoApiToken", "hoso_api_token", {
            "name": Text(),
            "user_id": BigInt(index=True),
            "token_hash": Varchar(length=64, unique=True),
            "created_by": BigInt(default=None, null=True),
            "created_at": Timestamptz(),
            "expires_on": Date(default=None, null=True),
            "revoked_at": Timestamptz(default=None, null=True),
            "last_used_at": Timestamptz(default=None, null=True),
            # the module whose routes alone the token may reach (None: every route its account may)
            "module": Varchar(length=100, default=None, null=True),
        }),
        "audit": make("HosoAudit", "hoso_audit", {
            "at": Timestamptz(),
            "actor_id": BigInt(default=None, null=True),
            "actor": Text(default=None, null=True),
            "origin": Text(default=None, null=True),
            "action": Varchar(length=40),
            "entity": Varchar(length=63, default=None, null=True),
            "record_id": BigInt(default=None, null=True),
            "changes": Text(default=None, null=True),
            # The web request that made the change (X-Request-ID, see docs/operations.md); None outside one.
            "request_id": Varchar(length=128, default=None, null=True),
        }),
        # Attempt counters of the login and password-change throttle (hoso.users.reserve_attempt): one row per
        # bucket (username and address, address, account), counting failures in a fixed window.
        "throttle": make("HosoThrottle", "hoso_throttle", {
            "bucket": Varchar(length=64, unique=True),
            "window_start": BigInt(default=0),
            "attempts": Integer(default=0),
        }),
        "series": make("HosoSeries", "hoso_series", {
            "key": Varchar(length=255, unique=True),
            "last_value": BigInt(default=0),
        }),
        # Units reachable from each unit: down the tree, and from a successor to the units merged into it.
        # A derived index, rebuilt from hoso_unit and hoso_unit_lineage; never edited by hand.
        "unit_closure": make("HosoUnitClosure", "hoso_unit_closure", {
            "ancestor_id": BigInt(index=True),
            "descendant_id": BigInt(index=True),
            "depth": Integer(default=0),
        }),
        # The parent of each unit over time: [valid_from, valid_to) (NULL: since always, until now). Written with
        # every change of hoso_unit.parent_id (in the same transaction) and closed when the unit closes, so the
        # tree of any date can be read back (hoso.lineage.sync_unit_edges, hoso.units.structure_at).
        "unit_edge": make("HosoUnitEdge", "hoso_unit_edge", {
            "unit_id": BigInt(index=True),
            "parent_id": BigInt(default=None, null=True, index=True),
            "valid_from": Date(default=None, null=True),
            "valid_to": Date(default=None, null=True),
        }),
        "unit_lineage": make("HosoUnitLineage", "hoso_unit_lineage", {
            "unit_id": BigInt(index=True),
            "kind": Varchar(length=20),
            "other_id": BigInt(default=None, null=True, index=True),
            "effective_on": Date(),
            "restructuring": Varchar(length=200, default=None, null=True),
            "detail": Text(default=None, null=True),
        }),
        "assignment": make("HosoAssignment", "hoso_assignment", {
            "user_id": BigInt(index=True),
            "role": Varchar(length=63),
            "unit_id": BigInt(index=True),
            "starts_on": Date(),
            "ends_on": Date(default=None, null=True),
            "granted_by": BigInt(default=None, null=True),
            "created_at": Timestamptz(),
            "end_reason": Text(default=None, null=True),
        }),
        # One row per stored file version; the record's attachment field holds the id of its current version.
        # Rows are never updated or deleted: a replaced file keeps its row and its stored bytes.
        "attachment": make("HosoAttachment", "hoso_attachment", {
            "entity": Varchar(length=63),
            "record_id": BigInt(index=True),
            "field": Varchar(length=63),
            "version": Integer(default=1),
            "filename": Text(),
            "content_type": Varchar(length=255),
            "size": BigInt(default=0),
            "sha256": Varchar(length=64),
            "storage_key": Text(),
            "uploaded_at": Timestamptz(),
            "uploaded_by": BigInt(default=None, null=True),
        }),
        # Every form version a record was saved under (sys_form_version), with the compiled form, so a record's
        # form can be shown as it was.
        "form_version": make("HosoFormVersion", "hoso_form_version", {
            "version": Varchar(length=64, unique=True),
            "form": Varchar(length=63, default=None, null=True),
            "entity": Varchar(length=63),
            "definition": Text(),
            "created_at": Timestamptz(),
        }),
        "restructuring": make("HosoRestructuring", "hoso_restructuring", {
            "name": Varchar(length=200, unique=True),
            "content_hash": Varchar(length=64),
            "effective_on": Date(),
            "applied_at": Timestamptz(),
            "applied_by": Text(),
            "summary": Text(default=None, null=True),
        }),
        # One row per import of a file (hoso.importing): who, which file (name and sha256), what became of its rows.
        "import": make("HosoImport", "hoso_import", {
            "entity": Varchar(length=63),
            "file_name": Text(),
            "sha256": Varchar(length=64, index=True),
            "actor_id": BigInt(default=None, null=True),
            "actor": Text(default=None, null=True),
            "started_at": Timestamptz(),
            "finished_at": Timestamptz(default=None, null=True),
            "rows": Integer(default=0),
            "created": Integer(default=0),
            "duplicates": Integer(default=0),
            "skipped": Integer(default=0),
            "status": Varchar(length=20),
        }),
        # The content hash of every imported row and the record it became: importing a row again finds it here.
        "import_row": make("HosoImportRow", "hoso_import_row", {
            "import_id": BigInt(index=True),
            "entity": Varchar(length=63),
            "row_hash": Varchar(length=64, index=True),
            "record_id": BigInt(),
        }),
        # The named filters each user saved on an admin list (the list's address query), listed on that list.
        "saved_filter": make("HosoSavedFilter", "hoso_saved_filter", {
            "user_id": BigInt(index=True),
            "table_name": Varchar(length=63),
            "name": Varchar(length=100),
            "query": Text(),
            "created_at": Timestamptz(),
        }),
    }
    if pm is not None:
        from hoso.plugin_manager import plugin_system_tables

        tables.update(plugin_system_tables(pm, make, {*tables, *(c._meta.tablename for c in tables.values())}))
    return tables


@dataclass
class Tables:
    """Table classes for one database: system tables and the active entity and child tables."""

    system: dict[str, type[Table]]
    entities: dict[str, type[Table]] = field(default_factory=dict)
    children: dict[tuple[str, str], type[Table]] = field(default_factory=dict)

    def entity(self, name: str) -> type[Table]:
        return self.entities[name]

    @property
    def users(self) -> type[BaseUser]:
        """The account table (piccolo's BaseUser: password hashing, used by the admin's login)."""
        table = self.system["user"]
        if not issubclass(table, BaseUser):
            raise TypeError("the system table 'user' is not built on BaseUser")
        return table

    @property
    def sessions(self) -> type[SessionsBase]:
        """The session table (piccolo_api's SessionsBase, shared by the API and the admin)."""
        table = self.system["session"]
        if not issubclass(table, SessionsBase):
            raise TypeError("the system table 'session' is not built on SessionsBase")
        return table

    def child(self, entity: str, field_name: str) -> type[Table]:
        return self.children[(entity, field_name)]


def _class_name(name: str) -> str:
    return "".join(p.capitalize() for p in name.split("_")) or "T"


def field_columns(fields: tuple[FieldDef, ...], registry: Registry) -> dict[str, Any]:
    return {fd.name: registry.field_type(fd.type).column(fd) for fd in fields if not fd.is_child_table}


def build_entity_table(db: Database, entity: EntityDef, registry: Registry) -> type[Table]:
    members = field_columns(entity.fields, registry)
    members.update(_system_member_columns())
    if entity.unit_field:
        members[SCOPE_COLUMN] = BigInt(default=None, null=True)
    return create_table_class(_class_name(entity.name), class_kwargs={"tablename": entity.table, "db": db.engine},
                              class_members=members)


def build_child_table(db: Database, entity: EntityDef, child: FieldDef, registry: Registry) -> type[Table]:
    members = {name: make() for name, make in CHILD_COLUMNS.items()}
    members.update(field_columns(child.fields, registry))
    return create_table_class(_class_name(f"{entity.name}_{child.name}"),
                              class_kwargs={"tablename": entity.child_table_name(child.name), "db": db.engine},
                              class_members=members)


def build_tables(db: Database, config: Config, registry: Registry) -> Tables:
    tables = Tables(system=build_system_tables(db, registry.pm))
    for e in config.entities:
        tables.entities[e.name] = build_entity_table(db, e, registry)
        for child in e.child_tables:
            tables.children[(e.name, child.name)] = build_child_table(db, e, child, registry)
    return tables
