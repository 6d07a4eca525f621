"""The admin's report page (``/admin/hoso/reports/``): choose a report and its parameters, see the table (column
groups, subtotals, the total) and a bar chart, and download it as CSV or XLSX.

The page is drawn on the server in the admin's colours (piccolo-admin's light theme); the chart is drawn in the
browser by Chart.js, vendored under admin/static/vendor/ and served by the admin itself (users work offline; the
pages' Content-Security-Policy allows scripts from the site only). Every run goes through ``run_report`` with
the user's record context, so the numbers are those of the user's scope.
"""

from __future__ import annotations

import html
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from hoso.admin.auth import AdminUser
from hoso.admin.pages import _page_user, _prefix
from hoso.config import ReportDef
from hoso.i18n import t
from hoso.jsonconv import dumps
from hoso.reports.engine import run_report
from hoso.reports.model import ReportError, ReportResult
from hoso.reports.params import checked_request, runnable
from hoso.reports.render import (
    CSV_TYPE,
    XLSX_TYPE,
    filename,
    header_cells,
    row_cells,
    title_lines,
    to_csv,
    xlsx_bytes,
)
from hoso.scope import ScopeDenied

__all__ = ["routes", "PAGE", "STATIC"]

PAGE = "/hoso/reports/"
STATIC = Path(__file__).resolve().parent / "static"
PARAMS = ("period", "unit", "as_of", "structure", "level")

_STYLE = """
body{margin:0;font-family:Avenir,Helvetica,Arial,sans-serif;color:#2d2d2d;background:#fff}
a{color:#3889ce}
.bar{background:#2d2d2d;color:#fff;padding:.6rem 1rem;display:flex;gap:1rem;align-items:center}
.bar a{color:#fff;text-decoration:none}.bar h1{font-size:1.1rem;margin:0;font-weight:normal}
.wrap{display:flex;min-height:calc(100vh - 2.5rem)}
.side{background:#f0f5f9;border-right:1px solid rgba(0,0,0,.1);padding:1rem;width:17rem;flex:none}
.side label{display:block;font-size:.8rem;margin:.6rem 0 .2rem;color:#555}
.side input,.side select{width:100%;box-sizing:border-box;padding:.35rem;border:1px solid #ccc;border-radius:3px}
.button{background:#3889ce;color:#fff;border:0;padding:.45rem .8rem;text-transform:uppercase;font-size:.75rem;
 cursor:pointer;border-radius:3px;margin-top:1rem;text-decoration:none;display:inline-block}
.button:hover{background:#61a1d8}
main{padding:1rem 1.5rem;flex:1;overflow:auto}
.title p{margin:.15rem 0;color:#555}.title h2{margin:.2rem 0 .4rem}
table.report{border-collapse:collapse;margin:1rem 0;font-size:.9rem}
table.report th,table.report td{border:1px solid #ccc;padding:.3rem .6rem}
table.report thead th{background:#f0f5f9;text-align:center}
table.report td.n{text-align:right;font-variant-numeric:tabular-nums}
table.report tr.subtotal td{font-weight:bold;background:#f2f2f2}
table.report tr.total td{font-weight:bold;background:#e4ebf1}
.errors{background:#fff0f0;border:1px solid #ff6161;padding:.5rem 1rem;border-radius:3px}
.chart{position:relative;height:360px;max-width:960px}
.downloads a{margin-right:.5rem}
"""


def _build(request: Request) -> Any:
    return request.scope["hoso.admin"]


def _e(text: Any) -> str:
    return html.escape("" if text is None else str(text))


