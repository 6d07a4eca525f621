"""The installed distribution exposes one package, ``hoso``, whose ``__all__`` is what a plugin author needs."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import distribution

import hoso


def test_the_distribution_installs_only_the_hoso_package():
    assert distribution("hoso").read_text("top_level.txt").split() == ["hoso"]
    assert distribution("hoso-legal-aid").read_text("top_level.txt").split() == ["hoso_legal_aid"]


def test_every_public_name_resolves():
    for name in hoso.__all__:
        assert getattr(hoso, name) is not None, name
    assert {"hookimpl", "FieldType", "ConfigKind", "RecordContext", "ScheduledWork", "AdminPage"} <= set(hoso.__all__)


def test_importing_hoso_loads_neither_the_database_nor_the_web_stack():
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, hoso; print(' '.join(sorted(sys.modules)))"],
        capture_output=True, text=True, check=True).stdout.split()
    assert not [m for m in loaded if m.split(".")[0] in ("piccolo", "piccolo_admin", "litestar", "fastapi", "asyncpg")]
