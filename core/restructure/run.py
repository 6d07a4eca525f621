"""Plan and apply a change set against a database."""

from __future__ import annotations

import datetime as dt
import getpass
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hoso.audit import AuditEvent, write_audit
from hoso.config.kinds.restructuring import ChangeSet, RestructureErrors, load_restructuring
from hoso.config.loader import ConfigIssue
from hoso.db import Database, quote
from hoso.i18n import local_today
from hoso.lineage import sync_unit_edges
from hoso.model.history import close_versions, history_columns, insert_versions
from hoso.model.tables import SCOPE_COLUMN
from hoso.scope import effective_unit, rebuild_closure

from .engine import Rehoming, ResolvedRule, Simulation, SplitAction

if TYPE_CHECKING:  # pragma: no cover
    from hoso.runtime import Runtime

__all__ = ["Plan", "OpPlan", "ApplyResult", "RestructureError", "plan", "apply", "applied_restructurings"]

Progress = Callable[[str, int, int], None]


class RestructureError(Exception):
    """The change set cannot be applied (conflict with an earlier apply, or decisions still needed)."""


@dataclass
class OpPlan:
    index: int
    line: int
    kind: str
    text: str
    units: list[str] = field(default_factory=list)
    users: int = 0
    records: dict[str, int] = field(default_factory=dict)
    open_records: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass
