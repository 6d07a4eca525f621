"""What a requester may see of a report's numbers: the finest unit level, small cells, the rows behind.

A role's grant on an entity may limit what its reports show (``roles_config/roles/*.yaml``)::

    - entity: case
      scope: statistics
      actions: [run_reports]
      finest_level: province     # numbers rolled up to provinces (or coarser) only
      suppress_below: 5          # cells counting 1 to 4 people are hidden

How the roles a user holds combine (``disclosure_for``):

- **rows**: a user who may read the entity's rows through any of their roles (a grant with ``read`` and a scope
  other than ``statistics``, not saying ``rows: false``) may open a cell's records, and sees every level, without
  suppression: the most permissive role that reads rows wins, since hiding numbers from someone who can list the
  records behind them protects nothing. A superuser likewise.
- otherwise (statistics only): no rows; the finest level is the finest any of their ``run_reports`` grants on
  the entity allows (a grant without ``finest_level`` allows every level), and the threshold the smallest any of
  them states (a grant without ``suppress_below`` suppresses nothing).

Small-cell suppression (``Disclosure.apply``): every cell of a column counting people or cases (``Column.people``)
with ``0 < n < suppress_below`` is hidden (primary), then, until none is left, every *line* holding exactly one
hidden cell gets its smallest other visible cell hidden too (complementary), so that no hidden cell can be
computed back by subtracting visible cells from a total. The lines are: in each such column, a subtotal (or the
total) with the rows it sums; in each row, the columns of one field (keys ``field:option``), or of one header
group (``Column.groups``, e.g. men and women under "Giới tính"), with the ``total`` column. Hidden values
become None and are counted in ``result.suppressed``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from hoso.i18n import both, t
from hoso.reports.model import ReportError, ReportResult, ResultRow

if TYPE_CHECKING:  # pragma: no cover
    from hoso.config import EntityDef
    from hoso.records.access import Access
    from hoso.runtime import Runtime

__all__ = ["Disclosure", "disclosure_for", "suppression_lines"]

Cell = tuple[int, int]  # (row index, column index); the total row has index len(result.rows)


@dataclass(frozen=True)
class Disclosure:
    rows: bool = True  # may open a cell's records
    finest_level: str | None = None  # None: any level
    suppress_below: int = 0  # people-cells with 0 < n < this are hidden
    levels: tuple[str, ...] = ()  # the hierarchy's levels, coarsest first

    def allows_level(self, level: str | None) -> bool:
        """Whether numbers per unit at ``level`` may be shown (None: per unit, without rolling up)."""
        if self.finest_level is None:
            return True
        if level is None or level not in self.levels or self.finest_level not in self.levels:
            return False
        return self.levels.index(level) <= self.levels.index(self.finest_level)

    def check_levels(self, levels: Iterable[str | None], lang: str | None = None) -> None:
        """Raises ReportError (parameter ``level``) for the first level finer than the role may see; a unit
        dimension that does not roll up is ``None``. Messages in ``lang``, or Vietnamese then English."""
        for level in levels:
            if not self.allows_level(level):
                raise ReportError([("level", _say("disclosure_level_too_fine", lang, finest=self.finest_level,
                                                  level=level or "unit"))])

    def check_unit(self, code: str, level: str | None, lang: str | None = None) -> None:
        """Raises ReportError (parameter ``unit``) when a report is asked for one unit finer than the role may
        see: its total would be that unit's numbers."""
        if self.finest_level is not None and level is not None and not self.allows_level(level):
            raise ReportError([("unit", _say("disclosure_unit_too_fine", lang, finest=self.finest_level, unit=code,
                                             level=level))])

    def check_rows(self, lang: str | None = None) -> None:
        """Raises ReportError (parameter ``rows``) when the role may not open the records behind a cell."""
        if not self.rows:
            raise ReportError([("rows", _say("disclosure_no_rows", lang))])

    def apply(self, result: ReportResult) -> ReportResult:
        """The result with small cells and their complements hidden (None), ``suppressed`` counting them."""
        if self.suppress_below <= 1:
            return result
        table = [list(r.values) for r in result.rows] + [list(result.total.values)]
        hidden = suppress(table, suppression_lines(result), self.people_columns(result), self.suppress_below)
        if not hidden:
            return result
        for i, j in hidden:
            table[i][j] = None
        rows = [replace(r, values=table[i]) for i, r in enumerate(result.rows)]
        total = replace(result.total, values=table[-1])
        note = t("disclosure_suppressed", result.request.lang, n=len(hidden), k=self.suppress_below)
        return replace(result, rows=rows, total=total, suppressed=result.suppressed + len(hidden),
                       notes=[*result.notes, note])

    @staticmethod
    def people_columns(result: ReportResult) -> list[int]:
        return [j for j, c in enumerate(result.columns) if c.people]


