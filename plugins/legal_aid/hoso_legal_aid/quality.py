"""Quality: appraisal, the annual evaluation plan (its sampler and external reviewers) and rubric scoring.

* ``forms_config/quality.yaml`` (``hoso_legal_aid.quality_config``): the rubric and its grades, the effectiveness
  criteria of litigation cases, the appraising levels, what plans sample.
* Every write of a case is checked against it (``hoso_legal_aid.quality_rules``): the evaluation's criterion
  scores, total and grade; ``successful`` against the criteria met; the appraisal by the performer's own
  organisation only.
* Evaluation plans draw their sample (``hoso_legal_aid.sampler``, stored by ``hoso_legal_aid.quality_plans``);
  the configuration's role ``quality_reviewer`` reads exactly the sampled cases that name the reviewer
  (scope ``{field: id, to: evaluation_sample.case_file}``, in SQL like every scope).
* Closing a plan ends its reviewers' access, in the closing write's transaction: each sample's reviewer moves
  to ``reviewed_by`` (kept for the record) and ``reviewer`` is emptied; a closed plan is never reopened, and no
  sample of it names a reviewer again (``hoso_legal_aid.quality_closing``).
* Performer quotas for centre leaders (``hoso_legal_aid.quality_quotas``).

Hook implementations here carry their own names and say which hook they implement with ``specname``;
``hoso_legal_aid`` registers them (see its ``__init__``).
"""

from __future__ import annotations

from hoso.hookspecs import hookimpl
from hoso_legal_aid.quality_closing import (
    CLOSED,
    DELETE_REFUSAL,
    REOPEN_REFUSAL,
    close_plan_samples,
    closed_plan_refusal,
)
from hoso_legal_aid.quality_config import KIND, quality_of
from hoso_legal_aid.quality_rules import appraisal_refusal, effectiveness_problems, rubric_problems

__all__ = ["quality_config_kinds", "quality_plan_closed", "quality_routes", "quality_validate_record",
           "quality_write_guard"]


@hookimpl(specname="hoso_config_kinds")
def quality_config_kinds():
    return [KIND]


@hookimpl(specname="hoso_validate_record")
def quality_validate_record(entity, values, context, previous):
    quality = quality_of(context.config)
    if entity.name != "case" or quality is None:
        return None
    lang = context.lang
    problems = []
    if entity.has_field("evaluation_scores"):
        problems += rubric_problems(quality.rubric, values, previous, lang)
    if entity.has_field("success_criteria") and entity.has_field("successful"):
        problems += effectiveness_problems(quality, values, previous, lang)
    return problems or None


_PLAN_FIXED = ("year", "unit", "share_percent", "seed")


@hookimpl(specname="hoso_write_guard")
async def quality_write_guard(entity, action, before, after, context, db):
    quality = quality_of(context.config)
    if quality is None:
        return None
    if entity.name == "case" and action == "transition:appraise" and before is not None:
        return await appraisal_refusal(quality, context.config, before, context, db)
    if entity.name == "evaluation_sample" and after is not None:
        return await closed_plan_refusal(after, context, db)
    if entity.name == "evaluation_plan" and action == "delete" and before and before.get("status") != "draft":
        # its samples would outlive it, and with them the reviewers' access to the cases: it is closed instead
        return DELETE_REFUSAL
    if entity.name == "evaluation_plan" and action == "update" and before and after \
            and before.get("status") == CLOSED and after.get("status") != CLOSED:
        return [("status", REOPEN_REFUSAL)]
    if entity.name == "evaluation_plan" and action == "update" and before and after \
            and before.get("status") != "draft":
        # A drawn plan keeps what its sample was drawn from, so that the stored seed reproduces it.
        changed = [f for f in (*_PLAN_FIXED, "sample_size", "sampled_on") if before.get(f) != after.get(f)]
        if after.get("status") == "draft":
            changed.append("status")
        if changed:
            return [(f, "không sửa được sau khi đã chọn mẫu / cannot change once the sample is drawn")
                    for f in changed]
    return None


@hookimpl(specname="hoso_record_changed")
async def quality_plan_closed(entity, before, after, context, runtime):
    if entity.name == "evaluation_plan" and after.get("status") == CLOSED and before.get("status") != CLOSED:
        await close_plan_samples(runtime, after["id"], context)


@hookimpl(specname="hoso_routes")
def quality_routes(runtime):
    from hoso_legal_aid.quality_plans import quality_routes_for

    return quality_routes_for(runtime)
