"""What a requester may see of a report's numbers: the finest unit level, small cells, the rows behind."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from hoso.reports.model import ReportResult

if TYPE_CHECKING:  # pragma: no cover
    from hoso.config import EntityDef
    from hoso.records.access import Access
    from hoso.runtime import Runtime

__all__ = ["Disclosure", "disclosure_for"]


@dataclass(frozen=True)
class Disclosure:
    rows: bool = True  # may open a cell's records
    finest_level: str | None = None  # None: any level
    suppress_below: int = 0  # people-cells with 0 < n < this are hidden

    def apply(self, result: ReportResult) -> ReportResult:
        return result


async def disclosure_for(rt: Runtime, access: Access, entity: EntityDef) -> Disclosure:
    return Disclosure()
