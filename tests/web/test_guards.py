"""Properties of the request guards (hoso.web.guards, hoso.web.security) against plain-Python oracles."""

from __future__ import annotations

from urllib.parse import urlencode

from hypothesis import given, settings
from hypothesis import strategies as st

from hoso.web.guards import _nul_parameters, json_depth, nul_paths
from hoso.web.security import origin_allowed

_TEXT = st.text(st.sampled_from("ab\x00é"), max_size=3)
_JSON = st.recursive(st.one_of(st.none(), st.integers(), _TEXT),
                     lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_TEXT, inner, max_size=3)),
                     max_leaves=20)


def _depth(v) -> int:
    if isinstance(v, dict):
        return 1 + max((_depth(x) for x in v.values()), default=0)
    if isinstance(v, list):
        return 1 + max((_depth(x) for x in v), default=0)
    return 0


def _has_nul(v) -> bool:
    if isinstance(v, str):
        return "\x00" in v
    if isinstance(v, dict):
        return any("\x00" in k or _has_nul(x) for k, x in v.items())
    if isinstance(v, list):
        return any(_has_nul(x) for x in v)
    return False


@settings(max_examples=150, deadline=None)
@given(value=_JSON, limit=st.integers(0, 6))
def test_json_depth_matches_a_recursive_oracle(value, limit):
    depth = _depth(value)
    found = json_depth(value, limit)
    assert (found > limit) == (depth > limit)
    if depth <= limit:
        assert found == depth


@settings(max_examples=150, deadline=None)
@given(value=_JSON)
def test_nul_paths_found_exactly_when_a_string_holds_a_nul(value):
    assert bool(list(nul_paths(value))) == _has_nul(value)


@settings(max_examples=150, deadline=None)
@given(params=st.lists(st.tuples(_TEXT.filter(bool), _TEXT), max_size=4))
def test_nul_query_parameters_are_named(params):
    query = urlencode(params).encode()
    expected = {k.replace("\x00", "\\u0000") for k, v in params if "\x00" in k + v}
    found = set(_nul_parameters(query))
    assert found == expected


_HOST = st.from_regex(r"[a-z]{1,8}\.example(:[1-9][0-9]{1,3})?", fullmatch=True)


@settings(max_examples=150, deadline=None)
@given(host=_HOST, other=_HOST, scheme=st.sampled_from(["http", "https"]), allowed=st.lists(_HOST, max_size=2),
       via_referer=st.booleans())
def test_origin_allowed_matches_its_rule(host, other, scheme, allowed, via_referer):
    url = f"{scheme}://{other}" + ("/admin/" if via_referer else "")
    origin, referer = (None, url) if via_referer else (url, None)
    expected = other == host or other in allowed or other.split(":")[0] in allowed
    assert origin_allowed(origin, referer, host, allowed) == expected
    assert origin_allowed(None, None, host, allowed)  # not a browser: no header to judge
    assert not origin_allowed("null", None, host, allowed)
    assert not origin_allowed("javascript:alert(1)", None, host, allowed)
