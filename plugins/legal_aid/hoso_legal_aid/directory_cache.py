"""The public directory's answers, kept while nothing they show has changed, in every process at once.

Every write of a record of a directory entity, and every change of the units (loaded or restructured), is
audited in its own transaction; the audit writer here bumps a counter, the directory's version, in that same
transaction (once per transaction). Each directory request reads the counter (one statement on a one-row table)
and answers from this process's copy made at that version, if any: a change shows on the next request in every
process of every server on the database, since it commits together with the bump that retires the copies.

The counter is read before the rows, so a copy holds what was committed at its version or later, never less.
What is written without the record service (SQL by hand) is not seen until the next audited change.

Hook implementations here carry their own names and say which hook they implement with ``specname``;
``hoso_legal_aid`` registers them (see its ``__init__``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from piccolo.columns import BigInt

from hoso.hookspecs import hookimpl
from hoso.plugin_types import SystemTable

__all__ = ["directory_system_tables", "directory_write_audit", "watch", "directory_version", "AnswerCache",
           "Answer", "VERSION_TABLE"]

VERSION_TABLE = "directory_version"
# The one row of the version table (its id): inserted by the first bump.
_ROW = 1
# What a process keeps at most (bytes of answers): a few hundred pages of the directory.
MAX_BYTES = 16 * 2**20

# The entities some loaded directory configuration shows, and the units (names, provinces, scope), each with the
# fields whose change may change an answer (None: any change). Filled when a configuration is loaded
# (``hoso_legal_aid.directory_config``), so every process that writes records knows them: a name of another
# configuration loaded in the same process only costs a needless bump.
_WATCHED: dict[str, frozenset[str] | None] = {"hoso_unit": None}
# The transaction the running task last bumped the version in: one bump per transaction, however many records it
# writes (an import of thousands).
_BUMPED_IN: ContextVar[object | None] = ContextVar("hoso_directory_bumped_in", default=None)


def watch(entities: Iterable[str] | Mapping[str, Iterable[str]]) -> None:
    """Count writes of ``entities`` as changes of the directory: any write, or, for an entity mapped to fields,
    any write but an update that changes none of them (the fields the directory shows, searches, sorts, filters
    and scopes by: a change of another, a note or a contract number, changes no answer)."""
    for name in entities:
        fields = frozenset(entities[name]) if isinstance(entities, Mapping) else None
        known = _WATCHED.get(name, frozenset())
        # several configurations in one process: the union of what they read; None (any write) stays
        _WATCHED[name] = None if fields is None or known is None else known | fields


def changes_answers(event) -> bool:
    """Whether the audited ``event`` may change an answer of the directory (see ``watch``)."""
    if event.entity not in _WATCHED:
        return False
    read = _WATCHED[event.entity]
    if read is None or event.action != "update":
        return True
    return any(not k.startswith("@") and k in read for k in event.changes or ())


@hookimpl(specname="hoso_system_tables")
def directory_system_tables():
    return [SystemTable(VERSION_TABLE, lambda: {"version": BigInt(default=0)})]


@hookimpl(specname="hoso_write_audit")
async def directory_write_audit(event, db):
    """A write of a directory entity or of the units: the directory's version goes up with it."""
    if not changes_answers(event):
        return
    tx = db.engine.current_transaction.get()
    if tx is not None and _BUMPED_IN.get() is tx:
        return
    await db.execute(f"INSERT INTO {VERSION_TABLE} (id, version) VALUES ({{}}, 1) ON CONFLICT (id) "
                     f"DO UPDATE SET version = {VERSION_TABLE}.version + 1", _ROW)
    if tx is not None:
        _BUMPED_IN.set(tx)


async def directory_version(db) -> int:
    """The directory's version now: 0 before anything it shows was written through the record service."""
    return int(await db.fetchval(f"SELECT version FROM {VERSION_TABLE} WHERE id = {{}}", _ROW) or 0)


@dataclass(frozen=True)
class Answer:
    body: bytes
    media_type: str


class AnswerCache:
    """One process's answers of one runtime, by request and version; the oldest go first past ``max_bytes``.

    Requests that miss the same answer at once wait for the first one to make it, instead of each asking the
    database (a change retires every copy, and hundreds of visitors may be asking for the same page then)."""

    def __init__(self, owner: Any, max_bytes: int = MAX_BYTES):
        self.owner = owner
        self.max_bytes = max_bytes
        self.version = -1
        self._answers: OrderedDict[tuple, Answer] = OrderedDict()
        self._size = 0
        self._making: dict[tuple, asyncio.Future[Answer | None]] = {}

    def __len__(self) -> int:
        return len(self._answers)

    async def get(self, version: int, today: dt.date, request: tuple,
                  make: Callable[[], Awaitable[tuple[Answer | None, Any]]]) -> tuple[Answer | None, Any]:
        """The answer to ``request`` at ``version``: kept, or made by ``make``, which returns ``(answer, other)``:
        an answer to keep, or None and what to give instead (a refusal, kept nowhere)."""
        if version > self.version:  # older copies are of no use any more
            self.version = version
            self._answers.clear()
            self._size = 0
        key = (version, today, request)
        found = self._answers.get(key)
        if found is not None:
            self._answers.move_to_end(key)
            return found, None
        waiting = self._making.get(key)
        if waiting is not None:
            answer = await asyncio.shield(waiting)
            if answer is not None:
                return answer, None
            return await make()  # the first maker failed or refused: this request answers for itself
        future: asyncio.Future[Answer | None] = asyncio.get_running_loop().create_future()
        self._making[key] = future
        answer = None
        try:
            answer, other = await make()
        finally:
            del self._making[key]
            future.set_result(answer)
        if answer is not None and version == self.version:
            self._keep(key, answer)
        return answer, other

    def _keep(self, key: tuple, answer: Answer) -> None:
        if len(answer.body) > self.max_bytes:
            return
        self._answers[key] = answer
        self._size += len(answer.body)
        while self._size > self.max_bytes:
            _old, dropped = self._answers.popitem(last=False)
            self._size -= len(dropped.body)
