"""The public directory of participating organisations and legal-aid performers (no login).

``GET /directory`` is a page (Vietnamese, ``?lang=en`` for English; a form, no script, no outside asset) and
``GET /api/directory/{entity}`` the same list as JSON. What they show is set by ``forms_config/directory.yaml``
(``hoso_legal_aid.directory_config``): the entities listed, their ``public`` fields and nothing else, the rows in
service today. Every read goes through the record service as the directory's own read-only actor (the
configured role, held at the configured units): no other record and no other read path is open to a visitor.
Answers are kept per process while nothing they show changes (``hoso_legal_aid.directory_cache``): a change
shows on the next request, in every process.

Hook implementations here carry their own names and say which hook they implement with ``specname``;
``hoso_legal_aid`` registers them (see its ``__init__``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from typing import Any
from urllib.parse import urlencode

from litestar import MediaType, Request, Response, get
from litestar.params import FromPath
from litestar.serialization import encode_json

from hoso.hookspecs import hookimpl
from hoso.records.context import LOCAL_ZONE, RecordContext
from hoso.records.errors import ValidationError
from hoso.records.search import fold
from hoso_legal_aid.directory_cache import Answer, AnswerCache, directory_changes, directory_version
from hoso_legal_aid.directory_config import DIRECTORY, DirectoryDef, DirectoryEntity

__all__ = ["directory_config_kinds", "directory_routes", "DirectoryQuery", "directory_actor", "read_directory",
           "public_item", "DirectoryProblem"]

# The directory's actor has no account: an id no account has (accounts are numbered from 1).
DIRECTORY_ACTOR_ID = 0
MAX_QUERY = 100
PARAMS = ("q", "kind", "province", "page", "page_size", "lang", "list")

_TEXT = {
    "title": ("Danh bạ trợ giúp pháp lý", "Legal aid directory"),
    "intro": ("Các tổ chức tham gia và người thực hiện trợ giúp pháp lý đang hoạt động.",
              "Participating organisations and legal-aid performers in service today."),
    "search": ("Tìm theo tên (không cần dấu)", "Search by name (accents optional)"),
    "kind": ("Loại", "Kind"),
    "province": ("Tỉnh, thành phố", "Province"),
    "all": ("Tất cả", "All"),
    "go": ("Tìm", "Search"),
    "none": ("Không tìm thấy kết quả.", "Nothing found."),
    "found": ("{n} kết quả", "{n} found"),
    "prev": ("« Trang trước", "« Previous"),
    "next": ("Trang sau »", "Next »"),
    "page": ("Trang {page}/{pages}", "Page {page} of {pages}"),
    "switch": ("English", "Tiếng Việt"),
    "unit": ("Đơn vị", "Unit"),
    "bad_int": ("phải là số nguyên từ {low} đến {high}", "must be a whole number from {low} to {high}"),
    "bad_choice": ("không có giá trị {value!r}; các giá trị: {values}", "no value {value!r}; values: {values}"),
    "bad_text": ("dài quá {n} ký tự hoặc chứa ký tự không hợp lệ", "longer than {n} characters or holds a bad "
                 "character"),
    "unknown_param": ("tham số không được hỗ trợ", "parameter not supported"),
    "repeated": ("chỉ được nêu một lần", "may be given once only"),
    "bad_params": ("Tham số không hợp lệ: {names}", "Bad parameters: {names}"),
    "not_found": ("Danh bạ không có danh sách này", "The directory has no such list"),
    "off": ("Danh bạ công khai chưa được cấu hình", "The public directory is not configured"),
}


def _t(key: str, lang: str, **kw: Any) -> str:
    vi, en = _TEXT[key]
    return (en if lang == "en" else vi).format(**kw)


class DirectoryProblem(Exception):
    """Bad parameters: ``problems`` is ``[(parameter, message)]``."""

    def __init__(self, problems: list[tuple[str, str]]):
        super().__init__("; ".join(f"{p}: {m}" for p, m in problems))
        self.problems = problems


@dataclass(frozen=True)
class DirectoryQuery:
    entity: str
    q: str = ""
    kind: str | None = None
    province: str | None = None
    page: int = 1
    page_size: int = 20
    lang: str = "vi"


def config_of(rt) -> DirectoryDef | None:
    try:
        return rt.config.kind("directory")
    except KeyError:
        return None


async def directory_actor(rt, d: DirectoryDef, lang: str = "vi", today: dt.date | None = None) -> RecordContext:
    """The visitors' actor: no account, the directory's read-only role held at its configured units, on
    ``today`` (by default the date now)."""
    codes = list(d.units)
    marks = ", ".join("{}" for _ in codes)
    rows = await rt.db.fetch(f"SELECT id FROM hoso_unit WHERE code IN ({marks})", *codes)
    holdings = frozenset((d.role, int(r["id"])) for r in rows)
    return RecordContext(rt.config, user_id=DIRECTORY_ACTOR_ID, user_name="public_directory", origin="directory",
                         lang=lang, holdings=holdings, on=today or dt.datetime.now(LOCAL_ZONE).date())


def _kind_field(rt, de: DirectoryEntity):
    entity = rt.config.entity(de.entity)
    return next((f for f in entity.column_fields if f.name == "kind" and f.name in de.public and f.list), None)


def _province_types(rt) -> list[str]:
    h = rt.config.hierarchy
    if h is None or "province" not in h.levels:
        return []
    return [ut.name for ut in h.unit_types if ut.level == "province"]


async def provinces(rt, today: dt.date) -> list[dict]:
    """The provinces open today (code, names), by name."""
    types = _province_types(rt)
    if not types:
        return []
    marks = ", ".join("{}" for _ in types)
    return await rt.db.fetch(
        f"SELECT id, code, name_vi, name_en FROM hoso_unit WHERE type IN ({marks}) "
        "AND (valid_from IS NULL OR valid_from <= {}) AND (valid_to IS NULL OR valid_to > {}) ORDER BY name_vi",
        *types, today, today)


def parse_query(rt, d: DirectoryDef, entity: str, params: dict[str, list[str]], lang: str,
                province_codes: set[str]) -> DirectoryQuery:
    """The request's parameters, checked: every problem at once (DirectoryProblem), nothing guessed."""
    de = d.entity(entity)
    problems: list[tuple[str, str]] = []
    for name, values in params.items():
        if name not in PARAMS:
            problems.append((name, _t("unknown_param", lang)))
        elif len(values) > 1:
            problems.append((name, _t("repeated", lang)))
    one = {k: v[0] for k, v in params.items() if v}

    def integer(name: str, default: int, high: int) -> int:
        raw = one.get(name)
        if raw is None or raw == "":
            return default
        if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= high:
            problems.append((name, _t("bad_int", lang, low=1, high=high)))
            return default
        return int(raw)

    page = integer("page", 1, 100_000)
    page_size = integer("page_size", d.page_size, d.max_page_size)
    q = one.get("q", "")
    if len(q) > MAX_QUERY or any(ord(c) < 32 for c in q):
        problems.append(("q", _t("bad_text", lang, n=MAX_QUERY)))
        q = ""
    kind = one.get("kind") or None
    kf = _kind_field(rt, de) if de else None
    if kind is not None:
        options = rt.config.choice_list(kf.list).values() if kf else ()
        if kind not in options:
            problems.append(("kind", _t("bad_choice", lang, value=kind[:40], values=", ".join(options) or "-")))
    province = one.get("province") or None
    if province is not None and province not in province_codes:
        problems.append(("province", _t("bad_choice", lang, value=province[:40],
                                        values=", ".join(sorted(province_codes)))))
    if "lang" in one and one["lang"] not in ("vi", "en"):
        problems.append(("lang", _t("bad_choice", lang, value=one["lang"][:10], values="vi, en")))
    if problems:
        raise DirectoryProblem(problems)
    return DirectoryQuery(entity, q.strip(), kind, province, page, page_size, lang)


