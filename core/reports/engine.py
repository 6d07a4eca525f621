"""The report compiler: a template and a request become ONE SQL statement over the entity's records.

The statement carries everything that selects the records: live rows only, the requester's ``run_reports`` scope
predicate, the template's filter (compiled from the forms' expression tree by ``hoso.config.conditions_sql``),
the run's filters (the list API's language, through ``RecordQuery.filters``), the period on the report's date
field, and the requested unit's subtree. Rows group by the template's dimensions; each column is one aggregate,
conditional columns as ``AGG(...) FILTER (WHERE ...)`` (PostgreSQL, SQLite >= 3.30).

Subtotals and the total come from the same run. When every measure is additive (count, sum, min, max) they are
combined from the leaf rows in Python; otherwise (count_distinct, avg) each grouping level the result needs is
a branch of a ``UNION ALL`` over one common selection, in the same statement.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hoso.config import EntityDef, ReportDef
from hoso.config.conditions import Expression, compile_expression, entity_field_info
from hoso.config.conditions_sql import SqlField, to_sql
from hoso.config.types import Label, ReportColumnDef, ReportDimensionDef
from hoso.db import quote
from hoso.i18n import t
from hoso.lineage import find_unit_by_code
from hoso.model.tables import SCOPE_COLUMN
from hoso.records.access import Access
from hoso.records.context import RecordContext
from hoso.records.query import RecordQuery
from hoso.records.store import RecordStore, RuntimeCache
from hoso.reports.disclosure import Disclosure, disclosure_for
from hoso.reports.model import Column, Dimension, Period, ReportError, ReportRequest, ReportResult, ResultRow
from hoso.reports.periods import local_date_sql, period_bounds, reporter_of, resolve_period
from hoso.reports.source import records_source
from hoso.reports.structure import levels_of, unit_groups
from hoso.reports.summary import SummaryRun, summary_statement
from hoso.scope import Predicate, ScopeDenied

if TYPE_CHECKING:  # pragma: no cover
    from hoso.runtime import Runtime

__all__ = ["CompiledReport", "compile_report", "run_report", "cell_records", "template_hash", "ADDITIVE"]

# Measures whose subtotals combine from their parts: count and sum add up, min and max of parts.
ADDITIVE = ("count", "sum", "min", "max")
PERIOD_LABELS = {"month": Label("Tháng", "Month"), "quarter": Label("Quý", "Quarter"),
                 "half_year": Label("6 tháng", "Half year"), "year": Label("Năm", "Year")}
# Scopes under which a role's run_reports grant counts the records of its assignment's units.
_UNIT_SCOPES = ("unit", "subtree", "statistics")


@dataclass(frozen=True)
class CompiledReport:
    """One run's statement and what its result columns mean.

    The statement's columns are ``_level`` (how many leading dimensions the row fixes; ``len(dimensions)``
    for leaf rows), ``_k0``.. (the dimension values) and ``_m0``.. (one per measure, in ``measures`` order)."""

    report: ReportDef
    entity: EntityDef
    sql: str
    args: tuple
    dimensions: tuple[ReportDimensionDef, ...]
    measures: tuple[ReportColumnDef, ...]
    levels: tuple[int, ...]
    period: Period | None
    unit: dict | None
    disclosure: Disclosure
    scope_key: str
    # the FROM clause and WHERE of the selection (alias t, the unit groups as ug0..), for drill-down
    from_sql: str
    from_args: tuple
    where_sql: str
    where_args: tuple
    dim_sql: tuple[str, ...]
    # measures with dates of their own: date field -> (its period condition, arguments, the dimensions' SQL by
    # it); the report's date field first. Empty otherwise (``where_sql`` then holds the period).
    dated: dict[str, tuple[str, tuple, tuple[str, ...]]] = dataclasses.field(default_factory=dict)


def template_hash(report: ReportDef) -> str:
    """sha256 of the template's canonical form (everything but the file it came from)."""
    data = dataclasses.asdict(report)
    data.pop("source", None)
    for column in data["columns"]:  # a template without measure dates hashes as before they existed
        if column.get("date_field") is None:
            column.pop("date_field", None)
    data.pop("summary", None)  # where the numbers are read from, not what they are
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _find_report(rt: Runtime, name: str, lang: str) -> ReportDef:
    for r in rt.config.reports:
        if r.name == name:
            return r
    raise ReportError([("report", t("report_unknown", lang, name=name))])


