"""The REST API generated from the configuration: one set of routes per entity, under /api/records/<entity>.

The OpenAPI document at /schema/openapi.json describes every entity's request bodies with the JSON Schema the
record service compiles from its definition (enums for choices, required fields, bounds), so the document and
the validation cannot drift; the service validates every body and reports every problem at once, per field, in
the user's language. Every read and write goes through the
record service, which enforces scopes, validation, workflows, locking and audit; this module only maps HTTP to
it. Authentication: the session cookie (browsers) or ``Authorization: Bearer <token>`` (integrations).

This module does not use ``from __future__ import annotations``: the handlers are made at run time and
Litestar reads their annotations, which must be real objects (the attachment field names' Literal).
"""

import dataclasses
import datetime as dt
from typing import Annotated, Any, Literal, TypedDict
from urllib.parse import quote as url_quote

import msgspec
from litestar import Request, Response, Router, delete, get, patch, post, put
from litestar.exceptions import NotAuthorizedException, ValidationException
from litestar.openapi.spec import OpenAPIMediaType, Operation, RequestBody
from litestar.params import FromPath, FromQuery, PathParameter, QueryParameter
from litestar.response import Stream
from litestar.types import Guard

from hoso.config import EntityDef
from hoso.jsonconv import json_ready as _json
from hoso.records.errors import ValidationError
from hoso.records.query import FILTER_OPS as COMPARISONS
from hoso.records.query import TEXT_OPS
from hoso.records.service import RecordContext
from hoso.records.system_fields import system_fields
from hoso.web.auth import client_address, current_user, same_origin
from hoso.web.modules_guard import check_create_unit, check_form
from hoso.web.problems import request_lang

__all__ = ["build_record_router", "body_schemas", "request_context", "same_site", "FILTER_OPS", "MAX_ID",
           "MAX_INT", "RecordId"]

# The operators the list query takes (hoso.records.query), as query-string suffixes (``field__op``).
FILTER_OPS = (*COMPARISONS, "in", "null", *TEXT_OPS)
MAX_INT = 2**63 - 1  # versions, references and integer values are 64-bit in the database
MAX_ID = 2**31 - 1  # record, account and attachment-version ids are 32-bit (SERIAL / INTEGER) columns
RESERVED_QUERY = {"page", "page_size", "sort", "q", "deleted", "form", "cursor", "count"}


# -- request bodies -----------------------------------------------------------------------------------------------


def body_schemas(rt, entity: EntityDef) -> tuple[dict, dict]:
    """JSON Schemas of an entity's create and update bodies, for the OpenAPI document.

    They come from the record service's compiled form, the same schema that validates every write, so the
    document cannot drift from the rules; fields the system sets (the naming code, workflow states, files) are
    left out. An update sends any subset of the fields and ``sys_version``, the version the client read.
    """
    schema = rt.records().form(entity.name).definition()["schema"]
    skip = system_fields(rt.config, entity).names
    props = {k: _strip_annotations(v) for k, v in schema.get("properties", {}).items()
             if k not in skip and not v.get("readOnly")}
    create = {"type": "object", "title": f"{entity.name} (new)", "properties": props,
              "required": [r for r in schema.get("required", []) if r in props], "additionalProperties": False}
    update = {"type": "object", "title": f"{entity.name} (changes)",
              "properties": {"sys_version": {"type": "integer", "minimum": 1,
                                             "description": "the version the client read"}, **props},
              "required": ["sys_version"], "additionalProperties": False}
    return create, update


def _strip_annotations(schema: Any) -> Any:
    """The schema without hoso's drawing hints (x-...) and keywords OpenAPI tools do not know."""
    if isinstance(schema, dict):
        return {k: _strip_annotations(v) for k, v in schema.items()
                if not k.startswith("x-") and k not in ("formatMinimum", "formatMaximum")}
    if isinstance(schema, list):
        return [_strip_annotations(v) for v in schema]
    return schema


