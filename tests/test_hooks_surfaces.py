"""Plugin surfaces: routes, commands, system tables, scheduled work, start-up; and the start-up checks
(misspelt hooks, duplicate names, blocked plugins)."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner

from hoso.cli import main
from hoso.config import load_config
from hoso.plugin_manager import PluginError, get_plugin_manager
from hoso.runtime import Runtime
from hoso.scheduler import run_due
from hoso.web.app import create_app
from tests.helpers import migrated_runtime
from tests.plugins import postcode
from tests.plugins.hooks_probe import Routes, Schedule, Tables
from tests.web.conftest import running


def hoso(*args, **env):
    return CliRunner().invoke(main, [str(a) for a in args], env={"HOSO_PLUGINS": None, "HOSO_BLOCK_PLUGINS": None,
                                                                 **env})


async def test_plugin_route_is_mounted_behind_the_login(config_dir, database_url):
    async with running(config_dir.root, database_url, plugins=[Routes()]) as web:
        r = await web.client.get("/api/probe/whoami")
        assert r.status_code == 401, r.text
        await web.user("lan")
        assert (await web.login("lan")).status_code == 200
        r = await web.client.get("/api/probe/whoami")
        assert r.status_code == 200, r.text
        assert r.json() == {"user": "lan", "entities": ["case"]}


def test_two_plugins_on_one_route_stop_start_up(config_dir, tmp_path):
    rt = Runtime.create(config_dir.root, f"sqlite:///{tmp_path / 'x.db'}", plugins=[Routes(), Routes()])
    with pytest.raises(PluginError, match="route 'GET /api/probe/whoami' .*registered by both"):
        create_app(rt)


async def test_startup_hook_runs_when_the_app_starts(config_dir, database_url):
    postcode.STARTED.clear()
    async with running(config_dir.root, database_url, plugins=[postcode]) as web:
        assert (await web.client.get("/api/health")).status_code == 200
        assert postcode.STARTED == [load_config(config_dir.root).content_hash]


def test_plugin_command_is_listed_and_runs():
    listed = hoso("--help", HOSO_PLUGINS="tests.plugins.probe_commands")
    assert listed.exit_code == 0 and "probe-hello" in listed.output
    result = hoso("probe-hello", "--name", "An", HOSO_PLUGINS="tests.plugins.probe_commands")
    assert result.exit_code == 0, result.output
    assert result.output == "xin chào An\n"
    assert "probe-hello" not in hoso("--help").output


def test_a_command_name_taken_twice_stops_the_command_line():
    result = hoso("check", HOSO_PLUGINS="tests.plugins.probe_clash")
    assert result.exit_code == 1
    assert "plugin không dùng được / error: unusable plugin" in result.output
    assert "command 'check' is registered by both 'hoso' and" in result.output


def test_a_misspelt_hook_stops_start_up_naming_the_closest_hook(config_dir):
    result = hoso("check", "--config", config_dir.root, HOSO_PLUGINS="tests.plugins.probe_misspelt")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert ("plugin 'tests.plugins.probe_misspelt' cài đặt hook 'hoso_field_typez' không tồn tại; "
            "có phải 'hoso_field_types'?") in result.output
    assert "did you mean 'hoso_field_types'?" in result.output
    assert hoso("check", "--config", config_dir.root).exit_code == 0


def test_unmarked_misspelt_hook_is_caught_too():
    class Plugin:
        def hoso_validate_recrod(self, entity, values, context):
            return None

    with pytest.raises(PluginError, match="did you mean 'hoso_validate_record'"):
        get_plugin_manager([Plugin()], load_entrypoints=False)


def test_an_implementation_asking_for_a_parameter_its_hook_lacks_stops_start_up():
    from hoso import hookimpl

    class Greedy:
        @hookimpl
        def hoso_startup(self, config, db):
            return None

    with pytest.raises(PluginError) as exc:
        get_plugin_manager([Greedy()], load_entrypoints=False)
    assert str(exc.value) == ("plugin 'Greedy': hook 'hoso_startup' không có tham số 'db' / "
                              "plugin 'Greedy': hook 'hoso_startup' offers no parameter 'db'")


def test_blocking_plugins(config_dir):
    result = hoso("plugins", "--config", config_dir.root, HOSO_BLOCK_PLUGINS="hoso.plugins.storage")
    assert result.exit_code == 0, result.output
    assert "hoso.plugins.storage  [built-in, hoso" in result.output
    assert "blocked (HOSO_BLOCK_PLUGINS)" in result.output
    pm = get_plugin_manager(load_entrypoints=False, block=["hoso.plugins.storage"])
    assert pm.hook.hoso_attachment_storage.get_hookimpls() == []
    refused = hoso("check", "--config", config_dir.root, HOSO_BLOCK_PLUGINS="hoso.plugins.validators")
    assert refused.exit_code == 1
    assert "'hoso.plugins.validators' là thành phần thiết yếu, không thể chặn" in refused.output
    assert "'hoso.plugins.validators' is essential and cannot be blocked" in refused.output
    kinds = hoso("check", "--config", config_dir.root, HOSO_BLOCK_PLUGINS="hoso.config.kinds")
    assert kinds.exit_code == 1 and "'hoso.config.kinds' is essential and cannot be blocked" in kinds.output
    unknown = hoso("check", "--config", config_dir.root, HOSO_BLOCK_PLUGINS="hoso.plugins.nope")
    assert unknown.exit_code == 1 and "no plugin is named 'hoso.plugins.nope'" in unknown.output
    named = hoso("--help", HOSO_PLUGINS="tests.plugins.probe_commands",
                 HOSO_BLOCK_PLUGINS="tests.plugins.probe_commands")
    assert named.exit_code == 0 and "probe-hello" not in named.output, "a HOSO_PLUGINS module can be blocked"


def test_plugins_command_lists_hooks_and_modules(config_dir):
    config_dir.write("roles_config/modules.yaml", "modules:\n  demo.hotline: {label: {vi: Tổng đài}, "
                                                  "enabled_for: [TT]}\n  demo.off: {label: {vi: Tắt}}\n")
    result = hoso("plugins", "--config", config_dir.root, HOSO_PLUGINS="tests.plugins.probe_commands")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    audit = lines.index("hoso.plugins.audit  [built-in, hoso 0.1.0]  essential")
    assert lines[audit + 1] == "    hooks: hoso_write_audit"
    probe = lines.index("tests.plugins.probe_commands  [registered by the application or HOSO_PLUGINS]  blockable")
    assert lines[probe + 1] == "    hooks: hoso_cli_commands"
    assert "  demo.hotline: on for TT and the units below" in lines
    assert "  demo.off: off" in lines


async def test_system_table_is_planned_created_and_usable(config_dir, database_url):
    from hoso.model.migrate import make_plan

    plain = await migrated_runtime(config_dir.load(), database_url)
    await plain.db.close()
    rt = Runtime.create(config_dir.load(), database_url, plugins=[Tables()])
    await rt.db.start()
    try:
        plan = await make_plan(rt.db, rt.config, rt.registry)
        assert [(c.kind, c.table) for c in plan.changes] == [("create_system_table", "probe_call")]
    finally:
        await rt.db.close()
    rt = await migrated_runtime(config_dir.load(), database_url, plugins=[Tables()])
    try:
        call = rt.tables.system["probe_call"]
        await call.insert(call(phone="0901234567")).run()
        rows = [dict(r) for r in await rt.db.fetch("SELECT phone, note FROM probe_call")]
        assert rows == [{"phone": "0901234567", "note": ""}]
        assert not (await rt.plan()).has_changes
    finally:
        await rt.db.close()


def test_a_system_table_name_taken_stops_start_up(config_dir, tmp_path):
    from hoso import SystemTable, hookimpl

    class Clash:
        @hookimpl
        def hoso_system_tables(self):
            return [SystemTable("hoso_audit", lambda: {})]

    with pytest.raises(PluginError, match="table 'hoso_audit' is registered by both 'hoso'"):
        Runtime.create(config_dir.root, f"sqlite:///{tmp_path / 'x.db'}", plugins=[Clash()])
    with pytest.raises(PluginError, match="table 'probe_call' is registered by both"):
        Runtime.create(config_dir.root, f"sqlite:///{tmp_path / 'x.db'}", plugins=[Tables(), Tables()])


@pytest.fixture
def only_probe_work(monkeypatch):
    """The built-in scheduled work (deadline notifications) blocked: only the probe's work is scheduled."""
    monkeypatch.setenv("HOSO_BLOCK_PLUGINS", "hoso.plugins.notifications")


