"""Lists: filters on any field, sorting, pagination with a total, search ignoring Vietnamese diacritics."""

from __future__ import annotations

import pytest

from hoso.records.errors import Forbidden
from hoso.records.search import fold
from hoso.records.service import ValidationError

PEOPLE = [("Nguyễn Văn An", "2025-01-06", "TV", 30, ["TE"]), ("Trần Thị Bình", "2025-02-10", "TGTT", 17, ["NN"]),
          ("Đặng Đức Cường", "2025-03-15", "TV", 65, ["TE", "NN"]), ("Lê Văn An", "2024-12-30", "TGTT", 45, []),
          ("Phạm Thị Dung", "2025-03-20", "TV", None, None)]


@pytest.fixture
async def cases(world):
    w = world
    ids = []
    for name, day, form, age, groups in PEOPLE:
        # the intake form's condition holds on every write: proceedings (TGTT) cases have a procedural stage
        stage = {"procedural_stage": "trial"} if form == "TGTT" else {}
        rec = await w.svc.create("case", w.case(requester=name, received_on=day, form_of_aid=form, age=age,
                                               beneficiary_groups=groups, **stage), w.ctx("staff"))
        ids.append(rec["id"])
    await w.svc.create("case", w.case(unit="TT3", requester="Nguyễn Văn An"), w.ctx("other"))
    return ids


def test_fold():
    assert fold("  Nguyễn   VĂN Ân ") == "nguyen van an"
    assert fold("Đặng Đức") == "dang duc"
    assert fold("ĐƯỜNG Hồ Chí Minh, Q.1") == "duong ho chi minh, q.1"


async def test_search_ignores_case_and_diacritics(world, cases):
    w = world
    ctx = w.ctx("staff")
    rows, total = await w.svc.list("case", ctx, search="nguyen van an")
    assert total == 1 and rows[0]["requester"] == "Nguyễn Văn An", "province two's Nguyễn Văn An is out of scope"
    # "an" is in Nguyễn Văn An, Lê Văn An, Trần (tran) and Đặng (dang), not in Phạm Thị Dung.
    assert (await w.svc.list("case", ctx, search="AN"))[1] == 4
    assert sorted(r["requester"] for r in (await w.svc.list("case", ctx, search="dang duc"))[0]) == ["Đặng Đức Cường"]
    assert (await w.svc.list("case", ctx, search="van an"))[1] == 2
    assert (await w.svc.list("case", ctx, search="Thị"))[1] == 2
    assert (await w.svc.list("case", ctx, search="100%_"))[1] == 0, "LIKE wildcards are taken literally"
    # The naming code is searchable too, and the search text follows updates.
    code = rows[0]["code"]
    assert (await w.svc.list("case", ctx, search=code.lower()))[1] == 1
    await w.svc.update("case", rows[0]["id"], {"requester": "Hoàng Yến"}, 1, ctx)
    assert (await w.svc.list("case", ctx, search="hoang yen"))[1] == 1
    assert (await w.svc.list("case", ctx, search="nguyen van an"))[1] == 0


async def test_filters_sort_and_pages(world, cases):
    w = world
    ctx = w.ctx("staff")
    rows, total = await w.svc.list("case", ctx, filters={"form_of_aid": "TGTT"}, sort="received_on")
    assert total == 2 and [r["requester"] for r in rows] == ["Lê Văn An", "Trần Thị Bình"]
    rows, total = await w.svc.list("case", ctx, filters={"received_on": {"gte": "2025-01-01", "lt": "2025-03-16"}},
                                   sort=["-received_on"])
    assert [r["requester"] for r in rows] == ["Đặng Đức Cường", "Trần Thị Bình", "Nguyễn Văn An"] and total == 3
    rows, total = await w.svc.list("case", ctx, filters={"age": {"in": [17, 65]}})
    assert total == 2
    rows, total = await w.svc.list("case", ctx, filters={"age": None})
    assert [r["requester"] for r in rows] == ["Phạm Thị Dung"]
    rows, total = await w.svc.list("case", ctx, filters={"age": {"null": False, "gt": 40}}, sort="age")
    assert [r["age"] for r in rows] == [45, 65]
    rows, total = await w.svc.list("case", ctx, filters={"beneficiary_groups": "NN"})
    assert sorted(r["requester"] for r in rows) == ["Trần Thị Bình", "Đặng Đức Cường"]
    rows, total = await w.svc.list("case", ctx, filters={"beneficiary_groups": {"ne": "TE"}})
    assert total == 3
    rows, total = await w.svc.list("case", ctx, filters={"unit": w.units["TT"], "status": "received"})
    assert total == 5
    # Pages of two, newest first by default, with the total.
    seen = []
    for page in (1, 2, 3):
        rows, total = await w.svc.list("case", ctx, page=page, page_size=2)
        assert total == 5
        seen += [r["id"] for r in rows]
    assert seen == sorted(cases, reverse=True)
    assert (await w.svc.list("case", ctx, page=4, page_size=2))[0] == []


