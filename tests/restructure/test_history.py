"""The unit files and the change sets compose: the unit files are the base, the declared change sets the history.

After `hoso restructure apply`, `hoso plan` is empty, `hoso migrate` changes nothing and `hoso serve` starts; a
fresh database migrated from the same files reaches the same tree, lineage and history as the one restructured
in place. Everything here goes through the command line.
"""

from __future__ import annotations

import asyncio
import shutil
from urllib.parse import urlparse

import pytest
from click.testing import CliRunner

from hoso.cli import main
from hoso.db import database_from_env
from tests.restructure.support import change_set

CHANGE_SET = "roles_config/restructurings/2025-07-01-provinces.yaml"


def hoso(*args, input=None):
    result = CliRunner().invoke(main, [str(a) for a in args], input=input, catch_exceptions=False)
    return result.exit_code, " ".join(result.output.split())  # the console wraps long lines


@pytest.fixture
def no_server(monkeypatch):
    """`hoso serve` runs its start-up check, then would listen: record the call instead of serving."""
    import uvicorn

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append(kw))
    return calls


def dump(database_url: str) -> dict:
    """The unit tree, lineage and applied change sets of a database, by code (ids differ between databases)."""

    async def go():
        db = database_from_env(database_url)
        await db.start()
        try:
            units = await db.fetch("SELECT id, code, name_vi, name_en, type, parent_id, valid_from, valid_to, "
                                   "short_code FROM hoso_unit")
            code = {u["id"]: u["code"] for u in units}
            lineage = await db.fetch("SELECT unit_id, kind, other_id, effective_on, restructuring, detail "
                                     "FROM hoso_unit_lineage")
            applied = await db.fetch("SELECT name, content_hash, effective_on FROM hoso_restructuring")
            closure = await db.fetch("SELECT ancestor_id, descendant_id, depth FROM hoso_unit_closure")
        finally:
            await db.close()
        return {
            "units": {u["code"]: (u["name_vi"], u["name_en"], u["type"], code.get(u["parent_id"]),
                                  str(u["valid_from"]), str(u["valid_to"]), u["short_code"]) for u in units},
            "lineage": sorted((code[r["unit_id"]], r["kind"], code.get(r["other_id"]), str(r["effective_on"]),
                               r["restructuring"], r["detail"]) for r in lineage),
            "applied": sorted((r["name"], r["content_hash"], str(r["effective_on"])) for r in applied),
            "closure": sorted((code[r["ancestor_id"]], code[r["descendant_id"]], int(r["depth"])) for r in closure),
        }

    return asyncio.run(go())


def open_of_type(d: dict, type_: str) -> int:
    return sum(1 for u in d["units"].values() if u[2] == type_ and u[5] == "None")


@pytest.mark.slow
def test_after_applying_the_2025_merger_plan_is_empty_migrate_changes_nothing_and_serve_starts(
        reference_config_dir, database_url, no_server):
    opts = ["--config", reference_config_dir, "--database", database_url]
    code, out = hoso("migrate", *opts, "--yes")
    assert code == 0, out
    code, out = hoso("restructure", "apply", *opts, "--yes", reference_config_dir / CHANGE_SET)
    assert code == 0 and "Applied change set 2025-07-01-provinces" in out, out
    after_apply = dump(database_url)
    assert open_of_type(after_apply, "provincial_department") == 34

    code, out = hoso("plan", *opts)
    assert code == 0 and "No changes" in out and "load_units" not in out, out
    code, out = hoso("migrate", *opts, "--yes")
    assert code == 0, out
    assert dump(database_url) == after_apply  # the recoded old codes are not created again
    code, out = hoso("serve", *opts, "--port", "8765")
    assert code == 0 and len(no_server) == 1, out
    # An old code leads to the unit that holds the new code, not to a new, empty unit.
    code, out = hoso("restructure", "successor", *opts, "STP-10")
    assert code == 0 and out.startswith("STP-10 -> STP-2025-15: STP-2025-15 "), out


def declare_history(root) -> None:
    path = root / "roles_config/hierarchy.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "restructurings: restructurings\n", encoding="utf-8")


@pytest.mark.slow
def test_a_fresh_database_reaches_the_same_units_as_one_restructured_in_place(
        reference_config_dir, database_url, tmp_path, no_server):
    declare_history(reference_config_dir)
    shipped = reference_config_dir / CHANGE_SET
    aside = tmp_path / "aside.yaml"
    shutil.move(shipped, aside)
    # Without the change set its codes do not exist yet: the module switch names the province by its old code.
    modules = reference_config_dir / "roles_config/modules.yaml"
    modules.write_text(modules.read_text(encoding="utf-8").replace("STP-2025-15", "STP-10"), encoding="utf-8")
    opts = ["--config", reference_config_dir, "--database", database_url]
    code, out = hoso("migrate", *opts, "--yes")  # the base: 63 provinces
    assert code == 0, out
    assert open_of_type(dump(database_url), "provincial_department") == 63

    # The change set joins the history: plan shows it, serve refuses to start until it is applied.
    shutil.copy(aside, shipped)
    code, out = hoso("plan", *opts)
    assert code == 0 and "restructure change set 2025-07-01-provinces (effective 2025-07-01" in out, out
    code, out = hoso("serve", *opts, "--port", "8765")
    assert code == 1 and not no_server and "change set 2025-07-01-provinces" in out, out

    code, out = hoso("restructure", "apply", *opts, "--yes", shipped)
    assert code == 0, out
    in_place = dump(database_url)
    code, out = hoso("plan", *opts)
    assert code == 0 and "No changes" in out and "Units:" not in out, out
    code, out = hoso("migrate", *opts, "--yes")
    assert code == 0 and dump(database_url) == in_place, out
    code, out = hoso("serve", *opts, "--port", "8765")
    assert code == 0 and len(no_server) == 1, out

    fresh_url = (database_url.replace("test.db", "fresh.db") if database_url.startswith("sqlite")
                 else _other_pg_database(database_url))
    try:
        code, out = hoso("migrate", "--config", reference_config_dir, "--database", fresh_url, "--yes")
        assert code == 0 and "Applied change set 2025-07-01-provinces" in out, out
        fresh = dump(fresh_url)
    finally:
        if not fresh_url.startswith("sqlite"):
            _drop_pg_database(fresh_url)
    # Same codes, names, types, parents, validity, lineage and closure; the same change set, by content.
    assert fresh == in_place
    assert open_of_type(fresh, "provincial_department") == 34 and open_of_type(fresh, "legal_aid_centre") == 34


