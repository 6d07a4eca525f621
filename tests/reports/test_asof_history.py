"""Record history: every kind of write adds a version in its own transaction, and a report's source as of a
past moment gives each record as it stood then (both engines)."""

from __future__ import annotations

import datetime as dt

import pytest

from hoso.model.history import history_table
from hoso.records.errors import Forbidden, ValidationError
from hoso.reports.model import ReportError
from hoso.reports.source import child_source, records_source
from hoso.restructure.run import apply
from tests.helpers import migrated_runtime
from tests.records.conftest import World, records_config, world  # noqa: F401 - fixtures
from tests.restructure.conftest import rs_config  # noqa: F401 - fixture
from tests.restructure.support import add_case, change_set, unit_id
from tests.restructure.test_operations import SPLIT


async def versions(rt, record_id: int, table: str = "case") -> list[dict]:
    return await rt.db.fetch(f'SELECT * FROM "{history_table(table)}" WHERE id = {{}} ORDER BY sys_history_id',
                             record_id)


async def as_of(rt, when: dt.datetime | None, entity: str = "case") -> dict[int, dict]:
    src, args = await records_source(rt, rt.config.entity(entity), when)
    return {r["id"]: r for r in await rt.db.fetch(f"SELECT t.* FROM {src} t ORDER BY t.id", *args)}


def stamp(v):
    from hoso.records.context import as_datetime

    return as_datetime(v) if isinstance(v, str) else v


async def test_each_kind_of_write_closes_the_current_version_and_adds_one(world: World):  # noqa: F811 - the fixture
    svc, rt = world.svc, world.rt
    ctx = world.ctx("director")
    rec = await svc.create("case", world.case(requester="An", age=30), ctx)
    rid = rec["id"]
    vs = await versions(rt, rid)
    assert len(vs) == 1 and vs[0]["sys_valid_to"] is None and vs[0]["requester"] == "An"
    assert vs[0]["sys_version"] == 1 and vs[0]["unit"] == world.units["TT"]

    rec = await svc.update("case", rid, {"age": 31, "hearings": [{"held_on": "2025-04-01", "court": "A"}]},
                           rec["sys_version"], ctx)
    rec = await svc.transition("case", rid, "accept", {"accepted_on": "2025-03-04"}, rec["sys_version"], ctx)
    rec = await svc.delete("case", rid, "nhập trùng", rec["sys_version"], ctx)
    rec = await svc.restore("case", rid, ctx)
    vs = await versions(rt, rid)
    assert [v["sys_version"] for v in vs] == [1, 2, 3, 4, 5]
    assert [v["age"] for v in vs] == [30, 31, 31, 31, 31]
    assert [v["status"] for v in vs] == ["received", "received", "accepted", "accepted", "accepted"]
    assert [v["sys_deleted_at"] is not None for v in vs] == [False, False, False, True, False]
    assert vs[3]["sys_delete_reason"] == "nhập trùng"
    # Each version ends where the next begins; only the last is open.
    for a, b in zip(vs, vs[1:], strict=False):
        assert a["sys_valid_to"] is not None and stamp(a["sys_valid_to"]) == stamp(b["sys_valid_from"])
        assert stamp(a["sys_valid_from"]) <= stamp(a["sys_valid_to"])
    assert vs[-1]["sys_valid_to"] is None
    # An update that changes nothing adds no version.
    await svc.update("case", rid, {"age": 31}, rec["sys_version"], ctx)
    assert len(await versions(rt, rid)) == 5


async def test_a_write_that_fails_leaves_no_version(world: World):  # noqa: F811 - the fixture
    svc, rt = world.svc, world.rt
    staff = world.ctx("staff")
    rec = await svc.create("case", world.case(), staff)
    before = await versions(rt, rec["id"])
    # Refused after its UPDATE ran (moving the record out of the writer's scope): the version goes with it.
    with pytest.raises((Forbidden, ValidationError)):
        await svc.update("case", rec["id"], {"unit": world.units["TT3"]}, rec["sys_version"], staff)
    assert await versions(rt, rec["id"]) == before
    # Refused by validation before writing.
    with pytest.raises(ValidationError):
        await svc.update("case", rec["id"], {"age": 500}, rec["sys_version"], staff)
    assert await versions(rt, rec["id"]) == before
    # A create refused after its INSERT (a unit out of scope) leaves no version of any record.
    total = await rt.db.fetchval(f'SELECT COUNT(*) AS n FROM "{history_table("case")}"')
    with pytest.raises((Forbidden, ValidationError)):
        await svc.create("case", world.case("TT3"), staff)
    assert await rt.db.fetchval(f'SELECT COUNT(*) AS n FROM "{history_table("case")}"') == total


