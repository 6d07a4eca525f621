"""Child-table rows are updated in place: a row sent with its id keeps it, new rows get new ids, rows left out
are removed; a row may name only this record's rows."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hoso.records.service import ValidationError

DAYS = st.integers(min_value=0, max_value=300).map(lambda n: (dt.date(2025, 1, 1) + dt.timedelta(days=n)).isoformat())
COURTS = st.one_of(st.none(), st.sampled_from(["TAND Ba Đình", "TAND Hà Giang", "Viện kiểm sát"]))


async def _rows(w, record_id):
    return [dict(r) for r in await w.rt.db.fetch(
        "SELECT id, held_on, court, position FROM case__hearings WHERE parent_id = {} ORDER BY position", record_id)]


async def test_editing_one_row_keeps_the_other_rows_ids(world):
    w = world
    staff = w.ctx("staff")
    rec = await w.svc.create("case", w.case(hearings=[{"held_on": "2025-04-01"}, {"held_on": "2025-05-01"},
                                                      {"held_on": "2025-06-01"}]), staff)
    first, second, third = rec["hearings"]
    rec = await w.svc.update("case", rec["id"], {"hearings": [
        first, {**second, "court": "TAND Ba Đình"}, third, {"held_on": "2025-07-01"}]}, rec["sys_version"], staff)
    ids = [h["id"] for h in rec["hearings"]]
    assert ids[:3] == [first["id"], second["id"], third["id"]] and ids[3] not in ids[:3]
    assert rec["hearings"][1]["court"] == "TAND Ba Đình" and rec["hearings"][0]["court"] is None
    # a row left out is removed, the others keep their ids and take their new order
    rec = await w.svc.update("case", rec["id"], {"hearings": [rec["hearings"][2], rec["hearings"][0]]},
                             rec["sys_version"], staff)
    assert [h["id"] for h in rec["hearings"]] == [third["id"], first["id"]]
    assert [r["position"] for r in await _rows(w, rec["id"])] == [0, 1]


async def test_a_row_of_another_record_cannot_be_named(world):
    w = world
    staff = w.ctx("staff", lang="vi")
    a = await w.svc.create("case", w.case(hearings=[{"held_on": "2025-04-01"}]), staff)
    b = await w.svc.create("case", w.case(hearings=[{"held_on": "2025-04-02"}]), staff)
    foreign = b["hearings"][0]["id"]
    for rows, where in (([{"id": foreign, "held_on": "2025-04-03"}], "hearings[0].id"),
                        ([a["hearings"][0], dict(a["hearings"][0])], "hearings[1].id"),
                        ([{"id": "x", "held_on": "2025-04-03"}], "hearings[0].id")):
        with pytest.raises(ValidationError) as exc:
            await w.svc.update("case", a["id"], {"hearings": rows}, a["sys_version"], staff)
        assert where in [f for f, _m in exc.value.problems]
    with pytest.raises(ValidationError) as exc:  # a new record has no rows to name
        await w.svc.create("case", w.case(hearings=[{"id": foreign, "held_on": "2025-04-03"}]), staff)
    assert "hearings[0].id" in [f for f, _m in exc.value.problems]
    assert [r["id"] for r in await _rows(w, b["id"])] == [foreign]
    assert (await w.svc.get("case", a["id"], staff))["sys_version"] == 1


# one edit: for each current row, keep it (maybe changed) or drop it; then new rows; then a shuffle
EDITS = st.tuples(st.lists(st.tuples(st.booleans(), st.one_of(st.none(), DAYS), COURTS), max_size=6),
                  st.lists(st.tuples(DAYS, COURTS), max_size=3), st.randoms(use_true_random=False))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(EDITS, min_size=1, max_size=4))
async def test_child_rows_follow_a_plain_list_oracle(world, edits):
    w = world
    staff = w.ctx("staff")
    rec = await w.svc.create("case", w.case(), staff)
    oracle: list[dict] = []  # the rows as a plain list: id, held_on, court
    for keep_plan, new_rows, rnd in edits:
        rows = []
        for i, row in enumerate(oracle):
            keep, day, court = keep_plan[i] if i < len(keep_plan) else (True, None, row["court"])
            if keep:
                rows.append({**row, **({"held_on": day} if day else {}), "court": court})
        rows += [{"held_on": day, "court": court} for day, court in new_rows]
        rnd.shuffle(rows)
        rec = await w.svc.update("case", rec["id"], {"hearings": rows}, rec["sys_version"], staff)
        got = rec["hearings"]
        kept = {r["id"] for r in rows if "id" in r}
        assert len(got) == len(rows)
        for sent, stored in zip(rows, got, strict=True):
            if "id" in sent:
                assert stored["id"] == sent["id"]  # kept rows keep their ids
            else:
                assert stored["id"] not in kept  # new rows get ids of their own
            assert str(stored["held_on"]) == str(sent["held_on"]) and stored["court"] == sent["court"]
        oracle = [{"id": r["id"], "held_on": str(r["held_on"]), "court": r["court"]} for r in got]
        stored_rows = await _rows(w, rec["id"])
        assert [r["id"] for r in stored_rows] == [r["id"] for r in oracle]
        assert [r["position"] for r in stored_rows] == list(range(len(oracle)))
