"""YAML reading that remembers where every key and value stands in the file."""

from __future__ import annotations

import re
from typing import Any

import yaml

Path = tuple  # a key path: str keys and int list positions
Position = tuple[int, int]  # 1-based line and column


class YamlSyntaxError(Exception):
    def __init__(self, message: str, line: int, column: int):
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


class _Loader(yaml.SafeLoader):
    pass


# Bounds that keep a hostile or broken file from exhausting time or memory: the reference configuration stays far
# below them (its deepest file nests 7 levels; its largest holds about 2,000 values). A file at the values bound
# takes about 5 s to read and validate here; long unit lists belong in CSV files.
MAX_DEPTH = 64  # collections inside collections, counted through aliases too
MAX_VALUES = 100_000  # keys, values and items of one file once every alias is expanded

# The tags a configuration value may carry; anything else (``!!python/object``, ``!!binary``, ``!custom``)
# would otherwise be built as something no schema expects, or be dropped without a word.
_PLAIN_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "seq", "map")}
# What YAML allows in a stream (the spec's c-printable); the parsers refuse anything else without saying where.
_NOT_PRINTABLE = re.compile("[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\U00010000-\U0010FFFF]")
_LINE_BREAK = re.compile("\r\n|[\n\r\x85\u2028\u2029]")

# libyaml's parser gives the same nodes and marks about ten times faster; files it refuses are parsed again by
# the pure-Python parser, whose error messages are the ones users see.
_FastLoader = getattr(yaml, "CSafeLoader", None)


def _compose(text: str):
    if _FastLoader is not None:
        try:
            return yaml.compose(text, Loader=_FastLoader)
        except yaml.YAMLError:
            pass
    return yaml.compose(text, Loader=_Loader)


