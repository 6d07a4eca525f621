"""Database connection: one piccolo engine per database URL, and small helpers for raw SQL.

``HOSO_DATABASE_URL`` is ``sqlite:///relative/or/absolute/path.db`` or ``postgresql://user@host:port/db``.
Raw SQL uses ``{}`` placeholders (piccolo's QueryString), so the same text runs on both engines.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import sqlite3
import unicodedata
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote as url_quote
from urllib.parse import urlparse

import aiosqlite
import asyncpg
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, SQLiteTransaction, TransactionType, dict_factory
from piccolo.querystring import QueryString

from hoso.settings import SETTINGS
from hoso.settings import get as setting

__all__ = ["Database", "DatabaseMissing", "DatabaseURLError", "DEFAULT_DATABASE_URL", "database_from_env", "quote",
           "redact", "fold", "FOLD_FUNCTION"]

DEFAULT_DATABASE_URL = SETTINGS["HOSO_DATABASE_URL"].default


class DatabaseURLError(ValueError):
    """The database URL is malformed, or names a file that is not a usable SQLite database."""


class DatabaseMissing(DatabaseURLError):
    """The SQLite file named by the URL does not exist, and this command does not create it."""


SQLITE_HEADER = b"SQLite format 3\x00"


def fold(text: str) -> str:
    """Lower case, without diacritics (đ becomes d), with runs of white space made one space.

    The record search's folding (``hoso.records.search``); SQLite connections know it as the SQL function
    ``hoso_fold``, so SQL and Python fold text the same way. Text in ASCII once the Latin letters with diacritics
    (Vietnamese's among them) are replaced by table (``_BARE``) takes a short way, several times faster than
    decomposing it; the rest is decomposed (``_fold_decomposed``), with the same result."""
    if not text.isascii():
        bare = text.translate(_BARE)
        if not bare.isascii():
            return _fold_decomposed(text)
        text = bare
    return " ".join(text.casefold().split())


def _fold_decomposed(text: str) -> str:
    return " ".join(_strip_marks(text).casefold().split())


def _bare_letters() -> dict[int, str]:
    """Latin letters (Latin-1 to Latin Extended-B, Latin Extended Additional) whose decomposition without its
    combining marks is ASCII, to that ASCII; combining diacritical marks to nothing."""
    table: dict[int, str] = {}
    for code in [*range(0x80, 0x250), *range(0x1E00, 0x1F00)]:
        bare = _strip_marks(chr(code))
        if bare != chr(code) and bare.isascii():
            table[code] = bare
    for code in range(0x300, 0x370):
        if unicodedata.combining(chr(code)):
            table[code] = ""
    return table


def _strip_marks(text: str) -> str:
    """``text`` decomposed, without its combining marks (đ and Đ, which do not decompose, made d and D)."""
    text = text.replace("đ", "d").replace("Đ", "D")
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


_BARE = _bare_letters()


FOLD_FUNCTION = "hoso_fold"


def _sql_fold(value: Any) -> str | None:
    return None if value is None else fold(str(value))


class _FoldingConnection(sqlite3.Connection):
    """A SQLite connection that knows ``hoso_fold(text)`` (deterministic)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.create_function(FOLD_FUNCTION, 1, _sql_fold, deterministic=True)


# Idle SQLite connections an engine keeps for the statements run outside a transaction.
SQLITE_KEPT_CONNECTIONS = 4


class _KeptConnection(aiosqlite.Connection):
    """An aiosqlite connection whose worker thread does not hold the process open at its end (a database never
    closed, say a command's, must not keep the interpreter waiting for its idle connections' threads)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._thread.daemon = True


class _SQLiteEngine(SQLiteEngine):
    """piccolo's SQLite engine, keeping a few connections for the statements run outside a transaction.

    piccolo opens a connection (and its thread) for each such statement and closes it after: SQLite then reads the
    whole schema again, about 3 ms a statement for the reference configuration (a list request of three
    statements spent 9 ms opening connections). The engine keeps up to ``SQLITE_KEPT_CONNECTIONS`` idle ones and
    runs each statement on one of them, as piccolo does on a new one (foreign keys on, the statement, a commit);
    a connection whose statement fails is closed, not kept. Transactions take one too and give it back once
    their COMMIT or ROLLBACK went through (``_KeptTransaction``). SQLite notices a schema changed by another
    connection by itself. ``close_kept`` closes the idle ones (``Database.close``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._idle: list[aiosqlite.Connection] = []

    async def _take(self) -> aiosqlite.Connection:
        if self._idle:
            return self._idle.pop()
        kwargs = dict(self.connection_kwargs)
        database = kwargs.pop("database")
        conn = _KeptConnection(lambda: sqlite3.connect(database, **kwargs), 64)
        await conn
        conn.row_factory = dict_factory  # type: ignore[assignment]
        await conn.execute("PRAGMA foreign_keys = 1")
        return conn

    async def _run_in_new_connection(self, query: str, args: list[Any] | None = None, query_type: str = "generic",
                                     table: Any = None) -> Any:
        if query_type == "insert" and self.get_version_sync() < 3.35:  # pragma: no cover - piccolo's own path
            return await super()._run_in_new_connection(query, args, query_type, table)
        conn = await self._take()
        try:
            async with conn.execute(query, args or []) as cursor:
                await conn.commit()
                rows = await cursor.fetchall()
        except BaseException:
            with contextlib.suppress(Exception):
                await conn.close()
            raise
        await self._give_back(conn)
        return rows

    async def _give_back(self, conn: aiosqlite.Connection) -> None:
        if len(self._idle) < SQLITE_KEPT_CONNECTIONS:
            self._idle.append(conn)
        else:
            await conn.close()

    def transaction(self, transaction_type: TransactionType = TransactionType.deferred,
                    allow_nested: bool = True) -> SQLiteTransaction:
        return _KeptTransaction(engine=self, transaction_type=transaction_type, allow_nested=allow_nested)

    async def close_kept(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            with contextlib.suppress(Exception):
                await conn.close()


class _KeptTransaction(SQLiteTransaction):
    """piccolo's SQLite transaction on one of the engine's kept connections, given back once the COMMIT or the
    ROLLBACK went through; a connection whose end failed stays on the transaction, and
    ``_release_sqlite_transaction`` closes it."""

    engine: _SQLiteEngine

    async def get_connection(self) -> aiosqlite.Connection:
        return await self.engine._take()

    async def __aexit__(self, exception_type: Any, exception: Any, traceback: Any) -> bool:
        if self._parent:
            return exception is None
        if exception:
            if not self._rolled_back:
                await self.rollback()
        elif not self._committed and not self._rolled_back:
            await self.commit()
        conn, self.connection = self.connection, None
        self.engine.current_transaction.reset(self.context)
        await self.engine._give_back(conn)
        return exception is None


def redact(url: str) -> str:
    """``url`` with its password, if any, replaced by ***."""
    parsed = urlparse(url)
    if parsed.password is None:
        return url
    netloc = parsed.netloc.replace(f":{parsed.password}@", ":***@", 1)
    return parsed._replace(netloc=netloc).geturl()


def _check_sqlite_file(path: Path, create_parent: bool) -> None:
    if path.is_dir():
        raise DatabaseURLError(f"{str(path)!r} is a folder, not an SQLite database file")
    if path.exists():
        with path.open("rb") as f:
            head = f.read(len(SQLITE_HEADER))
        if head and head != SQLITE_HEADER:
            raise DatabaseURLError(f"{str(path)!r} is not an SQLite database file")
        return
    if not path.parent.is_dir():
        if path.parent.exists():
            raise DatabaseURLError(f"{str(path.parent)!r} is not a folder: cannot create {str(path)!r} in it")
        if not create_parent:
            raise DatabaseURLError(f"the folder {str(path.parent)!r} does not exist: create it first, or check "
                                   "the database path")
        path.parent.mkdir(parents=True, exist_ok=True)


def _writable(path: Path) -> bool:
    # SQLite writes the file and, in WAL mode, files beside it.
    if path.exists() and not os.access(path, os.W_OK):
        return False
    return os.access(path.parent, os.W_OK)


def quote(identifier: str) -> str:
    """Quote an SQL identifier (names come from validated config, but quoting keeps keywords safe)."""
    return '"' + identifier.replace('"', '""') + '"'


def text_literal(value: str) -> str:
    """A text as an SQL literal (both engines: standard strings, the quote doubled). For values of the
    configuration that a query must name in its text, such as a partial index's condition."""
    return "'" + value.replace("'", "''") + "'"


_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{\}")
# Statement texts up to this length are compiled once and kept (the same few texts come again and again); longer
# ones, such as a multi-row INSERT of a batch (about 100 KB for 500 cases), are compiled at each run (a few ms),
# so that the texts kept stay small however many different batches and id lists go by.
KEPT_STATEMENT_TEXT = 2000


def _compile(template: str, engine_type: str) -> tuple[str, int]:
    """``template`` with its ``{}`` placeholders numbered for the engine (``$1``... or ``?``) and ``{{``, ``}}``
    unescaped, as piccolo's QueryString compiles it; and how many placeholders it has."""
    if "{{" not in template and "}}" not in template:
        parts = template.split("{}")
        if engine_type == "sqlite":
            return "?".join(parts), len(parts) - 1
        numbered = [parts[0]]
        for i, part in enumerate(parts[1:], start=1):
            numbered += (f"${i}", part)
        return "".join(numbered), len(parts) - 1
    n = 0

    def put(m: re.Match) -> str:
        nonlocal n
        token = m.group(0)
        if token != "{}":
            return token[0]
        n += 1
        return "?" if engine_type == "sqlite" else f"${n}"

    return _PLACEHOLDER.sub(put, template), n


_compiled_kept = functools.lru_cache(maxsize=1024)(_compile)


class Statement(QueryString):
    """One of hoso's own statements: its text with a ``{}`` per argument, the arguments plain values.

    piccolo's QueryString looks at every argument for nested query strings and columns when it is made, and parses
    the text again at every run: 0.7 s of the 4.3 s that 3,000 records took through ``create_many`` (a batch of
    500 cases is one INSERT of about 27,000 arguments). A short statement's text is compiled once per text and
    engine (``KEPT_STATEMENT_TEXT``) and its arguments are passed on as they are."""

    def __init__(self, template: str, *args: Any):  # no call to QueryString's: it is what this saves
        self.template = template
        self.args = args
        self.columns: list = []
        self.query_type = "generic"
        self.table = None
        self._frozen_compiled_strings = None
        self._alias = None

    def compile_string(self, engine_type: str = "postgres") -> tuple[str, list[Any]]:
        compile = _compiled_kept if len(self.template) <= KEPT_STATEMENT_TEXT else _compile
        sql, n = compile(self.template, engine_type)
        if n != len(self.args):
            raise ValueError(f"the statement has {n} placeholders and {len(self.args)} arguments: {self.template}")
        return sql, list(self.args)


@dataclass
class Database:
    url: str
    engine: Engine
    kind: str  # "sqlite" or "postgres"
    # True when the SQLite file does not exist and an empty in-memory database stands in for it (plans).
    stand_in: bool = False

    @classmethod
    def from_url(cls, url: str, *, missing: str = "create", create_parent: bool = True) -> Database:
        """Open the database ``url`` names.

        For SQLite, ``missing`` says what a missing file does: ``"create"`` it, raise an ``"error"``, or read
        an ``"empty"`` database in memory without creating anything (for a plan). ``create_parent`` lets
        ``"create"`` make missing parent folders too.
        """
        if not url or not url.strip():
            raise DatabaseURLError("no database URL given: expected sqlite:///path/to/file.db or "
                                   "postgresql://user@host/db")
        parsed = urlparse(url)
        if parsed.scheme == "sqlite":
            # sqlite:///var/hoso.db is relative to the working directory; sqlite:////abs/path is absolute.
            raw = url[len("sqlite:///"):] if url.startswith("sqlite:///") else parsed.path
            if not raw:
                raise DatabaseURLError(f"no file in SQLite URL {url!r}: expected sqlite:///path/to/file.db")
            path = Path(raw)
            if not path.exists() and missing != "create":
                if missing == "empty":
                    return cls(url, SQLiteEngine(path=":memory:", factory=_FoldingConnection), "sqlite", stand_in=True)
                raise DatabaseMissing(f"the database file {str(path)!r} does not exist: check the path, or run "
                                      "`hoso migrate` to create it")
            _check_sqlite_file(path, create_parent)
            if _writable(path):
                # WAL lets readers go on while one writer commits; the setting is stored in the file.
                with closing(sqlite3.connect(path)) as conn:
                    conn.execute("PRAGMA journal_mode=WAL")
                engine = _SQLiteEngine(path=str(path), timeout=60, factory=_FoldingConnection)
            else:
                # A read-only file or file system: read it as it is, so that at least a plan works.
                # Without a writable folder SQLite cannot make the WAL index beside it: read it as immutable.
                flags = "mode=ro" if os.access(path.parent, os.W_OK) else "mode=ro&immutable=1"
                engine = _SQLiteEngine(path=f"file:{url_quote(str(path.resolve()))}?{flags}", uri=True, timeout=60,
                                      factory=_FoldingConnection)
            return cls(url, engine, "sqlite")
        if parsed.scheme in ("postgres", "postgresql"):
            try:
                parsed.port  # noqa: B018 - urlparse checks the port only when it is read
            except ValueError:
                raise DatabaseURLError(f"the port in database URL {redact(url)!r} is not a number from 1 to "
                                       "65535") from None
            if not parsed.hostname and "host=" not in parsed.query:
                raise DatabaseURLError(f"no server in database URL {redact(url)!r}: expected "
                                       "postgresql://user@host/db")
            with warnings.catch_warnings():
                # piccolo asks the server its version here and only warns when it cannot; the connection error
                # itself comes, clearer, from start().
                warnings.simplefilter("ignore")
                pg_engine = PostgresEngine(config={"dsn": url})
            return cls(url, pg_engine, "postgres")
        raise DatabaseURLError(
            f"unsupported database URL {redact(url)!r}: expected sqlite:///path/to/file.db or "
            "postgresql://user@host/db"
        )

    @property
    def is_sqlite(self) -> bool:
        return self.kind == "sqlite"

    @property
    def _sqlite(self) -> SQLiteEngine:
        if not isinstance(self.engine, SQLiteEngine):
            raise TypeError(f"a {self.kind} database has no SQLite engine")
        return self.engine

    @property
    def _postgres(self) -> PostgresEngine:
        if not isinstance(self.engine, PostgresEngine):
            raise TypeError(f"a {self.kind} database has no PostgreSQL engine")
        return self.engine

    async def fetch(self, sql: str, *args: Any) -> list[dict]:
        return await self.engine.run_querystring(Statement(sql, *args))

    async def fetchval(self, sql: str, *args: Any) -> Any:
        rows = await self.fetch(sql, *args)
        if not rows:
            return None
        return next(iter(rows[0].values()))

    async def execute(self, sql: str, *args: Any) -> None:
        await self.engine.run_querystring(Statement(sql, *args))

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

    async def new_ids(self, table: str, count: int) -> list[int]:
        """``count`` ids for new rows of ``table``, in increasing order. Inside ``transaction()``: on SQLite it
        holds the write lock, so nobody else takes ids until it ends; PostgreSQL takes them from the sequence."""
        if self.is_sqlite:
            last = int(await self.fetchval(f"SELECT COALESCE(MAX(id), 0) AS n FROM {quote(table)}"))
            return list(range(last + 1, last + count + 1))
        rows = await self.fetch("SELECT nextval(pg_get_serial_sequence({}, 'id')) AS id FROM generate_series(1, {})",
                                quote(table), count)
        return sorted(int(r["id"]) for r in rows)

    async def copy_records(self, table: str, cols: list[str], records: list[tuple]) -> None:
        """Insert ``records`` (tuples of ``cols``) by the engine's bulk path: PostgreSQL's COPY, SQLite's
        ``executemany``. Must run inside ``transaction()``; a column left out takes its default."""
        if not records:
            return
        if self.is_sqlite:
            names = ", ".join(quote(c) for c in cols)
            await self.executemany(f"INSERT INTO {quote(table)} ({names}) VALUES ({', '.join('?' for _ in cols)})",
                                   records)
            return
        tx = self.engine.current_transaction.get()
        if tx is None:
            raise RuntimeError("copy_records must run inside Database.transaction()")
        await tx.connection.copy_records_to_table(table, records=records, columns=cols)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Any]:
        """One transaction; on SQLite it takes the write lock at once, so concurrent writers queue."""
        if self.is_sqlite:
            tx = self.engine.transaction(transaction_type=TransactionType.immediate)
            try:
                async with tx:
                    yield tx
            finally:
                await _release_sqlite_transaction(self._sqlite, tx)
        else:
            async with self.engine.transaction() as tx:
                yield tx

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[None]:
        """Several reads on one connection. On SQLite, a deferred transaction: one connection (and thread) for all
        of them instead of one per statement, one snapshot, and no write lock, so writers do not wait for it. On
        PostgreSQL nothing: each statement takes a pooled connection. Inside a transaction, that transaction."""
        if self.is_sqlite and self._sqlite.current_transaction.get() is None:
            tx = self.engine.transaction(transaction_type=TransactionType.deferred)
            try:
                async with tx:
                    yield
            finally:
                await _release_sqlite_transaction(self._sqlite, tx)
        else:
            yield

    @asynccontextmanager
    async def read_together(self) -> AsyncIterator[None]:
        """Several reads on one connection, on both engines: on PostgreSQL a transaction (READ COMMITTED: each
        statement still sees what was committed before it began), so that they take a pooled connection once
        instead of once per statement (under load every taking waits its turn in the pool's queue again); on SQLite
        ``reading()``, one snapshot. Only for statements that cannot fail in SQL: a failed statement ends a
        PostgreSQL transaction. Inside a transaction, that transaction."""
        if self.is_sqlite:
            async with self.reading():
                yield
        else:
            async with self.engine.transaction():
                yield

    async def start(self) -> None:
        if not self.is_sqlite:
            # A connection that cannot be opened (the server restarting) fails within the timeout instead of
            # holding the request; the pool replaces connections the server closed at their next use.
            await self._postgres.start_connection_pool(min_size=1, max_size=setting("HOSO_DB_POOL"),
                                                       timeout=setting("HOSO_DB_CONNECT_TIMEOUT"),
                                                       connection_class=_PooledConnection)

    async def reset(self) -> None:
        """Renew pooled connections, e.g. after a migration changed column types.

        asyncpg caches prepared statements per connection, with the parameter types they had when prepared.
        """
        if not self.is_sqlite and self._postgres.pool is not None:
            await self.engine.close_connection_pool()
            await self.start()

    async def renew_connections(self) -> None:
        """Replace every pooled PostgreSQL connection, without cutting one in use: an idle connection is replaced
        at its next acquire, a busy one when it is released (asyncpg ``Pool.expire_connections``). Another process
        changed the tables (``hoso migrate``): statements prepared for the old columns go with their connections.
        """
        if not self.is_sqlite and self._postgres.pool is not None:
            await self._postgres.pool.expire_connections()

    async def close(self) -> None:
        if not self.is_sqlite:
            await self.engine.close_connection_pool()
        elif isinstance(self.engine, _SQLiteEngine):
            await self.engine.close_kept()

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


class _PooledConnection(asyncpg.Connection):
    """A pooled PostgreSQL connection given back without asyncpg's reset statement (RESET ALL, UNLISTEN, CLOSE
    ALL, advisory unlocks), which would cost a round trip after every statement run outside a transaction. hoso
    leaves no session state on a connection: its settings are ``SET LOCAL`` and its locks transaction-scoped,
    and an open transaction is still rolled back when a connection is given back."""

    def get_reset_query(self) -> str:
        return ""


async def _release_sqlite_transaction(engine: SQLiteEngine, tx: SQLiteTransaction) -> None:
    """Close the transaction's connection even when its COMMIT or ROLLBACK failed (a full disk, an I/O error).

    piccolo closes it only after a successful COMMIT or ROLLBACK; otherwise aiosqlite's worker thread, which is
    not a daemon, stays alive and the process never exits (issue 8, item 18).
    """
    connection = getattr(tx, "connection", None)
    if connection is not None:
        await connection.close()  # a no-op when piccolo closed it already
    if engine.current_transaction.get() is tx:
        engine.current_transaction.reset(tx.context)


def database_from_env(url: str | None = None) -> Database:
    return Database.from_url(url or setting("HOSO_DATABASE_URL"))
