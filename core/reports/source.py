"""The rows a report run reads: the entity's table now, or its rows as they stood at a past moment."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from hoso.config import EntityDef
from hoso.db import quote
from hoso.i18n import t
from hoso.model.history import HISTORY_SKIPPED, history_table
from hoso.model.tables import CHILD_COLUMNS, SCOPE_COLUMN, SYSTEM_COLUMNS
from hoso.records.context import LOCAL_ZONE
from hoso.reports.model import ReportError

if TYPE_CHECKING:  # pragma: no cover
    from hoso.runtime import Runtime

__all__ = ["records_source", "child_source", "as_of_utc"]


def as_of_utc(as_of: dt.datetime) -> dt.datetime:
    """``as_of`` in UTC; a time without a zone is read in Asia/Ho_Chi_Minh."""
    if as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=LOCAL_ZONE)
    return as_of.astimezone(dt.UTC)


async def records_source(rt: Runtime, entity: EntityDef, as_of: dt.datetime | None) -> tuple[str, tuple]:
    """A FROM item (to be aliased ``t`` by the caller) with ``{}`` placeholders, and its arguments.

    Its columns are the entity table's. ``as_of`` None: the live table. Otherwise each record's version that was
    current at ``as_of`` (from the entity's history): a record created later is absent, one deleted or changed
    later is there as it was (a record deleted before ``as_of`` is there with its ``sys_deleted_at``, as in the
    live table). Raises ReportError naming ``as_of`` when the database has no history for the entity."""
    if as_of is None:
        return quote(entity.table), ()
    columns = ["id"] + [f.name for f in entity.column_fields] + list(SYSTEM_COLUMNS)
    if entity.unit_field:
        columns.append(SCOPE_COLUMN)
    return await _as_of(rt, entity, entity.table, columns, as_of)


async def child_source(rt: Runtime, entity: EntityDef, child: str, as_of: dt.datetime | None) -> tuple[str, tuple]:
    """The same for the rows of the entity's child table ``child`` (columns ``id``, ``parent_id``,
    ``position`` and the child's fields): now, or as they stood at ``as_of``."""
    fd = entity.field(child)
    table = entity.child_table_name(fd.name)
    if as_of is None:
        return quote(table), ()
    return await _as_of(rt, entity, table, ["id", *CHILD_COLUMNS, *(f.name for f in fd.fields)], as_of)


async def _as_of(rt: Runtime, entity: EntityDef, table: str, columns: list[str],
                 as_of: dt.datetime) -> tuple[str, tuple]:
    hist = history_table(table)
    if hist not in await rt.db.table_names():
        raise ReportError([("as_of", t("report_no_history", "vi", entity=entity.name) + " / "
                            + t("report_no_history", "en", entity=entity.name))])
    select = ", ".join(f"NULL AS {quote(c)}" if c in HISTORY_SKIPPED else f"h.{quote(c)}" for c in columns)
    at = as_of_utc(as_of)
    sql = (f"(SELECT {select} FROM {quote(hist)} h WHERE h.sys_valid_from <= {{}} "
           "AND (h.sys_valid_to IS NULL OR h.sys_valid_to > {}))")
    return sql, (at, at)
