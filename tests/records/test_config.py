"""The configuration keys of forms, workflows, attachments and the calendar, and their cross-checks."""

from __future__ import annotations

import datetime as dt

import pytest

from hoso.config import ConfigErrors
from tests.records.conftest import CASE, INTAKE, WORKFLOW


def errors(cfg, rel, text) -> list[str]:
    cfg.write(rel, text)
    with pytest.raises(ConfigErrors) as exc:
        cfg.load()
    return [str(i) for i in exc.value.issues]


def test_the_records_configuration_loads(records_config):
    config = records_config.load()
    form = config.form("case_intake")
    assert form.field_options("procedural_stage").required_if == 'form_of_aid == "TGTT"'
    assert form.field_options("age").required is True
    assert form.rules[0].field == "age"
    case = config.entity("case")
    assert case.rules[0].rule == "ended_on >= received_on"
    assert case.attachment_limits("scan") == (1_000_000, ("application/pdf", "image/*"))
    assert case.attachment_limits("big_scan") == (60_000_000, ("application/pdf",))
    wf = next(config.workflows_for("case"))
    assert [(d.state, d.within, d.from_field) for d in wf.deadlines] == [
        ("received", "3 working days", "received_on"), ("ended", "30 days", "ended_on")]
    assert config.calendar.holidays[0].start == dt.date(2025, 1, 25)
    assert config.calendar.working_days == (dt.date(2025, 4, 26),)


def test_default_attachment_limit_is_2_gib(config_dir):
    case = config_dir.load().entity("case")
    assert case.attachment_limits("anything") == (2 * 1024 ** 3, ())


@pytest.mark.parametrize("old,new,expected", [
    ('visible_if: form_of_aid == "TGTT"', 'visible_if: form_of_aid == "TGT"',
     "forms_config/forms/case_intake.yaml:11:17: fields.procedural_stage.visible_if: invalid expression "
     "'form_of_aid == \"TGT\"': 'TGT' is not an option of field 'form_of_aid' (did you mean 'TGTT'?)"),
    ("rule: age >= 16 or", "rule: agee >= 16 or", "rules[0].rule: invalid expression"),
    ("    field: age\n", "    field: agee\n", "rules[0].field: unknown field 'agee' (did you mean 'age'?)"),
    ("  age: {required: true,", "  accepted_on: {required: true}\n  age: {required: true,",
     "fields.accepted_on: field 'accepted_on' is not in any section of this form"),
    ("required_if: form_of_aid", "requird_if: form_of_aid", "unknown key 'requird_if' (did you mean 'required_if'?)"),
    ("  age: {required: true,", "  requester: {visible_if: age > 3}\n  age: {required: true,",
     "fields.requester.visible_if: field 'requester' is required by entity 'case', so it cannot be hidden"),
    ("  - title: {vi: Người yêu cầu, en: Requester}\n", "  - title: {vi: Người yêu cầu, en: Requester}\n"
     "    visible_if: age > 3\n", "sections[1].visible_if: field 'requester' is required by entity 'case'"),
])
def test_form_mistakes(records_config, old, new, expected):
    assert old in INTAKE
    found = errors(records_config, "forms_config/forms/case_intake.yaml", INTAKE.replace(old, new))
    assert any(expected in e for e in found), found


@pytest.mark.parametrize("old,new,expected", [
    ("within: 3 working days", "within: three days", "deadlines.received.within: expected a period"),
    ("  received: {within", "  recieved: {within", "deadlines.recieved: unknown state 'recieved'"),
    ("from_field: ended_on}", "from_field: note}", "deadlines.ended.from_field: expected a date field; 'note' is a "
     "long_text field"),
    ("from_field: ended_on}", "from_field: nope}", "deadline names unknown field 'nope'"),
])
def test_workflow_mistakes(records_config, old, new, expected):
    assert old in WORKFLOW
    found = errors(records_config, "forms_config/workflows/case_lifecycle.yaml", WORKFLOW.replace(old, new))
    assert any(expected in e for e in found), found


def test_transition_names_are_unique_per_entity(records_config):
    second = WORKFLOW.replace("workflow: case_lifecycle", "workflow: case_review").replace(
        "state_field: status", "state_field: refusal_reason").replace(
        "states: [received, accepted, refused, ended, archived]", "states: [not_eligible, other]").replace(
        "initial: received", "initial: not_eligible")
    second = (second.split("transitions:")[0]
              + "transitions:\n  accept: {from: [not_eligible], to: other, label: {vi: X}}\n")
    found = errors(records_config, "forms_config/workflows/case_review.yaml", second)
    assert any("transition 'accept' is also defined by workflow 'case_lifecycle'" in e for e in found), found


@pytest.mark.parametrize("old,new,expected", [
    ("max_size: 1MB", "max_size: lots", "attachments.max_size: expected a size such as"),
    ("types: [application/pdf, image/*]", "types: [pdf]", "attachments.types[0]: expected a media type"),
    ("    big_scan: {max_size", "    note: {max_size", "attachments.fields.note: 'note' is a long_text field, not an "
     "attachment field"),
    ("  - rule: ended_on >= received_on", "  - rule: ended_on >= 3", "rules[0].rule: invalid expression"),
])
def test_entity_mistakes(records_config, old, new, expected):
    assert old in CASE
    found = errors(records_config, "forms_config/entities/case.yaml", CASE.replace(old, new))
    assert any(expected in e for e in found), found


@pytest.mark.parametrize("text,expected", [
    ("calendar:\n  holidays:\n    - {date: '2025-02-30'}\n",
     "calendar.holidays[0].date: expected a date as YYYY-MM-DD"),
    ("calendar:\n  holidays:\n    - {date: '2025-02-03', to: '2025-02-01'}\n", "the holiday ends (2025-02-01) before"),
    ("calendar:\n  weekend: [sundy]\n", "calendar.weekend[0]: expected one of"),
    ("calendar:\n  holiday: []\n", "unknown key 'holiday' (did you mean 'holidays'?)"),
])
def test_calendar_mistakes(records_config, text, expected):
    found = errors(records_config, "forms_config/calendar.yaml", text)
    assert any(expected in e for e in found), found
