"""Performer quotas for centre leaders: the completed cases of each legal aid assistant in a year against the
yearly target of their centre (``quotas`` in forms_config/quality.yaml), at ``GET /api/quality/quotas``.

Only an account holding one of the configured roles (centre leaders) today gets an answer; the performers and
the cases counted are those its scope reaches (the scope predicates are in the SQL).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from hoso.db import quote
from hoso.records.errors import Forbidden, ValidationError
from hoso.records.service import RecordContext
from hoso.scope import assignments_of
from hoso_legal_aid.quality_config import QualityDef

if TYPE_CHECKING:  # pragma: no cover
    from hoso.runtime import Runtime

__all__ = ["performer_quotas"]


async def performer_quotas(rt: Runtime, quality: QualityDef, year: int, ctx: RecordContext,
                           state_field: str = "status") -> list[dict[str, Any]]:
    """One row per performer of the configured kinds the requester may read: completed cases (ended in
    ``year``, in an ended state), of which litigation, the yearly target and whether it is reached."""
    quotas = quality.quotas
    if not 2019 <= year <= 2100:
        raise ValidationError([("year", "năm phải từ 2019 đến 2100 / the year must be from 2019 to 2100")])
    if not ctx.superuser:
        mine = assignments_of(ctx.user_id, ctx.today)
        marks = ", ".join("{}" for _ in quotas.roles)
        held = await rt.db.fetchval(f"SELECT 1 FROM hoso_assignment a WHERE {mine.sql} AND a.role IN ({marks})",
                                    *mine.args, *quotas.roles)
        if not held:
            raise Forbidden("chỉ lãnh đạo Trung tâm, Chi nhánh xem được định mức / "
                            "only centre and branch leaders see the quotas")
    performer, case = rt.config.entity("performer"), rt.config.entity("case")
    read_p = rt.scope.predicate(ctx.actor, "read", performer, "p")
    read_c = rt.scope.predicate(ctx.actor, "read", case, "c")
    centre_types = [t.name for t in rt.config.hierarchy.unit_types if t.level == "centre"] \
        if rt.config.hierarchy else []
    kind_marks = ", ".join("{}" for _ in quotas.performer_kinds)
    type_marks = ", ".join("{}" for _ in centre_types) or "NULL"
    state_marks = ", ".join("{}" for _ in quality.ended_states)
    litigation_marks = ", ".join("{}" for _ in quality.success_forms)
    sql = (
        f"SELECT p.id AS id, p.{quote('name')} AS name, p.{quote('yearly_target')} AS own_target, "
        "(SELECT cu.code FROM hoso_unit_closure cc JOIN hoso_unit cu ON cu.id = cc.ancestor_id "
        f"WHERE cc.descendant_id = p.{quote(performer.unit_field or 'unit')} AND cu.type IN ({type_marks}) "
        "ORDER BY cc.depth LIMIT 1) AS centre, "
        f"(SELECT COUNT(*) FROM {quote(case.table)} c WHERE c.{quote('performer')} = p.id "
        f"AND c.sys_deleted_at IS NULL AND c.{quote(state_field)} IN ({state_marks}) "
        f"AND c.{quote('ended_on')} >= {{}} AND c.{quote('ended_on')} <= {{}} AND ({read_c.sql})) AS completed, "
        f"(SELECT COUNT(*) FROM {quote(case.table)} c WHERE c.{quote('performer')} = p.id "
        f"AND c.sys_deleted_at IS NULL AND c.{quote(state_field)} IN ({state_marks}) "
        f"AND c.{quote('ended_on')} >= {{}} AND c.{quote('ended_on')} <= {{}} "
        f"AND c.{quote('form_of_aid')} IN ({litigation_marks}) AND ({read_c.sql})) AS litigation "
        f"FROM {quote(performer.table)} p WHERE p.sys_deleted_at IS NULL "
        f"AND p.{quote('kind')} IN ({kind_marks}) AND ({read_p.sql}) ORDER BY p.{quote('name')}, p.id")
    first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
    args = (*centre_types, *quality.ended_states, first, last, *read_c.args,
            *quality.ended_states, first, last, *quality.success_forms, *read_c.args,
            *quotas.performer_kinds, *read_p.args)
    out = []
    for r in await rt.db.fetch(sql, *args):
        target = quotas.target(r["centre"], r["own_target"])
        completed = int(r["completed"] or 0)
        out.append({"performer": r["id"], "name": r["name"], "centre": r["centre"], "completed": completed,
                    "litigation": int(r["litigation"] or 0), "target": target, "reached": completed >= target})
    return out
