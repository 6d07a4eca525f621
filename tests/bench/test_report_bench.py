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

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


# -- the summary table (PostgreSQL: the trigger is PL/pgSQL) -----------------------------------------------------
FIELDS = st.sampled_from(reports.FIELDS)
FORMS = st.sampled_from(reports.FORMS)
GENDERS = st.sampled_from(["male", "female", "other", None])
GROUPS = st.lists(st.sampled_from(["NCC", "HN", "TE", "MBN", "KKTC_HIV"]), min_size=1, max_size=3, unique=True)
DATES = st.dates(dt.date(2024, 11, 1), dt.date(2026, 2, 28))  # across the year's edges
NEW = st.fixed_dictionaries({"field_of_law": FIELDS, "form_of_aid": FORMS, "gender": GENDERS,
                             "status": st.sampled_from(["received", "accepted", "refused", "transferred"]),
                             "beneficiary_groups": GROUPS.map(json.dumps), "received_on": DATES,
                             "unit": st.integers(0, 81)})
CHANGE = st.dictionaries(st.sampled_from(["field_of_law", "form_of_aid", "gender", "beneficiary_groups",
                                          "received_on", "unit", "status"]), st.none(), min_size=1, max_size=3)
OPS = st.lists(st.one_of(
    st.tuples(st.just("insert"), NEW),
    st.tuples(st.just("update"), st.integers(0, 10**6), CHANGE, NEW),
    st.tuples(st.just("soft_delete"), st.integers(0, 10**6)),
    st.tuples(st.just("restore"), st.integers(0, 10**6)),
    st.tuples(st.just("delete"), st.integers(0, 10**6))), min_size=1, max_size=12)


@pytest.fixture
def summary_db(postgres_url):  # the summary table's trigger is PL/pgSQL
    database_url = postgres_url

    async def build():
        import asyncpg

        rt = await _loaded(database_url)
        groups = reports.groups_list(rt.config)
        units = [u for u, _ in await reports.case_units(rt)]
        province = await reports.province_units(rt, "STP-01")
        await rt.db.close()
        conn = await asyncpg.connect(database_url)
        try:
            for stmt in reports.summary_ddl(groups, rollup=True):
                await conn.execute(stmt)
        finally:
            await conn.close()
        return groups, units, province

    return (database_url, *asyncio.run(build()))


async def _apply(conn, units: list[int], ops: list[tuple]) -> None:
    for op in ops:
        ids = [r["id"] for r in await conn.fetch('SELECT id FROM "case" ORDER BY id')]
        if op[0] == "insert":
            new = {**op[1], "unit": units[op[1]["unit"]]}
            marks = ", ".join(f"${i}" for i in range(1, len(new) + 1))
            await conn.execute(f"INSERT INTO \"case\" (code, requester_name, {', '.join(new)}) "
                               f"VALUES ('T.' || gen_random_uuid(), 't', {marks})", *new.values())
            continue
        if not ids:
            continue
        case_id = ids[op[1] % len(ids)]
        if op[0] == "update":
            new = {k: (units[op[3][k]] if k == "unit" else op[3][k]) for k in op[2]}
            sets = ", ".join(f"{k} = ${i}" for i, k in enumerate(new, start=2))
            await conn.execute(f'UPDATE "case" SET {sets}, sys_version = sys_version + 1 WHERE id = $1', case_id,
                               *new.values())
        elif op[0] == "soft_delete":
            await conn.execute('UPDATE "case" SET sys_deleted_at = now() WHERE id = $1', case_id)
        elif op[0] == "restore":
            await conn.execute('UPDATE "case" SET sys_deleted_at = NULL WHERE id = $1', case_id)
        else:
            await conn.execute('DELETE FROM "case" WHERE id = $1', case_id)


@pytest.mark.slow
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_summary_table_stays_equal_to_the_cases(summary_db, ops):
    url, groups, units, province = summary_db

    async def run():
        import asyncpg

        conn = await asyncpg.connect(url)
        try:
            async with conn.transaction():  # the trigger runs inside the write's transaction
                await _apply(conn, units, ops)
            keys = [k for k, _ in reports.measures(groups)]
            out = []
            for ids in (None, province):
                def sql(text: str) -> str:
                    return text.replace("{}", "$1", 1).replace("{}", "$2", 1)

                hand = reports.as_table(await conn.fetch(sql(reports.handwritten_sql(groups, ids)), *YEAR), keys)
                summ = reports.as_table(await conn.fetch(sql(reports.summary_sql(groups, ids)), *MONTHS), keys)
                out.append((hand, summ))
                if ids is None:  # the national roll-up kept by the same trigger
                    up = reports.as_table(await conn.fetch(sql(reports.summary_sql(groups, None, True)), *MONTHS),
                                          keys)
                    out.append((hand, up))
            negative = await conn.fetchval("SELECT COUNT(*) FROM bench_case_summary WHERE n_total < 0")
            return out, negative
        finally:
            await conn.close()

    out, negative = asyncio.run(run())
    assert negative == 0
    for hand, summ in out:
        assert summ == hand
