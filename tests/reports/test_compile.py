"""The report compiler on a small fixture with known records, on both engines: each dimension and measure kind,
subtotals and totals, scope, parameters and their errors, drill-down, and one statement per run."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from hoso.records.access import Access
from hoso.reports.engine import cell_records, compile_report, run_report, template_hash
from hoso.reports.model import ReportError, ReportRequest
from hoso.scope import ScopeDenied
from tests.reports.conftest import ctx_of, load_cases

D = dt.date

CASES = [
    # 1: P1/C11, criminal, advice, man, child + poor, age 30, urgent
    dict(code="a", received_on=D(2025, 1, 10), field_of_law="HS", form_of_aid="TV", gender="male",
         groups=["TE", "HN"], age=30, urgent=True, citizen_id="111", status="accepted", unit="C11"),
    # 2: P1/C11, criminal, advice, woman, martyrs' relative, same person as 1? no: other citizen
    dict(code="b", received_on=D(2025, 2, 3), ended_on=D(2025, 3, 1), field_of_law="HS", form_of_aid="TV",
         gender="female", groups=["KKTC_LS"], age=50, urgent=False, citizen_id="222", status="ended", unit="C11",
         performer=1),
    # 3: P1/C12, civil, litigation, woman, no group, same requester as 1
    dict(code="c", received_on=D(2025, 2, 20), field_of_law="DS", form_of_aid="TGTT", gender="female", groups=[],
         age=None, urgent=None, citizen_id="111", status="received", unit="C12"),
    # 4: P2/C21, criminal, litigation, man, child
    dict(code="d", received_on=D(2025, 7, 1), ended_on=D(2025, 8, 1), field_of_law="HS", form_of_aid="TGTT",
         gender="male", groups=["TE"], age=16, urgent=True, citizen_id="333", status="ended", unit="C21", performer=2),
    # 5: P1/C11 refused: left out by the template filter of "people"
    dict(code="e", received_on=D(2025, 3, 5), field_of_law="HS", form_of_aid="TV", gender="male", groups=["TE"],
         age=40, citizen_id="444", status="refused", unit="C11"),
    # 6: deleted: never counts
    dict(code="f", received_on=D(2025, 1, 5), field_of_law="HS", form_of_aid="TV", gender="male", groups=["TE"],
         age=20, citizen_id="555", status="accepted", unit="C11", deleted=True),
    # 7: 2024, criminal, advice, no gender
    dict(code="g", received_on=D(2024, 12, 31), field_of_law="HS", form_of_aid="TV", gender=None, groups=None,
         age=70, urgent=False, citizen_id=None, status="ended", ended_on=D(2025, 1, 2), unit="C12", performer=1),
]
PERFORMERS = [dict(id=1, name="Nguyễn Văn A", unit="C11", yearly_target=10),
              dict(id=2, name="Trần Thị B", unit="C21", yearly_target=8)]


@pytest.fixture
async def world(rt):
    await load_cases(rt, CASES, PERFORMERS)
    return rt


def table(result):
    """{(kind, keys): {column: value}} of a result, and its total."""
    cols = [c.key for c in result.columns]
    out = {(r.kind, r.keys): dict(zip(cols, r.values, strict=True)) for r in result.rows}
    out[("total", result.total.keys)] = dict(zip(cols, result.total.values, strict=True))
    return out


async def test_biểu_24_in_small_counts_people_by_field_and_form_with_groups_subtotals_and_total(world):
    result = await run_report(world, ctx_of(world, 1), ReportRequest("people"))
    got = table(result)
    assert [c.key for c in result.columns] == ["total", "men", "women", "groups:TE", "groups:HN", "groups:KKTC_LS"]
    # rows in list order (HS before DS, TV before TGTT), each field's subtotal before its rows
    assert [(r.kind, r.keys) for r in result.rows] == [
        ("subtotal", ("HS", None)), ("row", ("HS", "TV")), ("row", ("HS", "TGTT")),
        ("subtotal", ("DS", None)), ("row", ("DS", "TGTT"))]
    assert got[("row", ("HS", "TV"))] == {"total": 3, "men": 1, "women": 1, "groups:TE": 1, "groups:HN": 1,
                                          "groups:KKTC_LS": 1}
    assert got[("row", ("HS", "TGTT"))] == {"total": 1, "men": 1, "women": 0, "groups:TE": 1, "groups:HN": 0,
                                            "groups:KKTC_LS": 0}
    assert got[("subtotal", ("HS", None))]["total"] == 4
    assert got[("row", ("DS", "TGTT"))] == {"total": 1, "men": 0, "women": 1, "groups:TE": 0, "groups:HN": 0,
                                            "groups:KKTC_LS": 0}
    assert got[("total", (None, None))] == {"total": 5, "men": 2, "women": 2, "groups:TE": 2, "groups:HN": 1,
                                            "groups:KKTC_LS": 1}
    assert result.rows[1].labels == ("Hình sự", "Tư vấn pháp luật")
    assert result.total.labels[0] == "Tổng cộng"
    english = await run_report(world, ctx_of(world, 1, "en"), ReportRequest("people", lang="en"))
    assert english.rows[1].labels == ("Criminal", "Legal advice")
    assert result.template_hash == template_hash(result.report) and len(result.template_hash) == 64
    body = json.loads(json.dumps(result.to_json(), ensure_ascii=False))  # plain JSON values throughout
    assert body["total"]["values"] == [5, 2, 2, 2, 1, 1] and body["rows"][1]["keys"] == ["HS", "TV"]
    assert body["columns"][1] == {"key": "men", "label": "Nam", "groups": ["Giới tính"], "measure": "count"}


async def test_period_parameters_and_scope_select_inside_the_statement(world):
    h1 = table(await run_report(world, ctx_of(world, 1), ReportRequest("people", period="2025-H1")))
    assert h1[("total", (None, None))]["total"] == 3  # cases 1, 2, 3 (4 is in July, 7 in 2024)
    tv = table(await run_report(world, ctx_of(world, 1), ReportRequest("people", filters={"form_of_aid": "TV"})))
    assert tv[("total", (None, None))]["total"] == 3
    urgent = table(await run_report(world, ctx_of(world, 1), ReportRequest("people", filters={"urgent": True})))
    assert urgent[("total", (None, None))]["total"] == 2
    # the province user sees P1 only; the centre user C11 only; the statistics user P2's numbers
    p1 = table(await run_report(world, ctx_of(world, 2), ReportRequest("people")))
    assert p1[("total", (None, None))]["total"] == 4
    c11 = table(await run_report(world, ctx_of(world, 5), ReportRequest("people")))
    assert c11[("total", (None, None))]["total"] == 2
    stats = table(await run_report(world, ctx_of(world, 3), ReportRequest("people")))
    assert stats[("total", (None, None))]["total"] == 1
    # a unit narrows to its subtree
    only = table(await run_report(world, ctx_of(world, 1), ReportRequest("people", unit="C12")))
    assert only[("total", (None, None))]["total"] == 2


async def test_bad_parameters_are_named(world):
    ctx = ctx_of(world, 2)
    with pytest.raises(ReportError) as exc:
        await run_report(world, ctx, ReportRequest("people", period="2025-13", unit="P2", structure="yesterday",
                                                   filters={"gender": "male", "form_of_aid": {"zz": 1}}))
    named = [p for p, _m in exc.value.problems]
    assert set(named) == {"period", "unit", "structure", "filters.gender", "filters.form_of_aid"}
    with pytest.raises(ReportError) as exc:
        await run_report(world, ctx, ReportRequest("nope"))
    assert exc.value.problems[0][0] == "report"
    with pytest.raises(ReportError) as exc:
        await run_report(world, ctx, ReportRequest("people", unit="NOWHERE", level="galaxy"))
    assert {p for p, _m in exc.value.problems} == {"unit", "level"}


async def test_a_user_without_run_reports_is_refused(world):
    with pytest.raises(ScopeDenied):
        await run_report(world, ctx_of(world, 4), ReportRequest("people"))
    with pytest.raises(ScopeDenied):
        await run_report(world, ctx_of(world, 99), ReportRequest("people"))


async def test_every_measure_kind(world):
    got = table(await run_report(world, ctx_of(world, None), ReportRequest("measures")))
    tv = got[("row", ("TV",))]  # cases 1, 2, 5, 7
    assert tv == {"n": 4, "people": 3, "age_sum": 190, "age_avg": pytest.approx(47.5), "age_min": 30, "age_max": 30,
                  "last_end": "2025-03-01"}
    tgtt = got[("row", ("TGTT",))]  # cases 3, 4
    assert tgtt == {"n": 2, "people": 2, "age_sum": 16, "age_avg": pytest.approx(16.0), "age_min": 16,
                    "age_max": 16, "last_end": "2025-08-01"}
    total = got[("total", (None,))]
    # count_distinct and avg of the whole are not sums of the rows: citizen 111 is in both rows
    assert total == {"n": 6, "people": 4, "age_sum": 206, "age_avg": pytest.approx(206 / 5), "age_min": 16,
                     "age_max": 30, "last_end": "2025-08-01"}


async def test_unit_and_period_dimensions(world):
    got = table(await run_report(world, ctx_of(world, 1), ReportRequest("by_unit")))
    assert got[("row", ("C11",))]["total"] == 3 and got[("row", ("C11",))]["status:refused"] == 1
    assert got[("row", ("C12",))]["total"] == 2 and got[("row", ("C21",))]["total"] == 1
    monthly = await run_report(world, ctx_of(world, 1), ReportRequest("monthly", period="2025"))
    rows = table(monthly)
    assert rows[("subtotal", ("2025-02", None))] == {"total": 2, "ended": 1}
    assert rows[("row", ("2025-07", "HS"))] == {"total": 1, "ended": 1}
    assert monthly.rows[0].labels[0] == "Tháng 01/2025"


async def test_reference_rows_show_titles_and_attributes(world):
    result = await run_report(world, ctx_of(world, 1), ReportRequest("quotas", period="2025"))
    got = table(result)
    assert got[("row", (1,))] == {"completed": 2, "target": 10}
    assert got[("row", (2,))] == {"completed": 1, "target": 8}
    assert got[("total", (None,))] == {"completed": 3, "target": 18}
    assert [r.labels[0] for r in result.rows] == ["Nguyễn Văn A", "Trần Thị B"]


async def test_cell_records_are_exactly_the_counted_records(world):
    ctx = ctx_of(world, 1)
    req = ReportRequest("people")
    result = await run_report(world, ctx, req)
    for row in [*result.rows, result.total]:
        keys = row.keys[:row.depth]
        for j, col in enumerate(result.columns):
            records = await cell_records(world, ctx, req, keys, col.key)
            assert len(records) == row.values[j], (row.keys, col.key)
    women = await cell_records(world, ctx, req, ("HS", "TV"), "women")
    assert [r["code"] for r in women] == ["b"]


async def test_disclosure_refuses_rows_and_levels_finer_than_allowed(world, monkeypatch):
    import hoso.reports.engine as engine
    from hoso.reports.disclosure import Disclosure

    async def numbers_only(rt, access, entity):
        return Disclosure(rows=False, finest_level="province")

    monkeypatch.setattr(engine, "disclosure_for", numbers_only)
    ctx = ctx_of(world, 1)
    with pytest.raises(ScopeDenied):
        await cell_records(world, ctx, ReportRequest("people"), (), "total")
    # the recorded unit is finer than a province
    with pytest.raises(ReportError) as exc:
        await run_report(world, ctx, ReportRequest("by_unit"))
    assert [p for p, _m in exc.value.problems] == ["level"]
    # a report without unit rows runs
    assert (await run_report(world, ctx, ReportRequest("people"))).total.values[0] == 5


async def test_one_statement_against_the_records_per_run(world):
    statements: list[str] = []
    fetch = world.db.fetch

    async def counting(sql, *args):
        statements.append(sql)
        return await fetch(sql, *args)

    world.db.fetch = counting  # type: ignore[method-assign]
    try:
        for name in ("people", "measures", "monthly", "by_unit", "quotas"):
            statements.clear()
            await run_report(world, ctx_of(world, 2), ReportRequest(name, period="2025"))
            assert sum('"case"' in s for s in statements) == 1, (name, statements)
    finally:
        world.db.fetch = fetch  # type: ignore[method-assign]
    compiled = await compile_report(world, ctx_of(world, 2), ReportRequest("people"))
    # the requester's run_reports predicate is inside the one statement, with its values
    scope = await Access(world, ctx_of(world, 2)).scoped("run_reports", world.config.entity("case"))
    assert not scope.is_false and scope.sql in compiled.sql
    assert set(scope.args) <= set(compiled.where_args)
