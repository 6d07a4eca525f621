"""Properties of the checks that could disclose a value: rules and conditions over a field hidden from the
writer, and citizen IDs (one spelling, ASCII digits), each against a plain-Python oracle."""

from __future__ import annotations

import datetime as dt
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hoso.i18n import t
from hoso.plugins.fields import BUILTIN_TYPES
from hoso.records.forms import FormCache

# In the intake form of tests/records: the entity rule ``ended_on >= received_on``, the form rule
# ``age >= 16 or form_of_aid != "TGTT"`` and ``procedural_stage`` visible and required if form_of_aid is TGTT.
HIDDEN = frozenset({"ended_on", "form_of_aid"})
# The visible fields whose checks involve a hidden one.
TIED_TO_HIDDEN = {"received_on": "ended_on", "age": "form_of_aid", "procedural_stage": "form_of_aid"}

dates = st.dates(dt.date(2019, 1, 1), dt.date(2030, 12, 31))


@pytest.fixture
def intake(records_config):
    config = records_config.load()
    return FormCache(config).get(config.entity("case"), "case_intake").for_writer(HIDDEN)


def test_updates_answer_the_same_whatever_the_hidden_values(intake):
    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(hidden_a=st.tuples(st.none() | dates, st.sampled_from(["TV", "TGTT"])),
           hidden_b=st.tuples(st.none() | dates, st.sampled_from(["TV", "TGTT"])),
           received=dates, new_received=dates, age=st.integers(0, 130), new_age=st.integers(0, 130),
           stage=st.sampled_from([None, "trial"]), new_stage=st.sampled_from([None, "trial", "investigation"]))
    def check(hidden_a, hidden_b, received, new_received, age, new_age, stage, new_stage):
        visible = {"unit": 1, "requester": "An", "status": "received", "received_on": received, "age": age,
                   "procedural_stage": stage}
        changes = {"received_on": new_received, "age": new_age, "procedural_stage": new_stage}
        answers = []
        for ended_on, form_of_aid in (hidden_a, hidden_b):
            previous = {**visible, "ended_on": ended_on, "form_of_aid": form_of_aid}
            answers.append(intake.check({**previous, **changes}, "en", previous))
        assert answers[0] == answers[1]
        # the oracle: exactly the visible fields tied to a hidden one that the update changes are refused
        changed = [f for f in TIED_TO_HIDDEN if changes[f] != visible[f]]
        assert sorted(answers[0]) == sorted((f, t("rule_over_hidden", "en")) for f in changed)

    check()


def test_a_create_names_no_hidden_field(intake):
    # on a create the hidden fields hold their defaults: the rule is checked, its message names none of them
    values = {"unit": 1, "requester": "An", "status": "received", "received_on": dt.date(2025, 3, 3), "age": 12,
              "form_of_aid": "TGTT", "procedural_stage": "trial"}
    problems = intake.check(values, "en")
    assert problems == [("age", t("rule_failed_hidden", "en"))]
    assert "form_of_aid" not in str(problems) and "TGTT" not in str(problems)
    # a writer who sees every field gets the rule's own message
    whole = intake.for_writer(set())
    assert whole.check(values, "en") == [("age", "A requester under 16 needs a representative")]


CITIZEN_ID = next(ft for ft in BUILTIN_TYPES if ft.name == "citizen_id")
# Digits of several scripts: ASCII, fullwidth, Arabic-Indic, Devanagari, mathematical bold (NFKC -> ASCII).
DIGITS = "0123456789" "０１２３４５６７８９" "٠١٢٣٤٥٦٧٨٩" "०१२३४५६७८९" "𝟎𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖𝟗"


@settings(max_examples=500, deadline=None)
@given(st.text(st.sampled_from(DIGITS + " x-"), min_size=0, max_size=14)
       | st.text(st.sampled_from(DIGITS), min_size=12, max_size=12))
def test_citizen_ids_are_ascii_digits_in_one_spelling(raw):
    normal = unicodedata.normalize("NFKC", raw).strip()
    expected = normal if len(normal) == 12 and all(c in "0123456789" for c in normal) else None
    try:
        got = CITIZEN_ID.parse(None, raw)
    except ValueError as exc:
        assert expected is None, (raw, exc)
        assert "12 digits" in str(exc)
    else:
        assert got == expected and got.isascii()