def _sql_fields(rt: Runtime, entity: EntityDef, alias: str = "t") -> dict[str, SqlField]:
    storage = {fd.type: rt.registry.field_type(fd.type).storage for fd in entity.column_fields}
    info = entity_field_info(entity.column_fields, storage_of=storage)
    return {fd.name: SqlField(f"{alias}.{quote(fd.name)}", info[fd.name].kind, fd.traits.chooses_many)
            for fd in entity.column_fields}


@functools.lru_cache(maxsize=2048)
def _parsed(text: str) -> Expression:
    """A template's condition, parsed once (its names and types were checked when the configuration loaded)."""
    return compile_expression(text)


def _condition(rt: Runtime, entity: EntityDef, text: str, today: dt.date,
               fields: dict[str, SqlField] | None = None) -> tuple[str, tuple]:
    return to_sql(_parsed(text), fields or _sql_fields(rt, entity), today=today, dialect=rt.db.kind)


def _period_sql(kind: str, col: str, dialect: str) -> str:
    """The period code ("2025", "2025-H1", "2025-Q3", "2025-07") of a date column."""
    if dialect == "sqlite":
        year, month = f"substr({col}, 1, 4)", f"CAST(substr({col}, 6, 2) AS INTEGER)"
        ym = f"substr({col}, 1, 7)"
    else:
        year, month = f"to_char({col}, 'YYYY')", f"CAST(EXTRACT(MONTH FROM {col}) AS INTEGER)"
        ym = f"to_char({col}, 'YYYY-MM')"
    if kind == "year":
        return year
    if kind == "month":
        return ym
    if kind == "quarter":
        return f"({year} || '-Q' || CAST(({month} + 2) / 3 AS TEXT))"
    return f"({year} || '-H' || CAST(({month} + 5) / 6 AS TEXT))"


def _dated(rt: Runtime, entity: EntityDef, report: ReportDef, period: Period | None,
           dims: list[ReportDimensionDef], dim_sql: list[str]) -> dict[str, tuple[str, tuple, tuple[str, ...]]]:
    """For a template whose measures have dates of their own (e.g. a bulletin's cases accepted in the month by
    ``accepted_on``, ended in the month by ``ended_on``): each date field (the report's first), its selection
    (in the period; without a period, any record for the report's date, a record with the date for the others)
    and the dimensions' SQL with period rows by that date. Empty when no measure has its own date."""
    own = [c.date_field for c in report.columns if c.date_field and c.measure != "attribute"]
    if not own or report.date_field is None:
        return {}
    out: dict[str, tuple[str, tuple, tuple[str, ...]]] = {}
    for k, name in enumerate(dict.fromkeys([report.date_field, *own])):
        timed = entity.field(name).type == "datetime"
        col = f"t.{quote(name)}"
        if period is not None:
            cond, cargs = f"{col} >= {{}} AND {col} < {{}}", tuple(period_bounds(period, timed))
        else:
            cond, cargs = ("1 = 1" if k == 0 else f"{col} IS NOT NULL"), ()
        day = local_date_sql(col, rt.db.kind) if timed else col
        out[name] = (cond, cargs, tuple(_period_sql(d.level or "year", day, rt.db.kind) if d.kind == "period"
                                        else dim_sql[i] for i, d in enumerate(dims)))
    return out


async def _may_run(rt: Runtime, access: Access, entity: EntityDef) -> None:
    if access.superuser:
        return
    roles = await access.roles()
    granting = rt.scope.roles_for(entity.name, "run_reports")
    if not any(roles.intersection(names) for names in granting.values()):
        raise ScopeDenied(t("report_denied", access.ctx.lang, entity=entity.name))


async def _unit_in_scope(rt: Runtime, access: Access, entity: EntityDef, unit_id: int) -> bool:
    """Whether the requester's run_reports grants reach ``unit_id`` (its subtree under an assignment's unit)."""
    if access.superuser:
        return True
    await access.roles()
    holdings = access.actor.holdings or frozenset()
    units: set[int] = set()
    for scope, names in rt.scope.roles_for(entity.name, "run_reports").items():
        held = [(r, u) for r, u in holdings if r in names]
        if not held:
            continue
        if scope == "national":
            return True
        units.update(u for _r, u in held if u is not None)
    if not units:
        return False
    marks = ", ".join("{}" for _ in units)
    found = await rt.db.fetchval(f"SELECT 1 AS ok FROM hoso_unit_closure c WHERE c.descendant_id = {{}} "
                                 f"AND c.ancestor_id IN ({marks})", unit_id, *sorted(units))
    return found is not None


