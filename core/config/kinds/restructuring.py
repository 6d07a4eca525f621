"""Reading a restructuring file: YAML with positions, JSON Schema, and the checks that need no database.

A restructuring (change set) is not part of the configuration that every start-up loads: it is read only by
``hoso restructure plan|apply``, so a deployment with years of history files starts as fast as one without.
Errors name the file, line, column and key path, like the configuration loader's.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hoso.config._yaml import position_of
from hoso.config.loader import ConfigErrors, ConfigIssue, _Loader, _path_str

__all__ = ["ChangeSet", "Operation", "RehomeRule", "SplitRule", "RestructureErrors", "load_restructuring",
           "OPERATION_KINDS"]

OPERATION_KINDS = ("create", "rename", "move", "merge", "split", "close", "abolish_level")


class RestructureErrors(ConfigErrors):
    """Every problem found in a change set file (or against the database it is planned for), in file order."""

    def render(self) -> str:
        n = len(self.issues)
        head = f"{n} error{'s' if n != 1 else ''} in the change set:"
        return "\n".join([head] + [f"  {i}" for i in self.issues])


@dataclass(frozen=True)
class SplitRule:
    """Assigns each record of ``entity`` that answers to a split unit to one successor, by a field's value."""

    entity: str
    field: str
    map: tuple[tuple[str, str], ...]  # (field value as written, successor code), in file order
    default: str | None
    match: str  # "exact" or "contains"
    path: tuple  # key path of the rule in the file


@dataclass(frozen=True)
class Operation:
    index: int
    kind: str
    body: dict
    path: tuple  # ("operations", index, kind)

    def at(self, *keys) -> tuple:
        return self.path + tuple(keys)


@dataclass(frozen=True)
class RehomeRule:
    from_code: str
    to_code: str
    role: str | None
    path: tuple


@dataclass
class ChangeSet:
    """One parsed, schema-valid change set file."""

    path: Path
    rel: str
    content_hash: str
    name: str
    effective: dt.date
    label_vi: str
    label_en: str | None
    operations: list[Operation]
    users_default: str
    rehome: list[RehomeRule]
    positions: dict = field(repr=False, default_factory=dict)

    def issue(self, path: tuple, message: str, *, key: bool = False) -> ConfigIssue:
        line, col = position_of(self.positions, path, key=key)
        return ConfigIssue(self.rel, line, col, _path_str(path), message)

    def operations_by_index(self) -> dict[int, Operation]:
        return {op.index: op for op in self.operations}

    def line_of(self, path: tuple) -> int:
        return position_of(self.positions, path)[0]


def _display_name(path: Path, root: Path | None) -> str:
    for base in ([root] if root else []) + [Path.cwd()]:
        try:
            return path.resolve().relative_to(base.resolve()).as_posix()
        except ValueError:
            continue
    return str(path)


def load_restructuring(path: str | Path, root: str | Path | None = None) -> ChangeSet:
    """Parse and check one change set file; raise RestructureErrors listing every problem found.

    ``root`` (the configuration root) only shortens the file name shown in messages. References to units are
    checked later, against the database (see ``hoso.restructure.plan``).
    """
    path = Path(path)
    loader = _Loader(Path(root) if root else path.parent)
    rel = _display_name(path, Path(root) if root else None)
    loader._rel = lambda path: rel  # type: ignore[method-assign]  # every message names the file as the user gave it
    f = loader.parse(path, "restructuring")
    if f is None or loader.issues:
        raise RestructureErrors(loader.issues or [ConfigIssue(rel, 1, 1, "", "cannot read the change set")])
    raw = path.read_bytes()
    issues: list[ConfigIssue] = []

    def err(p: tuple, message: str, *, key: bool = False) -> None:
        line, col = position_of(f.positions, p, key=key)
        issues.append(ConfigIssue(rel, line, col, _path_str(p), message))

    d: dict[str, Any] = f.data
    effective = None
    try:
        effective = dt.date.fromisoformat(d["effective"])
    except ValueError:
        err(("effective",), f"expected a real date as YYYY-MM-DD; found {d['effective']!r}")

    operations: list[Operation] = []
    for i, item in enumerate(d["operations"]):
        if len(item) != 1:
            found = "an empty mapping" if not item else "keys " + ", ".join(map(repr, item))
            err(("operations", i), f"expected exactly one operation ({', '.join(OPERATION_KINDS)}) per list item; "
                f"found {found}; start each operation with its own '- '")
            continue
        (kind, body), = item.items()
        op = Operation(i, kind, body, ("operations", i, kind))
        if kind == "rename" and not ({"code", "name_vi", "name_en"} & set(body)):
            err(op.path, "expected at least one of code, name_vi, name_en: what does the unit change to?")
            continue
        if kind == "split":
            if "rule" in body and "rules" in body:
                err(op.at("rules"), "give either rule (one entity) or rules (a list), not both", key=True)
                continue
            if op.body["unit"] in body["into"]:
                err(op.at("into"), f"a unit cannot be split into itself; found {body['unit']!r} in into")
                continue
            empty = [rule for rule in split_rules(op) if not rule.map]
            for rule in empty:
                err(rule.path + ("map",), f"the map of the rule for {rule.entity!r} is empty: map at least one value "
                    f"of {rule.field!r} to one of the successors ({', '.join(body['into'])})")
            if empty:
                continue
        if kind == "merge" and len(body["units"]) == 1 and body["units"][0] == body["into"]:
            err(op.at("units"), f"nothing to merge: {body['into']!r} would be merged into itself")
            continue
        operations.append(op)

    users = d.get("users", {})
    rehome = [RehomeRule(r["from"], r["to"], r.get("role"), ("users", "rehome", j))
              for j, r in enumerate(users.get("rehome", ()))]
    if issues or effective is None:  # a date that is not real was reported above
        raise RestructureErrors(issues)
    label = d["label"]
    return ChangeSet(path=path, rel=rel, content_hash=hashlib.sha256(raw).hexdigest(), name=d["restructuring"],
                     effective=effective, label_vi=label["vi"], label_en=label.get("en"), operations=operations,
                     users_default=users.get("default", "follow_lineage"), rehome=rehome, positions=f.positions)


def split_rules(op: Operation) -> list[SplitRule]:
    body = op.body
    if "rule" in body:
        raw = [(body["rule"], op.at("rule"))]
    else:
        raw = [(r, op.at("rules", j)) for j, r in enumerate(body.get("rules", ()))]
    return [SplitRule(r["entity"], r["field"], tuple((str(k), v) for k, v in r["map"].items()), r.get("default"),
                      r.get("match", "exact"), p) for r, p in raw]
