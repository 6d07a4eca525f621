"""The refusal of a unique index, against a plain-Python oracle: the true number of duplicated values, and the
records of the first 20 of them (issue 8, item 18)."""

from __future__ import annotations

import asyncio
from collections import defaultdict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hoso.model.migrate import UNIQUE_VALUES_SHOWN, make_plan
from hoso.runtime import Runtime
from tests.helpers import examples, migrated_runtime
from tests.model.test_migrate import PERSON, person_config  # noqa: F401 - the fixture

UNIQUE_PHONE = PERSON.replace("phone: {type: text,", "phone: {type: text, unique: true,")


@pytest.fixture
def unique_phone_db(person_config, database_url):  # noqa: F811 - the fixture imported above
    async def migrate():
        rt = await migrated_runtime(person_config.load(), database_url)
        await rt.db.close()

    asyncio.run(migrate())
    person_config.write("forms_config/entities/person.yaml", UNIQUE_PHONE)
    return person_config.load(), database_url


def oracle(phones: list[str | None]) -> tuple[int, list[int]]:
    """(number of duplicated values, ids listed) for rows with ids 1, 2, ... holding ``phones``."""
    groups: dict[str, list[int]] = defaultdict(list)
    for rid, phone in enumerate(phones, start=1):
        if phone is not None:
            groups[phone].append(rid)
    dupes = sorted((ids for ids in groups.values() if len(ids) > 1), key=min)
    return len(dupes), [rid for ids in dupes[:UNIQUE_VALUES_SHOWN] for rid in ids]


@pytest.mark.slow
@settings(max_examples=examples(25), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(phones=st.lists(st.tuples(st.none() | st.integers(0, 60).map(str), st.integers(1, 3)), max_size=45).flatmap(
    # values repeated 1 to 3 times, shuffled: often more than 20 duplicated values
    lambda pairs: st.permutations([value for value, times in pairs for _ in range(times)])))
def test_unique_refusal_matches_the_oracle(unique_phone_db, phones):
    config, url = unique_phone_db

    async def run():
        rt = Runtime.create(config, url)
        await rt.db.start()
        try:
            async with rt.db.transaction():
                await rt.db.execute('DELETE FROM "person"')
                await rt.db.executemany('INSERT INTO "person" ("name", "phone") VALUES (?, ?)',
                                        [(f"p{i}", p) for i, p in enumerate(phones)])
            first = await rt.db.fetchval('SELECT MIN(id) AS n FROM "person"')
            plan = await make_plan(rt.db, rt.config, rt.registry)
            return plan, (first or 1) - 1
        finally:
            await rt.db.close()

    plan, offset = asyncio.run(run())
    total, ids = oracle(phones)
    if not total:
        assert plan.ok, plan.render()
        return
    (error,) = plan.errors
    assert f"cannot be made unique: {total} value(s) are used more than once" in str(error)
    assert [rid - offset for rid in error.record_ids] == ids
