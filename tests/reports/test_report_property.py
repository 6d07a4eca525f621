"""Property: for random records and random templates (dimensions of fields, units and periods; counts,
conditional counts, one column per option of a multiple choice, distinct counts, sums, averages, minima,
maxima; template filters in the forms' language; run filters; periods; units; as recorded or mapped, with records
a split moved to another unit), the compiled report equals a report computed in plain Python from the records,
for users of different scopes. Runs on both engines.

The oracle reads the records as Python values and evaluates conditions with the forms' own evaluator
(``Expression.holds``); the system under test never leaves SQL for the records.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections import defaultdict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hoso.config.conditions import compile_expression
from hoso.config.types import Label, ReportColumnDef, ReportDef, ReportDimensionDef
from hoso.reports.engine import run_report
from hoso.reports.model import ReportError, ReportRequest
from hoso.runtime import Runtime
from tests.helpers import examples
from tests.reports.conftest import TODAY, ctx_of, load_cases

UNITS = {"C11": "P1", "C12": "P1", "C21": "P2"}
PARENT = {"P1": "BTP", "P2": "BTP", "BTP": None, **UNITS}
LEVEL = {"BTP": "ministry", "P1": "province", "P2": "province", **{c: "centre" for c in UNITS}}
# The units each user's run_reports grant reaches (None: the superuser); user 5's grant is of its own unit only.
REACH = {None: None, 1: None, 2: {"P1", "C11", "C12"}, 3: {"P2", "C21"}, 5: {"C11"}}
GROUPS = ["TE", "HN", "KKTC_LS"]
STATUSES = ["received", "accepted", "refused", "ended"]
PERIODS = {"2025": (dt.date(2025, 1, 1), dt.date(2025, 12, 31)),
           "2025-H1": (dt.date(2025, 1, 1), dt.date(2025, 6, 30)),
           "2025-Q3": (dt.date(2025, 7, 1), dt.date(2025, 9, 30)),
           "2025-02": (dt.date(2025, 2, 1), dt.date(2025, 2, 28))}

CONDITIONS = [
    'field_of_law == "HS"', 'gender != "male"', '"TE" in groups', '"KKTC_LS" not in groups', "age >= 30",
    "age < 18", "urgent", "not urgent", "ended_on != null", "ended_on >= received_on", "empty(groups)",
    'status in ["accepted", "ended"]', "citizen_id == null", "len(groups) >= 2", 'received_on < "2025-06-01"',
    "gender == null", 'form_of_aid == "TGTT" or age > 60', 'citizen_id != "2"', "urgent == false",
    'status not in ["refused"]',
]


def conditions():
    atom = st.sampled_from(CONDITIONS)
    return st.one_of(
        atom,
        st.builds(lambda a, b, op: f"({a}) {op} ({b})", atom, atom, st.sampled_from(["and", "or"])),
        st.builds(lambda a: f"not ({a})", atom),
    )


DIMENSIONS = [
    ReportDimensionDef("field", "field_of_law"), ReportDimensionDef("field", "form_of_aid"),
    ReportDimensionDef("field", "gender"), ReportDimensionDef("field", "urgent"),
    ReportDimensionDef("field", "status"), ReportDimensionDef("field", "age"),
    ReportDimensionDef("unit", "unit", None), ReportDimensionDef("unit", "unit", "province"),
    ReportDimensionDef("unit", "unit", "ministry"),
    ReportDimensionDef("period", "received_on", "month"), ReportDimensionDef("period", "received_on", "quarter"),
    ReportDimensionDef("period", "received_on", "half_year"), ReportDimensionDef("period", "received_on", "year"),
]


@st.composite
def columns(draw):
    kind = draw(st.sampled_from(["count", "where", "per_option", "count_distinct", "sum", "avg", "min", "max",
                                 "max_date"]))
    where = draw(st.one_of(st.none(), conditions())) if kind not in ("count", "where", "per_option") else None
    lab = Label("c")
    if kind == "count":
        return [ReportColumnDef("n", "count", lab)]
    if kind == "where":
        return [ReportColumnDef("w", "count", lab, None, draw(conditions()))]
    if kind == "per_option":
        if draw(st.booleans()):
            return [ReportColumnDef(f"groups:{g}", "count", lab, None, f'"{g}" in groups') for g in GROUPS]
        return [ReportColumnDef(f"gender:{g}", "count", lab, None, f'gender == "{g}"') for g in ("male", "female")]
    if kind == "count_distinct":
        return [ReportColumnDef("people", "count_distinct", lab, "citizen_id", where)]
    if kind == "max_date":
        return [ReportColumnDef("last", "max", lab, "ended_on", where)]
    return [ReportColumnDef(f"age_{kind}", kind, lab, "age", where)]


@st.composite
def templates(draw):
    dims = draw(st.lists(st.sampled_from(DIMENSIONS), min_size=1, max_size=2, unique_by=lambda d: d.key))
    cols: list[ReportColumnDef] = []
    for group in draw(st.lists(columns(), min_size=1, max_size=3)):
        cols += [c for c in group if c.key not in {x.key for x in cols}]
    return ReportDef("prop", "case", Label("Báo cáo"), tuple(dims), tuple(cols), "received_on",
                     draw(st.one_of(st.none(), conditions())), ("form_of_aid", "urgent"), draw(st.booleans()))


@st.composite
def cases(draw):
    day = st.integers(-60, 420).map(lambda n: dt.date(2025, 1, 1) + dt.timedelta(days=n))
    out = []
    for _ in range(draw(st.integers(0, 14))):
        received = draw(day)
        ended = draw(st.one_of(st.none(), st.integers(0, 90).map(lambda n, r=received: r + dt.timedelta(days=n))))
        out.append({
            "received_on": received, "ended_on": ended,
            "field_of_law": draw(st.sampled_from(["HS", "DS", None])),
            "form_of_aid": draw(st.sampled_from(["TV", "TGTT", None])),
            "gender": draw(st.sampled_from(["male", "female", None])),
            "groups": draw(st.one_of(st.none(), st.lists(st.sampled_from(GROUPS), unique=True, max_size=3))),
            "age": draw(st.one_of(st.none(), st.integers(0, 90))),
            "urgent": draw(st.sampled_from([True, False, None])),
            "citizen_id": draw(st.sampled_from(["1", "2", "3", None])),
            "status": draw(st.sampled_from(STATUSES)),
            "unit": draw(st.sampled_from(sorted(UNITS))),
            "scope_unit": draw(st.sampled_from([None, None, None, *sorted(UNITS)])),
            "deleted": draw(st.integers(0, 6)) == 0,
        })
    return out


@st.composite
def requests(draw):
    filters = draw(st.sampled_from([None, {"form_of_aid": "TV"}, {"urgent": True},
                                    {"form_of_aid": {"in": ["TV", "TGTT"]}}]))
    return ReportRequest("prop", period=draw(st.sampled_from([None, *PERIODS])),
                         unit=draw(st.sampled_from([None, None, "P1", "C11", "C21"])), filters=filters,
                         structure=draw(st.sampled_from(["recorded", "2026-01-01"])))


# -- the oracle ---------------------------------------------------------------------------------------------------


def _ancestors(code):
    while code is not None:
        yield code
        code = PARENT[code]


def _period_code(level: str, d: dt.date) -> str:
    if level == "year":
        return f"{d.year}"
    if level == "month":
        return f"{d.year}-{d.month:02d}"
    if level == "quarter":
        return f"{d.year}-Q{(d.month + 2) // 3}"
    return f"{d.year}-H{(d.month + 5) // 6}"


def _answering(case: dict) -> str:
    """The unit a record answers to: the one a split gave it, else its recorded unit."""
    return case["scope_unit"] or case["unit"]


def _key(dim: ReportDimensionDef, case: dict, mapped: bool):
    if dim.kind == "unit":
        counted_at = _answering(case) if mapped else case["unit"]
        return counted_at if dim.level is None else next(u for u in _ancestors(counted_at) if LEVEL[u] == dim.level)
    if dim.kind == "period":
        return _period_code(dim.level or "year", case["received_on"])
    return case[dim.field]


def _measure(col: ReportColumnDef, records: list[dict]):
    if col.where:
        expr = compile_expression(col.where)
        records = [r for r in records if expr.holds(r, TODAY)]
    if col.measure == "count":
        return len(records)
    values = [r[col.field] for r in records if r[col.field] is not None]
    if col.measure == "count_distinct":
        return len(set(values))
    if not values:
        return None
    if col.measure == "sum":
        return sum(values)
    if col.measure == "avg":
        return round(sum(values) / len(values), 6)
    value = min(values) if col.measure == "min" else max(values)
    return value.isoformat() if isinstance(value, dt.date) else value


def oracle(report: ReportDef, request: ReportRequest, user, records: list[dict]):
    """{(kind, keys): values} of the report, or "error" when the request must be refused."""
    reach = REACH[user]
    mapped = request.structure != "recorded"
    if request.unit is not None and reach is not None and request.unit not in reach:
        return "error"
    selected = []
    for r in records:
        if r["deleted"]:
            continue
        if reach is not None and _answering(r) not in reach:  # scopes follow the unit a record answers to
            continue
        if report.filter and not compile_expression(report.filter).holds(r, TODAY):
            continue
        if request.filters:
            (name, spec), = request.filters.items()
            allowed = spec["in"] if isinstance(spec, dict) else [spec]
            if r[name] is None or r[name] not in allowed:
                continue
        if request.period is not None:
            start, end = PERIODS[request.period]
            if not start <= r["received_on"] <= end:
                continue
        counted_at = _answering(r) if mapped else r["unit"]
        if request.unit is not None and request.unit not in _ancestors(counted_at):
            continue
        selected.append(r)
    dims = report.rows
    n = len(dims)
    groups = defaultdict(list)
    for r in selected:
        groups[tuple(_key(d, r, mapped) for d in dims)].append(r)
    out = {}
    for keys, rs in groups.items():
        out[("row", keys)] = [_measure(c, rs) for c in report.columns]
    if report.subtotals:
        for d in range(1, n):
            for prefix in {k[:d] for k in groups}:
                rs = [r for k, g in groups.items() if k[:d] == prefix for r in g]
                out[("subtotal", prefix + (None,) * (n - d))] = [_measure(c, rs) for c in report.columns]
    out[("total", (None,) * n)] = [_measure(c, selected) for c in report.columns]
    return out


def observed(result):
    def norm(col, v):
        return round(v, 6) if col.measure == "avg" and v is not None else v

    out = {}
    for r in [*result.rows, result.total]:
        out[(r.kind, tuple(r.keys))] = [norm(c, v) for c, v in zip(result.columns, r.values, strict=True)]
    return out


# -- the test -----------------------------------------------------------------------------------------------------


@pytest.mark.slow
@settings(max_examples=examples(30), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(records=cases(), report=templates(), request_=requests())
def test_compiled_report_equals_the_python_oracle(property_db, records, report, request_):
    config, url = property_db

    async def check():
        rt = Runtime.create(config, url)
        rt.config = dataclasses.replace(rt.config, reports=(report,))
        await rt.db.start()
        try:
            await load_cases(rt, [{**r, "code": f"c{i}"} for i, r in enumerate(records)])
            for user in (None, 1, 2, 3, 5):
                expected = oracle(report, request_, user, records)
                if expected == "error":
                    with pytest.raises(ReportError) as exc:
                        await run_report(rt, ctx_of(rt, user), request_)
                    assert [p for p, _m in exc.value.problems] == ["unit"]
                    continue
                result = await run_report(rt, ctx_of(rt, user), request_)
                assert observed(result) == expected, (user, report, request_)
        finally:
            await rt.db.close()

    asyncio.run(check())
