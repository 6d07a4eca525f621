"""The lifecycle of a legal aid case under the law, on the reference configuration with the legal-aid plugin, on
both engines: urgent acceptance, refusal reasons, transfer between centres, conflict of interest, change of
performer, the hand-back deadline on the working-day calendar, and the archive's audited reopening.

One database per engine is migrated and seeded for the module; each test writes cases of its own in it."""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar.testing import AsyncTestClient

import hoso_legal_aid
from hoso import accounts
from hoso.records.calendar import WorkCalendar, parse_period
from hoso.records.errors import Forbidden, NotFound, ReadOnlyState, ValidationError
from hoso.records.service import RecordContext
from hoso.runtime import Runtime
from hoso.scope import Actor
from hoso.web.app import create_app
from hoso.web.tokens import create_token
from tests.conftest import ENGINES, REPO, shared_database
from tests.helpers import load_full_config, migrated_runtime

PLUGINS = [hoso_legal_aid]
PASSWORD = "a-long-password-1"
USERS = {  # name: (unit, roles)
    "dir_a": ("TT-01", ("centre_director",)),
    "staff_a": ("TT-01", ("centre_staff",)),
    "staff_b": ("TT-02", ("centre_staff",)),
    "dir_b": ("TT-02", ("centre_director",)),
}


class Seed:
    def __init__(self, config, url):
        self.config, self.url = config, url
        self.users: dict[str, int] = {}
        self.units: dict[str, int] = {}
        self.performers: dict[str, int] = {}


async def _seed(seed: Seed) -> None:
    rt = await migrated_runtime(seed.config, seed.url, plugins=PLUGINS)
    try:
        for r in await rt.db.fetch("SELECT id, code FROM hoso_unit"):
            seed.units[r["code"]] = r["id"]
        root = Actor(None, "root", superuser=True, origin="test-setup")
        for name, (unit, roles) in USERS.items():
            seed.users[name] = await accounts.create_account(rt, root, name, PASSWORD, unit, roles=roles,
                                                             starts_on=dt.date(2019, 1, 1))
        system = RecordContext.system(rt.config, origin="test")
        for name in ("Trần Thị Bình", "Lê Văn Cường", "Phạm Minh Dũng"):
            p = await rt.records().create("performer", {"name": name, "kind": "assistant",
                                                        "unit": seed.units["TT-01"]}, system)
            seed.performers[name] = p["id"]
    finally:
        await rt.db.close()


