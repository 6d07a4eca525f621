"""Bad input of any shape ends in ConfigErrors, never in another exception.

Each base file is damaged in many small ways (a line left out; one value swapped for a value of another
shape) and loaded; anything but a clean load or ConfigErrors fails the test, with the change that caused it.
(Every value is swapped for one other shape, taken in turn, to keep the run short; swapping each for all four
shapes, about 3,000 loads, found nothing more when this was written.)
"""

from __future__ import annotations

import copy
import os
import random
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from hoso.config import ConfigErrors, ConfigIssue
from hoso.config._yaml import MAX_DEPTH
from hoso.config.loader import MAX_FILE_BYTES, _path_str
from tests.helpers import load_full_config

FILES = [
    "forms_config/lists/common.yaml",
    "forms_config/entities/case.yaml",
    "forms_config/entities/lawyer.yaml",
    "forms_config/forms/case_intake.yaml",
    "forms_config/workflows/case_lifecycle.yaml",
    "forms_config/reports/cases_by_form.yaml",
    "roles_config/hierarchy.yaml",
    "roles_config/roles/centre_staff.yaml",
    "roles_config/modules.yaml",
]
OTHER_SHAPES = [None, "zz", ["zz"], {"zz": 1}]


def _load(cfg, changes) -> None:
    try:
        load_full_config(cfg.make(changes))
    except ConfigErrors as exc:
        for issue in exc.issues:
            assert isinstance(issue, ConfigIssue)
            assert issue.line >= 1 and issue.column >= 1 and issue.message
    except Exception as exc:  # noqa: BLE001 - that is the point
        pytest.fail(f"{type(exc).__name__}: {exc}\nchanges: {changes!r}")


def test_files_cover_the_base(cfg):
    assert sorted(FILES + ["roles_config/units/units.csv"]) == sorted(cfg.BASE)


@pytest.mark.parametrize("rel", FILES + ["roles_config/units/units.csv"])
def test_leaving_out_any_line(cfg, rel):
    lines = cfg.BASE[rel].splitlines(keepends=True)
    for i in range(len(lines)):
        _load(cfg, {rel: "".join(lines[:i] + lines[i + 1:])})


def _paths(node, path=()):
    yield path
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, path + (i,))


@pytest.mark.parametrize("rel", FILES)
def test_any_value_of_another_shape(cfg, rel):
    data = yaml.safe_load(cfg.BASE[rel])
    for i, path in enumerate(list(_paths(data))[1:]):
        for value in [OTHER_SHAPES[i % len(OTHER_SHAPES)]]:
            changed = copy.deepcopy(data)
            node = changed
            for k in path[:-1]:
                node = node[k]
            node[path[-1]] = value
            _load(cfg, {rel: yaml.safe_dump(changed, allow_unicode=True, sort_keys=False)})


@pytest.mark.parametrize("text", [
    "a: &x [*x]\n",                      # an alias inside itself
    "a: &x {b: *x}\n",
    "? [a, b]\n: c\n",                   # a key that is not a scalar
    "~: c\n",                            # a null key
    "a: !!binary aGVsbG8=\n",            # a tag that builds bytes
    "a: !!set {x, y}\n",
    "a: 1e400\nb: .nan\n",
    "\ufeffform: x\n",                   # a byte-order mark
    "form: x\x00\n",                     # a NUL character
    "{" * 200 + "}" * 200,               # deep nesting
])
def test_odd_yaml(cfg, text):
    _load(cfg, {"forms_config/forms/odd.yaml": text, "forms_config/entities/odd.yaml": text})


@pytest.mark.parametrize("text", [
    "code,name_vi,type\n\x00,x,y\n",
    "code,name_vi,type\n\"a\"b,x,ministry_department\n",
    "code,name_vi,type\r\nA,x,ministry_department\rB,y,ministry_department\n",
    "\ufeffcode,name_vi,type\nA,x,ministry_department\n",
    "code,name_vi,type\n" + "A," * 1000 + "\n",
    ",,,\n",
    "code\n",
])
def test_odd_units_csv(cfg, text):
    _load(cfg, {"roles_config/units/units.csv": text})


# -- the reference configuration, mutated ------------------------------------------------------------------------
#
# Hundreds of mutations of the shipped configuration (forms_config/ and roles_config/ copied to a temporary
# folder), each loaded in a child process whose memory and time are bounded. No mutation may crash the loader
# (anything but ConfigErrors) or take more than CASE_SECONDS; a refused mutation must be reported where it was
# made: in the mutated file at the mutated line (and key, where the kind of mutation fixes one), or, when the
# mutation broke a definition other files use, by an issue elsewhere that names what was changed.
# HOSO_CONFIG_FUZZ_CASES sets how many mutations run (default 150 in `make test`, 173 s for 250 in a full run on
# this 2-core machine; `make fuzz` runs 1,000); HOSO_CONFIG_FUZZ_SEED another seed.

