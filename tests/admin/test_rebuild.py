"""The admin is rebuilt after `hoso migrate` applies new definitions, without restarting the process."""

from __future__ import annotations

import shutil

from tests.admin.conftest import AdminClient, serving
from tests.helpers import load_full_config, remigrate

FIELD = "    interpreter_needed: {type: boolean, label: {vi: Cần người phiên dịch, en: Interpreter needed}}\n"


async def test_admin_follows_a_migration_without_restart(prepared, admin_db, tmp_path, monkeypatch):
    monkeypatch.setenv("HOSO_ADMIN_RELOAD_SECONDS", "0")
    root = tmp_path / "config"
    shutil.copytree(prepared.root, root)
    async with serving(root, admin_db) as web:
        admin = AdminClient(web, prepared.seed)
        await admin.login("quan.tri")
        before = (await admin.get("/tables/case/schema/")).json()["properties"]
        assert "interpreter_needed" not in before

        # the files change: nothing happens until they are migrated
        entity = root / "forms_config" / "entities" / "case.yaml"
        text = entity.read_text(encoding="utf-8")
        anchor = "  urgent:\n"
        assert anchor in text
        entity.write_text(text.replace(anchor, FIELD.replace("    ", "  ", 1) + anchor), encoding="utf-8")
        form = root / "forms_config" / "forms" / "case_file.yaml"
        form.write_text(form.read_text(encoding="utf-8").replace(
            "fields: [code, status, unit, received_on, request_channel, urgent]",
            "fields: [code, status, unit, received_on, request_channel, urgent, interpreter_needed]"), encoding="utf-8")
        build = web.app.state.admin.build
        assert "interpreter_needed" not in (await admin.get("/tables/case/schema/")).json()["properties"]
        assert web.app.state.admin.build is build

        plan, _rt = await remigrate(web.rt, load_full_config(root))  # what `hoso migrate` does
        assert plan.ok and plan.has_changes
        after = (await admin.get("/tables/case/schema/")).json()["properties"]
        assert after["interpreter_needed"]["title"] == "Cần người phiên dịch"
        assert list(after).index("interpreter_needed") == list(after).index("urgent") + 1
        assert web.app.state.admin.build is not build

        # and writes use the new definitions
        case = prepared.seed.cases["ha_noi"]
        r = await admin.send("PATCH", f"/tables/case/{case}/", {"interpreter_needed": True, "sys_version": 1})
        assert r.status_code == 200, r.text
        assert r.json()["interpreter_needed"] is True
        assert await web.rt.db.fetchval('SELECT interpreter_needed FROM "case" WHERE id = {}', case) in (True, 1)

        # a broken admin.yaml keeps the admin that works
        (root / "forms_config" / "admin.yaml").write_text("menu: [oops]\n", encoding="utf-8")
        current = web.app.state.admin.build
        assert (await admin.get("/tables/case/schema/")).status_code == 200
        assert web.app.state.admin.build is current
