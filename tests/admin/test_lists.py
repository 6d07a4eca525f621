"""The admin's lists at scale: a count that is bounded, kept across page changes and never shared between scopes;
filters that mean what they say (a choice by equality, dates by range, text by a folded word prefix)."""

from __future__ import annotations

import asyncio
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hoso.admin import crud
from hoso.admin.filters import text_match
from hoso.records.context import RecordContext
from hoso.records.search import fold
from tests.admin.conftest import CASE

HA_NOI = {"ha_noi", "ha_noi_branch"}


async def _listed(admin, **params) -> set[int]:
    r = await admin.get("/tables/case/", params={"__page_size": 100, **params})
    assert r.status_code == 200, r.text
    return {row["id"] for row in r.json()["rows"]}


def _ids(admin, keys) -> set[int]:
    return {admin.seed.cases[k] for k in keys}


class _Counted:
    """The SQL statements the admin's database engine runs that count rows of the case table (the application's
    background work counts other tables meanwhile)."""

    def __init__(self, admin, monkeypatch):
        self.statements: list[str] = []
        engine = type(admin.web.rt.db.engine)  # the served app's engine is of the same class
        original = engine.run_querystring
        statements = self.statements

        async def run_querystring(self, querystring, *args, **kwargs):
            statements.append(str(querystring))
            return await original(self, querystring, *args, **kwargs)

        monkeypatch.setattr(engine, "run_querystring", run_querystring)

    def counts(self) -> int:
        return sum("COUNT(" in s.upper() and '"case"' in s for s in self.statements)

    def clear(self) -> None:
        self.statements.clear()


async def test_the_count_is_bounded(admin, monkeypatch):
    monkeypatch.setenv("HOSO_LIST_COUNT_CAP", "2")
    await admin.login("quan.tri")  # sees the 3 cases: more than 2
    r = await admin.get("/tables/case/count/")
    assert r.status_code == 200, r.text
    assert r.json()["count"] == 3 and r.json()["bounded"] is True
    monkeypatch.setenv("HOSO_LIST_COUNT_CAP", "3")
    r = await admin.get("/tables/case/count/", params={"status": "received"})  # a new filter: counted again
    assert r.json() == {**r.json(), "count": 3, "bounded": False}
    await admin.login("tt02.staff")
    r = await admin.get("/tables/case/count/")
    assert r.json()["count"] == 1 and r.json()["bounded"] is False
    # the CSV export asks for the exact count: it reads as many pages as the count says
    monkeypatch.setenv("HOSO_LIST_COUNT_CAP", "1")
    await admin.login("quan.tri")
    r = await admin.get("/tables/case/count/", params={"__exact": "1", "form_of_aid": "TV"})
    assert r.json()["count"] == 3 and r.json()["bounded"] is False
    r = await admin.get("/tables/case/count/", params={"form_of_aid": "TV"})
    assert r.json()["count"] == 2 and r.json()["bounded"] is True


@pytest.fixture
def no_worker(monkeypatch):
    """The served app runs no background work (the deadline notices count the case table too)."""
    monkeypatch.setenv("HOSO_EMBEDDED_WORKER", "0")


async def test_a_page_change_does_not_count_again(no_worker, admin, monkeypatch):
    counted = _Counted(admin, monkeypatch)
    await admin.login("tt01.staff")
    filters = {"form_of_aid": "TV"}
    first = await admin.get("/tables/case/count/", params=filters)
    assert first.json()["count"] == 2
    assert counted.counts() == 1, [x for x in counted.statements if "COUNT(" in x.upper()]
    counted.clear()
    # piccolo-admin on a page change, a new page size or a new sort: the count again, then the rows
    for extra in ({"__page": 2, "__page_size": 1}, {"__page_size": 50}, {"__order": "-received_on"}):
        r = await admin.get("/tables/case/count/", params={**filters, **extra})
        assert r.json()["count"] == 2
        assert (await admin.get("/tables/case/", params={**filters, **extra})).status_code == 200
    assert counted.counts() == 0, counted.statements
    assert counted.statements, "the rows were read"
    # another filter is counted
    assert (await admin.get("/tables/case/count/", params={"form_of_aid": "TGTT"})).json()["count"] == 0
    assert counted.counts() == 1
    # another scope with the same filters gets its own count, never this one's
    await admin.login("tt02.staff")
    counted.clear()
    assert (await admin.get("/tables/case/count/", params=filters)).json()["count"] == 1
    assert counted.counts() == 1
    # a write through the admin counts again
    await admin.login("tt01.staff")
    case_id = admin.seed.cases["ha_noi_branch"]
    r = await admin.send("PATCH", f"/tables/case/{case_id}/", {"form_of_aid": "DDNTT"})
    assert r.status_code == 200, r.text
    counted.clear()
    assert (await admin.get("/tables/case/count/", params=filters)).json()["count"] == 1
    assert counted.counts() == 1


