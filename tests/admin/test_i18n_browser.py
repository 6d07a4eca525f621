"""Every admin screen in both languages, in Chromium: no untranslated string, no raw field name, no option code,
no page that stops responding; and a performer finds their case from the home page.

One browser and one login per language. Each screen's visible text (``innerText``) is checked against:

* the other language's words: in Vietnamese, piccolo-admin's English strings (the keys of its translation and the
  strings hoso relabels) and the configuration's English labels; in English, the Vietnamese ones;
* the configuration's field names (snake_case) and choice codes (``in_progress``, ``TGTT``) shown as text;
* ``Null``/``None``/``True``/``False`` shown as values, and ISO dates in a list.

A page counts as frozen when a trivial script does not run within 5 seconds.
"""

from __future__ import annotations

import re

import pytest
from piccolo_admin.translations.data import ENGLISH

from hoso.admin.translations import UI_TEXTS, VIETNAMESE
from hoso.messages.vi import MESSAGES as VI_MESSAGES
from tests.admin.test_browser import browser, live, login, shot  # noqa: F401  (fixtures)

pytestmark = pytest.mark.slow

FROZEN_MS = 5000
CHROME_TEXT = """() => {
  const out = [], walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  let n;
  while ((n = walker.nextNode())) {
    const p = n.parentElement;
    if (!p || p.closest('td, script, style, .hoso-record, .results_list')) continue;
    if (!p.closest('select') && !p.offsetParent) continue;  // not shown
    out.push(n.nodeValue);
  }
  return out.join('\\n');
}"""


def _labels(config, lang: str) -> set[str]:
    out: set[str] = set()
    for e in config.entities:
        out.add(e.label.get(lang))
        out |= {f.label.get(lang) for f in e.fields}
    for wf in config.workflows:
        out |= {tr.label.get(lang) for tr in wf.transitions if tr.label}
    for cl in config.lists:
        out |= {o.label.get(lang) for o in cl.options}
    return {x for x in out if x}


def _vocabulary(config) -> dict[str, set[str]]:
    """The strings that must not show in a page of each language."""
    en = {k for k in ENGLISH.translations if len(k) > 1} | {k for k in UI_TEXTS["vi"] if k not in ("NULL", "None")}
    en |= {x for x in _labels(config, "en") - _labels(config, "vi") if len(x) > 3}
    vi = set(VIETNAMESE.translations.values()) | {v for v in UI_TEXTS["vi"].values() if v}
    vi |= {m for m in VI_MESSAGES.values() if "{" not in m and " " in m and len(m) < 60}
    vi |= {x for x in _labels(config, "vi") - _labels(config, "en") if " " in x}  # not "Nam" (in place names)
    return {"vi": en, "en": vi}


def _codes(config) -> tuple[set[str], set[str]]:
    """(snake_case field names and codes, other choice codes)."""
    snake = {f.name for e in config.entities for f in e.fields if "_" in f.name}
    codes = set()
    for cl in config.lists:
        for o in cl.options:
            if o.label.get("vi") == o.value or o.label.get("en") == o.value:
                continue
            (snake if "_" in o.value else codes).add(o.value)
    return snake, codes


def _found(words: set[str], text: str) -> list[str]:
    return sorted(w for w in words if re.search(r"(?<![\w/.-])" + re.escape(w) + r"(?![\w/-])", text))


def _check(pg, lang: str, where: str, vocab: dict[str, set[str]], snake: set[str], codes: set[str]) -> None:
    try:
        pg.wait_for_function("() => true", timeout=FROZEN_MS)
    except Exception as exc:  # the pg's script did not run: frozen
        raise AssertionError(f"{lang} {where}: the pg stopped responding") from exc
    text = pg.evaluate("() => document.body.innerText")
    chrome = pg.evaluate(CHROME_TEXT)  # the words of the interface, not the records' values (table cells)
    problems = []
    if bad := _found(vocab[lang], chrome):
        problems.append(f"untranslated: {bad}")
    if bad := _found(snake, text):
        problems.append(f"raw names or codes: {bad}")
    # English codes in a Vietnamese pg (received, ...); upper-case codes (TGTT) in both
    if bad := _found({c for c in codes if c.isupper() or lang == "vi"} if lang == "vi" else
                     {c for c in codes if c.isupper() and len(c) > 2}, text):
        problems.append(f"option codes: {bad}")
    if bad := re.findall(r"(?<![\w-])(Null|None|NULL|True|False)(?![\w-])", text):
        problems.append(f"raw values: {sorted(set(bad))}")
    cells = pg.evaluate("() => Array.from(document.querySelectorAll('td')).map(td => td.innerText.trim())")
    if bad := [c for c in cells if re.fullmatch(r"\d{4}-\d{2}-\d{2}", c)]:
        problems.append(f"ISO dates: {bad[:3]}")
    assert not problems, f"{lang} {where}: " + "; ".join(problems)


