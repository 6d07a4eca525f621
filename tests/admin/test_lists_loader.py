"""bench/run.py's case loader stores cases as the record service stores them: the same generated cases written
through the service and through the loader have the same columns (the search column, the versions, the form
version, the parsed values), on both engines; and the naming series continue after a load."""

from __future__ import annotations

import importlib.util

import pytest

from hoso.config import load_config
from hoso.records.context import RecordContext
from tests.conftest import REPO
from tests.helpers import migrated_runtime


def _bench_run():
    spec = importlib.util.spec_from_file_location("hoso_bench_run", REPO / "bench" / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
async def test_loaded_cases_are_stored_as_the_service_stores_them(database_url):
    bench = _bench_run()
    rt = await migrated_runtime(load_config(REPO), database_url)
    try:
        assert await bench.loader_differences(rt, 6) == []
        rows = await rt.db.fetch('SELECT requester_name, sys_search, sys_version, sys_form_version FROM "case"')
        assert len(rows) == 12
        for r in rows:  # Vietnamese names, folded into the search column
            assert r["sys_search"] and r["sys_version"] == 1 and r["sys_form_version"]
            assert any(ch in r["requester_name"] for ch in "ễầăđĐơưọ"), r["requester_name"]
        # the service's next case continues the series the loader used: no duplicate code
        payload = bench.case_payload(0, int(await rt.db.fetchval('SELECT unit FROM "case" ORDER BY id LIMIT 1')))
        record = await rt.records().create("case", payload, RecordContext.system(rt.config))
        codes = [r["code"] for r in await rt.db.fetch('SELECT code FROM "case"')]
        assert codes.count(record["code"]) == 1
    finally:
        await rt.db.close()
