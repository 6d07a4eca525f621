"""Reports: ``forms_config/reports/*.yaml``, an entity's records counted by row dimensions into measures.

A template names its rows (fields, the unit rolled up to a hierarchy level, periods of its date field) and its
columns (counts, distinct counts, sums, averages, minima, maxima, each with an optional condition in the forms'
language; ``per_option`` makes one count column per option of a choice field). docs/reports.md has the format.
"""

from __future__ import annotations

from typing import Any

from ..conditions import ExpressionError, compile_expression, entity_field_info
from ..kind import ConfigKind
from ..loader import SCHEMA_DIR, _did_you_mean, _label
from ..types import EntityDef, Label, ReportColumnDef, ReportDef, ReportDimensionDef

PERIODS = ("month", "quarter", "half_year", "year")
# Measures over a field, and the kinds of value each applies to ("any": every kind).
FIELD_MEASURES = {"count_distinct": None, "sum": ("number",), "avg": ("number",), "min": ("number", "date", "datetime"),
                  "max": ("number", "date", "datetime")}


def build(ctx, files) -> list[ReportDef]:
    entities, lists = ctx.results["entity"], ctx.results["lists"]
    hierarchy = ctx.results.get("hierarchy")
    levels = tuple(getattr(hierarchy, "levels", ()) or ())
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
        if e is None:
            continue
        checker = _TemplateChecker(f, e, entities, lists, levels)
        report = checker.report(d)
        if not f.partial and report is not None:
            reports.append(report)
    return reports


