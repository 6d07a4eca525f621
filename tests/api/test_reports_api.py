"""Reports over HTTP, on both engines: the list of reports a user may run, a run as JSON (its shape, the total
equal to the sum of the rows), CSV and XLSX files (type, name, content), the records behind a cell, a 400 naming
each bad parameter, 403 for a user without run_reports, no rows for a statistics-only user, the OpenAPI document."""

from __future__ import annotations

import csv
import datetime as dt
import io
from contextlib import asynccontextmanager

import openpyxl
import pytest

from hoso.scope import Actor
from hoso.web.tokens import create_token
from tests.reports.conftest import load_cases, set_users, unit_ids, write_config
from tests.web.conftest import running

# user name -> (role, unit): the reporting world's roles (tests/reports/conftest.py)
PEOPLE = {"nat": ("r_national", "BTP"), "prov": ("r_province", "P1"), "stats": ("r_stats", "P2"),
          "reader": ("r_reader", "P1"), "centre": ("r_centre", "C11")}

CASES = [
    {"received_on": dt.date(2025, 2, 1), "field_of_law": "HS", "form_of_aid": "TV", "gender": "male",
     "groups": ["TE"], "status": "accepted", "unit": "C11", "citizen_id": "1", "age": 15},
    {"received_on": dt.date(2025, 3, 1), "field_of_law": "HS", "form_of_aid": "TGTT", "gender": "female",
     "groups": ["HN", "TE"], "status": "accepted", "unit": "C12", "citizen_id": "2", "age": 30},
    {"received_on": dt.date(2025, 4, 1), "field_of_law": "DS", "form_of_aid": "TV", "gender": "female",
     "groups": [], "status": "ended", "unit": "C21", "citizen_id": "3", "age": 50},
    {"received_on": dt.date(2025, 8, 1), "field_of_law": "DS", "form_of_aid": "TV", "gender": "male",
     "groups": ["HN"], "status": "accepted", "unit": "C11", "citizen_id": "4", "age": 60},
    {"received_on": dt.date(2025, 9, 1), "field_of_law": "HS", "form_of_aid": "TV", "gender": "male",
     "groups": [], "status": "refused", "unit": "C11", "citizen_id": "5", "age": 70},
    {"received_on": dt.date(2024, 9, 1), "field_of_law": "HS", "form_of_aid": "TV", "gender": "female",
     "groups": ["TE"], "status": "accepted", "unit": "C21", "citizen_id": "6", "age": 9},
]


@asynccontextmanager
async def world(root, database_url):
    write_config(root)
    async with running(root, database_url) as web:
        rt = web.rt
        ids = {name: await web.user(name) for name in PEOPLE}
        await set_users(rt, [(ids[n], role, unit) for n, (role, unit) in PEOPLE.items()])
        await load_cases(rt, CASES)
        root_actor = Actor(None, "root", superuser=True, origin="test-setup")
        tokens = {n: (await create_token(rt, root_actor, ids[n], f"token of {n}"))[1] for n in PEOPLE}
        web.tokens = tokens
        web.units = await unit_ids(rt)
        yield web


@pytest.fixture
async def web(tmp_path, database_url):
    async with world(tmp_path / "config", database_url) as w:
        yield w


async def get(web, url: str, user: str | None = "nat", lang: str = "vi", **kw):
    headers = {"Accept-Language": lang, **kw.pop("headers", {})}
    if user is not None:
        headers["Authorization"] = f"Bearer {web.tokens[user]}"
    return await web.client.get(url, headers=headers, **kw)


async def test_list_shows_the_reports_a_user_may_run(web):
    r = await get(web, "/api/reports", lang="en")
    assert r.status_code == 200
    by_name = {x["name"]: x for x in r.json()}
    assert set(by_name) == {"people", "by_unit", "measures", "monthly", "quotas"}
    assert by_name["people"]["label"] == "People assisted" and by_name["people"]["label_vi"] == "Số người được trợ giúp"
    assert (await get(web, "/api/reports", "stats")).json() != []  # statistics-only roles run reports
    assert (await get(web, "/api/reports", "reader")).json() == []  # read without run_reports: none
    assert (await get(web, "/api/reports", None)).status_code == 401


