"""Which unit each recorded unit counts under in a report: as recorded, or mapped to the structure at a date."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from hoso.runtime import Runtime

__all__ = ["unit_groups"]


async def unit_groups(rt: Runtime, *, level: str | None, structure: str | dt.date,
                      on: dt.date) -> tuple[str, tuple]:
    """A relation ``(unit_id, group_id)`` as SQL with ``{}`` placeholders, and its arguments.

    Each unit a record may be counted at (its recorded unit, or its ``sys_scope_unit`` when mapped) appears
    once, with the unit it is counted under: itself when ``level`` is None, else its ancestor at ``level``.
    ``structure`` "recorded": the tree as it stood on ``on``; a date: predecessors folded into successors
    open on that date, and the tree of that date."""
    if level is None:
        return "(SELECT u.id AS unit_id, u.id AS group_id FROM hoso_unit u)", ()
    raise NotImplementedError("rolling up to a level")
