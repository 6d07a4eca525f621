"""Hidden fields, existence and disclosure, through HTTP (API and the admin's JSON and pages) on both engines.

A ``reviewer`` at centre TT may read and update cases but not see their end date, confidential note or scan,
nor the names of performers; a national ``account_officer`` manages accounts everywhere. Every answer a reader
gets must be the same whatever a value hidden from them holds, and must not tell which ids or values exist
outside their scope.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re

import pytest

from hoso import accounts
from hoso.scope import Actor
from hoso.web.tokens import create_token
from tests.records.conftest import PERFORMER
from tests.web.conftest import PASSWORD

REVIEWER = """
role: reviewer
label: {vi: Cán bộ thẩm định}
grants:
  - entity: case
    scope: subtree
    actions: [read, create, update, transition:accept]
    hidden_fields: [ended_on, secret_note, scan]
  - entity: performer
    scope: subtree
    actions: [read]
    hidden_fields: [name]
"""

ACCOUNT_OFFICER = """
role: account_officer
label: {vi: Quản lý tài khoản toàn quốc}
grants:
  - entity: case
    scope: national
    actions: [read, manage_users]
can_grant: [centre_staff]
"""

CITIZEN_ID = "  citizen_id: {type: citizen_id, unique: true, label: {vi: Số CCCD, en: Citizen ID}}\n"


@pytest.fixture
def api_config(api_config, monkeypatch):
    """The API tests' configuration with a unique citizen ID on cases, performers titled by name, and the
    reviewer and account officer roles."""
    case = api_config.root / "forms_config" / "entities" / "case.yaml"
    case.write_text(case.read_text(encoding="utf-8").replace("\nfields:\n", "\nfields:\n" + CITIZEN_ID, 1),
                    encoding="utf-8")
    api_config.write("forms_config/entities/performer.yaml", PERFORMER.replace(
        "unit_field: unit\n", "unit_field: unit\ntitle_field: name\n"))
    api_config.write("roles_config/roles/reviewer.yaml", REVIEWER)
    api_config.write("roles_config/roles/account_officer.yaml", ACCOUNT_OFFICER)
    monkeypatch.setenv("HOSO_ADMIN_RELOAD_SECONDS", "0")
    return api_config


@pytest.fixture
async def api(api):
    """The API tests' users, and ``rev`` (reviewer at TT) and ``officer`` (account officer at P01)."""
    root = Actor(None, "root", superuser=True, origin="test-setup")
    start = dt.date.today() - dt.timedelta(days=30)
    for name, unit, role in (("rev", "TT", "reviewer"), ("officer", "P01", "account_officer")):
        api.ids[name] = await accounts.create_account(api.web.rt, root, name, PASSWORD, unit, roles=(role,),
                                                      starts_on=start)
        api.tokens[name] = (await create_token(api.web.rt, root, api.ids[name], f"test token of {name}"))[1]
    return api


async def _ended_case(api, ended_on: str, **extra) -> dict:
    """A case of TT accepted and ended on ``ended_on`` (by the superuser)."""
    c = await api.create_case("admin", "TT", **extra)
    r = await api.req("POST", f"/api/records/case/{c['id']}/transitions/accept", "admin",
                      json={"sys_version": c["sys_version"], "accepted_on": "2025-03-04"})
    assert r.status_code == 200, r.text
    r = await api.req("POST", f"/api/records/case/{c['id']}/transitions/end", "admin",
                      json={"sys_version": r.json()["sys_version"], "ended_on": ended_on})
    assert r.status_code == 200, r.text
    return r.json()


async def _admin_login(api, username: str):
    client = api.client
    client.cookies.delete("hoso_session")
    await client.get("/admin/")
    token = client.cookies.get("csrftoken")
    r = await client.post("/admin/public/login/", json={"username": username, "password": PASSWORD},
                          headers={"X-CSRFToken": token})
    assert r.status_code == 200, r.text
    return token


# -- item 7: history, overdue, rules, lookup ----------------------------------------------------------------------

def _scalars(value):
    """Every number and string inside a JSON value."""
    if isinstance(value, dict):
        for v in value.values():
            yield from _scalars(v)
    elif isinstance(value, list):
        for v in value:
            yield from _scalars(v)
    else:
        yield value