def _levels(config_levels: tuple[str, ...], level: str | None) -> int:
    """Depth of a level in the hierarchy (None: the recorded unit, finer than every level)."""
    return config_levels.index(level) if level in config_levels else len(config_levels)


async def compile_report(rt: Runtime, ctx: RecordContext, request: ReportRequest, *,
                         access: Access | None = None) -> CompiledReport:
    """The statement of one run (see CompiledReport). Raises ReportError naming every bad parameter and
    ScopeDenied when the requester holds no ``run_reports`` grant on the report's entity."""
    lang = request.lang
    report = _find_report(rt, request.report, lang)
    entity = rt.config.entity(report.entity)
    access = access or Access(rt, ctx)
    await _may_run(rt, access, entity)
    problems: list[tuple[str, str]] = []
    today = ctx.today
    levels = tuple(rt.config.hierarchy.levels) if rt.config.hierarchy else ()

    # the structure the units are counted in
    structure: str | dt.date = "recorded"
    if request.structure != "recorded":
        try:
            structure = dt.date.fromisoformat(str(request.structure))
        except ValueError:
            problems.append(("structure", t("report_structure", lang, value=request.structure)))

    period: Period | None = None
    if request.period is not None:
        if report.date_field is None:
            problems.append(("period", t("report_no_period", lang)))
        else:
            reporter = None
            if request.unit is not None:  # cut-offs may differ by the reporting unit's type or level
                try:
                    reporter = await reporter_of(rt, str(request.unit), lang=lang)
                except ReportError:
                    pass  # the unit parameter is named below
            try:
                period = resolve_period(rt, report, request.period, reporter, lang=lang)
            except ReportError as exc:
                problems.extend(exc.problems)

    dims = list(report.rows)
    if request.level is not None:
        at = next((i for i, d in enumerate(dims) if d.kind == "unit"), None)
        if at is None:
            problems.append(("level", t("report_level_no_unit", lang)))
        elif request.level not in levels:
            problems.append(("level", t("report_level", lang, level=request.level, levels=", ".join(levels))))
        else:
            dims[at] = dataclasses.replace(dims[at], level=request.level)

    disclosure = await disclosure_for(rt, access, entity)
    if disclosure.finest_level is not None:
        finest = _levels(levels, disclosure.finest_level)
        for d in dims:
            if d.kind == "unit" and _levels(levels, d.level) > finest:
                problems.append(("level", t("report_level_finer", lang, finest=disclosure.finest_level)))
    if not disclosure.rows:
        # A row per referenced record (a performer, an account) or per unrolled unit is finer than any level of
        # the hierarchy: a role that never reads rows gets no such rows either.
        for d in dims:
            fd = entity.field(d.field) if d.kind == "field" and entity.has_field(d.field) else None
            refers = fd.traits.refers_to if fd is not None else None
            if fd is not None and (refers in ("entity", "user")
                                   or (refers == "unit" and disclosure.finest_level is not None)):
                problems.append(("report", t("report_rows_by_record", lang, field=fd.label.get(lang))))

    unit: dict | None = None
    if request.unit is not None:
        found = await find_unit_by_code(rt.db, str(request.unit))
        if entity.unit_field is None:
            problems.append(("unit", t("report_no_unit_field", lang, entity=entity.name)))
        elif found is None:
            problems.append(("unit", t("report_unit_unknown", lang, code=request.unit)))
        elif not await _unit_in_scope(rt, access, entity, int(found["id"])):
            problems.append(("unit", t("report_unit_outside", lang, code=request.unit)))
        else:
            unit = {"id": int(found["id"]), "code": found["code"], "name_vi": found["name_vi"],
                    "name_en": found.get("name_en")}
            try:  # one unit's total is that unit's numbers: not finer than the role may see
                disclosure.check_unit(found["code"], levels_of(rt).get(found["type"]), lang)
            except ReportError as exc:
                problems.extend(exc.problems)

    # the run's filters: the list API's language, on the template's parameters only
    filter_sql: list[str] = []
    filter_args: list[Any] = []
    if request.filters:
        if not isinstance(request.filters, dict):
            problems.append(("filters", t("bad_filter", lang, reason="expected an object")))
        else:
            allowed = {k: v for k, v in request.filters.items() if k in report.parameters}
            for name in request.filters:
                if name not in report.parameters:
                    problems.append((f"filters.{name}", t("report_filter_not_allowed", lang,
                                                          allowed=", ".join(report.parameters) or "-")))
            query = RecordQuery(rt, RecordStore(rt, RuntimeCache(rt)))
            hidden = await access.hidden(entity)
            clauses, cargs = query.filters(entity, allowed, hidden, RecordContext(ctx.config, lang=lang), problems)
            filter_sql += clauses
            filter_args += cargs
    if problems:
        raise ReportError(problems)

    recorded = quote(entity.unit_field) if entity.unit_field else None
    unit_col = (f"t.{recorded}" if structure == "recorded" else
                f"COALESCE(t.{quote(SCOPE_COLUMN)}, t.{recorded})") if recorded else None

    # FROM: the records (live, or as of a past moment) and the unit groups of each unit dimension
    source_sql, source_args = await records_source(rt, entity, request.as_of)
    joins = ""
    join_args: list[Any] = []
    on = period.end if period is not None else today
    dim_sql: list[str] = []
    for i, d in enumerate(dims):
        if d.kind == "unit":
            rel, rel_args = await unit_groups(rt, level=d.level, structure=structure, on=on)
            joins += f" LEFT JOIN {rel} ug{i} ON ug{i}.unit_id = {unit_col}"
            join_args += rel_args
            dim_sql.append(f"ug{i}.group_id")
        elif d.kind == "period":  # a date and time is placed on its day in the deployment's zone
            col = f"t.{quote(d.field)}"
            col = local_date_sql(col, rt.db.kind) if entity.field(d.field).type == "datetime" else col
            dim_sql.append(_period_sql(d.level or "year", col, rt.db.kind))
        else:
            dim_sql.append(f"t.{quote(d.field)}")
    from_sql = f"{source_sql} t{joins}"
    from_args: list[Any] = [*source_args, *join_args]

    # WHERE: live rows, the scope, the template's filter, the run's filters, the period, the unit
    fields = _sql_fields(rt, entity)
    scope = await access.scoped("run_reports", entity, "t")
    where = ["t.sys_deleted_at IS NULL", f"({scope.sql})"]
    where_args: list[Any] = list(scope.args)
    if report.filter:
        filter_cond, filter_cond_args = _condition(rt, entity, report.filter, today, fields)
        where.append(filter_cond)
        where_args += filter_cond_args
    where += filter_sql
    where_args += filter_args
    if unit is not None and unit_col is not None:
        where.append(f"{unit_col} IN (SELECT c.descendant_id FROM hoso_unit_closure c WHERE c.ancestor_id = {{}})")
        where_args.append(unit["id"])
    dated = _dated(rt, entity, report, period, dims, dim_sql)
    if period is not None and report.date_field and not dated:
        where.append(f"t.{quote(report.date_field)} >= {{}} AND t.{quote(report.date_field)} < {{}}")
        where_args += period_bounds(period, entity.field(report.date_field).type == "datetime")
    where_sql = " AND ".join(where)
    date_index = {f: k for k, f in enumerate(dated)}

    # the measures
    measures = tuple(c for c in report.columns if c.measure != "attribute")
    n = len(dims)
    additive = all(m.measure in ADDITIVE for m in measures)
    level_set = [n]
    if not additive:
        if report.subtotals:
            level_set += list(range(n - 1, 0, -1))
        level_set.append(0)
    level_set = sorted(set(level_set), reverse=True)

    def aggregate(m: ReportColumnDef, alias: str, args: list) -> str:
        if m.measure == "count":
            expr = "COUNT(*)"
        elif m.measure == "count_distinct":
            expr = f"COUNT(DISTINCT {alias}.{quote(m.field or '')})"
        else:
            expr = f"{m.measure.upper()}({alias}.{quote(m.field or '')})"
        own = f"{alias}._d = {date_index[m.date_field or report.date_field or '']}" if dated else None
        if m.where:
            cond, cargs = _condition(rt, entity, m.where, today, fields)
            args += cargs
            expr += f" FILTER (WHERE {cond}{f' AND {own}' if own else ''})"
        elif own:
            expr += f" FILTER (WHERE {own})"
        return expr

    args: list[Any] = []
    if len(level_set) == 1 and not dated:
        keys = ", ".join(f"{s} AS _k{i}" for i, s in enumerate(dim_sql))
        aggs = ", ".join(f"{aggregate(m, 't', args)} AS _m{j}" for j, m in enumerate(measures))
        select = ", ".join(x for x in (f"{n} AS _level", keys, aggs) if x)
        group = f" GROUP BY {', '.join(dim_sql)}" if dim_sql else ""
        sql = f"SELECT {select} FROM {from_sql} WHERE {where_sql}{group}"
        args = [*args, *from_args, *where_args]  # the aggregates' conditions come first in the text
    else:
        # one selection, grouped at each level the result needs
        needed = sorted({f for m in measures if m.field for f in [m.field]}
                        | {f for m in measures if m.where for f in _parsed(m.where).fields})
        cols = [f"{s} AS _k{i}" for i, s in enumerate(dim_sql)] + [f"t.{quote(f)} AS {quote(f)}" for f in needed]
        inner = f"SELECT {', '.join(cols) or '1 AS _one'} FROM {from_sql} WHERE {where_sql}"
        inner_args = [*from_args, *where_args]
        if dated:  # the records once per date field, each with the dimensions of that date (``_d``: which)
            parts = []
            inner_args = []
            for k, (cond, pargs, dims_k) in enumerate(dated.values()):
                cols = [f"{s} AS _k{i}" for i, s in enumerate(dims_k)] + [f"t.{quote(f)} AS {quote(f)}"
                                                                          for f in needed]
                parts.append(f"SELECT {', '.join([*cols, f'{k} AS _d'])} FROM {from_sql} WHERE {where_sql} AND {cond}")
                inner_args += [*from_args, *where_args, *pargs]
            inner = " UNION ALL ".join(parts)
        branches = []
        for lv in level_set:
            keys = ", ".join(f"t._k{i} AS _k{i}" if i < lv else f"NULL AS _k{i}" for i in range(n))
            aggs = ", ".join(f"{aggregate(m, 't', args)} AS _m{j}" for j, m in enumerate(measures))
            select = ", ".join(x for x in (f"{lv} AS _level", keys, aggs) if x)
            group = f" GROUP BY {', '.join(f't._k{i}' for i in range(lv))}" if lv else ""
            branches.append(f"SELECT {select} FROM _sel t{group}")
        sql = f"WITH _sel AS ({inner}) " + " UNION ALL ".join(branches)
        args = [*inner_args, *args]

    # a live run of a template with a summary table reads it when it gives exactly these numbers
    served = await summary_statement(
        rt, report, SummaryRun(dims, measures, period, unit_col, joins, tuple(join_args), scope, filter_sql,
                               tuple(filter_args), unit["id"] if unit else None),
        live=request.as_of is None and len(level_set) == 1,
        period_sql=lambda kind, col: _period_sql(kind, col, rt.db.kind))
    if served is not None:
        sql, args = served[0], list(served[1])

    scope_key = hashlib.sha256(json.dumps([scope.sql, [str(a) for a in scope.args]]).encode()).hexdigest()[:32]
    return CompiledReport(report, entity, sql, tuple(args), tuple(dims), measures, tuple(level_set), period, unit,
                          disclosure, scope_key, from_sql, tuple(from_args), where_sql, tuple(where_args),
                          tuple(dim_sql), dated)


