"""Reports: ``forms_config/reports/*.yaml``, counts of an entity's records by rows and columns."""

from __future__ import annotations

from ..kind import ConfigKind
from ..loader import SCHEMA_DIR, _label
from ..types import ReportDef


def build(ctx, files) -> list[ReportDef]:
    entities = ctx.results["entity"]
    reports: list[ReportDef] = []
    seen: dict[str, str] = {}
    for f in files:
        d = f.data
        if d["report"] in seen:
            f.error(("report",), f"report {d['report']!r} is already defined in {seen[d['report']]}")
            continue
        if not f.partial:
            seen[d["report"]] = f.rel
        e = ctx.checker.entity_ref(f, ("entity",), d["entity"], entities)
        refs = [((key, j), n) for key in ("rows", "columns", "filters") for j, n in enumerate(d.get(key, ()))]
        ctx.checker.fields_exist(f, e, d["entity"], refs, "report")
        if not f.partial:
            reports.append(ReportDef(d["report"], d["entity"], _label(d["label"]), tuple(d["rows"]),
                                     tuple(d.get("columns", ())), tuple(d.get("filters", ())), source=f.rel))
    return reports


KIND = ConfigKind("report", "forms_config/reports", SCHEMA_DIR / "report.schema.json", build,
                  after=("entity",), config_field="reports", export=tuple)
