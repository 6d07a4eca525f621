"""Hotline and online intake: requests from the 18001233 hotline and the mobile app, by API token.

``POST /api/intake`` turns a hotline call or an app/online request into a case in state ``received`` through the
record service (scope, audit, naming). It answers only a token limited to the ``legal_aid.hotline`` module
(``hoso.web.tokens``) and, the route being under that module's ``routes``, exists only where the module is on.
The requester is looked up in the population database (``hoso_legal_aid.population``) when the module of that
lookup is on at the target unit; a timeout or an outage leaves the case unverified for a job to verify later. A
request from the same citizen ID on the same day is flagged (``possible_duplicate``), never merged.

Hook implementations here carry their own names and say which hook they implement with ``specname``;
``hoso_legal_aid`` registers them (see its ``__init__``).
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Any

from litestar import Request, post
from litestar.exceptions import ClientException, HTTPException

from hoso.db import quote
from hoso.hookspecs import hookimpl
from hoso.records.context import LOCAL_ZONE
from hoso.records.errors import ValidationError
from hoso.units import UnitCodeError, resolve_unit_code
from hoso_legal_aid._inputs import MAX_BODY, refuse_query
from hoso_legal_aid.population import CITIZEN_ID, PopulationUnavailable, lookup, module_on, prefilled

__all__ = ["intake_routes"]

MODULE = "legal_aid.hotline"
PATH = "/api/intake"
CHANNELS = ("hotline", "mobile_app", "online")
# The request's keys and the case fields they fill.
FIELDS = {"channel": "request_channel", "unit": "unit", "received_on": "received_on",
          "requester_name": "requester_name", "citizen_id": "requester_citizen_id", "gender": "gender",
          "birth_year": "birth_year", "phone": "phone", "address": "address", "summary": "summary",
          "urgent": "urgent", "form_of_aid": "form_of_aid", "field_of_law": "field_of_law",
          "beneficiary_groups": "beneficiary_groups", "procedural_stage": "procedural_stage",
          "litigation_role": "litigation_role"}
_KEY_OF = {v: k for k, v in FIELDS.items()}

MESSAGES = {
    "vi": {
        "body": "nội dung yêu cầu phải là một đối tượng JSON",
        "unknown": "trường không có trong yêu cầu tiếp nhận: {name}",
        "channel": "hình thức tiếp nhận phải là một trong: {choices}",
        "unit": "cần mã đơn vị (Trung tâm hoặc Chi nhánh) nhận yêu cầu",
        "module_off": "đơn vị {unit} không dùng tổng đài 18001233 và ứng dụng di động",
        "citizen_id": "số định danh cá nhân phải gồm đúng 12 chữ số",
    },
    "en": {
        "body": "the request must be a JSON object",
        "unknown": "not a field of an intake request: {name}",
        "channel": "the channel must be one of: {choices}",
        "unit": "the code of the receiving unit (a centre or a branch) is required",
        "module_off": "unit {unit} does not use the hotline 18001233 and the mobile app",
        "citizen_id": "a citizen ID is exactly 12 digits",
    },
}


def _msg(lang: str, key: str, **kw: Any) -> str:
    return MESSAGES["vi" if lang == "vi" else "en"][key].format(**kw)


def _problems(body: Any, lang: str) -> list[tuple[str, str]]:
    """What is wrong with the request's shape, before anything is looked up."""
    if not isinstance(body, dict):
        return [("", _msg(lang, "body"))]
    problems = [(k, _msg(lang, "unknown", name=k)) for k in body if k not in FIELDS]
    if body.get("channel") not in CHANNELS:
        problems.append(("channel", _msg(lang, "channel", choices=", ".join(CHANNELS))))
    if not isinstance(body.get("unit"), str) or not body["unit"].strip():
        problems.append(("unit", _msg(lang, "unit")))
    cid = body.get("citizen_id")
    if isinstance(cid, str):  # as the field type stores it: fullwidth digits (some keyboards type them) made ASCII
        cid = body["citizen_id"] = unicodedata.normalize("NFKC", cid).strip()
    if cid not in (None, "") and (not isinstance(cid, str) or not CITIZEN_ID.fullmatch(cid)):
        problems.append(("citizen_id", _msg(lang, "citizen_id")))
    return problems