def _walk(pg, served, lang: str, vocab, snake, codes) -> None:
    base = f"{served.url}/admin/"
    seed = served.seed
    pg.goto(base + "#/")
    pg.wait_for_selector("#hoso-home-panel")
    _check(pg, lang, "home", vocab, snake, codes)
    listed = pg.evaluate("() => fetch('./api/tables/').then(r => r.json())")
    for table in listed:
        pg.evaluate(f"() => {{ location.hash = '#/{table}/'; }}")
        pg.wait_for_selector("text=/Đang hiển thị|Không có kết quả|Showing|No results found/")
        pg.wait_for_load_state("networkidle")
        _check(pg, lang, f"list {table}", vocab, snake, codes)
    pg.click("[data-uitest=filter_button]")  # the filter form: operators, pickers, choices
    pg.wait_for_selector("[data-uitest=right_sidebar] form")
    _check(pg, lang, f"filters {listed[-1]}", vocab, snake, codes)
    pg.evaluate(f"() => {{ location.hash = '#/case/{seed.cases['ha_noi']}/'; }}")
    pg.wait_for_selector("input[name=requester_name]")
    pg.wait_for_load_state("networkidle")
    _check(pg, lang, "case edit", vocab, snake, codes)
    pg.evaluate("() => { location.hash = '#/case/add/'; }")
    pg.wait_for_selector("input[name=requester_name]")
    _check(pg, lang, "case add", vocab, snake, codes)
    forms = pg.evaluate("() => fetch('./api/forms/').then(r => r.json())")
    for form in forms:
        pg.evaluate(f"() => {{ location.hash = '#/forms/{form['slug']}/'; }}")
        pg.wait_for_selector("form button, form input")
        _check(pg, lang, f"form {form['slug']}", vocab, snake, codes)
    for path in ("hoso/search/", "hoso/approvals/", "hoso/reports/", "hoso/import/", "hoso/jobs/",
                 "hoso/history/", f"hoso/history/case/{seed.cases['ha_noi']}", "hoso/home/"):
        response = pg.goto(base + path)
        assert response is not None and response.status == 200, (lang, path)
        _check(pg, lang, path, vocab, snake, codes)


@pytest.mark.one_engine  # the screens' words do not depend on the engine (the home page's numbers are on both)
def test_every_screen_in_both_languages(browser, live, prepared):  # noqa: F811
    from tests.admin.test_browser import TIMEOUT_MS

    config = prepared.config
    vocab = _vocabulary(config)
    snake, codes = _codes(config)
    for lang in ("vi", "en"):
        context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="vi-VN")
        context.set_default_timeout(TIMEOUT_MS)
        pg = context.new_page()
        pg.on("dialog", lambda d: d.accept())
        try:
            login(pg, live, "quan.tri")
            if lang == "en":  # what the language menu does: piccolo-admin's choice, kept in the browser
                pg.evaluate("() => localStorage.setItem('piccoloAdminDefaultLanguage', 'en')")
                pg.reload()
                pg.wait_for_function("() => document.cookie.includes('hoso_admin_lang=en')")
                pg.wait_for_selector("text=Legal aid case")
            _walk(pg, live, lang, vocab, snake, codes)
            # the interface and the data language are one: the cookie is the language piccolo-admin shows
            assert pg.evaluate("() => localStorage.getItem('piccoloAdminDefaultLanguage')") in (lang, None)
            assert f"hoso_admin_lang={lang}" in pg.evaluate("() => document.cookie")
        except Exception:
            shot(pg, live, f"i18n-walk-{lang}-FAILED")
            raise
        finally:
            context.close()


def test_a_performer_finds_their_case_from_the_home_page(browser, live):  # noqa: F811
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="vi-VN")
    pg = context.new_page()
    try:
        login(pg, live, "luat.su")
        link = pg.locator("#hoso-home-panel #hoso-mine a.hoso-record")
        link.first.wait_for()
        case = live.seed.cases["ha_noi"]
        assert link.count() == 1 and link.first.get_attribute("data-id") == str(case)
        assert link.first.get_attribute("href") == f"/admin/hoso/record/case/{case}/"
        assert live.seed.codes["ha_noi"] in link.first.inner_text()
        shot(pg, live, "performer-home")
    finally:
        context.close()


def test_a_page_loaded_in_english_shows_its_sidebar_in_english_when_hosos_script_arrives_late(browser, live):  # noqa: F811
    """The language chosen in piccolo-admin's menu is kept in the browser. At a page load piccolo-admin asks for its
    translation, whose answer sets the admin's language cookie, while it asks for its tables and links with the
    cookie as it was; hoso's script reloads the page once when the cookie changes, so it must watch from the start.
    When its script arrived late (a slow answer under load), piccolo-admin had already asked for the translation:
    the script missed its answer, and an English page kept a Vietnamese sidebar."""
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="vi-VN")
    pg = context.new_page()

    def until(held: list, ms: int) -> None:
        for _ in range(ms // 100):
            if held:
                return
            pg.wait_for_timeout(100)

    try:
        login(pg, live, "quan.tri")
        pg.locator(".sidebar").get_by_text("Lịch sử hồ sơ").wait_for()
        pg.evaluate("() => localStorage.setItem('piccoloAdminDefaultLanguage', 'en')")
        scripts: list = []
        translations: list = []
        labelled: list = []
        holding = [True]
        pg.on("requestfinished", lambda r: labelled.append(r) if "/hoso/labels/" in r.url else None)
        # hoso's script and piccolo-admin's English translation, held back once
        pg.route(re.compile(r"/admin/hoso/admin\.js"),
                 lambda route: scripts.append(route) if holding[0] else route.continue_())
        pg.route(re.compile(r"/public/translations/en/"),
                 lambda route: translations.append(route) if holding[0] else route.continue_())
        pg.reload(wait_until="commit")
        until(scripts, 5000)
        until(translations, 3000)  # piccolo-admin asks for it before hoso's script runs, if it may start without it
        assert scripts, "the page asked for hoso's script"
        for route in scripts:
            route.continue_()
        until(translations, 5000)
        until(labelled, 5000)  # hoso's script has run
        holding[0] = False
        assert translations and labelled
        for route in translations:
            route.continue_()
        pg.wait_for_selector("text=Legal aid case")
        pg.wait_for_load_state("networkidle")
        sidebar = pg.inner_text(".sidebar")
        assert "Lịch sử hồ sơ" not in sidebar and "Đơn vị" not in sidebar, sidebar
    finally:
        context.close()
