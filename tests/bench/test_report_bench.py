"""The report benchmark compares speeds, so its answers must be right first: its hand-written "Biểu 24" against a
plain-Python count of the same generated cases (both engines), and the summary table it prototypes, kept by a
trigger in each write's transaction, against the hand-written report after random writes (PostgreSQL)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
_PATH = list(sys.path)
sys.path.insert(0, str(REPO / "bench"))

import reports  # noqa: E402  (bench/reports.py)

sys.path[:] = _PATH  # bench/'s script names (run, api, history...) must not shadow anything for later tests

TODAY = dt.date(2025, 9, 30)
YEAR = (dt.date(2025, 1, 1), dt.date(2025, 12, 31))
MONTHS = (dt.date(2025, 1, 1), dt.date(2025, 12, 1))
CASES = 2000


def oracle(rows: list[tuple], groups: list[str], unit_ids: list[int] | None) -> dict[tuple, tuple]:
    """Biểu 24 counted in Python from the loader's tuples: (level, field of law, form of aid) -> the columns."""
    keys = [k for k, _ in reports.measures(groups)]
    cells: dict[tuple, Counter] = {}
    for r in rows:
        received, gender, chosen, field, form, status, unit = r[1], r[4], json.loads(r[6]), r[7], r[8], r[9], r[10]
        if status in ("refused", "transferred") or not YEAR[0] <= received <= YEAR[1] \
                or (unit_ids is not None and unit not in unit_ids):
            continue
        hits = {"total", *(["men"] if gender == "male" else []), *(["women"] if gender == "female" else []), *chosen}
        for key in ((2, field, form), (1, field, None), (0, None, None)):
            cells.setdefault(key, Counter()).update(hits)
    cells.setdefault((0, None, None), Counter())
    return {k: tuple(c[name] for name in keys) for k, c in cells.items()}


async def _loaded(url: str):
    rt, _ = await reports.prepare(url, CASES, TODAY)
    return rt


def test_handwritten_report_equals_a_count_in_python(database_url):
    async def run():
        rt = await _loaded(database_url)
        try:
            groups = reports.groups_list(rt.config)
            keys = [k for k, _ in reports.measures(groups)]
            rows = list(reports.generate(await reports.case_units(rt), groups, CASES, TODAY))
            province = await reports.province_units(rt, "STP-01")
            out = {}
            for scope, ids in (("national", None), ("province", province)):
                got = reports.as_table(await rt.db.fetch(reports.handwritten_sql(groups, ids), *YEAR), keys)
                out[scope] = (got, oracle(rows, groups, ids))
            return out, province
        finally:
            await rt.db.close()

    out, province = asyncio.run(run())
    assert len(province) == 3  # TT-01 and its two branches
    for scope, (got, expected) in out.items():
        assert got == expected, scope
    assert 0 < out["province"][0][(0, None, None)][0] < out["national"][0][(0, None, None)][0]


# -- the summary table (built by migrate, kept by triggers) ---------------------------------------------------------
def test_report_from_its_summary_table_equals_the_handwritten_report(database_url):
    """The benchmark's loader builds the summary tables after its bulk load; the engine's Biểu 24 then reads one
    and must give the hand-written figures, national and one province."""
    from hoso.records.context import RecordContext
    from hoso.reports.engine import compile_report, run_report
    from hoso.reports.model import ReportRequest

    async def run():
        rt = await _loaded(database_url)
        try:
            groups = reports.groups_list(rt.config)
            keys = [k for k, _ in reports.measures(groups)]
            ctx = RecordContext.system(rt.config, origin="test")
            out = []
            for unit, ids in ((None, None), ("STP-01", await reports.province_units(rt, "STP-01"))):
                request = ReportRequest("people_assisted", period="2025", unit=unit)
                assert reports.PREFIX in (await compile_report(rt, ctx, request)).sql
                got = reports.compiled_table(await run_report(rt, ctx, request), keys)
                out.append((got, reports.as_table(await rt.db.fetch(reports.handwritten_sql(groups, ids), *YEAR),
                                                  keys)))
            return out
        finally:
            await rt.db.close()

    for got, hand in asyncio.run(run()):
        assert got == hand
