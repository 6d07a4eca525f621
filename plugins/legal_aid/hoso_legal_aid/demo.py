"""Demonstration data for the legal-aid configuration: one login per role, performers, organisations and cases
that went through their lifecycle, before and after the 2025 merger of provinces.

On a database still on the 2019 structure (63 provinces) whose configuration holds the 2025 change set
(roles_config/restructurings/2025-07-01-provinces.yaml), the cases received before 1 July 2025 are entered at the
centres of that time, then the change set is applied as `hoso restructure apply` does (the records of merged
centres move to their successors, with their history), then the cases received since are entered at the 34
centres of the new structure. Each case takes the workflow steps its age allows (accepted, assigned to a
performer of its centre, started, ended, file handed back, appraised, archived; some refused or discontinued).

Everything is written through the record service (``create`` and ``transition``), so naming series, validation,
workflow rules, history and audit apply exactly as for data entered by hand. Values are drawn from
``random.Random(2025)``, so two runs on empty databases give the same data. Only fields that exist in the loaded
configuration are filled, and choice values are taken from the configured lists.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from hoso.accounts import create_account
from hoso.config import EntityDef
from hoso.db import quote
from hoso.records.service import RecordContext
from hoso.scope import Actor
from hoso.users import create_user

if TYPE_CHECKING:  # pragma: no cover
    from hoso.runtime import Runtime

__all__ = ["load_demo", "DEMO_USERNAME", "DEMO_PASSWORD", "DEMO_LOGINS", "MERGER", "demo_today"]

DEMO_USERNAME = "demo.admin"
DEMO_PASSWORD = "hoso-demo-2025"
SEED = 2025
FIRST_DAY = dt.date(2023, 1, 1)
# The change set the demo applies between its two periods, when the configuration holds it.
MERGER = "restructurings/2025-07-01-provinces.yaml"
# The province whose people get the role logins: Lào Cai after 2025 (Lào Cai and Yên Bái merged, new code 15).
DEMO_CENTRE, DEMO_BRANCH, DEMO_PROVINCE = "TT-2025-15", "CN1-10", "STP-2025-15"
FOCUS = {DEMO_CENTRE, "TT-10", "TT-15"}  # the new Lào Cai centre and the two centres it succeeds
# username, role, where (the ministry, the province, the centre, the branch), display name
DEMO_LOGINS: tuple[tuple[str, str | None, str, str], ...] = (
    (DEMO_USERNAME, None, "ministry", "Quản trị viên hệ thống (demo)"),
    ("demo.national", "national_admin", "ministry", "Cán bộ Cục Trợ giúp pháp lý (demo)"),
    ("demo.statistician", "national_statistician", "ministry", "Cán bộ thống kê (demo)"),
    ("demo.province", "provincial_officer", "province", "Cán bộ Sở Tư pháp (demo)"),
    ("demo.director", "centre_director", "centre", "Giám đốc Trung tâm (demo)"),
    ("demo.staff", "centre_staff", "centre", "Cán bộ Trung tâm (demo)"),
    ("demo.branch", "branch_head", "branch", "Trưởng Chi nhánh (demo)"),
    ("demo.performer", "performer_role", "centre", "Trợ giúp viên pháp lý (demo)"),
    ("demo.lawyer", "organisation_lawyer", "centre", "Luật sư tổ chức tham gia (demo)"),
)


def demo_today() -> dt.date:
    """Today in Vietnam: the last day cases can be received on."""
    return dt.datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date()

FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô",
          "Dương", "Lý", "Đinh", "Trịnh", "Mai", "Lò", "Hà", "Sùng"]
FAMILY_WEIGHTS = [38, 11, 9, 7, 5, 2, 4, 4, 3, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
MIDDLE = {"male": ["Văn", "Hữu", "Đức", "Minh", "Quang", "Công", "Xuân", "Thành"],
          "female": ["Thị", "Ngọc", "Thu", "Thanh", "Kim", "Bích", "Thúy", "Hồng"]}
GIVEN = {"male": ["An", "Bình", "Cường", "Dũng", "Hùng", "Hải", "Khánh", "Long", "Nam", "Phong", "Quân", "Sơn",
                  "Thắng", "Tuấn", "Việt", "Hiếu", "Toàn", "Lâm", "Trung", "Huy"],
         "female": ["Anh", "Chi", "Dung", "Hà", "Hạnh", "Hoa", "Hương", "Lan", "Linh", "Mai", "Ngọc", "Nhung",
                    "Phương", "Thảo", "Trang", "Yến", "Vân", "Loan", "Hằng", "Diệp"]}
STREETS = ["Lê Lợi", "Trần Hưng Đạo", "Nguyễn Trãi", "Hai Bà Trưng", "Quang Trung", "Lý Thường Kiệt",
           "Phan Đình Phùng", "Hùng Vương", "Điện Biên Phủ", "Nguyễn Huệ"]
SUMMARIES = {
    "HS": ["Đề nghị cử người bào chữa cho bị can trong vụ án trộm cắp tài sản.",
           "Đề nghị bảo vệ quyền lợi cho bị hại trong vụ án cố ý gây thương tích.",
           "Đề nghị bào chữa cho người dưới 18 tuổi bị buộc tội."],
    "DS": ["Tranh chấp hợp đồng vay tài sản với người hàng xóm.",
           "Yêu cầu tư vấn về thừa kế quyền sử dụng đất theo di chúc."],
    "HNGD": ["Yêu cầu tư vấn thủ tục ly hôn và quyền nuôi con.",
             "Đề nghị hỗ trợ yêu cầu cấp dưỡng nuôi con sau ly hôn."],
    "HC": ["Khiếu nại quyết định thu hồi đất của Ủy ban nhân dân huyện.",
           "Hỏi về thủ tục khiếu nại quyết định xử phạt vi phạm hành chính."],
    "LD": ["Bị công ty chấm dứt hợp đồng lao động trái pháp luật, chưa được trả lương.",
           "Hỏi về chế độ bảo hiểm xã hội khi nghỉ việc."],
    "DD": ["Tranh chấp ranh giới thửa đất với hộ liền kề.",
           "Hỏi về thủ tục cấp giấy chứng nhận quyền sử dụng đất."],
    "CSXH": ["Hỏi về chế độ trợ cấp cho người khuyết tật.", "Hỏi về chính sách hỗ trợ hộ nghèo."],
    "KHAC": ["Yêu cầu tư vấn pháp luật về thủ tục hộ tịch."],
}
GROUPS = [("HN", 30), ("NCC", 8), ("TE", 8), ("DTTS", 14), ("KKTC_NCT", 10), ("KKTC_NKT", 8), ("BCTCN", 8),
          ("KKTC_BLGD", 6), ("TN1618", 4), ("MBN", 2), ("KKTC_LS", 2)]

ProgressFn = Callable[[int], Any]


class _Gen:
    """Random values valid for the loaded configuration."""

    def __init__(self, rt: Runtime):
        self.rng = random.Random(SEED)
        self.config = rt.config

    def options(self, entity: EntityDef, field: str) -> tuple[str, ...]:
        fd = entity.field(field)
        return self.config.choice_list(fd.list).values() if fd.list else ()

    def pick(self, entity: EntityDef, field: str, preferred: str | None = None,
             weights: Mapping[str, float] | None = None) -> str | None:
        """``preferred`` when it is an option of the field's list, else a (weighted) random option."""
        if not entity.has_field(field):
            return None
        opts = self.options(entity, field)
        if not opts:
            return preferred
        if preferred in opts:
            return preferred
        if weights:
            w = [weights.get(o, 0) for o in opts]
            if any(w):
                return self.rng.choices(opts, weights=w)[0]
        return self.rng.choice(opts)

    def person(self) -> tuple[str, str]:
        gender = self.rng.choice(["male", "female"])
        family = self.rng.choices(FAMILY, weights=FAMILY_WEIGHTS)[0]
        return f"{family} {self.rng.choice(MIDDLE[gender])} {self.rng.choice(GIVEN[gender])}", gender

    def digits(self, n: int) -> str:
        return "".join(self.rng.choice("0123456789") for _ in range(n))

    def citizen_id(self, province: str, gender: str, year: int) -> str:
        # Vietnamese personal ID: province code (3), gender and century (1), year (2), then 6 digits.
        century = 0 if year < 2000 else 2
        return f"{province}{century + (gender == 'female')}{year % 100:02d}{self.digits(6)}"

    def phone(self) -> str:
        return self.rng.choice(["09", "03", "08", "07"]) + self.digits(8)

    def date_between(self, start: dt.date, end: dt.date) -> dt.date:
        return start + dt.timedelta(days=self.rng.randrange((end - start).days + 1))