def load_with_positions(
    text: str,
) -> tuple[Any, dict[Path, Position], list[tuple[Path, Position, str, Position]]]:
    """Parse one YAML document.

    Returns the data, a map from key path to (line, column) of the value (and of the key, under the path
    followed by ``"<key>"``), and a list of duplicate keys as (path, position, key, position of the first
    occurrence). Raises YamlSyntaxError with the position of a syntax error.
    """
    _check_characters(text)
    _check_shape(text)
    try:
        node = _compose(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or str(exc)
        if "'\\t'" in problem:
            # PyYAML's "found character '\t' that cannot start any token" does not say what to do.
            problem = "found a tab character; YAML indents and separates with spaces, not tabs"
        elif "another document" in problem:
            problem = "found a second document (---): a file holds one definition"
        elif exc.context:
            context = exc.context
            cm = exc.context_mark
            if cm is not None and mark is not None and (cm.line, cm.column) != (mark.line, mark.column):
                context += f" that starts at line {cm.line + 1}, column {cm.column + 1}"
            problem = f"{problem} ({context})"
        raise YamlSyntaxError(f"YAML syntax error: {problem}", line, col) from None
    except yaml.YAMLError as exc:  # pragma: no cover - errors without a mark
        raise YamlSyntaxError(f"YAML error: {exc}", 1, 1) from None
    positions: dict[Path, Position] = {}
    duplicates: list[tuple[Path, Position, str, Position]] = []
    if node is None:
        return None, positions, duplicates
    constructor = _Loader("")
    try:
        data = _build(node, (), positions, duplicates, constructor, set())
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise YamlSyntaxError(f"YAML error: {exc.problem}", line, col) from None
    return data, positions, duplicates


def _position_in(text: str, index: int) -> Position:
    """The 1-based line and column of ``text[index]``, counting line breaks as YAML does."""
    line, start = 1, 0
    for m in _LINE_BREAK.finditer(text, 0, index):
        line, start = line + 1, m.end()
    return line, index - start + 1


def _check_characters(text: str) -> None:
    m = _NOT_PRINTABLE.search(text)
    if m:
        ch = m.group()
        name = {"\x00": " (NUL)", "\x7f": " (DEL)", "\ufffe": " (a reversed byte-order mark)"}.get(ch, "")
        raise YamlSyntaxError(f"YAML syntax error: found the control character U+{ord(ch):04X}{name}, which YAML "
                              "files may not contain; delete it", *_position_in(text, m.start()))


def _tag_name(tag: str) -> str:
    return "!!" + tag.removeprefix("tag:yaml.org,2002:") if tag.startswith("tag:yaml.org,2002:") else tag


def _check_shape(text: str) -> None:
    """Refuse, before anything is built, values nested too deep, aliases that expand too far, and tags.

    Reads the parser's event stream (the parsers keep their own stacks, so deep nesting does not recurse here),
    keeping for every anchor the size and height of its value, so that an alias counts as the values it stands
    for. A syntax error is left for the composer to report.
    """
    # libyaml stops at its own nesting limit (1,000) with a bare scanner error, after which the pure-Python
    # parser would be asked for the message and recurse: on any error, read the events again with the latter.
    for loader in ([_FastLoader] if _FastLoader is not None else []) + [_Loader]:
        try:
            return _check_events(yaml.parse(text, Loader=loader))
        except yaml.YAMLError:
            continue
        except RecursionError:
            raise YamlSyntaxError(f"YAML error: values are nested more than {MAX_DEPTH} levels deep", 1, 1) from None


def _check_events(events) -> None:
    """One pass over the events: tags, depth (aliases included) and values with every alias expanded."""
    # frames of the open collections: [values so far (itself included), height of its deepest child, anchor]
    stack: list[list] = [[0, 0, None]]
    anchors: dict[str, tuple[int, int]] = {}
    total = 0
    for ev in events:
        tag = getattr(ev, "tag", None)
        if tag is not None and tag not in _PLAIN_TAGS and not (tag == "!" and isinstance(ev, yaml.ScalarEvent)):
            raise YamlSyntaxError(f"YAML error: the tag {_tag_name(tag)!r} is not allowed: configuration files "
                                  "hold plain values (text, numbers, true/false, null, lists and mappings); "
                                  "remove the tag", *_mark(ev))
        if isinstance(ev, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            if len(stack) > MAX_DEPTH:
                raise YamlSyntaxError(f"YAML error: values are nested more than {MAX_DEPTH} levels deep here; "
                                      "a configuration file needs far fewer", *_mark(ev))
            stack.append([1, 0, ev.anchor])
            continue
        if isinstance(ev, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            count, height, anchor = stack.pop()
            size = (count, height + 1)
            if anchor is not None:
                anchors[anchor] = size
        elif isinstance(ev, yaml.ScalarEvent):
            size = (1, 0)
            if ev.anchor is not None:
                anchors[ev.anchor] = size
        elif isinstance(ev, yaml.AliasEvent):
            size = anchors.get(ev.anchor or "", (1, 0))  # an unknown anchor is the composer's error to report
            if len(stack) - 1 + size[1] > MAX_DEPTH:
                raise YamlSyntaxError(f"YAML error: the alias *{ev.anchor} nests values more than {MAX_DEPTH} "
                                      "levels deep", *_mark(ev))
        else:
            continue
        top = stack[-1]
        top[0] += size[0]
        top[1] = max(top[1], size[1])
        total += size[0] if not isinstance(ev, (yaml.MappingEndEvent, yaml.SequenceEndEvent)) else 1
        if total > MAX_VALUES:
            what = (f"the alias *{ev.anchor} stands for {size[0]:,} values and makes the file hold" if
                    isinstance(ev, yaml.AliasEvent) else "the file holds")
            raise YamlSyntaxError(f"YAML error: {what} more than {MAX_VALUES:,} values (keys, values and "
                                  "list items, with every alias expanded); split it or use fewer aliases",
                                  *_mark(ev))


def _mark(ev: yaml.Event) -> Position:
    mark = ev.start_mark
    return (mark.line + 1, mark.column + 1) if mark else (1, 1)


def _pos(node: yaml.Node) -> Position:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _build(node: yaml.Node, path: Path, positions: dict[Path, Position],
           duplicates: list[tuple[Path, Position, str, Position]], constructor: _Loader, active: set[int]) -> Any:
    positions[path] = _pos(node)
    if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
        # An alias may point back at a node that contains it (``a: &x [*x]``); building it would never end.
        if id(node) in active:
            raise yaml.constructor.ConstructorError(
                None, None, "an alias (*name) refers to a node that contains it", node.start_mark
            )
        active = active | {id(node)}
    if isinstance(node, yaml.MappingNode):
        result: dict = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise yaml.constructor.ConstructorError(
                    None, None, "merge keys (<<) are not supported", key_node.start_mark
                )
            key = _construct(constructor, key_node)
            if not isinstance(key, (str, int, float, bool)) or key is None:
                raise yaml.constructor.ConstructorError(
                    None, None, "keys must be plain strings", key_node.start_mark
                )
            # A key such as ``1`` or ``yes`` stays the text it is written as ("yes", not "True").
            key = key if isinstance(key, str) else str(key_node.value)
            if key in result:
                first = positions[path + ("<key>", key)]
                duplicates.append((path + (key,), _pos(key_node), key, first))
            positions[path + ("<key>", key)] = _pos(key_node)
            result[key] = _build(value_node, path + (key,), positions, duplicates, constructor, active)
            if isinstance(value_node, yaml.ScalarNode) and value_node.value == "" and not value_node.style:
                # ``key:`` with nothing after it: the parser puts the empty value where the next token starts,
                # which may be lines further down (or past the end of the file); the key is where it is.
                positions[path + (key,)] = positions[path + ("<key>", key)]
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _build(item, path + (i,), positions, duplicates, constructor, active)
            for i, item in enumerate(node.value)
        ]
    if node.tag == "tag:yaml.org,2002:timestamp":
        # Dates stay ISO strings, so JSON Schema sees what the file says; typed objects parse them.
        return node.value
    return _construct(constructor, node)


def _construct(constructor, node):
    try:
        return constructor.construct_object(node, deep=True)
    except ValueError:  # Python reads integers of at most 4,300 digits
        raise yaml.constructor.ConstructorError(
            None, None, f"a number of {len(node.value):,} characters is too long to read; put it in quotes if it "
            "is meant as text", node.start_mark) from None


def position_of(positions: dict[Path, Position], path: Path, *, key: bool = False) -> Position:
    """The position of the deepest known prefix of ``path`` (its key, when ``key`` is true)."""
    path = tuple(path)
    if key and path:
        kp = path[:-1] + ("<key>", path[-1])
        if kp in positions:
            return positions[kp]
    while path:
        if path in positions:
            return positions[path]
        path = path[:-1]
    return positions.get((), (1, 1))
