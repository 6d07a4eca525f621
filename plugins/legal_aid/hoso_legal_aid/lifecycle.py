"""The lifecycle rules of the law that configuration alone cannot state.

The states, steps, required fields, deadlines and the urgent-acceptance rule are configuration
(forms_config/workflows/case_lifecycle.yaml, forms_config/entities/case.yaml, forms_config/calendar.yaml). These
hooks add what needs the calendar, other records or a record of its own, for every write whatever screen makes it:

* a change of performer (the assign step taken again) needs its reason and a new decision number;
* a performer acting for the opposing party in a linked case cannot be assigned (conflict of interest);
* a file handed back after its deadline (the workflow's deadline of the state it leaves, on the working-day
  calendar) needs the reason it is late;
* each reopening of an archived file gives its own date and reason;
* a transfer goes to another centre, and leaves an entry of the transfer register (``case_transfer``) with the
  unit that transferred the file, which no longer sees the case itself.

Hook implementations here carry their own names and say which hook they implement with ``specname``;
``hoso_legal_aid`` registers them (see its ``__init__``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hoso.db import quote
from hoso.hookspecs import hookimpl
from hoso.records.calendar import WorkCalendar, parse_period
from hoso.records.context import RecordContext, as_date, is_empty
from hoso.records.validation import dmy

__all__ = ["lifecycle_transition_guard", "lifecycle_write_guard", "lifecycle_validate_record",
           "lifecycle_transition_done"]

CASE = "case"
TRANSFER_LOG = "case_transfer"

# Messages of these rules: Vietnamese, then English.
MESSAGES: dict[str, dict[str, str]] = {
    "transfer_same_unit": {
        "vi": "Trung tâm được chuyển đến phải khác đơn vị đang giữ hồ sơ",
        "en": "The centre the request is transferred to must be another unit than the one holding the file"},
    "change_reason": {
        "vi": "Thay đổi người thực hiện phải ghi lý do thay đổi",
        "en": "A change of performer needs its reason"},
    "new_decision": {
        "vi": "Thay đổi người thực hiện phải có quyết định cử mới (số quyết định khác quyết định {decision})",
        "en": "A change of performer needs a new assignment decision (a number other than {decision})"},
    "conflict": {
        "vi": "Người thực hiện {performer} đang thực hiện trợ giúp pháp lý cho bên có quyền lợi đối lập trong vụ việc "
              "liên quan {case}: người thực hiện có xung đột lợi ích phải từ chối, hãy cử người khác",
        "en": "Performer {performer} acts for the opposing party in the linked case {case}: a performer with a "
              "conflict of interest must decline; assign someone else"},
    "late_return": {
        "vi": "Hồ sơ nộp ngày {returned}, sau thời hạn {due} ({within} kể từ ngày {start}): phải ghi lý do nộp "
              "quá hạn",
        "en": "The file is handed back on {returned}, after its deadline {due} ({within} from {start}): give the "
              "reason it is late"},
    "reopen_again": {
        "vi": "Mỗi lần mở lại hồ sơ lưu trữ phải ghi ngày và lý do của lần mở lại này",
        "en": "Each reopening of an archived file gives its own date and reason"},
}


def _msg(key: str, lang: str, **values: Any) -> str:
    texts = MESSAGES[key]
    return texts.get(lang, texts["vi"]).format(**values)


# -- transition guard: the step's own fields ---------------------------------------------------------------------
@hookimpl(specname="hoso_transition_guard")
def lifecycle_transition_guard(entity, workflow, transition, record, values, context):
    if entity.name != CASE:
        return None
    lang = context.lang
    if transition.name == "transfer":
        if values.get("transferred_to") is not None and values.get("transferred_to") == record.get(entity.unit_field):
            return [("transferred_to", _msg("transfer_same_unit", lang))]
    elif transition.name == "assign":
        before = record.get("performer")
        if before is not None and values.get("performer") != before:
            problems = []
            if is_empty(values.get("performer_change_reason")):
                problems.append(("performer_change_reason", _msg("change_reason", lang)))
            if values.get("assignment_decision") == record.get("assignment_decision"):
                problems.append(("assignment_decision",
                                 _msg("new_decision", lang, decision=record.get("assignment_decision"))))
            return problems or None
    elif transition.name == "reopen":
        if record.get("reopen_reason") is not None and (
                values.get("reopen_reason") == record.get("reopen_reason")
                or values.get("reopened_on") == record.get("reopened_on")):
            return [("reopen_reason", _msg("reopen_again", lang))]
    return None


# -- write guard: conflict of interest, read from the linked cases --------------------------------------------
@hookimpl(specname="hoso_write_guard")
async def lifecycle_write_guard(entity, action, before, after, context, db):
    """A performer acting for the opposing party in a linked case is refused, on the assign step and on any
    other write that sets the performer or the links (the transition guard has no database to look them up)."""
    if entity.name != CASE or after is None or after.get("performer") is None:
        return None
    if not entity.has_field("linked_cases"):
        return None
    if action.startswith("transition:") and action != "transition:assign":
        return None
    if action == "update" and before is not None and before.get("performer") == after.get("performer") \
            and _links(before) == _links(after):
        return None
    linked = await _opposing_cases(entity, after, db)
    if not linked:
        return None
    table = quote(entity.table)
    marks = ", ".join("{}" for _ in linked)
    row = await db.fetch(f"SELECT id, code FROM {table} WHERE id IN ({marks}) AND performer = {{}} "
                         "AND sys_deleted_at IS NULL ORDER BY id LIMIT 1", *linked, after["performer"])
    if not row:
        return None
    name = await db.fetchval(f"SELECT name FROM {quote(context.config.entity('performer').table)} WHERE id = {{}}",
                             after["performer"]) if context.config.has_entity("performer") else None
    return [("performer", _msg("conflict", context.lang, performer=name or f"#{after['performer']}",
                               case=row[0]["code"] or f"#{row[0]['id']}"))]


def _links(record: dict) -> list[tuple[Any, Any]]:
    return sorted((r.get("linked_case"), r.get("relation")) for r in record.get("linked_cases") or [])


async def _opposing_cases(entity, record: dict, db) -> list[int]:
    """The cases linked to ``record`` as the opposing party's, whichever of the two holds the link."""
    out = {r["linked_case"] for r in record.get("linked_cases") or []
           if r.get("relation") == "opposing_party" and r.get("linked_case") is not None}
    if record.get("id") is not None:
        children = quote(entity.child_table_name("linked_cases"))
        for r in await db.fetch(f"SELECT parent_id FROM {children} WHERE linked_case = {{}} "
                                "AND relation = 'opposing_party'", record["id"]):
            out.add(r["parent_id"])
    out.discard(record.get("id"))
    return sorted(int(x) for x in out)