def _only_fields(entity: EntityDef, values: dict) -> dict:
    return {k: v for k, v in values.items() if v is not None and entity.has_field(k)}


def _province(unit_name: str) -> str:
    return unit_name.split("nhà nước", 1)[-1].strip() or unit_name


def _province_code(unit_code: str) -> str:
    digits = "".join(c for c in unit_code.split("-")[-1] if c.isdigit())
    return f"{int(digits):03d}" if digits else "001"


async def _centres(rt: Runtime) -> list[dict]:
    """The centres open now (every unit when the hierarchy names no centre level)."""
    rows = await rt.db.fetch("SELECT id, code, name_vi, type FROM hoso_unit WHERE valid_to IS NULL ORDER BY code")
    types = {t.name for t in rt.config.hierarchy.unit_types if t.level == "centre"} if rt.config.hierarchy else set()
    return [r for r in rows if r["type"] in types] or rows


async def _count(rt: Runtime, entity: str) -> int:
    table = rt.config.entity(entity).table
    return int(await rt.db.fetchval(f"SELECT COUNT(*) AS n FROM {quote(table)}") or 0)


async def _existing_id(rt: Runtime, entity: EntityDef, field: str, value: Any) -> int | None:
    if value is None or not entity.has_field(field):
        return None
    return await rt.db.fetchval(
        f"SELECT id FROM {quote(entity.table)} WHERE {quote(field)} = {{}} AND sys_deleted_at IS NULL", value)


