"""The condition language: parsed and evaluated by its own interpreter, checked against the entity, safe."""

from __future__ import annotations

import datetime as dt
import decimal

import pytest

from hoso.config.conditions import ExpressionError, FieldInfo, compile_expression

FIELDS = {
    "form_of_aid": FieldInfo("text", ("TV", "TGTT")),
    "received_on": FieldInfo("date"), "ended_on": FieldInfo("date"),
    "groups": FieldInfo("list", ("TE", "NN")), "urgent": FieldInfo("bool"), "age": FieldInfo("number"),
    "name": FieldInfo("text"), "at": FieldInfo("datetime"),
}
D = dt.date


@pytest.mark.parametrize("text,values,expected", [
    ('form_of_aid == "TGTT"', {"form_of_aid": "TGTT"}, True),
    ("form_of_aid == 'TGTT'", {"form_of_aid": "TV"}, False),
    ('form_of_aid != "TGTT"', {}, True),
    ("ended_on >= received_on", {"ended_on": D(2025, 1, 2), "received_on": D(2025, 1, 1)}, True),
    ("ended_on >= received_on", {"ended_on": D(2024, 1, 2), "received_on": D(2025, 1, 1)}, False),
    ("ended_on >= received_on", {"received_on": D(2025, 1, 1)}, None),  # unknown: rules do not fire
    ('received_on < "2025-01-01"', {"received_on": D(2024, 12, 31)}, True),
    ('"TE" in groups', {"groups": ["TE", "NN"]}, True),
    ('"TE" not in groups', {"groups": ["NN"]}, True),
    ('"TE" in groups', {}, None),
    ('form_of_aid in ["TV", "TGTT"]', {"form_of_aid": "TV"}, True),
    ("not urgent", {"urgent": False}, True),
    ("not urgent", {}, None),
    ("urgent or age >= 18", {"urgent": False, "age": 20}, True),
    ("urgent or age >= 18", {"urgent": True}, True),
    ("urgent and age >= 18", {"urgent": False}, False),
    ("urgent and age >= 18", {"urgent": True}, None),
    ("age >= 16.5", {"age": decimal.Decimal("17")}, True),
    ("age > -1", {"age": 0}, True),
    ("name == null", {"name": ""}, True),
    ("empty(groups)", {"groups": []}, True),
    ("len(name) > 3", {"name": "Hoa"}, False),
    ("received_on <= today()", {"received_on": D(2000, 1, 1)}, True),
    ('at >= "2025-01-01"', {"at": dt.datetime(2025, 1, 1, 8, tzinfo=dt.UTC)}, True),
    ('(form_of_aid == "TGTT" and age < 16) or (form_of_aid == "TV")', {"form_of_aid": "TGTT", "age": 12}, True),
])
def test_evaluation(text, values, expected):
    assert compile_expression(text, FIELDS).evaluate(values, today=D(2025, 6, 1)) is expected


@pytest.mark.parametrize("text,message", [
    ('__import__("os")', "unknown function '__import__'"),
    ('__import__("os").system("x")', "unexpected character '.'"),
    ("form_of_aid.__class__", "unexpected character '.'"),
    ("open('/etc/passwd')", "unknown function 'open'"),
    ('form_of_aid == "TGT"', "'TGT' is not an option of field 'form_of_aid' (did you mean 'TGTT'?)"),
    ("form_of_ad == 1", "unknown field 'form_of_ad' (did you mean 'form_of_aid'?)"),
    ("age", "expected a condition (true or false); found a number; to test that it is filled in, write age != null"),
    ('age > "ten"', "cannot compare a number with text"),
    ('received_on > "soon"', "expected a date as YYYY-MM-DD; found 'soon'"),
    ("age > null", "cannot compare with null"),
    ("urgent > true", "> does not apply to true/false"),
    ("age in 3", "'in' needs a list or a multiple-choice field"),
    ("age in [1, \"a\"]", "cannot look for a number in a list holding text"),
    ("len(age) > 1", "len() applies to text and lists"),
    ("today(1) == received_on", "today() takes 0 arguments"),
    ("age ==", "expected a value, a field name or '('"),
    ("(age > 1", "expected ')'"),
    ("age > 1 age", "unexpected 'age'"),
    ("", "the expression is empty"),
    ("[age] == 1", "a list holds literal values only"),
    ("not " * 30 + "urgent", "nests more than 20 levels"),
    ("a" * 501, "longer than 500 characters"),
])
def test_mistakes_are_explained(text, message):
    with pytest.raises(ExpressionError) as exc:
        compile_expression(text, FIELDS)
    assert message in str(exc.value)


def test_fields_used_are_listed():
    e = compile_expression('form_of_aid == "TGTT" and ("TE" in groups or age > 3)', FIELDS)
    assert e.fields == {"form_of_aid", "groups", "age"}
    assert str(e) == 'form_of_aid == "TGTT" and ("TE" in groups or age > 3)'
    assert compile_expression("x == 1").fields == {"x"}, "without field information names are not checked"
