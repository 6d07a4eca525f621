"""Every hook is documented in docs/plugins.md, has a one-line summary and :param:/:return: lines, and a test."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from hoso import hookspecs

REPO = Path(__file__).resolve().parent.parent
HOOKS = [name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("hoso_")]


def test_there_are_hooks():
    assert len(HOOKS) >= 5


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_documented(hook):
    assert f"`{hook}`" in (REPO / "docs/plugins.md").read_text(encoding="utf-8"), f"{hook} missing from docs/plugins.md"
    doc = inspect.getdoc(getattr(hookspecs, hook)) or ""
    assert doc.splitlines()[0].endswith("."), f"{hook}: first line should be a one-line summary"
    assert ":return:" in doc, f"{hook}: document what it returns"
    for param in inspect.signature(getattr(hookspecs, hook)).parameters:
        assert f":param {param}:" in doc, f"{hook}: document parameter {param}"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_exercised_by_a_test_plugin(hook):
    source = (REPO / "tests/plugins/postcode.py").read_text(encoding="utf-8")
    assert f"def {hook}(" in source, f"{hook} has no test plugin implementation in tests/plugins/"
