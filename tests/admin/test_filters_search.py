"""Search and filters as people type, in the admin and across entities: the admin's text filter and the API's
``starts`` answer the same rows for the same text (a word prefix ignoring case and diacritics); pickers find
"Trà Vinh" for "tra vinh" and offer nothing outside the user's scope; ``GET /api/search`` finds records of every
entity the user may read and only those; hostile texts give 4xx or nothing, never a server error. Both engines."""

from __future__ import annotations

from hoso.records.search import fold, word_prefix
from hoso.records.service import RecordContext

NAMES = ["Nguyễn Văn An", "NGUYỄN THỊ Bình", "Trần Nguyễn Văn", "Nguyên Hà", "Lê  Nguyễn\tTâm", "Đặng Văn Đức",
         "nguyen_van 50%", "Phạm Thị Hoà"]
HOSTILE = ["%", "_", "\\", "%_%", "' OR 1=1 --", ".*", "(a|b)+$", "[[:alpha:]]", "a" * 5000, "\x00", "nguyen\x00",
           "\ufeff", "😀", "\u0301"]


async def _cases(admin, names: list[str]) -> None:
    rt = admin.web.rt
    system = RecordContext.system(rt.config)
    svc = rt.records()
    for i, name in enumerate(names):
        unit = admin.seed.units["TT-01" if i % 2 == 0 else "CN1-01"]
        await svc.create("case", {"received_on": "2025-03-04", "request_channel": "in_person", "requester_name": name,
                                  "beneficiary_groups": ["HN"], "field_of_law": "DS", "form_of_aid": "TV",
                                  "unit": unit}, system)


async def _admin_names(admin, value: str) -> list[str]:
    r = await admin.get("/tables/case/", params={"__page_size": 100, "requester_name": value})
    assert r.status_code == 200, r.text
    return sorted(row["requester_name"] for row in r.json()["rows"])


async def _api_names(admin, value: str) -> list[str]:
    r = await admin.client.get("/api/records/case", params={"requester_name__starts": value, "page_size": 1000})
    assert r.status_code == 200, r.text
    return sorted(row["requester_name"] for row in r.json()["items"])


async def _all_names(admin) -> list[str]:
    r = await admin.client.get("/api/records/case", params={"page_size": 1000})
    return [row["requester_name"] for row in r.json()["items"]]


async def test_the_admin_filter_and_the_api_agree(admin):
    await _cases(admin, NAMES)
    await admin.login("tt01.staff")
    visible = await _all_names(admin)
    for value in ["nguyen", "NGUYEN VAN", "nguyễn văn", "van", "nguyên", "guyen", "tam", "le nguyen", "dang van duc",
                  "duc", "nguyen_van 50", "50%", "hoa", "thi"]:
        expected = sorted(n for n in visible if word_prefix(n, value))
        assert await _admin_names(admin, value) == expected, value
        assert await _api_names(admin, value) == expected, value
    assert "Nguyễn Văn An" in await _admin_names(admin, "nguyen")  # "nguyen" finds "Nguyễn"
    assert "Nguyên Hà" in await _admin_names(admin, "nguyen")  # diacritics do not count either way
    assert "Trần Nguyễn Văn" in await _admin_names(admin, "van")  # "Văn" is its last word: found
    # scope: a TT-02 user sees none of them
    await admin.login("tt02.staff")
    assert await _admin_names(admin, "nguyen") == []
    assert await _api_names(admin, "nguyen") == []


async def test_hostile_filter_text_is_refused_or_finds_nothing(admin):
    """Each hostile text (one database for all of them: they only read), on every list, count, picker and search."""
    await _cases(admin, NAMES[:2])
    await admin.login("tt01.staff")
    tried = 0
    for value in HOSTILE:
        for path, params in (("/admin/api/tables/case/", {"requester_name": value}),
                             ("/admin/api/tables/case/count/", {"requester_name": value}),
                             ("/admin/api/tables/case/ids/", {"search": value}),
                             ("/admin/api/tables/hoso_unit/ids/", {"search": value}),
                             ("/api/records/case", {"requester_name__starts": value}),
                             ("/api/records/case", {"q": value}),
                             ("/api/search", {"q": value})):
            r = await admin.client.get(path, params=params)
            assert r.status_code < 500, (path, value, r.text)
            tried += 1
            # a list's q with no word once folded is no search (the whole list); a filter with none finds nothing
            no_search = params.get("q") is not None and path != "/api/search" and not fold(value)
            if r.status_code == 200 and path != "/admin/api/tables/case/count/" and not no_search:
                body = r.json()
                rows = body.get("rows", body.get("items", body.get("results", body)))
                assert not rows or value in ("_",), (path, value, body)
    assert tried == 7 * len(HOSTILE)


