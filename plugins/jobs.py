"""Background jobs (``hoso.jobs``): their table, the ``manage_jobs`` action, and the built-in ``report_export``.

``hoso_job`` has one row per job, holding its state, lease and attempts. ``wait_key`` holds the job's
deduplication key (with its kind) while the job waits to run, and is emptied when a worker claims it: its
uniqueness makes an enqueue with a waiting job's key a no-op on both engines.

``file_import`` imports a file uploaded to the admin's import page (``hoso.admin.imports``) as the user who
uploaded it. The preview queues the job held back (due only after the page's keeping time, when it just removes
the file); the confirmation releases it with the user's choices (``hoso.jobs.release``: of two confirmations, one
wins). While it runs it keeps its progress in the job's result; at the end, the import's result.

``report_export`` runs a report for the user who asked for it (``POST /api/reports/{name}/exports``), with that
user's scope as it is when the job runs, and writes the CSV or XLSX file into ``HOSO_EXPORTS_DIR``. Workers remove
the jobs done more than ``HOSO_JOBS_KEEP_DAYS`` ago, with their files (``hoso.jobs.purge_done``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from pathlib import Path
from typing import Any

from piccolo.columns import BigInt, Integer, Text, Varchar

from hoso.hookspecs import hookimpl
from hoso.i18n import t
from hoso.plugin_types import ActionDef, Job, JobKind, SystemTable
from hoso.settings import get as setting

EXPORT_KIND = "report_export"
IMPORT_KIND = "file_import"
# How often a running import keeps its progress in its job row.
PROGRESS_SECONDS = 0.5


def _columns() -> dict:
    return {
        "kind": Varchar(length=200),
        "payload": Text(default=None, null=True),
        "dedup_key": Text(default=None, null=True),
        "wait_key": Text(default=None, null=True, unique=True),
        "state": Varchar(length=20, default="pending", index=True),
        "attempts": Integer(default=0),
        "run_at": BigInt(default=0, index=True),
        "lease_owner": Text(default=None, null=True),
        "lease_until": BigInt(default=0),
        "last_error": Text(default=None, null=True),
        "result": Text(default=None, null=True),
        "user_id": Integer(default=None, null=True, index=True),
        "created_at": BigInt(default=0),
        "finished_at": BigInt(default=None, null=True),
    }


@hookimpl(trylast=True)
def hoso_system_tables():
    return [SystemTable("hoso_job", _columns)]


@hookimpl(trylast=True)
def hoso_actions():
    """``manage_jobs``: see the admin's page of background jobs and send dead jobs back to the queue."""
    return [ActionDef("manage_jobs", {"vi": t("manage_jobs", "vi"), "en": t("manage_jobs", "en")})]


def export_path(job_id: int, fmt: str) -> Path:
    """Where the file of export job ``job_id`` is kept."""
    return Path(setting("HOSO_EXPORTS_DIR")) / f"{int(job_id)}.{fmt}"


async def _job_context(rt: Any, job: Job, origin: str, lang: str) -> Any:
    """The record context of the user a job runs for, as the account is now (active, not locked)."""
    from hoso.records.context import RecordContext

    rows = await rt.db.fetch("SELECT id, username, superuser FROM hoso_user WHERE id = {} AND active = {} "
                             "AND locked = {}", job.user_id, True, False)
    if not rows:
        raise PermissionError(t("export_user_gone", "en", id=job.user_id))
    user = rows[0]
    return RecordContext(rt.config, user["id"], user["username"], origin, lang, bool(user["superuser"]))


async def run_export(rt: Any, job: Job) -> dict:
    """Run the report of ``job.payload`` as ``job.user_id`` and write its file; the file's name and format."""
    from hoso.reports.engine import run_report
    from hoso.reports.params import checked_request
    from hoso.reports.render import filename, to_csv, write_xlsx

    p = job.payload
    ctx = await _job_context(rt, job, "job", p["lang"])
    request = await checked_request(rt, ctx, p["report"], filters=p["filters"], lang=p["lang"], **p["params"])
    result = await run_report(rt, ctx, request)
    path = export_path(job.id, p["format"])
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + ".part")
    try:
        if p["format"] == "csv":
            partial.write_text(to_csv(result), encoding="utf-8")
        else:
            write_xlsx(result, str(partial))
        os.replace(partial, path)  # the file appears whole, or not at all
    finally:
        partial.unlink(missing_ok=True)
    return {"filename": filename(result, p["format"]), "format": p["format"]}


async def note_progress(db: Any, job_id: int, progress: Any) -> None:
    """Keep ``progress`` (JSON-ready) as a running job's result until it ends (the job's page shows it)."""
    await db.execute("UPDATE hoso_job SET result = {} WHERE id = {} AND state = 'running'",
                     json.dumps(progress, ensure_ascii=False), job_id)


async def run_import(rt: Any, job: Job) -> dict:
    """Import the staged file of ``job.payload`` as ``job.user_id``: ``{"expired": true}`` when the upload was
    never confirmed, ``{"error": message}`` when the file or the user's rights refuse it, else ``{"result": ...}``
    (``ImportResult.as_json``). A repeated run (its worker stopped mid-way) finds the rows written before as
    duplicates, by their content hash or key: nothing is written twice."""
    from hoso.importing import FileProblem, ImportOptions, import_file, read_table
    from hoso.importing.staging import staged, unstage
    from hoso.records.errors import RecordError

    p = job.payload
    if p.get("held"):
        unstage(p["staged"])
        return {"expired": True}
    lang = p["lang"]
    data = staged(p["staged"])
    if data is None:
        return {"error": t("import_expired", lang)}
    try:
        ctx = await _job_context(rt, job, "admin", lang)
        table = read_table(p["file_name"], data, lang)
    except (FileProblem, PermissionError) as exc:
        unstage(p["staged"])
        return {"error": str(exc)}
    progress = {"stage": "check", "done": 0, "total": len(table.rows)}

    def advance(stage: str, done: int, total: int) -> None:
        progress.update(stage=stage, done=done, total=total)

    async def keep_progress() -> None:
        while True:
            await note_progress(rt.db, job.id, {"progress": progress})
            await asyncio.sleep(PROGRESS_SECONDS)

    options = ImportOptions(key=p.get("key"), skip_bad=bool(p.get("skip_bad")), ignore=frozenset(p.get("ignore", ())))
    keeper = asyncio.get_running_loop().create_task(keep_progress())
    try:
        result = await import_file(rt, ctx, p["entity"], table, options, advance)
    except RecordError as exc:
        unstage(p["staged"])
        return {"error": str(exc)}
    finally:
        keeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await keeper
    unstage(p["staged"])
    return {"result": result.as_json()}


@hookimpl(trylast=True)
def hoso_job_kinds():
    # An import may take minutes (HOSO_IMPORT_MAX_ROWS rows): its lease is an hour.
    return [JobKind(EXPORT_KIND, run_export, max_attempts=3, backoff=30, lease=900),
            JobKind(IMPORT_KIND, run_import, max_attempts=3, backoff=30, lease=3600)]

