"""The national population database lookup: an adapter over its HTTP interface, with a fallback.

A citizen ID (12 digits) goes in, identity fields come out (docs/legal-aid.md, "Tra cứu dân cư / Population
lookup", writes the interface down). The service is at ``HOSO_POPULATION_URL``; one lookup waits at most
``HOSO_POPULATION_TIMEOUT`` seconds. A timeout or an outage never stops an intake: the record keeps what was
entered, is marked unverified (``identity_verified``) and a ``population_verify`` job fills and verifies it once
the service answers again.

``hoso population-standin`` serves a stand-in of the interface (``hoso_legal_aid.population_standin``).

Hook implementations here carry their own names and say which hook they implement with ``specname``;
``hoso_legal_aid`` registers them (see its ``__init__``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import unicodedata
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
import click

from hoso import settings
from hoso.db import quote
from hoso.hookspecs import hookimpl
from hoso.jobs import enqueue
from hoso.plugin_types import Job, JobKind
from hoso.records.context import RecordContext
from hoso.runtime import Runtime

if TYPE_CHECKING:  # pragma: no cover
    from hoso.modules import ModuleSwitches

__all__ = ["population_job_kinds", "population_write_guard", "population_cli_commands"]

MODULE = "legal_aid.population_lookup"
VERIFY_JOB = "population_verify"
# ASCII digits only: \d would take any script's digits (fullwidth ones), which the service does not know.
CITIZEN_ID = re.compile(r"[0-9]{12}")
# The case fields a lookup fills when they were left empty, and the identity field each comes from.
PREFILL = {"requester_name": "full_name", "gender": "gender", "birth_year": "birth_year", "address": "address"}


class PopulationUnavailable(Exception):
    """The service did not answer in time, could not be reached, or answered with an error of its own."""


@dataclass(frozen=True)
class Identity:
    citizen_id: str
    full_name: str
    date_of_birth: dt.date | None
    gender: str | None
    address: str | None

    @property
    def birth_year(self) -> int | None:
        return self.date_of_birth.year if self.date_of_birth else None

    def field(self, name: str) -> Any:
        return getattr(self, name)


# The most of an answer read: an identity is a few hundred bytes; more is not the interface's answer.
MAX_ANSWER_BYTES = 64 * 2**10
# One connection pool per event loop (a pool is bound to the loop it first ran in), with what closes it.
_POOLS: dict[asyncio.AbstractEventLoop, tuple[aiohttp.ClientSession, AsyncIterator[None]]] = {}
POOL_CONNECTIONS = 50


async def _closed_with_the_loop(session: aiohttp.ClientSession) -> AsyncIterator[None]:
    """Suspended until the loop shuts down: ``asyncio.run``, uvicorn's workers and the test runners close a loop's
    asynchronous generators before they close the loop, and this one then closes the pool's connections."""
    try:
        yield
    finally:
        await session.close()


async def _session() -> aiohttp.ClientSession:
    loop = asyncio.get_running_loop()
    held = _POOLS.get(loop)
    if held is not None and not held[0].closed:
        return held[0]
    for old in [k for k in _POOLS if k.is_closed()]:
        _POOLS.pop(old, None)
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=POOL_CONNECTIONS))
    keeper = _closed_with_the_loop(session)
    _POOLS[loop] = (session, keeper)  # held here: the loop keeps only a weak reference to the generator
    await keeper.__anext__()
    return session


async def lookup(citizen_id: str, *, url: str | None = None, timeout: float | None = None) -> Identity | None:
    """The identity the population database holds for ``citizen_id``; None when it holds none.

    Raises PopulationUnavailable on a timeout (of the whole exchange), a refused connection or an answer that is
    not the interface's (larger than ``MAX_ANSWER_BYTES`` included); ValueError for a ``citizen_id`` that is not
    12 digits (it goes into the address: nothing else may)."""
    if not isinstance(citizen_id, str) or not CITIZEN_ID.fullmatch(citizen_id):
        raise ValueError(f"not a citizen ID (12 digits): {citizen_id!r}")
    base = (url or settings.get("HOSO_POPULATION_URL") or "").rstrip("/")
    if not base:
        raise PopulationUnavailable("HOSO_POPULATION_URL is not set")
    wait = timeout if timeout is not None else settings.get("HOSO_POPULATION_TIMEOUT")
    session = await _session()
    try:
        async with session.get(f"{base}/api/v1/citizens/{citizen_id}",
                               timeout=aiohttp.ClientTimeout(total=wait)) as answer:
            status = answer.status
            data = await _read_at_most(answer.content, MAX_ANSWER_BYTES + 1) if status == 200 else b""
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise PopulationUnavailable(f"{type(exc).__name__}: {exc}") from exc
    if status == 404:
        return None
    if status != 200:
        raise PopulationUnavailable(f"the service answered {status}")
    if len(data) > MAX_ANSWER_BYTES:
        raise PopulationUnavailable(f"an answer the interface does not define: over {MAX_ANSWER_BYTES} bytes")
    try:
        body = json.loads(data)
        born = body.get("date_of_birth")
        return Identity(str(body["citizen_id"]), str(body["full_name"]),
                        dt.date.fromisoformat(born) if born else None, body.get("gender"), body.get("address"))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise PopulationUnavailable(f"an answer the interface does not define: {exc}") from exc