async def test_history_leaves_out_hidden_fields_and_files(api):
    c = await api.create_case("admin", "TT", secret_note="ghi chú mật XYZ")
    content = b"%PDF-1.7 scan of a confidential file"
    r = await api.req("PUT", f"/api/records/case/{c['id']}/attachments/scan", "admin", content=content,
                      params={"filename": "bi-mat-QWERTY.pdf"}, headers={"Content-Type": "application/pdf"})
    assert r.status_code == 201, r.text
    r = await api.req("GET", f"/api/records/case/{c['id']}/attachments/scan/download", "admin")
    assert r.status_code == 200 and r.content == content
    digest = hashlib.sha256(content).hexdigest()
    r = await api.req("PATCH", f"/api/records/case/{c['id']}", "admin",
                      json={"sys_version": c["sys_version"] + 1, "secret_note": "thay đổi QWERTZ"})
    assert r.status_code == 200, r.text
    r = await api.req("PATCH", f"/api/records/case/{c['id']}", "rev",
                      json={"sys_version": r.json()["sys_version"], "note": "ghi chú thường"})
    assert r.status_code == 200, r.text

    # a reader who may see everything sees the file and the note
    full = await api.req("GET", f"/api/records/case/{c['id']}/history", "staff1")
    assert full.status_code == 200
    assert digest in full.text and "bi-mat-QWERTY.pdf" in full.text and "QWERTZ" in full.text
    assert [e["action"] for e in full.json()] == ["create", "attachment.upload", "attachment.download", "update",
                                                  "update"]

    seen = await api.req("GET", f"/api/records/case/{c['id']}/history", "rev")
    assert seen.status_code == 200, seen.text
    for secret in (digest, "bi-mat-QWERTY", "QWERTZ", "XYZ", "secret_note", '"scan"'):
        assert secret not in seen.text, secret
    # entries about hidden fields only are left out; the others lose the hidden fields
    entries = seen.json()
    assert len(content) not in [v for e in entries for v in _scalars(e["detail"])]  # the file's size
    assert [e["action"] for e in entries] == ["create", "update"]
    assert entries[1]["changes"] == {"note": [None, "ghi chú thường"]}

    # the admin's history page shows the same
    await _admin_login(api, "rev")
    table = "case"
    page = await api.client.get(f"/admin/hoso/history/{table}/{c['id']}")
    assert page.status_code == 200, page.text
    assert "ghi chú thường" in page.text
    for secret in ("bi-mat-QWERTY", "QWERTZ", "XYZ", digest):
        assert secret not in page.text


async def test_client_addresses_only_for_superusers_and_national_account_managers(api):
    c = await api.create_case("staff1", "TT")
    origins = {}
    for user in ("staff1", "dir1", "rev", "lawyer", "admin", "officer"):
        r = await api.req("GET", f"/api/records/case/{c['id']}/history", user)
        if r.status_code == 200:
            origins[user] = {e["origin"] for e in r.json()}
    assert origins["staff1"] == origins["dir1"] == origins["rev"] == {None}
    assert origins["admin"] == origins["officer"] == {"testclient"}
    assert "lawyer" not in origins  # not assigned: the record does not exist for them


async def test_overdue_does_not_count_from_a_hidden_date(api):
    early = await _ended_case(api, "2025-04-01")
    late = await _ended_case(api, "2025-06-01")
    waiting = await api.create_case("admin", "TT")  # received on 2025-03-03, never accepted
    path = "/api/records/case/overdue"
    # staff, who see the end date, get the 30-day deadline of ended cases
    r = await api.req("GET", path, "staff1", params={"on": "2025-05-15"})
    assert {i["id"] for i in r.json()["items"]} == {early["id"], waiting["id"]}
    # the reviewer's answer is the same whatever the hidden end dates, for every day asked
    for on in ("2025-03-01", "2025-05-15", "2025-06-20", "2025-08-01", "2026-01-01"):
        r = await api.req("GET", path, "rev", params={"on": on})
        assert r.status_code == 200, r.text
        body = r.json()
        assert early["id"] not in {i["id"] for i in body["items"]} and late["id"] not in {i["id"] for i in
                                                                                       body["items"]}
        for item in body["items"]:
            assert item["sys_deadline"]["from_field"] != "ended_on" and "ended_on" not in item
        if on >= "2025-05-15":
            assert [i["id"] for i in body["items"]] == [waiting["id"]] and body["total"] == 1


