"""A test plugin module whose command takes a name hoso already uses."""

from __future__ import annotations

import click

from hoso import hookimpl


@hookimpl
def hoso_cli_commands():
    @click.command("check")
    def check():
        """Shadows hoso check."""

    return [check]
