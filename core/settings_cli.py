"""``hoso settings``: every ``HOSO_*`` setting with its current value, default, origin and help; and the
reference page docs/settings.md, generated from the same registry."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import click

from hoso.i18n import t
from hoso.settings import SETTINGS, Setting, SettingError, display, get, source

__all__ = ["settings_command", "describe", "markdown"]


def _default_text(setting: Setting, lang: str) -> str:
    if setting.default is None:
        return setting.default_vi if lang == "vi" else setting.default_en
    return display(setting.name, setting.default)


def _help(setting: Setting, lang: str) -> str:
    return setting.help_vi if lang == "vi" else setting.help_en


def describe(setting: Setting, lang: str, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """What ``hoso settings`` says of one setting; a value that cannot be used is reported, not raised."""
    row: dict[str, Any] = {"name": setting.name, "type": setting.kind, "source": source(setting.name, env),
                           "default": _default_text(setting, lang), "help": _help(setting, lang),
                           "retired": setting.retired, "replacement": setting.replacement or None, "error": None}
    try:
        value = get(setting.name, env)
        row["value"] = display(setting.name, value) if value is not None else _default_text(setting, lang)
    except SettingError as exc:
        row["value"] = None
        row["error"] = str(exc).splitlines()[0 if lang == "vi" else -1]
    return row


def _text_block(row: dict[str, Any], lang: str) -> str:
    origin = t("settings_from_env" if row["source"] == "environment" else "settings_from_default", lang)
    value = t("settings_unusable", lang, error=row["error"]) if row["error"] else row["value"]
    lines = [row["name"] + (f"  ({t('settings_retired', lang, replacement=row['replacement'])})"
                            if row["retired"] else ""),
             f"  {t('settings_value', lang)}: {value} ({origin})",
             f"  {t('settings_default', lang)}: {row['default']}",
             f"  {row['help']}"]
    return "\n".join(lines)


def markdown() -> str:
    """docs/settings.md: the settings in both languages, Vietnamese first."""
    out = ["# Cài đặt / Settings", "",
           "<!-- Generated from hoso.settings by `hoso settings --markdown`; do not edit by hand. -->", "",
           "Mỗi cài đặt là một biến môi trường. / Every setting is an environment variable.", ""]
    for s in SETTINGS.values():
        retired = (f" — ngừng dùng, thay bằng / retired, replaced by `{s.replacement}`" if s.retired else "")
        out += [f"## `{s.name}`{retired}", "",
                f"- Kiểu / type: `{s.kind}`",
                f"- Mặc định / default: {_md_default(s)}"]
        if s.minimum is not None or s.positive:
            low = f"≥ {s.minimum:g}" if s.minimum is not None else "> 0"
            out.append(f"- Giới hạn / range: {low}")
        out += ["", s.help_vi, "", s.help_en, ""]
    return "\n".join(out)


def _md_default(s: Setting) -> str:
    if s.default is None:
        return f"{s.default_vi} / {s.default_en}"
    text = display(s.name, s.default)
    return f"`{text}`" if text else "(trống / empty)"


@click.command("settings")
@click.option("--lang", type=click.Choice(["vi", "en"]), default="vi", show_default=True,
              help="Language of the help text.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.option("--markdown", "as_markdown", is_flag=True, help="Print the reference page docs/settings.md.")
def settings_command(lang: str, as_json: bool, as_markdown: bool) -> None:
    """Show every HOSO_* setting: current value, default, origin and help."""
    if as_markdown:
        click.echo(markdown())
        return
    rows = [describe(s, lang) for s in SETTINGS.values()]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    click.echo("\n\n".join(_text_block(row, lang) for row in rows))
