"""Build a plain directory tree of the ``hoso`` package for tools that find a package by walking one directory.

The installed ``hoso`` is assembled from three folders (core/, admin/, plugins/) by setuptools' editable finder,
which import-linter, grimp and mypy do not see. This writes ``build/tree/hoso/...`` with real directories and
symlinked ``.py`` files, following ``[tool.setuptools.package-dir]`` in pyproject.toml, so those tools can run
with ``build/tree`` first on the path. A folder holding its own ``pyproject.toml`` (plugins/legal_aid) is a
separate distribution and is left out.

Usage: python .ci/import_tree.py [DEST]      (DEST defaults to build/tree; prints the path)
"""

from __future__ import annotations

import shutil
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def package_dirs(root: Path = ROOT) -> dict[str, Path]:
    """The package name -> source folder mapping declared in pyproject.toml."""
    data = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    mapping = data["tool"]["setuptools"]["package-dir"]
    return {name: root / folder for name, folder in mapping.items()}


def _link_package(source: Path, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for entry in sorted(source.iterdir()):
        if entry.is_file() and entry.suffix == ".py":
            (dest / entry.name).symlink_to(entry)
        elif entry.is_dir() and (entry / "__init__.py").is_file() and not (entry / "pyproject.toml").exists():
            _link_package(entry, dest / entry.name)


def build(dest: Path, root: Path = ROOT) -> Path:
    """Write the link tree under ``dest`` (replacing an older one) and return ``dest``."""
    if dest.exists():
        shutil.rmtree(dest)
    # Parents before children, so a subpackage mapped elsewhere replaces the folder its parent holds.
    for name, source in sorted(package_dirs(root).items(), key=lambda item: item[0].count(".")):
        target = dest.joinpath(*name.split("."))
        if target.exists():
            shutil.rmtree(target)
        _link_package(source, target)
    return dest


if __name__ == "__main__":
    destination = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "build" / "tree"
    print(build(destination.resolve()))