async def _organisations(rt, gen: _Gen, ctx, centres: list[dict]) -> dict[int, int]:
    """One participating organisation per centre (created when missing); centre unit id -> organisation id."""
    if not rt.config.has_entity("organisation"):
        return {}
    e = rt.config.entity("organisation")
    service = rt.records()
    out = {r["unit"]: r["id"] for r in await rt.db.fetch(
        f"SELECT MIN(id) AS id, unit FROM {quote(e.table)} WHERE sys_deleted_at IS NULL GROUP BY unit")}
    for i, c in enumerate(centres):
        if c["id"] in out:
            continue
        province = _province(c["name_vi"])
        founder, _g = gen.person()
        if i % 2 == 0:
            name, kind = f"Công ty Luật TNHH {founder} và Cộng sự", "law_firm_contract"
        else:
            name, kind = f"Trung tâm Tư vấn pháp luật thuộc Hội Luật gia {province}", "advice_org_registered"
        since = gen.date_between(dt.date(2020, 1, 1), dt.date(2022, 12, 31))
        registration = f"{gen.rng.randint(1, 99):02d}.{gen.rng.randint(100, 999)}/TP/ĐKHĐ"
        values = _only_fields(e, {
            "name": name, "kind": gen.pick(e, "kind", kind), "registration_number": registration,
            "address": f"Số {gen.rng.randint(1, 200)} đường {gen.rng.choice(STREETS)}, {province}",
            "phone": gen.phone(), "email": f"lienhe{i + 1}@tgpl-demo.vn", "unit": c["id"],
            "contract_number": f"{gen.rng.randint(1, 60):02d}/HĐ-TGPL", "contract_from": since,
            "contract_until": since.replace(year=since.year + 5), "active": True,
            "note": "Dữ liệu minh họa.",
        })
        existing = await _existing_id(rt, e, "registration_number", values.get("registration_number"))
        out[c["id"]] = existing or (await service.create("organisation", _jsonable(values), ctx))["id"]
    return out


