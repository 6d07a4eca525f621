"""Each kind of invalid payload is refused with the field named, in the user's language, and nothing is
written; forms add conditions and rules; a record keeps the form version it was saved under."""

from __future__ import annotations

import pytest

from hoso.records.service import Forbidden, ValidationError


async def refused(w, payload, ctx, form=None) -> list[tuple[str, str]]:
    before = (await w.count(), await w.count("hoso_audit", "WHERE entity = 'case'"), await w.count("case__hearings"))
    with pytest.raises(ValidationError) as exc:
        await w.svc.create("case", payload, ctx, form=form)
    after = (await w.count(), await w.count("hoso_audit", "WHERE entity = 'case'"), await w.count("case__hearings"))
    assert after == before, "nothing may be written"
    return exc.value.problems


async def test_a_valid_case_is_created_with_its_code_state_and_form_version(world):
    w = world
    rec = await w.svc.create("case", w.case(hearings=[{"held_on": "2025-04-01", "court": "TAND"}]), w.ctx("staff"))
    assert rec["code"] == "TT.TV.01.2025"
    assert rec["status"] == "received"
    assert rec["sys_version"] == 1 and rec["sys_created_by"] == w.users["staff"]
    assert rec["hearings"][0]["court"] == "TAND"
    assert rec["sys_form_version"] == w.svc.form("case").version
    assert "secret_note" not in rec, "a field hidden from the actor is not returned"


@pytest.mark.parametrize("payload_change,field,vi,en", [
    ({"age": "forty"}, "age", "giá trị không hợp lệ", "expected a whole number"),
    ({"received_on": 20250303}, "received_on", "giá trị không hợp lệ", "expected a date"),
    ({"hearings": "2025-01-01"}, "hearings", "giá trị không hợp lệ", "expected a list of rows"),
    ({"colour": "red"}, "colour", "trường không tồn tại", "is not a field of this record"),
    ({"hearings": [{"held_on": "2025-04-01", "judge": "X"}]}, "hearings[0].judge", "trường không tồn tại",
     "is not a field"),
    ({"requester": None}, "requester", "bắt buộc nhập", "is required"),
    ({"hearings": [{"court": "TAND"}]}, "hearings[0].held_on", "bắt buộc nhập", "is required"),
    ({"form_of_aid": "XX"}, "form_of_aid", "không có trong danh sách", "is not one of the options"),
    ({"beneficiary_groups": ["TE", "ZZ"]}, "beneficiary_groups", "không có trong danh sách", "'ZZ' is not one of"),
    ({"requester": "x" * 101}, "requester", "không được quá 100 ký tự", "at most 100 characters"),
    ({"age": 200}, "age", "không được lớn hơn 130", "must be at most 130"),
    ({"received_on": "2018-12-31"}, "received_on", "phải từ 2019-01-01", "must be at least 2019-01-01"),
    ({"ended_on": "2025-03-01"}, "ended_on", "Ngày kết thúc không được trước", "The end date cannot be before"),
    ({"unit": 999999}, "unit", "không tìm thấy", "does not exist"),
    ({"status": "ended"}, "status", "quy trình", "changes only through the workflow"),
    ({"code": "X.1"}, "code", "mã do hệ thống cấp", "given by the naming series"),
    ({"scan": 1}, "scan", "tải lên riêng", "uploaded separately"),
])
async def test_invalid_payloads_are_refused_naming_the_field(world, payload_change, field, vi, en):
    w = world
    payload = w.case(**payload_change)
    problems = await refused(w, payload, w.ctx("staff", lang="vi"))
    assert [f for f, _m in problems] == [field], problems
    assert vi in problems[0][1]
    problems = await refused(w, payload, w.ctx("staff", lang="en"))
    assert en in problems[0][1], problems


async def test_every_problem_is_reported_at_once(world):
    w = world
    problems = await refused(w, w.case(age="x", form_of_aid="XX", requester=None, colour=1), w.ctx("staff"))
    assert {f for f, _m in problems} == {"age", "form_of_aid", "requester", "colour"}


