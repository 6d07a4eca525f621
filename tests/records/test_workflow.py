"""Workflow transitions: roles from grants, states, required fields, guards and side effects, history,
deadlines with a holiday calendar and overdue lists; the reference legal-aid lifecycle fits."""

from __future__ import annotations

import datetime as dt

import pytest

from hoso.records.service import Forbidden, InvalidTransition, NotFound, RecordContext, StaleVersion, ValidationError
from tests.helpers import migrated_runtime
from tests.plugins import postcode


async def test_transition_with_required_fields_stamps_history(world):
    w = world
    rec = await w.svc.create("case", w.case(), w.ctx("staff"))
    with pytest.raises(ValidationError) as exc:
        await w.svc.transition("case", rec["id"], "accept", {}, 1, w.ctx("staff"))
    assert exc.value.problems == [("accepted_on", "is required to accept")]
    with pytest.raises(ValidationError) as exc:
        await w.svc.transition("case", rec["id"], "accept", {}, 1, w.ctx("staff", lang="vi"))
    assert exc.value.problems == [("accepted_on", "bắt buộc nhập để Thụ lý")]
    accepted = await w.svc.transition("case", rec["id"], "accept", {"accepted_on": "2025-03-04"}, 1,
                                      w.ctx("staff", origin="192.0.2.7"))
    assert accepted["status"] == "accepted" and accepted["sys_version"] == 2
    assert accepted["sys_updated_by"] == w.users["staff"]
    # the client address is for superusers and national account managers (see test_audit)
    steps = await w.svc.transition_history("case", rec["id"], w.system)
    assert len(steps) == 1
    step = steps[0]
    assert (step["transition"], step["from"], step["to"], step["actor"], step["origin"]) == (
        "accept", "received", "accepted", "staff", "192.0.2.7")
    assert isinstance(step["at"], dt.datetime)
    entry = (await w.svc.history("case", rec["id"], w.ctx("director")))[-1]
    assert entry["action"] == "transition"
    assert entry["changes"] == {"status": ["received", "accepted"], "accepted_on": [None, "2025-03-04"]}
    assert entry["detail"] == {"transition": "accept", "workflow": "case_lifecycle"}


async def test_a_role_not_allowed_is_forbidden(world):
    w = world
    rec = await w.svc.create("case", w.case(), w.ctx("staff"))
    await w.svc.transition("case", rec["id"], "accept", {"accepted_on": "2025-03-04"}, 1, w.ctx("staff"))
    with pytest.raises(Forbidden):  # staff's role grants accept and refuse, not end
        await w.svc.transition("case", rec["id"], "end", {"ended_on": "2025-04-01"}, 2, w.ctx("staff"))
    with pytest.raises(Forbidden):  # clerk may update but no transition at all
        await w.svc.transition("case", rec["id"], "end", {"ended_on": "2025-04-01"}, 2, w.ctx("clerk"))
    with pytest.raises(NotFound):  # another province's staff cannot even see it
        await w.svc.transition("case", rec["id"], "end", {"ended_on": "2025-04-01"}, 2, w.ctx("other"))
    assert (await w.svc.get("case", rec["id"], w.ctx("staff")))["status"] == "accepted"
    ended = await w.svc.transition("case", rec["id"], "end", {"ended_on": "2025-04-01"}, 2, w.ctx("director"))
    assert ended["status"] == "ended"


async def test_wrong_state_stale_version_unknown_step_and_direct_state_edits(world):
    w = world
    rec = await w.svc.create("case", w.case(), w.ctx("director"))
    with pytest.raises(InvalidTransition) as exc:
        await w.svc.transition("case", rec["id"], "end", {"ended_on": "2025-04-01"}, 1, w.ctx("director"))
    assert exc.value.state == "received" and exc.value.allowed_from == ("accepted",)
    with pytest.raises(StaleVersion):
        await w.svc.transition("case", rec["id"], "accept", {"accepted_on": "2025-03-04"}, 9, w.ctx("director"))
    with pytest.raises(ValidationError) as exc:
        await w.svc.transition("case", rec["id"], "approve", {}, 1, w.ctx("director"))
    assert exc.value.problems == [("transition", "there is no step 'approve'")] or \
        exc.value.problems[0][0] == "transition"
    with pytest.raises(ValidationError) as exc:
        await w.svc.update("case", rec["id"], {"status": "accepted"}, 1, w.ctx("director"))
    assert exc.value.problems == [("status", "changes only through the workflow's steps")]
    # The transition's fields are validated like an update (the entity rule on ended_on).
    acc = await w.svc.transition("case", rec["id"], "accept", {"accepted_on": "2025-03-04"}, 1, w.ctx("director"))
    with pytest.raises(ValidationError) as exc:
        await w.svc.transition("case", rec["id"], "end", {"ended_on": "2025-01-01"}, acc["sys_version"],
                               w.ctx("director"))
    assert [f for f, _m in exc.value.problems] == ["ended_on"]


