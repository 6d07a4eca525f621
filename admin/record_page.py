"""A record's page in the admin (``/admin/hoso/record/<entity>/<id>/``): the place where a record is worked on.

* **the record**: its code and unit in the title, the fields of its form's sections that apply to it now (a field a
  workflow step fills shows once that step was taken or it holds a value; a ``visible_if`` that does not hold hides
  its field), values as people read them (dates dd/mm/yyyy, Có/Không, choice labels, the titles of linked records,
  units and accounts, child tables as tables);
* **its files**, each with a preview (PDF in a frame, images) and a download, through ``/hoso/files/<id>``;
* **its history** as a timeline: who (display name), when (Asia/Ho_Chi_Minh), what (the step's label) and what
  changed (field labels, value labels);
* **the workflow steps the user may take now**, as buttons: each opens a small form with the fields the step
  requires (choices as drop-downs with labels; records, units and accounts as searchable pickers offering only
  what the user may read) and posts to ``.../step/<name>`` with the record's id and the version shown, through
  ``RecordService.transition`` (a stale version is a conflict, said in the user's language; problems are shown
  next to their fields). After the step the page shows the record's new state.

``/admin/hoso/trash/<entity>/`` lists the deleted records the user may restore (``restore``), in their scope, and
restores one (``POST .../<id>/restore``). ``/admin/hoso/record/grants/`` tells the admin's list pages what the
user may do per table (``record.js`` hides "add", "delete" and links to the trash accordingly, asks a reason before
a delete, opens the record page from a list and after a record is created).

Every page needs a live hoso session; a record the user may not read is a 404, like one that does not exist.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from hoso.admin.auth import AdminUser
from hoso.admin.pages import _page_user, _prefix, inject_first
from hoso.admin.reports import STATIC, _shell, _static
from hoso.config import EntityDef, FieldDef
from hoso.i18n import t
from hoso.records.attachments import human_size
from hoso.records.context import LOCAL_ZONE
from hoso.records.errors import Forbidden, InvalidTransition, NotFound, RecordError, StaleVersion, ValidationError

if TYPE_CHECKING:  # pragma: no cover
    from hoso.admin.app import AdminBuild
    from hoso.admin.tables import TableSpec

__all__ = ["routes", "inject", "RECORD", "TRASH", "record_url"]

RECORD = "/hoso/record/"
TRASH = "/hoso/trash/"
CSRF_FIELD = "csrftoken"  # piccolo-admin's double-submit CSRF check reads it from the form as from the cookie
PICKER_OPTIONS = 50  # a picker's options before the user types
TRASH_PAGE = 50
MAX_ID = 2**31 - 1
PREVIEWED = {"application/pdf": "pdf", "image/png": "img", "image/jpeg": "img", "image/gif": "img",
             "image/webp": "img"}
LINKS = ("entity", "unit", "user")


def record_url(prefix: str, entity: str, record_id: int) -> str:
    return f"{prefix}{RECORD}{entity}/{record_id}/"


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _build(request: Request) -> AdminBuild:
    return request.scope["hoso.admin"]


def _empty(v: Any) -> bool:
    return v is None or v == "" or (isinstance(v, (list, tuple)) and not v)


def _date(v: Any) -> str:
    if isinstance(v, str):
        try:
            v = dt.datetime.fromisoformat(v) if ("T" in v or " " in v) else dt.date.fromisoformat(v)
        except ValueError:
            return v
    if isinstance(v, dt.datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=dt.UTC)
        return v.astimezone(LOCAL_ZONE).strftime("%d/%m/%Y %H:%M")
    if isinstance(v, dt.date):
        return v.strftime("%d/%m/%Y")
    return str(v)


def _link_kind(fd: FieldDef) -> tuple[str, str | None] | None:
    refers = fd.traits.refers_to
    if refers == "entity":
        return "entity", fd.entity
    if refers in ("unit", "user"):
        return refers, None
    return None


class Shown:
    """Values as people read them, for one user: the titles of the records, units and accounts named are looked up
    once for all the values of a page (``collect`` then ``load``)."""

    def __init__(self, build: AdminBuild, user: AdminUser):
        self.build, self.user, self.lang = build, user, user.lang
        self.wanted: dict[tuple[str, str | None], set[int]] = {}
        self.names: dict[tuple[str, str | None], dict[int, str]] = {}

    def collect(self, fd: FieldDef | None, v: Any) -> None:
        if fd is None or _empty(v):
            return
        if fd.is_child_table:
            for row in v if isinstance(v, list) else []:
                if isinstance(row, dict):
                    for sub in fd.fields:
                        self.collect(sub, row.get(sub.name))
            return
        kind = _link_kind(fd)
        if kind is None:
            return
        for x in v if isinstance(v, list) else [v]:
            if isinstance(x, int) or (isinstance(x, str) and x.isdigit()):
                self.wanted.setdefault(kind, set()).add(int(x))

    async def load(self) -> None:
        for kind, ids in self.wanted.items():
            self.names[kind] = await self.build.readables(self.user, kind[0], kind[1], ids)

    def text(self, fd: FieldDef | None, v: Any) -> str:
        """``v`` as a user reads it (blank when empty)."""
        if _empty(v):
            return ""
        if fd is None:
            return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str)
        if fd.is_child_table:
            return t("rp_rows", self.lang, n=len(v)) if isinstance(v, list) else ""
        if fd.traits.has_choices and fd.list:
            options = {o.value: o.label.get(self.lang) for o in self.build.rt.config.choice_list(fd.list).options}
            return ", ".join(options.get(x, str(x)) for x in (v if isinstance(v, list) else [v]))
        if fd.traits.refers_to == "file":
            return t("rp_attached", self.lang)
        kind = _link_kind(fd)
        if kind is not None:
            names = self.names.get(kind, {})
            return ", ".join(names.get(int(x), f"#{x}") if str(x).isdigit() else str(x)
                             for x in (v if isinstance(v, list) else [v]))
        if fd.traits.value_kind == "bool" or isinstance(v, bool):
            return t("rp_yes" if v in (True, "true", 1) else "rp_no", self.lang)
        if fd.traits.value_kind in ("date", "datetime") or isinstance(v, (dt.date, dt.datetime)):
            return _date(v)
        if isinstance(v, list):
            return ", ".join(str(x) for x in v)
        return str(v)

    def child_table(self, fd: FieldDef, rows: Any) -> str:
        if not isinstance(rows, list) or not rows:
            return ""
        head = "".join(f"<th>{_e(sub.label.get(self.lang))}</th>" for sub in fd.fields)
        body = "".join("<tr>" + "".join(f"<td>{_e(self.text(sub, r.get(sub.name)))}</td>" for sub in fd.fields)
                       + "</tr>" for r in rows if isinstance(r, dict))
        return f'<table class="rows"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


# -- the record ---------------------------------------------------------------------------------------------------


@dataclass
class Visit:
    build: AdminBuild
    user: AdminUser
    entity: EntityDef
    spec: TableSpec
    record_id: int
    prefix: str

    @property
    def lang(self) -> str:
        return self.user.lang

    @property
    def url(self) -> str:
        return record_url(self.prefix, self.entity.name, self.record_id)


def _not_found(lang: str, prefix: str) -> HTMLResponse:
    title = t("admin_not_found", lang)
    return HTMLResponse(_shell(prefix, title, "", f'<p class="errors">{_e(title)}</p>'), status_code=404)


async def _visit(request: Request) -> Visit | Response:
    user = await _page_user(request)
    if isinstance(user, Response):
        return user
    build, prefix = _build(request), _prefix(request)
    name = request.path_params["entity"]
    spec = build.tables.by_entity.get(name) if build.rt.config.has_entity(name) else None
    record_id = int(request.path_params["record_id"])
    if spec is None or not user.may("read", name) or not 0 < record_id <= MAX_ID:
        return _not_found(user.lang, prefix)
    return Visit(build, user, spec.entity_def, spec, record_id, prefix)


def _step_fields(build: AdminBuild, entity: EntityDef, sections: list[dict]) -> dict[str, set[str]]:
    """Field -> the workflow steps after one of which it applies: the step that first requires it, and for the other
    fields of a section that only steps fill (no field the entity requires), the steps of that section (the
    refusal note belongs with the refusal; "Performing the aid" with its steps)."""
    out: dict[str, set[str]] = {}
    for wf in build.rt.config.workflows_for(entity.name):
        for tr in wf.transitions:
            for name in tr.requires:
                out.setdefault(name, {tr.name})
    for section in sections:
        names = [n for n in section.get("fields", ()) if entity.has_field(n)]
        steps = set().union(*(out[n] for n in names if n in out)) if any(n in out for n in names) else set()
        if steps and not any(entity.field(n).required for n in names):
            for n in names:
                out.setdefault(n, steps)
    return out


def _later(owned: dict[str, set[str]], taken: set, name: str, value: Any) -> bool:
    """Whether the field is filled by a workflow step not taken yet (and is empty): it does not apply yet."""
    return _empty(value) and name in owned and not owned[name] & taken


def _key(entity: EntityDef, record: dict) -> str | None:
    key = entity.naming.field if entity.naming else entity.title_field
    value = record.get(key) if key else None
    return None if _empty(value) else str(value)


def _csrf(request: Request) -> str:
    token = request.cookies.get(CSRF_FIELD) or request.scope.get("csrftoken") or ""
    return f'<input type="hidden" name="{CSRF_FIELD}" value="{_e(token)}">'


@dataclass
class StepProblem:
    """A refused step: the problems by field (shown next to them) and the rest (shown above the form)."""

    step: str
    fields: dict[str, list[str]] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)


async def _record_page(request: Request, v: Visit, problem: StepProblem | None = None,
                       status: int = 200) -> Response:
    build, user, entity, lang = v.build, v.user, v.entity, v.lang
    service = build.rt.records()
    try:
        record = await service.get(entity.name, v.record_id, user.ctx)
        entries = await service.history(entity.name, v.record_id, user.ctx)
        steps = await service.available_transitions(entity.name, v.record_id, user.ctx)
    except NotFound:
        return _not_found(lang, v.prefix)
    compiled = service.form(entity.name, v.spec.form)
    shown = Shown(build, user)
    for name, value in record.items():
        if entity.has_field(name):
            shown.collect(entity.field(name), value)
    for e in entries:
        for name, change in (e.get("changes") or {}).items():
            if entity.has_field(name) and isinstance(change, (list, tuple)) and len(change) == 2:
                shown.collect(entity.field(name), change[0])
                shown.collect(entity.field(name), change[1])
    unit_id = record.get(entity.unit_field) if entity.unit_field else None
    if unit_id is not None:
        shown.wanted.setdefault(("unit", None), set()).add(int(unit_id))
    step_options: dict[str, list[tuple[int, str]]] = {}
    for s in steps:
        for name in s["requires"]:
            fd = entity.field(name) if entity.has_field(name) else None
            kind = _link_kind(fd) if fd is not None else None
            if kind is not None and name not in step_options:
                step_options[name] = await build.options(user, kind[0], kind[1], None, PICKER_OPTIONS, 0)
            if fd is not None:
                shown.collect(fd, record.get(name))
    await shown.load()
    actors = await _display_names(build, {e["actor_id"] for e in entries if e.get("actor_id")})

    code = _key(entity, record) or f"#{v.record_id}"
    unit = shown.names.get(("unit", None), {}).get(int(unit_id)) if unit_id is not None else None
    title = f"{entity.label.get(lang)} {code}" + (f" · {unit}" if unit else "")
    state_field, state = None, None
    for wf in build.rt.config.workflows_for(entity.name):
        state_field = wf.state_field
        state = build.state_label(wf, record.get(wf.state_field), lang) if wf.state_field in record else None
        break
    taken = {e["detail"].get("transition") for e in entries if isinstance(e.get("detail"), dict)}
    owned = _step_fields(build, entity, compiled.sections)
    today = dt.datetime.now(LOCAL_ZONE).date()

    out = ['<div class="rp-head">', f'<h2 id="hoso-record-title">{_e(t("history_of", lang, record=code))}</h2>']
    if state is not None and state_field is not None:
        out.append(f'<p class="rp-state">{_e(entity.field(state_field).label.get(lang))}: '
                   f'<strong id="hoso-record-state">{_e(state)}</strong></p>')
    if request.query_params.get("done"):
        out.append(f'<p class="rp-done" id="hoso-record-done" role="status">{_e(t("rp_done", lang))}</p>')
    out.append("</div>")
    # the steps, first: what the user came to do
    out.append(f'<section id="hoso-record-steps"><h3>{_e(t("steps", lang))}</h3>')
    if problem is not None and problem.general:
        out.append('<div class="errors" id="hoso-step-error" role="alert">'
                   + "".join(f"<p>{_e(m)}</p>" for m in problem.general) + "</div>")
    if steps:
        for s in steps:
            out.append(_step_form(request, v, s, record, step_options, shown,
                                  problem if problem is not None and problem.step == s["name"] else None, today))
    else:
        out.append(f'<p>{_e(t("no_steps", lang))}</p>')
    out.append("</section>")
    # the record, by the form's sections
    for section in compiled.sections:
        rows = []
        for name in section.get("fields", ()):
            if name not in record or not entity.has_field(name):
                continue  # hidden from this user, or not a field
            fd = entity.field(name)
            value = record.get(name)
            ff = compiled.fields.get(name)
            if ff is not None:
                try:
                    if not ff.visible(record, today):
                        continue
                except Exception:  # a condition over a value it cannot read: shown
                    pass
            if _later(owned, taken, name, value):
                continue  # filled by a later step of the workflow
            if fd.traits.refers_to == "file":
                continue  # listed with the files
            shown_value = shown.child_table(fd, value) if fd.is_child_table else _e(shown.text(fd, value))
            rows.append(f'<tr data-field="{_e(name)}"><th>{_e(fd.label.get(lang))}</th><td>{shown_value}</td></tr>')
        if rows:
            label = section.get("title") or {}
            heading = label.get(lang) or label.get("vi") or ""
            out.append(f'<section class="rp-section"><h3>{_e(heading)}</h3>'
                       f'<table class="rp-fields">{"".join(rows)}</table></section>')
    out.append(await _files(v, record))
    out.append(_timeline(v, entries, shown, actors))
    side = _side(v, record)
    scripts = (f'<link rel="stylesheet" href="{v.prefix}{RECORD}record.css">'
               f'<script src="{v.prefix}{RECORD}record-page.js" defer></script>')
    return HTMLResponse(_shell(v.prefix, title, side, "".join(out), scripts), status_code=status)


def _side(v: Visit, record: dict) -> str:
    lang, prefix, table = v.lang, v.prefix, v.spec.tablename
    links = [f'<p><a href="{prefix}/#/{_e(table)}">{_e(t("rp_list", lang))}</a></p>']
    if v.user.may("update", v.entity.name):
        links.append(f'<p><a id="hoso-record-edit" href="{v.url}edit">{_e(t("rp_edit", lang))}</a></p>')
    if v.user.may("restore", v.entity.name):
        links.append(f'<p><a href="{prefix}{TRASH}{_e(v.entity.name)}/">{_e(t("rp_trash", lang))}</a></p>')
    version = record.get("sys_version")
    links.append(f'<p class="rp-meta">{_e(t("version", lang))}: {_e(version)}</p>')
    return "".join(links)


async def _display_names(build: AdminBuild, ids: set) -> dict[int, str]:
    wanted = sorted(int(i) for i in ids)
    if not wanted:
        return {}
    marks = ", ".join("{}" for _ in wanted)
    rows = await build.rt.db.fetch(f"SELECT id, display_name, username FROM hoso_user WHERE id IN ({marks})", *wanted)
    return {int(r["id"]): str(r["display_name"] or r["username"]) for r in rows}


async def _files(v: Visit, record: dict) -> str:
    lang, service = v.lang, v.build.rt.records()
    fields = [f for f in v.entity.column_fields if f.traits.refers_to == "file" and f.name in record]
    items = []
    for fd in fields:
        try:
            infos = await service.attachments(v.entity.name, v.record_id, fd.name, v.user.ctx)
        except RecordError:
            continue
        for info in sorted(infos, key=lambda i: -i.version)[:1]:  # the current version; the older in the timeline
            href = f"{v.prefix}/hoso/files/{info.id}"
            kind = PREVIEWED.get((info.content_type or "").split(";")[0].strip().lower())
            preview = ""
            if kind == "pdf":
                preview = f'<iframe class="rp-preview" src="{href}?inline=1" title="{_e(info.filename)}"></iframe>'
            elif kind == "img":
                preview = f'<img class="rp-preview" src="{href}?inline=1" alt="{_e(info.filename)}">'
            items.append(f'<li class="rp-file" data-field="{_e(fd.name)}"><strong>{_e(fd.label.get(lang))}</strong>: '
                         f'<a href="{href}" download>{_e(info.filename)}</a> ({_e(human_size(info.size))}, '
                         f'{_e(t("file_version", lang))} {info.version}, {_e(_date(info.uploaded_at))}){preview}</li>')
    if not items:
        return ""
    return (f'<section id="hoso-record-files"><h3>{_e(t("files", lang))}</h3>'
            f'<ul class="rp-files">{"".join(items)}</ul></section>')


ACTIONS = {"create": "rp_created", "update": "rp_updated", "delete": "rp_deleted", "restore": "rp_restored",
           "upload": "rp_uploaded", "transition": "rp_step"}


def _timeline(v: Visit, entries: list[dict], shown: Shown, actors: dict[int, str]) -> str:
    lang, entity = v.lang, v.entity
    steps = {tr.name: tr.label.get(lang) for wf in v.build.rt.config.workflows_for(entity.name)
             for tr in wf.transitions}
    items = []
    for e in reversed(entries):  # newest first
        detail = e.get("detail") if isinstance(e.get("detail"), dict) else {}
        step = detail.get("transition")
        if step:
            what = t("rp_step", lang, step=steps.get(step, step))
        else:
            key = ACTIONS.get(e["action"])
            what = t(key, lang, step="") if key else e["action"]
        who = actors.get(int(e["actor_id"])) if e.get("actor_id") else None
        changes = []
        for name, change in (e.get("changes") or {}).items():
            if not (isinstance(change, (list, tuple)) and len(change) == 2) or name.startswith("sys_"):
                if name == "sys_delete_reason" and isinstance(change, (list, tuple)) and len(change) == 2:
                    changes.append(f"<li>{_e(t('rp_reason', lang))}: {_e(change[1] or change[0])}</li>")
                continue
            fd = entity.field(name) if entity.has_field(name) else None
            label = fd.label.get(lang) if fd is not None else name
            before, after = shown.text(fd, change[0]), shown.text(fd, change[1])
            changes.append(f"<li><span class=\"f\">{_e(label)}</span>: "
                           + (f'<del>{_e(before)}</del> → ' if before else "") + f"<ins>{_e(after)}</ins></li>")
        if detail.get("filename"):
            changes.append(f"<li>{_e(detail['filename'])}</li>")
        items.append(f'<li class="rp-entry"><div class="rp-when">{_e(_date(e["at"]))}</div>'
                     f'<div><strong class="rp-who">{_e(who or e.get("actor") or "")}</strong> · '
                     f'<span class="rp-what">{_e(what)}</span>'
                     f'<ul class="rp-changes">{"".join(changes)}</ul></div></li>')
    return (f'<section id="hoso-record-history"><h3>{_e(t("history", lang))}</h3>'
            f'<ol class="rp-timeline">{"".join(items)}</ol></section>')


# -- workflow steps -----------------------------------------------------------------------------------------------


def _input(v: Visit, fd: FieldDef, value: Any, options: list[tuple[int, str]] | None, shown: Shown,
           today: dt.date, empty_date: bool = False) -> str:
    name, lang = fd.name, v.lang
    ident = f"f-{name}"
    if fd.traits.has_choices and fd.list:
        choices = [o for o in v.build.rt.config.choice_list(fd.list).options
                   if not o.retired or o.value == value or (isinstance(value, list) and o.value in value)]
        if fd.traits.chooses_many:
            chosen = set(value or []) if isinstance(value, list) else set()
            return '<div class="rp-many">' + "".join(
                f'<label><input type="checkbox" name="{_e(name)}" value="{_e(o.value)}"'
                f'{" checked" if o.value in chosen else ""}> {_e(o.label.get(lang))}</label>'
                for o in choices) + "</div>"
        opts = "".join(f'<option value="{_e(o.value)}"{" selected" if o.value == value else ""}>'
                       f"{_e(o.label.get(lang))}</option>" for o in choices)
        return f'<select id="{ident}" name="{_e(name)}"><option value=""></option>{opts}</select>'
    kind = _link_kind(fd)
    if kind is not None:
        current = int(value) if isinstance(value, int) or (isinstance(value, str) and value.isdigit()) else None
        listed = list(options or [])
        if current is not None and current not in {i for i, _ in listed}:
            listed.insert(0, (current, shown.text(fd, current)))
        opts = "".join(f'<option value="{i}"{" selected" if i == current else ""}>{_e(label)}</option>'
                       for i, label in listed)
        url = f"{v.prefix}{RECORD}{_e(v.entity.name)}/options/{_e(name)}"
        return (f'<div class="rp-picker"><input type="search" class="rp-picker-q" data-url="{url}" '
                f'aria-label="{_e(t("rp_search", lang))}" placeholder="{_e(t("rp_search", lang))}" autocomplete="off">'
                f'<select id="{ident}" name="{_e(name)}" size="5" class="rp-picker-list">{opts}</select></div>')
    vk = fd.traits.value_kind
    if vk == "bool":
        opts = "".join(f'<option value="{val}"{" selected" if value is b else ""}>{_e(t(key, lang))}</option>'
                       for val, b, key in (("true", True, "rp_yes"), ("false", False, "rp_no")))
        return f'<select id="{ident}" name="{_e(name)}"><option value=""></option>{opts}</select>'
    if vk == "date":
        shown_value = value.isoformat() if isinstance(value, dt.date) else (
            value or ("" if empty_date else today.isoformat()))
        return f'<input id="{ident}" type="date" name="{_e(name)}" value="{_e(shown_value)}">'
    if vk == "datetime":
        return f'<input id="{ident}" type="datetime-local" name="{_e(name)}" value="{_e(value or "")}">'
    if vk == "number":
        return f'<input id="{ident}" type="number" step="any" name="{_e(name)}" value="{_e(value)}">'
    if fd.traits.multiline:
        return f'<textarea id="{ident}" name="{_e(name)}" rows="3">{_e(value)}</textarea>'
    return f'<input id="{ident}" type="text" name="{_e(name)}" value="{_e(value)}">'


def _step_form(request: Request, v: Visit, step: dict, record: dict, options: dict[str, list[tuple[int, str]]],
               shown: Shown, problem: StepProblem | None, today: dt.date) -> str:
    lang, entity = v.lang, v.entity
    hidden = v.user.hidden(entity.name)
    rows = []
    for name in step["requires"]:
        if not entity.has_field(name) or name in hidden:
            continue
        fd = entity.field(name)
        value = problem.values.get(name) if problem is not None and name in problem.values else record.get(name)
        errors = problem.fields.get(name, []) if problem is not None else []
        err = "".join(f'<span class="rp-error" role="alert">{_e(m)}</span>' for m in errors)
        rows.append(f'<div class="rp-field{" rp-invalid" if errors else ""}" data-field="{_e(name)}">'
                    f'<label for="f-{_e(name)}">{_e(fd.label.get(lang))}</label>'
                    f"{_input(v, fd, value, options.get(name), shown, today)}{err}</div>")
    open_ = " open" if problem is not None else ""
    action = f"{v.url}step/{_e(step['name'])}"
    return (f'<details class="rp-step" id="hoso-step-{_e(step["name"])}"{open_}>'
            f'<summary class="button">{_e(step["label"])}</summary>'
            f'<form method="post" action="{action}">{_csrf(request)}'
            f'<input type="hidden" name="sys_version" value="{_e(record.get("sys_version"))}">'
            f'{"".join(rows)}<button type="submit" class="button">{_e(t("rp_confirm", lang, step=step["label"]))}'
            f"</button></form></details>")


async def _posted(request: Request) -> Any:
    form = request.scope.get("form")  # read by the CSRF middleware already
    if form is None:
        form = await request.form()
    return form


async def _reachable(build: AdminBuild, user: AdminUser, kind: tuple[str, str | None], value: int) -> bool:
    """Whether the linked row ``value`` is one the user's pickers offer (a record, unit or account in scope)."""
    source, _readable, where, args = build._readable_sql(user, kind[0], kind[1])
    return bool(await build.rt.db.fetch(f"SELECT t.id FROM {source} t WHERE t.id = {{}} AND ({where})",
                                        value, *args))


