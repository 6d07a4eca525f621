"""GET /outreach/summary: this year's sessions in the caller's scope, as JSON."""

from __future__ import annotations

from litestar import Request, get
from litestar.exceptions import ValidationException

from hoso.web.api import request_context
from hoso_outreach.messages import text
from hoso_outreach.summary import summarise


@get("/outreach/summary", tags=["outreach"])
async def outreach_summary(request: Request, year: int | None = None) -> dict:
    """Sessions held in ``year`` (default: this year) that the caller may read."""
    context = await request_context(request)  # 401 without a session or token
    year = context.today.year if year is None else year
    if not 2000 <= year <= 2100:
        raise ValidationException(detail=text("bad_year", context.lang, year=year))
    return await summarise(request.app.state.rt.records(), context, year)
