"""Reports over HTTP: the reports a user may run, a run's result as JSON, CSV or XLSX, and the records behind a cell.

- ``GET /api/reports``: the reports the user may run (a role granting ``run_reports`` on the report's entity);
- ``GET /api/reports/{name}``: one run (``hoso.reports.engine.run_report``) with ``period``, ``unit``, ``as_of``,
  ``structure``, ``level``, ``lang`` and the template's filter fields (``field=value``, ``field__op=value``);
  ``format=csv|xlsx`` (or an ``Accept`` of text/csv or the XLSX type) answers a file to download;
- ``GET /api/reports/{name}/cell?keys=[...]&column=...``: the records counted in one cell (same parameters).

Every bad parameter is named in one 400 problem document (``errors``), an unknown report is 404, a user whose
roles do not grant ``run_reports`` on the report's entity (or, for a cell, may not see its rows) gets 403.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Annotated, Any
from urllib.parse import quote as url_quote

import msgspec
from litestar import Request, Response, Router, get
from litestar.exceptions import PermissionDeniedException
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIFormat, OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Operation, Schema
from litestar.params import PathParameter, QueryParameter
from litestar.response import Stream

from hoso.config import ReportDef
from hoso.i18n import t
from hoso.jsonconv import json_ready
from hoso.records.context import RecordContext
from hoso.records.query import FILTER_OPS as COMPARISONS
from hoso.reports.cache import ResultCache
from hoso.reports.engine import cell_records, run_report, template_hash
from hoso.reports.model import ReportError, ReportRequest
from hoso.reports.params import FORMATS, checked_request, report_def, runnable
from hoso.reports.render import CSV_TYPE, XLSX_TYPE, filename, rows_csv, to_csv, write_rows_xlsx, write_xlsx
from hoso.scope import ScopeDenied
from hoso.web.api import request_context
from hoso.web.problems import problem, request_lang

__all__ = ["reports_router", "RESERVED", "record_columns"]

FILTER_OPS = (*COMPARISONS, "in", "null")
RESERVED = {"period", "unit", "as_of", "structure", "level", "lang", "format", "keys", "column"}
CHUNK = 64 * 1024


# -- the documented shapes ----------------------------------------------------------------------------------------


class ReportInfo(msgspec.Struct):
    name: str
    label: str
    label_vi: str
    label_en: str | None
    entity: str
    rows: list[str]  # the row dimensions' keys
    columns: list[str]  # the columns' keys
    parameters: list[str]  # the fields a run may filter on


class PeriodJson(msgspec.Struct):
    code: str
    start: str
    end: str
    cutoff: str | None
    label: str


class DimensionJson(msgspec.Struct):
    key: str
    label: str


class ColumnJson(msgspec.Struct):
    key: str
    label: str
    groups: list[str]
    measure: str


class RowJson(msgspec.Struct):
    kind: str  # "row", "subtotal" or "total"
    keys: list[Any]
    labels: list[str]
    values: list[float | None]  # None: suppressed (a small cell)


class ReportJson(msgspec.Struct):
    report: str
    label: str
    request: dict[str, Any]
    period: PeriodJson | None
    unit: dict[str, Any] | None
    dimensions: list[DimensionJson]
    columns: list[ColumnJson]
    rows: list[RowJson]
    total: RowJson
    generated_at: str
    template_hash: str
    suppressed: int


class CellJson(msgspec.Struct):
    items: list[dict[str, Any]]
    total: int


@dataclasses.dataclass
class WithFiles(Operation):
    """The operation's success answer lists the CSV and XLSX files beside the JSON."""

    def __post_init__(self) -> None:
        ok = (self.responses or {}).get("200")
        if isinstance(ok, OpenAPIResponse):
            binary = OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY))
            ok.content = {**(ok.content or {}), "text/csv": binary, XLSX_TYPE: binary}


_FILES = ("The result as JSON; with format=csv (text/csv, UTF-8 with a byte order mark) or format=xlsx (the "
          "official form's layout) a file to download, named <report>_<period>_<unit>.")


# -- parameters ---------------------------------------------------------------------------------------------------


def _lang(request: Request, lang: str | None) -> str:
    return lang if lang in ("vi", "en") else request_lang(request)


def _filters(request: Request, lang: str) -> dict[str, dict[str, Any]]:
    """The query's filter parameters (``field=value``, ``field__op=value``) in the list API's language."""
    out: dict[str, dict[str, Any]] = {}
    problems: list[tuple[str, str]] = []
    for key in request.query_params.keys():
        if key in RESERVED:
            continue
        value: Any = request.query_params.getall(key)[-1]
        name, _, op = key.partition("__")
        op = op or "eq"
        if op not in FILTER_OPS:
            problems.append((key, t("invalid", lang, reason=f"{op!r}: {', '.join(FILTER_OPS)}")))
            continue
        if op == "in":
            value = [v for v in value.split(",") if v != ""]
        elif op == "null":
            value = value.lower() in ("1", "true", "yes")
        out.setdefault(name, {})[op] = value
    if problems:
        raise ReportError(problems)
    return out


