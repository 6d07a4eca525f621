"""Delivery of results through VNeID, from a transactional outbox.

When a case takes a step that gives the requester a result (``end``, ``refuse``, ``discontinue``), its
requester has a citizen ID and the module ``legal_aid.vneid`` is on at the case's unit, a ``vneid_result`` job
is queued with the step's own database handle (``hoso_transition_done``), so it commits with the step or not at
all. A worker (``hoso worker``, or the one inside ``hoso serve``) posts it to ``HOSO_VNEID_URL`` with an
``Idempotency-Key`` header: the job is delivered at least once, tried again with a growing backoff, and the
receiver keeps one delivery per key. A 409 answer naming the same key means the receiver already holds the
result: delivered. Any other 4xx answer but 408, 409, 425 and 429 says the message itself is wrong, which trying
again cannot mend: the job is dead at once (``hoso.jobs.PermanentFailure``), with the receiver's answer. A job
out of attempts or refused for good is dead, with its reason, in the admin's page of jobs
(``/admin/hoso/jobs/``), which can send it back.

Hook implementations here carry their own names and say which hook they implement with ``specname``;
``hoso_legal_aid`` registers them (see its ``__init__``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hoso import JobKind
from hoso.hookspecs import hookimpl
from hoso.jobs import PermanentFailure, enqueue
from hoso.modules import ModuleSwitches
from hoso.records.context import LOCAL_ZONE
from hoso.settings import get as setting

__all__ = ["vneid_job_kinds", "vneid_transition_done", "JOB_KIND", "MODULE",
           "RESULT_STEPS", "VneidRefused", "VneidRejected", "deliver", "delivery_key"]

JOB_KIND = "vneid_result"
MODULE = "legal_aid.vneid"
# The steps of the case lifecycle that give the requester a result, and what the result is.
RESULT_STEPS = {"end": "ended", "refuse": "refused", "discontinue": "not_continued"}
# The step's fields sent with the result (as the case holds them), beside the case's code and unit.
RESULT_FIELDS = ("requester_name", "requester_citizen_id", "received_on", "ended_on", "result", "refused_on",
                 "refusal_reason", "discontinued_on", "not_continued_reason")
URL_SETTING = "HOSO_VNEID_URL"
TIMEOUT_SECONDS = 10.0
# About eight attempts over roughly 40 minutes (30 s, doubled each time, with jitter), then dead in the admin.
MAX_ATTEMPTS = 8
BACKOFF_SECONDS = 30.0
# 4xx answers that may pass (timeout, conflict, too early, too many requests): tried again like a 5xx.
TRANSIENT_4XX = frozenset({408, 409, 425, 429})
ANSWER_CHARS = 500


class VneidRefused(Exception):
    """VNeID did not take the result; the message says why, in Vietnamese and English (shown in the admin)."""


class VneidRejected(VneidRefused, PermanentFailure):
    """VNeID refused the result itself (a 4xx answer): it is not sent again; the message holds the answer."""


def _already_delivered(r: Any, key: str) -> bool:
    """A 409 whose JSON answer names this very key: the receiver holds the result already."""
    try:
        body = r.json()
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("key") == key


def delivery_key(case_id: int, step: str, version: int) -> str:
    """The idempotency key of one result: the case, the step and the case's version after it."""
    return f"hoso-case-{case_id}-{step}-v{version}"


def _json(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


@hookimpl(specname="hoso_transition_done")
async def vneid_transition_done(entity, workflow, transition, record, context, db):
    if entity.name != "case" or transition.name not in RESULT_STEPS or not record.get("requester_citizen_id"):
        return
    if not any(m.name == MODULE for m in context.config.modules):
        return
    unit = record.get(entity.unit_field) if entity.unit_field else None
    switches = await ModuleSwitches.load(db, context.config, dt.datetime.now(LOCAL_ZONE).date())
    if not switches.unit_has(MODULE, unit):
        return
    key = delivery_key(record["id"], transition.name, record["sys_version"])
    payload = {"key": key, "case": record["id"], "code": record.get("code"), "unit": unit,
               "step": transition.name, "outcome": RESULT_STEPS[transition.name],
               **{f: _json(record.get(f)) for f in RESULT_FIELDS if f in record}}
    await enqueue(db, JOB_KIND, payload, key=key)


async def deliver(rt, job) -> dict:
    """Post one result to VNeID; ``VneidRefused`` (with a readable reason) is a failed attempt, tried again,
    ``VneidRejected`` a refusal for good."""
    import httpx

    url = (setting(URL_SETTING) or "").strip()
    if not url:
        raise VneidRefused(f"chưa cấu hình địa chỉ VNeID ({URL_SETTING}) / the VNeID address is not set "
                           f"({URL_SETTING})")
    key = job.payload["key"]
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as client:
            r = await client.post(url, json=job.payload, headers={"Idempotency-Key": key})
    except httpx.HTTPError as exc:
        raise VneidRefused(f"không kết nối được VNeID ({type(exc).__name__}) / VNeID unreachable "
                           f"({type(exc).__name__}: {exc})") from None
    status = r.status_code
    if status == 409 and _already_delivered(r, key):
        return {"delivered": key, "status": status, "already": True}
    answer = r.text[:ANSWER_CHARS]
    if 400 <= status < 500 and status not in TRANSIENT_4XX:
        raise VneidRejected(f"VNeID từ chối kết quả, không gửi lại: HTTP {status} / VNeID rejected the result, "
                            f"not sent again: HTTP {status} {answer}")
    if status >= 300:
        raise VneidRefused(f"VNeID không nhận kết quả: HTTP {status} / VNeID did not accept the result: "
                           f"HTTP {status} {answer}")
    return {"delivered": key, "status": status}


@hookimpl(specname="hoso_job_kinds")
def vneid_job_kinds():
    return [JobKind(JOB_KIND, deliver, max_attempts=MAX_ATTEMPTS, backoff=BACKOFF_SECONDS, lease=60)]