# -- values and labels --------------------------------------------------------------------------------------------


class _Labels:
    """Keys and display labels of the dimension values that appear (looked up once per run)."""

    def __init__(self, rt: Runtime, compiled: CompiledReport, lang: str):
        self.rt = rt
        self.c = compiled
        self.lang = lang
        self.units: dict[int, dict] = {}
        self.refs: dict[str, dict[int, dict]] = {}

    async def load(self, raw_rows: list[dict]) -> None:
        entity = self.c.entity
        unit_ids: set[int] = set()
        ref_ids: dict[str, set[int]] = {}
        for i, d in enumerate(self.c.dimensions):
            fd = entity.field(d.field) if d.kind == "field" else None
            for r in raw_rows:
                v = r[f"_k{i}"]
                if v is None:
                    continue
                if d.kind == "unit" or (fd is not None and fd.type == "org_unit"):
                    unit_ids.add(int(v))
                elif fd is not None and fd.type == "reference":
                    ref_ids.setdefault(d.field, set()).add(int(v))
        if unit_ids:
            ids = sorted(unit_ids)
            rows = await self.rt.db.fetch(f"SELECT id, code, name_vi, name_en FROM hoso_unit WHERE id IN "
                                          f"({', '.join('{}' for _ in ids)})", *ids)
            self.units = {int(r["id"]): r for r in rows}
        for name, found in ref_ids.items():
            fd = entity.field(name)
            target = self.rt.config.entity(fd.entity or "")
            wanted = [f for f in (target.title_field,) if f]
            wanted += [c.field.partition(".")[2] for c in self.c.report.columns
                       if c.measure == "attribute" and c.field and c.field.partition(".")[0] == name]
            cols = ", ".join(["id"] + [quote(w) for w in dict.fromkeys(wanted)])
            ids = sorted(found)
            rows = await self.rt.db.fetch(f"SELECT {cols} FROM {quote(target.table)} WHERE id IN "
                                          f"({', '.join('{}' for _ in ids)})", *ids)
            self.refs[name] = {int(r["id"]): r for r in rows}

    def key(self, i: int, v: Any) -> Any:
        """The stable key of a dimension value: unit codes, ISO dates, booleans, reference ids."""
        if v is None:
            return None
        d = self.c.dimensions[i]
        if d.kind == "period":
            return str(v)
        fd = self.c.entity.field(d.field)
        if d.kind == "unit" or fd.type == "org_unit":
            u = self.units.get(int(v))
            return u["code"] if u else str(v)
        kind = fd.traits.value_kind
        if kind == "bool":
            return bool(v) if not isinstance(v, str) else v.lower() in ("1", "true", "t")
        if kind == "date":
            return v.isoformat() if isinstance(v, dt.date) else str(v)[:10]
        if kind == "datetime":
            return v.isoformat() if isinstance(v, dt.datetime) else str(v)
        if fd.type == "reference":
            return int(v)
        if kind == "number" and not isinstance(v, (int, float)):
            return float(v)
        return v

    def label(self, i: int, key: Any) -> str:
        if key is None:
            return t("report_none", self.lang)
        d = self.c.dimensions[i]
        if d.kind == "period":
            p = resolve_period(self.rt, self.c.report, str(key))
            return p.label.get(self.lang) if p else str(key)
        fd = self.c.entity.field(d.field)
        if d.kind == "unit" or fd.type == "org_unit":
            u = next((u for u in self.units.values() if u["code"] == key), None)
            if u is None:
                return str(key)
            return (u["name_en"] or u["name_vi"]) if self.lang == "en" else u["name_vi"]
        if fd.traits.has_choices and fd.list:
            lst = next((x for x in self.rt.config.lists if x.name == fd.list), None)
            opt = next((o for o in lst.options if o.value == key), None) if lst else None
            return opt.label.get(self.lang) if opt else str(key)
        if fd.type == "reference":
            target = self.rt.config.entity(fd.entity or "")
            row = self.refs.get(d.field, {}).get(int(key))
            if row is not None and target.title_field and row.get(target.title_field) is not None:
                return str(row[target.title_field])
            return f"#{key}"
        if fd.traits.value_kind == "bool":
            return t("report_yes" if key else "report_no", self.lang)
        if fd.traits.value_kind == "date":
            try:
                return dt.date.fromisoformat(key).strftime("%d/%m/%Y")
            except ValueError:
                return str(key)
        return str(key)

    def sort_key(self, i: int, key: Any) -> tuple:
        """Choices in their list's order, units by code, the rest by value; no value last."""
        if key is None:
            return (2, 0, "")
        d = self.c.dimensions[i]
        if d.kind == "field":
            fd = self.c.entity.field(d.field)
            if fd.traits.has_choices and fd.list:
                lst = next((x for x in self.rt.config.lists if x.name == fd.list), None)
                values = list(lst.values(include_retired=True)) if lst else []
                if key in values:
                    return (0, values.index(key), "")
                return (1, 0, str(key))
            if isinstance(key, bool):
                return (0, int(not key), "")
            if isinstance(key, (int, float)):
                return (0, key, "")
        return (0, 0, str(key))

    def attribute(self, column: ReportColumnDef, keys: tuple) -> Any:
        ref, _, field = (column.field or "").partition(".")
        i = next(i for i, d in enumerate(self.c.dimensions) if d.kind == "field" and d.field == ref)
        if keys[i] is None:
            return None
        row = self.refs.get(ref, {}).get(int(keys[i]))
        return None if row is None else row.get(field)


