"""Load, validate and cross-check a configuration directory: the machinery every configuration kind uses.

Each kind (``hoso.config.kinds``, and those plugins add) says where its files are, their JSON Schema, how they
become frozen objects and what to check across kinds. This module reads the files with positions, validates
them (errors with file:line:column, key path and did-you-mean hints; a file with errors is still checked in
its valid parts), hashes them, then builds and cross-checks the kinds in order. All problems of a run are
collected and raised together as one ``ConfigErrors``; nothing is returned unless the whole configuration is
valid.
"""

from __future__ import annotations

import copy
import errno
import hashlib
import json
import os
import re
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, overload

import jsonschema
from referencing import Registry, Resource

from hoso.settings import get as setting

from ._yaml import YamlSyntaxError, load_with_positions, position_of
from .kind import ConfigKind, KindError, order_kinds
from .types import (
    BUILTIN_TRAITS,
    FIELD_TYPES,
    Config,
    EntityDef,
    FieldTraits,
    Label,
    traits_for_storage,
)

__all__ = ["ConfigIssue", "ConfigErrors", "ConfigFile", "load", "SCHEMA_DIR"]

HIERARCHY_FILE = "roles_config/hierarchy.yaml"

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"

# The largest configuration file read (YAML or CSV); the reference configuration's largest is 19 kB.
MAX_FILE_BYTES = 4 * 2 ** 20

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
def _validators(extra_types: tuple[str, ...] = (), extra_actions: tuple[str, ...] = (),
                extra_scopes: tuple[str, ...] = ()) -> dict[str, jsonschema.protocols.Validator]:
    """One validator per kind; ``extra_*`` are the field types, role actions and scope kinds plugins add."""
    schemas = {}
    for f in SCHEMA_DIR.glob("*.schema.json"):
        schemas[f.name.removesuffix(".schema.json")] = json.loads(f.read_text(encoding="utf-8"))
    if extra_types:
        enum = schemas["entity"]["$defs"]["field_type"]["enum"]
        enum.extend(t for t in extra_types if t not in enum)
    _plugin_role_terms(schemas["role"], extra_actions, extra_scopes)
    registry = Registry().with_resources(
        (s["$id"], Resource.from_contents(s)) for s in schemas.values()
    )
    out = {}
    for name, schema in schemas.items():
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        out[name] = cls(schema, registry=registry, format_checker=cls.FORMAT_CHECKER)
    return out


def _plugin_role_terms(role: dict, actions: tuple[str, ...], scopes: tuple[str, ...]) -> None:
    """Let roles name the actions and scope kinds plugins add (``hoso_actions``, ``hoso_scope_rules``)."""
    grant = role["properties"]["grants"]["items"]["properties"]
    if actions:
        items = grant["actions"]["items"]
        names = "|".join(re.escape(a) for a in actions)
        items["pattern"] = items["pattern"].replace("|transition:", f"|{names}|transition:")
        items["description"] += f"; or an action a plugin adds ({', '.join(actions)})"
    if scopes:
        grant["scope"]["oneOf"][0]["enum"].extend(s for s in scopes if s not in grant["scope"]["oneOf"][0]["enum"])


@lru_cache(maxsize=1)
def _shared_registry() -> Registry:
    """The built-in schemas, so that a plugin kind's schema can refer to them (``hoso:defs#/$defs/label``)."""
    schemas = [json.loads(f.read_text(encoding="utf-8")) for f in SCHEMA_DIR.glob("*.schema.json")]
    return Registry().with_resources((s["$id"], Resource.from_contents(s)) for s in schemas)


@lru_cache(maxsize=64)
def _kind_validator(schema_json: str) -> jsonschema.protocols.Validator:
    """The validator of a kind whose schema is not one of the built-in files (a plugin's kind)."""
    schema = json.loads(schema_json)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, registry=_shared_registry(), format_checker=cls.FORMAT_CHECKER)


