"""The quality rules configuration alone cannot state: rubric scores and their grade, the effectiveness of
litigation cases, and who may appraise a case. Every write path reaches them (``hoso_validate_record`` and
``hoso_write_guard`` in ``hoso_legal_aid.quality``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hoso.db import quote
from hoso.scope import assignments_of
from hoso_legal_aid.quality_config import QualityDef, Rubric

__all__ = ["appraisal_refusal", "effectiveness_problems", "rubric_problems", "scores_of"]

_MESSAGES: dict[str, dict[str, str]] = {
    "vi": {
        "unknown_criterion": "tiêu chí {criterion!r} không có trong bộ tiêu chí đánh giá (có: {known})",
        "criterion_twice": "tiêu chí {criterion!r} được chấm hai lần",
        "criterion_missing": "thiếu điểm các tiêu chí: {missing}",
        "score_range": "điểm tiêu chí {criterion!r} phải từ 0 đến {max}",
        "no_scores": "nhập điểm theo từng tiêu chí đánh giá trước khi nhập tổng điểm hoặc xếp loại",
        "total": "tổng điểm theo các tiêu chí là {total}, không phải {given}",
        "grade": "tổng điểm {total} được xếp loại {grade!r}, không phải {given!r}",
        "success_needs": "vụ việc thành công phải đáp ứng ít nhất {n} tiêu chí thành công",
        "success_contradicts": "vụ việc đáp ứng {met} tiêu chí thành công nên phải được ghi nhận là thành công",
        "success_litigation": "chỉ vụ việc có hình thức {forms} mới được đánh giá thành công theo tiêu chí",
        "appraise_self": "người thực hiện không được tự thẩm định vụ việc của mình",
        "appraise_own": "chỉ tổ chức (Trung tâm, Chi nhánh) của người thực hiện mới được thẩm định vụ việc này",
    },
    "en": {
        "unknown_criterion": "criterion {criterion!r} is not in the evaluation rubric (it has: {known})",
        "criterion_twice": "criterion {criterion!r} is scored twice",
        "criterion_missing": "criteria not scored: {missing}",
        "score_range": "the score of criterion {criterion!r} must be from 0 to {max}",
        "no_scores": "enter the score of each rubric criterion before the total or the grade",
        "total": "the criteria's scores add up to {total}, not {given}",
        "grade": "a total of {total} is graded {grade!r}, not {given!r}",
        "success_needs": "a successful case must meet at least {n} effectiveness criteria",
        "success_contradicts": "the case meets {met} effectiveness criteria, so it must be recorded as successful",
        "success_litigation": "only cases of the forms of aid {forms} are judged successful against the criteria",
        "appraise_self": "a performer may not appraise their own case",
        "appraise_own": "only the performer's own organisation (centre, branch) may appraise this case",
    },
}


def _m(lang: str, key: str, **kw: Any) -> str:
    return _MESSAGES["en" if lang == "en" else "vi"][key].format(**kw)


def scores_of(rows: Any) -> list[tuple[Any, Any]]:
    """``(criterion, score)`` of a case's ``evaluation_scores`` rows."""
    return [(r.get("criterion"), r.get("score")) for r in rows or () if isinstance(r, Mapping)]


def _changed(values: Mapping, previous: Mapping | None, fields: tuple[str, ...]) -> bool:
    if previous is None:
        return any(values.get(f) not in (None, [], "") for f in fields)
    return any(_norm(values.get(f)) != _norm(previous.get(f)) for f in fields)


def _norm(v: Any) -> Any:
    if isinstance(v, list):
        return sorted(repr(scores_of([x])[0] if isinstance(x, Mapping) else x) for x in v)
    return None if v in ("", []) else v


_RUBRIC_FIELDS = ("evaluation_scores", "evaluation_score", "evaluation_grade")


