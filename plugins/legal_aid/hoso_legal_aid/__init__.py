"""The legal-aid modules of the reference deployment (Vietnam's state legal aid system), a hoso plugin.

hoso loads it through the ``hoso`` entry point. ``hoso_legal_aid.demo`` loads demonstration data, offered on
the command line as ``hoso demo`` (``hoso_legal_aid.cli``).
"""

from __future__ import annotations

from hoso.hookspecs import hookimpl


@hookimpl
def hoso_cli_commands():
    # Imported here: the command pulls in the command-line helpers, which a server never needs.
    from hoso_legal_aid.cli import demo

    return [demo]
