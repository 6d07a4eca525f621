"""The admin's search page (``/admin/hoso/search/?q=...``): records of every entity the user may read, as they type.

The page is in the look of the admin's own pages (the reports page's frame); it answers with the hits of
``hoso.web.search_api.search_everything`` (the record search of each entity, the user's scope in SQL), grouped by
entity, each linking to the record's page in the admin. The text lives in the URL, so a search can be bookmarked
or shared; as the user types, the page asks for the results again (``?q=...&part=results``) and keeps the URL in
step. A text that cannot be searched for (too long, a NUL character) is said so, with status 400.
"""

from __future__ import annotations

import html
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

__all__ = ["routes", "PAGE"]

PAGE = "/hoso/search/"
PER_ENTITY = 8

SCRIPT = r"""<script>(function () {
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
})();</script>"""

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
    return HTMLResponse(_shell(prefix, title, form, main, STYLE + SCRIPT), status_code=status)


def link(prefix: str, q: str) -> str:
    """The search page's address for ``q``."""
    return f"{prefix}{PAGE}?{urlencode({'q': q})}"


def routes() -> list[Route]:
    return [Route(PAGE, page, methods=["GET"])]
