"""Run mypy on the one-directory view of ``hoso`` and report every finding at its real file.

mypy cannot follow setuptools' editable finder, so it reads the link tree .ci/import_tree.py writes (build/tree);
its messages would then name build/tree/hoso/... paths, which no editor opens. This builds the tree, runs mypy
with the configuration in pyproject.toml and maps each path back through ``[tool.setuptools.package-dir]``
(build/tree/hoso/admin/app.py -> admin/app.py). The exit status is mypy's.

Usage: python .ci/mypy_tree.py [MYPY ARGS...]
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from mypy import api

sys.path.insert(0, str(Path(__file__).resolve().parent))
from import_tree import ROOT, build, package_dirs  # noqa: E402 - the sibling script, found through the path above

TREE = ROOT / "build" / "tree"


def source_map(root: Path = ROOT, tree: Path = TREE) -> list[tuple[str, str]]:
    """(tree prefix, source prefix) pairs, relative to ``root``, the deepest package first."""
    pairs = []
    for name, folder in sorted(package_dirs(root).items(), key=lambda item: -item[0].count(".")):
        prefix = tree.joinpath(*name.split(".")).relative_to(root).as_posix() + "/"
        pairs.append((prefix, folder.relative_to(root).as_posix() + "/"))
    return pairs


def real_paths(text: str, pairs: list[tuple[str, str]]) -> str:
    """``text`` with each line's leading tree path replaced by the file it links to."""
    def one(match: re.Match[str]) -> str:
        path = match.group(0)
        for prefix, source in pairs:
            if path.startswith(prefix):
                return source + path[len(prefix):]
        return path
    return re.sub(r"^[^:\n]+\.py", one, text, flags=re.M)


def main(argv: list[str]) -> int:
    build(TREE)
    out, err, status = api.run(argv)
    pairs = source_map()
    sys.stdout.write(real_paths(out, pairs))
    sys.stderr.write(real_paths(err, pairs))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
