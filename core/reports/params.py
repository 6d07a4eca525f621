"""A report's parameters as the API, the command line and the admin page receive them: text, checked here once.

``checked_request`` turns the text of each parameter into a ``ReportRequest``, or raises ``ReportError`` naming
every bad parameter at once (nothing runs; the engine checks the period, unit, level and filters);
``runnable`` lists the reports an actor may run (a role granting
``run_reports`` on the report's entity, in any scope, statistics included).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from hoso.config import ReportDef
from hoso.i18n import t
from hoso.records.access import Access
from hoso.records.context import LOCAL_ZONE, RecordContext
from hoso.reports.engine import compile_report
from hoso.reports.model import ReportError, ReportRequest

if TYPE_CHECKING:  # pragma: no cover
    from hoso.runtime import Runtime

__all__ = ["FORMATS", "report_def", "report_request", "checked_request", "parse_as_of", "parse_structure",
           "runnable"]

FORMATS = ("json", "csv", "xlsx")
LANGS = ("vi", "en")


def report_def(rt: Runtime, name: str, lang: str = "vi") -> ReportDef:
    for r in rt.config.reports:
        if r.name == name:
            return r
    raise ReportError([("report", t("report_unknown", lang, name=name))])


def parse_as_of(text: str, lang: str = "vi") -> dt.datetime:
    """``YYYY-MM-DD`` (the end of that day) or an ISO time; a time without a zone is Asia/Ho_Chi_Minh's."""
    value = text.strip()
    try:
        if len(value) == 10:
            day = dt.date.fromisoformat(value)
            at = dt.datetime.combine(day, dt.time(23, 59, 59, 999999))
        else:
            at = dt.datetime.fromisoformat(value.replace(" ", "T", 1) if "T" not in value else value)
    except ValueError:
        raise ReportError([("as_of", t("report_bad_as_of", lang, value=text))]) from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=LOCAL_ZONE)
    return at


def parse_structure(text: str, lang: str = "vi") -> str:
    value = text.strip()
    if value == "recorded":
        return value
    try:
        return dt.date.fromisoformat(value).isoformat() if len(value) == 10 else _bad_structure(text, lang)
    except ValueError:
        return _bad_structure(text, lang)


def _bad_structure(text: str, lang: str) -> str:
    raise ReportError([("structure", t("report_structure", lang, value=text))])


def report_request(rt: Runtime, name: str, *, period: str | None = None, unit: str | None = None,
                   as_of: str | None = None, structure: str | None = None, level: str | None = None,
                   filters: Mapping[str, Any] | None = None,
                   lang: str = "vi") -> tuple[ReportRequest, list[tuple[str, str]]]:
    """The request the parameters describe, and the problems of the ones parsed here (``as_of``, ``structure``;
    those are left at their defaults in the request). An unknown report raises ReportError at once."""
    report_def(rt, name, lang)
    problems: list[tuple[str, str]] = []
    at = None
    if as_of not in (None, ""):
        try:
            at = parse_as_of(as_of, lang)
        except ReportError as exc:
            problems += exc.problems
    shape = "recorded"
    if structure not in (None, ""):
        try:
            shape = parse_structure(structure, lang)
        except ReportError as exc:
            problems += exc.problems
    request = ReportRequest(report=name, period=(period or "").strip() or None, unit=(unit or "").strip() or None,
                            as_of=at, structure=shape, level=(level or "").strip() or None,
                            filters=dict(filters) if filters else None, lang=lang if lang in LANGS else "vi")
    return request, problems


async def checked_request(rt: Runtime, ctx: RecordContext, name: str, *, problems: Sequence[tuple[str, str]] = (),
                          **params: Any) -> ReportRequest:
    """``report_request``, with ``problems`` found by the caller (a file format, a filter operator): when there is
    any, the engine's checks of the other parameters (period, unit, level, filters) are added and ReportError names
    them all at once, without running the report. ScopeDenied when the actor may not run it."""
    request, own = report_request(rt, name, **params)
    found = [*problems, *own]
    if found:
        try:
            await compile_report(rt, ctx, request)
        except ReportError as exc:
            found += exc.problems
        raise ReportError(found)
    return request


async def runnable(rt: Runtime, ctx: RecordContext) -> list[ReportDef]:
    """The reports ``ctx``'s actor may run, in configuration order."""
    if ctx.superuser:
        return list(rt.config.reports)
    roles = await Access(rt, ctx).roles()
    out = []
    for r in rt.config.reports:
        if any(roles.intersection(held) for held in rt.scope.roles_for(r.entity, "run_reports").values()):
            out.append(r)
    return out
