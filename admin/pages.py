"""hoso's own pages inside the admin (``/admin/hoso/...``), next to piccolo-admin's single-page app.

* ``admin.js`` (loaded by the admin's index page) shows entity labels instead of table names in the sidebar and
  headings, a bounded count as "more than 10,000" under a list, and adds a "history" link to a record's page;
* ``labels/``: the labels it uses, in the user's language;
* ``history/<table>/<id>``: the old address of a record's history, now its record page
  (``/hoso/record/<entity>/<id>/``, ``hoso.admin.record_page``); ``history/?table=&record=`` finds a record by
  code or id (a code several records share is refused, listing them);
* ``files/<attachment id>``: downloads one stored file version through ``RecordService.download``
  (``?inline=1``: shown in the page, for PDF and images).

Every page needs a live hoso session and shows only what the record service lets the user read.
"""

from __future__ import annotations

import datetime as dt
import html
from typing import TYPE_CHECKING, Any
from urllib.parse import quote as url_quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from hoso.admin.auth import AdminUser, admin_user
from hoso.i18n import t
from hoso.jsonconv import dumps
from hoso.records.errors import NotFound, RecordError
from hoso.reports.params import runnable
from hoso.settings import get as setting

if TYPE_CHECKING:  # pragma: no cover
    from hoso.admin.app import AdminBuild

__all__ = ["routes", "inject", "inject_first", "count_text", "SCRIPT"]

INLINE_TYPES = frozenset({"application/pdf", "image/png", "image/jpeg", "image/gif", "image/webp"})

