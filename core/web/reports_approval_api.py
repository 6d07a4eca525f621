"""Report approval over HTTP: submit a report run, approve it level by level, return it for correction, unlock
its period, list submissions, and read stored snapshots; thin wrappers around ``hoso.reports.approval``, which
holds every rule (who acts at which level, locking, audit).

- ``POST /api/report-submissions``: run the report for one unit and period with the caller's scope and submit it;
- ``GET /api/report-submissions`` (``report``, ``period``, ``status``) and ``GET /api/report-submissions/{id}``;
- ``POST /api/report-submissions/{id}/approve|return|unlock``;
- ``GET /api/report-snapshots/{id}``: the stored result, its content hash checked, never recomputed;
- ``GET /api/report-approved/{report}?period=...``: only approved numbers of the submitting units below, and which
  units have none.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, Router, get, post
from litestar.params import FromPath, FromQuery, JSONBody, Parameter

from hoso.jsonconv import json_ready
from hoso.reports import approval
from hoso.reports.cache import scope_key
from hoso.reports.engine import run_report
from hoso.reports.model import ReportError, ReportRequest
from hoso.reports.snapshots import SnapshotCorrupt
from hoso.scope import ScopeDenied
from hoso.web.api import MAX_ID, request_context, same_site
from hoso.web.problems import msg, problem, request_lang

__all__ = ["approvals_router"]

log = logging.getLogger("hoso.web")

Id = Annotated[int, Parameter(ge=1, le=MAX_ID)]


class NewSubmission(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    report: str
    period: str
    unit: str
    as_of: dt.datetime | None = None
    structure: str = "recorded"
    filters: dict[str, Any] | None = None
    comment: str = ""
    draft: bool = False


class Decision(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    comment: str = ""
    version: Annotated[int, msgspec.Meta(ge=1, le=MAX_ID)] | None = None


class Unlock(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: str
    version: Annotated[int, msgspec.Meta(ge=1, le=MAX_ID)] | None = None


def _refused(request: Request, exc: Exception) -> Response:
    lang = request_lang(request)
    if isinstance(exc, approval.ApprovalError):
        if exc.status == 422:
            return problem(422, exc.message(lang), errors=[{"field": exc.field, "message": exc.message(lang)}])
        return problem(exc.status, exc.message(lang))
    if isinstance(exc, ReportError):
        return problem(422, msg("report_body_invalid", lang, reason=str(exc)),
                       errors=[{"field": p, "message": m} for p, m in exc.problems])
    if isinstance(exc, ScopeDenied):
        return problem(403, str(exc) or msg("forbidden", lang, action="run_reports"))
    if isinstance(exc, SnapshotCorrupt):
        log.error("%s", exc)
        return problem(500, msg("snapshot_corrupt", lang, id=exc.snapshot_id), slug="snapshot-corrupt")
    raise exc


async def _guarded(request: Request, coro: Awaitable[Any], status: int = 200) -> Response:
    try:
        body = await coro
    except (approval.ApprovalError, ReportError, ScopeDenied, SnapshotCorrupt) as exc:
        return _refused(request, exc)
    return Response(content=json_ready(body), status_code=status)


def approvals_router() -> Router:
    """The approval routes."""

    @post("/api/report-submissions", tags=["reports"], guards=[same_site], status_code=201)
    async def submit(request: Request, data: JSONBody[NewSubmission]) -> Response:
        """Run ``report`` for ``unit`` and ``period`` with the caller's scope, store the result as a snapshot and
        submit it at the first approval level (needs the level's action, ``approve_reports``, on the unit);
        ``draft: true`` keeps it as a draft, which no level acts on until it is submitted."""
        ctx = await request_context(request)
        rt = request.app.state.rt

        async def go() -> dict:
            rdef = next((r for r in rt.config.reports if r.name == data.report), None)
            if rdef is None:
                raise approval.ApprovalError(422, "report_unknown", "report", name=data.report)
            req = ReportRequest(data.report, period=data.period, unit=data.unit, as_of=data.as_of,
                                structure=data.structure, filters=data.filters, lang=ctx.lang)
            await approval.may_submit(rt, ctx, rdef.entity, data.unit)
            result = await run_report(rt, ctx, req)
            return await approval.submit(rt, ctx, result, scope_key=await scope_key(rt, ctx, rdef.entity),
                                         comment=data.comment, draft=data.draft)

        return await _guarded(request, go(), 201)

    @get("/api/report-submissions", tags=["reports"])
    async def list_submissions(request: Request, report: FromQuery[str | None] = None,
                               period: FromQuery[str | None] = None, status: FromQuery[str | None] = None
                               ) -> Response:
        """The submissions of the units in the caller's reach, newest first."""
        ctx = await request_context(request)
        return await _guarded(request, approval.list_submissions(request.app.state.rt, ctx, report=report,
                                                                 period=period, status=status))

    @get("/api/report-submissions/{submission_id:int}", tags=["reports"])
    async def one_submission(request: Request, submission_id: Id) -> Response:
        """One submission with its steps (who did what, at which level, with which comment)."""
        ctx = await request_context(request)
        return await _guarded(request, approval.get_submission(request.app.state.rt, ctx, submission_id))

    @post("/api/report-submissions/{submission_id:int}/approve", tags=["reports"], guards=[same_site],
          status_code=200)
    async def approve(request: Request, submission_id: Id, data: JSONBody[Decision]) -> Response:
        """Approve at the next level (needs its action on the unit); the locking level locks the period."""
        ctx = await request_context(request)
        return await _guarded(request, approval.approve(request.app.state.rt, ctx, submission_id,
                                                        comment=data.comment, version=data.version))

    @post("/api/report-submissions/{submission_id:int}/return", tags=["reports"], guards=[same_site],
          status_code=200)
    async def send_back(request: Request, submission_id: Id, data: JSONBody[Decision]) -> Response:
        """Return for correction, with a comment (required); a lock the submission held is lifted."""
        ctx = await request_context(request)
        return await _guarded(request, approval.return_for_correction(request.app.state.rt, ctx, submission_id,
                                                                      comment=data.comment, version=data.version))

    @post("/api/report-submissions/{submission_id:int}/unlock", tags=["reports"], guards=[same_site],
          status_code=200)
    async def unlock(request: Request, submission_id: Id, data: JSONBody[Unlock]) -> Response:
        """Unlock the submission's period (a level above the locking one), with a reason (required)."""
        ctx = await request_context(request)
        return await _guarded(request, approval.unlock(request.app.state.rt, ctx, submission_id,
                                                       reason=data.reason, version=data.version))

    @get("/api/report-snapshots/{snapshot_id:int}", tags=["reports"])
    async def snapshot(request: Request, snapshot_id: Id) -> Response:
        """A stored report result exactly as submitted, with its content hash (checked before it is served)."""
        ctx = await request_context(request)
        return await _guarded(request, approval.read_snapshot(request.app.state.rt, ctx, snapshot_id))

    @get("/api/report-approved/{report:str}", tags=["reports"])
    async def approved(request: Request, report: FromPath[str], period: FromQuery[str],
                       unit: FromQuery[str | None] = None) -> Response:
        """Only approved numbers: the approved snapshots of the submitting units in the caller's reach (under
        ``unit``), the units that have none, and the sum of the additive columns."""
        ctx = await request_context(request)
        return await _guarded(request, approval.approved_below(request.app.state.rt, ctx, report, period, unit))

    return Router(path="/", route_handlers=[submit, list_submissions, one_submission, approve, send_back, unlock,
                                            snapshot, approved])
