"""The cost of the request id, metrics and access log on each request, side by side in one process:
`python bench/observe.py [--requests N] [--rounds R]`.

Serves the reference configuration on a temporary SQLite file, and answers GET /healthz (no database, so the
wrapper's share is as large as it gets) through the whole application in alternating rounds: with the
observing layer (hoso.web.observe) and with Litestar's handler alone. The access lines go to a discarded
handler, as a JSON log to a collector would.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


async def _rate(client, n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        r = await client.get("/healthz")
        assert r.status_code == 200
    return n / (time.perf_counter() - started)


async def _bench(requests: int, rounds: int) -> tuple[list[float], list[float]]:
    from litestar.testing import AsyncTestClient

    from hoso.config import load_config
    from hoso.runtime import Runtime
    from hoso.server import create_app
    from hoso.web.logs import JsonFormatter, RequestIdFilter
    from tests.helpers import migrated_runtime

    handler = logging.StreamHandler(open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the run
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    access = logging.getLogger("hoso.access")
    access.handlers, access.propagate, access.level = [handler], False, logging.INFO
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        rt = await migrated_runtime(load_config(REPO), url)
        await rt.db.close()
        app = create_app(Runtime.create(REPO, url))
        observed = app.asgi_handler
        bare = observed.__closure__[[c for c in observed.__code__.co_freevars].index("inner")].cell_contents
        with_layer, without = [], []
        async with AsyncTestClient(app) as client:
            await _rate(client, 200)  # warm up
            for _ in range(rounds):
                app.asgi_handler = observed
                with_layer.append(await _rate(client, requests))
                app.asgi_handler = bare
                without.append(await _rate(client, requests))
    return with_layer, without


async def _layer_alone(n: int) -> tuple[float, float]:
    """Microseconds per request of a bare ASGI answer, wrapped by the observing layer and not."""
    import types

    from hoso.runtime import Runtime
    from hoso.web.auth import WebSettings
    from hoso.web.metrics import Metrics
    from hoso.web.observe import observe

    async def answer(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok"})

    async def sink(message):
        return None

    with tempfile.TemporaryDirectory() as tmp:
        rt = Runtime.create(REPO, f"sqlite:///{tmp}/x.db")
        holder = types.SimpleNamespace(asgi_handler=answer)
        observe(holder, Metrics(rt), WebSettings())  # type: ignore[arg-type]
        scope = {"type": "http", "method": "GET", "path": "/healthz", "path_template": "/healthz",
                 "client": ("127.0.0.1", 5000), "headers": [(b"host", b"hoso.example.vn")]}
        times = {}
        for name, app in (("with", holder.asgi_handler), ("without", answer)):
            started = time.perf_counter()
            for _ in range(n):
                await app(dict(scope), None, sink)
            times[name] = (time.perf_counter() - started) / n * 1e6
    return times["with"], times["without"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    os.environ["HOSO_DISABLE_ENTRYPOINTS"] = "1"
    logging.getLogger().setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    with_layer, without = asyncio.run(_bench(args.requests, args.rounds))
    a, b = statistics.median(with_layer), statistics.median(without)
    print(f"GET /healthz through the whole app, {args.rounds} rounds of {args.requests}: with the observing layer "
          f"{a:,.0f}/s ({1e6 / a:.0f} us), without {b:,.0f}/s ({1e6 / b:.0f} us): {1e6 / a - 1e6 / b:.0f} us per "
          "request")
    alone = [asyncio.run(_layer_alone(20_000)) for _ in range(args.rounds)]
    w, wo = statistics.median(a for a, _ in alone), statistics.median(b for _, b in alone)
    print(f"the layer alone around a bare ASGI answer, {args.rounds} rounds of 20,000: {w:.1f} us with, "
          f"{wo:.1f} us without: {w - wo:.1f} us per request")


if __name__ == "__main__":
    main()
