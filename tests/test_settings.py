"""Settings: every HOSO_* variable declared once in hoso.settings, read only through it, checked with a message
naming the variable, listed by `hoso settings` and documented in docs/settings.md."""

from __future__ import annotations

import ast
import ipaddress
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from hoso import settings
from hoso.cli import main
from hoso.settings import SETTINGS, SettingError
from hoso.settings_cli import markdown

ROOT = Path(__file__).resolve().parents[1]
_NAME = re.compile(r"HOSO_[A-Z0-9_]+")
_ENV_READ = re.compile(r"(environ|getenv)\b[^\n]*HOSO_")


def _code_files():
    for top in ("core", "admin", "plugins"):
        for path in (ROOT / top).rglob("*.py"):
            if "tests" not in path.relative_to(ROOT).parts:
                yield path


def _names_in(text: str) -> set[str]:
    return set(_NAME.findall(text))


def _declared_or_prefix(name: str) -> bool:
    # "HOSO_FILES_CLEANUP_*" in prose names a family of declared settings.
    return name in SETTINGS or (name.endswith("_") and any(n.startswith(name) for n in SETTINGS))


def test_every_name_in_the_code_is_declared():
    undeclared = {f"{p.relative_to(ROOT)}: {n}" for p in _code_files() for n in _names_in(p.read_text("utf-8"))
                  if not _declared_or_prefix(n)}
    assert sorted(undeclared) == []


def test_every_declared_setting_is_read_somewhere():
    used: set[str] = set()
    for path in _code_files():
        if path.name in ("settings.py", "settings_cli.py"):
            continue
        tree = ast.parse(path.read_text("utf-8"))
        used |= {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and n.value in SETTINGS}
    unread = sorted(n for n, s in SETTINGS.items() if n not in used and not s.retired)
    assert unread == []


def test_only_hoso_settings_reads_the_environment():
    readers = [f"{p.relative_to(ROOT)}:{i}" for p in _code_files() if p.name != "settings.py"
               for i, line in enumerate(p.read_text("utf-8").splitlines(), 1) if _ENV_READ.search(line)]
    assert readers == []


def test_a_retired_setting_names_its_replacement():
    assert SETTINGS["HOSO_TRUST_FORWARDED"].replacement in SETTINGS
    with pytest.raises(SettingError) as exc:
        settings.get("HOSO_TRUSTED_PROXIES", {"HOSO_TRUST_FORWARDED": "1"})
    vi, en = str(exc.value).splitlines()
    assert vi.startswith("HOSO_TRUST_FORWARDED không còn được đọc: hãy dùng HOSO_TRUSTED_PROXIES")
    assert en.startswith("HOSO_TRUST_FORWARDED is no longer read: use HOSO_TRUSTED_PROXIES instead")


def test_defaults_apply_when_unset_or_blank():
    for name, setting in SETTINGS.items():
        assert settings.get(name, {}) == setting.default
        assert settings.get(name, {name: "  "}) == setting.default
        assert settings.source(name, {}) == "default"
    assert settings.source("HOSO_DB_POOL", {"HOSO_DB_POOL": "3"}) == "environment"


@pytest.mark.parametrize("name,raw,value", [
    ("HOSO_DB_POOL", "3", 3),
    ("HOSO_SESSION_IDLE_MINUTES", "0.5", 0.5),
    ("HOSO_SECURE_COOKIE", "yes", True),
    ("HOSO_SECURE_COOKIE", "0", False),
    ("HOSO_ALLOWED_HOSTS", " a.example , b.example:8443,", ("a.example", "b.example:8443")),
    ("HOSO_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.1",
     (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("192.0.2.1"))),
    ("HOSO_ADMIN_RELOAD_SECONDS", "0", 0.0),
    ("HOSO_FILES_DIR", "/srv/files", "/srv/files"),
])
def test_values_are_parsed_by_type(name, raw, value):
    assert settings.get(name, {name: raw}) == value


