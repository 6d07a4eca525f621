"""The admin's report approval pages (``/admin/hoso/approvals/``), in the look of the report page.

* the list: the submissions of the units in the user's reach, filtered by state (draft, submitted, returned,
  approved, unlocked), report and period, newest first; a form to submit a report for a unit where the user acts
  at the first level (a centre's director);
* one submission: its parameters, state and level, each step's history (who, when in Asia/Ho_Chi_Minh as
  dd/mm/yyyy HH:MM, what, at which level, with which comment), its locks, a link to the stored snapshot, and the
  buttons of what the user may do now: approve, return for correction with a comment (the next level), unlock a
  locked period with a reason (a level above the locking one), submit again (the first level, once returned,
  drafted or unlocked);
* a snapshot: the stored numbers as submitted, its content hash checked.

Every step goes through ``hoso.reports.approval`` (the rules of the API: who acts at which level, versions,
locking, audit), so a button shown is a step allowed and a forged POST is refused with the same message, changing
nothing. POSTs carry piccolo-admin's CSRF token as a form field (double-submit cookie) and come from this site (the
admin's Origin check).
"""

from __future__ import annotations

import datetime as dt
import html
import json
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from hoso.admin.auth import AdminUser
from hoso.admin.pages import _page_user, _prefix
from hoso.admin.reports import _number, _shell
from hoso.config import ReportDef
from hoso.i18n import t
from hoso.records.context import as_date
from hoso.reports import approval
from hoso.reports.cache import scope_key
from hoso.reports.engine import run_report
from hoso.reports.model import ReportError
from hoso.reports.params import checked_request, runnable
from hoso.reports.render import moment
from hoso.reports.snapshots import SnapshotCorrupt
from hoso.scope import ScopeDenied

__all__ = ["routes", "PAGE"]

MAX_ID = 2**63 - 1  # the submission and snapshot tables' BIGINT ids

__all__ = ["routes", "PAGE"]

PAGE = "/hoso/approvals/"
SHOWN_STATES = ("draft", "submitted", "returned", "approved", "unlocked")
CSRF_FIELD = "csrftoken"  # piccolo-admin's CSRF middleware: the cookie's name, also read from a form field
LIMIT = 500  # submissions listed at most
STEPS = ("approve", "return", "unlock")
# the messages of each state, step taken (history), step's button and step done
STATE_KEYS = {"draft": "approval_state_draft", "submitted": "approval_state_submitted",
              "returned": "approval_state_returned", "approved": "approval_state_approved",
              "unlocked": "approval_state_unlocked"}
HISTORY_KEYS = {"draft": "approval_step_draft", "submit": "approval_step_submit", "approve": "approval_step_approve",
                "return": "approval_step_return", "unlock": "approval_step_unlock"}
BUTTON_KEYS = {"submit": "approval_do_submit", "approve": "approval_do_approve", "return": "approval_do_return",
               "unlock": "approval_do_unlock"}
DONE_KEYS = {"submit": "approval_done_submit", "approve": "approval_done_approve", "return": "approval_done_return",
             "unlock": "approval_done_unlock"}
FIELD_KEYS = {"comment": "approval_comment", "reason": "approval_reason"}

_STYLE = """
table.list{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
table.list th,table.list td{border:1px solid #ccc;padding:.3rem .6rem;text-align:left;vertical-align:top}
table.list th{background:#f0f5f9}
.state{display:inline-block;padding:.1rem .5rem;border-radius:3px;font-size:.8rem;background:#e4ebf1}
.state-approved{background:#d9f2d9}.state-returned{background:#ffe1e1}.state-submitted{background:#fff3cd}
.actions form{border:1px solid #ccc;border-radius:3px;padding:.6rem 1rem;margin:.6rem 0;max-width:40rem}
.actions textarea{width:100%;box-sizing:border-box;min-height:3rem}
.notice{background:#eef8ee;border:1px solid #6c6;padding:.5rem 1rem;border-radius:3px}
"""


def _e(text: Any) -> str:
    return html.escape("" if text is None else str(text))


def _t(key: str, lang: str, **values: Any) -> str:
    return _e(t(key, lang, **values))


def _when(value: Any) -> str:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return moment(value) if isinstance(value, dt.datetime) else ""


def _day(value: Any) -> str:
    return as_date(value).strftime("%d/%m/%Y") if value else ""