async def step(request: Request) -> Response:
    v = await _visit(request)
    if isinstance(v, Response):
        return v
    build, user, entity, lang = v.build, v.user, v.entity, v.lang
    name = request.path_params["step"]
    form = await _posted(request)
    tr = next((tr for wf in build.rt.config.workflows_for(entity.name) for tr in wf.transitions if tr.name == name),
              None)
    problem = StepProblem(name)
    if tr is None:
        problem.general.append(t("rp_no_step", lang))
        return await _record_page(request, v, problem, 404)
    raw_version = str(form.get("sys_version") or "")
    if not raw_version.isdigit():
        problem.general.append(t("bad_version", lang))
        return await _record_page(request, v, problem, 400)
    payload: dict[str, Any] = {}
    hidden = user.hidden(entity.name)
    for field_name in tr.requires:
        if not entity.has_field(field_name) or field_name in hidden:
            continue
        fd = entity.field(field_name)
        if fd.traits.chooses_many:
            values = [x for x in form.getlist(field_name) if isinstance(x, str) and x]
            problem.values[field_name] = values
            if values:
                payload[field_name] = values
            continue
        text = form.get(field_name)
        text = text.strip() if isinstance(text, str) else ""
        problem.values[field_name] = text
        if not text:
            continue
        kind = _link_kind(fd)
        if kind is not None:
            if not text.isdigit() or int(text) > MAX_ID or not await _reachable(build, user, kind, int(text)):
                problem.fields.setdefault(field_name, []).append(t("rp_picked_unknown", lang))
                continue
            payload[field_name] = int(text)
        elif fd.traits.value_kind == "bool":
            payload[field_name] = text == "true"
        elif fd.traits.value_kind == "number":
            try:
                payload[field_name] = int(text) if text.lstrip("-").isdigit() else float(text)
            except ValueError:
                problem.fields.setdefault(field_name, []).append(t("rp_not_number", lang))
        else:
            payload[field_name] = text
    if problem.fields:
        return await _record_page(request, v, problem, 422)
    try:
        await build.rt.records().transition(entity.name, v.record_id, name, payload, int(raw_version), user.ctx,
                                            form=v.spec.form)
    except NotFound:
        return _not_found(lang, v.prefix)
    except ValidationError as exc:
        labels = {f.name: f.label.get(lang) for f in entity.fields}
        for where, message in exc.problems:
            top = where.split("[", 1)[0].split(".", 1)[0]
            if top in tr.requires and top not in hidden:
                problem.fields.setdefault(top, []).append(message)
            else:
                problem.general.append(f"{labels.get(top, top)}: {message}")
        return await _record_page(request, v, problem, 422)
    except StaleVersion as exc:
        problem.general.append(t("stale", lang, current=exc.current))
        return await _record_page(request, v, problem, 409)
    except (InvalidTransition, Forbidden) as exc:
        problem.general.append(str(exc) or t("admin_forbidden", lang))
        return await _record_page(request, v, problem, 409 if isinstance(exc, InvalidTransition) else 403)
    except RecordError as exc:
        problem.general.append(str(exc))
        return await _record_page(request, v, problem, 400)
    return RedirectResponse(f"{v.url}?{urlencode({'done': name})}", status_code=303)


