"""The admin's import page (``/admin/hoso/import/``): upload a CSV or XLSX file for an entity the user may create,
see every problem by row and column, choose to leave out unknown columns or bad rows, confirm, and follow the
progress of the writes.

Every step goes through ``hoso.importing`` with the user's record context: the preview writes nothing, the import
writes through the record service (validation, naming series, scope, audit, history, hooks). The file read at the
preview is kept in ``HOSO_IMPORTS_DIR`` with a held-back job (``file_import``, ``hoso.plugins.jobs``) for
``_KEEP_SECONDS``; the confirmation releases the job, which a worker of any process runs (``hoso serve``'s own, or
``hoso worker``), keeping its progress in the job's row. The page asks that progress as JSON
(admin/static/imports.js; without scripts the page reloads itself), so preview, confirmation and progress may each
reach a different process.
"""

from __future__ import annotations

import contextlib
import html
import json
from dataclasses import dataclass, replace
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from hoso.admin.auth import AdminUser
from hoso.admin.pages import _page_user, _prefix
from hoso.admin.reports import STATIC, _shell, _static
from hoso.i18n import t
from hoso.importing import FileProblem, ImportOptions, ImportResult, preview, read_table
from hoso.importing.staging import stage
from hoso.jobs import enqueue, job, release
from hoso.plugins.jobs import IMPORT_KIND
from hoso.records.context import RecordContext
from hoso.records.errors import RecordError
from hoso.settings import get as setting

__all__ = ["routes", "PAGE"]

PAGE = "/hoso/import/"
# How long a previewed file waits for its confirmation.
_KEEP_SECONDS = 3600


def _e(text: Any) -> str:
    return html.escape("" if text is None else str(text))


def _token(value: str | None) -> int | None:
    """The job id a page's token names (the id of the import's job), or None."""
    return int(value) if value and value.isdigit() and len(value) < 19 else None


async def _held(request: Request, token: str | None, user: AdminUser) -> dict | None:
    """The user's own import job named by ``token``, with its payload; None for anything else."""
    job_id = _token(token)
    row = None if job_id is None else await job(request.scope["hoso.admin"].rt.db, job_id)
    if row is None or row["kind"] != IMPORT_KIND or row["user_id"] != user.current.id:
        return None
    return row


def _creatable(request: Request, user: AdminUser) -> list:
    """The entities a role of the user may create, where their module is on for the user (``AdminUser.may``)."""
    rt = request.scope["hoso.admin"].rt
    return [e for e in rt.config.entities if user.may("create", e.name)]


@dataclass(frozen=True)
class _Visit:
    """Who asks the page, and the entities they may create (the page exists only for users who may create)."""

    user: AdminUser
    entities: list


def _visited(handler):
    async def endpoint(request: Request) -> Response:
        user = await _page_user(request)
        if isinstance(user, Response):
            return user
        entities = _creatable(request, user)
        if not entities:
            return Response(t("page_not_found", user.lang), status_code=404, media_type="text/plain")
        return await handler(request, _Visit(user, entities))

    return endpoint


@contextlib.asynccontextmanager
async def _form(request: Request, **limits: int):
    """The posted form: as piccolo-admin's CSRF check already read it (it keeps it in the scope), else read here;
    its spooled files are closed afterwards."""
    form = request.scope.get("form")
    if form is None:
        form = await request.form(**limits)
    try:
        yield form
    finally:
        await form.close()


def _label(entity, lang: str) -> str:
    return entity.label.get(lang) if entity.label else entity.name


def _csrf(request: Request) -> str:
    """The hidden field of piccolo-admin's double-submit CSRF check (the cookie's value, sent back by the form)."""
    return f'<input type="hidden" name="csrftoken" value="{_e(request.cookies.get("csrftoken", ""))}">'


def _upload_form(request: Request, entities: list, lang: str, chosen: str = "", key: str = "") -> str:
    prefix = _prefix(request)
    options = "".join(f'<option value="{_e(e.name)}"{" selected" if e.name == chosen else ""}>{_e(_label(e, lang))}'
                      "</option>" for e in entities)
    keys = '<option value=""></option>' + "".join(
        f'<option value="{_e(f.name)}"{" selected" if f.name == key else ""}>{_e(_label(e, lang))}: '
        f"{_e(f.label.get(lang) if f.label else f.name)}</option>"
        for e in entities for f in e.column_fields if e.name == chosen or not chosen)
    return (f'<form method="post" enctype="multipart/form-data" action="{prefix}{PAGE}preview" '
            f'id="hoso-import-form">{_csrf(request)}'
            f'<label for="f-entity">{_e(t("import_entity_label", lang))}</label>'
            f'<select id="f-entity" name="entity">{options}</select>'
            f'<label for="f-file">{_e(t("import_file_label", lang))}</label>'
            '<input id="f-file" type="file" name="file" accept=".csv,.xlsx,text/csv,'
            'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet">'
            f'<label for="f-key">{_e(t("import_key_label", lang))}</label><select id="f-key" name="key">{keys}</select>'
            f'<button class="button" type="submit">{_e(t("import_preview_button", lang))}</button></form>')


