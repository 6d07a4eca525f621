"""The bulk loader of demonstration data (hoso.demo_data.bulk) writes what the record service writes, on both
engines: the same generated cases with their workflow steps, once through the service (then undone) and once in
bulk, give the same rows (ids and times aside), history versions, audit entries, naming series, report summaries
and report numbers, and the search finds them. The summaries and the SQLite search index it fills set-based (their
insert triggers off) hold exactly what those triggers write row by row for the same records."""

from __future__ import annotations

import datetime as dt

from hoso.db import fold, quote
from hoso.demo_data import bulk
from hoso.demo_data.bulk import load_records
from hoso.demo_data.generator import jsonable, read_pools
from hoso.model.history import history_table
from hoso.model.migrate import search_index, search_table
from hoso.records.service import RecordContext
from hoso.reports.engine import run_report
from hoso.reports.model import ReportRequest
from hoso_legal_aid.generator import LegalAidGenerator
from tests.helpers import load_full_config, migrated_runtime

TODAY = dt.date(2026, 11, 30)
TIMES = {"id", "sys_created_at", "sys_updated_at", "sys_history_id", "sys_valid_from", "sys_valid_to"}


class _Undo(Exception):
    pass


async def _snapshot(rt) -> dict:
    """Everything the writes left, with record ids replaced by codes and times left out."""
    case = rt.config.entity("case")
    code = {r["id"]: r["code"] for r in await rt.db.fetch('SELECT id, code FROM "case"')}

    def rows(found, *, parent: str | None = None, record: str | None = None):
        out = []
        for r in found:
            d = {k: (str(v) if v is not None else None) for k, v in dict(r).items() if k not in TIMES}
            if parent:
                d[parent] = code[r[parent]]
            if record:
                d[record] = code.get(r[record])
                d["open"] = r.get("sys_valid_to") is None if "sys_valid_to" in dict(r) else None
            out.append(tuple(sorted(d.items())))
        return sorted(out, key=repr)

    child = case.child_table_name("hearings")
    summaries = [t for t in await rt.db.table_names() if t.startswith("hoso_sum_")]
    assert summaries
    return {
        "case": rows(await rt.db.fetch('SELECT * FROM "case"')),
        "hearings": rows(await rt.db.fetch(f"SELECT * FROM {quote(child)}"), parent="parent_id"),
        "history": rows(await rt.db.fetch(f"SELECT * FROM {quote(history_table('case'))}"), record="id"),
        "hearing_history": rows(await rt.db.fetch(f"SELECT * FROM {quote(history_table(child))}"),
                                parent="parent_id"),
        "audit": rows(await rt.db.fetch("SELECT action, actor, actor_id, origin, entity, record_id, changes "
                                        "FROM hoso_audit WHERE entity = 'case'"), record="record_id"),
        "series": rows(await rt.db.fetch("SELECT key, last_value FROM hoso_series")),
        "summaries": {t: _counts(await rt.db.fetch(f"SELECT * FROM {quote(t)}")) for t in summaries},
    }


def _counts(found) -> list:
    """A summary table's counters per group: the stripes of a roll-up added up, and without the groups whose
    records all moved on (the service's updates leave them at zero; they are no row of a report)."""
    groups: dict[tuple, dict[str, int]] = {}
    for r in found:
        d = {k: v for k, v in dict(r).items() if k != "_stripe"}
        key = tuple(sorted((k, str(v)) for k, v in d.items() if not k.startswith("_") or k == "_bucket"))
        counters = groups.setdefault(key, {})
        for k, v in d.items():
            if k.startswith("_") and k != "_bucket":
                counters[k] = counters.get(k, 0) + (v or 0)
    return sorted((k, sorted(c.items())) for k, c in groups.items() if c.get("_n"))


async def _reports(rt, ctx) -> list:
    out = []
    for name in ("cases_by_unit", "people_assisted"):
        result = await run_report(rt, ctx, ReportRequest(name))
        out.append([(r.keys, r.values) for r in result.rows] + [result.total.values])
    return out