def _state(status: str, lang: str) -> str:
    shown = _t(STATE_KEYS[status], lang) if status in STATE_KEYS else _e(status)
    return f'<span class="state state-{_e(status)}">{shown}</span>'


def _level_label(rt: Any, cfg: approval.ApprovalsDef, level: str | None, lang: str) -> str:
    lv = next((x for x in cfg.levels if x.level == level), None)
    if lv is not None and lv.label is not None:
        return lv.label.get(lang)
    hierarchy = rt.config.hierarchy
    ut = next((u for u in (hierarchy.unit_types if hierarchy else ()) if u.level == level), None)
    return ut.label.get(lang) if ut is not None and ut.label is not None else (level or "")


def _id(request: Request, name: str) -> int:
    """A path id; one no row can have (beyond the 64-bit ids) is 0, which nothing has: a 404."""
    value = int(request.path_params[name])
    return value if 0 < value <= MAX_ID else 0


def _csrf(request: Request) -> str:
    token = request.cookies.get(CSRF_FIELD) or request.scope.get("csrftoken") or ""
    return f'<input type="hidden" name="{CSRF_FIELD}" value="{_e(token)}">'


def _page(request: Request, user: AdminUser, title: str, main: str, status: int = 200) -> HTMLResponse:
    prefix, lang = _prefix(request), user.lang
    side = (f'<p><a href="{prefix}{PAGE}">{_t("approvals", lang)}</a></p>'
            f'<p><a href="{prefix}/hoso/reports/">{_t("reports", lang)}</a></p>')
    body = _shell(prefix, title, side, f"<style>{_STYLE}</style>{main}")
    return HTMLResponse(body, status_code=status)


def _error(message: str) -> str:
    return f'<div class="errors" id="hoso-approval-error" role="alert"><p>{_e(message)}</p></div>'


@dataclass
class _Visit:
    """Who asks, on which deployment: the admin user, the approval levels, the reports they may run."""

    user: AdminUser
    cfg: approval.ApprovalsDef
    reports: list[ReportDef]
    rt: Any

    @property
    def lang(self) -> str:
        return self.user.lang


async def _allowed(request: Request) -> _Visit | Response:
    """The visit, when approvals are configured and the user may run or approve a report; 404 otherwise."""
    user = await _page_user(request)
    if isinstance(user, Response):
        return user
    rt = request.scope["hoso.admin"].rt
    try:
        cfg = approval.approvals_of(rt)
    except approval.ApprovalError:
        return Response(t("page_not_found", user.lang), status_code=404, media_type="text/plain")
    reports = await runnable(rt, user.ctx)
    if not reports and not user.superuser:
        return Response(t("page_not_found", user.lang), status_code=404, media_type="text/plain")
    return _Visit(user, cfg, reports, rt)


async def _submittable_units(rt: Any, user: AdminUser, cfg: approval.ApprovalsDef,
                             reports: list[ReportDef]) -> list[dict]:
    """The units of the first level for which the user may submit a report of some entity."""
    first_types = [ut.name for ut in (rt.config.hierarchy.unit_types if rt.config.hierarchy else ())
                   if ut.level == cfg.levels[0].level]
    if not first_types or not reports:
        return []
    marks = ", ".join("{}" for _ in first_types)
    if user.superuser:
        rows = await rt.db.fetch(f"SELECT id, code, name_vi, name_en FROM hoso_unit WHERE type IN ({marks}) "
                                 "AND valid_to IS NULL ORDER BY code", *first_types)
        return [dict(u) for u in rows]
    # acting at the first level: a role granting its action, held at a unit of that level which is the unit itself
    # or above it (as ``approval.acting_levels`` checks), read in one statement for every unit
    action = cfg.levels[0].action
    roles = {r for entity in {x.entity for x in reports} for rs in rt.scope.roles_for(entity, action).values()
             for r in rs}
    held = sorted({u for r, u in user.holdings if r in roles and u is not None})
    if not held:
        return []
    rows = await rt.db.fetch(
        f"SELECT DISTINCT u.id AS id, u.code AS code, u.name_vi AS name_vi, u.name_en AS name_en FROM hoso_unit u "
        f"JOIN hoso_unit_closure c ON c.descendant_id = u.id JOIN hoso_unit h ON h.id = c.ancestor_id "
        f"WHERE u.type IN ({marks}) AND u.valid_to IS NULL AND h.type IN ({marks}) "
        f"AND h.id IN ({', '.join('{}' for _ in held)}) ORDER BY u.code", *first_types, *first_types, *held)
    return [dict(u) for u in rows]


