"""``hoso report``: list the report templates and run one to JSON, CSV or XLSX.

Attached to the main command in core/cli.py with ``main.add_command(report)``. Without ``--as`` a run has the
operator's full scope (the person at the server's command line); with ``--as USER`` it has that account's scope,
as the account would see it in the admin or through the API. Bad parameters exit with status 2 and name each one.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from hoso._cli_common import CONFIG_OPTION, DB_OPTION, console, err_console
from hoso._cli_common import run as _run
from hoso._cli_common import runtime as _runtime
from hoso._cli_common import with_db as _with_db
from hoso.i18n import t
from hoso.jsonconv import json_ready
from hoso.records.context import RecordContext
from hoso.reports.engine import run_report
from hoso.reports.model import ReportError, ReportResult
from hoso.reports.params import FORMATS, checked_request, runnable
from hoso.reports.render import to_csv, write_xlsx
from hoso.scope import ScopeDenied

__all__ = ["report"]

AS_OPTION = click.option("--as", "as_user", default=None, metavar="USER",
                         help="Run with this account's scope (default: the operator's full scope).")
LANG_OPTION = click.option("--lang", type=click.Choice(["vi", "en"]), default="vi", show_default=True,
                           help="Language of the labels.")


@click.group()
def report() -> None:
    """Reports: the templates of forms_config/reports/, run to JSON, CSV or XLSX."""


class BadInput(Exception):
    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems


def _bad(problems: list[tuple[str, str]]) -> NoReturn:
    for name, message in problems:
        err_console.print(f"{name}: {message}", markup=False, soft_wrap=True)
    sys.exit(2)


async def _context(rt, username: str | None, lang: str) -> RecordContext:
    if username is None:
        return RecordContext(rt.config, None, "operator", "cli", lang, True)
    rows = await rt.db.fetch("SELECT id, username, locked, superuser FROM hoso_user WHERE username = {}", username)
    if not rows:
        raise BadInput([("--as", t("report_no_user", lang, name=username))])
    row = rows[0]
    if row["locked"]:
        raise BadInput([("--as", t("report_no_user", lang, name=username))])
    return RecordContext(rt.config, row["id"], row["username"], "cli", lang, bool(row["superuser"]))


@report.command("list")
@CONFIG_OPTION
@DB_OPTION
@AS_OPTION
@LANG_OPTION
def list_cmd(config_dir, database_url, as_user, lang):
    """List the reports (those USER may run, with --as)."""
    rt = _runtime(config_dir, database_url)

    async def go():
        return await runnable(rt, await _context(rt, as_user, lang))

    try:
        reports = _run(_with_db(rt, go))
    except BadInput as exc:
        _bad(exc.problems)
    if not reports:
        console.print(t("report_none_to_run", lang), markup=False)
    for r in reports:
        console.print(f"{r.name}  {r.label.get(lang)}  ({r.entity})", markup=False, soft_wrap=True)


def _filters(pairs: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise BadInput([("--filter", f"{pair!r}: FIELD=VALUE or FIELD__OP=VALUE")])
        name, _, op = key.partition("__")
        out.setdefault(name, {})[op or "eq"] = value.split(",") if op == "in" else value
    return out


@report.command("run")
@CONFIG_OPTION
@DB_OPTION
@click.argument("name")
@click.option("--period", default=None, help="2025, 2025-H1, 2025-Q3, 2025-07 (default: all records).")
@click.option("--unit", default=None, metavar="CODE", help="Only this unit's subtree (default: the whole scope).")
@click.option("--as-of", "as_of", default=None, metavar="T",
              help="The records as they stood then: YYYY-MM-DD or YYYY-MM-DDTHH:MM (Asia/Ho_Chi_Minh).")
@click.option("--structure", default=None, metavar="recorded|DATE",
              help="recorded (default), or YYYY-MM-DD: mapped to the unit structure of that date.")
@click.option("--level", default=None, help="Hierarchy level the unit rows roll up to.")
@click.option("--filter", "filters", multiple=True, metavar="FIELD[__OP]=VALUE",
              help="A filter on one of the template's filter fields (repeatable).")
@click.option("--format", "fmt", default="json", show_default=True, help="json, csv or xlsx.")
@click.option("--output", "-o", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file (default: standard output).")
@AS_OPTION
@LANG_OPTION
def run_cmd(config_dir, database_url, name, period, unit, as_of, structure, level, filters, fmt, output, as_user,
            lang):
    """Run report NAME and write it as JSON (each row and the grand total), CSV or XLSX."""
    if fmt not in FORMATS:
        _bad([("--format", t("report_bad_format", lang, value=fmt))])
    rt = _runtime(config_dir, database_url)

    async def go() -> ReportResult:
        problems: list[tuple[str, str]] = []
        parsed: dict = {}
        try:
            parsed = _filters(filters)
        except BadInput as exc:
            problems += exc.problems
        ctx = await _context(rt, as_user, lang)
        try:
            request = await checked_request(rt, ctx, name, period=period, unit=unit, as_of=as_of,
                                            structure=structure, level=level, filters=parsed, lang=lang)
            if problems:
                raise BadInput(problems)
            return await run_report(rt, ctx, request)
        except ReportError as exc:
            raise BadInput([(_option(p), m) for p, m in exc.problems] + problems) from None

    try:
        result = _run(_with_db(rt, go))
    except BadInput as exc:
        _bad(exc.problems)
    except ScopeDenied as exc:
        err_console.print(f"{t('no_access', lang)}: {exc}", markup=False, soft_wrap=True)
        sys.exit(2)
    if fmt == "xlsx":
        if output is not None:
            write_xlsx(result, str(output))
        else:
            buf = io.BytesIO()
            write_xlsx(result, buf)
            sys.stdout.buffer.write(buf.getvalue())
            sys.stdout.buffer.flush()
        return
    text = to_csv(result) if fmt == "csv" else json.dumps(json_ready(result.to_json()), ensure_ascii=False,
                                                          indent=2) + "\n"
    if output is not None:
        output.write_text(text, encoding="utf-8", newline="")
    else:
        sys.stdout.write(text)
        sys.stdout.flush()


_OPTIONS = {"as_of": "--as-of", "period": "--period", "unit": "--unit", "structure": "--structure",
            "level": "--level", "report": "NAME"}


def _option(parameter: str) -> str:
    return _OPTIONS.get(parameter, f"--filter {parameter.removeprefix('filters.')}")