async def test_pickers_fold_and_stay_in_scope(admin):
    await admin.login("quan.tri")
    r = await admin.get("/tables/hoso_unit/ids/", params={"search": "tra vinh"})
    assert r.status_code == 200
    names = list(r.json().values())
    assert names and all("Trà Vinh" in n for n in names), names
    r = await admin.get("/tables/hoso_unit/ids/", params={"search": "TRÀ VINH"})
    assert list(r.json().values()) == names
    # a centre's staff are offered the units of their centre only
    await admin.login("tt01.staff")
    r = await admin.get("/tables/hoso_unit/ids/", params={"limit": 1000})
    offered = set(r.json())
    assert str(admin.seed.units["TT-01"]) in offered and str(admin.seed.units["CN1-01"]) in offered
    assert str(admin.seed.units["TT-02"]) not in offered and str(admin.seed.units["CUC"]) not in offered
    r = await admin.get("/tables/hoso_unit/ids/", params={"search": "tra vinh"})
    assert r.json() == {}
    # records: the performer picker folds too, and only the centre's performers
    r = await admin.get("/tables/performer/ids/", params={"search": "le van"})
    assert list(r.json().values()) == ["Lê Văn Luật"]
    r = await admin.get("/tables/performer/ids/", params={"search": "pham thi"})
    assert r.json() == {}


async def test_a_picker_search_answers_as_the_oracle_whichever_way_it_reads(admin, monkeypatch):
    """A picker's options: the matching rows in the user's scope, ordered by readable value and id, a page of them.
    Read from the matches when there are few (at most ``PICKER_MATCHES``), else by walking the order: both answer
    as a plain-Python oracle, and in the user's scope."""
    from hoso.admin.app import AdminBuild

    await _cases(admin, [f"Người {i}" for i in range(24)])
    rt = admin.web.rt
    ids = [int(r["id"]) for r in await rt.db.fetch('SELECT id FROM "case" ORDER BY id')]
    for n, i in enumerate(ids):  # codes of one shape, so that the engine's collation and Python sort them alike
        code = f"{['TT', 'CN', 'TP'][n % 3]}.{['TV', 'TG'][n % 2]}.{n % 11:02d}.2025"
        await rt.db.execute('UPDATE "case" SET code = {} WHERE id = {}', code, i)
    rows = [(r["code"], int(r["id"])) for r in await rt.db.fetch('SELECT id, code FROM "case" '
                                                                 "WHERE sys_deleted_at IS NULL")]

    async def options(search: str, offset: int, limit: int = 4) -> list[tuple[str, int]]:
        r = await admin.get("/tables/case/ids/", params={"search": search, "limit": limit, "offset": offset})
        assert r.status_code == 200, r.text
        return [(code, int(i)) for i, code in r.json().items()]

    searches = ["tt", "tt.tv", "TT.TV.0", "cn.tg.1", "tp.tg.03.2025", "tv", "zzz", str(ids[5])]
    await admin.login("quan.tri")
    for cap in (10_000, 2):  # the matches sorted; more than the cap: the walk in order
        monkeypatch.setattr(AdminBuild, "PICKER_MATCHES", cap)
        for search in searches:
            expected = sorted(row for row in rows if word_prefix(row[0], search) or str(row[1]) == search)
            for offset in (0, 3):
                assert await options(search, offset) == expected[offset:offset + 4], (cap, search, offset)
    # a centre's staff: the same answer either way, within the centre's cases only
    await admin.login("tt01.staff")
    theirs = {int(r["id"]) for r in await rt.db.fetch('SELECT id FROM "case" WHERE unit IN ({}, {})',
                                                        admin.seed.units["TT-01"], admin.seed.units["CN1-01"])}
    for search in searches:
        answers = []
        for cap in (10_000, 0):
            monkeypatch.setattr(AdminBuild, "PICKER_MATCHES", cap)
            answers.append(await options(search, 0, limit=50))
        assert answers[0] == answers[1] and {i for _, i in answers[0]} <= theirs, search


