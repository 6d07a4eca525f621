"""The unit hierarchy: ``roles_config/hierarchy.yaml``, its levels and unit types, the unit files it names
(YAML or CSV) and the folder of restructurings (change sets) it names."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .._yaml import position_of
from ..kind import ConfigKind
from ..loader import (
    SCHEMA_DIR,
    ConfigFile,
    ConfigIssue,
    _did_you_mean,
    _entry_problem,
    _label,
    _not_utf8,
    _path_str,
    _present,
    _validators,
)
from ..types import HierarchyDef, RestructuringRef, UnitRow, UnitTypeDef


def build(ctx, files) -> HierarchyDef | None:
    hierarchy = None
    for f in files:
        d = f.data
        for tname, t in d["unit_types"].items():
            if t["level"] not in d["levels"]:
                f.error(("unit_types", tname, "level"), f"unknown level {t['level']!r}"
                        f"{_did_you_mean(t['level'], d['levels'])}; levels: {', '.join(d['levels'])}")
        before = len(ctx.issues)
        units = _read_units(ctx, f, set(d["unit_types"]))
        ctx.units_complete = len(ctx.issues) == before and not f.partial
        if not f.partial:
            hierarchy = HierarchyDef(tuple(d["levels"]),
                                     tuple(UnitTypeDef(n, t["level"], _label(t["label"]))
                                           for n, t in d["unit_types"].items()),
                                     tuple(units), _read_restructurings(ctx, f), d.get("restructurings"))
    return hierarchy


def check(ctx, hierarchy: HierarchyDef | None) -> None:
    """``unit_types`` of the entities' org_unit fields name unit types of the hierarchy."""
    if hierarchy is not None:
        _check_unit_types(ctx.files.get("entity", []), {t.name for t in hierarchy.unit_types})


def _check_unit_types(entity_files: list[ConfigFile], known: set[str]) -> None:
    """``unit_types`` of org_unit fields name unit types of the hierarchy."""

    def walk(f: ConfigFile, fields: Any, path: tuple) -> None:
        for name, fd in (fields or {}).items() if isinstance(fields, dict) else ():
            if not isinstance(fd, dict):
                continue
            for j, tname in enumerate(fd.get("unit_types") or ()):
                if tname not in known:
                    f.error(path + (name, "unit_types", j), f"unknown unit type {tname!r}"
                            f"{_did_you_mean(str(tname), known)}; expected one of {', '.join(sorted(known))} "
                            "(the unit_types of roles_config/hierarchy.yaml)")
            walk(f, fd.get("fields"), path + (name, "fields"))

    for f in entity_files:
        walk(f, f.data.get("fields") if isinstance(f.data, dict) else None, ("fields",))


