"""``hoso report list`` and ``hoso report run``, on both engines: each option, the three formats to standard output
or a file, an account's scope with --as, and exit status 2 naming the bad input."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import datetime as dt
import io
import json
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from click.testing import CliRunner

from hoso import report_cli
from hoso.cli import main
from hoso.users import create_user
from tests.api.test_reports_api import CASES, PEOPLE
from tests.helpers import migrated_runtime
from tests.reports.conftest import load_cases, set_users, write_config


@pytest.fixture
def db(tmp_path, database_url):
    root = tmp_path / "config"
    config = write_config(root)

    async def setup():
        rt = await migrated_runtime(config, database_url)
        try:
            ids = {n: await create_user(rt, n, "correct-horse-42", actor="test") for n in PEOPLE}
            await set_users(rt, [(ids[n], role, unit) for n, (role, unit) in PEOPLE.items()])
            await load_cases(rt, CASES)
        finally:
            await rt.db.close()

    asyncio.run(setup())
    return root, database_url


def hoso(db, *args: str):
    root, url = db
    result = CliRunner().invoke(main, ["report", *args, "--config", str(root), "--database", url])
    return result


def test_list(db):
    r = hoso(db, "list")
    assert r.exit_code == 0, r.output
    assert "people  Số người được trợ giúp  (case)" in r.output
    assert len(r.output.strip().splitlines()) == 5
    assert "People assisted" in hoso(db, "list", "--lang", "en").output
    reader = hoso(db, "list", "--as", "reader")
    assert reader.exit_code == 0 and "people" not in reader.output


def test_run_json_carries_each_row_and_the_grand_total(db):
    r = hoso(db, "run", "people")
    assert r.exit_code == 0, r.output
    body = json.loads(r.stdout)
    assert body["total"]["values"][0] == 5  # no period: all records (the refused one left out by the template)
    leaves = [x for x in body["rows"] if x["kind"] == "row"]
    assert sum(x["values"][0] for x in leaves) == 5
    assert body["unit"] is None and body["period"] is None


def test_period_unit_as_and_level_select(db):
    assert json.loads(hoso(db, "run", "people", "--period", "2025").stdout)["total"]["values"][0] == 4
    assert json.loads(hoso(db, "run", "people", "--unit", "P2").stdout)["total"]["values"][0] == 2
    assert json.loads(hoso(db, "run", "people", "--as", "prov").stdout)["total"]["values"][0] == 3
    assert json.loads(hoso(db, "run", "people", "--period", "2025-H1", "--as", "prov").stdout)[
        "total"]["values"][0] == 2
    filtered = json.loads(hoso(db, "run", "people", "--filter", "form_of_aid=TGTT").stdout)
    assert filtered["total"]["values"][0] == 1
    assert filtered["request"]["filters"] == {"form_of_aid": {"eq": "TGTT"}}
    assert json.loads(hoso(db, "run", "people", "--structure", "recorded").stdout)["total"]["values"][0] == 5


def test_as_of_structure_and_level_reach_the_request(db, monkeypatch):
    """The options as the engine receives them (a moment in Asia/Ho_Chi_Minh, a structure date, a level)."""
    seen = []
    real = report_cli.run_report

    async def recording(rt, ctx, request):
        seen.append((ctx, request))
        return await real(rt, ctx, dataclasses.replace(request, as_of=None, structure="recorded", level=None))

    monkeypatch.setattr(report_cli, "run_report", recording)
    r = hoso(db, "run", "by_unit", "--as-of", "2025-06-30T17:00", "--structure", "2025-07-01", "--level",
             "province", "--as", "prov")
    assert r.exit_code == 0, r.output
    ctx, request = seen[0]
    assert request.as_of == dt.datetime(2025, 6, 30, 17, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    assert (request.structure, request.level, request.report) == ("2025-07-01", "province", "by_unit")
    assert ctx.user_name == "prov" and not ctx.superuser
    hoso(db, "run", "by_unit", "--as-of", "2025-06-30")
    assert seen[1][1].as_of == dt.datetime(2025, 6, 30, 23, 59, 59, 999999, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    assert seen[1][0].superuser  # the operator's full scope without --as


def test_csv_and_xlsx_to_a_file_and_to_standard_output(db, tmp_path):
    out = tmp_path / "people.csv"
    r = hoso(db, "run", "people", "--period", "2025", "--format", "csv", "--output", str(out))
    assert r.exit_code == 0, r.output
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[-1][0] == "Tổng cộng" and rows[-1][2] == "4"
    std = hoso(db, "run", "people", "--period", "2025", "--format", "csv")
    assert std.stdout_bytes == raw
    xlsx = tmp_path / "people.xlsx"
    assert hoso(db, "run", "people", "--format", "xlsx", "-o", str(xlsx), "--lang", "en").exit_code == 0
    ws = openpyxl.load_workbook(xlsx).active
    assert ws["A1"].value == "People assisted"
    piped = hoso(db, "run", "people", "--format", "xlsx")
    assert openpyxl.load_workbook(io.BytesIO(piped.stdout_bytes)).active["A1"].value == "Số người được trợ giúp"


@pytest.mark.parametrize(("args", "named"), [
    (["run", "nothing"], "NAME"),
    (["run", "people", "--period", "2025-13"], "--period"),
    (["run", "people", "--as-of", "soon"], "--as-of"),
    (["run", "people", "--structure", "later"], "--structure"),
    (["run", "people", "--unit", "NOPE"], "--unit"),
    (["run", "people", "--level", "galaxy"], "--level"),
    (["run", "people", "--format", "pdf"], "--format"),
    (["run", "people", "--filter", "gender=male"], "gender"),
    (["run", "people", "--filter", "nonsense"], "--filter"),
    (["run", "people", "--as", "nobody"], "--as"),
    (["list", "--as", "nobody"], "--as"),
    (["run", "people", "--as", "reader"], "case"),
])
def test_bad_input_exits_2_naming_it(db, args, named):
    r = hoso(db, *args)
    assert r.exit_code == 2, r.output
    assert named in r.stderr
    assert "Traceback" not in r.output and r.stdout == ""
