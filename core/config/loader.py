"""Load, validate and cross-check a configuration directory.

Every file is parsed with positions, validated against its JSON Schema, then turned into frozen objects;
references between files are checked last. All problems of a run are collected and raised together as one
``ConfigErrors``; nothing is returned unless the whole configuration is valid.
"""

from __future__ import annotations

import copy
import csv
import datetime as dt
import errno
import hashlib
import io
import json
import os
import re
import stat
import string
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable

import jsonschema
from referencing import Registry, Resource

from ._yaml import YamlSyntaxError, load_with_positions, position_of
from .types import (
    FIELD_TYPES,
    AttachmentRuleDef,
    AttachmentsDef,
    CalendarDef,
    DeadlineDef,
    FormFieldDef,
    HolidayDef,
    RuleDef,
    ChoiceList,
    ChoiceOption,
    Config,
    Conversion,
    EntityDef,
    FieldDef,
    FormDef,
    FormSection,
    GrantDef,
    HierarchyDef,
    IndexDef,
    Label,
    ModuleDef,
    NamingDef,
    ReportDef,
    RoleDef,
    TransitionDef,
    RestructuringRef,
    UnitRow,
    UnitTypeDef,
    WorkflowDef,
)

__all__ = ["ConfigIssue", "ConfigErrors", "load_config", "SCHEMA_DIR", "KINDS"]

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"

# kind -> (folder relative to the config root, one file or a folder of files)
KINDS: dict[str, tuple[str, bool]] = {
    "lists": ("forms_config/lists", True),
    "entity": ("forms_config/entities", True),
    "form": ("forms_config/forms", True),
    "workflow": ("forms_config/workflows", True),
    "report": ("forms_config/reports", True),
    "hierarchy": ("roles_config/hierarchy.yaml", False),
    "role": ("roles_config/roles", True),
    "modules": ("roles_config/modules.yaml", False),
    "calendar": ("forms_config/calendar.yaml", False),
}

# The largest configuration file read (YAML or CSV); the reference configuration's largest is 19 kB.
MAX_FILE_BYTES = 4 * 2 ** 20

# Types whose values are stored as text and whose length constraints make sense.
TEXT_TYPES = {"text", "long_text", "citizen_id", "phone", "email", "choice"}
ORDERED_TYPES = {"integer", "decimal", "date", "datetime"}
# Columns every record table has: a field may not take their names.
RESERVED_NAMES = {"id"}
RESERVED_CHILD_NAMES = {"id", "parent_id", "position"}
ACTIONS = {"read", "create", "update", "delete", "restore", "export", "run_reports", "approve_reports", "manage_users"}


@dataclass(frozen=True)
class ConfigIssue:
    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigErrors(Exception):
    """Every problem found in a configuration, in file order."""

    def __init__(self, issues: list[ConfigIssue]):
        self.issues = sorted(issues, key=lambda i: (i.file, i.line, i.column, i.message))
        super().__init__(self.render())

    def render(self) -> str:
        n = len(self.issues)
        head = f"{n} configuration error{'s' if n != 1 else ''}:"
        return "\n".join([head] + [f"  {i}" for i in self.issues])


def _path_str(path: Iterable) -> str:
    out = ""
    for p in path:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += f".{p}" if out else str(p)
    return out


@lru_cache(maxsize=8)
def _validators(extra_types: tuple[str, ...] = ()) -> dict[str, jsonschema.protocols.Validator]:
    """One validator per kind; ``extra_types`` are field types registered by plugins beyond the built-in ones."""
    schemas = {}
    for f in SCHEMA_DIR.glob("*.schema.json"):
        schemas[f.name.removesuffix(".schema.json")] = json.loads(f.read_text(encoding="utf-8"))
    if extra_types:
        enum = schemas["entity"]["$defs"]["field_type"]["enum"]
        enum.extend(t for t in extra_types if t not in enum)
    registry = Registry().with_resources(
        (s["$id"], Resource.from_contents(s)) for s in schemas.values()
    )
    out = {}
    for name, schema in schemas.items():
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        out[name] = cls(schema, registry=registry, format_checker=cls.FORMAT_CHECKER)
    return out


class _File:
    """One parsed configuration file, and a way to report problems at its positions.

    A ``partial`` file is what is left of a file with schema errors once the parts in error are cut out: it is
    checked like any file, so that its other mistakes are reported in the same run, but what it defines is not
    used. Paths given to ``error`` are in the cut data; ``kept`` maps them back to the file's list positions,
    and messages that quote a name from a part cut out are not reported (they would only repeat the cut).
    """

    def __init__(self, loader: "_Loader", rel: str, data: Any, positions: dict, *, partial: bool = False,
                 kept: dict[tuple, list[int]] | None = None, cut_names: set[str] | None = None):
        self.loader = loader
        self.rel = rel
        self.data = data
        self.positions = positions
        self.partial = partial
        self.kept = kept or {}
        self.cut_names = cut_names or set()

    def original_path(self, path: Iterable) -> tuple:
        out: tuple = ()
        for p in path:
            out += (self.kept[out][p] if isinstance(p, int) and out in self.kept else p,)
        return out

    def error(self, path: tuple, message: str, *, key: bool = False) -> None:
        if self.cut_names and any(repr(n) in message for n in self.cut_names):
            return
        path = self.original_path(path)
        line, col = position_of(self.positions, path, key=key)
        self.loader.issues.append(ConfigIssue(self.rel, line, col, _path_str(path), message))

    def valid_part(self, validator: jsonschema.protocols.Validator) -> "_File | None":
        """The file with every part in error cut out, as a partial file; None when nothing sensible is left."""
        data = copy.deepcopy(self.data)
        cut = _File(self.loader, self.rel, data, self.positions, partial=True)
        for _round in range(_MAX_CUT_ROUNDS):
            errors = list(validator.iter_errors(data))
            if not errors:
                return cut
            targets = {t for err in errors for t in _cut_targets(err)}
            if () in targets:
                return None  # the file as a whole is in error
            # Deepest and last first, so that cutting an item does not move the others still to be cut.
            for target in sorted(targets, key=lambda t: [(isinstance(p, str), p) for p in t], reverse=True):
                if any(target[:n] in targets for n in range(1, len(target))):
                    continue  # inside a part cut anyway
                cut.cut(target)
        return None

    def cut(self, path: tuple) -> None:
        parent = self.data
        for p in path[:-1]:
            parent = parent[p]
        last = path[-1]
        if isinstance(parent, list) and isinstance(last, int):
            self.kept.setdefault(self.original_path(path[:-1]), list(range(len(parent)))).pop(last)
            self.cut_names.update(_names_in(parent.pop(last)))
        elif isinstance(parent, dict) and last in parent:
            self.cut_names.add(str(last))
            self.cut_names.update(_names_in(parent.pop(last)))


# A file whose errors take more rounds of cutting than this is not checked further (its errors are reported).
_MAX_CUT_ROUNDS = 20


def _cut_targets(err: jsonschema.ValidationError) -> list[tuple]:
    """The parts of the data to cut out so that ``err`` goes away."""
    path = tuple(err.absolute_path)
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        return [path + (k,) for k in err.instance if k not in err.schema.get("properties", {})]
    if "propertyNames" in err.absolute_schema_path and isinstance(err.instance, str):
        return [path + (err.instance,)]
    if err.validator == "uniqueItems" and isinstance(err.instance, list):
        return [path + (j,) for j, item in enumerate(err.instance) if item in err.instance[:j]]
    return [path]


def _names_in(value: Any) -> set[str]:
    """The keys and text values in ``value``: what a check of the rest might mention by name."""
    out: set[str] = set()
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            out.update(map(str, v))
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
        elif isinstance(v, str):
            out.add(v)
    return out