async def _performers(rt, gen: _Gen, ctx, centres: list[dict], organisations: dict[int, int]) -> int:
    """Three performers per centre (created when the centre has none); returns how many the centres have."""
    if not rt.config.has_entity("performer"):
        return 0
    e = rt.config.entity("performer")
    service = rt.records()
    n = 0
    kinds = ["assistant", "contracted_lawyer", "organisation_lawyer"]
    staffed = {r["unit"]: int(r["n"]) for r in await rt.db.fetch(
        f"SELECT unit, COUNT(*) AS n FROM {quote(e.table)} WHERE sys_deleted_at IS NULL GROUP BY unit")}
    for c in centres:
        if staffed.get(c["id"]):
            n += staffed[c["id"]]
            continue
        for j, kind in enumerate(kinds):
            name, gender = gen.person()
            born = gen.date_between(dt.date(1965, 1, 1), dt.date(1995, 12, 31))
            org = organisations.get(c["id"]) if kind == "organisation_lawyer" else None
            values = _only_fields(e, {
                "name": name, "kind": gen.pick(e, "kind", kind), "gender": gen.pick(e, "gender", gender),
                "date_of_birth": born, "citizen_id": gen.citizen_id(_province_code(c["code"]), gender, born.year),
                "phone": gen.phone(), "email": f"nth.{c['code'].lower()}.{j + 1}@tgpl-demo.vn",
                "card_number": f"{gen.rng.randint(1000, 9999)}/TGVPL" if kind == "assistant"
                else f"{gen.rng.randint(10000, 19999)}/LS",
                "unit": c["id"], "organisation": org, "active": True,
            })
            if await _existing_id(rt, e, "citizen_id", values.get("citizen_id")) is None:
                await service.create("performer", _jsonable(values), ctx)
            n += 1
    return n


def _case_values(gen: _Gen, e: EntityDef, centre: dict, received: dt.date) -> dict:
    rng = gen.rng
    name, gender = gen.person()
    form = gen.pick(e, "form_of_aid", weights={"TGTT": 50, "TV": 40, "DDNTT": 10})
    litigation = form == "TGTT"
    field_weights = ({"HS": 55, "DS": 15, "HNGD": 15, "HC": 5, "LD": 5, "DD": 5} if litigation else
                     {"DS": 20, "HNGD": 20, "DD": 20, "HC": 10, "LD": 10, "CSXH": 15, "HS": 3, "KHAC": 2})
    law = gen.pick(e, "field_of_law", weights=field_weights)
    group_opts = set(gen.options(e, "beneficiary_groups")) if e.has_field("beneficiary_groups") else set()
    criminal_only = {"TN1618", "BCTCN"}  # people in criminal proceedings
    choices = [(g, w) for g, w in GROUPS if g in group_opts and (law == "HS" or g not in criminal_only)] \
        or [(g, 1) for g in sorted(group_opts)]
    groups: list[str] = []
    if choices:
        for _ in range(1 if rng.random() < 0.8 else 2):
            g = rng.choices([g for g, _w in choices], weights=[w for _g, w in choices])[0]
            if g not in groups:
                groups.append(g)
    if "TE" in groups:
        age = rng.randint(8, 15)
    elif "TN1618" in groups:
        age = rng.randint(16, 17)
    elif "KKTC_NCT" in groups:
        age = rng.randint(60, 85)
    else:
        age = rng.randint(18, 70)
    born = received.year - age
    province = _province(centre["name_vi"])
    values: dict[str, Any] = {
        "received_on": received,
        "request_channel": gen.pick(e, "request_channel",
                                    weights={"in_person": 60, "hotline": 15, "post": 10, "online": 10,
                                             "mobile_app": 5}),
        "urgent": rng.random() < 0.05,
        "requester_name": name,
        "requester_citizen_id": gen.citizen_id(_province_code(centre["code"]), gender, born),
        "gender": gen.pick(e, "gender", gender),
        "birth_year": born,
        "phone": gen.phone() if rng.random() < 0.85 else None,
        "address": f"Số {rng.randint(1, 300)} đường {rng.choice(STREETS)}, {province}",
        "beneficiary_groups": groups or None,
        "field_of_law": law,
        "form_of_aid": form,
        "summary": rng.choice(SUMMARIES.get(law or "", SUMMARIES["KHAC"])),
        "unit": centre["id"],
    }
    if litigation:
        values["procedural_stage"] = gen.pick(e, "procedural_stage",
                                              weights={"investigation": 30, "prosecution": 20, "trial": 40,
                                                       "appeal": 10})
        values["litigation_role"] = gen.pick(e, "litigation_role", "defence" if law == "HS" else
                                             rng.choice(["protection", "representation"]))
        if e.has_field("hearings"):
            hearing_fields = {f.name for f in e.field("hearings").fields}
            day = received
            rows = []
            for k in range(rng.randint(1, 3)):
                day = day + dt.timedelta(days=rng.randint(20, 90))
                row = {"held_on": day,
                       "court": f"Tòa án nhân dân {province}" if k else f"Tòa án nhân dân cấp huyện, {province}",
                       "note": rng.choice(["Hoãn phiên tòa do vắng mặt người làm chứng.", "Xét xử sơ thẩm.",
                                           "Phiên họp hòa giải.", None])}
                rows.append({k2: v for k2, v in row.items() if k2 in hearing_fields and v is not None})
            values["hearings"] = rows
    return _only_fields(e, values)


