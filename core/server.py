"""The whole hoso application: the web layer (API, sign-in, pages) with the admin mounted in it.

``hoso serve`` and the tests build the application here, so the web layer never needs to know the admin.
``hoso serve`` runs it inside a ``RuntimeHolder`` (``hoso.web.runtime_holder``), which moves every surface to new
definitions after ``hoso migrate`` without a restart; with ``--workers N`` each of N processes builds its own
holder through ``app_factory`` (see docs/operations.md, "Several processes").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar import Litestar

from hoso.admin import AdminApp
from hoso.web import app as web_app
from hoso.web.app import DefinitionsDiffer, ensure_applied, start_parts
from hoso.web.auth import SERVER_OPTIONS, WebSettings
from hoso.web.runtime_holder import RuntimeHolder

if TYPE_CHECKING:  # pragma: no cover
    from hoso.runtime import Runtime

__all__ = ["create_app", "create_holder", "app_factory", "run_server", "DefinitionsDiffer", "ensure_applied",
           "APP_FACTORY"]

# What each worker process imports and calls to build its application.
APP_FACTORY = "hoso.server:app_factory"
# How long uvicorn's process manager waits for a worker to answer its health check before it kills and replaces
# the worker. A new worker answers only once its interpreter has started and imported hoso, which takes more than
# uvicorn's default of 5 s on a busy machine: every new worker was then killed before it could serve, and
# replaced, again and again.
WORKER_HEALTHCHECK_SECONDS = 60


def create_app(rt: Runtime, settings: WebSettings | None = None, *, lifespan: bool = True) -> Litestar:
    """The application for ``rt``: the web layer with the admin at /admin/ (built once from the configuration,
    rebuilt after ``hoso migrate``; see docs/admin.md). It refuses to start when the database does not match the
    configuration."""
    settings = settings or WebSettings.from_env()
    return web_app.create_app(rt, settings, parts={"admin": AdminApp(rt, settings)}, lifespan=lifespan)


def create_holder(rt: Runtime, settings: WebSettings | None = None, poll_seconds: float | None = None
                  ) -> RuntimeHolder:
    """The application of one serving process: ``create_app(rt)`` now, and a new one for the definitions each
    ``hoso migrate`` applies, swapped in without a restart."""
    settings = settings or WebSettings.from_env()
    return RuntimeHolder(rt, create_app(rt, settings),
                         lambda new: create_app(new, settings, lifespan=False), start_parts,
                         poll_seconds=poll_seconds)


def app_factory() -> RuntimeHolder:
    """A worker process's application, for the configuration and database of the environment (``HOSO_CONFIG``,
    ``HOSO_DATABASE_URL``), which ``hoso serve`` sets from its options before it starts the workers."""
    from hoso.runtime import Runtime
    from hoso.settings import get as setting

    return create_holder(Runtime.create(setting("HOSO_CONFIG"), setting("HOSO_DATABASE_URL")))


def run_server(app: Any, *, host: str, port: int, workers: int = 1, config_dir: Any = None,
               database_url: str | None = None, log_level: str = "info", log_config: dict | None = None) -> None:
    """Serve ``app`` (a holder) with uvicorn; with several ``workers``, each process builds its own from
    ``APP_FACTORY`` for ``config_dir`` and ``database_url`` (handed to them in the environment). ``log_config``
    (``hoso.web.logs.log_config``) formats every process's log lines."""
    import os

    import uvicorn

    logs: dict[str, Any] = {"log_config": log_config} if log_config is not None else {}
    if workers > 1:
        given = {"HOSO_CONFIG": None if config_dir is None else str(config_dir), "HOSO_DATABASE_URL": database_url}
        os.environ.update({name: value for name, value in given.items() if value is not None})
        options: dict[str, Any] = dict(factory=True, workers=workers, host=host, port=port, log_level=log_level,
                                       timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS, **logs,
                                       **SERVER_OPTIONS)
        if _spread_workers():
            serve_spread(uvicorn.Config(APP_FACTORY, **options))
        else:
            uvicorn.run(APP_FACTORY, **options)
    else:
        uvicorn.run(app, host=host, port=port, log_level=log_level, **logs, **SERVER_OPTIONS)


def _spread_workers() -> bool:
    """Whether each worker gets a listening socket of its own: on Linux, where SO_REUSEPORT spreads connections."""
    import socket
    import sys

    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def serve_spread(config: Any) -> None:
    """uvicorn's process manager with a listening socket of its own for each worker, all bound to the port with
    SO_REUSEPORT, so that the kernel spreads new connections over the workers. With the one socket uvicorn shares,
    the first worker to wake accepted every connection then waiting: the intake benchmark's 24 connections all
    went to one of two workers (15 s of its CPU against 0.03 s for the other).

    The manager makes each worker from its ``sockets``: here a new socket at each reading. The manager's own copy
    of a started worker's socket is closed at the next reading or at the next round of its health checks (the
    worker holds the socket from its start), so that a worker's socket closes with it and no connection waits on a
    socket nobody accepts from."""
    import logging
    import socket

    from uvicorn.supervisors import Multiprocess

    def bind() -> socket.socket:
        family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((config.host, config.port))  # the worker listens once it serves (asyncio/uvloop's listen)
        except OSError:
            sock.close()
            raise
        sock.set_inheritable(True)
        return sock

    class Spread(Multiprocess):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self.handed: list[socket.socket] = []
            super().__init__(*args, **kwargs)

        def _close_handed(self) -> None:
            while self.handed:
                self.handed.pop().close()

        @property
        def sockets(self) -> list[socket.socket]:
            self._close_handed()  # the worker made with the previous one has started
            sock = bind()
            self.handed.append(sock)
            return [sock]

        @sockets.setter
        def sockets(self, value: list[socket.socket]) -> None:
            pass  # each reading binds a new socket

        def keep_subprocess_alive(self) -> None:
            self._close_handed()
            super().keep_subprocess_alive()

    logging.getLogger("uvicorn.error").info(
        "Uvicorn running on http://%s:%d with %d workers, a socket each (Press CTRL+C to quit)", config.host,
        config.port, config.workers)
    Spread(config, sockets=[]).run()