def _measure_value(m: ReportColumnDef, v: Any, entity: EntityDef) -> Any:
    """A measure's value as the result carries it: whole counts, float averages, dates as ISO text."""
    if v is None:
        return 0 if m.measure in ("count", "count_distinct") else None
    if m.measure in ("count", "count_distinct"):
        return int(v)
    if m.measure == "avg":
        return float(v)
    fd = entity.field(m.field or "")
    kind = fd.traits.value_kind
    if kind == "date":
        return v.isoformat() if isinstance(v, dt.date) else str(v)[:10]
    if kind == "datetime":
        return v.isoformat() if isinstance(v, dt.datetime) else str(v)
    if kind == "number" and not isinstance(v, int):
        f = float(v)
        return int(f) if f.is_integer() and fd.type == "integer" else f
    return v


def _combine(measure: str, values: list[Any]) -> Any:
    present = [v for v in values if v is not None]
    if measure in ("count", "count_distinct"):
        return sum(present)
    if not present:
        return None
    if measure in ("sum", "attribute"):
        return sum(present)
    if measure == "min":
        return min(present)
    return max(present)


async def run_report(rt: Runtime, ctx: RecordContext, request: ReportRequest) -> ReportResult:
    """Run a report for ``ctx``'s requester: one statement against the records, labels in ``request.lang``."""
    access = Access(rt, ctx)
    c = await compile_report(rt, ctx, request, access=access)
    raw = await rt.db.fetch(c.sql, *c.args)
    labels = _Labels(rt, c, request.lang)
    await labels.load(raw)
    n = len(c.dimensions)
    columns = [Column(col.key, col.label, col.groups, col.measure, col.people) for col in c.report.columns]
    order = [col.key for col in c.report.columns]
    by_level: dict[int, dict[tuple, dict[str, Any]]] = {}
    for r in raw:
        lv = int(r["_level"])
        keys = tuple(labels.key(i, r[f"_k{i}"]) if i < lv else None for i in range(n))
        by_level.setdefault(lv, {})[keys[:lv]] = {m.key: _measure_value(m, r[f"_m{j}"], c.entity)
                                                  for j, m in enumerate(c.measures)}
    leaves = by_level.get(n, {})
    for keys, values in leaves.items():
        for col in c.report.columns:
            if col.measure == "attribute":
                values[col.key] = labels.attribute(col, keys)

    def group(prefix: tuple) -> dict[str, Any]:
        d = len(prefix)
        parts = [v for k, v in leaves.items() if k[:d] == prefix]
        out = {}
        for col in c.report.columns:
            if col.measure == "attribute" or (col.measure in ADDITIVE and d not in by_level):
                out[col.key] = _combine(col.measure, [p[col.key] for p in parts])
            elif d in by_level:
                got = by_level[d].get(prefix)
                if got is not None:
                    out[col.key] = got[col.key]
                else:
                    empty = ReportColumnDef(col.key, col.measure, col.label)
                    out[col.key] = _measure_value(empty, None, c.entity)
            else:
                out[col.key] = _combine(col.measure, [p[col.key] for p in parts])
        return out

    ordered = sorted(leaves, key=lambda k: tuple(labels.sort_key(i, k[i]) for i in range(n)))
    rows: list[ResultRow] = []
    last: tuple | None = None
    for keys in ordered:
        if c.report.subtotals:
            for d in range(1, n):
                if last is None or last[:d] != keys[:d]:
                    sub = group(keys[:d])
                    rows.append(ResultRow(keys[:d] + (None,) * (n - d),
                                          tuple(labels.label(i, keys[i]) for i in range(d)) + ("",) * (n - d),
                                          [sub[k] for k in order], "subtotal", d))
        rows.append(ResultRow(keys, tuple(labels.label(i, keys[i]) for i in range(n)),
                              [leaves[keys][k] for k in order], "row", n))
        last = keys
    tot = group(())
    total = ResultRow((None,) * n, (t("report_total", request.lang),) + ("",) * (n - 1) if n else (),
                      [tot[k] for k in order], "total", 0)
    dimensions = [Dimension(d.key, d.label or _dimension_label(rt, c.entity, d)) for d in c.dimensions]
    unit = None if c.unit is None else {k: c.unit[k] for k in ("code", "name_vi", "name_en")}
    result = ReportResult(c.report, request, dimensions, columns, rows, total,
                          dt.datetime.now(dt.UTC), c.period, unit, template_hash(c.report), c.scope_key)
    return c.disclosure.apply(result)


