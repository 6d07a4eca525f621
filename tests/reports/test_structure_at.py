"""The unit tree of any date: dated parent links written by unit loading and by restructurings, backfilled for
existing databases, read back by ``structure_at`` (both engines)."""

from __future__ import annotations

import datetime as dt

import pytest

from hoso.restructure import apply
from hoso.units import structure_at, sync_units
from tests.helpers import migrated_runtime
from tests.restructure.support import add_case, change_set, write_rs_config

BEFORE = dt.date(2025, 6, 30)
ON = dt.date(2025, 7, 1)
LATER = dt.date(2026, 1, 1)

BASE = {  # code -> parent code, from tests/restructure/support.py
    "P01": None, "P02": None, "P03": None, "TT": "P01", "TT2": "P01", "TT3": "P02", "CN3": "TT3", "TT4": "P03",
    "D31": "P03", "D32": "P03", "X311": "D31", "X312": "D31", "X321": "D32",
}

MERGE_AND_SPLIT = """
restructuring: merge-and-split
effective: 2025-07-01
label: {vi: Hợp nhất và chia}
operations:
  - merge: {units: [TT2, TT3], into: TT}
  - split:
      unit: X311
      into: [X312, X321]
      rule: {entity: case, field: commune, map: {Thôn B: X321}, default: X312}
  - move: {unit: D32, to: P01}
"""


@pytest.fixture
def rs_config(config_dir):
    return write_rs_config(config_dir)


def tree(units: list[dict]) -> dict[str, str | None]:
    return {u["code"]: u["parent_code"] for u in units}


async def edges(rt) -> list[tuple]:
    rows = await rt.db.fetch("SELECT u.code, p.code AS parent, e.valid_from, e.valid_to FROM hoso_unit_edge e "
                             "JOIN hoso_unit u ON u.id = e.unit_id LEFT JOIN hoso_unit p ON p.id = e.parent_id")
    return sorted((r["code"], r["parent"], r["valid_from"], r["valid_to"]) for r in rows)


async def test_structure_before_and_after_a_dated_merge_split_and_move(rs_config, database_url):
    rt = await migrated_runtime(rs_config.load(), database_url)
    try:
        assert tree(await structure_at(rt, BEFORE)) == BASE
        assert tree(await structure_at(rt, dt.date(2018, 12, 31))) == {}  # before the base units began
        await add_case(rt, "X311", commune="Thôn B")
        await apply(rt, change_set(rs_config, MERGE_AND_SPLIT), applied_by="tester")

        # The day before the effective date the old tree still stands, though the change set is applied.
        assert tree(await structure_at(rt, BEFORE)) == BASE
        after = dict(BASE)
        for closed in ("TT2", "TT3", "X311"):
            del after[closed]
        after |= {"CN3": "TT", "D32": "P01"}
        assert tree(await structure_at(rt, ON)) == after
        assert tree(await structure_at(rt, LATER)) == after
        # hoso_unit keeps the closed units' last parents: the tree of a date is not that table.
        assert await rt.db.fetchval("SELECT COUNT(*) FROM hoso_unit") == len(BASE)
        links = await edges(rt)
        assert ("CN3", "TT3", dt.date(2019, 1, 1), ON) in links and ("CN3", "TT", ON, None) in links
        assert ("TT2", "P01", dt.date(2019, 1, 1), ON) in links  # closed with its unit
        assert ("D32", "P03", dt.date(2019, 1, 1), ON) in links and ("D32", "P01", ON, None) in links
    finally:
        await rt.db.close()


async def test_a_later_change_set_keeps_the_earlier_dates(rs_config, database_url):
    rt = await migrated_runtime(rs_config.load(), database_url)
    try:
        await add_case(rt, "X311", commune="Thôn B")
        await apply(rt, change_set(rs_config, MERGE_AND_SPLIT), applied_by="tester")
        second = change_set(rs_config, """
            restructuring: second
            effective: 2026-01-01
            label: {vi: Lần hai}
            operations:
              - create: {code: P04, name_vi: Tỉnh Bốn, type: province}
              - move: {unit: CN3, to: TT4}
              - merge: {units: [P01], into: P04}
            """, "second.yaml")
        await apply(rt, second, applied_by="tester")
        first = tree(await structure_at(rt, ON))
        assert first["CN3"] == "TT" and first["D32"] == "P01" and "P04" not in first
        now = tree(await structure_at(rt, LATER))
        assert now["CN3"] == "TT4" and now["D32"] == "P04" and now["TT"] == "P04" and "P01" not in now
        assert tree(await structure_at(rt, BEFORE)) == BASE
    finally:
        await rt.db.close()


async def test_migrate_backfills_the_links_of_an_existing_database_from_lineage(rs_config, database_url):
    rt = await migrated_runtime(rs_config.load(), database_url)
    try:
        await add_case(rt, "X311", commune="Thôn B")
        await apply(rt, change_set(rs_config, MERGE_AND_SPLIT), applied_by="tester")
        written = await edges(rt)
        # A database restructured before the links existed has none: `hoso migrate` (sync_units) rebuilds them.
        await rt.db.execute("DELETE FROM hoso_unit_edge")
        await sync_units(rt)
        assert await edges(rt) == written
        assert tree(await structure_at(rt, BEFORE)) == BASE
        # Run again, nothing changes.
        await sync_units(rt)
        assert await edges(rt) == written
    finally:
        await rt.db.close()


async def test_units_without_links_answer_their_current_parent(rs_config, database_url):
    rt = await migrated_runtime(rs_config.load(), database_url)
    try:
        await rt.db.execute("DELETE FROM hoso_unit_edge")
        assert tree(await structure_at(rt, BEFORE)) == BASE
    finally:
        await rt.db.close()


def test_the_tree_command(rs_config, database_url):
    import asyncio

    from click.testing import CliRunner

    from hoso.restructure_cli import restructure

    async def prepare():
        rt = await migrated_runtime(rs_config.load(), database_url)
        try:
            await add_case(rt, "X311", commune="Thôn B")
            await apply(rt, change_set(rs_config, MERGE_AND_SPLIT), applied_by="tester")
        finally:
            await rt.db.close()

    asyncio.run(prepare())

    def run(*args):
        r = CliRunner().invoke(restructure, ["tree", "--config", str(rs_config.root), "--database", database_url,
                                             *args], catch_exceptions=False)
        return r.exit_code, r.output

    code, out = run("--on", "2025-06-30")
    assert code == 0 and "Units open on 30/06/2025: 13" in out
    assert "\n  TT2 Trung tâm Hai (centre)\n" in out and "\n    CN3 Chi nhánh Ba (branch)\n" in out
    code, out = run("--on", "2025-07-01")
    assert code == 0 and "Units open on 01/07/2025: 10" in out and "TT2" not in out
    assert "\n  TT Trung tâm Một (centre)\n    CN3 Chi nhánh Ba (branch)\n" in out
    code, out = run("--on", "2025-02-30")
    assert code == 2 and "--on" in out
