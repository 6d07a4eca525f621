"""A test plugin module adding the command ``probe-hello`` (loaded through HOSO_PLUGINS)."""

from __future__ import annotations

from hoso import hookimpl
from tests.plugins.hooks_probe import Commands


@hookimpl
def hoso_cli_commands():
    return Commands().hoso_cli_commands()