async def test_bulk_loaded_cases_are_those_the_record_service_writes(reference_config_dir, database_url):
    rt = await migrated_runtime(load_full_config(reference_config_dir), database_url)
    try:
        ctx = RecordContext.system(rt.config)
        service = rt.records()
        gen = LegalAidGenerator(rt.config, seed=11, today=TODAY)
        gen.set_pools(await read_pools(rt.db, rt.config))
        centres = [u.id for u in gen.pools.units if u.type == "legal_aid_centre"][:3]
        for unit in centres:  # performers to assign, through the service
            await service.create("performer", jsonable(gen.values("performer", unit=unit)), ctx)
        gen.set_pools(await read_pools(rt.db, rt.config, ("performer",)))
        drawn = []
        for i in range(9):
            values = gen.values("case", unit=centres[i % 3])
            drawn.append((jsonable(values), [(n, jsonable(p)) for n, p in gen.walk("case", values)]))
        assert sum(len(s) for _v, s in drawn) > 9 and any(v.get("hearings") for v, _s in drawn)
        await service.store.register_form(service.form("case"))

        try:
            async with rt.db.transaction():
                for payload, steps in drawn:
                    record = await service.create("case", payload, ctx)
                    for name, step in steps:
                        record = await service.transition("case", record["id"], name, step, record["sys_version"],
                                                          ctx)
                by_service = await _snapshot(rt)
                reports = await _reports(rt, ctx)
                raise _Undo
        except _Undo:
            pass
        assert await rt.db.fetchval('SELECT COUNT(*) AS n FROM "case"') == 0

        ids = await load_records(rt, "case", iter(drawn), ctx, batch=5)
        assert len(ids) == len(set(ids)) == 9
        by_bulk = await _snapshot(rt)
        for part, found in by_service.items():
            assert by_bulk[part] == found, part
        assert await _reports(rt, ctx) == reports and any(v for r in reports for v in r)

        name = drawn[0][0]["requester_name"]
        rows, total = await service.list("case", ctx, search=name.split()[-1])
        assert name in {r["requester_name"] for r in rows} and total >= 1

        more = []
        for i in range(20):
            values = gen.values("case", unit=centres[i % 3])
            more.append((jsonable(values), [(n, jsonable(p)) for n, p in gen.walk("case", values)]))
        set_based = await _loaded(rt, ctx, more, triggers=False)
        by_triggers = await _loaded(rt, ctx, more, triggers=True)
        assert set_based == by_triggers
        assert sum(len(rows) for rows in set_based["summaries"].values()) > 10
        assert len(set_based["search"]) == 20 and all(set_based["search"])
    finally:
        await rt.db.close()


async def _loaded(rt, ctx, drawn, *, triggers: bool) -> dict:
    """The summary tables (every row, the roll-up's stripes included) and what the search index finds of each
    requester's name after a bulk load of ``drawn`` in batches of 6 (later batches add to the groups of earlier
    ones): set-based, or (``triggers``) with the insert triggers left on, doing it row by row. The load is undone
    and the ids given back, so both ways write the same ids."""
    sequence = None if rt.db.is_sqlite else await rt.db.fetchval("SELECT pg_get_serial_sequence('\"case\"', 'id')")
    if sequence:
        last = (await rt.db.fetch(f"SELECT last_value, is_called FROM {sequence}"))[0]
    read = bulk._Plan.read

    async def keeping_triggers(*args):
        plan = await read(*args)
        plan.summaries, plan.fts = [], None
        return plan

    found: dict = {}
    try:
        async with rt.db.transaction():
            if triggers:
                bulk._Plan.read = keeping_triggers
            try:
                ids = await load_records(rt, "case", iter(drawn), ctx, batch=6)
            finally:
                bulk._Plan.read = read
            assert len(ids) == len(drawn)
            tables = sorted(t for t in await rt.db.table_names() if t.startswith("hoso_sum_"))
            found["summaries"] = {t: sorted(tuple(sorted((k, str(v)) for k, v in dict(r).items()))
                                            for r in await rt.db.fetch(f"SELECT * FROM {quote(t)}")) for t in tables}
            found["search"] = [await _searched(rt, payload["requester_name"], ids) for payload, _s in drawn]
            raise _Undo
    except _Undo:
        pass
    if sequence:
        await rt.db.execute(f"SELECT setval('{sequence}', {{}}, {{}})", last["last_value"], last["is_called"])
    return found


async def _searched(rt, name: str, ids: list[int]) -> list[int]:
    """The loaded records whose search text holds ``name`` (SQLite: through its FTS5 index)."""
    case = rt.config.entity("case")
    marks = ", ".join(str(i) for i in ids)
    if rt.db.is_sqlite:
        fts = quote(search_table(next(iter(search_index(case)))))
        rows = await rt.db.fetch(f"SELECT rowid AS id FROM {fts} WHERE {fts} MATCH {{}} AND rowid IN ({marks}) "
                                 "ORDER BY rowid", '"' + fold(name) + '"')
    else:
        rows = await rt.db.fetch(f'SELECT id FROM "case" WHERE sys_search LIKE {{}} AND id IN ({marks}) ORDER BY id',
                                 "%" + fold(name) + "%")
    return [int(r["id"]) for r in rows]
