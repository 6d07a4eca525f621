"""Live runs served from a template's summary table (hoso.model.summaries builds and keeps it).

A run reads the summary instead of the records when that gives exactly the compiled statement's numbers:

- the run is live (an ``as_of`` run reads the history),
- the template has a summary and the table of its current version is in the database (migrate built it),
- the period starts on the first of a month and ends on the last day of one (the table counts by month),
- the requester's scope predicate and the run's filters name only the table's columns (the recorded unit, the
  unit a split made the record answer to, the row fields): a scope on the creator or on a link, or a filter on
  another field, runs compiled.

Everything else is the compiled statement's: the unit groups of each unit dimension (recorded or mapped to a
structure), the requested unit's subtree, the disclosure of the result. Drill-down always reads the records.
"""

from __future__ import annotations

import datetime as dt
import re
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hoso.config import Config, ReportDef
from hoso.config.types import ReportColumnDef, ReportDimensionDef
from hoso.db import quote
from hoso.model.summaries import BUCKET, RECORDS, Summary, summary_for
from hoso.reports.model import Period
from hoso.scope import Predicate

if TYPE_CHECKING:  # pragma: no cover
    from hoso.runtime import Runtime

__all__ = ["SummaryRun", "summary_statement", "summary_of"]

_COLUMN = re.compile(r'(?<![\w."])t\.("(?:[^"]|"")+"|[A-Za-z_]\w*)')
_SUMMARIES: weakref.WeakKeyDictionary[Config, dict[tuple[str, str], Summary | None]] = weakref.WeakKeyDictionary()


def summary_of(rt: Runtime, report: ReportDef) -> Summary | None:
    """The summary table ``report`` asks for on this database's engine (worked out once per configuration)."""
    cache = _SUMMARIES.setdefault(rt.config, {})
    key = (report.name, rt.db.kind)
    if key not in cache:
        cache[key] = summary_for(rt.config, rt.registry, report, rt.db.kind)
    return cache[key]


@dataclass(frozen=True)
class SummaryRun:
    """What the compiler worked out for a run, as far as the summary's statement needs it."""

    dims: Sequence[ReportDimensionDef]
    measures: Sequence[ReportColumnDef]
    period: Period | None
    unit_col: str | None  # SQL of the unit the run counts by (recorded, or the unit a split made it answer to)
    joins: str  # the unit groups of each unit dimension, joined on unit_col (as ug0..)
    join_args: tuple
    scope: Predicate
    filters: Sequence[str]
    filter_args: tuple
    unit_id: int | None  # the requested unit: only its subtree


def _names(sql: str) -> set[str]:
    return {m.strip('"').replace('""', '"') for m in _COLUMN.findall(sql)}


def _whole_months(period: Period | None) -> bool:
    return period is None or (period.start.day == 1 and (period.end + dt.timedelta(days=1)).day == 1)


async def _built(rt: Runtime, s: Summary) -> bool:
    """The table and every trigger keeping it are there (one look-up: a table without its triggers is stale)."""
    names = s.triggers()
    tables = [s.table, *([s.rollup] if s.rollup else [])]
    marks, tmarks = ", ".join("{}" for _ in names), ", ".join("{}" for _ in tables)
    if rt.db.is_sqlite:
        found = await rt.db.fetchval(f"SELECT COUNT(*) AS n FROM sqlite_master WHERE (type = 'table' AND name IN "
                                     f"({tmarks})) OR (type = 'trigger' AND name IN ({marks}))", *tables, *names)
    else:
        found = await rt.db.fetchval(
            "SELECT (SELECT COUNT(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            f"WHERE c.relname IN ({tmarks}) AND c.relkind = 'r' AND n.nspname = current_schema()) + "
            f"(SELECT COUNT(*) FROM pg_trigger WHERE NOT tgisinternal AND tgname IN ({marks})) AS n", *tables, *names)
    return int(found or 0) == len(tables) + len(names)


async def summary_statement(rt: Runtime, report: ReportDef, run: SummaryRun, *, live: bool,
                            period_sql: Any) -> tuple[str, tuple] | None:
    """The run's statement over the summary table (the compiled statement's columns: ``_level``, ``_k0``..,
    ``_m0``..), or None when the summary cannot give exactly its numbers. ``period_sql(kind, column)`` is the
    compiler's period code of a date column."""
    s = summary_of(rt, report) if live else None
    if s is None or not _whole_months(run.period):
        return None
    if any(m.measure not in ("count", "sum") for m in run.measures):
        return None
    allowed = set(s.keys)
    for text in (run.scope.sql, *run.filters, run.unit_col or ""):
        if not _names(text) <= allowed:
            return None
    if not await _built(rt, s):
        return None
    table = s.table
    # over every unit (a scope naming no unit, no unit row, no unit asked for): the national roll-up has the same sums
    if s.rollup and run.unit_id is None and not any(d.kind == "unit" for d in run.dims) \
            and not _names(run.scope.sql) and all(_names(f) <= set(s.rollup_keys) for f in run.filters):
        table = s.rollup
    dim_sql = []
    for i, d in enumerate(run.dims):
        if d.kind == "unit":
            dim_sql.append(f"ug{i}.group_id")
        elif d.kind == "period":
            dim_sql.append(period_sql(d.level or "year", f"t.{quote(BUCKET)}"))
        else:
            dim_sql.append(f"t.{quote(d.field)}")
    where = [f"({run.scope.sql})", *run.filters]
    args: list[Any] = [*run.join_args, *run.scope.args, *run.filter_args]
    if run.period is not None and report.date_field:
        where.append(f"t.{quote(BUCKET)} >= {{}} AND t.{quote(BUCKET)} < {{}}")
        args += [run.period.start, run.period.end + dt.timedelta(days=1)]
    if run.unit_id is not None and run.unit_col is not None:
        where.append(f"{run.unit_col} IN (SELECT c.descendant_id FROM hoso_unit_closure c WHERE c.ancestor_id = {{}})")
        args.append(run.unit_id)
    aggs = []
    for j, m in enumerate(run.measures):
        if m.measure == "sum":  # no value at all is no sum (NULL), as SUM over the records gives
            aggs.append(f"CASE WHEN SUM(t.{quote(f'_m{j}_v')}) > 0 THEN SUM(t.{quote(f'_m{j}')}) END AS _m{j}")
        else:
            aggs.append(f"SUM(t.{quote(f'_m{j}')}) AS _m{j}")
    n = len(run.dims)
    keys = [f"{x} AS _k{i}" for i, x in enumerate(dim_sql)]
    group = f" GROUP BY {', '.join(dim_sql)}" if dim_sql else ""
    sql = (f"SELECT {', '.join([f'{n} AS _level', *keys, *aggs])} FROM {quote(table)} t{run.joins} "
           f"WHERE {' AND '.join(where)}{group} HAVING SUM(t.{quote(RECORDS)}) > 0")
    return sql, tuple(args)
