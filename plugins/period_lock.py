"""Built-in: approval of reports and locked periods.

Declares the approvals configuration (``roles_config/approvals.yaml``) and the tables of submissions, their
steps, snapshots and locks (``hoso.reports.approval``), and refuses, through ``hoso_write_guard``, any create,
update, transition, delete or restore of a record whose period date falls inside a period locked for its unit
(or a unit above it): both the record as stored and as the write would leave it are checked, so a record can be
neither changed inside a locked period nor moved into or out of one.
"""

from __future__ import annotations

from typing import Any

from hoso.hookspecs import hookimpl
from hoso.i18n import t
from hoso.records.context import as_date
from hoso.reports import approval


@hookimpl
def hoso_config_kinds():
    return [approval.KIND]


@hookimpl
def hoso_system_tables():
    return list(approval.TABLES)


def _points(entity, date_field: str, record: dict | None) -> list[tuple[Any, Any]]:
    if not record:
        return []
    day = record.get(date_field)
    unit = record.get("sys_scope_unit") or record.get(entity.unit_field)
    if day in (None, "") or unit in (None, ""):
        return []
    return [(as_date(day if not hasattr(day, "date") else day.date()), int(unit))]


# The date fields with a lock, per entity, as read in the latest transaction that asked: a batch of records
# written in one transaction (an import) asks once, not once per record; another transaction asks again.
_LOCKED_FIELDS: list[Any] = [None, {}]


async def _locked_fields(db, entity_name: str) -> list[dict]:
    tx = db.engine.current_transaction.get()
    if tx is None or _LOCKED_FIELDS[0] is not tx:
        _LOCKED_FIELDS[:] = [tx, {}]
    known = _LOCKED_FIELDS[1]
    if entity_name not in known or tx is None:
        known[entity_name] = await db.fetch("SELECT DISTINCT date_field FROM hoso_period_lock WHERE entity = {} "
                                            "AND unlocked_at IS NULL", entity_name)
    return known[entity_name]


@hookimpl
async def hoso_write_guard(entity, action, before, after, context, db):
    # The lock rows name the entity and its date field: the guard holds whatever configuration the caller loaded.
    if entity.unit_field is None:
        return None
    fields = await _locked_fields(db, entity.name)
    problems = []
    for date_field in sorted(r["date_field"] for r in fields):
        for day, unit in sorted({*_points(entity, date_field, before), *_points(entity, date_field, after)}):
            rows = await db.fetch(
                "SELECT l.period AS period, l.period_start AS period_start, l.period_end AS period_end, "
                "u.code AS code, u.name_vi AS name_vi, u.name_en AS name_en FROM hoso_period_lock l "
                "JOIN hoso_unit u ON u.id = l.unit_id WHERE l.entity = {} AND l.date_field = {} "
                "AND l.unlocked_at IS NULL AND l.period_start <= {} AND l.period_end >= {} "
                "AND l.unit_id IN (SELECT c.ancestor_id FROM hoso_unit_closure c WHERE c.descendant_id = {}) "
                "ORDER BY l.id", entity.name, date_field, day, day, unit)
            if not rows:
                continue
            r = rows[0]
            name = r["name_en"] if context.lang == "en" and r["name_en"] else r["name_vi"]
            message = t("period_locked", context.lang, period=r["period"],
                        start=as_date(r["period_start"]).strftime("%d/%m/%Y"),
                        end=as_date(r["period_end"]).strftime("%d/%m/%Y"), unit=f"{r['code']} ({name})",
                        date=day.strftime("%d/%m/%Y"))
            if (date_field, message) not in problems:
                problems.append((date_field, message))
    return problems or None
