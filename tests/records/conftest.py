"""A small legal-aid configuration with forms, a workflow, deadlines, roles and attachment limits, migrated on
each engine, and users holding roles at units of two provinces."""

from __future__ import annotations

import datetime as dt

import pytest

from hoso.records.service import RecordContext
from hoso.users import create_user
from tests.helpers import migrated_runtime

LISTS = """
lists:
  form_of_aid:
    options:
      - {value: TV, vi: Tư vấn pháp luật, en: Legal advice}
      - {value: TGTT, vi: Tham gia tố tụng, en: Participation in proceedings}
  procedural_stage:
    options:
      - {value: investigation, vi: Điều tra, en: Investigation}
      - {value: trial, vi: Xét xử, en: Trial}
  case_status:
    options:
      - {value: received, vi: Đã tiếp nhận}
      - {value: accepted, vi: Đã thụ lý}
      - {value: refused, vi: Từ chối}
      - {value: ended, vi: Kết thúc}
      - {value: archived, vi: Lưu trữ}
  refusal_reason:
    options:
      - {value: not_eligible, vi: Không thuộc diện}
      - {value: other, vi: Khác}
      - {value: old_reason, vi: Lý do cũ, retired: true}
  beneficiary_group:
    options:
      - {value: TE, vi: Trẻ em}
      - {value: NN, vi: Người nghèo}
"""

HIERARCHY = """
levels: [province, centre]
unit_types:
  province: {level: province, label: {vi: Tỉnh}}
  centre: {level: centre, label: {vi: Trung tâm}}
units:
  - file: units/units.csv
"""

UNITS = """
code,name_vi,name_en,type,parent_code,valid_from
P01,Tỉnh Một,Province One,province,,2019-01-01
TT,Trung tâm Một,Centre One,centre,P01,2019-01-01
TT2,Trung tâm Hai,Centre Two,centre,P01,2019-01-01
P02,Tỉnh Hai,Province Two,province,,2019-01-01
TT3,Trung tâm Ba,Centre Three,centre,P02,2019-01-01
"""

CASE = """
entity: case
label: {vi: Vụ việc, en: Case}
unit_field: unit
naming: {field: code, pattern: "{unit.code}.{form_of_aid}.{seq:02}.{year}", sequence_per: [unit, form_of_aid, year],
         date_field: received_on}
rules:
  - rule: ended_on >= received_on
    field: ended_on
    message: {vi: Ngày kết thúc không được trước ngày tiếp nhận, en: The end date cannot be before the date received}
attachments:
  max_size: 1MB
  types: [application/pdf, image/*]
  fields:
    big_scan: {max_size: 60MB, types: [application/pdf]}
fields:
  code: {type: text, label: {vi: Mã, en: Code}}
  received_on: {type: date, required: true, min: "2019-01-01", label: {vi: Ngày tiếp nhận, en: Received on}}
  form_of_aid: {type: choice, list: form_of_aid, required: true, label: {vi: Hình thức, en: Form of aid}}
  procedural_stage: {type: choice, list: procedural_stage, label: {vi: Giai đoạn tố tụng, en: Procedural stage}}
  beneficiary_groups: {type: multi_choice, list: beneficiary_group, label: {vi: Diện, en: Groups}}
  requester: {type: text, required: true, max_length: 100, label: {vi: Người yêu cầu, en: Requester}}
  age: {type: integer, min: 0, max: 130, label: {vi: Tuổi, en: Age}}
  note: {type: long_text, label: {vi: Ghi chú, en: Note}}
  secret_note: {type: long_text, label: {vi: Ghi chú mật, en: Confidential note}}
  status: {type: choice, list: case_status, required: true, default: received, label: {vi: Trạng thái, en: Status}}
  unit: {type: org_unit, required: true, label: {vi: Đơn vị, en: Unit}}
  transferred_to: {type: org_unit, label: {vi: Chuyển đến, en: Transferred to}}
  performer: {type: reference, entity: performer, label: {vi: Người thực hiện, en: Performer}}
  accepted_on: {type: date, label: {vi: Ngày thụ lý, en: Accepted on}}
  refused_on: {type: date, label: {vi: Ngày từ chối, en: Refused on}}
  refusal_reason: {type: choice, list: refusal_reason, label: {vi: Lý do từ chối, en: Reason for refusal}}
  ended_on: {type: date, label: {vi: Ngày kết thúc, en: Ended on}}
  scan: {type: attachment, label: {vi: Bản scan, en: Scan}}
  big_scan: {type: attachment, label: {vi: Bản scan lớn, en: Large scan}}
  hearings:
    type: child_table
    label: {vi: Phiên tòa, en: Hearings}
    fields:
      held_on: {type: date, required: true, label: {vi: Ngày, en: Date}}
      court: {type: text, max_length: 50, label: {vi: Tòa án, en: Court}}
"""