class _Loader:
    def __init__(self, root: Path, plugin_types: dict[str, str] | None = None):
        self.root = root
        self.issues: list[ConfigIssue] = []
        # Field types from plugins, name -> storage ("text", "integer", ...), beyond the built-in ones.
        plugin_types = {n: st for n, st in (plugin_types or {}).items() if n not in FIELD_TYPES}
        self.extra_types = tuple(sorted(plugin_types))
        self.text_types = TEXT_TYPES | {n for n, st in plugin_types.items() if st == "text"}
        self.ordered_types = ORDERED_TYPES | {n for n, st in plugin_types.items() if st in ORDERED_TYPES}
        self.hasher = hashlib.sha256()
        # Names declared by files that failed to load, per kind, so that references to them are not reported
        # a second time as "unknown"; and the files whose names could not be made out at all.
        self.broken: dict[str, set[str]] = {}
        self.broken_unnamed: dict[str, list[str]] = {}
        # Every unit code the unit files name (rows with errors included), and the codes restructurings give.
        self.unit_codes: set[str] = set()
        self._restructured: set[str] | None = None
        self.units_complete = not _present(root / KINDS["hierarchy"][0])  # until the unit files are read

    def restructured_codes(self) -> set[str]:
        """Codes that the change sets in roles_config/restructurings/ create or recode units to.

        Read only when a reference is not a unit of the unit files, and only for the codes: checking a change
        set is ``hoso restructure plan``'s work, so one with errors is read as far as it makes sense here.
        """
        if self._restructured is None:
            self._restructured = set()
            folder = self.root / "roles_config" / "restructurings"
            for path in sorted(folder.iterdir()) if folder.is_dir() else ():
                if path.suffix not in (".yaml", ".yml") or _entry_problem(path) is not None:
                    continue  # never open a pipe or a device, which could block
                try:
                    with path.open("rb") as fh:
                        data = load_with_positions(fh.read(MAX_FILE_BYTES + 1).decode("utf-8"))[0]
                except (OSError, UnicodeDecodeError, YamlSyntaxError):
                    continue
                ops = data.get("operations") if isinstance(data, dict) else None
                for op in ops if isinstance(ops, list) else ():
                    for kind in ("create", "rename"):
                        body = op.get(kind) if isinstance(op, dict) else None
                        if isinstance(body, dict) and isinstance(body.get("code"), str):
                            self._restructured.add(body["code"])
        return self._restructured

    def _mark_broken(self, kind: str, rel: str, data: Any, text: str) -> None:
        names = _declared_names(kind, data, text)
        if names is None:
            self.broken_unnamed.setdefault(kind, []).append(rel)
        else:
            self.broken.setdefault(kind, set()).update(names)

    def unreadable_note(self, kind: str) -> str:
        """A note for an "unknown ..." message when some file of ``kind`` could not be loaded."""
        files = self.broken_unnamed.get(kind)
        return f" ({', '.join(files)} could not be loaded and may define it)" if files else ""

    # -- reading ---------------------------------------------------------------------------------------
    def _read(self, path: Path) -> bytes | None:
        rel = self._rel(path)
        try:
            with path.open("rb") as fh:
                raw = fh.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            self.issues.append(ConfigIssue(rel, 1, 1, "", f"cannot read file: {exc.strerror}"))
            return None
        if len(raw) > MAX_FILE_BYTES:
            self.issues.append(ConfigIssue(rel, 1, 1, "", f"file is larger than {MAX_FILE_BYTES // 2 ** 20} MiB, the "
                                           "most a configuration file may hold: split it into several files"))
            return None
        self.hasher.update(rel.encode() + b"\0" + raw + b"\0")
        return raw

    def _rel(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    def parse(self, path: Path, kind: str, *, partial: bool = False) -> _File | None:
        """The file read, parsed and validated; None if it has errors, unless ``partial`` asks for its valid part
        (a ``_File`` with ``partial`` set) so that its other mistakes can be found too."""
        raw = self._read(path)
        rel = self._rel(path)
        if raw is None:
            return None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.issues.append(_not_utf8(rel, raw, exc))
            self._mark_broken(kind, rel, None, raw.decode("utf-8", errors="replace"))
            return None
        try:
            data, positions, duplicates = load_with_positions(text)
        except YamlSyntaxError as exc:
            self.issues.append(ConfigIssue(rel, exc.line, exc.column, "", exc.message))
            self._mark_broken(kind, rel, None, text)
            return None
        f = _File(self, rel, data, positions)
        for dpath, (line, col), key, (first_line, _c) in duplicates:
            self.issues.append(
                ConfigIssue(rel, line, col, _path_str(dpath),
                            f"duplicate key {key!r} (first at line {first_line}): each key may appear once")
            )
        if data is None:
            self.issues.append(ConfigIssue(rel, 1, 1, "", f"file is empty: expected {_KIND_NAMES.get(kind, kind)} "
                                           "definition"))
            self._mark_broken(kind, rel, None, "")
            return None
        before = len(self.issues)
        self._validate(f, kind)
        if len(self.issues) > before:
            self._mark_broken(kind, rel, data, text)
            return f.valid_part(_validators(self.extra_types)[kind]) if partial else None
        return f

    def _validate(self, f: _File, kind: str) -> None:
        validator = _validators(self.extra_types)[kind]
        for err in sorted(validator.iter_errors(f.data), key=lambda e: list(map(str, e.absolute_path))):
            self._schema_error(f, err)

    def _schema_error(self, f: _File, err: jsonschema.ValidationError) -> None:
        path = tuple(err.absolute_path)
        if err.validator in ("anyOf", "oneOf") and err.context:
            context = err.context
            if isinstance(err.instance, dict):  # a mapping was meant for the branch that takes a mapping
                context = [e for e in context if e.validator not in ("enum", "type")] or context
            best = jsonschema.exceptions.best_match(context)
            return self._schema_error(f, best)
        if err.validator == "additionalProperties" and isinstance(err.instance, dict):
            allowed = sorted(err.schema.get("properties", {}))
            extra = [k for k in err.instance if k not in err.schema.get("properties", {})]
            for k in extra:
                hint = _closest(k, allowed)
                msg = f"unknown key {k!r}"
                msg += f" (did you mean {hint!r}?)" if hint else ""
                msg += f"; expected one of: {', '.join(allowed)}" if allowed else ""
                f.error(path + (k,), msg, key=True)
            return
        if "propertyNames" in err.absolute_schema_path:
            # The error is about a key (jsonschema reports it at the mapping, with the key as the instance).
            bad = err.instance
            desc = err.schema.get("description") or (f"a name matching {err.schema['pattern']}"
                                                      if "pattern" in err.schema else err.message)
            f.error(path + (str(bad),), f"invalid name {bad!r}: expected {desc}", key=True)
            return
        if err.validator == "required":
            missing = re.findall(r"'([^']+)' is a required property", err.message)
            key = missing[0] if missing else err.message
            f.error(path, f"missing required key {key!r}")
            return
        if err.validator == "enum":
            allowed = ", ".join(map(repr, err.validator_value))
            hint = _closest(str(err.instance), [str(v) for v in err.validator_value])
            msg = f"expected one of {allowed}; found {err.instance!r}"
            if hint:
                msg += f" (did you mean {hint!r}?)"
            f.error(path, msg)
            return
        if err.validator == "type":
            expected = err.validator_value
            names = [_a(t) for t in expected] if isinstance(expected, list) else [_a(expected)]
            wanted = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
            msg = f"expected {wanted}; found {_describe(err.instance)}"
            if "a string" in names and isinstance(err.instance, (bool, int, float)):
                msg += "; put the value in quotes if it is meant as text"
            f.error(path, msg)
            return
        if err.validator in ("minItems", "minProperties"):
            n = err.validator_value
            what = "item" if err.validator == "minItems" else "entry"
            found = (str(len(err.instance)) if err.instance
                     else f"an empty {'list' if isinstance(err.instance, list) else 'mapping'}")
            f.error(path, f"expected at least {n} {what}{'s' if n != 1 else ''}; found {found}")
            return
        if err.validator == "minLength":
            f.error(path, f"expected a non-empty string; found {err.instance!r}")
            return
        if err.validator == "uniqueItems" and isinstance(err.instance, list):
            seen: list = []
            for j, item in enumerate(err.instance):
                if item in seen:
                    f.error(path + (j,), f"{item!r} is listed more than once; each item may appear once")
                else:
                    seen.append(item)
            return
        if err.validator in ("minimum", "maximum"):
            word = "at least" if err.validator == "minimum" else "at most"
            f.error(path, f"expected a value of {word} {err.validator_value}; found {err.instance!r}")
            return
        if err.validator == "pattern":
            desc = err.schema.get("description") or f"a value matching {err.validator_value}"
            f.error(path, f"expected {desc}; found {err.instance!r}")
            return
        if err.validator == "$ref" or err.validator == "allOf":
            return
        f.error(path, f"{err.message}")

    def parse_kind(self, kind: str) -> list[_File]:
        where, many = KINDS[kind]
        target = self.root / where
        if not _present(target):
            return []  # every kind is optional
        if many:
            if not target.is_dir():
                self.issues.append(ConfigIssue(self._rel(target), 1, 1, "", "expected a folder of .yaml files; "
                                               + (_entry_problem(target) or "found a file")))
                return []
            try:
                entries = sorted(p for p in target.iterdir() if p.suffix in (".yaml", ".yml"))
            except OSError as exc:
                self.issues.append(ConfigIssue(self._rel(target), 1, 1, "", f"cannot list the folder: {exc.strerror}"))
                return []
        else:
            entries = [target]
        paths = []
        for p in entries:
            problem = _entry_problem(p)
            if problem is None:
                paths.append(p)
            else:
                # An entry that looks like a definition but cannot be read is an error, never silently skipped.
                self.issues.append(ConfigIssue(self._rel(p), 1, 1, "", f"cannot read this entry: {problem}"))
                self._mark_broken(kind, self._rel(p), None, "")
        return [f for f in (self.parse(p, kind, partial=True) for p in paths) if f is not None]


def _present(path: Path) -> bool:
    """Whether anything (a file, a folder, even a broken link) is at ``path``."""
    return path.is_symlink() or path.exists()


def _entry_problem(path: Path) -> str | None:
    """Why ``path`` cannot be read as a configuration file (None: it is a regular file, or a link to one)."""
    try:
        st = path.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "it is a symbolic link that leads back to itself (a loop)"
        if path.is_symlink():
            try:
                return f"it is a symbolic link to {os.readlink(path)!r}, which does not exist"
            except OSError:
                pass
        return str(exc.strerror or exc)
    if stat.S_ISDIR(st.st_mode):
        return "it is a folder, not a file"
    if not stat.S_ISREG(st.st_mode):
        return "it is a special file (a device, pipe or socket), not a regular file"
    return None


def _a(word: str) -> str:
    names = {"object": "a mapping", "array": "a list", "string": "a string", "integer": "a whole number",
             "number": "a number", "boolean": "true or false", "null": "nothing"}
    return names.get(word, word)


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, (int, float)):
        return f"a number ({value})"
    return f"a string ({value!r})"


