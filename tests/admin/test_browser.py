"""The admin in a real browser: Debian's chromium, headless, driven by Playwright.

`make test` installs chromium from Debian's packages (/usr/bin/chromium); Playwright's own browsers are never
downloaded. Screenshots are kept in test-artifacts/admin/ (git-ignored). Set HOSO_SKIP_BROWSER_TESTS=1 to skip
these tests on a machine without chromium.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.admin.conftest import clone
from tests.browser import CHROMIUM, CHROMIUM_ARGS, served
from tests.conftest import REPO
from tests.web.conftest import PASSWORD

ARTIFACTS = REPO / "test-artifacts" / "admin"
# How long a step may wait for the page: a wait, not a measure (speed is measured in bench/). On a machine running
# the suite on every core, the admin's first page has taken more than 15 s to load.
TIMEOUT_MS = 60000

if os.environ.get("HOSO_SKIP_BROWSER_TESTS") == "1":
    pytest.skip("HOSO_SKIP_BROWSER_TESTS=1", allow_module_level=True)

playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[test]' installs playwright")


@dataclass
class Live:
    url: str
    seed: object
    engine: str


@pytest.fixture(scope="module")
def live(prepared, tmp_path_factory):
    """The application served by uvicorn on a free port, on a copy of the seeded database."""
    from hoso.runtime import Runtime
    from hoso.server import create_app

    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium)"
    mp = pytest.MonkeyPatch()
    mp.setenv("HOSO_ADMIN_RELOAD_SECONDS", "0")
    with clone(prepared, tmp_path_factory.mktemp("live")) as url:
        try:
            with served(create_app(Runtime.create(prepared.config, url))) as base:
                yield Live(base, prepared.seed, prepared.engine)
        finally:
            mp.undo()


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium, headless, with a fresh profile (Playwright gives every launch an empty user data dir)."""
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser, live, request):
    """A page in a context of its own (no cookies or storage from other tests); a screenshot and the responses are
    saved when the test fails."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="vi-VN")
    context.set_default_timeout(TIMEOUT_MS)
    pg = context.new_page()
    pg.hoso_responses = []
    pg.hoso_dialogs = []
    pg.on("response", lambda r: pg.hoso_responses.append((r.status, r.url)))

    def dialog(d):
        pg.hoso_dialogs.append(d.message)
        d.accept()

    pg.on("dialog", dialog)
    try:
        yield pg
    finally:
        if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
            pg.screenshot(path=str(ARTIFACTS / f"{live.engine}-FAILED-{request.node.name}.png"), full_page=True)
            (ARTIFACTS / f"{live.engine}-FAILED-{request.node.name}.log").write_text(
                "\n".join(f"{status} {url}" for status, url in pg.hoso_responses) + "\n"
                + "\n".join(f"dialog: {d}" for d in pg.hoso_dialogs), encoding="utf-8")
        context.close()


def dialog_shown(page, text: str) -> bool:
    """Whether the page showed an alert with this text, waiting for it up to the test's timeout (an alert raised
    before the user's words arrive waits for them)."""
    for _ in range(TIMEOUT_MS // 100):
        if text in page.hoso_dialogs:
            return True
        page.wait_for_timeout(100)
    return False


def shot(page, live, name: str) -> Path:
    path = ARTIFACTS / f"{live.engine}-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 1000
    return path


def login(page, live, username: str) -> None:
    page.goto(f"{live.url}/admin")
    page.wait_for_selector("[data-uitest=login_button]")
    # the app's first requests (refused: not logged in) send it to the login page; let them all finish first
    page.wait_for_load_state("networkidle")
    assert "Tên đăng nhập" in page.inner_text("body")  # the Vietnamese interface is the default
    page.fill("input[name=username]", username)
    page.fill("input[type=password]", PASSWORD)
    page.click("[data-uitest=login_button]")
    page.wait_for_function("() => !location.hash.includes('login')")
    page.wait_for_selector(".sidebar")
    page.wait_for_load_state("networkidle")


def open_link(page, href: str, selector: str) -> None:
    """Click the admin's link ``href`` (``./hoso/accounts/``) until ``selector`` shows. Under load piccolo-admin may
    redraw its sidebar as the click lands: the click then goes nowhere and no request leaves, so it is clicked
    again while the page has not moved."""
    target = href.lstrip(".")
    for _ in range(TIMEOUT_MS // 3000):
        if target not in page.url:
            link = page.locator(f'a[href="{href}"]').first
            link.wait_for(state="visible")
            link.click()
        try:
            page.wait_for_selector(selector, timeout=3000)
            return
        except playwright_api.TimeoutError:
            continue
    page.wait_for_selector(selector)


def rows_text(page) -> str:
    page.wait_for_selector("text=/Đang hiển thị|Không có kết quả/i")
    return page.inner_text("body")


def test_centre_user_sees_only_its_province_cases(page, live):
    seed = live.seed
    login(page, live, "tt01.staff")
    menu = page.locator(".table_list a").filter(has_text="Vụ việc trợ giúp pháp lý")
    menu.get_by_text("Vụ việc trợ giúp pháp lý", exact=True).wait_for()  # the entity's label, not "case"
    menu.get_by_text("Vụ việc trợ giúp pháp lý", exact=True).click()
    page.wait_for_selector(f"text={seed.codes['ha_noi']}")
    body = rows_text(page)
    assert seed.codes["ha_noi"] in body and seed.codes["ha_noi_branch"] in body
    assert seed.codes["ha_giang"] not in body and "Hoàng Văn Cường" not in body
    assert "Trung tâm Trợ giúp pháp lý nhà nước Hà Nội" in body  # readable reference, not an id
    assert "Đã tiếp nhận yêu cầu" in body  # the choice's label
    shot(page, live, "centre-user-case-list")


def _fill_new_case(page, live) -> None:
    page.goto(f"{live.url}/admin/#/case/add/")
    page.wait_for_selector("input[name=requester_name]")
    page.locator(".key_search").first.locator("input[type=text]").click()
    page.locator("#overlay input[type=search]").first.fill("Trung tâm Trợ giúp pháp lý nhà nước Hà Nội")
    # (the unit pickers offer the user's units only, so the centre is also in the closed picker of transferred_to)
    page.locator("#overlay .results_list a").get_by_text("Trung tâm Trợ giúp pháp lý nhà nước Hà Nội",
                                                         exact=True).first.click()
    page.fill("input[name=received_on]", "2025-05-06")
    page.fill("input[name=requester_name]", "Đỗ Thị Duyên")
    page.click("[data-uitest=beneficiary_groups_array_widget] [data-uitest=add_array_item_button]")
    page.locator("[data-uitest=beneficiary_groups_array_widget] select").first.select_option("TE")
    page.select_option("select[name=field_of_law]", "HNGD")
    page.select_option("select[name=form_of_aid]", "TV")


def test_centre_user_creates_a_case_and_sees_its_code(page, live):
    login(page, live, "tt01.staff")
    _fill_new_case(page, live)
    shot(page, live, "centre-user-add-case-form")
    page.click("[data-uitest=create_button]")
    # the user lands on the new record's page, with its code
    page.wait_for_url(re.compile(r"/admin/hoso/record/case/\d+/\?created=1$"))
    # the naming series gave the code: the centre's short code, form of aid TV, the next number in 2025
    expected = live.seed.codes["ha_noi"].replace(".01.", ".02.")
    assert expected.endswith(".TV.02.2025") and expected in page.inner_text("#hoso-record-title")
    assert page.inner_text('tr[data-field="requester_name"] td') == "Đỗ Thị Duyên"
    shot(page, live, "centre-user-created-case-with-code")


def test_a_record_created_before_the_page_knows_the_grants_still_opens_its_page(page, live):
    """The admin's script learns the user's grants with a request of its own; a user quicker than that request
    (its first try, before the login, is refused) created the record and stayed on the form."""
    posted = []
    page.on("request", lambda r: posted.append(r.url) if r.method == "POST" and "/api/tables/case/" in r.url
            else None)
    page.route(re.compile(r"/admin/hoso/record/grants/"),
               lambda route: route.continue_() if posted else route.fulfill(status=401, body="{}"))
    login(page, live, "tt01.staff")
    _fill_new_case(page, live)
    page.click("[data-uitest=create_button]")
    page.wait_for_url(re.compile(r"/admin/hoso/record/case/\d+/\?created=1$"))
    assert posted and "Đỗ Thị Duyên" in page.inner_text('tr[data-field="requester_name"] td')


def test_a_new_record_form_shows_only_once_its_defaults_are_in(page, live):
    """piccolo-admin draws the add form at once and redraws it when the defaults arrive, which wiped what the user
    had typed or picked meanwhile (under load, the unit and the date: the create was refused): the form is hidden
    until then."""
    login(page, live, "tt01.staff")
    held = []
    new = re.compile(r"/admin/api/tables/case/new/")
    page.route(new, lambda route: held.append(route))  # the defaults, held back
    page.goto(f"{live.url}/admin/#/case/add/")
    page.wait_for_selector("input[name=requester_name]", state="attached")
    for _ in range(TIMEOUT_MS // 100):
        if held:
            break
        page.wait_for_timeout(100)
    assert held, "the add form asked for no defaults"
    page.wait_for_timeout(300)
    assert not page.is_visible("input[name=requester_name]") and not page.is_visible("[data-uitest=create_button]")
    held[0].continue_()
    page.wait_for_selector("input[name=requester_name]")  # shown with the defaults
    page.fill("input[name=requester_name]", "Đỗ Thị Duyên")
    page.wait_for_timeout(300)
    assert page.input_value("input[name=requester_name]") == "Đỗ Thị Duyên"
    assert page.input_value("select[name=request_channel]") == "in_person"  # the defaults are in


def test_out_of_scope_case_is_refused_by_url(page, live):
    seed = live.seed
    login(page, live, "tt01.staff")
    page.goto(f"{live.url}/admin/#/case/{seed.cases['ha_giang']}/")
    page.wait_for_function(
        f"() => performance.getEntriesByType('resource').some(e => e.name.includes('/api/tables/case/"
        f"{seed.cases['ha_giang']}/'))")
    assert dialog_shown(page, "Không tìm thấy trang"), page.hoso_dialogs  # piccolo-admin's, relabelled; it goes home
    statuses = [s for s, url in page.hoso_responses if f"/api/tables/case/{seed.cases['ha_giang']}/" in url]
    assert statuses and set(statuses) == {404}
    body = page.inner_text("body")
    assert seed.codes["ha_giang"] not in body and "Hoàng Văn Cường" not in body
    shot(page, live, "centre-user-out-of-scope-case")


def test_statistics_only_user_sees_no_case_rows(page, live):
    seed = live.seed
    login(page, live, "thong.ke")
    page.wait_for_timeout(500)
    assert "Vụ việc trợ giúp pháp lý" not in page.inner_text(".sidebar")
    shot(page, live, "statistics-user-menu")
    page.goto(f"{live.url}/admin/#/case/")
    page.wait_for_function(
        "() => performance.getEntriesByType('resource').some(e => e.name.includes('/api/tables/case/'))")
    assert dialog_shown(page, "Không tìm thấy trang"), page.hoso_dialogs  # piccolo-admin's alert, relabelled
    statuses = {s for s, url in page.hoso_responses if "/api/tables/case/" in url}
    assert statuses and statuses <= {404}
    body = page.inner_text("body")
    for key in seed.codes:
        assert seed.codes[key] not in body
    shot(page, live, "statistics-user-no-case-rows")


def test_choosing_english_keeps_the_list_pages_working(page, live):
    seed = live.seed
    login(page, live, "tt01.staff")
    # what the language menu does: piccolo-admin loads the English translation and remembers the choice
    page.evaluate("() => localStorage.setItem('piccoloAdminDefaultLanguage', 'en')")
    page.goto(f"{live.url}/admin/#/case")
    page.reload()  # loads the English translation, which sets the admin's language cookie
    page.wait_for_load_state("networkidle")
    page.reload()  # the next visit: English from the start (a fresh load froze here, for good)
    page.wait_for_selector(f"text={seed.codes['ha_noi']}")
    page.wait_for_timeout(500)
    # the page still answers, and the heading is the entity's English label, once
    assert page.evaluate("() => 1 + 1") == 2
    headings = [h for h in page.locator("h1").all_inner_texts() if "Legal aid case" in h]
    assert headings and all(h.count("Legal aid case") == 1 for h in headings), headings
    page.locator(".table_list a").get_by_text("Legal aid performer", exact=True).click()
    page.wait_for_selector("text=Lê Văn Luật")
    page.locator(".table_list a").get_by_text("Legal aid case", exact=True).click()
    page.wait_for_selector(f"text={seed.codes['ha_noi_branch']}")
    assert page.evaluate("() => document.querySelectorAll('h1').length") >= 1
    assert page.context.cookies()[0] and any(c["name"] == "hoso_admin_lang" and c["value"] == "en"
                                             for c in page.context.cookies())
    shot(page, live, "centre-user-english-case-list")


def test_the_csv_export_is_offered_only_with_the_export_grant(page, live):
    seed = live.seed
    login(page, live, "luat.su")  # a performer: reads the cases assigned to them, may not export
    page.goto(f"{live.url}/admin/#/case")
    page.wait_for_selector(f"text={seed.codes['ha_noi']}")
    button = page.locator("a[data-uitest=csv_button]")
    button.wait_for(state="attached")  # piccolo-admin draws it; hoso's script hides it once it knows the grants
    button.wait_for(state="hidden")
    page.wait_for_timeout(300)
    assert button.count() == 1 and not button.is_visible()
    page.context.clear_cookies()
    login(page, live, "tt01.staff")
    page.goto(f"{live.url}/admin/#/case")
    page.wait_for_selector(f"text={seed.codes['ha_noi']}")
    page.locator("a[data-uitest=csv_button]").wait_for(state="visible")
