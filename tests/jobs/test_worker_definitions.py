"""A worker moves to the definitions ``hoso migrate`` applies while it runs, as every application process does:
jobs claimed after the migration see the new fields, without a restart; files on disk that are not the applied
definitions leave it on its own."""

from __future__ import annotations

from hoso.jobs import Worker, enqueue, job
from hoso.plugin_types import JobKind
from hoso.runtime import Runtime
from tests.conftest import MINIMAL_CASE
from tests.helpers import migrated_runtime


async def _sees_note(rt, _job) -> bool:
    return rt.config.entity("case").has_field("note")


async def test_a_worker_runs_later_jobs_on_the_definitions_migrate_applied(config_dir, database_url, monkeypatch):
    monkeypatch.setenv("HOSO_DEFINITIONS_POLL_SECONDS", "0.1")
    rt = await migrated_runtime(config_dir.load(), database_url)
    worker = Worker(Runtime.create(config_dir.root, database_url), kinds={"look": JobKind("look", _sees_note)},
                    scheduled=False)
    await worker.rt.db.start()
    try:
        first = await enqueue(rt.db, "look", None)
        worker.checked = 0.0
        assert await worker.run_one()
        assert (await job(rt.db, first))["result"] == "false"

        # another process changes the files and migrates them
        config_dir.write("forms_config/entities/case.yaml",
                         MINIMAL_CASE + "  note: {type: text, label: {vi: Ghi chú}}\n")
        await rt.db.close()
        rt = await migrated_runtime(config_dir.load(), database_url)

        second = await enqueue(rt.db, "look", None)
        worker.checked = 0.0  # its next claim checks the applied definitions first
        assert await worker.run_one()
        assert (await job(rt.db, second))["result"] == "true"
        assert worker.rt.config.content_hash == rt.config.content_hash
    finally:
        await worker.rt.db.close()
        await rt.db.close()


async def test_files_that_are_not_the_applied_definitions_leave_the_worker_as_it_is(config_dir, database_url):
    rt = await migrated_runtime(config_dir.load(), database_url)
    worker = Worker(Runtime.create(config_dir.root, database_url), kinds={"look": JobKind("look", _sees_note)},
                    scheduled=False)
    await worker.rt.db.start()
    try:
        before = worker.rt
        config_dir.write("forms_config/entities/case.yaml",
                         MINIMAL_CASE + "  note: {type: text, label: {vi: Ghi chú}}\n")  # changed, not migrated
        assert await worker.follow_definitions() is False and worker.rt is before
    finally:
        await worker.rt.db.close()
        await rt.db.close()
