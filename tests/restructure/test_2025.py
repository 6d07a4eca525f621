"""The real 2025 merger of provinces (63 -> 34) as a change set, on the reference configuration."""

from __future__ import annotations

import csv
import datetime as dt
import importlib.util
import json
from pathlib import Path

from hoso.config import load_config
from hoso.restructure import apply, lookup_successor, plan
from tests.helpers import migrated_runtime
from tests.restructure.support import active_assignments, add_user, assign, visible

REPO = Path(__file__).resolve().parents[2]
CHANGE_SET = "roles_config/restructurings/2025-07-01-provinces.yaml"


def mapping(root: Path) -> dict[str, tuple[str, str]]:
    """old code -> (new code, new name)."""
    with (root / "roles_config/units/provinces_2025.csv").open(encoding="utf-8-sig", newline="") as fh:
        return {r["old_code"]: (r["new_code"], r["new_name"]) for r in csv.DictReader(fh)}


def test_the_change_set_is_what_make_2025_generates():
    spec = importlib.util.spec_from_file_location("make_2025", REPO / "roles_config/restructurings/make_2025.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    text = mod.build(mod.read_mapping(REPO / "roles_config/units/provinces_2025.csv"))
    assert (REPO / CHANGE_SET).read_text(encoding="utf-8") == text


async def insert_cases(rt, per_unit: dict[str, int]) -> dict[str, list[int]]:
    """Cases written straight into the table (test data), a few per unit code."""
    ids: dict[str, list[int]] = {}
    n = 0
    for code, count in per_unit.items():
        unit = await rt.db.fetchval("SELECT id FROM hoso_unit WHERE code = {}", code)
        for _ in range(count):
            n += 1
            ids.setdefault(code, []).append(await rt.db.fetchval(
                'INSERT INTO "case" (code, received_on, request_channel, requester_name, beneficiary_groups, '
                "field_of_law, form_of_aid, status, unit, sys_version) VALUES ({}, {}, 'in_person', {}, '[\"TE\"]', "
                "'DS', 'TV', 'received', {}, 1) RETURNING id", f"{code}.TV.{n:02}.2024", dt.date(2024, 5, 1),
                f"Người {n}", unit))
    return ids


async def test_2025_merger_applies_to_the_reference_configuration(reference_config_dir, database_url):
    rt = await migrated_runtime(load_config(reference_config_dir), database_url)
    try:
        db = rt.db
        cases = await insert_cases(rt, {"TT-10": 2, "TT-15": 2, "CN1-10": 1, "TT-01": 1, "TT-24": 1})
        lao_cai = await add_user(rt, "laocai", "STP-10")
        yen_bai = await add_user(rt, "yenbai", "STP-15")
        centre = await add_user(rt, "tt15", "TT-15")
        await assign(rt, lao_cai, "provincial_officer", "STP-10")
        await assign(rt, yen_bai, "provincial_officer", "STP-15")
        await assign(rt, centre, "centre_staff", "TT-15")
        assert await visible(rt, lao_cai) == sorted(cases["TT-10"] + cases["CN1-10"])

        path = reference_config_dir / CHANGE_SET
        p = await plan(rt, path)
        assert p.ok, p.render()
        assert p.totals["units_closed"] == 2 * (63 - 34)
        merge = next(o for o in p.operations if o.text == "merge TT-15 into TT-10")
        assert merge.records == {"case": 5} and merge.users == 1

        result = await apply(rt, path, applied_by="test")
        assert result.summary["units_closed"] == 58 and result.summary["assignments_ended"] == 2

        active = {r["type"]: r["n"] for r in await db.fetch(
            "SELECT type, COUNT(*) AS n FROM hoso_unit WHERE valid_to IS NULL GROUP BY type")}
        assert active["provincial_department"] == 34 and active["legal_aid_centre"] == 34
        # Every old code leads to exactly one open unit of the new province, whose name it keeps.
        new_units: dict[str, set[str]] = {}
        for old, (new_code, new_name) in mapping(reference_config_dir).items():
            for prefix, kind in (("STP", "provincial_department"), ("TT", "legal_aid_centre")):
                found = await lookup_successor(db, f"{prefix}-{old}")
                assert len(found) == 1, (old, found)
                unit = found[0]
                assert unit["valid_to"] is None and unit["type"] == kind
                short = new_name.removeprefix("Tỉnh ").removeprefix("Thành phố ")
                assert unit["name_vi"].endswith(short), (old, unit["name_vi"], new_name)
                assert unit["code"] in (f"{prefix}-{new_code}", f"{prefix}-2025-{new_code}")
                new_units.setdefault(f"{prefix}{new_code}", set()).add(unit["code"])
        assert len(new_units) == 68 and all(len(v) == 1 for v in new_units.values())
        # Branches moved along and hang under open centres.
        rows = await db.fetch("SELECT b.code, p.code AS parent, p.valid_to FROM hoso_unit b JOIN hoso_unit p "
                              "ON p.id = b.parent_id WHERE b.type = 'centre_branch'")
        assert rows and all(r["valid_to"] is None for r in rows)
        assert {r["code"]: r["parent"] for r in rows}["CN1-02"] == "TT-08"

        # History kept: cases keep their units; the merged province sees its predecessors' cases.
        recorded = {r["id"]: r["unit"] for r in await db.fetch('SELECT id, unit FROM "case"')}
        assert recorded[cases["TT-15"][0]] == await db.fetchval("SELECT id FROM hoso_unit WHERE code = 'TT-15'")
        lao_cai_cases = sorted(cases["TT-10"] + cases["TT-15"] + cases["CN1-10"])
        assert await visible(rt, lao_cai) == lao_cai_cases
        # The officer of Yên Bái follows lineage to the new Lào Cai department.
        assert await active_assignments(rt, yen_bai, dt.date.today()) == [("provincial_officer", "STP-2025-15")]
        assert await visible(rt, yen_bai) == lao_cai_cases
        assert await active_assignments(rt, centre, dt.date.today()) == [("centre_staff", "TT-2025-15")]
        lineage = await db.fetch("SELECT kind, detail FROM hoso_unit_lineage l JOIN hoso_unit u ON u.id = l.unit_id "
                                 "WHERE u.code = 'STP-2025-15' ORDER BY l.id")
        assert [(r["kind"], r["detail"]) for r in lineage] == [("recoded", "STP-10")]

        # Applying it again changes nothing.
        before = await db.fetch("SELECT * FROM hoso_unit ORDER BY id")
        again = await apply(rt, path, applied_by="test")
        assert again.already_applied
        assert await db.fetch("SELECT * FROM hoso_unit ORDER BY id") == before
        row = (await db.fetch("SELECT * FROM hoso_restructuring"))[0]
        assert row["name"] == "2025-07-01-provinces" and json.loads(row["summary"])["operations"] == {
            "merge": 46, "rename": 14}
    finally:
        await db.close()