SCRIPT = r"""(function () {
  var labels = null, asked = 0, loading = false, ui = null, patterns = [];
  // The language the page was loaded in (the admin's cookie, which piccolo-admin's translation request sets).
  function cookieLang() {
    var m = /(?:^|; )hoso_admin_lang=([^;]*)/.exec(document.cookie);
    return m ? m[1] : '';
  }
  var startLang = cookieLang();
  // One request for the labels at a time, at most one every half second while the page changes; until the user
  // has logged in, a refused request is asked again a second later (the retry is never throttled: a throttled retry
  // ended the chain, and the page stayed unlabelled after the login).
  function load() {
    var now = Date.now();
    if (labels || loading || now - asked < 500) return;
    asked = now;
    loading = true;
    fetch('./hoso/labels/', {credentials: 'same-origin'})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (j) {
        loading = false;
        if (j) {
          labels = j;
          ui = j.ui ? j.ui.texts : null;
          patterns = j.ui ? j.ui.patterns.map(function (p) { return [new RegExp(p[0]), p[1]]; }) : [];
          if (heldAlerts.length) showHeldAlerts();
          relabel();
        } else { retry(); }  // not logged in yet
      })
      .catch(function () { loading = false; retry(); });
  }
  // one pending retry at a time (two chains of retries would keep the network busy for good)
  var retryTimer = 0;
  function retry() {
    if (retryTimer) return;
    retryTimer = setTimeout(function () { retryTimer = 0; asked = 0; load(); }, 1000);
  }
  function spaced(name) { return name.split('_').join(' '); }
  // piccolo-admin's strings that bypass its translations (literal template text, toasts, alerts, option codes):
  // a text equal to a key of ui.texts, or matching one of the patterns, is replaced. No value is a key, so a
  // relabelled page is left as it is (relabelling again changes nothing: no loop with the MutationObserver).
  function tr(text) {
    if (!ui || text === null || text === undefined) return null;
    var key = String(text).trim();
    if (!key) return null;
    if (Object.prototype.hasOwnProperty.call(ui, key)) {
      var to = ui[key];
      return String(text).replace(key, function () { return to; });
    }
    for (var i = 0; i < patterns.length; i++) {
      if (patterns[i][0].test(key)) return String(text).replace(key, key.replace(patterns[i][0], patterns[i][1]));
    }
    return null;
  }
  function pad(n) { return (n < 10 ? '0' : '') + n; }
  var stamp = new Intl.DateTimeFormat('en-GB', {timeZone: 'Asia/Ho_Chi_Minh', day: '2-digit', month: '2-digit',
    year: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23'});
  // A value in a list cell: dates as dd/mm/yyyy, times in Vietnam's zone, piccolo-admin's NULL marker as blank.
  function cell(text, parent) {
    var key = text.trim(), m;
    if (key === 'NULL' && parent.nodeName === 'CODE') return '';
    if ((m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(key))) return m[3] + '/' + m[2] + '/' + m[1];
    if ((m = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/.exec(key))) {
      var d = new Date(key.replace(' ', 'T'));
      if (!isNaN(d.getTime())) return stamp.format(d).replace(',', '');
    }
    if ((m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(:\d{2}(\.\d+)?)?$/.exec(key))) {
      return m[3] + '/' + m[2] + '/' + m[1] + ' ' + m[4] + ':' + m[5];
    }
    return null;
  }
  function relabelTexts() {
    if (!ui || !document.body) return;
    var walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT), n, changes = [];
    while ((n = walker.nextNode())) {
      var parent = n.parentNode;
      if (!parent || /^(SCRIPT|STYLE|TEXTAREA)$/.test(parent.nodeName) || !n.nodeValue.trim()) continue;
      if (parent.closest && parent.closest('#hoso-home-panel, .hoso-home')) continue;  // hoso's own, translated
      var out = parent.closest && parent.closest('td') ? cell(n.nodeValue, parent) : tr(n.nodeValue);
      if (out !== null && out !== n.nodeValue) changes.push([n, out]);
    }
    changes.forEach(function (c) { c[0].nodeValue = c[1]; });
    document.querySelectorAll('[title], [placeholder], option[label]').forEach(function (el) {
      ['title', 'placeholder', 'label'].forEach(function (name) {
        var value = el.getAttribute(name), out = tr(value);
        if (out !== null && out !== value) el.setAttribute(name, out);
      });
    });
    // the sidebar's links (history, reports...) in the user's language
    if (labels && labels.links) {
      document.querySelectorAll('.sidebar a[href] span').forEach(function (el) {
        var label = labels.links[el.parentNode.getAttribute('href')];
        if (label && el.textContent !== label) el.textContent = label;
      });
    }
  }
  var nativeAlert = window.alert, nativeConfirm = window.confirm;
  // An alert raised before the user's words have arrived (piccolo-admin's "Page not found" on a record it was refused,
  // right after logging in) waits for them, up to three seconds, so it is shown in the user's language. An alert
  // returns nothing, so waiting changes nothing for the page; a confirmation's answer is needed at once.
  var heldAlerts = [], heldTimer = 0;
  function showHeldAlerts() {
    if (heldTimer) { clearTimeout(heldTimer); heldTimer = 0; }
    var messages = heldAlerts;
    heldAlerts = [];
    messages.forEach(function (message) {
      var out = tr(message);
      nativeAlert.call(window, out === null ? message : out);
    });
  }
  window.alert = function (message) {
    if (!ui) {
      heldAlerts.push(message);
      if (!heldTimer) heldTimer = setTimeout(showHeldAlerts, 3000);
      load();
      return;
    }
    var out = tr(message);
    return nativeAlert.call(window, out === null ? message : out);
  };
  window.confirm = function (message) {
    var out = tr(message);
    return nativeConfirm.call(window, out === null ? message : out);
  };
  // The user's home page, drawn inside piccolo-admin's home view (what a user lands on after logging in).
  var homeAsked = 0;
  function homePanel() {
    var welcome = document.querySelector('.welcome');
    if (!welcome || !/^(#\/?)?$/.test(location.hash) || document.getElementById('hoso-home-panel')) return;
    if (Date.now() - homeAsked < 2000) return;
    homeAsked = Date.now();
    fetch('./hoso/home/?part=fragment', {credentials: 'same-origin'})
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        var here = document.querySelector('.welcome');
        if (!html || !here || document.getElementById('hoso-home-panel')) return;
        var panel = document.createElement('div');
        panel.id = 'hoso-home-panel';
        panel.innerHTML = html;
        here.insertAdjacentElement('afterend', panel);
      })
      .catch(function () {});
  }
  function relabel() {
    if (!labels) { load(); return; }
    relabelTexts();
    homePanel();
    var tables = labels.tables;
    document.querySelectorAll('.table_list li a span').forEach(function (el) {
      var key = el.getAttribute('data-hoso-table') || el.textContent.trim().split(' ').join('_');
      if (tables[key] && el.textContent !== tables[key]) {
        el.setAttribute('data-hoso-table', key);
        el.textContent = tables[key];
      }
    });
    document.querySelectorAll('h1').forEach(function (el) {
      // A heading this script wrote is left alone: an English label ends with the table's name ("Legal aid
      // case" for "case"), and relabelling it again on every change it makes froze the page for good.
      if (el.children.length || el.getAttribute('data-hoso-label') === el.textContent) return;
      var text = el.textContent, lower = text.toLowerCase();
      var name = Object.keys(tables).find(function (n) {
        var raw = spaced(n);
        return lower === raw || lower.endsWith(' ' + raw);
      });
      if (name === undefined) return;
      var label = text.slice(0, text.length - spaced(name).length) + tables[name];
      el.setAttribute('data-hoso-label', label);
      if (el.textContent !== label) el.textContent = label;
    });
    // A count that stopped at its bound (HOSO_LIST_COUNT_CAP + 1 rows) is shown as "more than" the cap, the
    // planner's estimate (a count that was not cheap) as "about".
    if (lastCount && (lastCount.bounded || lastCount.estimated)) {
      var token = ' ' + lastCount.count + ' ';
      var said = lastCount.bounded ? labels.count_more : labels.count_about.replace('{n}', lastCount.count);
      document.querySelectorAll('p').forEach(function (el) {
        // said once: "about 2437" holds the number again, and a page that rewrote it on every change froze
        if (el.children.length || el.textContent.indexOf(token) === -1 || el.textContent.indexOf(said) !== -1) return;
        var text = el.textContent, at = text.lastIndexOf(token);  // "Showing 2 of 2": the count comes last
        el.textContent = text.slice(0, at) + ' ' + said + ' ' + text.slice(at + token.length);
      });
    }
    // the CSV export only for tables the user's roles may export
    var listed = location.hash.match(/^#\/([^\/?]+)\/?(\?.*)?$/);
    document.documentElement.classList.toggle('hoso-no-export',
      !(listed && labels.export && labels.export.indexOf(listed[1]) !== -1));
    // the reports link only for users who may run a report
    document.documentElement.classList.toggle('hoso-reports', !!labels.reports);
    var match = location.hash.match(/^#\/([^\/?]+)\/(\d+)\/?$/);
    var old = document.getElementById('hoso-history-link');
    if (match && tables[match[1]]) {
      var href = './hoso/history/' + match[1] + '/' + match[2];
      if (!old || old.getAttribute('href') !== href) {
        if (old) old.remove();
        var h1 = Array.prototype.find.call(document.querySelectorAll('h1'), function (h) {
          return h.offsetParent !== null && !h.querySelector('a[href="#/"]');
        });
        if (h1) {
          var a = document.createElement('a');
          a.id = 'hoso-history-link';
          a.href = href;
          a.textContent = labels.history;
          a.style.display = 'inline-block';
          a.style.margin = '0 0 1em 0';
          h1.insertAdjacentElement('afterend', a);
        }
      }
    } else if (old) {
      old.remove();
    }
  }
  // The CSV export reads as many pages as the count says: its count is asked exact (the list's stops at
  // 10,001). piccolo-admin asks through XMLHttpRequest; a click on the export's download button marks the count
  // requests of the next seconds.
  var exporting = 0;
  document.addEventListener('click', function (ev) {
    if (ev.target.closest && ev.target.closest('[data-uitest="download_csv_button"]')) exporting = Date.now();
  }, true);
  // The list's count answers say whether the count is bounded or estimated: the last one is kept for relabel().
  var open = XMLHttpRequest.prototype.open, lastCount = null;
  XMLHttpRequest.prototype.open = function (method, url) {
    var args = Array.prototype.slice.call(arguments), xhr = this;
    // Choosing a language loads piccolo-admin's translation, whose answer sets the admin's language cookie: the
    // labels (entities, fields, hoso's pages) then follow. A page loaded in another language is reloaded once.
    if (/\/public\/translations\/[A-Za-z-]+\/?$/.test(String(url))) {
      xhr.addEventListener('load', function () {
        var now = cookieLang();
        if (xhr.status !== 200 || !now) return;
        if (startLang && now !== startLang) { location.reload(); return; }
        startLang = now;
        if (labels) { labels = null; asked = 0; load(); }  // logged in: the labels in the new language
      });
    }
    if (/\/tables\/[^\/?]+\/count\/?(\?|$)/.test(String(url))) {
      if (Date.now() - exporting < 10000) {
        args[1] = String(url) + (String(url).indexOf('?') === -1 ? '?' : '&') + '__exact=1';
      } else {
        xhr.addEventListener('load', function () {
          try { lastCount = JSON.parse(xhr.responseText); } catch (e) { lastCount = null; }
          relabel();
        });
      }
    }
    return open.apply(this, args);
  };
  var style = document.createElement('style');
  style.textContent = '.sidebar ul li a span, h1, select, option { text-transform: none !important; }\n' +
    // units and accounts are managed with the hoso commands, not added from a form
    'a.add[href="#/hoso_unit/add/"], a.add[href="#/hoso_user/add/"] { display: none; }\n' +
    '.hoso-no-export a[data-uitest="csv_button"] { display: none !important; }\n' +
    'html:not(.hoso-reports) a[href="./hoso/reports/"], html:not(.hoso-reports) a[href="./hoso/approvals/"] ' +
    '{ display: none !important; }';
  document.head.appendChild(style);
  new MutationObserver(function () { relabel(); })
    .observe(document.documentElement, {subtree: true, childList: true, characterData: true});
  window.addEventListener('hashchange', relabel);
  load();
  // An account whose password was reset may do nothing else (403 naming it): open the change page.
  function passwordFirst() {
    if (/^#\/(change-password|login)/.test(location.hash)) return;
    fetch('./api/tables/', {credentials: 'same-origin'})
      .then(function (r) { return r.status === 403 ? r.json() : null; })
      .then(function (j) { if (j && j.must_change_password) location.hash = '#/change-password/'; })
      .catch(function () {});
  }
  window.addEventListener('hashchange', passwordFirst);
  // The admin's router moves with history.pushState (no hashchange): after a login with a one-time password
  // the change page must open as well.
  ['pushState', 'replaceState'].forEach(function (name) {
    var original = history[name];
    history[name] = function () {
      var result = original.apply(this, arguments);
      setTimeout(passwordFirst, 0);
      return result;
    };
  });
  passwordFirst();
})();
"""