REPO = Path(__file__).resolve().parents[2]
FUZZ_CASES = int(os.environ.get("HOSO_CONFIG_FUZZ_CASES", "150"))
FUZZ_SEED = int(os.environ.get("HOSO_CONFIG_FUZZ_SEED", "20261130"))
CASE_SECONDS = 10.0  # a case takes 0.1-0.5 s here (more on a busy machine); a runaway one takes minutes


@dataclass
class Mutation:
    id: str
    kind: str
    file: str
    content: str | bytes
    lines: set[int]                 # lines of the file where the problem may be reported
    paths: tuple[str, ...] = ()     # key paths it may be reported at ("" for YAML-level errors); () for any
    names: set[str] = field(default_factory=set)  # what an issue in another file may name instead
    must_fail: bool = False
    says: str = ""                  # a part of the message, where the kind of mutation fixes one


def _nodes(node, path=()):
    """(path, key node or None, value node) of every value of a composed YAML document."""
    yield path, None, node
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            for sub in _nodes(v, path + (k.value,)):
                yield sub if sub[0] != path + (k.value,) else (sub[0], k, sub[2])
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            yield from _nodes(v, path + (i,))


def _names_in(node) -> set[str]:
    out = set()
    for _p, k, v in _nodes(node):
        if k is not None:
            out.add(k.value)
        if isinstance(v, yaml.ScalarNode):
            out.add(v.value)
    return out