def _read_units(loader, hf: ConfigFile, hierarchy_types: set[str]) -> list[UnitRow]:
    units: list[tuple[UnitRow, Callable[..., ConfigIssue]]] = []
    seen: dict[Any, str] = {}
    base = (loader.root / "roles_config").resolve()
    for i, ref in enumerate(hf.data.get("units", ())):
        rel_name = ref["file"]
        try:
            path = (base / rel_name).resolve()
        except (OSError, RuntimeError):  # a symbolic link loop (RuntimeError before Python 3.13)
            path = base / rel_name
        if not path.is_relative_to(base):
            hf.error(("units", i, "file"), f"expected a file inside roles_config/; found {rel_name!r}")
            continue
        if not _present(path):
            hf.error(("units", i, "file"), f"file not found: roles_config/{rel_name}")
            continue
        if (problem := _entry_problem(path)) is not None:
            hf.error(("units", i, "file"), f"cannot read roles_config/{rel_name}: {problem}")
            continue
        # rows: (values, ok, where) where ``where(column, message)`` makes an issue at that row's column
        rows: list[tuple[dict, bool, Callable[..., ConfigIssue]]] = []
        if path.suffix == ".csv":
            rows = _units_from_csv(loader, path)
        else:
            uf = loader.parse(path, "units")
            if uf is not None:
                for j, u in enumerate(uf.data["units"]):
                    def where(key: str, message: str, uf: ConfigFile = uf, j: int = j) -> ConfigIssue:
                        line, col = position_of(uf.positions, ("units", j, key))
                        return ConfigIssue(uf.rel, line, col, _path_str(("units", j, key)), message)
                    rows.append((u, True, where))
        for u, ok, where in rows:
            code: Any = u.get("code")  # None in a row whose code failed its schema check
            if code in seen:
                loader.issues.append(where("code", f"duplicate unit code {code!r} (first at {seen[code]})"))
                continue
            first = where("code", "")
            seen[code] = f"{first.file}:{first.line}"
            loader.unit_codes.add(code)
            try:
                valid_from = dt.date.fromisoformat(u["valid_from"]) if u.get("valid_from") else None
            except ValueError:
                valid_from = None
                ok = False
                # text that is not of the form YYYY-MM-DD has had its schema error already
                if re.fullmatch(r"\d{4}-\d{2}-\d{2}", u["valid_from"]):
                    loader.issues.append(where("valid_from",
                                               f"expected a date as YYYY-MM-DD; found {u['valid_from']!r}"))
            if u.get("type") not in hierarchy_types:
                loader.issues.append(where("type", f"unknown unit type {u.get('type')!r}"
                                           f"{_did_you_mean(str(u.get('type')), hierarchy_types)}; expected one of "
                                           f"{', '.join(sorted(hierarchy_types))} (the unit_types of "
                                           "roles_config/hierarchy.yaml)"))
                ok = False
            if not ok:
                continue  # the code stays known, so its children are not reported as orphans
            unit = UnitRow(code=code, name_vi=u["name_vi"], type=u["type"], name_en=u.get("name_en") or None,
                           short_code=u.get("short_code") or None,
                           parent_code=u.get("parent_code") or None, valid_from=valid_from)
            units.append((unit, where))
    for u, where in units:
        if u.parent_code and u.parent_code not in seen:
            loader.issues.append(where("parent_code", f"unit {u.code!r} names unknown parent {u.parent_code!r}"
                                       f"{_did_you_mean(u.parent_code, seen)}"))
    _check_unit_cycles(loader, units)
    return [u for u, _where in units]


def _check_unit_cycles(loader, units: list[tuple[UnitRow, Callable[..., ConfigIssue]]]) -> None:
    """Report every loop of parents (a unit under itself, two units under each other, a root under its child):
    the tree could never be built, and nothing would be left to say which unit is on top."""
    order = {u.code: i for i, (u, _where) in enumerate(units)}
    parent = {u.code: u.parent_code for u, _where in units if u.parent_code in order}
    done: set[str] = set()
    for u, _where in units:
        chain: list[str] = []
        code: str | None = u.code
        while code is not None and code not in done and code not in chain:
            chain.append(code)
            code = parent.get(code)
        done.update(chain)
        if code is None or code not in chain:
            continue
        loop = chain[chain.index(code):]
        first = min(loop, key=order.__getitem__)  # reported at the loop's first row in file order
        loop = loop[loop.index(first):] + loop[:loop.index(first)]
        where = units[order[first]][1]
        if len(loop) == 1:
            msg = f"unit {first!r} names itself as its parent"
        else:
            msg = (f"unit {first!r} is under itself: {' -> '.join(loop + [first])} (each unit, then its parent); "
                   "change the parent_code of one of them")
        loader.issues.append(where("parent_code", msg))


def _read_restructurings(loader, hf: ConfigFile) -> tuple[RestructuringRef, ...]:
    """The change sets of the folder the hierarchy names (``restructurings:``), checked, in date order."""
    from hoso.config.kinds.restructuring import RestructureErrors, load_restructuring

    rel_name = hf.data.get("restructurings")
    if rel_name is None:
        return ()
    base = (loader.root / "roles_config").resolve()
    folder = (base / rel_name).resolve()
    if not folder.is_relative_to(base):
        hf.error(("restructurings",), f"expected a folder inside roles_config/; found {rel_name!r}")
        return ()
    if not folder.is_dir():
        hf.error(("restructurings",), f"folder not found: roles_config/{rel_name}")
        return ()
    refs: list[RestructuringRef] = []
    seen: dict[str, str] = {}
    for path in sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml")):
        rel = loader._rel(path)
        if not path.is_file():
            loader.issues.append(ConfigIssue(rel, 1, 1, "", "cannot read the change set: not a regular file"))
            continue
        try:
            cs = load_restructuring(path, loader.root)
        except RestructureErrors as exc:
            loader.issues.extend(exc.issues)
            continue
        except OSError as exc:
            loader.issues.append(ConfigIssue(rel, 1, 1, "", f"cannot read the change set: {exc.strerror}"))
            continue
        if cs.name in seen:
            loader.issues.append(ConfigIssue(cs.rel, cs.line_of(("restructuring",)), 1, "restructuring",
                                             f"change set {cs.name!r} is already defined in {seen[cs.name]}; "
                                             "each change set has a name of its own"))
            continue
        seen[cs.name] = cs.rel
        refs.append(RestructuringRef(cs.name, cs.effective, cs.content_hash, str(path), cs.rel))
    return tuple(sorted(refs, key=lambda r: (r.effective, r.name)))