def inject_first(template: str, tag: str) -> str:
    """``template`` (piccolo-admin's index page) with ``tag`` first in its head. Deferred scripts and module scripts
    run in the order of the page, so a script placed there runs before piccolo-admin's and sees its very first
    requests; after piccolo-admin's, a script slow to arrive ran too late for them."""
    if tag in template:
        return template
    return template.replace("<head>", f"<head>\n  {tag}", 1) if "<head>" in template else \
        template.replace("</head>", f"  {tag}\n</head>", 1)


def count_text(n: int, lang: str) -> str:
    """A whole number as the user's language writes it: 10.000 in Vietnamese, 10,000 in English."""
    return f"{int(n):,}".replace(",", "." if lang == "vi" else ",")


def inject(template: str) -> str:
    """piccolo-admin's index page with hoso's script, first in the head (``inject_first``): it watches
    piccolo-admin's translation, whose answer sets the language cookie. After piccolo-admin's, it came too late
    when it was slow to arrive, missed that answer, and an English page kept a Vietnamese sidebar (asked for with
    the cookie before it)."""
    return inject_first(template, '<script src="./hoso/admin.js" defer></script>')


def _build(request: Request) -> AdminBuild:
    return request.scope["hoso.admin"]


def _prefix(request: Request) -> str:
    return request.scope.get("root_path", "").rstrip("/")


