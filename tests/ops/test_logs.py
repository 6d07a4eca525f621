"""The request id: taken from a trusted proxy's X-Request-ID or generated, returned in the response, written in
every log line of the request and in the audit entry of every change it makes; logs as JSON lines or text."""

from __future__ import annotations

import ipaddress
import json
import logging
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hoso.audit import REQUEST_ID
from hoso.model.migrate import apply_plan, make_plan
from hoso.settings import SettingError
from hoso.web.auth import WebSettings
from hoso.web.logs import JsonFormatter, PlainFormatter, RequestIdFilter, log_config, log_format
from hoso.web.observe import forwarded_scheme, request_id_for
from tests.web.test_records import new_case

GENERATED = re.compile(r"[0-9a-f]{32}")
VALID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/+=@-]{0,127}")
PROXY = WebSettings(trusted_proxies=(ipaddress.ip_network("10.0.0.0/8"),))


def _scope(peer: str, request_id: bytes | None) -> dict:
    headers = [(b"host", b"hoso.example.vn")] + ([(b"x-request-id", request_id)] if request_id is not None else [])
    return {"type": "http", "client": (peer, 4000), "headers": headers}


@given(given_id=st.one_of(st.none(), st.binary(max_size=140), st.from_regex(VALID, fullmatch=True).map(str.encode)),
       trusted=st.booleans())
def test_a_request_id_is_believed_only_from_a_trusted_proxy_and_when_well_formed(given_id, trusted):
    scope = _scope("10.1.2.3" if trusted else "192.0.2.7", given_id)
    rid = request_id_for(scope, PROXY)
    text = given_id.decode("latin-1").strip() if given_id is not None else None
    if trusted and text is not None and VALID.fullmatch(text):
        assert rid == text
    else:
        assert GENERATED.fullmatch(rid)


async def test_the_request_id_is_returned_and_stored_in_the_audit_entry(admin):
    r = await new_case(admin, requester="Trần Thị Bình")
    assert r.status_code == 201, r.text
    rid = r.headers["x-request-id"]
    assert GENERATED.fullmatch(rid)
    rows = await admin.rt.db.fetch("SELECT request_id FROM hoso_audit WHERE action = 'create' AND entity = 'case' "
                                   "AND record_id = {}", r.json()["id"])
    assert [row["request_id"] for row in rows] == [rid]
    # a client that is no trusted proxy cannot choose the id written in the audit
    forged = await admin.client.post("/api/records/case", json={**(await _payload(admin))},
                                     headers={"X-Request-ID": "forged-id"})
    assert forged.status_code == 201 and forged.headers["x-request-id"] != "forged-id"
    assert await admin.count("hoso_audit", "request_id = {}", "forged-id") == 0
    # the id of the login that started the session is another request's
    login = await admin.audit("login")
    assert login and all(row["action"] == "login" for row in login)


async def _payload(web) -> dict:
    unit = await web.rt.db.fetchval("SELECT id FROM hoso_unit WHERE code = 'TT'")
    return {"received_on": "2025-03-04", "form_of_aid": "TV", "requester": "Lê Văn Cường", "unit": unit}


async def test_every_answer_carries_a_request_id(web):
    for path in ("/healthz", "/no/such/page", "/api/records/case"):
        r = await web.client.get(path)
        assert GENERATED.fullmatch(r.headers["x-request-id"]), path


async def test_entries_made_outside_a_request_have_no_request_id(web):
    from hoso.users import create_user

    await create_user(web.rt, "outside", "correct-horse-42", actor="test")
    rows = await web.rt.db.fetch("SELECT request_id FROM hoso_audit WHERE action = 'user.create'")
    assert rows and all(row["request_id"] is None for row in rows)


async def test_a_database_migrated_before_gains_the_audit_column(web, engine_name):
    rt = web.rt
    await rt.db.execute("ALTER TABLE hoso_audit DROP COLUMN request_id")
    plan = await make_plan(rt.db, rt.config, rt.registry)
    added = [c for c in plan.changes if c.kind == "add_system_column"]
    assert [(c.table, c.field) for c in added] == [("hoso_audit", "request_id")]
    await apply_plan(rt.db, rt.config, rt.registry, plan, applied_by="test")
    assert "request_id" in await rt.db.column_names("hoso_audit")
    assert not (await make_plan(rt.db, rt.config, rt.registry)).has_changes


