"""Cached report results, keyed by what makes them: the template's hash, the request and the requester's scope.

A result is a function of the template, the parameters, the records, the unit tree and who asks (the units of
the roles granting ``run_reports`` they hold, and what their role discloses). The key holds all but the records:

- ``template_hash``, ``ReportRequest.key()`` and the language: the template version, every parameter, the labels;
- ``scope_key(...)``: the requester's holdings that grant ``run_reports`` on the entity, their disclosure and the
  date their assignments are judged on; two users of the same role at the same units share it, a user of another
  province never does;
- the unit tree's stamp (largest unit and restructuring ids): a restructuring makes every entry unreachable.

What is cached, so that the records need not be part of the key:

- runs ``as of`` a moment settled in the past (``SETTLED_AFTER``): the records as they stood then do not change;
- snapshots are stored results already (``hoso.reports.snapshots``), served by id with their hash checked;
- live runs (no ``as_of``) are never cached: they are exact at every write, which is the engine's job.

The cache is per process and bounded (least recently used entries go first).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from hoso.records.access import Access
from hoso.records.context import LOCAL_ZONE
from hoso.reports.disclosure import disclosure_for
from hoso.reports.model import ReportRequest, ReportResult
from hoso.scope import holdings_on

if TYPE_CHECKING:  # pragma: no cover
    from hoso.records.context import RecordContext
    from hoso.runtime import Runtime

__all__ = ["ResultCache", "scope_key", "cacheable", "SETTLED_AFTER"]


async def scope_key(rt: Runtime, ctx: RecordContext, entity: str) -> str:
    """A digest of what the requester may see of ``entity``'s numbers (holdings and disclosure)."""
    if ctx.superuser:
        parts: dict[str, Any] = {"superuser": True}
    elif ctx.user_id is None:
        parts = {"nobody": True}
    else:
        held = await holdings_on(rt.db, ctx.user_id, ctx.today)
        granting = {r for rs in rt.scope.roles_for(entity, "run_reports").values() for r in rs}
        parts = {"holdings": sorted([r, u] for r, u in held if r in granting), "on": ctx.today.isoformat()}
    disclosure = await disclosure_for(rt, Access(rt, ctx), rt.config.entity(entity))
    parts["disclosure"] = repr(disclosure)
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


# A version's time is taken inside its write's transaction, so a write still running at a moment can later show
# a time before it: a moment is settled, and its runs cached, once it is this far past.
SETTLED_AFTER = dt.timedelta(minutes=10)


def cacheable(request: ReportRequest, now: dt.datetime | None = None) -> bool:
    """Only runs as of a settled past moment: the records as they stood then cannot change any more."""
    now = now or dt.datetime.now(dt.UTC)
    if request.as_of is None:
        return False
    as_of = request.as_of if request.as_of.tzinfo else request.as_of.replace(tzinfo=LOCAL_ZONE)
    return as_of < now - SETTLED_AFTER


async def _tree_stamp(rt: Runtime) -> tuple[Any, Any]:
    row = (await rt.db.fetch("SELECT (SELECT MAX(id) FROM hoso_unit) AS u, "
                             "(SELECT MAX(id) FROM hoso_restructuring) AS r"))[0]
    return row["u"], row["r"]


class ResultCache:
    """A bounded map from (template hash, request key, scope key, tree stamp) to a result."""

    def __init__(self, size: int = 256):
        self.size = size
        self._entries: OrderedDict[tuple, ReportResult] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: tuple) -> ReportResult | None:
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
        return found

    def put(self, key: tuple, result: ReportResult) -> None:
        self._entries[key] = result
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    async def key(self, rt: Runtime, ctx: RecordContext, request: ReportRequest, template_hash: str) -> tuple:
        entity = next(r.entity for r in rt.config.reports if r.name == request.report)
        # the language too: labels are part of the result
        return (template_hash, request.key(), request.lang, await scope_key(rt, ctx, entity),
                await _tree_stamp(rt))

    async def run(self, rt: Runtime, ctx: RecordContext, request: ReportRequest, template_hash: str,
                  runner: Callable[[Runtime, RecordContext, ReportRequest], Awaitable[ReportResult]]) -> ReportResult:
        """``runner(rt, ctx, request)``'s result, from the cache when the run may be cached and was made for the
        same template, parameters and scope."""
        if not cacheable(request):
            return await runner(rt, ctx, request)
        key = await self.key(rt, ctx, request, template_hash)
        found = self.get(key)
        if found is not None:
            self.hits += 1
            return found
        self.misses += 1
        result = await runner(rt, ctx, request)
        self.put(key, result)
        return result