# -- edit ---------------------------------------------------------------------------------------------------------


def _applies(v: Visit, compiled: Any, owned: dict[str, set[str]], taken: set, values: dict, name: str,
             today: dt.date) -> bool:
    """Whether the field ``name`` applies to the record as it is (or as the edit form holds it)."""
    ff = compiled.fields.get(name)
    if ff is not None:
        try:
            if not ff.visible(values, today):
                return False
        except Exception:  # a condition over a value it cannot read yet: shown
            pass
    return not _later(owned, taken, name, values.get(name))


def _conditional(compiled: Any) -> set[str]:
    """The fields the form's conditions read: a change to one of them redraws the edit form."""
    out: set[str] = set()
    for ff in compiled.fields.values():
        for expr in (*ff.visible_if, *((ff.required_if,) if ff.required_if is not None else ())):
            out |= set(expr.fields)
    return out


def _form_value(fd: FieldDef, form: Any) -> Any:
    """The value of ``fd`` the edit form posted, as the record service takes it (None: emptied)."""
    if fd.traits.chooses_many:
        return [x for x in form.getlist(fd.name) if isinstance(x, str) and x]
    text = form.get(fd.name)
    text = text.strip() if isinstance(text, str) else ""
    if not text:
        return None
    if _link_kind(fd) is not None:
        return int(text) if text.isdigit() and int(text) <= MAX_ID else text
    if fd.traits.value_kind == "bool":
        return text == "true"
    if fd.traits.value_kind == "number":
        try:
            return int(text) if text.lstrip("-").isdigit() else float(text)
        except ValueError:
            return text
    return text


