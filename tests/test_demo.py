"""Demo data on the reference configuration, through the record service, on both engines."""

from __future__ import annotations

import re

from hoso.config import load_config
from hoso_legal_aid.demo import DEMO_PASSWORD, DEMO_USERNAME, load_demo
from tests.helpers import migrated_runtime


async def test_demo_loads_cases_once(reference_config_dir, database_url):
    rt = await migrated_runtime(load_config(reference_config_dir), database_url)
    try:
        seen = []
        result = await load_demo(rt, cases=20, progress=seen.append)
        assert result["username"] == DEMO_USERNAME and result["password"] == DEMO_PASSWORD == "hoso-demo-2025"
        assert seen == list(range(1, 21))

        cases = await rt.db.fetch('SELECT id, code, unit, received_on, status, form_of_aid, requester_name, '
                                  'sys_created_by FROM "case" ORDER BY id')
        assert len(cases) == 20
        # Codes are unique within a centre, in the domain's format: TT.<form>.<nn>.<year>.
        assert len({(c["unit"], c["code"]) for c in cases}) == 20
        assert all(re.fullmatch(r"(TT|CN\d)\.(TV|TGTT|DDNTT)\.\d{2}\.20\d\d", c["code"]) for c in cases), \
            [c["code"] for c in cases]
        assert {str(c["received_on"])[:4] for c in cases} <= {"2023", "2024", "2025"}
        assert len({c["unit"] for c in cases}) >= 3  # several centres
        assert {c["status"] for c in cases} == {"received"}
        admin = await rt.db.fetch("SELECT id, superuser FROM hoso_user WHERE username = {}", DEMO_USERNAME)
        assert admin and admin[0]["superuser"] and {c["sys_created_by"] for c in cases} == {admin[0]["id"]}
        assert await rt.tables.system["user"].login(DEMO_USERNAME, DEMO_PASSWORD) == admin[0]["id"]

        with_hearings = await rt.db.fetchval('SELECT COUNT(DISTINCT parent_id) AS n FROM "case__hearings"')
        assert 3 <= with_hearings <= 17
        assert await rt.db.fetchval("SELECT COUNT(*) AS n FROM performer") > 0
        assert await rt.db.fetchval("SELECT COUNT(*) AS n FROM organisation") > 0
        created = await rt.db.fetchval("SELECT COUNT(*) AS n FROM hoso_audit WHERE action = 'create' "
                                       "AND entity = 'case'")
        assert created == 20  # written through the record service, so audited

        again = await load_demo(rt, cases=20, once=True)
        assert "already" in again["message"]
        assert await rt.db.fetchval('SELECT COUNT(*) AS n FROM "case"') == 20

        # Without --once more cases are added, reusing the login, performers and organisations.
        performers = await rt.db.fetchval("SELECT COUNT(*) AS n FROM performer")
        await load_demo(rt, cases=3)
        assert await rt.db.fetchval('SELECT COUNT(*) AS n FROM "case"') == 23
        assert await rt.db.fetchval("SELECT COUNT(*) AS n FROM performer") == performers
        codes = [(r["unit"], r["code"]) for r in await rt.db.fetch('SELECT unit, code FROM "case"')]
        assert len(set(codes)) == 23
    finally:
        await rt.db.close()


def test_demo_command_comes_from_the_legal_aid_plugin():
    import hoso_legal_aid
    from hoso.plugin_manager import collect, get_plugin_manager

    commands = collect(get_plugin_manager([hoso_legal_aid], load_entrypoints=False), "hoso_cli_commands",
                       lambda c: [c.name], "command")
    assert [c.name for c in commands] == ["demo"]
    assert [p.name for p in commands[0].params] == ["config_dir", "database_url", "cases", "once"]
    assert collect(get_plugin_manager(load_entrypoints=False), "hoso_cli_commands", lambda c: [c.name],
                   "command") == [], "without the plugin there is no demo command"


def test_hoso_imports_no_deployment_plugin():
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    sources = [p for d in ("core", "admin") for p in (repo / d).rglob("*.py")] + list((repo / "plugins").glob("*.py"))
    assert sources and [str(p) for p in sources if "hoso_legal_aid" in p.read_text(encoding="utf-8")] == []