def _jsonable(values: dict) -> dict:
    """Dates as ISO text, as a client would send them (the record service parses them back)."""
    def conv(v):
        if isinstance(v, (dt.date, dt.datetime)):
            return v.isoformat()
        if isinstance(v, list):
            return [conv(x) for x in v]
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        return v

    return {k: conv(v) for k, v in values.items()}


def _later(rng: random.Random, day: dt.date, low: int, high: int, today: dt.date) -> dt.date | None:
    """A day ``low``..``high`` days after ``day``, or None when that is after today (the step is not taken yet)."""
    d = day + dt.timedelta(days=rng.randint(low, high))
    return d if d <= today else None


class _Lifecycle:
    """Takes each case through the workflow steps its age allows, with the dates and choices each step needs."""

    def __init__(self, rt: Runtime, gen: _Gen, ctx: RecordContext, today: dt.date):
        self.e = rt.config.entity("case")
        self.service = rt.records()
        self.gen, self.ctx, self.today = gen, ctx, today
        self.steps = {t.name for wf in rt.config.workflows_for("case") for t in wf.transitions}
        self.performers: dict[int, list[dict]] = {}
        self.favourite: int | None = None  # the demo performer: given a share of its centre's cases

    async def load_performers(self, rt: Runtime) -> None:
        if not rt.config.has_entity("performer"):
            return
        table = quote(rt.config.entity("performer").table)
        org = ", organisation" if rt.config.entity("performer").has_field("organisation") else ", NULL AS organisation"
        self.performers = {}
        for r in await rt.db.fetch(f"SELECT id, unit{org} FROM {table} WHERE sys_deleted_at IS NULL ORDER BY id"):
            self.performers.setdefault(r["unit"], []).append(dict(r))

    async def _step(self, record: dict, name: str, values: dict) -> dict:
        return await self.service.transition("case", record["id"], name, _jsonable(_only_fields(self.e, values)),
                                             record["sys_version"], self.ctx)

    async def run(self, record: dict, received: dt.date, unit: int) -> dict:
        if not self.steps >= {"accept", "assign", "start", "end"}:
            return record
        rng, pick, today = self.gen.rng, self.gen.pick, self.today
        if "refuse" in self.steps and rng.random() < 0.04:
            day = _later(rng, received, 0, 3, today)
            if day:
                record = await self._step(record, "refuse", {"refused_on": day,
                                                             "refusal_reason": pick(self.e, "refusal_reason")})
            return record
        accepted = _later(rng, received, 0, 3, today)
        # requests of the last weeks still wait for a decision (some of them past the acceptance deadline)
        if not accepted or (not record.get("urgent") and (today - received).days < 21 and rng.random() < .4):
            return record
        record = await self._step(record, "accept", {"accepted_on": accepted})
        staff = self.performers.get(unit) or []
        assigned = _later(rng, accepted, 0, 5, today)
        if not staff or not assigned:
            return record
        mine = [p for p in staff if p["id"] == self.favourite]
        performer = mine[0] if mine and rng.random() < 0.5 else rng.choice(staff)
        record = await self._step(record, "assign", {
            "performer": performer["id"], "organisation": performer.get("organisation"), "assigned_on": assigned,
            "assignment_decision": f"{rng.randint(1, 999)}/QĐ-TGPL"})
        started = _later(rng, assigned, 0, 7, today)
        if not started:
            return record
        record = await self._step(record, "start", {"started_on": started})
        litigation = record.get("form_of_aid") == "TGTT"
        if "discontinue" in self.steps and rng.random() < 0.03:
            day = _later(rng, started, 5, 60, today)
            if day:
                record = await self._step(record, "discontinue", {
                    "discontinued_on": day, "not_continued_reason": pick(self.e, "not_continued_reason")})
            return record
        ended = _later(rng, started, 20, 240, today) if litigation else _later(rng, started, 0, 20, today)
        if not ended:
            return record
        successful = (rng.random() < 0.3) if litigation else None
        # a successful litigation case names the effectiveness criterion it met (forms_config/quality.yaml)
        met = pick(self.e, "success_criteria", "claims_accepted") if successful else None
        record = await self._step(record, "end", {
            "ended_on": ended, "result": pick(self.e, "result", "judgment" if litigation else "advice_delivered"),
            "successful": successful, "success_criteria": [met] if met else None})
        returned = _later(rng, ended, 1, 30, today)
        if "return_file" not in self.steps or not returned or rng.random() < 0.1:
            return record
        record = await self._step(record, "return_file", {"file_returned_on": returned})
        appraised = _later(rng, returned, 5, 60, today)
        if "appraise" not in self.steps or not appraised or rng.random() < 0.3:
            return record
        record = await self._step(record, "appraise", {
            "appraised_on": appraised, "appraisal_result": pick(self.e, "appraisal_result",
                                                                weights={"meets": 95, "not_meets": 5})})
        archived = _later(rng, appraised, 10, 120, today)
        if "archive" in self.steps and archived and rng.random() < 0.5:
            record = await self._step(record, "archive", {"archived_on": archived})
        return record