def _same(a: Any, b: Any) -> bool:
    if _empty(a) and _empty(b):
        return True
    norm = [x.isoformat() if isinstance(x, (dt.date, dt.datetime)) else x for x in (a, b)]
    if isinstance(norm[0], list) and isinstance(norm[1], list):
        return sorted(map(str, norm[0])) == sorted(map(str, norm[1]))
    return str(norm[0]) == str(norm[1])


async def edit(request: Request, *, values: dict | None = None, problems: dict[str, list[str]] | None = None,
               general: list[str] | None = None, status: int = 200) -> Response:
    """The record's edit form: the form's sections, the fields that apply, system and read-only fields as text."""
    v = await _visit(request)
    if isinstance(v, Response):
        return v
    build, user, entity, lang = v.build, v.user, v.entity, v.lang
    if not user.may("update", entity.name):
        return _not_found(lang, v.prefix)
    service = build.rt.records()
    try:
        record = await service.get(entity.name, v.record_id, user.ctx)
        entries = await service.history(entity.name, v.record_id, user.ctx)
    except NotFound:
        return _not_found(lang, v.prefix)
    compiled = service.form(entity.name, v.spec.form)
    from hoso.records.system_fields import system_fields

    given = system_fields(build.rt.config, entity)
    fixed = {given.code, *given.states} | set(user.read_only(entity.name))
    current = {**record, **(values or {})}
    taken = {e["detail"].get("transition") for e in entries if isinstance(e.get("detail"), dict)}
    owned = _step_fields(build, entity, compiled.sections)
    today = dt.datetime.now(LOCAL_ZONE).date()
    shown = Shown(build, user)
    for name, value in current.items():
        if entity.has_field(name):
            shown.collect(entity.field(name), value)
    await shown.load()
    problems = problems or {}
    sections, rendered = [], []
    for section in compiled.sections:
        rows = []
        for name in section.get("fields", ()):
            if name not in record or not entity.has_field(name):
                continue
            fd = entity.field(name)
            if fd.traits.refers_to == "file" or not _applies(v, compiled, owned, taken, current, name, today):
                continue
            label = f'<label for="f-{_e(name)}">{_e(fd.label.get(lang))}</label>'
            if name in fixed or fd.is_child_table:
                text = shown.child_table(fd, record.get(name)) if fd.is_child_table else _e(
                    shown.text(fd, record.get(name)))
                rows.append(f'<div class="rp-field rp-fixed" data-field="{_e(name)}"><label>{_e(fd.label.get(lang))}'
                            f'</label><div class="rp-text">{text}</div></div>')
                continue
            options = None
            kind = _link_kind(fd)
            if kind is not None:
                options = await build.options(user, kind[0], kind[1], None, PICKER_OPTIONS, 0)
            errs = problems.get(name, [])
            err = "".join(f'<span class="rp-error" role="alert">{_e(m)}</span>' for m in errs)
            rows.append(f'<div class="rp-field{" rp-invalid" if errs else ""}" data-field="{_e(name)}">{label}'
                        f"{_input(v, fd, current.get(name), options, shown, today, empty_date=True)}{err}</div>")
            rendered.append(name)
        if rows:
            title = section.get("title") or {}
            sections.append(f'<fieldset class="rp-section"><legend>{_e(title.get(lang) or title.get("vi") or "")}'
                            f'</legend>{"".join(rows)}</fieldset>')
    redraw = sorted(_conditional(compiled) & set(rendered))
    version = values.get("sys_version") if values and values.get("sys_version") else record.get("sys_version")
    main = (('<div class="errors" id="hoso-edit-error" role="alert">' + "".join(f"<p>{_e(m)}</p>" for m in general)
             + "</div>") if general else "") + (
        f'<form method="post" id="hoso-record-edit-form" action="{v.url}edit" data-redraw="{_e(",".join(redraw))}">'
        f'{_csrf(request)}<input type="hidden" name="sys_version" value="{_e(version)}">'
        f'<input type="hidden" name="__fields" value="{_e(",".join(rendered))}">'
        f'<p class="rp-meta">{_e(t("version", lang))}: {_e(record.get("sys_version"))}</p>'
        f'{"".join(sections)}<button type="submit" class="button">{_e(t("rp_save", lang))}</button> '
        f'<a href="{v.url}">{_e(t("back", lang))}</a></form>')
    code = _key(entity, record) or f"#{v.record_id}"
    title = f"{t('rp_edit', lang)}: {entity.label.get(lang)} {code}"
    scripts = (f'<link rel="stylesheet" href="{v.prefix}{RECORD}record.css">'
               f'<script src="{v.prefix}{RECORD}record-page.js" defer></script>')
    return HTMLResponse(_shell(v.prefix, title, _side(v, record), main, scripts), status_code=status)


