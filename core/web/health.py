"""What a load balancer and an orchestrator ask: is the process alive, may it serve; and the answer when the
database is away.

- ``GET /healthz``: the process answers (no database involved). 200 ``{"status": "alive"}``.
- ``GET /readyz``: the database answers, and holds the definitions this process serves (the newest applied
  definitions are still those ``hoso.web.app.ensure_applied`` found matching the configuration at start-up: its
  cheap form), and every
  check plugins add (``hoso_readiness_checks``) passes. 200 ``{"status": "ready", "checks": {...}}``, else 503
  with a problem document naming the failed checks. The answer is cached ``HOSO_READY_CACHE_SECONDS`` so a
  probe every second costs the database nothing noticeable.

Both are unauthenticated and say nothing secret: no URL, no user, no error text from the driver.

While the database cannot be reached (a restart, a network cut), any request that needs it gets a 503 problem
document with ``Retry-After`` instead of a 500; the connection pool replaces the connections the server closed,
so service resumes by itself once the database is back (see docs/operations.md).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from litestar import Request, Response, get
from litestar.connection import ASGIConnection

from hoso.plugin_manager import collect
from hoso.plugin_types import ReadinessCheck
from hoso.settings import get as setting
from hoso.web.jobs_watch import jobs_readiness
from hoso.web.problems import msg, problem, request_lang

if TYPE_CHECKING:  # pragma: no cover
    from hoso.runtime import Runtime

__all__ = ["DATABASE_ERRORS", "Readiness", "database_unavailable_handlers", "healthz", "readyz", "is_unavailable"]

log = logging.getLogger("hoso.web")

# Longest a readiness check may take before it counts as failed (a probe must not hang).
CHECK_TIMEOUT = 3.0
RETRY_AFTER = "5"


def _database_errors() -> tuple[type[Exception], ...]:
    errors: list[type[Exception]] = [ConnectionError, TimeoutError]
    try:
        import asyncpg
    except ImportError:  # pragma: no cover - installed with piccolo[postgres]
        return tuple(errors)
    # Connection lost or refused (08xxx), the server shutting down or starting (57P01-57P03), and the driver
    # noticing a closed connection or pool.
    errors += [asyncpg.exceptions.PostgresConnectionError, asyncpg.exceptions.OperatorInterventionError,
               asyncpg.exceptions.InterfaceError]
    return tuple(errors)


DATABASE_ERRORS = _database_errors()


def is_unavailable(exc: BaseException | None) -> bool:
    """Whether ``exc``, or an exception it was raised from, says the database cannot be reached."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, DATABASE_ERRORS):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def _unavailable(request: Request, exc: Exception) -> Response:
    log.warning("database unavailable on %s %s: %s", request.method, request.url.path, type(exc).__name__)
    return problem(503, msg("database_unavailable", request_lang(request)), slug="database-unavailable",
                   headers={"Retry-After": RETRY_AFTER})


def database_unavailable_handlers() -> dict[int | type[Exception], Any]:
    """Exception handlers answering 503 (problem document, ``Retry-After``) to a database that cannot be
    reached; merged over ``hoso.web.problems.exception_handlers``."""
    return {error: _unavailable for error in DATABASE_ERRORS}


@dataclass
class Readiness:
    """The readiness checks of one application, with the cached last answer."""

    rt: Runtime
    checks: list[ReadinessCheck]
    cache_seconds: float
    _answer: tuple[float, dict[str, Any]] | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    # The newest applied definitions when the process checked, at start-up, that the database holds exactly its
    # configuration (``ensure_applied``, a full plan); while it stays the newest, the database still does.
    served: str | None = None

    @classmethod
    def of(cls, rt: Runtime) -> Readiness:
        extra = collect(rt.pm, "hoso_readiness_checks", lambda c: [c.name], "readiness check", runtime=rt)
        readiness = cls(rt, [], setting("HOSO_READY_CACHE_SECONDS"))
        own = [ReadinessCheck("database", _database), ReadinessCheck("definitions", readiness._definitions),
               *jobs_readiness(rt)]
        names = {c.name for c in own}
        for check in extra:
            if check.name in names:
                from hoso.plugin_manager import PluginError

                raise PluginError.of("plugin_duplicate", what="readiness check", name=check.name, first="hoso",
                                     second="a plugin")
        readiness.checks = own + extra
        return readiness

    async def started(self) -> None:
        """Remember the definitions the start-up check found applied (``hoso.web.app.ensure_applied``)."""
        self.served = await _applied_hash(self.rt)

    async def _definitions(self, rt: Runtime) -> str | None:
        applied = await _applied_hash(rt)
        if applied is None:
            return "never migrated"
        if self.served is None:  # not started yet
            return "not started"
        if applied != self.served:
            return "hoso migrate applied other definitions after this process started: restart it"
        return None

    async def answer(self) -> dict[str, Any]:
        """``{"ready": bool, "checks": {name: {"ok": bool, "reason"?: str}}}``, at most ``cache_seconds`` old."""
        async with self._lock:  # one probe at a time asks the database; the others read its answer
            now = time.monotonic()
            if self._answer is not None and now - self._answer[0] < self.cache_seconds:
                return self._answer[1]
            answer = await self._run()
            self._answer = (time.monotonic(), answer)
            return answer

    async def _run(self) -> dict[str, Any]:
        results: dict[str, dict[str, Any]] = {}
        database_ok = True
        for check in self.checks:
            if not database_ok and check.name != "database":
                results[check.name] = {"ok": False, "reason": "database unreachable"}
                continue
            reason = await _checked(check, self.rt)
            results[check.name] = {"ok": True} if reason is None else {"ok": False, "reason": reason}
            if check.name == "database" and reason is not None:
                database_ok = False
        return {"ready": all(r["ok"] for r in results.values()), "checks": results}


async def _checked(check: ReadinessCheck, rt: Runtime) -> str | None:
    try:
        return await asyncio.wait_for(check.check(rt), CHECK_TIMEOUT)
    except TimeoutError:
        return f"no answer within {CHECK_TIMEOUT:g} s"
    except Exception as exc:
        log.warning("readiness check %s failed: %s", check.name, type(exc).__name__)
        return "unreachable" if is_unavailable(exc) else f"failed ({type(exc).__name__})"


async def _database(rt: Runtime) -> str | None:
    await rt.db.fetchval("SELECT 1 AS ok")
    return None


async def _applied_hash(rt: Runtime) -> str | None:
    """The hash of the newest applied definitions; None for a database never migrated."""
    try:
        return await rt.db.fetchval("SELECT content_hash FROM hoso_schema_state ORDER BY id DESC LIMIT 1")
    except Exception as exc:
        if is_unavailable(exc):
            raise
        return None  # no hoso_schema_state table: never migrated


@get("/healthz", tags=["system"], sync_to_thread=False)
def healthz() -> dict[str, str]:
    """The process is alive (the database is not asked)."""
    return {"status": "alive"}


def _readiness(connection: ASGIConnection) -> Readiness:
    return connection.app.state.readiness


@get("/readyz", tags=["system"])
async def readyz(request: Request) -> Response:
    """The process may serve: the database answers with this process's definitions, and plugins' checks pass."""
    answer = await _readiness(request).answer()
    if answer["ready"]:
        return Response({"status": "ready", "checks": answer["checks"]})
    failed = ", ".join(name for name, r in answer["checks"].items() if not r["ok"])
    return problem(503, msg("not_ready", request_lang(request), failed=failed), slug="not-ready",
                   headers={"Retry-After": RETRY_AFTER}, checks=answer["checks"])
