"""Closed units after a restructuring: records dated before the closing are still entered under the unit as it
was (scope following lineage), messages name units by code and name, and `hoso user create --unit` follows old
codes to their unit and refuses a closed unit naming its successor."""

from __future__ import annotations

import asyncio

import pytest
from click.testing import CliRunner

from hoso.cli import main
from hoso.records.errors import ValidationError
from hoso.records.service import RecordContext
from hoso.restructure import apply
from tests.helpers import migrated_runtime
from tests.restructure.support import add_user, assign, change_set, unit_id

MERGE = """
restructuring: centres-2025
effective: 2025-07-01
label: {vi: Hợp nhất trung tâm}
operations:
  - merge: {units: [TT2], into: TT}
  - rename: {unit: TT3, code: TT3-2025}
"""

WRITER = """
role: writer
label: {vi: Người nhập}
grants:
  - {entity: case, scope: subtree, actions: [read, create, update]}
"""

MOVER = """
role: mover
label: {vi: Người chuyển}
grants:
  - {entity: case, scope: subtree, actions: [read, update], hidden_fields: [received_on]}
"""


async def restructured(rs_config, database_url):
    rs_config.write("roles_config/roles/writer.yaml", WRITER)
    rs_config.write("roles_config/roles/mover.yaml", MOVER)
    rt = await migrated_runtime(rs_config.load(), database_url)
    await apply(rt, change_set(rs_config, MERGE), applied_by="test")
    return rt


def case(unit: int, received_on: str) -> dict:
    return {"received_on": received_on, "form_of_aid": "TV", "requester": "Bình", "unit": unit}


def ctx(rt, user_id: int, lang: str = "vi") -> RecordContext:
    return RecordContext(rt.config, user_id, f"u{user_id}", "test", lang)


async def test_records_dated_before_a_unit_closed_are_entered_under_it_by_its_successor(rs_config, database_url):
    rt = await restructured(rs_config, database_url)
    try:
        successor = await add_user(rt, "tt.writer")
        await assign(rt, successor, "writer", "TT")
        other = await add_user(rt, "tt3.writer")
        await assign(rt, other, "writer", "TT3-2025")
        tt2 = await unit_id(rt, "TT2")
        svc = rt.records()

        # Received the day before the merger, entered now: recorded under TT2 as it was, seen by TT's users.
        rec = await svc.create("case", case(tt2, "2025-06-30"), ctx(rt, successor))
        assert rec["unit"] == tt2 and rec["code"].startswith("TT2.TV.")
        assert (await svc.get("case", rec["id"], ctx(rt, successor)))["id"] == rec["id"]

        # Received on the day it closed: refused, naming the unit by code and name, the date and the successor.
        with pytest.raises(ValidationError) as vi:
            await svc.create("case", case(tt2, "2025-07-01"), ctx(rt, successor))
        (field, message), = vi.value.problems
        assert field == "unit"
        assert message == ("đơn vị TT2 (Trung tâm Hai) đã ngừng hoạt động từ ngày 01/07/2025: chỉ ghi vào đơn vị này "
                           "được hồ sơ có Ngày tiếp nhận trước ngày đó (hồ sơ này: 01/07/2025); đơn vị kế tiếp: "
                           "TT (Trung tâm Một)")
        with pytest.raises(ValidationError) as en:
            await svc.create("case", case(tt2, "2026-01-05"), ctx(rt, successor, "en"))
        assert en.value.problems[0][1] == (
            "unit TT2 (Centre Two) closed on 01/07/2025: only records whose Ngày tiếp nhận is before that day may be "
            "recorded under it (this record: 05/01/2026); its successor: TT (Centre One)")

        # Scope follows lineage: a centre that is not TT2's successor may not record under it, even back-dated.
        with pytest.raises(ValidationError) as out:
            await svc.create("case", case(tt2, "2025-06-30"), ctx(rt, other))
        assert out.value.problems[0][0] == "unit"
        assert await rt.db.fetchval('SELECT COUNT(*) AS n FROM "case"') == 1

        # Moving a back-dated record's date past the closing is refused as well; nothing changes.
        with pytest.raises(ValidationError) as moved:
            await svc.update("case", rec["id"], {"received_on": "2025-08-01"}, rec["sys_version"], ctx(rt, successor))
        assert moved.value.problems[0][0] == "unit" and "01/07/2025" in moved.value.problems[0][1]
        assert str((await svc.get("case", rec["id"], ctx(rt, successor)))["received_on"]) == "2025-06-30"
    finally:
        await rt.db.close()


