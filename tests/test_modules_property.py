"""hoso.modules against a plain-Python oracle, on random unit trees with merged and recoded units.

Each scenario writes a unit tree into the database (some units merged into another and closed, some recoded,
with their old codes kept by lineage), rebuilds the closure, switches three modules on for random codes (old
ones included) and gives users random assignments (current, ended, not yet started). The oracle follows the
definition: a code leads to the unit holding it, or recoded from it, then to the successor of a merged unit;
the module is on in those units' subtrees (merged units count under their successor); a user has the module
when a current assignment is in such a subtree or above an enabled unit; anonymous requests only when it is on
at a root.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random

from hoso.config import ModuleDef
from hoso.modules import ModuleSwitches
from hoso.scope import rebuild_closure
from tests.helpers import migrated_runtime

SCENARIOS = 30
TODAY = dt.date.today()
PAST = TODAY - dt.timedelta(days=10)


@dataclasses.dataclass
class World:
    parent: dict[int, int | None]
    code: dict[int, str]
    merged_into: dict[int, int]  # closed unit -> its successor
    old_codes: dict[str, int]  # a recoded unit's former code -> the unit
    enabled: dict[str, list[str]]
    assignments: list[tuple[int, int, dt.date, dt.date | None]]  # user, unit, starts, ends


def make_world(rng: random.Random) -> World:
    n = rng.randint(2, 12)
    parent: dict[int, int | None] = {1: None}
    for u in range(2, n + 1):
        parent[u] = None if rng.random() < 0.15 else rng.randint(1, u - 1)
    leaves = [u for u in parent if u not in parent.values()]
    merged: dict[int, int] = {}
    for u in rng.sample(leaves, k=min(len(leaves) - 1, rng.randint(0, 2))) if len(leaves) > 1 else []:
        targets = [t for t in parent if t != u and t not in merged]
        merged[u] = rng.choice(targets)
    code = {u: f"U{u}" for u in parent}
    old_codes: dict[str, int] = {}
    for u in rng.sample(sorted(parent), k=rng.randint(0, 2)):
        old_codes[code[u]] = u
        code[u] = f"R{u}"
    codes = sorted(code.values()) + sorted(old_codes)
    enabled = {f"m.m{i}": rng.sample(codes, k=rng.randint(0, 2)) for i in range(3)}
    open_units = [u for u in parent if u not in merged]
    assignments = []
    for user in range(1, 7):
        for _ in range(rng.randint(0, 2)):
            unit = rng.choice(open_units)
            starts, ends = rng.choice([(PAST, None), (PAST, TODAY - dt.timedelta(days=1)),
                                       (TODAY + dt.timedelta(days=3), None), (PAST, TODAY + dt.timedelta(days=5))])
            assignments.append((user, unit, starts, ends))
    return World(parent, code, merged, old_codes, enabled, assignments)


# -- the oracle ---------------------------------------------------------------------------------------------------


def children(w: World) -> dict[int, set[int]]:
    out: dict[int, set[int]] = {u: set() for u in w.parent}
    for u, p in w.parent.items():
        if p is not None:
            out[p].add(u)
    for u, s in w.merged_into.items():
        out[s].add(u)
    return out


def reach(start: set[int], edges: dict[int, set[int]]) -> set[int]:
    seen, todo = set(start), list(start)
    while todo:
        for v in edges[todo.pop()]:
            if v not in seen:
                seen.add(v)
                todo.append(v)
    return seen


def resolve(w: World, code: str) -> int:
    unit = next((u for u, c in w.code.items() if c == code), None) or w.old_codes[code]
    while unit in w.merged_into:  # a successor may itself have been merged later
        unit = w.merged_into[unit]
    return unit


def oracle(w: World, module: str, user: int | None) -> bool:
    down = children(w)
    up: dict[int, set[int]] = {u: set() for u in w.parent}
    for p, kids in down.items():
        for k in kids:
            up[k].add(p)
    enabled = {resolve(w, c) for c in w.enabled[module]}
    inside = reach(enabled, down)
    if user is None:
        return any(p is None and u in inside for u, p in w.parent.items())
    visible = inside | reach(enabled, up)
    mine = {unit for uid, unit, starts, ends in w.assignments
            if uid == user and starts <= TODAY and (ends is None or ends > TODAY)}
    return bool(mine & visible)


# -- the database -------------------------------------------------------------------------------------------------


async def store(db, w: World) -> None:
    for table in ("hoso_assignment", "hoso_unit_lineage", "hoso_unit_closure", "hoso_unit"):
        await db.execute(f"DELETE FROM {table}")
    for u in sorted(w.parent):
        closed = PAST if u in w.merged_into else None
        await db.execute("INSERT INTO hoso_unit (id, code, name_vi, type, parent_id, valid_from, valid_to) "
                         "VALUES ({}, {}, {}, {}, {}, {}, {})", u, w.code[u], f"Đơn vị {u}", "centre", w.parent[u],
                         dt.date(2019, 1, 1), closed)
    for u, s in w.merged_into.items():
        await db.execute("INSERT INTO hoso_unit_lineage (unit_id, kind, other_id, effective_on) "
                         "VALUES ({}, 'merged_into', {}, {})", u, s, PAST)
    for old, u in w.old_codes.items():
        await db.execute("INSERT INTO hoso_unit_lineage (unit_id, kind, other_id, effective_on, detail) "
                         "VALUES ({}, 'recoded', NULL, {}, {})", u, PAST, old)
    for user, unit, starts, ends in w.assignments:
        await db.execute("INSERT INTO hoso_assignment (user_id, role, unit_id, starts_on, ends_on, created_at) "
                         "VALUES ({}, 'r', {}, {}, {}, {})", user, unit, starts, ends,
                         dt.datetime.now(dt.UTC))
    await rebuild_closure(db)


class Account:
    def __init__(self, uid: int, superuser: bool = False):
        self.id, self.superuser = uid, superuser


async def test_module_existence_matches_the_oracle(config_dir, database_url):
    rt = await migrated_runtime(config_dir.load(), database_url)
    rng = random.Random(20251130)
    try:
        for scenario in range(SCENARIOS):
            w = make_world(rng)
            await store(rt.db, w)
            config = dataclasses.replace(rt.config, modules=tuple(
                ModuleDef(name, None, tuple(codes)) for name, codes in w.enabled.items()))
            sw = await ModuleSwitches.load(rt.db, config, TODAY)
            for user in [None, *range(1, 7)]:
                got = await sw.enabled_for_user(None if user is None else Account(user))
                want = {m for m in w.enabled if oracle(w, m, user)}
                assert got == want, (scenario, user, w)
            assert await sw.enabled_for_user(Account(99, superuser=True)) == set(w.enabled)
            for m, codes in w.enabled.items():
                inside = reach({resolve(w, c) for c in codes}, children(w))
                assert {u for u in w.parent if sw.unit_has(m, u)} == inside, (scenario, m, w)
    finally:
        await rt.db.close()
