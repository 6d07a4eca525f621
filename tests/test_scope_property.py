"""Property: for random unit trees, role assignments and records, the SQL scope predicate returns exactly the
rows a brute-force oracle allows; again after a random restructuring (merges through lineage, split records).

Runs on both engines. The oracle walks the tree and lineage in Python; the system under test never does.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import textwrap

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hoso.config import load_config
from hoso.model.migrate import apply_plan, make_plan
from hoso.runtime import Runtime
from hoso.scope import Actor, rebuild_closure
from tests.helpers import examples

TODAY = dt.date(2026, 1, 15)
ROLES = {
    "r_national": "national",
    "r_subtree": "subtree",
    "r_unit": "unit",
    "r_own": "own",
    "r_assigned": "assigned",
    "r_stats": "statistics",
    "r_link": "link",  # scope {field: firm, to: member.firm}: the items of the user's firms, within the subtree
}
ROLE_NAMES = [*ROLES, "r_other"]


def write_config(root):
    files = {
        "forms_config/entities/item.yaml": """
            entity: item
            label: {vi: Hồ sơ}
            unit_field: unit
            fields:
              title: {type: text, label: {vi: Tên}}
              unit: {type: org_unit, label: {vi: Đơn vị}}
              owner: {type: user, label: {vi: Người thực hiện}}
              firm: {type: reference, entity: firm, label: {vi: Tổ chức}}
        """,
        "forms_config/entities/firm.yaml": """
            entity: firm
            label: {vi: Tổ chức}
            fields:
              name: {type: text, label: {vi: Tên}}
        """,
        "forms_config/entities/member.yaml": """
            entity: member
            label: {vi: Thành viên}
            fields:
              account: {type: user, label: {vi: Tài khoản}}
              firm: {type: reference, entity: firm, label: {vi: Tổ chức}}
        """,
        "forms_config/entities/note.yaml": """
            entity: note
            label: {vi: Ghi chú}
            fields:
              body: {type: text, label: {vi: Nội dung}}
        """,
        "roles_config/roles/r_other.yaml": """
            role: r_other
            label: {vi: Khác}
            grants:
              - {entity: note, scope: national, actions: [read]}
        """,
    }
    for name, scope in ROLES.items():
        if scope == "link":
            scope = "{field: firm, to: member.firm}"
        files[f"roles_config/roles/{name}.yaml"] = f"""
            role: {name}
            label: {{vi: {name}}}
            grants:
              - {{entity: item, scope: {scope}, actions: [read, run_reports]}}
        """
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return load_config(root)


@st.composite
def worlds(draw):
    n_units = draw(st.integers(2, 12))
    parents = [None] + [draw(st.integers(0, i - 1)) for i in range(1, n_units)]
    n_users = draw(st.integers(1, 5))
    assignments = []
    for user in range(1, n_users + 1):
        for _ in range(draw(st.integers(0, 3))):
            start = TODAY + dt.timedelta(days=draw(st.integers(-20, 5)))
            length = draw(st.one_of(st.none(), st.integers(1, 30)))
            end = None if length is None else start + dt.timedelta(days=length)
            assignments.append((user, draw(st.sampled_from(ROLE_NAMES)), draw(st.integers(0, n_units - 1)), start, end))
    n_firms = draw(st.integers(1, 3))
    records = [
        (draw(st.integers(0, n_units - 1)), draw(st.one_of(st.none(), st.integers(1, n_users))),
         draw(st.one_of(st.none(), st.integers(1, n_users))), draw(st.one_of(st.none(), st.integers(0, n_firms - 1))))
        for _ in range(draw(st.integers(0, 20)))
    ]
    # Members: (user, firm or None, deleted): the records that say which firms a user belongs to.
    members = [(draw(st.integers(1, n_users)), draw(st.one_of(st.none(), st.integers(0, n_firms - 1))),
                draw(st.booleans())) for _ in range(draw(st.integers(0, 5)))]
    # Merges go from a later unit into an earlier one, so lineage never makes a cycle with the tree.
    merges = []
    for _ in range(draw(st.integers(0, 3))):
        pred = draw(st.integers(1, n_units - 1))
        succ = draw(st.integers(0, pred - 1))
        merges.append((pred, succ))
    splits = [(i, draw(st.integers(0, n_units - 1))) for i in range(len(records)) if draw(st.booleans()) and
              draw(st.integers(0, 4)) == 0]
    return {"parents": parents, "users": n_users, "assignments": assignments, "records": records,
            "merges": merges, "splits": dict(splits), "firms": n_firms, "members": members}


def oracle(world, user, lineage=False):
    """Record indexes ``user`` may read, by walking the structure in Python."""
    parents = world["parents"]
    children = {i: [j for j, p in enumerate(parents) if p == i] for i in range(len(parents))}
    merged = {i: [p for p, s in world["merges"] if s == i] for i in range(len(parents))} if lineage else {}

    def reach(u, tree=True):
        seen, stack = set(), [u]
        while stack:
            x = stack.pop()
            if x in seen:
                continue
            seen.add(x)
            stack += merged.get(x, [])
            if tree:
                stack += children[x]
        return seen

    firms_of_user = {f for (u, f, deleted) in world.get("members", ()) if u == user and f is not None and not deleted}
    visible = set()
    for (uid, role, unit, start, end) in world["assignments"]:
        if uid != user or not (start <= TODAY and (end is None or end > TODAY)):
            continue
        scope = ROLES.get(role)
        for i, (runit, creator, owner, firm) in enumerate(world["records"]):
            answering = world["splits"].get(i, runit) if lineage else runit
            if (scope == "national"
                    or (scope == "subtree" and answering in reach(unit))
                    or (scope == "link" and answering in reach(unit) and firm in firms_of_user)
                    or (scope == "unit" and answering in reach(unit, tree=False))
                    or (scope == "own" and creator == user)
                    or (scope == "assigned" and owner == user)):
                visible.add(i)
    return visible


async def load_world(rt, world):
    db = rt.db
    async with db.transaction():
        for table in ("item", "member", "firm", "hoso_assignment", "hoso_unit_lineage", "hoso_unit"):
            await db.execute(f'DELETE FROM "{table}"')
        for f in range(world.get("firms", 0)):
            await db.execute('INSERT INTO "firm" (id, name, sys_version) VALUES ({}, {}, 1)', f + 1, f"Tổ chức {f}")
        for k, (user, firm, deleted) in enumerate(world.get("members", ())):
            await db.execute('INSERT INTO "member" (id, account, firm, sys_version, sys_deleted_at) '
                             "VALUES ({}, {}, {}, 1, {})", k + 1, user, None if firm is None else firm + 1,
                             dt.datetime.now(dt.UTC) if deleted else None)
        for i, parent in enumerate(world["parents"]):
            await db.execute("INSERT INTO hoso_unit (id, code, name_vi, type, parent_id) VALUES ({}, {}, {}, {}, {})",
                             i + 1, f"U{i}", f"Đơn vị {i}", "unit", None if parent is None else parent + 1)
        for (uid, role, unit, start, end) in world["assignments"]:
            await db.execute("INSERT INTO hoso_assignment (user_id, role, unit_id, starts_on, ends_on, created_at) "
                             "VALUES ({}, {}, {}, {}, {}, {})", uid, role, unit + 1, start, end,
                             dt.datetime.now(dt.UTC))
        for i, (unit, creator, owner, firm) in enumerate(world["records"]):
            await db.execute('INSERT INTO "item" (id, title, unit, owner, firm, sys_created_by, sys_version) '
                             "VALUES ({}, {}, {}, {}, {}, {}, 1)", i + 1, f"r{i}", unit + 1, owner,
                             None if firm is None else firm + 1, creator)
        await rebuild_closure(db)


async def restructure(rt, world):
    db = rt.db
    async with db.transaction():
        for pred, succ in world["merges"]:
            await db.execute("INSERT INTO hoso_unit_lineage (unit_id, kind, other_id, effective_on) "
                             "VALUES ({}, 'merged_into', {}, {})", pred + 1, succ + 1, TODAY)
            await db.execute("UPDATE hoso_unit SET valid_to = {} WHERE id = {}", TODAY, pred + 1)
        for i, unit in world["splits"].items():
            await db.execute('UPDATE "item" SET sys_scope_unit = {} WHERE id = {}', unit + 1, i + 1)
        await rebuild_closure(db)


async def read_paths(rt, actor):
    """Every read path available at this layer, each returning the visible record indexes."""
    entity = rt.config.entity("item")
    pred = rt.scope.predicate(actor, "read", entity)
    rows = await rt.db.fetch(f'SELECT t.id FROM "item" t WHERE {pred.sql} ORDER BY t.id', *pred.args)
    by_list = {r["id"] - 1 for r in rows}
    count = await rt.db.fetchval(f'SELECT COUNT(*) AS n FROM "item" t WHERE {pred.sql}', *pred.args)
    by_id = set()
    for i in range(len(await rt.db.fetch('SELECT id FROM "item"'))):
        hit = await rt.db.fetch(f'SELECT t.id FROM "item" t WHERE t.id = {{}} AND ({pred.sql})', i + 1, *pred.args)
        if hit:
            by_id.add(i)
    assert count == len(by_list)
    paths = {"list": by_list, "by_id": by_id}
    # The record service: every API, admin and export read goes through it.
    from hoso.records.errors import Forbidden
    from hoso.records.service import NotFound, RecordContext

    ctx = RecordContext(rt.config, actor.user_id, actor.username, "test", superuser=actor.superuser, on=actor.on)
    svc = rt.records()
    if actor.superuser or actor.user_id is not None:
        try:
            rows, total = await svc.list("item", ctx, page_size=1000)
        except Forbidden:  # a user with no read grant at all is refused outright
            rows, total = [], 0
        assert total == len(rows)
        paths["service list"] = {r["id"] - 1 for r in rows}
        got = set()
        for row in await rt.db.fetch('SELECT id FROM "item"'):
            try:
                await svc.get("item", row["id"], ctx)
                got.add(row["id"] - 1)
            except NotFound:
                pass
        paths["service get"] = got
    return paths


@pytest.fixture
def property_db(tmp_path, database_url):
    config = write_config(tmp_path / "config")

    async def migrate():
        rt = Runtime.create(config, database_url)
        await rt.db.start()
        plan = await make_plan(rt.db, rt.config, rt.registry)
        await apply_plan(rt.db, rt.config, rt.registry, plan, applied_by="test")
        await rt.db.close()

    asyncio.run(migrate())
    return config, database_url


# A world the random ones reach only rarely: a firm scope through a deleted membership and through a live one.
LINK_WORLD = {"parents": [None, 0, None], "users": 2, "firms": 3,
              "assignments": [(1, "r_link", 0, TODAY - dt.timedelta(days=3), None)],
              "records": [(1, None, None, 0), (1, None, None, 1), (2, None, None, 1), (0, None, None, None)],
              "members": [(1, 0, True), (1, 1, False), (2, 2, False), (1, None, False)],
              "merges": [(2, 0)], "splits": {}}


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@example(world=LINK_WORLD)
@given(world=worlds())
def test_every_read_path_matches_the_oracle(property_db, world):
    config, url = property_db

    async def run():
        rt = Runtime.create(config, url)
        await rt.db.start()
        try:
            await load_world(rt, world)
            for phase, lineage in (("before", False), ("after restructuring", True)):
                if lineage:
                    await restructure(rt, world)
                for user in range(1, world["users"] + 1):
                    expected = oracle(world, user, lineage=lineage)
                    got = await read_paths(rt, Actor(user, f"u{user}", on=TODAY))
                    for path, rows in got.items():
                        assert rows == expected, f"{phase}, user {user}, path {path}: {rows} != {expected}"
                # Nobody, and statistics-only users, see no rows; a superuser sees all.
                assert (await read_paths(rt, Actor(None, "anonymous", on=TODAY)))["list"] == set()
                everything = set(range(len(world["records"])))
                assert (await read_paths(rt, Actor(None, "root", superuser=True)))["list"] == everything
        finally:
            await rt.db.close()

    asyncio.run(run())


def test_statistics_scope_never_yields_rows(tmp_path):
    config = write_config(tmp_path / "c")
    rules = Runtime.create(config, f"sqlite:///{tmp_path / 'x.db'}").scope
    pred = rules.predicate(Actor(1, "u", on=TODAY), "read", config.entity("item"))
    assert "r_stats" not in " ".join(map(str, pred.args)), "statistics roles must not widen row access"
    assert rules.may(Actor(1, "u"), "run_reports", "item")


async def test_closure_rebuild_terminates_on_a_lineage_cycle(tmp_path, database_url):
    """A lineage loop must not hang the rebuild (restructuring refuses such loops; this is the backstop)."""
    config = write_config(tmp_path / "c")
    rt = Runtime.create(config, database_url)
    await rt.db.start()
    try:
        plan = await make_plan(rt.db, rt.config, rt.registry)
        await apply_plan(rt.db, rt.config, rt.registry, plan, applied_by="test")
        world = {"parents": [None, 0, 1], "assignments": [], "records": [], "merges": [], "splits": {}}
        await load_world(rt, world)
        # U0 merged into its own grandchild U2: U2 -> U0 (lineage) -> U1 -> U2 (tree) is a loop.
        await rt.db.execute("INSERT INTO hoso_unit_lineage (unit_id, kind, other_id, effective_on) "
                            "VALUES (1, 'merged_into', 3, {})", TODAY)
        n = await asyncio.wait_for(rebuild_closure(rt.db), timeout=30)
        assert n == 9  # every unit reaches every unit through the loop
    finally:
        await rt.db.close()
