"""Records as of any past moment, against a plain-Python oracle: random sequences of creates, updates, deletes
and restores through the record service; the report source at the moment after each write holds exactly the
records the oracle holds then, as they were (both engines)."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hoso.records.service import RecordContext
from hoso.reports.source import records_source
from hoso.runtime import Runtime
from tests.helpers import migrated_runtime
from tests.records.conftest import records_config  # noqa: F401 - fixture


@pytest.fixture
def asof_db(records_config, database_url):  # noqa: F811 - the fixture imported above
    config = records_config.load()

    async def migrate():
        rt = await migrated_runtime(config, database_url)
        await rt.db.close()

    asyncio.run(migrate())
    return config, database_url


OPS = st.lists(st.tuples(st.sampled_from(["create", "create", "update", "update", "delete", "restore"]),
                         st.integers(0, 7), st.integers(0, 120)), min_size=1, max_size=18)


async def run_ops(rt: Runtime, ops) -> tuple[list[dt.datetime], list[dict[int, tuple]]]:
    """Apply ``ops``; return the moment after each write and the oracle's records then:
    id -> (age, requester, deleted)."""
    svc = rt.records()
    ctx = RecordContext.system(rt.config, origin="test")
    unit = await rt.db.fetchval("SELECT id FROM hoso_unit WHERE code = 'TT'")
    state: dict[int, dict] = {}  # id -> {age, requester, deleted, version}
    moments: list[dt.datetime] = [dt.datetime.now(dt.UTC)]
    expected: list[dict[int, tuple]] = [{}]
    for op, pick, value in ops:
        ids = sorted(state)
        if op == "create" or not ids:
            rec = await svc.create("case", {"received_on": "2025-03-03", "form_of_aid": "TV", "unit": unit,
                                            "requester": f"R{value}", "age": value}, ctx)
            state[rec["id"]] = {"age": value, "requester": f"R{value}", "deleted": False, "version": 1}
        else:
            rid = ids[pick % len(ids)]
            s = state[rid]
            if op == "update" and not s["deleted"]:
                rec = await svc.update("case", rid, {"age": value}, s["version"], ctx)
                s["age"] = value
            elif op == "delete" and not s["deleted"]:
                rec = await svc.delete("case", rid, "thử", s["version"], ctx)
                s["deleted"] = True
            elif op == "restore" and s["deleted"]:
                rec = await svc.restore("case", rid, ctx)
                s["deleted"] = False
            else:
                continue  # not a write this record can take now
            s["version"] = rec["sys_version"]
        moments.append(dt.datetime.now(dt.UTC))
        expected.append({rid: (s["age"], s["requester"], s["deleted"]) for rid, s in state.items()})
    return moments, expected


async def source_at(rt: Runtime, when: dt.datetime | None, ids: set[int]) -> dict[int, tuple]:
    src, args = await records_source(rt, rt.config.entity("case"), when)
    rows = await rt.db.fetch(f"SELECT t.id, t.age, t.requester, t.sys_deleted_at FROM {src} t", *args)
    return {r["id"]: (r["age"], r["requester"], r["sys_deleted_at"] is not None) for r in rows if r["id"] in ids}


@pytest.mark.slow
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_records_as_of_each_moment_equal_the_oracle(asof_db, ops):
    config, url = asof_db

    async def run():
        rt = Runtime.create(config, url)
        await rt.db.start()
        try:
            moments, expected = await run_ops(rt, ops)
            ids = set(expected[-1])
            for when, want in zip(moments, expected, strict=True):
                assert await source_at(rt, when, ids) == want, when
            # Now, the source as of now is the live table.
            assert await source_at(rt, dt.datetime.now(dt.UTC), ids) == await source_at(rt, None, ids)
        finally:
            await rt.db.close()

    asyncio.run(run())
