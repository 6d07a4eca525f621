"""One process's holder of its definitions (hoso.web.runtime_holder): after `hoso migrate`, the next request of every
surface is served by the new definitions while a request in flight finishes on the ones it started with; files on
disk that are not the applied definitions change nothing; staged uploads live beside the stored files."""

from __future__ import annotations

import asyncio
import contextlib
import time

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from litestar import Request, get

from hoso.hookspecs import hookimpl
from hoso.runtime import Runtime
from hoso.server import create_holder
from hoso.users import create_user
from tests.helpers import load_full_config, migrated_runtime, remigrate

PASSWORD = "correct-horse-42"
CASE = {"received_on": "2025-03-04", "form_of_aid": "TV", "requester": "Nguyễn Văn An"}
FIELD = "  interpreter: {type: text, label: {vi: Người phiên dịch, en: Interpreter}}\n"


class Held:
    """A plugin route that waits, mid-request, until the test lets it go, then names the definitions it ran on."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    @hookimpl
    def hoso_routes(self, runtime):
        plugin = self

        @get("/held", tags=["test"])
        async def held(request: Request) -> dict:
            started = request.app.state.rt.config.content_hash
            plugin.entered.set()
            await plugin.release.wait()
            rt = request.app.state.rt
            return {"started": started, "finished": rt.config.content_hash,
                    "fields": [f.name for f in rt.config.entity("case").fields]}

        return [held]


async def _until(predicate, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def _client(app):
    """A client of ``app`` in this event loop, with its lifespan run around it (start-up, then shutdown)."""
    inbox: asyncio.Queue = asyncio.Queue()
    outbox: asyncio.Queue = asyncio.Queue()
    lifespan = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}},
                                       inbox.get, outbox.put))
    await inbox.put({"type": "lifespan.startup"})
    assert (await asyncio.wait_for(outbox.get(), 60))["type"] == "lifespan.startup.complete"
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
            yield client
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        assert (await asyncio.wait_for(outbox.get(), 60))["type"] == "lifespan.shutdown.complete"
        await lifespan


async def _serving(config_dir, database_url, plugin, poll: float):
    rt = await migrated_runtime(load_full_config(config_dir.root), database_url)
    await create_user(rt, "quan.tri", PASSWORD, superuser=True, actor="test")
    await rt.db.close()  # the test's runtime opens a connection per query
    holder = create_holder(Runtime.create(config_dir.root, database_url, plugins=[plugin]), poll_seconds=poll)
    return rt, holder


async def test_a_request_in_flight_finishes_on_its_definitions_and_the_next_one_is_served_by_the_new(
        config_dir, database_url):
    plugin = Held()
    rt, holder = await _serving(config_dir, database_url, plugin, poll=0.1)
    unit = await rt.db.fetchval("SELECT id FROM hoso_unit WHERE code = {}", "TT")
    async with _client(holder) as client:  # the lifespan: the database, then the poller
        assert (await client.post("/api/login", json={"username": "quan.tri", "password": PASSWORD})).status_code == 200
        old = holder.current
        assert (await client.post("/api/records/case", json={**CASE, "unit": unit, "interpreter": "x"})).status_code \
            == 422

        in_flight = asyncio.create_task(client.get("/held"))
        await asyncio.wait_for(plugin.entered.wait(), 20)
        entity = config_dir.root / "forms_config" / "entities" / "case.yaml"
        entity.write_text(entity.read_text(encoding="utf-8") + FIELD, encoding="utf-8")
        plan, _new = await remigrate(rt, load_full_config(config_dir.root))  # what `hoso migrate` does
        assert plan.ok and plan.has_changes
        await _until(lambda: holder.current is not old)
        assert holder.current.number == 1 and holder.current.definitions == plan.content_hash

        plugin.release.set()
        r = await asyncio.wait_for(in_flight, 20)
        assert r.status_code == 200, r.text
        assert r.json()["started"] == r.json()["finished"] == old.definitions
        assert "interpreter" not in r.json()["fields"]

        later = (await client.get("/held")).json()
        assert later["finished"] == plan.content_hash and "interpreter" in later["fields"]
        # the API, its OpenAPI document and the admin all serve the new field
        created = await client.post("/api/records/case", json={**CASE, "unit": unit, "interpreter": "Lò Văn Pá"})
        assert created.status_code == 201, created.text
        got = await client.get(f"/api/records/case/{created.json()['id']}")
        assert got.json()["interpreter"] == "Lò Văn Pá"
        assert "interpreter" in (await client.get("/schema/openapi.json")).text
        schema = await client.get("/admin/api/tables/case/schema/")
        assert schema.status_code == 200 and "interpreter" in schema.json()["properties"]
        assert await rt.db.fetchval('SELECT interpreter FROM "case" WHERE id = {}', created.json()["id"]) == \
            "Lò Văn Pá"


async def test_files_on_disk_that_are_not_the_applied_definitions_keep_the_process_on_its_own(
        config_dir, database_url):
    plugin = Held()
    plugin.release.set()
    rt, holder = await _serving(config_dir, database_url, plugin, poll=3600)  # switched by hand below
    holder.RETRY_SECONDS = 0
    async with _client(holder) as client:
        old = holder.current
        entity = config_dir.root / "forms_config" / "entities" / "case.yaml"
        original = entity.read_text(encoding="utf-8")
        entity.write_text(original + FIELD, encoding="utf-8")
        plan, _new = await remigrate(rt, load_full_config(config_dir.root))
        assert plan.ok and plan.has_changes
        # another change on disk, not migrated: the process keeps what it serves
        entity.write_text(original + FIELD + FIELD.replace("interpreter", "witness"), encoding="utf-8")
        assert await holder.refresh() is old
        assert "interpreter" not in (await client.get("/held")).json()["fields"]
        # the applied files again: it switches
        entity.write_text(original + FIELD, encoding="utf-8")
        assert (await holder.refresh()).definitions == plan.content_hash
        assert "interpreter" in (await client.get("/held")).json()["fields"]
        # nothing changed since: the same generation
        current = holder.current
        assert await holder.refresh() is current


def test_staged_uploads_default_to_the_shared_files_folder_and_are_no_stored_files(tmp_path, monkeypatch):
    from hoso.admin.media import staging_dir
    from hoso.plugins.storage import LocalStorage

    files = tmp_path / "files"
    monkeypatch.setenv("HOSO_FILES_DIR", str(files))
    monkeypatch.delenv("HOSO_ADMIN_STAGING_DIR", raising=False)
    staged = staging_dir()
    assert staged == files / ".staging" and staged.is_dir()
    (staged / "0123").write_bytes(b"%PDF-1.4")
    (files / "case" / "1" / "scan").mkdir(parents=True)
    (files / "case" / "1" / "scan" / "abc").write_bytes(b"%PDF-1.4")
    storage = LocalStorage(files)
    # the clean-up of the stored files never sees a staged one, and no key reaches the staging folder
    assert asyncio.run(storage.stored_keys(time.time() + 60)) == ["case/1/scan/abc"]
    for key in (".staging/0123", ".incoming/x.part"):
        try:
            asyncio.run(storage.remove(key))
        except ValueError:
            continue
        raise AssertionError(f"{key} was accepted as a storage key")
    assert (staged / "0123").exists()


@pytest.mark.parametrize("value, said", [("abc", "expected a whole number of processes"),
                                         ("0", "expected a number of processes, at least 1")])
def test_an_unusable_worker_count_is_refused_naming_the_setting(monkeypatch, value, said):
    from click.testing import CliRunner

    from hoso.cli import main

    monkeypatch.setenv("HOSO_WORKERS", value)
    result = CliRunner().invoke(main, ["serve"])
    assert result.exit_code == 1
    assert f"HOSO_WORKERS={value!r}: {said}" in result.output and "Traceback" not in result.output
    assert "tiến trình" in result.output  # Vietnamese first


def test_several_workers_are_given_time_to_start_before_their_health_is_checked(monkeypatch):
    """uvicorn kills a worker that does not answer its health check in time; a new worker answers only once its
    interpreter has started and imported hoso, which takes longer than uvicorn's 5 s on a busy machine."""
    import uvicorn

    import hoso.server
    from hoso.server import run_server

    calls: list[tuple[tuple, dict]] = []
    # the workers are started by uvicorn.run, or (on Linux) by serve_spread with a socket each: both replaced here
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: calls.append((a, kw)))
    monkeypatch.setattr(hoso.server, "serve_spread",
                        lambda config: calls.append(((config.app,), {"workers": config.workers,
                                                     "timeout_worker_healthcheck": config.timeout_worker_healthcheck})))
    for name in ("HOSO_CONFIG", "HOSO_DATABASE_URL"):  # run_server hands them to the workers; put back after
        monkeypatch.setenv(name, "unset")
    run_server(object(), host="127.0.0.1", port=8000, workers=2, config_dir="conf", database_url="sqlite:///x.db")
    (args, kw), = calls
    assert args == ("hoso.server:app_factory",) and kw["workers"] == 2
    assert kw["timeout_worker_healthcheck"] >= 30