def _current_filters(de: DirectoryEntity, today: dt.date) -> dict:
    """Rows in service on ``today``: each ``true`` field true, ``from`` empty or passed, ``until`` empty or not
    passed (the end date is the last day in service)."""
    filters: dict[str, Any] = {name: True for name in de.true_fields}
    every: list[dict] = []
    if de.valid_from:
        every.append({"$any": [{de.valid_from: None}, {de.valid_from: {"lte": today.isoformat()}}]})
    if de.valid_until:
        every.append({"$any": [{de.valid_until: None}, {de.valid_until: {"gte": today.isoformat()}}]})
    if every:
        filters["$all"] = every
    return filters


def public_item(de: DirectoryEntity, record: dict) -> dict:
    """The record's public fields and its id, and nothing else."""
    return {"id": record["id"], **{name: record.get(name) for name in de.public}}


async def read_directory(rt, d: DirectoryDef, query: DirectoryQuery, today: dt.date | None = None) -> dict:
    """One page of a directory list, as the JSON answer gives it (the rows current ``today``, by default the
    date now)."""
    de = d.entity(query.entity)
    assert de is not None
    ctx = await directory_actor(rt, d, query.lang, today)
    today = ctx.today
    svc = rt.records()
    filters = _current_filters(de, today)
    entity = rt.config.entity(de.entity)
    if query.kind:
        filters["kind"] = query.kind
    if query.province:
        under = await rt.db.fetch(
            "SELECT c.descendant_id AS id FROM hoso_unit_closure c JOIN hoso_unit p ON p.id = c.ancestor_id "
            "WHERE p.code = {}", query.province)
        if entity.unit_field:
            filters[entity.unit_field] = {"in": [int(r["id"]) for r in under] or [-1]}
    if query.q and fold(query.q) and de.search:
        filters.setdefault("$all", []).append({"$any": [{name: {"starts": query.q}} for name in de.search]})
    elif query.q and fold(query.q):
        filters["id"] = {"in": [-1]}
    sort = [de.sort] if de.sort else None
    result = await svc.list_page(de.entity, ctx, filters=filters, sort=sort, page=query.page,
                                 page_size=query.page_size, count="exact")
    items = [public_item(de, r) for r in result.items]
    await _describe(rt, d, de, items, query.lang, ctx)
    total = int(result.total or 0)
    return {"entity": de.entity, "label": de.label(query.lang), "items": items, "total": total,
            "page": query.page, "page_size": query.page_size,
            "pages": max(1, -(-total // query.page_size))}


async def _describe(rt, d: DirectoryDef, de: DirectoryEntity, items: list[dict], lang: str,
                    ctx: RecordContext) -> None:
    """Choices as their labels, units with their province, references by the title of a current public row."""
    entity = rt.config.entity(de.entity)
    fields = {f.name: f for f in entity.column_fields if f.name in de.public}
    units: set[int] = set()
    for name, fd in fields.items():
        if fd.list and not fd.traits.chooses_many:
            labels = {o.value: o.label.get(lang) for o in rt.config.choice_list(fd.list).options}
            for item in items:
                v = item.get(name)
                item[name] = None if v is None else {"value": v, "label": labels.get(v, v)}
        elif fd.traits.refers_to == "unit":
            units.update(int(item[name]) for item in items if item.get(name) is not None)
        elif fd.traits.refers_to == "entity" and fd.entity:
            await _references(rt, d, fd, items, lang, ctx)
    if units:
        named = await _units(rt, sorted(units), lang, ctx.today)
        for name, fd in fields.items():
            if fd.traits.refers_to == "unit":
                for item in items:
                    v = item.get(name)
                    item[name] = None if v is None else named.get(int(v))


async def _units(rt, ids: list[int], lang: str, today: dt.date) -> dict[int, dict]:
    marks = ", ".join("{}" for _ in ids)
    rows = await rt.db.fetch(f"SELECT id, code, name_vi, name_en FROM hoso_unit WHERE id IN ({marks})", *ids)
    out = {int(r["id"]): {"code": r["code"], "name": _unit_name(r, lang), "province": None} for r in rows}
    types = _province_types(rt)
    if types:
        tmarks = ", ".join("{}" for _ in types)
        # the province a unit answers to today (through lineage for a unit merged into another)
        found = await rt.db.fetch(
            "SELECT c.descendant_id AS unit, p.code, p.name_vi, p.name_en, c.depth FROM hoso_unit_closure c "
            f"JOIN hoso_unit p ON p.id = c.ancestor_id WHERE c.descendant_id IN ({marks}) AND p.type IN ({tmarks}) "
            "AND (p.valid_to IS NULL OR p.valid_to > {}) ORDER BY c.depth DESC", *ids, *types, today)
        for r in found:
            unit = out.get(int(r["unit"]))
            if unit is not None:
                unit["province"] = {"code": r["code"], "name": _unit_name(r, lang)}
    return out


def _unit_name(row: dict, lang: str) -> str:
    return (row.get("name_en") or row["name_vi"]) if lang == "en" else row["name_vi"]


async def _references(rt, d: DirectoryDef, fd, items: list[dict], lang: str, ctx: RecordContext) -> None:
    """A reference shown by the title of the row it names, when that row is itself in the directory (current,
    its title public); otherwise only that it is not shown (None)."""
    target = d.entity(fd.entity)
    ids = sorted({int(item[fd.name]) for item in items if item.get(fd.name) is not None})
    titles: dict[int, str] = {}
    title = rt.config.entity(fd.entity).title_field if target else None
    if target and ids and title and title in target.public:
        filters = {**_current_filters(target, ctx.today), "id": {"in": ids}}
        page = await rt.records().list_page(target.entity, ctx, filters=filters, page_size=len(ids), count="none")
        titles = {int(r["id"]): r[title] for r in page.items}
    for item in items:
        v = item.get(fd.name)
        item[fd.name] = None if v is None or int(v) not in titles else {"id": int(v), "name": titles[int(v)]}


def _lang(request: Request) -> str:
    return "en" if request.query_params.get("lang") == "en" else "vi"


def _problem(status: int, detail: str, problems: list[tuple[str, str]] | None = None) -> Response:
    from hoso.web.problems import problem

    if problems:
        return problem(status, detail, errors=[{"field": f, "message": m} for f, m in problems])
    return problem(status, detail)


async def _answer(request: Request, entity: str, today: dt.date
                  ) -> tuple[DirectoryDef, DirectoryQuery, dict, list[dict]] | Response:
    rt = request.app.state.rt
    lang = _lang(request)
    d = config_of(rt)
    if d is None:
        return _problem(404, _t("off", lang))
    if d.entity(entity) is None:
        return _problem(404, _t("not_found", lang))
    params = {k: request.query_params.getall(k) for k in request.query_params}
    async with rt.db.reading():  # one connection for the request's reads (SQLite), no write lock
        provs = await provinces(rt, today)
        try:
            query = parse_query(rt, d, entity, params, lang, {p["code"] for p in provs})
            data = await read_directory(rt, d, query, today)
        except (DirectoryProblem, ValidationError) as exc:  # the service refuses a page past its limits, too
            names = ", ".join(p for p, _ in exc.problems)
            return _problem(400, _t("bad_params", lang, names=names), exc.problems)
    return d, query, data, provs


_NO_STORE = {"Cache-Control": "no-store"}
_CACHE = "directory_answers"


async def _respond(request: Request, entity: str,
                   render: Callable[[DirectoryDef, DirectoryQuery, dict, list[dict]], Answer]) -> Response:
    """The answer kept for this request at the directory's version, or a new one (kept when it is a 200)."""
    rt = request.app.state.rt
    cache = request.app.state.get(_CACHE)
    if cache is None or cache.owner is not rt:  # a new runtime (the configuration migrated): new answers
        cache = request.app.state[_CACHE] = AnswerCache(rt)
    today = dt.datetime.now(LOCAL_ZONE).date()
    asked = (request.url.path, tuple(sorted(request.query_params.multi_items())))

    async def make() -> tuple[Answer | None, Response | None]:
        answer = await _answer(request, entity, today)
        if isinstance(answer, Response):
            return None, answer
        return render(*answer), None

    async with rt.db.reading():  # the version and the rows from one snapshot on SQLite
        # read before the rows: an answer made now holds at least what this version holds
        version = await directory_version(rt.db)
        answer, refusal = await cache.get(version, today, asked, make,
                                          lambda since, upto: directory_changes(rt.db, since, upto))
    if answer is None:
        assert refusal is not None
        return refusal
    return Response(answer.body, media_type=answer.media_type, headers=_NO_STORE)


@get("/api/directory/{entity:str}", tags=["directory"])
async def directory_json(request: Request, entity: FromPath[str]) -> Response:
    """A page of a list of the public directory: its public fields only (no login)."""
    return await _respond(request, entity, lambda _d, _q, data, _p: Answer(encode_json(data), MediaType.JSON,
                                                                          _shows(data)))


@get("/directory", include_in_schema=False)
async def directory_page(request: Request) -> Response:
    """The public directory as a page (no login)."""
    rt = request.app.state.rt
    d = config_of(rt)
    if d is None or not d.entities:
        return _problem(404, _t("off", _lang(request)))
    entity = request.query_params.get("list") or d.entities[0].entity
    return await _respond(request, entity, lambda d, query, data, provs: Answer(
        render_page(rt, d, query, data, provs).encode(), MediaType.HTML, _shows(data)))


def _shows(data: dict) -> tuple[str, frozenset[int]]:
    """The list an answer shows and the records in it."""
    return data["entity"], frozenset(int(item["id"]) for item in data["items"])


CSS = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f4f6f8;color:#1f2933}
header{background:#0b4f8a;color:#fff;padding:.8rem 1rem;display:flex;justify-content:space-between;
align-items:center;gap:1rem;flex-wrap:wrap}
header h1{font-size:1.2rem;margin:0}
header a{color:#fff}
main{max-width:960px;margin:0 auto;padding:1rem}
nav.tabs{display:flex;gap:.5rem;flex-wrap:wrap;margin:.5rem 0}
nav.tabs a{padding:.4rem .8rem;border:1px solid #0b4f8a;border-radius:4px;text-decoration:none;color:#0b4f8a}
nav.tabs a[aria-current]{background:#0b4f8a;color:#fff}
form.filters{display:flex;flex-wrap:wrap;gap:.5rem;margin:.8rem 0}
form.filters input,form.filters select{padding:.5rem;font-size:1rem;flex:1 1 12rem;min-width:0}
form.filters button{padding:.5rem 1rem;font-size:1rem}
ul.cards{list-style:none;padding:0;margin:0;display:grid;grid-template-columns:repeat(auto-fill,minmax(17rem,1fr));
gap:.7rem}
ul.cards li{background:#fff;border:1px solid #d9e2ec;border-radius:6px;padding:.8rem}
ul.cards h2{font-size:1.05rem;margin:0 0 .4rem}
dl{margin:0;display:grid;grid-template-columns:auto 1fr;gap:.2rem .6rem;font-size:.92rem}
dt{color:#52606d}dd{margin:0;overflow-wrap:anywhere}
.pager{display:flex;justify-content:space-between;align-items:center;margin:1rem 0;gap:.5rem}
"""


def render_page(rt, d: DirectoryDef, query: DirectoryQuery, data: dict, provs: list[dict]) -> str:
    lang = query.lang
    de = d.entity(query.entity)
    assert de is not None
    entity = rt.config.entity(de.entity)
    labels = {f.name: f.label.get(lang) for f in entity.column_fields}

    def link(**changes: Any) -> str:
        state = {"list": query.entity, "q": query.q, "kind": query.kind, "province": query.province,
                 "lang": lang if lang == "en" else None, "page": None, **changes}
        return "/directory?" + urlencode({k: v for k, v in state.items() if v not in (None, "", 1)})

    tabs = "".join(
        f'<a href="{escape(link(list=e.entity, kind=None))}"'
        + (' aria-current="page"' if e.entity == de.entity else "") + f">{escape(e.label(lang))}</a>"
        for e in d.entities)
    kf = _kind_field(rt, de)
    kind_select = ""
    if kf is not None:
        opts = "".join(
            f'<option value="{escape(o.value)}"' + (" selected" if o.value == query.kind else "")
            + f">{escape(o.label.get(lang))}</option>"
            for o in rt.config.choice_list(kf.list).options if not o.retired)
        every = f'{escape(_t("kind", lang))}: {escape(_t("all", lang))}'
        kind_select = (f'<select name="kind" aria-label="{escape(_t("kind", lang))}">'
                       f'<option value="">{every}</option>{opts}</select>')
    prov_opts = "".join(
        f'<option value="{escape(p["code"])}"' + (" selected" if p["code"] == query.province else "")
        + f">{escape(_unit_name(p, lang))}</option>" for p in provs)
    hidden_lang = '<input type="hidden" name="lang" value="en">' if lang == "en" else ""
    form = (f'<form class="filters" method="get" action="/directory" role="search">'
            f'<input type="hidden" name="list" value="{escape(de.entity)}">{hidden_lang}'
            f'<input type="search" name="q" value="{escape(query.q)}" maxlength="{MAX_QUERY}" '
            f'placeholder="{escape(_t("search", lang))}" aria-label="{escape(_t("search", lang))}">'
            f"{kind_select}"
            f'<select name="province" aria-label="{escape(_t("province", lang))}">'
            f'<option value="">{escape(_t("province", lang))}: {escape(_t("all", lang))}</option>{prov_opts}</select>'
            f'<button type="submit">{escape(_t("go", lang))}</button></form>')
    cards = []
    title = entity.title_field if entity.title_field in de.public else None
    for item in data["items"]:
        rows = []
        for name in de.public:
            if name == title:
                continue
            text = _shown(item.get(name))
            if text:
                rows.append(f"<dt>{escape(labels.get(name, name))}</dt><dd>{escape(text)}</dd>")
        heading = escape(str(item.get(title) or "")) if title else ""
        cards.append(f"<li><h2>{heading}</h2><dl>{''.join(rows)}</dl></li>")
    listing = f'<ul class="cards">{"".join(cards)}</ul>' if cards else f"<p>{escape(_t('none', lang))}</p>"
    pager = ('<div class="pager"><span>'
             + (f'<a href="{escape(link(page=query.page - 1))}" rel="prev">{escape(_t("prev", lang))}</a>'
                if query.page > 1 else "")
             + f'</span><span>{escape(_t("page", lang, page=query.page, pages=data["pages"]))}</span><span>'
             + (f'<a href="{escape(link(page=query.page + 1))}" rel="next">{escape(_t("next", lang))}</a>'
                if query.page < data["pages"] else "")
             + "</span></div>")
    switch = link(lang="vi" if lang == "en" else "en", page=query.page)
    body = (f'<header><h1>{escape(_t("title", lang))}</h1>'
            f'<a href="{escape(switch)}" lang="{"vi" if lang == "en" else "en"}">{escape(_t("switch", lang))}</a>'
            f'</header><main><p>{escape(_t("intro", lang))}</p><nav class="tabs">{tabs}</nav>{form}'
            f'<p aria-live="polite">{escape(_t("found", lang, n=data["total"]))}</p>{listing}{pager}</main>')
    return ('<!DOCTYPE html>\n'
            f'<html lang="{lang}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{escape(_t("title", lang))}</title><style>{CSS}</style></head><body>{body}</body></html>\n')


def _shown(value: Any) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, dict):
        name = value.get("label") or value.get("name") or ""
        province = value.get("province")
        if province and province.get("name") and province["name"] != name:
            return f"{name} ({province['name']})"
        return str(name)
    return str(value)


@hookimpl(specname="hoso_config_kinds")
def directory_config_kinds():
    return [DIRECTORY]


@hookimpl(specname="hoso_routes")
def directory_routes(runtime):
    return [directory_json, directory_page]
