"""Report exports run in the background (``hoso.jobs``, the built-in job kind ``report_export``).

- ``POST /api/reports/{name}/exports``: with the parameters of ``GET /api/reports/{name}`` (``period``, ``unit``,
  ``as_of``, ``structure``, ``level``, ``lang``, filters; ``format=xlsx`` (default) or ``csv``), checked at
  once (400 naming each bad parameter, 404 for an unknown report, 403 without ``run_reports``), then queued:
  202 with the export's id and where to ask for it;
- ``GET /api/reports/{name}/exports/{id}``: its state (``pending``, ``running``, ``failed``, ``dead``, ``done``),
  the last error, and once done the address of its file;
- ``GET /api/reports/{name}/exports/{id}/file``: the file (409 while it is not ready).

An export belongs to the user who asked for it: to anyone else it does not exist (404). The report runs with
that user's scope as it is when the job runs.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from litestar import Request, Response, Router, get, post
from litestar.exceptions import PermissionDeniedException
from litestar.params import PathParameter, QueryParameter
from litestar.response import File

from hoso.i18n import t
from hoso.jobs import enqueue, job
from hoso.plugins.jobs import EXPORT_KIND, export_path
from hoso.reports.engine import compile_report
from hoso.reports.model import ReportError
from hoso.reports.params import runnable
from hoso.reports.render import CSV_TYPE, XLSX_TYPE
from hoso.scope import ScopeDenied
from hoso.web.api import request_context, same_site
from hoso.web.problems import problem
from hoso.web.reports_api import _bad, _filters, _lang, _request

__all__ = ["report_exports_router"]

EXPORT_FORMATS = ("xlsx", "csv")
Text = Annotated[str | None, QueryParameter(max_length=200)]
ReportName = Annotated[str, PathParameter(description="the report's name (GET /api/reports lists them)",
                                          max_length=100)]
ExportId = Annotated[int, PathParameter(description="the export's id (from its POST)")]


def _state(name: str, row: dict) -> dict[str, Any]:
    out: dict[str, Any] = {"id": row["id"], "report": name, "state": row["state"], "attempts": row["attempts"],
                           "error": row["last_error"]}
    if row["state"] == "done":
        out["file"] = f"/api/reports/{name}/exports/{row['id']}/file"
        out.update(json.loads(row["result"] or "{}"))
    return out


async def _own(request: Request, name: str, export_id: int) -> tuple[dict, dict] | Response:
    """The export and its payload when it is the requester's export of report ``name``; else a 404."""
    ctx = await request_context(request)
    row = await job(request.app.state.rt.db, export_id)
    payload = json.loads(row["payload"]) if row and row["payload"] else {}
    if row is None or row["kind"] != EXPORT_KIND or row["user_id"] != ctx.user_id or payload.get("report") != name:
        return problem(404, t("export_not_found", ctx.lang, id=export_id), slug="not-found")
    return row, payload


@post("/{name:str}/exports", name="report-exports-create", summary="Export a report in the background",
      status_code=202, guards=[same_site])
async def create_export(
    request: Request, name: ReportName, period: Text = None, unit: Text = None, as_of: Text = None,
    structure: Text = None, level: Text = None,
    lang: Annotated[str | None, QueryParameter(description="vi or en (default: Accept-Language)")] = None,
    format: Annotated[str | None, QueryParameter(description="xlsx (default) or csv")] = None,
) -> Response:
    shown = _lang(request, lang)
    ctx = await request_context(request)
    if await request.body():
        # the parameters are the query string's: a body would be dropped without a word, and the export run
        # with other parameters than the client meant
        return problem(400, t("export_body_refused", shown), slug="invalid-report-parameters")
    fmt = format or "xlsx"
    problems = [] if fmt in EXPORT_FORMATS else [("format", t("report_bad_format", shown, value=fmt))]
    params = {"period": period, "unit": unit, "as_of": as_of, "structure": structure, "level": level}
    try:
        checked = await _request(request, ctx, name, shown, problems, **params)
        # everything the run would refuse (a month that does not exist, a unit unknown or out of reach, a level
        # finer than the role may see) is refused now, not by a failed job
        await compile_report(request.app.state.rt, ctx, checked)
    except ReportError as exc:
        return _bad(exc, shown)
    except ScopeDenied as exc:
        raise PermissionDeniedException(detail=str(exc) or t("no_access", shown)) from None
    if checked.report not in {r.name for r in await runnable(request.app.state.rt, ctx)}:
        entity = next(r.entity for r in request.app.state.rt.config.reports if r.name == checked.report)
        raise PermissionDeniedException(detail=t("report_denied", shown, entity=entity))
    # The filters as the client wrote them (JSON), checked again with the user's scope when the job runs.
    payload = {"report": checked.report, "params": params, "filters": _filters(request, shown), "format": fmt,
               "lang": shown}
    export_id = await enqueue(request.app.state.rt.db, EXPORT_KIND, payload, user_id=ctx.user_id)
    return Response({"id": export_id, "report": name, "state": "pending",
                     "url": f"/api/reports/{name}/exports/{export_id}"}, status_code=202)


@get("/{name:str}/exports/{export_id:int}", name="report-exports-state", summary="A report export's state")
async def export_state(request: Request, name: ReportName, export_id: ExportId) -> Response:
    own = await _own(request, name, export_id)
    if isinstance(own, Response):
        return own
    return Response(_state(name, own[0]))


@get("/{name:str}/exports/{export_id:int}/file", name="report-exports-file", summary="A report export's file")
async def export_file(request: Request, name: ReportName, export_id: ExportId) -> Response:
    own = await _own(request, name, export_id)
    if isinstance(own, Response):
        return own
    row, payload = own
    ctx_lang = _lang(request, None)
    if row["state"] != "done":
        return problem(409, t("export_not_ready", ctx_lang, state=row["state"]), slug="export-not-ready")
    result = json.loads(row["result"] or "{}")
    fmt = payload["format"]
    path = export_path(row["id"], fmt)
    if not path.is_file():
        return problem(404, t("export_not_found", ctx_lang, id=export_id), slug="not-found")
    return File(path, filename=result.get("filename") or path.name,
                media_type=CSV_TYPE if fmt == "csv" else XLSX_TYPE)


def report_exports_router() -> Router:
    return Router(path="/api/reports", route_handlers=[create_export, export_state, export_file], tags=["reports"])
