"""The write guard: every plugin's ``hoso_write_guard`` asked before a record is written (see docs/hooks.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hoso.plugin_manager import await_me_maybe
from hoso.records.errors import ValidationError

if TYPE_CHECKING:  # pragma: no cover
    from hoso.config import EntityDef
    from hoso.records.context import RecordContext
    from hoso.runtime import Runtime

__all__ = ["write_guard"]


async def write_guard(rt: Runtime, entity: EntityDef, action: str, before: dict | None, after: dict | None,
                      ctx: RecordContext) -> None:
    """Raise ValidationError with every refusal of the plugins' guards (a bare message names no field)."""
    problems: list[tuple[str, str]] = []
    for result in rt.pm.hook.hoso_write_guard(entity=entity, action=action, before=before, after=after,
                                              context=ctx, db=rt.db):
        result = await await_me_maybe(result)
        if not result:
            continue
        if isinstance(result, str):
            problems.append(("", result))
        else:
            problems += [(str(f), str(m)) for f, m in result]
    if problems:
        raise ValidationError(problems)
