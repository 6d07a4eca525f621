"""Login throttle, client addresses behind proxies and bearer tokens, through real HTTP servers (uvicorn run as
`hoso serve` runs it) as well as the test client, on both engines. Issue 8, items 3 and 6."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time

import httpx
import pytest
import uvicorn
from litestar.connection import ASGIConnection

from hoso.runtime import Runtime
from hoso.server import create_app
from hoso.users import create_user
from hoso.web.auth import SERVER_OPTIONS, WebSettings, client_address
from tests.helpers import migrated_runtime
from tests.web.conftest import PASSWORD


@contextlib.contextmanager
def served(app):
    """``app`` served by uvicorn, with the options of `hoso serve`, on a free port of 127.0.0.1."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", **SERVER_OPTIONS))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


@contextlib.asynccontextmanager
async def servers(config_dir, database_url, n: int = 1, settings: WebSettings | None = None):
    """``n`` servers of the same database, each with its own runtime and pool (as separate processes would
    be), and a runtime for the test's own queries; the account ``owner`` exists."""
    rt = await migrated_runtime(config_dir.load(), database_url)
    await create_user(rt, "owner", PASSWORD)
    await rt.db.close()
    with contextlib.ExitStack() as stack:
        urls = [stack.enter_context(served(create_app(Runtime.create(config_dir.root, database_url),
                                                      settings or WebSettings())))
                for _ in range(n)]
        yield rt, urls


async def _reasons(rt) -> list[str]:
    rows = await rt.db.fetch("SELECT changes FROM hoso_audit WHERE action = 'login_failed' ORDER BY id")
    return [json.loads(r["changes"])["reason"] for r in rows]


@pytest.mark.slow
async def test_forty_parallel_wrong_passwords_are_not_all_checked(config_dir, database_url):
    """Two servers, 40 wrong passwords at once: only the limit (5) reach the password check; the rest are 429
    and not counted, and the owner, coming from another address through the trusted proxy, still logs in."""
    settings = WebSettings(trusted_proxies=WebSettings.from_env({"HOSO_TRUSTED_PROXIES": "127.0.0.1"})
                           .trusted_proxies)
    async with servers(config_dir, database_url, n=2, settings=settings) as (rt, urls):
        attacker = {"X-Forwarded-For": "203.0.113.7"}
        async with httpx.AsyncClient(timeout=120) as client:
            answers = await asyncio.gather(*[
                client.post(f"{urls[i % 2]}/api/login", json={"username": "owner", "password": f"guess-{i}"},
                            headers=attacker) for i in range(40)])
            statuses = sorted(r.status_code for r in answers)
            assert statuses == [401] * 5 + [429] * 35, statuses
            reasons = await _reasons(rt)
            assert reasons.count("bad_credentials") == 5 and reasons.count("throttled") == 35
            assert await rt.db.fetchval("SELECT MAX(attempts) AS n FROM hoso_throttle") == 5
            # Even the right password is refused from the attacker's address...
            r = await client.post(f"{urls[0]}/api/login", json={"username": "owner", "password": PASSWORD},
                                  headers=attacker)
            assert r.status_code == 429 and r.headers["content-type"].startswith("application/problem+json")
            # ...but the owner, elsewhere, gets in.
            r = await client.post(f"{urls[1]}/api/login", json={"username": "owner", "password": PASSWORD},
                                  headers={"X-Forwarded-For": "198.51.100.2"})
            assert r.status_code == 200, r.text
        [login] = await rt.db.fetch("SELECT origin FROM hoso_audit WHERE action = 'login'")
        assert login["origin"] == "198.51.100.2"


async def test_throttled_attempts_are_not_counted(web):
    await web.user("an.owner")
    for _ in range(5):
        assert (await web.login("an.owner", "wrong-password-1")).status_code == 401
    for _ in range(30):  # an attacker keeps knocking during the window
        assert (await web.login("an.owner", "wrong-password-1")).status_code == 429
    # When the window has passed, the attempts refused during it count for nothing: the owner gets in.
    await web.rt.db.execute("UPDATE hoso_throttle SET window_start = window_start - {}", 15 * 60)
    assert (await web.login("an.owner")).status_code == 200
    assert (await _reasons(web.rt)).count("bad_credentials") == 5
    # A successful login gives its slot back and clears ended windows.
    assert await web.count("hoso_throttle") == 0


