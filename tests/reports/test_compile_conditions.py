"""Property: a condition of the forms' language compiled to SQL (``hoso.config.conditions_sql``) is TRUE, FALSE or
NULL on each stored record exactly where the Python evaluator says true, false or unknown, on both engines;
missing values (NULL, empty text, empty lists) included."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from hoso.config.conditions import ExpressionError, compile_expression, entity_field_info
from hoso.config.conditions_sql import to_sql
from hoso.model.migrate import apply_plan, make_plan
from hoso.records.store import RecordStore, RuntimeCache
from hoso.reports.engine import _sql_fields
from hoso.runtime import Runtime
from hoso.units import sync_units
from tests.reports.conftest import TODAY, load_cases, write_config

TEXT = {"code": ['""', '"a"', '"b"'], "citizen_id": ['""', '"1"', '"2"'], "field_of_law": ['"HS"', '"DS"'],
        "gender": ['"male"', '"female"'], "status": ['"received"', '"ended"']}
NUMBER = {"age": ["0", "30", "-1", "17"]}
DATE = {"received_on": ['"2025-01-01"', '"2025-06-30"', "today()"], "ended_on": ['"2025-03-01"', "today()"]}
ORDER = ["<", "<=", ">", ">="]


def atoms():
    text = st.sampled_from(sorted(TEXT)).flatmap(lambda f: st.one_of(
        st.builds(lambda op, v: f"{f} {op} {v}", st.sampled_from(["==", "!="]), st.sampled_from(TEXT[f] + ["null"])),
        st.builds(lambda vs, neg: f"{f} {'not in' if neg else 'in'} [{', '.join(vs)}]",
                  st.lists(st.sampled_from(TEXT[f] + ["null"]), min_size=0, max_size=3), st.booleans()),
        st.just(f"empty({f})"),
    ))
    free_text = st.builds(lambda a, op, b: f"{a} {op} {b}", st.sampled_from(["code", "citizen_id"]),
                          st.sampled_from(["==", "!=", *ORDER]), st.sampled_from(["code", "citizen_id", '"a"', '""']))
    number = st.one_of(st.builds(lambda op, v: f"age {op} {v}", st.sampled_from(ORDER), st.sampled_from(NUMBER["age"])),
                       st.builds(lambda op, v: f"age {op} {v}", st.sampled_from(["==", "!="]),
                                 st.sampled_from(NUMBER["age"] + ["null"])))
    dates = st.builds(lambda f, op, v: f"{f} {op} {v}", st.sampled_from(sorted(DATE)),
                      st.sampled_from(["==", "!=", *ORDER]),
                      st.sampled_from(DATE["received_on"] + ["ended_on", "received_on"]))
    groups = st.one_of(
        st.builds(lambda g, neg: f'"{g}" {"not in" if neg else "in"} groups', st.sampled_from(["TE", "HN", "KKTC_LS"]),
                  st.booleans()),
        st.sampled_from(["empty(groups)", "groups == null", "groups != null", "len(groups) >= 2", "len(groups) == 0",
                         "gender in groups", "len(code) > 0"]),
    )
    flags = st.sampled_from(["urgent", "not urgent", "urgent == true", "urgent != false", "urgent == null"])
    return st.one_of(text, free_text, number, dates, groups, flags)


def expressions():
    return st.recursive(atoms(), lambda inner: st.one_of(
        st.builds(lambda a, b, op: f"({a}) {op} ({b})", inner, inner, st.sampled_from(["and", "or"])),
        st.builds(lambda a: f"not ({a})", inner)), max_leaves=4)


def records():
    some_day = st.integers(-200, 200).map(lambda n: dt.date(2025, 3, 1) + dt.timedelta(days=n))
    day = st.one_of(st.none(), some_day)
    return st.lists(st.fixed_dictionaries({
        "code": st.sampled_from(["", "a", "b", None]), "citizen_id": st.sampled_from(["", "1", "2", None]),
        "field_of_law": st.sampled_from(["HS", "DS", None]), "gender": st.sampled_from(["male", "female", None]),
        "status": st.sampled_from(["received", "ended", None]), "age": st.sampled_from([None, 0, 17, 30, -1, 90]),
        "received_on": some_day, "ended_on": day,
        "groups": st.one_of(st.none(), st.lists(st.sampled_from(["TE", "HN", "KKTC_LS", "male"]), unique=True,
                                                max_size=3)),
        "urgent": st.sampled_from([True, False, None]), "unit": st.just("C11"),
    }), min_size=1, max_size=8)


@pytest.fixture
def condition_db(tmp_path, database_url):
    config = write_config(tmp_path / "config")

    async def migrate():
        rt = Runtime.create(config, database_url)
        await rt.db.start()
        plan = await make_plan(rt.db, rt.config, rt.registry)
        await apply_plan(rt.db, rt.config, rt.registry, plan, applied_by="test")
        await sync_units(rt)
        await rt.db.close()

    asyncio.run(migrate())
    return config, database_url


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(texts=st.lists(expressions(), min_size=1, max_size=4), rows=records())
def test_sql_condition_agrees_with_the_evaluator(condition_db, texts, rows):
    config, url = condition_db
    entity = config.entity("case")
    info = entity_field_info(entity.column_fields)
    try:
        exprs = [compile_expression(text, info) for text in texts]
    except ExpressionError:
        assume(False)
        return

    async def check():
        rt = Runtime.create(config, url)
        await rt.db.start()
        try:
            await load_cases(rt, rows)
            store = RecordStore(rt, RuntimeCache(rt))
            stored = await rt.db.fetch(f'SELECT {store.columns(entity)} FROM "case" t ORDER BY t.id')
            for expr in exprs:
                sql, args = to_sql(expr, _sql_fields(rt, entity), today=TODAY, dialect=rt.db.kind)
                got = await rt.db.fetch(f'SELECT t.id, CASE WHEN {sql} THEN 1 WHEN NOT ({sql}) THEN 0 END AS v '
                                        f'FROM "case" t ORDER BY t.id', *args, *args)
                for row, record in zip(got, stored, strict=True):
                    values = store.load_row(entity.fields, record)
                    expected = expr.evaluate(values, TODAY)
                    observed = None if row["v"] is None else bool(row["v"])
                    assert observed == expected, (expr.source, values, sql)
        finally:
            await rt.db.close()

    asyncio.run(check())
