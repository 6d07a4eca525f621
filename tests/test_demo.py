"""Demo data on the reference configuration, through the record service, on both engines: cases before and after
the 2025 merger, taken through their lifecycle, and one login per role."""

from __future__ import annotations

import datetime as dt
import re

from hoso_legal_aid.demo import DEMO_LOGINS, DEMO_PASSWORD, DEMO_USERNAME, load_demo
from tests.helpers import load_full_config, migrated_runtime

TODAY = dt.date(2026, 11, 30)
DONE = {"ended", "returned", "appraised", "evaluated", "archived"}
WITH_PERFORMER = {"assigned", "in_progress", *DONE}


async def test_demo_loads_cases_before_and_after_the_merger_with_a_login_per_role(reference_config_dir,
                                                                                    database_url):
    rt = await migrated_runtime(load_full_config(reference_config_dir), database_url)
    try:
        seen = []
        result = await load_demo(rt, cases=40, progress=seen.append, today=TODAY)
        assert result["username"] == DEMO_USERNAME and result["password"] == DEMO_PASSWORD == "hoso-demo-2025"
        assert seen == list(range(1, 41))

        # the 2025 change set was applied between the two periods: 34 centres remain open
        applied = await rt.db.fetch("SELECT name, applied_by FROM hoso_restructuring")
        assert [(r["name"], r["applied_by"]) for r in applied] == [("2025-07-01-provinces", DEMO_USERNAME)]
        open_centres = await rt.db.fetchval("SELECT COUNT(*) AS n FROM hoso_unit WHERE type = 'legal_aid_centre' "
                                            "AND valid_to IS NULL")
        assert open_centres == 34

        cases = [dict(r) for r in await rt.db.fetch(
            'SELECT c.id, c.code, c.unit, c.received_on, c.status, c.performer, c.accepted_on, c.ended_on, '
            'c.discontinued_on, c.file_returned_on, c.refused_on, c.sys_created_by, u.valid_to, u.code AS unit_code '
            'FROM "case" c JOIN hoso_unit u ON u.id = c.unit ORDER BY c.id')]
        assert len(cases) == 40
        assert len({(c["unit"], c["code"]) for c in cases}) == 40
        assert all(re.fullmatch(r"(TT|CN\d)\.(TV|TGTT|DDNTT)\.\d{2}\.20\d\d", c["code"]) for c in cases)
        day = [_day(c["received_on"]) for c in cases]
        merger = dt.date(2025, 7, 1)
        assert min(day) >= dt.date(2023, 1, 1) and max(day) <= TODAY
        assert day == sorted(day), "cases are entered in the order they were received"
        before = [c for c, d in zip(cases, day, strict=True) if d < merger]
        after = [c for c, d in zip(cases, day, strict=True) if d >= merger]
        assert before and after
        # cases received since the merger are at open centres; before it, some at centres the merger closed
        assert all(c["valid_to"] is None for c in after)
        assert any(c["valid_to"] is not None for c in before)

        # each case went as far through its lifecycle as its age allows, with consistent dates
        statuses = {c["status"] for c in cases}
        assert len(statuses) >= 4 and statuses & DONE, statuses
        for c in cases:
            # a file is handed back (and appraised, archived) after the case ended or was not continued
            if c["status"] in WITH_PERFORMER and c["discontinued_on"] is None:
                assert c["performer"] is not None and c["accepted_on"] is not None, c
            if c["status"] in DONE:
                assert _day(c["received_on"]) <= _day(c["ended_on"] or c["discontinued_on"]) <= TODAY, c
            if c["status"] == "refused":
                assert c["refused_on"] is not None and c["accepted_on"] is None, c
            if c["status"] == "received":
                assert c["accepted_on"] is None, c
        steps = await rt.db.fetchval("SELECT COUNT(*) AS n FROM hoso_audit WHERE entity = 'case' "
                                     "AND action LIKE 'transition%'")
        assert steps >= sum(c["status"] != "received" for c in cases)  # every step written through the service
        admin = await rt.db.fetchval("SELECT id FROM hoso_user WHERE username = {}", DEMO_USERNAME)
        assert {c["sys_created_by"] for c in cases} == {admin}

        # one login per role, at the new Lào Cai units; the performer and the lawyer linked to performer records
        logins = {x["username"]: x for x in result["logins"]}
        assert set(logins) == {u for u, *_ in DEMO_LOGINS}
        held = {(r["username"], r["role"], r["code"]) for r in await rt.db.fetch(
            "SELECT u.username, a.role, un.code FROM hoso_user u JOIN hoso_assignment a ON a.user_id = u.id "
            "JOIN hoso_unit un ON un.id = a.unit_id")}
        assert held == {("demo.national", "national_admin", "CUC"),
                        ("demo.statistician", "national_statistician", "CUC"),
                        ("demo.province", "provincial_officer", "STP-2025-15"),
                        ("demo.director", "centre_director", "TT-2025-15"),
                        ("demo.staff", "centre_staff", "TT-2025-15"),
                        ("demo.branch", "branch_head", "CN1-10"),
                        ("demo.performer", "performer_role", "TT-2025-15"),
                        ("demo.lawyer", "organisation_lawyer", "TT-2025-15")}
        for username in logins:
            assert await rt.tables.system["user"].login(username, DEMO_PASSWORD), username
        linked = {r["username"]: r["kind"] for r in await rt.db.fetch(
            "SELECT u.username, p.kind FROM performer p JOIN hoso_user u ON u.id = p.account "
            "JOIN hoso_unit un ON un.id = p.unit WHERE un.code = 'TT-2025-15'")}
        assert linked == {"demo.performer": "assistant", "demo.lawyer": "organisation_lawyer"}
        # some cases are filed at branches (the branch head's work)
        assert any(c["unit_code"].startswith("CN") for c in cases)

        again = await load_demo(rt, cases=20, once=True, today=TODAY)
        assert "already" in again["message"] and {x["username"] for x in again["logins"]} == set(logins)
        assert await rt.db.fetchval('SELECT COUNT(*) AS n FROM "case"') == 40

        # Without --once more cases are added, reusing the logins, performers and organisations.
        performers = await rt.db.fetchval("SELECT COUNT(*) AS n FROM performer")
        users = await rt.db.fetchval("SELECT COUNT(*) AS n FROM hoso_user")
        await load_demo(rt, cases=3, today=TODAY)
        assert await rt.db.fetchval('SELECT COUNT(*) AS n FROM "case"') == 43
        assert await rt.db.fetchval("SELECT COUNT(*) AS n FROM performer") == performers
        assert await rt.db.fetchval("SELECT COUNT(*) AS n FROM hoso_user") == users
        codes = [(r["unit"], r["code"]) for r in await rt.db.fetch('SELECT unit, code FROM "case"')]
        assert len(set(codes)) == 43
    finally:
        await rt.db.close()


def _day(value) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def test_demo_command_comes_from_the_legal_aid_plugin():
    import hoso_legal_aid
    from hoso.plugin_manager import collect, get_plugin_manager

    commands = collect(get_plugin_manager([hoso_legal_aid], load_entrypoints=False), "hoso_cli_commands",
                       lambda c: [c.name], "command")
    assert sorted(c.name for c in commands) == ["demo", "population-standin"]
    demo = next(c for c in commands if c.name == "demo")
    assert [p.name for p in demo.params] == ["config_dir", "database_url", "cases", "once"]
    assert collect(get_plugin_manager(load_entrypoints=False), "hoso_cli_commands", lambda c: [c.name],
                   "command") == [], "without the plugin there is no demo command"


def test_hoso_imports_no_deployment_plugin():
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    sources = [p for d in ("core", "admin") for p in (repo / d).rglob("*.py")] + list((repo / "plugins").glob("*.py"))
    assert sources and [str(p) for p in sources if "hoso_legal_aid" in p.read_text(encoding="utf-8")] == []
