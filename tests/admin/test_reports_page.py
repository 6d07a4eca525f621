"""The admin's report page in Debian's chromium (headless, driven by Playwright), on both engines: a user who may run
reports finds the page in the sidebar, runs Biểu 24 in small, sees the table with its column groups, subtotals and
total and a drawn chart; the page loads nothing from outside 127.0.0.1 (Chart.js is served by the admin)."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.admin.test_browser import open_link
from tests.api.test_reports_api import CASES, PEOPLE
from tests.browser import CHROMIUM, CHROMIUM_ARGS, offline, served
from tests.conftest import REPO
from tests.helpers import migrated_runtime
from tests.reports.conftest import load_cases, set_users, write_config
from tests.web.conftest import PASSWORD

PORTS = range(18050, 18060)
ARTIFACTS = REPO / "test-artifacts" / "admin"

if os.environ.get("HOSO_SKIP_BROWSER_TESTS") == "1":
    pytest.skip("HOSO_SKIP_BROWSER_TESTS=1", allow_module_level=True)

playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[test]' installs playwright")

pytestmark = pytest.mark.slow


def _free_port() -> int:
    for port in PORTS:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 18050-18059")


@pytest.fixture
def live(tmp_path, database_url, monkeypatch):
    from hoso.runtime import Runtime
    from hoso.server import create_app
    from hoso.users import create_user

    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing (apt-get install chromium)"
    monkeypatch.setenv("HOSO_ADMIN_RELOAD_SECONDS", "0")
    root = tmp_path / "config"
    config = write_config(root)

    async def setup():
        rt = await migrated_runtime(config, database_url)
        try:
            ids = {n: await create_user(rt, n, PASSWORD, actor="test") for n in PEOPLE}
            await set_users(rt, [(ids[n], role, unit) for n, (role, unit) in PEOPLE.items()])
            await load_cases(rt, CASES)
        finally:
            await rt.db.close()

    asyncio.run(setup())
    with served(create_app(Runtime.create(root, database_url)), _free_port()) as url:
        yield url


def test_report_page_runs_a_report_with_table_and_chart(live):
    outside: list[str] = []
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="vi-VN")
            context.set_default_timeout(60000)  # a wait, not a measure

            offline(context, outside)
            page = context.new_page()
            page.goto(f"{live}/admin")
            page.wait_for_selector("[data-uitest=login_button]")
            page.wait_for_load_state("networkidle")
            page.fill("input[name=username]", "prov")
            page.fill("input[type=password]", PASSWORD)
            page.click("[data-uitest=login_button]")
            page.wait_for_function("() => !location.hash.includes('login')")
            page.locator('a[href="./hoso/reports/"]').wait_for(state="visible")  # to a user who may run reports
            open_link(page, "./hoso/reports/", "#hoso-report-form")
            page.select_option("#f-name", "people")
            page.fill("#f-period", "2025")
            page.click("#hoso-report-form button[type=submit]")
            page.wait_for_selector("#hoso-report-table")
            head = page.inner_text("#hoso-report-table thead")
            assert "Giới tính" in head and "Nam" in head and "Lĩnh vực" in head
            assert page.locator("#hoso-report-table th", has_text="Giới tính").get_attribute("colspan") == "2"
            total = page.locator("#hoso-report-table tr.total td").all_inner_texts()
            assert total[0] == "Tổng cộng" and total[2] == "3"  # province P1 in 2025: cases 1, 2 and 4
            assert page.locator("#hoso-report-table tr.subtotal").count() == 2
            page.wait_for_selector("#hoso-report-chart[data-drawn='1']")
            drawn = page.evaluate("""() => {
                const c = document.getElementById('hoso-report-chart');
                const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                let painted = 0;
                for (let i = 3; i < d.length; i += 4) if (d[i] > 0) painted++;
                return {painted, bars: window.hosoReportChart.data.datasets.length,
                        labels: window.hosoReportChart.data.labels.length};
            }""")
            assert drawn["painted"] > 1000 and drawn["bars"] >= 2 and drawn["labels"] == 3
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"{urlparse(live).port}-reports-page.png"), full_page=True)
            with page.expect_download() as info:
                page.click("a.button:text('XLSX')")
            assert info.value.suggested_filename == "people_2025.xlsx"
            page.goto(f"{live}/admin/hoso/reports/?name=people&period=2025-13")
            assert "period" in page.inner_text("#hoso-report-errors")
            context.close()

            # a user without run_reports gets no link and no page
            context = browser.new_context(locale="vi-VN")
            offline(context, outside)
            page = context.new_page()
            page.goto(f"{live}/admin")
            page.wait_for_selector("[data-uitest=login_button]")
            page.wait_for_load_state("networkidle")
            page.fill("input[name=username]", "reader")
            page.fill("input[type=password]", PASSWORD)
            page.click("[data-uitest=login_button]")
            page.wait_for_function("() => !location.hash.includes('login')")
            page.wait_for_selector(".sidebar")
            page.wait_for_load_state("networkidle")
            assert not page.locator('a[href="./hoso/reports/"]').is_visible()
            r = page.goto(f"{live}/admin/hoso/reports/")
            assert r is not None and r.status == 404
            context.close()
        finally:
            browser.close()
    assert outside == []
