"""Property-based fuzzing of the generated API against its own OpenAPI document, on SQLite and on PostgreSQL: no
request, valid or not, may make the server fail (5xx), and every answer must be one the document declares
(status code, content type, and the body's schema where the document gives one).

The app runs with the repository's reference configuration under uvicorn on 127.0.0.1 (a free port) in a
background thread, and schemathesis sends each operation a bounded number of generated requests, valid and
invalid, as a superuser (Bearer token). Operations that would cut the run's own access (revoking tokens,
logging out) are left out. ``HOSO_FUZZ_EXAMPLES`` sets the examples per operation and mode; the run prints the
requests sent and the failures by kind.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from hoso.scope import Actor
from hoso.users import create_user
from hoso.web.tokens import create_token
from tests.conftest import ENGINES, REPO, reference_copy, shared_database
from tests.helpers import migrated_runtime

MAX_EXAMPLES = int(os.environ.get("HOSO_FUZZ_EXAMPLES", "10"))
EXCLUDED = {("POST", "/api/tokens/{token_id}/revoke"), ("POST", "/api/logout"), ("POST", "/api/login")}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _prepare(root, url: str) -> str:
    from hoso.config import load_config

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


@pytest.fixture(scope="module", params=ENGINES)
def server(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz")
    root = reference_copy(tmp)
    with shared_database(request.param, tmp, "fuzz") as url:
        yield from _serve(root, url, tmp)


def _serve(root, url: str, tmp):
    token = asyncio.run(_prepare(root, url))
    port = _free_port()
    # The server runs in a process of its own, so that it and the generating client use both cores.
    env = {**os.environ, "HOSO_FILES_DIR": str(tmp / "files"), "HOSO_DISABLE_ENTRYPOINTS": "1"}
    log = open(tmp / "server.log", "wb")
    proc = subprocess.Popen([sys.executable, "-c", _SERVE, str(root), url, str(port)], cwd=REPO, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(proc, base, tmp / "server.log")
        yield base, token
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:  # pragma: no cover
            proc.kill()
            proc.wait()
        log.close()


_SERVE = """
import sys
import uvicorn
from hoso.runtime import Runtime
from hoso.server import create_app
root, url, port = sys.argv[1:4]
uvicorn.run(create_app(Runtime.create(root, url)), host="127.0.0.1", port=int(port), log_level="warning")
"""


def _wait_until_up(proc, base: str, log_path) -> None:
    import requests

    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the server did not start: {log_path.read_text(errors='replace')[-2000:]}")
        try:
            if requests.get(f"{base}/api/health", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)


def _checks():
    from schemathesis.checks import (
        content_type_conformance,
        not_a_server_error,
        response_schema_conformance,
        status_code_conformance,
    )

    return [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.mark.slow
def test_no_server_errors_and_answers_conform(server):
    """Every operation, with valid and with invalid generated requests: never a 5xx, and every status code,
    content type and body as the OpenAPI document declares."""
    import requests
    from hypothesis import given
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode
    from schemathesis.core.failures import FailureGroup

    base, token = server
    schema = schemathesis.openapi.from_url(f"{base}/schema/openapi.json")
    headers = {"Authorization": f"Bearer {token}"}
    session = requests.Session()  # one kept-alive connection for the whole run
    checks = _checks()
    failures: list[str] = []
    kinds: Counter[str] = Counter()
    sent = Counter()
    operations = 0
    for result in schema.get_all_operations():
        op = result.ok()
        if (op.method.upper(), op.path) in EXCLUDED:
            continue
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            seen: list[str] = []

            # run() is called (by hypothesis) only within this iteration, so it sees this iteration's seen and mode.
            @given(case=op.as_strategy(mode))
            @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck))
            def run(case):
                response = case.call(base_url=base, headers=headers, session=session)
                sent["requests"] += 1
                try:
                    case.validate_response(response, checks=checks, headers=headers)
                except FailureGroup as group:  # the checks that failed
                    for failure in group.exceptions:
                        kind = f"{type(failure).__name__}: {getattr(failure, 'title', '')}"
                        kinds[kind] += 1
                        if len(seen) < 2:  # noqa: B023
                            seen.append(f"{case.method} {case.formatted_path} [{mode.value}] -> "  # noqa: B023
                                        f"{response.status_code} {response.headers.get('content-type')}: {kind}: "
                                        f"query={case.query!r} body={case.body!r}"[:600])

            try:
                run()
            except Unsatisfiable:  # nothing invalid to send (an operation without parameters)
                pass
            except Exception as exc:  # an operation whose strategy cannot be built is reported, not hidden
                failures.append(f"{op.method.upper()} {op.path} [{mode.value}]: {type(exc).__name__}: {exc}"[:600])
            failures += seen
    print(f"\nschemathesis: {operations} operations, {sent['requests']} requests, failures by kind: "
          f"{dict(kinds) or 'none'}")
    assert operations > 20
    assert sent["requests"] > operations * MAX_EXAMPLES
    assert not failures, "\n".join(failures)

