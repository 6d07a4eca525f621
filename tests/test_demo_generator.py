"""The record generator (hoso.demo_data) on the reference configuration, on both engines: for any seed, every
record it draws satisfies its entity's definition (a plain-Python oracle) and the record service accepts it and
every workflow step drawn for it; the same seed draws the same records."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hoso_legal_aid
from hoso.config import Config, EntityDef
from hoso.demo_data.generator import FAMILY_NAMES, RecordGenerator, jsonable, parse_rule, read_pools
from hoso.records.service import RecordContext
from hoso.runtime import Runtime
from hoso_legal_aid.generator import LegalAidGenerator
from tests.helpers import load_full_config, migrated_runtime

TODAY = dt.date(2026, 11, 30)
ENTITIES = ("organisation", "performer", "case")


@pytest.fixture
def reference_db(reference_config_dir, database_url):
    config = load_full_config(reference_config_dir, [hoso_legal_aid])

    async def migrate():
        rt = await migrated_runtime(config, database_url, [hoso_legal_aid])
        await rt.db.close()

    asyncio.run(migrate())
    return config, database_url


def oracle_problems(config: Config, entity: EntityDef, values: dict, units: dict[int, str]) -> list[str]:
    """What the entity's definition says of a new record, checked by hand."""
    out = []
    for fd in entity.fields:
        v = values.get(fd.name)
        if v is None:
            if fd.required and fd.default is None:
                out.append(f"{fd.name} is required")
            continue
        if fd.type == "choice" and v not in config.choice_list(fd.list).values():
            out.append(f"{fd.name}: {v!r} is no option")
        if fd.type == "multi_choice" and not set(v) <= set(config.choice_list(fd.list).values()):
            out.append(f"{fd.name}: {v!r} holds no option")
        if fd.type == "org_unit" and fd.unit_types and units.get(v) not in fd.unit_types:
            out.append(f"{fd.name}: unit {v} is a {units.get(v)}")
        if fd.type == "date" and not ((fd.min is None or str(v) >= str(fd.min)) and v <= TODAY):
            out.append(f"{fd.name}: {v} out of range")
        if fd.max_length and isinstance(v, str) and len(v) > fd.max_length:
            out.append(f"{fd.name}: too long")
    for rule in entity.rules:
        left, op, right = parse_rule(rule.rule) or (None, None, None)
        a, b = values.get(left or ""), TODAY if right == "today()" else values.get(right or "")
        if a is not None and b is not None and not {">=": a >= b, "<=": a <= b, ">": a > b, "<": a < b}[op]:
            out.append(f"rule {rule.rule} fails")
    return out


class _ConfigurationOnly(RecordGenerator):
    """The generic generator, leaving out the step whose rule is the quality plugin's (the rubric's scores), which
    configuration alone does not state."""

    def transition_weight(self, entity, workflow, transition, values):
        return 0 if transition.name == "evaluate" else super().transition_weight(entity, workflow, transition, values)


@pytest.mark.slow
@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2 ** 32), legal_aid=st.booleans())
def test_generated_records_and_steps_pass_the_record_service(reference_db, seed, legal_aid):
    config, url = reference_db

    async def run():
        rt = Runtime.create(config, url, plugins=[hoso_legal_aid])
        await rt.db.start()
        try:
            ctx = RecordContext.system(rt.config)
            service = rt.records()
            kind = LegalAidGenerator if legal_aid else _ConfigurationOnly
            gen = kind(rt.config, seed=seed, today=TODAY)
            units = {r["id"]: r["type"] for r in await rt.db.fetch("SELECT id, type FROM hoso_unit")}
            states = set()
            for name in ENTITIES:
                gen.set_pools(await read_pools(rt.db, rt.config, ("organisation", "performer")))
                entity = rt.config.entity(name)
                for _ in range(2):
                    values = gen.values(name)
                    assert oracle_problems(rt.config, entity, values, units) == [], values
                    record = await service.create(name, jsonable(values), ctx)
                    steps = gen.walk(name, values)
                    for step, payload in steps:
                        record = await service.transition(name, record["id"], step, jsonable(payload),
                                                          record["sys_version"], ctx)
                    assert oracle_problems(rt.config, entity, record, units) == [], record
                    if name == "case":
                        states.add(record["status"])
                        assert record["status"] == "received" or steps
                        people = record["requester_name"].split()
                        assert people[0] in {f for f, _w in FAMILY_NAMES} and len(people) == 3
            return states
        finally:
            await rt.db.close()

    assert asyncio.run(run())


@functools.cache
def reference_config() -> Config:
    return load_full_config(Path(__file__).resolve().parent.parent)


@given(seed=st.integers(0, 2 ** 32))
@settings(max_examples=10, deadline=None)
def test_the_same_seed_draws_the_same_records(seed):
    config = reference_config()

    def draw(s):
        gen = RecordGenerator(config, seed=s, today=TODAY)
        return [(v, gen.walk(name, v)) for name in ("organisation", "case", "case") for v in [gen.values(name)]]

    assert draw(seed) == draw(seed)
    assert draw(seed) != draw(seed + 1)
