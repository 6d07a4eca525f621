"""Search across the entities a user may read: ``GET /api/search?q=nguyen van``.

For each entity of the configuration that one of the user's roles may read, the record search
(``RecordService.list_page`` with ``search=q``: its search index, the user's scope predicate in SQL, the fields
hidden from the user left out) gives the first few records, newest first; entities without a hit are left out.
Each hit has its title, its code (the entity's naming field), its unit, and links to the record in the API and in
the admin. A text that is empty, too long or holds a NUL character is refused with 400 naming ``q``.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get
from litestar.params import Parameter

from hoso.config import EntityDef
from hoso.i18n import t
from hoso.jsonconv import json_ready
from hoso.records.context import RecordContext
from hoso.records.errors import Forbidden
from hoso.records.search import fold
from hoso.runtime import Runtime
from hoso.web.api import request_context
from hoso.web.problems import problem

__all__ = ["search_records", "search_everything", "MAX_QUERY", "MAX_PER_ENTITY"]

MAX_QUERY = 200  # characters of ``q``
MAX_PER_ENTITY = 20
DEFAULT_PER_ENTITY = 5


def _readable_entities(rt: Runtime, ctx: RecordContext, roles: set[str]) -> list[EntityDef]:
    """The entities a grant of ``roles`` lets the user read (every entity for a superuser)."""
    if ctx.superuser:
        return list(rt.config.entities)
    names = {g.entity for r in rt.config.roles if r.name in roles for g in r.grants if "read" in g.actions}
    return [e for e in rt.config.entities if e.name in names]


async def search_everything(rt: Runtime, ctx: RecordContext, q: str, per_entity: int = DEFAULT_PER_ENTITY,
                            admin_mount: str = "/admin") -> list[dict[str, Any]]:
    """The hits of ``q`` per entity ``ctx``'s user may read: ``[{entity, label, items, more}]``, entities in the
    order of the configuration, those without a hit left out."""
    from hoso.accounts import active_roles

    roles = await active_roles(rt, ctx.user_id, ctx.actor.today) if ctx.user_id is not None else set()
    svc = rt.records()
    out: list[dict[str, Any]] = []
    unit_ids: set[int] = set()
    for entity in _readable_entities(rt, ctx, roles):
        try:
            page = await svc.list_page(entity.name, ctx, search=q, page_size=per_entity, count="none",
                                       sort=["-id"])
        except Forbidden:
            continue
        if not page.items:
            continue
        code_field = entity.naming.field if entity.naming else None
        items = []
        for r in page.items:
            unit = r.get(entity.unit_field) if entity.unit_field else None
            if unit is not None:
                unit_ids.add(int(unit))
            items.append({
                "id": r["id"],
                "title": r.get(entity.title_field) if entity.title_field else None,
                "code": r.get(code_field) if code_field else None,
                "unit": unit,
                "link": f"/api/records/{entity.name}/{r['id']}",
                "admin_link": f"{admin_mount}/#/{entity.table}/{r['id']}",
            })
        out.append({"entity": entity.name, "label": entity.label.get(ctx.lang), "items": items,
                    "more": page.next_cursor is not None})
    if unit_ids:
        marks = ", ".join("{}" for _ in unit_ids)
        rows = await rt.db.fetch(f"SELECT id, code, name_vi, name_en FROM hoso_unit WHERE id IN ({marks})",
                                 *sorted(unit_ids))
        names = {int(r["id"]): (r["code"], (r["name_en"] or r["name_vi"]) if ctx.lang == "en" else r["name_vi"])
                 for r in rows}
        for group in out:
            for item in group["items"]:
                code, name = names.get(item["unit"], (None, None)) if item["unit"] is not None else (None, None)
                item["unit_code"], item["unit_name"] = code, name
    return out


def query_problem(q: str | None, lang: str) -> str | None:
    """Why ``q`` cannot be searched for (None when it can)."""
    if q is None or not fold(q):
        return t("search_q_empty", lang)
    if len(q) > MAX_QUERY:
        return t("search_q_long", lang, max=MAX_QUERY)
    if "\x00" in q:
        return t("search_q_nul", lang)
    return None


@get("/api/search", tags=["search"], summary="Search the records of every entity the user may read")
async def search_records(
    request: Request,
    q: Annotated[str | None, Parameter(description="words to find, ignoring case and diacritics")] = None,
    per_entity: Annotated[int, Parameter(ge=1, le=MAX_PER_ENTITY, description="hits per entity")] =
    DEFAULT_PER_ENTITY,
) -> Response[dict[str, Any]]:
    """The first hits of ``q`` in each entity the user may read, with title, code, unit and links."""
    ctx = await request_context(request)
    bad = query_problem(q, ctx.lang)
    if bad is not None:
        return problem(400, bad, errors=[{"field": "q", "message": bad}])
    assert q is not None
    groups = await search_everything(request.app.state.rt, ctx, q, per_entity)
    return Response(json_ready({"q": q, "results": groups}))
