"""The scope predicate of a user whose assignments are known has only the branches of the roles they hold, with
their units bound as values (so the planner can use the index on the effective unit), and the record service
loads those holdings once per operation (reference configuration, both engines; exactness against an oracle is
in tests/test_scope_property.py)."""

from __future__ import annotations

import datetime as dt

from hoso.config import load_config
from hoso.records import access as access_module
from hoso.records.access import Access
from hoso.records.service import RecordContext
from hoso.runtime import Runtime
from hoso.scope import Actor, holdings_on, load_holdings
from tests.helpers import migrated_runtime
from tests.restructure.support import add_user, assign, unit_id
from tests.test_scope_property import TODAY, load_world, oracle, property_db, read_paths, restructure

__all__ = ["property_db"]  # the fixture, shared with the property test


async def add_case(rt, unit_code: str) -> int:
    """A case of ``unit_code`` written directly (test data: the scope, not the form, is under test)."""
    n = int(await rt.db.fetchval('SELECT COUNT(*) AS n FROM "case"') or 0) + 1
    return await rt.db.fetchval(
        'INSERT INTO "case" (code, received_on, request_channel, requester_name, beneficiary_groups, field_of_law, '
        "form_of_aid, status, unit, sys_version) VALUES ({}, {}, 'in_person', {}, '[\"TE\"]', 'DS', 'TV', "
        "'received', {}, 1) RETURNING id", f"C{n}", dt.date(2024, 5, 1), f"Người {n}", await unit_id(rt, unit_code))


async def test_a_centre_staff_predicate_binds_its_units_and_reads_no_assignment(reference_config_dir,
                                                                                  database_url):
    rt = await migrated_runtime(load_config(reference_config_dir), database_url)
    try:
        tt01 = await unit_id(rt, "TT-01")
        staff = await add_user(rt, "nhanvien", "TT-01")
        await assign(rt, staff, "centre_staff", "TT-01")
        mine = sorted([await add_case(rt, "TT-01"), await add_case(rt, "TT-01")])
        await add_case(rt, "TT-02")
        case = rt.config.entity("case")
        held = await holdings_on(rt.db, staff, dt.date.today())
        assert held == frozenset({("centre_staff", tt01)})

        per_user = rt.scope.predicate(Actor(staff, "nhanvien", holdings=held), "read", case)
        assert "hoso_assignment" not in per_user.sql
        assert per_user.args == (tt01,)
        old = rt.scope.predicate(Actor(staff, "nhanvien"), "read", case)
        assert "hoso_assignment" in old.sql
        for pred in (per_user, old):
            rows = await rt.db.fetch(f'SELECT t.id FROM "case" t WHERE {pred.sql} ORDER BY t.id', *pred.args)
            assert [r["id"] for r in rows] == mine
    finally:
        await rt.db.close()


async def test_holding_no_role_that_grants_the_action_reads_nothing(reference_config_dir, database_url):
    rt = await migrated_runtime(load_config(reference_config_dir), database_url)
    try:
        case = rt.config.entity("case")
        nobody = rt.scope.predicate(Actor(7, "x", holdings=frozenset()), "read", case)
        assert nobody.is_false
        unknown = rt.scope.predicate(Actor(7, "x", holdings=frozenset({("no_such_role", 1)})), "read", case)
        assert unknown.is_false
    finally:
        await rt.db.close()


async def test_an_operation_loads_the_holdings_once(reference_config_dir, database_url, monkeypatch):
    rt = await migrated_runtime(load_config(reference_config_dir), database_url)
    try:
        staff = await add_user(rt, "nhanvien", "TT-01")
        await assign(rt, staff, "centre_staff", "TT-01")
        first = await add_case(rt, "TT-01")
        other = await add_case(rt, "TT-02")
        calls: list[int] = []

        async def counted(db, rules, user_id, on):
            calls.append(user_id)
            return await load_holdings(db, rules, user_id, on)

        monkeypatch.setattr(access_module, "load_holdings", counted)
        access = Access(rt, RecordContext(rt.config, staff, "nhanvien", "test"))
        case = rt.config.entity("case")
        assert await access.row_allows("read", case, first)
        assert not await access.row_allows("read", case, other)
        assert await access.hidden(case) is not None
        assert "hoso_assignment" not in access.predicate("update", case).sql
        assert calls == [staff]
    finally:
        await rt.db.close()


# A unit role and a subtree role over a parent and its child unit, a merge into the parent: the per-user branches
# keep "unit" to the unit itself (and what was merged into it) and "subtree" to everything below.
DEPTH_WORLD = {"parents": [None, 0, 1, None], "users": 2, "firms": 1,
               "assignments": [(1, "r_unit", 0, TODAY - dt.timedelta(days=3), None),
                               (2, "r_subtree", 1, TODAY - dt.timedelta(days=3), None),
                               (2, "r_unit", 3, TODAY + dt.timedelta(days=3), None)],
               "records": [(0, None, None, None), (1, None, None, None), (2, None, None, None),
                           (3, None, None, None)],
               "members": [], "merges": [(3, 0)], "splits": {}}


async def test_per_user_unit_and_subtree_branches_match_the_oracle(property_db):
    config, url = property_db
    rt = Runtime.create(config, url)
    await rt.db.start()
    try:
        await load_world(rt, DEPTH_WORLD)
        for lineage in (False, True):
            if lineage:
                await restructure(rt, DEPTH_WORLD)
            for user in (1, 2):
                held = await holdings_on(rt.db, user, TODAY)
                got = await read_paths(rt, Actor(user, f"u{user}", on=TODAY, holdings=held))
                expected = oracle(DEPTH_WORLD, user, lineage=lineage)
                assert got["list"] == got["service list"] == expected, (lineage, user, got, expected)
    finally:
        await rt.db.close()
