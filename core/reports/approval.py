"""Approval of reports up the hierarchy, and the locking of approved periods.

``roles_config/approvals.yaml`` lists the levels in order: the first submits (e.g. a centre), each next one
approves (a province, then the ministry), each needing an action (``approve_reports``) granted on the report's
entity by a role held at a unit of that level above (or at) the submitting unit. A submission is one report run
(report, parameters, unit, period) stored as a snapshot (``hoso.reports.snapshots``); it moves
submitted -> approved (at each level in turn) and may be returned for correction with a comment, then submitted
again. Once approved at the locking level (``lock_at``, default the last), the period is locked for the unit's
subtree: the record service refuses writes of records dated inside it (``hoso.plugins.period_lock``), until a
higher level unlocks it with a reason; approving again locks again. Every step is audited.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from piccolo.columns import BigInt, Date, Integer, Text, Timestamptz, Varchar

from hoso.audit import AuditEvent, write_audit
from hoso.config import ConfigKind
from hoso.config.types import Label
from hoso.i18n import t
from hoso.plugin_types import SystemTable
from hoso.records.access import Access
from hoso.records.context import as_date
from hoso.reports.disclosure import disclosure_for
from hoso.reports.model import ReportResult
from hoso.reports.snapshots import SNAPSHOT_TABLE, checked_snapshot, load_snapshot, store_snapshot
from hoso.scope import holdings_on

if TYPE_CHECKING:  # pragma: no cover
    from hoso.records.context import RecordContext
    from hoso.runtime import Runtime

__all__ = ["ApprovalLevel", "ApprovalsDef", "ApprovalError", "KIND", "TABLES", "approvals_of", "submit", "approve",
           "return_for_correction", "unlock", "list_submissions", "get_submission", "read_snapshot",
           "approved_below", "sum_cells", "locks_for", "may_submit", "acting_levels", "STATUSES"]

STATUSES = ("draft", "submitted", "approved", "returned", "unlocked")

# -- configuration -------------------------------------------------------------------------------------------------

_LABEL = {"$ref": "hoso:defs#/$defs/label"}
SCHEMA = {
    "type": "object", "additionalProperties": False, "required": ["levels"],
    "properties": {
        "levels": {"type": "array", "minItems": 2, "items": {
            "type": "object", "additionalProperties": False, "required": ["level"],
            "properties": {"level": {"type": "string"}, "label": _LABEL,
                           "action": {"type": "string", "default": "approve_reports"}}}},
        "lock_at": {"type": "string"},
        "period_fields": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}


@dataclass(frozen=True)
class ApprovalLevel:
    level: str  # a level of the hierarchy
    action: str = "approve_reports"
    label: Label | None = None


@dataclass(frozen=True)
class ApprovalsDef:
    levels: tuple[ApprovalLevel, ...]
    lock_at: int  # index of the level whose approval locks the period
    period_fields: dict[str, str]  # entity -> the date field that places a record in a period

    def index(self, level: str) -> int:
        return next(i for i, lv in enumerate(self.levels) if lv.level == level)


def build(ctx, files) -> ApprovalsDef | None:
    hierarchy = ctx.results.get("hierarchy")
    entities = ctx.results.get("entity") or {}
    result = None
    for f in files:
        d = f.data
        known = tuple(hierarchy.levels) if hierarchy is not None else ()
        levels: list[ApprovalLevel] = []
        for i, lv in enumerate(d["levels"]):
            if known and lv["level"] not in known:
                f.error(("levels", i, "level"), f"unknown level {lv['level']!r}; the hierarchy's levels: "
                        f"{', '.join(known)}")
            if lv["level"] in [x.level for x in levels]:
                f.error(("levels", i, "level"), f"level {lv['level']!r} is listed twice")
            label = Label(lv["label"]["vi"], lv["label"].get("en")) if "label" in lv else None
            levels.append(ApprovalLevel(lv["level"], lv.get("action", "approve_reports"), label))
        for i in range(1, len(levels)):
            if known and all(x.level in known for x in levels[i - 1:i + 1]) and \
                    known.index(levels[i].level) >= known.index(levels[i - 1].level):
                f.error(("levels", i, "level"), f"level {levels[i].level!r} must be above "
                        f"{levels[i - 1].level!r} in the hierarchy: approval goes up")
        lock_at = len(levels) - 1
        if "lock_at" in d:
            names = [x.level for x in levels]
            if d["lock_at"] not in names[1:]:
                f.error(("lock_at",), f"lock_at {d['lock_at']!r} must be one of the approving levels: "
                        f"{', '.join(names[1:])}")
            else:
                lock_at = names.index(d["lock_at"])
        for entity, fname in (d.get("period_fields") or {}).items():
            e = entities.get(entity)
            if e is None:
                f.error(("period_fields", entity), f"unknown entity {entity!r}", key=True)
                continue
            fd = next((x for x in e.fields if x.name == fname), None)
            if fd is None or fd.type not in ("date", "datetime"):
                f.error(("period_fields", entity), f"{entity}.{fname} is not a date field of the entity")
        if not f.partial:
            result = ApprovalsDef(tuple(levels), lock_at, dict(d.get("period_fields") or {}))
    return result


KIND = ConfigKind("approvals", "roles_config/approvals.yaml", SCHEMA, build, after=("hierarchy", "entity"),
                  described_as="an approvals")

# -- tables --------------------------------------------------------------------------------------------------------

SUBMISSION_TABLE = SystemTable("hoso_report_submission", lambda: {
    "report": Varchar(length=100, null=False),
    "entity": Varchar(length=100, null=False),
    "request_key": Text(null=False),
    "unit_id": BigInt(null=False),
    "period": Varchar(length=20, null=False),
    "period_start": Date(null=False),
    "period_end": Date(null=False),
    "status": Varchar(length=20, null=False),
    "level": Integer(null=False),  # index of the last level that acted (0: submitted)
    "snapshot_id": BigInt(null=True, default=None),
    "version": Integer(null=False, default=1),
    "created_at": Timestamptz(null=False),
    "updated_at": Timestamptz(null=False),
}, indexes=(("report", "period", "status", "unit_id"), ("unit_id",)))
STEP_TABLE = SystemTable("hoso_report_step", lambda: {
    "submission_id": BigInt(null=False),
    "action": Varchar(length=20, null=False),  # submit, approve, return, unlock
    "level": Varchar(length=50, null=False),
    "comment": Text(null=False, default=""),
    "snapshot_id": BigInt(null=True, default=None),
    "actor_id": BigInt(null=True, default=None),
    "actor": Varchar(length=150, null=False),
    "at": Timestamptz(null=False),
}, indexes=(("submission_id",),))
LOCK_TABLE = SystemTable("hoso_period_lock", lambda: {
    "submission_id": BigInt(null=False),
    "entity": Varchar(length=100, null=False),
    "date_field": Varchar(length=100, null=False),
    "unit_id": BigInt(null=False),
    "period": Varchar(length=20, null=False),
    "period_start": Date(null=False),
    "period_end": Date(null=False),
    "locked_at": Timestamptz(null=False),
    "locked_by": Varchar(length=150, null=False),
    "unlocked_at": Timestamptz(null=True, default=None),
    "unlocked_by": Varchar(length=150, null=True, default=None),
    "unlock_reason": Text(null=True, default=None),
}, indexes=(("entity", "date_field", "unit_id", "period_start"),  # the write guard's
             ("submission_id",)))
TABLES = (SUBMISSION_TABLE, STEP_TABLE, LOCK_TABLE, SNAPSHOT_TABLE)


# -- errors --------------------------------------------------------------------------------------------------------


class ApprovalError(Exception):
    """A refused approval request: ``status`` is the HTTP status (403, 404, 409, 422), ``message(lang)`` says why."""

    def __init__(self, status: int, key: str, field: str = "", **values: Any):
        self.status, self.key, self.field, self.values = status, key, field, values
        super().__init__(t(key, "en", **values))

    def message(self, lang: str) -> str:
        return t(self.key, lang, **self.values)


def approvals_of(rt: Runtime) -> ApprovalsDef:
    try:
        found = rt.config.kind("approvals")
    except KeyError:
        found = None
    if found is None:
        raise ApprovalError(404, "approval_not_configured")
    return found


# -- who may act where ---------------------------------------------------------------------------------------------


def _level_of_type(rt: Runtime, unit_type: str) -> str | None:
    hierarchy = rt.config.hierarchy
    if hierarchy is None:
        return None
    return next((ut.level for ut in hierarchy.unit_types if ut.name == unit_type), None)


async def _held_units(rt: Runtime, ctx: RecordContext, entity: str, actions: tuple[str, ...],
                      holdings: frozenset[tuple[str, int | None]] | None = None) -> list[int] | None:
    """The units at which the actor holds a role granting one of ``actions`` on ``entity``; None: everywhere
    (a superuser, or a national grant)."""
    if ctx.superuser:
        return None
    if ctx.user_id is None:
        return []
    if holdings is None:
        holdings = await holdings_on(rt.db, ctx.user_id, ctx.today)
    units: set[int] = set()
    for action in actions:
        for scope, roles in rt.scope.roles_for(entity, action).items():
            for role, unit in holdings:
                if role in roles:
                    if scope == "national":
                        return None
                    if unit is not None:
                        units.add(unit)
    return sorted(units)


async def acting_levels(rt: Runtime, ctx: RecordContext, cfg: ApprovalsDef, entity: str, unit_id: int) -> set[int]:
    """The indices of the approval levels at which the actor may act for ``unit_id``: a role granting the level's
    action on ``entity``, held at a unit of that level that is the unit itself or above it."""
    if ctx.superuser:
        return set(range(len(cfg.levels)))
    out: set[int] = set()
    if ctx.user_id is None:
        return out
    holdings = await holdings_on(rt.db, ctx.user_id, ctx.today)
    for i, lv in enumerate(cfg.levels):
        roles = {r for rs in rt.scope.roles_for(entity, lv.action).values() for r in rs}
        units = sorted({u for r, u in holdings if r in roles and u is not None})
        if not units:
            continue
        marks = ", ".join("{}" for _ in units)
        rows = await rt.db.fetch(
            f"SELECT u.type AS type FROM hoso_unit u JOIN hoso_unit_closure c ON c.ancestor_id = u.id "
            f"WHERE c.descendant_id = {{}} AND u.id IN ({marks})", unit_id, *units)
        if any(_level_of_type(rt, r["type"]) == lv.level for r in rows):
            out.add(i)
    return out


async def _reach_sql(rt: Runtime, ctx: RecordContext, alias: str = "s") -> tuple[str, tuple]:
    """Submissions (or snapshots, locks) the actor may see: of a unit under one where the actor holds
    ``run_reports`` or ``approve_reports`` on the entity (the condition is put in the query)."""
    if ctx.superuser:
        return "1 = 1", ()
    parts: list[str] = []
    args: list[Any] = []
    # the holdings once, for every entity's units
    held = await holdings_on(rt.db, ctx.user_id, ctx.today) if ctx.user_id is not None else frozenset()
    for entity in rt.config.entities:
        units = await _held_units(rt, ctx, entity.name, ("run_reports", "approve_reports"), held)
        if units is None:
            parts.append(f"{alias}.entity = {{}}")
            args.append(entity.name)
        elif units:
            marks = ", ".join("{}" for _ in units)
            parts.append(f"({alias}.entity = {{}} AND {alias}.unit_id IN (SELECT c.descendant_id FROM "
                         f"hoso_unit_closure c WHERE c.ancestor_id IN ({marks})))")
            args += [entity.name, *units]
    if not parts:
        return "1 = 0", ()
    return "(" + " OR ".join(parts) + ")", tuple(args)


async def _check_full_disclosure(rt: Runtime, ctx: RecordContext, entity_name: str) -> None:
    """Snapshots hold the submitter's numbers as run, per unit and unsuppressed: a reader whose role sees
    aggregates only (down to a level, small cells hidden, no rows) is refused them (403) and runs the report live,
    where its disclosure applies."""
    entity = rt.config.entity(entity_name) if rt.config.has_entity(entity_name) else None
    if entity is None or ctx.superuser:
        return
    shown = await disclosure_for(rt, Access(rt, ctx), entity)
    if not shown.rows or shown.finest_level is not None or shown.suppress_below > 1:
        raise ApprovalError(403, "snapshot_aggregates_only")


# -- reading -------------------------------------------------------------------------------------------------------

_COLUMNS = ("s.id AS id, s.report AS report, s.entity AS entity, s.request_key AS request_key, s.unit_id AS unit_id, "
            "u.code AS unit, u.name_vi AS unit_name_vi, u.name_en AS unit_name_en, s.period AS period, "
            "s.period_start AS period_start, s.period_end AS period_end, s.status AS status, s.level AS level, "
            "s.snapshot_id AS snapshot_id, s.version AS version, s.created_at AS created_at, "
            "s.updated_at AS updated_at")


def _shape(rt: Runtime, row: dict) -> dict:
    cfg = approvals_of(rt)
    level = int(row["level"])
    out = {k: v for k, v in row.items() if k not in ("request_key",)}
    out["level"] = cfg.levels[level].level if 0 <= level < len(cfg.levels) else None
    out["final"] = row["status"] == "approved" and level == len(cfg.levels) - 1
    for k in ("period_start", "period_end"):
        out[k] = as_date(row[k]).isoformat() if row[k] is not None else None
    for k in ("created_at", "updated_at"):
        v = row[k]
        out[k] = v.isoformat() if isinstance(v, dt.datetime) else v
    return out


async def _fetch(rt: Runtime, ctx: RecordContext, submission_id: int) -> dict:
    reach, args = await _reach_sql(rt, ctx)
    rows = await rt.db.fetch(f"SELECT {_COLUMNS} FROM hoso_report_submission s JOIN hoso_unit u ON u.id = s.unit_id "
                             f"WHERE s.id = {{}} AND {reach}", submission_id, *args)
    if not rows:
        raise ApprovalError(404, "submission_not_found", id=submission_id)
    return dict(rows[0])


async def get_submission(rt: Runtime, ctx: RecordContext, submission_id: int) -> dict:
    """One submission the actor may see, with its steps (404 otherwise)."""
    approvals_of(rt)
    row = await _fetch(rt, ctx, submission_id)
    steps = await rt.db.fetch("SELECT action, level, comment, snapshot_id, actor, at FROM hoso_report_step "
                              "WHERE submission_id = {} ORDER BY id", submission_id)
    out = _shape(rt, row)
    out["steps"] = [{**s, "at": s["at"].isoformat() if isinstance(s["at"], dt.datetime) else s["at"]}
                    for s in steps]
    out["locked"] = bool(await rt.db.fetchval(
        "SELECT COUNT(*) AS n FROM hoso_period_lock WHERE submission_id = {} AND unlocked_at IS NULL", submission_id))
    return out


async def list_submissions(rt: Runtime, ctx: RecordContext, *, report: str | None = None,
                           period: str | None = None, status: str | None = None) -> list[dict]:
    """The submissions of units the actor may see, newest first."""
    approvals_of(rt)
    if status is not None and status not in STATUSES:
        raise ApprovalError(422, "submission_bad_status", "status", value=status, allowed=", ".join(STATUSES))
    reach, args = await _reach_sql(rt, ctx)
    where, more = [reach], list(args)
    for col, value in (("report", report), ("period", period), ("status", status)):
        if value is not None:
            where.append(f"s.{col} = {{}}")
            more.append(value)
    rows = await rt.db.fetch(f"SELECT {_COLUMNS} FROM hoso_report_submission s JOIN hoso_unit u ON u.id = s.unit_id "
                             f"WHERE {' AND '.join(where)} ORDER BY s.updated_at DESC, s.id DESC", *more)
    return [_shape(rt, dict(r)) for r in rows]


async def read_snapshot(rt: Runtime, ctx: RecordContext, snapshot_id: int) -> dict:
    """A stored snapshot the actor may see (of a unit in their reach), its hash checked; 404 otherwise."""
    reach, args = await _reach_sql(rt, ctx, "p")
    found = await rt.db.fetchval(f"SELECT p.id FROM hoso_report_snapshot p WHERE p.id = {{}} AND {reach}",
                                 snapshot_id, *args)
    if found is None:
        raise ApprovalError(404, "snapshot_not_found", id=snapshot_id)
    row = await load_snapshot(rt.db, snapshot_id)
    assert row is not None
    await _check_full_disclosure(rt, ctx, row["entity"])
    for k in ("as_of", "created_at"):
        if isinstance(row[k], dt.datetime):
            row[k] = row[k].isoformat()
    return row


async def locks_for(rt: Runtime, ctx: RecordContext, submission_id: int) -> list[dict]:
    await _fetch(rt, ctx, submission_id)
    return await rt.db.fetch("SELECT period, period_start, period_end, locked_at, locked_by, unlocked_at, "
                             "unlocked_by, unlock_reason FROM hoso_period_lock WHERE submission_id = {} ORDER BY id",
                             submission_id)


# -- the steps -----------------------------------------------------------------------------------------------------


async def _step(rt: Runtime, ctx: RecordContext, sub: dict, action: str, level: str, comment: str,
                snapshot_id: int | None, now: dt.datetime, changes: dict) -> None:
    await rt.db.execute("INSERT INTO hoso_report_step (submission_id, action, level, comment, snapshot_id, actor_id, "
                        "actor, at) VALUES ({}, {}, {}, {}, {}, {}, {}, {})", sub["id"], action, level, comment,
                        snapshot_id, ctx.user_id, ctx.user_name, now)
    await write_audit(rt.pm, rt.db, AuditEvent(
        f"report_{action}", "report_submission", sub["id"], ctx.user_id, ctx.user_name, ctx.origin,
        {"@report": sub["report"], "@unit": sub.get("unit"), "@period": sub["period"], "@level": level,
         "@comment": comment, **changes}, now))


def _period_of(result: ReportResult) -> tuple[str, dt.date, dt.date]:
    if result.period is None:
        raise ApprovalError(422, "submission_needs_period", "period")
    return result.period.code, result.period.start, result.period.end


async def may_submit(rt: Runtime, ctx: RecordContext, entity: str, unit_code: str | None) -> dict:
    """The unit (``id``, ``code``, ``type``) a report of ``entity`` would be submitted for, once checked: it
    exists, is at the first level, and the actor acts at that level for it (422 or 403 otherwise). Checked before
    the report runs, so that a refused submission costs no run."""
    cfg = approvals_of(rt)
    if not unit_code:
        raise ApprovalError(422, "submission_needs_unit", "unit")
    found = await rt.db.fetch("SELECT id, code, type FROM hoso_unit WHERE code = {}", unit_code)
    if not found:
        raise ApprovalError(422, "submission_unknown_unit", "unit", unit=unit_code)
    unit = dict(found[0])
    first = cfg.levels[0]
    if _level_of_type(rt, unit["type"]) != first.level:
        raise ApprovalError(422, "submission_wrong_level", "unit", unit=unit["code"], level=first.level)
    if 0 not in await acting_levels(rt, ctx, cfg, entity, int(unit["id"])):
        raise ApprovalError(403, "submission_not_allowed", level=first.level, unit=unit["code"])
    return unit


async def submit(rt: Runtime, ctx: RecordContext, result: ReportResult, *, scope_key: str,
                 comment: str = "", draft: bool = False) -> dict:
    """Submit ``result`` (a run of the report for one unit and period, made with ``ctx``'s scope) at the first
    level: its snapshot is stored and the submission is (again) ``submitted``, or kept as a ``draft`` that no
    level acts on until it is submitted. A submission already submitted or approved for the same parameters is
    refused (409); a draft, returned or unlocked one is submitted (or drafted) again with the new run."""
    status = "draft" if draft else "submitted"
    cfg = approvals_of(rt)
    period, start, end = _period_of(result)
    unit = await may_submit(rt, ctx, result.report.entity, result.request.unit)
    unit_id = int(unit["id"])
    first = cfg.levels[0]
    key = result.request.key()
    now = dt.datetime.now(dt.UTC)
    async with rt.db.transaction():
        if not rt.db.is_sqlite:  # two submissions of one unit wait for each other (SQLite writes one at a time)
            await rt.db.fetch("SELECT id FROM hoso_unit WHERE id = {} FOR UPDATE", unit_id)
        existing = await rt.db.fetch("SELECT id, status FROM hoso_report_submission WHERE report = {} AND "
                                     "request_key = {} AND unit_id = {}", result.report.name, key, unit_id)
        if existing and existing[0]["status"] in ("submitted", "approved"):
            raise ApprovalError(409, "submission_exists", id=existing[0]["id"], state=existing[0]["status"])
        snapshot_id, digest = await store_snapshot(rt.db, result, ctx, unit_id=unit_id, scope_key=scope_key)
        if existing:
            sid = int(existing[0]["id"])
            await rt.db.execute("UPDATE hoso_report_submission SET status = {}, level = 0, snapshot_id = {}, "
                                "version = version + 1, updated_at = {} WHERE id = {}", status, snapshot_id, now, sid)
        else:
            sid = int(await rt.db.fetchval(
                "INSERT INTO hoso_report_submission (report, entity, request_key, unit_id, period, period_start, "
                "period_end, status, level, snapshot_id, version, created_at, updated_at) VALUES ({}, {}, {}, {}, {}, "
                "{}, {}, {}, 0, {}, 1, {}, {}) RETURNING id", result.report.name, result.report.entity, key,
                unit_id, period, start, end, status, snapshot_id, now, now))
        sub = {"id": sid, "report": result.report.name, "unit": unit["code"], "period": period}
        await _step(rt, ctx, sub, "draft" if draft else "submit", first.level, comment, snapshot_id, now,
                    {"status": [existing[0]["status"] if existing else None, status],
                     "@snapshot": snapshot_id, "@content_hash": digest})
    return await get_submission(rt, ctx, sid)


async def _move(rt: Runtime, sub: dict, sets: str, args: tuple, now: dt.datetime) -> None:
    """Change the submission from the version read: a step taken meanwhile by someone else is refused (409)."""
    moved = await rt.db.fetch(f"UPDATE hoso_report_submission SET {sets}, version = version + 1, updated_at = {{}} "
                              "WHERE id = {} AND version = {} RETURNING id", *args, now, sub["id"], sub["version"])
    if not moved:
        current = await rt.db.fetchval("SELECT version FROM hoso_report_submission WHERE id = {}", sub["id"])
        raise ApprovalError(409, "submission_stale", "version", current=current)


def _check_version(sub: dict, version: int | None) -> None:
    if version is not None and int(sub["version"]) != version:
        raise ApprovalError(409, "submission_stale", "version", current=sub["version"])


async def _next_level(rt: Runtime, ctx: RecordContext, cfg: ApprovalsDef, sub: dict) -> int:
    """The level that acts next on ``sub`` (submitted or approved below the top); 409 or 403 otherwise."""
    if sub["status"] not in ("submitted", "approved") or int(sub["level"]) >= len(cfg.levels) - 1:
        raise ApprovalError(409, "submission_not_pending", id=sub["id"], state=sub["status"])
    nxt = int(sub["level"]) + 1
    if nxt not in await acting_levels(rt, ctx, cfg, sub["entity"], int(sub["unit_id"])):
        raise ApprovalError(403, "approval_not_allowed", level=cfg.levels[nxt].level, unit=sub["unit"])
    return nxt


async def approve(rt: Runtime, ctx: RecordContext, submission_id: int, *, comment: str = "",
                  version: int | None = None) -> dict:
    """Approve at the next level; at the locking level the period is locked for the unit's subtree."""
    cfg = approvals_of(rt)
    now = dt.datetime.now(dt.UTC)
    async with rt.db.transaction():
        sub = await _fetch(rt, ctx, submission_id)
        _check_version(sub, version)
        nxt = await _next_level(rt, ctx, cfg, sub)
        await _move(rt, sub, "status = 'approved', level = {}", (nxt,), now)
        changes: dict[str, Any] = {"status": [sub["status"], "approved"]}
        if nxt == cfg.lock_at:
            date_field = cfg.period_fields.get(sub["entity"])
            if date_field is not None:
                await rt.db.execute(
                    "INSERT INTO hoso_period_lock (submission_id, entity, date_field, unit_id, period, period_start, "
                    "period_end, locked_at, locked_by) VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {})", submission_id,
                    sub["entity"], date_field, sub["unit_id"], sub["period"], as_date(sub["period_start"]),
                    as_date(sub["period_end"]), now, ctx.user_name)
                changes["@locked"] = True
        await _step(rt, ctx, sub, "approve", cfg.levels[nxt].level, comment, sub["snapshot_id"], now, changes)
    return await get_submission(rt, ctx, submission_id)


async def _release_locks(rt: Runtime, ctx: RecordContext, submission_id: int, reason: str, now: dt.datetime) -> int:
    n = int(await rt.db.fetchval("SELECT COUNT(*) AS n FROM hoso_period_lock WHERE submission_id = {} AND "
                                 "unlocked_at IS NULL", submission_id) or 0)
    await rt.db.execute("UPDATE hoso_period_lock SET unlocked_at = {}, unlocked_by = {}, unlock_reason = {} "
                        "WHERE submission_id = {} AND unlocked_at IS NULL", now, ctx.user_name, reason, submission_id)
    return n


async def return_for_correction(rt: Runtime, ctx: RecordContext, submission_id: int, *, comment: str,
                                version: int | None = None) -> dict:
    """The next level sends the submission back with a comment (required); a lock it held is released."""
    cfg = approvals_of(rt)
    comment = (comment or "").strip()
    if not comment:
        raise ApprovalError(422, "return_needs_comment", "comment")
    now = dt.datetime.now(dt.UTC)
    async with rt.db.transaction():
        sub = await _fetch(rt, ctx, submission_id)
        _check_version(sub, version)
        nxt = await _next_level(rt, ctx, cfg, sub)
        released = await _release_locks(rt, ctx, submission_id, comment, now)
        await _move(rt, sub, "status = 'returned'", (), now)
        await _step(rt, ctx, sub, "return", cfg.levels[nxt].level, comment, sub["snapshot_id"], now,
                    {"status": [sub["status"], "returned"], "@unlocked": released})
    return await get_submission(rt, ctx, submission_id)


async def unlock(rt: Runtime, ctx: RecordContext, submission_id: int, *, reason: str,
                 version: int | None = None) -> dict:
    """A level above the locking one (the top level when it is the one that locks) lifts the lock, with a
    reason (required); the submission is then open to correction and a new submission, whose approval locks
    again."""
    cfg = approvals_of(rt)
    reason = (reason or "").strip()
    if not reason:
        raise ApprovalError(422, "unlock_needs_reason", "reason")
    now = dt.datetime.now(dt.UTC)
    async with rt.db.transaction():
        sub = await _fetch(rt, ctx, submission_id)
        _check_version(sub, version)
        active = await rt.db.fetchval("SELECT COUNT(*) AS n FROM hoso_period_lock WHERE submission_id = {} AND "
                                      "unlocked_at IS NULL", submission_id)
        if not active:
            raise ApprovalError(409, "submission_not_locked", id=submission_id)
        needed = min(cfg.lock_at + 1, len(cfg.levels) - 1)
        mine = await acting_levels(rt, ctx, cfg, sub["entity"], int(sub["unit_id"]))
        if not any(i >= needed for i in mine):
            raise ApprovalError(403, "unlock_not_allowed", level=cfg.levels[needed].level, unit=sub["unit"])
        released = await _release_locks(rt, ctx, submission_id, reason, now)
        await _move(rt, sub, "status = 'unlocked'", (), now)
        await _step(rt, ctx, sub, "unlock", cfg.levels[max(i for i in mine)].level, reason, sub["snapshot_id"],
                    now, {"status": [sub["status"], "unlocked"], "@unlocked": released})
    return await get_submission(rt, ctx, submission_id)


# -- approved numbers from the level below -------------------------------------------------------------------------


async def approved_below(rt: Runtime, ctx: RecordContext, report: str, period: str,
                         unit: str | None = None) -> dict:
    """The approved snapshots of ``report`` for ``period`` of the submitting units in the actor's reach (under
    ``unit`` when given), the units with none, and the sum of the additive columns (counts and sums) over them."""
    cfg = approvals_of(rt)
    rdef = next((r for r in rt.config.reports if r.name == report), None)
    if rdef is None:
        raise ApprovalError(422, "report_unknown", "report", name=report)
    await _check_full_disclosure(rt, ctx, rdef.entity)
    units = await _held_units(rt, ctx, rdef.entity, ("run_reports", "approve_reports"))
    where: list[str] = []
    args: list[Any] = []
    if units is not None:
        if not units:
            return {"report": report, "period": period, "units": [], "missing": [], "total": None}
        marks = ", ".join("{}" for _ in units)
        where.append(f"u.id IN (SELECT c.descendant_id FROM hoso_unit_closure c WHERE c.ancestor_id IN ({marks}))")
        args += units
    if unit is not None:
        root = await rt.db.fetchval("SELECT id FROM hoso_unit WHERE code = {}", unit)
        if root is None:
            raise ApprovalError(422, "submission_unknown_unit", "unit", unit=unit)
        where.append("u.id IN (SELECT c.descendant_id FROM hoso_unit_closure c WHERE c.ancestor_id = {})")
        args.append(root)
    types = [ut.name for ut in (rt.config.hierarchy.unit_types if rt.config.hierarchy else ())
             if ut.level == cfg.levels[0].level]
    if not types:
        return {"report": report, "period": period, "units": [], "missing": [], "total": None}
    where.append(f"u.type IN ({', '.join('{}' for _ in types)}) AND u.valid_to IS NULL")
    args += types
    # One statement for every unit: each submitting unit with its latest approved snapshot of the period, if any.
    rows = await rt.db.fetch(
        f"SELECT u.code AS code, a.snapshot_id AS snapshot_id, p.id AS id, p.report AS report, p.entity AS entity, "
        f"p.template_hash AS template_hash, p.request_key AS request_key, p.scope_key AS scope_key, "
        f"p.unit_id AS unit_id, p.as_of AS as_of, p.result AS result, p.content_hash AS content_hash, "
        f"p.created_by AS created_by, p.created_by_name AS created_by_name, p.created_at AS created_at "
        f"FROM hoso_unit u LEFT JOIN (SELECT s.unit_id AS unit_id, s.snapshot_id AS snapshot_id, ROW_NUMBER() OVER "
        f"(PARTITION BY s.unit_id ORDER BY s.updated_at DESC, s.id DESC) AS n FROM hoso_report_submission s "
        f"WHERE s.report = {{}} AND s.period = {{}} AND s.status = 'approved') a ON a.unit_id = u.id AND a.n = 1 "
        f"LEFT JOIN hoso_report_snapshot p ON p.id = a.snapshot_id WHERE {' AND '.join(where)} ORDER BY u.code",
        report, period, *args)
    found, missing = [], []
    for r in rows:
        if r["id"] is None:
            missing.append(r["code"])
            continue
        snap = checked_snapshot(dict(r))
        found.append({"unit": r["code"], "snapshot_id": int(r["id"]), "content_hash": snap["content_hash"],
                      "result": snap["result"]})
    results = [f["result"] for f in found]
    cells = sum_cells(results)
    total = next((c["values"] for c in cells if c["kind"] == "total"), None)
    return {"report": report, "period": period, "units": found, "missing": missing,
            "columns": results[0]["columns"] if results else [], "cells": cells, "total": total}


_ADDITIVE = ("count", "sum")


def sum_cells(results: list[dict]) -> list[dict]:
    """Every cell of the results (each row, subtotal and the total, by its kind and keys, times each column, by its
    key) summed over the results, in the order the rows first appear. A column whose measure is not additive
    across units (average, minimum, maximum, distinct count) is None, and so is a cell hidden (None) or absent
    in any result that has its row. Columns are those of the first result."""
    if not results:
        return []
    columns = results[0]["columns"]
    additive = [c.get("measure", "count") in _ADDITIVE for c in columns]
    summed: dict[tuple[str, str], dict] = {}
    for res in results:
        where = {c["key"]: j for j, c in enumerate(res["columns"])}
        for row in [*res["rows"], res["total"]]:
            key = (row["kind"], json.dumps(row["keys"], sort_keys=True, default=str))
            cell = summed.setdefault(key, {"kind": row["kind"], "keys": row["keys"], "labels": row["labels"],
                                           "values": [0 if a else None for a in additive]})
            values = cell["values"]
            for i, col in enumerate(columns):
                j = where.get(col["key"])
                value = row["values"][j] if j is not None and j < len(row["values"]) else None
                values[i] = None if value is None or values[i] is None else values[i] + value
    return list(summed.values())