async def test_a_rule_over_a_hidden_date_answers_the_same_whatever_its_value(api):
    """The attack of the issue: moving the visible date of ``ended_on >= received_on`` to find the hidden one."""
    cases = [await _ended_case(api, ended) for ended in ("2025-03-10", "2025-09-10")]
    answers = []
    for case in cases:
        for probe in ("2025-03-05", "2025-06-01", "2025-12-01"):
            r = await api.req("PATCH", f"/api/records/case/{case['id']}", "rev",
                              json={"sys_version": case["sys_version"], "received_on": probe})
            body = r.json()
            answers.append((r.status_code, json.dumps(body.get("errors"), sort_keys=True)))
            assert "ended_on" not in r.text and "end date" not in r.text.lower()
        stored = await api.req("GET", f"/api/records/case/{case['id']}", "admin")
        assert stored.json()["received_on"] == "2025-03-03" and stored.json()["sys_version"] == case["sys_version"]
    assert len(set(answers)) == 1, answers
    status, errors = answers[0]
    assert status == 422 and "received_on" in errors
    # fields outside the rule are written as usual
    r = await api.req("PATCH", f"/api/records/case/{cases[0]['id']}", "rev",
                      json={"sys_version": cases[0]["sys_version"], "note": "đã xem"})
    assert r.status_code == 200, r.text
    # staff, who see the end date, get the rule's own message
    r = await api.req("PATCH", f"/api/records/case/{cases[0]['id']}", "staff1",
                      json={"sys_version": cases[0]["sys_version"] + 1, "received_on": "2025-03-20"})
    assert r.status_code == 422 and "The end date cannot be before the date received" in r.text


