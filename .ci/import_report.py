"""Count what the import contract forbids: modules that take part in an import cycle, and upward imports.

Reads the layers of ``.importlinter`` and the graph of the link tree (.ci/import_tree.py), including imports
inside functions; ``--with-type-checking`` counts the imports under ``if TYPE_CHECKING:`` too. Nothing is
ignored here (the contract's ``ignore_imports`` are counted), so the numbers show what remains.

Usage: python .ci/import_report.py [--with-type-checking] [--list]
"""

from __future__ import annotations

import argparse
import configparser
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import import_tree  # noqa: E402


def layer_ranks(config_path: Path) -> dict[str, int]:
    """Module prefix -> layer rank (0 is the bottom) from the contract's ``layers`` contract."""
    parser = configparser.ConfigParser(inline_comment_prefixes=None, comment_prefixes=(";", "#"))
    parser.read(config_path, encoding="utf-8")
    raw = parser["importlinter:contract:layers"]["layers"]
    rows = [row.strip() for row in raw.splitlines() if row.strip()]
    ranks: dict[str, int] = {}
    for rank, row in enumerate(reversed(rows)):
        for name in re.split(r"[|:]", row):
            ranks[name.strip().strip("()")] = rank
    return ranks


def rank_of(module: str, ranks: dict[str, int]) -> int | None:
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        prefix = ".".join(parts[:end])
        if prefix in ranks:
            return ranks[prefix]
    return None


def edges(tree: Path, with_type_checking: bool) -> set[tuple[str, str]]:
    import grimp

    sys.path.insert(0, str(tree))
    graph = grimp.build_graph("hoso", cache_dir=None, exclude_type_checking_imports=not with_type_checking)
    return {(m, i) for m in graph.modules for i in graph.find_modules_directly_imported_by(m)}


def modules_in_cycles(pairs: set[tuple[str, str]]) -> set[str]:
    """Modules in a strongly connected component of more than one module (Tarjan, iterative)."""
    out: dict[str, list[str]] = {}
    for a, b in pairs:
        out.setdefault(a, []).append(b)
        out.setdefault(b, [])
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: set[str] = set()
    counter = 0
    for root in sorted(out):
        if root in index:
            continue
        work = [(root, iter(out[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.update(component)
            elif child not in index:
                index[child] = low[child] = counter
                counter += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(out[child])))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def upward(pairs: set[tuple[str, str]], ranks: dict[str, int]) -> list[tuple[str, str]]:
    found = []
    for a, b in sorted(pairs):
        rank_a, rank_b = rank_of(a, ranks), rank_of(b, ranks)
        if rank_a is not None and rank_b is not None and rank_b > rank_a:
            found.append((a, b))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--with-type-checking", action="store_true")
    parser.add_argument("--list", action="store_true", help="name the modules and the imports")
    args = parser.parse_args()
    tree = import_tree.build(import_tree.ROOT / "build" / "tree")
    pairs = edges(tree, args.with_type_checking)
    cyclic = modules_in_cycles(pairs)
    up = upward(pairs, layer_ranks(import_tree.ROOT / ".importlinter"))
    print(f"modules in import cycles: {len(cyclic)}")
    if args.list:
        for name in sorted(cyclic):
            print(f"  {name}")
    print(f"upward imports: {len(up)}")
    if args.list:
        for a, b in up:
            print(f"  {a} -> {b}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
