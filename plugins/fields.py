"""The built-in field types."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import re
import unicodedata
from collections.abc import Callable
from typing import Any, TypedDict

from piccolo.columns import BigInt, Boolean, Column, Date, Numeric, Text, Timestamptz

from hoso.config import FieldDef
from hoso.fields import FieldType
from hoso.hookspecs import hookimpl

# ASCII digits only: Python's \d also matches other scripts' digits (Arabic-Indic, Devanagari...), which would let
# a look-alike copy of a stored ID past the uniqueness check.
CITIZEN_ID = re.compile(r"^[0-9]{12}$")
PHONE = re.compile(r"^\+?[0-9]{8,15}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _text(fd: FieldDef, v: Any) -> str:
    if isinstance(v, bool) or not isinstance(v, (str, int, float, decimal.Decimal)):
        raise ValueError(f"expected text; found {_kind(v)}")
    return str(v)


# Integer columns are 64-bit (BIGINT); ids of records, units and accounts are 32-bit (SERIAL).
MAX_INTEGER = 2**63 - 1
MAX_ID = 2**31 - 1


def _integer(fd: FieldDef, v: Any) -> int:
    return _in_64_bits(_whole_number(v))


def _in_64_bits(value: int) -> int:
    if abs(value) > MAX_INTEGER:
        raise ValueError(f"expected a whole number from {-MAX_INTEGER} to {MAX_INTEGER}")
    return value


def _whole_number(v: Any) -> int:
    if isinstance(v, bool):
        raise ValueError("expected a whole number; found true/false")
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, decimal.Decimal) and v == v.to_integral_value():
        return int(v)
    if isinstance(v, str) and re.fullmatch(r"\s*[-+]?\d+\s*", v):
        return int(v)
    raise ValueError(f"expected a whole number; found {_kind(v)}")


def _decimal(fd: FieldDef, v: Any) -> decimal.Decimal:
    if isinstance(v, bool):
        raise ValueError("expected a number; found true/false")
    if isinstance(v, (int, decimal.Decimal)):
        d = decimal.Decimal(v)
    elif isinstance(v, float):
        d = decimal.Decimal(repr(v))
    elif isinstance(v, str):
        try:
            d = decimal.Decimal(v.strip())
        except decimal.InvalidOperation:
            raise ValueError(f"expected a number; found {_kind(v)}") from None
    else:
        raise ValueError(f"expected a number; found {_kind(v)}")
    if not d.is_finite():
        raise ValueError("expected a finite number")
    if fd.decimal_places is not None:
        d = d.quantize(decimal.Decimal(1).scaleb(-fd.decimal_places), rounding=decimal.ROUND_HALF_EVEN)
    return d


_TRUE = {"true", "yes", "1", "có", "y", "t"}
_FALSE = {"false", "no", "0", "không", "n", "f"}


def _boolean(fd: FieldDef, v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, int) and v in (0, 1):
        return bool(v)
    if isinstance(v, str) and v.strip().lower() in _TRUE | _FALSE:
        return v.strip().lower() in _TRUE
    raise ValueError(f"expected true or false; found {_kind(v)}")


def _date(fd: FieldDef, v: Any) -> dt.date:
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    if isinstance(v, str):
        try:
            return dt.date.fromisoformat(v.strip())
        except ValueError:
            pass
    raise ValueError(f"expected a date as YYYY-MM-DD; found {_kind(v)}")


def _datetime(fd: FieldDef, v: Any) -> dt.datetime:
    if isinstance(v, dt.datetime):
        value = v
    elif isinstance(v, dt.date):
        value = dt.datetime(v.year, v.month, v.day)
    elif isinstance(v, str):
        try:
            value = dt.datetime.fromisoformat(v.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"expected a date and time as YYYY-MM-DDTHH:MM:SS; found {_kind(v)}") from None
    else:
        raise ValueError(f"expected a date and time as YYYY-MM-DDTHH:MM:SS; found {_kind(v)}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value


def _choice(fd: FieldDef, v: Any) -> str:
    if not isinstance(v, str):
        raise ValueError(f"expected one option (text); found {_kind(v)}")
    return v


def _multi_choice(fd: FieldDef, v: Any) -> list[str]:
    if isinstance(v, str):
        # A stored single choice converting to multi, or JSON text from the database.
        if v.startswith("["):
            try:
                v = json.loads(v)
            except ValueError:
                raise ValueError(f"expected a list of options; found {_kind(v)}") from None
        else:
            v = [x.strip() for x in v.split(",") if x.strip()]
    if not isinstance(v, (list, tuple)) or not all(isinstance(x, str) for x in v):
        raise ValueError(f"expected a list of options; found {_kind(v)}")
    out: list[str] = []
    for x in v:
        if x not in out:
            out.append(x)
    return out


def _id(fd: FieldDef, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, str)):
        raise ValueError(f"expected the id of a record; found {_kind(v)}")
    try:
        value = int(v)
    except ValueError:
        raise ValueError(f"expected the id of a record; found {_kind(v)}") from None
    if not 0 < value <= MAX_ID:
        raise ValueError(f"expected the id of a record (1 to {MAX_ID}); found {value}")
    return value


def _citizen_id(fd: FieldDef, v: Any) -> str:
    # NFKC turns fullwidth digits (as typed with some Vietnamese and East Asian keyboards) into ASCII ones, so
    # the stored value and the uniqueness check see one spelling; any other non-ASCII digit is refused.
    s = unicodedata.normalize("NFKC", _text(fd, v)).strip()
    if not CITIZEN_ID.fullmatch(s):
        raise ValueError(f"expected a citizen ID of exactly 12 digits; found {s!r}")
    return s


def _phone(fd: FieldDef, v: Any) -> str:
    s = re.sub(r"[\s.()-]", "", _text(fd, v))
    if not PHONE.match(s):
        raise ValueError(f"expected a phone number of 8 to 15 digits; found {v!r}")
    return s


def _email(fd: FieldDef, v: Any) -> str:
    s = _text(fd, v).strip()
    if not EMAIL.match(s) or len(s) > 254:
        raise ValueError(f"expected an email address; found {v!r}")
    return s


def _kind(v: Any) -> str:
    if v is None:
        return "nothing"
    if isinstance(v, bool):
        return f"a boolean ({str(v).lower()})"
    if isinstance(v, (list, tuple)):
        return "a list"
    if isinstance(v, dict):
        return "an object"
    if isinstance(v, (int, float, decimal.Decimal)):
        return f"a number ({v})"
    if isinstance(v, str):
        return repr(v if len(v) <= 40 else v[:37] + "...")
    return type(v).__name__


def _text_col(fd: FieldDef):
    return Text(default=None, null=True)


def _json_dump_list(v):
    return None if v is None else json.dumps(list(v), ensure_ascii=False)


def _json_load_list(v):
    if v is None or isinstance(v, list):
        return v
    return json.loads(v)


def _decimal_col(fd: FieldDef):
    digits = (fd.max_digits, fd.decimal_places or 0) if fd.max_digits else None
    return Numeric(digits=digits, default=None, null=True)


def _dump_date(v):
    return v.isoformat() if v is not None else None


def _dump_decimal(v):
    return str(v) if v is not None else None


def _load_decimal(v):
    if v is None or isinstance(v, decimal.Decimal):
        return v
    return decimal.Decimal(str(v))


def _load_date(v):
    if isinstance(v, str):
        return dt.date.fromisoformat(v)
    return v


def _load_datetime(v):
    if isinstance(v, str):
        v = dt.datetime.fromisoformat(v)
    if isinstance(v, dt.datetime) and v.tzinfo is None:
        v = v.replace(tzinfo=dt.UTC)
    return v


def _load_bool(v):
    return None if v is None else bool(v)


class _Stored(TypedDict):
    """Arguments several built-in types share (typed, so ``**TEXT`` is checked against FieldType's fields)."""

    storage: str
    column: Callable[[FieldDef], Column]


class _Linked(_Stored):
    parse: Callable[[FieldDef, Any], Any]


TEXT: _Stored = {"storage": "text", "column": _text_col}
ID: _Linked = {"storage": "integer", "column": lambda fd: BigInt(default=None, null=True), "parse": _id}

BUILTIN_TYPES = [
    FieldType("text", parse=_text, **TEXT),
    FieldType("long_text", parse=_text, **TEXT),
    FieldType("integer", "integer", lambda fd: BigInt(default=None, null=True), _integer),
    FieldType("decimal", "decimal", _decimal_col, _decimal, dump=_dump_decimal, load=_load_decimal),
    FieldType("boolean", "boolean", lambda fd: Boolean(default=None, null=True), _boolean, load=_load_bool),
    FieldType("date", "date", lambda fd: Date(default=None, null=True), _date, dump=_dump_date, load=_load_date),
    FieldType("datetime", "datetime", lambda fd: Timestamptz(default=None, null=True), _datetime,
              dump=_dump_date, load=_load_datetime),
    FieldType("choice", parse=_choice, **TEXT),
    FieldType("multi_choice", parse=_multi_choice, load=_json_load_list, to_db=_json_dump_list, **TEXT),
    FieldType("reference", **ID),
    FieldType("attachment", **ID),
    FieldType("org_unit", **ID),
    FieldType("user", **ID),
    FieldType("citizen_id", parse=_citizen_id, **TEXT),
    FieldType("phone", parse=_phone, **TEXT),
    FieldType("email", parse=_email, **TEXT),
]


@hookimpl(trylast=True)
def hoso_field_types():
    return BUILTIN_TYPES