@pytest.fixture(scope="module", params=ENGINES)
def seeded(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lifecycle")
    shutil.copytree(REPO / "forms_config", tmp / "forms_config")
    shutil.copytree(REPO / "roles_config", tmp / "roles_config")
    config = load_full_config(tmp, PLUGINS)
    with shared_database(request.param, tmp, "lifecycle") as url:
        seed = Seed(config, url)
        asyncio.run(_seed(seed))
        yield seed


class World:
    def __init__(self, seed: Seed, rt: Runtime):
        self.seed, self.rt, self.svc = seed, rt, rt.records()
        self.units, self.performers = seed.units, seed.performers

    def ctx(self, user: str, lang: str = "en") -> RecordContext:
        return RecordContext(self.rt.config, self.seed.users[user], user, "10.0.0.9", lang)

    async def case(self, user: str = "staff_a", unit: str = "TT-01", **extra) -> dict:
        payload = {"received_on": "2025-03-03", "request_channel": "hotline", "requester_name": "Nguyễn Văn An",
                   "beneficiary_groups": ["HN"], "field_of_law": "DS", "form_of_aid": "TV",
                   "unit": self.units[unit], **extra}
        return await self.svc.create("case", payload, self.ctx(user))

    async def step(self, record: dict, name: str, user: str = "dir_a", **values) -> dict:
        return await self.svc.transition("case", record["id"], name, values, record["sys_version"], self.ctx(user))

    async def to_state(self, record: dict, *names: str) -> dict:
        """Take the case through the main path up to the steps named."""
        d = record["received_on"]

        def day(n: int) -> str:
            return (d + dt.timedelta(days=n)).isoformat()

        values = {"accept": {"accepted_on": day(0 if record.get("urgent") else 1)},
                  "assign": {"performer": self.performers["Trần Thị Bình"], "assigned_on": day(2),
                             "assignment_decision": "01/QĐ-TGPL"},
                  "start": {"started_on": day(3)},
                  "end": {"ended_on": day(38), "result": "advice_delivered"},
                  "return_file": {"file_returned_on": day(43)},
                  "appraise": {"appraised_on": day(48), "appraisal_result": "meets"},
                  "archive": {"archived_on": day(64)}}
        for name in names:
            record = await self.step(record, name, **values[name])
        return record


def _runtime(seeded: Seed) -> Runtime:
    # One runtime per engine: its compiled forms and statements are kept from test to test.
    if "rt" not in seeded.__dict__:
        seeded.__dict__["rt"] = Runtime.create(seeded.config, seeded.url, plugins=PLUGINS)
    return seeded.__dict__["rt"]


@pytest.fixture
async def world(seeded):
    rt = _runtime(seeded)
    await rt.db.start()
    try:
        yield World(seeded, rt)
    finally:
        await rt.db.close()


def problems(exc: pytest.ExceptionInfo) -> dict[str, str]:
    return dict(exc.value.problems)


# -- 1. acceptance -------------------------------------------------------------------------------------------
async def test_an_urgent_request_is_accepted_on_its_day_of_receipt(world):
    urgent = await world.case(urgent=True)
    with pytest.raises(ValidationError) as exc:
        await world.step(urgent, "accept", accepted_on="2025-03-04")
    assert problems(exc)["accepted_on"] == "An urgent request must be accepted on the day it is received"
    accepted = await world.step(urgent, "accept", accepted_on="2025-03-03")
    assert accepted["status"] == "accepted" and accepted["accepted_on"] == dt.date(2025, 3, 3)
    # an ordinary request may take the examination period
    ordinary = await world.step(await world.case(), "accept", accepted_on="2025-03-05")
    assert ordinary["status"] == "accepted"


async def test_a_refusal_gives_a_reason_of_the_list_and_the_written_reply(world):
    case = await world.case()
    with pytest.raises(ValidationError) as exc:
        await world.step(case, "refuse", refused_on="2025-03-04", refusal_reason="not_eligible")
    assert set(problems(exc)) == {"refusal_note"}
    with pytest.raises(ValidationError) as exc:
        await world.step(case, "refuse", refused_on="2025-03-04", refusal_reason="bored",
                         refusal_note="Đã trả lời bằng văn bản.")
    assert set(problems(exc)) == {"refusal_reason"}
    refused = await world.step(case, "refuse", refused_on="2025-03-04", refusal_reason="beneficiary_died",
                               refusal_note="Đã trả lời bằng văn bản.")
    assert (refused["status"], refused["refusal_reason"]) == ("refused", "beneficiary_died")


async def test_a_transfer_moves_the_file_and_both_centres_see_it(world):
    case = await world.case(requester_name="Hoàng Thị Lan")
    old_code = case["code"]
    # the module's tests share a database: make sure the receiving register is not at the same number
    number = int(old_code.split(".")[2])
    while True:
        probe = await world.case(user="staff_b", unit="TT-02", requester_name="Người khác")
        if int(probe["code"].split(".")[2]) + 1 != number:
            break
    with pytest.raises(ValidationError) as exc:
        await world.step(case, "transfer", "staff_a", transferred_on="2025-03-04",
                         transferred_to=world.units["TT-01"])
    assert set(problems(exc)) == {"transferred_to"}
    moved = await world.step(case, "transfer", "staff_a", transferred_on="2025-03-04",
                             transferred_to=world.units["TT-02"], transfer_note="Nơi cư trú ở Hà Giang")
    assert moved["unit"] == world.units["TT-02"] and moved["status"] == "transferred"
    # it takes the next code of the receiving centre's register (codes are unique within a unit)
    assert moved["code"].startswith("TT.TV.") and moved["code"].endswith(".2025")
    # the old centre no longer reads the case, its history or anything written to it later
    for read in (world.svc.get("case", case["id"], world.ctx("staff_a")),
                 world.svc.history("case", case["id"], world.ctx("staff_a"))):
        with pytest.raises(NotFound):
            await read
    b = world.ctx("staff_b")
    accepted = await world.step(moved, "accept", "staff_b", accepted_on="2025-03-05")
    assert accepted["status"] == "accepted"
    # the receiving centre sees the transfer in the case's history, with the unit and code it left
    steps = [(h["transition"], h["from"], h["to"]) for h in await world.svc.transition_history("case", case["id"], b)]
    assert steps == [("transfer", "received", "transferred"), ("accept", "transferred", "accepted")]
    entry = next(h for h in await world.svc.history("case", case["id"], b) if h["action"] == "transition")
    assert entry["changes"]["unit"] == [world.units["TT-01"], world.units["TT-02"]]
    assert entry["changes"]["code"] == [old_code, moved["code"]] and entry["actor"] == "staff_a"
    # the old centre sees its entry of the transfer register: what it sent, when, to whom; nothing later
    rows, total = await world.svc.list("case_transfer", world.ctx("staff_a"), filters={"case_code": old_code})
    assert total == 1
    log = rows[0]
    assert (log["unit"], log["transferred_to"], log["transferred_on"], log["requester_name"]) == (
        world.units["TT-01"], world.units["TT-02"], dt.date(2025, 3, 4), "Hoàng Thị Lan")
    assert log["code_at_destination"] == moved["code"] and "accepted_on" not in log
    assert (await world.svc.history("case_transfer", log["id"], world.ctx("staff_a")))[0]["actor"] == "staff_a"
    # the entry is the transferring unit's: another centre does not see it, nobody may change it
    assert (await world.svc.list("case_transfer", b, filters={"case_code": old_code}))[1] == 0
    with pytest.raises(Forbidden):
        await world.svc.update("case_transfer", log["id"], {"transfer_note": "x"}, log["sys_version"],
                               world.ctx("dir_a"))


# -- 2. performers -------------------------------------------------------------------------------------------
async def test_a_performer_acting_for_the_opposing_party_in_a_linked_case_is_refused(world):
    binh, cuong = world.performers["Trần Thị Bình"], world.performers["Lê Văn Cường"]
    other_side = await world.to_state(await world.case(requester_name="Bên kia"), "accept", "assign")
    assert other_side["performer"] == binh
    case = await world.case(linked_cases=[{"linked_case": other_side["id"], "relation": "opposing_party"}])
    case = await world.step(case, "accept", accepted_on="2025-03-04")
    for lang, text in (("en", f"Performer Trần Thị Bình acts for the opposing party in the linked case "
                              f"{other_side['code']}"),
                       ("vi", f"Người thực hiện Trần Thị Bình đang thực hiện trợ giúp pháp lý cho bên có quyền lợi "
                              f"đối lập trong vụ việc liên quan {other_side['code']}")):
        with pytest.raises(ValidationError) as exc:
            await world.svc.transition("case", case["id"], "assign", {
                "performer": binh, "assigned_on": "2025-03-05", "assignment_decision": "02/QĐ-TGPL"},
                case["sys_version"], world.ctx("dir_a", lang))
        assert problems(exc)["performer"].startswith(text)
    assigned = await world.step(case, "assign", performer=cuong, assigned_on="2025-03-05",
                                assignment_decision="02/QĐ-TGPL")
    assert assigned["performer"] == cuong
    # the link counts from either side: the other case cannot now take Cường either
    unlinked = await world.svc.get("case", other_side["id"], world.ctx("dir_a"))
    with pytest.raises(ValidationError) as exc:
        await world.step(unlinked, "assign", performer=cuong, assigned_on="2025-03-06",
                         assignment_decision="03/QĐ-TGPL", performer_change_reason="beneficiary_request")
    assert assigned["code"] in problems(exc)["performer"]


async def test_a_change_of_performer_keeps_its_reason_and_decision(world):
    binh, dung = world.performers["Trần Thị Bình"], world.performers["Phạm Minh Dũng"]
    case = await world.to_state(await world.case(), "accept", "assign", "start")
    with pytest.raises(ValidationError) as exc:
        await world.step(case, "assign", performer=dung, assigned_on="2025-03-10")
    assert set(problems(exc)) == {"performer_change_reason", "assignment_decision"}
    changed = await world.step(case, "assign", performer=dung, assigned_on="2025-03-10",
                               assignment_decision="07/QĐ-TGPL", performer_change_reason="beneficiary_request",
                               performer_change_note="Người được trợ giúp đề nghị thay đổi")
    assert (changed["performer"], changed["status"]) == (dung, "assigned")
    last = (await world.svc.history("case", case["id"], world.ctx("dir_a")))[-1]
    assert last["changes"]["performer"] == [binh, dung]
    assert last["changes"]["performer_change_reason"] == [None, "beneficiary_request"]
    assert last["changes"]["assignment_decision"] == ["01/QĐ-TGPL", "07/QĐ-TGPL"]


# -- 3. hand-back deadline on the working-day calendar ----------------------------------------------------------
# Ended on Monday 2026-04-13: the 30 working days skip 12 weekend days, the Hùng Kings' day holiday (Sunday 26
# and Monday 27 April) and 30 April - 1 May, so the file is due on Thursday 28 May 2026 (45 days later).
ENDED, DUE = dt.date(2026, 4, 13), dt.date(2026, 5, 28)


async def test_the_hand_back_deadline_counts_working_days_and_late_files_give_their_reason(world):
    case = await world.to_state(await world.case(received_on="2026-04-01"), "accept", "assign", "start")
    case = await world.step(case, "end", ended_on=ENDED.isoformat(), result="advice_delivered")
    overdue = {DUE: False, DUE + dt.timedelta(days=1): True}
    for on, expected in overdue.items():
        rows, _ = await world.svc.overdue("case", world.ctx("dir_a"), on=on, page_size=1000)
        mine = [r for r in rows if r["id"] == case["id"]]
        assert bool(mine) is expected, on
    assert mine[0]["sys_deadline"]["due_on"] == DUE and mine[0]["sys_deadline"]["days_overdue"] == 1
    with pytest.raises(ValidationError) as exc:
        await world.step(case, "return_file", file_returned_on="2026-05-29")
    assert problems(exc)["late_return_reason"] == ("The file is handed back on 29/05/2026, after its deadline "
                                                   "28/05/2026 (30 working days from 13/04/2026): give the reason "
                                                   "it is late")
    late = await world.step(case, "return_file", file_returned_on="2026-05-29",
                            late_return_reason="Người thực hiện ốm dài ngày")
    assert late["status"] == "returned"
    on_time = await world.to_state(await world.case(received_on="2026-04-01"), "accept", "assign", "start")
    on_time = await world.step(on_time, "end", ended_on=ENDED.isoformat(), result="advice_delivered")
    assert (await world.step(on_time, "return_file", file_returned_on=DUE.isoformat()))["status"] == "returned"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=st.dates(dt.date(2025, 1, 1), dt.date(2026, 12, 1)), n=st.integers(0, 45))