# -- the holder against a plain model: which definitions each request is served by ---------------------------------

class _Fake:
    """A runtime, a database and an application reduced to what the holder touches."""

    def __init__(self, definitions: str):
        self.config = type("Config", (), {"content_hash": definitions, "root": "."})()
        self.db = self
        self.renewed = 0

    async def renew_connections(self) -> None:
        self.renewed += 1

    async def __call__(self, scope, receive, send) -> None:  # the application of these definitions
        scope["served"].append(self.config.content_hash)
        await scope["release"].wait()
        scope["served"].append(self.config.content_hash)


_STEPS = st.lists(st.one_of(
    st.just(("request",)),
    st.tuples(st.just("finish"), st.integers(0, 20)),
    st.tuples(st.just("migrate"), st.sampled_from("ABCD"), st.booleans()),  # the files on disk match, or not
    st.just(("poll",)),
), max_size=40)


@settings(max_examples=150, deadline=None)
@given(steps=_STEPS)
def test_each_request_is_served_whole_by_the_definitions_current_when_it_started(steps):
    from unittest import mock

    from hoso.web import runtime_holder

    world = {"applied": "A", "disk": "A"}

    async def applied(_rt):
        return world["applied"]

    def reload(_base, want):
        return _Fake(want) if world["disk"] == want else None

    async def started(_app):
        return None

    async def run() -> None:
        first = _Fake("A")
        holder = runtime_holder.RuntimeHolder(first, first, lambda rt: rt, started, poll_seconds=3600)
        holder.RETRY_SECONDS = 0
        model = "A"  # the definitions the model says the process serves
        requests: list[tuple[str, dict, asyncio.Task]] = []
        for step in steps:
            if step[0] == "request":
                scope = {"type": "http", "served": [], "release": asyncio.Event()}
                requests.append((model, scope, asyncio.create_task(holder(scope, None, None))))
                await asyncio.sleep(0)
            elif step[0] == "finish" and requests:
                requests[step[1] % len(requests)][1]["release"].set()
                await asyncio.sleep(0)
            elif step[0] == "migrate":
                world["applied"] = step[1]
                world["disk"] = step[1] if step[2] else step[1].lower()
            elif step[0] == "poll":
                await holder.refresh()
                if world["applied"] != model and world["disk"] == world["applied"]:
                    model = world["applied"]
            assert holder.current.definitions == model
        for _at_start, scope, _task in requests:
            scope["release"].set()
        await asyncio.gather(*(task for _m, _s, task in requests))
        for at_start, scope, _task in requests:
            assert scope["served"] == [at_start, at_start]

    with mock.patch.object(runtime_holder, "applied_definitions", applied), \
            mock.patch.object(runtime_holder, "reload_runtime", reload):
        asyncio.run(run())
