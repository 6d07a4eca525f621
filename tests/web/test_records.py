"""The record API for a superuser: list, read, create; invalid input writes nothing."""

from __future__ import annotations

import datetime as dt
import json

from hoso.hookspecs import hookimpl
from tests.web.conftest import running

CASE = {"received_on": "2025-03-04", "form_of_aid": "TV", "requester": "Nguyễn Văn An"}


async def unit_id(web, code="TT"):
    return await web.rt.db.fetchval("SELECT id FROM hoso_unit WHERE code = {}", code)


async def new_case(web, **changes):
    payload = {**CASE, "unit": await unit_id(web), **changes}
    return await web.client.post("/api/records/case", json=payload)


async def test_entities_describe_fields_and_choices(admin):
    r = await admin.client.get("/api/entities")
    assert r.status_code == 200
    [case] = r.json()
    assert case["name"] == "case" and case["label"] == {"vi": "Vụ việc", "en": "Case"}
    fields = {f["name"]: f for f in case["fields"]}
    assert fields["received_on"]["type"] == "date" and fields["received_on"]["required"] is True
    assert [c["value"] for c in fields["form_of_aid"]["choices"]] == ["TV", "TGTT"]
    assert fields["form_of_aid"]["choices"][0]["label"]["vi"] == "Tư vấn pháp luật"
    assert fields["unit"]["type"] == "org_unit"


async def test_superuser_creates_and_lists_cases(admin):
    uid = await admin.rt.db.fetchval("SELECT id FROM hoso_user WHERE username = 'admin.test'")
    r = await new_case(admin)
    assert r.status_code == 201, r.text
    first = r.json()
    assert first["code"] == "TT.TV.01.2025"
    assert first["received_on"] == "2025-03-04" and first["requester"] == "Nguyễn Văn An"
    assert first["sys_version"] == 1
    assert r.headers["location"] == f"/api/records/case/{first['id']}"
    second = (await new_case(admin, received_on="2025-05-06", requester="Trần Thị Bình")).json()
    assert second["code"] == "TT.TV.02.2025"

    listing = (await admin.client.get("/api/records/case")).json()
    assert listing["total"] == 2 and listing["page"] == 1 and listing["page_size"] == 50
    assert [c["code"] for c in listing["items"]] == ["TT.TV.02.2025", "TT.TV.01.2025"]  # newest first
    assert listing["items"][1]["received_on"] == "2025-03-04"

    page2 = (await admin.client.get("/api/records/case", params={"page": 2, "page_size": 1})).json()
    assert [c["code"] for c in page2["items"]] == ["TT.TV.01.2025"] and page2["total"] == 2

    one = await admin.client.get(f"/api/records/case/{first['id']}")
    assert one.status_code == 200 and one.json()["code"] == "TT.TV.01.2025"

    # written by the logged-in user, from the client's address, and audited
    created_by = await admin.rt.db.fetchval("SELECT sys_created_by FROM \"case\" WHERE id = {}", first["id"])
    assert created_by == uid
    audit = [a for a in await admin.audit("create") if a["entity"] == "case"]
    assert [(a["record_id"], a["actor_id"], a["actor"], a["origin"]) for a in audit] == [
        (first["id"], uid, "admin.test", "testclient"), (second["id"], uid, "admin.test", "testclient")]
    assert json.loads(audit[0]["changes"])["requester"] == [None, "Nguyễn Văn An"]


async def test_page_size_is_limited(admin):
    assert (await admin.client.get("/api/records/case", params={"page_size": 1000})).status_code == 200
    for params in ({"page_size": 1001}, {"page": 0}, {"page_size": "many"}):
        r = await admin.client.get("/api/records/case", params=params)
        assert r.status_code == 400, params
        assert r.json()["status"] == 400


async def test_deleted_records_are_hidden(admin):
    a = (await new_case(admin)).json()
    b = (await new_case(admin)).json()
    await admin.rt.db.execute("UPDATE \"case\" SET sys_deleted_at = {} WHERE id = {}",
                              dt.datetime(2025, 6, 1, tzinfo=dt.UTC), a["id"])
    listing = (await admin.client.get("/api/records/case")).json()
    assert listing["total"] == 1 and [c["id"] for c in listing["items"]] == [b["id"]]
    assert (await admin.client.get(f"/api/records/case/{a['id']}")).status_code == 404


