"""Structured logs with a request id.

Every request gets an id: the ``X-Request-ID`` header when a trusted reverse proxy (``HOSO_TRUSTED_PROXIES``)
sent a well-formed one, otherwise a new random one. The id is returned in the response's ``X-Request-ID``
header, appears in every log line written while the request is served, and is stored in the audit entry of
every change the request makes (``hoso.audit.REQUEST_ID``).

``HOSO_LOG_FORMAT=json`` writes one JSON object per line (``time`` in UTC, ``level``, ``logger``, ``message``,
``request_id`` and, on the line ``hoso.access`` writes for each request, ``method``, ``path``, ``route``,
``status``, ``duration_ms`` and ``client``); ``plain`` writes readable text with the same fields.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
from typing import Any

from hoso.audit import REQUEST_ID
from hoso.i18n import t
from hoso.settings import SettingError
from hoso.settings import get as setting

__all__ = ["FORMATS", "HEADER", "JsonFormatter", "PlainFormatter", "RequestIdFilter", "access_log", "log_config",
           "log_format", "new_request_id", "valid_request_id"]

HEADER = "x-request-id"
FORMATS = ("json", "plain")
# What a proxy's request id may look like: a UUID, a hex string, a trace id; nothing that could forge a log line.
_VALID_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/+=@-]{0,127}")
# Fields the access line adds to a record (``logging`` extra=...), written by both formats.
ACCESS_FIELDS = ("method", "path", "route", "status", "duration_ms", "client")

access_log = logging.getLogger("hoso.access")


def valid_request_id(value: str | None) -> bool:
    return bool(value) and _VALID_ID.fullmatch(value or "") is not None


def new_request_id() -> str:
    return os.urandom(16).hex()


def log_format(env=None) -> str:
    """``HOSO_LOG_FORMAT``, checked: ``json`` or ``plain``."""
    value = str(setting("HOSO_LOG_FORMAT", env)).strip().lower()
    if value not in FORMATS:
        raise SettingError("\n".join(t("setting_choice", lang, name="HOSO_LOG_FORMAT", raw=repr(value),
                                       choices=", ".join(FORMATS)) for lang in ("vi", "en")))
    return value


class RequestIdFilter(logging.Filter):
    """Gives every record the id of the request being served (``-`` outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = REQUEST_ID.get() or "-"
        return True


def _utc(record: logging.LogRecord) -> str:
    return dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds")


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": _utc(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or REQUEST_ID.get(),
            "pid": record.process,  # which process of `hoso serve --workers N` wrote it
        }
        for name in ACCESS_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                out[name] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


class PlainFormatter(logging.Formatter):
    """Readable text: time, level, logger, [request id], message."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "request_id"):
            record.request_id = REQUEST_ID.get() or "-"
        return super().format(record)


def log_config(fmt: str | None = None, level: str = "INFO") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for ``hoso serve`` (uvicorn's ``log_config``): every logger, uvicorn's
    included, writes to standard error in ``fmt``; uvicorn's own access line is replaced by ``hoso.access``,
    which carries the request id, the route and the duration; httpx's line per outgoing request is left out."""
    fmt = fmt or log_format()
    formatter = {"()": f"{__name__}.{'JsonFormatter' if fmt == 'json' else 'PlainFormatter'}"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": f"{__name__}.RequestIdFilter"}},
        "formatters": {"hoso": formatter},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "hoso", "filters": ["request_id"],
                                "stream": "ext://sys.stderr"}},
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True, "level": level},
            "uvicorn.error": {"handlers": [], "propagate": True, "level": level},
            "uvicorn.access": {"handlers": [], "propagate": False, "level": "WARNING"},
            # httpx writes a line per outgoing request (each VNeID delivery; the population lookup's aiohttp
            # writes none): hoso's callers log what fails, so only httpx's own warnings and errors are kept
            "httpx": {"handlers": [], "propagate": True, "level": "WARNING"},
        },
    }
