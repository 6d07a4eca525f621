"""Property-based fuzzing of the generated API against its own OpenAPI document: no request, valid or not,
may make the server fail (5xx).

The app runs on SQLite with the repository's reference configuration, under uvicorn on 127.0.0.1 in a
background thread, and schemathesis sends each operation a bounded number of generated requests as a
superuser (Bearer token). Operations that would cut the run's own access (revoking tokens, logging out) are
left out.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import threading
import time

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings

from core.runtime import Runtime
from core.scope import Actor
from core.users import create_user
from core.web.tokens import create_token
from tests.conftest import REPO
from tests.helpers import migrated_runtime

MAX_EXAMPLES = int(os.environ.get("HOSO_FUZZ_EXAMPLES", "25"))
EXCLUDED = {("POST", "/api/tokens/{token_id}/revoke"), ("POST", "/api/logout"), ("POST", "/api/login")}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _prepare(root, url: str) -> str:
    from core.config import load_config

    rt = await migrated_runtime(load_config(root), url)
    try:
        uid = await create_user(rt, "fuzz.admin", "correct-horse-42", superuser=True, actor="test")
        # a few tokens first, so that the run's own token is not token 1
        root_actor = Actor(None, "root", superuser=True, origin="test-setup")
        for i in range(3):
            await create_token(rt, root_actor, uid, f"decoy {i}")
        return (await create_token(rt, root_actor, uid, "schemathesis"))[1]
    finally:
        await rt.db.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    import uvicorn

    from core.web.app import create_app

    tmp = tmp_path_factory.mktemp("fuzz")
    root = tmp / "reference"
    shutil.copytree(REPO / "forms_config", root / "forms_config")
    shutil.copytree(REPO / "roles_config", root / "roles_config")
    url = f"sqlite:///{tmp / 'fuzz.db'}"
    mp = pytest.MonkeyPatch()
    mp.setenv("HOSO_FILES_DIR", str(tmp / "files"))
    token = asyncio.run(_prepare(root, url))
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(create_app(Runtime.create(root, url)), host="127.0.0.1", port=port,
                                        log_level="warning", lifespan="on"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", token
    finally:
        srv.should_exit = True
        thread.join(10)
        mp.undo()


def test_no_server_errors(server):
    """Every operation, with valid and with invalid generated requests: never a 5xx."""
    from hypothesis import given
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode

    base, token = server
    schema = schemathesis.openapi.from_url(f"{base}/schema/openapi.json")
    headers = {"Authorization": f"Bearer {token}"}
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        op = result.ok()
        if (op.method.upper(), op.path) in EXCLUDED:
            continue
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            seen: list[str] = []

            @given(case=op.as_strategy(mode))
            @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck))
            def run(case):
                response = case.call(base_url=base, headers=headers)
                if response.status_code >= 500 and len(seen) < 3:
                    seen.append(f"{case.method} {case.formatted_path} [{mode.value}] -> {response.status_code}: "
                                f"query={case.query!r} body={case.body!r}"[:600])

            try:
                run()
            except Unsatisfiable:  # nothing invalid to send (an operation without parameters)
                pass
            except Exception as exc:  # an operation whose strategy cannot be built is reported, not hidden
                failures.append(f"{op.method.upper()} {op.path} [{mode.value}]: {type(exc).__name__}: {exc}"[:600])
            failures += seen
    assert operations > 20
    assert not failures, "\n".join(failures)
