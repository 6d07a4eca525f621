"""The message catalogues: one per language, the same keys and placeholders in each, every key used."""

from __future__ import annotations

import ast
import string
from pathlib import Path

import pytest

from hoso import i18n
from hoso.settings import SETTINGS

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("core", "admin", "plugins")


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def _string_constants() -> set[str]:
    found: set[str] = set()
    for top in SOURCES:
        for path in (ROOT / top).rglob("*.py"):
            if "messages" in path.parent.name or "tests" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    found.add(node.value)
    return found


def test_both_languages_hold_the_same_keys():
    vi, en = i18n.CATALOGUES["vi"], i18n.CATALOGUES["en"]
    assert sorted(set(vi) - set(en)) == [] and sorted(set(en) - set(vi)) == []


@pytest.mark.parametrize("key", sorted(i18n.CATALOGUES["vi"]))
def test_a_message_has_the_same_placeholders_in_both_languages(key):
    vi, en = i18n.CATALOGUES["vi"][key], i18n.CATALOGUES["en"][key]
    assert vi.strip() and en.strip()
    assert _placeholders(vi) == _placeholders(en), key


def test_every_key_is_used():
    # Units of the settings are looked up by name (setting_unit_<unit>).
    used = _string_constants() | {f"setting_unit_{s.unit}" for s in SETTINGS.values() if s.unit}
    unused = sorted(set(i18n.CATALOGUES["vi"]) - used)
    assert unused == []


def test_lookup_fills_placeholders_and_falls_back_to_vietnamese():
    assert i18n.t("too_short", "vi", n=3) == "phải có ít nhất 3 ký tự"
    assert i18n.t("too_short", "en", n=3) == "must be at least 3 characters"
    assert i18n.t("too_short", "fr", n=3) == "phải có ít nhất 3 ký tự"
    assert i18n.both("too_short", n=3) == "phải có ít nhất 3 ký tự\nmust be at least 3 characters"
    assert i18n.has("too_short") and not i18n.has("no such key")


def test_no_module_keeps_its_own_lookup():
    # One lookup: the former per-package catalogues are gone.
    for gone in ("core/records/messages.py", "admin/messages.py"):
        assert not (ROOT / gone).exists(), gone


def test_account_errors_speak_both_languages():
    from hoso.users import Unknown, UserError

    exc = UserError("acct_exists", username="an.tt")
    assert str(exc) == "user 'an.tt' already exists" and exc.text("vi") == "tài khoản 'an.tt' đã tồn tại"
    missing = Unknown("acct_no_assignment", id=7)
    assert isinstance(missing, LookupError) and missing.text("vi") == "không có phân công số 7"
