"""End to end, on both engines: the same records reported per province as recorded and mapped to the structure
after a dated merge, split and move, equal to a plain-Python oracle; a statistics-only user getting aggregates
(small cells hidden, provinces only) and no rows."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter

import pytest

from hoso.config import load_config
from hoso.records.errors import Forbidden
from hoso.reports.engine import cell_records, run_report
from hoso.reports.model import ReportError, ReportRequest
from hoso.restructure import apply
from hoso.scope import ScopeDenied
from tests.helpers import migrated_runtime
from tests.reports.conftest import USERS, ctx_of, load_cases, set_users, write_config

EFFECTIVE = dt.date(2025, 7, 1)
# C12 splits between C11 (advice) and C21 (litigation); P2 merges into P1, so C21 moves under P1; C11 moves to a
# new province P3.
CHANGE = """
restructuring: reform
effective: 2025-07-01
label: {vi: Sắp xếp đơn vị}
operations:
  - split:
      unit: C12
      into: [C11, C21]
      rule: {entity: case, field: form_of_aid, map: {TV: C11, TGTT: C21}, default: C11}
  - merge: {units: [P2], into: P1}
  - create: {code: P3, name_vi: Tỉnh Ba, type: province, parent: BTP}
  - move: {unit: C11, to: P3}
"""
STATISTICIAN = """
role: r_stats_province
label: {vi: Thống kê cấp tỉnh}
grants:
  - {entity: case, scope: statistics, actions: [run_reports], finest_level: province, suppress_below: 5}
"""
OLD_TREE = {"C11": "P1", "C12": "P1", "C21": "P2"}
NEW_TREE = {"C11": "P3", "C12": "P1", "C21": "P1"}  # C12 closed under P1: recorded, it stays there


def oracle_recorded(cases: list[dict], on: dt.date, start: dt.date, end: dt.date) -> Counter:
    tree = OLD_TREE if on < EFFECTIVE else NEW_TREE
    return Counter(tree[c["unit"]] for c in cases if start <= c["received_on"] <= end)


def oracle_mapped(cases: list[dict], start: dt.date, end: dt.date) -> Counter:
    out: Counter = Counter()
    for c in cases:
        if start <= c["received_on"] <= end:
            unit = {"TV": "C11", "TGTT": "C21"}[c["form_of_aid"]] if c["unit"] == "C12" else c["unit"]
            out[NEW_TREE[unit]] += 1
    return out


def cases_of(seed: int) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(60):
        day = dt.date(2025, 1, 1) + dt.timedelta(days=rng.randrange(365))
        out.append(dict(code=f"c{i}", received_on=day, form_of_aid=rng.choice(["TV", "TGTT"]),
                        field_of_law=rng.choice(["HS", "DS"]), gender=rng.choice(["male", "female"]),
                        status="accepted", unit=rng.choice(["C11", "C11", "C12", "C21"])))
    return out


def per_province(result) -> Counter:
    total = [c.key for c in result.columns].index("total")
    return Counter({r.keys[0]: r.values[total] for r in result.rows if r.kind == "row" and r.values[total]})


@pytest.fixture
async def reform(tmp_path, database_url):
    root = tmp_path / "config"
    write_config(root)
    (root / "roles_config/roles/r_stats_province.yaml").write_text(STATISTICIAN, encoding="utf-8")
    rt = await migrated_runtime(load_config(root), database_url)
    await set_users(rt, [*USERS, (6, "r_stats_province", "BTP")])
    cases = cases_of(7)
    await load_cases(rt, cases)
    path = root / "roles_config/restructurings/reform.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(CHANGE.lstrip(), encoding="utf-8")
    await apply(rt, path, applied_by="test")
    yield rt, cases
    await rt.db.close()


@pytest.mark.parametrize("period, start, end", [
    ("2025-H1", dt.date(2025, 1, 1), dt.date(2025, 6, 30)),
    ("2025-H2", dt.date(2025, 7, 1), dt.date(2025, 12, 31)),
    ("2025", dt.date(2025, 1, 1), dt.date(2025, 12, 31)),
])
async def test_per_province_as_recorded_and_mapped(reform, period, start, end):
    rt, cases = reform
    national = ctx_of(rt, 1)
    recorded = await run_report(rt, national, ReportRequest("by_unit", period=period, level="province"))
    assert per_province(recorded) == oracle_recorded(cases, end, start, end)
    mapped = await run_report(rt, national, ReportRequest("by_unit", period=period, level="province",
                                                          structure=EFFECTIVE.isoformat()))
    assert per_province(mapped) == oracle_mapped(cases, start, end)
    assert recorded.total.values[0] == mapped.total.values[0] == sum(oracle_mapped(cases, start, end).values())
    # Mapped to the structure of a day before the reform, the old provinces stand (P3 did not exist yet; the
    # split records already carry their successors).
    before = await run_report(rt, national, ReportRequest("by_unit", period=period, level="province",
                                                          structure="2025-06-30"))
    assert "P3" not in per_province(before) and sum(per_province(before).values()) == recorded.total.values[0]


async def test_a_statistics_only_user_gets_aggregates_and_no_rows(reform):
    rt, cases = reform
    stats = ctx_of(rt, 6)
    request = ReportRequest("by_unit", period="2025", level="province", structure=EFFECTIVE.isoformat())
    result = await run_report(rt, stats, request)
    want = oracle_mapped(cases, dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    total = [c.key for c in result.columns].index("total")
    shown = {r.keys[0]: r.values[total] for r in result.rows if r.kind == "row"}
    for province, n in want.items():
        assert shown[province] == (None if 0 < n < 5 else n)
    assert result.total.values[total] == sum(want.values())
    # A small cell, hidden, with its complement: the few cases of one province are not the total less the others.
    few = await run_report(rt, stats, ReportRequest("by_unit", period="2025-01", level="province",
                                                    structure=EFFECTIVE.isoformat()))
    assert oracle_mapped(cases, dt.date(2025, 1, 1), dt.date(2025, 1, 31)) == {"P1": 1, "P3": 6}
    few_shown = {r.keys[0]: r.values[total] for r in few.rows if r.kind == "row"}
    assert few_shown == {"P1": None, "P3": None} and few.total.values[total] == 7 and few.suppressed == 2

    with pytest.raises(ReportError) as err:
        await run_report(rt, stats, ReportRequest("by_unit", period="2025", level="centre"))
    assert err.value.problems[0][0] == "level"
    with pytest.raises(ReportError) as err:
        await run_report(rt, stats, ReportRequest("by_unit", period="2025", level="province", unit="C21"))
    assert [p for p, _m in err.value.problems] == ["unit"] and "C21" in err.value.problems[0][1]
    with pytest.raises(ScopeDenied):
        await cell_records(rt, stats, request, ("P1",), "total")
    try:
        rows, count = await rt.records().list("case", stats)
    except Forbidden:
        rows, count = [], 0
    assert rows == [] and count == 0
    # A user who reads the rows gets the same numbers unsuppressed, and the records behind a cell.
    national = ctx_of(rt, 1)
    full = await run_report(rt, national, request)
    assert per_province(full) == want and full.suppressed == 0
    behind = await cell_records(rt, national, request, ("P1",), "total")
    assert len(behind) == want["P1"]
