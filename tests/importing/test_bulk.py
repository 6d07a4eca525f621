"""create_many against create: the same rows, audit and history, and all or nothing."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from hoso.hookspecs import hookimpl
from hoso.records.bulk import MAX_PARAMETERS, BatchInvalid
from hoso.records.service import Forbidden
from tests.helpers import examples

# Columns that differ between two writes of the same record by nature: its id, its time, its number.
VOLATILE = {"id", "sys_history_id", "parent_id", "sys_created_at", "sys_updated_at", "sys_valid_from",
            "sys_valid_to", "code", "sys_search"}

TEXT = st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"))
DAY_2024 = st.dates(dt.date(2024, 1, 1), dt.date(2024, 12, 31)).map(dt.date.isoformat)
HEARING = st.fixed_dictionaries({"held_on": DAY_2024},
                                optional={"court": st.text(TEXT, max_size=20)})
CASE = st.fixed_dictionaries(
    {"received_on": st.dates(dt.date(2023, 1, 1), dt.date(2025, 12, 31)).map(dt.date.isoformat),
     "form_of_aid": st.sampled_from(["TV", "TGTT"]),
     "requester": st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=30)
     .filter(lambda s: s.strip() == s and s),
     "unit": st.sampled_from(["TT", "TT2"])},
    optional={"age": st.integers(0, 130), "note": st.text(TEXT, max_size=40).filter(lambda s: s.strip() == s),
              "beneficiary_groups": st.lists(st.sampled_from(["TE", "NN"]), unique=True),
              "hearings": st.lists(HEARING, max_size=3)},
).flatmap(lambda c: st.fixed_dictionaries(
    # a proceedings case needs its stage, and only it has one
    {**{k: st.just(v) for k, v in c.items()},
     **({"procedural_stage": st.sampled_from(["investigation", "trial"])} if c["form_of_aid"] == "TGTT" else {})}))


def _payload(world, case: dict) -> dict:
    return {**case, "unit": world.units[case["unit"]]}


def _plain(row: dict) -> dict:
    return {k: [_plain(dict(r)) for r in v] if isinstance(v, list) and v and isinstance(v[0], dict) else v
            for k, v in dict(row).items() if k not in VOLATILE}


async def _stored(world, ids: list[int]) -> list[dict]:
    """Each record's row, child rows, audit entries and history versions, without what differs by nature."""
    db = world.rt.db
    out = []
    for rid in ids:
        row = dict((await db.fetch('SELECT * FROM "case" WHERE id = {}', rid))[0])
        hearings = await db.fetch('SELECT * FROM "case__hearings" WHERE parent_id = {} ORDER BY position', rid)
        audit = await db.fetch("SELECT actor_id, actor, origin, action, entity, changes FROM hoso_audit "
                               "WHERE entity = 'case' AND record_id = {} ORDER BY id", rid)
        history = await db.fetch('SELECT * FROM "hoso_h_case" WHERE id = {} ORDER BY sys_history_id', rid)
        child_history = await db.fetch('SELECT * FROM "hoso_h_case__hearings" WHERE parent_id = {} '
                                       "ORDER BY sys_history_id", rid)
        audit = [dict(a) for a in audit]
        for a in audit:
            changes = json.loads(a["changes"])
            changes.pop("code")
            a["changes"] = changes
        out.append({"row": _plain(row), "hearings": [_plain(h) for h in hearings], "audit": audit,
                    "history": [_plain(h) for h in history], "child_history": [_plain(h) for h in child_history],
                    "valid_to": [h["sys_valid_to"] for h in history]})
    return out


def _series(code: str) -> tuple[str, int]:
    unit, form, seq, year = code.split(".")
    return f"{unit}.{form}.{year}", int(seq)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
          phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(cases=st.lists(CASE, min_size=1, max_size=6))
async def test_create_many_stores_what_create_stores_one_by_one(world, cases):
    ctx = world.ctx("director")
    payloads = [_payload(world, c) for c in cases]
    one_by_one = [await world.svc.create("case", p, ctx) for p in payloads]
    batch = await world.svc.create_many("case", payloads, ctx)
    assert [_plain(r) for r in batch] == [_plain(r) for r in one_by_one]
    stored_batch = await _stored(world, [r["id"] for r in batch])
    stored_single = await _stored(world, [r["id"] for r in one_by_one])
    for many, single in zip(stored_batch, stored_single, strict=True):
        for part in single:
            assert (part, many[part]) == (part, single[part])
    # The codes follow their series without gaps or repeats, the batch's after the single creates'.
    codes = [r["code"] for r in await world.rt.db.fetch('SELECT code FROM "case" ORDER BY id')]
    numbers: dict[str, list[int]] = {}
    for code in codes:
        series, seq = _series(code)
        numbers.setdefault(series, []).append(seq)
    for seqs in numbers.values():
        assert seqs == list(range(1, len(seqs) + 1))
    for single, many in zip(one_by_one, batch, strict=True):
        assert _series(single["code"])[0] == _series(many["code"])[0]


async def test_one_invalid_record_writes_nothing_of_the_batch(world):
    ctx = world.ctx("director")
    before = {t: await world.count(t) for t in ("case", "hoso_h_case", "hoso_audit", "hoso_series")}
    good = [world.case(), world.case(requester="Trần Thị Bình")]
    bad = world.case(age=400)
    with pytest.raises(BatchInvalid) as caught:
        await world.svc.create_many("case", [good[0], bad, good[1]], ctx)
    assert list(caught.value.rows) == [1]
    assert [f for f, _m in caught.value.rows[1]] == ["age"]
    assert {t: await world.count(t) for t in before} == before