def _closest(word: str, options: list[str]) -> str | None:
    import difflib

    found = difflib.get_close_matches(word, options, n=1, cutoff=0.7)
    return found[0] if found else None


_KIND_NAMES = {"calendar": "a calendar", "lists": "a lists", "entity": "an entity", "form": "a form", "workflow": "a workflow",
               "report": "a report", "hierarchy": "a hierarchy", "role": "a role", "modules": "a modules",
               "units": "a units"}


def _not_utf8(rel: str, raw: bytes, exc: UnicodeDecodeError) -> ConfigIssue:
    line = raw[: exc.start].count(b"\n") + 1
    line_start = raw.rfind(b"\n", 0, exc.start) + 1
    col = len(raw[line_start: exc.start].decode("utf-8", errors="replace")) + 1
    return ConfigIssue(rel, line, col, "", f"file is not valid UTF-8 text: found byte 0x{raw[exc.start]:02x}; "
                       "save the file with UTF-8 encoding")


def _declared_names(kind: str, data: Any, text: str) -> set[str] | None:
    """The names a file that failed to load declares, as far as they can be made out (None: not at all).

    For a workflow these are the entity it belongs to. Kinds that nothing refers to by name declare none.
    """
    if kind == "lists":
        if isinstance(data, dict) and isinstance(data.get("lists"), dict):
            return {str(k) for k in data["lists"]}
        return None
    key = {"entity": "entity", "workflow": "entity", "role": "role"}.get(kind)
    if key is None:
        return set()
    if isinstance(data, dict) and isinstance(data.get(key), str):
        return {data[key]}
    m = re.search(rf"(?m)^{key}:[ \t]*[\"']?([A-Za-z_][A-Za-z0-9_]*)[\"']?[ \t]*(#.*)?$", text)
    return {m[1]} if m else None


def _an(word: str) -> str:
    """``word`` with its indefinite article: "a text", "an integer"."""
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"


def _did_you_mean(word: str, options: Iterable[str]) -> str:
    hint = _closest(word, list(options))
    return f" (did you mean {hint!r}?)" if hint else ""


def _label(d: dict | None) -> Label | None:
    if d is None:
        return None
    return Label(vi=d["vi"], en=d.get("en"))


# -- building typed objects -------------------------------------------------------------------------------


def _field(name: str, d: dict) -> FieldDef:
    conv = None
    if "convert" in d:
        mapping = d["convert"].get("map")
        conv = Conversion(
            from_type=d["convert"]["from"],
            mapping=tuple(mapping.items()) if mapping is not None else None,
        )
    return FieldDef(
        name=name,
        type=d["type"],
        label=_label(d["label"]),
        help=_label(d.get("help")),
        required=d.get("required", False),
        unique=d.get("unique", False),
        index=d.get("index", False),
        default=tuple(d["default"]) if isinstance(d.get("default"), list) else d.get("default"),
        min=d.get("min"),
        max=d.get("max"),
        min_length=d.get("min_length"),
        max_length=d.get("max_length"),
        pattern=d.get("pattern"),
        list=d.get("list"),
        entity=d.get("entity"),
        fields=tuple(_field(n, c) for n, c in d.get("fields", {}).items()),
        max_digits=d.get("max_digits"),
        decimal_places=d.get("decimal_places"),
        renamed_from=d.get("renamed_from"),
        convert=conv,
        unit_types=tuple(d.get("unit_types", ())),
    )


def _entity(f: _File) -> EntityDef:
    d = f.data
    naming = None
    if "naming" in d:
        n = d["naming"]
        naming = NamingDef(
            field=n["field"],
            pattern=n["pattern"],
            sequence_per=tuple(n.get("sequence_per", ())),
            date_field=n.get("date_field"),
        )
    return EntityDef(
        name=d["entity"],
        label=_label(d["label"]),
        table=d.get("table", d["entity"]),
        fields=tuple(_field(n, fd) for n, fd in d["fields"].items()),
        unit_field=d.get("unit_field"),
        title_field=d.get("title_field"),
        naming=naming,
        indexes=tuple(IndexDef(tuple(i["fields"]), i.get("unique", False)) for i in d.get("indexes", ())),
        rules=_rules(d.get("rules", ())),
        attachments=_attachments(d["attachments"]) if "attachments" in d else None,
        source=f.rel,
    )


def _rules(items: Iterable[dict]) -> tuple[RuleDef, ...]:
    return tuple(RuleDef(r["rule"], r["field"], _label(r.get("message"))) for r in items)


_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGT]i?B|B)\s*$")
_SIZE_UNITS = {"B": 1, "KB": 1000, "MB": 1000 ** 2, "GB": 1000 ** 3, "TB": 1000 ** 4,
               "KiB": 1024, "MiB": 1024 ** 2, "GiB": 1024 ** 3, "TiB": 1024 ** 4}


def parse_size(text: str) -> int:
    """Bytes in a size such as "500MB", "2GB" or "4GiB"; raises ValueError."""
    m = _SIZE.match(str(text))
    if not m:
        raise ValueError(f"expected a size such as 500MB or 2GB; found {text!r}")
    return int(float(m[1]) * _SIZE_UNITS[m[2]])


