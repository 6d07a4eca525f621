"""The same report for the same period, cut-off and as-of time returns the same numbers later, after records
were edited, deleted and moved by a restructuring (both engines)."""

from __future__ import annotations

import datetime as dt
import textwrap

import pytest

from hoso.records.context import RecordContext
from hoso.reports.engine import run_report
from hoso.reports.model import ReportRequest
from hoso.restructure.run import apply
from tests.helpers import migrated_runtime
from tests.reports.conftest import ctx_of, set_users, unit_ids, write_config

CALENDAR = """
calendar:
  weekend: [saturday, sunday]
periods:
  half_year:
    H1: {actual_to: "05-31"}
  year:
    actual_to: "11-30"
    by_reporter: {centre: "10-31"}
"""

# C11 is split between C12 (criminal cases) and C21 (the rest, in the other province).
SPLIT = """
restructuring: split-c11
effective: 2025-12-20
label: {vi: Chia Trung tâm Một Một}
operations:
  - split:
      unit: C11
      into: [C12, C21]
      rule: {entity: case, field: field_of_law, map: {HS: C12}, default: C21}
"""

# (unit, received_on, field_of_law, gender, groups)
CASES = [
    ("C11", "2025-01-10", "HS", "male", ["TE"]),
    ("C11", "2025-02-03", "DS", "female", ["HN"]),
    ("C11", "2025-05-31", "HS", "female", []),
    ("C12", "2025-06-15", "DS", "male", ["TE", "HN"]),  # after the six-month cut-off
    ("C21", "2025-11-30", "HS", "male", []),  # the last day of the annual cut-off
    ("C21", "2025-12-02", "HS", "female", ["TE"]),  # after it
]


@pytest.fixture
async def rt(tmp_path, database_url):
    root = tmp_path / "config"
    (root / "forms_config").mkdir(parents=True)
    (root / "forms_config" / "calendar.yaml").write_text(textwrap.dedent(CALENDAR).lstrip(), encoding="utf-8")
    runtime = await migrated_runtime(write_config(root), database_url)
    # No user at C11, the unit the change set splits (a user there would need a decision).
    await set_users(runtime, [(1, "r_national", "BTP"), (2, "r_province", "P1"), (6, "r_province", "P2")])
    runtime.__dict__["_root"] = root
    yield runtime
    await runtime.db.close()


def numbers(result) -> dict:
    body = result.to_json()
    return {"rows": body["rows"], "total": body["total"], "period": body["period"]}


async def test_a_report_as_of_a_cut_off_is_the_same_after_edits_deletions_and_a_restructuring(rt):
    svc, system = rt.records(), RecordContext.system(rt.config, origin="test")
    units = await unit_ids(rt)
    made = []
    for unit, received, law, gender, groups in CASES:
        made.append(await svc.create("case", {"unit": units[unit], "received_on": received, "field_of_law": law,
                                              "form_of_aid": "TV", "gender": gender, "groups": groups,
                                              "status": "accepted"}, system))
    cut = dt.datetime.now(dt.UTC)
    requests = [ReportRequest("people", period=p, as_of=cut) for p in ("2025", "2025-H1", "2025-07", None)]
    requests += [ReportRequest("by_unit", period="2025", as_of=cut), ReportRequest("by_unit", as_of=cut)]
    users = (1, 2, 6)

    async def run_all() -> list[dict]:
        return [numbers(await run_report(rt, ctx_of(rt, u), r)) for r in requests for u in users]

    first = await run_all()
    # The cut-offs hold: the year to 30/11 (the 6th case is left out), the first half to 31/05.
    year = await run_report(rt, ctx_of(rt, 1), requests[0])
    assert year.period.end == dt.date(2025, 11, 30) and year.total.values[0] == 5
    half = await run_report(rt, ctx_of(rt, 1), requests[1])
    assert half.period.end == dt.date(2025, 5, 31) and half.total.values[0] == 3

    # Later: an edit, a deletion, a new record dated inside the period, and C11 split by a restructuring.
    a, b = made[0], made[1]
    await svc.update("case", a["id"], {"field_of_law": "DS", "gender": "female"}, a["sys_version"], system)
    await svc.delete("case", b["id"], "nhập nhầm", b["sys_version"], system)
    await svc.create("case", {"unit": units["C12"], "received_on": "2025-03-01", "field_of_law": "HS",
                              "form_of_aid": "TV", "gender": "male", "status": "accepted"}, system)
    path = rt.__dict__["_root"] / "split.yaml"
    path.write_text(textwrap.dedent(SPLIT).lstrip(), encoding="utf-8")
    await apply(rt, path)
    moved = await rt.db.fetch('SELECT id, sys_scope_unit FROM "case" WHERE sys_scope_unit IS NOT NULL ORDER BY id')
    assert len(moved) == 3  # the split moved all of C11's records, the deleted one too

    assert await run_all() == first
    # The live report did change: the test compares numbers that moved.
    live = await run_report(rt, ctx_of(rt, 1), ReportRequest("people", period="2025"))
    assert numbers(live) != first[0]
    assert live.total.values[0] == 5  # one deleted, one added
    # A province user sees as of the cut-off what their province held then, not what the split gave it later.
    p2_then = await run_report(rt, ctx_of(rt, 6), requests[0])
    p2_now = await run_report(rt, ctx_of(rt, 6), ReportRequest("people", period="2025"))
    assert p2_then.total.values[0] == 1 and p2_now.total.values[0] > 1