async def save(request: Request) -> Response:
    """Save the edit form through ``RecordService.update`` (only the values that changed, with the version shown);
    ``__redraw``: draw the form again for the values chosen (the form's conditions), saving nothing."""
    v = await _visit(request)
    if isinstance(v, Response):
        return v
    build, user, entity, lang = v.build, v.user, v.entity, v.lang
    if not user.may("update", entity.name):
        return _not_found(lang, v.prefix)
    form = await _posted(request)
    service = build.rt.records()
    try:
        record = await service.get(entity.name, v.record_id, user.ctx)
    except NotFound:
        return _not_found(lang, v.prefix)
    from hoso.records.system_fields import system_fields

    given = system_fields(build.rt.config, entity)
    fixed = {given.code, *given.states} | set(user.read_only(entity.name)) | set(user.hidden(entity.name))
    names = [n for n in str(form.get("__fields") or "").split(",")
             if n and entity.has_field(n) and n not in fixed and n in record
             and not entity.field(n).is_child_table and entity.field(n).traits.refers_to != "file"]
    values = {n: _form_value(entity.field(n), form) for n in names}
    raw = str(form.get("sys_version") or "")
    kept = {**values, "sys_version": raw}
    if form.get("__redraw"):
        return await edit(request, values=kept)
    if not raw.isdigit():
        return await edit(request, values=values, general=[t("bad_version", lang)], status=400)
    payload = {n: x for n, x in values.items() if not _same(x, record.get(n))}
    problems: dict[str, list[str]] = {}
    for n, x in payload.items():
        kind = _link_kind(entity.field(n))
        if kind is not None and x is not None and (not isinstance(x, int)
                                                   or not await _reachable(build, user, kind, x)):
            problems.setdefault(n, []).append(t("rp_picked_unknown", lang))
    if problems:
        return await edit(request, values=kept, problems=problems, status=422)
    try:
        if payload:
            await service.update(entity.name, v.record_id, payload, int(raw), user.ctx, form=v.spec.form)
    except ValidationError as exc:
        general = []
        labels = {f.name: f.label.get(lang) for f in entity.fields}
        for where, message in exc.problems:
            top = where.split("[", 1)[0].split(".", 1)[0]
            if top in names:
                problems.setdefault(top, []).append(message)
            else:
                general.append(f"{labels.get(top, top)}: {message}")
        return await edit(request, values=kept, problems=problems, general=general,
                          status=422)
    except StaleVersion as exc:
        return await edit(request, values=kept, general=[t("stale", lang, current=exc.current)],
                          status=409)
    except (Forbidden, InvalidTransition) as exc:
        return await edit(request, values=kept,
                          general=[str(exc) or t("admin_forbidden", lang)], status=403)
    except RecordError as exc:
        return await edit(request, values=kept, general=[str(exc)], status=400)
    return RedirectResponse(f"{v.url}?{urlencode({'done': 'edit'})}", status_code=303)


