"""Rules that hold for every write, whatever form or screen: the field conditions of the entity's forms, the unit
types an org_unit field accepts, and the workflow's read-only states."""

from __future__ import annotations

import pytest

from hoso.records.errors import ReadOnlyState, ValidationError
from tests.records.conftest import CASE, WORKFLOW
from tests.records.test_config import errors


def test_unit_types_and_read_only_states_name_what_exists(records_config):
    records_config.write("forms_config/entities/case.yaml", CASE)
    records_config.write("forms_config/workflows/case_lifecycle.yaml", WORKFLOW)
    found = errors(records_config, "forms_config/entities/case.yaml", CASE.replace(
        "unit: {type: org_unit, required: true,",
        "unit: {type: org_unit, required: true, unit_types: [centre, centr],"))
    assert any("unit_types[1]" in e and "unknown unit type 'centr'" in e and "did you mean 'centre'" in e
               for e in found), found
    records_config.write("forms_config/entities/case.yaml", CASE)
    found = errors(records_config, "forms_config/entities/case.yaml", CASE.replace(
        "age: {type: integer,", "age: {type: integer, unit_types: [centre],"))
    assert any("'unit_types' applies only to org_unit fields" in e for e in found), found
    records_config.write("forms_config/entities/case.yaml", CASE)
    found = errors(records_config, "forms_config/workflows/case_lifecycle.yaml",
                    WORKFLOW.replace("initial: received", "initial: received\nread_only_states: [archivd]"))
    assert any("read_only_states[0]" in e and "unknown state 'archivd'" in e for e in found), found


@pytest.fixture
def records_config(records_config):
    """The records configuration with cases filed at centres only and archived cases read-only."""
    records_config.write("forms_config/entities/case.yaml", CASE.replace(
        "unit: {type: org_unit, required: true,", "unit: {type: org_unit, required: true, unit_types: [centre],"))
    records_config.write("forms_config/workflows/case_lifecycle.yaml",
                         WORKFLOW.replace("initial: received", "initial: received\nread_only_states: [archived]"))
    return records_config


async def test_the_intake_conditions_hold_without_naming_the_form(world):
    w = world
    with pytest.raises(ValidationError) as exc:
        await w.svc.create("case", w.case(form_of_aid="TGTT"), w.ctx("staff"))  # no form named
    assert "procedural_stage" in [f for f, _m in exc.value.problems]
    with pytest.raises(ValidationError) as exc:
        await w.svc.create("case", w.case(procedural_stage="trial"), w.ctx("staff"))
    assert "procedural_stage" in [f for f, _m in exc.value.problems]
    assert (await w.svc.create("case", w.case(form_of_aid="TGTT", procedural_stage="trial"), w.ctx("staff")))["id"]


async def test_unit_types_and_read_only_states_are_enforced(world):
    w = world
    director = w.ctx("director")
    with pytest.raises(ValidationError) as exc:
        await w.svc.create("case", w.case(unit="P01"), director)
    assert exc.value.problems == [("unit", "must be a unit of type: Trung tâm")]
    rec = await w.svc.create("case", w.case(), director)
    rec = await w.svc.transition("case", rec["id"], "refuse", {"refused_on": "2025-03-04",
                                                               "refusal_reason": "other"}, 1, director)
    rec = await w.svc.transition("case", rec["id"], "archive", {}, rec["sys_version"], director)
    version = rec["sys_version"]
    with pytest.raises(ReadOnlyState):
        await w.svc.update("case", rec["id"], {"note": "x"}, version, director)
    with pytest.raises(ReadOnlyState):
        await w.svc.delete("case", rec["id"], "nhập trùng", version, director)

    async def chunks():
        yield b"%PDF-1.7 test"

    with pytest.raises(ReadOnlyState):
        await w.svc.upload("case", rec["id"], "scan", "a.pdf", "application/pdf", chunks(), director)
    assert (await w.svc.get("case", rec["id"], director))["sys_version"] == version


def test_today_is_vietnams_date_whatever_the_servers_zone(records_config, monkeypatch):
    import datetime as real
    import types

    from hoso import i18n as clock_module
    from hoso.records.service import RecordContext

    class Evening(real.datetime):  # 20:00 UTC on 1 May is 03:00 on 2 May in Hà Nội
        @classmethod
        def now(cls, tz=None):
            return real.datetime(2026, 5, 1, 20, 0, tzinfo=real.UTC).astimezone(tz)

    monkeypatch.setattr(clock_module, "dt", types.SimpleNamespace(**{**vars(real), "datetime": Evening}))
    ctx = RecordContext.system(records_config.load())
    assert ctx.today == real.date(2026, 5, 2)
    assert RecordContext(ctx.config, on=real.date(2020, 1, 1)).today == real.date(2020, 1, 1)


def test_a_step_moves_records_only_through_an_org_unit_field(records_config):
    step = "archive: {from: [ended, refused], to: archived, label: {vi: Lưu trữ, en: archive}"
    assert step in WORKFLOW
    found = errors(records_config, "forms_config/workflows/case_lifecycle.yaml",
                   WORKFLOW.replace(step, step + ", moves_to: age"))
    assert any("moves_to" in e and "expected an org_unit field; 'age' is an integer field" in e for e in found), found
    found = errors(records_config, "forms_config/workflows/case_lifecycle.yaml",
                   WORKFLOW.replace(step, step + ", moves_to: transferred_too"))
    assert any("moves_to" in e and "transferred_too" in e for e in found), found
    records_config.write("forms_config/workflows/case_lifecycle.yaml",
                         WORKFLOW.replace(step, step + ", moves_to: transferred_to"))
    (workflow,) = records_config.load().workflows_for("case")
    archive = workflow.transition("archive")
    assert archive.moves_to == "transferred_to"
