"""Property: for random unit trees, records and two dated change sets of random merges, moves and splits applied by
the restructuring engine, ``unit_groups`` counts every record under the group a plain-Python model of the same
history gives: as recorded on dates before, between and after the change sets, and mapped to the structure of each
of those dates, at every level of the hierarchy (both engines).

The model replays the operations on its own tree; it never reads the unit tables, the links or the lineage.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import textwrap
from collections import Counter

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hoso.lineage import sync_unit_edges
from hoso.model.migrate import apply_plan, make_plan
from hoso.reports.structure import unit_groups
from hoso.restructure import apply
from hoso.runtime import Runtime
from hoso.scope import rebuild_closure

LEVELS = ("province", "district", "commune")
D1, D2 = dt.date(2025, 7, 1), dt.date(2026, 1, 1)
DATES = (dt.date(2025, 6, 30), D1, dt.date(2025, 12, 31), D2, dt.date(2026, 6, 1))
VILLAGES = ("A", "B", "C")

FILES = {
    "roles_config/hierarchy.yaml": """
        levels: [province, district, commune]
        unit_types:
          province: {level: province, label: {vi: Tỉnh}}
          district: {level: district, label: {vi: Huyện}}
          commune: {level: commune, label: {vi: Xã}}
    """,
    "forms_config/entities/case.yaml": """
        entity: case
        label: {vi: Vụ việc}
        unit_field: unit
        fields:
          unit: {type: org_unit, label: {vi: Đơn vị}}
          village: {type: text, label: {vi: Thôn}}
    """,
}


# -- the model ------------------------------------------------------------------------------------------------------


class Model:
    """The unit history as the operations describe it: dated parents, end dates, merges, splits, record scopes."""

    def __init__(self, tree: list[tuple[str, str, str | None]], records: list[tuple[str, str]]):
        self.type = {code: typ for code, typ, _p in tree}
        self.hist: dict[str, list[tuple[dt.date | None, str | None]]] = {c: [(None, p)] for c, _t, p in tree}
        self.end: dict[str, dt.date] = {}
        self.merged: dict[str, str] = {}
        self.split: set[str] = set()
        self.records = [{"unit": u, "village": v, "scope": None} for u, v in records]

    def parent_on(self, code: str, day: dt.date) -> str | None:
        found = [p for start, p in self.hist[code] if start is None or start <= day]
        return found[-1] if found else self.hist[code][0][1]

    def parent(self, code: str) -> str | None:
        return self.hist[code][-1][1]

    def is_open(self, code: str, day: dt.date) -> bool:
        return code not in self.end or self.end[code] > day

    def open_units(self, typ: str, day: dt.date) -> list[str]:
        return sorted(c for c, t in self.type.items() if t == typ and self.is_open(c, day))

    def children(self, code: str, day: dt.date) -> list[str]:
        return [c for c in self.type if self.is_open(c, day) and self.parent(c) == code]

    def family(self, code: str, day: dt.date) -> set[str]:
        out, x = {code}, self.parent(code)
        while x is not None:
            out.add(x)
            x = self.parent(x)
        stack = [code]
        while stack:
            for c in self.children(stack.pop(), day):
                out.add(c)
                stack.append(c)
        return out

    def answers(self, code: str) -> set[str]:
        out, stack = set(), [code]
        while stack:
            x = stack.pop()
            out.add(x)
            stack.extend(p for p, into in self.merged.items() if into == x and p not in out)
        return out

    # operations, as the documentation describes them
    def merge(self, unit: str, into: str, day: dt.date) -> None:
        for c in self.children(unit, day):
            self.hist[c].append((day, into))
        self.end[unit] = day
        self.merged[unit] = into

    def move(self, unit: str, to: str, day: dt.date) -> None:
        self.hist[unit].append((day, to))

    def do_split(self, unit: str, into: tuple[str, str], day: dt.date) -> None:
        covered = self.answers(unit)
        for r in self.records:
            if (r["scope"] or r["unit"]) in covered:
                r["scope"] = {"A": into[0], "B": into[1]}.get(r["village"], into[0])
        self.end[unit] = day
        self.split.add(unit)

    # what a report should count
    def group(self, code: str, day: dt.date, level: str | None) -> str | None:
        x: str | None = code
        while x is not None:
            if level is None or self.type[x] == level:
                return x
            x = self.parent_on(x, day)
        return None

    def successor(self, code: str, day: dt.date) -> str:
        x = code
        while not self.is_open(x, day):
            if x in self.merged:
                x = self.merged[x]
            else:  # a split unit's own records follow its parent
                x = self.parent_on(x, self.end[x] - dt.timedelta(days=1))  # type: ignore[assignment]
        return x

    def expected(self, structure: str | dt.date, day: dt.date, level: str | None) -> Counter:
        out: Counter = Counter()
        for r in self.records:
            if structure == "recorded":
                out[self.group(r["unit"], day, level)] += 1
            else:
                assert isinstance(structure, dt.date)
                out[self.group(self.successor(r["scope"] or r["unit"], structure), structure, level)] += 1
        return out


@st.composite
def worlds(draw):
    tree: list[tuple[str, str, str | None]] = []
    for p in range(draw(st.integers(2, 3))):
        tree.append((f"P{p}", "province", None))
        for d in range(draw(st.integers(1, 2))):
            tree.append((f"D{p}{d}", "district", f"P{p}"))
            for x in range(draw(st.integers(1, 3))):
                tree.append((f"X{p}{d}{x}", "commune", f"D{p}{d}"))
    codes = [c for c, _t, _p in tree]
    records = draw(st.lists(st.tuples(st.sampled_from(codes), st.sampled_from(VILLAGES)), max_size=25))
    model = Model(tree, records)
    change_sets = []
    for day in (D1, D2):
        ops: list[tuple] = []
        touched: set[str] = set()
        for _ in range(draw(st.integers(1, 3))):
            kind = draw(st.sampled_from(["merge", "move", "split"]))
            typ = {"merge": draw(st.sampled_from(LEVELS)), "move": "district", "split": "commune"}[kind]
            units = model.open_units(typ, day)
            if kind == "move":
                targets = model.open_units("province", day)
                if not units or len(targets) < 2:
                    continue
                unit = draw(st.sampled_from(units))
                to = draw(st.sampled_from([t for t in targets if t != model.parent(unit)]))
                named = [unit, to]
            else:
                need = 2 if kind == "merge" else 3
                if len(units) < need:
                    continue
                named = draw(st.permutations(units))[:need]
            if any(model.family(n, day) & touched for n in named):
                continue
            for n in named:
                touched |= model.family(n, day)
            if kind == "merge":
                model.merge(named[0], named[1], day)
                ops.append(("merge", named[0], named[1]))
            elif kind == "move":
                model.move(named[0], named[1], day)
                ops.append(("move", named[0], named[1]))
            else:
                model.do_split(named[0], (named[1], named[2]), day)
                ops.append(("split", named[0], named[1], named[2]))
        change_sets.append((day, ops))
    return tree, records, change_sets


def change_set_text(day: dt.date, ops: list[tuple]) -> str:
    lines = [f"restructuring: cs-{day.isoformat()}", f"effective: {day.isoformat()}", "label: {vi: Thay đổi}",
             "operations:"]
    for op in ops:
        if op[0] == "merge":
            lines.append(f"  - merge: {{units: [{op[1]}], into: {op[2]}}}")
        elif op[0] == "move":
            lines.append(f"  - move: {{unit: {op[1]}, to: {op[2]}}}")
        else:
            lines.append(f"  - split: {{unit: {op[1]}, into: [{op[2]}, {op[3]}], rule: {{entity: case, "
                         f"field: village, map: {{A: {op[2]}, B: {op[3]}}}, default: {op[2]}}}}}")
    return "\n".join(lines) + "\n"


def replay(tree, records, change_sets) -> Model:
    model = Model(tree, records)
    for day, ops in change_sets:
        for op in ops:
            if op[0] == "merge":
                model.merge(op[1], op[2], day)
            elif op[0] == "move":
                model.move(op[1], op[2], day)
            else:
                model.do_split(op[1], (op[2], op[3]), day)
    return model


# -- the system ------------------------------------------------------------------------------------------------------


@pytest.fixture
def structure_db(tmp_path, database_url):
    root = tmp_path / "config"
    for rel, text in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    (root / "roles_config/restructurings").mkdir(parents=True)

    async def migrate():
        rt = Runtime.create(root, database_url)
        await rt.db.start()
        plan = await make_plan(rt.db, rt.config, rt.registry)
        await apply_plan(rt.db, rt.config, rt.registry, plan, applied_by="test")
        await rt.db.close()

    asyncio.run(migrate())
    return root, database_url


async def load(rt, root, tree, records, change_sets) -> dict[int, str]:
    db = rt.db
    async with db.transaction():
        for table in ("case", "hoso_unit_edge", "hoso_unit_lineage", "hoso_unit_closure", "hoso_restructuring",
                      "hoso_unit"):
            await db.execute(f'DELETE FROM "{table}"')
        for code, typ, parent in tree:
            pid = None if parent is None else await db.fetchval("SELECT id FROM hoso_unit WHERE code = {}", parent)
            await db.execute("INSERT INTO hoso_unit (code, name_vi, type, parent_id, valid_from) "
                             "VALUES ({}, {}, {}, {}, {})", code, code, typ, pid, dt.date(2019, 1, 1))
        await sync_unit_edges(db)
        await rebuild_closure(db)
        ids = {r["code"]: r["id"] for r in await db.fetch("SELECT id, code FROM hoso_unit")}
        for unit, village in records:
            await db.execute('INSERT INTO "case" (unit, village, sys_version) VALUES ({}, {}, 1)', ids[unit], village)
    for day, ops in change_sets:
        if ops:
            path = root / f"roles_config/restructurings/cs-{day.isoformat()}.yaml"
            path.write_text(change_set_text(day, ops), encoding="utf-8")
            await apply(rt, path, applied_by="test")
    return {v: k for k, v in ids.items()}


async def counted(rt, names, structure, day, level) -> Counter:
    rel, args = await unit_groups(rt, level=level, structure=structure, on=day)
    col = "t.unit" if structure == "recorded" else "COALESCE(t.sys_scope_unit, t.unit)"
    rows = await rt.db.fetch(f'SELECT g.group_id AS g, COUNT(*) AS n FROM "case" t JOIN {rel} g ON g.unit_id = {col} '
                             "GROUP BY g.group_id", *args)
    return Counter({names.get(r["g"]): int(r["n"]) for r in rows})


# Two restructurings in a row: X000 split into X001 and X010 (D1), then X001 merged into X002 and its district
# D00 merged into D01 (D2): a record split to X001 counts, mapped after D2, under X002 in D01.
TWICE = ([("P0", "province", None), ("D00", "district", "P0"), ("X000", "commune", "D00"),
          ("X001", "commune", "D00"), ("D01", "district", "P0"), ("X010", "commune", "D01"),
          ("X002", "commune", "D01"), ("P1", "province", None), ("D10", "district", "P1"),
          ("X100", "commune", "D10")],
         [("X000", "A"), ("X000", "B"), ("X000", "C"), ("X001", "A"), ("D00", "A"), ("X100", "B")],
         [(D1, [("split", "X000", "X001", "X010"), ("move", "D10", "P0")]),
          (D2, [("merge", "X001", "X002"), ("merge", "D00", "D01")])])


@pytest.mark.slow
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@example(world=TWICE)
@given(world=worlds())
def test_unit_groups_count_like_the_model(structure_db, world):
    root, url = structure_db
    tree, records, change_sets = world
    model = replay(tree, records, change_sets)

    async def run():
        rt = Runtime.create(root, url)
        await rt.db.start()
        try:
            names = await load(rt, root, tree, records, change_sets)
            for level in (None, *LEVELS):
                for day in DATES:
                    for structure in ("recorded", day):
                        got = await counted(rt, names, structure, day, level)
                        want = model.expected(structure, day, level)
                        assert got == want, f"{structure} on {day} at level {level}: {dict(got)} != {dict(want)}"
        finally:
            await rt.db.close()

    asyncio.run(run())


async def test_unit_groups_refuse_an_unknown_level_or_structure(structure_db):
    from hoso.reports.model import ReportError

    root, url = structure_db
    rt = Runtime.create(root, url)
    await rt.db.start()
    try:
        with pytest.raises(ReportError) as err:
            await unit_groups(rt, level="centre", structure="recorded", on=D1)
        assert err.value.problems[0][0] == "level" and "province, district, commune" in err.value.problems[0][1]
        with pytest.raises(ReportError) as err:
            await unit_groups(rt, level=None, structure="2025-13-01", on=D1)
        assert err.value.problems[0][0] == "structure" and "'2025-13-01'" in err.value.problems[0][1]
    finally:
        await rt.db.close()
