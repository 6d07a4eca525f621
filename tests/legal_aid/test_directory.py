"""The public directory: current organisations and performers, public fields only, no login (issue 12, item 4)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest

from hoso.records.context import LOCAL_ZONE, RecordContext
from hoso_legal_aid.directory import DirectoryQuery, read_directory
from tests.legal_aid.conftest import legal_aid_app
from tests.legal_aid.test_directory_cache import answers_follow_every_write

# Values of every non-public field, each unique, so that their absence from an answer can be checked.
SECRET = {"registration_number": "REG-SECRET-71", "contract_number": "HD-SECRET-72", "note": "ghi chú bí mật 73"}
PERFORMER_SECRET = {"citizen_id": "001203004567", "phone": "0912345678", "email": "an.secret@example.vn",
                    "card_number": "CARD-SECRET-74", "yearly_target": 37, "date_of_birth": "1980-02-03"}


def today() -> dt.date:
    return dt.datetime.now(LOCAL_ZONE).date()


async def unit(rt, code: str) -> int:
    return int(await rt.db.fetchval("SELECT id FROM hoso_unit WHERE code = {}", code))


async def seed(rt):
    svc, ctx = rt.records(), RecordContext.system(rt.config)
    tt, stp = await unit(rt, "TT-01"), await unit(rt, "STP-02")
    day = today()
    base = {"kind": "law_firm_contract", "address": "12 Phố Huế", "phone": "0241234567",
            "email": "lienhe@dong-a.vn", "contract_from": "2024-01-01", **SECRET}
    live = await svc.create("organisation", {**base, "name": "Công ty Luật Đông Á", "unit": tt}, ctx)
    ended = await svc.create("organisation", {**base, "name": "Văn phòng Luật Đã Hết",
                                              "contract_until": (day - dt.timedelta(days=1)).isoformat(),
                                              "unit": tt}, ctx)
    last_day = await svc.create("organisation", {**base, "name": "Trung tâm Tư vấn Hôm Nay", "unit": stp,
                                                 "kind": "advice_org_registered",
                                                 "contract_until": day.isoformat()}, ctx)
    future = await svc.create("organisation", {**base, "name": "Công ty Luật Tương Lai", "unit": tt,
                                               "contract_from": (day + dt.timedelta(days=3)).isoformat()}, ctx)
    inactive = await svc.create("organisation", {**base, "name": "Công ty Luật Nghỉ", "unit": tt,
                                                 "active": False}, ctx)
    deleted = await svc.create("organisation", {**base, "name": "Công ty Luật Đã Xoá", "unit": tt}, ctx)
    await svc.delete("organisation", deleted["id"], "nhập nhầm", deleted["sys_version"], ctx)
    performer = await svc.create("performer", {"name": "Nguyễn Văn An", "kind": "organisation_lawyer",
                                               "gender": "male", "unit": tt, "organisation": live["id"],
                                               **PERFORMER_SECRET}, ctx)
    await svc.create("performer", {"name": "Trần Thị Bình", "kind": "assistant", "unit": tt,
                                   "organisation": ended["id"]}, ctx)
    return {"live": live, "ended": ended, "last_day": last_day, "future": future, "inactive": inactive,
            "performer": performer}


def names(body: dict) -> list[str]:
    return [i["name"] for i in body["items"]]


@pytest.mark.slow
async def test_directory_shows_current_public_rows_at_once_and_nothing_else(reference_config_dir, database_url):
    async with legal_aid_app(reference_config_dir, database_url) as (rt, client):
        rows = await seed(rt)
        svc, ctx = rt.records(), RecordContext.system(rt.config)

        r = await client.get("/api/directory/organisation")
        assert r.status_code == 200, r.text
        assert r.headers["cache-control"] == "no-store"
        body = r.json()
        # current only: not ended yesterday, not starting later, not inactive, not deleted; the last day counts
        assert names(body) == ["Công ty Luật Đông Á", "Trung tâm Tư vấn Hôm Nay"] and body["total"] == 2
        first = body["items"][0]
        assert set(first) == {"id", "name", "kind", "address", "phone", "email", "unit"}
        assert first["kind"] == {"value": "law_firm_contract",
                                 "label": "Tổ chức hành nghề luật sư ký hợp đồng thực hiện trợ giúp pháp lý"}
        assert first["unit"]["code"] == "TT-01" and first["unit"]["province"]["code"] == "STP-01"
        assert not any(v in r.text for v in SECRET.values())

        # a change shows on the next request: edit, end, then bring back
        live = rows["live"]
        live = await svc.update("organisation", live["id"], {"name": "Công ty Luật Đông Á Mới"},
                                live["sys_version"], ctx)
        assert "Công ty Luật Đông Á Mới" in names((await client.get("/api/directory/organisation")).json())
        live = await svc.update("organisation", live["id"], {"active": False}, live["sys_version"], ctx)
        assert names((await client.get("/api/directory/organisation")).json()) == ["Trung tâm Tư vấn Hôm Nay"]
        # the performer of an organisation no longer listed shows no organisation
        perf = (await client.get("/api/directory/performer")).json()
        assert [(i["name"], i["organisation"]) for i in perf["items"]] == [("Nguyễn Văn An", None),
                                                                           ("Trần Thị Bình", None)]
        live = await svc.update("organisation", live["id"], {"active": True}, live["sys_version"], ctx)
        created = await svc.create("organisation", {"name": "Công ty Luật Mới Lập", "kind": "law_firm_registered",
                                                    "unit": await unit(rt, "TT-01")}, ctx)
        assert "Công ty Luật Mới Lập" in names((await client.get("/api/directory/organisation")).json())
        await svc.delete("organisation", created["id"], "giải thể", created["sys_version"], ctx)
        assert "Công ty Luật Mới Lập" not in names((await client.get("/api/directory/organisation")).json())

        # performers: public fields only, the organisation by its name while it is listed
        r = await client.get("/api/directory/performer", params={"lang": "en"})
        an = r.json()["items"][0]
        assert set(an) == {"id", "name", "kind", "unit", "organisation"}
        assert an["organisation"] == {"id": live["id"], "name": "Công ty Luật Đông Á Mới"}
        assert an["kind"]["label"] == "Lawyer of a participating organisation"
        assert not any(str(v) in r.text for v in PERFORMER_SECRET.values()) and "male" not in r.text

        # search ignores case and diacritics, by word prefix, over the configured public fields
        async def search(q, entity="organisation", **more):
            return names((await client.get(f"/api/directory/{entity}", params={"q": q, **more})).json())
        assert await search("dong a") == ["Công ty Luật Đông Á Mới"]
        assert await search("ĐÔNG Á MỚI") == ["Công ty Luật Đông Á Mới"]
        assert await search("pho hue") == ["Công ty Luật Đông Á Mới", "Trung tâm Tư vấn Hôm Nay"]  # the address
        assert await search("ong a") == []  # a word prefix, not a substring
        assert await search("nguyen van") == [] and await search("nguyen van", "performer") == ["Nguyễn Văn An"]
        assert await search("001203004567", "performer") == []  # not public: never searched
        assert await search("", kind="advice_org_registered") == ["Trung tâm Tư vấn Hôm Nay"]
        assert await search("", province="STP-02") == ["Trung tâm Tư vấn Hôm Nay"]

        # the page: Vietnamese first, English on request, searchable, nothing else shown
        page = await client.get("/directory", params={"q": "dong a"})
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "Danh bạ trợ giúp pháp lý" in page.text and "Công ty Luật Đông Á Mới" in page.text
        assert "Trung tâm Tư vấn Hôm Nay" not in page.text and "http" not in page.text.split("<body>")[0]
        assert not any(v in page.text for v in SECRET.values())
        en = await client.get("/directory", params={"list": "performer", "lang": "en"})
        assert "Legal aid directory" in en.text and "Nguyễn Văn An" in en.text
        assert not any(str(v) in en.text for v in PERFORMER_SECRET.values() if len(str(v)) > 6)

        # paging and its limit
        r = await client.get("/api/directory/organisation", params={"page_size": 1, "page": 2})
        assert r.json()["pages"] == 2 and names(r.json()) == ["Trung tâm Tư vấn Hôm Nay"]
        for params in ({"page": "0"}, {"page_size": "101"}, {"page": "x"}, {"kind": "nope"}, {"province": "ZZ"},
                       {"sort": "name"}, {"q": "a" * 101}, {"lang": "fr"}, {"unit": "1"}):
            bad = await client.get("/api/directory/organisation", params=params)
            assert bad.status_code == 400, (params, bad.text)
            assert bad.json()["errors"][0]["field"] == next(iter(params)), bad.text
        assert (await client.get("/directory", params={"page": "-1"})).status_code == 400

        # anonymous reaches nothing else
        assert (await client.get("/api/directory/case")).status_code == 404
        assert (await client.get("/directory", params={"list": "case"})).status_code == 404
        for path in ("/api/records/organisation", "/api/records/performer", "/api/records/case", "/api/entities",
                     f"/api/records/organisation/{rows['ended']['id']}"):
            assert (await client.get(path)).status_code == 401, path

        await every_field_alone_and_left_out(rt)
        await answers_follow_every_write(rt, client, reference_config_dir, database_url)


async def every_field_alone_and_left_out(rt) -> None:
    """For every field of each directory entity: with every other field public, its stored value never leaves,
    and the items hold exactly the public fields and the id."""
    d = rt.config.kind("directory")
    for de in d.entities:
        fields = [f.name for f in rt.config.entity(de.entity).column_fields]
        stored = await rt.db.fetch(f'SELECT * FROM "{de.entity}" WHERE sys_deleted_at IS NULL')
        for name in fields:
            for public in (set(fields) - {name},):
                variant = dataclasses.replace(d, entities=(dataclasses.replace(
                    de, public=tuple(sorted(public)), search=(), sort=None),))
                body = await read_directory(rt, variant, DirectoryQuery(de.entity, page_size=100))
                assert body["items"], (de.entity, public)
                assert all(set(item) == public | {"id"} for item in body["items"]), (de.entity, public)
                if name not in public:
                    text = json.dumps(body, ensure_ascii=False, default=str)
                    for row in stored:
                        v = row[name]
                        if v is not None and len(str(v)) > 6 and not isinstance(v, bool):
                            assert str(v) not in text, (de.entity, name, v)


def test_every_field_the_reference_directory_searches_has_a_fold_index():
    """The directory's word-prefix search reads a fold index (PostgreSQL) for each searched field: without one,
    every search folded the name and address of every current row (bench/directory.py: the cold start's p95 went
    from 1,190 to 17 ms with the indexes). The entities declare their search in YAML; this holds them to it."""
    from pathlib import Path

    import hoso_legal_aid
    from hoso.model.migrate import desired_snapshot
    from tests.helpers import load_full_config

    config = load_full_config(Path(__file__).resolve().parents[2], [hoso_legal_aid])
    directory = config.kind("directory")
    searched = {(de.entity, name) for de in directory.entities for name in de.search}
    assert searched >= {("organisation", "name"), ("organisation", "address"), ("performer", "name")}
    tables = desired_snapshot(config)["tables"]  # what `hoso migrate` makes
    indexed = {(de.entity, spec["columns"][0]) for de in directory.entities
               for spec in tables[de.entity]["indexes"].values() if spec.get("fold")}
    assert searched <= indexed, searched - indexed
