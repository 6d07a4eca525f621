"""A province switching a module on is a change of the YAML, shown by ``hoso plan`` and applied by ``hoso migrate``.

The hotline module of tests/test_modules.py is on for centre TT; the configuration copy then switches it on for
province P02 too. Until migrated, the application refuses to start on the old definitions; afterwards a user of
P02's centre TT3 has the module and a user of P01's other centre TT2 still gets 404.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from click.testing import CliRunner

from hoso import accounts
from hoso.cli import main
from hoso.config import load_config
from hoso.runtime import Runtime
from hoso.scope import Actor
from hoso.web.app import DefinitionsDiffer, ensure_applied
from hoso.web.tokens import create_token
from tests.helpers import migrated_runtime
from tests.test_modules import MODULES, write_config
from tests.web.conftest import PASSWORD, running


def hoso(*args):
    env = {"HOSO_DATABASE_URL": None, "HOSO_CONFIG": None}
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


async def test_switching_a_module_on_for_a_province_is_planned_and_migrated(config_dir, database_url):
    write_config(config_dir)
    rt = await migrated_runtime(load_config(config_dir.root), database_url)
    root = Actor(None, "root", superuser=True, origin="test-setup")
    start = dt.date.today() - dt.timedelta(days=30)
    tokens = {}
    for name, unit in (("near", "TT2"), ("far", "TT3")):
        uid = await accounts.create_account(rt, root, name, PASSWORD, unit, roles=("centre_staff",), starts_on=start)
        tokens[name] = (await create_token(rt, root, uid, f"token of {name}"))[1]
    await rt.db.close()

    config_dir.write("roles_config/modules.yaml", MODULES.replace("enabled_for: [TT]", "enabled_for: [TT, P02]"))
    planned = await asyncio.to_thread(hoso, "plan", "--config", config_dir.root, "--database", database_url)
    assert planned.exit_code == 0, planned.output
    line = next(x for x in planned.output.splitlines() if "switch_module" in x)
    assert "test.hotline" in line and "P02, TT" in line and "(was: TT)" in line

    new = Runtime.create(config_dir.root, database_url)
    await new.db.start()
    try:
        with pytest.raises(DefinitionsDiffer, match="test.hotline"):
            await ensure_applied(new)
    finally:
        await new.db.close()

    migrated = await asyncio.to_thread(hoso, "migrate", "--yes", "--config", config_dir.root, "--database",
                                       database_url)
    assert migrated.exit_code == 0, migrated.output
    again = await asyncio.to_thread(hoso, "plan", "--config", config_dir.root, "--database", database_url)
    assert "switch_module" not in again.output and "No changes" in again.output, again.output

    async with running(config_dir.root, database_url) as web:
        async def get(path: str, user: str):
            return await web.client.get(path, headers={"Authorization": f"Bearer {tokens[user]}"})

        assert "call" in {e["name"] for e in (await get("/api/entities", "far")).json()}
        assert (await get("/api/records/call", "far")).status_code == 200
        assert "call" not in {e["name"] for e in (await get("/api/entities", "near")).json()}
        assert (await get("/api/records/call", "near")).status_code == 404


async def test_a_module_switched_off_everywhere_is_planned(config_dir, database_url):
    write_config(config_dir)
    rt = await migrated_runtime(load_config(config_dir.root), database_url)
    try:
        config_dir.write("roles_config/modules.yaml", "modules: {}\n")
        plan = await Runtime.create(config_dir.root, db=rt.db).plan()
        [change] = plan.changes
        assert (change.kind, change.table) == ("switch_module", "test.hotline")
        assert "off everywhere" in change.detail
    finally:
        await rt.db.close()