async def test_out_of_scope_reference_and_unit_are_refused_naming_the_field(world):
    w = world
    # A performer of province two, readable by its own staff but not by centre one's.
    theirs = await w.svc.create("performer", {"name": "Lê Thị Ba", "unit": w.units["TT3"]}, w.ctx("other"))
    mine = await w.svc.create("performer", {"name": "Trần Văn Hai", "unit": w.units["TT"]}, w.ctx("staff"))
    problems = await refused(w, w.case(performer=theirs["id"]), w.ctx("staff"))
    assert problems == [("performer", f"record {theirs['id']} does not exist")]
    assert (await w.svc.create("case", w.case(performer=mine["id"]), w.ctx("staff")))["performer"] == mine["id"]
    # A unit outside the actor's units: refused naming the unit, the naming series gives its number back.
    problems = await refused(w, w.case(unit="TT3"), w.ctx("staff"))
    assert problems == [("unit", "is outside the units you work for")]
    assert (await w.svc.create("case", w.case(unit="TT3"), w.ctx("other")))["code"] == "TT3.TV.01.2025"
    # A deleted performer cannot be referenced any more.
    await w.svc.delete("performer", mine["id"], "duplicate", 1, w.ctx("director"))
    problems = await refused(w, w.case(performer=mine["id"]), w.ctx("staff"))
    assert [f for f, _m in problems] == ["performer"]


async def test_users_without_a_create_grant_are_forbidden(world):
    w = world
    for user in ("nobody", "clerk"):
        with pytest.raises(Forbidden):
            await w.svc.create("case", w.case(), w.ctx(user))
    assert await w.count() == 0


async def test_form_conditions_and_rules(world):
    w = world
    ctx = w.ctx("staff")
    # procedural_stage is shown (and required) only for participation in proceedings.
    problems = await refused(w, w.case(procedural_stage="trial"), ctx, form="case_intake")
    assert problems == [("procedural_stage", 'does not apply here (form_of_aid == "TGTT")')]
    problems = await refused(w, w.case(form_of_aid="TGTT"), ctx, form="case_intake")
    assert problems == [("procedural_stage", "is required")]
    # Required on this form only; a rule of this form; fields that are not on the form.
    problems = await refused(w, w.case(age=None), ctx, form="case_intake")
    assert problems == [("age", "is required")]
    problems = await refused(w, w.case(form_of_aid="TGTT", procedural_stage="trial", age=12), ctx, form="case_intake")
    assert problems == [("age", "A requester under 16 needs a representative")]
    problems = await refused(w, w.case(accepted_on="2025-03-04"), ctx, form="case_intake")
    assert problems == [("accepted_on", "is not a field of form case_intake")]
    problems = await refused(w, w.case(), ctx, form="no_such_form")
    assert problems == [("form", "there is no form 'no_such_form' for this entity")]
    rec = await w.svc.create("case", w.case(form_of_aid="TGTT", procedural_stage="trial"), ctx, form="case_intake")
    assert rec["sys_form_version"] == w.svc.form("case", "case_intake").version
    # Without a form the entity's own rules still hold, and so do the forms' field conditions (they describe the
    # record, whichever screen writes it); a form's own `required` does not.
    problems = await refused(w, w.case(procedural_stage="trial"), ctx)
    assert problems == [("procedural_stage", 'does not apply here (form_of_aid == "TGTT")')]
    assert (await w.svc.create("case", w.case(age=None), ctx))["age"] is None


async def test_update_validates_the_merged_record(world):
    w = world
    rec = await w.svc.create("case", w.case(), w.ctx("staff"))
    with pytest.raises(ValidationError) as exc:
        await w.svc.update("case", rec["id"], {"ended_on": "2025-01-01"}, 1, w.ctx("staff", lang="vi"))
    assert exc.value.problems == [("ended_on", "Ngày kết thúc không được trước ngày tiếp nhận")]
    with pytest.raises(ValidationError) as exc:
        await w.svc.update("case", rec["id"], {"requester": ""}, 1, w.ctx("staff"))
    assert exc.value.problems == [("requester", "is required")]
    assert (await w.svc.get("case", rec["id"], w.ctx("staff")))["sys_version"] == 1


