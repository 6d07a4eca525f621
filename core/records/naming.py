"""Naming series: the code a new record gets (e.g. ``TGPL-HN-2025-00042``), gap-free within its series."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hoso.config import EntityDef
from hoso.config.kinds.entity import naming_placeholders
from hoso.db import Database, quote

__all__ = ["next_in_series", "make_code", "code_parts", "format_code", "take_in_series"]


async def next_in_series(db: Database, key: str) -> int:
    # One statement on both engines; inside the record's transaction, so a rollback gives the number back
    # and concurrent creators of the same series queue on the row lock: codes are gap-free and unique.
    return int(await db.fetchval(
        "INSERT INTO hoso_series (key, last_value) VALUES ({}, 1) "
        "ON CONFLICT (key) DO UPDATE SET last_value = hoso_series.last_value + 1 RETURNING last_value",
        key,
    ))


async def make_code(db: Database, entity: EntityDef, values: dict, now: dt.datetime) -> str:
    """The code of a new record of ``entity`` from its naming pattern, taking the next number of its series."""
    key, context = await code_parts(db, entity, values, now)
    return format_code(entity, context, await next_in_series(db, key))


async def code_parts(db: Database, entity: EntityDef, values: dict, now: dt.datetime,
                     unit_codes: dict[tuple[str, Any], Any] | None = None) -> tuple[str, dict[str, Any]]:
    """The series key of a new record and the values of its pattern's placeholders (all but ``seq``).

    ``unit_codes`` caches the unit columns read, for callers naming many records at once."""
    naming = entity.naming
    assert naming is not None
    when = values.get(naming.date_field) if naming.date_field else None
    year = (when or now).year
    context: dict[str, Any] = {"year": year}
    for name, _spec in naming_placeholders(naming.pattern):
        head, _, attr = name.partition(".")
        if name in ("seq", "year"):
            continue
        v = values.get(head)
        if attr:
            cached = unit_codes is not None and (attr, v) in unit_codes
            if cached:
                v = unit_codes[(attr, v)]  # type: ignore[index]
            else:
                # A unit without a short code (e.g. created by a restructuring) writes its full code.
                column = "COALESCE(short_code, code)" if attr == "short_code" else quote(attr)
                found = await db.fetchval(f"SELECT {column} AS v FROM hoso_unit WHERE id = {{}}", v) if v else None
                if unit_codes is not None:
                    unit_codes[(attr, v)] = found
                v = found
        context[name] = "" if v is None else v
    parts = []
    for name in naming.sequence_per:
        parts.append(str(year) if name == "year" else str(values.get(name)))
    return f"{entity.name}|{naming.field}|" + "|".join(parts), context


def format_code(entity: EntityDef, context: dict[str, Any], seq: int) -> str:
    """The code from its pattern, the placeholders' values and its number in the series."""
    assert entity.naming is not None
    context = {**context, "seq": seq}
    # str.format cannot look up dotted names in a flat dict; rewrite {unit.code} as a plain key.
    pattern = entity.naming.pattern
    flat = {}
    for i, (name, _spec) in enumerate(naming_placeholders(pattern)):
        flat[f"p{i}"] = context[name]
        pattern = pattern.replace("{" + name, "{" + f"p{i}", 1)
    return pattern.format(**flat)


async def take_in_series(db: Database, key: str, count: int) -> int:
    """Take ``count`` numbers of a series at once; returns the first (they follow each other, gap-free)."""
    last = int(await db.fetchval(
        "INSERT INTO hoso_series (key, last_value) VALUES ({}, {}) "
        "ON CONFLICT (key) DO UPDATE SET last_value = hoso_series.last_value + {} RETURNING last_value",
        key, count, count,
    ))
    return last - count + 1
