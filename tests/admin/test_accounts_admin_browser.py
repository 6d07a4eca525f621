"""The accounts page in Debian's chromium (headless, Playwright), on both engines: a centre's director creates an
account for a staff member of the centre with the role centre_staff, the new user logs in with the one-time
password, must change it, and then sees only the centre's cases; the director is offered no role above their own
and no unit of another province, and a forged POST granting either is refused, changing nothing. Screenshots are
kept in test-artifacts/admin/."""

from __future__ import annotations

import re

import pytest

from tests.admin.test_browser import (  # noqa: F401  (fixtures)
    ARTIFACTS,
    TIMEOUT_MS,
    browser,
    live,
    login,
    open_link,
    page,
    rows_text,
    shot,
)

pytestmark = pytest.mark.slow

NEW_PASSWORD = "mật-khẩu-riêng-2026"

FORGE = """async ([path, role, unit]) => {
  const token = document.querySelector('input[name=csrftoken]').value;
  const body = new URLSearchParams({csrftoken: token, role: role, unit: unit});
  const r = await fetch(path, {method: 'POST', body: body, credentials: 'same-origin', redirect: 'manual'});
  return [r.status, await r.text()];
}"""


def test_director_creates_an_account_and_the_new_user_sees_only_the_centre(page, live, browser):  # noqa: F811
    seed = live.seed
    login(page, live, "tt01.director")
    open_link(page, "./hoso/accounts/", "#hoso-account-create")
    roles = page.locator("#c-role option").evaluate_all("os => os.map(o => o.value)")
    assert roles == ["centre_staff", "performer_role"]  # nothing above the director's own role
    units = page.locator("#c-unit option").evaluate_all("os => os.map(o => o.value)")
    assert "TT-01" in units and "TT-02" not in units  # nothing in another province
    page.fill("#c-username", "tran.moi")
    page.fill("#c-display_name", "Trần Văn Mới")
    page.select_option("#c-role", "centre_staff")
    page.select_option("#c-unit", "TT-01")
    page.click("#hoso-account-create button[type=submit]")
    page.wait_for_selector("#hoso-account-secret")
    temporary = page.inner_text("#hoso-account-secret code").strip()
    shot(page, live, "accounts-created")
    held = page.locator("#hoso-account-assignments tbody tr").evaluate_all(
        "rs => rs.map(r => r.getAttribute('data-role'))")
    assert held == ["centre_staff"]
    assert re.fullmatch(r"\d\d/\d\d/\d{4}", page.inner_text("#hoso-account-assignments tbody td:nth-child(3)"))

    # forged grants: a role above the director's, and a unit of another province; both refused, nothing changes
    uid = page.locator("#hoso-account-grant").get_attribute("action").split("/")[-2]
    for role, unit in (("centre_director", "TT-01"), ("centre_staff", "TT-02")):
        status, text = page.evaluate(FORGE, [f"{live.url}/admin/hoso/accounts/{uid}/grant", role, unit])
        assert status == 403 and "hoso-account-error" in text, (role, unit, status)
    page.goto(f"{live.url}/admin/hoso/accounts/{uid}")
    held = page.locator("#hoso-account-assignments tbody tr").evaluate_all(
        "rs => rs.map(r => r.getAttribute('data-role'))")
    assert held == ["centre_staff"]

    # the new user: the one-time password, a forced change, then only the centre's cases
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="vi-VN")
    context.set_default_timeout(TIMEOUT_MS)
    user = context.new_page()
    try:
        user.goto(f"{live.url}/admin")
        user.wait_for_selector("[data-uitest=login_button]")
        user.wait_for_load_state("networkidle")
        user.fill("input[name=username]", "tran.moi")
        user.fill("input[type=password]", temporary)
        user.click("[data-uitest=login_button]")
        user.wait_for_function("() => !location.hash.includes('login')")
        try:
            user.wait_for_function("() => location.hash.includes('change-password')")
        except Exception:
            shot(user, live, "accounts-after-login")
            raise
        fields = user.locator("form input[type=password]")
        fields.nth(0).fill(temporary)
        fields.nth(1).fill(NEW_PASSWORD)
        fields.nth(2).fill(NEW_PASSWORD)
        with user.expect_response(lambda r: "change-password" in r.url and r.request.method == "POST") as changed:
            user.click("form button")
        assert changed.value.status == 200
        user.goto(f"{live.url}/admin/#/case")
        user.reload()  # the shell read its menus while the password change was pending
        try:
            user.wait_for_selector(f"text={seed.codes['ha_noi']}")
        except Exception:
            shot(user, live, "accounts-FAILED-new-user")
            raise
        body = rows_text(user)
        assert seed.codes["ha_noi"] in body and seed.codes["ha_noi_branch"] in body
        assert seed.codes["ha_giang"] not in body and "Hoàng Văn Cường" not in body
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot(user, live, "accounts-new-user-cases")
    finally:
        context.close()
