"""Quality: appraisal, the annual evaluation plan (its sampler and external reviewers) and rubric scoring.

* ``forms_config/quality.yaml`` (``hoso_legal_aid.quality_config``): the rubric and its grades, the effectiveness
  criteria of litigation cases, the appraising levels, what plans sample.
* Every write of a case is checked against it (``hoso_legal_aid.quality_rules``): the evaluation's criterion
  scores, total and grade; ``successful`` against the criteria met; the appraisal by the performer's own
  organisation only.
* Evaluation plans draw their sample (``hoso_legal_aid.sampler``, stored by ``hoso_legal_aid.quality_plans``);
  the role ``quality_reviewer`` (shipped in this package's ``config/``) reads exactly the sampled cases that
  name the reviewer, through the scope ``evaluation_sample``.

Hook implementations here carry their own names and say which hook they implement with ``specname``;
``hoso_legal_aid`` registers them (see its ``__init__``).
"""

from __future__ import annotations

from pathlib import Path

from hoso.db import quote
from hoso.hookspecs import hookimpl
from hoso.plugin_types import ScopeRule
from hoso_legal_aid.quality_config import KIND, quality_of
from hoso_legal_aid.quality_rules import appraisal_refusal, effectiveness_problems, rubric_problems

__all__ = ["quality_config_directories", "quality_config_kinds", "quality_routes", "quality_scope_rules",
           "quality_validate_record", "quality_write_guard"]

SAMPLE_TABLE = "evaluation_sample"  # the entity's table (forms_config/entities/evaluation_sample.yaml)


@hookimpl(specname="hoso_config_kinds")
def quality_config_kinds():
    return [KIND]


@hookimpl(specname="hoso_config_directories")
def quality_config_directories():
    return [Path(__file__).parent / "config"]


def _sampled_for(entity, alias: str, user_id: int):
    """The rows a reviewer reaches: the cases of the samples naming them, and those samples."""
    if entity.name == "case":
        return (f"{alias}.id IN (SELECT s.{quote('case_file')} FROM {quote(SAMPLE_TABLE)} s "
                f"WHERE s.{quote('reviewer')} = {{}} AND s.sys_deleted_at IS NULL)", (user_id,))
    if entity.name == SAMPLE_TABLE:
        return f"{alias}.{quote('reviewer')} = {{}}", (user_id,)
    return None


@hookimpl(specname="hoso_scope_rules")
def quality_scope_rules():
    return [ScopeRule("evaluation_sample", {"vi": "Vụ việc được chọn mẫu cho người đánh giá",
                                            "en": "Cases sampled for the reviewer"}, _sampled_for)]


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


@hookimpl(specname="hoso_routes")
def quality_routes(runtime):
    from hoso_legal_aid.quality_plans import quality_routes_for

    return quality_routes_for(runtime)