async def page(request: Request) -> Response:
    v = await _visit(request)
    if isinstance(v, Response):
        return v
    return await _record_page(request, v)


async def options(request: Request) -> Response:
    """A step picker's options: ``[[id, title], ...]`` of the rows the user may pick, matching ``q``."""
    user = await _page_user(request)
    if isinstance(user, Response):
        return JSONResponse({"detail": t("login_needed", "vi")}, status_code=401)
    build = _build(request)
    name, field_name = request.path_params["entity"], request.path_params["field"]
    if not build.rt.config.has_entity(name) or not user.may("read", name):
        return JSONResponse({"detail": t("admin_not_found", user.lang)}, status_code=404)
    entity = build.rt.config.entity(name)
    fd = entity.field(field_name) if entity.has_field(field_name) else None
    kind = _link_kind(fd) if fd is not None and field_name not in user.hidden(name) else None
    if kind is None:
        return JSONResponse({"detail": t("admin_not_found", user.lang)}, status_code=404)
    q = (request.query_params.get("q") or "")[:100]
    found = await build.options(user, kind[0], kind[1], q, PICKER_OPTIONS, 0)
    return JSONResponse([[i, label] for i, label in found])


async def grants(request: Request) -> Response:
    """What the user may do on each admin table: the list pages' buttons follow it."""
    user = await _page_user(request)
    if isinstance(user, Response):
        return JSONResponse({"detail": "Auth failed"}, status_code=401)
    build = _build(request)
    out = {}
    for spec in build.tables.specs.values():
        if spec.kind not in ("entity", "child"):
            continue
        entity = spec.entity_def.name
        crud = build.cruds.get(spec.tablename)
        if crud is None or not crud.may_read(user):
            continue
        write = "update" if spec.kind == "child" else "create"
        out[spec.tablename] = {"entity": entity, "record": spec.kind == "entity",
                               "create": user.may(write, entity), "update": user.may("update", entity),
                               "delete": user.may("update" if spec.kind == "child" else "delete", entity),
                               "restore": spec.kind == "entity" and user.may("restore", entity)}
    return JSONResponse({"tables": out, "reason_prompt": t("rp_reason_prompt", user.lang),
                         "reason_needed": t("reason_required", user.lang), "trash": t("rp_trash", user.lang),
                         "record": t("rp_open", user.lang)})