@pytest.mark.parametrize("name,raw,vi,en", [
    ("HOSO_DB_POOL", "2.5", "HOSO_DB_POOL='2.5': cần một số nguyên (số kết nối)",
     "HOSO_DB_POOL='2.5': expected a whole number of connections"),
    ("HOSO_DB_POOL", "0", "HOSO_DB_POOL='0': cần một số kết nối, ít nhất là 1",
     "HOSO_DB_POOL='0': expected a number of connections, at least 1"),
    ("HOSO_SESSION_MAX_HOURS", "-1", "HOSO_SESSION_MAX_HOURS='-1': cần một số lớn hơn 0",
     "HOSO_SESSION_MAX_HOURS='-1': expected a number greater than 0"),
    ("HOSO_ADMIN_RELOAD_SECONDS", "soon", "HOSO_ADMIN_RELOAD_SECONDS='soon': cần một số giây",
     "HOSO_ADMIN_RELOAD_SECONDS='soon': expected a number of seconds"),
    ("HOSO_ADMIN_STAGING_HOURS", "inf", "HOSO_ADMIN_STAGING_HOURS='inf': cần một số giờ",
     "HOSO_ADMIN_STAGING_HOURS='inf': expected a number of hours"),
    ("HOSO_SECURE_COOKIE", "maybe", "HOSO_SECURE_COOKIE='maybe': cần 1 hoặc 0",
     "HOSO_SECURE_COOKIE='maybe': expected 1 or 0"),
    ("HOSO_TRUSTED_PROXIES", "10.0.0.1,proxy.local", "HOSO_TRUSTED_PROXIES: 'proxy.local' không phải một địa chỉ IP",
     "HOSO_TRUSTED_PROXIES: 'proxy.local' is not an IP address or network"),
])
def test_a_bad_value_is_refused_in_both_languages(name, raw, vi, en):
    with pytest.raises(SettingError) as exc:
        settings.get(name, {name: raw})
    got_vi, got_en = str(exc.value).splitlines()
    assert got_vi.startswith(vi) and got_en.startswith(en)


def test_an_undeclared_name_is_a_programming_error():
    with pytest.raises(KeyError, match="HOSO_NOPE is not a declared setting"):
        settings.get("HOSO_NOPE")


def _run(*args, env=None):
    result = CliRunner().invoke(main, ["settings", *args], env=env or {})
    assert result.exit_code == 0, result.output
    return result.output


def test_cli_lists_every_setting_with_its_origin_and_masks_passwords():
    out = _run(env={"HOSO_DATABASE_URL": "postgresql://hoso:s3cret@db/hoso", "HOSO_DB_POOL": "7"})
    for name in SETTINGS:
        assert re.search(rf"^{name}\b", out, re.M), name
    assert "s3cret" not in out
    assert "postgresql://hoso:***@db/hoso (từ biến môi trường)" in out
    assert "giá trị: 7 (từ biến môi trường)\n  mặc định: 10\n  Số kết nối tối đa" in out


def test_cli_json_in_english_reports_an_unusable_value_instead_of_failing():
    env = {"HOSO_FILES_CLEANUP_AGE": "10", "HOSO_SESSION_IDLE_MINUTES": None}
    rows = {r["name"]: r for r in json.loads(_run("--json", "--lang", "en", env=env))}
    assert set(rows) == set(SETTINGS)
    age = rows["HOSO_FILES_CLEANUP_AGE"]
    assert age["source"] == "environment" and age["value"] is None
    assert age["error"] == "HOSO_FILES_CLEANUP_AGE='10': expected a number of seconds, at least 60"
    assert rows["HOSO_SESSION_IDLE_MINUTES"] | {"help": None} == {
        "name": "HOSO_SESSION_IDLE_MINUTES", "type": "number", "source": "default", "default": "60", "value": "60",
        "help": None, "retired": False, "replacement": None, "error": None}
    assert rows["HOSO_SESSION_IDLE_MINUTES"]["help"].startswith("A login session ends")
    assert rows["HOSO_TRUST_FORWARDED"]["replacement"] == "HOSO_TRUSTED_PROXIES"


def test_docs_page_is_generated_from_the_registry():
    page = (ROOT / "docs" / "settings.md").read_text("utf-8")
    assert page == markdown() + "\n", "docs/settings.md is stale: run `hoso settings --markdown > docs/settings.md`"
    for name, setting in SETTINGS.items():
        assert f"## `{name}`" in page and setting.help_vi in page and setting.help_en in page


def test_registry_defaults_are_the_readers_defaults(monkeypatch):
    from hoso.admin.media import StagingLimits
    from hoso.records.attachments import CleanupSettings
    from hoso.web.auth import WebSettings

    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    assert StagingLimits.from_env() == StagingLimits()
    assert WebSettings.from_env() == WebSettings()
    assert CleanupSettings.from_env() == CleanupSettings()
