"""Request-level guards, in front of every route (the API, the HTML pages and the admin mounted at /admin).

One check per class of hostile input, so that no handler has to remember it:

- NUL characters (``%00``) in the address: a PostgreSQL text value cannot hold one, so a filter, a search or a
  file name carrying it would fail in the driver. Answered 400, naming the parameter.
- NUL characters in the strings of a JSON body: 422 naming every field that holds one (``hearings[0].court``).
  The login endpoints are left to the login check, which records such an attempt as a failed login.
- JSON nested deeper than ``MAX_JSON_DEPTH``: no record needs more, and deeper documents exhaust the recursion
  of the decoders and validators (RecursionError). Answered 400.

Every refusal is a problem document (``hoso.web.problems``) in the client's language, and nothing is changed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, unquote_to_bytes

import msgspec

from hoso.web.problems import msg, problem_message

__all__ = ["MAX_JSON_DEPTH", "HostileInputGuard", "json_depth", "nul_paths"]

MAX_JSON_DEPTH = 32
# JSON bodies above this size are left to the handlers' own body-size limits (413) without being inspected here.
MAX_INSPECTED_BODY = 16 * 1024 * 1024
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# A NUL in a login is a failed login: audited and counted by the login check, not refused here.
_LOGIN_PATHS = frozenset({"/api/login", "/login", "/admin/public/login", "/admin/public/login/"})


def json_depth(value: Any, limit: int) -> int:
    """The nesting depth of a decoded JSON value (a scalar is 0), counting no further than ``limit + 1``."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return deepest
            stack.extend((v, depth) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


def nul_paths(value: Any, path: str = "") -> Iterator[str]:
    """The paths (``a.b[2].c``) of the strings, keys included, in a decoded JSON value that hold a NUL."""
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                yield where or "body"
        elif isinstance(item, dict):
            for k, v in item.items():
                key = str(k).replace("\x00", "\\u0000")
                child = f"{where}.{key}" if where else key
                if "\x00" in str(k):
                    yield child
                stack.append((v, child))
        elif isinstance(item, list):
            stack.extend((v, f"{where}[{i}]") for i, v in enumerate(item))


def _lang(headers: list[tuple[bytes, bytes]]) -> str:
    for name, value in headers:
        if name.lower() == b"accept-language":
            first = value.decode("latin-1").split(",", 1)[0].split(";", 1)[0].strip().lower()
            return "en" if first == "en" or first.startswith("en-") else "vi"
    return "vi"


def _header(headers: list[tuple[bytes, bytes]], wanted: bytes) -> str:
    for name, value in headers:
        if name.lower() == wanted:
            return value.decode("latin-1")
    return ""


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def _nul_parameters(query: bytes) -> list[str]:
    """Names of the query parameters whose name or value holds a NUL (after percent-decoding)."""
    if b"\x00" not in query and b"%00" not in query.lower():
        return []
    text = query.decode("utf-8", "replace")
    names = [k for k, v in parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="replace")
             if "\x00" in k + v]
    return [n.replace("\x00", "\\u0000") for n in names] or ["query"]


async def _send_problem(send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/problem+json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class HostileInputGuard:
    """ASGI middleware refusing NUL characters and over-nested JSON before any handler runs."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = scope.get("headers") or []
        lang = _lang(headers)
        raw_path = scope.get("raw_path") or scope.get("path", "").encode("utf-8", "surrogateescape")
        raw_path = raw_path.split(b"?", 1)[0]
        if b"\x00" in raw_path or b"\x00" in unquote_to_bytes(raw_path):
            await _send_problem(send, 400, problem_message(400, msg("nul_in_address", lang), slug="nul-character",
                                                           errors=[{"field": "path",
                                                                    "message": msg("nul_char", lang)}]))
            return
        bad = _nul_parameters(scope.get("query_string") or b"")
        if bad:
            await _send_problem(send, 400, problem_message(400, msg("nul_in_address", lang), slug="nul-character",
                                                           errors=[{"field": n, "message": msg("nul_char", lang)}
                                                                   for n in bad]))
            return
        if scope.get("method") not in _WRITES or not _is_json(_header(headers, b"content-type")) \
                or "/attachments/" in scope.get("path", ""):
            await self.app(scope, receive, send)
            return
        length = _header(headers, b"content-length")
        if length.isdigit() and int(length) > MAX_INSPECTED_BODY:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        first_message: dict | None = None
        while more:
            message = await receive()
            if message["type"] != "http.request":
                first_message = message  # a disconnect: hand it on as it is
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > MAX_INSPECTED_BODY:
                break
        body = b"".join(chunks)
        refusal = None if size > MAX_INSPECTED_BODY or first_message else self._check(body, scope, lang)
        if refusal is not None:
            await _send_problem(send, *refusal)
            return
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                if first_message is not None:
                    return first_message
                return {"type": "http.request", "body": body, "more_body": more}
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    def _check(body: bytes, scope, lang: str) -> tuple[int, bytes] | None:
        deep = body.count(b"[") + body.count(b"{") > MAX_JSON_DEPTH
        nul = b"\\u0000" in body
        if not (deep or nul):
            return None
        try:
            value = msgspec.json.decode(body)
        except RecursionError:
            return 400, problem_message(400, msg("json_too_deep", lang, depth=MAX_JSON_DEPTH), slug="too-deep")
        except (msgspec.DecodeError, ValueError):
            return None  # not JSON: the handler answers that
        if deep and json_depth(value, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
            return 400, problem_message(400, msg("json_too_deep", lang, depth=MAX_JSON_DEPTH), slug="too-deep")
        if nul and scope.get("path") not in _LOGIN_PATHS:
            fields = sorted(set(nul_paths(value)))
            if fields:
                errors = [{"field": f, "message": msg("nul_char", lang)} for f in fields]
                return 422, problem_message(422, msg("invalid_record", lang, count=len(errors)),
                                            slug="invalid-record", errors=errors)
        return None
