"""The admin's JSON endpoints under hostile and generated input: never a server error, never a change.

The explicit requests were 5xx on PostgreSQL (ids beyond the 32-bit id columns, ``ids/?limit=-1``, a huge
offset, a form or row body that is not a JSON object, NUL characters). The generated ones come from hypothesis:
random endpoints, ids, query parameters and bodies, sent as a logged-in scoped user (centre staff of TT-01).
"""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

BIG_ID = 2**31
HUGE = 99999999999999999999
EXAMPLES = int(os.environ.get("HOSO_FUZZ_EXAMPLES", "25")) * 12


async def _counts(admin) -> tuple[int, int, int]:
    web = admin.web
    return await web.count("case"), await web.count("performer"), await web.count("hoso_audit")


def _client_error(r) -> None:
    assert 400 <= r.status_code < 500, (r.request.method, str(r.request.url), r.status_code, r.text[:300])


GETS = [
    "/tables/case/ids/?limit=-1",
    "/tables/case/ids/?limit=0",
    f"/tables/case/ids/?offset={2**63}",
    f"/tables/case/ids/?offset={HUGE}",
    "/tables/case/ids/?offset=-5",
    f"/tables/case/ids/?limit={HUGE}",
    "/tables/case/ids/?search=a%00b",
    "/tables/performer/ids/?limit=-1",
    "/tables/hoso_unit/ids/?limit=-1",
    f"/tables/case/{BIG_ID}/",
    f"/tables/case/{HUGE}/",
    f"/tables/case/?id={BIG_ID}",
    f"/tables/case/?id={HUGE}",
    f"/tables/case/count/?id={BIG_ID}",
    f"/tables/case/?performer={BIG_ID}",
    f"/tables/case/?__page={HUGE}",
    f"/tables/case/?__page={2**62}",
    "/tables/case/?__page=-1",
    f"/tables/case/?__page_size={HUGE}",
    "/tables/case/?requester_name=a%00b",
    "/tables/case/?__order=%00",
]


async def test_hostile_queries_are_client_errors(admin):
    assert (await admin.login("tt01.staff")).status_code == 200
    for path in GETS:
        _client_error(await admin.get(path))


async def test_hostile_bodies_change_nothing(admin):
    assert (await admin.login("tt01.director")).status_code == 200
    case_id = admin.seed.cases["ha_noi"]
    before = await _counts(admin)
    for method, path, body in [
        ("POST", "/tables/case/", []),
        ("POST", "/tables/case/", "text"),
        ("POST", "/tables/case/", {"requester_name": "An\x00"}),
        ("PATCH", f"/tables/case/{case_id}/", []),
        ("PATCH", f"/tables/case/{case_id}/", {"requester_name": "\x00"}),
        ("PATCH", f"/tables/case/{BIG_ID}/", {"requester_name": "x"}),
        ("DELETE", f"/tables/case/{BIG_ID}/", None),
        ("POST", "/forms/case-accept/", []),
        ("POST", "/forms/case-accept/", {"case": "\x00"}),
        ("POST", "/forms/case-accept/", {"case": str(BIG_ID)}),
        ("POST", "/tables/performer/", {"full_name": "x", "unit": BIG_ID}),
    ]:
        _client_error(await admin.send(method, path, body))
    nested = "[" * 5000 + "]" * 5000
    r = await admin.send("POST", "/tables/case/", None, content=nested, headers={"Content-Type": "application/json"})
    _client_error(r)
    assert await _counts(admin) == before


_TABLES = st.sampled_from(["case", "performer", "organisation", "hoso_unit", "hoso_user", "case_hearing", "nope"])
_IDS = st.one_of(st.integers(min_value=-2, max_value=5), st.sampled_from([0, 2**31 - 1, 2**31, 2**63, HUGE]),
                 st.text("abcxyz-_.~", max_size=5))
_TEXT = st.text(st.characters(codec="utf-8"), max_size=8)
_SCALAR = st.one_of(st.none(), st.booleans(), st.integers(min_value=-HUGE, max_value=HUGE), _TEXT,
                    st.floats(allow_nan=False))
_JSON = st.recursive(_SCALAR, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                      st.dictionaries(_TEXT, inner, max_size=3)), max_leaves=8)
_PARAM_NAMES = st.sampled_from(["id", "limit", "offset", "search", "__page", "__page_size", "__order",
                                "__visible_fields", "__readable", "requester_name", "unit", "received_on",
                                "status", "unit__operator", "received_on__match", "performer"])
_PARAMS = st.dictionaries(_PARAM_NAMES, st.one_of(_TEXT, st.integers(min_value=-HUGE, max_value=HUGE).map(str)),
                          max_size=4)


@st.composite
def _requests(draw):
    table = draw(_TABLES)
    row = draw(_IDS)
    kind = draw(st.sampled_from(["list", "count", "ids", "detail", "schema", "new", "references", "create", "patch",
                                 "delete", "form"]))
    path = {"list": f"/tables/{table}/", "count": f"/tables/{table}/count/", "ids": f"/tables/{table}/ids/",
            "detail": f"/tables/{table}/{row}/", "schema": f"/tables/{table}/schema/",
            "new": f"/tables/{table}/new/", "references": f"/tables/{table}/references/",
            "create": f"/tables/{table}/", "patch": f"/tables/{table}/{row}/", "delete": f"/tables/{table}/{row}/",
            "form": "/forms/" + draw(st.sampled_from(["case-accept", "case-refuse", "case-end", "nope"])) + "/"}[kind]
    method = {"create": "POST", "patch": "PATCH", "delete": "DELETE", "form": "POST"}.get(kind, "GET")
    body = draw(_JSON) if method in ("POST", "PATCH") else None
    return method, path, draw(_PARAMS), body


@pytest.mark.slow
async def test_generated_requests_never_fail_the_server(admin):
    """Hypothesis-generated admin API requests as a scoped user: no 5xx, and nothing outside the scope changes."""
    assert (await admin.login("tt01.staff")).status_code == 200
    outside = admin.seed.cases["ha_giang"]
    row = (await admin.web.rt.db.fetch("SELECT sys_version FROM \"case\" WHERE id = {}", outside))[0]
    errors: list[str] = []
    counts = {"requests": 0}

    @given(request=_requests())
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(request):
        method, path, params, body = request
        # hypothesis drives a synchronous test: the async client runs in the test's loop via a helper thread
        response = _sync(admin.send(method, path, body, params=params) if method != "GET"
                         else admin.get(path, params=params))
        counts["requests"] += 1
        if response.status_code >= 500 and len(errors) < 5:
            errors.append(f"{method} {path} params={params!r} body={json.dumps(body)[:200]} -> "
                          f"{response.status_code}: {response.text[:200]}")

    await _in_thread(run)
    assert counts["requests"] >= EXAMPLES // 2
    assert not errors, "\n".join(errors)
    after = (await admin.web.rt.db.fetch("SELECT sys_version FROM \"case\" WHERE id = {}", outside))[0]
    assert after == row


_LOOP = {}


def _sync(coro):
    import asyncio

    return asyncio.run_coroutine_threadsafe(coro, _LOOP["loop"]).result(60)


async def _in_thread(fn):
    import asyncio

    _LOOP["loop"] = asyncio.get_running_loop()
    try:
        await asyncio.to_thread(fn)
    finally:
        _LOOP.clear()
