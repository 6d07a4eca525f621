"""The admin's search page (``/admin/hoso/search/?q=...``): records of every entity the user may read, as they type.

The page is in the look of the admin's own pages (the reports page's frame); it answers with the hits of
``hoso.web.search_api.search_everything`` (the record search of each entity, the user's scope in SQL), grouped by
entity, each linking to the record's page in the admin. The text lives in the URL, so a search can be bookmarked
or shared; as the user types, the page asks for the results again (``?q=...&part=results``) and keeps the URL in
step. A text that cannot be searched for (too long, a NUL character) is said so, with status 400.

The admin's list pages load ``lists.js`` from here: the filter applied is kept in the page's address, dates and
numbers get from/to inputs, and each user's **saved filters** (``hoso_saved_filter``: a name and the list's
address query, per user and list, at most 50) are listed beside the filter button, through
``/admin/hoso/search/filters/`` (GET ``?table=``, POST ``{table, name, query}``, DELETE ``?id=``; only the user's
own, only lists the user may read).
"""

from __future__ import annotations

import datetime as dt
import html
import json
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from hoso.admin.pages import _page_user, _prefix
from hoso.admin.reports import _shell
from hoso.i18n import t
from hoso.records.search import fold
from hoso.web.search_api import MAX_QUERY, query_problem, search_everything

__all__ = ["routes", "PAGE", "inject"]

PAGE = "/hoso/search/"
PER_ENTITY = 8

SCRIPT = r"""(function () {
  var box = document.getElementById('hoso-search-q'), out = document.getElementById('hoso-search-results');
  var timer = null, asked = '';
  box.addEventListener('input', function () {
    clearTimeout(timer);
    timer = setTimeout(function () {
      var q = box.value;
      if (q === asked) return;
      asked = q;
      var url = location.pathname + (q.trim() ? '?' + new URLSearchParams({q: q}).toString() : '');
      history.replaceState(null, '', url);
      if (!q.trim()) { out.innerHTML = ''; return; }
      fetch(location.pathname + '?' + new URLSearchParams({q: q, part: 'results'}).toString(),
            {credentials: 'same-origin'})
        .then(function (r) { return r.text(); })
        .then(function (body) { if (box.value === q) out.innerHTML = body; });
    }, 200);
  });
})();"""