def _say(key: str, lang: str | None, **kwargs) -> str:
    return t(key, lang, **kwargs) if lang else both(key, **kwargs)


def _parents(rows: list[ResultRow], total: int) -> list[int]:
    """For each row, the index of the subtotal (or the total) that sums it: the subtotal fixing the most leading
    dimensions of the row among those fixing fewer than it."""
    subtotals = {(s.depth, tuple(s.keys[:s.depth])): k for k, s in enumerate(rows) if s.kind == "subtotal"}
    out = []
    for r in rows:
        fixed = len(r.keys) if r.kind == "row" else r.depth
        found = total
        for d in range(fixed - 1, -1, -1):
            k = subtotals.get((d, tuple(r.keys[:d])))
            if k is not None:
                found = k
                break
        out.append(found)
    return out


def suppression_lines(result: ReportResult) -> list[list[Cell]]:
    """The groups of cells one of which could be computed from the others (see the module's description)."""
    people = Disclosure.people_columns(result)
    total = len(result.rows)
    children: dict[int, list[int]] = {}
    for i, parent in enumerate(_parents(result.rows, total)):
        children.setdefault(parent, []).append(i)
    lines: list[list[Cell]] = []
    for j in people:
        for parent, kids in children.items():
            lines.append([(k, j) for k in kids] + [(parent, j)])
    by_field: dict[Any, list[int]] = {}
    for j in people:
        col = result.columns[j]
        if ":" in col.key:
            by_field.setdefault(col.key.split(":", 1)[0], []).append(j)
        elif col.groups:
            by_field.setdefault(col.groups, []).append(j)
    total_col = [j for j in people if result.columns[j].key == "total"]
    for cols in by_field.values():
        for i in range(total + 1):
            lines.append([(i, j) for j in cols + total_col])
    return lines


def suppress(table: list[list], lines: list[list[Cell]], people: list[int], k: int) -> set[Cell]:
    """The cells to hide in ``table`` (rows of values): primary cells (0 < n < k in ``people`` columns), then
    complementary ones until no line holds exactly one hidden cell."""
    hidden: set[Cell] = set()
    for i, row in enumerate(table):
        for j in people:
            v = row[j]
            if isinstance(v, (int, float)) and 0 < v < k:
                hidden.add((i, j))
    if not hidden:
        return hidden
    changed = True
    while changed:
        changed = False
        for line in lines:
            inside = [c for c in line if c in hidden]
            if len(inside) != 1:
                continue
            others = [c for c in line if c not in hidden and isinstance(table[c[0]][c[1]], (int, float))]
            if not others:
                continue
            # The smallest non-zero cell loses least; a zero only when nothing else is left.
            pick = min(others, key=lambda c: (table[c[0]][c[1]] == 0, table[c[0]][c[1]], c))
            hidden.add(pick)
            changed = True
    return hidden


async def disclosure_for(rt: Runtime, access: Access, entity: EntityDef) -> Disclosure:
    """What the actor of ``access`` may see of reports on ``entity``, from the roles they hold (see above)."""
    h = rt.config.hierarchy
    levels = tuple(h.levels) if h else ()
    if access.superuser:
        return Disclosure(levels=levels)
    held = await access.roles()
    grants = [g for r in rt.config.roles if r.name in held for g in r.grants if g.entity == entity.name]
    if any("read" in g.actions and g.scope != "statistics" and g.rows is not False for g in grants):
        return Disclosure(levels=levels)
    reports = [g for g in grants if "run_reports" in g.actions]
    finest: str | None = None
    if reports and all(g.finest_level is not None for g in reports):
        ranked = [g.finest_level for g in reports if g.finest_level in levels]
        finest = max(ranked, key=levels.index) if ranked else reports[0].finest_level
    threshold = min((g.suppress_below for g in reports), default=0)
    return Disclosure(rows=False, finest_level=finest, suppress_below=threshold, levels=levels)
