"""Uploaded import files kept between the admin's preview and the import itself, in ``HOSO_IMPORTS_DIR``.

The preview and the confirmation may reach different processes (``hoso serve --workers``), and the import runs in
whichever worker claims its job: the file is kept on the disk they share, under a random name, and read again
(``read_table``) where the import runs. The job removes it when the import ends.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

from hoso.settings import get as setting

__all__ = ["stage", "staged", "unstage"]

_NAME = re.compile(r"^[A-Za-z0-9_-]{32}$")


def _path(name: str) -> Path:
    if not _NAME.match(name):
        raise ValueError(f"not a staged import file: {name!r}")
    return Path(setting("HOSO_IMPORTS_DIR")) / name


def stage(data: bytes) -> str:
    """Keep ``data``; the name to read it back by."""
    name = secrets.token_urlsafe(24)
    path = _path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    partial.write_bytes(data)
    os.replace(partial, path)  # whole, or not there
    return name


def staged(name: str) -> bytes | None:
    """The bytes kept as ``name``, or None when they are gone."""
    try:
        return _path(name).read_bytes()
    except FileNotFoundError:
        return None


def unstage(name: str) -> None:
    _path(name).unlink(missing_ok=True)