async def test_admin_history_lookup_does_not_match_a_hidden_title(api):
    p = await api.req("POST", "/api/records/performer", "admin",
                      json={"name": "Nguyễn Bí Mật", "unit": api.units["TT"]})
    assert p.status_code == 201, p.text
    await _admin_login(api, "staff1")  # sees performer names
    r = await api.client.get("/admin/hoso/history/", params={"table": "performer", "record": "Nguyễn Bí Mật"},
                             follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith(f"/performer/{p.json()['id']}")
    await _admin_login(api, "rev")  # does not
    answers = set()
    for name in ("Nguyễn Bí Mật", "Không Có Ai"):
        r = await api.client.get("/admin/hoso/history/", params={"table": "performer", "record": name},
                                 follow_redirects=False)
        assert r.status_code == 200
        answers.add(r.text.replace(name, "NAME"))
    assert len(answers) == 1
    # by id it is found
    r = await api.client.get("/admin/hoso/history/", params={"table": "performer", "record": str(p.json()["id"])},
                             follow_redirects=False)
    assert r.status_code == 303


# -- item 8: existence oracles --------------------------------------------------------------------------------------

async def test_a_user_field_does_not_tell_existing_accounts_from_missing_ones(api):
    path = "/api/records/performer"
    body = {"name": "Trần Văn Bình", "unit": api.units["TT"]}
    missing = max(api.ids.values()) + 1000
    answers = {}
    for label, account in (("other centre", api.ids["staff2"]), ("province", api.ids["prov"]),
                           ("superuser", api.ids["admin"]), ("missing", missing)):
        r = await api.req("POST", path, "staff1", json={**body, "account": account})
        assert r.status_code == 422, (label, r.text)
        answers[label] = re.sub(rf"\b{account}\b", "ID", r.text)
    assert len(set(answers.values())) == 1, answers
    # an account of the writer's own centre is accepted
    r = await api.req("POST", path, "staff1", json={**body, "account": api.ids["lawyer"]})
    assert r.status_code == 201, r.text
    assert await api.count("performer") == 1

    # the admin writes through the same check
    token = await _admin_login(api, "staff1")
    results = set()
    for account in (api.ids["staff2"], missing):
        r = await api.client.post("/admin/api/tables/performer/", json={**body, "account": account},
                                  headers={"X-CSRFToken": token})
        assert r.status_code in (400, 422), r.text
        results.add(re.sub(rf"\b{account}\b", "ID", r.text))
    assert len(results) == 1, results
    assert await api.count("performer") == 1


async def test_admin_account_table_lists_only_accounts_the_caller_manages(api):
    async def listed(user: str) -> set[int]:
        await _admin_login(api, user)
        rows = await api.client.get("/admin/api/tables/hoso_user/", params={"__page_size": 100})
        assert rows.status_code == 200, rows.text
        ids = await api.client.get("/admin/api/tables/hoso_user/ids/")
        count = await api.client.get("/admin/api/tables/hoso_user/count/")
        found = {row["id"] for row in rows.json()["rows"]}
        assert {int(k) for k in ids.json()} == found and count.json()["count"] == len(found)
        return found

    i = api.ids
    # an account with no unit and no assignment belongs to no one's units: only superusers manage it
    homeless = await api.web.user("khong.don.vi")
    assert await listed("staff1") == set()  # no manage_users: nothing, not even the centre's accounts
    assert await listed("lawyer") == set()
    # the director manages its centre's accounts of roles it may grant, not itself, not other centres
    assert await listed("dir1") == {i["staff1"], i["lawyer"], i["svc1"]}
    # the national officer manages every account holding only roles it may grant
    assert await listed("officer") == {i["staff1"], i["staff2"]}
    assert {i["staff2"], homeless} <= await listed("admin")
    detail = await api.client.get(f"/admin/api/tables/hoso_user/{i['staff2']}/")
    assert detail.status_code == 200
    await _admin_login(api, "dir1")
    assert (await api.client.get(f"/admin/api/tables/hoso_user/{i['staff2']}/")).status_code == 404


async def test_uniqueness_refusal_is_the_same_in_and_out_of_scope_and_audited(api):
    await api.create_case("staff2", "TT2", citizen_id="001090000222")  # another centre's
    await api.create_case("staff1", "TT", citizen_id="001090000111")  # the writer's own
    before = await api.count()
    answers = {}
    for label, value in (("own", "001090000111"), ("other", "001090000222")):
        r = await api.req("POST", "/api/records/case", "staff1", json=api.case("TT", citizen_id=value))
        assert r.status_code == 422, r.text
        answers[label] = r.text.replace(value, "VALUE")
    assert answers["own"] == answers["other"]
    assert await api.count() == before
    for word in ("TT2", "Trung tâm Hai", str(api.units["TT2"])):
        assert word not in answers["other"]
    # the probe of another centre's value leaves a trace; a conflict within the writer's scope does not
    entries = await api.audit(action="unique_conflict")
    assert len(entries) == 1 and entries[0]["actor"] == "staff1" and entries[0]["entity"] == "case"
    conflict = json.loads(entries[0]["changes"])["@conflicts"][0]
    assert conflict["field"] == "citizen_id" and conflict["value"] == "001090000222"


async def test_a_fullwidth_or_foreign_digit_citizen_id_is_not_a_new_value(api):
    await api.create_case("staff1", "TT", citizen_id="001090000333")
    fullwidth = "００１０９００００３３３"
    r = await api.req("POST", "/api/records/case", "staff1", json=api.case("TT", citizen_id=fullwidth))
    assert r.status_code == 422 and "already used" in r.text, r.text
    r = await api.req("POST", "/api/records/case", "staff1", json=api.case("TT", citizen_id="０９９０９００００３３３"))
    assert r.status_code == 201 and r.json()["citizen_id"] == "099090000333", r.text
    arabic = "٠٠١٠٩٠٠٠٠٣٣٣"  # Arabic-Indic digits: refused, not stored
    r = await api.req("POST", "/api/records/case", "staff1", json=api.case("TT", citizen_id=arabic))
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json"), r.text
    assert "citizen_id" in r.text
    assert await api.count("case", "citizen_id = {}", arabic) == 0
