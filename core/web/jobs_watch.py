"""What an operator sees of the background jobs (``hoso.jobs``): a readiness check that fails when jobs wait too
long (no worker runs, or the workers cannot keep up) and gauges of the queue for ``/metrics``. Both read
``queue_health``, one shared fact of the database whichever process answers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hoso.jobs import queue_health
from hoso.plugin_types import MetricGauge, ReadinessCheck

if TYPE_CHECKING:  # pragma: no cover
    from hoso.runtime import Runtime

__all__ = ["STUCK_SECONDS", "jobs_readiness", "jobs_gauges"]

# A job due this long ago and still waiting means no worker takes jobs: /readyz says so.
STUCK_SECONDS = 900


def _on(rt: Runtime) -> bool:
    return not rt.pm.is_blocked("hoso.plugins.jobs")


async def _stuck(rt: Runtime) -> str | None:
    health = await queue_health(rt)
    waiting = health["counts"]["pending"] + health["counts"]["failed"]
    if health["oldest_due_seconds"] > STUCK_SECONDS:
        return (f"{waiting} job(s) waiting; the oldest was due {health['oldest_due_seconds']:.0f} s ago "
                "(is a worker running?)")
    return None


def jobs_readiness(rt: Runtime) -> list[ReadinessCheck]:
    return [ReadinessCheck("jobs", _stuck)] if _on(rt) else []


async def _by_state(rt: Runtime) -> dict[tuple[str, ...], float]:
    return {(state,): float(n) for state, n in (await queue_health(rt))["counts"].items()}


async def _oldest(rt: Runtime) -> float:
    return float((await queue_health(rt))["oldest_due_seconds"])


async def _expired(rt: Runtime) -> float:
    return float((await queue_health(rt))["expired_leases"])


def jobs_gauges(rt: Runtime) -> list[MetricGauge]:
    if not _on(rt):
        return []
    return [MetricGauge("hoso_jobs", "Background jobs by state (dead: failed for good)", _by_state, ("state",)),
            MetricGauge("hoso_jobs_oldest_due_seconds", "Seconds since the oldest waiting job was due", _oldest),
            MetricGauge("hoso_jobs_expired_leases", "Running jobs whose worker's lease expired", _expired)]
