"""The admin's case list in Chromium says a bounded count as "more than" the cap, and an estimate as "about"; the
page stays responsive while it says so."""

from __future__ import annotations

import pytest

from tests.admin.test_browser import browser, live, login, page, rows_text  # noqa: F401  (fixtures)

pytestmark = pytest.mark.slow


def test_a_bounded_count_is_said_more_than_the_cap(page, live, monkeypatch):  # noqa: F811
    monkeypatch.setenv("HOSO_LIST_COUNT_CAP", "1")
    login(page, live, "tt01.staff")  # sees 2 cases: more than 1
    page.goto(f"{live.url}/admin/#/case/")
    rows_text(page)
    page.wait_for_selector("text=/trên hơn 1 kết quả/")
    assert " 2 kết quả" not in page.inner_text("body")
    # the page is alive: another filter is applied and drawn (an exact count of 1 is said as it is)
    page.goto(f"{live.url}/admin/#/case/?requester_name=binh")
    page.wait_for_selector("text=/Đang hiển thị 1 trên 1 kết quả/")


def test_an_estimated_count_is_said_about(page, live, monkeypatch):  # noqa: F811
    from hoso.admin import crud

    async def estimated(self, inner, timeout_ms=None):
        if timeout_ms is None and live.engine == "sqlite":
            return 2
        raise crud.asyncpg.QueryCanceledError("canceling statement due to statement timeout")

    async def estimate(self, inner):
        return 2

    monkeypatch.setattr(crud.ScopedCRUD, "_count", estimated)
    monkeypatch.setattr(crud.ScopedCRUD, "_estimate", estimate)
    login(page, live, "tt01.staff")
    page.goto(f"{live.url}/admin/#/case/?form_of_aid=TV")
    rows_text(page)
    if live.engine == "postgres":
        page.wait_for_selector("text=/trên khoảng 2 kết quả/")
        text = page.inner_text("body")
        assert text.lower().count("khoảng") == 1, text  # said once, not again on every change of the page
    else:  # SQLite always counts
        page.wait_for_selector("text=/trên 2 kết quả/")