async def test_run_answers_the_result_json(web):
    r = await get(web, "/api/reports/people?period=2025")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["report"] == "people" and body["label"] == "Số người được trợ giúp"
    assert body["period"]["code"] == "2025" and body["period"]["start"] == "2025-01-01"
    assert [c["key"] for c in body["columns"]][:3] == ["total", "men", "women"]
    assert body["columns"][1]["groups"] == ["Giới tính"]
    assert [d["key"] for d in body["dimensions"]] == ["field_of_law", "form_of_aid"]
    leaves = [row for row in body["rows"] if row["kind"] == "row"]
    assert {row["kind"] for row in body["rows"]} == {"row", "subtotal"}
    # 2025, not refused: cases 1-4
    assert body["total"]["kind"] == "total" and body["total"]["values"][0] == 4
    for i in range(3):
        assert body["total"]["values"][i] == sum(row["values"][i] for row in leaves)
    assert body["template_hash"]


async def test_scope_and_unit_select_the_numbers(web):
    national = (await get(web, "/api/reports/people")).json()["total"]["values"][0]
    province = (await get(web, "/api/reports/people", "prov")).json()["total"]["values"][0]
    centre = (await get(web, "/api/reports/people?unit=C11")).json()
    assert (national, province) == (5, 3)  # all but the refused case; P1 holds cases 1, 2 and 4
    assert centre["total"]["values"][0] == 2 and centre["unit"]["code"] == "C11"


BAD_PARAMETERS = [
    ("period=2025-13", "period"),
    ("period=soon", "period"),
    ("as_of=yesterday", "as_of"),
    ("structure=someday", "structure"),
    ("level=galaxy", "level"),
    ("unit=NOPE", "unit"),
    ("format=pdf", "format"),
    ("gender=male", "gender"),
    ("form_of_aid__near=TV", "form_of_aid__near"),
]


async def test_each_bad_parameter_is_named(web):
    for query, field in BAD_PARAMETERS:
        r = await get(web, f"/api/reports/people?{query}", lang="en")
        assert r.status_code == 400, (query, r.text)
        assert r.headers["content-type"].startswith("application/problem+json"), query
        fields = [e["field"] for e in r.json()["errors"]]
        assert any(f == field or f.endswith("." + field) for f in fields), (query, fields)
        assert "Traceback" not in r.text, query


async def test_all_bad_parameters_are_named_at_once(web):
    r = await get(web, "/api/reports/people?period=2025-13&as_of=x&structure=y&format=pdf")
    assert r.status_code == 400
    fields = {e["field"] for e in r.json()["errors"]}
    assert {"period", "as_of", "structure", "format"} <= fields


async def test_unknown_report_is_404_and_no_run_reports_is_403(web):
    r = await get(web, "/api/reports/nothing")
    assert r.status_code == 404 and r.json()["detail"]
    r = await get(web, "/api/reports/people", "reader", lang="en")
    assert r.status_code == 403 and r.headers["content-type"].startswith("application/problem+json")
    assert (await get(web, "/api/reports/people?format=csv", "reader")).status_code == 403
    assert (await get(web, "/api/reports/people", None)).status_code == 401


async def test_csv_file(web):
    r = await get(web, "/api/reports/people?period=2025&format=csv")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert 'filename="people_2025.csv"' in r.headers["content-disposition"]
    assert r.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][3] == "Giới tính"  # the group row above men and women
    assert rows[1][:4] == ["Lĩnh vực", "Hình thức", "Tổng số", "Nam"]
    assert rows[-1][0] == "Tổng cộng" and rows[-1][2] == "4"
    accepted = await get(web, "/api/reports/people?period=2025", headers={"Accept": "text/csv"})
    assert accepted.headers["content-type"].startswith("text/csv")


async def test_xlsx_file(web):
    r = await get(web, "/api/reports/people?period=2025-H1&unit=P1&format=xlsx", "prov")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert 'filename="people_2025-H1_P1.xlsx"' in r.headers["content-disposition"]
    ws = openpyxl.load_workbook(io.BytesIO(r.content)).active
    assert ws["A1"].value == "Số người được trợ giúp"
    assert ws["A2"].value == "Đơn vị: Tỉnh Một (P1)"
    assert ws["A3"].value.endswith("(01/01/2025 - 30/06/2025)")
    values = [row for row in ws.iter_rows(values_only=True)]
    total = next(row for row in values if row[0] == "Tổng cộng")
    assert total[2] == 2  # cases 1 and 2


