"""Conditions of the forms' language (``hoso.config.conditions``) compiled to SQL, for reports and lists.

The SQL is built from the same tree the Python evaluator walks, with the same three-valued logic: an ordering
with a missing value is unknown (NULL), ``==``/``!=`` treat every missing value (NULL, empty text, an empty
list) as equal to each other and to ``null``, ``in`` with a missing list is unknown, and ``and``/``or``/``not``
propagate unknown as SQL does. Parts that name no field (``today()``, literals) are evaluated in Python once.
A multiple choice (stored as JSON text) may be tested for an option (``"TE" in groups``), for being empty, or
for its length; other uses are refused with an ExpressionError, as they would mean nothing in a report.

Placeholders are ``{}`` (see hoso.db); the arguments are returned beside the text.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .conditions import Expression, ExpressionError, _empty, _eval

__all__ = ["SqlField", "to_sql"]


@dataclass(frozen=True)
class SqlField:
    """How a field reads in SQL: its column expression, its value kind (``FieldInfo.kind``), whether it is a
    multiple choice stored as JSON text."""

    sql: str
    kind: str = "any"
    many: bool = False


_COMPARE = {"==": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


class _Compiler:
    def __init__(self, fields: Mapping[str, SqlField], today: dt.date, dialect: str):
        self.fields = fields
        self.today = today
        self.dialect = dialect
        self.args: list[Any] = []

    # -- helpers ----------------------------------------------------------------------------------------------
    def bind(self, value: Any) -> str:
        self.args.append(value)
        return "{}"

    @staticmethod
    def constant(node) -> bool:
        tag = node[0]
        if tag == "field":
            return False
        if tag in ("lit", "list"):
            return True
        if tag == "call":
            return all(_Compiler.constant(a) for a in node[2])
        if tag in ("and", "or"):
            return all(_Compiler.constant(a) for a in node[1])
        if tag == "not":
            return _Compiler.constant(node[1])
        if tag == "cmp":
            return _Compiler.constant(node[2]) and _Compiler.constant(node[3])
        if tag == "in":
            return _Compiler.constant(node[1]) and _Compiler.constant(node[2])
        raise AssertionError(tag)  # pragma: no cover

    @staticmethod
    def truth_sql(value: Any) -> str:
        if value is None:
            return "NULL"
        return "(1 = 1)" if value else "(1 = 0)"

    def field(self, node) -> SqlField:
        name = node[1]
        if name not in self.fields:
            raise ExpressionError(f"unknown field {name!r}", node[-1])
        return self.fields[name]

    def refuse_many(self, node) -> None:
        if node[0] == "field" and self.field(node).many:
            raise ExpressionError(f"a multiple choice ({node[1]!r}) can only be tested for an option "
                                  f"(\"X\" in {node[1]}), for being empty or for its length", node[-1])

    def literal_for(self, value: Any, kind: str) -> Any:
        """A literal as the database compares it with a value of ``kind``."""
        if isinstance(value, str) and kind == "date":
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                return value
        if isinstance(value, str) and kind == "datetime":
            try:
                v = dt.datetime.fromisoformat(value)
                return v if v.tzinfo else v.replace(tzinfo=dt.UTC)
            except ValueError:
                return value
        if isinstance(value, decimal.Decimal) and self.dialect == "sqlite":
            return float(value)
        return value

    # -- operands ---------------------------------------------------------------------------------------------
    def kind_of(self, node) -> str:
        if node[0] == "field":
            return self.field(node).kind
        if node[0] == "call" and node[1] == "today":
            return "date"
        if node[0] == "call" and node[1] == "len":
            return "number"
        return "any"

    def operand(self, node, other_kind: str) -> tuple[str, str | None]:
        """(value SQL, emptiness SQL or None when it is never empty); for a constant, bound once."""
        if self.constant(node):
            value = _eval(node, {}, self.today)
            if _empty(value):
                return "NULL", "(1 = 1)"
            return self.bind(self.literal_for(value, other_kind)), None
        tag = node[0]
        if tag == "field":
            f = self.field(node)
            self.refuse_many(node)
            if f.kind == "text" or f.kind == "any":
                return f.sql, f"({f.sql} IS NULL OR {f.sql} = '')"
            return f.sql, f"({f.sql} IS NULL)"
        if tag == "call" and node[1] == "len":
            arg = node[2][0]
            if arg[0] != "field":
                raise ExpressionError("len() in a report condition applies to a field", node[-1])
            f = self.field(arg)
            if f.many:
                sql = (f"json_array_length({f.sql})" if self.dialect == "sqlite"
                       else f"json_array_length(CAST({f.sql} AS json))")
            else:
                sql = f"LENGTH({f.sql})"
            return sql, f"({sql} IS NULL)"
        raise ExpressionError("a condition used as a value is not supported in a report condition", node[-1])

    # -- conditions -------------------------------------------------------------------------------------------
    def cond(self, node) -> str:
        if self.constant(node):
            value = _eval(node, {}, self.today)
            return self.truth_sql(None if value is None else bool(value))
        tag = node[0]
        if tag == "and":
            return "(" + " AND ".join(self.cond(i) for i in node[1]) + ")"
        if tag == "or":
            return "(" + " OR ".join(self.cond(i) for i in node[1]) + ")"
        if tag == "not":
            return f"(NOT {self.cond(node[1])})"
        if tag == "field":
            f = self.field(node)
            if f.kind not in ("bool", "any") or f.many:
                raise ExpressionError(f"{node[1]!r} is not a condition", node[-1])
            if self.dialect == "sqlite":
                return f"(CASE WHEN {f.sql} IS NULL THEN NULL ELSE {f.sql} <> 0 END)"
            return f"({f.sql})"
        if tag == "call":
            if node[1] != "empty":
                raise ExpressionError(f"{node[1]}() is not a condition", node[-1])
            arg = node[2][0]
            if arg[0] == "field" and self.field(arg).many:
                col = self.field(arg).sql
                return f"({col} IS NULL OR {col} = '' OR {col} = '[]')"
            _value, empty = self.operand(arg, "any")
            return empty or "(1 = 0)"
        if tag == "cmp":
            return self.compare(node)
        if tag == "in":
            return self.membership(node)
        raise AssertionError(tag)  # pragma: no cover

    def compare(self, node) -> str:
        op, a, b = node[1], node[2], node[3]
        if op in ("==", "!="):
            for x, y in ((a, b), (b, a)):
                # x == null / x != null on a multiple choice: whether it is empty
                if x[0] == "field" and self.field(x).many and self.constant(y) and _empty(_eval(y, {}, self.today)):
                    col = self.field(x).sql
                    empty = f"({col} IS NULL OR {col} = '' OR {col} = '[]')"
                    return empty if op == "==" else f"(NOT {empty})"
        ka, kb = self.kind_of(a), self.kind_of(b)
        va, ea = self.operand(a, kb)
        vb, eb = self.operand(b, ka)
        if self.dialect == "postgres" and "datetime" in (ka, kb) and "date" in (ka, kb):
            va = f"CAST({va} AS date)" if ka == "datetime" else va
            vb = f"CAST({vb} AS date)" if kb == "datetime" else vb
        if op in ("==", "!="):
            if ea == "(1 = 1)" or eb == "(1 = 1)":  # compared with null or an empty literal
                other = eb if ea == "(1 = 1)" else ea
                same = other or "(1 = 0)"
            elif ea is None or eb is None:  # one side is never empty: a missing value is simply not equal
                col = va if ea else vb
                if not (ea or eb):
                    same = f"COALESCE({va} = {vb}, 1 = 0)"
                elif op == "==":  # never NULL: false where the value is missing
                    return f"({col} IS NOT NULL AND {va} = {vb})"
                else:
                    return f"({col} IS NULL OR {va} <> {vb})"
            else:
                same = (f"(CASE WHEN {ea} OR {eb} THEN ({ea} AND {eb}) ELSE COALESCE({va} = {vb}, 1 = 0) END)")
            return same if op == "==" else f"(NOT {same})"
        if ea == "(1 = 1)" or eb == "(1 = 1)":
            return "NULL"
        guards = [e for e in (ea, eb) if e]
        test = f"{va} {_COMPARE[op]} {vb}"
        if guards:
            return f"(CASE WHEN {' OR '.join(guards)} THEN NULL ELSE {test} END)"
        return f"({test})"

    def membership(self, node) -> str:
        a, b, negated = node[1], node[2], node[3]
        if b[0] == "field":
            f = self.field(b)
            if not f.many:
                raise ExpressionError(f"'in' needs a list or a multiple-choice field; {b[1]!r} is neither", node[-1])
            self.refuse_many(a)
            find = "instr" if self.dialect == "sqlite" else "strpos"
            if self.constant(a):
                value = _eval(a, {}, self.today)
                if _empty(value):
                    found = f"(CASE WHEN {f.sql} IS NULL THEN NULL ELSE 1 = 0 END)"
                else:
                    # NULL where the list is missing, as the evaluator's unknown
                    mark = self.bind(json.dumps(str(value), ensure_ascii=False))
                    found = f"({find}({f.sql}, {mark}) > 0)"
            else:
                va, ea = self.operand(a, "text")
                empty = ea or "(1 = 0)"
                found = (f"(CASE WHEN {f.sql} IS NULL THEN NULL WHEN {empty} THEN 1 = 0 "
                         f"ELSE {find}({f.sql}, '\"' || {va} || '\"') > 0 END)")
            return f"(NOT {found})" if negated else found
        if b[0] != "list":
            raise ExpressionError("'in' needs a list or a multiple-choice field on its right", node[-1])
        ka = self.kind_of(a)
        va, ea = self.operand(a, "any")
        items = [i[1] for i in b[1] if i[1] is not None]
        if not items:
            found = "(1 = 0)"
        else:
            marks = ", ".join(self.bind(self.literal_for(v, ka)) for v in items)
            found = f"(NOT {ea} AND {va} IN ({marks}))" if ea else f"COALESCE({va} IN ({marks}), 1 = 0)"
        return f"(NOT {found})" if negated else found


def to_sql(expression: Expression, fields: Mapping[str, SqlField], *, today: dt.date,
           dialect: str) -> tuple[str, tuple]:
    """SQL (``{}`` placeholders) true exactly where ``expression.evaluate`` is True, false where it is False and
    NULL where it is unknown, with its arguments. ``dialect`` is "sqlite" or "postgres"."""
    c = _Compiler(fields, today, dialect)
    sql = c.cond(expression.tree)
    return sql, tuple(c.args)
