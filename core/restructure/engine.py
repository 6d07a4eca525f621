"""The change set played on an in-memory copy of the unit tree.

``Simulation`` runs the operations of a change set in file order against the units of the database, checking
every reference (units of the database and units created earlier in the file) and recording what would change:
unit rows, lineage rows, record re-assignments of splits, and the successors that users follow. The plan shows
this result with counts; apply writes exactly this result. Nothing here touches the database.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from hoso.config import Config, EntityDef, FieldDef
from hoso.config.kinds.restructuring import ChangeSet, Operation, SplitRule, split_rules
from hoso.config.loader import ConfigIssue
from hoso.lineage import ABOLISHED, MERGED_INTO, SPLIT_INTO

__all__ = ["Unit", "LineageRow", "OpResult", "SplitAction", "ResolvedRule", "Simulation", "Rehoming"]

# Lineage kinds written by restructurings. The closure (hoso.scope.rebuild_closure) follows merged_into only:
# the successor answers for every record of a unit merged into it. A split successor answers only for the
# records the split rule gave it (sys_scope_unit); a closed or abolished unit's records stay with its parent.
CREATED, RECODED, RENAMED, MOVED = "created", "recoded", "renamed", "moved"
CLOSED = "closed"

_MAX_LISTED = 12


@dataclass
class Unit:
    id: int  # negative for a unit created by the change set (until it is inserted)
    code: str
    name_vi: str
    name_en: str | None
    type: str
    parent_id: int | None
    valid_from: dt.date | None
    valid_to: dt.date | None
    codes: list[str] = field(default_factory=list)  # every code held during the change set, oldest first
    created: bool = False

    def snapshot(self) -> tuple:
        return (self.code, self.name_vi, self.name_en, self.parent_id, self.valid_to)


@dataclass(frozen=True)
class LineageRow:
    unit_id: int
    kind: str
    other_id: int | None
    detail: str | None
    op_index: int


@dataclass
class OpResult:
    op: Operation
    text: str
    units: list[int] = field(default_factory=list)  # the units the operation acts on
    notes: list[str] = field(default_factory=list)


@dataclass
class ResolvedRule:
    rule: SplitRule
    entity: EntityDef
    field: FieldDef
    storage: str  # "text" or "integer"
    by_value: list[tuple[Any, int]]  # (stored value, successor id), in file order
    default: int | None

    def successor_for(self, value: Any) -> int | None:
        if value is not None:
            if self.rule.match == "contains":
                text = str(value)
                for key, succ in self.by_value:
                    if key in text:
                        return succ
            else:
                for key, succ in self.by_value:
                    if key == value:
                        return succ
        return self.default


@dataclass
class SplitAction:
    op: Operation
    unit_id: int
    answer_ids: list[int]  # the split unit and the units merged into it: their records follow the rule
    successors: list[int]
    rules: list[ResolvedRule]


@dataclass
class Rehoming:
    """Assignments re-homed from closing units, and what cannot be decided by the change set."""

    end: list[tuple[int, dt.date]] = field(default_factory=list)  # (assignment id, ends_on)
    start: list[dict] = field(default_factory=list)  # new assignments (unit_id may be a created unit's id)
    moves: list[tuple[str, str, str, str, str]] = field(default_factory=list)  # user, role, from, to, how
    decisions: list[str] = field(default_factory=list)
    home: list[tuple[int, int]] = field(default_factory=list)  # (user id, new home unit id)
    notes: list[str] = field(default_factory=list)


def _did_you_mean(word: str, options: Iterable[str]) -> str:
    found = difflib.get_close_matches(word, list(options), n=1, cutoff=0.75)
    return f" (did you mean {found[0]!r}?)" if found else ""


def _listed(items: list[str], limit: int = _MAX_LISTED) -> str:
    if len(items) <= limit:
        return ", ".join(items)
    return ", ".join(items[:limit]) + f" and {len(items) - limit} more"


class Simulation:
    """Plays a change set on the unit tree; collects errors (with file positions), lineage and changes."""

    def __init__(self, cs: ChangeSet, config: Config, storage_of: Callable[[str], str], unit_rows: list[dict],
                 lineage_rows: list[dict]):
        self.cs = cs
        self.config = config
        self.storage_of = storage_of
        self.eff = cs.effective
        self.errors: list[ConfigIssue] = []
        self.warnings: list[str] = []
        self.units: dict[int, Unit] = {}
        self.by_code: dict[str, int] = {}
        self.children: dict[int, set[int]] = {}
        for r in unit_rows:
            u = Unit(r["id"], r["code"], r["name_vi"], r["name_en"], r["type"], r["parent_id"], r["valid_from"],
                     r["valid_to"], [r["code"]])
            self.units[u.id] = u
            self.by_code[u.code] = u.id
        for u in self.units.values():
            if u.parent_id is not None:
                self.children.setdefault(u.parent_id, set()).add(u.id)
        self.original = {uid: u.snapshot() for uid, u in self.units.items()}
        # Old codes from earlier restructurings (old code -> unit), and units merged into each unit so far.
        self.old_codes: dict[str, int] = {}
        self.merged_preds: dict[int, set[int]] = {}
        for r in lineage_rows:
            if r["kind"] == RECODED and r["detail"] and r["unit_id"] in self.units:
                self.old_codes[r["detail"]] = r["unit_id"]
            elif r["kind"] == MERGED_INTO and r["other_id"] is not None:
                self.merged_preds.setdefault(r["other_id"], set()).add(r["unit_id"])
        self.types = {t.name for t in config.hierarchy.unit_types} if config.hierarchy else None
        self.recoded_here: dict[str, tuple[str, int]] = {}
        self.closed_by: dict[int, int] = {}
        self.successors: dict[int, list[int]] = {}  # unit closed by the change set -> its successors
        self.lineage: list[LineageRow] = []
        self.results: list[OpResult] = []
        self.splits: list[SplitAction] = []
        self.created: list[int] = []
        self.failed: set[int] = set()  # operations that had errors (their knock-on effects are not reported)
        # Units named as the subject of an operation (merged away, moved, split, closed), by code and type:
        # a parent's children are not carried along if a later operation says where they go.
        self.subject_at: dict[str, list[int]] = {}
        self.abolish_at: dict[str, list[int]] = {}
        for op in cs.operations:
            b = op.body
            codes: list[str] = []
            if op.kind == "merge":
                codes = [c for c in b["units"] if c != b["into"]]
            elif op.kind in ("move", "split", "close"):
                codes = [b["unit"]]
            elif op.kind == "abolish_level":
                self.abolish_at.setdefault(b["type"], []).append(op.index)
            for c in codes:
                self.subject_at.setdefault(c, []).append(op.index)

    # -- helpers ------------------------------------------------------------------------------------------------
    def error(self, path: tuple, message: str, *, key: bool = False) -> None:
        self.errors.append(self.cs.issue(path, message, key=key))

    def active(self, u: Unit) -> bool:
        return u.valid_to is None or u.valid_to > self.eff

    def code_of(self, uid: int | None) -> str:
        return self.units[uid].code if uid is not None else "(top)"

    def resolve(self, code: str, path: tuple, *, active: bool = True, key: bool = False) -> Unit | None:
        """The unit a code names now (after the operations before this one), or None with an error."""
        uid = self.by_code.get(code)
        if uid is None:
            if code in self.recoded_here:
                new, j = self.recoded_here[code]
                self.error(path, f"unit {code!r} was recoded to {new!r} by operations[{j}]; refer to it as {new!r}",
                           key=key)
            elif code in self.old_codes:
                cur = self.units[self.old_codes[code]].code
                self.error(path, f"unknown unit {code!r}: an earlier restructuring recoded it to {cur!r}", key=key)
            else:
                opts = [c for c, i in self.by_code.items() if self.active(self.units[i])]
                self.error(path, f"unknown unit {code!r}{_did_you_mean(code, opts)}", key=key)
            return None
        u = self.units[uid]
        if active and not self.active(u):
            closer = self.closed_by.get(uid)
            how = (f"by operations[{closer}] of this change set" if closer is not None
                   else f"since {u.valid_to} by an earlier restructuring")
            self.error(path, f"unit {code!r} is closed ({how}); an operation can only name an open unit", key=key)
            return None
        return u

    def check_fresh(self, code: str, path: tuple) -> bool:
        if code in self.by_code:
            u = self.units[self.by_code[code]]
            state = "" if self.active(u) else ", closed"
            self.error(path, f"unit code {code!r} is already used by {u.name_vi!r}{state}; closed units keep their "
                       "codes, so a code is never given to another unit")
            return False
        if code in self.old_codes or code in self.recoded_here:
            self.error(path, f"unit code {code!r} was used before (the unit was recoded); a code is never reused, "
                       "so that an old code always leads to its successor")
            return False
        return True

    def is_below(self, a: Unit, b: Unit) -> bool:
        """Whether ``a`` is ``b`` or lies in ``b``'s subtree."""
        seen = set()
        x: int | None = a.id
        while x is not None and x not in seen:
            if x == b.id:
                return True
            seen.add(x)
            x = self.units[x].parent_id
        return False

    def handled_later(self, u: Unit, i: int) -> bool:
        if any(j > i for c in u.codes for j in self.subject_at.get(c, ())):
            return True
        return any(j > i for j in self.abolish_at.get(u.type, ()))

    def add_lineage(self, i: int, unit_id: int, kind: str, other_id: int | None, detail: Any = None) -> None:
        if detail is not None and not isinstance(detail, str):
            detail = json.dumps(detail, ensure_ascii=False, sort_keys=True)
        self.lineage.append(LineageRow(unit_id, kind, other_id, detail, i))

    def set_parent(self, u: Unit, parent: Unit | None, i: int, via: str) -> None:
        old = u.parent_id
        if old is not None:
            self.children.get(old, set()).discard(u.id)
        u.parent_id = parent.id if parent else None
        if parent is not None:
            self.children.setdefault(parent.id, set()).add(u.id)
        self.add_lineage(i, u.id, MOVED, u.parent_id, {"from": self.code_of(old) if old else None, "by": via})

    def close(self, u: Unit, i: int, successors: list[int]) -> None:
        u.valid_to = self.eff
        self.closed_by[u.id] = i
        self.successors[u.id] = successors

    def adopt_children(self, old: Unit, new_parent: Unit, i: int, via: str) -> list[str]:
        moved = []
        for cid in sorted(self.children.get(old.id, ()), key=lambda c: self.units[c].code):
            c = self.units[cid]
            if not self.active(c) or self.handled_later(c, i):
                continue
            self.set_parent(c, new_parent, i, via)
            moved.append(c.code)
        return moved

    def answer_set(self, uid: int) -> list[int]:
        """``uid`` and every unit merged into it (transitively): records answering to these follow ``uid``."""
        out, stack = [], [uid]
        seen: set[int] = set()
        while stack:
            x = stack.pop()
            if x in seen:
                continue
            seen.add(x)
            out.append(x)
            stack.extend(self.merged_preds.get(x, ()))
        return out

    def final_successors(self, uid: int) -> list[int | None]:
        """The open units that answer for ``uid`` once the change set is applied (None: a dead end)."""
        out: list[int | None] = []
        seen: set[int] = set()
        stack = [uid]
        while stack:
            x = stack.pop()
            if x in seen:
                continue
            seen.add(x)
            u = self.units[x]
            if self.active(u):
                out.append(x)
                continue
            nxt = self.successors.get(x)
            if not nxt:
                if None not in out:
                    out.append(None)
                continue
            stack.extend(reversed(nxt))
        return out

    # -- running ------------------------------------------------------------------------------------------------
    def run(self) -> Simulation:
        for op in self.cs.operations:
            before = len(self.errors)
            getattr(self, f"_op_{op.kind}")(op)
            if len(self.errors) > before:
                self.failed.add(op.index)
                if not self.results or self.results[-1].op is not op:
                    self.results.append(OpResult(op, f"{op.kind} (not valid)"))
        self._check_tree()
        return self

    def _op_create(self, op: Operation) -> None:
        b = op.body
        fresh = self.check_fresh(b["code"], op.at("code"))
        if self.types is not None and b["type"] not in self.types:
            self.error(op.at("type"), f"unknown unit type {b['type']!r}{_did_you_mean(b['type'], self.types)}; "
                       f"expected one of {', '.join(sorted(self.types))} "
                       "(the unit_types of roles_config/hierarchy.yaml)")
            fresh = False
        parent = None
        if "parent" in b:
            parent = self.resolve(b["parent"], op.at("parent"))
            if parent is None:
                return
        if not fresh:
            return
        uid = -(len(self.created) + 1)
        u = Unit(uid, b["code"], b["name_vi"], b.get("name_en"), b["type"], parent.id if parent else None, self.eff,
                 None, [b["code"]], created=True)
        self.units[uid] = u
        self.by_code[u.code] = uid
        self.created.append(uid)
        if parent is not None:
            self.children.setdefault(parent.id, set()).add(uid)
        self.add_lineage(op.index, uid, CREATED, u.parent_id,
                         {"code": u.code, "parent": parent.code if parent else None})
        where = f" under {parent.code}" if parent else " at the top"
        self.results.append(OpResult(op, f"create {u.code} ({u.name_vi}, {u.type}){where}", [uid]))

    def _op_rename(self, op: Operation) -> None:
        b = op.body
        u = self.resolve(b["unit"], op.at("unit"))
        if u is None:
            return
        before = u.code
        parts = []
        if "code" in b:
            new = b["code"]
            if new == u.code:
                self.error(op.at("code"), f"unit {u.code!r} already has this code")
                return
            if not self.check_fresh(new, op.at("code")):
                return
        names = {key: [getattr(u, key), b[key]] for key in ("name_vi", "name_en")
                 if key in b and b[key] != getattr(u, key)}
        if "code" not in b and not names:
            self.error(op.path, f"nothing changes: unit {u.code!r} already has these names")
            return
        if "code" in b:
            new = b["code"]
            self.add_lineage(op.index, u.id, RECODED, None, before)
            del self.by_code[before]
            self.by_code[new] = u.id
            self.recoded_here[before] = (new, op.index)
            u.codes.append(new)
            u.code = new
            parts.append(f"code -> {new}")
        for key, (_old, value) in names.items():
            setattr(u, key, value)
            parts.append(f"{key} -> {value!r}")
        if names:
            self.add_lineage(op.index, u.id, RENAMED, None, names)
        self.results.append(OpResult(op, f"rename {before}: " + "; ".join(parts), [u.id]))

    def _op_move(self, op: Operation) -> None:
        b = op.body
        u = self.resolve(b["unit"], op.at("unit"))
        to = self.resolve(b["to"], op.at("to"))
        if u is None or to is None:
            return
        if u.parent_id == to.id:
            self.error(op.at("to"), f"unit {u.code!r} is already under {to.code!r}")
            return
        if self.is_below(to, u):
            self.error(op.at("to"), f"cannot move {u.code!r} under {to.code!r}, which is {u.code!r} itself or below it")
            return
        old = self.code_of(u.parent_id) if u.parent_id else "(top)"
        self.set_parent(u, to, op.index, "move")
        self.results.append(OpResult(op, f"move {u.code} from {old} to {to.code}", [u.id]))

    def _op_merge(self, op: Operation) -> None:
        b = op.body
        into = self.resolve(b["into"], op.at("into"))
        sources: list[tuple[int, Unit]] = []
        for k, code in enumerate(b["units"]):
            if code == b["into"]:
                continue
            u = self.resolve(code, op.at("units", k))
            if u is not None:
                sources.append((k, u))
        if into is None or len(sources) != len([c for c in b["units"] if c != b["into"]]):
            return
        for k, u in sources:
            if self.is_below(into, u):
                self.error(op.at("units", k), f"cannot merge {u.code!r} into {into.code!r}, which lies below it; "
                           f"move {into.code!r} out first")
                return
        res = OpResult(op, f"merge {', '.join(u.code for _k, u in sources)} into {into.code}",
                       [u.id for _k, u in sources] + [into.id])
        types = {u.type for _k, u in sources} - {into.type}
        if types:
            self.warnings.append(f"operations[{op.index}] (line {self.cs.line_of(op.path)}): merges units of type "
                                 f"{', '.join(sorted(types))} into {into.code} of type {into.type}")
        for _k, u in sources:
            self.close(u, op.index, [into.id])
            self.add_lineage(op.index, u.id, MERGED_INTO, into.id)
            self.merged_preds.setdefault(into.id, set()).add(u.id)
            moved = self.adopt_children(u, into, op.index, "merge")
            if moved:
                res.notes.append(f"children of {u.code} moved under {into.code}: {_listed(moved)}")
        self.results.append(res)

    def _resolve_rule(self, r: SplitRule, successors: dict[str, int], seen: set[str]) -> ResolvedRule | None:
        scoped = [e.name for e in self.config.entities if e.unit_field]
        if not self.config.has_entity(r.entity):
            self.error(r.path + ("entity",), f"unknown entity {r.entity!r}{_did_you_mean(r.entity, scoped)}; "
                       f"expected one of {', '.join(scoped) or '(no entity has a unit_field)'}")
            return None
        entity = self.config.entity(r.entity)
        if not entity.unit_field:
            self.error(r.path + ("entity",), f"entity {r.entity!r} has no unit_field, so its records do not answer "
                       f"to a unit; expected one of {', '.join(scoped)}")
            return None
        if r.entity in seen:
            self.error(r.path + ("entity",), f"entity {r.entity!r} has two rules in this split; give one")
            return None
        seen.add(r.entity)
        cols = [f.name for f in entity.column_fields]
        if r.field not in cols:
            self.error(r.path + ("field",), f"entity {r.entity!r} has no field {r.field!r}"
                       f"{_did_you_mean(r.field, cols)}")
            return None
        fd = entity.field(r.field)
        storage = self.storage_of(fd.type)
        if r.match == "contains" and storage != "text":
            self.error(r.path + ("match",), f"match: contains needs a text field; {r.field!r} is of type {fd.type}")
            return None
        if storage not in ("text", "integer"):
            self.error(r.path + ("field",), f"a split rule matches a text, choice, integer or org_unit field; "
                       f"{r.field!r} is of type {fd.type}")
            return None
        ok = True
        by_value: list[tuple[Any, int]] = []
        for key, succ_code in r.map:
            kpath = r.path + ("map", key)
            if succ_code not in successors:
                self.error(kpath, f"{succ_code!r} is not one of the successors in into ({', '.join(successors)})")
                ok = False
                continue
            value: Any = key
            if fd.type == "org_unit":
                uid = self.by_code.get(key, self.old_codes.get(key))
                if uid is None:
                    self.error(kpath, f"{r.field!r} holds units: expected a unit code; found unknown unit {key!r}",
                               key=True)
                    ok = False
                    continue
                value = uid
            elif storage == "integer":
                try:
                    value = int(key)
                except ValueError:
                    self.error(kpath, f"{r.field!r} holds whole numbers; found {key!r}", key=True)
                    ok = False
                    continue
            by_value.append((value, successors[succ_code]))
        default = None
        if r.default is not None:
            if r.default not in successors:
                self.error(r.path + ("default",), f"{r.default!r} is not one of the successors in into "
                           f"({', '.join(successors)})")
                ok = False
            else:
                default = successors[r.default]
        if not ok:
            return None
        return ResolvedRule(r, entity, fd, storage, by_value, default)

    def _op_split(self, op: Operation) -> None:
        b = op.body
        u = self.resolve(b["unit"], op.at("unit"))
        resolved = [self.resolve(c, op.at("into", k)) for k, c in enumerate(b["into"])]
        succ = [s for s in resolved if s is not None]
        if u is None or len(succ) != len(resolved):
            return
        successors = {s.code: s.id for s in succ}
        for k, s in enumerate(succ):
            if self.is_below(s, u):
                self.error(op.at("into", k), f"successor {s.code!r} lies below {u.code!r}, which closes; move it first")
                return
        seen: set[str] = set()
        resolved_rules = [self._resolve_rule(r, successors, seen) for r in split_rules(op)]
        rules = [r for r in resolved_rules if r is not None]
        if len(rules) != len(resolved_rules):
            return
        self.close(u, op.index, [s.id for s in succ])
        for s in succ:
            self.add_lineage(op.index, u.id, SPLIT_INTO, s.id)
        self.splits.append(SplitAction(op, u.id, self.answer_set(u.id), [s.id for s in succ], rules))
        self.results.append(OpResult(op, f"split {u.code} into {', '.join(successors)}", [u.id] + [s.id for s in succ]))

    def _op_close(self, op: Operation) -> None:
        b = op.body
        u = self.resolve(b["unit"], op.at("unit"))
        s = self.resolve(b["successor"], op.at("successor")) if "successor" in b else None
        if u is None or ("successor" in b and s is None):
            return
        if s is not None and self.is_below(s, u):
            self.error(op.at("successor"), f"successor {s.code!r} is {u.code!r} itself or lies below it")
            return
        self.close(u, op.index, [s.id] if s else [])
        if s is None:
            self.add_lineage(op.index, u.id, CLOSED, None)
            self.results.append(OpResult(op, f"close {u.code} (no successor)", [u.id]))
            return
        # A closed unit with a successor is merged into it: the successor answers for its records.
        self.add_lineage(op.index, u.id, MERGED_INTO, s.id, {"op": "close"})
        self.merged_preds.setdefault(s.id, set()).add(u.id)
        res = OpResult(op, f"close {u.code}; {s.code} takes over", [u.id, s.id])
        moved = self.adopt_children(u, s, op.index, "close")
        if moved:
            res.notes.append(f"children of {u.code} moved under {s.code}: {_listed(moved)}")
        self.results.append(res)

    def _op_abolish_level(self, op: Operation) -> None:
        b = op.body
        t = b["type"]
        if self.types is not None and t not in self.types:
            self.error(op.at("type"), f"unknown unit type {t!r}{_did_you_mean(t, self.types)}; expected one of "
                       f"{', '.join(sorted(self.types))}")
            return
        targets = sorted((u for u in self.units.values() if u.type == t and self.active(u)), key=lambda u: u.code)
        if not targets:
            self.error(op.at("type"), f"no open unit has type {t!r}: nothing to abolish")
            return
        target_ids = {u.id for u in targets}
        mapping: dict[int, Unit] = {}
        ok = True
        for child_code, parent_code in b.get("reattach", {}).items():
            c = self.resolve(child_code, op.at("reattach", child_code), key=True)
            p = self.resolve(parent_code, op.at("reattach", child_code))
            if c is None or p is None:
                ok = False
                continue
            if c.parent_id not in target_ids:
                self.error(op.at("reattach", child_code), f"unit {child_code!r} is not directly under a unit of type "
                           f"{t!r} (its parent is {self.code_of(c.parent_id)})", key=True)
                ok = False
            elif p.type == t:
                self.error(op.at("reattach", child_code), f"cannot re-attach to {parent_code!r}: it is of type {t!r} "
                           "and closes too")
                ok = False
            elif self.is_below(p, c):
                self.error(op.at("reattach", child_code), f"cannot re-attach {child_code!r} under {parent_code!r}, "
                           "which lies below it")
                ok = False
            else:
                mapping[c.id] = p
        if not ok:
            return
        # The nearest ancestor that is not abolished takes the children (reattach_to: grandparent); if the file
        # closed that ancestor earlier (e.g. a merged province), its single open successor does.
        def above(u: Unit) -> Unit | None:
            x = u.parent_id
            while x is not None and x in target_ids:
                x = self.units[x].parent_id
            if x is None:
                return None
            if not self.active(self.units[x]):
                fins = self.final_successors(x)
                if len(fins) == 1 and fins[0] is not None:
                    x = fins[0]
            return self.units[x]

        ups = {u.id: above(u) for u in targets}
        for u in targets:
            up = ups[u.id]
            self.close(u, op.index, [up.id] if up else [])
            self.add_lineage(op.index, u.id, ABOLISHED, up.id if up else None, {"type": t})
        res = OpResult(op, f"abolish level {t}: {len(targets)} unit(s) close", [u.id for u in targets])
        orphans: list[str] = []
        moved = 0
        for u in targets:
            for cid in sorted(self.children.get(u.id, ()), key=lambda c: self.units[c].code):
                c = self.units[cid]
                if not self.active(c) or cid in target_ids:
                    continue
                if cid in mapping:
                    self.set_parent(c, mapping[cid], op.index, "abolish_level")
                    moved += 1
                elif self.handled_later(c, op.index):
                    continue
                elif b.get("reattach_to") == "grandparent" and ups[u.id] is not None:
                    self.set_parent(c, ups[u.id], op.index, "abolish_level")
                    moved += 1
                else:
                    orphans.append(f"{c.code} (under {u.code})")
        if orphans:
            self.error(op.at("type"), f"{len(orphans)} unit(s) would be left without a parent: {_listed(orphans)}; "
                       "list them under reattach (CHILD: NEW_PARENT) or add reattach_to: grandparent")
            return
        if moved:
            res.notes.append(f"{moved} child unit(s) re-attached")
        self.results.append(res)

    # -- checks on the final tree -----------------------------------------------------------------------------
    def _check_tree(self) -> None:
        stranded: dict[int, list[str]] = {}
        for u in self.units.values():
            if not self.active(u) or u.parent_id is None:
                continue
            p = self.units[u.parent_id]
            if not self.active(p) and p.id in self.closed_by and self.closed_by[p.id] not in self.failed:
                stranded.setdefault(self.closed_by[p.id], []).append(f"{u.code} (under {p.code})")
        for j, items in sorted(stranded.items()):
            op = self.cs.operations_by_index()[j]
            self.error(op.path, f"{len(items)} open unit(s) would stay under a unit this operation closes: "
                       f"{_listed(sorted(items))}; move, merge or close them in the change set")
        # Tree edges and merge edges must not form a cycle: the closure follows both.
        edges: dict[int, list[int]] = {}
        for u in self.units.values():
            if u.parent_id is not None:
                edges.setdefault(u.parent_id, []).append(u.id)
        for succ, preds in self.merged_preds.items():
            edges.setdefault(succ, []).extend(preds)
        state: dict[int, int] = {}
        for start in self.units:
            if start in state:
                continue
            stack = [(start, iter(edges.get(start, ())))]
            state[start] = 1
            path = [start]
            while stack:
                node, it = stack[-1]
                nxt = next(it, None)
                if nxt is None:
                    state[node] = 2
                    stack.pop()
                    path.pop()
                    continue
                if state.get(nxt) == 1:
                    cyc = path[path.index(nxt):] + [nxt]
                    self.error(("operations",), "the change set would make a cycle of units (parent or merge "
                               f"links): {' -> '.join(self.units[c].code for c in cyc)}")
                    return
                if nxt not in state:
                    state[nxt] = 1
                    path.append(nxt)
                    stack.append((nxt, iter(edges.get(nxt, ()))))

    # -- users ----------------------------------------------------------------------------------------------------
    def rehome(self, assignments: list[dict], usernames: dict[int, str], home_units: dict[int, int | None]) -> Rehoming:
        """Re-home the assignments held at units the change set closes (``assignments``: rows of hoso_assignment
        that are open on the effective date or later)."""
        out = Rehoming()
        roles = {r.name for r in self.config.roles}
        rules: list[tuple[Any, int, int]] = []  # (rule, from id, to id)
        for rule in self.cs.rehome:
            src_id = self.by_code.get(rule.from_code, self.old_codes.get(rule.from_code))
            if src_id is None:
                for u in self.units.values():
                    if rule.from_code in u.codes:
                        src_id = u.id
                        break
            if src_id is None:
                self.error(rule.path + ("from",), f"unknown unit {rule.from_code!r}")
                continue
            if src_id not in self.closed_by:
                self.error(rule.path + ("from",), f"unit {rule.from_code!r} is not closed by this change set; only "
                           "users of closing units are re-homed")
                continue
            dst = self.by_code.get(rule.to_code)
            if dst is None or not self.active(self.units[dst]):
                why = "unknown unit" if dst is None else "unit is closed by then:"
                self.error(rule.path + ("to",), f"{why} {rule.to_code!r}; users are re-homed to an open unit")
                continue
            if rule.role is not None and roles and rule.role not in roles:
                self.error(rule.path + ("role",), f"unknown role {rule.role!r}{_did_you_mean(rule.role, roles)}")
                continue
            rules.append((rule, src_id, dst))
        used: set[int] = set()
        held = {(a["user_id"], a["role"], a["unit_id"]) for a in assignments}
        for a in sorted(assignments, key=lambda a: (a["unit_id"], a["user_id"], a["role"], a["id"])):
            if a["unit_id"] not in self.closed_by:
                continue
            user = usernames.get(a["user_id"], f"#{a['user_id']}")
            src = self.units[a["unit_id"]]
            target, how = None, ""
            for k, (rule, rsrc, rdst) in enumerate(rules):
                if rsrc == src.id and (rule.role is None or rule.role == a["role"]):
                    target, how = rdst, f"users.rehome[{rule.path[2]}]"
                    used.add(k)
                    break
            if target is None:
                fins = self.final_successors(src.id)
                if self.cs.users_default == "decide":
                    reason = "users.default is decide and no users.rehome rule matches"
                elif len(fins) == 1 and fins[0] is not None:
                    target, how = fins[0], "lineage"
                elif None in fins and len(fins) == 1:
                    reason = f"{src.code} closes without a successor"
                else:
                    reason = (f"{src.code} has several successors ("
                              f"{', '.join(self.units[f].code if f is not None else '(none)' for f in fins)})")
                if target is None:
                    out.decisions.append(f"user {user} (role {a['role']} at {src.code}): {reason}; add "
                                         f"users.rehome: - {{from: {src.code}, to: <unit>, role: {a['role']}}}")
                    continue
            starts = a["starts_on"]
            day = max(starts, self.eff) if starts else self.eff
            out.end.append((a["id"], day))
            key = (a["user_id"], a["role"], target)
            if key not in held:
                held.add(key)
                out.start.append({"user_id": a["user_id"], "role": a["role"], "unit_id": target, "starts_on": day,
                                  "ends_on": a["ends_on"], "granted_by": a["granted_by"]})
            out.moves.append((user, a["role"], src.code, self.units[target].code, how))
        for k, (rule, _s, _d) in enumerate(rules):
            if k not in used:
                self.warnings.append(f"users.rehome[{rule.path[2]}] (from {rule.from_code}) matches no assignment")
        for user_id, home in sorted(home_units.items()):
            if home is None or home not in self.closed_by:
                continue
            target = next((d for rule, s, d in rules if s == home and rule.role is None), None)
            if target is None:
                fins = self.final_successors(home)
                target = fins[0] if len(fins) == 1 else None
            if target is None:
                out.notes.append(f"user {usernames.get(user_id, user_id)}: home unit {self.units[home].code} "
                                 "closes and has no single successor; the account keeps it")
            else:
                out.home.append((user_id, target))
        return out

    # -- the result ------------------------------------------------------------------------------------------------
    def changed_units(self) -> list[Unit]:
        """Existing units whose row changes (code, names, parent or end date)."""
        return [u for uid, u in self.units.items() if uid > 0 and u.snapshot() != self.original[uid]]
