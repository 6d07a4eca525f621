"""The small value types plugins return from hooks (``hoso.hookspecs``).

They live in the base layer, with no imports beyond the standard library, so a plugin module can import them
(``from hoso import ScheduledWork``) without loading the database, the configuration or the web stack.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from hoso.config import EntityDef, TransitionDef
    from hoso.records.service import RecordContext
    from hoso.runtime import Runtime

__all__ = ["ScheduledWork", "RecordEvent", "SystemTable", "ActionDef", "ScopeRule", "ReadinessCheck", "MetricGauge",
           "Job", "JobKind", "system_index_name"]


@dataclass(frozen=True)
class ScheduledWork:
    """Work run every ``every`` by one process at a time (``hoso serve`` or ``hoso run-scheduled``).

    ``run`` receives the runtime; its database is started. The name keys the lease that keeps two servers from
    running the same work at once, so it must be unique among all plugins.
    """

    name: str
    every: dt.timedelta
    run: Callable[[Runtime], Awaitable[None]]


@dataclass(frozen=True)
class RecordEvent:
    """One change of one record, as ``hoso_after_commit`` receives it.

    ``kind`` is ``created``, ``changed``, ``deleted``, ``restored`` or ``transitioned``; ``before`` is set for
    ``changed`` and ``transitioned``, ``transition`` (its name) for ``transitioned``.
    """

    kind: str
    entity: EntityDef
    record: dict
    context: RecordContext
    before: dict | None = None
    transition: TransitionDef | None = None


@dataclass(frozen=True)
class SystemTable:
    """A table a plugin needs besides the entities' tables, created by ``hoso migrate``.

    ``columns`` returns fresh piccolo columns (name -> column) each time it is called: a column belongs to one
    table class, and the class is built once per database. The table gets piccolo's ``id`` primary key; a column
    added in a later version of the plugin is added by the next ``hoso migrate``. ``name`` is the table's name
    in the database and the key in ``runtime.tables.system``.

    ``indexes``: the table's indexes, each a tuple of column names in order (``("entity", "unit_id")``); ``hoso
    plan`` lists a missing one and ``hoso migrate`` creates it (also on a table that already exists). Its name is
    ``system_index_name(table, columns)``.
    """

    name: str
    columns: Callable[[], dict[str, Any]]
    indexes: tuple[tuple[str, ...], ...] = ()


def system_index_name(table: str, columns: tuple[str, ...]) -> str:
    """The name of a system table's declared index: ``ix_TABLE_COL_COL``, shortened with a digest to fit
    PostgreSQL's 63 characters."""
    name = f"ix_{table}_{'_'.join(columns)}"
    if len(name) <= 63:
        return name
    return f"{name[:50]}_{hashlib.sha256(name.encode()).hexdigest()[:12]}"


@dataclass(frozen=True)
class ActionDef:
    """An action roles may hold besides the built-in ones (e.g. ``run_hotline``), named in a grant's
    ``actions``. ``label`` holds ``vi`` and ``en``."""

    name: str
    label: dict[str, str]


@dataclass(frozen=True)
class ScopeRule:
    """A scope kind roles may name in a grant's ``scope`` (``scope: same_district``).

    ``predicate(entity, alias, user_id)`` returns the rows of ``entity`` (a table aliased ``alias``) the user
    reaches under this scope, as ``(sql, args)`` with ``{}`` placeholders, or None for no rows. hoso adds the
    condition that the user holds the granting role today, as for the built-in ``own`` scope. ``label`` holds
    ``vi`` and ``en``.
    """

    name: str
    label: dict[str, str]
    predicate: Callable[[EntityDef, str, int], tuple[str, tuple] | None]


@dataclass(frozen=True)
class ReadinessCheck:
    """One check of ``/readyz`` (``hoso_readiness_checks``): ``check(runtime)`` returns None when the process may
    serve, or a short reason (no secrets: the reason is shown to whoever asks) when it may not; an exception
    counts as a failure. ``name`` keys the check in the answer and must be unique."""

    name: str
    check: Callable[[Runtime], Awaitable[str | None]]


@dataclass(frozen=True)
class MetricGauge:
    """A Prometheus gauge read when ``/metrics`` is scraped (``hoso_metrics``), e.g. a queue's depth.

    ``read(runtime)`` returns a number, or a mapping from label values (a tuple, in the order of ``labels``) to
    numbers. ``name`` is the metric's name (``hoso_jobs_queued``), unique among all plugins."""

    name: str
    help: str
    read: Callable[[Runtime], Awaitable[float | dict[tuple[str, ...], float]]]
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Job:
    """One job as its handler receives it (``hoso.jobs``): ``attempts`` counts this run; ``payload`` is what was
    enqueued (JSON-ready values); ``user_id`` the user it runs for, if any."""

    id: int
    kind: str
    payload: Any
    attempts: int
    key: str | None = None
    user_id: int | None = None


@dataclass(frozen=True)
class JobKind:
    """A kind of background job (``hoso_job_kinds``), run by a worker (``hoso worker``, or inside ``hoso serve``).

    ``handler(runtime, job)`` is awaited with a ``Job``; what it returns (JSON-ready) is kept as the job's result,
    and an exception is a failed attempt. A failed job is tried again after ``backoff`` seconds, doubled per
    failure, with jitter; after ``max_attempts`` attempts it is dead (shown in the admin, which may send it back).
    ``lease`` (seconds) bounds one attempt: a handler still running then has failed, and a worker that stopped
    mid-job leaves the job to be taken again once its lease expires. Handlers run at least once per job, so they
    must be safe to repeat.
    """

    name: str
    handler: Callable[[Runtime, Job], Awaitable[Any]]
    max_attempts: int = 5
    backoff: float = 10.0
    lease: float = 300.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.backoff < 0 or self.lease <= 0:
            raise ValueError(f"job kind {self.name!r}: max_attempts must be at least 1, backoff at least 0 and "
                             "lease more than 0")
