"""Prometheus metrics (``prometheus-client``), exposed at ``GET /metrics``.

Metrics, per process or summed over the processes of a host (see below):

- ``hoso_http_requests_total{method, route, status}``: answered requests; ``route`` is the route's template
  (``/api/records/{entity:str}/{record_id:int}``), ``/admin`` for the whole admin, ``unmatched`` when no route
  matched, so the label set stays small whatever the paths asked.
- ``hoso_http_request_duration_seconds{method, route}``: a histogram of the time to answer.
- ``hoso_http_requests_in_progress``: requests being served.
- ``hoso_db_pool_connections{state="open"|"idle"}`` and ``hoso_db_pool_max_connections``: the PostgreSQL
  connection pool (SQLite opens a connection per transaction and has no pool: not reported).
- every gauge plugins add with ``hoso_metrics`` (e.g. a job queue's depth and failures), read at each scrape.

Several processes: when ``PROMETHEUS_MULTIPROC_DIR`` names a folder (empty at service start, writable by every
process), prometheus-client's multiprocess mode keeps each process's values there and any process answers a
scrape with the sums over all of them (counters and histograms summed, pool gauges summed over live processes).
Without it each process reports its own values.

Access is denied unless ``HOSO_METRICS_TOKEN`` is set and the scrape sends ``Authorization: Bearer <token>``,
or the client's address (as ``HOSO_TRUSTED_PROXIES`` reveals it) is in ``HOSO_METRICS_NETWORKS``.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from litestar import Request, Response, get
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from hoso.plugin_manager import collect
from hoso.plugin_types import MetricGauge
from hoso.settings import get as setting
from hoso.web.auth import WebSettings, client_address
from hoso.web.jobs_watch import jobs_gauges
from hoso.web.problems import msg, problem, request_lang

if TYPE_CHECKING:  # pragma: no cover
    from hoso.runtime import Runtime

__all__ = ["Metrics", "MetricsAccess", "metrics_endpoint", "multiprocess_dir"]

log = logging.getLogger("hoso.web")

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"
READ_TIMEOUT = 3.0


def multiprocess_dir() -> str | None:
    """The folder of prometheus-client's multiprocess mode, when ``PROMETHEUS_MULTIPROC_DIR`` is set."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class Metrics:
    """The metrics of one application."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.registry = CollectorRegistry(auto_describe=True)
        self.multiprocess = multiprocess_dir() is not None
        self.requests = Counter("hoso_http_requests", "HTTP requests answered, by route template and status",
                                ("method", "route", "status"), registry=self.registry)
        self.duration = Histogram("hoso_http_request_duration_seconds", "Time to answer an HTTP request",
                                  ("method", "route"), buckets=BUCKETS, registry=self.registry)
        self.in_progress = Gauge("hoso_http_requests_in_progress", "HTTP requests being served",
                                 registry=self.registry, multiprocess_mode="livesum")
        # SQLite opens a connection per transaction: no pool to report.
        self.pool = None if rt.db.is_sqlite else Gauge(
            "hoso_db_pool_connections", "Connections of the PostgreSQL pool, open or idle", ("state",),
            registry=self.registry, multiprocess_mode="livesum")
        self.pool_max = None if rt.db.is_sqlite else Gauge(
            "hoso_db_pool_max_connections", "Most connections the PostgreSQL pool may open",
            registry=self.registry, multiprocess_mode="livesum")
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self.gauges: list[MetricGauge] = [*jobs_gauges(rt), *collect(rt.pm, "hoso_metrics", lambda g: [g.name],
                                                                     "metric", runtime=rt)]

    def started(self) -> None:
        self.in_progress.inc()

    def answered(self, method: str, route: str | None, status: int, seconds: float) -> None:
        method = method if method in METHODS else "OTHER"
        key = (method, route or UNMATCHED, status)
        children = self._children.get(key)
        if children is None:  # the label lookups, once per route and status
            children = self._children[key] = (self.requests.labels(key[0], key[1], str(status)),
                                               self.duration.labels(key[0], key[1]))
        self.in_progress.dec()
        children[0].inc()
        children[1].observe(seconds)
        self.read_pool()

    def read_pool(self) -> None:
        pool = getattr(self.rt.db.engine, "pool", None)
        if pool is None or self.pool is None or self.pool_max is None:
            return
        try:
            self.pool.labels("open").set(pool.get_size())
            self.pool.labels("idle").set(pool.get_idle_size())
            self.pool_max.set(pool.get_max_size())
        except Exception:  # a pool being closed or renewed: next time
            return

    async def exposition(self) -> bytes:
        """The text exposition: this process's metrics (or every process's, in multiprocess mode), then the
        plugins' gauges read now."""
        self.read_pool()
        if self.multiprocess:
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            text = generate_latest(registry)
        else:
            text = generate_latest(self.registry)
        if self.gauges:
            families = await self._read_gauges()
            extra = CollectorRegistry()
            extra.register(_Families(families))
            text += generate_latest(extra)
        return text

    async def _read_gauges(self) -> list[GaugeMetricFamily]:
        families = []
        for gauge in self.gauges:
            try:
                value = await asyncio.wait_for(gauge.read(self.rt), READ_TIMEOUT)
            except Exception as exc:
                log.warning("metric %s could not be read: %s", gauge.name, type(exc).__name__)
                continue
            family = GaugeMetricFamily(gauge.name, gauge.help, labels=list(gauge.labels))
            if isinstance(value, dict):
                for labels, number in value.items():
                    family.add_metric([str(v) for v in labels], float(number))
            else:
                family.add_metric([], float(value))
            families.append(family)
        return families


class _Families(Collector):
    def __init__(self, families: list[GaugeMetricFamily]) -> None:
        self.families = families

    def collect(self) -> Iterable[GaugeMetricFamily]:
        return self.families


@dataclass(frozen=True)
class MetricsAccess:
    """Who may read /metrics: the bearer of ``token``, or a client in ``networks``; nobody when neither is set."""

    token: str | None
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]

    @classmethod
    def from_env(cls, env=None) -> MetricsAccess:
        return cls(setting("HOSO_METRICS_TOKEN", env), setting("HOSO_METRICS_NETWORKS", env))

    @property
    def closed(self) -> bool:
        return not self.token and not self.networks

    def allows(self, authorization: str | None, address: str) -> bool:
        if self.token and authorization:
            scheme, _, given = authorization.partition(" ")
            if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), self.token.encode()):
                return True
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self.networks)


@get("/metrics", tags=["system"], include_in_schema=False)
async def metrics_endpoint(request: Request) -> Response:
    """The Prometheus exposition, to the bearer of HOSO_METRICS_TOKEN or an address in HOSO_METRICS_NETWORKS."""
    state: Any = request.app.state
    access: MetricsAccess = state.metrics_access
    settings: WebSettings = state.settings
    lang = request_lang(request)
    if access.closed:
        return problem(403, msg("metrics_closed", lang), slug="metrics-closed")
    if not access.allows(request.headers.get("authorization"), client_address(request, settings)):
        if access.token:
            return problem(401, msg("metrics_denied", lang), slug="metrics-denied",
                           headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
        return problem(403, msg("metrics_denied", lang), slug="metrics-denied")
    body = await state.metrics.exposition()
    return Response(body, media_type=CONTENT_TYPE_LATEST)
