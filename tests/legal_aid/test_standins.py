"""The stand-ins of the population database and of VNeID answer each request in one piece: an answer written as
headers, then body, waited about 40 ms for the client's delayed acknowledgement of the first piece (Nagle's
algorithm), which every intake then paid in its population lookup."""

from __future__ import annotations

import socket
import threading

import httpx

from hoso_legal_aid.population_standin import start
from hoso_legal_aid.vneid_standin import StandInVneid


class _Sends:
    """socket.socket.send, counted per thread (the stand-ins write from their own threads)."""

    def __init__(self, monkeypatch):
        self.by_thread: dict[int, int] = {}
        original = socket.socket.send

        def send(sock, data, *args):
            tid = threading.get_ident()
            self.by_thread[tid] = self.by_thread.get(tid, 0) + 1
            return original(sock, data, *args)

        monkeypatch.setattr(socket.socket, "send", send)

    def server_side(self) -> list[int]:
        return [n for tid, n in self.by_thread.items() if tid != threading.get_ident()]


def test_the_population_stand_in_answers_in_one_piece(monkeypatch):
    server = start()
    try:
        sends = _Sends(monkeypatch)
        with httpx.Client() as client:
            for cid in ("001203004567", "001203004568", "12ab"):
                answer = client.get(f"http://127.0.0.1:{server.server_address[1]}/api/v1/citizens/{cid}")
                assert answer.status_code in (200, 400)
        assert sum(sends.server_side()) == 3  # one send per answer, kept-alive connection or not
    finally:
        server.shutdown()
        server.server_close()


def test_the_vneid_stand_in_answers_in_one_piece(monkeypatch):
    standin = StandInVneid().start()
    try:
        sends = _Sends(monkeypatch)
        with httpx.Client() as client:
            assert client.get(standin.url).status_code == 200  # what it received
            assert client.get(standin.url.replace("/results", "/nowhere")).status_code == 404
        assert sum(sends.server_side()) == 2
    finally:
        standin.stop()