class _File:
    """One parsed configuration file, and a way to report problems at its positions.

    A ``partial`` file is what is left of a file with schema errors once the parts in error are cut out: it is
    checked like any file, so that its other mistakes are reported in the same run, but what it defines is not
    used. Paths given to ``error`` are in the cut data; ``kept`` maps them back to the file's list positions,
    and messages that quote a name from a part cut out are not reported (they would only repeat the cut).
    """

    def __init__(self, loader: _Loader, rel: str, data: Any, positions: dict, *, partial: bool = False,
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

    def valid_part(self, validator: jsonschema.protocols.Validator) -> _File | None:
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


# The name plugin authors use for what a kind's ``build`` receives: ``data``, ``rel``, ``partial``, ``error``.
ConfigFile = _File

# A file whose errors take more rounds of cutting than this is not checked further (its errors are reported).
_MAX_CUT_ROUNDS = 20


def _cut_targets(err: jsonschema.ValidationError) -> list[tuple]:
    """The parts of the data to cut out so that ``err`` goes away."""
    path = tuple(err.absolute_path)
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        known = err.schema.get("properties", {}) if isinstance(err.schema, Mapping) else {}
        return [path + (k,) for k in err.instance if k not in known]
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
    """What one run of the loader knows; the context every kind's ``build`` and ``check`` receive.

    ``results`` holds each kind's built objects and ``files`` its parsed files, by kind name; ``checker``
    answers cross-file questions (does this entity exist, does it have this field).
    """

    def __init__(self, root: Path, plugin_types: dict[str, str | FieldTraits] | None = None,
                 kinds: Iterable[ConfigKind] = (), directories: Iterable[tuple[str, Path]] = (),
                 actions: Iterable[str] = (), scope_kinds: Iterable[str] = ()):
        self.root = root
        self.issues: list[ConfigIssue] = []
        self.kinds: dict[str, ConfigKind] = {k.name: k for k in kinds}
        # Configuration roots shipped by plugins, (plugin name, folder), read after the deployment's own.
        self.directories = [(name, Path(d)) for name, d in directories]
        self.results: dict[str, Any] = {}
        self.files: dict[str, list[_File]] = {}
        self.checker = _Checker(self)
        # Field types from plugins beyond the built-in ones: name -> traits (or only the storage class).
        plugin_types = {n: t for n, t in (plugin_types or {}).items() if n not in FIELD_TYPES}
        self.extra_types = tuple(sorted(plugin_types))
        # What the schemas must also accept: field types, role actions and scope kinds added by plugins.
        self.extras = (self.extra_types, tuple(sorted(actions)), tuple(sorted(scope_kinds)))
        self.traits: dict[str, FieldTraits] = {
            **BUILTIN_TRAITS,
            **{n: t if isinstance(t, FieldTraits) else traits_for_storage(t) for n, t in plugin_types.items()},
        }
        self.hasher = hashlib.sha256()
        # Names declared by files that failed to load, per kind, so that references to them are not reported
        # a second time as "unknown"; and the files whose names could not be made out at all.
        self.broken: dict[str, set[str]] = {}
        self.broken_unnamed: dict[str, list[str]] = {}
        # Every unit code the unit files name (rows with errors included), and the codes restructurings give.
        self.unit_codes: set[str] = set()
        self._restructured: set[str] | None = None
        self.units_complete = not _present(root / HIERARCHY_FILE)  # until the unit files are read

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
        k = self.kinds.get(kind)
        names = k.declared_names(data, text) if k is not None and k.declared_names is not None else set()
        if names is None:
            self.broken_unnamed.setdefault(kind, []).append(rel)
        else:
            self.broken.setdefault(kind, set()).update(names)

    def unreadable_note(self, kind: str) -> str:
        """A note for an "unknown ..." message when some file of ``kind`` could not be loaded."""
        files = self.broken_unnamed.get(kind)
        return f" ({', '.join(files)} could not be loaded and may define it)" if files else ""

    # -- reading ---------------------------------------------------------------------------------------
    def _read(self, path: Path, *, hashed: bool = True) -> bytes | None:
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
        if hashed:
            self.hasher.update(self._hash_name(path).encode() + b"\0" + raw + b"\0")
        return raw

    def _hash_name(self, path: Path) -> str:
        """The name a file is hashed under: where it is installed does not change the definitions."""
        for name, folder in self.directories:
            if path.is_relative_to(folder):
                return f"{name}:{path.relative_to(folder).as_posix()}"
        return self._rel(path)

    def _rel(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    def parse(self, path: Path, kind: str, *, partial: bool = False) -> _File | None:
        """The file read, parsed and validated; None if it has errors, unless ``partial`` asks for its valid part
        (a ``_File`` with ``partial`` set) so that its other mistakes can be found too."""
        k = self.kinds.get(kind)
        raw = self._read(path, hashed=k is None or k.hashed)
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
            expected = k.description if k else "a " + kind
            self.issues.append(ConfigIssue(rel, 1, 1, "", f"file is empty: expected {expected} definition"))
            self._mark_broken(kind, rel, None, "")
            return None
        before = len(self.issues)
        self._validate(f, kind)
        if len(self.issues) > before:
            self._mark_broken(kind, rel, data, text)
            return f.valid_part(self.validator(kind)) if partial else None
        return f

    def validator(self, kind: str) -> jsonschema.protocols.Validator:
        k = self.kinds.get(kind)
        if k is None:
            return _validators(*self.extras)[kind]
        if isinstance(k.schema, (str, Path)) and Path(k.schema).parent == SCHEMA_DIR:
            return _validators(*self.extras)[Path(k.schema).name.removesuffix(".schema.json")]
        return _kind_validator(json.dumps(k.schema_dict(), sort_keys=True))

    def _validate(self, f: _File, kind: str) -> None:
        validator = self.validator(kind)
        for err in sorted(validator.iter_errors(f.data), key=lambda e: list(map(str, e.absolute_path))):
            self._schema_error(f, err)

    def _schema_error(self, f: _File, err: jsonschema.ValidationError) -> None:
        path = tuple(err.absolute_path)
        # jsonschema fills these in on every error it yields (they are unset only on hand-made errors)
        schema: Mapping[str, Any] = err.schema if isinstance(err.schema, Mapping) else {}
        instance: Any = err.instance
        value: Any = err.validator_value
        if err.validator in ("anyOf", "oneOf") and err.context:
            context = err.context
            if isinstance(instance, dict):  # a mapping was meant for the branch that takes a mapping
                context = [e for e in context if e.validator not in ("enum", "type")] or context
            best = jsonschema.exceptions.best_match(context)
            return self._schema_error(f, best)
        if err.validator == "additionalProperties" and isinstance(instance, dict):
            allowed = sorted(schema.get("properties", {}))
            extra = [k for k in instance if k not in schema.get("properties", {})]
            for k in extra:
                hint = _closest(k, allowed)
                msg = f"unknown key {k!r}"
                msg += f" (did you mean {hint!r}?)" if hint else ""
                msg += f"; expected one of: {', '.join(allowed)}" if allowed else ""
                f.error(path + (k,), msg, key=True)
            return
        if "propertyNames" in err.absolute_schema_path:
            # The error is about a key (jsonschema reports it at the mapping, with the key as the instance).
            bad = instance
            desc = schema.get("description") or (f"a name matching {schema['pattern']}"
                                                 if "pattern" in schema else err.message)
            f.error(path + (str(bad),), f"invalid name {bad!r}: expected {desc}", key=True)
            return
        if err.validator == "required":
            missing = re.findall(r"'([^']+)' is a required property", err.message)
            key = missing[0] if missing else err.message
            f.error(path, f"missing required key {key!r}")
            return
        if err.validator == "enum":
            options = ", ".join(map(repr, value))
            hint = _closest(str(instance), [str(v) for v in value])
            msg = f"expected one of {options}; found {instance!r}"
            if hint:
                msg += f" (did you mean {hint!r}?)"
            f.error(path, msg)
            return
        if err.validator == "type":
            expected = value
            names = [_a(t) for t in expected] if isinstance(expected, list) else [_a(expected)]
            wanted = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
            msg = f"expected {wanted}; found {_describe(instance)}"
            if "a string" in names and isinstance(instance, (bool, int, float)):
                msg += "; put the value in quotes if it is meant as text"
            f.error(path, msg)
            return
        if err.validator in ("minItems", "minProperties"):
            n = value
            what = "item" if err.validator == "minItems" else "entry"
            found = (str(len(instance)) if instance
                     else f"an empty {'list' if isinstance(instance, list) else 'mapping'}")
            f.error(path, f"expected at least {n} {what}{'s' if n != 1 else ''}; found {found}")
            return
        if err.validator == "minLength":
            f.error(path, f"expected a non-empty string; found {instance!r}")
            return
        if err.validator == "uniqueItems" and isinstance(instance, list):
            seen: list = []
            for j, item in enumerate(instance):
                if item in seen:
                    f.error(path + (j,), f"{item!r} is listed more than once; each item may appear once")
                else:
                    seen.append(item)
            return
        if err.validator in ("minimum", "maximum"):
            word = "at least" if err.validator == "minimum" else "at most"
            f.error(path, f"expected a value of {word} {value}; found {instance!r}")
            return
        if err.validator == "pattern":
            desc = schema.get("description") or f"a value matching {value}"
            f.error(path, f"expected {desc}; found {instance!r}")
            return
        if err.validator == "$ref" or err.validator == "allOf":
            return
        f.error(path, f"{err.message}")

    def parse_kind(self, kind: str) -> list[_File]:
        """The files of ``kind`` in the deployment's configuration, then in the folders plugins ship."""
        k = self.kinds[kind]
        out = self._parse_location(k, self.root / k.location)
        for _plugin, folder in self.directories:
            out += self._parse_location(k, folder / k.location)
        if not k.many:
            for extra in out[1:]:
                self.issues.append(ConfigIssue(extra.rel, 1, 1, "", f"{k.location} is already defined in "
                                               f"{out[0].rel}: there is one such file, and this one is not used"))
            out = out[:1]
        return out

    def _parse_location(self, k: ConfigKind, target: Path) -> list[_File]:
        kind = k.name
        if not _present(target):
            return []  # every kind is optional
        if k.many:
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


def _not_utf8(rel: str, raw: bytes, exc: UnicodeDecodeError) -> ConfigIssue:
    line = raw[: exc.start].count(b"\n") + 1
    line_start = raw.rfind(b"\n", 0, exc.start) + 1
    col = len(raw[line_start: exc.start].decode("utf-8", errors="replace")) + 1
    return ConfigIssue(rel, line, col, "", f"file is not valid UTF-8 text: found byte 0x{raw[exc.start]:02x}; "
                       "save the file with UTF-8 encoding")


def _an(word: str) -> str:
    """``word`` with its indefinite article: "a text", "an integer"."""
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"


def _did_you_mean(word: str, options: Iterable[str]) -> str:
    hint = _closest(word, list(options))
    return f" (did you mean {hint!r}?)" if hint else ""


@overload
def _label(d: dict) -> Label: ...
@overload
def _label(d: None) -> None: ...
def _label(d: dict | None) -> Label | None:
    """The label a ``{vi, en}`` mapping gives; a required key's mapping always gives one."""
    if d is None:
        return None
    return Label(vi=d["vi"], en=d.get("en"))


# -- building typed objects -------------------------------------------------------------------------------


class _Checker:
    """Checks references across files once every file has been parsed."""

    def __init__(self, loader: _Loader):
        self.loader = loader

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


def load(root: str | os.PathLike | None = None, field_types: dict[str, str | FieldTraits] | None = None, *,
         builtin_kinds: Iterable[ConfigKind] = (), kinds: Iterable[ConfigKind] = (),
         directories: Iterable[tuple[str, str | os.PathLike]] = (),
                actions: Iterable[str] = (), scope_kinds: Iterable[str] = ()) -> Config:
    """Load and check the configuration under ``root``; raise ConfigErrors listing every problem.

    ``field_types`` maps the names of field types registered by plugins to their traits (or only their storage
    class), so entity files may use them; the built-in types are always known. ``kinds`` are configuration kinds
    beyond the built-in ones (``hoso_config_kinds``); ``directories`` are ``(plugin name, folder)`` pairs of
    configuration roots shipped by plugins (``hoso_config_directories``), merged with the deployment's; ``actions``
    and ``scope_kinds`` are the role actions and scope kinds plugins add (``hoso_actions``, ``hoso_scope_rules``).
    """
    root_path = Path(root or setting("HOSO_CONFIG") or _default_root()).resolve()
    if not root_path.is_dir():
        raise ConfigErrors([ConfigIssue(".", 1, 1, "", f"the configuration root {str(root_path)!r} is not a "
                                        "folder: expected a folder holding forms_config/ and roles_config/")])
    if not (root_path / "forms_config").is_dir():
        raise ConfigErrors([ConfigIssue("forms_config", 1, 1, "", f"no forms_config/ folder in {str(root_path)!r}: "
                                        "expected forms_config/ and roles_config/ under the configuration root "
                                        "(--config DIR or HOSO_CONFIG)")])
    try:
        all_kinds = _all_kinds(builtin_kinds, kinds)
        ordered = order_kinds(all_kinds)
    except KindError as exc:
        raise ConfigErrors([ConfigIssue(".", 1, 1, "", str(exc))]) from None
    loader = _Loader(root_path, field_types, all_kinds, [(n, Path(d).resolve()) for n, d in directories],
                     actions, scope_kinds)
    for k in all_kinds:
        loader.files[k.name] = loader.parse_kind(k.name)
    for k in ordered:
        loader.results[k.name] = k.build(loader, loader.files[k.name])
    for k in ordered:
        if k.check is not None:
            k.check(loader, loader.results[k.name])
    if loader.issues:
        raise ConfigErrors(loader.issues)
    builtin = {k.config_field: k.value(loader.results[k.name]) for k in all_kinds if k.config_field}
    extensions = {k.name: k.value(loader.results[k.name]) for k in all_kinds if not k.config_field}
    return Config(root=str(root_path), **builtin, extensions=extensions, content_hash=loader.hasher.hexdigest())


def _all_kinds(builtin: Iterable[ConfigKind], extra: Iterable[ConfigKind]) -> list[ConfigKind]:
    """The built-in kinds and ``extra`` (which may repeat built-in ones); one name, one kind."""
    out: dict[str, ConfigKind] = {k.name: k for k in builtin}
    for k in extra:
        if k.name in out and out[k.name] is not k:
            raise KindError(f"configuration kind {k.name!r} is declared twice (at {out[k.name].location} and "
                            f"{k.location})")
        out[k.name] = k
    return list(out.values())


def _default_root() -> Path:
    return Path(__file__).resolve().parent.parent.parent