def _with_body(schema: dict) -> type:
    """An OpenAPI operation class whose request body is ``schema`` (the handler reads the JSON itself)."""

    @dataclasses.dataclass
    class WithBody(Operation):
        def __post_init__(self) -> None:
            # the body's JSON schema is a plain dict already, which litestar writes into the document as given
            media = OpenAPIMediaType(schema=schema)  # type: ignore[arg-type]
            self.request_body = RequestBody(content={"application/json": media}, required=True)

    return WithBody


async def _json_body(request: Request) -> dict:
    """The request's JSON object; 415 for another media type, 400 for anything but a JSON object."""
    from litestar.exceptions import ClientException

    from hoso.web.problems import msg

    lang = request_lang(request)
    media = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if media != "application/json":
        raise ClientException(status_code=415, detail=msg("json_only", lang))
    raw = await request.body()
    try:
        body = msgspec.json.decode(raw) if raw else {}
    except msgspec.DecodeError:
        raise ClientException(detail=msg("json_object", lang)) from None
    if not isinstance(body, dict):
        raise ClientException(detail=msg("json_object", lang))
    too_big = list(_oversized_ints(body))
    if too_big:
        from hoso.records.errors import ValidationError

        raise ValidationError([(f, "the number is too large" if lang == "en" else "số quá lớn") for f in too_big])
    return body