INVALID_PAYLOADS = [
    ({"colour": "red"}, "colour", "is not a field"),
    ({"received_on": "yesterday"}, "received_on", "YYYY-MM-DD"),
    ({"unit": "TT"}, "unit", "id of a record"),
    ({"requester": None}, "requester", "is required"),
    ({"form_of_aid": "XX"}, "form_of_aid", "not one of the options"),
    ({"unit": 99999}, "unit", "does not exist"),
    ({"code": "MY.OWN.CODE"}, "code", "naming series"),
]


async def test_invalid_payloads_get_422_naming_the_field_and_write_nothing(admin):
    unit = await unit_id(admin)
    for changes, field, fragment in INVALID_PAYLOADS:
        payload = {**CASE, "unit": unit, **changes}
        if changes.get("requester", "") is None:
            del payload["requester"]  # missing altogether
        before = (await admin.count("case"), await admin.count("hoso_audit"), await admin.count("hoso_series"))
        r = await admin.client.post("/api/records/case", json=payload, headers={"Accept-Language": "en"})
        assert r.status_code == 422, (changes, r.text)
        body = r.json()
        assert body["status"] == 422 and body["title"] and body["detail"], changes
        assert any(e["field"] == field and fragment in e["message"] for e in body["errors"]), (changes, body)
        after = (await admin.count("case"), await admin.count("hoso_audit"), await admin.count("hoso_series"))
        assert after == before, changes


async def test_validation_messages_are_vietnamese_by_default(admin):
    r = await new_case(admin, colour="red")
    assert r.status_code == 422
    assert r.json()["errors"] == [{"field": "colour", "message": "trường không tồn tại"}]


async def test_bodies_must_be_json_objects(admin):
    before = await admin.count("case")
    assert (await admin.client.post("/api/records/case", json=[CASE])).status_code == 400
    assert (await admin.client.post("/api/records/case", content=b"{not json",
                                    headers={"content-type": "application/json"})).status_code == 400
    assert (await admin.client.post("/api/records/case", data={"requester": "x"})).status_code == 415
    assert await admin.count("case") == before


async def test_unknown_entities_and_records_are_404(admin):
    for url in ("/api/records/lawyer", "/api/records/lawyer/1", "/api/records/case/12345"):
        r = await admin.client.get(url)
        assert r.status_code == 404, url
        assert r.headers["content-type"].startswith("application/problem+json")
    assert (await admin.client.post("/api/records/lawyer", json={})).status_code == 404


class Exploding:
    @hookimpl
    def hoso_validate_record(self, entity, values, context):
        raise RuntimeError("secret internals: /etc/passwd")


async def test_unexpected_errors_are_a_500_problem_without_details(config_dir, database_url):
    async with running(config_dir.root, database_url, plugins=[Exploding()]) as web:
        await web.user("root.user", superuser=True)
        assert (await web.login("root.user")).status_code == 200
        before = await web.count("case")
        r = await new_case(web)
        assert r.status_code == 500
        body = r.json()
        assert body["status"] == 500 and body["title"] == "Internal Server Error"
        assert "secret" not in r.text and "Traceback" not in r.text and "RuntimeError" not in r.text
        assert await web.count("case") == before


async def test_openapi_schema_is_served(web):
    r = await web.client.get("/schema/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    # One set of routes per configured entity, its body described by the service's own schema.
    assert {"/api/records/case", "/api/records/case/{record_id}", "/api/records/case/{record_id}/history",
            "/api/records/case/{record_id}/transitions/{transition}"} <= set(paths)
    body = paths["/api/records/case"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["form_of_aid"]["enum"] == ["TV", "TGTT"]
    assert set(body["required"]) >= {"received_on", "form_of_aid", "requester", "unit"}
    assert "code" not in body["properties"], "the naming series sets the code"
    assert body["additionalProperties"] is False
