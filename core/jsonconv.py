"""Python values as JSON: the one set of rules every API answer, audit entry and admin response follows.

JSON keeps what a program can read back without loss: dates, times and datetimes as ISO 8601 text (a datetime
keeps its offset from UTC), decimals as text (exact; a number only where a JSON Schema checks them), sets as
sorted lists, enums as their value, bytes as base64 text, UUIDs and paths as text. Showing a date as dd/mm/yyyy
is a matter for the page that displays it, not for JSON.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import enum
import json
import uuid
from collections.abc import Iterable, Mapping
from pathlib import PurePath
from typing import Any

__all__ = ["json_ready", "comparable", "schema_value", "changes", "dumps"]

# Above 2**53 a JSON number read by a browser loses digits.
_SAFE_INTEGER = 2 ** 53


def json_ready(v: Any, *, decimals_as_numbers: bool = False, skip_keys: Iterable[str] = (),
               skip_empty: bool = False) -> Any:
    """``v`` with every part made JSON-ready. ``skip_keys`` are left out of every mapping (child rows' ``id``);
    ``skip_empty`` leaves out mapping entries holding nothing (None, "", an empty list)."""
    skip = frozenset(skip_keys)
    return _convert(v, decimals_as_numbers, skip, skip_empty)


def _convert(v: Any, numbers: bool, skip: frozenset, skip_empty: bool) -> Any:
    if v is None or isinstance(v, (bool, int, float, str)) and not isinstance(v, enum.Enum):
        return v
    if not isinstance(v, dict) and (isinstance(v, Mapping) or _is_row(v)):
        v = dict(v.items())
    if isinstance(v, dict):
        return {k: _convert(x, numbers, skip, skip_empty) for k, x in v.items()
                if k not in skip and not (skip_empty and _empty(x))}
    if isinstance(v, (list, tuple)):
        return [_convert(x, numbers, skip, skip_empty) for x in v]
    if isinstance(v, (set, frozenset)):
        items = [_convert(x, numbers, skip, skip_empty) for x in v]
        return sorted(items, key=lambda x: json.dumps(x, sort_keys=True, ensure_ascii=False))
    return _scalar(v, numbers, skip, skip_empty)


def _scalar(v: Any, numbers: bool, skip: frozenset, skip_empty: bool) -> Any:
    if isinstance(v, (dt.date, dt.time)):  # datetime is a date
        return v.isoformat()
    if isinstance(v, decimal.Decimal):
        return _decimal_number(v) if numbers else str(v)
    if isinstance(v, enum.Enum):
        return _convert(v.value, numbers, skip, skip_empty)
    if isinstance(v, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(v)).decode("ascii")
    if isinstance(v, (uuid.UUID, PurePath)):
        return str(v)
    return v


def _is_row(v: Any) -> bool:
    """A database row that is no Mapping (asyncpg's Record): keys, items and lookup by name."""
    return callable(getattr(v, "items", None)) and callable(getattr(v, "keys", None)) \
        and not isinstance(v, (str, bytes, bytearray))


def _decimal_number(v: decimal.Decimal) -> int | float:
    return int(v) if v == v.to_integral_value() and abs(v) < _SAFE_INTEGER else float(v)


def _empty(v: Any) -> bool:
    return v is None or v == "" or (isinstance(v, (list, tuple)) and len(v) == 0)


_PLAIN = frozenset({str, int, float, bool, type(None)})
_NO_IDS = frozenset({"id"})


def comparable(v: Any) -> Any:
    """A record value as the audit trail records it and as two versions of a record are compared: child rows
    without their ids (a row re-saved under a new id is the same row)."""
    if type(v) in _PLAIN:  # most values: as they are (called for every value of every version written)
        return v
    return _convert(v, False, _NO_IDS, False)


def schema_value(v: Any) -> Any:
    """A parsed value as a form's JSON Schema checks it: decimals as numbers, child rows without ids or empty
    cells."""
    return json_ready(v, decimals_as_numbers=True, skip_keys=("id",), skip_empty=True)


def changes(pairs: dict[str, tuple[Any, Any]]) -> dict[str, list]:
    """An audit entry's changes: field -> [before, after]."""
    return {k: [comparable(before), comparable(after)] for k, (before, after) in pairs.items()}


def dumps(v: Any, **kwargs: Any) -> str:
    """``v`` as JSON text, non-ASCII characters kept as they are."""
    return json.dumps(json_ready(v), ensure_ascii=False, **kwargs)
