"""Search and filters as people type, in Chromium: "nguyen" finds "Nguyễn" in the case list's filter, the filter
applied is kept in the page's address (which reproduces it), dates get a from/to range, the unit picker finds
"Trà Vinh" for "tra vinh", and the search page finds records as the user types."""

from __future__ import annotations

import pytest

from tests.admin.test_browser import browser, live, login, page, rows_text, shot  # noqa: F401  (fixtures)

pytestmark = pytest.mark.slow


GONE = "name => !document.body.innerText.includes(name)"


def test_nguyen_finds_nguyen_and_the_filter_lives_in_the_address(page, live):  # noqa: F811
    login(page, live, "tt01.staff")
    page.goto(f"{live.url}/admin/#/case/?requester_name=nguyen")
    text = rows_text(page)
    assert "Nguyễn Văn An" in text and "Trần Thị Bình" not in text, text
    # applied from the filter form, a filter is written into the address
    page.goto(f"{live.url}/admin/#/case/")
    rows_text(page)
    page.click("[data-uitest=filter_button]")
    page.fill("form input[name=requester_name]", "tran thi")
    page.wait_for_selector("form input[name=received_on__from]")  # dates have a range
    page.click("[data-uitest=submit_filter_button]")
    page.wait_for_function("() => location.hash.includes('requester_name=tran')")
    page.wait_for_selector("text=Trần Thị Bình")
    # the unfiltered rows may stay a moment while the filtered page is drawn ("2 of 1"): wait until they are gone
    # (a filter that let them through times out here)
    page.wait_for_function(GONE, arg="Nguyễn Văn An")
    assert "Nguyễn Văn An" not in rows_text(page)
    shot(page, live, "filter-tran-thi")
    # the address reproduces the filter in a new page
    address = page.url
    other = page.context.new_page()
    other.goto(address)
    other.wait_for_selector("text=Trần Thị Bình")
    other.wait_for_function(GONE, arg="Nguyễn Văn An")
    assert "Nguyễn Văn An" not in rows_text(other)
    # a range of dates, from the address
    page.goto(f"{live.url}/admin/#/case/?received_on__from=2025-03-01&received_on__to=2025-03-31")
    page.wait_for_selector("text=Nguyễn Văn An")  # the list is read again (the earlier page's rows are gone)
    text = rows_text(page)
    assert "Nguyễn Văn An" in text, text
    page.goto(f"{live.url}/admin/#/case/?received_on__from=2025-04-01")
    page.wait_for_selector("text=/Không có kết quả/i")


def test_the_unit_picker_finds_tra_vinh(page, live):  # noqa: F811
    login(page, live, "quan.tri")
    found = page.evaluate("""async () => {
        const r = await fetch('./api/tables/hoso_unit/ids/?search=' + encodeURIComponent('tra vinh'),
                              {credentials: 'same-origin'});
        return Object.values(await r.json());
    }""")
    assert found and all("Trà Vinh" in name for name in found), found


def test_the_search_page_finds_as_people_type(page, live):  # noqa: F811
    login(page, live, "tt01.staff")
    page.goto(f"{live.url}/admin/hoso/search/")
    page.fill("#hoso-search-q", "nguyen van")
    page.wait_for_selector(".hoso-search-group[data-entity=case]")
    assert "q=nguyen" in page.url
    shot(page, live, "search-page")
    page.click(".hoso-search-group[data-entity=case] a")
    page.wait_for_function("() => /^#\\/case\\/\\d+/.test(location.hash)")
    page.wait_for_function("() => [...document.querySelectorAll('input')].some(i => i.value === 'Nguyễn Văn An')")


def test_a_saved_filter_is_listed_on_its_list(page, live):  # noqa: F811
    login(page, live, "tt01.staff")
    page.goto(f"{live.url}/admin/#/case/?requester_name=nguyen")
    rows_text(page)
    page.evaluate("() => { window.prompt = () => 'Họ Nguyễn'; }")  # the name typed into the prompt
    page.click("#hoso-save-filter")
    page.wait_for_selector("#hoso-saved-filter-pick option:has-text('Họ Nguyễn')", state="attached")
    page.goto(f"{live.url}/admin/#/case/")
    rows_text(page)
    page.wait_for_selector("#hoso-saved-filter-pick option:has-text('Họ Nguyễn')", state="attached")
    page.select_option("#hoso-saved-filter-pick", label="Họ Nguyễn")
    page.wait_for_function("() => location.hash.includes('requester_name=nguyen')")
    # the unfiltered rows give way to the filtered ones
    page.wait_for_selector("text=Trần Thị Bình", state="detached")
    assert "Nguyễn Văn An" in rows_text(page)
