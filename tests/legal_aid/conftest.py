"""A reference deployment with the legal-aid plugin, migrated on each engine, and the app on it."""

from __future__ import annotations

import contextlib

from litestar.testing import AsyncTestClient

import hoso_legal_aid
from hoso.runtime import Runtime
from hoso.server import create_app
from tests.helpers import load_full_config, migrated_runtime


@contextlib.asynccontextmanager
async def legal_aid_app(root, database_url: str):
    """``(app runtime's test twin, client)``: the database migrated with the plugin, the app served on it."""
    rt = await migrated_runtime(load_full_config(root, [hoso_legal_aid]), database_url, plugins=[hoso_legal_aid])
    app = create_app(Runtime.create(root, database_url, plugins=[hoso_legal_aid]))
    try:
        async with AsyncTestClient(app) as client:
            yield rt, client
    finally:
        await rt.db.close()  # the test's own runtime kept its pool (a connection per query costs a server process)
