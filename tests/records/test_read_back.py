"""A write answers with the record it wrote without reading it again: the row comes back from the INSERT or UPDATE
itself, the child rows it did not touch as they were read before the change. Whatever the change, the answer must
be what a read gives afterwards, value for value and type for type."""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from hoso.records.errors import ValidationError
from tests.helpers import examples

TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=20).filter(
    lambda s: s.strip() == s)
DAY = st.dates(dt.date(2024, 1, 1), dt.date(2025, 6, 30)).map(dt.date.isoformat)
HEARING = st.fixed_dictionaries({"held_on": DAY}, optional={"court": TEXT})
CHANGE = st.fixed_dictionaries({}, optional={
    "requester": TEXT, "age": st.one_of(st.none(), st.integers(0, 130)), "note": st.one_of(st.none(), TEXT),
    "beneficiary_groups": st.lists(st.sampled_from(["TE", "NN"]), unique=True),
    "hearings": st.sampled_from(["keep", "drop", "add", "edit"])})


def _typed(record: dict) -> dict:
    return {k: (type(v), v) for k, v in record.items()}


def _hearings(current: list[dict], how: str, day: str) -> list[dict]:
    kept = [{"id": r["id"], "held_on": r["held_on"].isoformat(), "court": r.get("court")} for r in current]
    if how == "drop":
        return kept[1:]
    if how == "add":
        return [*kept, {"held_on": day, "court": "Tòa án nhân dân"}]
    return [{**r, "court": "Tòa đã đổi"} for r in kept]  # edit


async def _read(world, record_id: int, user: str) -> dict:
    return await world.svc.get("case", record_id, world.ctx(user))


@settings(max_examples=examples(30), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
          phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(changes=st.lists(CHANGE, min_size=1, max_size=3), user=st.sampled_from(["director", "staff"]),
       hearings=st.lists(HEARING, max_size=2), day=DAY)
async def test_an_update_answers_what_a_read_gives_afterwards(world, changes, user, hearings, day):
    ctx = world.ctx(user)
    record = await world.svc.create("case", world.case(hearings=hearings, beneficiary_groups=["TE"]), ctx)
    assert _typed(record) == _typed(await _read(world, record["id"], user))
    for change in changes:
        how = change.pop("hearings", "keep")
        if how != "keep":
            change["hearings"] = _hearings(record["hearings"], how, day)
        try:
            record = await world.svc.update("case", record["id"], change, record["sys_version"], ctx)
        except ValidationError:
            continue
        assert _typed(record) == _typed(await _read(world, record["id"], user))


async def test_a_workflow_step_answers_what_a_read_gives_afterwards(world):
    ctx = world.ctx("director")
    record = await world.svc.create("case", world.case(hearings=[{"held_on": "2025-03-04", "court": "TAND"}]), ctx)
    for step, fields in (("accept", {"accepted_on": "2025-03-05"}), ("end", {"ended_on": "2025-04-01"})):
        record = await world.svc.transition("case", record["id"], step, fields, record["sys_version"], ctx)
        assert _typed(record) == _typed(await _read(world, record["id"], "director"))
        assert record["hearings"] and record["hearings"][0]["court"] == "TAND"


async def test_reading_a_record_takes_one_pooled_connection_on_postgresql(records_config, postgres_url):
    """The record and its child rows are read on one connection (under load, every statement that takes its own
    pooled connection waits its turn in the pool's queue again): one taking from the pool, where it was one per
    statement (the row, then each child table)."""
    from hoso.records.context import RecordContext
    from tests.helpers import migrated_runtime

    rt = await migrated_runtime(records_config.load(), postgres_url)
    try:
        ctx = RecordContext.system(rt.config)
        unit = await rt.db.fetchval("SELECT id FROM hoso_unit WHERE code = 'TT'")
        created = await rt.records().create("case", {"received_on": "2025-03-03", "form_of_aid": "TV",
                                                     "requester": "Nguyễn Văn An", "unit": unit,
                                                     "hearings": [{"held_on": "2025-03-04"}]}, ctx)
        pool = rt.db.engine.pool
        taken = []

        class Counted:
            def acquire(self, *args, **kwargs):
                taken.append(1)
                return pool.acquire(*args, **kwargs)

            def __getattr__(self, name):
                return getattr(pool, name)

        rt.db.engine.pool = Counted()
        try:
            got = await rt.records().get("case", created["id"], ctx)
        finally:
            rt.db.engine.pool = pool
        assert got == created
        assert len(taken) == 1
    finally:
        await rt.db.close()
