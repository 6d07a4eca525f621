"""The table behind background jobs (``hoso.jobs``): one row per job, holding its state, lease and attempts.

``wait_key`` holds the job's deduplication key (with its kind) while the job waits to run, and is emptied when
a worker claims it: its uniqueness makes an enqueue with a waiting job's key a no-op on both engines.
"""

from __future__ import annotations

from piccolo.columns import BigInt, Integer, Text, Varchar

from hoso.hookspecs import hookimpl
from hoso.i18n import t
from hoso.plugin_types import ActionDef, SystemTable


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