# -- validator: the hand-back deadline on the working-day calendar --------------------------------------------
@hookimpl(specname="hoso_validate_record")
def lifecycle_validate_record(entity, values, context, form, previous):
    if entity.name != CASE or values.get("file_returned_on") is None or not is_empty(values.get("late_return_reason")):
        return None
    watched = ("file_returned_on", "ended_on", "discontinued_on", "late_return_reason")
    if previous is not None and all(previous.get(f) == values.get(f) for f in watched):
        return None  # unchanged: a file handed back before this rule, or a write about something else
    late = _late_return(context.config, entity, values)
    if late is None:
        return None
    due, deadline, start = late
    return [("late_return_reason", _msg("late_return", context.lang, returned=dmy(as_date(values["file_returned_on"])),
                                        due=dmy(due), within=deadline.within, start=dmy(start)))]


def _late_return(config, entity, values: dict):
    """``(due, deadline, start)`` when the file was handed back after the deadline of the state the hand-back
    leaves (the deadlines of the states the step requiring ``file_returned_on`` starts from); else None."""
    calendar = WorkCalendar(config.calendar)
    returned = as_date(values["file_returned_on"])
    found = []
    for wf in config.workflows_for(entity.name):
        states = {s for tr in wf.transitions if "file_returned_on" in tr.requires for s in tr.from_states}
        for d in wf.deadlines:
            start = values.get(d.from_field)
            if d.state in states and start is not None:
                start = as_date(start)
                found.append((calendar.due(start, parse_period(d.within)), d, start))
    if not found:
        return None
    latest = max(found, key=lambda x: x[0])  # a file both ended and discontinued gets the later deadline
    return latest if returned > latest[0] else None


# -- after a transfer: the register entry of the unit that transferred it ------------------------------------------
@hookimpl(specname="hoso_transition_done")
async def lifecycle_transition_done(entity, workflow, transition, record, context, db, runtime, previous):
    if entity.name != CASE or transition.name != "transfer" or not runtime.config.has_entity(TRANSFER_LOG):
        return
    unit = entity.unit_field
    if unit is None or previous.get(unit) == record.get(unit):
        return
    log = runtime.config.entity(TRANSFER_LOG)
    entry = {"unit": previous.get(unit), "transferred_on": record.get("transferred_on"),
             "transferred_to": record.get(unit), "case_code": previous.get("code"),
             "code_at_destination": record.get("code"), "received_on": record.get("received_on"),
             "requester_name": record.get("requester_name"), "form_of_aid": record.get("form_of_aid"),
             "transfer_note": record.get("transfer_note")}
    entry = {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in entry.items()
             if log.has_field(k) and v is not None}
    # Written by the transfer itself, under the actor's name: nobody holds a grant to create these entries, and
    # the actor no longer reaches the case's new unit.
    ctx = RecordContext(context.config, context.user_id, context.user_name, context.origin, context.lang,
                        superuser=True, on=context.on)
    await runtime.records().create(TRANSFER_LOG, entry, ctx)
