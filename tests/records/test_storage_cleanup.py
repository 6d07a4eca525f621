"""Leftovers of interrupted uploads are cleaned at start-up and on a schedule, never a file a row points to nor
an upload in progress (issue 8, item 19)."""

from __future__ import annotations

import asyncio
import os
import time

import pytest
from litestar.testing import AsyncTestClient

from hoso.plugins.storage import OWNER_FILE
from hoso.records.attachments import CleanupSettings, SettingError, clean_storage
from hoso.records.service import RecordContext
from hoso.runtime import Runtime
from hoso.server import create_app
from tests.helpers import migrated_runtime
from tests.records.test_attachments import PDF, chunks, read_all
from tests.records.test_attachments import stored_files as all_files

DAY = 86400


class Files:
    """A migrated database with one case, and its attachment storage in ``tmp_path/files``."""

    def __init__(self, rt):
        self.rt = rt
        self.svc = rt.records()
        self.ctx = RecordContext.system(rt.config)

    async def case(self) -> int:
        unit = await self.rt.db.fetchval("SELECT id FROM hoso_unit WHERE code = 'TT'")
        rec = await self.svc.create("case", {"received_on": "2025-03-03", "form_of_aid": "TV", "requester": "An",
                                             "unit": unit}, self.ctx)
        return rec["id"]

    async def upload(self, rid: int, data: bytes = PDF):
        return await self.svc.upload("case", rid, "scan", "a.pdf", "application/pdf", chunks(data), self.ctx)


@pytest.fixture
async def files(records_config, database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("HOSO_FILES_DIR", str(tmp_path / "files"))
    rt = await migrated_runtime(records_config.load(), database_url)
    try:
        yield Files(rt)
    finally:
        await rt.db.close()


def stored_files(tmp_path) -> list[str]:
    return [f for f in all_files(tmp_path) if f != OWNER_FILE]


def age(path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


async def leftovers(w, tmp_path, rid: int, *, old: bool) -> dict:
    """What a crash leaves: a complete file under its key with no row (the crash came right after the last
    byte), and a partial file in .incoming (the crash came mid-upload)."""
    storage = w.svc.storage
    tag = "old" if old else "new"
    done = await storage.open_writer(f"case/{rid}/scan/crashed-{tag}")
    await done.write(PDF)
    await done.commit()
    partial = await storage.open_writer(f"case/{rid}/scan/interrupted-{tag}")
    await partial.write(PDF[:100])
    partial.file.close()  # the process died: nobody aborts
    if old:
        age(done.final, 2 * DAY)
        age(partial.partial, 2 * DAY)
    return {"orphan": done.final, "partial": partial.partial}


async def test_old_leftovers_go_referenced_files_and_uploads_in_progress_stay(files, tmp_path):
    w = files
    rid = await w.case()
    v1 = await w.upload(rid)
    await w.upload(rid, PDF + b"2")
    referenced = [tmp_path / "files" / k for k in stored_files(tmp_path)]
    assert len(referenced) == 2
    for path in referenced:
        age(path, 30 * DAY)  # a file a row points to is never removed, however old
    old = await leftovers(w, tmp_path, rid, old=True)
    fresh = await leftovers(w, tmp_path, rid, old=False)

    result = await clean_storage(w.svc, age=DAY)
    assert (result.partial, result.orphans) == (1, 1)
    assert not old["orphan"].exists() and not old["partial"].exists()
    assert all(p.exists() for p in referenced) and fresh["orphan"].exists() and fresh["partial"].exists()
    assert await read_all((await w.svc.download("case", rid, "scan", w.ctx, version=1))[1]) == PDF
    assert v1.version == 1
    again = await clean_storage(w.svc, age=DAY)
    assert (again.partial, again.orphans) == (0, 0)
    # Once old enough, the upload that never finished goes too; the rows' files stay.
    result = await clean_storage(w.svc, age=DAY, now=time.time() + 2 * DAY)
    assert (result.partial, result.orphans) == (1, 1)
    assert sorted(str(p.relative_to(tmp_path / "files")) for p in referenced) == stored_files(tmp_path)


async def test_a_storage_of_another_database_keeps_its_files(files, tmp_path):
    w = files
    rid = await w.case()
    old = await leftovers(w, tmp_path, rid, old=True)
    (tmp_path / "files" / OWNER_FILE).write_text("another database\n")
    result = await clean_storage(w.svc, age=DAY)
    assert (result.partial, result.orphans) == (1, 0), "partial uploads are nobody's; complete files may be"
    assert old["orphan"].exists()
    # Unclaimed, and none of its files is this database's: not claimed, nothing removed.
    (tmp_path / "files" / OWNER_FILE).unlink()
    assert (await clean_storage(w.svc, age=DAY)).orphans == 0
    assert old["orphan"].exists() and not (tmp_path / "files" / OWNER_FILE).exists()
    # Holding one of this database's files, it is claimed and cleaned.
    await w.upload(rid)
    assert (await clean_storage(w.svc, age=DAY)).orphans == 1
    assert not old["orphan"].exists() and (tmp_path / "files" / OWNER_FILE).exists()


@pytest.mark.slow
async def test_the_application_cleans_at_start_and_on_its_schedule(files, tmp_path, monkeypatch, database_url):
    w = files
    monkeypatch.setenv("HOSO_FILES_CLEANUP_INTERVAL", "1")
    monkeypatch.setenv("HOSO_FILES_CLEANUP_AGE", "3600")
    rid = await w.case()
    await w.upload(rid)
    before_start = await leftovers(w, tmp_path, rid, old=True)
    app = create_app(Runtime.create(w.rt.config, database_url))
    async with AsyncTestClient(app):
        await _until(lambda: not before_start["orphan"].exists() and not before_start["partial"].exists())
        meanwhile = await leftovers(w, tmp_path, rid, old=True)
        await _until(lambda: not meanwhile["orphan"].exists() and not meanwhile["partial"].exists())
    assert len(stored_files(tmp_path)) == 1


async def _until(condition, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not cleaned in time"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("env,message", [
    ({"HOSO_FILES_CLEANUP_INTERVAL": "often"}, "HOSO_FILES_CLEANUP_INTERVAL='often': expected a number of seconds"),
    ({"HOSO_FILES_CLEANUP_INTERVAL": "-5"}, "HOSO_FILES_CLEANUP_INTERVAL='-5': expected a number greater than 0"),
    ({"HOSO_FILES_CLEANUP_AGE": "10"}, "HOSO_FILES_CLEANUP_AGE='10': expected a number of seconds, at least 60"),
    ({"HOSO_FILES_CLEANUP_AGE": "nan"}, "HOSO_FILES_CLEANUP_AGE='nan'"),
    ({"HOSO_FILES_CLEANUP_INTERVAL": "inf"}, "HOSO_FILES_CLEANUP_INTERVAL='inf'"),
])
def test_bad_settings_are_named(env, message):
    with pytest.raises(SettingError) as exc:
        CleanupSettings.from_env(env)
    assert message in str(exc.value)


def test_settings_default_and_parse():
    assert CleanupSettings.from_env({}) == CleanupSettings(3600, 86400)
    assert CleanupSettings.from_env({"HOSO_FILES_CLEANUP_INTERVAL": "60", "HOSO_FILES_CLEANUP_AGE": "600"}) == \
        CleanupSettings(60, 600)
