"""``forms_config/quality.yaml``: the evaluation rubric and its grades, the effectiveness criteria of litigation
cases, who appraises, and what evaluation plans sample (a configuration kind of the legal-aid plugin)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from hoso.config import ConfigKind

__all__ = ["KIND", "Criterion", "Grade", "QualityDef", "Quotas", "Rubric", "quality_of"]

_LABEL = {"$ref": "hoso:defs#/$defs/label"}
_NAMES = {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1, "uniqueItems": True}
SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["quality"], "additionalProperties": False,
    "properties": {"quality": {
        "type": "object", "required": ["rubric"], "additionalProperties": False,
        "properties": {
            "rubric": {
                "type": "object", "required": ["total", "criteria", "grades"], "additionalProperties": False,
                "properties": {
                    "total": {"type": "integer", "minimum": 1},
                    "criteria": {"type": "array", "minItems": 1, "items": {
                        "type": "object", "required": ["key", "max", "label"], "additionalProperties": False,
                        "properties": {"key": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
                                       "max": {"type": "integer", "minimum": 1}, "label": _LABEL}}},
                    "grades": {"type": "array", "minItems": 1, "items": {
                        "type": "object", "required": ["grade", "min"], "additionalProperties": False,
                        "properties": {"grade": {"type": "string"}, "min": {"type": "integer", "minimum": 0}}}},
                }},
            "effectiveness": {
                "type": "object", "required": ["forms_of_aid"], "additionalProperties": False,
                "properties": {"forms_of_aid": _NAMES, "at_least": {"type": "integer", "minimum": 1}}},
            "appraisal": {
                "type": "object", "required": ["levels"], "additionalProperties": False,
                "properties": {"levels": _NAMES}},
            "quotas": {
                "type": "object", "required": ["roles", "yearly_target"], "additionalProperties": False,
                "properties": {
                    "roles": _NAMES, "performer_kinds": _NAMES,
                    "yearly_target": {
                        "type": "object", "required": ["default"], "additionalProperties": False,
                        "properties": {
                            "default": {"type": "integer", "minimum": 0},
                            "by_centre": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}},
                        }},
                }},
            "sampling": {
                "type": "object", "additionalProperties": False,
                "properties": {"ended_states": _NAMES, "province_level": {"type": "string", "minLength": 1}}},
        }}},
}


@dataclass(frozen=True)
class Criterion:
    key: str
    max: int
    label: Mapping[str, str]


@dataclass(frozen=True)
class Grade:
    grade: str
    min: int


@dataclass(frozen=True)
class Rubric:
    """Criteria scored from 0 to their ``max``, summing to ``total``; grades from the highest ``min`` down."""

    total: int
    criteria: tuple[Criterion, ...]
    grades: tuple[Grade, ...]

    def grade_of(self, total: int | Decimal) -> str:
        """The first (highest) grade whose ``min`` the total reaches."""
        for g in self.grades:
            if total >= g.min:
                return g.grade
        return self.grades[-1].grade  # not reached: the lowest grade starts at 0 (checked when loaded)

    def score(self, scores: Mapping[str, int]) -> tuple[int, str]:
        """The total and the grade of ``scores`` (criterion key -> points), which must be complete and valid."""
        total = sum(scores[c.key] for c in self.criteria)
        return total, self.grade_of(total)


@dataclass(frozen=True)
class Quotas:
    """Who sees the performer quotas, whose cases count, and the yearly target per centre (unit code)."""

    roles: tuple[str, ...] = ("centre_director", "branch_head")
    performer_kinds: tuple[str, ...] = ("assistant",)
    default_target: int = 0
    by_centre: Mapping[str, int] = field(default_factory=dict)

    def target(self, centre_code: str | None, own: int | None = None) -> int:
        """The yearly target of a performer: their own when set, else their centre's, else the default."""
        if own is not None:
            return own
        return self.by_centre.get(centre_code or "", self.default_target)


@dataclass(frozen=True)
class QualityDef:
    rubric: Rubric
    success_forms: tuple[str, ...] = ("TGTT",)
    success_at_least: int = 1
    appraisal_levels: tuple[str, ...] = ("centre", "branch")
    ended_states: tuple[str, ...] = ("ended", "returned", "appraised", "evaluated", "archived")
    province_level: str = "province"
    quotas: Quotas = field(default_factory=Quotas)


