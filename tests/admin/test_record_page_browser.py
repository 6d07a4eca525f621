"""The record page in a real browser (Debian's chromium, offline): a director accepts a new request and assigns a
performer by picking a name; staff refuse a request with a reason; the timeline reads with labels and names; a user
of one province reaches neither another's record page nor its performers by a picker. Screenshots are kept in the
test's temporary folder."""

from __future__ import annotations

import re

import pytest

from tests.admin.test_browser import TIMEOUT_MS, browser, live, login  # noqa: F401  (fixtures)
from tests.browser import offline


@pytest.fixture
def shots(tmp_path_factory):
    return tmp_path_factory.mktemp("record-page-screenshots")


def _context(browser, outside):  # noqa: F811
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="vi-VN")
    context.set_default_timeout(TIMEOUT_MS)
    offline(context, outside)
    page = context.new_page()
    page.on("dialog", lambda d: d.accept())
    return context, page


def test_director_accepts_and_assigns_staff_refuse_on_the_record_page(browser, live, shots):  # noqa: F811
    seed, outside = live.seed, []
    url = f"{live.url}/admin/hoso/record/case/{{}}/"
    context, page = _context(browser, outside)
    try:
        login(page, live, "tt01.director")
        page.set_viewport_size({"width": 420, "height": 900})  # the record page on a phone's width
        case = seed.cases["ha_noi_branch"]
        page.goto(url.format(case))
        page.click("#hoso-step-accept summary")
        page.click("#hoso-step-accept button[type=submit]")  # the step's fields come filled from the record
        page.wait_for_selector("#hoso-record-done")
        assert page.inner_text("#hoso-record-state") == "Đã thụ lý"
        page.click("#hoso-step-assign summary")
        page.fill("#hoso-step-assign .rp-picker-q", "luat")
        page.wait_for_function("() => document.querySelectorAll('#f-performer option').length === 1")
        page.select_option("#f-performer", label="Lê Văn Luật")
        page.fill("#f-assignment_decision", "15/QĐ-TGPL")  # the decision that assigns the performer
        page.click("#hoso-step-assign button[type=submit]")
        page.wait_for_selector("#hoso-record-done")
        assert page.inner_text("#hoso-record-state") == "Đã cử người thực hiện"
        assert page.inner_text('tr[data-field="performer"] td') == "Lê Văn Luật"
        timeline = page.inner_text("#hoso-record-history")
        assert "Cử người thực hiện" in timeline and "Thụ lý" in timeline and "Người thực hiện" in timeline
        assert "Lê Văn Luật" in timeline and "Cán bộ tt01.director" in timeline
        assert not re.search(r"#\d|\bassign\b|\baccepted\b|\bperformer\b", timeline), timeline
        page.screenshot(path=str(shots / f"{live.engine}-assigned.png"), full_page=True)
        # another province's record: not found by URL; its performers: not offered by the picker
        r = page.goto(url.format(seed.cases["ha_giang"]))
        assert r.status == 404 and seed.codes["ha_giang"] not in page.inner_text("body")
        found = page.evaluate("() => fetch('/admin/hoso/record/case/options/performer?q=pham').then(r => r.json())")
        assert found == []
    finally:
        context.close()

    context, page = _context(browser, outside)
    try:
        login(page, live, "tt01.staff")
        case = seed.cases["ha_noi"]
        page.goto(url.format(case))
        page.click("#hoso-step-refuse summary")
        page.click("#hoso-step-refuse button[type=submit]")  # without a reason: said next to the field
        error = page.wait_for_selector('#hoso-step-refuse [data-field="refusal_reason"] .rp-error')
        assert error.inner_text().strip()
        assert page.inner_text("#hoso-record-state") == "Đã tiếp nhận yêu cầu"
        page.select_option("#f-refusal_reason", label="Không thuộc phạm vi trợ giúp pháp lý")
        page.fill("#f-refusal_note", "Trung tâm đã trả lời người yêu cầu bằng văn bản.")  # the written reply
        page.click("#hoso-step-refuse button[type=submit]")
        page.wait_for_selector("#hoso-record-done")
        assert page.inner_text("#hoso-record-state") == "Từ chối thụ lý"
        assert page.inner_text('tr[data-field="refusal_reason"] td') == "Không thuộc phạm vi trợ giúp pháp lý"
        page.screenshot(path=str(shots / f"{live.engine}-refused.png"), full_page=True)
    finally:
        context.close()
    assert outside == []