async def _duplicates(rt, citizen_id: str | None, on: str) -> int:
    """How many live cases of this citizen ID were received on ``on`` (every unit: the flag names none)."""
    if not citizen_id:
        return 0
    table = quote(rt.config.entity("case").table)
    return int(await rt.db.fetchval(
        f"SELECT COUNT(*) FROM {table} WHERE requester_citizen_id = {{}} AND received_on = {{}} "
        "AND sys_deleted_at IS NULL", citizen_id, dt.date.fromisoformat(on)) or 0)


@post(PATH, tags=["legal_aid"], status_code=201, request_max_body_size=MAX_BODY)
async def intake(request: Request) -> dict:
    """Take in a request from the hotline, the mobile app or online as a case in state ``received``.

    Needs an API token limited to the ``legal_aid.hotline`` module. A request of a citizen ID that already made
    one that day is taken in and flagged (``possible_duplicate``). Identity fields left empty are filled from
    the population database; when it does not answer, the case is taken in unverified and verified later."""
    from hoso.records.service import RecordService
    from hoso.web.api import request_context
    from hoso.web.auth import require_module_token
    from hoso.web.problems import request_lang

    await require_module_token(request, MODULE)
    ctx = await request_context(request)
    lang = request_lang(request)
    refuse_query(request, lang)
    rt = request.app.state.rt
    try:
        body = await request.json()
    except HTTPException:  # e.g. 413: a body over MAX_BODY
        raise
    except Exception:
        raise ClientException(status_code=400, detail=_msg(lang, "body")) from None
    problems = _problems(body, lang)
    if problems:
        raise ValidationError(problems)
    try:
        unit, _ = await resolve_unit_code(rt.db, body["unit"].strip())
    except UnitCodeError as exc:
        raise ValidationError([("unit", exc.message(lang))]) from None
    from hoso.web.modules_guard import request_switches

    switches = await request_switches(request)
    if not switches.unit_has(MODULE, unit["id"]):
        raise ValidationError([("unit", _msg(lang, "module_off", unit=unit["code"]))])

    values: dict[str, Any] = {FIELDS[k]: v for k, v in body.items() if v is not None}
    values["unit"] = unit["id"]
    values.setdefault("received_on", dt.datetime.now(LOCAL_ZONE).date().isoformat())
    citizen_id = values.get("requester_citizen_id") or None
    looked_up: list[str] = []
    if citizen_id and await module_on(rt, unit["id"], switches):
        try:
            identity = await lookup(citizen_id)
        except PopulationUnavailable:
            values["identity_verified"] = False  # a job verifies it once the service answers
        else:
            changes = prefilled(values, identity)
            looked_up = sorted(k for k in changes if k != "identity_verified")
            values.update(changes)
    try:
        duplicates = await _duplicates(rt, citizen_id, str(values["received_on"]))
    except ValueError:
        duplicates = 0  # a malformed date: the record service names it
    values["possible_duplicate"] = duplicates > 0
    try:
        record = await RecordService(rt).create("case", values, ctx)
    except ValidationError as exc:
        raise ValidationError([(_KEY_OF.get(f, f), m) for f, m in exc.problems]) from None
    return {"id": record["id"], "code": record.get("code"), "status": record.get("status"),
            "channel": record.get("request_channel"), "identity_verified": record.get("identity_verified"),
            "prefilled": looked_up, "possible_duplicate": bool(record.get("possible_duplicate")),
            "duplicates": duplicates}


@hookimpl(specname="hoso_routes")
def intake_routes(runtime):
    return [intake]
