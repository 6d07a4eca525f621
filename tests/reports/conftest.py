"""A small reporting world, migrated on each engine: a ministry, two provinces, three centres, cases of every
field kind a report groups or measures, and users of different scopes (national, one province, statistics only,
a reader without reports)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import textwrap
from pathlib import Path

import pytest

from hoso.config import load_config
from hoso.model.migrate import apply_plan, make_plan
from hoso.records.context import RecordContext
from hoso.runtime import Runtime
from hoso.scope import rebuild_closure
from hoso.units import sync_units
from tests.helpers import migrated_runtime

TODAY = dt.date(2026, 1, 15)

LISTS = """
lists:
  form_of_aid:
    options:
      - {value: TV, vi: Tư vấn pháp luật, en: Legal advice}
      - {value: TGTT, vi: Tham gia tố tụng, en: Participation in proceedings}
  field_of_law:
    options:
      - {value: HS, vi: Hình sự, en: Criminal}
      - {value: DS, vi: Dân sự, en: Civil}
  gender:
    options:
      - {value: male, vi: Nam, en: Male}
      - {value: female, vi: Nữ, en: Female}
  beneficiary_group:
    options:
      - {value: TE, vi: Trẻ em, en: Children}
      - {value: HN, vi: Hộ nghèo, en: Poor households}
      - {value: KKTC_LS, vi: Thân nhân liệt sĩ, en: Martyrs' relatives}
  case_status:
    options:
      - {value: received, vi: Đã tiếp nhận, en: Received}
      - {value: accepted, vi: Đã thụ lý, en: Accepted}
      - {value: refused, vi: Từ chối, en: Refused}
      - {value: ended, vi: Kết thúc, en: Ended}
"""

HIERARCHY = """
levels: [ministry, province, centre]
unit_types:
  ministry: {level: ministry, label: {vi: Bộ, en: Ministry}}
  province: {level: province, label: {vi: Tỉnh, en: Province}}
  centre: {level: centre, label: {vi: Trung tâm, en: Centre}}
units:
  - file: units/units.csv
"""

UNITS = """
code,name_vi,name_en,type,parent_code,valid_from
BTP,Bộ Tư pháp,Ministry of Justice,ministry,,2019-01-01
P1,Tỉnh Một,Province One,province,BTP,2019-01-01
C11,Trung tâm Một Một,Centre One One,centre,P1,2019-01-01
C12,Trung tâm Một Hai,Centre One Two,centre,P1,2019-01-01
P2,Tỉnh Hai,Province Two,province,BTP,2019-01-01
C21,Trung tâm Hai Một,Centre Two One,centre,P2,2019-01-01
"""

CASE = """
entity: case
label: {vi: Vụ việc, en: Case}
unit_field: unit
fields:
  code: {type: text, label: {vi: Mã, en: Code}}
  received_on: {type: date, required: true, label: {vi: Ngày tiếp nhận, en: Received on}}
  ended_on: {type: date, label: {vi: Ngày kết thúc, en: Ended on}}
  field_of_law: {type: choice, list: field_of_law, label: {vi: Lĩnh vực, en: Field of law}}
  form_of_aid: {type: choice, list: form_of_aid, label: {vi: Hình thức, en: Form of aid}}
  gender: {type: choice, list: gender, label: {vi: Giới tính, en: Gender}}
  groups: {type: multi_choice, list: beneficiary_group, label: {vi: Diện, en: Groups}}
  age: {type: integer, label: {vi: Tuổi, en: Age}}
  urgent: {type: boolean, label: {vi: Khẩn cấp, en: Urgent}}
  citizen_id: {type: text, label: {vi: Số định danh, en: Citizen ID}}
  status: {type: choice, list: case_status, label: {vi: Trạng thái, en: Status}}
  unit: {type: org_unit, label: {vi: Đơn vị, en: Unit}}
  performer: {type: reference, entity: performer, label: {vi: Người thực hiện, en: Performer}}
"""

PERFORMER = """
entity: performer
label: {vi: Người thực hiện, en: Performer}
unit_field: unit
title_field: name
fields:
  name: {type: text, label: {vi: Họ tên, en: Name}}
  unit: {type: org_unit, label: {vi: Đơn vị, en: Unit}}
  yearly_target: {type: integer, label: {vi: Định mức năm, en: Yearly target}}
"""

ROLES = {
    "r_national": "{entity: case, scope: national, actions: [read, run_reports]}",
    "r_province": "{entity: case, scope: subtree, actions: [read, run_reports]}",
    "r_centre": "{entity: case, scope: unit, actions: [read, run_reports]}",
    "r_stats": "{entity: case, scope: statistics, actions: [run_reports]}",
    "r_reader": "{entity: case, scope: subtree, actions: [read]}",
}

REPORTS = {
    # Biểu 24 in small: field of law x form of aid; total, men, women, one column per group
    "people": """
report: people
entity: case
label: {vi: Số người được trợ giúp, en: People assisted}
date_field: received_on
filter: status != "refused"
parameters: [form_of_aid, urgent]
rows: [field_of_law, form_of_aid]
columns:
  - {key: total, measure: count, label: {vi: Tổng số, en: Total}}
  - group: {vi: Giới tính, en: Gender}
    columns:
      - {key: men, measure: count, where: gender == "male", label: {vi: Nam, en: Men}}
      - {key: women, measure: count, where: gender == "female", label: {vi: Nữ, en: Women}}
  - {per_option: groups}
subtotals: true
""",
    "by_unit": """
report: by_unit
entity: case
label: {vi: Theo đơn vị, en: By unit}
date_field: received_on
rows: [unit]
columns:
  - {key: total, measure: count, label: {vi: Tổng số, en: Total}}
  - {per_option: status, people: false}
""",
    "measures": """
report: measures
entity: case
label: {vi: Các phép đo, en: Measures}
date_field: received_on
rows: [form_of_aid]
columns:
  - {key: n, measure: count, label: {vi: Số vụ, en: Cases}}
  - {key: people, measure: count_distinct, field: citizen_id, label: {vi: Số người, en: People}}
  - {key: age_sum, measure: sum, field: age, label: {vi: Tổng tuổi, en: Sum of ages}}
  - {key: age_avg, measure: avg, field: age, label: {vi: Tuổi trung bình, en: Average age}}
  - {key: age_min, measure: min, field: age, label: {vi: Nhỏ nhất, en: Youngest}}
  - {key: age_max, measure: max, field: age, where: urgent, label: {vi: Lớn nhất khẩn cấp, en: Oldest urgent}}
  - {key: last_end, measure: max, field: ended_on, label: {vi: Kết thúc gần nhất, en: Last ended}}
""",
    "monthly": """
report: monthly
entity: case
label: {vi: Theo tháng, en: Monthly}
date_field: received_on
rows: [{period: month}, field_of_law]
columns:
  - {key: total, measure: count, label: {vi: Tổng số, en: Total}}
  - {key: ended, measure: count, where: ended_on != null, label: {vi: Kết thúc, en: Ended}}
subtotals: true
""",
    "quotas": """
report: quotas
entity: case
label: {vi: Định mức, en: Quotas}
date_field: ended_on
filter: performer != null and status == "ended"
rows: [performer]
columns:
  - {key: completed, measure: count, label: {vi: Hoàn thành, en: Completed}, people: false}
  - {key: target, measure: attribute, field: performer.yearly_target, label: {vi: Định mức, en: Target}, people: false}
""",
}


def write_config(root: Path):
    files = {
        "forms_config/lists/lists.yaml": LISTS,
        "forms_config/entities/case.yaml": CASE,
        "forms_config/entities/performer.yaml": PERFORMER,
        "roles_config/hierarchy.yaml": HIERARCHY,
        "roles_config/units/units.csv": UNITS,
    }
    for name, grant in ROLES.items():
        files[f"roles_config/roles/{name}.yaml"] = f"role: {name}\nlabel: {{vi: {name}}}\ngrants:\n  - {grant}\n"
    for name, text in REPORTS.items():
        files[f"forms_config/reports/{name}.yaml"] = text
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return load_config(root)


# Users: (id, role, unit code). 1 national, 2 province P1, 3 statistics at P2, 4 reader at P1, 5 centre C11.
USERS = [(1, "r_national", "BTP"), (2, "r_province", "P1"), (3, "r_stats", "P2"), (4, "r_reader", "P1"),
         (5, "r_centre", "C11")]

CASE_COLUMNS = ("code", "received_on", "ended_on", "field_of_law", "form_of_aid", "gender", "groups", "age", "urgent",
                "citizen_id", "status", "unit", "performer")


async def unit_ids(rt) -> dict[str, int]:
    return {r["code"]: int(r["id"]) for r in await rt.db.fetch("SELECT id, code FROM hoso_unit")}


async def set_users(rt, users=USERS) -> None:
    ids = await unit_ids(rt)
    async with rt.db.transaction():
        await rt.db.execute("DELETE FROM hoso_assignment")
        for uid, role, code in users:
            await rt.db.execute("INSERT INTO hoso_assignment (user_id, role, unit_id, starts_on, ends_on, created_at) "
                                "VALUES ({}, {}, {}, {}, {}, {})", uid, role, ids[code], dt.date(2020, 1, 1), None,
                                dt.datetime.now(dt.UTC))


async def load_cases(rt, cases: list[dict], performers: list[dict] = ()) -> None:
    """Replace the cases (dicts of CASE_COLUMNS, ``unit`` a code, ``deleted`` and ``scope_unit`` (a code)
    optional) and performers."""
    ids = await unit_ids(rt)
    async with rt.db.transaction():
        await rt.db.execute('DELETE FROM "case"')
        await rt.db.execute('DELETE FROM "performer"')
        for p in performers:
            await rt.db.execute('INSERT INTO "performer" (id, name, unit, yearly_target, sys_version) '
                                "VALUES ({}, {}, {}, {}, 1)", p["id"], p["name"], ids[p["unit"]],
                                p.get("yearly_target"))
        for i, c in enumerate(cases):
            values = []
            for col in CASE_COLUMNS:
                v = c.get(col)
                if col == "groups" and v is not None:
                    v = json.dumps(list(v), ensure_ascii=False)
                if col == "unit" and v is not None:
                    v = ids[v]
                values.append(v)
            marks = ", ".join("{}" for _ in CASE_COLUMNS)
            cols = ", ".join(f'"{c}"' for c in CASE_COLUMNS)
            scope_unit = c.get("scope_unit")  # the unit a split made the record answer to
            await rt.db.execute(f'INSERT INTO "case" (id, {cols}, sys_version, sys_deleted_at, sys_scope_unit) '
                                f"VALUES ({{}}, {marks}, 1, {{}}, {{}})", i + 1, *values,
                                dt.datetime.now(dt.UTC) if c.get("deleted") else None,
                                None if scope_unit is None else ids[scope_unit])
        await rebuild_closure(rt.db)


def ctx_of(rt, user_id: int | None, lang: str = "vi") -> RecordContext:
    if user_id is None:
        return RecordContext.system(rt.config)
    return RecordContext(rt.config, user_id, f"u{user_id}", "test", lang, on=TODAY)


@pytest.fixture
def report_config(tmp_path):
    return write_config(tmp_path / "config")


@pytest.fixture
async def rt(report_config, database_url):
    runtime = await migrated_runtime(report_config, database_url)
    await set_users(runtime)
    yield runtime
    await runtime.db.close()


@pytest.fixture
def property_db(tmp_path, database_url):
    """A database migrated to the reports' test configuration, with its units and users: (config, url)."""
    config = write_config(tmp_path / "config")

    async def migrate():
        rt = Runtime.create(config, database_url)
        await rt.db.start()
        plan = await make_plan(rt.db, rt.config, rt.registry)
        await apply_plan(rt.db, rt.config, rt.registry, plan, applied_by="test")
        await sync_units(rt)
        await set_users(rt)
        await rt.db.close()

    asyncio.run(migrate())
    return config, database_url