async def _read_at_most(stream: aiohttp.StreamReader, limit: int) -> bytes:
    """The body up to its end or ``limit`` bytes, whichever comes first (``read(n)`` gives what has arrived, which
    may be a part of a body sent in several packets)."""
    data = b""
    while len(data) < limit:
        chunk = await stream.read(limit - len(data))
        if not chunk:
            break
        data += chunk
    return data


def _folded(name: Any) -> str:
    return " ".join(unicodedata.normalize("NFC", str(name or "")).casefold().split())


def prefilled(values: dict, identity: Identity | None) -> dict:
    """The changes a lookup brings to a case's ``values``: empty identity fields filled, and whether the requester
    is verified (found, under the name entered if one was)."""
    if identity is None:
        return {"identity_verified": False}
    changes = {f: identity.field(src) for f, src in PREFILL.items()
               if values.get(f) in (None, "") and identity.field(src) not in (None, "")}
    entered = values.get("requester_name")
    same = entered in (None, "") or _folded(entered) == _folded(identity.full_name)
    changes["identity_verified"] = same
    return changes


def wants_lookup(entity: Any, values: dict | None) -> bool:
    """A case with a well-formed citizen ID that is not verified yet (the deployment's case has these fields)."""
    return (values is not None and getattr(entity, "name", None) == "case"
            and any(f.name == "identity_verified" for f in entity.fields)
            and isinstance(values.get("requester_citizen_id"), str)
            and CITIZEN_ID.fullmatch(values["requester_citizen_id"]) is not None
            and values.get("identity_verified") is not True
            and bool(settings.get("HOSO_POPULATION_URL")))  # no service configured: nothing to verify against


async def module_on(rt: Runtime, unit_id: int | None, switches: ModuleSwitches | None = None) -> bool:
    """Whether the lookup's module is on at ``unit_id``, by ``switches`` when the caller has read them."""
    if not any(m.name == MODULE for m in rt.config.modules):
        return False
    if switches is None:
        from hoso.modules import switches as read_switches

        switches = await read_switches(rt)
    return switches.unit_has(MODULE, unit_id)


@hookimpl(specname="hoso_write_guard")
async def population_write_guard(entity, action, before, after, context, db):
    """A new case with a citizen ID not verified yet (entered in the admin, imported, or taken in while the
    service was down) gets a verification job, in the write's own transaction."""
    if action == "create" and wants_lookup(entity, after):
        await enqueue(db, VERIFY_JOB, {"citizen_id": after["requester_citizen_id"]},
                      key=after["requester_citizen_id"])
    return None


async def verify_citizen(rt: Runtime, job: Job) -> dict:
    """Look the citizen up (raises on a timeout or an outage: the job is tried again later) and fill and verify
    every unverified case of that citizen ID, through the record service."""
    from hoso.records.service import RecordService

    citizen_id = str(job.payload["citizen_id"])
    entity = rt.config.entity("case")
    rows = await rt.db.fetch(
        f"SELECT id, unit FROM {quote(entity.table)} WHERE requester_citizen_id = {{}} "
        "AND sys_deleted_at IS NULL AND (identity_verified IS NULL OR identity_verified = {})", citizen_id, False)
    wanted = [r["id"] for r in rows if await module_on(rt, r["unit"])]
    if not wanted:
        return {"cases": []}
    identity = await lookup(citizen_id)
    service = RecordService(rt)
    ctx = RecordContext.system(rt.config, origin="population")
    done = []
    for record_id in wanted:
        record = await service.get("case", record_id, ctx)
        changes = prefilled(record, identity)
        if changes == {"identity_verified": record.get("identity_verified")}:
            continue
        await service.update("case", record_id, changes, record["sys_version"], ctx)
        done.append(record_id)
    return {"cases": done, "found": identity is not None}


@hookimpl(specname="hoso_job_kinds")
def population_job_kinds():
    return [JobKind(VERIFY_JOB, verify_citizen, max_attempts=12, backoff=60, lease=60)]


@click.command("population-standin")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8766, show_default=True, type=click.IntRange(0, 65535))
@click.option("--delay", default=0.0, show_default=True, type=click.FloatRange(0),
              help="Seconds each answer waits (to show the timeout path) / Số giây chờ trước mỗi câu trả lời.")
def population_standin(host: str, port: int, delay: float) -> None:
    """Serve a stand-in of the population database lookup (demonstration data).
    / Chạy máy chủ thay thế dịch vụ tra cứu dân cư (dữ liệu minh họa)."""
    from hoso_legal_aid.population_standin import serve

    server = serve(host, port, delay=delay)
    click.echo(f"http://{host}:{server.server_address[1]}/api/v1/citizens/<citizen_id>")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@hookimpl(specname="hoso_cli_commands")
def population_cli_commands():
    return [population_standin]
