"""docs/deploy/backup.sh and restore.sh: a populated PostgreSQL database and its files directory, backed up and
restored into a new database and directory, hold the same rows in every table and the same files; a restore
into a database or directory that is not empty is refused and changes nothing."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from hoso.config import load_config
from hoso.db import Database, quote
from hoso.records.context import RecordContext
from hoso.users import create_user
from tests.conftest import PG_URL, _pg_admin, _with_db, drop_database
from tests.helpers import migrated_runtime

REPO = Path(__file__).resolve().parents[2]
BACKUP = REPO / "docs/deploy/backup.sh"
RESTORE = REPO / "docs/deploy/restore.sh"


async def _populate(config_root, url: str, files: Path) -> None:
    rt = await migrated_runtime(load_config(config_root), url)
    try:
        ctx = RecordContext.system(rt.config)
        unit = await rt.db.fetchval("SELECT id FROM hoso_unit WHERE code = 'TT'")
        for i in range(25):
            rec = await rt.records().create("case", {"received_on": "2025-03-04", "form_of_aid": "TV" if i % 2
                                                     else "TGTT", "requester": f"Người {i}", "unit": unit}, ctx)
            if i % 5 == 0:
                await rt.records().update("case", rec["id"], {"requester": f"Người {i} (sửa)"},
                                          rec["sys_version"], ctx)
        await create_user(rt, "backup.user", "correct-horse-42", actor="test")
    finally:
        await rt.db.close()
    for i in range(6):
        path = files / f"case/{i % 3}/{uuid.uuid4().hex}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(1000 + i * 4096))


async def _counts(url: str) -> dict[str, int]:
    db = Database.from_url(url)
    await db.start()
    try:
        return {t: int(await db.fetchval(f"SELECT COUNT(*) AS n FROM {quote(t)}") or 0)
                for t in sorted(await db.table_names())}
    finally:
        await db.close()


def _tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _run(script: Path, arg: Path, url: str, files: Path) -> subprocess.CompletedProcess:
    # the scripts hand the URL to pg_dump/pg_restore, which take libpq's parameters only: not the test databases'
    # server setting (synchronous_commit, see tests.conftest._with_db)
    url = url.split("?", 1)[0]
    env = {**os.environ, "HOSO_DATABASE_URL": url, "HOSO_FILES_DIR": str(files)}
    return subprocess.run(["sh", str(script), str(arg)], env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.postgres
def test_a_backup_restores_into_a_new_database_with_every_row_and_file(config_dir, postgres_url, tmp_path):
    files = tmp_path / "files"
    files.mkdir()
    asyncio.run(_populate(config_dir.root, postgres_url, files))
    done = _run(BACKUP, tmp_path / "backups", postgres_url, files)
    assert done.returncode == 0, done.stderr
    backup = Path(done.stdout.strip().splitlines()[-1])
    assert {p.name for p in backup.iterdir()} == {"database.dump", "files.tar", "SHA256SUMS"}

    name = f"hoso_restore_{uuid.uuid4().hex[:10]}"
    assert PG_URL
    asyncio.run(_pg_admin(PG_URL, f'CREATE DATABASE "{name}"'))
    restored_url = _with_db(postgres_url, name)
    try:
        restored_files = tmp_path / "restored-files"
        done = _run(RESTORE, backup, restored_url, restored_files)
        assert done.returncode == 0, done.stderr
        before, after = asyncio.run(_counts(postgres_url)), asyncio.run(_counts(restored_url))
        assert after == before
        assert before["case"] == 25 and before["hoso_audit"] >= 30 and len(before) > 10
        assert _tree(restored_files) == _tree(files) and len(_tree(files)) == 6

        # the restored copy is a working hoso database: its definitions are applied, its audit still append-only
        plan_ok = asyncio.run(_plan_is_empty(config_dir.root, restored_url))
        assert plan_ok

        # restoring again over it is refused, and changes nothing
        again = _run(RESTORE, backup, restored_url, tmp_path / "third-files")
        assert again.returncode == 1 and "empty" in again.stderr
        assert not (tmp_path / "third-files").exists()
        assert asyncio.run(_counts(restored_url)) == before
    finally:
        drop_database(name)


async def _plan_is_empty(config_root, url: str) -> bool:
    from hoso.runtime import Runtime

    rt = Runtime.create(config_root, url)
    await rt.db.start()
    try:
        plan = await rt.plan()
        try:
            await rt.db.execute("DELETE FROM hoso_audit")
            return False
        except Exception as exc:
            assert "append-only" in str(exc)
        return plan.ok and not plan.has_changes
    finally:
        await rt.db.close()


def test_the_scripts_refuse_bad_input_before_doing_anything(tmp_path):
    sqlite = f"sqlite:///{tmp_path / 'x.db'}"
    done = _run(BACKUP, tmp_path / "out", sqlite, tmp_path)
    assert done.returncode == 2 and "postgresql://" in done.stderr and not (tmp_path / "out").exists()
    done = _run(RESTORE, tmp_path / "nothing-here", "postgresql://u@127.0.0.1/x", tmp_path / "f")
    assert done.returncode == 2 and "usage" in done.stderr
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "database.dump").write_bytes(b"x")
    (damaged / "files.tar").write_bytes(b"y")
    (damaged / "SHA256SUMS").write_text("0" * 64 + "  database.dump\n" + "0" * 64 + "  files.tar\n")
    done = _run(RESTORE, damaged, "postgresql://u@127.0.0.1/x", tmp_path / "f")
    assert done.returncode == 1 and "damaged" in done.stderr and not (tmp_path / "f").exists()
