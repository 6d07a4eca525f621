"""The statements one list request runs: the account with its token or session and its holdings with the units
under them, then the page with its count; whatever the page's size, filters, search or cursor, and on both
engines. A regression that reads per row, per role or per check again fails here."""

from __future__ import annotations

import asyncio

import pytest

from tests.api.conftest import Api, api, api_config
from tests.web.conftest import PASSWORD

__all__ = ["api", "api_config"]  # the API tests' fixtures: the app with its users and tokens

PATH = "/api/records/case"
BACKGROUND = ("storage_janitor", "run_forever", "_loop", "_schedule")  # the app's background work (the storage
# janitor, the in-process job worker: its claim loops and scheduled work), not the request's


class Statements:
    """The SQL statements the served app's engine runs for requests (its background tasks left out)."""

    def __init__(self, api: Api, monkeypatch: pytest.MonkeyPatch):
        self.seen: list[str] = []
        served = api.web.app.state.rt.db.engine
        engine = type(served)  # its attributes are slots: the class is patched, for this engine only
        original = engine.run_querystring
        seen = self.seen

        async def run_querystring(self, querystring, *args, **kwargs):
            task = asyncio.current_task()
            coro = task.get_coro() if task is not None else None
            if self is served and getattr(coro, "__name__", "") not in BACKGROUND:
                seen.append(str(querystring))
            return await original(self, querystring, *args, **kwargs)

        monkeypatch.setattr(engine, "run_querystring", run_querystring)

    async def of(self, request) -> tuple[list[str], object]:
        """The statements of one request, and its response."""
        self.seen.clear()
        response = await request
        return list(self.seen), response


async def _cases(api: Api, n: int) -> None:
    for i in range(n):
        await api.create_case("staff1", "TT", requester=f"Nguyễn Văn An{i}", received_on=f"2025-03-{1 + i % 9:02d}")
    await api.create_case("staff2", "TT2", requester="Trần Thị Bình")


def _reads(statements: list[str], table: str) -> int:
    return sum(table in s for s in statements)


async def test_a_list_request_runs_two_statements(api, monkeypatch):
    await _cases(api, 6)
    counted = Statements(api, monkeypatch)
    # the first request of the process learns the table's columns and records the token's use; later ones do not
    await api.req("GET", PATH, "staff1")
    for params in ({"page_size": 1}, {"page_size": 50}, {"page_size": 2, "sort": "-received_on,requester"},
                   {"form_of_aid": "TV", "received_on__gte": "2025-03-02"}, {"q": "nguyen an"},
                   {"requester__starts": "nguyen van", "count": "exact"}, {"count": "none"}):
        statements, r = await counted.of(api.req("GET", PATH, "staff1", params=params))
        assert r.status_code == 200, r.text
        assert r.json()["items"], params
        assert len(statements) == 2, (params, statements)
        account, page = statements
        for table in ("hoso_api_token", "hoso_user", "hoso_assignment", "hoso_unit_closure"):
            assert table in account, (table, account)
        assert '"case"' in page and "COUNT(" in page.upper() if params.get("count") != "none" else '"case"' in page
        assert _reads(statements, "hoso_assignment") == 1
    # a page by cursor: the same two
    first = (await api.req("GET", PATH, "staff1", params={"page_size": 2})).json()
    statements, r = await counted.of(api.req("GET", PATH, "staff1", params={"page_size": 2,
                                                                             "cursor": first["next_cursor"]}))
    assert r.status_code == 200 and len(r.json()["items"]) == 2
    assert len(statements) == 2, statements


async def test_the_statements_do_not_grow_with_the_rows_or_the_roles(api, monkeypatch):
    await _cases(api, 12)
    counted = Statements(api, monkeypatch)
    for user in ("staff1", "dir1", "prov", "admin"):
        await api.req("GET", PATH, user)  # each token's first use is recorded
    sizes = []
    for user, size in (("staff1", 1), ("staff1", 12), ("dir1", 12), ("prov", 13), ("admin", 13)):
        statements, r = await counted.of(api.req("GET", PATH, user, params={"page_size": size}))
        assert r.status_code == 200 and len(r.json()["items"]) == size, (user, r.text)
        sizes.append(len(statements))
    assert sizes == [2, 2, 2, 2, 2], sizes


async def test_a_page_past_the_end_counts_in_a_third_statement(api, monkeypatch):
    await _cases(api, 3)
    counted = Statements(api, monkeypatch)
    await api.req("GET", PATH, "staff1")
    statements, r = await counted.of(api.req("GET", PATH, "staff1", params={"page": 5}))
    assert r.status_code == 200 and r.json()["items"] == [] and r.json()["total"] == 3
    assert len(statements) == 3, statements


async def test_a_session_request_reads_its_session_account_and_holdings_at_once(api, monkeypatch):
    await _cases(api, 2)
    client = api.client
    r = await client.post("/api/login", json={"username": "staff1", "password": PASSWORD})
    assert r.status_code == 200, r.text
    counted = Statements(api, monkeypatch)
    await client.get(PATH)
    statements, r = await counted.of(client.get(PATH, params={"page_size": 1}))
    assert r.status_code == 200 and len(r.json()["items"]) == 1
    assert len(statements) == 2, statements
    for table in ("hoso_user", "hoso_assignment", "hoso_unit_closure"):
        assert table in statements[0] and "token" in statements[0], (table, statements[0])
    client.cookies.clear()
    statements, r = await counted.of(client.get(PATH))
    assert r.status_code == 401 and not any('"case"' in s for s in statements)
