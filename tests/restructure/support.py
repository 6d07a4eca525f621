"""Support for restructuring tests: a configuration with a three-level tree, cases with a commune and a status
workflow, a second scoped entity, and a role that reads cases in its subtree."""

from __future__ import annotations

import datetime as dt
import textwrap

from hoso.records.service import RecordContext
from hoso.scope import Actor

EFFECTIVE = dt.date(2025, 7, 1)
BEFORE = dt.date(2020, 1, 1)

HIERARCHY = """
levels: [province, district, commune, centre, branch]
unit_types:
  province: {level: province, label: {vi: Tỉnh}}
  district: {level: district, label: {vi: Huyện}}
  commune: {level: commune, label: {vi: Xã}}
  centre: {level: centre, label: {vi: Trung tâm}}
  branch: {level: branch, label: {vi: Chi nhánh}}
units:
  - file: units/units.csv
"""

# P01 ── TT, TT2            P02 ── TT3 ── CN3          P03 ── D31 ── X311, X312
#                                                            └─ D32 ── X321
#                                                            └─ TT4
UNITS = """
code,name_vi,name_en,type,parent_code,valid_from
P01,Tỉnh Một,Province One,province,,2019-01-01
P02,Tỉnh Hai,Province Two,province,,2019-01-01
P03,Tỉnh Ba,Province Three,province,,2019-01-01
TT,Trung tâm Một,Centre One,centre,P01,2019-01-01
TT2,Trung tâm Hai,Centre Two,centre,P01,2019-01-01
TT3,Trung tâm Ba,Centre Three,centre,P02,2019-01-01
CN3,Chi nhánh Ba,Branch Three,branch,TT3,2019-01-01
TT4,Trung tâm Bốn,Centre Four,centre,P03,2019-01-01
D31,Huyện Ba Một,District 31,district,P03,2019-01-01
D32,Huyện Ba Hai,District 32,district,P03,2019-01-01
X311,Xã 311,Commune 311,commune,D31,2019-01-01
X312,Xã 312,Commune 312,commune,D31,2019-01-01
X321,Xã 321,Commune 321,commune,D32,2019-01-01
"""

LISTS = """
lists:
  form_of_aid:
    options:
      - {value: TV, vi: Tư vấn pháp luật, en: Legal advice}
      - {value: TGTT, vi: Tham gia tố tụng, en: Participation in proceedings}
  case_status:
    options:
      - {value: received, vi: Tiếp nhận}
      - {value: accepted, vi: Thụ lý}
      - {value: closed, vi: Kết thúc}
"""

CASE = """
entity: case
label: {vi: Vụ việc, en: Case}
unit_field: unit
naming: {field: code, pattern: "{unit.code}.{form_of_aid}.{seq:02}.{year}", sequence_per: [unit, form_of_aid, year],
         date_field: received_on}
fields:
  code: {type: text, label: {vi: Mã}}
  received_on: {type: date, required: true, label: {vi: Ngày tiếp nhận}}
  form_of_aid: {type: choice, list: form_of_aid, required: true, label: {vi: Hình thức}}
  requester: {type: text, required: true, label: {vi: Người yêu cầu}}
  commune: {type: text, label: {vi: Xã (địa chỉ)}}
  status: {type: choice, list: case_status, default: received, label: {vi: Trạng thái}}
  unit: {type: org_unit, required: true, label: {vi: Đơn vị}}
"""

VISIT = """
entity: visit
label: {vi: Buổi tiếp dân}
unit_field: unit
fields:
  held_on: {type: date, label: {vi: Ngày}}
  unit: {type: org_unit, required: true, label: {vi: Đơn vị}}
"""

WORKFLOW = """
workflow: case_flow
entity: case
state_field: status
initial: received
states: [received, accepted, closed]
transitions:
  accept: {from: [received], to: accepted, label: {vi: Thụ lý}}
  close: {from: [accepted], to: closed, label: {vi: Kết thúc}}
"""

READER = """
role: reader
label: {vi: Người đọc}
grants:
  - {entity: case, scope: subtree, actions: [read]}
"""