async def test_cell_records_and_their_files(web):
    result = (await get(web, "/api/reports/people?period=2025")).json()
    row = next(x for x in result["rows"] if x["kind"] == "row" and x["keys"] == ["HS", "TV"])
    r = await get(web, "/api/reports/people/cell", params={"keys": '["HS", "TV"]', "column": "men",
                                                             "period": "2025"})
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert len(items) == row["values"][1] == 1 and items[0]["citizen_id"] == "1"
    total = await get(web, "/api/reports/people/cell", params={"keys": "[]", "column": "total", "period": "2025"})
    assert total.json()["total"] == result["total"]["values"][0]
    f = await get(web, "/api/reports/people/cell",
                  params={"keys": "[]", "column": "total", "period": "2025", "format": "xlsx"})
    assert f.headers["content-type"].startswith("application/vnd.openxmlformats")
    ws = openpyxl.load_workbook(io.BytesIO(f.content)).active
    assert ws.max_row == 1 + result["total"]["values"][0]
    c = await get(web, "/api/reports/people/cell",
                  params={"keys": "[]", "column": "total", "period": "2025", "format": "csv"})
    assert c.content.startswith(b"\xef\xbb\xbf") and len(c.content.decode("utf-8-sig").splitlines()) == 5


async def test_cell_refuses_statistics_users_and_bad_keys(web):
    # a statistics-only role never gets rows: its disclosure refuses the cell
    r = await get(web, "/api/reports/people/cell", "stats", params={"keys": "[]", "column": "total"})
    assert r.status_code == 403 and r.headers["content-type"].startswith("application/problem+json"), r.text
    assert (await get(web, "/api/reports/people", "stats")).json()["total"]["values"][0] == 2  # its numbers: P2
    r = await get(web, "/api/reports/people/cell", params={"keys": "{", "column": "nope"})
    assert r.status_code == 400
    assert {"keys"} <= {e["field"] for e in r.json()["errors"]}
    r = await get(web, "/api/reports/people/cell", params={"keys": "[]", "column": "nope"})
    assert r.status_code == 400 and [e["field"] for e in r.json()["errors"]] == ["column"]
    # hostile keys: nested deeper than the parser goes, objects, numbers out of any range, a NUL byte, a list
    for keys in ("[" * 1900 + "]" * 1900, '[{"a": 1}, "TV"]', f"[{2 ** 70}, \"TV\"]", '["HS\\u0000", "TV"]',
                 '[["HS"], "TV"]', '["HS", 12]', '[true, "TV"]'):
        r = await get(web, "/api/reports/people/cell", params={"keys": keys, "column": "total"})
        assert r.status_code == 400, (keys[:40], r.status_code, r.text[:300])
        assert r.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in r.json()["errors"]] == ["keys"], (keys[:40], r.text[:300])


async def test_openapi_documents_parameters_and_result(web):
    doc = (await web.client.get("/schema/openapi.json")).json()
    run = doc["paths"]["/api/reports/{name}"]["get"]
    names = {p["name"] for p in run["parameters"]}
    assert {"name", "period", "unit", "as_of", "structure", "level", "lang", "format"} <= names
    ok = run["responses"]["200"]["content"]["application/json"]["schema"]
    assert "ReportJson" in str(ok)
    files = run["responses"]["200"]["content"]
    assert {"text/csv", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"} <= set(files)
    assert "400" in run["responses"] and "403" in run["responses"]
    assert "/api/reports" in doc["paths"] and "/api/reports/{name}/cell" in doc["paths"]


HOSTILE = ["", " ", "2025-H3", "0000", "9999-12", "-1", "2025-02-30", "1e309", "' OR 1=1 --", "x" * 300,
           "Đà Nẵng", "\u202e2025", "null", "[]", "{}", "2025-07-01T25:00", "2025-07-01T10:00+99:00",
           "0001-01-01", "9999-12-31T23:59", "9999-12-31"]


async def test_hostile_values_are_refused_or_run_never_a_server_error(web):
    for name in ("period", "unit", "as_of", "structure", "level", "lang", "format", "form_of_aid", "urgent__in",
                 "form_of_aid__null"):
        for value in HOSTILE:
            r = await get(web, "/api/reports/people", params={name: value})
            assert r.status_code in (200, 400), (name, value, r.status_code, r.text)
            if r.status_code == 400:
                assert r.json()["errors"], (name, value)
    for value in HOSTILE:
        r = await get(web, "/api/reports/people/cell", params={"keys": value, "column": value})
        assert r.status_code == 400, (value, r.status_code, r.text)