async def test_a_record_out_of_scope_undoes_the_batch(world):
    ctx = world.ctx("staff")  # centre TT only
    before = await world.count()
    with pytest.raises(BatchInvalid) as caught:
        await world.svc.create_many("case", [world.case(), world.case("TT3")], ctx)
    assert list(caught.value.rows) == [1]
    assert caught.value.rows[1][0][0] == "unit"
    assert await world.count() == before
    with pytest.raises(Forbidden):
        await world.svc.create_many("case", [world.case()], world.ctx("nobody"))


class _Recorder:
    def __init__(self):
        self.created: list[int] = []
        self.committed: list[list[int]] = []
        self.refuse: str | None = None

    @hookimpl
    def hoso_record_created(self, entity, record, context):
        self.created.append(record["id"])

    @hookimpl
    def hoso_after_commit(self, events):
        self.committed.append([e.record["id"] for e in events])

    @hookimpl
    def hoso_write_guard(self, entity, action, before, after, context, db):
        if self.refuse and after and after.get("requester") == self.refuse:
            return [("requester", "refused")]
        return None


async def test_hooks_are_called_per_record_and_after_commit_once(world):
    rec = _Recorder()
    world.rt.pm.register(rec)
    try:
        created = await world.svc.create_many("case", [world.case(), world.case()], world.ctx("director"))
        ids = [r["id"] for r in created]
        assert rec.created == ids
        assert rec.committed == [ids]
        rec.refuse = "Lê Văn Cường"
        with pytest.raises(BatchInvalid) as caught:
            await world.svc.create_many("case", [world.case(), world.case(requester="Lê Văn Cường")],
                                        world.ctx("director"))
        assert caught.value.rows == {1: [("requester", "refused")]}
        assert rec.committed == [ids]  # the refused batch announced nothing
    finally:
        world.rt.pm.unregister(rec)


async def test_a_batch_larger_than_one_statement(world, monkeypatch):
    monkeypatch.setattr("hoso.records.bulk.MAX_PARAMETERS", 40)  # a few rows per INSERT
    assert MAX_PARAMETERS > 40
    rows = [world.case(requester=f"Người {i}", hearings=[{"held_on": "2025-04-01"}] * (i % 3)) for i in range(9)]
    created = await world.svc.create_many("case", rows, world.ctx("director"))
    assert [r["requester"] for r in created] == [f"Người {i}" for i in range(9)]
    assert [len(r["hearings"]) for r in created] == [i % 3 for i in range(9)]
    assert len({r["id"] for r in created}) == 9


async def _outcome(world, payloads, ctx, dry_run):
    try:
        await world.svc.create_many("case", payloads, ctx, dry_run=dry_run)
    except BatchInvalid as exc:
        return {i: sorted(f for f, _m in found) for i, found in exc.rows.items()}
    except Forbidden:
        return "forbidden"
    return "written"


@settings(max_examples=examples(30), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
          phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(cases=st.lists(st.tuples(CASE, st.sampled_from(["TT", "TT2", "TT3", "P01"]), st.booleans()),
                      min_size=1, max_size=5),
       user=st.sampled_from(["staff", "director", "other", "clerk", "nobody"]))
async def test_a_dry_run_refuses_what_the_write_refuses_and_keeps_nothing(world, cases, user):
    """The dry run (an import's preview) checks the scope against the batch's values instead of inserted rows: it
    must refuse the same records for the same reasons as the write, and leave no row, number or id behind."""
    ctx = world.ctx(user)
    payloads = [{**_payload(world, c), "unit": world.units[unit], **({"age": 400} if bad else {})}
                for c, unit, bad in cases]
    tables = ("case", "case__hearings", "hoso_h_case", "hoso_audit", "hoso_series")
    before = {t: await world.count(t) for t in tables}
    series = await world.rt.db.fetch("SELECT * FROM hoso_series ORDER BY 1")
    sequence = None
    if not world.rt.db.is_sqlite:
        sequence = await world.rt.db.fetchval("SELECT last_value FROM pg_sequences WHERE sequencename = 'case_id_seq'")
    dry = await _outcome(world, payloads, ctx, dry_run=True)
    assert {t: await world.count(t) for t in tables} == before
    assert await world.rt.db.fetch("SELECT * FROM hoso_series ORDER BY 1") == series
    if sequence is not None:  # PostgreSQL's sequences do not roll back: a dry run takes no id at all
        assert await world.rt.db.fetchval(
            "SELECT last_value FROM pg_sequences WHERE sequencename = 'case_id_seq'") == sequence
    assert dry == await _outcome(world, payloads, ctx, dry_run=False)


@settings(max_examples=examples(20), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
          phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(case=CASE, user=st.sampled_from(["director", "staff"]))
async def test_a_created_record_is_what_reading_it_back_gives(world, case, user):
    """``create`` answers with the row its INSERT returned: it must be the record as a read gives it, every
    value of the same type (dates, times, lists, child rows), for a writer who sees every field and one who
    does not."""
    ctx = world.ctx(user)
    created = await world.svc.create("case", {**_payload(world, case), "unit": world.units["TT"]}, ctx)
    assert created == await world.svc.get("case", created["id"], ctx)
    for field, value in created.items():
        assert type(value) is type((await world.svc.get("case", created["id"], ctx))[field]), field
