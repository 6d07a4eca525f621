"""System-versioned history of entity tables and their child tables: one row per version of a record (of a
child row).

Each entity table ``T`` has a history table ``hoso_h_T`` with every column of ``T`` (retired fields included,
``sys_search`` left out), its own key ``sys_history_id``, and the interval the version was current:
``[sys_valid_from, sys_valid_to)`` (``sys_valid_to`` NULL: the current version). The record service writes it in
the write's transaction (``version_record``; a child table's rows as a set, ``version_children``), the
restructuring engine in its own (``close_versions``, ``insert_versions``), and ``hoso migrate`` creates and evolves
it with its table. Nothing in it is ever updated except the closing of a version, and nothing is deleted.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from hoso.db import Database, quote

__all__ = ["history_table", "HISTORY_SKIPPED", "history_columns", "create_history", "add_history_column",
           "rename_history_column", "keep_converted_column", "version_record", "version_children",
           "close_versions", "insert_versions"]

# Columns of the entity table that the history does not keep (derived from the others).
HISTORY_SKIPPED = ("sys_search",)


def history_table(table: str) -> str:
    """The history table of entity table ``table`` (within PostgreSQL's 63-character limit)."""
    name = f"hoso_h_{table}"
    if len(name) > 63:
        name = f"{name[:52]}_{hashlib.sha1(name.encode()).hexdigest()[:10]}"
    return name


async def column_types(db: Database, table: str) -> dict[str, str]:
    """Column name -> its declared type, in table order."""
    if db.is_sqlite:
        rows = await db.fetch(f"PRAGMA table_info({quote(table)})")
        return {r["name"]: (r["type"] or "TEXT") for r in rows}
    rows = await db.fetch(
        "SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type FROM pg_attribute a "
        "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relname = {} AND n.nspname = current_schema() AND a.attnum > 0 AND NOT a.attisdropped "
        "ORDER BY a.attnum", table)
    return {r["name"]: r["type"] for r in rows}


async def history_columns(db: Database, table: str) -> list[str] | None:
    """The columns a version copies from ``table`` (those both tables have), or None without a history table."""
    hist = await db.column_names(history_table(table))
    if not hist:
        return None
    have = set(hist)
    return [c for c in await db.column_names(table) if c in have and c not in HISTORY_SKIPPED]


async def create_history(db: Database, table: str, now: dt.datetime, parent: str | None = None) -> int:
    """Create ``table``'s history with one version per existing row; returns the rows versioned.

    A row's version is valid from its creation (its state before is unknown: the history starts now); a deleted
    row gets two versions, live until its deletion, then deleted. The rows of a child table (``parent``: the
    entity table) are valid from their record's creation."""
    hist = history_table(table)
    types = {c: ty for c, ty in (await column_types(db, table)).items() if c not in HISTORY_SKIPPED}
    key = "sys_history_id INTEGER PRIMARY KEY" if db.is_sqlite else "sys_history_id BIGSERIAL PRIMARY KEY"
    cols = ", ".join(f"{quote(c)} {ty}" for c, ty in types.items())
    stamp = "TIMESTAMPTZ" if db.is_sqlite else "timestamp with time zone"
    await db.execute(f"CREATE TABLE {quote(hist)} ({key}, {cols}, sys_valid_from {stamp} NOT NULL, "
                     f"sys_valid_to {stamp})")
    await db.execute(f"CREATE INDEX {quote(hist + '_from')} ON {quote(hist)} (sys_valid_from)")
    await db.execute(f"CREATE INDEX {quote(hist + '_id_from')} ON {quote(hist)} (id, sys_valid_from)")
    if parent is not None:
        await db.execute(f"CREATE INDEX {quote(hist + '_parent')} ON {quote(hist)} (parent_id, sys_valid_from)")
    # At most one current version per record, and the close of a write finds it through this index.
    await db.execute(f"CREATE UNIQUE INDEX {quote(hist + '_open')} ON {quote(hist)} (id) "
                     "WHERE sys_valid_to IS NULL")
    names = list(types)
    col_list = ", ".join(quote(c) for c in names)
    born = "COALESCE(sys_created_at, {})"
    if parent is not None:
        child_cols = ", ".join(f"c.{quote(c)}" for c in names)
        await db.execute(f"INSERT INTO {quote(hist)} ({col_list}, sys_valid_from) SELECT {child_cols}, "
                         f"COALESCE(p.sys_created_at, {{}}) FROM {quote(table)} c LEFT JOIN {quote(parent)} p "
                         "ON p.id = c.parent_id", now)
    elif "sys_deleted_at" in types:
        before = ", ".join("NULL" if c in ("sys_deleted_at", "sys_deleted_by", "sys_delete_reason") else quote(c)
                           for c in names)
        await db.execute(f"INSERT INTO {quote(hist)} ({col_list}, sys_valid_from, sys_valid_to) SELECT {before}, "
                         f"{born}, sys_deleted_at FROM {quote(table)} WHERE sys_deleted_at IS NOT NULL "
                         "AND COALESCE(sys_created_at, sys_deleted_at) < sys_deleted_at", now)
        await db.execute(f"INSERT INTO {quote(hist)} ({col_list}, sys_valid_from) SELECT {col_list}, "
                         f"sys_deleted_at FROM {quote(table)} WHERE sys_deleted_at IS NOT NULL")
        await db.execute(f"INSERT INTO {quote(hist)} ({col_list}, sys_valid_from) SELECT {col_list}, {born} "
                         f"FROM {quote(table)} WHERE sys_deleted_at IS NULL", now)
    else:
        await db.execute(f"INSERT INTO {quote(hist)} ({col_list}, sys_valid_from) SELECT {col_list}, {born} "
                         f"FROM {quote(table)}", now)
    return int(await db.fetchval(f"SELECT COUNT(*) AS n FROM {quote(table)}") or 0)


async def add_history_column(db: Database, table: str, column: str) -> None:
    """Give the history the column ``table`` has just gained (earlier versions hold NULL in it)."""
    hist = history_table(table)
    if column in await db.column_names(hist):
        return
    ty = (await column_types(db, table))[column]
    await db.execute(f"ALTER TABLE {quote(hist)} ADD COLUMN {quote(column)} {ty}")


async def rename_history_column(db: Database, table: str, old: str, new: str) -> None:
    hist = history_table(table)
    if old in await db.column_names(hist):
        await db.execute(f"ALTER TABLE {quote(hist)} RENAME COLUMN {quote(old)} TO {quote(new)}")


async def keep_converted_column(db: Database, table: str, column: str, old_type: str) -> str:
    """After ``column`` of ``table`` was rewritten to another storage type: the history keeps its earlier values,
    as they were, under ``<column>__<old_type>`` (a number added if taken), and gains the new column."""
    hist = history_table(table)
    have = set(await db.column_names(hist))
    kept = f"{column}__{old_type}"
    n = 2
    while kept in have:
        kept, n = f"{column}__{old_type}_{n}", n + 1
    if column in have:
        await db.execute(f"ALTER TABLE {quote(hist)} RENAME COLUMN {quote(column)} TO {quote(kept)}")
    await add_history_column(db, table, column)
    return kept


async def version_record(db: Database, table: str, columns: list[str], record_id: int, at: dt.datetime, *,
                         created: bool = False) -> None:
    """Close the record's current version at ``at`` and add its row as it is now (in the caller's transaction)."""
    hist = quote(history_table(table))
    if not created:
        await db.execute(f"UPDATE {hist} SET sys_valid_to = {{}} WHERE id = {{}} AND sys_valid_to IS NULL",
                         at, record_id)
    cols = ", ".join(quote(c) for c in columns)
    await db.execute(f"INSERT INTO {hist} ({cols}, sys_valid_from) SELECT {cols}, {{}} FROM {quote(table)} "
                     "WHERE id = {}", at, record_id)


async def version_children(db: Database, table: str, columns: list[str], parent_id: int, at: dt.datetime, *,
                           created: bool = False) -> None:
    """Close the current versions of the child rows of ``parent_id`` in child table ``table`` and add its rows as
    they are now (the whole set: rows removed are closed, rows kept or added get a version)."""
    hist = quote(history_table(table))
    if not created:
        await db.execute(f"UPDATE {hist} SET sys_valid_to = {{}} WHERE parent_id = {{}} AND sys_valid_to IS NULL",
                         at, parent_id)
    cols = ", ".join(quote(c) for c in columns)
    await db.execute(f"INSERT INTO {hist} ({cols}, sys_valid_from) SELECT {cols}, {{}} FROM {quote(table)} "
                     "WHERE parent_id = {}", at, parent_id)


async def close_versions(db: Database, table: str, where: str, args: tuple, at: dt.datetime) -> None:
    """Close at ``at`` the current versions of the rows of ``table`` matching ``where`` (no alias)."""
    await db.execute(f"UPDATE {quote(history_table(table))} SET sys_valid_to = {{}} WHERE sys_valid_to IS NULL "
                     f"AND id IN (SELECT id FROM {quote(table)} WHERE {where})", at, *args)


async def insert_versions(db: Database, table: str, columns: list[str], replace: dict[str, tuple[str, tuple]],
                          where: str, args: tuple, at: dt.datetime) -> None:
    """Add a version, valid from ``at``, of each row of ``table`` matching ``where``, with the columns in
    ``replace`` given by SQL expressions (and their arguments) instead of their current values: one
    INSERT ... SELECT."""
    exprs: list[str] = []
    expr_args: list = []
    for c in columns:
        if c in replace:
            sql, a = replace[c]
            exprs.append(sql)
            expr_args.extend(a)
        else:
            exprs.append(quote(c))
    cols = ", ".join(quote(c) for c in columns)
    await db.execute(f"INSERT INTO {quote(history_table(table))} ({cols}, sys_valid_from) SELECT "
                     f"{', '.join(exprs)}, {{}} FROM {quote(table)} WHERE {where}", *expr_args, at, *args)
