"""Built-in conversions for declared type changes.

Where no converter here matches, the target type parses the stored value itself (text "42" becomes 42).
"""

from __future__ import annotations

import datetime as dt
import decimal

from hoso.fields import Converter
from hoso.hookspecs import hookimpl

TEXTUAL = ("text", "long_text", "choice", "citizen_id", "phone", "email")


def _to_text(fd, v):
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, decimal.Decimal):
        return format(v, "f")
    if isinstance(v, (list, tuple)):
        return ", ".join(map(str, v))
    return str(v)


def _datetime_to_date(fd, v):
    return v.date() if isinstance(v, dt.datetime) else v


@hookimpl(trylast=True)
def hoso_converters():
    out = [Converter(source, target, _to_text)
           for source in ("integer", "decimal", "boolean", "date", "datetime", "multi_choice")
           for target in ("text", "long_text")]
    out.append(Converter("datetime", "date", _datetime_to_date))
    return out