_UNIT_COLUMNS = ("code", "name_vi", "name_en", "type", "parent_code", "valid_from", "short_code")




_UNIT_REQUIRED = ("code", "name_vi", "type")


def _units_from_csv(loader, path: Path) -> list[tuple[dict, bool, Callable[..., ConfigIssue]]]:
    """The rows of a units CSV file, each checked against the units schema like a YAML units file."""
    raw = loader._read(path)
    rel = loader._rel(path)
    if raw is None:
        return []
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        loader.issues.append(_not_utf8(rel, raw, exc))
        return []
    expected = (f"expected the header line {','.join(_UNIT_COLUMNS)} "
                "(name_en, parent_code, valid_from and short_code optional)")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    units_schema: Any = _validators()["units"].schema
    row_schema = units_schema["properties"]["units"]["items"]
    row_validator = _validators()["units"].evolve(schema=row_schema)
    header: list[str] | None = None
    out: list[tuple[dict, bool, Callable[..., ConfigIssue]]] = []
    while True:
        line = reader.line_num + 1  # where the record starts (a quoted value may span lines)
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            hint = " (is a quoted value never closed?)" if "unexpected end of data" in str(exc) else ""
            loader.issues.append(ConfigIssue(rel, line, 1, "", f"malformed CSV: {exc}{hint}"))
            return []
        if not any(c.strip() for c in cells):
            continue  # blank line
        if header is None:
            header = cells
            unknown = [h for h in header if h not in _UNIT_COLUMNS]
            missing = [h for h in _UNIT_REQUIRED if h not in header]
            twice = sorted({h for h in header if header.count(h) > 1})
            parts = []
            if unknown:
                parts.append(f"unknown column(s) {', '.join(map(repr, unknown))}")
            if missing:
                parts.append(f"missing column(s) {', '.join(map(repr, missing))}")
            if twice:
                parts.append(f"column(s) {', '.join(map(repr, twice))} given twice")
            if parts:
                loader.issues.append(ConfigIssue(rel, line, 1, "", "; ".join(parts) + f": {expected}"))
                return []
            continue
        if len(cells) > len(header):
            loader.issues.append(ConfigIssue(rel, line, 1, "", f"expected at most {len(header)} values, one per "
                                             f"column of the header; found {len(cells)}"))
            continue

        def where(key: str, message: str, line: int = line) -> ConfigIssue:
            return ConfigIssue(rel, line, 1, key, message)

        # a row shorter than the header leaves its last columns empty (a longer one was refused above)
        row = {k: v.strip() for k, v in zip(header, cells, strict=False) if v.strip()}
        empty = [k for k in _UNIT_REQUIRED if k not in row]
        if empty:
            loader.issues.append(where(empty[0], f"no value for {', '.join(empty)}: every unit "
                                       f"needs a {', a '.join(_UNIT_REQUIRED[:-1])} and a {_UNIT_REQUIRED[-1]}"))
            continue
        before = len(loader.issues)
        f = ConfigFile(loader, rel, row, {(): (line, 1)})
        for err in row_validator.iter_errors(row):
            loader._schema_error(f, err)
        out.append((row, len(loader.issues) == before, where))
    if header is None:
        loader.issues.append(ConfigIssue(rel, 1, 1, "", f"file is empty: {expected}"))
    return out


KIND = ConfigKind("hierarchy", "roles_config/hierarchy.yaml", SCHEMA_DIR / "hierarchy.schema.json", build,
                  check=check, config_field="hierarchy")
