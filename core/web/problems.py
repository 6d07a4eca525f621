"""Errors as RFC 9457 problem details (``application/problem+json``), in Vietnamese or English.

Every error the web application returns goes through here: HTTP errors raised by handlers or by Litestar,
the record service's errors (422, 404, 403, 409, 413), and anything unexpected, which becomes a 500 whose
body says nothing about the cause (the traceback goes to the server log only).
"""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Any

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException, ValidationException

from hoso.records.errors import (
    AttachmentTooLarge,
    Forbidden,
    InvalidTransition,
    NotFound,
    StaleVersion,
    ValidationError,
)

_BACKTICKED = re.compile(r"`([A-Za-z_][A-Za-z0-9_]*)`")

__all__ = ["PROBLEM_JSON", "MESSAGES", "msg", "request_lang", "problem", "problem_message", "exception_handlers"]

log = logging.getLogger("hoso.web")

PROBLEM_JSON = "application/problem+json"

MESSAGES: dict[str, dict[str, str]] = {
    "unauthenticated": {"vi": "Bạn cần đăng nhập để dùng chức năng này.", "en": "You must log in to do this."},
    "no_access": {"vi": "Vai trò của bạn không cấp quyền truy cập các hồ sơ này.",
                  "en": "Your roles grant no access to these records."},
    "login_failed": {"vi": "Tên đăng nhập hoặc mật khẩu không đúng, hoặc tài khoản không được phép đăng nhập.",
                     "en": "Wrong username or password, or the account may not log in."},
    "unknown_entity": {"vi": "Không có loại hồ sơ {name!r}.", "en": "There is no entity {name!r}."},
    "record_not_found": {"vi": "Không tìm thấy hồ sơ {entity} số {id}.", "en": "{entity} {id} does not exist."},
    "invalid_record": {"vi": "Hồ sơ không hợp lệ: {count} lỗi, xem danh sách errors.",
                       "en": "The record is not valid: {count} problem(s), see errors."},
    "json_object": {"vi": "Nội dung yêu cầu phải là một đối tượng JSON.",
                    "en": "The request body must be a JSON object."},
    "json_only": {"vi": "Nội dung yêu cầu phải có Content-Type: application/json.",
                  "en": "The request body must be sent as Content-Type: application/json."},
    "too_many_logins": {"vi": "Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau 15 phút.",
                        "en": "Too many failed logins. Try again in 15 minutes."},
    "login_fields": {"vi": "Cần có username và password (chuỗi ký tự).",
                     "en": "username and password (strings) are required."},
    "cross_origin": {"vi": "Yêu cầu từ trang khác bị từ chối.", "en": "Cross-origin request refused."},
    "nul_in_address": {"vi": "Địa chỉ yêu cầu chứa ký tự NUL (%00), không được chấp nhận.",
                       "en": "The request address holds a NUL character (%00), which is not accepted."},
    "nul_char": {"vi": "Không được chứa ký tự NUL (\\u0000).", "en": "Must not contain a NUL character (\\u0000)."},
    "json_too_deep": {"vi": "Nội dung JSON lồng nhau quá {depth} cấp.",
                      "en": "The JSON body is nested more than {depth} levels deep."},
    "out_of_range": {"vi": "Giá trị nằm ngoài khoảng cho phép ({low} đến {high}).",
                     "en": "The value is out of range ({low} to {high})."},
    "internal": {"vi": "Đã xảy ra lỗi không mong muốn; lỗi đã được ghi lại.",
                 "en": "An unexpected error occurred; it has been logged."},
}


def msg(key: str, lang: str = "vi", **kwargs: Any) -> str:
    entry = MESSAGES[key]
    return (entry.get(lang) or entry["vi"]).format(**kwargs)