def _format(request: Request, fmt: str | None, lang: str) -> tuple[str, list[tuple[str, str]]]:
    """The answer's format (the parameter, else the Accept header), and its problem if the parameter is bad."""
    if fmt not in (None, ""):
        if fmt not in FORMATS:
            return "json", [("format", t("report_bad_format", lang, value=fmt))]
        return str(fmt), []
    accept = (request.headers.get("accept") or "").lower()
    if XLSX_TYPE in accept:
        return "xlsx", []
    if "text/csv" in accept:
        return "csv", []
    return "json", []


async def _request(request: Request, ctx: RecordContext, name: str, lang: str, problems: list[tuple[str, str]],
                   **params: str | None) -> ReportRequest:
    """The run's request; ReportError naming every bad parameter, ``problems`` (the caller's) included."""
    found = list(problems)
    filters: dict = {}
    try:
        filters = _filters(request, lang)
    except ReportError as exc:
        found += exc.problems
    return await checked_request(request.app.state.rt, ctx, name, problems=found, filters=filters, lang=lang,
                                 **params)


def _bad(exc: ReportError, lang: str) -> Response:
    """404 for an unknown report, else 400 naming every bad parameter."""
    errors = [{"field": f, "message": m} for f, m in exc.problems]
    if any(f == "report" for f, _ in exc.problems):
        return problem(404, exc.problems[0][1], slug="not-found")
    return problem(400, t("report_bad_parameters", lang, count=len(errors)), slug="invalid-report-parameters",
                   errors=errors)


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f"attachment; filename=\"{name}\"; filename*=UTF-8''{url_quote(name)}"}


async def _file_chunks(path: str) -> AsyncIterator[bytes]:
    """The file's bytes in chunks, the file removed once sent (or when the client goes away)."""
    try:
        with open(path, "rb") as f:
            while chunk := f.read(CHUNK):
                yield chunk
    finally:
        os.unlink(path)


def _temp_path() -> str:
    fd, path = tempfile.mkstemp(prefix="hoso-report-", suffix=".xlsx")
    os.close(fd)
    return path


def _written(path: str, write: Callable[[], object]) -> None:
    """Run ``write`` into the temporary file ``path``, removing the file if it fails."""
    try:
        write()
    except BaseException:
        os.unlink(path)
        raise


def record_columns(rt: Any, report: ReportDef, records: list[dict], lang: str) -> list[tuple[str, str]]:
    """The columns of a records export: the keys of the records, labelled by the entity's fields."""
    entity = rt.config.entity(report.entity)
    labels = {f.name: f.label.get(lang) for f in entity.fields}
    keys: list[str] = []
    for record in records[:1]:
        keys = [k for k in record if not k.startswith("sys_") or k in ("sys_code",)]
    return [(k, labels.get(k, k)) for k in keys]


# -- handlers -----------------------------------------------------------------------------------------------------

Text = Annotated[str | None, QueryParameter(max_length=200)]
ReportName = Annotated[str, PathParameter(description="the report's name (GET /api/reports lists them)",
                                          max_length=100)]


@get("/", name="reports-list", summary="Reports the user may run", description="The reports whose entity one of "
     "the user's roles grants run_reports on, with their labels (Vietnamese and English).")
async def list_reports(request: Request, lang: Annotated[str | None, QueryParameter(
        description="vi or en (default: Accept-Language)")] = None) -> list[ReportInfo]:
    ctx = await request_context(request)
    rt = request.app.state.rt
    shown = _lang(request, lang)
    return [ReportInfo(r.name, r.label.get(shown), r.label.vi, r.label.en, r.entity, [d.key for d in r.rows],
                       [c.key for c in r.columns], list(r.parameters)) for r in await runnable(rt, ctx)]


@get("/{name:str}", name="reports-run", summary="Run a report", description=_FILES,
     responses={200: ResponseSpec(data_container=ReportJson, description=_FILES)}, operation_class=WithFiles)
