"""A test plugin module with a misspelt hook name."""

from __future__ import annotations

from hoso import hookimpl


@hookimpl
def hoso_field_typez():
    return []