def test_working_day_deadlines_match_counting_day_by_day(seeded, start, n):
    calendar = WorkCalendar(seeded.config.calendar)
    day, left = start, n
    while left:  # the oracle: step one day at a time, counting the days that are neither weekend nor holiday
        day += dt.timedelta(days=1)
        holiday = any(h.start <= day <= h.end for h in seeded.config.calendar.holidays)
        if (day.weekday() < 5 and not holiday) or day in seeded.config.calendar.working_days:
            left -= 1
    assert calendar.due(start, parse_period(f"{n} working days")) == day


# -- 4. archive and reopening ---------------------------------------------------------------------------------
async def test_an_archived_file_is_read_only_until_a_director_reopens_it_with_a_reason(world):
    case = await world.to_state(await world.case(), "accept", "assign", "start", "end", "return_file", "appraise",
                                "archive")
    with pytest.raises(ReadOnlyState):
        await world.svc.update("case", case["id"], {"summary": "sửa"}, case["sys_version"], world.ctx("dir_a"))
    with pytest.raises(Forbidden):  # staff may archive, not reopen
        await world.step(case, "reopen", "staff_a", reopened_on="2025-06-01", reopen_reason="Bổ sung tài liệu")
    with pytest.raises(ValidationError) as exc:
        await world.step(case, "reopen", reopened_on="2025-06-01")
    assert set(problems(exc)) == {"reopen_reason"}
    reopened = await world.step(case, "reopen", reopened_on="2025-06-01", reopen_reason="Bổ sung tài liệu")
    edited = await world.svc.update("case", case["id"], {"summary": "Bổ sung biên bản"}, reopened["sys_version"],
                                    world.ctx("staff_a"))
    archived = await world.step(edited, "archive", "staff_a")
    assert archived["status"] == "archived"
    # a second reopening gives its own date and reason
    with pytest.raises(ValidationError) as exc:
        await world.step(archived, "reopen")
    assert set(problems(exc)) == {"reopen_reason"}
    history = await world.svc.history("case", case["id"], world.ctx("dir_a"))
    reopen = next(h for h in history if (h["detail"] or {}).get("transition") == "reopen")
    assert reopen["actor"] == "dir_a" and reopen["changes"]["reopen_reason"] == [None, "Bổ sung tài liệu"]
    assert reopen["changes"]["status"] == ["archived", "reopened"]


