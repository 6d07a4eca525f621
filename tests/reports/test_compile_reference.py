"""The reference deployment's reports (forms_config/reports/) run from their YAML on a few known cases, on both
engines: Biểu 24, cases by unit and status, the litigation bulletin and performer quotas; a provincial officer
sees their province's numbers, the national statistician the whole country's and no rows."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from hoso.config import load_config
from hoso.records.context import RecordContext
from hoso.reports.engine import cell_records, run_report
from hoso.reports.model import ReportError, ReportRequest
from hoso.scope import ScopeDenied
from tests.helpers import migrated_runtime

D = dt.date
TODAY = D(2026, 1, 15)
COLUMNS = ("code", "received_on", "requester_name", "requester_citizen_id", "gender", "beneficiary_groups",
           "field_of_law", "form_of_aid", "status", "unit", "litigation_role", "accepted_on", "ended_on",
           "successful", "performer", "request_channel")
CASES = [
    ("a", D(2025, 1, 10), "A", "001", "male", ["HN", "TE"], "HS", "TGTT", "ended", "TT-01", "defence",
     D(2025, 1, 12), D(2025, 3, 5), True, 1, "in_person"),
    ("b", D(2025, 1, 20), "B", "002", "female", ["NCC"], "HS", "TGTT", "in_progress", "CN1-01", "protection",
     D(2025, 1, 22), None, None, 1, "in_person"),
    ("c", D(2025, 2, 2), "C", "003", "female", ["HN"], "DS", "TV", "ended", "TT-01", None, None, D(2025, 2, 3),
     None, 2, "hotline"),
    ("d", D(2025, 3, 1), "D", "004", "male", ["DTTS"], "HS", "TGTT", "ended", "TT-02", "defence", D(2025, 3, 2),
     D(2025, 3, 30), False, 3, "in_person"),
    ("e", D(2025, 3, 3), "E", "001", "male", ["HN"], "DS", "TV", "refused", "TT-01", None, None, None, None, None,
     "post"),
]
PERFORMERS = [(1, "Lê Văn Một", "assistant", "TT-01", 12), (2, "Phạm Thị Hai", "assistant", "TT-01", 20),
              (3, "Đỗ Văn Ba", "assistant", "TT-02", None)]


@pytest.fixture
async def reference(reference_config_dir, database_url):
    rt = await migrated_runtime(load_config(reference_config_dir), database_url)
    ids = {r["code"]: int(r["id"]) for r in await rt.db.fetch("SELECT id, code FROM hoso_unit")}
    async with rt.db.transaction():
        for pid, name, kind, unit, target in PERFORMERS:
            await rt.db.execute('INSERT INTO "performer" (id, name, kind, unit, yearly_target, sys_version) '
                                "VALUES ({}, {}, {}, {}, {}, 1)", pid, name, kind, ids[unit], target)
        for i, case in enumerate(CASES):
            values = list(case)
            values[5] = json.dumps(values[5])
            values[9] = ids[values[9]]
            cols = ", ".join(f'"{c}"' for c in COLUMNS)
            marks = ", ".join("{}" for _ in COLUMNS)
            await rt.db.execute(f'INSERT INTO "case" (id, {cols}, sys_version) VALUES ({{}}, {marks}, 1)', i + 1,
                                *values)
        for uid, role, unit in ((1, "provincial_officer", "STP-01"), (2, "national_statistician", "CUC")):
            await rt.db.execute("INSERT INTO hoso_assignment (user_id, role, unit_id, starts_on, ends_on, created_at) "
                                "VALUES ({}, {}, {}, {}, {}, {})", uid, role, ids[unit], D(2020, 1, 1), None,
                                dt.datetime.now(dt.UTC))
    yield rt
    await rt.db.close()


def ctx(rt, user=None, lang="vi"):
    if user is None:
        return RecordContext.system(rt.config)
    return RecordContext(rt.config, user, f"u{user}", "test", lang, on=TODAY)


def cells(result):
    cols = [c.key for c in result.columns]
    out = {(r.kind, r.keys): dict(zip(cols, r.values, strict=True)) for r in result.rows}
    out["total"] = dict(zip(cols, result.total.values, strict=True))
    return out


async def test_biểu_24(reference):
    result = await run_report(reference, ctx(reference), ReportRequest("people_assisted", period="2025"))
    got = cells(result)
    hs = got[("row", ("HS", "TGTT"))]
    assert (hs["total"], hs["men"], hs["women"]) == (3, 2, 1)
    assert (hs["beneficiary_groups:HN"], hs["beneficiary_groups:TE"], hs["beneficiary_groups:NCC"],
            hs["beneficiary_groups:DTTS"], hs["beneficiary_groups:MBN"]) == (1, 1, 1, 1, 0)
    assert got[("row", ("DS", "TV"))]["total"] == 1  # the refused case does not count
    assert got["total"]["total"] == 4 and got["total"]["women"] == 2
    assert [r.kind for r in result.rows] == ["subtotal", "row", "subtotal", "row"]
    assert result.rows[0].labels[0] == "Hình sự"
    # a provincial officer of Hà Nội: cases a, b, c
    mine = cells(await run_report(reference, ctx(reference, 1), ReportRequest("people_assisted", period="2025")))
    assert mine["total"]["total"] == 3
    # the national statistician: every province's numbers, cells of 1 to 4 people hidden (its role's
    # suppress_below: 5), no rows
    numbers = await run_report(reference, ctx(reference, 2), ReportRequest("people_assisted", period="2025"))
    stats = cells(numbers)
    for key, value in got.items():
        for column, n in value.items():
            shown = stats[key][column]
            assert shown == n or shown is None, (key, column)
            assert shown is None or not 0 < n < 5, (key, column)
    assert numbers.suppressed == sum(v is None for row in stats.values() for v in row.values()) > 0
    with pytest.raises(ScopeDenied):
        await cell_records(reference, ctx(reference, 2), ReportRequest("people_assisted"), (), "total")


async def test_cases_by_unit_litigation_bulletin_and_quotas(reference):
    by_unit = cells(await run_report(reference, ctx(reference), ReportRequest("cases_by_unit")))
    assert by_unit[("row", ("TT-01",))]["total"] == 3 and by_unit[("row", ("TT-01",))]["status:refused"] == 1
    assert by_unit[("row", ("TT-01",))]["requesters"] == 2  # citizen 001 asked twice
    assert by_unit[("row", ("CN1-01",))]["status:in_progress"] == 1
    assert by_unit["total"]["requesters"] == 4
    bulletin = cells(await run_report(reference, ctx(reference), ReportRequest("litigation_cases", period="2025-Q1")))
    # accepted in the month by accepted_on; ended (and successful) in the month by ended_on: case a, accepted
    # in January, ended (successfully) in March
    assert bulletin[("row", ("2025-01", "HS"))] == {"accepted": 2, "ended": 0, "defence": 1, "protection": 1,
                                                   "successful": 0}
    assert bulletin[("row", ("2025-03", "HS"))] == {"accepted": 1, "ended": 2, "defence": 1, "protection": 0,
                                                   "successful": 1}
    assert bulletin["total"]["accepted"] == 3 and bulletin["total"]["ended"] == 2
    quotas = await run_report(reference, ctx(reference), ReportRequest("performer_quotas", period="2025"))
    q = cells(quotas)
    assert q[("row", (1,))] == {"completed": 1, "litigation": 1, "target": 12}
    assert q[("row", (2,))] == {"completed": 1, "litigation": 0, "target": 20}
    assert q[("row", (3,))] == {"completed": 1, "litigation": 1, "target": None}
    assert q["total"] == {"completed": 3, "litigation": 2, "target": 32}
    assert [r.labels[0] for r in quotas.rows] == ["Lê Văn Một", "Phạm Thị Hai", "Đỗ Văn Ba"]


async def test_a_user_without_a_grant_is_refused(reference):
    with pytest.raises(ScopeDenied):
        await run_report(reference, ctx(reference, 77), ReportRequest("people_assisted"))


async def test_a_statistics_role_gets_no_row_per_performer(reference):
    # the national statistician sees provinces at the finest: a row per performer is one person's numbers
    with pytest.raises(ReportError) as refused:
        await run_report(reference, ctx(reference, 2), ReportRequest("performer_quotas", period="2025"))
    assert [p for p, _m in refused.value.problems] == ["report"]
    assert "Người thực hiện" in refused.value.problems[0][1]
    # the provincial officer reads the rows of the province: the same report answers
    assert (await run_report(reference, ctx(reference, 1), ReportRequest("performer_quotas", period="2025"))).rows


async def test_the_cut_off_follows_the_reporting_unit(reference):
    # forms_config/calendar.yaml: the year's actual data to 30 November, to 31 October for organisations
    await reference.db.execute("INSERT INTO hoso_unit (code, name_vi, type) VALUES ({}, {}, {})", "TC-X",
                               "Tổ chức X", "participating_organisation")
    centre = await run_report(reference, ctx(reference), ReportRequest("people_assisted", period="2025", unit="TT-01"))
    org = await run_report(reference, ctx(reference), ReportRequest("people_assisted", period="2025", unit="TC-X"))
    assert (centre.period.end, org.period.end) == (D(2025, 11, 30), D(2025, 10, 31))
