"""One holder of a process's current definitions: the runtime and the application built for it.

Several processes serve one database, and ``hoso migrate`` (or a restructuring) runs in yet another. Each process
keeps a ``RuntimeHolder``, the ASGI application its server runs. It hands every request to the application of its
current *generation* (a runtime and the whole web application built for it: the API's routes, its OpenAPI
document, the admin), and checks in the background, every ``HOSO_DEFINITIONS_POLL_SECONDS``, which definitions
the database holds (the last row of ``hoso_schema_state``, written by ``hoso migrate`` in its transaction). When
they changed, it loads the configuration again from disk and, if it is the one applied, builds a new generation
off the request path (sharing the database, plugins and field types) and swaps it in:

* a request already running finishes on the generation it started with (it holds that application);
* the next request of every surface (API, admin, pages) is served by the new one; no request waits for the build;
* PostgreSQL connections are renewed (asyncpg keeps prepared statements per connection, with the column types
  they had when prepared): each pooled connection is replaced when it is next released or acquired, so nothing
  in flight is cut;
* when the files on disk are not the applied definitions (another host's files), the generation stays and a
  warning is logged; the check is retried after ``RETRY_SECONDS``.

The process-wide work (the database pool, the start-up hooks, the scheduler and the storage janitor) belongs to
the first generation's application, whose lifespan the holder runs; later generations only start their parts.
Polling works on both engines; one indexed row read every few seconds costs nothing measurable.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio

from hoso.runtime import applied_definitions, reload_runtime
from hoso.settings import get as setting

if TYPE_CHECKING:  # pragma: no cover
    from litestar import Litestar

    from hoso.runtime import Runtime

__all__ = ["Generation", "RuntimeHolder"]

log = logging.getLogger("hoso.web")


@dataclass(frozen=True)
class Generation:
    """A runtime and the application built for it; ``number`` counts the switches of this process (0 first)."""

    rt: Runtime
    app: Litestar
    number: int = 0

    @property
    def definitions(self) -> str:
        return self.rt.config.content_hash


class RuntimeHolder:
    """The ASGI application of one process: the current generation's application, switched after a migration.

    ``app`` is the first generation's application for ``rt``, with its lifespan; ``make_app(rt)`` builds a later
    generation's (the whole application, without a lifespan: ``hoso.server``) and ``start_app(app)`` starts its
    parts."""

    RETRY_SECONDS = 30.0

    def __init__(self, rt: Runtime, app: Litestar, make_app: Callable[[Runtime], Litestar],
                 start_app: Callable[[Litestar], Any], poll_seconds: float | None = None):
        self.make_app = make_app
        self.start_app = start_app
        self.poll_seconds = setting("HOSO_DEFINITIONS_POLL_SECONDS") if poll_seconds is None else poll_seconds
        self.current = Generation(rt, app)
        self._failed: tuple[str, float] | None = None
        self._poller: asyncio.Task | None = None
        self._lock = asyncio.Lock()

    @property
    def rt(self) -> Runtime:
        return self.current.rt

    @property
    def app(self) -> Litestar:
        return self.current.app

    # -- switching -------------------------------------------------------------------------------------------
    async def refresh(self) -> Generation:
        """Switch to the definitions the database holds, when they changed and the files on disk are them."""
        async with self._lock:
            current = self.current
            applied = await applied_definitions(current.rt)
            if applied is None or applied == current.definitions:
                return current
            if self._failed and self._failed[0] == applied and time.monotonic() - self._failed[1] < self.RETRY_SECONDS:
                return current
            try:
                new = await self._build(current, applied)
            except Exception:
                log.exception("building the application for definitions %s failed; this process keeps the "
                              "previous ones", applied[:12])
                new = None
            if new is None:
                self._failed = (applied, time.monotonic())
                return current
            self._failed = None
            # Statements prepared for the old columns go with their connections; nothing in flight is cut.
            await current.rt.db.renew_connections()
            self.current = new
            log.info("switched to definitions %s (generation %d)", applied[:12], new.number)
            return new

    async def _build(self, current: Generation, applied: str) -> Generation | None:
        rt = await anyio.to_thread.run_sync(reload_runtime, current.rt, applied)
        if rt is None:
            return None
        app = await anyio.to_thread.run_sync(self.make_app, rt)
        await self.start_app(app)
        return Generation(rt, app, current.number + 1)

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.poll_seconds)
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database is away for a moment: the next poll tries again
                log.warning("checking the applied definitions failed", exc_info=True)

    # -- ASGI ----------------------------------------------------------------------------------------------------
    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        await self.current.app(scope, receive, send)

    async def _lifespan(self, scope, receive, send) -> None:
        """The first generation's lifespan (database, start-up hooks, background work), with the poller started
        after its start-up and stopped before its shutdown."""
        first = self.current.app

        async def on_send(message) -> None:
            if message["type"] == "lifespan.startup.complete" and self._poller is None:
                self._poller = asyncio.create_task(self._poll())
            await send(message)

        async def on_receive():
            message = await receive()
            if message["type"] == "lifespan.shutdown" and self._poller is not None:
                self._poller.cancel()
                await asyncio.gather(self._poller, return_exceptions=True)
                self._poller = None
            return message

        await first(scope, on_receive, on_send)
