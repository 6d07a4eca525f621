"""Database connection: one piccolo engine per database URL, and small helpers for raw SQL.

``HOSO_DATABASE_URL`` is ``sqlite:///relative/or/absolute/path.db`` or ``postgresql://user@host:port/db``.
Raw SQL uses ``{}`` placeholders (piccolo's QueryString), so the same text runs on both engines.
"""

from __future__ import annotations

import os
import re
import sqlite3
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator
from urllib.parse import urlparse

from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType
from piccolo.querystring import QueryString

__all__ = ["Database", "DEFAULT_DATABASE_URL", "database_from_env", "quote"]

DEFAULT_DATABASE_URL = "sqlite:///var/hoso.db"


class DatabaseURLError(ValueError):
    pass


def quote(identifier: str) -> str:
    """Quote an SQL identifier (names come from validated config, but quoting keeps keywords safe)."""
    return '"' + identifier.replace('"', '""') + '"'


@dataclass
class Database:
    url: str
    engine: Engine
    kind: str  # "sqlite" or "postgres"

    @classmethod
    def from_url(cls, url: str) -> "Database":
        parsed = urlparse(url)
        if parsed.scheme == "sqlite":
            # sqlite:///var/hoso.db is relative to the working directory; sqlite:////abs/path is absolute.
            raw = url[len("sqlite:///"):] if url.startswith("sqlite:///") else parsed.path
            if not raw:
                raise DatabaseURLError(f"no file in SQLite URL {url!r}: expected sqlite:///path/to/file.db")
            path = Path(raw)
            path.parent.mkdir(parents=True, exist_ok=True)
            # WAL lets readers go on while one writer commits; the setting is stored in the file.
            with sqlite3.connect(path) as conn:
                conn.execute("PRAGMA journal_mode=WAL")
            engine = SQLiteEngine(path=str(path), timeout=60)
            return cls(url, engine, "sqlite")
        if parsed.scheme in ("postgres", "postgresql"):
            engine = PostgresEngine(config={"dsn": url})
            return cls(url, engine, "postgres")
        raise DatabaseURLError(
            f"unsupported database URL {url!r}: expected sqlite:///path/to/file.db or postgresql://user@host/db"
        )

    @property
    def is_sqlite(self) -> bool:
        return self.kind == "sqlite"

    async def fetch(self, sql: str, *args: Any) -> list[dict]:
        return await self.engine.run_querystring(QueryString(sql, *args))

    async def fetchval(self, sql: str, *args: Any) -> Any:
        rows = await self.fetch(sql, *args)
        if not rows:
            return None
        return next(iter(rows[0].values()))

    async def execute(self, sql: str, *args: Any) -> None:
        await self.engine.run_querystring(QueryString(sql, *args))

    async def executemany(self, sql: str, rows: list[tuple]) -> None:
        """Run one statement for many parameter rows on the engine's batch path.

        ``sql`` uses ``?`` placeholders numbered in order; they are rewritten to ``$n`` for PostgreSQL.
        Must run inside ``transaction()``.
        """
        if not rows:
            return
        tx = self.engine.current_transaction.get()
        if tx is None:
            raise RuntimeError("executemany must run inside Database.transaction()")
        if self.is_sqlite:
            await tx.connection.executemany(sql, rows)
        else:
            n = 0

            def number(_m):
                nonlocal n
                n += 1
                return f"${n}"

            await tx.connection.executemany(re.sub(r"\?", number, sql), rows)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Any]:
        """One transaction; on SQLite it takes the write lock at once, so concurrent writers queue."""
        if self.is_sqlite:
            async with self.engine.transaction(transaction_type=TransactionType.immediate) as tx:
                yield tx
        else:
            async with self.engine.transaction() as tx:
                yield tx

    async def start(self) -> None:
        if not self.is_sqlite:
            await self.engine.start_connection_pool(min_size=1, max_size=int(os.environ.get("HOSO_DB_POOL", "10")))

    async def reset(self) -> None:
        """Renew pooled connections, e.g. after a migration changed column types.

        asyncpg caches prepared statements per connection, with the parameter types they had when prepared.
        """
        if not self.is_sqlite and self.engine.pool is not None:
            await self.engine.close_connection_pool()
            await self.start()

    async def close(self) -> None:
        if not self.is_sqlite:
            await self.engine.close_connection_pool()

    async def table_names(self) -> set[str]:
        if self.is_sqlite:
            rows = await self.fetch("SELECT name FROM sqlite_master WHERE type = 'table'")
        else:
            rows = await self.fetch(
                "SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema()"
            )
        return {r["name"] for r in rows}

    async def column_names(self, table: str) -> list[str]:
        if self.is_sqlite:
            rows = await self.fetch(f"PRAGMA table_info({quote(table)})")
            return [r["name"] for r in rows]
        rows = await self.fetch(
            "SELECT column_name AS name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = {} ORDER BY ordinal_position",
            table,
        )
        return [r["name"] for r in rows]

    async def index_names(self, table: str) -> set[str]:
        if self.is_sqlite:
            rows = await self.fetch(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = {}", table
            )
        else:
            rows = await self.fetch(
                "SELECT indexname AS name FROM pg_indexes WHERE schemaname = current_schema() AND tablename = {}",
                table,
            )
        return {r["name"] for r in rows}


def database_from_env(url: str | None = None) -> Database:
    return Database.from_url(url or os.environ.get("HOSO_DATABASE_URL") or DEFAULT_DATABASE_URL)
