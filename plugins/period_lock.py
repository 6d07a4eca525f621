"""Built-in: approval of reports and locked periods.

Declares the approvals configuration (``roles_config/approvals.yaml``) and the tables of submissions, their
steps, snapshots and locks (``hoso.reports.approval``), and refuses, through ``hoso_write_guard``, any create,
update, transition, delete or restore of a record whose period date falls inside a period locked for its unit
(or a unit above it): both the record as stored and as the write would leave it are checked, so a record can be
neither changed inside a locked period nor moved into or out of one.
"""

from __future__ import annotations

from typing import Any

from hoso.audit import batched_rows
from hoso.hookspecs import hookimpl
from hoso.i18n import t
from hoso.records.context import as_date
from hoso.records.guard import guarding_a_batch
from hoso.reports import approval
from hoso.reports.periods import local_day


@hookimpl
def hoso_config_kinds():
    return [approval.KIND]


@hookimpl
def hoso_system_tables():
    return list(approval.TABLES)


def _points(entity, record: dict | None) -> set[tuple[str, Any, int]]:
    """(date field, day, unit) of each date or datetime field the record has a value in: a datetime is placed on
    its day in the deployment's time zone, as periods place it."""
    if not record:
        return set()
    unit = record.get("sys_scope_unit") or record.get(entity.unit_field)
    if unit in (None, ""):
        return set()
    out = set()
    for f in entity.fields:
        day = record.get(f.name) if f.type in ("date", "datetime") else None
        if day in (None, ""):
            continue
        out.add((f.name, local_day(day) if f.type == "datetime" else as_date(day), int(unit)))
    return out


# The date fields with a lock, per entity, as read in the latest transaction that asked: a batch of records
# written in one transaction (an import, ``create_many``: ``guarding_a_batch``; or inside ``audit_batch``) asks
# once, then skips the guard's statement for each of its records while no lock exists; another transaction asks
# again.
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
    # One statement for every date of the record (none when it has no date), on the lock table's index
    # (entity, date_field, unit_id, period_start); a second one only to name the unit of a refusal.
    if entity.unit_field is None:
        return None
    points = sorted(_points(entity, before) | _points(entity, after))
    if not points:
        return None
    if (guarding_a_batch() or batched_rows() is not None) and not await _locked_fields(db, entity.name):
        return None  # a batch's transaction holds no lock of this entity
    ors, args = [], [entity.name]
    for field, day, unit in points:
        ors.append("(l.date_field = {} AND c.descendant_id = {} AND l.period_start <= {} AND l.period_end >= {})")
        args += [field, unit, day, day]
    rows = await db.fetch(
        "SELECT l.date_field AS date_field, c.descendant_id AS unit, l.unit_id AS lock_unit, l.period AS period, "
        "l.period_start AS period_start, l.period_end AS period_end FROM hoso_period_lock l "
        "JOIN hoso_unit_closure c ON c.ancestor_id = l.unit_id "
        f"WHERE l.entity = {{}} AND l.unlocked_at IS NULL AND ({' OR '.join(ors)}) ORDER BY l.id", *args)
    found = []
    for field, day, unit in points:
        r = next((r for r in rows if r["date_field"] == field and int(r["unit"]) == unit
                  and as_date(r["period_start"]) <= day <= as_date(r["period_end"])), None)
        if r is not None:
            found.append((field, day, r))
    if not found:
        return None
    # a refusal names the locking unit: read only then, to keep the write's one statement small to plan
    names = {int(u["id"]): u for u in await db.fetch(
        f"SELECT id, code, name_vi, name_en FROM hoso_unit WHERE id IN ({', '.join('{}' for _ in found)})",
        *[int(r["lock_unit"]) for _f, _d, r in found])}
    problems = []
    for field, day, r in found:
        u = names[int(r["lock_unit"])]
        name = u["name_en"] if context.lang == "en" and u["name_en"] else u["name_vi"]
        message = t("period_locked", context.lang, period=r["period"],
                    start=as_date(r["period_start"]).strftime("%d/%m/%Y"),
                    end=as_date(r["period_end"]).strftime("%d/%m/%Y"), unit=f"{u['code']} ({name})",
                    date=day.strftime("%d/%m/%Y"))
        if (field, message) not in problems:
            problems.append((field, message))
    return problems or None
