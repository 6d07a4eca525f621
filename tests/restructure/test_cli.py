"""`hoso restructure plan|apply|successor|list` (the group the main command attaches)."""

from __future__ import annotations

import asyncio

from click.testing import CliRunner

from hoso.restructure_cli import restructure
from tests.helpers import migrated_runtime
from tests.restructure.support import add_case, change_set

CHANGE = """
restructuring: cli-merge
effective: 2025-07-01
label: {vi: Hợp nhất, en: Merge}
operations:
  - merge: {units: [TT2], into: TT}
  - rename: {unit: TT, code: TT-2025}
"""


def prepare(rs_config, database_url, cases=()):
    async def go():
        rt = await migrated_runtime(rs_config.load(), database_url)
        try:
            for unit in cases:
                await add_case(rt, unit)
        finally:
            await rt.db.close()

    asyncio.run(go())


def run(*args, input=None):
    result = CliRunner().invoke(restructure, [str(a) for a in args], input=input, catch_exceptions=False)
    return result.exit_code, result.output


def test_plan_apply_successor_and_list(rs_config, database_url):
    prepare(rs_config, database_url, cases=("TT2", "TT2"))
    path = change_set(rs_config, CHANGE)
    opts = ["--config", rs_config.root, "--database", database_url]
    code, out = run("plan", *opts, path)
    assert code == 0, out
    assert "Change set cli-merge (Hợp nhất / Merge), effective 2025-07-01" in out
    assert "[0] line 5: merge TT2 into TT" in out and "case 2 (2 open)" in out and "Ready to apply." in out

    code, out = run("apply", *opts, path, input="n\n")  # asks first; "no" changes nothing
    assert code == 0 and "Nothing changed." in out
    code, out = run("apply", *opts, "--yes", "--as", "lan", path)
    assert code == 0, out
    assert "Applied change set cli-merge" in out and "1 closed" in out
    code, out = run("apply", *opts, "--yes", path)
    assert code == 0 and "applying it again changes nothing" in out

    code, out = run("successor", *opts, "TT2")
    assert code == 0 and out.strip() == "TT2 -> TT-2025: TT-2025 Trung tâm Một (centre)"
    code, out = run("successor", *opts, "TT")
    assert code == 0 and out.startswith("TT -> TT-2025: TT-2025")
    code, out = run("successor", *opts, "--on", "2025-06-30", "TT2")
    assert code == 0 and out.startswith("TT2: TT2 Trung tâm Hai")
    code, out = run("successor", *opts, "NOPE")
    assert code == 1
    code, out = run("list", *opts)
    assert code == 0 and "2025-07-01  cli-merge  applied" in out and "by lan" in out


def test_errors_and_blocked_plans_exit_non_zero(rs_config, database_url):
    prepare(rs_config, database_url)
    opts = ["--config", rs_config.root, "--database", database_url]
    bad = change_set(rs_config, CHANGE.replace("into: TT}", "into: TTX}"))
    code, out = run("plan", *opts, bad)
    assert code == 1
    assert ("roles_config/restructurings/change.yaml:5:33: operations[0].merge.into: unknown unit 'TTX' "
            "(did you mean 'TT'?)") in out
    code, out = run("apply", *opts, "--yes", bad)
    assert code == 1 and "Not applicable as it stands." in out
    broken = change_set(rs_config, CHANGE.replace("operations:", "operation:"))
    code, out = run("plan", *opts, broken)
    assert code == 2
    assert "roles_config/restructurings/change.yaml:4:1: operation: unknown key 'operation'" in out
