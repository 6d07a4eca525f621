"""Evaluation plans: drawing a plan's sample and storing it as ``evaluation_sample`` records, and evaluating a
case with the rubric (the routes under ``/api/quality``).

Everything is read and written through the record service with the requester's context: the candidates are
the ended cases the requester may read (the scope predicate in the candidates' SQL) in the plan's unit subtree,
and each sampled case becomes an ``evaluation_sample`` record created by the requester, audited like any record.
"""

from __future__ import annotations

import datetime as dt
import secrets
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from litestar import Request, get, post
from litestar.params import FromQuery

from hoso.db import quote
from hoso.records.errors import InvalidTransition, ValidationError
from hoso.records.service import RecordContext
from hoso.scope import current_on, effective_unit
from hoso.web.api import RecordId, _json_body, request_context, same_site
from hoso_legal_aid._inputs import MAX_BODY, refuse_keys, refuse_query, version_of
from hoso_legal_aid.quality_closing import CLOSED
from hoso_legal_aid.quality_config import QualityDef, quality_of
from hoso_legal_aid.sampler import Candidate, Sample, draw_sample

if TYPE_CHECKING:  # pragma: no cover
    from hoso.runtime import Runtime

__all__ = ["REVIEWER_ROLE", "candidates", "draw_plan_sample", "evaluate_case", "quality_routes_for",
           "sampled_before"]

REVIEWER_ROLE = "quality_reviewer"

_MESSAGES: dict[str, dict[str, str]] = {
    "vi": {
        "not_draft": "kế hoạch đã được chọn mẫu (trạng thái {status!r}); mỗi kế hoạch chỉ chọn mẫu một lần",
        "closed": "kế hoạch đã đóng: không chọn mẫu được nữa",
        "reviewers": "danh sách người đánh giá phải là các số tài khoản giữ vai trò người đánh giá chất lượng",
        "reviewer_unknown": "tài khoản {id} không giữ vai trò người đánh giá chất lượng vụ việc",
        "scores": "nhập điểm theo từng tiêu chí dạng {{\"tiêu chí\": điểm}}",
        "no_config": "chưa cấu hình bộ tiêu chí đánh giá (forms_config/quality.yaml)",
    },
    "en": {
        "not_draft": "the plan's sample was drawn already (status {status!r}); a plan draws its sample once",
        "closed": "the plan is closed: no sample can be drawn any more",
        "reviewers": "reviewers must be a list of account ids holding the case quality reviewer role",
        "reviewer_unknown": "account {id} does not hold the case quality reviewer role",
        "scores": "give the score of each criterion as {{\"criterion\": points}}",
        "no_config": "no evaluation rubric is configured (forms_config/quality.yaml)",
    },
}


def _m(lang: str, key: str, **kw: Any) -> str:
    return _MESSAGES["en" if lang == "en" else "vi"][key].format(**kw)


async def candidates(rt: Runtime, quality: QualityDef, plan: dict, ctx: RecordContext) -> list[dict]:
    """The ended cases of the plan's year in its unit's subtree that the requester may read, each with the
    province unit it answers to (the open unit of the configured level above its unit, following mergers, else the
    unit) and the open unit that answers for it today (``open_unit``)."""
    case = rt.config.entity("case")
    unit = effective_unit(case, "t")
    types = [t.name for t in rt.config.hierarchy.unit_types if t.level == quality.province_level] \
        if rt.config.hierarchy else []
    type_marks = ", ".join("{}" for _ in types) or "NULL"
    state_marks = ", ".join("{}" for _ in quality.ended_states)
    # A sample is filed at the open unit that answers for the case today: a case of a centre a restructuring
    # closed keeps its unit, its sample goes to the successor (the closure holds merged units under it).
    sample_types = list(rt.config.entity("evaluation_sample").field("unit").unit_types) or \
        list(case.field(case.unit_field or "unit").unit_types)
    sample_marks = ", ".join("{}" for _ in sample_types)
    sample_type_sql = f" AND ou.type IN ({sample_marks})" if sample_types else ""
    read = rt.scope.predicate(ctx.actor, "read", case, "t")
    year = int(plan["year"])
    sql = (
        f"SELECT t.id AS id, t.{quote('performer')} AS performer, {unit} AS unit, COALESCE(("
        "SELECT pc.ancestor_id FROM hoso_unit_closure pc JOIN hoso_unit pu ON pu.id = pc.ancestor_id "
        f"WHERE pc.descendant_id = {unit} AND pu.type IN ({type_marks}) "
        "ORDER BY CASE WHEN pu.valid_to IS NULL THEN 0 ELSE 1 END, pc.ancestor_id LIMIT 1), "
        f"{unit}) AS province, COALESCE(("
        "SELECT oc.ancestor_id FROM hoso_unit_closure oc JOIN hoso_unit ou ON ou.id = oc.ancestor_id "
        f"WHERE oc.descendant_id = {unit} AND ou.valid_to IS NULL{sample_type_sql} "
        f"ORDER BY oc.depth, oc.ancestor_id LIMIT 1), {unit}) AS open_unit FROM {quote(case.table)} t "
        f"WHERE t.sys_deleted_at IS NULL AND t.{quote(workflow_state(rt))} IN ({state_marks}) "
        f"AND t.{quote('ended_on')} >= {{}} AND t.{quote('ended_on')} <= {{}} "
        f"AND {unit} IN (SELECT c.descendant_id FROM hoso_unit_closure c WHERE c.ancestor_id = {{}}) "
        f"AND ({read.sql}) ORDER BY t.id")
    args = (*types, *sample_types, *quality.ended_states, dt.date(year, 1, 1), dt.date(year, 12, 31), plan["unit"],
            *read.args)
    return [dict(r) for r in await rt.db.fetch(sql, *args)]


