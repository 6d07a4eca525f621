"""Closing an evaluation plan ends its reviewers' access to its cases.

The role ``quality_reviewer`` reads a case while a live ``evaluation_sample`` names the reviewer in its user field,
``reviewer`` (scope ``{field: id, to: evaluation_sample.case_file}``). When the plan becomes ``closed``
(``hoso_record_changed``, inside the closing write's transaction, whichever path closes it), each of its samples
keeps its reviewer's account number in ``reviewed_by`` (a plain number: the scope needs the entity's one user
field) and ``reviewer`` is emptied, through the record service under the closing
user's name (audited, in each sample's history). From then on no write may name a reviewer on a sample of the
plan (``hoso_write_guard``), and the plan is never reopened nor sampled again: the access cannot come back. A plan
whose sample is drawn is not deleted either (its samples, and the access, would outlive it): it is closed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hoso.db import quote

if TYPE_CHECKING:  # pragma: no cover
    from hoso.records.service import RecordContext
    from hoso.runtime import Runtime

__all__ = ["CLOSED", "close_plan_samples", "closed_plan_refusal", "REOPEN_REFUSAL", "CLOSE_REFUSAL", "DELETE_REFUSAL"]

# The plan's last state (list evaluation_plan_status).
CLOSED = "closed"
REOPEN_REFUSAL = "kế hoạch đã đóng, không mở lại được / a closed plan cannot be reopened"
DELETE_REFUSAL = ("kế hoạch đã chọn mẫu không xoá được (người đánh giá vẫn xem được vụ việc): hãy đóng kế hoạch / a "
                  "plan whose sample is drawn cannot be deleted (its reviewers would keep reading the cases): close it")
CLOSE_REFUSAL = ("không đóng được kế hoạch: mẫu {sample} nằm ngoài phạm vi bạn được sửa; người có phạm vi rộng "
                 "hơn phải đóng / the plan cannot be closed: sample {sample} is outside what you may change; "
                 "someone whose scope holds it must close the plan")


async def close_plan_samples(rt: Runtime, plan_id: int, ctx: RecordContext) -> int:
    """Move each live sample's reviewer of the plan to ``reviewed_by`` and empty ``reviewer``; how many."""
    table = quote(rt.config.entity("evaluation_sample").table)
    rows = await rt.db.fetch(
        f"SELECT id, reviewer, sys_version FROM {table} WHERE {quote('plan')} = {{}} AND reviewer IS NOT NULL "
        "AND sys_deleted_at IS NULL ORDER BY id", plan_id)
    from hoso.records.errors import Forbidden, NotFound, ValidationError

    svc = rt.records()
    for row in rows:
        try:
            await svc.update("evaluation_sample", row["id"], {"reviewed_by": row["reviewer"], "reviewer": None},
                             row["sys_version"], ctx)
        except (NotFound, Forbidden):
            # the whole close is refused (its transaction rolls back): say which sample stands in the way
            raise ValidationError([("status", CLOSE_REFUSAL.format(sample=row["id"]))]) from None
    return len(rows)


async def closed_plan_refusal(after: dict, ctx: RecordContext, db: Any) -> list[tuple[str, str]] | None:
    """A sample of a closed plan names no reviewer, whether created, changed or restored: that would open a
    case whose evaluation is over to the reviewer again."""
    if not after.get("reviewer") or not after.get("plan"):
        return None
    plans = quote(ctx.config.entity("evaluation_plan").table)
    status = await db.fetchval(f"SELECT {quote('status')} FROM {plans} WHERE id = {{}}", after["plan"])
    if status != CLOSED:
        return None
    plan = after["plan"]
    return [("reviewer", f"kế hoạch {plan} đã đóng: không giao người đánh giá được nữa / plan {plan} is closed: "
                         "no reviewer can be assigned any more")]
