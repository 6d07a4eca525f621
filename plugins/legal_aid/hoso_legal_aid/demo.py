"""Demonstration data for the legal-aid configuration: one login per role, performers, organisations and cases
that went through their lifecycle, before and after the 2025 merger of provinces.

On a database still on the 2019 structure (63 provinces) whose configuration holds the 2025 change set
(roles_config/restructurings/2025-07-01-provinces.yaml), the cases received before 1 July 2025 are entered at the
centres of that time, then the change set is applied as `hoso restructure apply` does (the records of merged
centres move to their successors, with their history), then the cases received since are entered at the 34
centres of the new structure. Each case takes the workflow steps its age allows (accepted, assigned to a
performer of its centre, started, ended, file handed back, appraised, archived; some refused or discontinued).

Everything is written through the record service (``create_many`` and ``transition``), so naming series,
validation, workflow rules, history and audit apply exactly as for data entered by hand; the cases are written
500 per transaction (created together, then their steps), which makes 5,000 cases a matter of minutes. Values are
drawn by ``hoso_legal_aid.generator.LegalAidGenerator`` (the generic ``hoso.demo_data`` generator with the
legal-aid mixes) seeded with 2025, so two runs on empty databases give the same data. Only fields that exist in
the loaded configuration are filled, and choice values are taken from the configured lists.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from hoso.accounts import create_account
from hoso.audit import audit_batch
from hoso.config import EntityDef
from hoso.db import quote
from hoso.demo_data.bulk import load_records
from hoso.demo_data.generator import STREETS, jsonable, read_pools
from hoso.records.service import RecordContext
from hoso.scope import Actor
from hoso.users import create_user
from hoso_legal_aid.generator import LegalAidGenerator

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

ProgressFn = Callable[[int], Any]
# Cases written per transaction: created with ``create_many``, then their workflow steps.
BATCH = 500
# Above this many cases, they are written by the bulk loader (hoso.demo_data.bulk), 2,000 per transaction.
BULK_ABOVE = 20_000
BULK_BATCH = 2000


def _only_fields(entity: EntityDef, values: dict) -> dict:
    return {k: v for k, v in values.items() if v is not None and entity.has_field(k)}


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


async def _organisations(rt, gen: LegalAidGenerator, ctx, centres: list[dict]) -> dict[int, int]:
    """One participating organisation per centre (created when missing); centre unit id -> organisation id."""
    if not rt.config.has_entity("organisation"):
        return {}
    e = rt.config.entity("organisation")
    out = {r["unit"]: r["id"] for r in await rt.db.fetch(
        f"SELECT MIN(id) AS id, unit FROM {quote(e.table)} WHERE sys_deleted_at IS NULL GROUP BY unit")}
    new: list[tuple[int, dict]] = []
    for i, c in enumerate(centres):
        if c["id"] in out:
            continue
        province = gen.province(c["id"])
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
        if existing:
            out[c["id"]] = existing
        else:
            new.append((c["id"], values))
    made = await rt.records().create_many("organisation", [jsonable(v) for _c, v in new], ctx)
    out.update({c: r["id"] for (c, _v), r in zip(new, made, strict=True)})
    return out


async def _performers(rt, gen: LegalAidGenerator, ctx, centres: list[dict], organisations: dict[int, int]) -> int:
    """Three performers per centre (created when the centre has none); returns how many the centres have."""
    if not rt.config.has_entity("performer"):
        return 0
    e = rt.config.entity("performer")
    n = 0
    kinds = ["assistant", "contracted_lawyer", "organisation_lawyer"]
    staffed = {r["unit"]: int(r["n"]) for r in await rt.db.fetch(
        f"SELECT unit, COUNT(*) AS n FROM {quote(e.table)} WHERE sys_deleted_at IS NULL GROUP BY unit")}
    new = []
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
                "date_of_birth": born, "citizen_id": gen.citizen_id(gen.province_code(c["id"]), gender, born.year),
                "phone": gen.phone(), "email": f"nth.{c['code'].lower()}.{j + 1}@tgpl-demo.vn",
                "card_number": f"{gen.rng.randint(1000, 9999)}/TGVPL" if kind == "assistant"
                else f"{gen.rng.randint(10000, 19999)}/LS",
                "unit": c["id"], "organisation": org, "active": True,
            })
            if await _existing_id(rt, e, "citizen_id", values.get("citizen_id")) is None:
                new.append(values)
            n += 1
    await rt.records().create_many("performer", [jsonable(v) for v in new], ctx)
    return n


async def _refresh(rt: Runtime, gen: LegalAidGenerator) -> None:
    """The generator's pools: the open units, the performers (and their organisations), the organisations."""
    names = [n for n in ("performer", "organisation") if rt.config.has_entity(n)]
    gen.set_pools(await read_pools(rt.db, rt.config, names))
    if "performer" in names and rt.config.entity("performer").has_field("organisation"):
        gen.performer_organisation = {r["id"]: r["organisation"] for r in await rt.db.fetch(
            f"SELECT id, organisation FROM {quote(rt.config.entity('performer').table)}")}


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


