"""``hoso import ENTITY FILE``: import records from a CSV or XLSX file, after a preview of every problem.

Attached to the main command in core/cli.py with ``main.add_command(import_command)``. Without ``--as`` the import
has the operator's full scope; with ``--as USER`` it has that account's roles and scope, and records go only into
units where the account may create. Exit status: 0 when the file was imported (or, with ``--dry-run``, would
import without a problem), 2 when problems stopped it (nothing written), 1 on a failure of the system.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.progress import TaskID

from hoso._cli_common import CONFIG_OPTION, DB_OPTION, console, err_console, progress
from hoso._cli_common import run as _run
from hoso._cli_common import runtime as _runtime
from hoso._cli_common import with_db as _with_db
from hoso.i18n import t
from hoso.importing import DEFAULT_BATCH, FileProblem, ImportOptions, ImportResult, import_file, read_table
from hoso.records.context import RecordContext
from hoso.records.errors import Forbidden, NotFound

__all__ = ["import_command"]


class _Refused(Exception):
    def __init__(self, where: str, message: str):
        self.where = where
        super().__init__(message)


async def _actor(rt, username: str | None, lang: str) -> RecordContext:
    if username is None:
        return RecordContext(rt.config, None, "operator", "cli", lang, True)
    rows = await rt.db.fetch("SELECT id, username, locked, superuser FROM hoso_user WHERE username = {}", username)
    if not rows or rows[0]["locked"]:
        raise _Refused("--as", t("report_no_user", lang, name=username))
    row = rows[0]
    return RecordContext(rt.config, row["id"], row["username"], "cli", lang, bool(row["superuser"]))


def _print_problems(result: ImportResult, lang: str) -> None:
    for p in result.problems:
        where = t("import_file_problem", lang) if p.row is None else t("import_row", lang, row=p.row)
        column = f", {p.column}" if p.column else ""
        err_console.print(f"{where}{column}: {p.message}", markup=False, soft_wrap=True)


@click.command("import")
@click.argument("entity")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@CONFIG_OPTION
@DB_OPTION
@click.option("--as", "as_user", default=None, metavar="USER",
              help="Import as this account, with its roles and scope (default: the operator's full scope).")
@click.option("--key", default=None, metavar="FIELD",
              help="A field whose value identifies a record: rows whose key a record already holds are skipped.")
@click.option("--skip-bad", is_flag=True, help="Write the good rows and leave the rows with problems.")
@click.option("--dry-run", is_flag=True, help="Show the problems and what would be written; write nothing.")
@click.option("--ignore", "ignore", multiple=True, metavar="COLUMN",
              help="Leave out this column (an unknown header, or a field the system fills); repeatable.")
@click.option("--batch", type=click.IntRange(1, 10_000), default=DEFAULT_BATCH, show_default=True,
              help="Records written per transaction.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--lang", type=click.Choice(["vi", "en"]), default="vi", show_default=True,
              help="Language of the messages.")
def import_command(entity, file, config_dir, database_url, as_user, key, skip_bad, dry_run, ignore, batch, as_json,
                   lang):
    """Import ENTITY records from FILE (CSV or XLSX): columns by label or name, every problem listed by row and
    column before anything is written."""
    try:
        data = file.read_bytes()
    except OSError as exc:
        if isinstance(exc, FileNotFoundError):
            message = t("import_file_missing", lang)
        else:
            message = t("import_unreadable", lang, reason=exc.strerror or type(exc).__name__)
        err_console.print(f"{file}: {message}", markup=False, soft_wrap=True)
        sys.exit(2)
    try:
        table = read_table(file.name, data, lang)
    except FileProblem as exc:
        err_console.print(f"{file}: {exc}", markup=False, soft_wrap=True)
        sys.exit(2)
    rt = _runtime(config_dir, database_url)
    options = ImportOptions(key=key, skip_bad=skip_bad, ignore=frozenset(ignore), dry_run=dry_run, batch=batch)

    async def go() -> ImportResult:
        ctx = await _actor(rt, as_user, lang)
        with progress() as bar:
            tasks: dict[str, TaskID] = {}

            def advance(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    label = t("import_checking" if stage == "check" else "import_writing", lang)
                    tasks[stage] = bar.add_task(label, total=total)
                bar.update(tasks[stage], completed=done, total=total)

            return await import_file(rt, ctx, entity, table, options, advance)

    try:
        result = _run(_with_db(rt, go))
    except _Refused as exc:
        err_console.print(f"{exc.where}: {exc}", markup=False, soft_wrap=True)
        sys.exit(2)
    except (NotFound, Forbidden) as exc:
        err_console.print(f"{entity}: {exc}", markup=False, soft_wrap=True)
        sys.exit(2)
    _print_problems(result, lang)
    if as_json:
        console.print_json(json.dumps(result.as_json(), ensure_ascii=False))
    elif result.import_id is not None:
        console.print(t("import_summary", lang, rows=result.rows, created=result.created,
                        duplicates=result.duplicates, skipped=result.skipped, empty=result.empty), markup=False,
                      soft_wrap=True)
    else:
        console.print(t("import_preview_summary", lang, rows=result.rows, would=result.would_create,
                        duplicates=result.duplicates, bad=len(result.bad_rows), empty=result.empty), markup=False,
                      soft_wrap=True)
    if result.stopped:
        err_console.print(t("import_stopped", lang), markup=False, soft_wrap=True)
        sys.exit(2)
    if result.problems and result.import_id is None:
        if not dry_run:
            err_console.print(t("import_nothing_written", lang), markup=False, soft_wrap=True)
        sys.exit(2)
