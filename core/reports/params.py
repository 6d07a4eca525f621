"""A report's parameters as the API, the command line and the admin page receive them: text, checked here once.

``report_request`` turns the text of each parameter into a ``ReportRequest``, or raises ``ReportError`` naming
every bad parameter at once (nothing runs); ``runnable`` lists the reports an actor may run (a role granting
``run_reports`` on the report's entity, in any scope, statistics included).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hoso.config import ReportDef
from hoso.i18n import t
from hoso.records.access import Access
from hoso.records.context import LOCAL_ZONE, RecordContext
from hoso.reports.model import ReportError, ReportRequest
from hoso.reports.periods import resolve_period

if TYPE_CHECKING:  # pragma: no cover
    from hoso.runtime import Runtime

__all__ = ["FORMATS", "report_def", "report_request", "parse_as_of", "parse_structure", "runnable"]

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
    raise ReportError([("structure", t("report_bad_structure", lang, value=text))])


def report_request(rt: Runtime, name: str, *, period: str | None = None, unit: str | None = None,
                   as_of: str | None = None, structure: str | None = None, level: str | None = None,
                   filters: Mapping[str, Any] | None = None, lang: str = "vi") -> ReportRequest:
    """The request the parameters describe; ReportError listing every bad one (the report first)."""
    report = report_def(rt, name, lang)
    problems: list[tuple[str, str]] = []
    at = None
    if as_of not in (None, ""):
        try:
            at = parse_as_of(as_of, lang)  # type: ignore[arg-type]
        except ReportError as exc:
            problems += exc.problems
    shape = "recorded"
    if structure not in (None, ""):
        try:
            shape = parse_structure(structure, lang)  # type: ignore[arg-type]
        except ReportError as exc:
            problems += exc.problems
    if period not in (None, ""):
        try:
            resolve_period(rt, report, period)
        except ReportError as exc:
            problems += exc.problems
    levels = rt.config.hierarchy.levels if rt.config.hierarchy else ()
    if level not in (None, "") and level not in levels:
        problems.append(("level", t("not_an_option", lang, value=level, options=", ".join(levels))))
    for key in filters or {}:
        if key not in report.filters:
            problems.append((key, t("report_bad_filter", lang, name=key, fields=", ".join(report.filters) or "-")))
    if problems:
        raise ReportError(problems)
    return ReportRequest(report=name, period=period or None, unit=(unit or "").strip() or None, as_of=at,
                         structure=shape, level=level or None, filters=dict(filters) if filters else None,
                         lang=lang if lang in LANGS else "vi")


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