def _line_of(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def _yaml_mutations(rng: random.Random, rel: str, text: str, n: int) -> list[Mutation]:
    doc = yaml.compose(text, Loader=yaml.SafeLoader)
    entries = [(p, k, v) for p, k, v in _nodes(doc) if p]
    scalars = [(p, k, v) for p, k, v in entries
               if isinstance(v, yaml.ScalarNode) and v.end_mark.index > v.start_mark.index]
    lines = text.splitlines(keepends=True)

    def block_key(k) -> bool:  # a key that starts its line (not inside {...}, not after "- ")
        return k is not None and not lines[k.start_mark.line][:k.start_mark.column].strip()

    node_at = {p: v for p, _k, v in _nodes(doc)}

    def last_line(v) -> int:  # 0-based; a block collection ends where the next token starts, often a line later
        before = text[text.rfind("\n", 0, v.end_mark.index) + 1:v.end_mark.index]
        return v.end_mark.line - 1 if not before.strip() else v.end_mark.line

    keyed = [(p, k, v) for p, k, v in entries if block_key(k) and not node_at[p[:-1]].flow_style]
    one_line = [(p, k, v) for p, k, v in keyed if last_line(v) == k.start_mark.line]
    out: list[Mutation] = []
    kinds = ["delete_key", "retype", "duplicate_key", "aliases", "deep", "bad_reference", "truncate",
             "random_bytes", "huge", "tag"]
    for j in range(n):
        kind = kinds[j % len(kinds)]
        mid = f"{rel}#{j}:{kind}"
        if kind == "delete_key" and keyed:
            p, k, v = rng.choice(keyed)
            first, last = k.start_mark.line, max(last_line(v), k.start_mark.line)
            content = "".join(lines[:first] + lines[last + 1:])
            # "missing required key" is reported where the mapping that held it starts
            parent = node_at[p[:-1]].start_mark.line + 1
            out.append(Mutation(mid, kind, rel, content, {1, parent, first + 1},  # 1: nothing left but comments
                                (_path_str(p[:-1]), _path_str(p)), {p[-1]} | _names_in(v)))
        elif kind == "retype" and scalars:
            p, k, v = rng.choice(scalars)
            new = rng.choice(["[zz]", "{zz: 1}", "12345", "true", "null", "''", "-1.5"])
            content = text[:v.start_mark.index] + new + text[v.end_mark.index:]
            out.append(Mutation(mid, kind, rel, content, {v.start_mark.line + 1, k.start_mark.line + 1 if k else 0},
                                (_path_str(p), _path_str(p[:-1])), {v.value}))
        elif kind == "duplicate_key" and one_line:
            p, k, v = rng.choice(one_line)
            i = k.start_mark.line
            content = "".join(lines[:i + 1] + [lines[i] if lines[i].endswith("\n") else lines[i] + "\n"]
                              + lines[i + 1:])
            out.append(Mutation(mid, kind, rel, content, {i + 2}, (_path_str(p),), must_fail=True,
                                says=f"duplicate key {p[-1]!r}"))
        elif kind == "aliases" and scalars:
            # an alias bomb as the value of one scalar: refused at the alias that crosses the bound
            p, k, v = rng.choice(scalars)
            levels = rng.randint(6, 12)
            bomb = "&a0 [" + ", ".join(["x"] * 9) + "]"
            for lvl in range(1, levels):
                bomb = f"[{bomb}, &a{lvl} [" + ", ".join([f"*a{lvl - 1}"] * 9) + "]]"
            content = text[:v.start_mark.index] + bomb + text[v.end_mark.index:]
            out.append(Mutation(mid, kind, rel, content, {v.start_mark.line + 1}, ("", _path_str(p)),
                                {v.value}, must_fail=levels >= 7))
        elif kind == "deep" and scalars:
            p, k, v = rng.choice(scalars)
            depth = rng.choice([MAX_DEPTH + 1, 200, 1000, 5000])
            opening, closing = rng.choice([("[", "]"), ("{a: ", "}")])
            content = text[:v.start_mark.index] + opening * depth + "1" + closing * depth + text[v.end_mark.index:]
            out.append(Mutation(mid, kind, rel, content, {v.start_mark.line + 1}, ("",), must_fail=True,
                                says="levels deep"))
        elif kind == "bad_reference" and scalars:
            p, k, v = rng.choice([s for s in scalars if re.fullmatch(r"[A-Za-z_][\w.-]*", s[2].value)] or scalars)
            new = v.value + "_zz"
            content = text[:v.start_mark.index] + new + text[v.end_mark.index:]
            out.append(Mutation(mid, kind, rel, content, {v.start_mark.line + 1, k.start_mark.line + 1 if k else 0},
                                (_path_str(p), _path_str(p[:-1])), {v.value, new}))
        elif kind == "truncate":
            cut = rng.randrange(0, len(text))
            content = text[:cut]
            out.append(Mutation(mid, kind, rel, content, set(range(1, _line_of(text, cut) + 2)), (),
                                _words(text[cut:])))
        elif kind == "random_bytes":
            at = rng.randrange(0, len(text))
            junk = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
            raw = text.encode("utf-8")
            at_b = len(text[:at].encode("utf-8"))
            content = raw[:at_b] + junk + raw[at_b:]
            line = _line_of(text, at)
            out.append(Mutation(mid, kind, rel, content, set(range(_top_entry_line(lines, line), len(lines) + 10)),
                                (), _words(lines[line - 1])))
        elif kind == "huge" and scalars:
            p, k, v = rng.choice(scalars)
            size = rng.choice([MAX_FILE_BYTES + 1, 100_000, 400])
            new = rng.choice(["x" * size, "9" * min(size, 5000), "1e400"])
            content = text[:v.start_mark.index] + new + text[v.end_mark.index:]
            located = {1} if len(content.encode()) > MAX_FILE_BYTES else {v.start_mark.line + 1}
            out.append(Mutation(mid, kind, rel, content, located | ({k.start_mark.line + 1} if k else set()),
                                (_path_str(p), _path_str(p[:-1]), ""), {v.value},
                                must_fail=len(content.encode()) > MAX_FILE_BYTES))
        elif kind == "tag" and scalars:
            p, k, v = rng.choice(scalars)
            tag = rng.choice(["!custom", "!!python/object/new:os.system", "!!python/name:os.system", "!!binary",
                              "!<tag:example.org,2026:x>"])
            content = text[:v.start_mark.index] + tag + " " + text[v.start_mark.index:]
            out.append(Mutation(mid, kind, rel, content, {v.start_mark.line + 1}, ("",), must_fail=True,
                                says="is not allowed"))
    return out


def _top_entry_line(lines: list[str], line: int) -> int:
    """The line where the top-level entry holding ``line`` starts (problems may be reported at its key)."""
    for i in range(line - 1, -1, -1):
        if lines[i][:1] not in ("", " ", "\t", "#", "\n", "-"):
            return i + 1
    return 1


def _words(text: str) -> set[str]:
    return set(re.findall(r"[\w.-]+", text))


def _csv_mutations(rng: random.Random, rel: str, text: str, n: int) -> list[Mutation]:
    lines = text.splitlines(keepends=True)
    header = lines[0].rstrip("\r\n").split(",")
    codes = [line.split(",")[0] for line in lines[1:]]
    out = []
    for j in range(n):
        kind = ["bad_reference", "loop", "duplicate_row", "truncate", "random_bytes"][j % 5]
        mid = f"{rel}#{j}:{kind}"
        i = rng.randrange(1, len(lines))
        if kind in ("bad_reference", "loop"):
            cells = lines[i].rstrip("\n").split(",")
            # a parent that does not exist, or the row's own code (a unit under itself)
            if '"' in lines[i] or len(cells) != len(header):
                kind, cells = "duplicate_row", None
            else:
                k = header.index("parent_code")
                cells[k] = cells[0] + "_zz" if kind == "bad_reference" else cells[0]
                content = "".join(lines[:i] + [",".join(cells) + "\n"] + lines[i + 1:])
                out.append(Mutation(mid, kind, rel, content, {i + 1}, ("parent_code",), must_fail=True))
                continue
        if kind == "duplicate_row":
            content = "".join(lines[:i + 1] + [lines[i]] + lines[i + 1:])
            out.append(Mutation(mid, kind, rel, content, {i + 2}, ("code",), must_fail=True,
                                says=f"duplicate unit code {codes[i - 1]!r}"))
        elif kind == "truncate":
            cut = rng.randrange(0, len(text))
            out.append(Mutation(mid, kind, rel, text[:cut], set(range(1, _line_of(text, cut) + 2)), (),
                                _words(text[cut:])))
        else:
            at = rng.randrange(0, len(text))
            junk = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
            raw = text.encode("utf-8")
            at_b = len(text[:at].encode("utf-8"))
            line = _line_of(text, at)
            out.append(Mutation(mid, kind, rel, raw[:at_b] + junk + raw[at_b:], set(range(1, len(lines) + 10)), (),
                                _words(lines[line - 1])))
    return out


def _mutations(root: Path, total: int, seed: int) -> list[Mutation]:
    rng = random.Random(seed)
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                   if p.is_file() and p.suffix in (".yaml", ".yml", ".csv") and "restructurings" not in p.parts
                   and p.name != "provinces_2025.csv")
    per_file = -(-total // len(files))
    out: list[Mutation] = []
    for rel in files:
        text = (root / rel).read_text(encoding="utf-8")
        make = _csv_mutations if rel.endswith(".csv") else _yaml_mutations
        out.extend(make(rng, rel, text, per_file))
    rng.shuffle(out)
    return out[:total]


def _reported_where_made(m: Mutation, issues: list[list]) -> bool:
    for file, line, _col, path, message in issues:
        if file == m.file and line in m.lines and (not m.paths or path in m.paths) and m.says in message:
            return True
        if file != m.file and not m.must_fail and any(repr(n) in message for n in m.names):
            return True
        # a renamed definition (a hierarchy level) is reported where the file still uses the old name; a deleted
        # one (a field an index names) where the file still uses it
        if m.kind == "bad_reference" and file == m.file and all(repr(n) in message for n in m.names):
            return True
        if m.kind == "delete_key" and file == m.file and m.paths and repr(m.paths[-1].rsplit(".", 1)[-1]) in message:
            return True
    return False


@pytest.mark.slow
def test_reference_configuration_mutated(tmp_path, child_load):
    root = tmp_path / "reference"
    shutil.copytree(REPO / "forms_config", root / "forms_config")
    shutil.copytree(REPO / "roles_config", root / "roles_config")
    mutations = _mutations(root, FUZZ_CASES, FUZZ_SEED)
    assert len(mutations) >= FUZZ_CASES * 0.9
    cases = [{"id": m.id, "file": m.file, **({"bytes": m.content.decode("latin-1")} if isinstance(m.content, bytes)
                                            else {"text": m.content})} for m in mutations]
    started = time.monotonic()
    # with the deployment's plugin, which reads its own files (quality.yaml, directory.yaml)
    results = child_load(root, cases, timeout=30 * CASE_SECONDS + 2 * len(cases), plugins="hoso_legal_aid")
    elapsed = time.monotonic() - started
    problems = []
    counts = {"refused": 0, "accepted": 0}
    for m in mutations:
        r = results[m.id]
        if "crash" in r:
            problems.append(f"{m.id}: crashed: {r['crash']}")
            continue
        if r["seconds"] > CASE_SECONDS:
            problems.append(f"{m.id}: took {r['seconds']:.1f} s")
        issues = r["issues"]
        counts["refused" if issues else "accepted"] += 1
        for file, line, col, _path, message in issues:
            if line < 1 or col < 1 or not message or not ((root / file).exists() or (root / file).is_symlink()):
                problems.append(f"{m.id}: malformed issue {file}:{line}:{col}: {message}")
        if m.must_fail and not issues:
            problems.append(f"{m.id}: accepted")
        elif issues and not _reported_where_made(m, issues):
            shown = "\n    ".join(f"{f}:{ln}:{c}: {p}: {msg[:160]}" for f, ln, c, p, msg in issues[:6])
            problems.append(f"{m.id}: expected at {m.file} lines {sorted(m.lines)[:8]} paths {m.paths}; "
                            f"got\n    {shown}")
    print(f"{len(mutations)} mutations in {elapsed:.1f} s: {counts}")
    assert not problems, f"{len(problems)} of {len(mutations)} mutations:\n" + "\n".join(problems[:30])