async def _unit_by_code(rt: Runtime, code: str) -> dict | None:
    rows = await rt.db.fetch("SELECT id, code, name_vi, type FROM hoso_unit WHERE code = {} AND valid_to IS NULL",
                             code)
    return dict(rows[0]) if rows else None


async def _demo_units(rt: Runtime, centres: list[dict]) -> dict[str, dict] | None:
    """The units the role logins work at: the ministry, Lào Cai's department, centre and branch of the new
    structure; else the first centre found, its parent and a branch under it. None without a hierarchy."""
    centre = await _unit_by_code(rt, DEMO_CENTRE) or (centres[0] if centres else None)
    if centre is None:
        return None
    parents = await rt.db.fetch("SELECT p.id, p.code, p.name_vi, p.type, p.parent_id FROM hoso_unit p JOIN hoso_unit c "
                                "ON c.parent_id = p.id WHERE c.id = {}", centre["id"])
    province = await _unit_by_code(rt, DEMO_PROVINCE) or (dict(parents[0]) if parents else centre)
    top = await rt.db.fetch("SELECT id, code, name_vi, type FROM hoso_unit WHERE parent_id IS NULL "
                            "AND valid_to IS NULL ORDER BY id")
    branch = await _unit_by_code(rt, DEMO_BRANCH)
    if branch is None:
        under = await rt.db.fetch("SELECT id, code, name_vi, type FROM hoso_unit WHERE parent_id = {} "
                                  "AND valid_to IS NULL ORDER BY code", centre["id"])
        branch = dict(under[0]) if under else centre
    return {"ministry": dict(top[0]) if top else province, "province": province, "centre": centre, "branch": branch}


