"""The rows a report run reads: the entity's table now, or its rows as they stood at a past moment."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from hoso.config import EntityDef
from hoso.db import quote

if TYPE_CHECKING:  # pragma: no cover
    from hoso.runtime import Runtime

__all__ = ["records_source"]


async def records_source(rt: Runtime, entity: EntityDef, as_of: dt.datetime | None) -> tuple[str, tuple]:
    """A FROM item (to be aliased ``t`` by the caller) with ``{}`` placeholders, and its arguments.

    Its columns are the entity table's. ``as_of`` None: the live table."""
    if as_of is not None:
        raise NotImplementedError("reports as of a past moment")
    return quote(entity.table), ()