def _build_one(f) -> QualityDef | None:
    d = f.data.get("quality") or {}
    r = d.get("rubric") or {}
    criteria = tuple(Criterion(c["key"], c["max"], c.get("label") or {}) for c in r.get("criteria", ()))
    grades = tuple(Grade(g["grade"], g["min"]) for g in r.get("grades", ()))
    keys = [c.key for c in criteria]
    for i, k in enumerate(keys):
        if k in keys[:i]:
            f.error(("quality", "rubric", "criteria", i, "key"), f"criterion {k!r} is listed twice")
    if criteria and "total" in r and sum(c.max for c in criteria) != r["total"]:
        f.error(("quality", "rubric", "total"),
                f"the criteria's maxima add up to {sum(c.max for c in criteria)}, not to the total {r['total']}")
    mins = [g.min for g in grades]
    if mins and mins != sorted(mins, reverse=True) or len(set(mins)) != len(mins):
        f.error(("quality", "rubric", "grades"), "list the grades from the highest min down, each min once")
    if mins and mins[-1] != 0:
        f.error(("quality", "rubric", "grades", len(mins) - 1, "min"), "the lowest grade must start at 0")
    if mins and "total" in r and mins[0] > r["total"]:
        f.error(("quality", "rubric", "grades", 0, "min"), f"no total reaches {mins[0]} (the total is {r['total']})")
    if f.partial or not criteria or not grades:
        return None
    eff, appr, samp = d.get("effectiveness") or {}, d.get("appraisal") or {}, d.get("sampling") or {}
    q = d.get("quotas") or {}
    target = q.get("yearly_target") or {}
    quotas = Quotas(tuple(q.get("roles", Quotas.roles)), tuple(q.get("performer_kinds", Quotas.performer_kinds)),
                    target.get("default", 0), dict(target.get("by_centre") or {}))
    base = QualityDef(Rubric(r["total"], criteria, grades))
    return QualityDef(
        base.rubric,
        tuple(eff.get("forms_of_aid", base.success_forms)), eff.get("at_least", base.success_at_least),
        tuple(appr.get("levels", base.appraisal_levels)), tuple(samp.get("ended_states", base.ended_states)),
        samp.get("province_level", base.province_level), quotas)


def build(ctx, files) -> QualityDef | None:
    out = None
    for f in files:
        out = _build_one(f) or out
    return out


def check(ctx, result: QualityDef | None) -> None:
    """The grades are options of the case's evaluation_grade list; the levels are levels of the hierarchy."""
    if result is None:
        return
    f = next(iter(ctx.files.get("quality", ())), None)
    if f is None:
        return
    lists = ctx.results.get("lists") or {}
    grades = lists.get("evaluation_grade")
    if grades is not None:
        for i, g in enumerate(result.rubric.grades):
            if g.grade not in grades.values():
                f.error(("quality", "rubric", "grades", i, "grade"),
                        f"{g.grade!r} is not an option of the list evaluation_grade")
    roles = {r.name for r in ctx.results.get("role") or ()}
    if roles:
        for i, role in enumerate(result.quotas.roles):
            if role not in roles:
                f.error(("quality", "quotas", "roles", i), f"{role!r} is not a role of roles_config/roles")
    hierarchy = ctx.results.get("hierarchy")
    levels = tuple(getattr(hierarchy, "levels", ()) or ())
    if levels:
        for i, level in enumerate(result.appraisal_levels):
            if level not in levels:
                f.error(("quality", "appraisal", "levels", i), f"{level!r} is not a level of the hierarchy")
        if result.province_level not in levels:
            f.error(("quality", "sampling", "province_level"),
                    f"{result.province_level!r} is not a level of the hierarchy")


KIND = ConfigKind("quality", "forms_config/quality.yaml", SCHEMA, build, check=check,
                  after=("lists", "hierarchy", "role"), described_as="a quality")


def quality_of(config) -> QualityDef | None:
    """The loaded ``forms_config/quality.yaml`` (None when the deployment has none)."""
    try:
        return config.kind("quality")
    except KeyError:
        return None