def _attachments(d: dict) -> AttachmentsDef:
    def size(v):
        return parse_size(v) if v is not None else None

    return AttachmentsDef(size(d.get("max_size")), tuple(d.get("types", ())),
                          tuple(AttachmentRuleDef(n, size(o.get("max_size")), tuple(o.get("types", ())))
                                for n, o in d.get("fields", {}).items()))


def _expression_problem(text: str, entity: EntityDef, lists: dict[str, ChoiceList]) -> str | None:
    """Why ``text`` is not a valid condition over ``entity``'s fields (None: it is valid)."""
    from hoso.records.conditions import ExpressionError, compile_expression, entity_field_info

    info = entity_field_info(entity.fields, lambda n: lists[n].values(include_retired=True) if n in lists else None)
    try:
        compile_expression(text, info)
    except ExpressionError as exc:
        return f"invalid expression {text!r}: {exc}"
    return None


def _check_rules(f: "_File", path: tuple, rules: tuple[RuleDef, ...], entity: EntityDef,
                 lists: dict[str, ChoiceList]) -> None:
    names = [fd.name for fd in entity.fields]
    for i, r in enumerate(rules):
        problem = _expression_problem(r.rule, entity, lists)
        if problem:
            f.error(path + (i, "rule"), problem)
        if r.field not in names:
            f.error(path + (i, "field"), f"unknown field {r.field!r}{_did_you_mean(r.field, names)}")


# The widest a naming placeholder may pad its value ({seq:06} pads to 6); a code is a few dozen characters.
MAX_NAMING_WIDTH = 12
_PLACEHOLDER = re.compile(r"^(?P<name>[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)?)(?::(?P<spec>0?\d+))?$")


def naming_placeholders(pattern: str) -> list[tuple[str, str | None]]:
    """The ``{name[:spec]}`` placeholders of a naming pattern; raises ValueError on a malformed one."""
    out = []
    try:
        parsed = list(string.Formatter().parse(pattern))
    except ValueError as exc:
        why = {"expected '}' before end of string": "a '{' is never closed",
               "Single '}' encountered in format string": "a '}' has no '{' before it",
               "unexpected '{' in field name": "a '{' inside a placeholder"}.get(str(exc), str(exc))
        raise ValueError(f"malformed placeholder in {pattern!r}: {why}; placeholders look like {{field}}, "
                         "{unit.code}, {seq:02} or {year}, and a literal brace is written {{ or }}") from None
    for _lit, name, spec, conv in parsed:
        if name is None:
            continue
        if conv:
            raise ValueError(f"placeholder {{{name}!{conv}}}: conversions are not allowed")
        m = _PLACEHOLDER.match(name + (f":{spec}" if spec else ""))
        if not m:
            raise ValueError(f"placeholder {{{name}{':' + spec if spec else ''}}} is not of the form "
                             "{field}, {unit.code}, {seq:02} or {year}")
        if m["spec"] and int(m["spec"]) > MAX_NAMING_WIDTH:
            raise ValueError(f"placeholder {{{name}:{spec}}} pads to {int(spec):,} characters: a width of at most "
                             f"{MAX_NAMING_WIDTH} is allowed, such as {{seq:06}}")
        out.append((m["name"], m["spec"]))
    return out


class _Checker:
    """Checks references across files once every file has been parsed."""

    def __init__(self, loader: _Loader):
        self.loader = loader

    def entity(self, f: _File, e: EntityDef, lists: dict[str, ChoiceList], entities: dict[str, EntityDef]):
        def check_field(fd: FieldDef, path: tuple, in_child: bool):
            t = fd.type
            reserved = RESERVED_CHILD_NAMES if in_child else RESERVED_NAMES
            if fd.name in reserved or fd.name.startswith("sys_"):
                f.error(path, f"the field name {fd.name!r} is reserved for the system (reserved: "
                        f"{', '.join(sorted(reserved))} and names starting with 'sys_')", key=True)
            if t in ("choice", "multi_choice"):
                if not fd.list:
                    f.error(path, f"missing key 'list': {_an(t)} field needs the name of a choice list")
                elif fd.list not in lists and fd.list not in self.loader.broken.get("lists", ()):
                    f.error(path + ("list",), f"unknown choice list {fd.list!r}" + _did_you_mean(fd.list, lists)
                            + (f"; defined lists: {', '.join(sorted(lists))}" if lists else "; no lists are defined")
                            + self.loader.unreadable_note("lists"))
            elif fd.list:
                f.error(path + ("list",), f"'list' applies only to choice fields, not to {_an(t)} field")
            if t == "reference":
                if not fd.entity:
                    f.error(path, "missing key 'entity': a reference field needs the entity it points to")
                elif fd.entity not in entities and fd.entity not in self.loader.broken.get("entity", ()):
                    f.error(path + ("entity",), f"unknown entity {fd.entity!r}" + _did_you_mean(fd.entity, entities)
                            + f"; defined entities: {', '.join(sorted(entities))}"
                            + self.loader.unreadable_note("entity"))
            elif fd.entity:
                f.error(path + ("entity",), f"'entity' applies only to reference fields, not to {_an(t)} field")
            if fd.unit_types and t != "org_unit":
                f.error(path + ("unit_types",), f"'unit_types' applies only to org_unit fields, not to {_an(t)} field")
            if t == "child_table":
                if in_child:
                    f.error(path + ("type",), "child tables cannot be nested inside a child table")
                if not fd.fields:
                    f.error(path, "missing key 'fields': a child_table field needs the columns of its rows")
                for child in fd.fields:
                    check_field(child, path + ("fields", child.name), True)
                if fd.unique or fd.index:
                    f.error(path, "a child_table field cannot be unique or indexed")
            elif fd.fields:
                f.error(path + ("fields",), f"'fields' applies only to child_table fields, not to {_an(t)} field")
            if (fd.min_length is not None or fd.max_length is not None or fd.pattern) and t not in self.loader.text_types:
                f.error(path, f"length and pattern constraints apply to text fields, not to {_an(t)} field")
            if fd.min_length is not None and fd.max_length is not None and fd.min_length > fd.max_length:
                f.error(path + ("min_length",), f"min_length {fd.min_length} is greater than max_length {fd.max_length}")
            if (fd.min is not None or fd.max is not None) and t not in self.loader.ordered_types:
                f.error(path, f"min and max apply to integer, decimal, date and datetime fields, not to {_an(t)} field")
            for key in ("min", "max"):
                v = getattr(fd, key)
                if v is not None and t in self.loader.ordered_types:
                    try:
                        _coerce_bound(t, v)
                    except ValueError as exc:
                        f.error(path + (key,), str(exc))
            if fd.min is not None and fd.max is not None and t in self.loader.ordered_types:
                try:
                    if _coerce_bound(t, fd.min) > _coerce_bound(t, fd.max):
                        f.error(path + ("min",), f"min {fd.min!r} is greater than max {fd.max!r}")
                except (ValueError, TypeError):
                    pass
            if fd.pattern:
                try:
                    re.compile(fd.pattern)
                except re.error as exc:
                    f.error(path + ("pattern",), f"expected a valid regular expression; found {fd.pattern!r} ({exc})")
            if (fd.max_digits is not None or fd.decimal_places is not None) and t != "decimal":
                f.error(path, f"max_digits and decimal_places apply to decimal fields, not to {_an(t)} field")
            if fd.max_digits is not None and fd.decimal_places is not None and fd.decimal_places > fd.max_digits:
                f.error(path + ("decimal_places",), f"decimal_places {fd.decimal_places} is greater than "
                        f"max_digits {fd.max_digits}")
            if fd.default is not None:
                problem = _check_default(fd, lists)
                if problem:
                    f.error(path + ("default",), problem)
            if fd.convert is not None and fd.convert.from_type == t and fd.convert.mapping is None:
                f.error(path + ("convert",), f"convert.from is {t!r}, the field's own type: nothing to convert")
            if fd.unique and t in ("multi_choice", "attachment", "long_text"):
                f.error(path + ("unique",), f"{_an(t)} field cannot be unique")

        for fd in e.fields:
            check_field(fd, ("fields", fd.name), False)
        names = {fd.name for fd in e.fields}
        for fd in e.fields:
            if fd.renamed_from and fd.renamed_from in names:
                f.error(("fields", fd.name, "renamed_from"),
                        f"renamed_from {fd.renamed_from!r} names a field that still exists in this entity")
        _check_rules(f, ("rules",), e.rules, e, lists)
        if e.attachments is not None:
            for name in (r.name for r in e.attachments.fields):
                if name not in names:
                    f.error(("attachments", "fields", name), f"unknown field {name!r}{_did_you_mean(name, names)}",
                            key=True)
                elif e.field(name).type != "attachment":
                    f.error(("attachments", "fields", name), f"{name!r} is {_an(e.field(name).type)} field, not an "
                            "attachment field", key=True)
        for key in ("unit_field", "title_field"):
            v = getattr(e, key)
            if v is not None:
                if v not in names:
                    f.error((key,), f"unknown field {v!r}{_did_you_mean(v, names)}; fields of {e.name!r}: "
                            f"{', '.join(sorted(names))}")
                elif key == "unit_field" and e.field(v).type != "org_unit":
                    f.error((key,), f"unit_field must name an org_unit field; {v!r} is {_an(e.field(v).type)} field")
        for i, idx in enumerate(e.indexes):
            for j, name in enumerate(idx.fields):
                if name not in names:
                    f.error(("indexes", i, "fields", j), f"unknown field {name!r}{_did_you_mean(name, names)}")
                elif e.field(name).type in ("child_table", "multi_choice"):
                    f.error(("indexes", i, "fields", j), f"{_an(e.field(name).type)} field cannot be indexed")
        if e.naming:
            n = e.naming
            if n.field not in names:
                f.error(("naming", "field"), f"unknown field {n.field!r}{_did_you_mean(n.field, names)}")
            elif e.field(n.field).type != "text":
                f.error(("naming", "field"), f"the code field must be a text field; {n.field!r} is "
                        f"{_an(e.field(n.field).type)} field")
            if n.date_field is not None:
                if n.date_field not in names:
                    f.error(("naming", "date_field"),
                            f"unknown field {n.date_field!r}{_did_you_mean(n.date_field, names)}")
                elif e.field(n.date_field).type not in ("date", "datetime"):
                    f.error(("naming", "date_field"), f"expected a date or datetime field; {n.date_field!r} is "
                            f"{_an(e.field(n.date_field).type)} field")
            try:
                placeholders = naming_placeholders(n.pattern)
            except ValueError as exc:
                f.error(("naming", "pattern"), str(exc))
                placeholders = []
            if placeholders and not any(p == "seq" for p, _ in placeholders):
                f.error(("naming", "pattern"), "expected a {seq} placeholder for the sequence number; found none in "
                        f"{n.pattern!r}")
            for p, _spec in placeholders:
                head, _, tail = p.partition(".")
                if p in ("seq", "year"):
                    continue
                if head not in names:
                    f.error(("naming", "pattern"),
                            f"placeholder {{{p}}} names unknown field {head!r}{_did_you_mean(head, names)}")
                elif tail:
                    ft = e.field(head).type
                    if not (ft == "org_unit" and tail in UNIT_ATTRIBUTES):
                        f.error(("naming", "pattern"), f"placeholder {{{p}}}: only org_unit fields have "
                                "attributes (.code, .short_code, .name_vi)")
            for j, name in enumerate(n.sequence_per):
                if name != "year" and name not in names:
                    f.error(("naming", "sequence_per", j),
                            f"unknown field {name!r}{_did_you_mean(name, names)}; expected a field or 'year'")

    def fields_exist(self, f: _File, e: EntityDef | None, entity_name: str, names: Iterable[tuple[tuple, str]],
                     what: str):
        if e is None:
            return
        for path, name in names:
            if not e.has_field(name):
                hint = _closest(name, [fd.name for fd in e.fields])
                f.error(path, f"{what} names unknown field {name!r} of entity {entity_name!r}"
                        + (f" (did you mean {hint!r}?)" if hint else ""))

    def entity_ref(self, f: _File, path: tuple, name: str, entities: dict[str, EntityDef]) -> EntityDef | None:
        if name in entities:
            return entities[name]
        if name in self.loader.broken.get("entity", ()):
            return None  # its own file's errors are reported; unknown-field checks against it are skipped
        f.error(path, f"unknown entity {name!r}" + _did_you_mean(name, entities)
                + (f"; defined entities: {', '.join(sorted(entities))}" if entities else "")
                + self.loader.unreadable_note("entity"))
        return None