CLERK = """
role: clerk
label: {vi: Văn thư}
grants:
  - {entity: case, scope: unit, actions: [read]}
"""


def write_rs_config(config_dir):
    """The configuration of these tests, in ``config_dir``; change sets go to roles_config/restructurings/."""
    config_dir.write("roles_config/hierarchy.yaml", HIERARCHY)
    config_dir.write("roles_config/units/units.csv", UNITS)
    config_dir.write("forms_config/lists/lists.yaml", LISTS)
    config_dir.write("forms_config/entities/case.yaml", CASE)
    config_dir.write("forms_config/entities/visit.yaml", VISIT)
    config_dir.write("forms_config/workflows/case_flow.yaml", WORKFLOW)
    config_dir.write("roles_config/roles/reader.yaml", READER)
    config_dir.write("roles_config/roles/clerk.yaml", CLERK)
    return config_dir


def change_set(config_dir, text: str, name: str = "change.yaml"):
    """Write a change set into the configuration and return its path."""
    rel = f"roles_config/restructurings/{name}"
    config_dir.write(rel, textwrap.dedent(text).lstrip("\n"))
    return config_dir.root / rel


async def unit_id(rt, code: str) -> int:
    uid = await rt.db.fetchval("SELECT id FROM hoso_unit WHERE code = {}", code)
    assert uid is not None, code
    return uid


async def add_case(rt, unit_code: str, commune: str | None = None, status: str = "received",
                   requester: str = "An") -> int:
    payload = {"received_on": "2024-03-01", "form_of_aid": "TV", "requester": requester,
               "unit": await unit_id(rt, unit_code)}
    if commune is not None:
        payload["commune"] = commune
    rec = await rt.records().create("case", payload, RecordContext.system(rt.config))
    if status != "received":
        # Test data: put the case in a later workflow state directly (the service changes states by transitions).
        await rt.db.execute('UPDATE "case" SET status = {} WHERE id = {}', status, rec["id"])
    return rec["id"]


async def add_visit(rt, unit_code: str) -> int:
    rec = await rt.records().create("visit", {"unit": await unit_id(rt, unit_code)}, RecordContext.system(rt.config))
    return rec["id"]


async def add_user(rt, username: str, unit_code: str | None = None) -> int:
    unit = await unit_id(rt, unit_code) if unit_code else None
    await rt.db.execute(
        "INSERT INTO hoso_user (username, password, email, first_name, last_name, active, admin, superuser, "
        "display_name, unit_id, locked, must_change_password) "
        "VALUES ({}, 'x', {}, '', '', TRUE, FALSE, FALSE, {}, {}, FALSE, FALSE)",
        username, f"{username}@localhost", username, unit)
    return await rt.db.fetchval("SELECT id FROM hoso_user WHERE username = {}", username)


async def assign(rt, user_id: int, role: str, unit_code: str, starts_on: dt.date = BEFORE) -> None:
    await rt.db.execute(
        "INSERT INTO hoso_assignment (user_id, role, unit_id, starts_on, created_at) VALUES ({}, {}, {}, {}, {})",
        user_id, role, await unit_id(rt, unit_code), starts_on, dt.datetime.now(dt.UTC))


async def visible(rt, user_id: int, on: dt.date | None = None, entity: str = "case") -> list[int]:
    """Ids of the records the user may read, by the scope predicate."""
    ent = rt.config.entity(entity)
    pred = rt.scope.predicate(Actor(user_id, f"u{user_id}", on=on), "read", ent)
    rows = await rt.db.fetch(f'SELECT t.id FROM "{ent.table}" t WHERE {pred.sql} ORDER BY t.id', *pred.args)
    return [r["id"] for r in rows]


async def active_assignments(rt, user_id: int, on: dt.date) -> list[tuple[str, str]]:
    rows = await rt.db.fetch(
        "SELECT a.role, u.code FROM hoso_assignment a JOIN hoso_unit u ON u.id = a.unit_id WHERE a.user_id = {} "
        "AND a.starts_on <= {} AND (a.ends_on IS NULL OR a.ends_on > {}) ORDER BY a.role, u.code", user_id, on, on)
    return [(r["role"], r["code"]) for r in rows]