async def _logins(rt: Runtime, gen: LegalAidGenerator, ctx: RecordContext, actor: Actor, units: dict[str, dict]
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


async def _cases(rt: Runtime, gen: LegalAidGenerator, ctx: RecordContext, centres: list[dict],
                 days: list[dt.date], made: int, progress: ProgressFn | None, bulk: bool = False) -> int:
    """Cases received on ``days`` (in order) at ``centres`` (bigger centres get more), each taken through the
    steps of its lifecycle its age allows; ``BATCH`` cases per transaction through the record service, or
    (``bulk``) drawn one at a time and written by the bulk loader. Returns the running count."""
    if not days or not centres:
        return made
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
    walks = rt.config.has_entity("performer")

    def draw(received: dt.date) -> dict:
        centre = centres[gen.rng.choices(range(len(centres)), weights=weights)[0]]
        unit = centre["id"]
        if branches.get(unit) and gen.rng.random() < 0.25:  # a quarter filed at one of its branches
            unit = gen.rng.choice(branches[unit])
        return gen.values("case", received_on=received, unit=unit)

    if bulk:
        def stream():
            for received in days:
                values = draw(received)
                steps = gen.walk("case", values) if walks else []
                yield jsonable(values), [(name, jsonable(payload)) for name, payload in steps]

        done = await load_records(rt, "case", stream(), ctx, batch=BULK_BATCH,
                                  progress=(lambda n: progress(made + n)) if progress else None)
        return made + len(done)
    for start in range(0, len(days), BATCH):
        drawn = [draw(received) for received in days[start:start + BATCH]]
        steps = [gen.walk("case", v) if walks else [] for v in drawn]
        async with audit_batch(rt.db), rt.db.transaction():
            records = await service.create_many("case", [jsonable(v) for v in drawn], ctx)
            for record, taken in zip(records, steps, strict=True):
                for name, payload in taken:
                    record = await service.transition("case", record["id"], name, jsonable(payload),
                                                      record["sys_version"], ctx)
        for _ in drawn:
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


async def load_demo(rt: Runtime, cases: int = 5000, once: bool = False, progress: ProgressFn | None = None,
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
    gen = LegalAidGenerator(rt.config, seed=SEED, today=today)
    gen.first_day = FIRST_DAY
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

    await _refresh(rt, gen)
    organisations = await _organisations(rt, gen, ctx, centres)
    performers = await _performers(rt, gen, ctx, centres, organisations)
    await _refresh(rt, gen)
    bulk = cases > BULK_ABOVE
    made = await _cases(rt, gen, ctx, centres, before, 0, progress, bulk)
    merged = ""
    if merger is not None:
        from hoso.restructure import apply

        applied = await apply(rt, merger, applied_by=DEMO_USERNAME)
        merged = f"; then {applied.render()}"
        centres = await _centres(rt)
        await _refresh(rt, gen)
        organisations = await _organisations(rt, gen, ctx, centres)
        performers = await _performers(rt, gen, ctx, centres, organisations)
        await _refresh(rt, gen)
    units = await _demo_units(rt, centres)
    logins = await _logins(rt, gen, ctx, actor, units) if units else []
    if has_case and rt.config.has_entity("performer") and rt.config.entity("performer").has_field("account"):
        me = next((x["id"] for x in logins if x["role"] == "performer_role"), None)
        gen.favourite = await rt.db.fetchval(
            f"SELECT id FROM {quote(rt.config.entity('performer').table)} WHERE account = {{}}", me) if me else None
    made = await _cases(rt, gen, ctx, centres, after, made, progress, bulk)
    message = (f"Demo data loaded: {made} case(s) received {FIRST_DAY:%d/%m/%Y}-{today:%d/%m/%Y} "
               f"({len(before)} before the merger) in {len(centres)} centres, {performers} performers and "
               f"{len(organisations)} organisations{merged}"
               + (f"; created the login {DEMO_USERNAME}." if created_admin else f"; the login {DEMO_USERNAME} "
                  "already existed (its password was not changed)."))
    return {**result, "message": message, "logins": logins}
