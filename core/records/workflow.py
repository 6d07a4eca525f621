"""Workflow steps and deadlines, used by the record service.

A transition is an update of the record's state field that only the workflow may make:

1. the actor's roles must grant ``transition:<name>`` on this record (the scope predicate of that action);
2. the record must be in one of the transition's ``from`` states and the caller's version must be current;
3. the fields the transition ``requires`` must be filled in (sent with the step, or already there);
4. the record must stay valid (forms, rules, plugin validators), then every ``hoso_transition_guard`` may
   refuse;
5. the record is written with the new state and a new version, an audit entry ``transition`` records who, when,
   from where, the state before and after and every field changed, and ``hoso_transition_done`` runs in the
   same transaction.

Deadlines (``deadlines:`` in the workflow) say how long a record may stay in a state, counted from a date
field in working or calendar days (see ``hoso.records.calendar``); ``overdue`` lists the records past them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hoso.config import Config, EntityDef, TransitionDef, WorkflowDef
from hoso.db import Database, quote, text_literal
from hoso.i18n import t
from hoso.plugin_manager import await_me_maybe
from hoso.records.calendar import WorkCalendar, parse_period
from hoso.records.errors import InvalidTransition, ReadOnlyState, ValidationError
from hoso.records.naming import code_parts, make_code

if TYPE_CHECKING:  # pragma: no cover
    from hoso.records.access import Access
    from hoso.records.context import RecordContext
    from hoso.records.service import RecordService
    from hoso.runtime import Runtime

__all__ = ["Step", "available", "overdue", "require_editable"]


def _empty(v: Any) -> bool:
    return v is None or v == "" or (isinstance(v, (list, tuple)) and len(v) == 0)


def require_editable(config: Config, entity: EntityDef, record: dict, ctx: RecordContext) -> None:
    """Raise ReadOnlyState when ``record`` is in a ``read_only_states`` state of one of its workflows."""
    for wf in config.workflows_for(entity.name):
        state = record.get(wf.state_field)
        if state in wf.read_only_states:
            raise ReadOnlyState(t("read_only_state", ctx.lang, state=_state_label(config, entity, wf, state,
                                                                               ctx.lang)),
                                state, tuple(s for s in wf.states if s not in wf.read_only_states))


def _state_label(config: Config, entity: EntityDef, wf: WorkflowDef, state: str, lang: str) -> str:
    fd = entity.field(wf.state_field) if entity.has_field(wf.state_field) else None
    if fd is not None and fd.list:
        for option in config.choice_list(fd.list).options:
            if option.value == state:
                return option.label.get(lang)
    return str(state)


@dataclass(frozen=True)
class Step:
    """One transition of one workflow, as the record service runs it."""

    workflow: WorkflowDef
    transition: TransitionDef

    @classmethod
    def find(cls, config: Config, entity: EntityDef, name: str, ctx: RecordContext) -> Step:
        for wf in config.workflows_for(entity.name):
            for tr in wf.transitions:
                if tr.name == name:
                    return cls(wf, tr)
        raise ValidationError([("transition", t("unknown_transition", ctx.lang, value=name))])

    def label(self, lang: str) -> str:
        return self.transition.label.get(lang) if self.transition.label else self.transition.name

    def check_state(self, record: dict, ctx: RecordContext) -> None:
        state = record.get(self.workflow.state_field)
        if state not in self.transition.from_states:
            raise InvalidTransition(t("wrong_state", ctx.lang, step=self.label(ctx.lang), state=state), state,
                                    self.transition.from_states)

    def missing(self, values: dict, ctx: RecordContext) -> list[tuple[str, str]]:
        return [(f, t("required_for_step", ctx.lang, step=self.label(ctx.lang)))
                for f in self.transition.requires if _empty(values.get(f))]

    def move(self, entity: EntityDef, current: dict, merged: dict, changes: dict) -> bool:
        """Move the record to the unit in the transition's ``moves_to`` field; True when it moves."""
        field = self.transition.moves_to
        if not field or not entity.unit_field:
            return False
        target = merged.get(field)
        if target is None or target == current.get(entity.unit_field):
            return False
        merged[entity.unit_field] = changes[entity.unit_field] = target
        return True

    async def renumber(self, db: Database, entity: EntityDef, current: dict, merged: dict, changes: dict,
                       now: dt.datetime) -> None:
        """A moved record whose naming series depends on its unit takes the next code of its new unit's series
        (codes are unique within a unit; the old code stays in the audit)."""
        if entity.naming is None:
            return
        before, _ = await code_parts(db, entity, current, now)
        after, _ = await code_parts(db, entity, merged, now)
        if before != after:
            merged[entity.naming.field] = changes[entity.naming.field] = await make_code(db, entity, merged, now)

    async def guard(self, rt: Runtime, entity: EntityDef, record: dict, values: dict,
                    ctx: RecordContext) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        for result in rt.pm.hook.hoso_transition_guard(entity=entity, workflow=self.workflow,
                                                       transition=self.transition, record=record, values=values,
                                                       context=ctx):
            result = await await_me_maybe(result)
            if not result:
                continue
            if isinstance(result, str):
                problems.append((self.workflow.state_field, result))
            else:
                problems += [(str(f), str(m)) for f, m in result]
        return problems

    async def done(self, rt: Runtime, entity: EntityDef, record: dict, ctx: RecordContext, previous: dict) -> None:
        for result in rt.pm.hook.hoso_transition_done(entity=entity, workflow=self.workflow,
                                                      transition=self.transition, record=record, context=ctx,
                                                      db=rt.db, runtime=rt, previous=previous):
            await await_me_maybe(result)


