"""The population lookup's HTTP client: one pool of kept-alive connections per event loop, closed with its loop;
every answer that is not the interface's is the service being unavailable (the intake then falls back), never an
error of the request. The timeout and the outage are in tests/test_legal_aid_intake.py."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from hoso_legal_aid import population
from hoso_legal_aid.population import PopulationUnavailable, lookup
from hoso_legal_aid.population_standin import start

KNOWN = "001203004567"  # a citizen the stand-in holds


class _Counted:
    """The stand-in, counting the connections it accepted."""

    def __init__(self):
        self.server = start()
        self.accepted = 0
        accept = self.server.get_request

        def get_request():
            self.accepted += 1
            return accept()

        self.server.get_request = get_request
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_lookups_of_one_loop_share_a_kept_alive_connection_and_the_pool_closes_with_the_loop():
    standin = _Counted()
    try:
        async def lookups():
            found = [await lookup(KNOWN, url=standin.url, timeout=5) for _ in range(20)]
            return found, await population._session()

        found, session = asyncio.run(lookups())
        assert {f.citizen_id for f in found} == {KNOWN} and found[0].full_name
        assert standin.accepted == 1  # twenty lookups, one connection
        assert session.closed  # asyncio.run closed the loop's pool before the loop

        again, other = asyncio.run(lookups())  # a new loop: a pool of its own
        assert other is not session and other.closed and standin.accepted == 2
        assert again == found
    finally:
        standin.close()


class _Answers(BaseHTTPRequestHandler):
    status, body, content_type = 200, b"", "application/json"

    def do_GET(self):  # noqa: N802 (the standard library's name)
        self.send_response(self.status)
        self.send_header("Content-Type", self.content_type)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format, *args):  # noqa: A002 (the standard library's name)
        pass


@pytest.mark.parametrize(("status", "body", "content_type", "says"), [
    (500, b"boom", "text/plain", "answered 500"),
    (503, b"", "text/plain", "answered 503"),
    (200, b"<html>maintenance</html>", "text/html", "does not define"),
    (200, b'{"citizen_id": "001203004567"}', "application/json", "does not define"),  # no name
    (200, b"[1, 2]", "application/json", "does not define"),
    (200, b'{"citizen_id": "1", "full_name": "A", "date_of_birth": "31/12/1990"}', "application/json",
     "does not define"),
    (200, b'{"citizen_id": "001203004567", "full_name": "' + b"A" * (70 * 2**10) + b'"}', "application/json",
     "over 65536 bytes"),
])
def test_an_answer_that_is_not_the_interfaces_is_the_service_unavailable(status, body, content_type, says):
    handler = type("Handler", (_Answers,), {"status": status, "body": body, "content_type": content_type})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with pytest.raises(PopulationUnavailable, match=says):
            asyncio.run(lookup(KNOWN, url=f"http://127.0.0.1:{server.server_address[1]}", timeout=5))
    finally:
        server.shutdown()
        server.server_close()


class _InTwoParts(_Answers):
    """An answer whose body comes in two packets, the second a moment after the first."""

    def do_GET(self):  # noqa: N802 (the standard library's name)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        half = len(self.body) // 2
        self.wfile.write(self.body[:half])
        self.wfile.flush()
        time.sleep(0.2)
        self.wfile.write(self.body[half:])


def test_an_answer_in_several_packets_is_read_whole():
    body = '{"citizen_id": "001203004567", "full_name": "Lò Văn Pả", "date_of_birth": "1990-12-31"}'.encode()
    handler = type("Handler", (_InTwoParts,), {"body": body})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        found = asyncio.run(lookup(KNOWN, url=f"http://127.0.0.1:{server.server_address[1]}", timeout=5))
    finally:
        server.shutdown()
        server.server_close()
    assert found is not None and found.full_name == "Lò Văn Pả" and found.date_of_birth == dt.date(1990, 12, 31)


@pytest.mark.parametrize("url", ["http://", "ftp://127.0.0.1:1", "http://127.0.0.1:notaport"])
def test_an_address_that_cannot_be_reached_is_the_service_unavailable(url):
    with pytest.raises(PopulationUnavailable):
        asyncio.run(lookup(KNOWN, url=url, timeout=2))


def test_a_citizen_the_service_does_not_hold_is_none():
    standin = _Counted()
    try:
        assert asyncio.run(lookup("000000000000", url=standin.url, timeout=5)) is None
    finally:
        standin.close()


@pytest.mark.parametrize("citizen_id", ["../admin", "001203004567/../x", "00120300456", "0012030045678",
                                        "001203004567?x=1", "00120300456\x00", "１２３４５６７８９０１２", ""])
def test_only_a_citizen_id_of_12_digits_goes_into_the_address(citizen_id):
    standin = _Counted()
    try:
        with pytest.raises(ValueError, match="12 digits"):
            asyncio.run(lookup(citizen_id, url=standin.url, timeout=5))
        assert standin.accepted == 0  # nothing was asked
    finally:
        standin.close()