async def _page_user(request: Request) -> AdminUser | Response:
    user = await admin_user(request)
    if user is not None and user.current.must_change_password:
        lang = request.cookies.get("hoso_admin_lang") or _build(request).admin.default_language
        return HTMLResponse(_page(t("pw_change_required", lang), f'<p><a href="{_prefix(request)}/#/change-password/">'
                                  f'{html.escape(t("pw_change_required", lang))}</a></p>'), status_code=403)
    if user is None:
        lang = request.cookies.get("hoso_admin_lang") or _build(request).admin.default_language
        return HTMLResponse(_page(t("login_needed", lang), f'<p><a href="{_prefix(request)}/#/login/">'
                                  f'{html.escape(t("back", lang))}</a></p>'), status_code=401)
    return user


def _page(title: str, body: str) -> str:
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>" + html.escape(title) + "</title><style>"
            "body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}"
            "td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}"
            "th{background:#f3f3f3}code{white-space:pre-wrap}</style></head><body><h1>" + html.escape(title)
            + "</h1>" + body + "</body></html>")


async def script(request: Request) -> Response:
    return Response(SCRIPT, media_type="text/javascript", headers={"Cache-Control": "no-cache"})


async def labels(request: Request) -> Response:
    user = await admin_user(request)
    if user is None:
        return JSONResponse({"error": "Auth failed"}, status_code=401)
    build = _build(request)
    tables = {s.tablename: label for s, label in build.table_labels(user.lang)
              if build.cruds[s.tablename].may_read(user)}
    export = [s.tablename for s in build.tables.specs.values() if build.cruds[s.tablename]._may_export(user)]
    reports = bool(await runnable(build.rt, user.ctx))
    cap = count_text(setting("HOSO_LIST_COUNT_CAP"), user.lang)
    from hoso.admin.translations import ui_texts
    from hoso.plugin_manager import collect

    lang = user.lang
    links = {"./hoso/history/": t("history", lang), "./hoso/reports/": t("reports", lang),
             "./hoso/import/": t("import_title", lang), "./hoso/approvals/": t("approvals", lang),
             "./hoso/jobs/": t("jobs_page", lang), "./hoso/search/": t("search_title", lang),
             "./hoso/accounts/": t("acct_page", lang),
             **{e.href: e.label.get(lang) or e.label["vi"]  # the plugins' sidebar links (plugin_pages.menu_links)
                for e in collect(build.rt.pm, "hoso_admin_menu_entries", lambda e: [e.href], "admin menu entry",
                                 config=build.rt.config)}}
    return JSONResponse({"tables": tables, "history": t("history", user.lang), "export": export, "reports": reports,
                         "ui": ui_texts(lang), "links": links, "lang": lang,
                         "count_more": t("admin_count_more", user.lang, count=cap),
                         "count_about": t("admin_count_about", user.lang, count="{n}")})