def _problems_table(result: ImportResult, lang: str) -> str:
    if not result.problems:
        return f'<p id="hoso-import-ok">{_e(t("import_no_problems", lang))}</p>'
    rows = "".join(
        f"<tr><td>{_e(p.row if p.row is not None else t('import_file_problem', lang))}</td><td>{_e(p.column)}</td>"
        f"<td>{_e(p.message)}</td></tr>" for p in result.problems[:2000])
    more = len(result.problems) - 2000
    return (f'<table class="report" id="hoso-import-problems"><thead><tr><th>{_e(t("import_col_row", lang))}</th>'
            f'<th>{_e(t("import_col_column", lang))}</th><th>{_e(t("import_col_problem", lang))}</th></tr></thead>'
            f"<tbody>{rows}</tbody></table>" + (f"<p>… +{more}</p>" if more > 0 else ""))


def _summary(result: ImportResult, lang: str) -> str:
    if result.import_id is not None:
        return t("import_summary", lang, rows=result.rows, created=result.created, duplicates=result.duplicates,
                 skipped=result.skipped, empty=result.empty)
    return t("import_preview_summary", lang, rows=result.rows, would=result.would_create,
             duplicates=result.duplicates, bad=len(result.bad_rows), empty=result.empty)


@_visited
async def page(request: Request, v: _Visit) -> Response:
    entities, lang, prefix = v.entities, v.user.lang, _prefix(request)
    chosen = request.query_params.get("entity") or entities[0].name
    side = _upload_form(request, entities, lang, chosen)
    return HTMLResponse(_shell(prefix, t("import_title", lang), side, ""))


def _error_page(prefix: str, lang: str, side: str, message: str, status: int) -> HTMLResponse:
    main = f'<div class="errors" id="hoso-import-errors"><p>{_e(message)}</p></div>'
    return HTMLResponse(_shell(prefix, t("import_title", lang), side, main), status_code=status)


@_visited
async def preview_page(request: Request, v: _Visit) -> Response:
    user, entities, lang, prefix = v.user, v.entities, v.user.lang, _prefix(request)
    limit = setting("HOSO_IMPORT_MAX_BYTES")
    side = _upload_form(request, entities, lang)
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit + 64 * 1024:
        return _error_page(prefix, lang, side, t("import_too_large", lang, size=int(length), limit=limit), 413)
    async with _form(request, max_files=1, max_fields=10) as form:
        upload = form.get("file")
        entity = str(form.get("entity") or "")
        key = str(form.get("key") or "") or None
        if upload is None or isinstance(upload, str) or not upload.filename:
            return _error_page(prefix, lang, side, t("import_no_file", lang), 400)
        data = await upload.read(limit + 1)
        name = upload.filename
    side = _upload_form(request, entities, lang, entity, key or "")
    if entity not in {e.name for e in entities}:
        return _error_page(prefix, lang, side, t("import_no_entity", lang, entity=entity), 404)
    try:
        table = read_table(name, data, lang)
    except FileProblem as exc:
        return _error_page(prefix, lang, side, str(exc), 413 if len(data) > limit else 400)
    rt = request.scope["hoso.admin"].rt
    try:
        result = await preview(rt, rt_ctx(user), entity, table, ImportOptions(key=key))
    except RecordError as exc:
        return _error_page(prefix, lang, side, str(exc), 403)
    held = {"held": True, "staged": stage(data), "file_name": name, "entity": entity, "key": key, "lang": lang}
    token = str(await enqueue(rt.db, IMPORT_KIND, held, user_id=user.current.id, delay=_KEEP_SECONDS))
    return HTMLResponse(_shell(prefix, f"{t('import_title', lang)}: {name}", side,
                               _confirm(request, token, result, lang)))


def rt_ctx(user: AdminUser) -> RecordContext:
    return replace(user.ctx, lang=user.lang)


def _confirm(request: Request, token: str, result: ImportResult, lang: str) -> str:
    prefix = _prefix(request)
    ignore = "".join(f'<label><input type="checkbox" name="ignore" value="{_e(h)}"> '
                     f'{_e(t("import_ignore_label", lang, column=h))}</label>' for h in result.unknown)
    skip = (f'<label><input type="checkbox" name="skip_bad" value="1" id="f-skip-bad"> '
            f'{_e(t("import_skip_bad_label", lang))}</label>') if result.bad_rows else ""
    return (f'<p id="hoso-import-summary">{_e(_summary(result, lang))}</p>' + _problems_table(result, lang)
            + f'<form method="post" action="{prefix}{PAGE}run" id="hoso-import-confirm">{_csrf(request)}'
            f'<input type="hidden" name="token" value="{_e(token)}">{ignore}{skip}'
            f'<button class="button" type="submit">{_e(t("import_confirm_button", lang))}</button></form>')


