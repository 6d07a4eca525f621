"""The admin's page of background jobs (``/admin/hoso/jobs/``): the jobs by state (pending, running, failed,
dead, done) with their attempts and last error, and a button sending a dead job back to the queue.

Only a superuser or a user whose role grants the ``manage_jobs`` action (on any entity) sees the page; others get
404. Sending a job back is a POST checked like every admin write (same site) and is audited.
"""

from __future__ import annotations

import datetime as dt
import html
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from hoso.admin.auth import AdminUser
from hoso.admin.pages import _page, _page_user, _prefix
from hoso.audit import AuditEvent, write_audit
from hoso.i18n import t
from hoso.jobs import STATES, jobs, retry_dead
from hoso.records.context import LOCAL_ZONE

__all__ = ["routes", "PAGE", "may_manage_jobs"]

PAGE = "/hoso/jobs/"
SHOWN = 200
STATE_LABELS = {"pending": "job_state_pending", "running": "job_state_running", "failed": "job_state_failed",
                "dead": "job_state_dead", "done": "job_state_done"}


def _build(request: Request) -> Any:
    return request.scope["hoso.admin"]


def may_manage_jobs(user: AdminUser) -> bool:
    """A superuser, or a role granting ``manage_jobs`` on some entity."""
    return user.superuser or any(user.may("manage_jobs", e.name) for e in user.build.rt.config.entities)


async def _allowed(request: Request) -> AdminUser | Response:
    user = await _page_user(request)
    if isinstance(user, Response):
        return user
    if not may_manage_jobs(user):
        return Response(t("page_not_found", user.lang), status_code=404, media_type="text/plain")
    return user


def _when(ms: int | None) -> str:
    if not ms:
        return ""
    return dt.datetime.fromtimestamp(ms / 1000, LOCAL_ZONE).strftime("%d/%m/%Y %H:%M:%S")


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


async def page(request: Request) -> Response:
    user = await _allowed(request)
    if isinstance(user, Response):
        return user
    lang, prefix = user.lang, _prefix(request)
    state = request.query_params.get("state") or None
    if state is not None and state not in STATES:
        return Response(t("jobs_bad_state", lang, value=state, states=", ".join(STATES)), status_code=400,
                        media_type="text/plain; charset=utf-8")
    rows = await jobs(_build(request).rt.db, state, limit=SHOWN)
    tabs = " | ".join(
        f'<a href="{prefix}{PAGE}?{urlencode({"state": s})}">{_e(t(STATE_LABELS[s], lang))}</a>' for s in STATES)
    head = "".join(f"<th>{_e(t(k, lang))}</th>" for k in
                   ("job_id", "job_kind", "job_state", "job_attempts", "job_run_at", "job_error", "job_action"))
    # The admin's double-submit CSRF check reads the token from the form as from the header.
    token = _e(request.cookies.get("csrftoken", ""))
    body = []
    for r in rows:
        action = ""
        if r["state"] == "dead":
            action = (f'<form method="post" action="{prefix}{PAGE}{int(r["id"])}/retry">'
                      f'<input type="hidden" name="csrftoken" value="{token}">'
                      f'<button type="submit">{_e(t("job_retry", lang))}</button></form>')
        body.append(f'<tr data-state="{_e(r["state"])}"><td>{int(r["id"])}</td><td>{_e(r["kind"])}</td>'
                    f'<td>{_e(t(STATE_LABELS[r["state"]], lang))}</td><td>{int(r["attempts"])}</td>'
                    f'<td>{_e(_when(r["run_at"]))}</td><td><code>{_e(r["last_error"])}</code></td><td>{action}</td>'
                    "</tr>")
    table = (f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>" if body
             else f"<p>{_e(t('jobs_none', lang))}</p>")
    return HTMLResponse(_page(t("jobs_page", lang), f"<p>{tabs}</p>{table}"))


async def retry(request: Request) -> Response:
    user = await _allowed(request)
    if isinstance(user, Response):
        return user
    rt = _build(request).rt
    job_id = request.path_params["job_id"]
    async with rt.db.transaction():  # the job goes back with its audit entry, or neither
        if not await retry_dead(rt.db, job_id):
            return Response(t("job_not_dead", user.lang, id=job_id), status_code=409,
                            media_type="text/plain; charset=utf-8")
        await write_audit(rt.pm, rt.db, AuditEvent("job_retry", "hoso_job", job_id, user.current.id,
                                                   user.current.username, "admin", {}))
    return RedirectResponse(f"{_prefix(request)}{PAGE}?{urlencode({'state': 'pending'})}", status_code=303)


def routes() -> list[Route]:
    return [Route(PAGE, page, methods=["GET"]), Route(PAGE + "{job_id:int}/retry", retry, methods=["POST"])]
