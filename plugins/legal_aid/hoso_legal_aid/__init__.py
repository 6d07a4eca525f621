"""The legal-aid modules of the reference deployment (Vietnam's state legal aid system), a hoso plugin.

hoso loads it through the ``hoso`` entry point. ``hoso_legal_aid.demo`` loads demonstration data, offered on
the command line as ``hoso demo`` (``hoso_legal_aid.cli``).

Each part of the deployment lives in its own module and names its hook implementations after itself
(``@hookimpl(specname="hoso_routes") def intake_routes(...)``), listed in its ``__all__``; the imports below
gather them into this module, the one plugin hoso registers.
"""

from __future__ import annotations

from hoso.hookspecs import hookimpl
from hoso_legal_aid.directory import *  # noqa: F403
from hoso_legal_aid.directory_cache import *  # noqa: F403
from hoso_legal_aid.generator import *  # noqa: F403
from hoso_legal_aid.intake import *  # noqa: F403
from hoso_legal_aid.lifecycle import *  # noqa: F403
from hoso_legal_aid.population import *  # noqa: F403
from hoso_legal_aid.quality import *  # noqa: F403
from hoso_legal_aid.vneid import *  # noqa: F403


@hookimpl
def hoso_cli_commands():
    # Imported here: the command pulls in the command-line helpers, which a server never needs.
    from hoso_legal_aid.cli import demo

    return [demo]