def _record(message: str, **extra) -> logging.LogRecord:
    record = logging.LogRecord("hoso.web", logging.WARNING, __file__, 1, message, (), None)
    for k, v in extra.items():
        setattr(record, k, v)
    RequestIdFilter().filter(record)
    return record


def test_json_lines_carry_the_request_id_and_the_access_fields():
    token = REQUEST_ID.set("abc123")
    try:
        line = JsonFormatter().format(_record("lưu hồ sơ", method="POST", status=201, duration_ms=3.5))
    finally:
        REQUEST_ID.reset(token)
    assert "\n" not in line
    out = json.loads(line)
    assert out["request_id"] == "abc123" and out["message"] == "lưu hồ sơ" and out["level"] == "WARNING"
    assert out["method"] == "POST" and out["status"] == 201 and out["duration_ms"] == 3.5
    assert out["time"].endswith("+00:00")


def test_plain_lines_carry_the_request_id():
    token = REQUEST_ID.set("req-7")
    try:
        line = PlainFormatter().format(_record("hello"))
    finally:
        REQUEST_ID.reset(token)
    assert "[req-7] hello" in line
    assert "[-] outside" in PlainFormatter().format(_record("outside"))


def test_the_log_format_setting_is_checked():
    assert log_format({"HOSO_LOG_FORMAT": "JSON"}) == "json"
    assert log_format({}) == "plain"
    with pytest.raises(SettingError, match="HOSO_LOG_FORMAT"):
        log_format({"HOSO_LOG_FORMAT": "xml"})
    config = log_config("json")
    assert config["formatters"]["hoso"]["()"].endswith("JsonFormatter")
    assert config["loggers"]["uvicorn.access"]["propagate"] is False


def test_outgoing_requests_do_not_write_a_line_each_but_their_warnings_do(caplog):
    """httpx logs each outgoing request at INFO (a demo's outbox sent about 900 VNeID results at its start, a line
    each): under ``hoso serve``'s logging its warnings pass, its per-request lines do not."""
    import logging

    httpx_logger = logging.getLogger("httpx")
    saved = httpx_logger.level
    level = log_config("plain")["loggers"]["httpx"]["level"]
    httpx_logger.setLevel(level)
    try:
        with caplog.at_level(logging.INFO):
            httpx_logger.setLevel(level)  # caplog lowers the root only
            httpx_logger.info('HTTP Request: POST http://127.0.0.1:8765/results "HTTP/1.0 200 OK"')
            httpx_logger.warning("connection pool is full")
        assert [r.getMessage() for r in caplog.records if r.name == "httpx"] == ["connection pool is full"]
    finally:
        httpx_logger.setLevel(saved)


@given(proto=st.one_of(st.none(), st.sampled_from(["https", "http", "HTTPS", "ftp", "https, http", ""])),
       trusted=st.booleans())
def test_the_forwarded_scheme_is_believed_only_from_a_trusted_proxy(proto, trusted):
    scope = _scope("10.9.9.9" if trusted else "203.0.113.5", None)
    if proto is not None:
        scope["headers"].append((b"x-forwarded-proto", proto.encode()))
    first = (proto or "").split(",")[0].strip().lower()
    expected = first if trusted and first in ("http", "https") else None
    assert forwarded_scheme(scope, PROXY) == expected


async def test_the_access_line_is_written_before_the_answer_has_left(web, caplog):
    """A client that has its whole answer finds the request in the log even if the process is killed the next
    moment (tests/ops/test_kill.py kills the server while it acknowledges writes): the line is written before the
    answer's last part is sent, not after."""
    seen_at_last_part: list[list[str]] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        if message["type"] == "http.response.body" and not message.get("more_body"):
            seen_at_last_part.append([r.getMessage() for r in caplog.records if r.name == "hoso.access"])

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": "/healthz", "raw_path": b"/healthz", "query_string": b"", "root_path": "",
             "headers": [(b"host", b"testserver")], "client": ("127.0.0.1", 5000), "server": ("testserver", 80)}
    with caplog.at_level(logging.INFO, logger="hoso.access"):
        await web.app(scope, receive, send)
    assert len(seen_at_last_part) == 1
    [lines] = seen_at_last_part
    assert len(lines) == 1 and lines[0].startswith("GET /healthz 200 "), lines
