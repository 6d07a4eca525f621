"""Background jobs (``hoso.jobs``): their table, the ``manage_jobs`` action, and the built-in ``report_export``.

``hoso_job`` has one row per job, holding its state, lease and attempts. ``wait_key`` holds the job's
deduplication key (with its kind) while the job waits to run, and is emptied when a worker claims it: its
uniqueness makes an enqueue with a waiting job's key a no-op on both engines.

``report_export`` runs a report for the user who asked for it (``POST /api/reports/{name}/exports``), with that
user's scope as it is when the job runs, and writes the CSV or XLSX file into ``HOSO_EXPORTS_DIR``. Workers remove
the jobs done more than ``HOSO_JOBS_KEEP_DAYS`` ago, with their files (``hoso.jobs.purge_done``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from piccolo.columns import BigInt, Integer, Text, Varchar

from hoso.hookspecs import hookimpl
from hoso.i18n import t
from hoso.plugin_types import ActionDef, Job, JobKind, SystemTable
from hoso.settings import get as setting

EXPORT_KIND = "report_export"


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


async def run_export(rt: Any, job: Job) -> dict:
    """Run the report of ``job.payload`` as ``job.user_id`` and write its file; the file's name and format."""
    from hoso.records.context import RecordContext
    from hoso.reports.engine import run_report
    from hoso.reports.params import checked_request
    from hoso.reports.render import filename, to_csv, write_xlsx

    p = job.payload
    rows = await rt.db.fetch("SELECT id, username, superuser FROM hoso_user WHERE id = {} AND active = {} "
                             "AND locked = {}", job.user_id, True, False)
    if not rows:
        raise PermissionError(t("export_user_gone", "en", id=job.user_id))
    user = rows[0]
    ctx = RecordContext(rt.config, user["id"], user["username"], "job", p["lang"], bool(user["superuser"]))
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


@hookimpl(trylast=True)
def hoso_job_kinds():
    return [JobKind(EXPORT_KIND, run_export, max_attempts=3, backoff=30, lease=900)]