@_visited
async def run_page(request: Request, v: _Visit) -> Response:
    user, entities, lang, prefix = v.user, v.entities, v.user.lang, _prefix(request)
    side = _upload_form(request, entities, lang)
    async with _form(request, max_files=0, max_fields=200) as form:
        token = str(form.get("token") or "")
        ignore = sorted({str(v) for v in form.getlist("ignore")})
        skip_bad = form.get("skip_bad") == "1"
    row = await _held(request, token, user)
    held = json.loads(row["payload"]) if row is not None and row["payload"] else {}
    rt = request.scope["hoso.admin"].rt
    chosen = {**held, "held": False, "skip_bad": skip_bad, "ignore": ignore}
    # Of two confirmations of one preview (two tabs, a double click), one starts the import.
    if row is None or not held.get("held") or not await release(rt.db, row["id"], held, chosen):
        return _error_page(prefix, lang, side, t("import_expired", lang), 410)
    return HTMLResponse(_shell(prefix, t("import_title", lang), side,
                               _progress(prefix, token, await job(rt.db, row["id"]), lang)))


def _state(row: dict) -> tuple[bool, dict[str, Any]]:
    """Whether the import's job has ended, and what it keeps: its progress while it runs, its outcome after."""
    kept = json.loads(row["result"]) if row["result"] else {}
    return row["state"] in ("done", "dead"), kept


def _progress(prefix: str, token: str, row: dict | None, lang: str) -> str:
    if row is None:
        return f'<div class="errors" id="hoso-import-errors"><p>{_e(t("import_expired", lang))}</p></div>'
    ended, kept = _state(row)
    if ended:
        failed = kept.get("error") or (t("import_expired", lang) if kept.get("expired") else "")
        if row["state"] == "dead":
            failed = t("import_failed", lang, error=row["last_error"] or "")
        if failed or "result" not in kept:
            return f'<div class="errors" id="hoso-import-errors"><p>{_e(failed)}</p></div>'
        result = ImportResult.from_json(kept["result"])
        note = ""
        if result.stopped:
            note = f"<p>{_e(t('import_stopped', lang))}</p>"
        elif result.problems and result.import_id is None:
            note = f"<p>{_e(t('import_nothing_written', lang))}</p>"
        done = f"<p>{_e(t('import_done', lang))}</p>" if result.import_id is not None and not result.stopped else ""
        return (f'<div id="hoso-import-result">{done}<p id="hoso-import-summary">{_e(_summary(result, lang))}</p>'
                f"{note}{_problems_table(result, lang)}</div>")
    progress: dict[str, Any] = kept.get("progress", {})
    label, done, total = _label_of(row, progress, lang), progress.get("done", 0), progress.get("total", 0)
    return (f'<div id="hoso-import-progress" data-status="{prefix}{PAGE}status?token={_e(token)}" '
            f'data-page="{prefix}{PAGE}job?token={_e(token)}"><p id="hoso-import-stage">{_e(label)}</p>'
            f'<progress id="hoso-import-bar" max="{total or 1}" value="{done}"></progress> '
            f'<span id="hoso-import-count">{done}/{total}</span>'
            f'<noscript><p><a href="{prefix}{PAGE}job?token={_e(token)}">&#8635;</a></p></noscript></div>'
            f'<script src="{prefix}{PAGE}imports.js"></script>')


def _label_of(row: dict | None, progress: dict, lang: str) -> str:
    if row is None or row["state"] != "running":
        # queued, or waiting to be tried again after a failed attempt
        return t("import_waiting", lang)
    return t("import_writing" if progress.get("stage") == "write" else "import_checking", lang)


@_visited
async def job_page(request: Request, v: _Visit) -> Response:
    user, entities, lang, prefix = v.user, v.entities, v.user.lang, _prefix(request)
    token = request.query_params.get("token")
    row = await _held(request, token, user)
    side = _upload_form(request, entities, lang)
    if row is None or json.loads(row["payload"] or "{}").get("held"):
        return _error_page(prefix, lang, side, t("import_expired", lang), 410)
    return HTMLResponse(_shell(prefix, t("import_title", lang), side, _progress(prefix, token or "", row, lang)))


@_visited
async def status(request: Request, v: _Visit) -> Response:
    user = v.user
    row = await _held(request, request.query_params.get("token"), user)
    if row is None or json.loads(row["payload"] or "{}").get("held"):
        return JSONResponse({"detail": t("import_expired", user.lang)}, status_code=410)
    ended, kept = _state(row)
    progress = kept.get("progress", {})
    return JSONResponse({"stage": progress.get("stage", ""), "label": _label_of(row, progress, user.lang),
                         "done": progress.get("done", 0), "total": progress.get("total", 0), "finished": ended})


def routes() -> list[Route]:
    return [
        Route(PAGE, page, methods=["GET"]),
        Route(PAGE + "preview", preview_page, methods=["POST"]),
        Route(PAGE + "run", run_page, methods=["POST"]),
        Route(PAGE + "job", job_page, methods=["GET"]),
        Route(PAGE + "status", status, methods=["GET"]),
        Route(PAGE + "imports.js", _static(STATIC / "imports.js", "text/javascript"), methods=["GET"]),
    ]