PERFORMER = """
entity: performer
label: {vi: Người thực hiện, en: Performer}
unit_field: unit
fields:
  name: {type: text, required: true, label: {vi: Họ tên, en: Name}}
  unit: {type: org_unit, required: true, label: {vi: Đơn vị, en: Unit}}
  account: {type: user, label: {vi: Tài khoản, en: Account}}
"""

INTAKE = """
form: case_intake
entity: case
label: {vi: Tiếp nhận yêu cầu, en: Intake}
sections:
  - title: {vi: Tiếp nhận, en: Receipt}
    fields: [unit, received_on, form_of_aid, procedural_stage, beneficiary_groups]
  - title: {vi: Người yêu cầu, en: Requester}
    fields: [requester, age, note, hearings]
fields:
  procedural_stage:
    visible_if: form_of_aid == "TGTT"
    required_if: form_of_aid == "TGTT"
    help: {vi: Chỉ cho vụ việc tham gia tố tụng, en: Only for participation in proceedings}
  age: {required: true, label: {vi: Tuổi người yêu cầu, en: Requester's age}}
rules:
  - rule: age >= 16 or form_of_aid != "TGTT"
    field: age
    message: {vi: Người dưới 16 tuổi cần người đại diện, en: A requester under 16 needs a representative}
"""

WORKFLOW = """
workflow: case_lifecycle
entity: case
label: {vi: Quy trình vụ việc, en: Case lifecycle}
state_field: status
initial: received
states: [received, accepted, refused, ended, archived]
transitions:
  accept: {from: [received], to: accepted, label: {vi: Thụ lý, en: accept}, requires: [accepted_on]}
  refuse: {from: [received], to: refused, label: {vi: Từ chối, en: refuse}, requires: [refused_on, refusal_reason]}
  end: {from: [accepted], to: ended, label: {vi: Kết thúc, en: end}, requires: [ended_on]}
  archive: {from: [ended, refused], to: archived, label: {vi: Lưu trữ, en: archive}}
deadlines:
  received: {within: 3 working days, from_field: received_on, label: {vi: Thời hạn thụ lý, en: Time to accept}}
  ended: {within: 30 days, from_field: ended_on}
"""

CALENDAR = """
calendar:
  weekend: [saturday, sunday]
  holidays:
    - {date: "2025-01-25", to: "2025-02-02", label: {vi: Tết Nguyên đán, en: Lunar New Year}}
    - {date: "2025-04-30", to: "2025-05-01"}
  working_days: ["2025-04-26"]
"""