async def test_refusal_reasons_and_available_steps(world):
    w = world
    rec = await w.svc.create("case", w.case(), w.ctx("staff"))
    steps = await w.svc.available_transitions("case", rec["id"], w.ctx("staff"))
    assert [s["name"] for s in steps] == ["accept", "refuse"]
    assert steps[1]["requires"] == ["refused_on", "refusal_reason"]
    assert await w.svc.available_transitions("case", rec["id"], w.ctx("clerk")) == []
    with pytest.raises(ValidationError) as exc:
        await w.svc.transition("case", rec["id"], "refuse",
                               {"refused_on": "2025-03-04", "refusal_reason": "old_reason"}, 1, w.ctx("staff"))
    assert [f for f, _m in exc.value.problems] == ["refusal_reason"], "a retired option is not chosen anew"
    refused = await w.svc.transition("case", rec["id"], "refuse",
                                     {"refused_on": "2025-03-04", "refusal_reason": "not_eligible"}, 1, w.ctx("staff"))
    assert refused["status"] == "refused"


async def test_plugin_guard_refuses_and_side_effect_runs_in_the_transaction(records_config, database_url):
    from hoso.hookspecs import hookimpl

    class Failing:
        @hookimpl
        def hoso_transition_done(self, entity, workflow, transition, record, context, db):
            if transition.name == "archive":
                raise RuntimeError("the archive service is down")

    postcode.TRANSITIONS.clear()
    rt = await migrated_runtime(records_config.load(), database_url, plugins=[postcode, Failing()])
    try:
        svc = rt.records()
        ctx = RecordContext.system(rt.config)
        unit = await rt.db.fetchval("SELECT id FROM hoso_unit WHERE code = 'TT'")
        rec = await svc.create("case", {"received_on": "2025-03-03", "form_of_aid": "TV", "requester": "An",
                                        "unit": unit, "note": "blocked by court order"}, ctx)
        rec = await svc.transition("case", rec["id"], "accept", {"accepted_on": "2025-03-04"}, 1, ctx)
        assert postcode.TRANSITIONS == [("case", "accept", rec["id"], "accepted")]
        with pytest.raises(ValidationError) as exc:
            await svc.transition("case", rec["id"], "end", {"ended_on": "2025-04-01"}, 2, ctx)
        assert exc.value.problems == [("status", "this case is blocked by the test plugin")]
        rec = await svc.transition("case", rec["id"], "end", {"ended_on": "2025-04-01", "note": "ok"}, 2, ctx)
        assert rec["status"] == "ended" and len(postcode.TRANSITIONS) == 2
        # A side effect that fails undoes the transition and its audit entry.
        with pytest.raises(RuntimeError):
            await svc.transition("case", rec["id"], "archive", {}, 3, ctx)
        assert (await svc.get("case", rec["id"], ctx))["status"] == "ended"
        assert [h["transition"] for h in await svc.transition_history("case", rec["id"], ctx)] == ["accept", "end"]
    finally:
        await rt.db.close()