async def _logins(rt: Runtime, gen: _Gen, ctx: RecordContext, actor: Actor, units: dict[str, dict]
                  ) -> list[dict]:
    """One login per role of the configuration at its unit (created when missing), the performer and the lawyer
    linked to performer records of the centre (the lawyer to one of a participating organisation)."""
    out = []
    for username, role, where, name in DEMO_LOGINS:
        unit = units[where]
        if role is not None and role not in {r.name for r in rt.config.roles}:
            continue
        uid = await rt.db.fetchval("SELECT id FROM hoso_user WHERE username = {}", username)
        if uid is None and role is not None:
            uid = await create_account(rt, actor, username, DEMO_PASSWORD, unit["code"], display_name=name,
                                       roles=(role,))
        out.append({"username": username, "role": role or "superuser", "unit": unit["code"], "id": uid,
                    "name": name})
    if rt.config.has_entity("performer") and rt.config.entity("performer").has_field("account"):
        e = rt.config.entity("performer")
        service = rt.records()
        table = quote(e.table)
        for login in out:
            if login["role"] not in ("performer_role", "organisation_lawyer"):
                continue
            if await rt.db.fetchval(f"SELECT id FROM {table} WHERE account = {{}}", login["id"]):
                continue
            kind = "organisation_lawyer" if login["role"] == "organisation_lawyer" else "assistant"
            rows = await rt.db.fetch(
                f"SELECT id, sys_version FROM {table} WHERE unit = {{}} AND kind = {{}} AND account IS NULL "
                "AND sys_deleted_at IS NULL ORDER BY id", units["centre"]["id"], kind)
            if rows:
                await service.update("performer", rows[0]["id"], {"account": login["id"]}, rows[0]["sys_version"],
                                     ctx)
    return out