# -- through HTTP -----------------------------------------------------------------------------------------------
async def test_the_rules_hold_through_the_api(seeded, world, tmp_path, monkeypatch):
    monkeypatch.setenv("HOSO_FILES_DIR", str(tmp_path / "files"))
    root = Actor(None, "root", superuser=True, origin="test-setup")
    token = (await create_token(world.rt, root, seeded.users["dir_a"], "lifecycle"))[1]
    headers = {"Authorization": f"Bearer {token}", "Accept-Language": "vi"}
    case, other = await world.case(urgent=True), await world.case()
    # the server has a runtime of its own (its database connections belong to the server's event loop)
    async with AsyncTestClient(create_app(Runtime.create(seeded.config, seeded.url, plugins=PLUGINS))) as client:
        url = f"/api/records/case/{case['id']}/transitions/accept"
        r = await client.post(url, json={"accepted_on": "2025-03-05", "sys_version": case["sys_version"]},
                              headers=headers)
        assert r.status_code == 422, r.text
        assert "Trường hợp khẩn cấp phải được thụ lý ngay trong ngày tiếp nhận yêu cầu" in r.text
        r = await client.post(url, json={"accepted_on": "2025-03-03", "sys_version": case["sys_version"]},
                              headers=headers)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "accepted"
        # a refusal without its written reply is refused, naming the field
        r = await client.post(f"/api/records/case/{other['id']}/transitions/refuse", headers=headers, json={
            "refused_on": "2025-03-04", "refusal_reason": "unlawful", "sys_version": other["sys_version"]})
        assert r.status_code == 422 and "refusal_note" in r.text, r.text