async def run(
    request: Request, name: ReportName,
    period: Annotated[str | None, QueryParameter(
        description="2025, 2025-H1, 2025-Q3, 2025-07 (or a configured period code); none: all records",
        max_length=40)] = None,
    unit: Annotated[str | None, QueryParameter(
        description="a unit code: only that unit's subtree, within the user's scope; none: the whole scope",
        max_length=100)] = None,
    as_of: Annotated[str | None, QueryParameter(
        description="the records as they stood then: YYYY-MM-DD (end of day) or an ISO time (Asia/Ho_Chi_Minh "
                    "when no zone is given); none: now", max_length=40)] = None,
    structure: Annotated[str | None, QueryParameter(
        description="recorded (units as they were), or YYYY-MM-DD: mapped to the structure at that date",
        max_length=20)] = None,
    level: Annotated[str | None, QueryParameter(description="hierarchy level the unit rows roll up to",
                                                max_length=40)] = None,
    lang: Annotated[str | None, QueryParameter(description="vi or en (default: Accept-Language)")] = None,
    format: Annotated[str | None, QueryParameter(description="json (default), csv or xlsx")] = None,
) -> Response:
    shown = _lang(request, lang)
    ctx = await request_context(request)
    try:
        fmt, problems = _format(request, format, shown)
        req = await _request(request, ctx, name, shown, problems, period=period, unit=unit, as_of=as_of,
                             structure=structure, level=level)
        rt = request.app.state.rt
        report = next(r for r in rt.config.reports if r.name == req.report)
        result = await report_cache(request).run(rt, _with_lang(ctx, shown), req, template_hash(report),
                                                 run_report)
    except ReportError as exc:
        return _bad(exc, shown)
    except ScopeDenied as exc:
        raise PermissionDeniedException(detail=str(exc) or t("no_access", shown)) from None
    if fmt == "csv":
        return Response(to_csv(result).encode("utf-8"), media_type=CSV_TYPE,
                        headers=_attachment(filename(result, "csv")))
    if fmt == "xlsx":
        path = _temp_path()
        _written(path, lambda: write_xlsx(result, path))
        return Stream(_file_chunks(path), media_type=XLSX_TYPE, headers=_attachment(filename(result, "xlsx")))
    return Response(json_ready(result.to_json()), media_type="application/json")


def report_cache(request: Request) -> ResultCache:
    """The application's cache of report runs as of a settled past moment (keyed by scope, see hoso.reports.cache)."""
    state = request.app.state
    if getattr(state, "report_cache", None) is None:
        state.report_cache = ResultCache()
    return state.report_cache


@get("/{name:str}/cell", name="reports-cell", summary="The records behind one cell",
     description="Exactly the records counted in the cell at row keys and column, through the same scope as the "
                 "run; refused (403) to roles that see numbers only. format=csv|xlsx streams them as a file.",
     responses={200: ResponseSpec(data_container=CellJson, description="the records")}, operation_class=WithFiles)
async def cell(
    request: Request, name: ReportName,
    keys: Annotated[str, QueryParameter(description="the row's dimension values, as a JSON array",
                                        max_length=4000)],
    column: Annotated[str, QueryParameter(description="the column's key, e.g. total or gender:female",
                                          max_length=200)],
    period: Text = None, unit: Text = None, as_of: Text = None, structure: Text = None, level: Text = None,
    lang: Annotated[str | None, QueryParameter(description="vi or en")] = None,
    format: Annotated[str | None, QueryParameter(description="json (default), csv or xlsx")] = None,
) -> Response:
    shown = _lang(request, lang)
    rt = request.app.state.rt
    ctx = await request_context(request)
    try:
        fmt, problems = _format(request, format, shown)
        cell_keys: tuple = ()
        try:
            parsed = json.loads(keys)
            if not isinstance(parsed, list):
                raise ValueError
            cell_keys = tuple(parsed)
        except (ValueError, RecursionError):  # RecursionError: arrays nested deeper than the parser goes
            problems.append(("keys", t("report_bad_keys", shown)))
        req = await _request(request, ctx, name, shown, problems, period=period, unit=unit, as_of=as_of,
                             structure=structure, level=level)
        records = await cell_records(rt, _with_lang(ctx, shown), req, cell_keys, column)
    except ReportError as exc:
        return _bad(exc, shown)
    except ScopeDenied as exc:
        raise PermissionDeniedException(detail=str(exc) or t("no_access", shown)) from None
    report = report_def(rt, name, shown)
    base = f"{report.name}_cell"
    if fmt == "json":
        return Response({"items": [json_ready(r) for r in records], "total": len(records)},
                        media_type="application/json")
    columns = record_columns(rt, report, records, shown)
    if fmt == "csv":
        chunks = (c.encode("utf-8") for c in rows_csv(columns, records))
        return Stream(chunks, media_type=CSV_TYPE, headers=_attachment(base + ".csv"))
    path = _temp_path()
    _written(path, lambda: write_rows_xlsx(columns, records, path, sheet=report.name))
    return Stream(_file_chunks(path), media_type=XLSX_TYPE, headers=_attachment(base + ".xlsx"))


def _with_lang(ctx: RecordContext, lang: str) -> RecordContext:
    return replace(ctx, lang=lang)


def reports_router() -> Router:
    return Router(path="/api/reports", route_handlers=[list_reports, run, cell], tags=["reports"])