async def test_retired_option_kept_on_update_but_not_chosen_anew(world):
    w = world
    rec = await w.svc.create("case", w.case(), w.system)
    # Stored before the option was retired (written directly, as an old record would be).
    await w.rt.db.execute("UPDATE \"case\" SET refusal_reason = 'old_reason' WHERE id = {}", rec["id"])
    updated = await w.svc.update("case", rec["id"], {"note": "still editable"}, 1, w.ctx("staff"))
    assert updated["refusal_reason"] == "old_reason" and updated["sys_version"] == 2
    with pytest.raises(ValidationError) as exc:
        await w.svc.create("case", w.case(refusal_reason="old_reason"), w.ctx("staff"))
    assert [f for f, _m in exc.value.problems] == ["refusal_reason"]


async def test_records_stay_readable_and_editable_after_the_form_changes(world, records_config):
    from tests.helpers import remigrate
    from tests.records.conftest import INTAKE

    w = world
    old = await w.svc.create("case", w.case(note="cũ"), w.ctx("staff"), form="case_intake")
    v1 = old["sys_form_version"]
    # The form drops the note and makes beneficiary groups required.
    changed = INTAKE.replace("fields: [requester, age, note, hearings]", "fields: [requester, age, hearings]")
    changed = changed.replace("  age: {required: true,",
                              "  beneficiary_groups: {required: true}\n  age: {required: true,")
    records_config.write("forms_config/forms/case_intake.yaml", changed)
    _plan, rt2 = await remigrate(w.rt, records_config.load())
    svc2 = rt2.records()
    ctx = w.ctx("staff")
    ctx = type(ctx)(rt2.config, ctx.user_id, ctx.user_name, ctx.origin, ctx.lang)
    v2 = svc2.form("case", "case_intake").version
    assert v2 != v1
    rec = await svc2.get("case", old["id"], ctx)
    assert rec["note"] == "cũ" and rec["sys_form_version"] == v1, "read as saved, with its form version"
    assert (await svc2.form_definition(v1))["schema"]["properties"]["note"]["x-label"]["en"] == "Note"
    # Editing through the new form: the new requirement applies, the old field is no longer on the form.
    with pytest.raises(ValidationError) as exc:
        await svc2.update("case", old["id"], {"requester": "An"}, 1, ctx, form="case_intake")
    assert exc.value.problems == [("beneficiary_groups", "is required")]
    with pytest.raises(ValidationError) as exc:
        await svc2.update("case", old["id"], {"note": "x", "beneficiary_groups": ["TE"]}, 1, ctx, form="case_intake")
    assert exc.value.problems == [("note", "is not a field of form case_intake")]
    rec = await svc2.update("case", old["id"], {"beneficiary_groups": ["TE"]}, 1, ctx, form="case_intake")
    assert rec["sys_form_version"] == v2 and rec["note"] == "cũ" and rec["sys_version"] == 2


async def test_form_definition_is_a_json_schema_with_the_layout(world):
    import jsonschema

    d = world.svc.form("case", "case_intake").definition()
    jsonschema.Draft202012Validator.check_schema(d["schema"])
    props = d["schema"]["properties"]
    assert list(props) == ["unit", "received_on", "form_of_aid", "procedural_stage", "beneficiary_groups", "requester",
                           "age", "note", "hearings"]
    assert props["procedural_stage"]["x-visible-if"] == 'form_of_aid == "TGTT"'
    assert props["procedural_stage"]["x-help"]["en"] == "Only for participation in proceedings"
    assert props["age"]["x-label"] == {"vi": "Tuổi người yêu cầu", "en": "Requester's age"}
    assert props["form_of_aid"]["enum"] == ["TV", "TGTT"]
    assert "age" in d["schema"]["required"] and "procedural_stage" not in d["schema"]["required"]
    assert d["sections"][0]["title"] == {"vi": "Tiếp nhận", "en": "Receipt"}
    assert [r["field"] for r in d["rules"]] == ["ended_on", "age"]  # the entity's rules, then the form's