async def _cases(rt: Runtime, gen: _Gen, ctx: RecordContext, life: _Lifecycle | None, centres: list[dict],
                 days: list[dt.date], made: int, progress: ProgressFn | None) -> int:
    """Cases received on ``days`` (in order) at ``centres`` (bigger centres get more), each taken through its
    lifecycle; returns the running count."""
    if not days or not centres:
        return made
    e = rt.config.entity("case")
    weights = [gen.rng.randint(1, 5) for _ in centres]
    # the centre of the role logins gets about a tenth of the cases, so that its people have work to see
    weights = [sum(weights) // 8 if c["code"] in FOCUS else w for c, w in zip(centres, weights, strict=True)]
    service = rt.records()
    branch_types = {t.name for t in rt.config.hierarchy.unit_types if t.level == "branch"} \
        if rt.config.hierarchy else set()
    branches: dict[int, list[int]] = {}
    for r in await rt.db.fetch("SELECT id, parent_id, type FROM hoso_unit WHERE valid_to IS NULL ORDER BY code"):
        if r["type"] in branch_types:
            branches.setdefault(r["parent_id"], []).append(r["id"])
    for received in days:
        centre = centres[gen.rng.choices(range(len(centres)), weights=weights)[0]]
        values = _case_values(gen, e, centre, received)
        if branches.get(centre["id"]) and gen.rng.random() < 0.25:  # a quarter filed at one of its branches
            values["unit"] = gen.rng.choice(branches[centre["id"]])
        record = await service.create("case", _jsonable(values), ctx)
        if life is not None:
            await life.run(record, received, centre["id"])
        made += 1
        if progress:
            progress(made)
    return made


async def _merger(rt: Runtime) -> Path | None:
    """The 2025 change set when the configuration holds it and it is not applied yet."""
    from hoso.restructure import applied_restructurings

    path = Path(rt.config.root) / "roles_config" / MERGER
    if not path.is_file():
        return None
    applied = {r["name"] for r in await applied_restructurings(rt.db)}
    return None if path.stem in applied else path


async def load_demo(rt: Runtime, cases: int = 200, once: bool = False, progress: ProgressFn | None = None,
                    today: dt.date | None = None) -> dict:
    """Load the logins, performers, organisations and ``cases`` cases; see the module docstring.

    With ``once``, nothing is done when the demo login exists and at least one case is recorded.
    """
    today = today or demo_today()
    result: dict[str, Any] = {"username": DEMO_USERNAME, "password": DEMO_PASSWORD, "logins": []}
    has_case = rt.config.has_entity("case")
    admin_id = await rt.db.fetchval("SELECT id FROM hoso_user WHERE username = {}", DEMO_USERNAME)
    if once and admin_id is not None and has_case and await _count(rt, "case") > 0:
        n = await _count(rt, "case")
        units = await _demo_units(rt, await _centres(rt))
        logins = [{"username": u, "role": r or "superuser", "unit": units[w]["code"] if units else "", "name": nm}
                  for u, r, w, nm in DEMO_LOGINS
                  if await rt.db.fetchval("SELECT id FROM hoso_user WHERE username = {}", u) is not None]
        return {**result, "message": f"Demo data is already loaded ({n} cases): nothing changed.", "logins": logins}
    created_admin = admin_id is None
    if created_admin:
        admin_id = await create_user(rt, DEMO_USERNAME, DEMO_PASSWORD, display_name="Quản trị viên (demo)",
                                     superuser=True, actor="demo", origin="demo")
    # The demo login is a superuser: its records are written as that account.
    ctx = RecordContext(config=rt.config, user_id=admin_id, user_name=DEMO_USERNAME, origin="demo", lang="vi",
                        superuser=True)
    actor = Actor(user_id=admin_id, username=DEMO_USERNAME, superuser=True, origin="demo")
    gen = _Gen(rt)
    centres = await _centres(rt)
    if not centres:
        return {**result, "message": "No units are loaded: run `hoso migrate` first; only the demo login was "
                                     "created."}
    merger = await _merger(rt)
    effective = None
    if merger is not None:
        from hoso.restructure import load_restructuring

        effective = load_restructuring(merger, rt.config.root).effective
        if not FIRST_DAY < effective <= today:
            merger = None
    days = sorted(gen.date_between(FIRST_DAY, today) for _ in range(cases if has_case else 0))
    before = [d for d in days if effective and merger and d < effective]
    after = days[len(before):]

    organisations = await _organisations(rt, gen, ctx, centres)
    performers = await _performers(rt, gen, ctx, centres, organisations)
    life = _Lifecycle(rt, gen, ctx, today) if has_case else None
    if life is not None:
        await life.load_performers(rt)
    made = await _cases(rt, gen, ctx, life, centres, before, 0, progress)
    merged = ""
    if merger is not None:
        from hoso.restructure import apply

        applied = await apply(rt, merger, applied_by=DEMO_USERNAME)
        merged = f"; then {applied.render()}"
        centres = await _centres(rt)
        organisations = await _organisations(rt, gen, ctx, centres)
        performers = await _performers(rt, gen, ctx, centres, organisations)
        if life is not None:
            await life.load_performers(rt)
    units = await _demo_units(rt, centres)
    logins = await _logins(rt, gen, ctx, actor, units) if units else []
    if life is not None and rt.config.has_entity("performer") and rt.config.entity("performer").has_field("account"):
        me = next((x["id"] for x in logins if x["role"] == "performer_role"), None)
        life.favourite = await rt.db.fetchval(
            f"SELECT id FROM {quote(rt.config.entity('performer').table)} WHERE account = {{}}", me) if me else None
    made = await _cases(rt, gen, ctx, life, centres, after, made, progress)
    message = (f"Demo data loaded: {made} case(s) received {FIRST_DAY:%d/%m/%Y}-{today:%d/%m/%Y} "
               f"({len(before)} before the merger) in {len(centres)} centres, {performers} performers and "
               f"{len(organisations)} organisations{merged}"
               + (f"; created the login {DEMO_USERNAME}." if created_admin else f"; the login {DEMO_USERNAME} "
                  "already existed (its password was not changed)."))
    return {**result, "message": message, "logins": logins}