class _TemplateChecker:
    def __init__(self, f, entity: EntityDef, entities: dict[str, EntityDef], lists: dict, levels: tuple[str, ...]):
        self.f = f
        self.e = entity
        self.entities = entities
        self.lists = lists
        self.levels = levels
        self.ok = True
        self.date_field: str | None = None
        self.info = entity_field_info(entity.fields, lambda n: lists[n].values(include_retired=True)
                                      if n in lists else None)

    def error(self, path: tuple, message: str) -> None:
        self.ok = False
        self.f.error(path, message)

    def field(self, path: tuple, name: str, what: str):
        fd = next((x for x in self.e.column_fields if x.name == name), None)
        if fd is None:
            names = [x.name for x in self.e.column_fields]
            self.error(path, f"{what} names unknown field {name!r} of entity {self.e.name!r}"
                       + _did_you_mean(name, names))
        return fd

    def condition(self, path: tuple, text: str) -> None:
        try:
            compile_expression(text, self.info)
        except ExpressionError as exc:
            self.error(path, f"invalid condition {text!r}: {exc}")

    def report(self, d: dict) -> ReportDef | None:
        date_field = self.date_field = d.get("date_field")
        if date_field is not None:
            fd = self.field(("date_field",), date_field, "report")
            if fd is not None and fd.traits.value_kind not in ("date", "datetime"):
                self.error(("date_field",), f"date_field {date_field!r} is not a date (it is {fd.type})")
        if d.get("filter") is not None:
            self.condition(("filter",), d["filter"])
        for j, name in enumerate(d.get("parameters", ())):
            fd = self.field(("parameters", j), name, "report")
            if fd is not None and fd.is_child_table:
                self.error(("parameters", j), f"{name!r} is a table of rows: a run cannot filter on it")
        rows = tuple(r for j, raw in enumerate(d["rows"]) if (r := self.dimension(("rows", j), raw, date_field)))
        keys = [r.key for r in rows]
        for j, k in enumerate(keys):
            if k in keys[:j]:
                self.error(("rows", j), f"row dimension {k!r} is listed more than once")
        columns: list[ReportColumnDef] = []
        self.columns(("columns",), d["columns"], (), columns, rows)
        seen: set[str] = set()
        for c in columns:
            if c.key in seen:
                self.error(("columns",), f"column key {c.key!r} is used more than once; each column needs its own")
            seen.add(c.key)
        if d.get("summary") and self.ok:
            self.summary(d, date_field, columns)
        if not self.ok:
            return None
        return ReportDef(d["report"], d["entity"], _label(d["label"]), rows, tuple(columns), date_field,
                         d.get("filter"), tuple(d.get("parameters", ())), bool(d.get("subtotals", False)),
                         bool(d.get("totals", True)), _label(d.get("description")), source=self.f.rel,
                         summary=bool(d.get("summary", False)))

    def summary(self, d: dict, date_field: str | None, columns: list[ReportColumnDef]) -> None:
        """A summary table holds one counter per count and one sum per sum of whole numbers, at the grain of the
        recorded unit, the month of the date field and the rows; anything it cannot add up is named."""
        if date_field is not None:
            fd = next((x for x in self.e.column_fields if x.name == date_field), None)
            if fd is not None and fd.traits.value_kind != "date":
                self.error(("summary",), f"a summary counts by month of a date; date_field {date_field!r} is "
                           f"{fd.type}: remove summary")
        for c in columns:
            if c.measure in ("count", "attribute"):
                pass
            elif c.measure == "sum" and c.field and next(
                    (x.type for x in self.e.column_fields if x.name == c.field), None) == "integer":
                pass
            else:
                what = c.measure if c.measure != "sum" else "sum of a field that is not a whole number"
                self.error(("summary",), f"a summary adds up counts and sums of whole numbers; column {c.key!r} is "
                           f"a {what}: remove summary or the column")
        for c in columns:
            if c.date_field not in (None, date_field):
                self.error(("summary",), f"a summary counts every column by the month of {date_field!r}; column "
                           f"{c.key!r} counts by its own date {c.date_field!r}: remove summary")
        for text in [d.get("filter"), *(c.where for c in columns)]:
            if text and _uses_today(compile_expression(text).tree):
                self.error(("summary",), f"a summary cannot keep a condition that changes with the day "
                           f"({text!r} uses today()): remove summary")
                break

    def dimension(self, path: tuple, raw: Any, date_field: str | None) -> ReportDimensionDef | None:
        if isinstance(raw, str):
            raw = {"field": raw}
        label = _label(raw.get("label"))
        if "period" in raw:
            if date_field is None:
                self.error(path, "a period row needs the report's date_field")
                return None
            return ReportDimensionDef("period", date_field, raw["period"], label)
        if "unit" in raw:
            if self.e.unit_field is None:
                self.error(path, f"entity {self.e.name!r} has no unit field to count by unit")
                return None
            level = raw["unit"]
            if level is not None and self.levels and level not in self.levels:
                self.error(path + ("unit",), f"unknown hierarchy level {level!r}; levels: {', '.join(self.levels)}")
                return None
            return ReportDimensionDef("unit", self.e.unit_field, level, label)
        fd = self.field(path, raw["field"], "report")
        if fd is None:
            return None
        if fd.is_child_table or fd.traits.chooses_many:
            self.error(path, f"rows cannot group by {fd.name!r} ({fd.type}): count its options with "
                       f"per_option columns instead")
            return None
        if fd.type == "org_unit" and fd.name == self.e.unit_field:
            return ReportDimensionDef("unit", fd.name, None, label)
        return ReportDimensionDef("field", fd.name, None, label)

    def columns(self, path: tuple, items: list, groups: tuple[Label, ...], out: list[ReportColumnDef],
                rows: tuple[ReportDimensionDef, ...]) -> None:
        for j, raw in enumerate(items):
            here = path + (j,)
            if "per_option" in raw:
                self.per_option(here, raw, groups, out)
            elif "group" in raw:
                self.columns(here + ("columns",), raw["columns"], groups + (_label(raw["group"]),), out, rows)
            else:
                self.column(here, raw, groups, out, rows)

    def per_option(self, path: tuple, raw: dict, groups: tuple[Label, ...], out: list[ReportColumnDef]) -> None:
        name = raw["per_option"]
        fd = self.field(path + ("per_option",), name, "report")
        if fd is None:
            return
        if not fd.traits.has_choices or not fd.list:
            self.error(path + ("per_option",), f"per_option needs a choice field; {name!r} is {fd.type}")
            return
        if fd.list not in self.lists:  # its lists file is in error, and reported
            self.ok = False
            return
        if raw.get("where") is not None:
            self.condition(path + ("where",), raw["where"])
        group = _label(raw["group"]) if "group" in raw else fd.label
        for opt in self.lists[fd.list].options:
            if opt.retired:
                continue
            test = f'"{opt.value}" in {name}' if fd.traits.chooses_many else f'{name} == "{opt.value}"'
            where = test if raw.get("where") is None else f"({raw['where']}) and {test}"
            out.append(ReportColumnDef(f"{name}:{opt.value}", "count", opt.label, None, where,
                                       groups + ((group,) if group is not None else ()),
                                       bool(raw.get("people", True))))

    def column(self, path: tuple, raw: dict, groups: tuple[Label, ...], out: list[ReportColumnDef],
               rows: tuple[ReportDimensionDef, ...]) -> None:
        measure, field = raw["measure"], raw.get("field")
        if raw.get("where") is not None:
            self.condition(path + ("where",), raw["where"])
        if measure == "count":
            if field is not None:
                self.error(path + ("field",), "a count counts records: it takes no field (use count_distinct to "
                           "count different values)")
                return
        elif field is None:
            self.error(path, f"measure {measure!r} needs a field")
            return
        elif measure == "attribute":
            if not self.attribute(path + ("field",), field, rows):
                return
        else:
            if "." in field:
                self.error(path + ("field",), f"measure {measure!r} takes a field of {self.e.name!r}; found {field!r}")
                return
            fd = self.field(path + ("field",), field, "report")
            if fd is None:
                return
            kinds = FIELD_MEASURES[measure]
            if fd.is_child_table or fd.traits.chooses_many or (kinds is not None and fd.traits.value_kind not in kinds):
                self.error(path + ("field",), f"measure {measure!r} does not apply to {field!r} ({fd.type})")
                return
        date_field = raw.get("date_field")
        if date_field is not None and not self.own_date(path + ("date_field",), date_field, rows):
            return
        out.append(ReportColumnDef(raw["key"], measure, _label(raw["label"]), field, raw.get("where"), groups,
                                   bool(raw.get("people", measure in ("count", "count_distinct"))), date_field))

    def own_date(self, path: tuple, name: str, rows: tuple[ReportDimensionDef, ...]) -> bool:
        """A measure's own date field: a date of the entity, in a report that has a date field (a period needs
        one); a period row then groups each measure by its own date."""
        fd = self.field(path, name, "report")
        if fd is None:
            return False
        if fd.traits.value_kind not in ("date", "datetime"):
            self.error(path, f"date_field {name!r} is not a date (it is {fd.type})")
            return False
        if self.date_field is None:
            self.error(path, "a measure's date_field needs the report's date_field")
            return False
        return True

    def attribute(self, path: tuple, field: str, rows: tuple[ReportDimensionDef, ...]) -> bool:
        """``reference.target_field``: the reference must be a row dimension; the target field must exist."""
        ref, _, target_field = field.partition(".")
        fd = self.field(path, ref, "report")
        if fd is None:
            return False
        if fd.type != "reference" or not target_field:
            self.error(path, f"an attribute is REFERENCE.FIELD, a field of the record a reference points to; "
                       f"found {field!r}")
            return False
        if ref not in [r.field for r in rows if r.kind == "field"]:
            self.error(path, f"an attribute of {ref!r} needs {ref!r} among the rows")
            return False
        target = self.entities.get(fd.entity or "")
        if target is None or not any(x.name == target_field for x in target.column_fields):
            self.error(path, f"entity {fd.entity!r} has no field {target_field!r}")
            return False
        tfd = next(x for x in target.column_fields if x.name == target_field)
        if tfd.traits.value_kind != "number":
            self.error(path, f"an attribute must be a number; {field!r} is {tfd.type}")
            return False
        return True


def _uses_today(node: Any) -> bool:
    if isinstance(node, (tuple, list)):
        if len(node) > 1 and node[0] == "call" and node[1] == "today":
            return True
        return any(_uses_today(x) for x in node)
    return False


KIND = ConfigKind("report", "forms_config/reports", SCHEMA_DIR / "report.schema.json", build,
                  after=("lists", "entity", "hierarchy"), config_field="reports", export=tuple)
