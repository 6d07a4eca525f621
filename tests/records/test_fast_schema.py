"""The fast schema check (``hoso.records.forms.fast_check``, fastjsonschema) never passes what the jsonschema
validator refuses: for every form of the reference deployment and of the test configuration, on instances made of
valid and faulty values of every kind (dates beside their bounds, unknown options, wrong types, child rows,
unknown fields), "fast says valid" implies "jsonschema finds no error"; and it does say valid of the records the
demo generator draws, so that the fast path is taken for ordinary writes."""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hoso.demo_data.generator import RecordGenerator
from hoso.fields import Registry
from hoso.jsonconv import schema_value
from hoso.plugin_manager import get_plugin_manager
from hoso.records.forms import CompiledForm, compile_form, fast_check
from tests.conftest import REPO
from tests.helpers import load_full_config

JUNK = st.one_of(st.none(), st.just(""), st.text(max_size=4), st.text(min_size=250, max_size=300),
                 st.integers(-3, 3), st.integers(10 ** 11, 10 ** 13), st.sampled_from([1.0, 1.5, -0.5, True, False]),
                 st.sampled_from(["2018-12-31", "2019-01-01", "2026-11-30", "2099-01-01", "2025-02-30",
                                  "2025-01-01T10:00:00", "2025-01-01T10:00:00+07:00", "31/12/2025"]),
                 st.lists(st.text(max_size=3), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(),
                                                                             max_size=2))


def _value(schema: dict) -> st.SearchStrategy:
    """Values for a property: faulty ones of every kind, and ones the schema's own options and shapes suggest."""
    options = list(schema.get("enum") or (schema.get("items") or {}).get("enum") or [])
    choices = [JUNK]
    if options:
        choices += [st.sampled_from(options), st.lists(st.sampled_from(options + ["nope"]), max_size=3)]
    for key in ("formatMinimum", "formatMaximum", "minimum", "maximum"):
        if key in schema:
            bound = schema[key]
            if key.startswith("format"):
                day = dt.date.fromisoformat(str(bound)[:10])
                choices.append(st.sampled_from([(day + dt.timedelta(days=d)).isoformat() for d in (-1, 0, 1)]))
            else:
                choices.append(st.sampled_from([bound - 1, bound, bound + 1]))
    items = schema.get("items") or {}
    if items.get("type") == "object":
        choices.append(st.lists(st.fixed_dictionaries({}, optional={
            name: _value(sub) for name, sub in (items.get("properties") or {}).items()}), max_size=2))
    return st.one_of(*choices)


def _forms() -> list[CompiledForm]:
    pm = get_plugin_manager()
    config = load_full_config(REPO)
    registry = Registry(pm)
    out = []
    for entity in config.entities:
        out.append(compile_form(config, entity, None, registry))
        out += [compile_form(config, entity, f, registry) for f in config.forms if f.entity == entity.name]
    return out


FORMS = _forms()


def test_every_reference_form_has_a_fast_check():
    assert FORMS and all(f._fast is not None for f in FORMS), [f.label for f in FORMS if f._fast is None]


def _filler(schema: dict):
    """A value the schema accepts, for a required field the generator leaves to the caller (unit, state)."""
    if schema.get("enum"):
        return schema["enum"][0]
    if schema.get("type") == "integer":
        return max(1, schema.get("minimum", 1))
    if schema.get("type") == "array":
        return []
    return "2025-01-02" if schema.get("format") == "date" else "x"


def _bases(form: CompiledForm, gen: RecordGenerator) -> list[dict]:
    """Records of the form's entity drawn by the demo generator, as the form's schema checks them, valid."""
    props, out = form.schema["properties"], []
    for values in gen.records(form.entity.name, 8):
        instance = {k: schema_value(v) for k, v in values.items()
                    if k in props and v not in (None, "", []) and not props[k].get("readOnly")}
        for name in form.schema.get("required", []):
            instance.setdefault(name, _filler(props[name]))
        if not list(form._validator.iter_errors(instance)):
            out.append(instance)
    return out


GEN = RecordGenerator(load_full_config(REPO), seed=5)
BASES = [(form, base) for form in FORMS for base in _bases(form, GEN)]


def test_most_reference_forms_have_valid_records_to_start_from():
    assert len({f.label for f, _b in BASES}) >= len(FORMS) // 2


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), which=st.integers(0, len(BASES) - 1))
def test_the_fast_check_passes_nothing_jsonschema_refuses(data, which):
    """A valid record with one to three values changed, each to a faulty or borderline one (or a field added that
    the schema does not know), is passed by the fast check only if jsonschema finds no error in it."""
    form, base = BASES[which]
    props = form.schema["properties"]
    instance = dict(base)
    for name in data.draw(st.lists(st.sampled_from([*props, "not_a_field"]), min_size=1, max_size=3)):
        if data.draw(st.booleans(), label="drop") and name in instance:
            del instance[name]
        else:
            instance[name] = data.draw(_value(props.get(name, {})), label=name)
    fast = fast_check(form.schema)
    assert fast is not None
    errors = list(form._validator.iter_errors(instance))
    if fast(instance):
        assert errors == [], (form.label, instance, [e.message for e in errors])


def test_records_the_generator_draws_take_the_fast_path():
    gen = RecordGenerator(load_full_config(REPO), seed=3)
    case = next(f for f in FORMS if f.entity.name == "case" and f.name is None)
    valid = 0
    for values in gen.records("case", 50):
        values = {"unit": 1, "status": "received", **values}  # given by the demo, not drawn
        instance = {k: schema_value(v) for k, v in values.items() if k in case.fields and v not in (None, "", [])}
        assert list(case._validator.iter_errors(instance)) == []
        valid += case._fast(instance)
    assert valid == 50


def test_dates_beside_their_bounds_are_judged_as_jsonschema_judges_them():
    """Every date field with a bound, in every valid record: the day before, the day itself and the day after
    (and a time on those days), at the top and in child rows."""
    seen = 0
    for form, base in BASES:
        for name, schema in form.schema["properties"].items():
            for key in ("formatMinimum", "formatMaximum"):
                if key not in schema:
                    continue
                day = dt.date.fromisoformat(str(schema[key])[:10])
                for d in (-1, 0, 1):
                    for value in ((day + dt.timedelta(days=d)).isoformat(), f"{day + dt.timedelta(days=d)}T09:00:00"):
                        instance = {**base, name: value}
                        refused = bool(list(form._validator.iter_errors(instance)))
                        assert form._fast(instance) is not refused, (form.label, name, value)
                        seen += refused
    assert seen >= 10, "some values were out of bounds"