async def test_scheduled_work_runs_when_due_and_once_at_a_time(config_dir, database_url, only_probe_work):
    work = Schedule(every=dt.timedelta(hours=1))
    rt = await migrated_runtime(config_dir.load(), database_url, plugins=[work])
    try:
        now = 1_800_000_000
        assert await run_due(rt, now=now) == ["probe_count"]
        assert await run_due(rt, now=now + 60) == [], "not due again before its interval"
        assert await run_due(rt, now=now + 3600) == ["probe_count"]
        assert work.runs == [rt.config.content_hash] * 2
        # Another process holds the lease: this one leaves the work alone until the lease expires.
        await rt.db.execute("UPDATE hoso_schedule SET lease_owner = 'other', lease_until = {} WHERE name = {}",
                            now + 9000, "probe_count")
        assert await run_due(rt, now=now + 7200) == []
        assert await run_due(rt, now=now + 9001) == ["probe_count"]
        assert len(work.runs) == 3
    finally:
        await rt.db.close()


async def test_failing_scheduled_work_is_kept_for_its_next_turn(config_dir, database_url, only_probe_work):
    work = Schedule(every=dt.timedelta(minutes=5), fail=True)
    rt = await migrated_runtime(config_dir.load(), database_url, plugins=[work])
    try:
        assert await run_due(rt, now=1_800_000_000) == ["probe_count"]
        row = dict((await rt.db.fetch("SELECT next_run_at, lease_owner, last_error FROM hoso_schedule"))[0])
        assert row == {"next_run_at": 1_800_000_300, "lease_owner": None,
                       "last_error": "RuntimeError: probe failure"}
    finally:
        await rt.db.close()


def test_two_works_of_one_name_stop_start_up(config_dir, tmp_path):
    from hoso.scheduler import scheduled_work

    rt = Runtime.create(config_dir.root, f"sqlite:///{tmp_path / 'x.db'}", plugins=[Schedule(), Schedule()])
    with pytest.raises(PluginError, match="scheduled work 'probe_count' is registered by both"):
        scheduled_work(rt)


def test_run_scheduled_command(config_dir, tmp_path):
    url = f"sqlite:///{tmp_path / 'h.db'}"
    assert hoso("migrate", "--yes", "--config", config_dir.root, "--database", url).exit_code == 0
    result = hoso("run-scheduled", "--once", "--config", config_dir.root, "--database", url,
                  HOSO_BLOCK_PLUGINS="hoso.plugins.notifications")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "No work was due."
