"""``hoso import``: progress, problems named by row and column, exit status, nothing written until the file is
right or the bad rows are skipped; no traceback whatever the input."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from click.testing import CliRunner

from hoso.cli import main
from hoso.config import load_config
from hoso.runtime import Runtime
from hoso.users import create_user
from tests.helpers import migrated_runtime

HEADER = "Ngày tiếp nhận,Hình thức,Người yêu cầu,Tuổi,Đơn vị"


@pytest.fixture
def db(records_config, database_url):
    async def setup():
        rt = await migrated_runtime(records_config.load(), database_url)
        try:
            uid = await create_user(rt, "staff", "a-long-password", unit_code="TT", origin="test")
            unit = await rt.db.fetchval("SELECT id FROM hoso_unit WHERE code = 'TT'")
            await rt.db.execute("INSERT INTO hoso_assignment (user_id, role, unit_id, starts_on, ends_on, created_at) "
                                "VALUES ({}, 'centre_staff', {}, {}, NULL, {})", uid, unit, dt.date(2000, 1, 1),
                                dt.datetime.now(dt.UTC))
        finally:
            await rt.db.close()

    asyncio.run(setup())
    return records_config.root, database_url


def _count(db) -> int:
    async def go():
        rt = Runtime.create(load_config(db[0]), db[1])
        await rt.db.start()
        try:
            return int(await rt.db.fetchval('SELECT COUNT(*) AS n FROM "case"'))
        finally:
            await rt.db.close()

    return asyncio.run(go())


def hoso(db, tmp_path, content: bytes, *args: str, name: str = "cases.csv"):
    path = tmp_path / name
    path.write_bytes(content)
    root, url = db
    return CliRunner().invoke(main, ["import", "case", str(path), "--config", str(root), "--database", url, *args])


def test_import_writes_after_a_clean_preview_and_not_twice(db, tmp_path):
    data = (HEADER + "\n03/03/2025,TV,Nguyễn Văn An,40,TT\n04/03/2025,TV,Trần Thị Bình,1.234,TT\n").encode()
    r = hoso(db, tmp_path, data, "--as", "staff", "--lang", "en")
    assert r.exit_code == 2, r.output
    assert "row 3, Tuổi:" in r.output and "nothing was written" in r.output
    assert _count(db) == 0
    r = hoso(db, tmp_path, data, "--as", "staff", "--lang", "en", "--skip-bad")
    assert r.exit_code == 0, r.output
    assert "1 records created" in r.output and "1 bad rows skipped" in r.output
    r = hoso(db, tmp_path, data, "--as", "staff", "--lang", "en", "--skip-bad")
    assert "0 records created, 1 duplicates" in r.output
    assert _count(db) == 1


def test_dry_run_writes_nothing(db, tmp_path):
    data = (HEADER + "\n03/03/2025,TV,Nguyễn Văn An,40,TT\n").encode()
    r = hoso(db, tmp_path, data, "--dry-run", "--lang", "en")
    assert r.exit_code == 0, r.output
    assert "1 records to create" in r.output
    assert _count(db) == 0


@pytest.mark.parametrize("content, args, expected", [
    (b"", (), "empty"),
    (b"\xff\xfeA\x00B", (), "encoding"),
    ("Ngày tiếp nhận,Tuổi,Tuổi\n03/03/2025,1,2\n".encode(), (), "repeats column"),
    ("Ngày tiếp nhận,Mật danh\n03/03/2025,x\n".encode(), (), "Mật danh: the column is no field"),
    (HEADER.encode() + b"\n03/03/2025,TV,An,40,TT\n", ("--key", "nope"), "the key field 'nope'"),
    (HEADER.encode() + b"\n03/03/2025,TV,An,40,TT\n", ("--as", "ghost"), "--as: there is no account"),
])
def test_bad_input_is_a_message_and_status_2(db, tmp_path, content, args, expected):
    r = hoso(db, tmp_path, content, "--lang", "en", *args)
    assert r.exit_code == 2, r.output
    assert expected in r.output
    assert "Traceback" not in r.output and r.exception is None or isinstance(r.exception, SystemExit)
    assert _count(db) == 0


def test_a_missing_file_and_an_unknown_entity(db, tmp_path):
    root, url = db
    r = CliRunner().invoke(main, ["import", "case", str(tmp_path / "none.csv"), "--config", str(root),
                                  "--database", url])
    assert r.exit_code == 2 and "none.csv: không có tệp này" in r.output  # in the user's language
    (tmp_path / "a.csv").write_text("a\n1\n")
    r = CliRunner().invoke(main, ["import", "nothing", str(tmp_path / "a.csv"), "--config", str(root),
                                  "--database", url, "--lang", "en"])
    assert r.exit_code == 2 and "there is no entity 'nothing'" in r.output
