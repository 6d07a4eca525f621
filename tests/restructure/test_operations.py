"""Each kind of operation with records, users and scopes present, on both engines."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from hoso.restructure import RestructureError, apply, lookup_successor, plan
from tests.helpers import migrated_runtime
from tests.restructure.support import (
    EFFECTIVE,
    active_assignments,
    add_case,
    add_user,
    add_visit,
    assign,
    change_set,
    unit_id,
    visible,
)

TODAY = dt.date.today()


async def unit_row(rt, code):
    rows = await rt.db.fetch("SELECT * FROM hoso_unit WHERE code = {}", code)
    return rows[0] if rows else None


async def lineage(rt, code):
    rows = await rt.db.fetch(
        "SELECT l.kind, o.code AS other, l.detail, l.restructuring, l.effective_on FROM hoso_unit_lineage l "
        "JOIN hoso_unit u ON u.id = l.unit_id LEFT JOIN hoso_unit o ON o.id = l.other_id WHERE u.code = {} "
        "ORDER BY l.id", code)
    return [(r["kind"], r["other"]) for r in rows]


MERGE = """
restructuring: merge-centres
effective: 2025-07-01
label: {vi: Hợp nhất trung tâm}
operations:
  - merge: {units: [TT2, TT3], into: TT}
"""


async def test_merge_keeps_history_and_scopes_follow_lineage(rs_config, database_url):
    rt = await migrated_runtime(rs_config.load(), database_url)
    try:
        c1 = await add_case(rt, "TT")
        c2 = await add_case(rt, "TT2")
        c3 = await add_case(rt, "TT3")
        c4 = await add_case(rt, "CN3")
        c5 = await add_case(rt, "TT4")
        tt_user = await add_user(rt, "lan", "TT")
        tt3_user = await add_user(rt, "minh", "TT3")
        p02_user = await add_user(rt, "hoa", "P02")
        await assign(rt, tt_user, "reader", "TT")
        await assign(rt, tt3_user, "reader", "TT3")
        await assign(rt, p02_user, "reader", "P02")
        assert await visible(rt, tt_user) == [c1]
        assert await visible(rt, tt3_user) == [c3, c4]
        recorded = {r["id"]: r["unit"] for r in await rt.db.fetch('SELECT id, unit FROM "case"')}

        result = await apply(rt, change_set(rs_config, MERGE), applied_by="tester")
        assert not result.already_applied

        # History: every case keeps the unit it was recorded under; closed units keep their rows and codes.
        assert {r["id"]: r["unit"] for r in await rt.db.fetch('SELECT id, unit FROM "case"')} == recorded
        assert await rt.db.fetchval('SELECT COUNT(*) FROM "case" WHERE sys_scope_unit IS NOT NULL') == 0
        for code in ("TT2", "TT3"):
            row = await unit_row(rt, code)
            assert row["valid_to"] == EFFECTIVE
            assert await lineage(rt, code) == [("merged_into", "TT")]
        assert (await unit_row(rt, "TT"))["valid_to"] is None
        # The branch of a merged centre moves under the successor, with a lineage row.
        assert (await unit_row(rt, "CN3"))["parent_id"] == await unit_id(rt, "TT")
        assert await lineage(rt, "CN3") == [("moved", "TT")]

        # Scope follows lineage: the successor's reader sees its predecessors' cases.
        assert await visible(rt, tt_user) == [c1, c2, c3, c4]
        # The re-homed reader of TT3 now works at TT (follow lineage); before the date the old assignment held.
        assert await active_assignments(rt, tt3_user, TODAY) == [("reader", "TT")]
        assert await active_assignments(rt, tt3_user, EFFECTIVE - dt.timedelta(days=1)) == [("reader", "TT3")]
        ended = await rt.db.fetch("SELECT ends_on, end_reason FROM hoso_assignment WHERE user_id = {} AND ends_on "
                                  "IS NOT NULL", tt3_user)
        assert [(r["ends_on"], r["end_reason"]) for r in ended] == [(EFFECTIVE, "restructuring merge-centres")]
        assert await visible(rt, tt3_user) == [c1, c2, c3, c4]
        # Before the date the old assignment holds; the unit tree itself changed when the change set was applied
        # (the branch CN3 now hangs under TT).
        assert await visible(rt, tt3_user, on=EFFECTIVE - dt.timedelta(days=1)) == [c3]
        # The account's home unit follows too.
        assert await rt.db.fetchval("SELECT unit_id FROM hoso_user WHERE id = {}", tt3_user) == await unit_id(rt, "TT")
        # The old province keeps the records recorded under it (the closed centre still hangs under P02).
        assert await visible(rt, p02_user) == [c3]
        assert c5 not in await visible(rt, tt_user)

        # Old codes lead to the successor.
        assert [u["code"] for u in await lookup_successor(rt.db, "TT3")] == ["TT"]
        assert [u["code"] for u in await lookup_successor(rt.db, "TT3", on_date=dt.date(2025, 6, 30))] == ["TT3"]
        assert [u["code"] for u in await lookup_successor(rt.db, "NOPE")] == []

        # Recorded and audited.
        row = (await rt.db.fetch("SELECT * FROM hoso_restructuring"))[0]
        assert row["name"] == "merge-centres" and row["applied_by"] == "tester" and row["effective_on"] == EFFECTIVE
        summary = json.loads(row["summary"])
        assert summary["units_closed"] == 2 and summary["assignments_ended"] == 1
        audit = await rt.db.fetch("SELECT * FROM hoso_audit WHERE action = 'restructure'")
        assert len(audit) == 1 and audit[0]["entity"] == "hoso_unit" and audit[0]["actor"] == "tester"
        assert json.loads(audit[0]["changes"])["restructuring"] == "merge-centres"
    finally:
        await rt.db.close()


async def test_second_apply_changes_nothing_and_changed_content_is_refused(rs_config, database_url):
    rt = await migrated_runtime(rs_config.load(), database_url)
    try:
        await add_case(rt, "TT2")
        path = change_set(rs_config, MERGE)
        await apply(rt, path, applied_by="tester")

        async def snapshot():
            out = {}
            for table in ("hoso_unit", "hoso_unit_lineage", "hoso_unit_closure", "hoso_assignment", "case",
                          "hoso_restructuring", "hoso_audit"):
                out[table] = [dict(r) for r in await rt.db.fetch(f'SELECT * FROM "{table}" ORDER BY id')]
            return out

        before = await snapshot()
        again = await apply(rt, path, applied_by="someone else")
        assert again.already_applied and "nothing changed" in again.render()
        assert await snapshot() == before
        p = await plan(rt, path)
        assert p.ok and p.already_applied is not None and not p.has_changes
        assert "changes nothing" in p.render()

        change_set(rs_config, MERGE.replace("Hợp nhất trung tâm", "Hợp nhất các trung tâm"))
        with pytest.raises(RestructureError, match="change set merge-centres was applied with different content"):
            await apply(rt, path)
        p = await plan(rt, path)
        assert not p.ok and "different content" in p.render()
        assert await snapshot() == before
    finally:
        await rt.db.close()


async def test_rename_and_recode_keep_the_old_code_findable(rs_config, database_url):
    rt = await migrated_runtime(rs_config.load(), database_url)
    try:
        old_case = await add_case(rt, "TT")
        old_code = await rt.db.fetchval('SELECT code FROM "case" WHERE id = {}', old_case)
        path = change_set(rs_config, """
            restructuring: recode
            effective: 2025-07-01
            label: {vi: Đổi mã}
            operations:
              - rename: {unit: TT, code: TT-NEW, name_vi: Trung tâm Mới, name_en: New Centre}
              - rename: {unit: TT-NEW, name_vi: Trung tâm Mới Hơn}
        """)
        await apply(rt, path)
        row = await unit_row(rt, "TT-NEW")
        assert row["name_vi"] == "Trung tâm Mới Hơn" and row["name_en"] == "New Centre" and row["valid_to"] is None
        assert await unit_row(rt, "TT") is None
        rows = await rt.db.fetch("SELECT kind, detail FROM hoso_unit_lineage WHERE unit_id = {} ORDER BY id", row["id"])
        assert [r["kind"] for r in rows] == ["recoded", "renamed", "renamed"]
        assert rows[0]["detail"] == "TT"
        assert json.loads(rows[1]["detail"])["name_vi"] == ["Trung tâm Một", "Trung tâm Mới"]
        assert [(u["code"], u["path"]) for u in await lookup_successor(rt.db, "TT")] == [("TT-NEW", ["TT", "TT-NEW"])]
        # Existing case codes keep the old unit code (history); new ones use the new code.
        assert await rt.db.fetchval('SELECT code FROM "case" WHERE id = {}', old_case) == old_code
        new_case = await add_case(rt, "TT-NEW")
        assert (await rt.db.fetchval('SELECT code FROM "case" WHERE id = {}', new_case)).startswith("TT-NEW.")
    finally:
        await rt.db.close()


async def test_move_changes_which_ancestors_see_the_records(rs_config, database_url):
    rt = await migrated_runtime(rs_config.load(), database_url)
    try:
        c = await add_case(rt, "TT2")
        p1, p2 = await add_user(rt, "p1"), await add_user(rt, "p2")
        await assign(rt, p1, "reader", "P01")
        await assign(rt, p2, "reader", "P02")
        assert c in await visible(rt, p1) and c not in await visible(rt, p2)
        path = change_set(rs_config, """
            restructuring: move
            effective: 2025-07-01
            label: {vi: Chuyển}
            operations:
              - move: {unit: TT2, to: P02}
        """)
        p = await plan(rt, path)
        assert p.ok and p.operations[0].records == {"case": 1} and p.operations[0].units == ["TT2"]
        await apply(rt, path)
        assert c not in await visible(rt, p1) and c in await visible(rt, p2)
        assert await lineage(rt, "TT2") == [("moved", "P02")]
        detail = json.loads(await rt.db.fetchval("SELECT detail FROM hoso_unit_lineage WHERE kind = 'moved'"))
        assert detail["from"] == "P01"
        assert (await rt.db.fetchval('SELECT unit FROM "case" WHERE id = {}', c)) == await unit_id(rt, "TT2")
    finally:
        await rt.db.close()


async def test_create_then_merge_into_the_new_unit(rs_config, database_url):
    rt = await migrated_runtime(rs_config.load(), database_url)
    try:
        c4 = await add_case(rt, "TT4")
        c3 = await add_case(rt, "TT3")
        path = change_set(rs_config, """
            restructuring: create-merge
            effective: 2025-07-01
            label: {vi: Lập mới}
            operations:
              - create: {code: TT-MOI, name_vi: Trung tâm Mới, name_en: New Centre, type: centre, parent: P03}
              - merge: {units: [TT3, TT4], into: TT-MOI}
        """)
        p = await plan(rt, path)
        assert p.ok, p.render()
        assert p.operations[1].records == {"case": 2}
        await apply(rt, path)
        new = await unit_row(rt, "TT-MOI")
        assert new["parent_id"] == await unit_id(rt, "P03") and new["valid_from"] == EFFECTIVE
        assert new["type"] == "centre" and new["name_en"] == "New Centre"
        assert await lineage(rt, "TT-MOI") == [("created", "P03")]
        assert await lineage(rt, "TT3") == [("merged_into", "TT-MOI")]
        # The branch of TT3 moved under the new centre.
        assert (await unit_row(rt, "CN3"))["parent_id"] == new["id"]
        u = await add_user(rt, "new")
        await assign(rt, u, "reader", "TT-MOI", starts_on=EFFECTIVE)
        assert await visible(rt, u) == [c4, c3]
        # Closed units' readers at the province still see what was recorded there.
        p02 = await add_user(rt, "p02")
        await assign(rt, p02, "reader", "P02")
        assert await visible(rt, p02) == [c3]
    finally:
        await rt.db.close()


SPLIT = """
restructuring: split-commune
effective: 2025-07-01
label: {vi: Chia xã}
operations:
  - split:
      unit: X311
      into: [X312, X321]
      rule:
        entity: case
        field: commune
        map: {Thôn A: X312, Thôn B: X321}