def _check_module_units(loader: _Loader, f: _File, module: str, codes: Iterable[str]) -> None:
    """A module is switched on for units that exist: in the unit files, or given a code by a restructuring."""
    if not loader.units_complete:
        return  # the errors of the hierarchy or its unit files are reported; not every unit is known
    for j, code in enumerate(codes):
        if code in loader.unit_codes or code in loader.restructured_codes():
            continue
        if not loader.unit_codes:
            f.error(("modules", module, "enabled_for", j), f"unknown unit {code!r}: no units are defined (the "
                    f"'units' of {KINDS['hierarchy'][0]} name no unit file with rows)")
            continue
        known = sorted(loader.unit_codes | loader.restructured_codes())
        f.error(("modules", module, "enabled_for", j),
                f"unknown unit {code!r}{_did_you_mean(code, known)}: expected the code of a unit of the "
                "hierarchy's unit files, or one given by a restructuring in roles_config/restructurings/")


# -- modules (roles_config/modules.yaml) ----------------------------------------------------------------------

# Keys of a module naming definitions of other kinds, and the kind each must exist as.
MODULE_NAMED_KINDS = {"entities": "entity", "forms": "form", "workflows": "workflow", "roles": "role",
                      "reports": "report"}
# Keys whose names come from plugins at run time (routes and admin menu entries): checked for shape only.
MODULE_FREE_KEYS = ("routes", "menus")


def _read_modules(loader: _Loader, module_files: list[_File], known: dict[str, set[str]]) -> list[ModuleDef]:
    """The modules, once every name they give is checked: an entity belongs to one module at most."""
    out: list[ModuleDef] = []
    owner: dict[str, str] = {}
    for f in module_files:
        for name, m in f.data["modules"].items():
            _check_module_units(loader, f, name, m.get("enabled_for", ()))
            _check_module_names(loader, f, name, m, known)
            for j, entity in enumerate(m.get("entities", ())):
                if entity in owner and owner[entity] != name:
                    f.error(("modules", name, "entities", j), f"entity {entity!r} already belongs to module "
                            f"{owner[entity]!r}: an entity belongs to one module at most")
                owner.setdefault(entity, name)
            if not f.partial:
                lists = {k: tuple(m.get(k, ())) for k in (*MODULE_NAMED_KINDS, *MODULE_FREE_KEYS)}
                out.append(ModuleDef(name, _label(m["label"]), tuple(m.get("enabled_for", ())), **lists))
    return out


def _check_module_names(loader: _Loader, f: _File, module: str, m: dict, known: dict[str, set[str]]) -> None:
    for key, kind in MODULE_NAMED_KINDS.items():
        for j, name in enumerate(m.get(key, ())):
            if name in known[key] or name in loader.broken.get(kind, ()):
                continue
            f.error(("modules", module, key, j), f"unknown {kind} {name!r}{_did_you_mean(name, known[key])}"
                    + (f"; defined: {', '.join(sorted(known[key]))}" if known[key] else f"; no {kind} is defined")
                    + loader.unreadable_note(kind))


