"""A small, safe expression language for form conditions and cross-field rules.

Expressions compare a record's fields with each other and with literals::

    form_of_aid == "TGTT"
    ended_on >= received_on
    "TE" in beneficiary_groups and not urgent
    evaluation_score >= 90 or empty(evaluation_grade)

They are parsed by the hand-written parser below and evaluated by walking the tree: nothing is ever handed to
``eval`` and no attribute or name outside the record can be reached. The grammar::

    expr     := or
    or       := and ("or" and)*
    and      := not ("and" not)*
    not      := "not" not | compare
    compare  := primary [("==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "not in") primary]
    primary  := number | string | true | false | null | field | call | list | "(" expr ")"
    call     := ("today" | "len" | "empty") "(" [expr ("," expr)*] ")"
    list     := "[" [primary ("," primary)*] "]"

Missing values follow SQL's three-valued logic: ordering a missing value (``ended_on >= received_on`` while
``ended_on`` is empty) gives *unknown*; ``and``/``or``/``not`` propagate it. A rule fails only when it is
false, and a condition holds only when it is true, so a rule about a field that is still empty does not fire.
``x == null`` and ``empty(x)`` test for a missing value.

``compile_expression`` checks the names and, when it is told the fields' kinds, the types of every comparison,
so a mistake in YAML is reported by ``hoso check`` with the file and line, not at run time.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from hoso.i18n import local_today

from .types import BUILTIN_TRAITS

__all__ = ["Expression", "ExpressionError", "FieldInfo", "compile_expression", "field_kind", "entity_field_info"]

MAX_LENGTH = 500
MAX_DEPTH = 20

# The kind of value a field holds, for type checks, is its type's ``value_kind``; for a plugin type that gave
# only its storage it is taken from the storage, and "any" (unknown) matches everything.
_KIND_BY_STORAGE = {"text": "text", "integer": "number", "decimal": "number", "boolean": "bool", "date": "date",
                    "datetime": "datetime"}


class ExpressionError(ValueError):
    """An expression that cannot be parsed or checked; ``position`` is the 1-based character it concerns."""

    def __init__(self, message: str, position: int | None = None):
        self.message = message
        self.position = position
        super().__init__(f"{message} (at character {position})" if position else message)


@dataclass(frozen=True)
class FieldInfo:
    """What an expression may know about a field: its kind and, for choice fields, the allowed values."""

    kind: str = "any"
    options: tuple[str, ...] | None = None


def field_kind(field_type: str, storage: str | None = None) -> str:
    traits = BUILTIN_TRAITS.get(field_type)
    return traits.value_kind if traits is not None else _KIND_BY_STORAGE.get(storage or "", "any")


def entity_field_info(fields: Iterable[Any], options_of=None, storage_of: Mapping[str, str] | None = None
                      ) -> dict[str, FieldInfo]:
    """FieldInfo for each of ``fields`` (FieldDef objects); ``options_of(list_name)`` gives a list's values."""
    out = {}
    for fd in fields:
        options = None
        if fd.traits.has_choices and fd.list and options_of is not None:
            options = options_of(fd.list)
        kind = fd.traits.value_kind
        if kind == "any":
            kind = _KIND_BY_STORAGE.get((storage_of or {}).get(fd.type) or "", "any")
        out[fd.name] = FieldInfo(kind, options)
    return out