def request_lang(connection: ASGIConnection) -> str:
    """'en' when the first language the client accepts is English, otherwise 'vi'."""
    header = connection.headers.get("accept-language") or ""
    first = header.split(",", 1)[0].split(";", 1)[0].strip().lower()
    return "en" if first == "en" or first.startswith("en-") else "vi"


def _slug(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "-").replace("'", "")
    except ValueError:
        return str(status)


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _problem_body(status: int, detail: str, title: str | None, slug: str | None, extra: dict) -> dict:
    return {"type": f"urn:hoso:problem:{slug or _slug(status)}", "title": title or _title(status),
            "status": status, "detail": detail, **extra}


def problem(status: int, detail: str, *, title: str | None = None, slug: str | None = None,
            headers: dict[str, str] | None = None, **extra: Any) -> Response:
    return Response(content=_problem_body(status, detail, title, slug, extra), status_code=status,
                    media_type=PROBLEM_JSON, headers=headers)


def problem_message(status: int, detail: str, *, title: str | None = None, slug: str | None = None,
                    **extra: Any) -> bytes:
    """The encoded body of a problem document, for answers sent outside a handler (ASGI middleware)."""
    import msgspec

    return msgspec.json.encode(_problem_body(status, detail, title, slug, extra))


def _http_exception(request: Request, exc: HTTPException) -> Response:
    status: int = exc.status_code
    if status >= 500:
        log.error("HTTP %s on %s %s: %s", status, request.method, request.url.path, exc.detail)
        return problem(status, msg("internal", request_lang(request)))
    extra: dict[str, Any] = {}
    if isinstance(exc, ValidationException) and isinstance(exc.extra, list):
        # Litestar's own checks of parameters (e.g. ?page_size=5000) and of request bodies against the
        # entity's Struct: name the field. A body that does not fit its entity is an invalid record (422).
        errors = []
        for item in exc.extra:
            if isinstance(item, dict):
                message = str(item.get("message") or "")
                field = str(item.get("key") or item.get("source") or "")
                named = _BACKTICKED.search(message)
                if field in ("data", "body", "") and named:
                    field = named.group(1)
                if item.get("source") == "body":
                    status = 422
                errors.append({"field": field, "message": message})
        if errors:
            extra["errors"] = errors
        if status == 422:
            lang = request_lang(request)
            return problem(422, msg("invalid_record", lang, count=len(errors)), slug="invalid-record", **extra)
    headers = {k: v for k, v in (exc.headers or {}).items()}
    return problem(status, str(exc.detail or _title(status)), headers=headers or None, **extra)


def _validation_error(request: Request, exc: ValidationError) -> Response:
    lang = request_lang(request)
    errors = [{"field": f, "message": m} for f, m in exc.problems]
    return problem(422, msg("invalid_record", lang, count=len(errors)), slug="invalid-record", errors=errors)


def _not_found(request: Request, exc: NotFound) -> Response:
    return problem(404, str(exc), slug="not-found")


def _forbidden(request: Request, exc: Forbidden) -> Response:
    return problem(403, str(exc), slug="forbidden")


def _stale(request: Request, exc: StaleVersion) -> Response:
    return problem(409, str(exc), slug="stale-version", current_version=exc.current)


def _invalid_transition(request: Request, exc: InvalidTransition) -> Response:
    return problem(409, str(exc), slug="invalid-transition")


def _too_large(request: Request, exc: AttachmentTooLarge) -> Response:
    errors = [{"field": f, "message": m} for f, m in exc.problems]
    return problem(413, str(exc.problems[0][1] if exc.problems else exc), slug="too-large", errors=errors)


def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(500, msg("internal", request_lang(request)), slug="internal-error")


def exception_handlers() -> dict:
    return {
        HTTPException: _http_exception,
        AttachmentTooLarge: _too_large,
        ValidationError: _validation_error,
        NotFound: _not_found,
        Forbidden: _forbidden,
        StaleVersion: _stale,
        InvalidTransition: _invalid_transition,
        Exception: _unexpected,
    }
