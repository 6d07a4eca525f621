"""What the deployment's own write endpoints take besides their fields: no query parameter they do not name, a
body of bounded size, only the body keys they name and a whole-number version. Each refusal names the parameter
or the key, in Vietnamese or English, and comes before anything is read or written."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from litestar import Request
from litestar.exceptions import ValidationException

from hoso.records.errors import ValidationError
from hoso.web.api import MAX_INT

__all__ = ["MAX_BODY", "refuse_query", "refuse_keys", "version_of"]

# Bytes of a request body: a case's intake or an evaluation is a few kilobytes (longer texts are attachments).
MAX_BODY = 64 * 1024

_MESSAGES = {
    "vi": {"query": "tham số không được hỗ trợ: {name}", "key": "không phải trường của yêu cầu: {name}",
           "version": "phiên bản phải là một số nguyên từ 1 đến {max}"},
    "en": {"query": "parameter not supported: {name}", "key": "not a key of this request: {name}",
           "version": "the version must be a whole number from 1 to {max}"},
}


def _m(lang: str, key: str, **kw: Any) -> str:
    return _MESSAGES["en" if lang == "en" else "vi"][key].format(**kw)


def refuse_query(request: Request, lang: str, allowed: Collection[str] = ()) -> None:
    """400 naming each query parameter the endpoint does not take."""
    unknown = [name for name in dict.fromkeys(request.query_params.keys()) if name not in allowed]
    if unknown:
        raise ValidationException(
            detail=", ".join(_m(lang, "query", name=repr(n)) for n in unknown),
            extra=[{"key": n, "message": _m(lang, "query", name=repr(n)), "source": "query"} for n in unknown])


def refuse_keys(body: dict, lang: str, allowed: Collection[str]) -> None:
    """422 naming each body key the endpoint does not take."""
    unknown = [k for k in body if k not in allowed]
    if unknown:
        raise ValidationError([(k, _m(lang, "key", name=repr(k))) for k in unknown])


def version_of(body: dict, lang: str) -> int | None:
    """The body's ``sys_version``, a whole number from 1 (None when absent); else 422 on ``sys_version``."""
    version = body.get("sys_version")
    if version is None:
        return None
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= MAX_INT:
        raise ValidationError([("sys_version", _m(lang, "version", max=MAX_INT))])
    return version
