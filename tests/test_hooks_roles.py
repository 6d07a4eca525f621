"""Plugin vocabulary for roles: actions (hoso_actions) and scope kinds (hoso_scope_rules)."""

from __future__ import annotations

import datetime as dt

import pytest

from hoso import hookimpl
from hoso.config import ConfigErrors, load_config
from hoso.config.loader import ACTIONS
from hoso.plugin_manager import _BUILT_IN_ACTIONS, _BUILT_IN_SCOPES, PluginError, config_extensions, get_plugin_manager
from hoso.plugin_types import ActionDef
from hoso.records.service import RecordContext
from hoso.runtime import Runtime
from hoso.scope import SCOPES
from hoso.users import create_user
from tests.helpers import migrated_runtime
from tests.plugins.hooks_probe import Vocabulary

HOTLINE = """
role: hotline
label: {vi: Tổng đài viên}
grants:
  - {entity: case, actions: [read, run_hotline], scope: same_requester}
"""


@pytest.fixture
def hotline_config(config_dir):
    return config_dir.write("roles_config/roles/hotline.yaml", HOTLINE)


def test_roles_may_name_plugin_actions_and_scopes_only_with_the_plugin(hotline_config):
    with pytest.raises(ConfigErrors) as exc:
        load_config(hotline_config.root)
    assert [i.path for i in exc.value.issues] == ["grants[0].actions[1]", "grants[0].scope"]
    assert "found 'run_hotline'" in str(exc.value) and "found 'same_requester'" in str(exc.value)
    extensions = config_extensions(get_plugin_manager([Vocabulary()], load_entrypoints=False))
    # manage_jobs comes from the built-in hoso.plugins.jobs
    assert extensions == {"actions": ["run_hotline", "manage_jobs"], "scope_kinds": ["same_requester"]}
    config = load_config(hotline_config.root, **extensions)
    grant = next(r for r in config.roles if r.name == "hotline").grants[0]
    assert (grant.actions, grant.scope) == (("read", "run_hotline"), "same_requester")
    rt = Runtime.create(hotline_config.root, "sqlite:///:memory:", plugins=[Vocabulary()])
    assert rt.scope.roles_for("case", "run_hotline") == {"same_requester": ["hotline"]}


async def test_a_plugin_scope_selects_the_rows_while_the_role_is_held(hotline_config, database_url):
    rt = await migrated_runtime(load_config(hotline_config.root, actions=["run_hotline"],
                                            scope_kinds=["same_requester"]), database_url, plugins=[Vocabulary()])
    try:
        svc = rt.records()
        units = {r["code"]: r["id"] for r in await rt.db.fetch("SELECT id, code FROM hoso_unit")}
        for requester in ("lan", "binh"):
            await svc.create("case", {"received_on": "2025-03-03", "form_of_aid": "TV", "requester": requester,
                                      "unit": units["TT"]}, RecordContext.system(rt.config))
        uid = await create_user(rt, "lan", "a-long-password-2026", unit_code="TT")
        lan = RecordContext(rt.config, user_id=uid, user_name="lan")
        assert (await svc.list("case", lan))[1] == 0, "no role held: no rows"
        await rt.db.execute("INSERT INTO hoso_assignment (user_id, role, unit_id, starts_on, ends_on, created_at) "
                            "VALUES ({}, 'hotline', {}, {}, NULL, {})", uid, units["TT"], dt.date(2000, 1, 1),
                            dt.datetime.now(dt.UTC))
        rows, total = await svc.list("case", lan)
        assert total == 1 and [r["requester"] for r in rows] == ["lan"]
    finally:
        await rt.db.close()


def test_plugin_names_may_not_take_built_in_or_each_others_names():
    class Clash:
        @hookimpl
        def hoso_actions(self):
            return [ActionDef("export", {"vi": "Xuất", "en": "Export"})]

    with pytest.raises(PluginError, match="action 'export' is registered by both 'hoso'"):
        config_extensions(get_plugin_manager([Clash()], load_entrypoints=False))
    with pytest.raises(PluginError, match="action 'run_hotline' is registered by both"):
        config_extensions(get_plugin_manager([Vocabulary(), Vocabulary()], load_entrypoints=False))


def test_the_built_in_vocabulary_is_the_configuration_s():
    assert _BUILT_IN_ACTIONS == ACTIONS
    assert _BUILT_IN_SCOPES == {*SCOPES, "link"}