async def download(request: Request) -> Response:
    user = await _page_user(request)
    if isinstance(user, Response):
        return user
    build = _build(request)
    rows = await build.rt.db.fetch("SELECT entity, record_id, field, version FROM hoso_attachment WHERE id = {}",
                                   request.path_params["attachment_id"])
    if not rows or not build.rt.config.has_entity(rows[0]["entity"]):
        return Response(t("admin_not_found", user.lang), status_code=404, media_type="text/plain")
    row = rows[0]
    try:
        info, chunks = await build.rt.records().download(row["entity"], row["record_id"], row["field"], user.ctx,
                                                         version=row["version"])
    except RecordError:
        return Response(t("admin_not_found", user.lang), status_code=404, media_type="text/plain")
    # ``?inline=1``: shown in the page (the record page's previews), for PDF and images only
    inline = request.query_params.get("inline") == "1" and \
        info.content_type.split(";")[0].strip().lower() in INLINE_TYPES
    disposition = f"{'inline' if inline else 'attachment'}; filename*=UTF-8''{url_quote(info.filename)}"
    headers = {"Content-Disposition": disposition, "Content-Length": str(info.size),
               "X-Content-Type-Options": "nosniff"}
    return StreamingResponse(chunks, media_type=info.content_type, headers=headers)


def _value(v: Any) -> str:
    if isinstance(v, dt.datetime):
        return v.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(v, (list, dict)):
        return dumps(v)
    return "" if v is None else str(v)


async def history_lookup(request: Request) -> Response:
    user = await _page_user(request)
    if isinstance(user, Response):
        return user
    build = _build(request)
    lang = user.lang
    table = request.query_params.get("table")
    record = request.query_params.get("record")
    specs = build.menu_tables(user)
    error = ""
    if table and record:
        spec = next((s for s in specs if s.tablename == table and s.kind == "entity"), None)
        if spec is not None:
            from hoso.admin.forms import resolve_record

            try:
                record_id = await resolve_record(build, user, spec.entity_def, record)
                return RedirectResponse(f"{_prefix(request)}/hoso/history/{spec.tablename}/{record_id}",
                                        status_code=303)
            except NotFound as exc:
                error = f"<p><strong>{html.escape(str(exc))}</strong></p>"
    options = "".join(f'<option value="{html.escape(s.tablename)}">{html.escape(s.entity_def.label.get(lang))}</option>'
                      for s in specs if s.kind == "entity")
    body = (error + f'<form method="get"><select name="table">{options}</select> '
            f'<input name="record" placeholder="{html.escape(t("record", lang))}"> '
            f'<button type="submit">OK</button></form>'
            f'<p><a href="{_prefix(request)}/">{html.escape(t("back", lang))}</a></p>')
    return HTMLResponse(_page(t("history", lang), body))


async def history(request: Request) -> Response:
    """The old history address: the record's page (``hoso.admin.record_page``) shows its history."""
    user = await _page_user(request)
    if isinstance(user, Response):
        return user
    spec = _build(request).tables.specs.get(request.path_params["table"])
    if spec is None or spec.kind != "entity":
        return HTMLResponse(_page(t("admin_not_found", user.lang), ""), status_code=404)
    return RedirectResponse(f"{_prefix(request)}/hoso/record/{spec.entity_def.name}/{request.path_params['row_id']}/",
                            status_code=301)


def routes() -> list[Route]:
    return [
        Route("/hoso/admin.js", script, methods=["GET"]),
        Route("/hoso/labels/", labels, methods=["GET"]),
        Route("/hoso/files/{attachment_id:int}", download, methods=["GET"]),
        Route("/hoso/history/", history_lookup, methods=["GET"]),
        Route("/hoso/history/{table:str}/{row_id:int}", history, methods=["GET"]),
    ]