def _other_pg_database(url: str) -> str:
    import uuid

    from tests.conftest import PG_URL, _pg_admin, _with_db

    name = f"hoso_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_admin(PG_URL, f'CREATE DATABASE "{name}"'))
    return _with_db(PG_URL, name)


def _drop_pg_database(url: str) -> None:
    from tests.conftest import drop_database

    name = urlparse(url).path.lstrip("/")
    drop_database(name)


# -- the rules of the history, on the small configuration of these tests --------------------------------------

MERGE = """
restructuring: {name}
effective: {effective}
label: {{vi: Hợp nhất}}
operations:
  - merge: {{units: [{unit}], into: {into}}}
"""


def test_history_errors_block_plan_migrate_and_serve(rs_config, database_url, no_server):
    declare_history(rs_config.root)
    (rs_config.root / "roles_config/restructurings").mkdir(parents=True, exist_ok=True)
    opts = ["--config", rs_config.root, "--database", database_url]
    first = change_set(rs_config, MERGE.format(name="b-2025", effective="2025-07-01", unit="TT2", into="TT"),
                       "b.yaml")
    code, out = hoso("migrate", *opts, "--yes")
    assert code == 0 and "Applied change set b-2025" in out, out
    before = dump(database_url)
    assert before["units"]["TT2"][5] == "2025-07-01"

    # A change set dated before one already applied: a fresh database would apply it first.
    change_set(rs_config, MERGE.format(name="a-2024", effective="2024-01-01", unit="CN3", into="TT3"), "a.yaml")
    code, out = hoso("plan", *opts)
    assert code == 1 and "change set a-2024" in out and "before change set(s) already applied (b-2025)" in out, out
    code, out = hoso("migrate", *opts, "--yes")
    assert code == 1 and dump(database_url) == before
    code, out = hoso("serve", *opts, "--port", "8765")
    assert code == 1 and not no_server
    (rs_config.root / "roles_config/restructurings/a.yaml").unlink()

    # An applied change set changed on disk.
    first.write_text(first.read_text(encoding="utf-8") + "note: changed\n", encoding="utf-8")
    code, out = hoso("plan", *opts)
    assert code == 1 and "change set b-2025 (roles_config/restructurings/b.yaml) was applied with different" in out
    code, out = hoso("migrate", *opts, "--yes")
    assert code == 1 and dump(database_url) == before
    first.unlink()
    # An applied change set whose file is gone.
    code, out = hoso("serve", *opts, "--port", "8765")
    assert code == 1 and "change set b-2025 (effective 2025-07-01) was applied to the database but is not in" in out

    # A file outside the declared folder is not applied by hand.
    outside = rs_config.root / "elsewhere.yaml"
    outside.write_text(MERGE.format(name="c", effective="2025-08-01", unit="TT3", into="TT4"), encoding="utf-8")
    code, out = hoso("restructure", "apply", *opts, "--yes", outside)
    assert code == 1 and "is not one of the change sets of roles_config/restructurings/" in out, out
    assert dump(database_url) == before


def test_a_change_set_dated_in_the_future_waits_for_its_day(rs_config, database_url, no_server):
    declare_history(rs_config.root)
    change_set(rs_config, MERGE.format(name="later", effective="2999-01-01", unit="TT2", into="TT"))
    opts = ["--config", rs_config.root, "--database", database_url]
    code, out = hoso("migrate", *opts, "--yes")
    assert code == 0 and "takes effect on 2999-01-01" in out, out
    d = dump(database_url)
    assert d["applied"] == [] and d["units"]["TT2"][5] == "None"
    code, out = hoso("serve", *opts, "--port", "8765")
    assert code == 0 and len(no_server) == 1, out


def test_a_unit_file_row_under_a_unit_closed_by_the_history_is_refused(rs_config, database_url):
    declare_history(rs_config.root)
    change_set(rs_config, MERGE.format(name="m", effective="2025-07-01", unit="TT2", into="TT"))
    opts = ["--config", rs_config.root, "--database", database_url]
    code, out = hoso("migrate", *opts, "--yes")
    assert code == 0, out
    units = rs_config.root / "roles_config/units/units.csv"
    units.write_text(units.read_text(encoding="utf-8") + "CN9,Chi nhánh Chín,Branch Nine,branch,TT2,2026-01-01\n",
                     encoding="utf-8")
    before = dump(database_url)
    code, out = hoso("migrate", *opts, "--yes")
    assert code == 1 and "unit CN9 of the unit files would be placed under TT2, which a change set closed" in out
    assert dump(database_url) == before