async def test_records_source_as_of_moments_between_writes(world: World):  # noqa: F811 - the fixture
    svc, rt = world.svc, world.rt
    ctx = world.ctx("director")
    t0 = dt.datetime.now(dt.UTC)
    a = await svc.create("case", world.case(requester="A", age=20), ctx)
    b = await svc.create("case", world.case(requester="B", age=50), ctx)
    t1 = dt.datetime.now(dt.UTC)
    a = await svc.update("case", a["id"], {"age": 21}, a["sys_version"], ctx)
    b = await svc.delete("case", b["id"], "sai", b["sys_version"], ctx)
    t2 = dt.datetime.now(dt.UTC)
    c = await svc.create("case", world.case(requester="C"), ctx)
    t3 = dt.datetime.now(dt.UTC)

    assert await as_of(rt, t0) == {}
    at1 = await as_of(rt, t1)
    assert sorted(at1) == [a["id"], b["id"]]
    assert at1[a["id"]]["age"] == 20 and at1[b["id"]]["sys_deleted_at"] is None
    at2 = await as_of(rt, t2)
    assert at2[a["id"]]["age"] == 21 and at2[b["id"]]["sys_deleted_at"] is not None and c["id"] not in at2
    at3 = await as_of(rt, t3)
    live = await as_of(rt, None)
    # The source has the live table's columns (sys_search aside), and now it holds what the table holds.
    assert set(dict(at3[a["id"]]).keys()) == set(dict(live[a["id"]]).keys())
    for rid in live:
        assert {k: v for k, v in at3[rid].items() if k != "sys_search"} == {
            k: v for k, v in live[rid].items() if k != "sys_search"}
    # A time without a zone is read in Vietnam's time: t1 there is the same moment.
    naive_local = t1.astimezone(dt.timezone(dt.timedelta(hours=7))).replace(tzinfo=None)
    assert sorted(await as_of(rt, naive_local)) == sorted(at1)


async def test_a_restructuring_split_versions_the_moved_records(rs_config, database_url):  # noqa: F811
    rt = await migrated_runtime(rs_config.load(), database_url)
    try:
        a = await add_case(rt, "X311", commune="Thôn A")
        b = await add_case(rt, "X311", commune="Thôn B")
        other = await add_case(rt, "X312")
        before = dt.datetime.now(dt.UTC)
        await apply(rt, change_set(rs_config, SPLIT + "        default: X312\n"), batch_size=1)
        x312, x321 = await unit_id(rt, "X312"), await unit_id(rt, "X321")
        for rid, scope in ((a, x312), (b, x321)):
            vs = await versions(rt, rid)
            assert [v["sys_scope_unit"] for v in vs] == [None, scope]
            assert vs[0]["sys_valid_to"] is not None and vs[1]["sys_valid_to"] is None
        assert len(await versions(rt, other)) == 1
        # As of before the split, the records answer to the split unit; now, to their successors.
        then = await as_of(rt, before)
        assert then[a]["sys_scope_unit"] is None and then[b]["sys_scope_unit"] is None
        now = await as_of(rt, dt.datetime.now(dt.UTC))
        assert now[a]["sys_scope_unit"] == x312 and now[b]["sys_scope_unit"] == x321
    finally:
        await rt.db.close()


async def test_records_source_without_history_names_as_of(world: World):  # noqa: F811 - the fixture
    await world.rt.db.execute(f'DROP TABLE "{history_table("case")}"')
    with pytest.raises(ReportError) as err:
        await records_source(world.rt, world.rt.config.entity("case"), dt.datetime.now(dt.UTC))
    assert err.value.problems[0][0] == "as_of"
    src, args = await records_source(world.rt, world.rt.config.entity("case"), None)
    assert src == '"case"' and args == ()


async def test_child_rows_are_versioned_with_their_record(world: World):  # noqa: F811 - the fixture
    svc, rt = world.svc, world.rt
    ctx = world.ctx("director")
    entity = rt.config.entity("case")

    async def hearings_at(when):
        src, args = await child_source(rt, entity, "hearings", when)
        return [(r["parent_id"], r["position"], str(r["held_on"]), r["court"]) for r in await rt.db.fetch(
            f"SELECT t.* FROM {src} t ORDER BY t.parent_id, t.position", *args)]

    rec = await svc.create("case", world.case(hearings=[{"held_on": "2025-04-01", "court": "A"}]), ctx)
    other = await svc.create("case", world.case(hearings=[{"held_on": "2025-04-02", "court": "Z"}]), ctx)
    t1 = dt.datetime.now(dt.UTC)
    row = rec["hearings"][0]
    rec = await svc.update("case", rec["id"], {"hearings": [{"id": row["id"], "held_on": "2025-04-01", "court": "B"},
                                                          {"held_on": "2025-05-01", "court": "C"}]},
                           rec["sys_version"], ctx)
    t2 = dt.datetime.now(dt.UTC)
    # An update of other fields leaves the child rows' versions alone.
    rec = await svc.update("case", rec["id"], {"age": 33}, rec["sys_version"], ctx)
    rec = await svc.update("case", rec["id"], {"hearings": []}, rec["sys_version"], ctx)
    t3 = dt.datetime.now(dt.UTC)
    a, o = rec["id"], other["id"]
    assert await hearings_at(t1) == [(a, 0, "2025-04-01", "A"), (o, 0, "2025-04-02", "Z")]
    assert await hearings_at(t2) == [(a, 0, "2025-04-01", "B"), (a, 1, "2025-05-01", "C"), (o, 0, "2025-04-02", "Z")]
    assert await hearings_at(t3) == [(o, 0, "2025-04-02", "Z")] == await hearings_at(None)
    hist = history_table(entity.child_table_name("hearings"))
    assert await rt.db.fetchval(f'SELECT COUNT(*) AS n FROM "{hist}" WHERE parent_id = {{}}', a) == 3


async def test_an_attachment_upload_adds_a_version(world: World):  # noqa: F811 - the fixture
    svc, rt = world.svc, world.rt
    ctx = world.ctx("director")
    rec = await svc.create("case", world.case(), ctx)

    async def body():
        yield "%PDF-1.4 bản scan".encode()

    info = await svc.upload("case", rec["id"], "scan", "scan.pdf", "application/pdf", body(), ctx)
    vs = await versions(rt, rec["id"])
    assert [v["scan"] for v in vs] == [None, info.id]
    assert [v["sys_version"] for v in vs] == [1, 2] and vs[0]["sys_valid_to"] is not None
