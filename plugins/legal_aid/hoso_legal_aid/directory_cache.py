"""The public directory's answers, kept while nothing they show has changed, in every process at once.

Every write of a record of a directory entity, and every change of the units (loaded or restructured), is
audited in its own transaction; the audit writer here bumps a counter, the directory's version, in that same
transaction (once per transaction), and records the change under that version in ``directory_change``: the
record, when the change only touches fields the directory shows and does not search, sort, filter or scope by
(a phone), else nothing (any answer may change: a name, a unit, a new record, a deletion). An update of fields
no answer reads (a note) changes nothing at all. Each directory request reads the counter (one statement on a
one-row table); when it moved, the process reads the changes since its own version and retires the answers they
touch (those showing a recorded record), or all of them, then answers from what is left, if anything: a change
shows on the next request in every process of every server on the database, since it commits together with the
bump. The counter's row lock orders the bumps, so a version's changes are committed when the version is seen.

The counter is read before the rows, and an answer made while the version moved is not kept, so a copy holds
what was committed at its version or later, never less. What is written without the record service (SQL by
hand) is not seen until an audited change retires the answers showing it.

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

from piccolo.columns import BigInt, Varchar

from hoso.hookspecs import hookimpl
from hoso.plugin_types import SystemTable

__all__ = ["directory_system_tables", "directory_write_audit", "watch", "directory_version", "directory_changes",
           "AnswerCache", "Answer", "VERSION_TABLE", "CHANGE_TABLE"]

VERSION_TABLE = "directory_version"
# The one row of the version table (its id): inserted by the first bump.
_ROW = 1
# What a process keeps at most (bytes of answers): a few hundred pages of the directory.
MAX_BYTES = 16 * 2**20

# The entities some loaded directory configuration shows, and the units (names, provinces, scope), each with the
# fields whose change may change an answer (None: any change) and, of those, the ones only shown (see ``watch``).
# Filled when a configuration is loaded (``hoso_legal_aid.directory_config``), so every process that writes records
# knows them: a name of another configuration loaded in the same process only costs a needless bump.
_WATCHED: dict[str, frozenset[str] | None] = {"hoso_unit": None}
_SHOWN_ONLY: dict[str, frozenset[str]] = {}


@dataclass
class _Bumped:
    """The transaction the running task last bumped the version in: one bump per transaction, however many records
    it writes (an import of thousands), and what it recorded: once a change stands for every answer, nothing more."""

    tx: object
    version: int
    records: int = 0
    everything: bool = False


_BUMPED_IN: ContextVar[_Bumped | None] = ContextVar("hoso_directory_bumped_in", default=None)
# Changes recorded per version, for the processes to retire only the answers a change touches; the older are
# deleted (a process that was behind them retires all its answers).
CHANGE_TABLE = "directory_change"
_KEEP_VERSIONS = 1000
# More changes than this since a process's version: it retires everything rather than look through them.
_MAX_CHANGES = 200


def watch(entities: Iterable[str] | Mapping[str, Iterable[str]],
          shown_only: Mapping[str, Iterable[str]] | None = None) -> None:
    """Count writes of ``entities`` as changes of the directory: any write, or, for an entity mapped to fields,
    any write but an update that changes none of them (the fields the directory shows, searches, sorts, filters
    and scopes by: a change of another, a note or a contract number, changes no answer). ``shown_only``: of those,
    per entity, the fields an answer only shows (not searched, sorted, filtered or scoped by, nor another list's
    title of the record): an update of those alone changes only the answers that show the record."""
    for name in entities:
        fields = frozenset(entities[name]) if isinstance(entities, Mapping) else None
        known = _WATCHED.get(name, frozenset())
        # several configurations in one process: the union of what they read; None (any write) stays
        _WATCHED[name] = None if fields is None or known is None else known | fields
    for name, only in (shown_only or {}).items():
        # several configurations: a field counts as only shown if none of them reads it otherwise
        read = _WATCHED.get(name)
        mine = frozenset(only)
        _SHOWN_ONLY[name] = (_SHOWN_ONLY[name] & mine) if name in _SHOWN_ONLY else mine
        if read is None:
            _SHOWN_ONLY[name] = frozenset()


def changes_answers(event) -> bool:
    """Whether the audited ``event`` may change an answer of the directory (see ``watch``)."""
    if event.entity not in _WATCHED:
        return False
    read = _WATCHED[event.entity]
    if read is None or event.action != "update":
        return True
    return any(not k.startswith("@") and k in read for k in event.changes or ())


def _one_record(event) -> bool:
    """Whether the change ``event`` (one that changes answers) changes only the answers that show its record."""
    read, only = _WATCHED.get(event.entity), _SHOWN_ONLY.get(event.entity, frozenset())
    if read is None or event.action != "update" or event.record_id is None:
        return False
    return all(k in only for k in event.changes or () if not k.startswith("@") and k in read)


@hookimpl(specname="hoso_system_tables")
def directory_system_tables():
    return [SystemTable(VERSION_TABLE, lambda: {"version": BigInt(default=0)}),
            SystemTable(CHANGE_TABLE, lambda: {"version": BigInt(default=0), "entity": Varchar(length=100),
                                               "record_id": BigInt(null=True, default=None)},
                        indexes=(("version",),))]


@hookimpl(specname="hoso_write_audit")
async def directory_write_audit(event, db):
    """A write of a directory entity or of the units: the directory's version goes up with it (once per
    transaction), and the change is recorded under that version: its record when it changes only the answers
    that show it, else none (every answer)."""
    if not changes_answers(event):
        return
    tx = db.engine.current_transaction.get()
    bumped = _BUMPED_IN.get()
    if tx is None or bumped is None or bumped.tx is not tx:
        version = int(await db.fetchval(
            f"INSERT INTO {VERSION_TABLE} (id, version) VALUES ({{}}, 1) ON CONFLICT (id) "
            f"DO UPDATE SET version = {VERSION_TABLE}.version + 1 RETURNING version", _ROW))
        bumped = _Bumped(tx, version)
        if tx is not None:
            _BUMPED_IN.set(bumped)
        if version % 100 == 0:
            await db.execute(f"DELETE FROM {CHANGE_TABLE} WHERE version <= {{}}", version - _KEEP_VERSIONS)
    if bumped.everything:
        return
    # outside a transaction the bump and the record are not one: the change stands for every answer
    one = tx is not None and _one_record(event) and bumped.records < _MAX_CHANGES
    bumped.records += one
    bumped.everything = not one
    await db.execute(f"INSERT INTO {CHANGE_TABLE} (version, entity, record_id) VALUES ({{}}, {{}}, {{}})",
                     bumped.version, event.entity or "", event.record_id if one else None)


async def directory_version(db) -> int:
    """The directory's version now: 0 before anything it shows was written through the record service."""
    return int(await db.fetchval(f"SELECT version FROM {VERSION_TABLE} WHERE id = {{}}", _ROW) or 0)