async def available(rt: Runtime, entity: EntityDef, record: dict, access: Access,
                    ctx: RecordContext) -> list[dict]:
    out = []
    for wf in rt.config.workflows_for(entity.name):
        for tr in wf.transitions:
            if record.get(wf.state_field) not in tr.from_states:
                continue
            if not await access.row_allows(f"transition:{tr.name}", entity, record["id"]):
                continue
            out.append({"name": tr.name, "workflow": wf.name, "label": Step(wf, tr).label(ctx.lang),
                        "from": record.get(wf.state_field), "to": tr.to, "requires": list(tr.requires)})
    return out


async def overdue(svc: RecordService, entity: EntityDef, access: Access, ctx: RecordContext, on: dt.date,
                  page: int, page_size: int, *, not_overdue_on: dt.date | None = None,
                  count: bool | int = True) -> tuple[list[dict], int | None]:
    """The records past a deadline on ``on`` (and, with ``not_overdue_on``, not yet past one that day), the
    longest waiting first: ordered by the start of the period of the first deadline (in the workflows' order)
    that makes the record overdue, then by id.

    One branch per deadline, each reading the rows in its state by the deadline's index in the order of the
    period's start, and the branches merged: a national list of 300,000 overdue records reads the page's rows,
    not all of them. The states are named in the text of the query (not as arguments), so that the planner
    matches each deadline's partial index (``hoso.model.migrate.deadline_indexes``)."""
    calendar = WorkCalendar(svc.config.calendar)
    deadlines = []
    hidden = await access.hidden(entity)
    for wf in svc.config.workflows_for(entity.name):
        for d in wf.deadlines:
            if d.from_field in hidden or wf.state_field in hidden:
                # Not the reader's deadline: a row's presence in this list (for any ``on``), its place in the
                # order and its due date would each tell the hidden date. The row is left out, not just its
                # deadline, unless another deadline the reader may see makes it overdue.
                continue
            period = parse_period(d.within)
            deadlines.append((wf, d, period))
    if not deadlines:
        return [], 0
    for name, value, high in (("page", page, 10 ** 9), ("page_size", page_size, 1000)):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
            raise ValidationError([(name, t("bad_page", ctx.lang, low=1, high=high))])

    def late(wf: WorkflowDef, d: Any, period: Any, day: dt.date) -> tuple[str, list]:
        return (f"(t.{quote(wf.state_field)} = {text_literal(d.state)} AND t.{quote(d.from_field)} <= {{}})",
                [calendar.latest_overdue_start(day, period)])

    # Each branch: overdue by its deadline and by no earlier one (a record in the states of two workflows is
    # listed once), and with ``not_overdue_on``, past no deadline on that day; its own deadline not yet past then
    # is said as a lower bound of the start, which its index reads as a range.
    branches: list[tuple[str, list, str]] = []
    earlier: list[tuple[str, list]] = []
    before = [late(wf, d, p, not_overdue_on) for wf, d, p in deadlines] if not_overdue_on is not None else []
    for wf, d, period in deadlines:
        cond, cond_args = late(wf, d, period, on)
        sql, args = cond, list(cond_args)
        if earlier:
            sql += f" AND NOT COALESCE(({' OR '.join(c for c, _a in earlier)}), FALSE)"
            args += [v for _c, vs in earlier for v in vs]
        if not_overdue_on is not None:
            sql += f" AND t.{quote(d.from_field)} > {{}}"
            args.append(calendar.latest_overdue_start(not_overdue_on, period))
            sql += f" AND NOT COALESCE(({' OR '.join(c for c, _a in before)}), FALSE)"
            args += [v for _c, vs in before for v in vs]
        branches.append((sql, args, d.from_field))
        earlier.append((cond, cond_args))
    await access.roles()  # the holdings, for the per-user predicate
    read, read_args = svc.store.read_where(entity, access, False)
    table = quote(entity.table)
    if count is False:
        total = None
    else:
        anyone = " OR ".join(f"({sql})" for sql, _a, _f in branches)
        where = f"{read} AND ({anyone})"
        args = [*read_args, *(a for _s, b, _f in branches for a in b)]
        if count is True:
            total = int(await svc.db.fetchval(f"SELECT COUNT(*) AS n FROM {table} t WHERE {where}", *args) or 0)
        else:  # counted up to one past the bound: enough to say "more than"
            total = int(await svc.db.fetchval(f"SELECT COUNT(*) AS n FROM (SELECT 1 AS one FROM {table} t WHERE "
                                              f"{where} LIMIT {int(count) + 1}) x", *args) or 0)
    reach = page * page_size  # each branch gives at most the rows up to the end of the page
    parts, args = [], []
    for sql, branch_args, from_field in branches:
        parts.append(f"SELECT * FROM (SELECT {svc.store.columns(entity)}, t.{quote(from_field)} AS sys_due_key "
                     f"FROM {table} t WHERE {read} AND {sql} ORDER BY t.{quote(from_field)}, t.id LIMIT {reach}) b")
        args += [*read_args, *branch_args]
    rows = await svc.db.fetch(f"SELECT * FROM ({' UNION ALL '.join(parts)}) u ORDER BY u.sys_due_key, u.id "
                              "LIMIT {} OFFSET {}", *args, page_size, (page - 1) * page_size)
    out = []
    for r in rows:
        record = svc.store.load_row(entity.fields, r)
        del record["sys_due_key"]
        for wf, d, period in deadlines:
            start = record.get(d.from_field)
            if record.get(wf.state_field) == d.state and start is not None:
                due = calendar.due(start, period)
                if due < on:
                    record["sys_deadline"] = {
                        "workflow": wf.name, "state": d.state, "from_field": d.from_field, "within": d.within,
                        "label": d.label.get(ctx.lang) if d.label else None, "due_on": due,
                        "days_overdue": (on - due).days}
                    break
        out.append({k: v for k, v in record.items() if k not in hidden})
    return out, total
