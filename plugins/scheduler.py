"""The table behind scheduled work (``hoso.scheduler``): one row per work, holding its lease and next turn."""

from __future__ import annotations

from piccolo.columns import BigInt, Text, Varchar

from hoso.hookspecs import hookimpl
from hoso.plugin_types import SystemTable


def _columns() -> dict:
    return {
        "name": Varchar(length=200, unique=True),
        "next_run_at": BigInt(default=0),
        "lease_owner": Text(default=None, null=True),
        "lease_until": BigInt(default=0),
        "last_run_at": BigInt(default=None, null=True),
        "last_error": Text(default=None, null=True),
    }


@hookimpl(trylast=True)
def hoso_system_tables():
    return [SystemTable("hoso_schedule", _columns)]