def workflow_state(rt: Runtime) -> str:
    """The case's state field (``status`` in the reference configuration)."""
    for wf in rt.config.workflows:
        if wf.entity == "case":
            return wf.state_field
    return "status"


async def sampled_before(rt: Runtime) -> set[int]:
    """Every case some plan sampled: a case is never sampled twice, whoever drew the earlier sample."""
    table = quote(rt.config.entity("evaluation_sample").table)
    return {r["case_file"] for r in await rt.db.fetch(f"SELECT case_file FROM {table}")}


async def _check_reviewers(rt: Runtime, reviewers: Any, ctx: RecordContext) -> list[int]:
    if reviewers is None:
        return []
    if not isinstance(reviewers, list) or not all(isinstance(r, int) and not isinstance(r, bool)
                                                  for r in reviewers):
        raise ValidationError([("reviewers", _m(ctx.lang, "reviewers"))])
    current = current_on(ctx.today, "a")
    for rid in dict.fromkeys(reviewers):
        ok = await rt.db.fetchval(
            f"SELECT 1 FROM hoso_assignment a JOIN hoso_user u ON u.id = a.user_id WHERE a.user_id = {{}} "
            f"AND a.role = {{}} AND u.active = {{}} AND {current.sql}", rid, REVIEWER_ROLE, True, *current.args)
        if not ok:
            raise ValidationError([("reviewers", _m(ctx.lang, "reviewer_unknown", id=rid))])
    return list(dict.fromkeys(reviewers))


async def draw_plan_sample(rt: Runtime, plan_id: int, ctx: RecordContext, *, reviewers: Any = None,
                           version: int | None = None) -> tuple[dict, Sample]:
    """Draw the sample of a draft plan and store it: one ``evaluation_sample`` per drawn case (reviewers taken in
    turn), and on the plan its seed (drawn now when it has none), the date, the size and the state ``sampled``.
    All in one transaction, through the record service with the requester's context."""
    quality = quality_of(rt.config)
    svc = rt.records()
    plan = await svc.get("evaluation_plan", plan_id, ctx)  # NotFound outside the requester's scope
    if quality is None:
        raise ValidationError([("plan", _m(ctx.lang, "no_config"))])
    if plan.get("status") == CLOSED:
        raise InvalidTransition(_m(ctx.lang, "closed"), CLOSED, ("draft",))
    if plan.get("status") != "draft":
        raise InvalidTransition(_m(ctx.lang, "not_draft", status=plan.get("status")), plan.get("status"), ("draft",))
    chosen_reviewers = await _check_reviewers(rt, reviewers, ctx)
    seed = plan.get("seed")
    if seed is None:
        seed = secrets.randbelow(2**31)
    share = Fraction(Decimal(str(plan["share_percent"]))) / 100
    async with rt.db.transaction():
        rows = await candidates(rt, quality, plan, ctx)
        by_id = {r["id"]: r for r in rows}
        sample = draw_sample([Candidate(r["id"], r["province"], r["performer"]) for r in rows], share, seed,
                             await sampled_before(rt))
        for i, case_id in enumerate(sample.cases):
            row = by_id[case_id]
            province = row["province"] if row["province"] != row["unit"] else None
            payload = {"plan": plan_id, "case_file": case_id, "performer": row["performer"],
                       "unit": row["open_unit"], "province": province}
            if chosen_reviewers:
                payload["reviewer"] = chosen_reviewers[i % len(chosen_reviewers)]
            await svc.create("evaluation_sample", {k: v for k, v in payload.items() if v is not None}, ctx)
        updated = await svc.update("evaluation_plan", plan_id, {
            "seed": seed, "status": "sampled", "sampled_on": ctx.today.isoformat(),
            "sample_size": len(sample.cases)}, version if version is not None else plan["sys_version"], ctx)
    return updated, sample