async def test_a_choice_filters_by_equality(admin):
    await admin.login("tt01.staff")
    ha_noi = _ids(admin, HA_NOI)
    assert await _listed(admin, status="received") == ha_noi
    # piccolo-api's ILIKE '%value%' matched these: a part of a status, of a form of aid
    for part in ("rece", "ceived", "RECEIVED", "e"):
        assert await _listed(admin, status=part) == set(), part
        assert (await admin.get("/tables/case/count/", params={"status": part})).json()["count"] == 0
    assert await _listed(admin, form_of_aid="T") == set()
    assert await _listed(admin, form_of_aid="TV") == ha_noi
    assert await _listed(admin, form_of_aid="TV", form_of_aid__operator="ne") == set()
    assert await _listed(admin, status="accepted", status__operator="ne") == ha_noi
    assert await _listed(admin, form_of_aid=["TV", "TGTT"]) == set()  # both at once: none is both


async def test_dates_filter_by_range_and_references_by_equality(admin):
    seed = admin.seed
    await admin.login("quan.tri")
    ha_noi, ha_giang = _ids(admin, HA_NOI), _ids(admin, {"ha_giang"})
    assert await _listed(admin, received_on="2025-03-04") == ha_noi
    assert await _listed(admin, received_on="2025-03-04", received_on__operator="lt") == ha_giang
    assert await _listed(admin, received_on="2025-03-04", received_on__operator="lte") == ha_noi | ha_giang
    assert await _listed(admin, received_on="2024-11-20", received_on__operator="gt") == ha_noi
    assert await _listed(admin, received_on="2024-11-21", received_on__operator="gte") == ha_noi
    assert await _listed(admin, unit=seed.units["TT-01"]) == _ids(admin, {"ha_noi"})
    assert await _listed(admin, performer=seed.performers["tt01"]) == _ids(admin, {"ha_noi"})
    # a range never widens the scope
    await admin.login("tt02.staff")
    assert await _listed(admin, received_on="2000-01-01", received_on__operator="gte") == ha_giang


async def test_text_filters_by_a_folded_word_prefix(admin):
    await admin.login("tt01.staff")
    an, binh = _ids(admin, {"ha_noi"}), _ids(admin, {"ha_noi_branch"})  # Nguyễn Văn An, Trần Thị Bình
    for value in ("nguyen", "Nguyễn", "NGUYỄN VĂN", "nguyen van an", "van an", "VĂN", "an"):
        assert await _listed(admin, requester_name=value) == an, value
    for value in ("binh", "BÌNH", "tran thi", "Trần Thị Bình", "thi b"):
        assert await _listed(admin, requester_name=value) == binh, value
    for value in ("guyen", "inh", "van b", "nguyen an", "cuong"):  # not the start of a word; out of scope
        assert await _listed(admin, requester_name=value) == set(), value
    assert await _listed(admin, requester_name="nguyen van an", requester_name__match="exact") == an
    assert await _listed(admin, requester_name="nguyen van", requester_name__match="exact") == set()
    assert await _listed(admin, requester_name="nguyen", requester_name__operator="ne") == binh
    # LIKE's and GLOB's wild cards are plain characters
    for value in ("%", "_", "*", "?", "[", "n%", "n_uyen", "n*"):
        assert await _listed(admin, requester_name=value) == set(), value


# -- the word-prefix filter against a plain-Python oracle, on generated Vietnamese names ------------------------
_LETTERS = "aăâbcdđeêghiklmnoôơpqrstuưvxyàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ"
_WORD = st.text(st.sampled_from(_LETTERS + _LETTERS.upper()), min_size=1, max_size=5)


