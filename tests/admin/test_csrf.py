"""Admin writes must come from this site: the Origin (else Referer) is checked against the Host and
HOSO_ALLOWED_HOSTS on top of piccolo-admin's double-submit cookie, which a sibling origin could plant. Behind a
TLS proxy, writes from the public origin work. Every response carries the security headers."""

from __future__ import annotations

import dataclasses

import pytest

from hoso.web.security import CONTENT_SECURITY_POLICY


async def _rename(admin, requester: str, **headers):
    case_id = admin.seed.cases["ha_noi"]
    return await admin.send("PATCH", f"/tables/case/{case_id}/", {"requester_name": requester}, headers=headers)


async def _requester(admin) -> str:
    return await admin.web.rt.db.fetchval('SELECT requester_name FROM "case" WHERE id = {}',
                                          admin.seed.cases["ha_noi"])


async def test_writes_from_another_origin_are_refused_even_with_the_csrf_cookie(admin):
    assert (await admin.login("tt01.director")).status_code == 200
    before = await _requester(admin)
    for headers in ({"Origin": "http://evil.example"}, {"Origin": "null"},
                    {"Referer": "http://testserver.local.evil.example/admin/"},
                    {"Origin": "http://testserver.local:8443"}):
        r = await _rename(admin, "Kẻ giả mạo", **headers)
        assert r.status_code == 403, (headers, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["detail"] == "Yêu cầu từ trang khác bị từ chối."
    assert await _requester(admin) == before
    # the site's own origin, a same-site Referer, or no browser header at all (a script with the cookie)
    for i, headers in enumerate(({"Origin": "http://testserver.local"},
                                 {"Referer": "http://testserver.local/admin/"}, {})):
        r = await _rename(admin, f"Người yêu cầu {i}", **headers)
        assert r.status_code == 200, (headers, r.text)
    assert await _requester(admin) == "Người yêu cầu 2"


async def test_a_login_from_another_origin_is_refused(admin):
    admin.client.cookies.delete("hoso_session")
    r = await admin.client.post("/admin/public/login/", json={"username": "tt01.director",
                                                              "password": "correct-horse-42"},
                                headers={"X-CSRFToken": await admin.csrf(), "Origin": "http://evil.example"})
    assert r.status_code == 403 and "hoso_session" not in r.cookies


def _https(admin, host: str, origin: str) -> dict:
    """Headers of a browser request that came through a TLS proxy: the cookies the admin set, the CSRF token."""
    cookies = "; ".join(f"{c.name}={c.value}" for c in admin.client.cookies.jar)
    return {"Host": host, "Origin": origin, "Cookie": cookies, "X-CSRFToken": admin.client.cookies["csrftoken"]}


@pytest.mark.parametrize("proxy_host, allowed, status", [
    ("hoso.example", "", 200),  # the proxy passes the public Host on: the Origin matches it
    ("127.0.0.1:8000", "hoso.example", 200),  # the proxy rewrites Host: HOSO_ALLOWED_HOSTS names the public one
    ("127.0.0.1:8000", "", 403),
])
async def test_writes_behind_a_tls_proxy(admin, proxy_host, allowed, status):
    settings = admin.web.app.state.settings
    admin.web.app.state.admin.settings = dataclasses.replace(
        settings, allowed_hosts=tuple(h for h in allowed.split(",") if h))
    assert (await admin.login("tt01.director")).status_code == 200
    case_id = admin.seed.cases["ha_noi"]
    r = await admin.client.patch(f"https://{proxy_host}/admin/api/tables/case/{case_id}/",
                                 json={"requester_name": "Qua proxy"},
                                 headers=_https(admin, proxy_host, "https://hoso.example"))
    assert r.status_code == status, r.text
    assert (await _requester(admin) == "Qua proxy") == (status == 200)


async def test_security_headers_on_every_response(admin):
    assert (await admin.login("tt01.staff")).status_code == 200
    client = admin.client
    responses = [await client.get(p) for p in ("/", "/admin/", "/admin/api/tables/", "/admin/api/tables/nope/",
                                               "/admin/hoso/history/", "/api/health", "/api/records/case/999999",
                                               "/no/such/page", "/schema/openapi.json", "/api/records/case?q=%00")]
    responses.append(await client.post("/api/records/case", json={"x": 1}, headers={"Origin": "http://evil"}))
    for r in responses:
        assert r.headers.get("content-security-policy") == CONTENT_SECURITY_POLICY, (r.url, r.status_code)
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert r.headers.get("x-content-type-options") == "nosniff", r.url
        assert r.headers.get("referrer-policy") == "same-origin", r.url
        assert r.headers.get("x-frame-options") == "DENY", r.url


async def test_schema_serves_the_json_document_and_offline_pages_only(admin):
    client = admin.client
    for path in ("/schema", "/schema/openapi.json"):
        r = await client.get(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.oai.openapi+json")
        assert r.json()["openapi"].startswith("3.")
    for path in ("/schema/elements", "/schema/rapidoc", "/schema/scalar"):  # renderers that would load a CDN
        r = await client.get(path)
        assert r.status_code == 404 and "<script" not in r.text, path
    for path in ("/schema/swagger", "/schema/redoc"):  # tests/web/test_api_docs.py checks their assets
        r = await client.get(path)
        assert r.status_code == 200 and 'src="/schema/assets/' in r.text, path