async def test_deadlines_and_overdue_lists_follow_the_calendar(world):
    w = world
    staff = w.ctx("staff")
    # Received on Friday 24 January 2025, just before the Lunar New Year holiday (25 Jan - 2 Feb):
    # 3 working days end on Wednesday 5 February.
    tet = await w.svc.create("case", w.case(received_on="2025-01-24", requester="Tết"), staff)
    normal = await w.svc.create("case", w.case(received_on="2025-03-03", requester="Thường"), staff)  # Mon -> Thu 6
    accepted = await w.svc.create("case", w.case(received_on="2025-01-02", requester="Đã thụ lý"), staff)
    await w.svc.transition("case", accepted["id"], "accept", {"accepted_on": "2025-01-03"}, 1, staff)
    await w.svc.create("case", w.case(unit="TT3", received_on="2025-01-02"), w.ctx("other"))

    async def overdue(on, user="staff"):
        rows, total = await w.svc.overdue("case", w.ctx(user), on=on)
        assert total == len(rows)
        return {r["requester"]: r["sys_deadline"] for r in rows}

    assert await overdue(dt.date(2025, 2, 5)) == {}
    late = await overdue(dt.date(2025, 2, 6))
    assert list(late) == ["Tết"]
    assert late["Tết"]["due_on"] == dt.date(2025, 2, 5) and late["Tết"]["days_overdue"] == 1
    assert late["Tết"]["label"] == "Time to accept" and late["Tết"]["state"] == "received"
    assert list(await overdue(dt.date(2025, 3, 7))) == ["Tết", "Thường"], "longest waiting first"
    assert list(await overdue(dt.date(2025, 3, 6))) == ["Tết"]
    # Ended: 30 calendar days, rolled to the next working day. Ended 31 March -> 30 April and 1 May are
    # holidays, so the file is due on Friday 2 May.
    await w.svc.transition("case", accepted["id"], "end", {"ended_on": "2025-03-31"}, 2, w.ctx("director"))
    assert "Đã thụ lý" not in await overdue(dt.date(2025, 5, 2))
    assert (await overdue(dt.date(2025, 5, 3)))["Đã thụ lý"]["due_on"] == dt.date(2025, 5, 2)
    # Scope: province two's case is not in this list; deleted cases neither.
    await w.svc.delete("case", tet["id"], "nhầm", 1, w.ctx("director"))
    assert list(await overdue(dt.date(2025, 5, 3))) == ["Thường", "Đã thụ lý"]
    assert list(await overdue(dt.date(2025, 5, 3), "other")) == ["Nguyễn Văn An"]
    assert normal["id"]


async def test_records_falling_due_between_two_days_are_those_overdue_on_the_later_only(world):
    """``not_overdue_on``: what the home page shows as due soon, read in one go; it must equal the overdue list of the
    later day without the overdue list of the earlier one, for any two days, whatever the states and dates."""
    w = world
    staff = w.ctx("staff")
    for i, received in enumerate(["2025-01-02", "2025-01-24", "2025-02-03", "2025-02-28", "2025-03-03",
                                  "2025-03-05", "2025-03-20"]):
        rec = await w.svc.create("case", w.case(received_on=received, requester=f"R{i}"), staff)
        if i % 3 == 0:  # accepted the next day: another state, another deadline
            day = (dt.date.fromisoformat(received) + dt.timedelta(days=1)).isoformat()
            await w.svc.transition("case", rec["id"], "accept", {"accepted_on": day}, 1, staff)

    async def names(on, **kw):
        rows, total = await w.svc.overdue("case", staff, on=on, page_size=100, **kw)
        return [r["requester"] for r in rows], total

    days = [dt.date(2025, 1, 1) + dt.timedelta(days=n) for n in range(0, 120, 9)]
    seen_some = False
    for earlier in days:
        for later in days:
            if later < earlier:
                continue
            window, total = await names(later, not_overdue_on=earlier, count=False)
            assert total is None
            before, _ = await names(earlier)
            after, _ = await names(later)
            assert window == [n for n in after if n not in before], (earlier, later)
            seen_some = seen_some or bool(window)
    assert seen_some  # some windows hold records


@pytest.fixture
def lifecycle_config(reference_config_dir):
    """The reference configuration, which has deadlines and a holiday calendar of its own."""
    root = reference_config_dir
    assert "deadlines:" in (root / "forms_config/workflows/case_lifecycle.yaml").read_text(encoding="utf-8")
    assert "2025-09-02" in (root / "forms_config/calendar.yaml").read_text(encoding="utf-8")
    return root


