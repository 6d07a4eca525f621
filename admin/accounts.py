"""The admin's accounts pages (``/admin/hoso/accounts/``), in the look of the other hoso pages.

* the list: the accounts whose home unit the user manages (``hoso.accounts.manageable_accounts``), searched
  ignoring case and diacritics, and a form creating an account at a unit they manage with a role they may grant
  there; the new account gets a one-time password, shown once, to change at its first login;
* one account: its unit, state, role assignments (current and past, dates as dd/mm/yyyy), API tokens, the
  records linked to it (a performer record's ``account``: what the performer role's scope reads), its recent
  audit entries (times in Asia/Ho_Chi_Minh), and the forms of what the user may do: grant a role at a unit (the
  pickers offer only the roles and units ``hoso.accounts.grantable`` allows), end an assignment on a date,
  transfer to another unit, lock or unlock, reset the password (a one-time password shown once; every session
  and token of the account ends), link or unlink a record, create (shown once) or revoke an API token.

Every action calls the function the API calls (``hoso.accounts``, ``hoso.web.tokens``, the record service for
links): the same no-escalation rules, the same refusals, the same audit. A forged POST is refused with the
API's message and changes nothing. POSTs carry piccolo-admin's CSRF token as a form field (double-submit cookie)
and come from this site (the admin's Origin check).
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from hoso import accounts
from hoso.accounts import PermissionDenied
from hoso.admin.auth import AdminUser
from hoso.admin.pages import _page_user, _prefix
from hoso.admin.reports import _shell
from hoso.i18n import t
from hoso.records.errors import Forbidden, NotFound, StaleVersion, ValidationError
from hoso.reports.render import moment
from hoso.scope import Actor
from hoso.users import Throttled, Unknown, UserError
from hoso.web import tokens

__all__ = ["routes", "PAGE"]

PAGE = "/hoso/accounts/"
CSRF_FIELD = "csrftoken"  # piccolo-admin's CSRF middleware: the cookie's name, also read from a form field
MAX_ID = 2**31 - 1  # account, assignment and token ids are 32-bit
LIMIT = 200  # accounts per page of the list
LINK_CHOICES = 200  # records offered for a link at most
HISTORY = 30  # audit entries shown
ACTIONS = ("grant", "end", "transfer", "lock", "unlock", "reset", "token", "revoke", "link", "unlink")
AUDIT_KEYS = {"user.create": "acct_audit_create", "assignment.grant": "acct_audit_grant",
              "assignment.end": "acct_audit_end", "user.transfer": "acct_audit_transfer",
              "user.lock": "acct_audit_lock", "user.unlock": "acct_audit_unlock",
              "user.password_reset": "acct_audit_reset", "user.password_change": "acct_audit_password",
              "token.create": "acct_audit_token", "token.revoke": "acct_audit_revoke"}

_STYLE = """
table.list{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
table.list th,table.list td{border:1px solid #ccc;padding:.3rem .6rem;text-align:left;vertical-align:top}
table.list th{background:#f0f5f9}
.state{display:inline-block;padding:.1rem .5rem;border-radius:3px;font-size:.8rem;background:#e4ebf1}
.state-locked{background:#ffe1e1}.state-ended{background:#eee;color:#666}
.actions form{border:1px solid #ccc;border-radius:3px;padding:.6rem 1rem;margin:.6rem 0;max-width:40rem}
.actions form.inline,td form{border:0;padding:0;margin:0;display:inline}
.notice{background:#eef8ee;border:1px solid #6c6;padding:.5rem 1rem;border-radius:3px}
.secret{font-family:monospace;font-size:1.1rem;background:#fff3cd;padding:.2rem .5rem}
"""

# Narrows the grant form's unit picker to the units where the chosen role may be granted (the server checks
# again; without scripts every managed unit is listed and a wrong pair is refused with a message).
_SCRIPT = """<script>
document.querySelectorAll('select[data-roles-for]').forEach(function (units) {
  var roles = document.getElementById(units.getAttribute('data-roles-for'));
  function narrow() {
    var role = roles.value, first = null;
    units.querySelectorAll('option').forEach(function (o) {
      var ok = (' ' + o.getAttribute('data-roles') + ' ').indexOf(' ' + role + ' ') >= 0;
      o.hidden = !ok; o.disabled = !ok;
      if (ok && first === null) first = o;
    });
    if (units.selectedOptions.length && units.selectedOptions[0].disabled && first) first.selected = true;
  }
  roles.addEventListener('change', narrow); narrow();
});
</script>"""


def _e(text: Any) -> str:
    return html.escape("" if text is None else str(text))


def _t(key: str, lang: str, **values: Any) -> str:
    return _e(t(key, lang, **values))


def _day(value: Any) -> str:
    if isinstance(value, str):
        value = dt.date.fromisoformat(value[:10])
    return value.strftime("%d/%m/%Y") if value else ""


def _when(value: Any) -> str:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return moment(value) if isinstance(value, dt.datetime) else ""


def _csrf(request: Request) -> str:
    token = request.cookies.get(CSRF_FIELD) or request.scope.get("csrftoken") or ""
    return f'<input type="hidden" name="{CSRF_FIELD}" value="{_e(token)}">'


def _unit_name(row: dict, lang: str, prefix: str = "") -> str:
    code = row.get(f"{prefix}code")
    if code is None:
        return ""
    vi, en = row.get(f"{prefix}name_vi"), row.get(f"{prefix}name_en")
    name = en if lang == "en" and en else vi
    return f"{code} ({name})" if name else str(code)


def _role_label(rt: Any, role: str, lang: str) -> str:
    try:
        return rt.config.role(role).label.get(lang)
    except KeyError:
        return role


def _error(message: str) -> str:
    return f'<div class="errors" id="hoso-account-error" role="alert"><p>{_e(message)}</p></div>'


def _notice(text: str) -> str:
    return f'<p class="notice" id="hoso-account-notice">{_e(text)}</p>' if text else ""


def _page(request: Request, user: AdminUser, title: str, main: str, status: int = 200) -> HTMLResponse:
    prefix, lang = _prefix(request), user.lang
    side = f'<p><a href="{prefix}{PAGE}">{_t("acct_page", lang)}</a></p>'
    body = _shell(prefix, title, side, f"<style>{_STYLE}</style>{main}", _SCRIPT)
    # one-time passwords and tokens are shown on these pages: never kept by a cache
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


def _actor(user: AdminUser) -> Actor:
    """The admin user as ``hoso.accounts`` judges them: on the date the API and the sessions judge assignments
    (the server's), so a role granted here is held at once by the admin's and the API's logins."""
    return replace(user.actor, lang=user.lang)


def _refusal(exc: Exception, lang: str) -> tuple[str, int] | None:
    """The message and status of an account operation's refusal, as the API answers it; None: not a refusal."""
    if isinstance(exc, PermissionDenied):
        return exc.text(lang), 403
    if isinstance(exc, Throttled):
        return exc.text(lang), 429
    if isinstance(exc, Unknown):
        return exc.text(lang), 404
    if isinstance(exc, UserError):
        return exc.text(lang), 422
    if isinstance(exc, ValidationError):
        return "; ".join(m for _f, m in exc.problems), 422
    if isinstance(exc, StaleVersion):
        return t("acct_stale", lang), 409
    if isinstance(exc, Forbidden):
        return str(exc), 403
    if isinstance(exc, NotFound | LookupError):
        return str(exc) or t("page_not_found", lang), 404
    if isinstance(exc, ValueError):
        return str(exc), 422
    return None


class _Refused(Exception):
    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.message, self.status = message, status


async def _allowed(request: Request) -> AdminUser | Response:
    """The user, when they may manage accounts at some unit (a superuser, or a role granting ``manage_users``);
    404 otherwise."""
    user = await _page_user(request)
    if isinstance(user, Response):
        return user
    rt = request.scope["hoso.admin"].rt
    if not user.superuser and not await accounts.managed_units(rt, _actor(user), open_only=False):
        return Response(t("page_not_found", user.lang), status_code=404, media_type="text/plain")
    return user


async def _form(request: Request) -> dict[str, str]:
    form = request.scope.get("form")  # read by the CSRF middleware already
    if form is None:
        form = await request.form()
    return {k: v.strip() for k, v in form.items() if isinstance(v, str)}


def _date(value: str | None, lang: str, label_key: str) -> dt.date | None:
    return accounts.read_date(value, t(label_key, lang))


def _int(value: str | None, lang: str, what: str) -> int:
    try:
        number = int(value or "")
    except ValueError:
        number = 0
    if not 0 < number <= MAX_ID:
        raise _Refused(t("acct_bad_choice", lang, field=t(what, lang)), 422)
    return number


def _user_id(request: Request) -> int:
    value = int(request.path_params["user_id"])
    return value if 0 < value <= MAX_ID else 0


# -- the list ---------------------------------------------------------------------------------------------------


def _grant_pickers(rt: Any, grantable: dict[str, list[dict]], lang: str, form_id: str,
                   values: dict[str, str]) -> str:
    """A role picker and a unit picker offering only the pairs ``grantable`` allows."""
    roles_at: dict[int, list[str]] = {}
    units: dict[int, dict] = {}
    for role, rows in grantable.items():
        for u in rows:
            units[u["id"]] = u
            roles_at.setdefault(u["id"], []).append(role)
    role_options = "".join(
        f'<option value="{_e(r)}"{" selected" if values.get("role") == r else ""}>{_e(_role_label(rt, r, lang))}'
        "</option>" for r in grantable)
    unit_options = "".join(
        f'<option value="{_e(u["code"])}" data-roles="{_e(" ".join(roles_at[u["id"]]))}"'
        f'{" selected" if values.get("unit") == u["code"] else ""}>{_e(_unit_name(u, lang))}</option>'
        for u in sorted(units.values(), key=lambda u: u["code"]))
    return (f'<label for="{form_id}-role">{_t("acct_role", lang)}</label>'
            f'<select id="{form_id}-role" name="role">{role_options}</select>'
            f'<label for="{form_id}-unit">{_t("acct_unit", lang)}</label>'
            f'<select id="{form_id}-unit" name="unit" data-roles-for="{form_id}-role">{unit_options}</select>')


def _create_form(request: Request, user: AdminUser, grantable: dict[str, list[dict]], values: dict[str, str]) -> str:
    lang, prefix, rt = user.lang, _prefix(request), request.scope["hoso.admin"].rt
    fields = "".join(
        f'<label for="c-{name}">{_t(key, lang)}</label>'
        f'<input id="c-{name}" name="{name}" value="{_e(values.get(name, ""))}"{extra}>'
        for name, key, extra in (("username", "acct_username", " required"), ("display_name", "acct_name", ""),
                                 ("email", "acct_email", ' type="email"')))
    return (f'<form method="post" action="{prefix}{PAGE}create" id="hoso-account-create">{_csrf(request)}'
            f'<h3>{_t("acct_create_title", lang)}</h3>{fields}'
            f'{_grant_pickers(rt, grantable, lang, "c", values)}'
            f'<p>{_t("acct_create_hint", lang)}</p>'
            f'<button class="button" type="submit">{_t("acct_do_create", lang)}</button></form>')


async def list_page(request: Request, *, error: str = "", status: int = 200,
                    values: dict[str, str] | None = None) -> Response:
    user = await _allowed(request)
    if isinstance(user, Response):
        return user
    rt, lang, prefix = request.scope["hoso.admin"].rt, user.lang, _prefix(request)
    actor = _actor(user)
    q = (request.query_params.get("q") or "").strip()[:100]
    after = (request.query_params.get("after") or "").strip()[:200] or None
    rows = await accounts.manageable_accounts(rt, actor, q, LIMIT + 1, after=after)
    search = (f'<form method="get" action="{prefix}{PAGE}" id="hoso-account-search">'
              f'<label for="f-q">{_t("acct_search", lang)}</label>'
              f'<input id="f-q" name="q" value="{_e(q)}" placeholder="{_t("acct_search_hint", lang)}">'
              f'<button class="button" type="submit">{_t("acct_do_search", lang)}</button></form>')
    body = []
    for r in rows[:LIMIT]:
        state = (f'<span class="state state-locked">{_t("acct_locked", lang)}</span>' if r["locked"]
                 else f'<span class="state">{_t("acct_active", lang)}</span>')
        body.append(f'<tr data-username="{_e(r["username"])}"><td><a href="{prefix}{PAGE}{r["id"]}">'
                    f'{_e(r["username"])}</a></td><td>{_e(r["display_name"])}</td><td>{_e(r["email"])}</td>'
                    f'<td>{_e(_unit_name(r, lang, "unit_"))}</td><td>{state}</td></tr>')
    # pages of LIMIT accounts by username: a link to the next one, and back to the first
    pages = []
    if after:
        pages.append(f'<a class="button" id="hoso-account-first" href="{prefix}{PAGE}?{_e(urlencode({"q": q}))}">'
                     f'{_t("acct_first_page", lang)}</a>')
    if len(rows) > LIMIT:
        nxt = urlencode({"q": q, "after": rows[LIMIT - 1]["username"]})
        pages.append(f'<a class="button" id="hoso-account-next" href="{prefix}{PAGE}?{_e(nxt)}">'
                     f'{_t("acct_next_page", lang, n=LIMIT)}</a>')
    more = f'<p class="hoso-pages">{" ".join(pages)}</p>' if pages else ""
    table = (f'<table class="list" id="hoso-account-list"><thead><tr><th>{_t("acct_username", lang)}</th>'
             f'<th>{_t("acct_name", lang)}</th><th>{_t("acct_email", lang)}</th><th>{_t("acct_unit", lang)}</th>'
             f'<th>{_t("acct_state", lang)}</th></tr></thead><tbody>{"".join(body)}</tbody></table>{more}'
             if rows else f'<p id="hoso-account-empty">{_t("acct_none", lang)}</p>')
    grantable = await accounts.grantable(rt, actor)
    create = _create_form(request, user, grantable, values or {}) if grantable else ""
    main = (f'{_error(error) if error else ""}<div class="actions">{search}</div>{table}'
            f'<div class="actions">{create}</div>')
    return _page(request, user, t("acct_page", lang), main, status)


async def create(request: Request) -> Response:
    user = await _allowed(request)
    if isinstance(user, Response):
        return user
    rt, lang = request.scope["hoso.admin"].rt, user.lang
    data = await _form(request)
    actor = _actor(user)
    temporary = _one_time_password()
    try:
        if not data.get("role"):
            raise _Refused(t("acct_bad_choice", lang, field=t("acct_role", lang)), 422)
        uid = await accounts.create_account(rt, actor, data.get("username", ""), temporary, data.get("unit", ""),
                                            display_name=data.get("display_name") or None,
                                            email=data.get("email") or None, roles=(data["role"],))
        # the password the account starts with is one to change at its first login, as after a reset
        await accounts.reset_password(rt, actor, uid, temporary)
    except _Refused as exc:
        return await list_page(request, error=exc.message, status=exc.status, values=data)
    except Exception as exc:
        refused = _refusal(exc, lang)
        if refused is None:
            raise
        return await list_page(request, error=refused[0], status=refused[1], values=data)
    return await detail(request, user_id=uid, secret=(t("acct_created_password", lang), temporary))


def _one_time_password() -> str:
    import secrets

    return secrets.token_urlsafe(12)


# -- one account ------------------------------------------------------------------------------------------------


def _link_fields(rt: Any) -> list[tuple[Any, Any]]:
    """(entity, field) of every user field: a record linked to an account (a performer's ``account``)."""
    return [(e, f) for e in rt.config.entities for f in e.column_fields if f.type == "user"]


async def _links(request: Request, user: AdminUser, account: dict, may: bool) -> str:
    """The records linked to the account, with unlink buttons, and a form linking one more (records in the
    user's scope with the field empty)."""
    rt, lang, prefix = request.scope["hoso.admin"].rt, user.lang, _prefix(request)
    ctx = replace(user.ctx, lang=lang)
    service = rt.records()
    parts = []
    for entity, field in _link_fields(rt):
        if not user.may("read", entity.name) or field.name in user.hidden(entity.name):
            continue
        writable = may and user.may("update", entity.name) and field.name not in user.read_only(entity.name)
        title = entity.title_field or "id"
        linked, _n = await service.list(entity.name, ctx, filters={field.name: account["id"]}, page_size=50)
        rows = []
        for r in linked:
            button = (f'<form method="post" action="{prefix}{PAGE}{account["id"]}/unlink">{_csrf(request)}'
                      f'<input type="hidden" name="entity" value="{_e(entity.name)}">'
                      f'<input type="hidden" name="field" value="{_e(field.name)}">'
                      f'<input type="hidden" name="record" value="{r["id"]}">'
                      f'<input type="hidden" name="version" value="{r["sys_version"]}">'
                      f'<button class="button" type="submit">{_t("acct_do_unlink", lang)}</button></form>'
                      if writable else "")
            rows.append(f'<tr data-record="{r["id"]}"><td>{_e(r.get(title))}</td><td>{button}</td></tr>')
        heading = f"{entity.label.get(lang)} ({field.label.get(lang)})"
        block = (f'<h3>{_e(heading)}</h3><table class="list" id="hoso-account-links-{_e(entity.name)}">'
                 f'<tbody>{"".join(rows)}</tbody></table>' if rows
                 else f'<h3>{_e(heading)}</h3><p>{_t("acct_no_links", lang)}</p>')
        if writable:
            free, _n = await service.list(entity.name, ctx, filters={field.name: None}, sort=title,
                                          page_size=LINK_CHOICES)
            if free:
                options = "".join(f'<option value="{r["id"]}:{r["sys_version"]}">{_e(r.get(title))}</option>'
                                  for r in free)
                block += (f'<form method="post" action="{prefix}{PAGE}{account["id"]}/link" '
                          f'id="hoso-account-link-{_e(entity.name)}">{_csrf(request)}'
                          f'<input type="hidden" name="entity" value="{_e(entity.name)}">'
                          f'<input type="hidden" name="field" value="{_e(field.name)}">'
                          f'<label for="l-{_e(entity.name)}">{_t("acct_link_record", lang)}</label>'
                          f'<select id="l-{_e(entity.name)}" name="record">{options}</select>'
                          f'<button class="button" type="submit">{_t("acct_do_link", lang)}</button></form>')
        parts.append(block)
    return "".join(parts)


async def _history(rt: Any, user_id: int, lang: str) -> str:
    rows = await rt.db.fetch(
        "SELECT at, actor, action FROM hoso_audit WHERE entity = {} AND record_id = {} ORDER BY id DESC "
        f"LIMIT {HISTORY}", "hoso_user", user_id)
    if not rows:
        return ""
    body = "".join(f"<tr><td>{_e(_when(r['at']))}</td><td>{_e(r['actor'])}</td>"
                   f"<td>{_t(AUDIT_KEYS[r['action']], lang) if r['action'] in AUDIT_KEYS else _e(r['action'])}</td>"
                   "</tr>" for r in rows)
    return (f'<h3>{_t("acct_history", lang)}</h3><table class="list" id="hoso-account-history"><thead><tr>'
            f'<th>{_t("when", lang)}</th><th>{_t("who", lang)}</th><th>{_t("what", lang)}</th></tr></thead>'
            f"<tbody>{body}</tbody></table>")


def _action(request: Request, uid: int, name: str, lang: str, inner: str, button_key: str,
            title_key: str | None = None) -> str:
    title = f"<h3>{_t(title_key, lang)}</h3>" if title_key else ""
    return (f'<form method="post" action="{_prefix(request)}{PAGE}{uid}/{name}" id="hoso-account-{name}">'
            f'{_csrf(request)}{title}{inner}<button class="button" type="submit">{_t(button_key, lang)}</button>'
            "</form>")


async def detail(request: Request, *, user_id: int | None = None, error: str = "", status: int = 200,
                 secret: tuple[str, str] | None = None) -> Response:
    user = await _allowed(request)
    if isinstance(user, Response):
        return user
    rt, lang, prefix = request.scope["hoso.admin"].rt, user.lang, _prefix(request)
    actor = _actor(user)
    uid = user_id if user_id is not None else _user_id(request)
    try:
        await accounts.require_manages_account(rt, actor, uid)
    except Exception as exc:
        refused = _refusal(exc, lang)
        if refused is None:
            raise
        return _page(request, user, t("acct_page", lang), _error(refused[0]), refused[1])
    account = dict((await rt.db.fetch(
        "SELECT u.id AS id, u.username AS username, u.display_name AS display_name, u.email AS email, "
        "u.locked AS locked, u.must_change_password AS must_change_password, n.code AS unit_code, "
        "n.name_vi AS unit_name_vi, n.name_en AS unit_name_en FROM hoso_user u "
        "LEFT JOIN hoso_unit n ON n.id = u.unit_id WHERE u.id = {}", uid))[0])
    done = request.query_params.get("done")
    notice = t("acct_done", lang) if not error and done in ACTIONS else ""
    facts = [(t("acct_username", lang), account["username"]), (t("acct_name", lang), account["display_name"]),
             (t("acct_email", lang), account["email"]), (t("acct_unit", lang), _unit_name(account, lang, "unit_")),
             (t("acct_state", lang), t("acct_locked" if account["locked"] else "acct_active", lang)),
             (t("acct_must_change", lang), t("report_yes" if account["must_change_password"] else "report_no",
                                             lang))]
    info = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in facts)

    # assignments: current and past, with an end form on those not yet ended
    today = actor.today
    held = await accounts.assignments(rt, uid, today, active_only=False)
    grantable = await accounts.grantable(rt, actor)
    rows = []
    for a in held:
        ended = a["ends_on"] is not None and a["ends_on"] <= today
        end_form = ""
        if not ended and a["unit_id"] in {u["id"] for u in grantable.get(a["role"], [])}:
            end_form = (f'<form method="post" action="{prefix}{PAGE}{uid}/end" class="inline">{_csrf(request)}'
                        f'<input type="hidden" name="assignment" value="{a["id"]}">'
                        f'<input type="date" name="ends_on" aria-label="{_t("acct_ends_on", lang)}">'
                        f'<input name="reason" placeholder="{_t("acct_reason", lang)}">'
                        f'<button class="button" type="submit">{_t("acct_do_end", lang)}</button></form>')
        state = ' class="state-ended"' if ended else ""
        rows.append(f'<tr data-assignment="{a["id"]}" data-role="{_e(a["role"])}"{state}>'
                    f'<td>{_e(_role_label(rt, a["role"], lang))}</td><td>{_e(a["unit_code"])}</td>'
                    f'<td>{_day(a["starts_on"])}</td><td>{_day(a["ends_on"])}</td><td>{_e(a["end_reason"])}</td>'
                    f"<td>{end_form}</td></tr>")
    assignments_table = (
        f'<h3>{_t("acct_assignments", lang)}</h3><table class="list" id="hoso-account-assignments"><thead><tr>'
        f'<th>{_t("acct_role", lang)}</th><th>{_t("acct_unit", lang)}</th><th>{_t("acct_starts_on", lang)}</th>'
        f'<th>{_t("acct_ends_on", lang)}</th><th>{_t("acct_reason", lang)}</th><th></th></tr></thead>'
        f'<tbody>{"".join(rows)}</tbody></table>')

    token_rows = []
    for k in await tokens.list_tokens(rt, uid):
        live = k["revoked_at"] is None and (k["expires_on"] is None or k["expires_on"] > today)
        revoke = (f'<form method="post" action="{prefix}{PAGE}{uid}/revoke" class="inline">{_csrf(request)}'
                  f'<input type="hidden" name="token" value="{k["id"]}">'
                  f'<button class="button" type="submit">{_t("acct_do_revoke", lang)}</button></form>'
                  if k["revoked_at"] is None else "")
        state = _t("acct_token_live" if live else "acct_token_dead", lang)
        token_rows.append(f'<tr data-token="{k["id"]}"><td>{_e(k["name"])}</td><td>{_e(_when(k["created_at"]))}</td>'
                          f'<td>{_day(k["expires_on"])}</td><td>{_e(_when(k["last_used_at"]))}</td>'
                          f'<td>{state}</td><td>{revoke}</td></tr>')
    tokens_table = (
        f'<h3>{_t("acct_tokens", lang)}</h3><table class="list" id="hoso-account-tokens"><thead><tr>'
        f'<th>{_t("acct_token_name", lang)}</th><th>{_t("acct_token_created", lang)}</th>'
        f'<th>{_t("acct_expires_on", lang)}</th><th>{_t("acct_token_used", lang)}</th>'
        f'<th>{_t("acct_state", lang)}</th><th></th></tr></thead><tbody>{"".join(token_rows)}</tbody></table>'
        if token_rows else "")

    forms = []
    if grantable:
        forms.append(_action(request, uid, "grant", lang,
                             _grant_pickers(rt, grantable, lang, "g", {})
                             + f'<label for="g-start">{_t("acct_starts_on", lang)}</label>'
                               f'<input type="date" id="g-start" name="starts_on">'
                               f'<label for="g-end">{_t("acct_ends_on", lang)}</label>'
                               f'<input type="date" id="g-end" name="ends_on">',
                             "acct_do_grant", "acct_grant_title"))
        units = {u["id"]: u for rows_ in grantable.values() for u in rows_}
        unit_options = "".join(f'<option value="{_e(u["code"])}">{_e(_unit_name(u, lang))}</option>'
                               for u in sorted(units.values(), key=lambda u: u["code"]))
        forms.append(_action(request, uid, "transfer", lang,
                             f'<label for="t-unit">{_t("acct_unit", lang)}</label>'
                             f'<select id="t-unit" name="unit">{unit_options}</select>'
                             f'<label for="t-on">{_t("acct_transfer_on", lang)}</label>'
                             f'<input type="date" id="t-on" name="on">'
                             f'<label for="t-reason">{_t("acct_reason", lang)}</label>'
                             f'<input id="t-reason" name="reason">', "acct_do_transfer", "acct_transfer_title"))
    if account["locked"]:
        forms.append(_action(request, uid, "unlock", lang, "", "acct_do_unlock", "acct_unlock_title"))
    else:
        forms.append(_action(request, uid, "lock", lang,
                             f'<label for="k-reason">{_t("acct_reason", lang)}</label>'
                             f'<input id="k-reason" name="reason" required>', "acct_do_lock", "acct_lock_title"))
    forms.append(_action(request, uid, "reset", lang, f'<p>{_t("acct_reset_hint", lang)}</p>', "acct_do_reset",
                         "acct_reset_title"))
    forms.append(_action(request, uid, "token", lang,
                         f'<label for="n-name">{_t("acct_token_name", lang)}</label>'
                         f'<input id="n-name" name="name" required>'
                         f'<label for="n-exp">{_t("acct_expires_on", lang)}</label>'
                         f'<input type="date" id="n-exp" name="expires_on">'
                         f'<p>{_t("acct_token_hint", lang)}</p>', "acct_do_token", "acct_token_title"))
    shown = ""
    if secret is not None:
        shown = (f'<div class="notice" id="hoso-account-secret"><p>{_e(secret[0])}</p>'
                 f'<p><code class="secret">{_e(secret[1])}</code></p><p>{_t("acct_shown_once", lang)}</p></div>')
    main = (f'{_error(error) if error else ""}'
            f'{_notice(notice)}{shown}'
            f'<table class="list" id="hoso-account-info">{info}</table>{assignments_table}{tokens_table}'
            f'{await _links(request, user, account, True)}'
            f'<div class="actions" id="hoso-account-actions">{"".join(forms)}</div>'
            f'{await _history(rt, uid, lang)}')
    return _page(request, user, f'{t("acct_page", lang)}: {account["username"]}', main, status)


async def detail_page(request: Request) -> Response:
    return await detail(request)


async def _link(rt: Any, user: AdminUser, uid: int, data: dict[str, str], link: bool) -> None:
    """Set (or clear) a user field of a record through the record service, for an account the user manages."""
    lang = user.lang
    pair = next(((e, f) for e, f in _link_fields(rt) if e.name == data.get("entity")
                 and f.name == data.get("field")), None)
    if pair is None:
        raise _Refused(t("acct_bad_choice", lang, field=t("acct_link_record", lang)), 422)
    entity, field = pair
    record, _, version = (data.get("record") or "").partition(":")
    record_id = _int(record, lang, "acct_link_record")
    version_n = _int(version or data.get("version"), lang, "acct_link_record")
    await accounts.require_manages_account(rt, _actor(user), uid)
    ctx = replace(user.ctx, lang=lang)
    if not link:
        current = await rt.records().get(entity.name, record_id, ctx)
        if current.get(field.name) != uid:
            raise _Refused(t("acct_not_linked", lang), 422)
    await rt.records().update(entity.name, record_id, {field.name: uid if link else None}, version_n, ctx)


async def act(request: Request) -> Response:
    user = await _allowed(request)
    if isinstance(user, Response):
        return user
    rt, lang = request.scope["hoso.admin"].rt, user.lang
    name = request.path_params["action"]
    uid = _user_id(request)
    if name not in ACTIONS or not uid:
        return Response(t("page_not_found", lang), status_code=404, media_type="text/plain")
    data = await _form(request)
    actor = _actor(user)
    secret = None
    try:
        if name == "grant":
            await accounts.grant_role(rt, actor, uid, data.get("role", ""), data.get("unit", ""),
                                      starts_on=_date(data.get("starts_on"), lang, "acct_starts_on"),
                                      ends_on=_date(data.get("ends_on"), lang, "acct_ends_on"))
        elif name == "end":
            aid = _int(data.get("assignment"), lang, "acct_assignments")
            owner = await rt.db.fetchval("SELECT user_id FROM hoso_assignment WHERE id = {}", aid)
            if owner is not None and owner != uid:  # the assignment of another account than this page's
                raise _Refused(t("acct_bad_choice", lang, field=t("acct_assignments", lang)), 422)
            await accounts.end_assignment(rt, actor, aid, _date(data.get("ends_on"), lang, "acct_ends_on"),
                                          data.get("reason", ""))
        elif name == "transfer":
            await accounts.transfer(rt, actor, uid, data.get("unit", ""),
                                    on=_date(data.get("on"), lang, "acct_transfer_on"),
                                    reason=data.get("reason") or "chuyển công tác")
        elif name == "lock":
            if not data.get("reason"):
                raise _Refused(t("acct_reason_needed", lang), 422)
            await accounts.lock(rt, actor, uid, data["reason"])
        elif name == "unlock":
            await accounts.unlock(rt, actor, uid)
        elif name == "reset":
            secret = (t("acct_reset_password", lang), await accounts.reset_password(rt, actor, uid))
        elif name == "token":
            expires = _date(data.get("expires_on"), lang, "acct_expires_on")
            if expires is not None and expires <= actor.today:
                raise _Refused(t("acct_expiry_past", lang), 422)
            _tid, token = await tokens.create_token(rt, actor, uid, data.get("name", ""), expires)
            secret = (t("acct_token_created_once", lang), token)
        elif name == "revoke":
            tid = _int(data.get("token"), lang, "acct_tokens")
            owner = await rt.db.fetchval("SELECT user_id FROM hoso_api_token WHERE id = {}", tid)
            if owner != uid:  # a token of another account than this page's (or none)
                raise _Refused(t("acct_bad_choice", lang, field=t("acct_tokens", lang)), 422)
            await tokens.revoke_token(rt, actor, tid)
        else:
            await _link(rt, user, uid, data, name == "link")
    except _Refused as exc:
        return await detail(request, error=exc.message, status=exc.status)
    except Exception as exc:
        refused = _refusal(exc, lang)
        if refused is None:
            raise
        return await detail(request, error=refused[0], status=refused[1])
    if secret is not None:
        return await detail(request, secret=secret)
    return RedirectResponse(f"{_prefix(request)}{PAGE}{uid}?{urlencode({'done': name})}", status_code=303)


def routes() -> list[Route]:
    return [
        Route(PAGE, list_page, methods=["GET"]),
        Route(PAGE + "create", create, methods=["POST"]),
        Route(PAGE + "{user_id:int}", detail_page, methods=["GET"]),
        Route(PAGE + "{user_id:int}/{action:str}", act, methods=["POST"]),
    ]