STYLE = """<style>
.hits{list-style:none;padding:0;margin:.3rem 0 1rem}.hits li{padding:.35rem 0;border-bottom:1px solid #eee}
.hits .code{font-variant-numeric:tabular-nums;color:#555;margin-right:.5rem}.hits .unit{color:#777;font-size:.85rem}
#hoso-search-q{font-size:1rem}
</style>"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _results(prefix: str, groups: list[dict], lang: str) -> str:
    if not groups:
        return f'<p id="hoso-search-none">{_e(t("search_none", lang))}</p>'
    out = []
    for g in groups:
        items = []
        for i in g["items"]:
            label = i["title"] if i["title"] not in (None, "") else f"#{i['id']}"
            code = f'<span class="code">{_e(i["code"])}</span>' if i["code"] and i["code"] != label else ""
            unit = f' <span class="unit">{_e(i.get("unit_name"))}</span>' if i.get("unit_name") else ""
            items.append(f'<li>{code}<a href="{prefix}{_e(i["admin_link"])}">{_e(label)}</a>{unit}</li>')
        more = ""
        if g["more"]:
            table = g["items"][0]["admin_link"].split("#/", 1)[1].split("/", 1)[0]
            more = f'<p><a href="{prefix}/#/{_e(table)}">{_e(t("search_more", lang))}</a></p>'
        out.append(f'<section class="hoso-search-group" data-entity="{_e(g["entity"])}"><h3>{_e(g["label"])}</h3>'
                   f'<ul class="hits">{"".join(items)}</ul>{more}</section>')
    return "".join(out)


async def page(request: Request) -> Response:
    user = await _page_user(request)
    if isinstance(user, Response):
        return user
    lang, prefix = user.lang, _prefix(request)
    q = request.query_params.get("q") or ""
    status, body = 200, ""
    if fold(q):
        bad = query_problem(q, lang)
        if bad is not None:
            status, body = 400, f'<div class="errors" id="hoso-search-error">{_e(bad)}</div>'
        else:
            rt = request.scope["hoso.admin"].rt
            groups = await search_everything(rt, replace(user.ctx, lang=lang), q, PER_ENTITY, admin_mount="")
            body = _results(prefix, groups, lang)
    if request.query_params.get("part") == "results":
        return HTMLResponse(body, status_code=status)
    title = t("search_title", lang)
    form = (f'<form method="get" action="{prefix}{PAGE}"><label for="hoso-search-q">{_e(title)}</label>'
            f'<input id="hoso-search-q" name="q" type="search" autofocus autocomplete="off" maxlength="{MAX_QUERY}"'
            f' value="{_e(q[:MAX_QUERY])}" placeholder="{_e(t("search_placeholder", lang))}"></form>')
    main = f'<div id="hoso-search-results">{body}</div>'
    script = f'<script src="{prefix}{PAGE}search.js"></script>'
    return HTMLResponse(_shell(prefix, title, form, main, STYLE + script), status_code=status)


async def search_script(request: Request) -> Response:
    return Response(SCRIPT, media_type="text/javascript", headers={"Cache-Control": "no-cache"})


# The admin's list pages: a filter applied is written into the page's address (``#/case/?requester_name=...``),
# which piccolo-admin reads back when the page opens, so the address reproduces the filter; dates and numbers get
# two more inputs in the filter form, ``field__from`` and ``field__to``, which its form sends with the others;
# beside the filter button, the user's saved filters of the list (choosing one opens its address), a button that
# saves the current filter under a name, and one that deletes the chosen one.
LIST_SCRIPT = r"""(function () {
  var KEEP = /^(__order|.+__operator|.+__match)$/, SKIP = /^__/;
  var open = XMLHttpRequest.prototype.open;
  XMLHttpRequest.prototype.open = function (method, url) {
    try {
      var m = /api\/tables\/([A-Za-z0-9_]+)\/\?(.*)$/.exec(String(url));
      var here = /^#\/([A-Za-z0-9_]+)\/?(\?|$)/.exec(location.hash);
      if (method === 'GET' && m && here && here[1] === m[1]) {
        var params = new URLSearchParams(m[2]), keep = new URLSearchParams();
        params.forEach(function (v, k) { if (!SKIP.test(k) || KEEP.test(k)) keep.append(k, v); });
        var query = keep.toString();
        var hash = '#/' + m[1] + '/' + (query ? '?' + query : '');
        if (hash !== location.hash) history.replaceState(history.state, '', hash);
      }
    } catch (e) { /* the address is a convenience: never stop a request */ }
    return open.apply(this, arguments);
  };
  var schemas = {};
  function ranges() {
    var here = /^#\/([A-Za-z0-9_]+)\/?(\?|$)/.exec(location.hash);
    if (!here) return;
    var table = here[1];
    if (!schemas[table]) {
      schemas[table] = 'asked';
      fetch('./api/tables/' + table + '/schema/', {credentials: 'same-origin'})
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (j) { schemas[table] = j || 'none'; ranges(); });
      return;
    }
    var schema = schemas[table];
    if (typeof schema !== 'object') return;
    var query = new URLSearchParams((location.hash.split('?')[1]) || '');
    Object.keys(schema.properties || {}).forEach(function (name) {
      var prop = schema.properties[name], kinds = [prop].concat(prop.anyOf || []), kind = null;
      kinds.forEach(function (k) {
        if (k.format === 'date') kind = 'date';
        else if ((k.type === 'integer' || k.type === 'number') && !kind) kind = 'number';
      });
      if ((prop.extra && prop.extra.foreign_key) || name === 'id') kind = null;
      if (!kind) return;
      var op = document.querySelector('select[name="' + name + '__operator"]');
      if (!op || !op.form || op.form.querySelector('[name="' + name + '__from"]')) return;
      var box = document.createElement('div');
      box.className = 'hoso-range';
      box.setAttribute('data-field', name);
      ['from', 'to'].forEach(function (bound) {
        var label = document.createElement('label'), input = document.createElement('input');
        label.textContent = bound === 'from' ? WORDS.from : WORDS.to;
        input.type = kind;
        input.name = name + '__' + bound;
        input.value = query.get(name + '__' + bound) || '';
        label.appendChild(input);
        box.appendChild(label);
      });
      op.parentNode.appendChild(box);
    });
  }
  function csrf() {
    var m = /(?:^|; )csrftoken=([^;]*)/.exec(document.cookie);
    return m ? decodeURIComponent(m[1]) : '';
  }
  var shown = {};
  function saved() {
    var here = /^#\/([A-Za-z0-9_]+)\/?(\?|$)/.exec(location.hash);
    var anchor = document.querySelector('[data-uitest=filter_button]');
    if (!here || !anchor) return;
    var table = here[1], bar = document.getElementById('hoso-saved-filters');
    if (bar && bar.getAttribute('data-table') === table) return;
    if (bar) bar.remove();
    bar = document.createElement('span');
    bar.id = 'hoso-saved-filters';
    bar.setAttribute('data-table', table);
    bar.style.marginLeft = '0.5rem';
    var pick = document.createElement('select'), save = document.createElement('button'),
        forget = document.createElement('button');
    pick.id = 'hoso-saved-filter-pick';
    save.id = 'hoso-save-filter';
    forget.id = 'hoso-forget-filter';
    save.type = forget.type = 'button';
    save.textContent = WORDS.save;
    forget.textContent = WORDS.forget;
    bar.appendChild(pick); bar.appendChild(save); bar.appendChild(forget);
    anchor.parentNode.insertBefore(bar, anchor.nextSibling);
    function load() {
      fetch('./hoso/search/filters/?table=' + encodeURIComponent(table), {credentials: 'same-origin'})
        .then(function (r) { return r.ok ? r.json() : []; })
        .then(function (list) {
          pick.innerHTML = '';
          var first = document.createElement('option');
          first.value = ''; first.textContent = WORDS.saved;
          pick.appendChild(first);
          list.forEach(function (f) {
            var o = document.createElement('option');
            o.value = f.query; o.textContent = f.name; o.setAttribute('data-id', f.id);
            pick.appendChild(o);
          });
        });
    }
    pick.addEventListener('change', function () {
      if (pick.value) location.hash = '#/' + table + '/?' + pick.value;
    });
    save.addEventListener('click', function () {
      var name = window.prompt(WORDS.prompt);
      if (!name) return;
      fetch('./hoso/search/filters/', {method: 'POST', credentials: 'same-origin',
        headers: {'Content-Type': 'application/json', 'X-CSRFToken': csrf()},
        body: JSON.stringify({table: table, name: name, query: (location.hash.split('?')[1]) || ''})})
        .then(function (r) { return r.json().then(function (j) { if (!r.ok) window.alert(j.error); load(); }); });
    });
    forget.addEventListener('click', function () {
      var o = pick.options[pick.selectedIndex];
      if (!o || !o.getAttribute('data-id')) return;
      fetch('./hoso/search/filters/?id=' + o.getAttribute('data-id'), {method: 'DELETE', credentials: 'same-origin',
        headers: {'X-CSRFToken': csrf()}}).then(load);
    });
    load();
  }
  // at most once per animation frame, however many changes the page makes while it draws
  var queued = false;
  new MutationObserver(function () {
    if (queued) return;
    queued = true;
    requestAnimationFrame(function () { queued = false; ranges(); saved(); });
  }).observe(document.documentElement, {childList: true, subtree: true});
})();"""


async def list_script(request: Request) -> Response:
    lang = request.cookies.get("hoso_admin_lang") or request.scope["hoso.admin"].admin.default_language
    words = {"from": t("range_from", lang), "to": t("range_to", lang), "saved": t("saved_filters", lang),
             "save": t("save_filter", lang), "prompt": t("save_filter_prompt", lang),
             "forget": t("forget_filter", lang)}
    body = "var WORDS = " + json.dumps(words, ensure_ascii=False) + ";\n" + LIST_SCRIPT
    return Response(body, media_type="text/javascript", headers={"Cache-Control": "no-cache"})


def inject(template: str) -> str:
    """piccolo-admin's index page with the list pages' script."""
    tag = '<script src="./hoso/search/lists.js" defer></script>'
    return template.replace("</head>", f"  {tag}\n</head>", 1) if tag not in template else template


MAX_FILTER_NAME = 100
MAX_FILTER_QUERY = 2000
MAX_FILTERS = 50  # per user and list


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data, ensure_ascii=False), status_code=status, media_type="application/json")


def _readable_table(request: Request, user: Any, table: Any) -> bool:
    cruds = request.scope["hoso.admin"].cruds
    return isinstance(table, str) and table in cruds and cruds[table].may_read(user)


async def saved_filters(request: Request) -> Response:
    """GET: the user's saved filters of the list ``?table=``; POST ``{table, name, query}``: save one (the same
    name again replaces it); DELETE ``?id=``: forget one of the user's."""
    user = await _page_user(request)
    if isinstance(user, Response):
        return user
    db = request.scope["hoso.admin"].rt.db
    uid = user.ctx.user_id
    if request.method == "GET":
        table = request.query_params.get("table")
        if not _readable_table(request, user, table):
            return _json({"error": t("saved_filter_unknown_list", user.lang)}, 404)
        rows = await db.fetch("SELECT id, name, query FROM hoso_saved_filter WHERE user_id = {} AND table_name = {} "
                              "ORDER BY name", uid, table)
        return _json([{"id": int(r["id"]), "name": r["name"], "query": r["query"]} for r in rows])
    if request.method == "DELETE":
        try:
            fid = int(request.query_params.get("id", ""))
        except ValueError:
            return _json({"error": t("admin_bad_id", user.lang)}, 400)
        if not 1 <= fid <= 2**63 - 1:
            return _json({"error": t("admin_bad_id", user.lang)}, 400)
        await db.execute("DELETE FROM hoso_saved_filter WHERE id = {} AND user_id = {}", fid, uid)
        return Response(status_code=204)
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return _json({"error": t("json_object", user.lang)}, 400)
    table, name, query = body.get("table"), body.get("name"), body.get("query")
    if not _readable_table(request, user, table):
        return _json({"error": t("saved_filter_unknown_list", user.lang)}, 404)
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_FILTER_NAME or "\x00" in name:
        return _json({"error": t("saved_filter_bad_name", user.lang, max=MAX_FILTER_NAME)}, 400)
    if not isinstance(query, str) or len(query) > MAX_FILTER_QUERY or "\x00" in query:
        return _json({"error": t("saved_filter_bad_query", user.lang, max=MAX_FILTER_QUERY)}, 400)
    name, query = name.strip(), query.lstrip("?")
    async with db.transaction():
        await db.execute("DELETE FROM hoso_saved_filter WHERE user_id = {} AND table_name = {} AND name = {}",
                         uid, table, name)
        have = int(await db.fetchval("SELECT COUNT(*) AS n FROM hoso_saved_filter WHERE user_id = {} AND "
                                     "table_name = {}", uid, table) or 0)
        if have >= MAX_FILTERS:
            return _json({"error": t("saved_filter_too_many", user.lang, max=MAX_FILTERS)}, 400)
        await db.execute("INSERT INTO hoso_saved_filter (user_id, table_name, name, query, created_at) "
                         "VALUES ({}, {}, {}, {}, {})", uid, table, name, query, dt.datetime.now(dt.UTC))
    return _json({"name": name, "query": query}, 201)


def link(prefix: str, q: str) -> str:
    """The search page's address for ``q``."""
    return f"{prefix}{PAGE}?{urlencode({'q': q})}"


def routes() -> list[Route]:
    return [Route(PAGE, page, methods=["GET"]), Route(PAGE + "lists.js", list_script, methods=["GET"]),
            Route(PAGE + "search.js", search_script, methods=["GET"]),
            Route(PAGE + "filters/", saved_filters, methods=["GET", "POST", "DELETE"])]