def _unit_name(row: dict, lang: str) -> str:
    """"CODE (name)" of a unit row (``code``, ``name_vi``, ``name_en``) or a submission (``unit``, ``unit_name_*``)."""
    code = row.get("code") or row.get("unit")
    vi, en = row.get("name_vi") or row.get("unit_name_vi"), row.get("name_en") or row.get("unit_name_en")
    name = en if lang == "en" and en else vi
    return f"{code} ({name})" if name else str(code)


def _submit_form(request: Request, user: AdminUser, reports: list[ReportDef], units: list[dict],
                 values: dict[str, str]) -> str:
    lang, prefix = user.lang, _prefix(request)
    report_options = "".join(f'<option value="{_e(r.name)}"{" selected" if values.get("report") == r.name else ""}>'
                             f"{_e(r.label.get(lang))}</option>" for r in reports)
    unit_options = "".join(f'<option value="{_e(u["code"])}"{" selected" if values.get("unit") == u["code"] else ""}>'
                           f"{_e(_unit_name(u, lang))}</option>" for u in units)
    return (f'<form method="post" action="{prefix}{PAGE}submit" id="hoso-approval-submit">{_csrf(request)}'
            f'<h3>{_t("approval_submit_title", lang)}</h3>'
            f'<label for="s-report">{_t("report_choose", lang)}</label><select id="s-report" name="report">'
            f"{report_options}</select>"
            f'<label for="s-unit">{_t("approval_unit", lang)}</label><select id="s-unit" name="unit">'
            f"{unit_options}</select>"
            f'<label for="s-period">{_t("approval_period", lang)}</label>'
            f'<input id="s-period" name="period" value="{_e(values.get("period", ""))}" placeholder="2025-H1">'
            f'<label for="s-comment">{_t("approval_comment", lang)}</label>'
            f'<input id="s-comment" name="comment" value="{_e(values.get("comment", ""))}">'
            f'<label><input type="checkbox" name="draft" value="1" style="width:auto"> '
            f'{_t("approval_as_draft", lang)}</label>'
            f'<button class="button" type="submit" id="hoso-approval-submit-button">{_t("approval_do_submit", lang)}'
            "</button></form>")


async def list_page(request: Request, *, error: str = "", status: int = 200,
                    values: dict[str, str] | None = None) -> Response:
    v = await _allowed(request)
    if isinstance(v, Response):
        return v
    user, cfg, reports, rt, lang, prefix = v.user, v.cfg, v.reports, v.rt, v.lang, _prefix(request)
    q = request.query_params
    chosen = {k: (q.get(k) or "").strip() for k in ("status", "report", "period")}
    problems = ""
    try:
        rows = await approval.list_submissions(rt, user.ctx, report=chosen["report"] or None,
                                               period=chosen["period"] or None, status=chosen["status"] or None)
    except approval.ApprovalError as exc:
        rows, problems, status = [], _error(exc.message(lang)), 400
    labels = {r.name: r.label.get(lang) for r in rt.config.reports}
    state_options = f'<option value="">{_t("approval_all_states", lang)}</option>' + "".join(
        f'<option value="{s}"{" selected" if chosen["status"] == s else ""}>{_t(STATE_KEYS[s], lang)}</option>'
        for s in SHOWN_STATES)
    report_options = '<option value=""></option>' + "".join(
        f'<option value="{_e(r.name)}"{" selected" if chosen["report"] == r.name else ""}>{_e(labels[r.name])}</option>'
        for r in rt.config.reports)
    filters = (f'<form method="get" action="{prefix}{PAGE}" id="hoso-approval-filter">'
               f'<label for="f-status">{_t("approval_state", lang)}</label>'
               f'<select id="f-status" name="status">{state_options}</select>'
               f'<label for="f-report">{_t("report_choose", lang)}</label>'
               f'<select id="f-report" name="report">{report_options}</select>'
               f'<label for="f-period">{_t("approval_period", lang)}</label>'
               f'<input id="f-period" name="period" value="{_e(chosen["period"])}" placeholder="2025-H1">'
               f'<button class="button" type="submit">{_t("approval_filter", lang)}</button></form>')
    body = []
    for r in rows[:LIMIT]:
        body.append(
            f'<tr data-id="{r["id"]}"><td><a href="{prefix}{PAGE}{r["id"]}">#{r["id"]}</a></td>'
            f"<td>{_e(labels.get(r['report'], r['report']))}</td><td>{_e(_unit_name(r, lang))}</td>"
            f"<td>{_e(r['period'])} ({_day(r['period_start'])} - {_day(r['period_end'])})</td>"
            f"<td>{_state(r['status'], lang)}</td><td>{_e(_level_label(rt, cfg, r['level'], lang))}</td>"
            f"<td>{_e(_when(r['updated_at']))}</td></tr>")
    table = (f'<table class="list" id="hoso-approval-list"><thead><tr><th>#</th><th>{_t("approval_report", lang)}</th>'
             f'<th>{_t("approval_unit", lang)}</th><th>{_t("approval_period", lang)}</th>'
             f'<th>{_t("approval_state", lang)}</th><th>{_t("approval_level", lang)}</th>'
             f'<th>{_t("approval_updated", lang)}</th></tr></thead><tbody>{"".join(body)}</tbody></table>'
             if rows else f'<p id="hoso-approval-empty">{_t("approval_none", lang)}</p>')
    units = await _submittable_units(rt, user, cfg, reports)
    submit = _submit_form(request, user, reports, units, values or {}) if units else ""
    main = (f'{_error(error) if error else ""}{problems}<div class="actions">{filters}</div>'
            f'{table}<div class="actions">{submit}</div>')
    return _page(request, user, t("approvals", lang), main, status)