def _oversized_ints(value: Any, path: str = ""):
    """Paths of integers a 64-bit column cannot hold (the database driver would fail on them)."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _oversized_ints(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _oversized_ints(v, f"{path}[{i}]")
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
        yield path


def _version(body: dict) -> int:
    from hoso.records.errors import ValidationError

    version = body.pop("sys_version", None)
    if isinstance(version, bool) or not isinstance(version, int):
        raise ValidationError([("sys_version", "the version of the record you read (a whole number) is required")])
    return version


async def same_site(connection, _handler) -> None:
    """Refuse writes that a browser says come from another site (cookies would otherwise carry them)."""
    from litestar.exceptions import PermissionDeniedException

    from hoso.web.problems import msg

    if not same_origin(connection):
        raise PermissionDeniedException(detail=msg("cross_origin", request_lang(connection)))


class WriteOptions(TypedDict):
    """The route options every state-changing handler takes (typed, so ``**WRITE`` checks against each keyword)."""

    guards: list[Guard]


WRITE: WriteOptions = {"guards": [same_site]}


# -- context ----------------------------------------------------------------------------------------------------


async def request_context(request: Request) -> RecordContext:
    """The acting user of a request (session cookie or bearer token); 401 when there is none."""
    rt = request.app.state.rt
    user = await current_user(request)
    if user is None:
        from hoso.web.tokens import token_user

        user = await token_user(request)
    if user is None:
        from hoso.web.problems import msg

        raise NotAuthorizedException(msg("unauthenticated", request_lang(request)))
    ctx = RecordContext(rt.config, user_id=user.id, user_name=user.username,
                        origin=client_address(request, request.app.state.settings),
                        lang=request_lang(request), superuser=user.superuser)
    if user.held_on is not None and user.held_on == ctx.actor.today:
        # the holdings read with the account: the record service judges the request's rows by them
        ctx = dataclasses.replace(ctx, holdings=user.holdings, closure=user.closure)
    return ctx


async def entity_context(request: Request, entity: EntityDef) -> RecordContext:
    """The request's context, refusing with 403 a user none of whose roles grants anything on the entity.

    Which rows and actions are allowed is the record service's business; this only tells a client with no
    grant at all that it has none, instead of answering with empty lists and 404s.
    """
    from litestar.exceptions import PermissionDeniedException

    from hoso.scope import load_holdings
    from hoso.web.problems import msg

    ctx = await request_context(request)
    if ctx.superuser:
        return ctx
    rt = request.app.state.rt
    if ctx.user_id is not None and ctx.holdings is None:
        # the holdings the record service judges rows by, read once for the request with the units under them
        held, closure = await load_holdings(rt.db, rt.scope, ctx.user_id, ctx.actor.today)
        ctx = dataclasses.replace(ctx, holdings=held, closure=closure)
    roles = {role for role, _unit in ctx.holdings or ()}
    if not any(g.entity == entity.name for r in rt.config.roles if r.name in roles for g in r.grants):
        raise PermissionDeniedException(detail=msg("no_access", ctx.lang))
    return ctx


def _filters(entity: EntityDef, params: dict[str, list[str]], lang: str = "vi") -> dict:
    """Query parameters ``field=value`` and ``field__op=value`` as service filters; values stay text and
    are parsed by the field types. ``in`` takes a comma-separated list; ``null`` takes true or false."""
    filters: dict[str, Any] = {}
    for key, values in params.items():
        if key in RESERVED_QUERY:
            continue
        name, _, op = key.partition("__")
        value: Any = values[-1]
        op = op or "eq"
        if op not in FILTER_OPS:
            from hoso.records.errors import ValidationError

            raise ValidationError([(key, f"unknown filter operator {op!r}; expected one of {', '.join(FILTER_OPS)}")])
        if op == "in":
            value = [v for v in value.split(",") if v != ""]
        elif op == "null":
            value = value.lower() in ("1", "true", "yes")
        if name == "id" and op != "null":
            _check_id_filter(key, value if isinstance(value, list) else [value], lang)
        filters.setdefault(name, {})[op] = value
    return filters


def _check_id_filter(key: str, values: list[str], lang: str) -> None:
    """Refuse ids a 32-bit id column cannot hold (the service parses them as 64-bit integers)."""
    from hoso.records.errors import ValidationError
    from hoso.web.problems import msg

    for v in values:
        text = v.strip()
        if text.lstrip("+-").isdigit() and abs(int(text)) > MAX_ID:
            raise ValidationError([(key, msg("out_of_range", lang, low=1, high=MAX_ID))])


# -- handlers ---------------------------------------------------------------------------------------------------


class ListResponse(TypedDict):
    """A page of a list (the OpenAPI document describes it from this class)."""

    items: list[dict[str, Any]]
    total: int | None  # how many records match; null with count=none
    total_exact: bool  # false: the count stopped at the cap, there are at least ``total``
    page: int | None  # null for a page asked by cursor
    page_size: int
    next_cursor: str | None  # the page after this one (pass as cursor); null on the last page


RecordId = Annotated[int, PathParameter(ge=1, le=MAX_ID, description="the record's id")]


def _handlers_for(rt, entity: EntityDef) -> list:
    name = entity.name
    base = f"/api/records/{name}"
    create_schema, update_schema = body_schemas(rt, entity)
    tags = [f"records: {name}"]
    label = entity.label.en or entity.label.vi

    async def list_records(
        request: Request,
        page: Annotated[int, QueryParameter(ge=1)] = 1,
        page_size: Annotated[int, QueryParameter(ge=1, le=1000)] = 50,
        sort: Annotated[str | None, QueryParameter(description="fields, comma-separated; '-' for descending")] = None,
        q: Annotated[str | None, QueryParameter(description="words to find, ignoring case and diacritics")] = None,
        deleted: Annotated[bool, QueryParameter(description="list soft-deleted records (needs restore)")] = False,
        cursor: Annotated[str | None, QueryParameter(
            max_length=4096, description="the next_cursor of the page before: the page after it (deep pages); "
            "not with page")] = None,
        count: Annotated[Literal["auto", "exact", "none"], QueryParameter(
            description="auto: exact up to a cap (HOSO_LIST_COUNT_CAP), beyond it total is the cap and "
            "total_exact is false; exact: always counted; none: not counted (total is null)")] = "auto",
    ) -> ListResponse:
        ctx = await entity_context(request, entity)
        svc = request.app.state.rt.records()
        params = {k: request.query_params.getall(k) for k in request.query_params.keys()}
        try:
            result = await svc.list_page(name, ctx, filters=_filters(entity, params, ctx.lang) or None,
                                         sort=[s for s in sort.split(",") if s] if sort else None, page=page,
                                         page_size=page_size, search=q, deleted=deleted, cursor=cursor, count=count)
        except ValidationError as exc:
            bad = [(f, m) for f, m in exc.problems if f == "cursor"]
            if not bad:
                raise
            # a cursor this list did not give is a bad request (400), like any malformed query parameter
            raise ValidationException(detail=bad[0][1], extra=[{"key": f, "message": m} for f, m in bad]) from None
        return {"items": [svc.dump(name, r) for r in result.items], "total": result.total,
                "total_exact": result.total_exact, "page": result.page, "page_size": result.page_size,
                "next_cursor": result.next_cursor}

    async def get_record(request: Request, record_id: RecordId) -> dict:
        ctx = await entity_context(request, entity)
        svc = request.app.state.rt.records()
        return svc.dump(name, await svc.get(name, record_id, ctx))

    async def create_record(request: Request, form: FromQuery[str | None] = None) -> Response:
        ctx = await entity_context(request, entity)
        svc = request.app.state.rt.records()
        await check_form(request, entity, form)
        body = await _json_body(request)
        await check_create_unit(request, entity, body)
        record = await svc.create(name, body, ctx, form=form)
        return Response(svc.dump(name, record), status_code=201,
                        headers={"Location": f"{base}/{record['id']}"})

    async def update_record(request: Request, record_id: RecordId, form: FromQuery[str | None] = None) -> dict:
        ctx = await entity_context(request, entity)
        await check_form(request, entity, form)
        svc = request.app.state.rt.records()
        body = await _json_body(request)
        version = _version(body)
        return svc.dump(name, await svc.update(name, record_id, body, version, ctx, form=form))

    async def delete_record(request: Request, record_id: RecordId,
                            version: Annotated[int, QueryParameter(ge=1, le=MAX_INT)],
                            reason: Annotated[str, QueryParameter(min_length=1)]) -> dict:
        ctx = await entity_context(request, entity)
        svc = request.app.state.rt.records()
        return svc.dump(name, await svc.delete(name, record_id, reason, version, ctx))

    async def restore_record(request: Request, record_id: RecordId,
                             version: Annotated[int | None, QueryParameter(ge=1, le=MAX_INT)] = None) -> dict:
        ctx = await entity_context(request, entity)
        svc = request.app.state.rt.records()
        return svc.dump(name, await svc.restore(name, record_id, ctx, version=version))

    async def take_transition(request: Request, record_id: RecordId, transition: FromPath[str]) -> dict:
        ctx = await entity_context(request, entity)
        svc = request.app.state.rt.records()
        body = await _json_body(request)
        version = _version(body)
        return svc.dump(name, await svc.transition(name, record_id, transition, body, version, ctx))

    async def transitions(request: Request, record_id: RecordId) -> list:
        ctx = await entity_context(request, entity)
        return await request.app.state.rt.records().available_transitions(name, record_id, ctx)

    async def history(request: Request, record_id: RecordId) -> list:
        ctx = await entity_context(request, entity)
        return _json(await request.app.state.rt.records().history(name, record_id, ctx))

    async def overdue(request: Request, on: FromQuery[dt.date | None] = None,
                      page: Annotated[int, QueryParameter(ge=1)] = 1,
                      page_size: Annotated[int, QueryParameter(ge=1, le=1000)] = 50) -> dict:
        ctx = await entity_context(request, entity)
        if on is not None and not dt.date(1900, 1, 1) <= on <= dt.date(9000, 12, 31):
            # the working-day calendar counts back from ``on``; near date.min it would overflow (a 500)
            from hoso.records.errors import ValidationError

            raise ValidationError([("on", "a date between 1900-01-01 and 9000-12-31 is expected")])
        svc = request.app.state.rt.records()
        rows, total = await svc.overdue(name, ctx, on=on, page=page, page_size=page_size)
        return {"items": [_json(svc.dump(name, r)) | {"sys_deadline": _json(r.get("sys_deadline"))} for r in rows],
                "total": total, "page": page, "page_size": page_size}

    handlers = [
        get(base, name=f"{name}-list", tags=tags, summary=f"List {label}")(list_records),
        get(base + "/overdue", name=f"{name}-overdue", tags=tags, summary=f"Overdue {label}")(overdue),
        get(base + "/{record_id:int}", name=f"{name}-get", tags=tags, summary=f"Get one {label}")(get_record),
        post(base, name=f"{name}-create", tags=tags, summary=f"Create {label}",
             operation_class=_with_body(create_schema), **WRITE)(create_record),
        patch(base + "/{record_id:int}", name=f"{name}-update", tags=tags, summary=f"Update {label}",
              operation_class=_with_body(update_schema), **WRITE)(update_record),
        delete(base + "/{record_id:int}", name=f"{name}-delete", tags=tags, status_code=200,
               summary=f"Delete {label} (soft, with a reason)", **WRITE)(delete_record),
        post(base + "/{record_id:int}/restore", name=f"{name}-restore", tags=tags, status_code=200,
             summary=f"Restore a deleted {label}", **WRITE)(restore_record),
        get(base + "/{record_id:int}/transitions", name=f"{name}-transitions", tags=tags,
            summary="Transitions the caller may take now")(transitions),
        post(base + "/{record_id:int}/transitions/{transition:str}", name=f"{name}-transition", tags=tags,
             status_code=200, summary="Take a workflow transition",
             operation_class=_with_body(update_schema), **WRITE)(take_transition),
        get(base + "/{record_id:int}/history", name=f"{name}-history", tags=tags,
            summary="The record's audit history")(history),
    ]
    attachment_fields = [f.name for f in entity.fields if f.type == "attachment"]
    if attachment_fields:
        handlers += _attachment_handlers(entity, base, tags, attachment_fields)
    return handlers


def _attachment_handlers(entity: EntityDef, base: str, tags: list[str], fields: list[str]) -> list:
    name = entity.name
    field_type = Literal[tuple(fields)]  # type: ignore[valid-type]

    async def upload(request: Request, record_id: RecordId, field: Annotated[field_type, PathParameter()],  # type: ignore[valid-type]
                     filename: Annotated[str, QueryParameter(min_length=1, max_length=255)],
                     version: Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)] = None,
                     sha256: FromQuery[str | None] = None) -> Response:
        """Upload a file as the request body (streamed; never held in memory)."""
        ctx = await entity_context(request, entity)
        svc = request.app.state.rt.records()
        length = request.headers.get("content-length")
        info = await svc.upload(name, record_id, field, filename,
                                request.headers.get("content-type", "application/octet-stream"),
                                request.stream(), ctx, version=version,
                                size_hint=int(length) if length and length.isdigit() else None, sha256=sha256)
        return Response(_json(_info(info)), status_code=201)

    async def list_files(request: Request, record_id: RecordId, field: Annotated[field_type, PathParameter()]) -> list:  # type: ignore[valid-type]
        ctx = await entity_context(request, entity)
        return [_json(_info(i)) for i in await request.app.state.rt.records().attachments(name, record_id, field, ctx)]

    async def download(request: Request, record_id: RecordId, field: Annotated[field_type, PathParameter()],  # type: ignore[valid-type]
                       version: Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)] = None) -> Stream:
        ctx = await entity_context(request, entity)
        info, chunks = await request.app.state.rt.records().download(name, record_id, field, ctx, version=version)
        meta = _info(info)
        disposition = f"attachment; filename*=UTF-8''{url_quote(str(meta.get('filename') or 'file'))}"
        headers = {"Content-Disposition": disposition}
        if meta.get("sha256"):
            headers["Digest"] = f"sha-256={meta['sha256']}"
        return Stream(chunks, media_type=meta.get("content_type") or "application/octet-stream", headers=headers)

    path = base + "/{record_id:int}/attachments/{field:str}"
    return [
        put(path, name=f"{name}-upload", tags=tags, status_code=201, summary="Upload a file",
            request_max_body_size=None, **WRITE)(upload),
        get(path, name=f"{name}-files", tags=tags, summary="Versions of a file")(list_files),
        get(path + "/download", name=f"{name}-download", tags=tags, summary="Download a file")(download),
    ]


def _info(info: Any) -> dict:
    if isinstance(info, dict):
        return info
    if hasattr(info, "__dataclass_fields__"):
        import dataclasses

        return dataclasses.asdict(info)
    return dict(info)


def build_record_router(rt) -> Router:
    handlers = []
    for entity in rt.config.entities:
        handlers += _handlers_for(rt, entity)
    return Router(path="/", route_handlers=handlers)
