"""Approved numbers from the level below: every cell (row x column) of the units' approved snapshots summed, read in
one statement for all units, checked against the plain-Python sum of the snapshots' cells; on both engines."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hoso.reports import approval
from tests.reports.approval_setup import _deployment

REPORT = """
report: cases_by_form_stage
entity: case
label: {vi: Vụ việc theo hình thức và giai đoạn, en: Cases by form and stage}
date_field: received_on
rows: [form_of_aid, procedural_stage]
columns:
  - {key: total, measure: count, label: {vi: Tổng số, en: Total}}
  - {key: age_sum, measure: sum, field: age, label: {vi: Tổng tuổi, en: Sum of ages}}
  - {key: age_avg, measure: avg, field: age, label: {vi: Tuổi trung bình, en: Average age}}
  - {per_option: beneficiary_groups, group: {vi: Diện, en: Groups}}
subtotals: true
"""

ADDITIVE = {"count", "sum"}


def oracle(results: list[dict]) -> dict[tuple, dict[str, object]]:
    """(kind, keys) -> column key -> the sum over the results that have the row; None for a column that is not
    additive or a cell hidden or missing in one of them."""
    columns = results[0]["columns"]
    seen: dict[tuple, list[dict[str, object]]] = {}
    for res in results:
        keys = [c["key"] for c in res["columns"]]
        for row in [*res["rows"], res["total"]]:
            cells = dict(zip(keys, row["values"], strict=False))
            seen.setdefault((row["kind"], tuple(row["keys"])), []).append(cells)
    out: dict[tuple, dict[str, object]] = {}
    for where, found in seen.items():
        out[where] = {}
        for col in columns:
            values = [cells.get(col["key"]) for cells in found]
            out[where][col["key"]] = (None if col["measure"] not in ADDITIVE or any(v is None for v in values)
                                      else sum(values))
    return out


def as_map(columns: list[dict], cells: list[dict]) -> dict[tuple, dict[str, object]]:
    return {(c["kind"], tuple(c["keys"])): {col["key"]: v for col, v in zip(columns, c["values"], strict=True)}
            for c in cells}


_MEASURES = st.sampled_from(["count", "sum", "avg", "min", "count_distinct"])


@st.composite
def results(draw) -> list[dict]:
    columns = [{"key": f"c{i}", "measure": m} for i, m in enumerate(draw(st.lists(_MEASURES, min_size=1,
                                                                                  max_size=4)))]
    value = st.one_of(st.none(), st.integers(0, 1000))
    universe = [("row", ("TV", "x")), ("row", ("TV", "y")), ("row", ("TGTT", "x")), ("subtotal", ("TV", None))]
    out = []
    for _ in range(draw(st.integers(1, 4))):
        # a unit's snapshot may list its columns in another order (another template version)
        cols = draw(st.permutations(columns))
        rows = [{"kind": kind, "keys": list(keys), "labels": [], "values": draw(st.lists(value, min_size=len(cols),
                                                                                          max_size=len(cols)))}
                for kind, keys in universe if draw(st.booleans())]
        total = {"kind": "total", "keys": [None, None], "labels": [],
                 "values": draw(st.lists(value, min_size=len(cols), max_size=len(cols)))}
        out.append({"columns": cols, "rows": rows, "total": total})
    out[0]["columns"] = columns
    return out


@settings(max_examples=300, deadline=None)
@given(results())
def test_every_cell_is_the_sum_of_the_snapshots_cells(res):
    assert as_map(res[0]["columns"], approval.sum_cells(res)) == oracle(res)


@pytest.fixture
async def deployment(config_dir, database_url):
    config_dir.write("forms_config/reports/cases_by_form_stage.yaml", REPORT)
    async for d in _deployment(config_dir, database_url):
        yield d


class Counting:
    """Counts the statements a database object is asked to run."""

    def __init__(self, db, monkeypatch):
        self.n = 0
        for name in ("fetch", "fetchval", "execute"):
            original = getattr(db, name)

            def counted(*args, _original=original, **kw):
                self.n += 1
                return _original(*args, **kw)

            monkeypatch.setattr(db, name, counted)


async def test_approved_from_below_sums_every_cell_in_one_query_for_all_units(deployment, monkeypatch):
    d = deployment
    cases = {"TT": [("TV", None, 30, ["TE"]), ("TGTT", "trial", 41, ["TE", "NN"]), ("TGTT", "trial", 25, [])],
             "TT2": [("TV", None, 62, ["NN"]), ("TGTT", "investigation", 19, ["TE"])],
             "TT3": [("TGTT", "trial", 50, ["NN"]), ("TV", None, 33, [])]}
    for unit, rows in cases.items():
        user = {"TT": "dir1", "TT2": "dir2", "TT3": "dir3"}[unit]
        for form, stage, age, groups in rows:
            extra = {"procedural_stage": stage} if stage else {}
            await d.create_case(user, unit, form_of_aid=form, age=age, beneficiary_groups=groups, **extra)
    rt = d.web.app.state.rt  # the served runtime: its statements are counted

    async def approved(user: str) -> dict:
        r = await d.req("GET", "/api/report-approved/cases_by_form_stage?period=2025-H1", user)
        assert r.status_code == 200, r.text
        return r.json()

    submitted = {}
    for unit, user, approver in (("TT", "dir1", "prov1"), ("TT2", "dir2", "prov1"), ("TT3", "dir3", "prov2")):
        r = await d.req("POST", "/api/report-submissions", user,
                        json={"report": "cases_by_form_stage", "period": "2025-H1", "unit": unit})
        assert r.status_code == 201, r.text
        submitted[unit] = r.json()
        if unit == "TT":  # one unit approved: the statements read
            assert (await d.act(approver, r.json()["id"], "approve")).status_code == 200
            await approved("min")  # once before counting: a token's first use writes
            counter = Counting(rt.db, monkeypatch)
            one = await approved("min")
            with_one = counter.n
            monkeypatch.undo()
            assert [u["unit"] for u in one["units"]] == ["TT"] and one["missing"] == ["TT2", "TT3"]
        else:
            assert (await d.act(approver, r.json()["id"], "approve")).status_code == 200
    counter = Counting(rt.db, monkeypatch)
    body = await approved("min")
    assert counter.n == with_one  # as many statements for three units as for one
    monkeypatch.undo()
    assert [u["unit"] for u in body["units"]] == ["TT", "TT2", "TT3"] and body["missing"] == []
    snaps = [(await d.req("GET", f"/api/report-snapshots/{s['snapshot_id']}", "min")).json()["result"]
             for s in submitted.values()]
    expected = oracle(snaps)
    assert as_map(body["columns"], body["cells"]) == expected
    # every cell is there: rows, subtotals, the total, and each column (per-option ones included)
    assert {c["key"] for c in body["columns"]} == {"total", "age_sum", "age_avg", "beneficiary_groups:TE",
                                                   "beneficiary_groups:NN"}
    total = expected[("total", (None, None))]
    assert total["total"] == 7 and total["age_sum"] == 260 and total["age_avg"] is None
    assert total["beneficiary_groups:TE"] == 3 and total["beneficiary_groups:NN"] == 3
    assert expected[("row", ("TGTT", "trial"))]["total"] == 3
    assert body["total"] == [7, 260, None, 3, 3]
    # the province sees only its own units' numbers
    mine = await approved("prov2")
    assert [u["unit"] for u in mine["units"]] == ["TT3"]
    assert as_map(mine["columns"], mine["cells"]) == oracle([snaps[2]])
