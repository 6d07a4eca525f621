"""Demonstration data for the legal-aid configuration: a demo login, performers, organisations and cases.

Everything is written through the record service (``RecordService.create``), so naming series, validation
and audit apply exactly as for data entered by hand. Values are drawn from ``random.Random(2025)``, so two
runs on empty databases give the same data. Only fields that exist in the loaded configuration are filled,
and choice values are taken from the configured lists.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from hoso.config import EntityDef
from hoso.db import quote
from hoso.records.service import RecordContext
from hoso.users import create_user

if TYPE_CHECKING:  # pragma: no cover
    from hoso.runtime import Runtime

__all__ = ["load_demo", "DEMO_USERNAME", "DEMO_PASSWORD"]

DEMO_USERNAME = "demo.admin"
DEMO_PASSWORD = "hoso-demo-2025"
SEED = 2025
YEARS = (2023, 2024, 2025)
CENTRES = 6

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


async def _centres(rt: Runtime, rng: random.Random) -> list[dict]:
    rows = await rt.db.fetch("SELECT id, code, name_vi FROM hoso_unit WHERE code LIKE 'TT-%' ORDER BY code")
    if not rows and rt.config.hierarchy:
        types = [t.name for t in rt.config.hierarchy.unit_types if t.level == "centre"]
        rows = [r for r in await rt.db.fetch("SELECT id, code, name_vi, type FROM hoso_unit ORDER BY code")
                if r["type"] in types]
    if not rows:
        rows = await rt.db.fetch("SELECT id, code, name_vi FROM hoso_unit ORDER BY code")
    if len(rows) > CENTRES:
        rows = sorted(rng.sample(rows, CENTRES), key=lambda r: r["code"])
    return rows


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
    out = {}
    for i, c in enumerate(centres):
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
    """Three performers per centre (created when missing); returns how many exist for the demo."""
    if not rt.config.has_entity("performer"):
        return 0
    e = rt.config.entity("performer")
    service = rt.records()
    n = 0
    kinds = ["assistant", "contracted_lawyer", "organisation_lawyer"]
    for c in centres:
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


async def load_demo(rt: Runtime, cases: int = 200, once: bool = False,
                    progress: ProgressFn | None = None) -> dict:
    """Load the demo login, performers, organisations and ``cases`` cases; see the module docstring.

    With ``once``, nothing is done when the demo login exists and at least one case is recorded.
    """
    result = {"username": DEMO_USERNAME, "password": DEMO_PASSWORD}
    has_case = rt.config.has_entity("case")
    admin_id = await rt.db.fetchval("SELECT id FROM hoso_user WHERE username = {}", DEMO_USERNAME)
    if once and admin_id is not None and has_case and await _count(rt, "case") > 0:
        n = await _count(rt, "case")
        return {"message": f"Demo data is already loaded ({n} cases): nothing changed.", **result}
    created_admin = admin_id is None
    if created_admin:
        admin_id = await create_user(rt, DEMO_USERNAME, DEMO_PASSWORD, display_name="Quản trị viên (demo)",
                                     superuser=True, actor="demo", origin="demo")
    # The demo login is a superuser: its records are written as that account.
    ctx = RecordContext(config=rt.config, user_id=admin_id, user_name=DEMO_USERNAME, origin="demo", lang="vi",
                        superuser=True)
    gen = _Gen(rt)
    centres = await _centres(rt, gen.rng)
    if not centres:
        return {"message": "No units are loaded: run `hoso migrate` first; only the demo login was created.",
                **result}
    organisations = await _organisations(rt, gen, ctx, centres)
    performers = await _performers(rt, gen, ctx, centres, organisations)

    made = 0
    if has_case and cases > 0:
        e = rt.config.entity("case")
        # Bigger centres get more cases; cases are created in the order they were received, so the
        # sequence numbers in their codes follow the dates.
        weights = [gen.rng.randint(1, 5) for _ in centres]
        plan = sorted(
            ((gen.date_between(dt.date(YEARS[0], 1, 1), dt.date(YEARS[-1], 12, 31)),
              gen.rng.choices(range(len(centres)), weights=weights)[0]) for _ in range(cases)),
            key=lambda p: p[0],
        )
        service = rt.records()
        for received, ci in plan:
            await service.create("case", _jsonable(_case_values(gen, e, centres[ci], received)), ctx)
            made += 1
            if progress:
                progress(made)
    codes = ", ".join(c["code"] for c in centres)
    message = (f"Demo data loaded: {made} case(s) received {YEARS[0]}-{YEARS[-1]} in {len(centres)} centres "
               f"({codes}), {performers} performers and {len(organisations)} organisations"
               + (f"; created the login {DEMO_USERNAME}." if created_admin else f"; the login {DEMO_USERNAME} "
                  "already existed (its password was not changed)."))
    return {"message": message, **result}
