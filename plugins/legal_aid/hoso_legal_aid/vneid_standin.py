"""A stand-in for VNeID's result endpoint, for demonstrations and tests: real HTTP on the loopback interface.

``POST /results`` with an ``Idempotency-Key`` header records the delivery under its key, once: a delivery whose
key it already holds is answered 200 again (``"duplicate": true``) and not recorded a second time. It can be
told to fail (``fail_next(n)``: the next n deliveries are refused with 503 before being recorded;
``lose_next(n)``: recorded, then answered 503, as when the answer is lost on the way back; ``reject_next(n,
status)``: the next n deliveries are refused with that status, 422 by default, as a receiver finding the message
wrong) or to be down (``stop()``: the port refuses connections). With ``conflict_on_repeat(True)`` a delivery
whose key it holds is answered 409 ``{"error": "already_delivered", "key": ...}`` instead of 200.
``GET /results`` lists what it holds; ``POST /control`` with ``{"fail": n}``, ``{"lose": n}``,
``{"reject": n, "status": 400}``, ``{"conflict_on_repeat": true}`` changes its behaviour from outside. For a
demonstration: ``python -m hoso_legal_aid.vneid_standin --port 8765``.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["StandInVneid"]


class StandInVneid:
    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.host, self.port = host, port
        self.deliveries: dict[str, dict] = {}  # key -> payload, recorded once
        self.attempts: list[str] = []  # every key received, in order, repeats included
        self._fail = 0
        self._lose = 0
        self._reject = 0
        self._reject_status = 422
        self._conflict_on_repeat = False
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/results"

    def fail_next(self, n: int) -> None:
        with self._lock:
            self._fail = n

    def lose_next(self, n: int) -> None:
        with self._lock:
            self._lose = n

    def reject_next(self, n: int, status: int = 422) -> None:
        with self._lock:
            self._reject, self._reject_status = n, status

    def conflict_on_repeat(self, on: bool) -> None:
        with self._lock:
            self._conflict_on_repeat = on

    def start(self) -> StandInVneid:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            # One piece per answer, sent at once (see hoso_legal_aid.population_standin).
            wbufsize = 64 * 1024
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
                pass

            def _send(self, status: int, body: Any) -> None:
                data = json.dumps(body, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                if self.path != "/results":
                    self._send(404, {"error": "not found"})
                    return
                with owner._lock:
                    self._send(200, {"deliveries": owner.deliveries, "attempts": len(owner.attempts)})

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if 0 < length <= 1_000_000 else b""
                try:
                    body = json.loads(raw or b"null")
                except ValueError:
                    self._send(400, {"error": "body is not JSON"})
                    return
                if self.path == "/control":
                    if isinstance(body, dict):
                        owner.fail_next(int(body.get("fail", 0)))
                        owner.lose_next(int(body.get("lose", 0)))
                        owner.reject_next(int(body.get("reject", 0)), int(body.get("status", 422)))
                        owner.conflict_on_repeat(bool(body.get("conflict_on_repeat", False)))
                    self._send(200, {"ok": True})
                    return
                if self.path != "/results":
                    self._send(404, {"error": "not found"})
                    return
                key = self.headers.get("Idempotency-Key")
                if not key or not isinstance(body, dict):
                    self._send(400, {"error": "an Idempotency-Key header and a JSON object are required"})
                    return
                answer: dict[str, Any]
                with owner._lock:
                    owner.attempts.append(key)
                    if owner._reject > 0:
                        owner._reject -= 1
                        status, answer = owner._reject_status, {"error": "rejected", "detail": "the result is invalid"}
                    elif owner._fail > 0:
                        owner._fail -= 1
                        status, answer = 503, {"error": "temporarily unavailable"}
                    elif owner._conflict_on_repeat and key in owner.deliveries:
                        status, answer = 409, {"error": "already_delivered", "key": key}
                    else:
                        duplicate = key in owner.deliveries
                        owner.deliveries.setdefault(key, body)
                        status, answer = 200, {"ok": True, "duplicate": duplicate}
                        if owner._lose > 0:
                            owner._lose -= 1
                            status, answer = 503, {"error": "answer lost"}
                self._send(status, answer)

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="vneid-standin", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Down: the port is closed (deliveries are refused at connection); ``start()`` brings it back on the
        same port, keeping what it recorded."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None


def main(argv: list[str] | None = None) -> None:
    import argparse
    import time

    parser = argparse.ArgumentParser(description="A stand-in VNeID receiver: records each result once per "
                                     "Idempotency-Key. Point hoso at it with HOSO_VNEID_URL=http://HOST:PORT/results.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args(argv)
    server = StandInVneid(args.host, args.port).start()
    print(f"VNeID stand-in: {server.url} (POST /control {{\"fail\": n}} refuses the next n)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