def _action_form(request: Request, sub: dict, step: str, lang: str, field: str, required: bool) -> str:
    prefix = _prefix(request)
    need = " required" if required else ""
    return (f'<form method="post" action="{prefix}{PAGE}{sub["id"]}/{step}" id="hoso-approval-{step}">'
            f'{_csrf(request)}<input type="hidden" name="version" value="{sub["version"]}">'
            f'<label for="a-{step}">{_t(FIELD_KEYS[field], lang)}</label>'
            f'<textarea id="a-{step}" name="{field}"{need}></textarea>'
            f'<button class="button" type="submit">{_t(BUTTON_KEYS[step], lang)}</button></form>')


async def _may(rt: Any, user: AdminUser, cfg: approval.ApprovalsDef, sub: dict) -> set[str]:
    """The steps the user may take on ``sub`` now: the checks of ``hoso.reports.approval``, asked beforehand."""
    mine = await approval.acting_levels(rt, user.ctx, cfg, sub["entity"], int(sub["unit_id"]))
    level = next((i for i, lv in enumerate(cfg.levels) if lv.level == sub["level"]), 0)
    out: set[str] = set()
    if sub["status"] in ("submitted", "approved") and level < len(cfg.levels) - 1 and level + 1 in mine:
        out |= {"approve", "return"}
    if sub["locked"] and any(i >= min(cfg.lock_at + 1, len(cfg.levels) - 1) for i in mine):
        out.add("unlock")
    if sub["status"] in ("draft", "returned", "unlocked") and 0 in mine:
        out.add("submit")
    return out