def _table_clashes(entities: dict[str, EntityDef], files: dict[str, _File]) -> set[str]:
    """Report every table claimed by two entities; return the entities that lose their claim.

    A table named in a ``table:`` key loses to one that an entity (or its child table) is called by default,
    because the explicit name is the one somebody chose; otherwise the claim read later loses. The message is
    given where the losing claim is made and names where the other one is.
    """
    claims: dict[str, list[tuple[bool, int, str, tuple, bool, str | None]]] = {}
    for order, (name, e) in enumerate(entities.items()):
        explicit = "table" in files[name].data
        claims.setdefault(e.table, []).append((explicit, order, name, ("table",) if explicit else ("entity",),
                                               False, None))
        for c in e.child_tables:
            claims.setdefault(e.child_table_name(c.name), []).append((explicit, order, name, ("fields", c.name),
                                                                      True, c.name))
    losers: set[str] = set()
    for table, claimants in claims.items():
        if len(claimants) < 2:
            continue
        winner, *others = sorted(claimants)
        wf = files[winner[2]]
        line, _col = position_of(wf.positions, winner[3], key=winner[4])
        first = f"entity {winner[2]!r} ({wf.rel}:{line})"
        for _explicit, _order, name, path, key, child in others:
            what = f"the table of child table {child!r}, {table!r}," if child else f"table {table!r}"
            files[name].error(path, f"{what} is already used by {first}", key=key)
            losers.add(name)
    return losers


def _coerce_bound(t: str, v: Any):
    if t == "integer":
        if isinstance(v, bool) or not isinstance(v, int):
            raise ValueError(f"expected a whole number; found {_describe(v)}")
        return v
    if t == "decimal":
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ValueError(f"expected a number; found {_describe(v)}")
        return v
    if t == "date":
        try:
            return dt.date.fromisoformat(str(v))
        except ValueError:
            raise ValueError(f"expected a date as YYYY-MM-DD; found {_describe(v)}") from None
    if t == "datetime":
        try:
            return dt.datetime.fromisoformat(str(v))
        except ValueError:
            raise ValueError(f"expected a date and time as YYYY-MM-DDTHH:MM; found {_describe(v)}") from None
    return v


def _check_default(fd: FieldDef, lists: dict[str, ChoiceList]) -> str | None:
    v = fd.default
    t = fd.type
    if t in ("child_table", "attachment", "reference", "org_unit", "user"):
        return f"{_an(t)} field cannot have a default"
    if t == "boolean" and not isinstance(v, bool):
        return f"expected true or false; found {_describe(v)}"
    if t in ("integer", "decimal", "date", "datetime"):
        try:
            _coerce_bound(t, v)
        except ValueError as exc:
            return str(exc)
    if t in ("text", "long_text", "citizen_id", "phone", "email") and not isinstance(v, str):
        return f"expected a string; found {_describe(v)}"
    if t == "choice" and isinstance(v, tuple):
        return f"expected one option of list {fd.list!r}; found a list"
    if t == "choice" and fd.list in lists and v not in lists[fd.list].values():
        return (f"expected one of {', '.join(map(repr, lists[fd.list].values()))} (the options of list "
                f"{fd.list!r}); found {v!r}" + _did_you_mean(str(v), lists[fd.list].values()))
    if t == "multi_choice" and fd.list in lists:
        vals = v if isinstance(v, tuple) else (v,)
        bad = [x for x in vals if x not in lists[fd.list].values()]
        if bad:
            return (f"expected options of list {fd.list!r} ({', '.join(map(repr, lists[fd.list].values()))}); "
                    f"found {bad[0]!r}" + _did_you_mean(str(bad[0]), lists[fd.list].values()))
    return None


def _check_unit_types(entity_files: list[_File], known: set[str]) -> None:
    """``unit_types`` of org_unit fields name unit types of the hierarchy."""

    def walk(f: _File, fields: Any, path: tuple) -> None:
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


def _read_units(loader: _Loader, hf: _File, hierarchy_types: set[str]) -> list[UnitRow]:
    units: list[tuple[UnitRow, Callable[[str], ConfigIssue]]] = []
    seen: dict[str, str] = {}
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
        rows: list[tuple[dict, bool, Callable[[str, str], ConfigIssue]]] = []
        if path.suffix == ".csv":
            rows = _units_from_csv(loader, path)
        else:
            uf = loader.parse(path, "units")
            if uf is not None:
                for j, u in enumerate(uf.data["units"]):
                    def where(key: str, message: str, uf: _File = uf, j: int = j) -> ConfigIssue:
                        line, col = position_of(uf.positions, ("units", j, key))
                        return ConfigIssue(uf.rel, line, col, _path_str(("units", j, key)), message)
                    rows.append((u, True, where))
        for u, ok, where in rows:
            code = u.get("code")
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


def _check_unit_cycles(loader: _Loader, units: list[tuple[UnitRow, Callable[..., ConfigIssue]]]) -> None:
    """Report every loop of parents (a unit under itself, two units under each other, a root under its child):
    the tree could never be built, and nothing would be left to say which unit is on top."""
    order = {u.code: i for i, (u, _where) in enumerate(units)}
    parent = {u.code: u.parent_code for u, _where in units if u.parent_code in order}
    done: set[str] = set()
    for u, _where in units:
        chain: list[str] = []
        code = u.code
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


def _link_scope(f: _File, path: tuple, e: EntityDef | None, scope: dict,
                entities: dict[str, EntityDef]) -> tuple[str, str, str] | None:
    """Check a scope ``{field: F, to: E.G}``: F a reference field of the grant's entity, E an entity with one user
    field, G a reference field of E to the same entity as F."""
    if e is None:
        return None
    name, to = scope["field"], scope["to"]
    fd = next((x for x in e.column_fields if x.name == name), None)
    if fd is None or fd.type != "reference":
        refs = [x.name for x in e.column_fields if x.type == "reference"]
        f.error(path + ("field",), f"expected a reference field of entity {e.name!r}"
                + (f" ({', '.join(refs)})" if refs else " (it has none)") + f"; found {name!r}"
                + _did_you_mean(name, refs))
        return None
    ename, gname = to.split(".", 1)
    other = entities.get(ename)
    if other is None:
        f.error(path + ("to",), f"unknown entity {ename!r}" + _did_you_mean(ename, entities))
        return None
    users = [x.name for x in other.column_fields if x.type == "user"]
    if len(users) != 1:
        f.error(path + ("to",), f"entity {ename!r} must have exactly one user field, which says whose record it is; "
                f"found {len(users)}")
        return None
    gd = next((x for x in other.column_fields if x.name == gname), None)
    if gd is None or gd.type != "reference" or gd.entity != fd.entity:
        refs = [x.name for x in other.column_fields if x.type == "reference" and x.entity == fd.entity]
        f.error(path + ("to",), f"expected a reference field of entity {ename!r} to entity {fd.entity!r}, like "
                f"{name!r}" + (f" ({', '.join(refs)})" if refs else "") + f"; found {gname!r}"
                + _did_you_mean(gname, refs))
        return None
    return (name, ename, gname)


def _read_restructurings(loader: _Loader, hf: _File) -> tuple[RestructuringRef, ...]:
    """The change sets of the folder the hierarchy names (``restructurings:``), checked, in date order."""
    from hoso.restructure.changeset import RestructureErrors, load_restructuring

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
# Unit attributes a naming pattern may use, e.g. {unit.short_code}.
UNIT_ATTRIBUTES = ("code", "short_code", "name_vi")
_UNIT_REQUIRED = ("code", "name_vi", "type")


def _units_from_csv(loader: _Loader, path: Path) -> list[tuple[dict, bool, Callable[[str, str], ConfigIssue]]]:
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
    expected = f"expected the header line {','.join(_UNIT_COLUMNS)} (name_en, parent_code, valid_from and short_code optional)"
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    row_schema = _validators()["units"].schema["properties"]["units"]["items"]
    row_validator = _validators()["units"].evolve(schema=row_schema)
    header: list[str] | None = None
    out = []
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

        row = {k: v.strip() for k, v in zip(header, cells) if v.strip()}
        empty = [k for k in _UNIT_REQUIRED if k not in row]
        if empty:
            loader.issues.append(where(empty[0], f"no value for {', '.join(empty)}: every unit "
                                       f"needs a {', a '.join(_UNIT_REQUIRED[:-1])} and a {_UNIT_REQUIRED[-1]}"))
            continue
        before = len(loader.issues)
        f = _File(loader, rel, row, {(): (line, 1)})
        for err in row_validator.iter_errors(row):
            loader._schema_error(f, err)
        out.append((row, len(loader.issues) == before, where))
    if header is None:
        loader.issues.append(ConfigIssue(rel, 1, 1, "", f"file is empty: {expected}"))
    return out


