"""The home page of each user (``/admin/hoso/home/``, also drawn inside the admin's own home view by admin.js).

What a user works on, from what their roles let them do, never from role names:

* **my work**: records that name the user, i.e. refer to a record whose account field is the user (a performer's
  assigned cases), with their state;
* **deadlines**: records past a workflow deadline (the record service's ``overdue``) and those due within
  ``HOSO_NOTIFY_DEADLINE_DAYS`` days;
* **new requests** (users who may take a step from a workflow's first state: accept, refuse...): the records in
  that state, and **by state**: how many records are in each state of the workflow;
* **reports**: the reports the user may run, linked to the report page;
* **notifications** (``hoso.plugins.notifications``): unread first, a record the user cannot read left out.

Every list and number is read through the record service with the user's context (the same SQL scope as the
API); links go to the record page (``/admin/hoso/record/<entity>/<id>/``) and to filtered lists
(``#/<table>?<state field>=<state>``). ``/admin/hoso/home/data`` gives the same as JSON; ``POST
/admin/hoso/home/read`` marks the user's notifications read.
"""

from __future__ import annotations

import datetime as dt
import html
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from hoso.admin.auth import AdminUser
from hoso.admin.pages import _page_user, _prefix, count_text
from hoso.db import quote
from hoso.i18n import t
from hoso.plugins import notifications
from hoso.records.context import as_date
from hoso.records.errors import RecordError
from hoso.reports.params import runnable

__all__ = ["routes", "home_data", "PAGE"]

PAGE = "/hoso/home/"
LIMIT = 20  # rows per list on the home page
# Overdue records are counted up to this many, then said as "more than" (a national user's count read every
# overdue record of the country at each visit: 300,000 rows at 1,000,000 cases).
OVERDUE_COUNTED = 1000


def _e(text: Any) -> str:
    return html.escape("" if text is None else str(text))


def _day(value: Any) -> str:
    if value in (None, ""):
        return ""
    day = as_date(value) if not isinstance(value, dt.datetime) else value.date()
    return day.strftime("%d/%m/%Y")


def record_url(prefix: str, entity: str, record_id: int) -> str:
    return f"{prefix}/hoso/record/{entity}/{int(record_id)}/"


def _title(entity: Any, record: dict) -> str:
    parts = []
    code = record.get(entity.naming.field) if entity.naming else None
    if code:
        parts.append(str(code))
    if entity.title_field and entity.title_field != (entity.naming.field if entity.naming else None):
        value = record.get(entity.title_field)
        if value not in (None, ""):
            parts.append(str(value))
    return " · ".join(parts) or f"#{record['id']}"


def _state_label(rt: Any, entity: Any, record: dict, lang: str) -> str:
    for wf in rt.config.workflows_for(entity.name):
        state = record.get(wf.state_field)
        if state in (None, ""):
            continue
        fd = entity.field(wf.state_field) if entity.has_field(wf.state_field) else None
        if fd is not None and fd.list:
            for o in rt.config.choice_list(fd.list).options:
                if o.value == state:
                    return o.label.get(lang)
        return str(state)
    return ""


def _item(rt: Any, entity: Any, record: dict, lang: str, **extra: Any) -> dict:
    return {"entity": entity.name, "id": int(record["id"]), "title": _title(entity, record),
            "state": _state_label(rt, entity, record, lang), **extra}


async def _mine(rt: Any, user: AdminUser, entity: Any) -> tuple[list[dict], int]:
    """Records of ``entity`` that refer to a record whose account field is the user (read with the user's scope)."""
    if user.ctx.user_id is None or not user.may("read", entity.name):
        return [], 0
    hidden = user.hidden(entity.name)
    rows: list[dict] = []
    total = 0
    for f in entity.column_fields:
        if f.traits.refers_to != "entity" or not f.entity or f.name in hidden or not rt.config.has_entity(f.entity):
            continue
        target = rt.config.entity(f.entity)
        accounts = [tf for tf in target.column_fields if tf.traits.refers_to == "user"]
        ids: list[int] = []
        for tf in accounts:  # the user's own linked records: who they are, not what they may read
            found = await rt.db.fetch(f"SELECT id FROM {quote(target.table)} WHERE {quote(tf.name)} = {{}} "
                                      "AND sys_deleted_at IS NULL", user.ctx.user_id)
            ids += [int(r["id"]) for r in found]
        if not ids:
            continue
        got, n = await rt.records().list(entity.name, user.ctx, filters={f.name: {"in": ids}}, page_size=LIMIT)
        rows += got
        total += n
    return rows, total


async def _deadlines(rt: Any, user: AdminUser, entity: Any, today: dt.date) -> tuple[list[dict], list[dict], int]:
    """(overdue rows, rows due within the coming days, how many are overdue)."""
    service = rt.records()
    late, n_late = await service.overdue(entity.name, user.ctx, on=today, page_size=LIMIT, count=OVERDUE_COUNTED)
    ahead = notifications.deadline_days()
    # overdue in a few days and not today: one read of the few falling due (it read up to 1,000 overdue rows
    # twice, and with more than 1,000 overdue showed some of them as due soon)
    soon, _ = await service.overdue(entity.name, user.ctx, on=today + dt.timedelta(days=ahead + 1),
                                    not_overdue_on=today, page_size=LIMIT, count=False)
    return late, soon, n_late or 0