# -- tokens ---------------------------------------------------------------------------------------------------

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<number>\d+(?:\.\d+)?)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>==|!=|<=|>=|<|>|\(|\)|\[|\]|,|-)
""", re.X)
_KEYWORDS = {"and", "or", "not", "in", "true", "false", "null"}
_FUNCTIONS = {"today": 0, "len": 1, "empty": 1}


@dataclass(frozen=True)
class _Tok:
    kind: str  # number, string, name, keyword, op, end
    value: Any
    pos: int  # 1-based


def _tokenize(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i = 0
    while i < len(text):
        m = _TOKEN.match(text, i)
        if not m:
            raise ExpressionError(f"unexpected character {text[i]!r}", i + 1)
        kind = m.lastgroup
        raw = m.group()
        if kind == "number":
            toks.append(_Tok("number", decimal.Decimal(raw) if "." in raw else int(raw), i + 1))
        elif kind == "string":
            body = raw[1:-1]
            toks.append(_Tok("string", re.sub(r"\\(.)", r"\1", body), i + 1))
        elif kind == "name":
            toks.append(_Tok("keyword" if raw in _KEYWORDS else "name", raw, i + 1))
        elif kind == "op":
            toks.append(_Tok("op", raw, i + 1))
        i = m.end()
    toks.append(_Tok("end", None, len(text) + 1))
    return toks


# -- parser -------------------------------------------------------------------------------------------------------
# Nodes are tuples: ("lit", value) ("field", name) ("call", name, args) ("list", items) ("not", x)
# ("and", items) ("or", items) ("cmp", op, a, b) ("in", a, b, negated). Each carries its position last.


class _Parser:
    def __init__(self, text: str):
        self.toks = _tokenize(text)
        self.i = 0
        self.depth = 0

    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        t = self.toks[self.i]
        self.i += 1
        return t

    def at(self, kind: str, value: Any = None) -> bool:
        t = self.tok
        return t.kind == kind and (value is None or t.value == value)

    def expect(self, kind: str, value: Any, what: str) -> _Tok:
        if not self.at(kind, value):
            raise ExpressionError(f"expected {what}; found {_describe(self.tok)}", self.tok.pos)
        return self.take()

    def parse(self):
        if self.at("end"):
            raise ExpressionError("the expression is empty", 1)
        node = self.or_()
        if not self.at("end"):
            raise ExpressionError(f"unexpected {_describe(self.tok)}", self.tok.pos)
        return node

    def nest(self):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExpressionError(f"the expression nests more than {MAX_DEPTH} levels deep", self.tok.pos)

    def or_(self):
        pos = self.tok.pos
        items = [self.and_()]
        while self.at("keyword", "or"):
            self.take()
            items.append(self.and_())
        return items[0] if len(items) == 1 else ("or", items, pos)

    def and_(self):
        pos = self.tok.pos
        items = [self.not_()]
        while self.at("keyword", "and"):
            self.take()
            items.append(self.not_())
        return items[0] if len(items) == 1 else ("and", items, pos)

    def not_(self):
        if self.at("keyword", "not"):
            pos = self.take().pos
            self.nest()
            node = ("not", self.not_(), pos)
            self.depth -= 1
            return node
        return self.compare()

    def compare(self):
        left = self.primary()
        t = self.tok
        if t.kind == "op" and t.value in ("==", "!=", "<", "<=", ">", ">="):
            self.take()
            return ("cmp", t.value, left, self.primary(), t.pos)
        if t.kind == "keyword" and t.value == "in":
            self.take()
            return ("in", left, self.primary(), False, t.pos)
        if t.kind == "keyword" and t.value == "not" and self.toks[self.i + 1].kind == "keyword" \
                and self.toks[self.i + 1].value == "in":
            self.take()
            self.take()
            return ("in", left, self.primary(), True, t.pos)
        return left

    def primary(self):
        t = self.take()
        if t.kind in ("number", "string"):
            return ("lit", t.value, t.pos)
        if t.kind == "op" and t.value == "-" and self.at("number"):
            n = self.take()
            return ("lit", -n.value, t.pos)
        if t.kind == "keyword" and t.value in ("true", "false", "null"):
            return ("lit", {"true": True, "false": False, "null": None}[t.value], t.pos)
        if t.kind == "name":
            if self.at("op", "("):
                return self.call(t)
            return ("field", t.value, t.pos)
        if t.kind == "op" and t.value == "(":
            self.nest()
            node = self.or_()
            self.depth -= 1
            self.expect("op", ")", "')'")
            return node
        if t.kind == "op" and t.value == "[":
            items = []
            if not self.at("op", "]"):
                items.append(self.primary())
                while self.at("op", ","):
                    self.take()
                    items.append(self.primary())
            self.expect("op", "]", "',' or ']'")
            for it in items:
                if it[0] != "lit":
                    raise ExpressionError("a list holds literal values only", it[-1])
            return ("list", items, t.pos)
        raise ExpressionError(f"expected a value, a field name or '('; found {_describe(t)}", t.pos)

    def call(self, name: _Tok):
        if name.value not in _FUNCTIONS:
            raise ExpressionError(f"unknown function {name.value!r}; functions: "
                                  f"{', '.join(f + '()' for f in sorted(_FUNCTIONS))}", name.pos)
        self.take()  # (
        args = []
        if not self.at("op", ")"):
            self.nest()
            args.append(self.or_())
            while self.at("op", ","):
                self.take()
                args.append(self.or_())
            self.depth -= 1
        self.expect("op", ")", "',' or ')'")
        if len(args) != _FUNCTIONS[name.value]:
            n = _FUNCTIONS[name.value]
            raise ExpressionError(f"{name.value}() takes {n} argument{'s' if n != 1 else ''}; found {len(args)}",
                                  name.pos)
        return ("call", name.value, args, name.pos)


def _describe(t: _Tok) -> str:
    if t.kind == "end":
        return "the end of the expression"
    if t.kind == "string":
        return f"the text {t.value!r}"
    return repr(str(t.value))


# -- checking -----------------------------------------------------------------------------------------------------


class _Checker:
    def __init__(self, fields: Mapping[str, FieldInfo] | None):
        self.fields = fields
        self.used: set[str] = set()

    def kind(self, node) -> str:
        tag = node[0]
        if tag == "lit":
            return _lit_kind(node[1])
        if tag == "field":
            name = node[1]
            self.used.add(name)
            if self.fields is None:
                return "any"
            if name not in self.fields:
                import difflib

                hint = difflib.get_close_matches(name, list(self.fields), n=1, cutoff=0.7)
                raise ExpressionError(f"unknown field {name!r}" + (f" (did you mean {hint[0]!r}?)" if hint else ""),
                                      node[-1])
            return self.fields[name].kind
        if tag == "list":
            return "list"
        if tag == "call":
            fname, args = node[1], node[2]
            kinds = [self.kind(a) for a in args]
            if fname == "today":
                return "date"
            if fname == "len":
                if kinds[0] not in ("text", "list", "any"):
                    raise ExpressionError(f"len() applies to text and lists, not to {_a(kinds[0])}", node[-1])
                return "number"
            return "bool"  # empty()
        if tag in ("and", "or"):
            for item in node[1]:
                self.boolean(item)
            return "bool"
        if tag == "not":
            self.boolean(node[1])
            return "bool"
        if tag == "cmp":
            self.compare(node)
            return "bool"
        if tag == "in":
            self.membership(node)
            return "bool"
        raise AssertionError(tag)  # pragma: no cover

    def boolean(self, node) -> None:
        k = self.kind(node)
        if k not in ("bool", "any"):
            hint = ""
            if node[0] == "field":
                hint = f"; to test that it is filled in, write {node[1]} != null"
            raise ExpressionError(f"expected a condition (true or false); found {_a(k)}{hint}", node[-1])

    def compare(self, node) -> None:
        op, a, b = node[1], node[2], node[3]
        ka, kb = self.kind(a), self.kind(b)
        if op in ("==", "!=") and "null" in (ka, kb):
            return
        if "null" in (ka, kb):
            raise ExpressionError(f"{op} cannot compare with null; use == null or != null", node[-1])
        ka, kb = self.coerce_date(a, ka, b, kb)
        if "any" not in (ka, kb) and ka != kb:
            raise ExpressionError(f"cannot compare {_a(ka)} with {_a(kb)}", node[-1])
        if op not in ("==", "!=") and ka in ("bool", "list"):
            raise ExpressionError(f"{op} does not apply to {_a(ka)}", node[-1])
        for field, lit in ((a, b), (b, a)):
            self.option(field, lit)

    def coerce_date(self, a, ka, b, kb):
        # "2019-01-01" next to a date field is a date.
        for lit, kl, other in ((a, ka, kb), (b, kb, ka)):
            if other in ("date", "datetime") and kl == "text" and lit[0] == "lit":
                try:
                    dt.date.fromisoformat(lit[1])
                except ValueError:
                    raise ExpressionError(f"expected a date as YYYY-MM-DD; found {lit[1]!r}", lit[-1]) from None
                return other, other
        return ka, kb

    def option(self, field_node, lit_node) -> None:
        if self.fields is None or field_node[0] != "field" or lit_node[0] not in ("lit", "list"):
            return
        info = self.fields.get(field_node[1])
        if info is None or info.options is None:
            return
        values = [lit_node[1]] if lit_node[0] == "lit" else [i[1] for i in lit_node[1]]
        for v in values:
            if isinstance(v, str) and v not in info.options:
                import difflib

                hint = difflib.get_close_matches(v, list(info.options), n=1, cutoff=0.6)
                raise ExpressionError(f"{v!r} is not an option of field {field_node[1]!r}"
                                      + (f" (did you mean {hint[0]!r}?)" if hint else "")
                                      + f"; options: {', '.join(info.options)}", lit_node[-1])

    def membership(self, node) -> None:
        a, b = node[1], node[2]
        ka, kb = self.kind(a), self.kind(b)
        if kb not in ("list", "any"):
            raise ExpressionError(f"'in' needs a list or a multiple-choice field on its right; found {_a(kb)}",
                                  node[-1])
        if b[0] == "list":
            for item in b[1]:
                ki = _lit_kind(item[1])
                if ki != "null" and ka not in ("any",) and ki != ka and not (ka in ("date", "datetime")
                                                                             and ki == "text"):
                    raise ExpressionError(f"cannot look for {_a(ka)} in a list holding {_a(ki)}", item[-1])
            self.option(a, b)
        elif b[0] == "field":
            self.option(b, a)


def _lit_kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float, decimal.Decimal)):
        return "number"
    return "text"


def _a(kind: str) -> str:
    return {"text": "text", "number": "a number", "date": "a date", "datetime": "a date and time",
            "bool": "true/false", "list": "a list", "null": "null", "any": "a value"}.get(kind, kind)


# -- evaluation ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expression:
    """A checked expression; ``evaluate`` gives True, False or None (unknown)."""

    source: str
    tree: Any
    fields: frozenset[str]

    def evaluate(self, values: Mapping[str, Any], today: dt.date | None = None) -> bool | None:
        result = _eval(self.tree, values, today or local_today())
        if result is None or isinstance(result, bool):
            return result
        return bool(result)

    def holds(self, values: Mapping[str, Any], today: dt.date | None = None) -> bool:
        """True only when the expression is true (unknown counts as not holding)."""
        return self.evaluate(values, today) is True

    def fails(self, values: Mapping[str, Any], today: dt.date | None = None) -> bool:
        """True only when the expression is false (unknown counts as not failing)."""
        return self.evaluate(values, today) is False

    def __str__(self) -> str:
        return self.source


def compile_expression(text: str, fields: Mapping[str, FieldInfo] | None = None) -> Expression:
    """Parse and check ``text``; with ``fields``, names and types are checked against them."""
    if not isinstance(text, str):
        raise ExpressionError("expected an expression as text")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"the expression is longer than {MAX_LENGTH} characters")
    tree = _Parser(text).parse()
    checker = _Checker(fields)
    checker.boolean(tree)
    return Expression(text, tree, frozenset(checker.used))


def _empty(v: Any) -> bool:
    return v is None or v == "" or (isinstance(v, (list, tuple)) and len(v) == 0)


def _normal(v: Any) -> Any:
    if isinstance(v, dt.datetime):
        return v
    if isinstance(v, float):
        return decimal.Decimal(repr(v))
    return v


def _pair(a: Any, b: Any) -> tuple[Any, Any]:
    """Make two operands comparable: a date next to ISO text, a date next to a datetime."""
    if isinstance(a, (dt.date, dt.datetime)) and isinstance(b, str):
        b = _parse_date_like(b, a)
    elif isinstance(b, (dt.date, dt.datetime)) and isinstance(a, str):
        a = _parse_date_like(a, b)
    if isinstance(a, dt.datetime) and type(b) is dt.date:
        a = a.date()
    elif isinstance(b, dt.datetime) and type(a) is dt.date:
        b = b.date()
    return _normal(a), _normal(b)


def _parse_date_like(s: str, like: Any) -> Any:
    try:
        if isinstance(like, dt.datetime):
            v = dt.datetime.fromisoformat(s)
            return v if v.tzinfo or like.tzinfo is None else v.replace(tzinfo=like.tzinfo)
        return dt.date.fromisoformat(s)
    except ValueError:
        return s


def _eval(node, values: Mapping[str, Any], today: dt.date) -> Any:
    tag = node[0]
    if tag == "lit":
        return node[1]
    if tag == "field":
        return values.get(node[1])
    if tag == "list":
        return [i[1] for i in node[1]]
    if tag == "call":
        name = node[1]
        if name == "today":
            return today
        v = _eval(node[2][0], values, today)
        if name == "empty":
            return _empty(v)
        return None if v is None else len(v)
    if tag == "not":
        v = _truth(_eval(node[1], values, today))
        return None if v is None else not v
    if tag == "and":
        unknown = False
        for item in node[1]:
            v = _truth(_eval(item, values, today))
            if v is False:
                return False
            unknown |= v is None
        return None if unknown else True
    if tag == "or":
        unknown = False
        for item in node[1]:
            v = _truth(_eval(item, values, today))
            if v is True:
                return True
            unknown |= v is None
        return None if unknown else False
    if tag == "cmp":
        op = node[1]
        a, b = _eval(node[2], values, today), _eval(node[3], values, today)
        if op in ("==", "!="):
            if _empty(a) or _empty(b):
                same = _empty(a) and _empty(b)
            else:
                a, b = _pair(a, b)
                same = a == b
            return same if op == "==" else not same
        if _empty(a) or _empty(b):
            return None
        a, b = _pair(a, b)
        try:
            return _order(op, a, b)
        except TypeError:
            return None
    if tag == "in":
        a, b, negated = _eval(node[1], values, today), _eval(node[2], values, today), node[3]
        if b is None:
            return None
        found = any(_pair(a, x)[0] == _pair(a, x)[1] for x in b) if not _empty(a) else False
        return not found if negated else found
    raise AssertionError(tag)  # pragma: no cover


def _order(op: str, a: Any, b: Any) -> bool:
    if op == "<":
        return a < b
    if op == "<=":
        return a <= b
    if op == ">":
        return a > b
    return a >= b


def _truth(v: Any) -> bool | None:
    if v is None or isinstance(v, bool):
        return v
    return bool(v)
