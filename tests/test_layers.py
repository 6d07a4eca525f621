"""The import contract (.importlinter) holds on the package, and breaks on an upward import or a cycle."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / ".ci"))

import import_tree  # noqa: E402

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def run_contract(tree: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(tree), "NO_COLOR": "1", "COLUMNS": "300"}
    return subprocess.run([str(LINT_IMPORTS), str(ROOT / ".importlinter"), "--no-cache"],
                          cwd=tree.parent, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return import_tree.build(tmp_path / "tree")


def add_module(tree: Path, dotted: str, source: str) -> None:
    path = tree.joinpath(*dotted.split(".")).with_suffix(".py")
    path.write_text(source, encoding="utf-8")


def test_the_package_keeps_the_contract(tree: Path) -> None:
    result = run_contract(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


def test_an_upward_import_breaks_the_layers(tree: Path) -> None:
    add_module(tree, "hoso.config.upward", "from hoso.web import problems\n")
    result = run_contract(tree)
    assert result.returncode != 0
    assert "hoso.config is not allowed to import hoso.web" in result.stdout
    assert "hoso.config.upward -> hoso.web.problems" in result.stdout


def test_an_import_inside_a_function_counts(tree: Path) -> None:
    add_module(tree, "hoso.records.lazy", "def later():\n    from hoso.runtime import Runtime\n    return Runtime\n")
    result = run_contract(tree)
    assert result.returncode != 0
    assert "hoso.records.lazy -> hoso.runtime" in result.stdout


def test_a_cycle_inside_a_layer_breaks_the_contract(tree: Path) -> None:
    add_module(tree, "hoso.records.ring_a", "from hoso.records import ring_b\n")
    add_module(tree, "hoso.records.ring_b", "from hoso.records import ring_a\n")
    result = run_contract(tree)
    assert result.returncode != 0
    assert "No cycles are allowed in hoso.records" in result.stdout
    assert ".ring_a -> .ring_b" in result.stdout or ".ring_b -> .ring_a" in result.stdout


def test_hoso_may_not_import_the_reference_deployment(tree: Path) -> None:
    add_module(tree, "hoso.records.deployment", "import hoso_legal_aid\n")
    result = run_contract(tree)
    assert result.returncode != 0
    assert "hoso is not allowed to import hoso_legal_aid" in result.stdout
    assert "hoso.records.deployment -> hoso_legal_aid" in result.stdout