@pytest.mark.parametrize("kwargs,field", [
    ({"filters": {"nope": 1}}, "filters.nope"),
    ({"filters": {"age": {"between": [1, 2]}}}, "filters.age"),
    ({"filters": {"age": "old"}}, "filters.age"),
    ({"filters": {"received_on": {"gt": "yesterday"}}}, "filters.received_on"),
    ({"filters": {"beneficiary_groups": {"gt": "TE"}}}, "filters.beneficiary_groups"),
    ({"sort": "nope"}, "sort"),
    ({"page": 0}, "page"),
    ({"page_size": 5000}, "page_size"),
])
async def test_bad_list_parameters_name_the_parameter(world, kwargs, field):
    with pytest.raises(ValidationError) as exc:
        await world.svc.list("case", world.ctx("staff"), **kwargs)
    assert [f for f, _m in exc.value.problems] == [field]


async def test_tables_without_the_search_column_still_work_and_can_be_reindexed(world):
    """A table created before sys_search existed (the migration adds the column later)."""
    from hoso.runtime import Runtime

    w = world
    await w.rt.db.execute('ALTER TABLE "case" DROP COLUMN sys_search')
    rt = Runtime.create(w.rt.config, db=w.rt.db)
    svc = rt.records()
    staff = w.ctx("staff")
    rec = await svc.create("case", w.case(requester="Nguyễn Văn An"), staff)
    await svc.update("case", rec["id"], {"note": "x"}, 1, staff)
    assert (await svc.list("case", staff, search="nguyễn"))[1] == 1, "without folding, diacritics must match"
    assert (await svc.list("case", staff, search="NGUYỄN VĂN"))[1] in (0, 1)  # LOWER() of non-ASCII varies
    await w.rt.db.execute('ALTER TABLE "case" ADD COLUMN sys_search TEXT')
    rt = Runtime.create(w.rt.config, db=w.rt.db)
    svc = rt.records()
    assert (await svc.list("case", staff, search="nguyen van an"))[1] == 0
    with pytest.raises(Forbidden):
        await svc.reindex_search("case", staff)
    assert await svc.reindex_search("case", w.system) == 1
    assert (await svc.list("case", staff, search="nguyen van an"))[1] == 1


async def test_any_and_all_combine_filter_objects(world, cases):
    """``$any``: one filter object holds; ``$all``: each holds; checked against the same test in Python."""
    w = world
    ctx = w.ctx("staff")
    rows, _ = await w.svc.list("case", ctx, page_size=100)
    clauses = {"tv": ({"form_of_aid": "TV"}, lambda r: r["form_of_aid"] == "TV"),
               "old": ({"age": {"gte": 45}}, lambda r: r["age"] is not None and r["age"] >= 45),
               "no_age": ({"age": None}, lambda r: r["age"] is None),
               "an": ({"requester": {"starts": "an"}}, lambda r: " an" in " " + fold(r["requester"]))}
    for a in clauses:
        for b in clauses:
            for c in clauses:
                (fa, pa), (fb, pb), (fc, pc) = clauses[a], clauses[b], clauses[c]
                filters = {"$all": [{"$any": [fa, fb]}, fc]}
                got, total = await w.svc.list("case", ctx, filters=filters, page_size=100)
                expected = sorted(r["id"] for r in rows if (pa(r) or pb(r)) and pc(r))
                assert sorted(r["id"] for r in got) == expected and total == len(expected), (a, b, c)
    for bad in ({"$any": []}, {"$any": "x"}, {"$all": [{"nope": 1}]}):
        with pytest.raises(ValidationError):
            await w.svc.list("case", ctx, filters=bad)
