"""The JSON conversion rules (hoso.jsonconv)."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import json
import uuid
from pathlib import PurePosixPath
from types import MappingProxyType

from hoso import jsonconv


class Colour(enum.Enum):
    RED = "red"


HANOI = dt.timezone(dt.timedelta(hours=7))


def test_scalars_become_lossless_json():
    assert jsonconv.json_ready(dt.date(2025, 3, 1)) == "2025-03-01"  # ISO, not the dd/mm/yyyy shown on pages
    assert jsonconv.json_ready(dt.datetime(2025, 3, 1, 8, 30, tzinfo=HANOI)) == "2025-03-01T08:30:00+07:00"
    assert jsonconv.json_ready(dt.time(8, 30)) == "08:30:00"
    assert jsonconv.json_ready(decimal.Decimal("1500000.50")) == "1500000.50"
    assert jsonconv.json_ready(Colour.RED) == "red"
    assert jsonconv.json_ready(b"\x00\xff") == "AP8="
    assert jsonconv.json_ready(uuid.UUID(int=1)) == "00000000-0000-0000-0000-000000000001"
    assert jsonconv.json_ready(PurePosixPath("/srv/files")) == "/srv/files"
    for plain in (None, True, 3, 2.5, "chữ"):
        assert jsonconv.json_ready(plain) == plain


def test_containers_are_converted_all_the_way_down():
    value = {"a": (dt.date(2025, 1, 2), {decimal.Decimal("2"), decimal.Decimal("10")}), "b": [{"id": 4, "x": None}]}
    assert jsonconv.json_ready(value) == {"a": ["2025-01-02", ["10", "2"]], "b": [{"id": 4, "x": None}]}
    json.dumps(jsonconv.json_ready(value))


def test_mappings_and_database_rows_become_objects():
    class Row:  # the shape of asyncpg's Record: keys, items and lookup by name, but no Mapping
        def __init__(self, **values):
            self._values = values

        def keys(self):
            return self._values.keys()

        def items(self):
            return self._values.items()

        def __getitem__(self, key):
            return self._values[key]

    rows = [Row(role="performer", starts_on=dt.date(2025, 1, 2)), MappingProxyType({"n": decimal.Decimal("1.5")})]
    assert jsonconv.json_ready(rows) == [{"role": "performer", "starts_on": "2025-01-02"}, {"n": "1.5"}]


def test_comparable_leaves_out_child_row_ids():
    rows = [{"id": 1, "on": dt.date(2025, 1, 2)}]
    assert jsonconv.comparable(rows) == [{"on": "2025-01-02"}]
    assert jsonconv.comparable(rows) == jsonconv.comparable([{"id": 9, "on": dt.date(2025, 1, 2)}])


def test_schema_value_gives_numbers_and_drops_empty_cells():
    assert jsonconv.schema_value(decimal.Decimal("3.0")) == 3
    assert jsonconv.schema_value(decimal.Decimal("3.25")) == 3.25
    assert jsonconv.schema_value(decimal.Decimal(2 ** 60)) == float(2 ** 60)
    assert jsonconv.schema_value([{"id": 1, "fee": decimal.Decimal("5"), "note": "", "tags": []}]) == [{"fee": 5}]


def test_changes_and_dumps():
    assert jsonconv.changes({"on": (None, dt.date(2025, 1, 2))}) == {"on": [None, "2025-01-02"]}
    assert jsonconv.dumps({"tên": dt.datetime(2025, 1, 2, tzinfo=dt.UTC)}) == \
        '{"tên": "2025-01-02T00:00:00+00:00"}'
