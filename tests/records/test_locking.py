"""No lost updates: versions, 409 on a stale version, concurrent writers; soft delete and restore."""

from __future__ import annotations

import asyncio

import pytest

from hoso.hookspecs import hookimpl
from hoso.records.service import Forbidden, NotFound, StaleVersion, ValidationError
from tests.helpers import migrated_runtime


async def test_stale_update_is_refused_with_the_current_version(world):
    w = world
    rec = await w.svc.create("case", w.case(), w.ctx("staff"))
    first = await w.svc.update("case", rec["id"], {"note": "một"}, 1, w.ctx("staff"))
    assert first["sys_version"] == 2
    with pytest.raises(StaleVersion) as exc:
        await w.svc.update("case", rec["id"], {"note": "hai"}, 1, w.ctx("director"))
    assert exc.value.current == 2
    assert (await w.svc.get("case", rec["id"], w.ctx("staff")))["note"] == "một"
    # An update that changes nothing makes no new version.
    same = await w.svc.update("case", rec["id"], {"note": "một"}, 2, w.ctx("staff"))
    assert same["sys_version"] == 2
    assert await w.count("hoso_audit", "WHERE entity = 'case' AND action = 'update'") == 1


class _Slow:
    """Keeps each writer inside its transaction for a while, so the writers really overlap."""

    @hookimpl
    async def hoso_validate_record(self, entity, values, context):
        await asyncio.sleep(0.3)


async def test_concurrent_updates_with_the_same_version_one_wins(records_config, database_url, engine_name):
    rt = await migrated_runtime(records_config.load(), database_url, plugins=[_Slow()])
    try:
        svc = rt.records()
        from hoso.records.service import RecordContext

        ctx = RecordContext.system(rt.config)
        unit = await rt.db.fetchval("SELECT id FROM hoso_unit WHERE code = 'TT'")
        rec = await svc.create("case", {"received_on": "2025-03-03", "form_of_aid": "TV", "requester": "An",
                                        "unit": unit}, ctx)

        async def write(note):
            # Each task runs its own transaction on its own pooled connection (PostgreSQL) or file handle.
            try:
                return await rt.records().update("case", rec["id"], {"note": note}, 1, ctx)
            except StaleVersion as exc:
                return exc

        results = await asyncio.gather(write("A"), write("B"), write("C"))
        wins = [r for r in results if isinstance(r, dict)]
        losses = [r for r in results if isinstance(r, StaleVersion)]
        assert len(wins) == 1 and len(losses) == 2, results
        assert all(e.current == 2 for e in losses)
        final = await svc.get("case", rec["id"], ctx)
        assert final["sys_version"] == 2 and final["note"] == wins[0]["note"]
        assert await rt.db.fetchval("SELECT COUNT(*) AS n FROM hoso_audit WHERE action = 'update'") == 1
        if engine_name == "postgres":
            assert rt.db.engine.pool is not None, "the writers used the connection pool"
    finally:
        await rt.db.close()


async def test_soft_delete_with_reason_and_restore_by_a_higher_role(world):
    w = world
    rec = await w.svc.create("case", w.case(), w.ctx("staff"))
    with pytest.raises(ValidationError) as exc:
        await w.svc.delete("case", rec["id"], "  ", 1, w.ctx("clerk"))
    assert exc.value.problems == [("reason", "a reason for deleting is required")]
    with pytest.raises(StaleVersion):
        await w.svc.delete("case", rec["id"], "trùng", 7, w.ctx("clerk"))
    gone = await w.svc.delete("case", rec["id"], "hồ sơ trùng", 1, w.ctx("clerk"))
    assert gone["sys_delete_reason"] == "hồ sơ trùng" and gone["sys_deleted_by"] == w.users["clerk"]
    assert gone["sys_version"] == 2
    assert await w.count() == 1, "soft: the row stays"
    for user in ("staff", "clerk", "director"):
        with pytest.raises(NotFound):
            await w.svc.get("case", rec["id"], w.ctx(user))
        assert (await w.svc.list("case", w.ctx(user)))[1] == 0
    with pytest.raises(NotFound):
        await w.svc.update("case", rec["id"], {"note": "x"}, 2, w.ctx("director"))
    # The clerk may delete but not restore; the director may see deleted records and restore them.
    with pytest.raises(NotFound):
        await w.svc.restore("case", rec["id"], w.ctx("clerk"))
    trash, total = await w.svc.list("case", w.ctx("director"), deleted=True)
    assert total == 1 and trash[0]["sys_delete_reason"] == "hồ sơ trùng"
    assert (await w.svc.get("case", rec["id"], w.ctx("director"), include_deleted=True))["sys_deleted_at"]
    back = await w.svc.restore("case", rec["id"], w.ctx("director"))
    assert back["sys_deleted_at"] is None and back["sys_delete_reason"] is None and back["sys_version"] == 3
    assert (await w.svc.get("case", rec["id"], w.ctx("staff")))["id"] == rec["id"]
    with pytest.raises(NotFound):  # not deleted any more
        await w.svc.restore("case", rec["id"], w.ctx("director"))
    actions = [h["action"] for h in await w.svc.history("case", rec["id"], w.ctx("director"))]
    assert actions == ["create", "delete", "restore"]


async def test_restore_needs_the_restore_grant(world):
    w = world
    rec = await w.svc.create("case", w.case(), w.ctx("staff"))
    await w.svc.delete("case", rec["id"], "nhầm", 1, w.ctx("director"))
    with pytest.raises((Forbidden, NotFound)):
        await w.svc.restore("case", rec["id"], w.ctx("staff"))