def _number(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and not v.is_integer():
        return f"{v:,.2f}".replace(",", " ")
    return f"{int(v):,}".replace(",", " ")


def chart_spec(result: ReportResult) -> dict:
    """What the chart draws: one bar group per leaf row, one series per column (the total left out when there are
    others); stacked when the series are the parts of one column group (men and women under "gender")."""
    lang = result.request.lang
    leaves = [r for r in result.rows if r.kind == "row"]
    columns = list(enumerate(result.columns))
    parts = [(i, c) for i, c in columns if c.key != "total"]
    if parts:
        columns = parts
    outer = {c.groups[0].get(lang) if c.groups else None for _, c in columns}
    stacked = len(columns) > 1 and len(outer) == 1 and None not in outer
    return {
        "title": result.report.label.get(lang),
        "labels": [" / ".join(str(x) for x in r.labels if x not in (None, "")) for r in leaves],
        "series": [{"label": c.label.get(lang), "values": [r.values[i] for r in leaves]} for i, c in columns],
        "stacked": stacked,
    }


def table_html(result: ReportResult) -> str:
    cells = header_cells(result)
    depth = max(r2 for _, _, r2, _, _ in cells) + 1
    head = []
    for level in range(depth):
        row = sorted((c1, r1, r2, c2, text) for r1, c1, r2, c2, text in cells if r1 == level)
        head.append("<tr>" + "".join(
            f'<th rowspan="{r2 - r1 + 1}" colspan="{c2 - c1 + 1}">{_e(text)}</th>' for c1, r1, r2, c2, text in row)
            + "</tr>")
    body = []
    for r in [*result.rows, result.total]:
        labels = "".join(f"<td>{_e(x)}</td>" for x in row_cells(result, r))
        values = "".join(f'<td class="n">{_number(v)}</td>' for v in r.values)
        body.append(f'<tr class="{_e(r.kind)}">{labels}{values}</tr>')
    return (f'<table class="report" id="hoso-report-table"><thead>{"".join(head)}</thead>'
            f'<tbody>{"".join(body)}</tbody></table>')


def _form(prefix: str, reports: list[ReportDef], chosen: str | None, values: dict[str, str], lang: str,
          levels: tuple[str, ...]) -> str:
    options = "".join(f'<option value="{_e(r.name)}"{" selected" if r.name == chosen else ""}>'
                      f"{_e(r.label.get(lang))}</option>" for r in reports)

    def text(name: str, label_vi: str, label_en: str, hint: str) -> str:
        label = label_en if lang == "en" else label_vi
        return (f'<label for="f-{name}">{_e(label)}</label><input id="f-{name}" name="{name}" '
                f'value="{_e(values.get(name, ""))}" placeholder="{_e(hint)}">')

    level_options = '<option value=""></option>' + "".join(
        f'<option value="{_e(v)}"{" selected" if values.get("level") == v else ""}>{_e(v)}</option>' for v in levels)
    return (f'<form method="get" action="{prefix}{PAGE}" id="hoso-report-form">'
            f'<label for="f-name">{_e(t("report_choose", lang))}</label>'
            f'<select id="f-name" name="name">{options}</select>'
            + text("period", "Kỳ báo cáo", "Period", "2025, 2025-H1, 2025-07")
            + text("unit", "Mã đơn vị", "Unit code", "")
            + text("as_of", "Số liệu tính đến", "As of", "YYYY-MM-DD HH:MM")
            + text("structure", "Cơ cấu đơn vị", "Unit structure", "recorded / YYYY-MM-DD")
            + f'<label for="f-level">{_e("Cấp tổng hợp" if lang != "en" else "Roll up to level")}</label>'
            f'<select id="f-level" name="level">{level_options}</select>'
            f'<button class="button" type="submit">{_e(t("report_run", lang))}</button></form>')


def _shell(prefix: str, title: str, side: str, main: str, scripts: str = "") -> str:
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'><meta name='viewport' "
            "content='width=device-width,initial-scale=1'><title>" + _e(title) + "</title><style>" + _STYLE
            + "</style></head><body><div class='bar'><a href='" + prefix + "/'>&larr;</a><h1>" + _e(title)
            + "</h1></div><div class='wrap'><aside class='side'>" + side + "</aside><main>" + main
            + "</main></div>" + scripts + "</body></html>")


async def _allowed(request: Request) -> tuple[AdminUser, list[ReportDef]] | Response:
    user = await _page_user(request)
    if isinstance(user, Response):
        return user
    reports = await runnable(_build(request).rt, user.ctx)
    if not reports:
        return Response(t("page_not_found", user.lang), status_code=404, media_type="text/plain")
    return user, reports


async def _run(request: Request, user: AdminUser) -> ReportResult:
    q = request.query_params
    rt = _build(request).rt
    ctx = replace(user.ctx, lang=user.lang)
    req = await checked_request(rt, ctx, q.get("name", ""), lang=user.lang, period=q.get("period"), unit=q.get("unit"),
                                as_of=q.get("as_of"), structure=q.get("structure"), level=q.get("level"))
    return await run_report(rt, ctx, req)