async def test_a_successful_login_is_not_counted_as_a_failure(web):
    await web.user("binh.owner")
    for _ in range(12):
        assert (await web.login("binh.owner")).status_code == 200
    for _ in range(4):
        assert (await web.login("binh.owner", "wrong-password-1")).status_code == 401
    assert (await web.login("binh.owner")).status_code == 200


@pytest.mark.slow
async def test_forwarded_for_is_believed_only_from_trusted_proxies(config_dir, database_url):
    """Issue 8, item 6: uvicorn believed X-Forwarded-For from 127.0.0.1 although hoso's switch was off."""
    async with servers(config_dir, database_url) as (rt, [url]):
        async with httpx.AsyncClient(timeout=60) as client:
            r = await client.post(f"{url}/api/login", json={"username": "owner", "password": "wrong-password-2"},
                                  headers={"X-Forwarded-For": "203.0.113.9"})
            assert r.status_code == 401
            r = await client.post(f"{url}/api/login", json={"username": "owner", "password": PASSWORD},
                                  headers={"X-Forwarded-For": "203.0.113.10"})
            assert r.status_code == 200
    origins = [r["origin"] for r in await rt.db.fetch(
        "SELECT origin FROM hoso_audit WHERE action IN ('login', 'login_failed') ORDER BY id")]
    assert origins == ["127.0.0.1", "127.0.0.1"]


def _conn(peer: str, *forwarded: str) -> ASGIConnection:
    return ASGIConnection(scope={"type": "http", "client": (peer, 1234), "path": "/", "query_string": b"",
                                 "method": "GET", "headers": [(b"x-forwarded-for", f.encode()) for f in forwarded]})


def test_client_address_walks_the_chain_of_trusted_proxies():
    none = WebSettings()
    proxies = WebSettings.from_env({"HOSO_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.1"})
    assert client_address(_conn("10.0.0.5", "203.0.113.1"), none) == "10.0.0.5"
    assert client_address(_conn("198.51.100.1", "203.0.113.1"), proxies) == "198.51.100.1"  # not a proxy
    assert client_address(_conn("10.0.0.5", "203.0.113.1"), proxies) == "203.0.113.1"
    # The client may send its own X-Forwarded-For: only the entries added by trusted proxies are believed.
    assert client_address(_conn("10.0.0.5", "1.1.1.1, 203.0.113.1, 10.2.2.2"), proxies) == "203.0.113.1"
    assert client_address(_conn("192.0.2.1", "1.1.1.1", "203.0.113.1"), proxies) == "203.0.113.1"
    assert client_address(_conn("10.0.0.5", "not-an-address"), proxies) == "10.0.0.5"
    assert client_address(_conn("10.0.0.5"), proxies) == "10.0.0.5"
    assert client_address(_conn("10.0.0.5", "10.0.0.6"), proxies) == "10.0.0.5"


def test_proxy_settings_are_checked():
    with pytest.raises(ValueError, match="HOSO_TRUSTED_PROXIES: 'proxy.local' is not an IP address"):
        WebSettings.from_env({"HOSO_TRUSTED_PROXIES": "10.0.0.1,proxy.local"})
    with pytest.raises(ValueError, match="HOSO_TRUST_FORWARDED is no longer read"):
        WebSettings.from_env({"HOSO_TRUST_FORWARDED": "1"})
    assert WebSettings.from_env({}).trusted_proxies == ()


async def test_nul_in_a_username_is_refused_audited_and_throttled(web):
    for _ in range(5):
        assert (await web.login("nul\x00user", "wrong-password-1")).status_code == 401
    assert (await web.login("nul\x00user", "wrong-password-1")).status_code == 429
    assert await _reasons(web.rt) == ["bad_credentials"] * 5 + ["throttled"]