async def test_the_legal_aid_case_lifecycle_fits(lifecycle_config, database_url):
    from hoso.config import load_config

    rt = await migrated_runtime(load_config(lifecycle_config), database_url)
    try:
        svc = rt.records()
        db = rt.db
        centre = await db.fetchval("SELECT id FROM hoso_unit WHERE type = 'legal_aid_centre' ORDER BY id LIMIT 1")
        province = await db.fetchval("SELECT parent_id FROM hoso_unit WHERE id = {}", centre)
        from hoso.users import create_user

        async def user(name, role, unit):
            uid = await create_user(rt, name, "a-long-password", origin="test")
            await db.execute("INSERT INTO hoso_assignment (user_id, role, unit_id, starts_on, created_at) "
                             "VALUES ({}, {}, {}, {}, {})", uid, role, unit, dt.date(2019, 1, 1),
                             dt.datetime.now(dt.UTC))
            return RecordContext(rt.config, uid, name, "test", "vi")

        staff = await user("staff", "centre_staff", centre)
        director = await user("director", "centre_director", centre)
        lawyer_ctx = await user("lawyer", "performer_role", centre)
        officer = await user("officer", "provincial_officer", province)
        performer = await svc.create("performer", {"name": "Trợ giúp viên A", "kind": "assistant", "unit": centre,
                                                   "account": lawyer_ctx.user_id}, director)
        case = await svc.create("case", {
            "received_on": "2025-08-28", "requester_name": "Nguyễn Thị Hoa", "beneficiary_groups": ["HN"],
            "field_of_law": "DS", "form_of_aid": "TV", "unit": centre}, staff, form="case_intake")
        assert case["status"] == "received" and case["code"].endswith(".TV.01.2025")
        rows, _ = await svc.overdue("case", staff, on=dt.date(2025, 9, 4))
        assert rows == [], "Thu 28 Aug + 3 working days (Fri, Mon... 1-2 Sep are holidays) = Thu 4 Sep"
        rows, _ = await svc.overdue("case", staff, on=dt.date(2025, 9, 5))
        assert [r["id"] for r in rows] == [case["id"]]

        v = case["sys_version"]
        steps = [
            (staff, "accept", {"accepted_on": "2025-08-29"}),
            (director, "assign", {"performer": performer["id"], "assigned_on": "2025-09-03",
                                  "assignment_decision": "12/QĐ-TGPL"}),
            (lawyer_ctx, "start", {"started_on": "2025-09-05"}),
            (lawyer_ctx, "end", {"ended_on": "2025-10-10", "result": next(iter(_options(rt, "case_result")))}),
            (staff, "return_file", {"file_returned_on": "2025-10-20"}),
            (director, "appraise", {"appraised_on": "2025-10-25",
                                    "appraisal_result": next(iter(_options(rt, "appraisal_result")))}),
            (officer, "evaluate", {"evaluated_on": "2025-11-05", "evaluation_score": 92,
                                   "evaluation_grade": next(iter(_options(rt, "evaluation_grade")))}),
            (staff, "archive", {"archived_on": "2025-12-01"}),
        ]
        for ctx, name, payload in steps:
            rec = await svc.transition("case", case["id"], name, payload, v, ctx)
            v = rec["sys_version"]
        assert rec["status"] == "archived"
        history = await svc.transition_history("case", case["id"], director)
        assert [(h["transition"], h["to"], h["actor"]) for h in history] == [
            ("accept", "accepted", "staff"), ("assign", "assigned", "director"), ("start", "in_progress", "lawyer"),
            ("end", "ended", "lawyer"), ("return_file", "returned", "staff"), ("appraise", "appraised", "director"),
            ("evaluate", "evaluated", "officer"), ("archive", "archived", "staff")]
        # A performer may not accept, and a staff member may not appraise.
        other = await svc.create("case", {"received_on": "2025-09-01", "requester_name": "B",
                                          "beneficiary_groups": ["HN"], "field_of_law": "DS", "form_of_aid": "TV",
                                          "unit": centre}, staff)
        with pytest.raises((Forbidden, NotFound)):
            await svc.transition("case", other["id"], "accept", {"accepted_on": "2025-09-03"}, 1, lawyer_ctx)
        with pytest.raises(Forbidden):
            reason = next(iter(_options(rt, "refusal_reason")))
            await svc.transition("case", other["id"], "refuse", {"refused_on": "2025-09-03", "refusal_reason": reason},
                                 1, officer)
    finally:
        await rt.db.close()


def _options(rt, name):
    return rt.config.choice_list(name).values()


async def test_overdue_rows_dump_to_json(world):
    import json

    w = world
    await w.svc.create("case", w.case(received_on="2025-01-24"), w.ctx("staff"))
    rows, _ = await w.svc.overdue("case", w.ctx("staff"), on=dt.date(2025, 3, 1))
    dumped = json.loads(json.dumps(w.svc.dump("case", rows[0])))
    assert dumped["sys_deadline"]["due_on"] == "2025-02-05" and dumped["received_on"] == "2025-01-24"