async def detail(request: Request, *, error: str = "", status: int = 200) -> Response:
    v = await _allowed(request)
    if isinstance(v, Response):
        return v
    user, cfg, rt, lang, prefix = v.user, v.cfg, v.rt, v.lang, _prefix(request)
    done = request.query_params.get("done")
    notice = t(DONE_KEYS[done], lang) if not error and done in DONE_KEYS else ""
    try:
        sub = await approval.get_submission(rt, user.ctx, _id(request, "submission_id"))
    except approval.ApprovalError as exc:
        return _page(request, user, t("approvals", lang), _error(exc.message(lang)), exc.status)
    labels = {r.name: r.label.get(lang) for r in rt.config.reports}
    params = json.loads((await rt.db.fetchval("SELECT request_key FROM hoso_report_submission WHERE id = {}",
                                              sub["id"])) or "{}")
    facts = [(t("approval_report", lang), labels.get(sub["report"], sub["report"])),
             (t("approval_unit", lang), _unit_name(sub, lang)),
             (t("approval_period", lang), f"{sub['period']} ({_day(sub['period_start'])} - {_day(sub['period_end'])})"),
             (t("approval_level", lang), _level_label(rt, cfg, sub["level"], lang)),
             (t("approval_locked", lang), t("report_yes" if sub["locked"] else "report_no", lang))]
    info = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in facts)
    info += (f"<tr><th>{_t('approval_state', lang)}</th><td id='hoso-approval-state'>"
             f"{_state(sub['status'], lang)}</td></tr>")
    if sub["snapshot_id"]:
        info += (f"<tr><th>{_t('approval_snapshot', lang)}</th><td><a id='hoso-approval-snapshot' "
                 f"href='{prefix}{PAGE}snapshot/{sub['snapshot_id']}'>#{sub['snapshot_id']}</a></td></tr>")
    def step_row(s: dict) -> str:
        what = _t(HISTORY_KEYS[s["action"]], lang) if s["action"] in HISTORY_KEYS else _e(s["action"])
        return (f"<tr><td>{_e(_when(s['at']))}</td><td>{_e(s['actor'])}</td><td>{what}</td>"
                f"<td>{_e(_level_label(rt, cfg, s['level'], lang))}</td><td>{_e(s['comment'])}</td></tr>")

    steps = "".join(step_row(s) for s in sub["steps"])
    history = (f'<h3>{_t("approval_history", lang)}</h3><table class="list" id="hoso-approval-steps"><thead><tr>'
               f'<th>{_t("when", lang)}</th><th>{_t("who", lang)}</th><th>{_t("what", lang)}</th>'
               f'<th>{_t("approval_level", lang)}</th><th>{_t("approval_comment", lang)}</th></tr></thead>'
               f"<tbody>{steps}</tbody></table>")
    may = await _may(rt, user, cfg, sub)
    forms = []
    if "approve" in may:
        forms.append(_action_form(request, sub, "approve", lang, "comment", False))
    if "return" in may:
        forms.append(_action_form(request, sub, "return", lang, "comment", True))
    if "unlock" in may:
        forms.append(_action_form(request, sub, "unlock", lang, "reason", True))
    if "submit" in may:
        forms.append(f'<form method="post" action="{prefix}{PAGE}submit" id="hoso-approval-resubmit">'
                     f'{_csrf(request)}<input type="hidden" name="report" value="{_e(sub["report"])}">'
                     f'<input type="hidden" name="unit" value="{_e(sub["unit"])}">'
                     f'<input type="hidden" name="period" value="{_e(sub["period"])}">'
                     f'<input type="hidden" name="as_of" value="{_e(params.get("as_of") or "")}">'
                     f'<input type="hidden" name="structure" value="{_e(params.get("structure") or "recorded")}">'
                     f'<label for="a-resubmit">{_t("approval_comment", lang)}</label>'
                     f'<textarea id="a-resubmit" name="comment"></textarea>'
                     f'<button class="button" type="submit">{_t("approval_do_submit", lang)}</button></form>')
    main = (f'{_error(error) if error else ""}'
            f'{f"<p class=notice id=hoso-approval-notice>{_e(notice)}</p>" if notice else ""}'
            f'<table class="list" id="hoso-approval-info">{info}</table>{history}'
            f'<div class="actions" id="hoso-approval-actions">{"".join(forms)}</div>')
    return _page(request, user, f"{t('approvals', lang)} #{sub['id']}", main, status)