# -- the trash ----------------------------------------------------------------------------------------------------


async def trash(request: Request, *, error: str = "", status: int = 200) -> Response:
    user = await _page_user(request)
    if isinstance(user, Response):
        return user
    build, prefix, lang = _build(request), _prefix(request), user.lang
    name = request.path_params["entity"]
    spec = build.tables.by_entity.get(name) if build.rt.config.has_entity(name) else None
    if spec is None or not user.may("read", name):
        return _not_found(lang, prefix)
    entity = spec.entity_def
    title = f"{t('rp_trash', lang)}: {entity.label.get(lang)}"
    side = f'<p><a href="{prefix}/#/{_e(spec.tablename)}">{_e(t("rp_list", lang))}</a></p>'
    if not user.may("restore", name):
        main = _trash_error(t("rp_trash_forbidden", lang))
        return HTMLResponse(_shell(prefix, title, side, main), status_code=403)
    try:
        page_no = max(1, min(int(request.query_params.get("page") or 1), 10**6))
    except ValueError:
        page_no = 1
    try:
        rows, total = await build.rt.records().list(name, user.ctx, deleted=True, page=page_no,
                                                    page_size=TRASH_PAGE, sort="-id")
    except Forbidden:
        main = _trash_error(t("rp_trash_forbidden", lang))
        return HTMLResponse(_shell(prefix, title, side, main), status_code=403)
    shown = Shown(build, user)
    if entity.unit_field:
        for r in rows:
            shown.collect(entity.field(entity.unit_field), r.get(entity.unit_field))
    await shown.load()
    ids = await _deleted_details(build, entity, [int(r["id"]) for r in rows])
    actors = await _display_names(build, {d["by"] for d in ids.values() if d["by"]})
    out = [_trash_error(error) if error else ""]
    if not rows:
        out.append(f'<p id="hoso-trash-empty">{_e(t("rp_trash_empty", lang))}</p>')
    else:
        head = [t("rp_code", lang), t("rp_unit", lang), t("rp_deleted_at", lang), t("who", lang),
                t("rp_reason", lang), ""]
        out.append('<table class="report" id="hoso-trash"><thead><tr>' + "".join(f"<th>{_e(h)}</th>" for h in head)
                   + "</tr></thead><tbody>")
        for r in rows:
            rid = int(r["id"])
            d = ids.get(rid, {"at": None, "by": None, "reason": None})
            unit = shown.text(entity.field(entity.unit_field), r.get(entity.unit_field)) if entity.unit_field else ""
            out.append(
                f'<tr data-id="{rid}"><td>{_e(_key(entity, r) or f"#{rid}")}</td><td>{_e(unit)}</td>'
                f'<td>{_e(_date(d["at"]) if d["at"] else "")}</td>'
                f'<td>{_e(actors.get(d["by"], "") if d["by"] else "")}</td>'
                f'<td>{_e(d["reason"])}</td><td><form method="post" action="{prefix}{TRASH}{_e(name)}/{rid}/restore">'
                f'{_csrf(request)}<input type="hidden" name="sys_version" value="{_e(r.get("sys_version"))}">'
                f'<button class="button" type="submit">{_e(t("rp_restore", lang))}</button></form></td></tr>')
        out.append("</tbody></table>")
        pages = (total + TRASH_PAGE - 1) // TRASH_PAGE
        if pages > 1:
            out.append("<p>" + " ".join(
                f'<a href="?page={p}">{p}</a>' if p != page_no else f"<strong>{p}</strong>"
                for p in range(1, min(pages, 50) + 1)) + "</p>")
    return HTMLResponse(_shell(prefix, title, side, "".join(out)), status_code=status)