"""


async def test_split_assigns_each_record_by_rule_and_unmatched_records_block(rs_config, database_url):
    rt = await migrated_runtime(rs_config.load(), database_url)
    try:
        a = await add_case(rt, "X311", commune="Thôn A")
        b = await add_case(rt, "X311", commune="Thôn B")
        c = await add_case(rt, "X311", commune="Thôn C")
        other = await add_case(rt, "X312")
        path = change_set(rs_config, SPLIT)
        p = await plan(rt, path)
        assert not p.ok
        assert any("1 case record(s) match no rule on commune ('Thôn C' x1)" in d for d in p.decisions), p.decisions
        with pytest.raises(RestructureError, match="needs 1 decision"):
            await apply(rt, path)
        assert await rt.db.fetchval("SELECT COUNT(*) FROM hoso_restructuring") == 0
        assert (await unit_row(rt, "X311"))["valid_to"] is None

        # With a default for the rest, the split applies.
        path = change_set(rs_config, SPLIT + "        default: X312\n")
        p = await plan(rt, path)
        assert p.ok, p.render()
        assert "case records: 2 -> X312, 1 -> X321" in p.render()
        await apply(rt, path, batch_size=100)
        rows = {r["id"]: (r["unit"], r["sys_scope_unit"]) for r in await rt.db.fetch(
            'SELECT id, unit, sys_scope_unit FROM "case"')}
        x311, x312, x321 = [await unit_id(rt, c) for c in ("X311", "X312", "X321")]
        assert rows == {a: (x311, x312), b: (x311, x321), c: (x311, x312), other: (x312, None)}
        assert await lineage(rt, "X311") == [("split_into", "X312"), ("split_into", "X321")]
        # Scopes follow the record's successor, not the whole split unit.
        u312, u321 = await add_user(rt, "u312"), await add_user(rt, "u321")
        await assign(rt, u312, "reader", "X312")
        await assign(rt, u321, "clerk", "X321")
        assert await visible(rt, u312) == [a, c, other]
        assert await visible(rt, u321) == [b]
        assert sorted(u["code"] for u in await lookup_successor(rt.db, "X311")) == ["X312", "X321"]
        summary = json.loads(await rt.db.fetchval("SELECT summary FROM hoso_restructuring"))
        assert summary["records_reassigned"] == {"case": 3}
    finally:
        await rt.db.close()


async def test_split_lists_entities_without_a_rule_and_users_needing_a_decision(rs_config, database_url):
    rt = await migrated_runtime(rs_config.load(), database_url)
    try:
        await add_case(rt, "X311", commune="Thôn A")
        await add_visit(rt, "X311")
        u = await add_user(rt, "xa")
        await assign(rt, u, "reader", "X311")
        path = change_set(rs_config, SPLIT + "        default: X312\n")
        p = await plan(rt, path)
        assert not p.ok
        text = p.render()
        assert "1 visit record(s) answer to X311 and no rule places them" in text
        assert "user xa (role reader at X311): X311 has several successors (X312, X321)" in text
        assert "users.rehome: - {from: X311, to: <unit>, role: reader}" in text
        # A rule for the user and one for the visits settle it.
        settled = """
            restructuring: split-commune
            effective: 2025-07-01
            label: {vi: Chia xã}
            users:
              rehome:
                - {from: X311, to: X321, role: reader}
            operations:
              - split:
                  unit: X311
                  into: [X312, X321]
                  rules:
                    - {entity: case, field: commune, map: {Thôn A: X312, Thôn B: X321}, default: X312}
                    - {entity: visit, field: FIELD, map: {X311: X312}, default: X321}
        """
        p = await plan(rt, change_set(rs_config, settled.replace("FIELD", "held_on")))
        assert [e.message for e in p.errors] == [
            "a split rule matches a text, choice, integer or org_unit field; 'held_on' is of type date"]
        # An org_unit field maps unit codes: the visit recorded at X311 goes to X312.
        path = change_set(rs_config, settled.replace("FIELD", "unit"))
        p = await plan(rt, path)
        assert p.ok, p.render()
        await apply(rt, path)
        assert await active_assignments(rt, u, TODAY) == [("reader", "X321")]
        assert await rt.db.fetchval("SELECT sys_scope_unit FROM visit") == await unit_id(rt, "X312")
    finally:
        await rt.db.close()


async def test_close_with_and_without_successor(rs_config, database_url):
    rt = await migrated_runtime(rs_config.load(), database_url)
    try:
        c2 = await add_case(rt, "TT2")
        cn = await add_case(rt, "CN3")
        tt, tt3 = await add_user(rt, "tt"), await add_user(rt, "tt3")
        await assign(rt, tt, "reader", "TT")
        await assign(rt, tt3, "reader", "TT3")
        cn_user = await add_user(rt, "cn")
        await assign(rt, cn_user, "clerk", "CN3")
        path = change_set(rs_config, """
            restructuring: close
            effective: 2025-07-01
            label: {vi: Giải thể}
            users: {default: follow_lineage}
            operations:
              - close: {unit: TT2, successor: TT}
              - close: {unit: CN3}
        """)
        p = await plan(rt, path)
        assert not p.ok
        assert any("user cn (role clerk at CN3): CN3 closes without a successor" in d for d in p.decisions)
        # A rule re-homes the branch's clerk.
        path = change_set(rs_config, """
            restructuring: close
            effective: 2025-07-01
            label: {vi: Giải thể}
            users:
              default: follow_lineage
              rehome:
                - {from: CN3, to: TT3}
            operations:
              - close: {unit: TT2, successor: TT}
              - close: {unit: CN3}
        """)
        p = await plan(rt, path)
        assert p.ok, p.render()
        await apply(rt, path)
        assert await lineage(rt, "TT2") == [("merged_into", "TT")]
        assert await lineage(rt, "CN3") == [("closed", None)]
        assert await visible(rt, tt) == [c2]
        # Without a successor, the records stay with the closed unit's parent.
        assert await visible(rt, tt3) == [cn]
        assert await active_assignments(rt, cn_user, TODAY) == [("clerk", "TT3")]
        assert [u["code"] for u in await lookup_successor(rt.db, "CN3")] == ["CN3"]
    finally:
        await rt.db.close()


async def test_abolish_level_reattaches_children(rs_config, database_url):
    rt = await migrated_runtime(rs_config.load(), database_url)
    try:
        cx = await add_case(rt, "X321")
        cd = await add_case(rt, "D31")
        d_user = await add_user(rt, "huyen", "D31")
        await assign(rt, d_user, "reader", "D31")
        p3 = await add_user(rt, "p3")
        await assign(rt, p3, "reader", "P03")
        path = change_set(rs_config, """
            restructuring: no-districts
            effective: 2025-07-01
            label: {vi: Bỏ cấp huyện}
            operations:
              - abolish_level: {type: district, reattach: {X321: TT4}, reattach_to: grandparent}
        """)
        p = await plan(rt, path)
        assert p.ok, p.render()
        op = p.operations[0]
        assert sorted(op.units) == ["D31", "D32"] and op.records == {"case": 2} and op.users == 1
        await apply(rt, path)
        for code in ("D31", "D32"):
            assert (await unit_row(rt, code))["valid_to"] == EFFECTIVE
        assert await lineage(rt, "D31") == [("abolished", "P03")]
        p03, tt4 = await unit_id(rt, "P03"), await unit_id(rt, "TT4")
        assert (await unit_row(rt, "X311"))["parent_id"] == p03
        assert (await unit_row(rt, "X312"))["parent_id"] == p03
        assert (await unit_row(rt, "X321"))["parent_id"] == tt4
        assert await visible(rt, p3) == [cx, cd]
        # The district's users follow lineage to the level above.
        assert await active_assignments(rt, d_user, TODAY) == [("reader", "P03")]
        assert [u["code"] for u in await lookup_successor(rt.db, "D32")] == ["P03"]
    finally:
        await rt.db.close()


async def test_users_default_decide_lists_every_assignment(rs_config, database_url):
    rt = await migrated_runtime(rs_config.load(), database_url)
    try:
        a, b = await add_user(rt, "a"), await add_user(rt, "b")
        await assign(rt, a, "reader", "TT2")
        await assign(rt, b, "clerk", "TT2")
        await assign(rt, b, "reader", "TT2", starts_on=dt.date(2026, 1, 1))  # starts after the date
        text = MERGE.replace("operations:", "users: {default: decide, rehome: [{from: TT2, to: TT4, role: reader}]}\n"
                             "operations:")
        path = change_set(rs_config, text)
        p = await plan(rt, path)
        assert not p.errors
        assert [d.split(":")[0] for d in p.decisions] == ["user b (role clerk at TT2)"]
        assert "users.default is decide and no users.rehome rule matches" in p.decisions[0]
        text = text.replace("role: reader}]", "role: reader}, {from: TT2, to: TT}]")
        p = await plan(rt, change_set(rs_config, text))
        assert p.ok, p.render()
        assert sorted(m[:4] for m in p.rehomed) == [("a", "reader", "TT2", "TT4"), ("b", "clerk", "TT2", "TT"),
                                                    ("b", "reader", "TT2", "TT4")]
        assert p.operations[0].users == 2  # b's second assignment starts after the date
        await apply(rt, change_set(rs_config, text))
        assert await active_assignments(rt, a, TODAY) == [("reader", "TT4")]
        assert await active_assignments(rt, b, TODAY) == [("clerk", "TT"), ("reader", "TT4")]
        later = await rt.db.fetch("SELECT a.starts_on, u.code FROM hoso_assignment a JOIN hoso_unit u ON "
                                  "u.id = a.unit_id WHERE a.user_id = {} AND a.role = 'reader' ORDER BY a.id", b)
        assert [(r["starts_on"], r["code"]) for r in later] == [(dt.date(2026, 1, 1), "TT2"),
                                                                (dt.date(2026, 1, 1), "TT4")]
    finally:
        await rt.db.close()


async def test_plan_counts_units_users_records_and_open_workflows(rs_config, database_url):
    rt = await migrated_runtime(rs_config.load(), database_url)
    try:
        await add_case(rt, "TT2", status="received")
        await add_case(rt, "TT2", status="accepted")
        await add_case(rt, "TT3", status="closed")
        await add_case(rt, "CN3", status="accepted")
        await add_case(rt, "TT", status="received")
        await add_visit(rt, "TT3")
        for name, unit in (("u1", "TT2"), ("u2", "CN3"), ("u3", "TT3")):
            await assign(rt, await add_user(rt, name), "reader", unit)
        await assign(rt, await add_user(rt, "gone"), "reader", "TT2")
        await rt.db.execute("UPDATE hoso_assignment SET ends_on = {} WHERE user_id = (SELECT id FROM hoso_user "
                            "WHERE username = 'gone')", dt.date(2024, 1, 1))
        path = change_set(rs_config, """
            restructuring: counts
            effective: 2025-07-01
            label: {vi: Đếm}
            operations:
              - merge: {units: [TT2], into: TT}
              - merge: {units: [TT3], into: TT}
        """)
        p = await plan(rt, path)
        assert p.ok, p.render()
        first, second = p.operations
        assert first.units == ["TT2", "TT"] and first.kind == "merge" and first.line == 5
        assert first.records == {"case": 3} and first.open_records == {"case": 3} and first.users == 1
        assert second.records == {"case": 3, "visit": 1} and second.open_records == {"case": 2}
        assert second.users == 2
        assert "children of TT3 moved under TT: CN3" in second.notes
        assert p.totals["units_closed"] == 2 and p.totals["assignments_re_homed"] == 2
        text = p.render()
        assert "[0] line 5: merge TT2 into TT" in text and "case 3 (3 open)" in text and "Ready to apply." in text
    finally:
        await rt.db.close()


async def test_children_handled_by_a_later_operation_are_not_carried_along(rs_config, database_url):
    rt = await migrated_runtime(rs_config.load(), database_url)
    try:
        c = await add_case(rt, "CN3")
        path = change_set(rs_config, """
            restructuring: later
            effective: 2025-07-01
            label: {vi: Sau}
            operations:
              - merge: {units: [TT3], into: TT4}
              - merge: {units: [CN3], into: TT}
        """)
        p = await plan(rt, path)
        assert p.ok, p.render()
        assert not p.operations[0].notes  # CN3 is merged by the next operation, so it does not move first
        await apply(rt, path)
        assert await lineage(rt, "CN3") == [("merged_into", "TT")]
        assert (await unit_row(rt, "CN3"))["parent_id"] == await unit_id(rt, "TT3")
        tt = await add_user(rt, "tt")
        await assign(rt, tt, "reader", "TT")
        assert await visible(rt, tt) == [c]
    finally:
        await rt.db.close()


async def test_split_rule_matching_part_of_a_text(rs_config, database_url):
    rt = await migrated_runtime(rs_config.load(), database_url)
    try:
        a = await add_case(rt, "X311", commune="Số 5, thôn Đông, xã 311")
        b = await add_case(rt, "X311", commune="thôn Tây")
        c = await add_case(rt, "X311", commune="thôn Đông Tây")
        path = change_set(rs_config, """
            restructuring: split-contains
            effective: 2025-07-01
            label: {vi: Chia xã}
            operations:
              - split:
                  unit: X311
                  into: [X312, X321]
                  rule: {entity: case, field: commune, match: contains, map: {Đông: X312, Tây: X321}}
        """)
        p = await plan(rt, path)
        assert p.ok, p.render()
        await apply(rt, path)
        x312, x321 = await unit_id(rt, "X312"), await unit_id(rt, "X321")
        rows = {r["id"]: r["sys_scope_unit"] for r in await rt.db.fetch('SELECT id, sys_scope_unit FROM "case"')}
        assert rows == {a: x312, b: x321, c: x312}  # the first entry of the map that matches wins
    finally:
        await rt.db.close()


async def test_abolished_level_children_go_to_the_successor_of_a_merged_grandparent(rs_config, database_url):
    rt = await migrated_runtime(rs_config.load(), database_url)
    try:
        c = await add_case(rt, "X311")
        path = change_set(rs_config, """
            restructuring: provinces-then-districts
            effective: 2025-07-01
            label: {vi: Tỉnh rồi huyện}
            operations:
              - merge: {units: [P03], into: P02}
              - abolish_level: {type: district, reattach_to: grandparent}
        """)
        p = await plan(rt, path)
        assert p.ok, p.render()
        # TT4 (not a district) follows its merged province; the communes skip the districts and the merged P03.
        assert p.operations[0].notes == ["children of P03 moved under P02: TT4"]
        await apply(rt, path)
        p02 = await unit_id(rt, "P02")
        for code in ("X311", "X312", "X321", "TT4"):
            assert (await unit_row(rt, code))["parent_id"] == p02, code
        assert await lineage(rt, "D31") == [("abolished", "P02")]
        u = await add_user(rt, "p2")
        await assign(rt, u, "reader", "P02")
        assert c in await visible(rt, u)
    finally:
        await rt.db.close()