async def evaluate_case(rt: Runtime, case_id: int, body: dict, ctx: RecordContext) -> dict:
    """Take the ``evaluate`` step of a case from its criterion scores: the total and the grade are the rubric's
    (forms_config/quality.yaml); the record service checks the scores and the step as for any write."""
    quality = quality_of(rt.config)
    if quality is None:
        raise ValidationError([("scores", _m(ctx.lang, "no_config"))])
    scores = body.get("scores")
    if not isinstance(scores, dict) or not scores:
        raise ValidationError([("scores", _m(ctx.lang, "scores"))])
    rows = [{"criterion": str(k), "score": v} for k, v in scores.items()]
    payload: dict[str, Any] = {k: v for k, v in body.items() if k not in ("scores", "sys_version")}
    payload["evaluation_scores"] = rows
    by_key = {c.key: c for c in quality.rubric.criteria}
    if set(scores) == set(by_key) and all(isinstance(v, int) and not isinstance(v, bool)
                                          and 0 <= v <= by_key[k].max for k, v in scores.items()):
        payload["evaluation_score"], payload["evaluation_grade"] = quality.rubric.score(scores)
    svc = rt.records()
    version = body.get("sys_version")
    if version is None:
        version = (await svc.get("case", case_id, ctx))["sys_version"]
    return await svc.transition("case", case_id, "evaluate", payload, version, ctx)


def quality_routes_for(runtime: Runtime) -> list[Any]:
    """``POST /api/quality/plans/{id}/sample``, ``POST /api/quality/cases/{id}/evaluate`` and
    ``GET /api/quality/quotas?year=``."""

    @post("/api/quality/plans/{plan_id:int}/sample", guards=[same_site], status_code=200,
          tags=["quality"], summary="Draw and store an evaluation plan's sample", request_max_body_size=MAX_BODY)
    async def sample_plan(request: Request, plan_id: RecordId) -> dict:
        ctx = await request_context(request)
        refuse_query(request, ctx.lang)
        body = await _json_body(request)
        refuse_keys(body, ctx.lang, ("reviewers", "sys_version"))
        version = version_of(body, ctx.lang)
        plan, sample = await draw_plan_sample(runtime, plan_id, ctx, reviewers=body.get("reviewers"),
                                              version=version)
        return {"plan": runtime.records().dump("evaluation_plan", plan), "cases": list(sample.cases),
                "by_province": {str(k): list(v) for k, v in sample.by_province.items()},
                "uncovered_performers": sorted(sample.uncovered)}

    @post("/api/quality/cases/{case_id:int}/evaluate", guards=[same_site], status_code=200,
          tags=["quality"], summary="Evaluate a case with the rubric: the total and the grade are computed",
          request_max_body_size=MAX_BODY)
    async def evaluate(request: Request, case_id: RecordId) -> dict:
        ctx = await request_context(request)
        refuse_query(request, ctx.lang)
        body = await _json_body(request)
        version_of(body, ctx.lang)
        return runtime.records().dump("case", await evaluate_case(runtime, case_id, body, ctx))

    @get("/api/quality/quotas", tags=["quality"], summary="Performer quotas of a year, for centre leaders")
    async def quotas(request: Request, year: FromQuery[int]) -> dict:
        from hoso_legal_aid.quality_quotas import performer_quotas

        ctx = await request_context(request)
        quality = quality_of(runtime.config)
        if quality is None:
            raise ValidationError([("year", _m(ctx.lang, "no_config"))])
        return {"year": year, "performers": await performer_quotas(runtime, quality, year, ctx,
                                                                    workflow_state(runtime))}

    return [sample_plan, evaluate, quotas]
