"""The unit tree of a date over HTTP: ``GET /api/units?on=YYYY-MM-DD`` (read-only).

Every unit open on that date (default: today) with its parent that date, read from the dated parent links that
unit loading and restructurings write (``hoso.units.structure_at``): the tree before a restructuring's effective
date is the old one, whenever the change set was applied."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Request, Response, get
from litestar.params import FromQuery

from hoso.i18n import local_today, t
from hoso.jsonconv import json_ready
from hoso.units import structure_at
from hoso.web.api import request_context
from hoso.web.problems import problem, request_lang

__all__ = ["units_on"]

_FIELDS = ("id", "code", "name_vi", "name_en", "type", "parent_id", "parent_code", "valid_from", "valid_to")


@get("/api/units", tags=["units"], summary="The unit tree of a date")
async def units_on(request: Request, on: FromQuery[str | None] = None) -> Response[dict[str, Any]]:
    """Every unit open on ``on`` (YYYY-MM-DD, default today) with its parent on that date, ordered by code."""
    await request_context(request)  # any signed-in user or token; 401 otherwise
    day = local_today()
    if on is not None:
        try:
            day = dt.date.fromisoformat(on)
        except ValueError:
            message = t("structure_on_bad", request_lang(request), value=on[:40])
            return problem(400, message, errors=[{"field": "on", "message": message}])
    units = await structure_at(request.app.state.rt, day)
    return Response({"on": day.isoformat(), "units": [json_ready({k: u[k] for k in _FIELDS}) for u in units]})
