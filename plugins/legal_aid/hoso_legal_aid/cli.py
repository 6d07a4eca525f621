"""``hoso demo``: the reference deployment's demonstration data, from the command line."""

from __future__ import annotations

import sys

import click
from rich.table import Table

from hoso._cli_common import CONFIG_OPTION, DB_OPTION, console, err_console
from hoso._cli_common import progress as _progress
from hoso._cli_common import run as _run
from hoso._cli_common import runtime as _runtime

__all__ = ["demo"]


@click.command()
@CONFIG_OPTION
@DB_OPTION
@click.option("--cases", default=5000, show_default=True, type=click.IntRange(0, 1_000_000),
              help="How many demo cases to create.")
@click.option("--once", is_flag=True, help="Do nothing if demo data was loaded before.")
def demo(config_dir, database_url, cases, once):
    """Load demo data (performers, organisations, cases through their lifecycle, before and after the 2025
    merger of provinces) and one login per role."""
    from hoso_legal_aid.demo import load_demo

    rt = _runtime(config_dir, database_url)

    async def go():
        await rt.db.start()
        try:
            from hoso.web.app import DefinitionsDiffer, ensure_applied

            try:
                await ensure_applied(rt)
            except DefinitionsDiffer as exc:
                err_console.print(str(exc), markup=False)
                sys.exit(1)
            with _progress() as bar:
                task = bar.add_task("demo cases", total=cases)
                result = await load_demo(rt, cases=cases, once=once,
                                         progress=lambda n: bar.update(task, completed=n))
            return result
        finally:
            await rt.db.close()

    result = _run(go())
    console.print(result["message"], markup=False, soft_wrap=True)
    table = Table(title=f"Đăng nhập tại / log in at http://127.0.0.1:8000/admin/ (mật khẩu / password: "
                        f"{result['password']})", title_justify="left")
    for column in ("Tài khoản / login", "Vai trò / role", "Đơn vị / unit"):
        table.add_column(column)
    for login in result["logins"]:
        role = login["role"]
        label = "Quản trị toàn quyền / superuser" if role == "superuser" else _role_label(rt, role)
        table.add_row(login["username"], label, login["unit"])
    console.print(table)


def _role_label(rt, role: str) -> str:
    try:
        label = rt.config.role(role).label
    except KeyError:
        return role
    return f"{label.vi} / {label.en}" if label else role
