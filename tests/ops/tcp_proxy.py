"""A TCP proxy between hoso and PostgreSQL that a test can cut and restore, to play a database restart without
touching the real server. It runs its own event loop in a thread, so it serves whatever loop the app uses.

``cut()`` closes every open connection (as a restarting server does) and stops listening, so new connections
are refused; ``restore()`` listens again on the same port.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from urllib.parse import urlparse, urlunparse

__all__ = ["TcpProxy"]


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        with contextlib.closing(socket.socket()) as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="tcp-proxy")
        self.server: asyncio.AbstractServer | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.accepted = 0

    @classmethod
    def to(cls, url: str) -> TcpProxy:
        p = urlparse(url)
        return cls(p.hostname or "127.0.0.1", p.port or 5432)

    def url_through(self, url: str) -> str:
        """``url`` pointed at the proxy instead of the server."""
        p = urlparse(url)
        user = f"{p.username}@" if p.username else ""
        return urlunparse(p._replace(netloc=f"{user}127.0.0.1:{self.port}"))

    def _call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    def start(self) -> TcpProxy:
        self.thread.start()
        self.restore()
        return self

    def restore(self) -> None:
        self._call(self._listen())

    def cut(self) -> None:
        self._call(self._cut())

    def stop(self) -> None:
        self._call(self._cut())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)

    async def _listen(self) -> None:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", self.port, reuse_address=True)

    async def _cut(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
        for writer in list(self.writers):
            writer.close()
        self.writers.clear()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self.writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self.writers.discard(writer)
            writer.close()
