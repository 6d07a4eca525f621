"""A three-level restructuring the size of Vietnam's 2025 reform: 63 provinces merged into 34, the 692 districts
abolished, and 10,000 communes mapped onto 3,321 (a few split between two successors)."""

from __future__ import annotations

import datetime as dt
import random
import time

import pytest

from hoso.restructure import apply, lookup_successor, plan
from tests.helpers import migrated_runtime
from tests.restructure.support import EFFECTIVE, change_set, visible

PROVINCES, NEW_PROVINCES, DISTRICTS, COMMUNES, NEW_COMMUNES = 63, 34, 692, 10_000, 3_321
SPLITS = 6
CASES_PER_COMMUNE = 2


def world():
    """The old tree, the groups of old communes making each new commune, and the split communes."""
    rnd = random.Random(2025)
    provinces = [f"T{p:02}" for p in range(PROVINCES)]
    kept = {p: provinces[i % NEW_PROVINCES] for i, p in enumerate(provinces)}  # province -> the one it joins
    districts = {f"H{d:03}": provinces[d % PROVINCES] for d in range(DISTRICTS)}
    dnames = sorted(districts)
    communes = {f"X{c:05}": dnames[c % DISTRICTS] for c in range(COMMUNES)}
    # Old communes grouped per new province; each new province gets new communes in proportion.
    by_new: dict[str, list[str]] = {}
    for c, d in sorted(communes.items()):
        by_new.setdefault(kept[districts[d]], []).append(c)
    sizes = {p: len(cs) for p, cs in by_new.items()}
    quota = {p: NEW_COMMUNES * n // COMMUNES for p, n in sizes.items()}
    rest = sorted(by_new, key=lambda p: -(NEW_COMMUNES * sizes[p] % COMMUNES))
    for p in rest[: NEW_COMMUNES - sum(quota.values())]:
        quota[p] += 1
    groups: list[tuple[str, str, list[str]]] = []  # (new commune, new province, old communes)
    for p in sorted(by_new):
        olds = by_new[p]
        k = quota[p]
        for j in range(k):
            groups.append((f"XM{len(groups) + 1:04}", p, olds[j * len(olds) // k:(j + 1) * len(olds) // k]))
    assert len(groups) == NEW_COMMUNES
    # A few communes are split between their group's new commune and the next one of the same province.
    splits: dict[str, tuple[str, str]] = {}
    candidates = [i for i in range(len(groups) - 1) if groups[i][1] == groups[i + 1][1] and len(groups[i][2]) > 2]
    for i in rnd.sample(candidates, SPLITS):
        old = groups[i][2].pop()
        splits[old] = (groups[i][0], groups[i + 1][0])
    return provinces, kept, districts, communes, groups, splits


def change_set_text(kept, groups, splits) -> str:
    lines = ["restructuring: 2025-three-levels", "effective: 2025-07-01",
             "label: {vi: Sắp xếp ba cấp, en: Three-level reform}",
             "users:", "  default: follow_lineage", "  rehome:"]
    for old, (a, _b) in sorted(splits.items()):
        lines.append(f"    - {{from: {old}, to: {a}}}")
    lines.append("operations:")
    into: dict[str, list[str]] = {}
    for p, k in kept.items():
        into.setdefault(k, []).append(p)
    for k, ps in sorted(into.items()):
        if len(ps) > 1:
            lines.append(f"  - merge: {{units: [{', '.join(ps)}], into: {k}}}")
    for code, p, _olds in groups:
        lines.append(f"  - create: {{code: {code}, name_vi: Xã mới {code[2:]}, type: commune, parent: {p}}}")
    for code, _p, olds in groups:
        lines.append(f"  - merge: {{units: [{', '.join(olds)}], into: {code}}}")
    for old, (a, b) in sorted(splits.items()):
        lines.append(f"  - split: {{unit: {old}, into: [{a}, {b}], rule: {{entity: case, field: commune, "
                     f"map: {{Thôn A: {a}, Thôn B: {b}}}}}}}")
    lines.append("  - abolish_level: {type: district, reattach_to: grandparent}")
    return "\n".join(lines) + "\n"


async def load_units(rt, provinces, districts, communes) -> dict[str, int]:
    db = rt.db
    async with db.transaction():
        for rows in ([(p, f"Tỉnh {p}", "province", None) for p in provinces],
                     [(d, f"Huyện {d}", "district", p) for d, p in sorted(districts.items())],
                     [(c, f"Xã {c}", "commune", d) for c, d in sorted(communes.items())]):
            ids = {r["code"]: r["id"] for r in await db.fetch("SELECT id, code FROM hoso_unit")}
            await db.executemany(
                "INSERT INTO hoso_unit (code, name_vi, type, parent_id, valid_from) VALUES (?, ?, ?, ?, ?)",
                [(code, name, t, ids.get(parent), dt.date(2019, 1, 1)) for code, name, t, parent in rows])
        from hoso.scope import rebuild_closure

        await rebuild_closure(db)
    return {r["code"]: r["id"] for r in await db.fetch("SELECT id, code FROM hoso_unit")}


@pytest.mark.slow
async def test_three_level_reform_at_real_scale(rs_config, database_url):
    provinces, kept, districts, communes, groups, splits = world()
    rt = await migrated_runtime(rs_config.load(), database_url)
    db = rt.db
    try:
        ids = await load_units(rt, provinces, districts, communes)
        # Cases: two per old commune; the cases of split communes name their hamlet.
        rows = []
        for c in sorted(communes):
            for k in range(CASES_PER_COMMUNE):
                hamlet = ("Thôn A" if k == 0 else "Thôn B") if c in splits else None
                rows.append((f"{c}.TV.{k:02}.2024", dt.date(2024, 1, 2), "TV", "An", hamlet, "received", ids[c], 1))
        async with db.transaction():
            await db.executemany('INSERT INTO "case" (code, received_on, form_of_aid, requester, commune, status, '
                                 'unit, sys_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?)', rows)
            # Users: one reader per old commune of the first 300, one per district of the first 50.
            now = dt.datetime.now(dt.UTC)
            since = dt.date(2020, 1, 1)
            users = [(10_000 + i, "reader", ids[c], since, now) for i, c in enumerate(sorted(communes)[:300])]
            users += [(20_000 + i, "reader", ids[d], since, now) for i, d in enumerate(sorted(districts)[:50])]
            users += [(30_000 + i, "reader", ids[c], dt.date(2020, 1, 1), now) for i, c in enumerate(sorted(splits))]
            await db.executemany("INSERT INTO hoso_assignment (user_id, role, unit_id, starts_on, created_at) "
                                 "VALUES (?, ?, ?, ?, ?)", users)

        path = change_set(rs_config, change_set_text(kept, groups, splits), name="three-levels.yaml")
        t0 = time.perf_counter()
        p = await plan(rt, path)
        t_plan = time.perf_counter() - t0
        assert p.ok, p.render(20)
        assert p.totals["units_created"] == NEW_COMMUNES
        assert p.totals["units_closed"] == (PROVINCES - NEW_PROVINCES) + COMMUNES + DISTRICTS + 2  # + D31, D32
        split_op = next(o for o in p.operations if o.kind == "split")
        assert split_op.records == {"case": 2} and any("1 -> " in n for n in split_op.notes)

        t0 = time.perf_counter()
        result = await apply(rt, path, applied_by="test", batch_size=1000)
        t_apply = time.perf_counter() - t0
        print(f"\nthree levels on {db.kind}: plan {t_plan:.2f}s, apply {t_apply:.2f}s")
        s = result.summary
        assert s["units_created"] == NEW_COMMUNES and s["records_reassigned"] == {"case": 2 * SPLITS}
        assert s["assignments_ended"] == 300 + 50 + SPLITS

        counts = {r["type"]: r["n"] for r in await db.fetch(
            "SELECT type, COUNT(*) AS n FROM hoso_unit WHERE valid_to IS NULL AND code NOT IN "
            "('P01', 'P02', 'P03', 'X311', 'X312', 'X321') GROUP BY type")}
        assert counts.get("district") is None
        assert counts["commune"] == NEW_COMMUNES and counts["province"] == NEW_PROVINCES
        # The communes of the small fixture tree were re-attached to their province.
        assert await db.fetchval("SELECT p.code FROM hoso_unit u JOIN hoso_unit p ON p.id = u.parent_id "
                                 "WHERE u.code = 'X321'") == "P03"
        assert await db.fetchval('SELECT COUNT(*) FROM "case" WHERE sys_scope_unit IS NOT NULL') == 2 * SPLITS
        # History: no case changed its recorded unit.
        assert await db.fetchval('SELECT COUNT(*) FROM "case" c JOIN hoso_unit u ON u.id = c.unit '
                                 "WHERE u.type <> 'commune'") == 0

        # Every old code finds its successor(s); spot checks of scopes.
        new_of = {old: new for new, _p, olds in groups for old in olds}
        rnd = random.Random(7)
        for old in rnd.sample(sorted(new_of), 40) + sorted(splits):
            found = sorted(u["code"] for u in await lookup_successor(db, old))
            assert found == (sorted(splits[old]) if old in splits else [new_of[old]]), old
        for d in rnd.sample(sorted(districts), 5):
            found = await lookup_successor(db, d)
            assert [u["code"] for u in found] == [kept[districts[d]]]
        for new, _p_code, olds in rnd.sample(groups, 5):
            u = 40_000 + int(new[2:])
            await db.execute("INSERT INTO hoso_assignment (user_id, role, unit_id, starts_on, created_at) VALUES "
                             "({}, 'reader', {}, {}, {})", u, await db.fetchval(
                                 "SELECT id FROM hoso_unit WHERE code = {}", new), EFFECTIVE,
                             dt.datetime.now(dt.UTC))
            expected = {r["id"] for r in await db.fetch(
                f'SELECT id FROM "case" WHERE unit IN ({", ".join("{}" for _ in olds)}) AND sys_scope_unit IS NULL',
                *[ids[o] for o in olds])}
            for old, pair in splits.items():
                if new in pair:
                    expected |= {r["id"] for r in await db.fetch(
                        'SELECT id FROM "case" WHERE unit = {} AND commune = {}', ids[old],
                        "Thôn A" if pair[0] == new else "Thôn B")}
            assert set(await visible(rt, u)) == expected, new
        # A re-homed commune reader now reads its new commune; a district reader its (merged) province.
        first = sorted(communes)[0]
        assert await db.fetchval("SELECT u.code FROM hoso_assignment a JOIN hoso_unit u ON u.id = a.unit_id "
                                 "WHERE a.user_id = 10000 AND a.ends_on IS NULL") == new_of[first]
        d0 = sorted(districts)[0]
        assert await db.fetchval("SELECT u.code FROM hoso_assignment a JOIN hoso_unit u ON u.id = a.unit_id "
                                 "WHERE a.user_id = 20000 AND a.ends_on IS NULL") == kept[districts[d0]]
        province_cases = await db.fetchval(
            'SELECT COUNT(*) FROM "case" c JOIN hoso_unit x ON x.id = c.unit JOIN hoso_unit h ON h.id = x.parent_id '
            "JOIN hoso_unit t ON t.id = h.parent_id WHERE t.code IN ("
            + ", ".join(f"'{p}'" for p, k in kept.items() if k == kept[districts[d0]]) + ")")
        assert len(await visible(rt, 20000)) == province_cases

        again = await apply(rt, path, applied_by="test")
        assert again.already_applied
    finally:
        await db.close()