async def home_data(rt: Any, user: AdminUser, prefix: str = "") -> dict:
    """Everything the home page shows to ``user``, read with the user's record context."""
    lang = user.lang
    ctx = user.ctx
    today = ctx.today
    out: dict[str, Any] = {"mine": [], "mine_total": 0, "overdue": [], "overdue_total": 0, "overdue_exact": True,
                           "due_soon": [],
                           "new": [], "by_state": [], "reports": [], "notifications": [], "unread": 0}
    service = rt.records()
    for entity in rt.config.entities:
        if not user.may("read", entity.name):
            continue
        rows, n = await _mine(rt, user, entity)
        out["mine"] += [_item(rt, entity, r, lang, url=record_url(prefix, entity.name, r["id"])) for r in rows]
        out["mine_total"] += n
        workflows = list(rt.config.workflows_for(entity.name))
        if any(wf.deadlines for wf in workflows):
            late, soon, n_late = await _deadlines(rt, user, entity, today)
            for key, got in (("overdue", late), ("due_soon", soon)):
                for r in got:
                    d = r.get("sys_deadline") or {}
                    label: Any = d.get("label")
                    out[key].append(_item(rt, entity, r, lang, url=record_url(prefix, entity.name, r["id"]),
                                          due_on=_day(d.get("due_on")), days_overdue=d.get("days_overdue"),
                                          deadline=label.get(lang) if hasattr(label, "get") else (label or "")))
            out["overdue_total"] += n_late
            out["overdue_exact"] = out["overdue_exact"] and n_late <= OVERDUE_COUNTED
        hidden = user.hidden(entity.name)
        for wf in workflows:
            if wf.state_field in hidden:
                continue
            first = wf.initial
            if not any(first in tr.from_states and user.may(f"transition:{tr.name}", entity.name)
                       for tr in wf.transitions):
                continue
            table = entity.name
            rows, n_new = await service.list(entity.name, ctx, filters={wf.state_field: first}, sort="id",
                                             page_size=LIMIT)
            out["new"] += [_item(rt, entity, r, lang, url=record_url(prefix, entity.name, r["id"])) for r in rows]
            fd = entity.field(wf.state_field)
            labels = ({o.value: o.label.get(lang) for o in rt.config.choice_list(fd.list).options} if fd.list
                      else {})
            states = []
            for state in wf.states:
                _rows, n = await service.list(entity.name, ctx, filters={wf.state_field: state}, page_size=1)
                states.append({"state": state, "label": labels.get(state, state), "count": n,
                               "url": f"{prefix}/#/{table}?{wf.state_field}={state}"})
            out["by_state"].append({"entity": entity.name, "label": entity.label.get(lang), "new_total": n_new,
                                    "states": states})
    for report in await runnable(rt, ctx):
        out["reports"].append({"name": report.name, "label": report.label.get(lang),
                               "url": f"{prefix}/hoso/reports/?name={report.name}"})
    shown = await notifications.visible(rt, ctx)
    for note in shown:
        entity = rt.config.entity(note["entity"])
        out["notifications"].append({
            "id": int(note["id"]), "kind": note["kind"], "read": note["read_at"] is not None,
            "text": _notification_text(rt, entity, note, lang),
            "url": record_url(prefix, entity.name, note["record_id"])})
    out["unread"] = sum(1 for note in shown if note["read_at"] is None)
    return out


def _notification_text(rt: Any, entity: Any, n: dict, lang: str) -> str:
    title = _title(entity, n["record"])
    if n["kind"] == "deadline":
        return t("home_notify_deadline", lang, record=title, due=_day(n["due_on"]))
    return t("home_notify_assigned", lang, record=title, entity=entity.label.get(lang))


def _list(items: list[dict], empty: str, extra: Any = None) -> str:
    if not items:
        return f"<p class='hoso-empty'>{_e(empty)}</p>"
    lis = []
    for it in items:
        more = extra(it) if extra else ""
        state = f" <span class='hoso-state'>{_e(it['state'])}</span>" if it.get("state") else ""
        lis.append(f"<li><a class='hoso-record' data-id='{it['id']}' data-entity='{_e(it['entity'])}' "
                   f"href='{_e(it['url'])}'>{_e(it['title'])}</a>{state}{more}</li>")
    return "<ul>" + "".join(lis) + "</ul>"