async def test_global_search_covers_the_readable_entities_in_scope(admin):
    await _cases(admin, ["Nguyễn Văn Tìm"])
    await admin.login("tt01.staff")
    r = await admin.client.get("/api/search", params={"q": "nguyen van tim"})
    assert r.status_code == 200, r.text
    groups = {g["entity"]: g for g in r.json()["results"]}
    [hit] = groups["case"]["items"]
    assert hit["title"] is None or "Tìm" in str(hit["title"]) or hit["code"]
    assert hit["unit_code"] == "TT-01" and hit["link"] == f"/api/records/case/{hit['id']}"
    assert hit["admin_link"].endswith(f"/case/{hit['id']}")
    r = await admin.client.get("/api/search", params={"q": "le van luat"})
    assert [i["title"] for i in {g["entity"]: g for g in r.json()["results"]}["performer"]["items"]] == \
        ["Lê Văn Luật"]
    # another centre's user finds neither
    await admin.login("tt02.staff")
    r = await admin.client.get("/api/search", params={"q": "nguyen van tim"})
    assert r.status_code == 200 and r.json()["results"] == []
    r = await admin.client.get("/api/search", params={"q": "le van luat"})
    assert r.json()["results"] == []
    for bad in ("", "   ", "x" * 201, "a\x00"):
        r = await admin.client.get("/api/search", params={"q": bad})
        assert r.status_code == 400 and "q" in r.text, (bad, r.text)
    admin.client.cookies.delete("hoso_session")
    assert (await admin.client.get("/api/search", params={"q": "nguyen"})).status_code == 401


async def test_the_admin_search_page(admin):
    await _cases(admin, ["Nguyễn Văn Tìm"])
    assert (await admin.client.get("/admin/hoso/search/", params={"q": "nguyen"})).status_code == 401
    await admin.login("tt01.staff")
    r = await admin.client.get("/admin/hoso/search/", params={"q": "NGUYEN van tim"})
    assert r.status_code == 200 and 'id="hoso-search-q"' in r.text and 'value="NGUYEN van tim"' in r.text
    assert 'data-entity="case"' in r.text and "/admin/#/case/" in r.text
    part = await admin.client.get("/admin/hoso/search/", params={"q": "nguyen van tim", "part": "results"})
    assert part.status_code == 200 and "<html" not in part.text and 'data-entity="case"' in part.text
    r = await admin.client.get("/admin/hoso/search/", params={"q": "<script>alert(1)</script>"})
    assert r.status_code == 200 and "<script>alert(1)" not in r.text and "hoso-search-none" in r.text
    r = await admin.client.get("/admin/hoso/search/", params={"q": "x" * 300})
    assert r.status_code == 400 and "hoso-search-error" in r.text
    r = await admin.client.get("/admin/hoso/search/")
    assert r.status_code == 200 and "hoso-search-group" not in r.text
    await admin.login("tt02.staff")
    r = await admin.client.get("/admin/hoso/search/", params={"q": "nguyen van tim", "part": "results"})
    assert r.status_code == 200 and "hoso-search-none" in r.text


