"""A stand-in of the national population database lookup, for tests, the demonstration and benchmarks.

It answers the interface written down in docs/legal-aid.md: ``GET /api/v1/citizens/<12 digits>`` gives the
identity as JSON, 404 for a citizen ID it does not hold, 400 for one that is not 12 digits. Its people are made
up from the citizen ID itself (the same ID always gives the same person), except that IDs starting ``000``
are held by nobody; ``people`` adds or overrides identities. ``delay`` makes every answer wait that many seconds.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["serve", "start", "person"]

_FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Lò", "Quàng", "Giàng", "Sùng"]
_MIDDLE = ["Văn", "Thị", "Đức", "Minh", "Thu", "Ngọc"]
_GIVEN = ["An", "Bình", "Chi", "Dũng", "Hà", "Hùng", "Lan", "Mai", "Nam", "Pả", "Sính", "Xuân"]
_PLACES = ["Phường Mường Thanh, tỉnh Điện Biên", "Xã Mường Nhé, tỉnh Điện Biên", "Phường Cam Đường, tỉnh Lào Cai",
           "Xã Bát Xát, tỉnh Lào Cai", "Phường Ba Đình, Thành phố Hà Nội"]


def person(citizen_id: str) -> dict[str, Any] | None:
    """The made-up identity of ``citizen_id`` (None: nobody holds it)."""
    if citizen_id.startswith("000"):
        return None
    h = hashlib.sha256(citizen_id.encode()).digest()
    female = h[0] % 2 == 1
    middle = "Thị" if female else _MIDDLE[h[1] % len(_MIDDLE)]
    year = 1940 + h[2] % 66
    return {"citizen_id": citizen_id,
            "full_name": f"{_FAMILY[h[3] % len(_FAMILY)]} {middle} {_GIVEN[h[4] % len(_GIVEN)]}",
            "date_of_birth": f"{year:04d}-{1 + h[5] % 12:02d}-{1 + h[6] % 28:02d}",
            "gender": "female" if female else "male",
            "address": _PLACES[h[7] % len(_PLACES)]}


def _handler(delay: float, people: dict[str, dict | None]):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # The answer leaves in one piece when the request is done (headers and body written separately waited
        # about 40 ms each time for the client's delayed acknowledgement of the first: Nagle's algorithm).
        wbufsize = 64 * 1024
        disable_nagle_algorithm = True

        def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
            if delay:
                time.sleep(delay)
            prefix = "/api/v1/citizens/"
            if not self.path.startswith(prefix):
                return self._answer(404, {"error": "not_found"})
            cid = self.path[len(prefix):]
            if len(cid) != 12 or not cid.isdigit():
                return self._answer(400, {"error": "bad_citizen_id"})
            found = people[cid] if cid in people else person(cid)
            if found is None:
                return self._answer(404, {"error": "not_found"})
            return self._answer(200, found)

        def _answer(self, status: int, body: dict) -> None:
            data = json.dumps(body, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            try:
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client stopped waiting (its timeout)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the standard library's name)
            pass

    return Handler


def serve(host: str = "127.0.0.1", port: int = 0, *, delay: float = 0.0,
          people: dict[str, dict | None] | None = None) -> ThreadingHTTPServer:
    """The stand-in bound to ``host``:``port`` (0: a free port), not yet serving."""
    server = ThreadingHTTPServer((host, port), _handler(delay, dict(people or {})))
    server.daemon_threads = True
    return server


def start(host: str = "127.0.0.1", port: int = 0, **kw: Any) -> ThreadingHTTPServer:
    """The stand-in serving in a thread of its own; stop it with ``shutdown()`` and ``server_close()``."""
    server = serve(host, port, **kw)
    threading.Thread(target=server.serve_forever, daemon=True, name="population-standin").start()
    return server
