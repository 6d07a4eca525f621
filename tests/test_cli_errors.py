"""The command line answers bad input with a message naming the problem, a non-zero exit and no traceback,
and changes nothing (issue 8, item 18)."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import socket
import sqlite3
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from hoso._cli_common import describe_failure
from hoso.cli import main
from hoso.db import Database
from tests.conftest import PG_URL, _with_db
from tests.helpers import migrated_runtime

PERSON = """
entity: person
label: {vi: Người}
fields:
  name: {type: text, required: true, label: {vi: Tên}}
  phone: {type: text, label: {vi: Điện thoại}}
"""


def hoso(*args, input=None, env=None):
    # `hoso demo` is the reference deployment's command: its plugin is loaded although entry points are not.
    env = {"HOSO_DATABASE_URL": None, "HOSO_CONFIG": None, "HOSO_PLUGINS": "hoso_legal_aid", **(env or {})}
    return CliRunner().invoke(main, [str(a) for a in args], input=input, env=env)


def assert_refused(result, *expected: str, code: int = 1):
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), \
        repr(result.exception)
    for text in expected:
        assert text in result.stderr, result.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def snapshot_of(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(folder.rglob("*"))}


def migrate_now(config_dir, database_url):
    async def go():
        rt = await migrated_runtime(config_dir.load(), database_url)
        await rt.db.close()

    asyncio.run(go())


async def run_sql(database_url: str, sql: str, *args):
    db = Database.from_url(database_url)
    await db.start()
    try:
        return await db.fetch(sql, *args)
    finally:
        await db.close()


def run_sql_aside(database_url: str, sql: str, *args):
    """Run ``sql`` from another thread and event loop, as another process would, while a command runs."""
    out = []
    t = threading.Thread(target=lambda: out.append(asyncio.run(run_sql(database_url, sql, *args))))
    t.start()
    t.join(60)
    assert out, "the statement did not finish"
    return out[0]


# -- database URLs ------------------------------------------------------------------------------------------------

def _pg_missing_database(tmp_path):
    if not PG_URL:
        pytest.skip("PostgreSQL not configured: set HOSO_TEST_POSTGRES_URL")
    return _with_db(PG_URL, "hoso_no_such_database_x")


def _not_a_database(tmp_path):
    (tmp_path / "notes.db").write_text("ghi chú, not a database\n")
    return f"sqlite:///{tmp_path / 'notes.db'}"


BAD_URLS = {
    "mysql scheme": (lambda tmp: "mysql://user@127.0.0.1/hoso", "unsupported database URL 'mysql://"),
    "empty": (lambda tmp: "", "no database URL given"),
    "port 99999": (lambda tmp: "postgresql://postgres@127.0.0.1:99999/test", "is not a number from 1 to 65535"),
    "port not a number": (lambda tmp: "postgresql://postgres@127.0.0.1:abc/test", "is not a number from 1 to 65535"),
    "password hidden": (lambda tmp: "mysql://lan:secret@127.0.0.1/hoso", "mysql://lan:***@127.0.0.1/hoso"),
    "refused port": (lambda tmp: f"postgresql://postgres@127.0.0.1:{free_port()}/test",
                     "cannot connect to the database server"),
    "unknown host": (lambda tmp: "postgresql://postgres@no-such-host.invalid/test",
                     "cannot connect to the database server"),
    "missing PostgreSQL database": (_pg_missing_database, 'database "hoso_no_such_database_x" does not exist'),
    "a folder": (lambda tmp: f"sqlite:///{tmp}", "is a folder, not an SQLite database file"),
    "not a database file": (_not_a_database, "is not an SQLite database file"),
}
COMMANDS = {
    "plan": ["plan"],
    "migrate": ["migrate", "--yes"],
    "serve": ["serve", "--port", "1"],
    "demo": ["demo", "--cases", "1"],
    "user create": ["user", "create", "lan", "--password", "mot-mat-khau-dai-2026"],
    "restructure list": ["restructure", "list"],
}


@pytest.mark.parametrize("command", ["plan", "migrate"])
@pytest.mark.parametrize("case", list(BAD_URLS))
def test_bad_or_unreachable_database_url(config_dir, tmp_path, case, command):
    make, expected = BAD_URLS[case]
    url = make(tmp_path)
    before = snapshot_of(tmp_path)
    result = hoso(*COMMANDS[command], "--config", config_dir.root, "--database", url)
    assert_refused(result, expected)
    assert "secret" not in result.output
    assert snapshot_of(tmp_path) == before, "nothing was created or changed"


@pytest.mark.parametrize("command", ["serve", "demo", "user create", "restructure list"])
def test_every_command_names_a_bad_url(config_dir, command):
    assert_refused(hoso(*COMMANDS[command], "--config", config_dir.root, "--database", "mysql://x@h/db"),
                   "unsupported database URL")


def test_empty_database_option_creates_nothing(config_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert_refused(hoso("migrate", "--yes", "--config", config_dir.root, "--database", ""), "no database URL given")
    assert not (tmp_path / "var").exists()


def test_plan_of_a_missing_file_creates_nothing(config_dir, tmp_path):
    url = f"sqlite:///{tmp_path / 'tpyo' / 'sub' / 'hoso.db'}"
    result = hoso("plan", "--config", config_dir.root, "--database", url)
    assert result.exit_code == 0, result.output
    assert "does not exist yet: planned against an empty database, nothing was created" in result.stderr
    assert "create_table" in result.stdout
    assert not (tmp_path / "tpyo").exists()
    (tmp_path / "tpyo").mkdir()
    assert hoso("plan", "--config", config_dir.root, "--database", url).exit_code == 0
    assert list((tmp_path / "tpyo").iterdir()) == []


@pytest.mark.parametrize("command", ["serve", "demo", "user create", "restructure list"])
def test_commands_other_than_migrate_refuse_a_missing_file(config_dir, tmp_path, command):
    url = f"sqlite:///{tmp_path / 'hoso.db'}"
    assert_refused(hoso(*COMMANDS[command], "--config", config_dir.root, "--database", url),
                   "does not exist: check the path, or run `hoso migrate` to create it")
    assert list(tmp_path.iterdir()) == [config_dir.root]


def test_migrate_refuses_a_missing_folder_but_creates_the_default_var(config_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'tpyo' / 'hoso.db'}"
    assert_refused(hoso("migrate", "--yes", "--config", config_dir.root, "--database", url),
                   f"the folder '{tmp_path / 'tpyo'}' does not exist")
    assert not (tmp_path / "tpyo").exists()
    result = hoso("migrate", "--yes", "--config", config_dir.root)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "var" / "hoso.db").is_file()
    # In an existing folder the file itself may be created.
    (tmp_path / "data").mkdir()
    result = hoso("migrate", "--yes", "--config", config_dir.root, "--database", f"sqlite:///{tmp_path}/data/h.db")
    assert result.exit_code == 0, result.output


# -- a database in a bad state ------------------------------------------------------------------------------------

@pytest.mark.parametrize("damage,expected", [
    ("{not json", "is not valid JSON"),
    ("[]", "does not have the expected shape"),
    ('{"tables": {"person": {"table": "person"}}}', "does not have the expected shape"),
])
@pytest.mark.parametrize("command", ["plan", "migrate"])
def test_damaged_applied_definitions(config_dir, database_url, damage, expected, command):
    migrate_now(config_dir, database_url)
    asyncio.run(run_sql(database_url, "UPDATE hoso_schema_state SET snapshot = {}", damage))
    result = hoso(*COMMANDS[command], "--config", config_dir.root, "--database", database_url)
    assert_refused(result, "the record of the applied definitions is damaged", "hoso_schema_state", expected)
    rows = asyncio.run(run_sql(database_url, "SELECT snapshot FROM hoso_schema_state"))
    assert [r["snapshot"] for r in rows] == [damage], "nothing was written"


def test_read_only_database_plans_but_refuses_to_migrate(config_dir, tmp_path, monkeypatch):
    """A read-only file or file system (simulated: root may write any file, and mounting needs privileges)."""
    url = f"sqlite:///{tmp_path / 'hoso.db'}"
    migrate_now(config_dir, url)
    config_dir.write("forms_config/entities/person.yaml", PERSON)
    files = snapshot_of(tmp_path)
    from hoso import db as hoso_db

    monkeypatch.setattr(hoso_db, "_writable", lambda path: False)
    result = hoso("plan", "--config", config_dir.root, "--database", url)
    assert result.exit_code == 0, result.output
    assert "create_table" in result.stdout and "person" in result.stdout
    assert_refused(hoso("migrate", "--yes", "--config", config_dir.root, "--database", url),
                   "the database is read-only", "readonly database")
    # SQLite may leave its WAL index beside a read-only file in a writable folder; the database is untouched.
    after = snapshot_of(tmp_path)
    assert {k: after[k] for k in files} == files


def test_duplicates_written_between_plan_and_apply_fail_the_unique_index(config_dir, database_url, monkeypatch):
    config_dir.write("forms_config/entities/person.yaml", PERSON)
    migrate_now(config_dir, database_url)
    asyncio.run(run_sql(database_url, 'INSERT INTO "person" ("name", "phone") VALUES ({}, {}), ({}, {})',
                        "An", "1", "Bình", "2"))
    config_dir.write("forms_config/entities/person.yaml",
                     PERSON.replace("phone: {type: text,", "phone: {type: text, unique: true,"))
    states = asyncio.run(run_sql(database_url, "SELECT COUNT(*) AS n FROM hoso_schema_state"))

    def answer_after_a_duplicate_arrives(*args, **kwargs):
        run_sql_aside(database_url, 'INSERT INTO "person" ("name", "phone") VALUES ({}, {})', "Chi", "1")
        return True

    monkeypatch.setattr("click.confirm", answer_after_a_duplicate_arrives)
    result = hoso("migrate", "--config", config_dir.root, "--database", database_url)
    assert_refused(result, "the change could not be applied",
                   "the unique index ux_person_phone cannot be created: values were used more than once")
    assert "Applied" not in result.stdout
    assert asyncio.run(run_sql(database_url, "SELECT COUNT(*) AS n FROM hoso_schema_state")) == states
    db = Database.from_url(database_url)
    assert "ux_person_phone" not in asyncio.run(_indexes(db))


async def _indexes(db):
    await db.start()
    try:
        return await db.index_names("person")
    finally:
        await db.close()


def test_a_failed_commit_ends_the_process(config_dir, tmp_path, monkeypatch):
    """A full disk during COMMIT (simulated): the message, exit 1, and no SQLite worker thread left running,
    which kept `hoso migrate` and `hoso demo` from ever exiting."""
    from piccolo.engine.sqlite import SQLiteTransaction

    async def disk_full(self):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(SQLiteTransaction, "commit", disk_full)
    threads = set(threading.enumerate())
    result = hoso("migrate", "--yes", "--config", config_dir.root, "--database", f"sqlite:///{tmp_path / 'h.db'}")
    assert_refused(result, "the disk is full", "database or disk is full")
    left = [t for t in threading.enumerate() if t not in threads and not t.daemon]
    for thread in left:
        thread.join(timeout=5)  # a closing worker may take a moment; one that never ends keeps the process alive
    left = [t for t in left if t.is_alive()]
    assert not left, f"threads left running: {left}"


@pytest.mark.parametrize("exc,key", [
    (OSError(errno.ENOSPC, "No space left on device"), "cli_disk_full"),
    (sqlite3.OperationalError("database or disk is full"), "cli_disk_full"),
    (OSError(errno.EROFS, "Read-only file system"), "cli_db_readonly"),
    (sqlite3.OperationalError("attempt to write a readonly database"), "cli_db_readonly"),
    (ConnectionRefusedError(errno.ECONNREFUSED, "Connect call failed"), "cli_db_unreachable"),
    (socket.gaierror(-2, "Name or service not known"), "cli_db_unreachable"),
    (RuntimeError("boom"), "cli_unexpected"),
])
def test_failures_are_described(exc, key):
    got, detail = describe_failure(exc)
    assert got == key and detail


# -- other options ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("port", ["0", "70000", "-1", "65536"])
def test_serve_refuses_a_port_out_of_range(config_dir, port):
    result = hoso("serve", "--config", config_dir.root, "--port", port)
    assert_refused(result, "is not in the range 1<=x<=65535", code=2)
    assert "hoso serving" not in result.output


def test_serve_names_a_bad_cleanup_setting(config_dir, tmp_path):
    url = f"sqlite:///{tmp_path / 'hoso.db'}"
    migrate_now(config_dir, url)
    result = hoso("serve", "--config", config_dir.root, "--database", url, "--port", "1",
                  env={"HOSO_FILES_CLEANUP_AGE": "soon"})
    assert_refused(result, "unusable setting (environment variable)",
                   "HOSO_FILES_CLEANUP_AGE='soon': expected a number")
    assert "hoso serving" not in result.output
