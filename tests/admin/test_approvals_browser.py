"""The admin's approval pages in Debian's chromium (headless, driven by Playwright), on both engines: a centre's
director submits a half-year report, the province returns it for correction with a comment, the centre submits it
again, the province and then the ministry approve it; each user sees only the buttons of what they may do, the
history shows every step, and the approved snapshot opens. Screenshots are kept in test-artifacts/admin/."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest

from tests.admin.test_browser import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    TIMEOUT_MS,
    Live,
    login,
    open_link,
    playwright_api,
)
from tests.browser import served
from tests.conftest import ConfigDir
from tests.reports.approval_setup import USERS, write_config
from tests.web.conftest import PASSWORD

pytestmark = pytest.mark.slow


@pytest.fixture
def live(tmp_path, database_url, monkeypatch):

    from hoso import accounts
    from hoso.config import load_config
    from hoso.records.service import RecordContext
    from hoso.runtime import Runtime
    from hoso.scope import Actor
    from hoso.server import create_app
    from tests.helpers import migrated_runtime

    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing (apt-get install chromium)"
    monkeypatch.setenv("HOSO_ADMIN_RELOAD_SECONDS", "0")
    config = ConfigDir(tmp_path / "config")
    write_config(config)

    async def setup():
        rt = await migrated_runtime(load_config(config.root), database_url)
        await rt.db.close()
        rt = Runtime.create(config.root, database_url)
        await rt.db.start()
        try:
            root = Actor(None, "root", superuser=True, origin="test-setup")
            start = dt.date.today() - dt.timedelta(days=30)
            for name, (unit, role) in USERS.items():
                await accounts.create_account(rt, root, name, PASSWORD, unit, roles=(role,), starts_on=start)
            unit = await rt.db.fetchval("SELECT id FROM hoso_unit WHERE code = 'TT'")
            for day in ("2025-02-02", "2025-03-03"):
                await rt.records().create("case", {"received_on": day, "form_of_aid": "TV",
                                                   "requester": "Nguyễn Văn An", "unit": unit},
                                          RecordContext.system(rt.config))
        finally:
            await rt.db.close()

    asyncio.run(setup())
    engine = "postgres" if database_url.startswith("postgres") else "sqlite"
    with served(create_app(Runtime.create(config.root, database_url))) as url:
        yield Live(url, None, engine)


def _as(browser, live, user: str):
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="vi-VN")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    login(page, live, user)
    return context, page


def _shot(page, live, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{live.engine}-approvals-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 1000


def _buttons(page) -> set[str]:
    return {name for name in ("approve", "return", "unlock", "resubmit")
            if page.locator(f"#hoso-approval-{name}").count()}


def _state(page) -> str:
    return page.inner_text("#hoso-approval-state").strip()


def _step(browser, live, user: str, url: str, step: str, text: str, field: str = "comment") -> None:
    """``user`` opens the submission and takes ``step`` with ``text``."""
    context, page = _as(browser, live, user)
    try:
        page.goto(url)
        page.wait_for_selector("#hoso-approval-info")
        if step == "resubmit":
            page.fill("#a-resubmit", text)
        else:
            page.fill(f"#a-{step}", text)
        page.click(f"#hoso-approval-{step} button[type=submit]")
        page.wait_for_selector("#hoso-approval-notice")
        _shot(page, live, f"{user}-{step}")
    finally:
        context.close()


def test_submit_return_resubmit_and_approve_twice_in_the_browser(live):
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            # the centre submits from the list page, reached from the sidebar
            context, page = _as(browser, live, "dir1")
            open_link(page, "./hoso/approvals/", "#hoso-approval-submit")
            assert page.locator("#hoso-approval-empty").count() == 1
            page.select_option("#s-report", "cases_by_form")
            page.select_option("#s-unit", "TT")
            page.fill("#s-period", "2025-H1")
            page.fill("#s-comment", "báo cáo 6 tháng đầu năm")
            page.click("#hoso-approval-submit-button")
            page.wait_for_selector("#hoso-approval-notice")
            assert _state(page) == "Đã gửi" and _buttons(page) == set()
            url = page.url.split("?")[0]
            _shot(page, live, "dir1-submitted")
            page.goto(f"{live.url}/admin/hoso/approvals/?status=submitted")
            assert page.locator("#hoso-approval-list tbody tr").count() == 1
            _shot(page, live, "dir1-list")
            context.close()

            # the province returns it with a comment; the ministry may not act before the province
            context, page = _as(browser, live, "min")
            page.goto(url)
            assert _buttons(page) == set()
            context.close()
            context, page = _as(browser, live, "prov1")
            page.goto(url)
            assert _buttons(page) == {"approve", "return"}
            context.close()
            _step(browser, live, "prov1", url, "return", "thiếu số liệu tháng 6")

            # the centre sees the comment and submits again
            context, page = _as(browser, live, "dir1")
            page.goto(url)
            assert _state(page) == "Trả lại để sửa" and "thiếu số liệu tháng 6" in page.inner_text(
                "#hoso-approval-steps")
            assert _buttons(page) == {"resubmit"}
            context.close()
            _step(browser, live, "dir1", url, "resubmit", "đã bổ sung")

            # the province approves, then the ministry
            _step(browser, live, "prov1", url, "approve", "đồng ý")
            _step(browser, live, "min", url, "approve", "đạt")

            context, page = _as(browser, live, "min")
            page.goto(url)
            assert _state(page) == "Đã phê duyệt" and _buttons(page) == {"unlock"}
            history = page.locator("#hoso-approval-steps tbody tr").all_inner_texts()
            assert [row.split("\t")[2] for row in history] == ["Gửi", "Trả lại", "Gửi", "Phê duyệt", "Phê duyệt"]
            assert [row.split("\t")[1] for row in history] == ["dir1", "prov1", "dir1", "prov1", "min"]
            assert all(len(row.split("\t")[0]) == len("30/11/2026 21:44") for row in history)
            _shot(page, live, "min-approved")
            page.click("#hoso-approval-snapshot")
            page.wait_for_selector("#hoso-snapshot-table")
            assert page.locator("#hoso-snapshot-table tr.total td").all_inner_texts()[-1] == "2"
            _shot(page, live, "min-snapshot")
            context.close()
        finally:
            browser.close()
