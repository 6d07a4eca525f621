"""The OpenAPI document, served as JSON at /schema/openapi.json (and /schema), and read by two HTML pages:
Swagger UI at /schema/swagger and ReDoc at /schema/redoc.

The pages' scripts and styles are vendored in ``hoso/web/static/apidocs`` and served under /schema/assets/, so
the documentation works without a network and loads nothing from a CDN onto the application's origin (Litestar's
own pages do). Other renderers (Elements, RapiDoc, Scalar) are not served.

Litestar documents each operation's success answer; the error answers are added here, from the same rules the
code follows, so that the document lists every status code and content type the API answers: every error is a
problem document (``application/problem+json``, ``hoso.web.problems``). Which operation can answer what:

- 400: any operation (a NUL character or a malformed parameter in the address, a malformed JSON body).
- 401 and 403: any operation that needs a user (all but /api/health and /api/login); 403 also for a write a
  browser says comes from another site.
- 404: an operation with a path parameter, and the record routes (an entity may be unknown to a user's roles).
- 409: record writes (a stale ``sys_version``, a transition not allowed from the record's state) and account
  changes that conflict with existing ones.
- 413, 415: operations that take a body (413 for files over their field's limit).
- 422: operations that take a body (an invalid record names every field), record lists, account reads and
  report approval reads (invalid filters, sort keys, dates, statuses).
- 429: the login (too many failed attempts).
"""

from __future__ import annotations

import copy
import html
from pathlib import Path
from typing import Any, cast

from litestar import Request
from litestar.openapi.plugins import JsonRenderPlugin, OpenAPIRenderPlugin

from hoso.web.problems import PROBLEM_JSON

__all__ = ["ProblemDocumentedJson", "PROBLEM_SCHEMA", "document_problems", "documentation_pages"]

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Problem",
    "description": "An RFC 9457 problem document; ``errors`` names the fields of an invalid request.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object", "required": ["field", "message"],
                                               "properties": {"field": {"type": "string"},
                                                              "message": {"type": "string"}}}},
        "current_version": {"type": "integer"},
    },
}

_DESCRIPTIONS = {
    400: "Bad request: a malformed parameter or body, or a NUL character",
    401: "Not logged in (no session and no valid token)",
    403: "Forbidden: no grant for this, or a cross-site write",
    404: "Not found, or outside the user's scope",
    409: "Conflict: a stale version, or a change the record's state does not allow",
    413: "Too large",
    415: "The body is not JSON",
    422: "Invalid: every problem named per field",
    429: "Too many failed logins",
    503: "The database does not answer",
}
_PUBLIC = {"/api/health", "/api/login"}
_WITH_BODY = {"post", "put", "patch"}


def _codes(path: str, method: str, operation: dict) -> set[int]:
    codes = {400}
    if path not in _PUBLIC:
        codes |= {401, 403}
    records = path.startswith("/api/records/")
    if "{" in path or records:
        codes.add(404)
    if method in _WITH_BODY or method == "delete":
        codes |= {409, 422}
    if method in _WITH_BODY:
        codes |= {413, 415}
    if method == "get" and (records or path.startswith(("/api/users", "/api/report-"))):
        codes.add(422)
    if path == "/api/login":
        codes |= {401, 429}
    if path == "/api/health":
        codes.add(503)
    return codes


def document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of the OpenAPI document ``schema`` whose /api operations list their problem answers."""
    out = copy.deepcopy(schema)
    out.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    problem = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, item in out.get("paths", {}).items():
        if not path.startswith("/api/"):
            continue
        for method, operation in item.items():
            if method not in ("get", "put", "post", "delete", "patch", "head", "options") \
                    or not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            for code in sorted(_codes(path, method, operation)):
                if code == 503:  # the health check answers its usual JSON body with status "error"
                    ok = next((r for c, r in responses.items() if str(c).startswith("2")), None)
                    if ok is not None:
                        responses["503"] = {**copy.deepcopy(ok), "description": _DESCRIPTIONS[503]}
                    continue
                responses[str(code)] = {"description": _DESCRIPTIONS[code], "content": problem}
    return out


class ProblemDocumentedJson(JsonRenderPlugin):
    """Litestar's JSON rendering of the document, with the problem answers added (computed once)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(path=["/openapi.json", "/"], **kwargs)
        self._rendered: bytes | None = None

    def render(self, request: Request, openapi_schema: dict[str, Any]) -> bytes:
        if self._rendered is None:
            self._rendered = self.render_json(request, document_problems(openapi_schema))
        return self._rendered


# -- the HTML pages, with vendored assets ---------------------------------------------------------------------------

ASSETS = Path(__file__).parent / "static" / "apidocs"
_ASSET_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
_SERVED_ASSETS = ("swagger-ui-bundle.js", "swagger-ui.css", "swagger-init.js", "redoc.standalone.js")
# ReDoc builds its search index in a worker started from a blob: URL.
_REDOC_CSP = ("default-src 'self'; script-src 'self'; worker-src 'self' blob:; style-src 'self' 'unsafe-inline'; "
              "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
              "base-uri 'self'; form-action 'self'; frame-ancestors 'none'")


class _Asset(OpenAPIRenderPlugin):
    """One vendored file, read once, served at /schema/assets/NAME."""

    def __init__(self, name: str) -> None:
        # the media type is a plain string: Litestar names no JavaScript type
        super().__init__(path=f"/assets/{name}", media_type=cast(Any, _ASSET_TYPES[Path(name).suffix]))
        self._file = ASSETS / name
        self._body: bytes | None = None

    def render(self, request: Request, openapi_schema: dict[str, Any]) -> bytes:
        if self._body is None:
            self._body = self._file.read_bytes()
        return self._body


class _Page(OpenAPIRenderPlugin):
    """A documentation page: a fixed HTML body whose scripts come from /schema/assets/."""

    def __init__(self, path: str, title: str, head: str, body: str, csp: str | None = None) -> None:
        super().__init__(path=path, media_type=cast(Any, "text/html; charset=utf-8"))
        self._html = ('<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8">'
                      '<meta name="viewport" content="width=device-width, initial-scale=1">'
                      f"<title>{html.escape(title)}</title>{head}</head><body>{body}</body></html>").encode()
        self._csp = csp

    def render(self, request: Request, openapi_schema: dict[str, Any]) -> bytes:
        if self._csp:
            request.scope.setdefault("state", {})["hoso_csp"] = self._csp
        return self._html


def documentation_pages(title: str) -> list[OpenAPIRenderPlugin]:
    """The render plugins of /schema: the JSON document, Swagger UI, ReDoc and their vendored assets."""
    spec = "/schema/openapi.json"
    swagger = _Page("/swagger", f"{title}: Swagger UI",
                    '<link rel="stylesheet" href="/schema/assets/swagger-ui.css">',
                    f'<div id="swagger-ui" data-spec-url="{spec}"></div>'
                    '<script src="/schema/assets/swagger-ui-bundle.js"></script>'
                    '<script src="/schema/assets/swagger-init.js"></script>')
    redoc = _Page("/redoc", f"{title}: ReDoc", "",
                  f'<redoc spec-url="{spec}"></redoc><script src="/schema/assets/redoc.standalone.js"></script>',
                  csp=_REDOC_CSP)
    return [ProblemDocumentedJson(), swagger, redoc, *(_Asset(name) for name in _SERVED_ASSETS)]