def _oracle(name: str, value: str) -> bool:
    """``value`` begins the name or one of its words, both folded (case, diacritics, đ)."""
    folded, q = fold(name), fold(value)
    return folded.startswith(q) or (" " + q) in folded


def _names(n: int) -> list[str]:
    """``n`` names of Vietnamese letters in both cases, the same on every run, with words shared between them."""
    import random

    rnd = random.Random(14)
    words = ["Nguyễn", "Văn", "An", "ĐẶNG", "thị", "Ánh", "Ân", "Anh", "Đức", "Dực"] + [
        "".join(rnd.choice(_LETTERS + _LETTERS.upper()) for _ in range(rnd.randint(1, 5))) for _ in range(10)]
    return [" ".join(rnd.choice(words) for _ in range(rnd.randint(1, 3))) for _ in range(n)]


async def test_the_text_filter_matches_the_oracle(admin):
    """Names of Vietnamese letters, and generated values (parts of the names with case and diacritics changed, or
    any word): the rows the filter lists are exactly those whose name the oracle matches."""
    rt = admin.web.rt
    system = RecordContext.system(rt.config)
    unit = admin.seed.units["TT-02"]
    names: dict[int, str] = {}
    for name in _names(12):
        record = await rt.records().create("case", {**CASE, "unit": unit, "requester_name": name}, system)
        names[record["id"]] = name
    seen = sorted(names.values())
    await admin.login("tt02.staff")

    @given(data=st.data())
    @settings(max_examples=60, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def check(data):
        source = data.draw(st.sampled_from(seen))
        start = data.draw(st.integers(0, len(source)))
        value = data.draw(st.one_of(st.just(source[start:start + data.draw(st.integers(1, 8))]), _WORD))
        out = []
        for ch in value:
            how = data.draw(st.sampled_from(["same", "upper", "lower", "bare", "nfd"]))
            out.append({"same": ch, "upper": ch.upper(), "lower": ch.lower(), "bare": fold(ch) or ch,
                        "nfd": unicodedata.normalize("NFD", ch)}[how])
        value = "".join(out)
        if not fold(value):
            return
        listed = _sync(_listed(admin, requester_name=value)) - {admin.seed.cases["ha_giang"]}
        expected = {i for i, n in names.items() if _oracle(n, value)}
        assert listed == expected, (value, {names[i] for i in listed ^ expected})

    await _in_thread(check)


def test_the_sql_of_a_text_filter_escapes_its_wild_cards():
    for sqlite in (True, False):
        sql, args = text_match('"t"."x"', "50%_", sqlite)
        assert args == ["50\\%\\_%", "% 50\\%\\_%"] and "ESCAPE" in sql


_LOOP: dict = {}


def _sync(coro):
    return asyncio.run_coroutine_threadsafe(coro, _LOOP["loop"]).result(60)


async def _in_thread(fn):
    _LOOP["loop"] = asyncio.get_running_loop()
    try:
        await asyncio.to_thread(fn)
    finally:
        _LOOP.clear()


async def test_a_count_that_is_not_cheap_gives_way_to_the_estimate(admin, monkeypatch, prepared):
    """On PostgreSQL a count cut short by its time limit answers the planner's estimate, marked; SQLite always
    counts."""
    import asyncpg

    timeouts: list[int | None] = []
    original = crud.ScopedCRUD._count

    async def slow(self, inner, timeout_ms=None):
        timeouts.append(timeout_ms)
        if timeout_ms is not None:
            raise asyncpg.QueryCanceledError("canceling statement due to statement timeout")
        return await original(self, inner, timeout_ms)

    monkeypatch.setattr(crud.ScopedCRUD, "_count", slow)
    await admin.login("quan.tri")
    body = (await admin.get("/tables/case/count/", params={"requester_name": "nguyen"})).json()
    exact = (await admin.get("/tables/case/count/", params={"requester_name": "nguyen", "__exact": "1"})).json()
    assert exact == {**exact, "count": 1, "estimated": False, "bounded": False}
    if prepared.engine == "postgres":
        assert timeouts == [crud.COUNT_TIMEOUT_MS, None]
        assert body["estimated"] is True and 0 <= body["count"] <= 10_001
    else:
        assert timeouts == [None, None]
        assert body == {**body, "count": 1, "estimated": False}