async def test_the_refusal_does_not_reveal_a_hidden_record_date(rs_config, database_url):
    rt = await restructured(rs_config, database_url)
    try:
        mover = await add_user(rt, "tt.mover")
        await assign(rt, mover, "mover", "TT")
        svc = rt.records()
        rec = await svc.create("case", case(await unit_id(rt, "TT"), "2025-08-01"), RecordContext.system(rt.config))
        with pytest.raises(ValidationError) as exc:
            await svc.update("case", rec["id"], {"unit": await unit_id(rt, "TT2")}, rec["sys_version"],
                             ctx(rt, mover))
        assert exc.value.problems == [("unit", "đơn vị TT2 (Trung tâm Hai) đã ngừng hoạt động từ ngày 01/07/2025; "
                                               "đơn vị kế tiếp: TT (Trung tâm Một)")]
    finally:
        await rt.db.close()


def test_user_create_follows_old_codes_and_refuses_closed_units(rs_config, database_url):
    async def prepare():
        rt = await restructured(rs_config, database_url)
        await rt.db.close()

    asyncio.run(prepare())
    opts = ["--config", str(rs_config.root), "--database", database_url]
    pw = ["--password", "Đèn-lồng-đỏ-2025!"]

    def create(name, unit):
        result = CliRunner().invoke(main, ["user", "create", *opts, name, *pw, "--unit", unit])
        return result.exit_code, " ".join(result.output.split())

    code, out = create("an.tt2", "TT2")  # merged into TT
    assert code == 1 and out == ("error: đơn vị TT2 (Trung tâm Hai) đã ngừng hoạt động từ ngày 01/07/2025; đơn vị "
                                 "kế tiếp: TT (Trung tâm Một) unit TT2 (Trung tâm Hai) closed on 01/07/2025; its "
                                 "successor: TT (Trung tâm Một)"), out
    code, out = create("binh.tt3", "TT3")  # recoded TT3-2025: the old code leads to it
    assert code == 0 and "mã TT3 nay là TT3-2025 (Trung tâm Ba)" in out, out
    code, out = create("chi.x", "NOPE")
    assert code == 1 and "không có đơn vị nào mang hoặc từng mang mã 'NOPE'" in out

    async def homes():
        from hoso.db import database_from_env

        db = database_from_env(database_url)
        await db.start()
        try:
            return {r["username"]: r["code"] for r in await db.fetch(
                "SELECT u.username, n.code FROM hoso_user u LEFT JOIN hoso_unit n ON n.id = u.unit_id")}
        finally:
            await db.close()

    assert asyncio.run(homes()) == {"binh.tt3": "TT3-2025"}


async def test_old_codes_lead_to_their_unit_in_accounts_and_the_admin(rs_config, database_url):
    from types import SimpleNamespace

    from hoso.accounts import create_account
    from hoso.admin.forms import resolve_link
    from hoso.scope import Actor
    from hoso.users import UserError

    rt = await restructured(rs_config, database_url)
    try:
        root = Actor(None, "root", superuser=True)
        uid = await create_account(rt, root, "dung.tt3", "Đèn-lồng-đỏ-2025!", "TT3")  # recoded TT3-2025
        assert await rt.db.fetchval("SELECT n.code FROM hoso_user u JOIN hoso_unit n ON n.id = u.unit_id "
                                    "WHERE u.id = {}", uid) == "TT3-2025"
        with pytest.raises(UserError, match=r"^đơn vị TT2 \(Trung tâm Hai\) đã ngừng hoạt động từ ngày 01/07/2025; "
                                            r"đơn vị kế tiếp: TT \(Trung tâm Một\)\nunit TT2"):
            await create_account(rt, root, "em.tt2", "Đèn-lồng-đỏ-2025!", "TT2")

        # The admin's transition forms take a unit by code: an old code leads to its unit, a closed one is named.
        build, fd = SimpleNamespace(rt=rt), rt.config.entity("case").field("unit")
        assert await resolve_link(build, SimpleNamespace(lang="vi"), fd, "TT3") == await unit_id(rt, "TT3-2025")
        with pytest.raises(ValidationError) as exc:
            await resolve_link(build, SimpleNamespace(lang="en"), fd, "TT2")
        assert exc.value.problems == [("unit", "unit TT2 (Trung tâm Hai) closed on 01/07/2025; its successor: "
                                               "TT (Trung tâm Một)")]
    finally:
        await rt.db.close()
