"""The API documentation pages (/schema/swagger, /schema/redoc) work offline: every script and style they load is
served by the application from its vendored copies, and in Debian's chromium they render the operations of the
OpenAPI document with every request to another host refused."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

import pytest

from hoso.web.openapi import ASSETS
from hoso.web.security import CONTENT_SECURITY_POLICY
from tests.browser import CHROMIUM, CHROMIUM_ARGS, offline, served
from tests.conftest import REPO

PAGES = ("/schema/swagger", "/schema/redoc")
ARTIFACTS = REPO / "test-artifacts" / "web"


def _loaded(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', html)


async def test_pages_load_only_vendored_assets(web):
    for page in PAGES:
        r = await web.client.get(page)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html"), page
        assert "<script>" not in r.text and "unpkg" not in r.text and "cdn" not in r.text.lower(), page
        urls = _loaded(r.text)
        assert urls and all(u.startswith("/schema/assets/") for u in urls), (page, urls)
        for url in urls:
            asset = await web.client.get(url)
            name = url.rsplit("/", 1)[1]
            assert asset.status_code == 200, url
            assert asset.content == (ASSETS / name).read_bytes(), url
            kind = "text/javascript" if name.endswith(".js") else "text/css"
            assert asset.headers["content-type"].startswith(kind), url


async def test_only_the_redoc_page_widens_the_policy_for_its_worker(web):
    swagger = await web.client.get("/schema/swagger")
    assert swagger.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    redoc = await web.client.get("/schema/redoc")
    policy = redoc.headers["content-security-policy"]
    assert "worker-src 'self' blob:" in policy and "script-src 'self';" in policy and "unsafe-eval" not in policy
    after = await web.client.get("/schema/openapi.json")  # the page's policy does not stick to later requests
    assert after.headers["content-security-policy"] == CONTENT_SECURITY_POLICY


async def test_unserved_renderers_and_assets_are_404(web):
    for path in ("/schema/elements", "/schema/rapidoc", "/schema/scalar", "/schema/assets/redoc.LICENSE",
                 "/schema/assets/../openapi.py", "/schema/assets/swagger-ui-bundle.js.map"):
        r = await web.client.get(path)
        assert r.status_code == 404 and "<script" not in r.text, path


# -- in a real browser, with the network closed -----------------------------------------------------------------


@pytest.fixture
def live(config_dir, tmp_path):
    """The app on SQLite only: the pages read no database, so one engine shows them."""
    from hoso.config import load_config
    from hoso.runtime import Runtime
    from hoso.server import create_app
    from tests.helpers import migrated_runtime

    if os.environ.get("HOSO_SKIP_BROWSER_TESTS") == "1":
        pytest.skip("HOSO_SKIP_BROWSER_TESTS=1")
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing (apt-get install chromium)"
    database_url = f"sqlite:///{tmp_path / 'docs.db'}"

    async def setup():
        rt = await migrated_runtime(load_config(config_dir.root), database_url)
        await rt.db.close()

    asyncio.run(setup())
    with served(create_app(Runtime.create(config_dir.root, database_url))) as url:
        yield url


@pytest.mark.slow
def test_pages_render_the_operations_offline_in_chromium(live):
    from playwright.sync_api import sync_playwright

    outside: list[str] = []
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            context.set_default_timeout(60000)  # a wait, not a measure

            offline(context, outside)
            page = context.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            ARTIFACTS.mkdir(parents=True, exist_ok=True)

            page.goto(f"{live}/schema/swagger")
            page.wait_for_selector(".opblock")
            assert page.locator(".opblock").count() >= 10  # one block per operation of the document
            assert page.locator(".opblock", has_text="/api/records/case").count() >= 1
            page.screenshot(path=str(ARTIFACTS / "api-docs-swagger.png"))

            page.goto(f"{live}/schema/redoc")
            page.wait_for_selector("[role=menuitem]")
            page.get_by_text("/api/login", exact=False).first.wait_for(state="attached")
            assert page.locator("[role=menuitem]").count() >= 10
            page.screenshot(path=str(ARTIFACTS / "api-docs-redoc.png"))
        finally:
            browser.close()
    assert outside == [], outside
    assert [e for e in errors if "Content Security Policy" in e or "Refused" in e] == [], errors
