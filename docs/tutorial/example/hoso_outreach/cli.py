"""``hoso outreach-summary``: the sessions held in a year, across the whole system."""

from __future__ import annotations

import asyncio
import os

import click

from hoso_outreach.messages import both


@click.command("outreach-summary")
@click.option("--year", type=click.IntRange(2000, 2100), default=None,
              help="Năm / year (default: this year).")
@click.option("--config", "config_dir", envvar="HOSO_CONFIG", default=None,
              type=click.Path(file_okay=False), help="Configuration root (env HOSO_CONFIG).")
@click.option("--database", "database_url", envvar="HOSO_DATABASE_URL", default="sqlite:///var/hoso.db",
              show_default=True, help="Database URL (env HOSO_DATABASE_URL).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def outreach_summary(year, config_dir, database_url, as_json):
    """Tổng hợp trợ giúp pháp lý lưu động / outreach sessions held in a year."""
    import json

    result = asyncio.run(_summary(config_dir, database_url, year))
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
        return
    click.echo(both("summary", year=result["year"], sessions=result["sessions"], attendees=result["attendees"],
                    communes=len(result["communes"])))


async def _summary(config_dir: str | os.PathLike | None, database_url: str, year: int | None) -> dict:
    from hoso.db import Database
    from hoso.records.service import RecordContext
    from hoso.runtime import Runtime
    from hoso_outreach.summary import summarise

    # A summary reads: a database file that does not exist is an error, never created empty.
    rt = Runtime.create(config_dir, db=Database.from_url(database_url, missing="error"))
    await rt.db.start()
    try:
        context = RecordContext.system(rt.config)
        # "This year" is the year where the records are kept (Vietnam), as for the route.
        return await summarise(rt.records(), context, year or context.today.year)
    finally:
        await rt.db.close()
