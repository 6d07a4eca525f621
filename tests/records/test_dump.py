"""A record as JSON (``RecordService.dump``): each field by its type's dump function, child rows by their own
fields, every other key (``id``, the system columns) made JSON-ready; the first field of a name decides.

The dumper keeps per entity only the fields whose type converts values and copies the rest of a record at once
(a list page dumps every value of every row). It is checked against the plain rule, written out below, over random
fields and records."""

from __future__ import annotations

import datetime as dt
import decimal
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from hoso.fields import same
from hoso.jsonconv import json_ready
from hoso.records.service import _Dumper


def _mark(v):
    return ["dumped", json_ready(v)]


_TYPES = {"plain": same, "marked": _mark}


class _Registry:
    def field_type(self, name: str):
        return SimpleNamespace(dump=_TYPES[name])


_RT = SimpleNamespace(registry=_Registry())


def _field(name: str, type_: str, children=()):
    return SimpleNamespace(name=name, type="child_table" if children else type_, fields=tuple(children),
                           is_child_table=bool(children))


def _oracle(fields, record: dict, nested: bool = True) -> dict:
    """The rule as it reads: the first field of a key's name decides how its value is dumped."""
    out = {}
    for k, v in record.items():
        fd = next((f for f in fields if f.name == k), None)
        if fd is not None and fd.is_child_table and nested:
            out[k] = [_oracle(fd.fields, r, nested=False) for r in v]
        elif v is None:
            out[k] = None
        elif fd is None or fd.is_child_table:  # not a field (a table within a child row is not one either)
            out[k] = json_ready(v)
        else:
            out[k] = _TYPES[fd.type](v)
    return out


_NAMES = st.sampled_from(["a", "b", "c", "d", "e"])
_VALUES = st.one_of(st.none(), st.integers(), st.text(max_size=3), st.booleans(),
                    st.dates(), st.datetimes(timezones=st.just(dt.UTC)),
                    st.decimals(allow_nan=False, allow_infinity=False, places=2),
                    st.lists(st.integers(), max_size=2), st.sets(st.text(max_size=2), max_size=2))
_PLAIN_FIELDS = st.lists(st.builds(_field, _NAMES, st.sampled_from(sorted(_TYPES))), max_size=5)
_FIELDS = st.lists(st.one_of(
    st.builds(_field, _NAMES, st.sampled_from(sorted(_TYPES))),
    st.builds(lambda n, kids: _field(n, "", kids or [_field("x", "marked")]), st.sampled_from(["r", "s"]),
              st.lists(st.one_of(st.builds(_field, _NAMES, st.sampled_from(sorted(_TYPES))),
                                 st.builds(lambda kids: _field("t", "", kids or [_field("y", "plain")]),
                                           _PLAIN_FIELDS)), max_size=4)),
), max_size=8)


@st.composite
def _cases(draw):
    fields = draw(_FIELDS)
    first: dict[str, object] = {}
    for f in fields:
        first.setdefault(f.name, f)
    record = {}
    for key in draw(st.lists(st.sampled_from(["id", "sys_version", "sys_created_at", "a", "b", "c", "d", "e",
                                              "r", "s"]), unique=True)):
        fd = first.get(key)
        if fd is not None and fd.is_child_table:
            row_keys = st.sampled_from(["id", "a", "b", "c", "d", "e", "t", "x", "y"])
            record[key] = draw(st.lists(st.dictionaries(row_keys, _VALUES, max_size=5), max_size=3))
        else:
            record[key] = draw(_VALUES)
    return fields, record


@settings(max_examples=400, deadline=None)
@given(_cases())
def test_a_record_dumps_as_the_plain_rule_says(case):
    fields, record = case
    before = {k: (list(v) if isinstance(v, list) else v) for k, v in record.items()}
    assert _Dumper(_RT, fields)(record) == _oracle(fields, record)
    assert record == before  # the record itself is left as it was


def test_a_reference_case_dumps_dates_decimals_and_child_rows_as_json():
    """The reference deployment's types through the dumper: no value left that JSON cannot hold."""
    import json
    from pathlib import Path

    from hoso.config import load_config
    from hoso.fields import Registry
    from hoso.plugin_manager import get_plugin_manager

    registry = Registry(get_plugin_manager())
    config = load_config(Path(__file__).resolve().parents[2], **registry.config_options())
    case = config.entity("case")
    child = next(f for f in case.fields if f.is_child_table and any(c.type == "date" for c in f.fields))
    dated = next(f for f in child.fields if f.type == "date")
    record = {"id": 7, "sys_version": 2, "sys_created_at": dt.datetime(2025, 3, 3, 1, 2, tzinfo=dt.UTC),
              "received_on": dt.date(2025, 3, 3), "sys_other": decimal.Decimal("1.50"),
              child.name: [{"id": 1, dated.name: dt.date(2025, 4, 5)}]}
    dumped = _Dumper(SimpleNamespace(registry=registry), case.fields)(record)
    assert json.loads(json.dumps(dumped)) == {
        "id": 7, "sys_version": 2, "sys_created_at": "2025-03-03T01:02:00+00:00", "received_on": "2025-03-03",
        "sys_other": "1.50", child.name: [{"id": 1, dated.name: "2025-04-05"}]}