def _dimension_label(rt: Runtime, entity: EntityDef, d: ReportDimensionDef) -> Label:
    if d.kind == "period":
        return PERIOD_LABELS.get(d.level or "year", Label(d.key))
    if d.kind == "unit" and d.level and rt.config.hierarchy:
        types = [u for u in rt.config.hierarchy.unit_types if u.level == d.level]
        if types:
            return types[0].label
    return entity.field(d.field).label or Label(d.field)


async def cell_records(rt: Runtime, ctx: RecordContext, request: ReportRequest, keys: tuple,
                       column: str) -> list[dict]:
    """The records behind one cell: the report's selection, the row's dimension values and the column's
    condition, through the requester's ``read`` predicate too. ``keys`` are a row's keys: all of them for a
    row, the first ``depth`` for a subtotal (``row.keys[:row.depth]``), none for the total. Refused
    (ScopeDenied) when the requester's disclosure forbids rows."""
    lang = request.lang
    access = Access(rt, ctx)
    c = await compile_report(rt, ctx, request, access=access)
    if not c.disclosure.rows:
        raise ScopeDenied(t("report_no_rows", lang))
    col = next((x for x in c.report.columns if x.key == column), None)
    problems: list[tuple[str, str]] = []
    if col is None:
        problems.append(("column", t("report_column_unknown", lang, column=column)))
    keys = tuple(keys)
    if len(keys) > len(c.dimensions):
        problems.append(("keys", t("report_cell_keys", lang, n=len(c.dimensions), found=len(keys))))
    if problems:
        raise ReportError(problems)
    assert col is not None
    where = [c.where_sql]
    args: list[Any] = [*c.from_args, *c.where_args]
    dim_sql = c.dim_sql
    if c.dated:  # the column's own date selects its records and places them in its rows
        cond, cargs, dim_sql = c.dated[col.date_field or c.report.date_field or ""]
        where.append(cond)
        args += cargs
    for i, key in enumerate(keys):
        d = c.dimensions[i]
        expr = dim_sql[i]
        if key is None:
            where.append(f"{expr} IS NULL")
            continue
        try:
            value: Any
            if isinstance(key, str) and "\x00" in key:
                raise ValueError("a NUL byte")  # no text column holds one (PostgreSQL refuses it)
            if d.kind == "unit" or (d.kind == "field" and c.entity.field(d.field).type == "org_unit"):
                if not isinstance(key, str):
                    raise ValueError("a unit code")
                found = await find_unit_by_code(rt.db, key)
                value = int(found["id"]) if found else -1
            elif d.kind == "field":  # parsed by the field's type, as a list filter's value is
                fd = c.entity.field(d.field)
                ft = rt.registry.field_type(fd.type)
                value = ft.to_db(ft.parse(fd, key))
            elif isinstance(key, str):  # a period code, as the run gave it
                value = key
            else:
                raise ValueError("a period code")
        except (ValueError, TypeError, OverflowError):
            problems.append(("keys", t("report_bad_keys", lang)))
            continue
        where.append(f"{expr} = {{}}")
        args.append(value)
    if problems:
        raise ReportError(problems)
    if col.where:
        cond, cargs = _condition(rt, c.entity, col.where, ctx.today)
        where.append(cond)
        args += cargs
    if col.measure not in ("count", "attribute") and col.field:
        where.append(f"t.{quote(col.field)} IS NOT NULL")
    read: Predicate = await access.scoped("read", c.entity, "t")
    where.append(f"({read.sql})")
    args += read.args
    store = RecordStore(rt, RuntimeCache(rt))
    rows = await rt.db.fetch(f"SELECT {store.columns(c.entity)} FROM {c.from_sql} WHERE {' AND '.join(where)} "
                             "ORDER BY t.id", *args)
    hidden = await access.hidden(c.entity)
    out = []
    for r in rows:
        record = store.load_row(c.entity.fields, r)
        out.append({k: v for k, v in record.items() if k not in hidden})
    return out
