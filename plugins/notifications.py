"""Built-in: in-app notifications, stored per account (``hoso_notification``).

* **Assignment**: a workflow transition that sets a person on a record (a field the transition requires that is
  an account, or a reference to a record with an account field, such as a case's performer and the performer's
  linked account) notifies that account, in the transition's transaction.
* **Deadline**: the scheduled work ``notify_deadlines`` (daily) notifies the accounts linked to a record the same
  way when one of its workflow deadlines falls within ``HOSO_NOTIFY_DEADLINE_DAYS`` days (today included); one
  notification per account, record and due date.

A notification holds only the entity, the record id and what happened; whoever shows it reads the record through
the record service with the reader's own context and leaves out a record the reader cannot read
(``visible``), so a notification never shows more than the reader may see.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from piccolo.columns import BigInt, Date, Timestamptz, Varchar

from hoso.db import quote
from hoso.hookspecs import hookimpl
from hoso.plugin_types import ScheduledWork, SystemTable
from hoso.settings import get as setting

__all__ = ["TABLE", "notify", "unread_count", "visible", "mark_read", "notify_deadlines", "deadline_days",
           "hoso_system_tables", "notify_assignment", "hoso_scheduled_work"]

TABLE = SystemTable("hoso_notification", lambda: {
    "user_id": BigInt(null=False),
    "kind": Varchar(length=20, null=False),  # assigned, deadline
    "entity": Varchar(length=100, null=False),
    "record_id": BigInt(null=False),
    "detail": Varchar(length=100, null=False, default=""),  # the transition or the deadline's state
    "due_on": Date(null=True, default=None),
    "created_at": Timestamptz(null=False),
    "read_at": Timestamptz(null=True, default=None),
}, indexes=(("user_id", "read_at"), ("entity", "record_id")))


def deadline_days() -> int:
    """How many days ahead a deadline is announced (``HOSO_NOTIFY_DEADLINE_DAYS``, default 3)."""
    return int(setting("HOSO_NOTIFY_DEADLINE_DAYS"))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def notify(db: Any, user_id: int, kind: str, entity: str, record_id: int, detail: str = "",
                 due_on: dt.date | None = None) -> bool:
    """Store one notification unless the same one (account, kind, record, due date) is already unread; a deadline
    is announced once per account, record and due date, read or not (the scheduled work runs every few hours)."""
    same = await db.fetchval(
        "SELECT COUNT(*) FROM hoso_notification WHERE user_id = {} AND kind = {} AND entity = {} AND record_id = {} "
        + ("" if due_on is not None else "AND read_at IS NULL ")
        + "AND " + ("due_on = {}" if due_on is not None else "due_on IS NULL"),
        *[user_id, kind, entity, record_id] + ([due_on] if due_on is not None else []))
    if same:
        return False
    await db.execute("INSERT INTO hoso_notification (user_id, kind, entity, record_id, detail, due_on, created_at) "
                     "VALUES ({}, {}, {}, {}, {}, {}, {})", user_id, kind, entity, record_id, detail, due_on, _now())
    return True


async def linked_accounts(db: Any, config: Any, entity: Any, record: dict, fields: list[str] | None = None) -> set[int]:
    """The accounts a record names: its account fields, and the account fields of the records it refers to
    (``fields``: only these of the record's fields)."""
    out: set[int] = set()
    for f in entity.column_fields:
        if fields is not None and f.name not in fields:
            continue
        value = record.get(f.name)
        if value in (None, "") or isinstance(value, (list, dict)):
            continue
        refers = f.traits.refers_to
        if refers == "user":
            out.add(int(value))
        elif refers == "entity" and f.entity and config.has_entity(f.entity):
            target = config.entity(f.entity)
            for tf in target.column_fields:
                if tf.traits.refers_to != "user":
                    continue
                found = await db.fetchval(f"SELECT {quote(tf.name)} FROM {quote(target.table)} WHERE id = {{}} "
                                          "AND sys_deleted_at IS NULL", int(value))
                if found is not None:
                    out.add(int(found))
    return out


@hookimpl
def hoso_system_tables():
    return [TABLE]


@hookimpl(specname="hoso_transition_done")
async def notify_assignment(entity, workflow, transition, record, context, db):
    """A transition that sets a person (a required account or reference to a record with an account) notifies
    that person's account; the one acting is not notified of their own step."""
    people = await linked_accounts(db, context.config, entity, record, list(transition.requires))
    for user_id in sorted(people - {context.user_id}):
        await notify(db, user_id, "assigned", entity.name, int(record["id"]), transition.name)



async def notify_deadlines(rt: Any, on: dt.date | None = None) -> int:
    """Notify the accounts linked to each record whose workflow deadline falls within the coming days; returns how
    many notifications were stored."""
    from hoso.records.context import RecordContext

    ctx = RecordContext.system(rt.config, origin="scheduler")
    today = on or ctx.today
    ahead = deadline_days()
    service = rt.records()
    stored = 0
    for entity in rt.config.entities:
        if not any(wf.deadlines for wf in rt.config.workflows_for(entity.name)):
            continue
        soon = await _overdue_ids(service, entity.name, ctx, today + dt.timedelta(days=ahead + 1))
        late = await _overdue_ids(service, entity.name, ctx, today)
        for record_id, (row, due_on, state) in soon.items():
            if record_id in late:
                continue
            for user_id in sorted(await linked_accounts(rt.db, rt.config, entity, row)):
                stored += await notify(rt.db, user_id, "deadline", entity.name, record_id, state, due_on)
    return stored


async def _overdue_ids(service: Any, entity: str, ctx: Any, on: dt.date) -> dict[int, tuple[dict, Any, str]]:
    out: dict[int, tuple[dict, Any, str]] = {}
    page = 1
    while True:
        rows, total = await service.overdue(entity, ctx, on=on, page=page, page_size=500)
        for row in rows:
            d = row.get("sys_deadline") or {}
            due = d.get("due_on")
            out[int(row["id"])] = (row, dt.date.fromisoformat(due) if isinstance(due, str) else due,
                                   str(d.get("state") or ""))
        if not rows or page * 500 >= total:
            return out
        page += 1


async def _run_deadlines(rt: Any) -> None:
    await notify_deadlines(rt)


@hookimpl
def hoso_scheduled_work():
    return [ScheduledWork("notify_deadlines", dt.timedelta(hours=6), _run_deadlines)]


async def unread_count(rt: Any, ctx: Any) -> int:
    return len(await visible(rt, ctx, unread_only=True))


async def visible(rt: Any, ctx: Any, *, unread_only: bool = False, limit: int = 50) -> list[dict]:
    """The account's notifications (newest first) whose record the account can read now, each with the record
    as the record service gives it to that account (``record``)."""
    from hoso.records.errors import RecordError

    rows = await rt.db.fetch(
        "SELECT id, kind, entity, record_id, detail, due_on, created_at, read_at FROM hoso_notification "
        "WHERE user_id = {}" + (" AND read_at IS NULL" if unread_only else "") + " ORDER BY id DESC LIMIT {}",
        ctx.user_id, limit)
    # one scoped list per entity (not one read per notification): the records the account can read now
    service = rt.records()
    wanted: dict[str, set[int]] = {}
    for row in rows:
        if rt.config.has_entity(row["entity"]):
            wanted.setdefault(row["entity"], set()).add(int(row["record_id"]))
    readable: dict[tuple[str, int], dict] = {}
    for entity, ids in wanted.items():
        try:
            records, _n = await service.list(entity, ctx, filters={"id": {"in": sorted(ids)}}, page_size=len(ids))
        except RecordError:
            continue  # the account cannot list this entity at all
        readable.update(((entity, int(r["id"])), r) for r in records)
    out = []
    for row in rows:
        record = readable.get((row["entity"], int(row["record_id"])))
        if record is not None:  # else no longer readable by this account (moved, reassigned, deleted): not shown
            out.append({**row, "record": record})
    return out


async def mark_read(rt: Any, user_id: int, ids: list[int] | None = None) -> None:
    """Mark the account's notifications read (``ids``: only these)."""
    if ids is None:
        await rt.db.execute("UPDATE hoso_notification SET read_at = {} WHERE user_id = {} AND read_at IS NULL",
                            _now(), user_id)
        return
    for nid in ids:
        await rt.db.execute("UPDATE hoso_notification SET read_at = {} WHERE user_id = {} AND id = {} "
                            "AND read_at IS NULL", _now(), user_id, nid)