def rubric_problems(rubric: Rubric, values: Mapping, previous: Mapping | None, lang: str) -> list[tuple[str, str]]:
    """Problems of a case's rubric scores, total and grade, when one of them changes: every criterion scored once
    within its range, the total their sum, the grade the rubric's grade of the total."""
    if not _changed(values, previous, _RUBRIC_FIELDS):
        return []
    rows = scores_of(values.get("evaluation_scores"))
    score, grade = values.get("evaluation_score"), values.get("evaluation_grade")
    if not rows:
        if score is None and grade is None:
            return []
        return [("evaluation_scores", _m(lang, "no_scores"))]
    by_key = {c.key: c for c in rubric.criteria}
    problems: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    for i, (criterion, points) in enumerate(rows):
        where = f"evaluation_scores[{i}]"
        if criterion not in by_key:
            problems.append((f"{where}.criterion", _m(lang, "unknown_criterion", criterion=criterion,
                                                      known=", ".join(by_key))))
            continue
        if criterion in seen:
            problems.append((f"{where}.criterion", _m(lang, "criterion_twice", criterion=criterion)))
            continue
        if not isinstance(points, int) or not 0 <= points <= by_key[criterion].max:
            problems.append((f"{where}.score", _m(lang, "score_range", criterion=criterion,
                                                  max=by_key[criterion].max)))
            continue
        seen[criterion] = points
    missing = [k for k in by_key if k not in seen and k not in {c for c, _p in rows}]
    if missing:
        problems.append(("evaluation_scores", _m(lang, "criterion_missing", missing=", ".join(missing))))
    if problems:
        return problems
    total, expected = rubric.score(seen)
    if score is not None and score != total:
        problems.append(("evaluation_score", _m(lang, "total", total=total, given=score)))
    if grade is not None and grade != expected:
        problems.append(("evaluation_grade", _m(lang, "grade", total=total, grade=expected, given=grade)))
    return problems


_EFFECTIVENESS_FIELDS = ("successful", "success_criteria", "form_of_aid")


def effectiveness_problems(quality: QualityDef, values: Mapping, previous: Mapping | None,
                           lang: str) -> list[tuple[str, str]]:
    """Problems of a case's ``successful`` against the effectiveness criteria it met, when one of them changes:
    successful exactly when at least ``at_least`` criteria are met, and only for the configured forms of aid."""
    if not _changed(values, previous, _EFFECTIVENESS_FIELDS):
        return []
    met = len(values.get("success_criteria") or ())
    successful = values.get("successful")
    if values.get("form_of_aid") not in quality.success_forms:
        if successful or met:
            return [("successful", _m(lang, "success_litigation", forms=", ".join(quality.success_forms)))]
        return []
    if successful is True and met < quality.success_at_least:
        return [("success_criteria", _m(lang, "success_needs", n=quality.success_at_least))]
    if met >= quality.success_at_least and successful is not True:
        return [("successful", _m(lang, "success_contradicts", met=met))]
    return []


async def appraisal_refusal(quality: QualityDef, config, before: Mapping, context, db) -> str | None:
    """Why the actor may not appraise the case ``before`` (None when they may): the performer may not appraise
    their own case, and the actor must hold the appraise step at a unit of an appraising level (centre, branch)
    whose subtree holds the performer's unit (the case's unit when it names no performer)."""
    if context.superuser:
        return None
    performer_unit, account = before.get("unit"), None
    if before.get("performer") is not None and config.has_entity("performer"):
        performer = config.entity("performer")
        account_field = next((f.name for f in performer.column_fields if f.type == "user"), None)
        cols = f"{quote(performer.unit_field)} AS unit" + (f", {quote(account_field)} AS account"
                                                           if account_field else "")
        rows = await db.fetch(f"SELECT {cols} FROM {quote(performer.table)} WHERE id = {{}}", before["performer"])
        if rows:
            performer_unit = rows[0]["unit"] or performer_unit
            account = rows[0]["account"] if account_field else None
    if account is not None and account == context.user_id:
        return _m(context.lang, "appraise_self")
    roles = sorted({role.name for role in config.roles for g in role.grants
                    if g.entity == "case" and "transition:appraise" in g.actions})
    types = sorted(t.name for t in config.hierarchy.unit_types if t.level in quality.appraisal_levels) \
        if config.hierarchy else []
    if not roles or not types or performer_unit is None:
        return _m(context.lang, "appraise_own")
    mine = assignments_of(context.user_id, context.today)
    role_marks, type_marks = ", ".join("{}" for _ in roles), ", ".join("{}" for _ in types)
    found = await db.fetchval(
        "SELECT 1 FROM hoso_assignment a JOIN hoso_unit u ON u.id = a.unit_id "
        "JOIN hoso_unit_closure c ON c.ancestor_id = a.unit_id "
        f"WHERE {mine.sql} AND a.role IN ({role_marks}) AND u.type IN ({type_marks}) AND c.descendant_id = {{}}",
        *mine.args, *roles, *types, performer_unit)
    return None if found else _m(context.lang, "appraise_own")
