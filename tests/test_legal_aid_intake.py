"""Hotline and online intake (``POST /api/intake``) and the population database lookup, on the reference
configuration with the legal-aid plugin, on both engines. The lookup goes over real HTTP to the stand-in server
on a loopback port; the stand-in sleeps past the timeout, or its port is closed, to take the fallback paths."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import shutil
import socket
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from litestar.testing import AsyncTestClient

import hoso_legal_aid
from hoso import accounts
from hoso.jobs import Worker, job_kinds
from hoso.records.context import LOCAL_ZONE
from hoso.runtime import Runtime
from hoso.scope import Actor
from hoso.web.app import create_app
from hoso.web.tokens import create_token
from hoso_legal_aid.population import PREFILL, Identity, _folded, prefilled
from hoso_legal_aid.population_standin import person, start
from tests.helpers import load_full_config, migrated_runtime
from tests.web.conftest import PASSWORD

PLUGINS = [hoso_legal_aid]
ROOT = Actor(None, "root", superuser=True, origin="test-setup")
CID = "001203004567"
NOBODY = "000111222333"


def _request(**kw: Any) -> dict:
    body = {"channel": "hotline", "unit": "TT-11", "requester_name": None, "citizen_id": CID,
            "phone": "0912345678", "summary": "Tranh chấp đất đai với hàng xóm", "form_of_aid": "TV",
            "field_of_law": "DS", "beneficiary_groups": ["HN"]}
    body.update(kw)
    return {k: v for k, v in body.items() if v is not None}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def standin(**kw: Any):
    server = start(**kw)
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def small_reference(root: Path) -> Path:
    """The reference configuration with the units the tests need only (migrating all of them takes long)."""
    units = (root / "roles_config/units/units.csv").read_text(encoding="utf-8").splitlines()
    keep = [line for line in units if line.split(",", 1)[0] in ("code", "CUC", "STP-01", "TT-01", "STP-11", "TT-11")]
    (root / "roles_config/units/units.csv").write_text("\n".join(keep) + "\n", encoding="utf-8")
    shutil.rmtree(root / "roles_config/restructurings")
    modules = root / "roles_config/modules.yaml"
    modules.write_text(modules.read_text(encoding="utf-8").replace("[STP-11, STP-2025-15]", "[STP-11]"),
                       encoding="utf-8")
    return root


@contextlib.asynccontextmanager
async def serving(config_dir, database_url: str):
    config = load_full_config(small_reference(config_dir), PLUGINS)
    rt = await migrated_runtime(config, database_url, PLUGINS)
    start_on = dt.date.today() - dt.timedelta(days=30)
    tokens: dict[str, str] = {}
    for name, unit, module in [("dienbien", "TT-11", "legal_aid.hotline"), ("hanoi", "TT-01", "legal_aid.hotline")]:
        uid = await accounts.create_account(rt, ROOT, name, PASSWORD, unit, roles=("centre_staff",),
                                           starts_on=start_on)
        tokens[name] = (await create_token(rt, ROOT, uid, f"intake {name}", module=module))[1]
        if name == "dienbien":
            tokens["dienbien-vneid"] = (await create_token(rt, ROOT, uid, "vneid", module="legal_aid.vneid"))[1]
            tokens["dienbien-plain"] = (await create_token(rt, ROOT, uid, "all routes"))[1]
    app = create_app(Runtime.create(config, database_url, plugins=PLUGINS))
    async with AsyncTestClient(app) as client:
        async def post(token: str | None, body: Any, lang: str = "vi"):
            headers = {"accept-language": lang}
            if token:
                headers["authorization"] = f"Bearer {tokens[token]}"
            return await client.post("/api/intake", content=json.dumps(body), headers=headers)

        yield rt, post, client, tokens
    await rt.db.close()


async def _cases(rt) -> list[dict]:
    return [dict(r) for r in await rt.db.fetch(
        'SELECT id, requester_name, requester_citizen_id, gender, birth_year, address, request_channel, status, '
        'identity_verified, possible_duplicate, unit FROM "case" ORDER BY id')]


async def test_intake_takes_a_call_in_prefilled_and_refuses_whom_it_must(reference_config_dir, database_url,
                                                                         monkeypatch):
    monkeypatch.setenv("HOSO_EMBEDDED_WORKER", "0")  # the test runs the jobs itself
    with standin() as url:
        monkeypatch.setenv("HOSO_POPULATION_URL", url)
        monkeypatch.setenv("HOSO_POPULATION_TIMEOUT", "2")
        async with serving(reference_config_dir, database_url) as (rt, post, client, tokens):
            # who is refused, and how: nothing is written
            assert (await post(None, _request())).status_code == 404  # anonymous: the module exists nowhere
            assert (await post("hanoi", _request(unit="TT-01"))).status_code == 404  # Hà Nội: module off
            assert (await post("dienbien-vneid", _request())).status_code == 403  # another module's token
            assert (await post("dienbien-plain", _request())).status_code == 403  # a token of no module
            r = await client.get("/api/me", headers={"authorization": f"Bearer {tokens['dienbien']}"})
            assert r.status_code == 403  # a module's token reaches that module's routes only
            bad = await post("dienbien", _request(channel="fax", citizen_id="12ab", extra=1), lang="en")
            assert bad.status_code == 422
            named = {e["field"]: e["message"] for e in bad.json()["errors"]}
            assert set(named) == {"channel", "citizen_id", "extra"} and "12 digits" in named["citizen_id"]
            vi = await post("dienbien", _request(unit="TT-01"))
            assert vi.status_code == 422 and "không dùng tổng đài" in vi.json()["errors"][0]["message"]
            missing = await post("dienbien", _request(form_of_aid=None, citizen_id=NOBODY))
            # nobody holds this citizen ID: nothing fills the name, which the record service then asks for
            assert missing.status_code == 422
            assert {e["field"] for e in missing.json()["errors"]} == {"requester_name", "form_of_aid"}
            assert await _cases(rt) == []

            # a call taken in: identity fields from the population database, through the record service
            r = await post("dienbien", _request())
            assert r.status_code == 201, r.text
            out = r.json()
            known = person(CID)
            assert out["status"] == "received" and out["channel"] == "hotline"
            assert out["identity_verified"] is True and out["possible_duplicate"] is False
            assert set(out["prefilled"]) == {"requester_name", "gender", "birth_year", "address"}
            [case] = await _cases(rt)
            assert case["requester_name"] == known["full_name"] and case["gender"] == known["gender"]
            assert case["birth_year"] == int(known["date_of_birth"][:4]) and case["address"] == known["address"]
            assert bool(case["identity_verified"]) and not case["possible_duplicate"]
            audit = await rt.db.fetch("SELECT action, actor, record_id FROM hoso_audit WHERE entity = 'case'")
            assert [(a["action"], a["actor"], a["record_id"]) for a in audit] == [("create", "dienbien", case["id"])]

            # the same citizen the same day, by the app under a name of their own: taken in, flagged, not merged
            statements, r = await _statements_of(
                client, monkeypatch, post("dienbien", _request(channel="mobile_app", requester_name="Người Khác")))
            assert r.status_code == 201, r.text
            _assert_lean(statements, rt.db.kind)
            assert r.json()["possible_duplicate"] is True and r.json()["duplicates"] == 1
            assert r.json()["identity_verified"] is False  # the name entered is not the database's
            first, second = await _cases(rt)
            assert second["requester_name"] == "Người Khác" and second["request_channel"] == "mobile_app"
            assert second["possible_duplicate"] and not first["possible_duplicate"]
            # another day is no duplicate
            yesterday = (dt.datetime.now(LOCAL_ZONE).date() - dt.timedelta(days=1)).isoformat()
            r = await post("dienbien", _request(channel="online", received_on=yesterday))
            assert r.status_code == 201 and r.json()["possible_duplicate"] is False

            await _lookup_fails_then_a_job_verifies(rt, post, monkeypatch)


async def _statements_of(client, monkeypatch, request) -> tuple[list[str], Any]:
    """The statements the application runs for ``request`` (an awaitable), and its response."""
    served = client.app.state.rt.db.engine
    engine = type(served)
    original = engine.run_querystring
    seen: list[str] = []

    async def run_querystring(self, querystring, *args, **kwargs):
        if self is served:
            seen.append(" ".join(str(querystring).split()))
        return await original(self, querystring, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(engine, "run_querystring", run_querystring)
        response = await request
    return seen, response


def _assert_lean(statements: list[str], engine: str) -> None:
    """One intake asks the module switches once (the guard, the hotline's gate and the lookup's share them), takes
    the account's units from its holdings, reads the unit by id once, and neither versions nor reads back the new
    case's child tables, which it gave no rows. On PostgreSQL the number, the record, its first version and the
    scope check are one statement (hoso.records.inserting)."""
    def count(part: str) -> int:
        return sum(part in s for s in statements)

    assert count("MAX(id) FROM hoso_unit") == 1, statements
    assert count("FROM hoso_assignment WHERE") == 0, statements
    assert count("type, valid_to FROM hoso_unit WHERE id =") == 1, statements
    assert count("case__") == 0, statements
    # every rule still runs: the duplicate count, the period locks, the series, the record and its first version,
    # the scope check, the audit entry, the verification job of a requester not verified; the record comes back
    # from its INSERT, not from a read after it
    scope_check = "AS sys_in_scope" if engine == "postgres" else "SELECT 1 AS ok FROM \"case\""
    for part in ("COUNT(*) FROM \"case\" WHERE requester_citizen_id", "hoso_period_lock", "hoso_series",
                 "INSERT INTO \"case\"", "INSERT INTO \"hoso_h_case\"", scope_check,
                 "INSERT INTO hoso_audit", "INSERT INTO hoso_job"):
        assert count(part) == 1, (part, statements)
    assert count('SELECT t.id, t."code"') == 0, statements
    assert len(statements) == (10 if engine == "postgres" else 13), statements


async def _lookup_fails_then_a_job_verifies(rt, post, monkeypatch) -> None:
    """The service times out (the stand-in sleeps past the timeout), then is down (its port closed): both
    requests are taken in unverified; the verification job fails while the service is away and verifies both
    once it is back."""
    monkeypatch.setenv("HOSO_POPULATION_TIMEOUT", "0.3")
    people = {"012111222333": "Lò Văn Pả", "012111222444": "Quàng Thị Xuân"}
    with standin(delay=1.0) as slow:
        for cid, name, url in [("012111222333", "Lò Văn Pả", slow),
                               ("012111222444", "Quàng Thị Xuân", f"http://127.0.0.1:{_closed_port()}")]:
            monkeypatch.setenv("HOSO_POPULATION_URL", url)
            r = await post("dienbien", _request(requester_name=name, citizen_id=cid))
            assert r.status_code == 201, r.text
            assert r.json()["identity_verified"] is False and r.json()["prefilled"] == []
        taken = {c["requester_citizen_id"]: c for c in await _cases(rt) if c["requester_citizen_id"] in people}
        assert {cid: (c["requester_name"], c["gender"], bool(c["identity_verified"])) for cid, c in taken.items()} \
            == {cid: (name, None, False) for cid, name in people.items()}
        worker = Worker(rt, kinds=job_kinds(rt), scheduled=False)
        await worker.run_once()  # the service is still away: the attempts fail and wait to be tried again
        jobs = {json.loads(j["payload"])["citizen_id"]: j["state"] for j in await rt.db.fetch(
            "SELECT payload, state FROM hoso_job WHERE kind = 'population_verify'")}
        assert {jobs[cid] for cid in people} == {"failed"}
    # the service is back
    answers = {cid: {"citizen_id": cid, "full_name": name, "date_of_birth": "1980-02-03", "gender": "male",
                     "address": "Xã Mường Nhé"} for cid, name in people.items()}
    with standin(people=answers) as url:
        monkeypatch.setenv("HOSO_POPULATION_URL", url)
        await rt.db.execute("UPDATE hoso_job SET run_at = 0 WHERE kind = 'population_verify' AND state = 'failed'")
        await worker.run_once()
    verified = {c["requester_citizen_id"]: c for c in await _cases(rt) if c["requester_citizen_id"] in people}
    for c in verified.values():
        assert bool(c["identity_verified"]) and c["gender"] == "male" and c["birth_year"] == 1980, c
        assert c["address"] == "Xã Mường Nhé"
    states = await rt.db.fetch("SELECT payload, state FROM hoso_job WHERE kind = 'population_verify'")
    assert {json.loads(j["payload"])["citizen_id"]: j["state"] for j in states if
            json.loads(j["payload"])["citizen_id"] in people} == dict.fromkeys(people, "done")
    audit = await rt.db.fetch("SELECT record_id, origin FROM hoso_audit WHERE entity = 'case' AND action = 'update'")
    assert {(a["record_id"], a["origin"]) for a in audit} >= {(c["id"], "population") for c in verified.values()}


_text = st.one_of(st.none(), st.just(""), st.sampled_from(["Lò Văn Pả", "lò  văn pả", "Trần Thị Bình"]))


@settings(max_examples=60, deadline=None)
@given(values=st.fixed_dictionaries({f: _text for f in ("requester_name", "address")}
                                    | {"gender": st.sampled_from([None, "", "female"]),
                                       "birth_year": st.sampled_from([None, 1990])}),
       found=st.booleans(), name=st.sampled_from(["Lò Văn Pả", "Trần Thị Bình"]))
def test_a_lookup_fills_only_empty_fields_and_verifies_the_name_entered(values, found, name):
    identity = Identity("012345678901", name, dt.date(1975, 5, 6), "male", "Xã Bát Xát") if found else None
    changes = prefilled(values, identity)
    # the oracle: what the rule says, field by field
    expected: dict[str, Any] = {}
    if found:
        source = {"requester_name": name, "gender": "male", "birth_year": 1975, "address": "Xã Bát Xát"}
        expected = {f: source[f] for f in PREFILL if values.get(f) in (None, "")}
        entered = values.get("requester_name")
        expected["identity_verified"] = entered in (None, "") or " ".join(entered.lower().split()) == \
            " ".join(name.lower().split())
    else:
        expected = {"identity_verified": False}
    assert changes == expected
    assert _folded(" Lò  VĂN pả ") == _folded("lò văn pả")


async def test_a_citizen_id_in_fullwidth_digits_is_looked_up_and_counted_as_the_same_citizen(
        reference_config_dir, database_url, monkeypatch):
    """Some keyboards type fullwidth digits: the intake reads them as the field stores them (ASCII), so the
    lookup asks for the citizen the service knows and a later request of the same ID that day is flagged."""
    monkeypatch.setenv("HOSO_EMBEDDED_WORKER", "0")
    wide = CID.translate({ord(d): chr(0xFF10 + int(d)) for d in "0123456789"})
    with standin() as url:
        monkeypatch.setenv("HOSO_POPULATION_URL", url)
        monkeypatch.setenv("HOSO_POPULATION_TIMEOUT", "2")
        async with serving(reference_config_dir, database_url) as (rt, post, _client, _tokens):
            first = await post("dienbien", _request(citizen_id=f" {wide} "))
            assert first.status_code == 201, first.text
            assert first.json()["identity_verified"] is True and "requester_name" in first.json()["prefilled"]
            second = await post("dienbien", _request())
            assert second.status_code == 201, second.text
            assert second.json()["possible_duplicate"] is True
            assert [c["requester_citizen_id"] for c in await _cases(rt)] == [CID, CID]