async def page(request: Request) -> Response:
    allowed = await _allowed(request)
    if isinstance(allowed, Response):
        return allowed
    user, reports = allowed
    lang, prefix = user.lang, _prefix(request)
    q = request.query_params
    chosen = q.get("name")
    values = {k: q.get(k) or "" for k in PARAMS}
    build = _build(request)
    levels = build.rt.config.hierarchy.levels if build.rt.config.hierarchy else ()
    side = _form(prefix, reports, chosen, values, lang, levels)
    title = t("reports", lang)
    if not chosen:
        return HTMLResponse(_shell(prefix, title, side, f"<p>{_e(t('report_choose', lang))}</p>"))
    status = 200
    try:
        result = await _run(request, user)
    except ReportError as exc:
        items = "".join(f"<li><strong>{_e(p)}</strong>: {_e(m)}</li>" for p, m in exc.problems)
        main = (f'<div class="errors" id="hoso-report-errors"><p>{_e(t("report_failed", lang))}</p>'
                f"<ul>{items}</ul></div>")
        return HTMLResponse(_shell(prefix, title, side, main), status_code=400)
    except ScopeDenied as exc:
        main = f'<div class="errors" id="hoso-report-errors"><p>{_e(t("no_access", lang))}</p><p>{_e(exc)}</p></div>'
        return HTMLResponse(_shell(prefix, title, side, main), status_code=403)
    query = {"name": chosen, **{k: v for k, v in values.items() if v}}
    lines = title_lines(result)
    main = ('<div class="title"><h2>' + _e(lines[0]) + "</h2>" + "".join(f"<p>{_e(x)}</p>" for x in lines[1:])
            + '</div><p class="downloads">' + _e(t("report_download", lang)) + ": "
            + f'<a class="button" href="{prefix}{PAGE}download?{_e(urlencode({**query, "format": "csv"}))}">CSV</a>'
            + f'<a class="button" href="{prefix}{PAGE}download?{_e(urlencode({**query, "format": "xlsx"}))}">XLSX</a>'
            + "</p>" + table_html(result)
            + f'<h3>{_e(t("report_chart", lang))}</h3><div class="chart"><canvas id="hoso-report-chart"></canvas></div>'
            + '<script type="application/json" id="hoso-report-data">'
            + dumps(chart_spec(result)).replace("<", "\\u003c") + "</script>")
    scripts = (f'<script src="{prefix}{PAGE}vendor/chart.umd.min.js"></script>'
               f'<script src="{prefix}{PAGE}reports.js"></script>')
    return HTMLResponse(_shell(prefix, f"{title}: {result.report.label.get(lang)}", side, main, scripts),
                        status_code=status)


async def download(request: Request) -> Response:
    allowed = await _allowed(request)
    if isinstance(allowed, Response):
        return allowed
    user, _reports = allowed
    fmt = request.query_params.get("format")
    if fmt not in ("csv", "xlsx"):
        return Response(t("report_bad_format", user.lang, value=fmt), status_code=400, media_type="text/plain")
    try:
        result = await _run(request, user)
    except ReportError as exc:
        return Response("\n".join(f"{p}: {m}" for p, m in exc.problems), status_code=400, media_type="text/plain")
    except ScopeDenied as exc:
        return Response(str(exc) or t("no_access", user.lang), status_code=403, media_type="text/plain")
    name = filename(result, fmt)
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if fmt == "csv":
        return Response(to_csv(result).encode("utf-8"), media_type=CSV_TYPE, headers=headers)
    return Response(xlsx_bytes(result), media_type=XLSX_TYPE, headers=headers)


def _static(path: Path, media_type: str):
    async def endpoint(request: Request) -> Response:
        return Response(path.read_bytes(), media_type=media_type, headers={"Cache-Control": "max-age=3600"})

    return endpoint


def routes() -> list[Route]:
    js = "text/javascript"
    return [
        Route(PAGE, page, methods=["GET"]),
        Route(PAGE + "download", download, methods=["GET"]),
        Route(PAGE + "reports.js", _static(STATIC / "reports.js", js), methods=["GET"]),
        Route(PAGE + "vendor/chart.umd.min.js", _static(STATIC / "vendor" / "chart.umd.min.js", js), methods=["GET"]),
    ]
