"""Lists through HTTP: the count's forms, pages by cursor, prefix filters, and refusals of bad cursors (400,
never a server error); on both engines."""

from __future__ import annotations

PATH = "/api/records/case"


async def _seed(api, n: int) -> list[int]:
    ids = []
    for i in range(n):
        rec = await api.create_case("staff1", "TT", requester=("Nguyễn Văn " if i % 2 else "Trần Thị ") + f"An{i}",
                                    received_on=f"2025-03-{1 + i % 4:02d}")
        ids.append(rec["id"])
    await api.create_case("staff2", "TT2", requester="Nguyễn Văn Bình")
    return ids


async def test_pages_by_cursor_and_the_count(api, monkeypatch):
    ids = await _seed(api, 7)
    r = await api.req("GET", PATH, "staff1", params={"sort": "-received_on", "page_size": 3})
    body = r.json()
    assert r.status_code == 200 and body["total"] == 7 and body["total_exact"] is True and body["page"] == 1
    seen = [i["id"] for i in body["items"]]
    while body["next_cursor"]:
        r = await api.req("GET", PATH, "staff1", params={"sort": "-received_on", "page_size": 3, "count": "none",
                                                         "cursor": body["next_cursor"]})
        body = r.json()
        assert r.status_code == 200 and body["page"] is None and body["total"] is None
        seen += [i["id"] for i in body["items"]]
    offset = []
    for page in (1, 2, 3):
        r = await api.req("GET", PATH, "staff1", params={"sort": "-received_on", "page_size": 3, "page": page})
        offset += [i["id"] for i in r.json()["items"]]
    assert seen == offset and sorted(seen) == sorted(ids)
    monkeypatch.setenv("HOSO_LIST_COUNT_CAP", "4")
    body = (await api.req("GET", PATH, "staff1")).json()
    assert (body["total"], body["total_exact"]) == (4, False)
    body = (await api.req("GET", PATH, "staff1", params={"count": "exact"})).json()
    assert (body["total"], body["total_exact"]) == (7, True)
    r = await api.req("GET", PATH, "staff1", params={"count": "all"})
    assert r.status_code == 400 and "count" in r.text


async def test_bad_cursors_are_400(api):
    await _seed(api, 4)
    first = (await api.req("GET", PATH, "staff1", params={"page_size": 2})).json()
    good = first["next_cursor"]
    for params in ({"cursor": good[:-2] + ("AA" if good[-2:] != "AA" else "BB")}, {"cursor": "'; DROP TABLE case"},
                   {"cursor": good, "sort": "requester"}, {"cursor": good, "form_of_aid": "TGTT"},
                   {"cursor": good, "page": "2"}, {"cursor": "x" * 5000}, {"cursor": good, "q": "an"}):
        r = await api.req("GET", PATH, "staff1", params={"page_size": 2, **params})
        assert r.status_code == 400, (params, r.text)
        assert "cursor" in r.text, (params, r.text)
    r = await api.req("GET", PATH, "staff1", params={"page_size": 2, "cursor": good},
                      headers={"Accept-Language": "vi"})
    assert r.status_code == 200 and len(r.json()["items"]) == 2


async def test_text_prefix_filter(api):
    await _seed(api, 4)
    r = await api.req("GET", PATH, "staff1", params={"requester__starts": "nguyen van"})
    assert r.status_code == 200 and sorted(i["requester"] for i in r.json()["items"]) == ["Nguyễn Văn An1",
                                                                                         "Nguyễn Văn An3"]
    r = await api.req("GET", PATH, "staff1", params={"requester__starts": "TRẦN"})
    assert r.json()["total"] == 2
    r = await api.req("GET", PATH, "staff1", params={"requester__starts": "van"})
    assert r.json()["total"] == 2  # a word prefix: "Văn" starts a word
    r = await api.req("GET", PATH, "staff1", params={"requester__starts": "guyen"})
    assert r.json()["total"] == 0
    r = await api.req("GET", PATH, "staff1", params={"age__starts": "4"})
    assert r.status_code == 422 and "age" in r.text  # a bad filter is an invalid query, as everywhere


async def test_the_openapi_document_describes_the_list_answer(api):
    doc = (await api.client.get("/schema/openapi.json")).json()
    op = doc["paths"][PATH]["get"]
    params = {p["name"] for p in op["parameters"]}
    assert {"cursor", "count", "page", "page_size", "sort", "q"} <= params
    text = str(doc)
    for name in ("total_exact", "next_cursor"):
        assert name in text
