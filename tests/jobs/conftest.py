"""Runtimes migrated on each engine with the jobs probe plugin (tests/plugins/jobs_probe.py)."""

from __future__ import annotations

import pytest

from hoso.runtime import Runtime
from tests.helpers import migrated_runtime
from tests.plugins.jobs_probe import Probe


@pytest.fixture
def probe():
    return Probe()


@pytest.fixture
async def rt(config_dir, database_url, probe):
    rt = await migrated_runtime(config_dir.load(), database_url, plugins=[probe])
    try:
        yield rt
    finally:
        await rt.db.close()


@pytest.fixture
async def other_runtimes(config_dir, database_url, probe, rt):
    """Three more runtimes on ``rt``'s database, each with connections of its own (as separate workers)."""
    runtimes = [Runtime.create(config_dir.root, database_url, plugins=[probe]) for _ in range(3)]
    for r in runtimes:
        await r.db.start()
    try:
        yield runtimes
    finally:
        for r in runtimes:
            await r.db.close()