async def _form(request: Request) -> dict[str, str]:
    form = request.scope.get("form")  # read by the CSRF middleware already
    if form is None:
        form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _version(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


async def act(request: Request) -> Response:
    v = await _allowed(request)
    if isinstance(v, Response):
        return v
    user, rt = v.user, v.rt
    step = request.path_params["step"]
    sid = _id(request, "submission_id")
    if step not in STEPS:
        return Response(t("page_not_found", user.lang), status_code=404, media_type="text/plain")
    data = await _form(request)
    ctx = replace(user.ctx, lang=user.lang)
    version = _version(data.get("version"))
    try:
        if step == "approve":
            await approval.approve(rt, ctx, sid, comment=data.get("comment", ""), version=version)
        elif step == "return":
            await approval.return_for_correction(rt, ctx, sid, comment=data.get("comment", ""), version=version)
        else:
            await approval.unlock(rt, ctx, sid, reason=data.get("reason", ""), version=version)
    except approval.ApprovalError as exc:
        return await detail(request, error=exc.message(user.lang), status=exc.status)
    return RedirectResponse(f"{_prefix(request)}{PAGE}{sid}?{urlencode({'done': step})}", status_code=303)


async def submit(request: Request) -> Response:
    v = await _allowed(request)
    if isinstance(v, Response):
        return v
    user, rt = v.user, v.rt
    data = await _form(request)
    ctx = replace(user.ctx, lang=user.lang)
    lang = user.lang
    name = data.get("report", "")
    try:
        rdef = next((r for r in rt.config.reports if r.name == name), None)
        if rdef is None:
            raise approval.ApprovalError(422, "report_unknown", "report", name=name)
        await approval.may_submit(rt, ctx, rdef.entity, data.get("unit") or None)
        req = await checked_request(rt, ctx, name, lang=lang, period=data.get("period") or None,
                                    unit=data.get("unit") or None, as_of=data.get("as_of") or None,
                                    structure=data.get("structure") or None)
        result = await run_report(rt, ctx, req)
        sub = await approval.submit(rt, ctx, result, scope_key=await scope_key(rt, ctx, rdef.entity),
                                    comment=data.get("comment", ""), draft=bool(data.get("draft")))
    except approval.ApprovalError as exc:
        return await list_page(request, error=exc.message(lang), status=exc.status, values=data)
    except ReportError as exc:
        return await list_page(request, error="; ".join(m for _p, m in exc.problems), status=422, values=data)
    except ScopeDenied as exc:
        return await list_page(request, error=str(exc) or t("no_access", lang), status=403, values=data)
    return RedirectResponse(f"{_prefix(request)}{PAGE}{sub['id']}?done=submit", status_code=303)


def _snapshot_table(result: dict) -> str:
    columns = result.get("columns", [])
    dims = result.get("dimensions", [])
    head = "".join(f"<th>{_e(d['label'])}</th>" for d in dims) + "".join(
        f"<th>{_e(' / '.join([*c.get('groups', []), c['label']]))}</th>" for c in columns)
    body = []
    for r in [*result.get("rows", []), result.get("total", {})]:
        if not r:
            continue
        labels = list(r.get("labels", []))[:len(dims)] + [""] * max(0, len(dims) - len(r.get("labels", [])))
        cells = "".join(f"<td>{_e(x)}</td>" for x in labels) + "".join(
            f'<td class="n">{_number(v)}</td>' for v in r.get("values", []))
        body.append(f'<tr class="{_e(r.get("kind"))}">{cells}</tr>')
    return (f'<table class="report" id="hoso-snapshot-table"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table>')


async def snapshot(request: Request) -> Response:
    v = await _allowed(request)
    if isinstance(v, Response):
        return v
    user, rt, lang = v.user, v.rt, v.lang
    try:
        snap = await approval.read_snapshot(rt, user.ctx, _id(request, "snapshot_id"))
    except approval.ApprovalError as exc:
        return _page(request, user, t("approval_snapshot", lang), _error(exc.message(lang)), exc.status)
    except SnapshotCorrupt as exc:
        return _page(request, user, t("approval_snapshot", lang), _error(t("snapshot_corrupt", lang,
                                                                            id=exc.snapshot_id)), 500)
    result = snap["result"]
    period = (result.get("period") or {}).get("label") or ""
    main = (f'<div class="title"><h2>{_e(result.get("label"))}</h2><p>{_e(period)}</p>'
            f'<p>{_t("approval_snapshot_made", lang, who=snap["created_by_name"], at=_when(snap["created_at"]))}</p>'
            f'<p>{_t("approval_content_hash", lang)}: <code id="hoso-snapshot-hash">{_e(snap["content_hash"])}</code>'
            f"</p></div>{_snapshot_table(result)}")
    return _page(request, user, f"{t('approval_snapshot', lang)} #{snap['id']}", main)


async def detail_page(request: Request) -> Response:
    return await detail(request)


def routes() -> list[Route]:
    return [
        Route(PAGE, list_page, methods=["GET"]),
        Route(PAGE + "submit", submit, methods=["POST"]),
        Route(PAGE + "snapshot/{snapshot_id:int}", snapshot, methods=["GET"]),
        Route(PAGE + "{submission_id:int}", detail_page, methods=["GET"]),
        Route(PAGE + "{submission_id:int}/{step:str}", act, methods=["POST"]),
    ]
