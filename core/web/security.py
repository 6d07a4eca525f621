"""Browser-facing protections shared by the API, the pages and the admin.

- ``origin_allowed``: whether a write a browser sends comes from this site. The Origin header (or, without it,
  the Referer) must name the request's own Host, or one of ``HOSO_ALLOWED_HOSTS`` (the public host names when
  a TLS proxy rewrites Host). Requests without either header (API clients, scripts) are not browsers' and pass;
  the admin also keeps piccolo-admin's double-submit CSRF cookie.
- ``security_headers``: a ``before_send`` hook adding CSP, frame-ancestors, nosniff and Referrer-Policy to
  every response (handlers, mounted admin, errors and 404s alike). A page may put a policy of its own in the
  request's ``state["hoso_csp"]`` (the ReDoc page allows its blob: worker).
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

__all__ = ["CONTENT_SECURITY_POLICY", "SECURITY_HEADERS", "origin_allowed", "security_headers"]

# What the pages load: the admin's own scripts and styles (piccolo-admin's built front end and hoso's
# admin.js), inline style attributes and <style> elements (Vue bindings, the small HTML pages), images and
# fonts from the app or data:/blob: URLs (previews of staged files), and XHR to the app itself. No CDN, no
# inline script, no eval.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                           "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
                           "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
)
_NAMES = {name for name, _ in SECURITY_HEADERS}


def _netloc(url: str) -> str | None:
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return parts.netloc.rpartition("@")[2].lower()


def _host_only(netloc: str) -> str:
    if netloc.startswith("["):  # an IPv6 literal keeps its brackets
        return netloc.partition("]")[0] + "]"
    return netloc.rsplit(":", 1)[0] if netloc.count(":") == 1 else netloc


def origin_allowed(origin: str | None, referer: str | None, host: str | None,
                   allowed_hosts: Iterable[str] = ()) -> bool:
    """True when the request's Origin (else Referer) names ``host`` or an allowed host; also when the request
    carries neither (not a browser). An opaque ``null`` origin or an unreadable one is refused."""
    source = origin if origin is not None else referer
    if source is None or source == "":
        return origin is None
    netloc = _netloc(source)
    if netloc is None:
        return False
    if host and netloc == host.strip().lower():
        return True
    allowed = {h.strip().lower() for h in allowed_hosts if h.strip()}
    return netloc in allowed or _host_only(netloc) in allowed


async def security_headers(message, scope) -> None:
    """Add the security headers to a response's start message (keeping any a handler set itself)."""
    if message.get("type") != "http.response.start":
        return
    headers = list(message.get("headers") or [])
    present = {bytes(name).lower() for name, _ in headers}
    missing = [(n, v) for n, v in SECURITY_HEADERS if n not in present]
    page_csp = (scope.get("state") or {}).get("hoso_csp")  # a page that needs a wider policy (its own, fixed)
    if page_csp and b"content-security-policy" not in present:
        missing = [(n, page_csp.encode() if n == b"content-security-policy" else v) for n, v in missing]
    if missing:
        message["headers"] = headers + missing