def render(data: dict, lang: str, prefix: str, csrf: str = "") -> str:
    """The home page's body (an HTML fragment, also drawn inside the admin's home view)."""
    out = ["<div class='hoso-home'>"]
    bell = (f"<a class='hoso-bell' href='#hoso-notifications'>🔔 <span class='hoso-unread'>{data['unread']}</span>"
            f"</a>")
    out.append(f"<div class='hoso-home-head'>{bell}</div>")
    if data["notifications"]:
        items = "".join(
            f"<li class='{'read' if n['read'] else 'unread'}'><a href='{_e(n['url'])}'>{_e(n['text'])}</a></li>"
            for n in data["notifications"])
        button = (f"<form method='post' action='{prefix}/hoso/home/read' class='hoso-read'>{csrf}"
                  f"<button type='submit'>{_e(t('home_mark_read', lang))}</button></form>" if data["unread"] else "")
        out.append(f"<section id='hoso-notifications'><h2>{_e(t('home_notifications', lang))}</h2>"
                   f"<ul>{items}</ul>{button}</section>")
    if data["mine"] or data["mine_total"]:
        out.append(f"<section id='hoso-mine'><h2>{_e(t('home_mine', lang, n=data['mine_total']))}</h2>"
                   + _list(data["mine"], t("home_none", lang)) + "</section>")
    if data["overdue"] or data["due_soon"]:
        def due(it: dict) -> str:
            return f" — {_e(it['deadline'])}: {_e(it['due_on'])}"
        late = data["overdue_total"] if data.get("overdue_exact", True) else \
            t("admin_count_more", lang, count=count_text(OVERDUE_COUNTED, lang))
        out.append(f"<section id='hoso-deadlines'><h2>{_e(t('home_overdue', lang, n=late))}</h2>"
                   + _list(data["overdue"], t("home_none", lang), due)
                   + f"<h3>{_e(t('home_due_soon', lang))}</h3>" + _list(data["due_soon"], t("home_none", lang), due)
                   + "</section>")
    for group in data["by_state"]:
        out.append(f"<section class='hoso-new' data-entity='{_e(group['entity'])}'><h2>"
                   f"{_e(t('home_new', lang, n=group['new_total'], entity=group['label']))}</h2>"
                   + _list([i for i in data["new"] if i["entity"] == group["entity"]], t("home_none", lang))
                   + "</section>")
        cells = "".join(f"<tr><td><a href='{_e(s['url'])}'>{_e(s['label'])}</a></td><td class='n'>{s['count']}</td>"
                        f"</tr>" for s in group["states"] if s["count"])
        out.append(f"<section class='hoso-by-state' data-entity='{_e(group['entity'])}'><h2>"
                   f"{_e(t('home_by_state', lang, entity=group['label']))}</h2>"
                   + (f"<table>{cells}</table>" if cells else f"<p>{_e(t('home_none', lang))}</p>") + "</section>")
    if data["reports"]:
        links = "".join(f"<li><a href='{_e(r['url'])}'>{_e(r['label'])}</a></li>" for r in data["reports"])
        out.append(f"<section id='hoso-reports'><h2>{_e(t('reports', lang))}</h2><ul>{links}</ul></section>")
    if len(out) == 2:
        out.append(f"<p>{_e(t('home_nothing', lang))}</p>")
    out.append("</div>")
    return "".join(out)


_STYLE = ("<style>.hoso-home{padding:0 1rem}.hoso-home section{margin:1rem 0}.hoso-home h2{font-size:1.1rem}"
          ".hoso-home ul{margin:.3rem 0;padding-left:1.2rem}.hoso-home li.unread{font-weight:bold}"
          ".hoso-home table{border-collapse:collapse}.hoso-home td{border:1px solid #ccc;padding:.2rem .6rem}"
          ".hoso-home td.n{text-align:right}.hoso-state{color:#777;font-size:.9em;margin-left:.4em}"
          ".hoso-bell{text-decoration:none;float:right}.hoso-unread{background:#d33;color:#fff;border-radius:1em;"
          "padding:0 .45em;font-size:.85em}</style>")


async def page(request: Request) -> Response:
    user = await _page_user(request)
    if isinstance(user, Response):
        return user
    prefix = _prefix(request)
    try:
        data = await home_data(request.scope["hoso.admin"].rt, user, prefix)
    except RecordError as exc:
        return HTMLResponse(f"<p>{_e(str(exc))}</p>", status_code=400)
    from hoso.admin.approvals import _csrf

    body = render(data, user.lang, prefix, _csrf(request))
    if request.query_params.get("part") == "fragment":
        return HTMLResponse(_STYLE + body, headers={"Cache-Control": "no-store"})
    from hoso.admin.reports import _shell

    side = f"<p><a href='{prefix}/'>{_e(t('back', user.lang))}</a></p>"
    return HTMLResponse(_shell(prefix, t("home_title", user.lang), side, _STYLE + body))


async def data(request: Request) -> Response:
    user = await _page_user(request)
    if isinstance(user, Response):
        return JSONResponse({"detail": t("login_needed", "vi")}, status_code=401)
    out = await home_data(request.scope["hoso.admin"].rt, user, _prefix(request))
    return JSONResponse(out, headers={"Cache-Control": "no-store"})


async def read(request: Request) -> Response:
    user = await _page_user(request)
    if isinstance(user, Response):
        return user
    await notifications.mark_read(request.scope["hoso.admin"].rt, int(user.ctx.user_id or 0))
    return RedirectResponse(f"{_prefix(request)}{PAGE}", status_code=303)


def routes() -> list[Route]:
    return [Route(PAGE, page, methods=["GET"]), Route(PAGE + "data", data, methods=["GET"]),
            Route(PAGE + "read", read, methods=["POST"])]