class Plan:
    name: str
    file: str
    effective: dt.date
    label: str
    content_hash: str
    operations: list[OpPlan] = field(default_factory=list)
    errors: list[ConfigIssue] = field(default_factory=list)
    decisions: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    rehomed: list[tuple[str, str, str, str, str]] = field(default_factory=list)
    already_applied: dict | None = None
    conflict: str | None = None
    totals: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not (self.errors or self.decisions or self.conflict)

    @property
    def has_changes(self) -> bool:
        return self.already_applied is None and bool(self.operations)

    def render(self, max_operations: int | None = 100) -> str:
        lines = [f"Change set {self.name} ({self.label}), effective {self.effective}",
                 f"  file {self.file}, content sha256 {self.content_hash[:16]}"]
        if self.conflict:
            lines.append(f"ERROR: {self.conflict}")
            return "\n".join(lines)
        if self.already_applied:
            a = self.already_applied
            lines.append(f"Already applied on {a['applied_at']:%Y-%m-%d %H:%M} by {a['applied_by']}: applying it again "
                         "changes nothing.")
            return "\n".join(lines)
        shown = self.operations if max_operations is None else self.operations[:max_operations]
        for op in shown:
            lines.append(f"  [{op.index}] line {op.line}: {op.text}")
            counts = [f"units {len(op.units)}", f"users {op.users}"]
            for ent, n in op.records.items():
                extra = f" ({op.open_records[ent]} open)" if op.open_records.get(ent) else ""
                counts.append(f"{ent} {n}{extra}")
            lines.append("      " + ", ".join(counts))
            for note in op.notes:
                lines.append(f"      {note}")
        if len(shown) < len(self.operations):
            lines.append(f"  ... {len(self.operations) - len(shown)} more operation(s) (use --full to list all)")
        t = self.totals
        if t:
            lines.append("Totals: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in t.items()))
        if self.rehomed:
            lines.append(f"Users re-homed ({len(self.rehomed)} assignment(s)):")
            limit = len(self.rehomed) if max_operations is None else max_operations
            for user, role, src, dst, how in self.rehomed[:limit]:
                lines.append(f"  {user} ({role}): {src} -> {dst} [{how}]")
            if len(self.rehomed) > limit:
                lines.append(f"  ... {len(self.rehomed) - limit} more")
        for w in self.warnings:
            lines.append(f"warning: {w}")
        if self.decisions:
            lines.append(f"Needs a decision ({len(self.decisions)}); apply is refused until the change set decides:")
            lines.extend(f"  - {d}" for d in self.decisions)
        if self.errors:
            lines.append(f"{len(self.errors)} error(s) in the change set:")
            lines.extend(f"  {e}" for e in sorted(self.errors, key=lambda e: (e.line, e.column, e.message)))
        lines.append("Ready to apply." if self.ok else "Not applicable as it stands.")
        return "\n".join(lines)


@dataclass
class ApplyResult:
    name: str
    already_applied: bool
    summary: dict
    seconds: float = 0.0

    def render(self) -> str:
        if self.already_applied:
            return f"Change set {self.name} was already applied with this content: nothing changed."
        s = self.summary
        recs = ", ".join(f"{e} {n}" for e, n in s.get("records_reassigned", {}).items()) or "none"
        return (f"Applied change set {self.name} in {self.seconds:.1f}s: {s['units_created']} unit(s) created, "
                f"{s['units_closed']} closed, {s['units_changed']} changed, {s['lineage_rows']} lineage row(s); "
                f"records re-assigned: {recs}; {s['assignments_ended']} assignment(s) ended, "
                f"{s['assignments_created']} created.")


# -- shared preparation ---------------------------------------------------------------------------------------------


@dataclass
class _Prepared:
    cs: ChangeSet
    sim: Simulation
    rehoming: Rehoming
    assignments: list[dict]
    split_counts: dict[tuple[int, str], dict[int | None, int]]  # (op index, entity) -> successor -> records
    decisions: list[str]

    @property
    def blocked(self) -> bool:
        return bool(self.sim.errors or self.decisions)


def _load(rt: Runtime, file: str | Path | ChangeSet) -> ChangeSet:
    if isinstance(file, ChangeSet):
        return file
    return load_restructuring(file, rt.config.root or None)


async def _applied(db: Database, name: str) -> dict | None:
    rows = await db.fetch("SELECT name, content_hash, effective_on, applied_at, applied_by, summary "
                          "FROM hoso_restructuring WHERE name = {}", name)
    return dict(rows[0]) if rows else None


def _conflict(cs: ChangeSet, prev: dict) -> str:
    return (f"change set {cs.name} was applied with different content on {prev['applied_at']:%Y-%m-%d} by "
            f"{prev['applied_by']} (sha256 {prev['content_hash'][:16]}, this file {cs.content_hash[:16]}); a change "
            "set is never changed once applied: write a new one")


def _undeclared(rt: Runtime, cs: ChangeSet) -> str | None:
    """Why ``cs`` may not be applied here: the hierarchy declares its change sets and this file is not one."""
    h = rt.config.hierarchy
    if h is None or h.restructurings_folder is None:
        return None
    if cs.path.resolve() in {Path(r.path).resolve() for r in h.restructurings}:
        return None
    return (f"{cs.rel} is not one of the change sets of roles_config/{h.restructurings_folder}/, which the hierarchy "
            "declares as its history: put the file there (then `hoso plan` shows it and `hoso migrate` applies it), "
            "so that a database built from the configuration reaches the same units")


def _marks(n: int) -> str:
    return ", ".join("{}" for _ in range(n))


async def _prepare(rt: Runtime, cs: ChangeSet) -> _Prepared:
    db = rt.db
    units = await db.fetch("SELECT id, code, name_vi, name_en, type, parent_id, valid_from, valid_to FROM hoso_unit")
    lineage = await db.fetch("SELECT unit_id, kind, other_id, detail FROM hoso_unit_lineage "
                             "WHERE kind IN ('recoded', 'merged_into') ORDER BY id")
    sim = Simulation(cs, rt.config, lambda t: rt.registry.field_type(t).storage, units, lineage).run()
    assignments = [dict(r) for r in await db.fetch(
        "SELECT id, user_id, role, unit_id, starts_on, ends_on, granted_by FROM hoso_assignment "
        "WHERE ends_on IS NULL OR ends_on > {}", cs.effective)]
    users = await db.fetch("SELECT id, username, unit_id FROM hoso_user")
    usernames = {u["id"]: u["username"] for u in users}
    homes = {u["id"]: u["unit_id"] for u in users}
    rehoming = sim.rehome(assignments, usernames, homes) if not sim.errors else Rehoming()
    decisions = list(rehoming.decisions)
    split_counts: dict[tuple[int, str], dict[int | None, int]] = {}
    if not sim.errors:
        for sp in sim.splits:
            decisions.extend(await _check_split(rt, cs, sim, sp, split_counts))
    return _Prepared(cs, sim, rehoming, assignments, split_counts, decisions)


async def _check_split(rt, cs, sim, sp: SplitAction, counts: dict) -> list[str]:
    """Count the records each successor gets; list records that no rule places."""
    db = rt.db
    out: list[str] = []
    ids = [i for i in sp.answer_ids if i > 0]
    unit_code = sim.units[sp.unit_id].code
    where = f"operations[{sp.op.index}] (line {cs.line_of(sp.op.path)}) split {unit_code}"
    ruled = {r.entity.name: r for r in sp.rules}
    for entity in rt.config.entities:
        if not entity.unit_field or not ids:
            continue
        rule = ruled.get(entity.name)
        table = quote(entity.table)
        if rule is None:
            n = await db.fetchval(f"SELECT COUNT(*) AS n FROM {table} "
                                  f"WHERE {effective_unit(entity)} IN ({_marks(len(ids))})", *ids)
            if n:
                out.append(f"{where}: {n} {entity.name} record(s) answer to {unit_code} and no rule places them; "
                           f"add a rule for entity {entity.name}")
            continue
        col = quote(rule.field.name)
        rows = await db.fetch(f"SELECT {col} AS v, COUNT(*) AS n FROM {table} WHERE {effective_unit(entity)} IN "
                              f"({_marks(len(ids))}) GROUP BY {col}", *ids)
        per: dict[int | None, int] = {}
        unmatched: list[tuple[Any, int]] = []
        for r in rows:
            succ = rule.successor_for(r["v"])
            per[succ] = per.get(succ, 0) + int(r["n"])
            if succ is None:
                unmatched.append((r["v"], int(r["n"])))
        counts[(sp.op.index, entity.name)] = per
        if unmatched:
            total = sum(n for _v, n in unmatched)
            unmatched.sort(key=lambda vn: -vn[1])
            shown = ", ".join(f"{'(empty)' if v is None else repr(v)} x{n}" for v, n in unmatched[:10])
            more = f" and {len(unmatched) - 10} more value(s)" if len(unmatched) > 10 else ""
            out.append(f"{where}: {total} {entity.name} record(s) match no rule on {rule.field.name} "
                       f"({shown}{more}); add the values to the rule's map or give it a default")
    return out


def _finals(rt, entity) -> list[tuple[str, list[str]]]:
    """(state field, final states) per workflow of the entity: a final state has no transition out of it."""
    out = []
    for wf in rt.config.workflows_for(entity.name):
        sources = {s for t in wf.transitions for s in t.from_states}
        out.append((wf.state_field, [s for s in wf.states if s not in sources]))
    return out


async def _record_counts(rt) -> dict[str, dict[int, tuple[int, int | None]]]:
    """Per scoped entity: answering unit -> (records, open workflow records or None without a workflow)."""
    out: dict[str, dict[int, tuple[int, int | None]]] = {}
    for entity in rt.config.entities:
        if not entity.unit_field:
            continue
        opens = []
        args: list[Any] = []
        for state_field, finals in _finals(rt, entity):
            col = quote(state_field)
            cond = f"{col} IS NOT NULL" + (f" AND {col} NOT IN ({_marks(len(finals))})" if finals else "")
            opens.append(f"CASE WHEN {cond} THEN 1 ELSE 0 END")
            args.extend(finals)
        open_expr = f"SUM({' + '.join(opens)})" if opens else "0"
        rows = await rt.db.fetch(f"SELECT {effective_unit(entity)} AS u, COUNT(*) AS n, {open_expr} AS o "
                                 f"FROM {quote(entity.table)} GROUP BY {effective_unit(entity)}", *args)
        out[entity.name] = {r["u"]: (int(r["n"]), int(r["o"] or 0) if opens else None) for r in rows
                            if r["u"] is not None}
    return out


# -- plan ---------------------------------------------------------------------------------------------------------


async def plan(rt: Runtime, file: str | Path | ChangeSet) -> Plan:
    """What applying ``file`` would do, per operation: units, users with active assignments, records and open
    workflow records concerned (in the units and below them), and the problems that block it.

    Raises RestructureErrors if the file itself is malformed (syntax or schema).
    """
    cs = _load(rt, file)
    p = Plan(cs.name, cs.rel, cs.effective, cs.label_vi + (f" / {cs.label_en}" if cs.label_en else ""),
             cs.content_hash)
    db = rt.db
    prev = await _applied(db, cs.name)
    if prev is not None:
        if prev["content_hash"] == cs.content_hash:
            p.already_applied = prev
        else:
            p.conflict = _conflict(cs, prev)
        return p
    p.conflict = _undeclared(rt, cs)
    if p.conflict:
        return p
    prep = await _prepare(rt, cs)
    sim = prep.sim
    p.errors = list(sim.errors)
    p.decisions = prep.decisions
    p.warnings = list(sim.warnings) + prep.rehoming.notes
    p.rehomed = prep.rehoming.moves
    later = [r for r in await db.fetch("SELECT name, effective_on FROM hoso_restructuring WHERE effective_on > {}",
                                       cs.effective)]
    for r in later:
        p.warnings.append(f"change set {r['name']} with a later date ({r['effective_on']}) is already applied; "
                          "apply change sets in date order")
    if cs.effective > local_today():
        p.warnings.append(f"the effective date {cs.effective} is in the future: the unit tree changes when applied, "
                          "users switch units on the date")
    closure: dict[int, list[int]] = {}
    for r in await db.fetch("SELECT ancestor_id, descendant_id FROM hoso_unit_closure"):
        closure.setdefault(r["ancestor_id"], []).append(r["descendant_id"])
    counts = await _record_counts(rt)
    users_at: dict[int, set[int]] = {}
    for a in prep.assignments:
        if a["starts_on"] is None or a["starts_on"] <= cs.effective:
            users_at.setdefault(a["unit_id"], set()).add(a["user_id"])
    for res in sim.results:
        op = res.op
        o = OpPlan(op.index, cs.line_of(op.path), op.kind, res.text, [sim.units[u].code for u in res.units],
                   notes=list(res.notes))
        covered: set[int] = set()
        for u in res.units:
            if u > 0:
                covered.update(closure.get(u, [u]))
        o.users = len(set().union(*(users_at.get(u, set()) for u in covered))) if covered else 0
        for ent, per_unit in counts.items():
            n = sum(per_unit[u][0] for u in covered if u in per_unit)
            if n:
                o.records[ent] = n
                if any(per_unit[u][1] is not None for u in covered if u in per_unit):
                    o.open_records[ent] = sum(per_unit[u][1] or 0 for u in covered if u in per_unit)
        for (idx, ent), per in prep.split_counts.items():
            if idx == op.index:
                parts = [f"{n} -> {sim.units[s].code if s is not None else '(no rule)'}" for s, n in per.items()]
                o.notes.append(f"{ent} records: " + ", ".join(parts))
        p.operations.append(o)
    p.totals = {
        "units_created": len(sim.created),
        "units_closed": len(sim.closed_by),
        "units_changed": len(sim.changed_units()),
        "lineage_rows": len(sim.lineage),
        "assignments_re_homed": len(prep.rehoming.end),
    }
    return p


# -- apply ----------------------------------------------------------------------------------------------------------


async def applied_restructurings(db: Database) -> list[dict]:
    return [dict(r) for r in await db.fetch("SELECT name, content_hash, effective_on, applied_at, applied_by "
                                            "FROM hoso_restructuring ORDER BY effective_on, applied_at")]


def _chunks(items: list, n: int):
    for i in range(0, len(items), n):
        yield items[i:i + n]


async def _split_records(db: Database, sp: SplitAction, rule: ResolvedRule,
                         real: Callable[[int | None], int | None],
                         batch_size: int | None, at: dt.datetime) -> None:
    """Point each record of the split unit at the successor its rule picks: set-based UPDATEs, in batches of
    ``batch_size`` rows (by id) when given. Each record moved gets a history version valid from ``at``: its
    current version is closed and the new one added by one INSERT ... SELECT with the same rule, before the
    UPDATE (after it, the moved rows no longer match the split unit)."""
    entity = rule.entity
    table = quote(entity.table)
    col = quote(rule.field.name)
    ids = [i for i in sp.answer_ids if i > 0]
    if not ids:
        return
    whens: list[str] = []
    case_args: list[Any] = []
    match_sql: list[str] = []
    match_args: list[Any] = []
    if rule.rule.match == "contains":
        fn = "instr({}, {{}})" if db.is_sqlite else "strpos({}, {{}})"
        for key, succ in rule.by_value:
            cond = fn.format(col) + " > 0"
            whens.append(f"WHEN {cond} THEN CAST({{}} AS BIGINT)")
            case_args.extend([key, real(succ)])
            match_sql.append(cond)
            match_args.append(key)
    else:
        grouped: dict[int, list[Any]] = {}
        for key, succ in rule.by_value:
            grouped.setdefault(succ, []).append(key)
        for succ, keys in grouped.items():
            for part in _chunks(keys, 500):
                cond = f"{col} IN ({_marks(len(part))})"
                whens.append(f"WHEN {cond} THEN CAST({{}} AS BIGINT)")
                case_args.extend([*part, real(succ)])
                match_sql.append(cond)
                match_args.extend(part)
    else_sql = "ELSE CAST({} AS BIGINT)" if rule.default is not None else "ELSE NULL"
    else_args = [real(rule.default)] if rule.default is not None else []
    case = f"CASE {' '.join(whens)} {else_sql} END"
    case_args += else_args
    where = f"{effective_unit(entity)} IN ({_marks(len(ids))})"
    where_args: list[Any] = list(ids)
    if rule.default is None:
        if not match_sql:
            return
        where += f" AND ({' OR '.join(match_sql)})"
        where_args += match_args
    update = f"UPDATE {table} SET {quote(SCOPE_COLUMN)} = {case} WHERE {where}"
    versioned = await history_columns(db, entity.table)

    async def move(extra: str = "", extra_args: tuple = ()) -> None:
        rows = (where + extra, (*where_args, *extra_args))
        if versioned is not None:
            await close_versions(db, entity.table, *rows, at)
            await insert_versions(db, entity.table, versioned, {SCOPE_COLUMN: (case, tuple(case_args))}, *rows, at)
        await db.execute(update + extra, *case_args, *rows[1])

    if not batch_size:
        await move()
        return
    last = 0
    while True:
        hi = await db.fetchval(f"SELECT MAX(id) AS hi FROM (SELECT id FROM {table} WHERE {where} AND id > {{}} "
                               f"ORDER BY id LIMIT {int(batch_size)}) s", *where_args, last)
        if hi is None:
            break
        await move(" AND id > {} AND id <= {}", (last, hi))
        last = hi


async def apply(rt: Runtime, file: str | Path | ChangeSet, applied_by: str | None = None,
                batch_size: int | None = None, progress: Progress | None = None) -> ApplyResult:
    """Apply a change set in one transaction; a second apply of the same file changes nothing.

    Raises RestructureErrors for errors in the file (with file:line:col) and RestructureError when the change set
    conflicts with an earlier apply or leaves users or records needing a decision (see ``plan``).
    """
    cs = _load(rt, file)
    applied_by = applied_by or _os_user()
    db = rt.db
    started = time.perf_counter()
    step = [0]
    total_steps = 8

    def report(msg: str) -> None:
        step[0] += 1
        if progress:
            progress(msg, min(step[0], total_steps), total_steps)

    async with db.transaction():
        prev = await _applied(db, cs.name)
        if prev is not None:
            if prev["content_hash"] == cs.content_hash:
                return ApplyResult(cs.name, True, json.loads(prev["summary"] or "{}"))
            raise RestructureError(_conflict(cs, prev))
        undeclared = _undeclared(rt, cs)
        if undeclared:
            raise RestructureError(undeclared)
        now = dt.datetime.now(dt.UTC)
        # Claim the name first: a concurrent apply of the same change set waits here, then finds it applied.
        await db.execute("INSERT INTO hoso_restructuring (name, content_hash, effective_on, applied_at, applied_by, "
                         "summary) VALUES ({}, {}, {}, {}, {}, NULL)", cs.name, cs.content_hash, cs.effective, now,
                         applied_by)
        report("checking")
        prep = await _prepare(rt, cs)
        if prep.sim.errors:
            raise RestructureErrors(prep.sim.errors)
        if prep.decisions:
            raise RestructureError(f"change set {cs.name} needs {len(prep.decisions)} decision(s) before it can be "
                                   "applied:\n" + "\n".join(f"  - {d}" for d in prep.decisions))
        sim = prep.sim
        if sim.splits and not db.is_sqlite:
            # Writers of split entities wait for the apply (readers do not), so no record escapes the split rule.
            for table in sorted({r.entity.table for sp in sim.splits for r in sp.rules}
                                | {e.table for e in rt.config.entities if e.unit_field}):
                await db.execute(f"LOCK TABLE {quote(table)} IN SHARE ROW EXCLUSIVE MODE")
            prep = await _prepare(rt, cs)
            if prep.decisions:
                raise RestructureError("records changed while applying; plan again:\n"
                                       + "\n".join(f"  - {d}" for d in prep.decisions))
            sim = prep.sim

        # 1. units created by the change set, then every changed row (codes, names, parents, end dates)
        report("units")
        idmap: dict[int, int] = {}
        created = [sim.units[u] for u in sim.created]
        if created:
            await db.executemany(
                "INSERT INTO hoso_unit (code, name_vi, name_en, type, parent_id, valid_from, valid_to) "
                "VALUES (?, ?, ?, ?, NULL, ?, ?)",
                [(u.code, u.name_vi, u.name_en, u.type, u.valid_from, u.valid_to) for u in created])
            by_code = {u.code: u.id for u in created}
            for part in _chunks(list(by_code), 500):
                for r in await db.fetch(f"SELECT id, code FROM hoso_unit WHERE code IN ({_marks(len(part))})", *part):
                    idmap[by_code[r["code"]]] = r["id"]

        def real(uid: int | None) -> int | None:
            return idmap.get(uid, uid) if uid is not None else None

        changed = sim.changed_units() + [u for u in created if u.parent_id is not None]
        await db.executemany(
            "UPDATE hoso_unit SET code = ?, name_vi = ?, name_en = ?, parent_id = ?, valid_to = ? WHERE id = ?",
            [(u.code, u.name_vi, u.name_en, real(u.parent_id), u.valid_to, real(u.id)) for u in changed])

        # 2. lineage
        report("lineage")
        await db.executemany(
            "INSERT INTO hoso_unit_lineage (unit_id, kind, other_id, effective_on, restructuring, detail) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(real(r.unit_id), r.kind, real(r.other_id), cs.effective, cs.name, r.detail) for r in sim.lineage])

        # 3. records of split units
        report("records")
        reassigned: dict[str, int] = {}
        for sp in sim.splits:
            for rule in sp.rules:
                await _split_records(db, sp, rule, real, batch_size, now)
                per = prep.split_counts.get((sp.op.index, rule.entity.name), {})
                reassigned[rule.entity.name] = reassigned.get(rule.entity.name, 0) + sum(
                    n for s, n in per.items() if s is not None)

        # 4. users
        report("users")
        rh = prep.rehoming
        reason = f"restructuring {cs.name}"
        await db.executemany("UPDATE hoso_assignment SET ends_on = ?, end_reason = ? WHERE id = ?",
                             [(day, reason, aid) for aid, day in rh.end])
        await db.executemany(
            "INSERT INTO hoso_assignment (user_id, role, unit_id, starts_on, ends_on, granted_by, created_at, "
            "end_reason) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
            [(a["user_id"], a["role"], real(a["unit_id"]), a["starts_on"], a["ends_on"], a["granted_by"], now)
             for a in rh.start])
        await db.executemany("UPDATE hoso_user SET unit_id = ? WHERE id = ?", [(real(u), uid) for uid, u in rh.home])

        # 5. the closure that scopes follow
        report("closure")
        await sync_unit_edges(db, cs.effective)
        await rebuild_closure(db)

        # 6. record of the apply, and audit
        report("audit")
        kinds: dict[str, int] = {}
        for op in cs.operations:
            kinds[op.kind] = kinds.get(op.kind, 0) + 1
        summary = {
            "restructuring": cs.name,
            "effective": cs.effective.isoformat(),
            "file": cs.rel,
            "content_hash": cs.content_hash,
            "operations": kinds,
            "units_created": len(created),
            "units_closed": len(sim.closed_by),
            "units_changed": len(sim.changed_units()),
            "lineage_rows": len(sim.lineage),
            "records_reassigned": reassigned,
            "assignments_ended": len(rh.end),
            "assignments_created": len(rh.start),
            "home_units_changed": len(rh.home),
        }
        await db.execute("UPDATE hoso_restructuring SET summary = {} WHERE name = {}",
                         json.dumps(summary, ensure_ascii=False, sort_keys=True), cs.name)
        event = AuditEvent(action="restructure", entity="hoso_unit", record_id=None, actor_id=None, actor=applied_by,
                           origin="cli", changes=summary)
        await write_audit(rt.pm, db, event)
        report("done")
    return ApplyResult(cs.name, False, summary, time.perf_counter() - started)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # pragma: no cover - no login name (containers)
        return "unknown"