async def test_date_and_number_ranges(admin):
    rt = admin.web.rt
    system = RecordContext.system(rt.config)
    days = ["2025-01-05", "2025-02-10", "2025-02-28", "2025-03-01", "2025-04-30"]
    for day in days:
        await rt.records().create("case", {"received_on": day, "request_channel": "in_person", "requester_name": "A",
                                           "beneficiary_groups": ["HN"], "field_of_law": "DS", "form_of_aid": "TV",
                                           "unit": admin.seed.units["TT-01"]}, system)
    await admin.login("tt01.staff")
    everything = (await admin.client.get("/api/records/case", params={"page_size": 1000})).json()["items"]

    async def admin_days(**params):
        r = await admin.get("/tables/case/", params={"__page_size": 100, **params})
        assert r.status_code == 200, r.text
        count = await admin.get("/tables/case/count/", params=params)
        assert count.json()["count"] == len(r.json()["rows"])
        return sorted(row["received_on"] for row in r.json()["rows"])

    for low, high in (("2025-02-01", "2025-02-28"), ("10/02/2025", "01/03/2025"), ("2025-03-01", None),
                      (None, "2025-01-31"), ("2025-05-01", None)):
        params = {k: v for k, v in (("received_on__from", low), ("received_on__to", high)) if v}
        iso = [None if v is None else (v if "-" in v else "-".join(reversed(v.split("/")))) for v in (low, high)]
        expected = sorted(r["received_on"] for r in everything
                          if (iso[0] is None or r["received_on"] >= iso[0])
                          and (iso[1] is None or r["received_on"] <= iso[1]))
        assert await admin_days(**params) == expected, params
        api = {k.replace("__from", "__gte").replace("__to", "__lte"): v for k, v in
               {k: v for k, v in zip(params, iso if len(params) == 2 else [x for x in iso if x], strict=True)}.items()}
        r = await admin.client.get("/api/records/case", params={"page_size": 1000, **api})
        assert sorted(i["received_on"] for i in r.json()["items"]) == expected, api
    for bad in ({"received_on__from": "31/02/2025"}, {"received_on__to": "yesterday"},
                {"requester_name__from": "a"}, {"nonexistent__to": "1"}, {"received_on__from": "\x00"}):
        r = await admin.get("/tables/case/", params=bad)
        assert r.status_code == 400, (bad, r.text)
        r = await admin.get("/tables/case/count/", params=bad)
        assert r.status_code == 400, (bad, r.text)


async def test_saved_filters_are_per_user_and_list(admin):
    path = "/admin/hoso/search/filters/"
    assert (await admin.client.get(path, params={"table": "case"})).status_code == 401
    await admin.login("tt01.staff")
    headers = {"X-CSRFToken": await admin.csrf()}

    async def save(**body):
        return await admin.client.post(path, json=body, headers=headers)

    r = await save(table="case", name="Nguyễn ở TT-01", query="?requester_name=nguyen&received_on__from=2025-01-01")
    assert r.status_code == 201, r.text
    assert (await save(table="case", name="Nguyễn ở TT-01", query="requester_name=nguyen")).status_code == 201
    assert (await save(table="case", name="Trần", query="requester_name=tran")).status_code == 201
    r = await admin.client.get(path, params={"table": "case"})
    assert [(f["name"], f["query"]) for f in r.json()] == [("Nguyễn ở TT-01", "requester_name=nguyen"),
                                                             ("Trần", "requester_name=tran")]
    for bad in ({"table": "case", "name": "", "query": ""}, {"table": "case", "name": "x" * 101, "query": ""},
                {"table": "case", "name": "a\x00", "query": ""}, {"table": "case", "name": "a", "query": "q" * 2001},
                {"table": "case", "name": "a", "query": 5}, {"table": "nope", "name": "a", "query": ""},
                {"table": "hoso_audit", "name": "a", "query": ""}, ["not", "an", "object"]):
        r = await admin.client.post(path, json=bad, headers=headers)
        assert r.status_code in (400, 404, 422), (bad, r.text)
    assert len((await admin.client.get(path, params={"table": "case"})).json()) == 2  # nothing written
    mine = (await admin.client.get(path, params={"table": "case"})).json()[0]["id"]
    # another user sees none of them and cannot delete them
    await admin.login("tt02.staff")
    headers = {"X-CSRFToken": await admin.csrf()}
    assert (await admin.client.get(path, params={"table": "case"})).json() == []
    assert (await admin.client.delete(path, params={"id": mine}, headers=headers)).status_code == 204
    await admin.login("tt01.staff")
    headers = {"X-CSRFToken": await admin.csrf()}
    assert len((await admin.client.get(path, params={"table": "case"})).json()) == 2
    assert (await admin.client.delete(path, params={"id": mine}, headers=headers)).status_code == 204
    assert [f["name"] for f in (await admin.client.get(path, params={"table": "case"})).json()] == ["Trần"]
    for bad in ("x", "-1", "99999999999999999999999"):
        assert (await admin.client.delete(path, params={"id": bad}, headers=headers)).status_code == 400