async def directory_changes(db, since: int, upto: int) -> list[tuple[str, int]] | None:
    """The records whose changes after version ``since`` up to ``upto`` changed only the answers that show them,
    as (entity, id); None when some change there changed any answer, or is no longer recorded, or there are too
    many to look through."""
    if since < 0 or upto - since > _MAX_CHANGES:
        return None
    # one row more than looked through at most: then the answer is None whatever the rest
    rows = await db.fetch(f"SELECT version, entity, record_id FROM {CHANGE_TABLE} WHERE version > {{}} "
                          f"AND version <= {{}} ORDER BY version LIMIT {_MAX_CHANGES + 1}", since, upto)
    if {int(r["version"]) for r in rows} != set(range(since + 1, upto + 1)):
        return None
    if any(r["record_id"] is None for r in rows) or len(rows) > _MAX_CHANGES:
        return None
    return sorted({(r["entity"], int(r["record_id"])) for r in rows})


@dataclass(frozen=True)
class Answer:
    body: bytes
    media_type: str
    # The list it shows and the ids of the records in it (for a change that touches only the answers showing a
    # record); None: an answer every change retires.
    shows: tuple[str, frozenset[int]] | None = None


class AnswerCache:
    """One process's answers of one runtime, valid at its ``version``, by request; the oldest go first past
    ``max_bytes``. A newer version retires the answers its changes touch (``directory_changes``), or all.

    Requests that miss the same answer at once wait for the first one to make it, instead of each asking the
    database (a change retires copies, and hundreds of visitors may be asking for the same page then)."""

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
                  make: Callable[[], Awaitable[tuple[Answer | None, Any]]],
                  changes: Callable[[int, int], Awaitable[list[tuple[str, int]] | None]] | None = None
                  ) -> tuple[Answer | None, Any]:
        """The answer to ``request`` at ``version``: kept, or made by ``make``, which returns ``(answer, other)``:
        an answer to keep, or None and what to give instead (a refusal, kept nowhere). ``changes(since, upto)``:
        the records changed in between whose changes touch only the answers showing them (None: retire all)."""
        if version > self.version:  # the answers a newer version's changes touch are of no use any more
            since = self.version
            touched = await changes(since, version) if changes is not None and since >= 0 else None
            if version > self.version:  # (another request may have moved on meanwhile)
                self._retire(touched)
                self.version = version
        key = (today, request)
        if version == self.version:
            found = self._answers.get(key)
            if found is not None:
                self._answers.move_to_end(key)
                return found, None
        making = (version, today, request)
        waiting = self._making.get(making)
        if waiting is not None:
            answer = await asyncio.shield(waiting)
            if answer is not None:
                return answer, None
            return await make()  # the first maker failed or refused: this request answers for itself
        future: asyncio.Future[Answer | None] = asyncio.get_running_loop().create_future()
        self._making[making] = future
        answer = None
        try:
            answer, other = await make()
        finally:
            del self._making[making]
            future.set_result(answer)
        # kept only if no newer version came meanwhile: its rows may have been read before that change
        if answer is not None and version == self.version:
            self._keep(key, answer)
        return answer, other

    def _retire(self, touched: list[tuple[str, int]] | None) -> None:
        if touched is None:
            self._answers.clear()
            self._size = 0
            return
        for key, answer in list(self._answers.items()):
            shows = answer.shows
            if shows is None or any(entity == shows[0] and rid in shows[1] for entity, rid in touched):
                del self._answers[key]
                self._size -= len(answer.body)

    def _keep(self, key: tuple, answer: Answer) -> None:
        if len(answer.body) > self.max_bytes:
            return
        old = self._answers.pop(key, None)
        if old is not None:
            self._size -= len(old.body)
        self._answers[key] = answer
        self._size += len(answer.body)
        while self._size > self.max_bytes:
            _old, dropped = self._answers.popitem(last=False)
            self._size -= len(dropped.body)