ROLES = {
    "centre_staff": """
role: centre_staff
label: {vi: Cán bộ Trung tâm}
grants:
  - entity: case
    scope: subtree
    actions: [read, create, update, transition:accept, transition:refuse]
    hidden_fields: [secret_note]
    read_only_fields: [received_on]
  - entity: performer
    scope: subtree
    actions: [read, create]
""",
    "centre_director": """
role: centre_director
label: {vi: Giám đốc Trung tâm}
grants:
  - entity: case
    scope: subtree
    actions: [read, create, update, delete, restore, transition:accept, transition:refuse, transition:end,
              transition:archive]
  - entity: performer
    scope: subtree
    actions: [read, create, update, delete, restore]
""",
    "branch_clerk": """
role: branch_clerk
label: {vi: Văn thư}
grants:
  - entity: case
    scope: subtree
    actions: [read, update, delete]
  - entity: performer
    scope: subtree
    actions: [read]
""",
    "performer_role": """
role: performer_role
label: {vi: Người thực hiện}
grants:
  - entity: case
    scope: assigned
    actions: [read, update, transition:end]
    read_only_fields: [requester]
""",
}


@pytest.fixture
def records_config(config_dir):
    config_dir.write("forms_config/lists/lists.yaml", LISTS)
    config_dir.write("forms_config/entities/case.yaml", CASE)
    config_dir.write("forms_config/entities/performer.yaml", PERFORMER)
    config_dir.write("forms_config/forms/case_intake.yaml", INTAKE)
    config_dir.write("forms_config/workflows/case_lifecycle.yaml", WORKFLOW)
    config_dir.write("forms_config/calendar.yaml", CALENDAR)
    config_dir.write("roles_config/hierarchy.yaml", HIERARCHY)
    config_dir.write("roles_config/units/units.csv", UNITS)
    for name, text in ROLES.items():
        config_dir.write(f"roles_config/roles/{name}.yaml", text)
    return config_dir


class World:
    """A migrated runtime with its units and users."""

    def __init__(self, rt):
        self.rt = rt
        self.svc = rt.records()
        self.units: dict[str, int] = {}
        self.users: dict[str, int] = {}

    @property
    def system(self) -> RecordContext:
        return RecordContext.system(self.rt.config, origin="test")

    def ctx(self, user: str, lang: str = "en", origin: str = "10.0.0.1", on: dt.date | None = None) -> RecordContext:
        return RecordContext(self.rt.config, user_id=self.users[user], user_name=user, origin=origin, lang=lang, on=on)

    async def add_user(self, name: str, role: str | None, unit: str) -> int:
        uid = await create_user(self.rt, name, "a-long-password", unit_code=unit, origin="test")
        if role:
            await self.rt.db.execute(
                "INSERT INTO hoso_assignment (user_id, role, unit_id, starts_on, ends_on, created_at) "
                "VALUES ({}, {}, {}, {}, NULL, {})", uid, role, self.units[unit], dt.date(2000, 1, 1),
                dt.datetime.now(dt.UTC))
        self.users[name] = uid
        return uid

    def case(self, unit: str | int = "TT", **extra) -> dict:
        payload = {"received_on": "2025-03-03", "form_of_aid": "TV", "requester": "Nguyễn Văn An", "age": 40,
                   "unit": self.units[unit] if isinstance(unit, str) else unit}
        payload.update(extra)
        return payload

    async def count(self, table: str = "case", where: str = "") -> int:
        return int(await self.rt.db.fetchval(f'SELECT COUNT(*) AS n FROM "{table}" {where}') or 0)


@pytest.fixture
async def world(records_config, database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("HOSO_FILES_DIR", str(tmp_path / "files"))
    rt = await migrated_runtime(records_config.load(), database_url)
    w = World(rt)
    try:
        for r in await rt.db.fetch("SELECT id, code FROM hoso_unit"):
            w.units[r["code"]] = r["id"]
        await w.add_user("staff", "centre_staff", "TT")      # centre one (and nothing below it)
        await w.add_user("director", "centre_director", "P01")  # the whole of province one
        await w.add_user("other", "centre_staff", "TT3")     # a centre of province two
        await w.add_user("clerk", "branch_clerk", "P01")
        await w.add_user("nobody", None, "TT")
        yield w
    finally:
        await rt.db.close()