def load_config(root: str | os.PathLike | None = None, field_types: dict[str, str] | None = None) -> Config:
    """Load and check the configuration under ``root``; raise ConfigErrors listing every problem.

    ``field_types`` maps the names of field types registered by plugins to their storage class, so entity
    files may use them; the built-in types are always known.
    """
    root_path = Path(root or os.environ.get("HOSO_CONFIG") or _default_root()).resolve()
    loader = _Loader(root_path, field_types)
    if not root_path.is_dir():
        raise ConfigErrors([ConfigIssue(".", 1, 1, "", f"the configuration root {str(root_path)!r} is not a "
                                        "folder: expected a folder holding forms_config/ and roles_config/")])
    if not (root_path / "forms_config").is_dir():
        raise ConfigErrors([ConfigIssue("forms_config", 1, 1, "", f"no forms_config/ folder in {str(root_path)!r}: "
                                        "expected forms_config/ and roles_config/ under the configuration root "
                                        "(--config DIR or HOSO_CONFIG)")])
    checker = _Checker(loader)

    files = {kind: loader.parse_kind(kind) for kind in KINDS}

    # Lists
    lists: dict[str, ChoiceList] = {}
    for f in files["lists"]:
        for name, d in f.data["lists"].items():
            if name in lists:
                f.error(("lists", name), f"choice list {name!r} is defined twice", key=True)
                continue
            values = [o["value"] for o in d["options"]]
            for j, v in enumerate(values):
                if values.index(v) != j:
                    f.error(("lists", name, "options", j, "value"), f"duplicate option value {v!r}")
            if f.partial:
                continue  # checked, not used
            lists[name] = ChoiceList(name, _label(d.get("label")),
                                     tuple(ChoiceOption(o["value"], Label(o["vi"], o.get("en")), o.get("retired", False))
                                           for o in d["options"]))

    # Entities
    entities: dict[str, EntityDef] = {}
    entity_files: dict[str, _File] = {}
    partial_entities: list[tuple[_File, EntityDef]] = []
    for f in files["entity"]:
        e = _entity(f)
        if e.name in entities:
            f.error(("entity",), f"entity {e.name!r} is already defined in {entities[e.name].source}")
            continue
        if e.table.startswith("hoso_"):
            f.error(("table",) if "table" in f.data else ("entity",),
                    f"table names starting with 'hoso_' are reserved for the system; found {e.table!r}")
            loader.broken.setdefault("entity", set()).add(e.name)  # no "unknown entity" errors elsewhere
            continue
        if f.partial:
            partial_entities.append((f, e))
            continue
        entities[e.name] = e
        entity_files[e.name] = f
    for name in _table_clashes(entities, entity_files):
        del entities[name]
        loader.broken.setdefault("entity", set()).add(name)
    for name, e in entities.items():
        checker.entity(entity_files[name], e, lists, entities)
    for f, e in partial_entities:
        checker.entity(f, e, lists, entities)

    # Forms
    forms: list[FormDef] = []
    seen_forms: dict[str, str] = {}
    for f in files["form"]:
        d = f.data
        if d["form"] in seen_forms:
            f.error(("form",), f"form {d['form']!r} is already defined in {seen_forms[d['form']]}")
            continue
        if not f.partial:
            seen_forms[d["form"]] = f.rel
        e = checker.entity_ref(f, ("entity",), d["entity"], entities)
        refs = [(("sections", i, "fields", j), name)
                for i, s in enumerate(d["sections"]) for j, name in enumerate(s["fields"])]
        checker.fields_exist(f, e, d["entity"], refs, "form")
        on_form = [name for _path, name in refs]
        options = tuple(FormFieldDef(n, _label(o.get("label")), _label(o.get("help")), o.get("required"),
                                     o.get("visible_if"), o.get("required_if")) for n, o in d.get("fields", {}).items())
        rules = _rules(d.get("rules", ()))
        if e is not None:
            for o in options:
                if o.name not in on_form:
                    f.error(("fields", o.name), f"field {o.name!r} is not in any section of this form"
                            f"{_did_you_mean(o.name, on_form)}", key=True)
                for key in ("visible_if", "required_if"):
                    if getattr(o, key) is not None and (problem := _expression_problem(getattr(o, key), e, lists)):
                        f.error(("fields", o.name, key), problem)
            for i, sec in enumerate(d["sections"]):
                if "visible_if" in sec and (problem := _expression_problem(sec["visible_if"], e, lists)):
                    f.error(("sections", i, "visible_if"), problem)
                # A field the entity requires cannot be left out by a condition: it could never be filled in.
                for name in sec["fields"] if "visible_if" in sec else ():
                    if e.has_field(name) and e.field(name).required:
                        f.error(("sections", i, "visible_if"), f"field {name!r} is required by entity "
                                f"{e.name!r}, so its section cannot be hidden by a condition")
            for o in options:
                if o.visible_if is not None and e.has_field(o.name) and e.field(o.name).required:
                    f.error(("fields", o.name, "visible_if"), f"field {o.name!r} is required by entity {e.name!r}, "
                            "so it cannot be hidden by a condition")
            _check_rules(f, ("rules",), rules, e, lists)
        if not f.partial:
            forms.append(FormDef(d["form"], d["entity"], _label(d["label"]),
                                 tuple(FormSection(_label(s["title"]), tuple(s["fields"]), s.get("visible_if"))
                                       for s in d["sections"]),
                                 options, rules, source=f.rel))

    # Workflows
    workflows: list[WorkflowDef] = []
    seen_workflows: dict[str, str] = {}
    for f in files["workflow"]:
        d = f.data
        if d["workflow"] in seen_workflows:
            f.error(("workflow",), f"workflow {d['workflow']!r} is already defined in {seen_workflows[d['workflow']]}")
            continue
        if not f.partial:
            seen_workflows[d["workflow"]] = f.rel
        e = checker.entity_ref(f, ("entity",), d["entity"], entities)
        states = d["states"]
        if e is not None:
            if not e.has_field(d["state_field"]):
                checker.fields_exist(f, e, d["entity"], [(("state_field",), d["state_field"])], "state_field")
            else:
                sf = e.field(d["state_field"])
                if sf.type != "choice":
                    f.error(("state_field",), f"the state field must be a choice field; {sf.name!r} is "
                            f"{_an(sf.type)} field")
                elif sf.list in lists:
                    options = lists[sf.list].values(include_retired=True)
                    for j, s in enumerate(states):
                        if s not in options:
                            f.error(("states", j), f"state {s!r} is not an option of list {sf.list!r}"
                                    f"{_did_you_mean(s, options)}; options: {', '.join(options)}")
        if d["initial"] not in states:
            f.error(("initial",), f"initial state {d['initial']!r} is not one of the states"
                    f"{_did_you_mean(d['initial'], states)}; states: {', '.join(states)}")
        transitions = []
        for tname, t in d["transitions"].items():
            for j, s in enumerate(t["from"]):
                if s not in states:
                    f.error(("transitions", tname, "from", j),
                            f"unknown state {s!r}{_did_you_mean(s, states)}; states: {', '.join(states)}")
            if t["to"] not in states:
                f.error(("transitions", tname, "to"),
                        f"unknown state {t['to']!r}{_did_you_mean(t['to'], states)}; states: {', '.join(states)}")
            checker.fields_exist(f, e, d["entity"],
                                 [(("transitions", tname, "requires", j), n) for j, n in enumerate(t.get("requires", ()))],
                                 f"transition {tname!r}")
            transitions.append(TransitionDef(tname, tuple(t["from"]), t["to"], _label(t["label"]),
                                             tuple(t.get("requires", ()))))
            # Role grants name transitions per entity ("transition:accept"), so a name means one transition.
            other = next((w for w in workflows if w.entity == d["entity"] and any(x.name == tname
                                                                                  for x in w.transitions)), None)
            if other is not None:
                f.error(("transitions", tname), f"transition {tname!r} is also defined by workflow {other.name!r} "
                        f"of entity {d['entity']!r}: transition names are unique per entity", key=True)
        deadlines = []
        for state, dd in d.get("deadlines", {}).items():
            if state not in states:
                f.error(("deadlines", state), f"unknown state {state!r}{_did_you_mean(state, states)}; states: "
                        f"{', '.join(states)}", key=True)
            if e is not None:
                if not e.has_field(dd["from_field"]):
                    checker.fields_exist(f, e, d["entity"], [(("deadlines", state, "from_field"), dd["from_field"])],
                                         "deadline")
                elif e.field(dd["from_field"]).type != "date":
                    f.error(("deadlines", state, "from_field"), f"expected a date field; {dd['from_field']!r} is "
                            f"{_an(e.field(dd['from_field']).type)} field")
            deadlines.append(DeadlineDef(state, dd["within"], dd["from_field"], _label(dd.get("label"))))
        for j, state in enumerate(d.get("read_only_states", ())):
            if state not in states:
                f.error(("read_only_states", j), f"unknown state {state!r}{_did_you_mean(state, states)}; states: "
                        f"{', '.join(states)}")
        if not f.partial:
            workflows.append(WorkflowDef(d["workflow"], d["entity"], d["state_field"], d["initial"], tuple(states),
                                         tuple(transitions), _label(d.get("label")), tuple(deadlines), source=f.rel,
                                         read_only_states=tuple(d.get("read_only_states", ()))))

    # Reports
    reports: list[ReportDef] = []
    seen_reports: dict[str, str] = {}
    for f in files["report"]:
        d = f.data
        if d["report"] in seen_reports:
            f.error(("report",), f"report {d['report']!r} is already defined in {seen_reports[d['report']]}")
            continue
        if not f.partial:
            seen_reports[d["report"]] = f.rel
        e = checker.entity_ref(f, ("entity",), d["entity"], entities)
        refs = [((key, j), n) for key in ("rows", "columns", "filters") for j, n in enumerate(d.get(key, ()))]
        checker.fields_exist(f, e, d["entity"], refs, "report")
        if not f.partial:
            reports.append(ReportDef(d["report"], d["entity"], _label(d["label"]), tuple(d["rows"]),
                                     tuple(d.get("columns", ())), tuple(d.get("filters", ())), source=f.rel))

    # Hierarchy and units
    hierarchy = None
    for f in files["hierarchy"]:
        d = f.data
        for tname, t in d["unit_types"].items():
            if t["level"] not in d["levels"]:
                f.error(("unit_types", tname, "level"), f"unknown level {t['level']!r}"
                        f"{_did_you_mean(t['level'], d['levels'])}; levels: {', '.join(d['levels'])}")
        before = len(loader.issues)
        units = _read_units(loader, f, set(d["unit_types"]))
        loader.units_complete = len(loader.issues) == before and not f.partial
        if not f.partial:
            hierarchy = HierarchyDef(tuple(d["levels"]),
                                     tuple(UnitTypeDef(n, t["level"], _label(t["label"])) for n, t in d["unit_types"].items()),
                                     tuple(units), _read_restructurings(loader, f), d.get("restructurings"))

    if hierarchy is not None:
        _check_unit_types(files["entity"], {t.name for t in hierarchy.unit_types})

    # Roles
    roles: list[RoleDef] = []
    role_files: dict[str, _File] = {}
    transitions_by_entity: dict[str, set[str]] = {}
    for w in workflows:
        transitions_by_entity.setdefault(w.entity, set()).update(t.name for t in w.transitions)
    partial_roles: list[tuple[_File, RoleDef]] = []
    for f in files["role"]:
        d = f.data
        if d["role"] in role_files:
            f.error(("role",), f"role {d['role']!r} is already defined in {role_files[d['role']].rel}")
            continue
        if not f.partial:
            role_files[d["role"]] = f
        grants = []
        for i, g in enumerate(d["grants"]):
            e = checker.entity_ref(f, ("grants", i, "entity"), g["entity"], entities)
            for j, a in enumerate(g["actions"]):
                if a.startswith("transition:"):
                    tname = a.split(":", 1)[1]
                    known = transitions_by_entity.get(g["entity"], set())
                    if e is not None and tname not in known and g["entity"] not in loader.broken.get("workflow", ()):
                        f.error(("grants", i, "actions", j),
                                f"unknown workflow transition {tname!r} of entity {g['entity']!r}"
                                + _did_you_mean(tname, known)
                                + (f"; transitions: {', '.join(sorted(known))}" if known else "; it has no workflow")
                                + loader.unreadable_note("workflow"))
            for key in ("hidden_fields", "read_only_fields"):
                checker.fields_exist(f, e, g["entity"], [((("grants", i, key, j)), n) for j, n in enumerate(g.get(key, ()))],
                                     key)
            scope, link = g["scope"], None
            if isinstance(scope, dict):
                scope, link = "link", _link_scope(f, ("grants", i, "scope"), e, scope, entities)
            grants.append(GrantDef(g["entity"], tuple(g["actions"]), scope, tuple(g.get("hidden_fields", ())),
                                   tuple(g.get("read_only_fields", ())), link))
        role = RoleDef(d["role"], _label(d["label"]), tuple(grants), tuple(d.get("can_grant", ())), source=f.rel)
        if f.partial:
            partial_roles.append((f, role))
        else:
            roles.append(role)
    for f, r in [(role_files[r.name], r) for r in roles] + partial_roles:
        for j, name in enumerate(r.can_grant):
            if name not in role_files and name not in loader.broken.get("role", ()):
                f.error(("can_grant", j), f"unknown role {name!r}{_did_you_mean(name, role_files)}"
                        + loader.unreadable_note("role"))

    calendar = None
    for f in files["calendar"]:
        cal = _calendar(f)
        calendar = calendar if f.partial else cal

    modules = _read_modules(loader, files["modules"], {
        "entities": set(entities), "forms": {x.name for x in forms}, "workflows": {x.name for x in workflows},
        "roles": {r.name for r in roles} | {r.name for _f, r in partial_roles}, "reports": {x.name for x in reports}})

    if loader.issues:
        raise ConfigErrors(loader.issues)
    return Config(
        root=str(root_path),
        lists=tuple(lists.values()),
        entities=tuple(entities.values()),
        forms=tuple(forms),
        workflows=tuple(workflows),
        reports=tuple(reports),
        hierarchy=hierarchy,
        roles=tuple(roles),
        modules=tuple(modules),
        calendar=calendar,
        content_hash=loader.hasher.hexdigest(),
    )


_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _calendar(f: _File) -> CalendarDef:
    d = f.data["calendar"]

    def day(path: tuple, text: str) -> dt.date | None:
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            f.error(path, f"expected a date as YYYY-MM-DD; found {text!r}")
            return None

    holidays = []
    for i, h in enumerate(d.get("holidays", ())):
        start = day(("calendar", "holidays", i, "date"), h["date"])
        end = day(("calendar", "holidays", i, "to"), h["to"]) if "to" in h else start
        if start and end and end < start:
            f.error(("calendar", "holidays", i, "to"), f"the holiday ends ({end}) before it starts ({start})")
        elif start and end:
            holidays.append(HolidayDef(start, end, _label(h.get("label"))))
    worked = tuple(x for i, w in enumerate(d.get("working_days", ()))
                   if (x := day(("calendar", "working_days", i), w)) is not None)
    weekend = tuple(_WEEKDAYS.index(w) for w in d.get("weekend", ("saturday", "sunday")))
    return CalendarDef(weekend, tuple(holidays), worked)


def _default_root() -> Path:
    return Path(__file__).resolve().parent.parent.parent