def _trash_error(message: str) -> str:
    return f'<div class="errors" id="hoso-trash-error" role="alert"><p>{_e(message)}</p></div>'


async def _deleted_details(build: AdminBuild, entity: EntityDef, ids: list[int]) -> dict[int, dict]:
    if not ids:
        return {}
    from hoso.db import quote

    marks = ", ".join("{}" for _ in ids)
    rows = await build.rt.db.fetch(f"SELECT id, sys_deleted_at, sys_deleted_by, sys_delete_reason FROM "
                                   f"{quote(entity.table)} WHERE id IN ({marks})", *ids)
    return {int(r["id"]): {"at": r["sys_deleted_at"], "by": r["sys_deleted_by"], "reason": r["sys_delete_reason"]}
            for r in rows}


async def restore(request: Request) -> Response:
    user = await _page_user(request)
    if isinstance(user, Response):
        return user
    build, prefix, lang = _build(request), _prefix(request), user.lang
    name = request.path_params["entity"]
    record_id = int(request.path_params["record_id"])
    if not build.rt.config.has_entity(name) or not user.may("read", name) or not 0 < record_id <= MAX_ID:
        return _not_found(lang, prefix)
    form = await _posted(request)
    raw = str(form.get("sys_version") or "")
    try:
        await build.rt.records().restore(name, record_id, user.ctx, version=int(raw) if raw.isdigit() else None)
    except NotFound:
        return await trash(request, error=t("admin_not_found", lang), status=404)
    except StaleVersion as exc:
        return await trash(request, error=t("stale", lang, current=exc.current), status=409)
    except Forbidden:
        return await trash(request, error=t("rp_trash_forbidden", lang), status=403)
    except RecordError as exc:
        return await trash(request, error=str(exc), status=400)
    return RedirectResponse(f"{record_url(prefix, name, record_id)}?{urlencode({'done': 'restore'})}",
                            status_code=303)


def inject(template: str) -> str:
    """piccolo-admin's index page with the script that makes its lists follow the user's grants."""
    # first in the head, to run before piccolo-admin's script: it watches the requests of a form opened at once
    return inject_first(template, '<script src="./hoso/record/record.js" defer></script>')


def routes() -> list[Route]:
    js, css = "text/javascript", "text/css"
    return [
        Route(RECORD + "record.js", _static(STATIC / "record.js", js), methods=["GET"]),
        Route(RECORD + "record-page.js", _static(STATIC / "record-page.js", js), methods=["GET"]),
        Route(RECORD + "record.css", _static(STATIC / "record.css", css), methods=["GET"]),
        Route(RECORD + "grants/", grants, methods=["GET"]),
        Route(RECORD + "{entity:str}/options/{field:str}", options, methods=["GET"]),
        Route(RECORD + "{entity:str}/{record_id:int}/", page, methods=["GET"]),
        Route(RECORD + "{entity:str}/{record_id:int}/step/{step:str}", step, methods=["POST"]),
        Route(RECORD + "{entity:str}/{record_id:int}/edit", edit, methods=["GET"]),
        Route(RECORD + "{entity:str}/{record_id:int}/edit", save, methods=["POST"]),
        Route(TRASH + "{entity:str}/", trash, methods=["GET"]),
        Route(TRASH + "{entity:str}/{record_id:int}/restore", restore, methods=["POST"]),
    ]
