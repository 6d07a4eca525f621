"""What a report run is asked and what it answers; shared by the engine, the outputs and the approvals."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hoso.config import ReportDef
from hoso.config.types import Label

__all__ = ["ReportError", "ReportRequest", "Period", "Dimension", "Column", "ResultRow", "ReportResult"]

class ReportError(ValueError):
    """A request that cannot run: ``problems`` names each bad parameter (``(parameter, message)``)."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{p}: {m}" for p, m in problems))


@dataclass(frozen=True)
class ReportRequest:
    """One run of a report. Every field is part of the cache and snapshot key (with the requester's scope)."""

    report: str
    period: str | None = None  # "2025", "2025-H1", "2025-Q3", "2025-07"; None: all records
    unit: str | None = None  # a unit code: only that unit's subtree (within the requester's scope)
    as_of: dt.datetime | None = None  # None: the records as they are now
    structure: str = "recorded"  # "recorded", or an ISO date: mapped to the structure at that date
    level: str | None = None  # hierarchy level the unit dimension rolls up to (overrides the template)
    filters: Mapping[str, Any] | None = None  # the list API's filter language, on the template's filter fields
    lang: str = "vi"

    def key(self) -> str:
        """A canonical text of the parameters (not the language)."""
        return json.dumps({"report": self.report, "period": self.period, "unit": self.unit,
                           "as_of": self.as_of.isoformat() if self.as_of else None, "structure": self.structure,
                           "level": self.level, "filters": self.filters or {}}, sort_keys=True, ensure_ascii=False,
                          default=str)


@dataclass(frozen=True)
class Period:
    """A reporting period: records whose date field falls in [start, end], where ``end`` is the cut-off when
    the period has one (data after the cut-off belongs to the next report)."""

    code: str
    start: dt.date
    end: dt.date  # inclusive; the cut-off when there is one
    label: Label
    cutoff: dt.date | None = None


@dataclass(frozen=True)
class Dimension:
    key: str  # a field name, "unit@province", "period:month"
    label: Label


@dataclass(frozen=True)
class Column:
    key: str  # stable: "total", "gender:male", "beneficiary_groups:poor_household"
    label: Label
    groups: tuple[Label, ...] = ()  # header groups above the column, outermost first
    measure: str = "count"
    people: bool = True  # counts people or cases: small cells of it may be suppressed


@dataclass
class ResultRow:
    keys: tuple[Any, ...]  # the dimension values; a subtotal or the total leaves the rest None
    labels: tuple[str, ...]  # display labels in the request's language
    values: list[Any]  # one per column; None where suppressed
    kind: str = "row"  # "row", "subtotal" or "total"
    depth: int = 0  # how many leading dimensions a subtotal fixes


@dataclass
class ReportResult:
    report: ReportDef
    request: ReportRequest
    dimensions: list[Dimension]
    columns: list[Column]
    rows: list[ResultRow]  # leaf rows and subtotals, in display order
    total: ResultRow
    generated_at: dt.datetime
    period: Period | None = None
    unit: dict | None = None  # {"code", "name_vi", "name_en"} of the requested unit
    template_hash: str = ""
    scope_key: str = ""
    suppressed: int = 0  # cells hidden by small-cell suppression
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        """The API's and ``hoso report run --format json``'s body."""
        lang = self.request.lang

        def lab(label: Label) -> str:
            return label.get(lang)

        def row(r: ResultRow) -> dict:
            return {"kind": r.kind, "keys": list(r.keys), "labels": list(r.labels), "values": r.values}

        return {
            "report": self.report.name, "label": lab(self.report.label),
            "request": json.loads(self.request.key()),
            "period": None if self.period is None else {
                "code": self.period.code, "start": self.period.start.isoformat(), "end": self.period.end.isoformat(),
                "cutoff": self.period.cutoff.isoformat() if self.period.cutoff else None,
                "label": lab(self.period.label)},
            "unit": self.unit,
            "dimensions": [{"key": d.key, "label": lab(d.label)} for d in self.dimensions],
            "columns": [{"key": c.key, "label": lab(c.label), "groups": [lab(g) for g in c.groups],
                         "measure": c.measure} for c in self.columns],
            "rows": [row(r) for r in self.rows],
            "total": row(self.total),
            "generated_at": self.generated_at.isoformat(),
            "template_hash": self.template_hash,
            "suppressed": self.suppressed,
        }
