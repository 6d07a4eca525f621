"""Quality management on the reference configuration with the legal-aid plugin, both engines: an evaluation plan
draws and stores its sample through HTTP, external reviewers read exactly their sampled cases (list, get,
search), the rubric computes and checks the evaluation's total and grade, ``successful`` follows the
effectiveness criteria, and only the performer's own centre appraises a case."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

import pytest
from litestar.testing import AsyncTestClient

import hoso_legal_aid
from hoso.records.errors import ValidationError
from hoso.records.service import RecordContext
from hoso.runtime import Runtime
from hoso.scope import Actor
from hoso.web.app import create_app
from hoso.web.tokens import create_token
from hoso_legal_aid.quality_config import quality_of
from hoso_legal_aid.quality_plans import candidates
from hoso_legal_aid.sampler import Candidate, draw_sample
from tests.helpers import load_full_config, migrated_runtime

PLUGINS = [hoso_legal_aid]
SCORES = {"responsibility": 28, "performance": 55, "other": 9}  # 92 points


async def _insert(rt, table: str, **values) -> int:
    cols = ", ".join(f'"{k}"' for k in values)
    marks = ", ".join("{}" for _ in values)
    return await rt.db.fetchval(f'INSERT INTO "{table}" ({cols}, sys_version) VALUES ({marks}, 1) RETURNING id',
                                *values.values())


async def _case(rt, n: int, unit: int, performer: int | None, status: str = "appraised",
                ended: dt.date | None = dt.date(2025, 5, 2), form: str = "TV") -> int:
    return await _insert(rt, "case", code=f"Q{n}", received_on=dt.date(2025, 3, 1), request_channel="in_person",
                         requester_name=f"Người yêu cầu {n}", requester_citizen_id=f"{n:012d}",
                         beneficiary_groups='["TE"]', field_of_law="DS", form_of_aid=form, status=status, unit=unit,
                         performer=performer, accepted_on=dt.date(2025, 3, 2), ended_on=ended,
                         summary=f"Hồ sơ chất lượng số {n}",
                         **({"procedural_stage": "trial", "litigation_role": "defence"} if form == "TGTT" else {}))


async def _insert_user(rt, username: str, unit: int) -> int:
    await rt.db.execute(
        "INSERT INTO hoso_user (username, password, email, first_name, last_name, active, admin, superuser, "
        "display_name, unit_id, locked, must_change_password) "
        "VALUES ({}, 'x', {}, '', '', TRUE, FALSE, FALSE, {}, {}, FALSE, FALSE)",
        username, f"{username}@localhost", username, unit)
    return await rt.db.fetchval("SELECT id FROM hoso_user WHERE username = {}", username)


class World:
    def __init__(self, rt):
        self.rt = rt
        self.units: dict[str, int] = {}
        self.users: dict[str, int] = {}
        self.tokens: dict[str, str] = {}
        self.performers: dict[str, int] = {}
        self.cases: dict[str, list[int]] = {}

    def ctx(self, user: str, lang: str = "en") -> RecordContext:
        return RecordContext(self.rt.config, self.users[user], user, "test", lang)


@pytest.fixture
async def world(reference_config_dir, database_url):
    rt = await migrated_runtime(load_full_config(reference_config_dir, PLUGINS), database_url, plugins=PLUGINS)
    w = World(rt)
    for r in await rt.db.fetch("SELECT id, code FROM hoso_unit"):
        w.units[r["code"]] = r["id"]
    root = Actor(None, "root", superuser=True, origin="test-setup")
    start = dt.date.today() - dt.timedelta(days=30)
    for name, unit, role in (("officer", "STP-01", "provincial_officer"), ("rev1", "STP-01", "quality_reviewer"),
                             ("rev2", "STP-01", "quality_reviewer"), ("rev3", "STP-01", "quality_reviewer"),
                             ("director", "TT-01", "centre_director"), ("national", "CUC", "national_admin")):
        # accounts written directly (no password to hash): the tokens are what the requests use
        w.users[name] = await _insert_user(rt, name, w.units[unit])
        await rt.db.execute("INSERT INTO hoso_assignment (user_id, role, unit_id, starts_on, created_at) "
                            "VALUES ({}, {}, {}, {}, {})", w.users[name], role, w.units[unit], start,
                            dt.datetime.now(dt.UTC))
        w.tokens[name] = (await create_token(rt, root, w.users[name], f"token of {name}"))[1]
    for name, unit in (("p1", "TT-01"), ("p2", "TT-01"), ("p3", "TT-01"), ("p4", "CN1-01"), ("p9", "TT-02")):
        w.performers[name] = await _insert(rt, "performer", name=f"Người thực hiện {name}", kind="assistant",
                                           unit=w.units[unit], active=True)
    tt01, cn1, tt02 = w.units["TT-01"], w.units["CN1-01"], w.units["TT-02"]
    p = w.performers
    # Hà Nội: 12 cases ended in 2025 (four performers, one at the branch), one ended in 2024, one still running.
    w.cases["ended"] = [await _case(rt, i, cn1 if i == 12 else tt01,
                                    p["p4"] if i == 12 else p[f"p{1 + i % 3}"]) for i in range(1, 13)]
    w.cases["other"] = [await _case(rt, 20, tt01, p["p1"], ended=dt.date(2024, 6, 1)),
                        await _case(rt, 21, tt01, p["p1"], status="in_progress", ended=None),
                        await _case(rt, 22, tt02, p["p9"])]  # another province
    await rt.records().reindex_search("case", RecordContext.system(rt.config))
    app = create_app(Runtime.create(rt.config, database_url, plugins=PLUGINS))
    try:
        async with AsyncTestClient(app) as client:
            w.client = client
            yield w
    finally:
        await rt.db.close()  # the test's own runtime kept its pool (a connection per query costs a server process)


async def _req(w, method: str, url: str, user: str, **kw):
    headers = {"Authorization": f"Bearer {w.tokens[user]}", "Accept-Language": "en"}
    return await w.client.request(method, url, headers=headers, **kw)


async def _new_plan(w, title: str, share: float) -> int:
    r = await _req(w, "POST", "/api/records/evaluation_plan", "officer",
                   json={"title": title, "year": 2025, "unit": w.units["STP-01"], "share_percent": share})
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def test_plan_sample_reviewer_scope_and_rubric_through_http(world):
    w = world
    ended = w.cases["ended"]
    plan = await _new_plan(w, "Kế hoạch đánh giá 2025", 10)
    r = await _req(w, "POST", f"/api/quality/plans/{plan}/sample", "officer",
                   json={"reviewers": [w.users["rev1"], w.users["rev2"]]})
    assert r.status_code == 200, r.text
    body = r.json()
    drawn = body["cases"]
    # 10% of 12 is 2 (rounded up), raised to 4 so that every performer of the province is covered
    assert len(drawn) == 4 and set(drawn) <= set(ended)
    rows = await w.rt.db.fetch(
        'SELECT case_file, performer, reviewer, plan FROM "evaluation_sample" ORDER BY case_file')
    assert [x["case_file"] for x in rows] == sorted(drawn) and {x["plan"] for x in rows} == {plan}
    assert {x["performer"] for x in rows} == {w.performers[n] for n in ("p1", "p2", "p3", "p4")}
    stored = await w.rt.db.fetch('SELECT seed, status, sample_size FROM "evaluation_plan" WHERE id = {}', plan)
    assert stored[0]["status"] == "sampled" and stored[0]["sample_size"] == 4 and stored[0]["seed"] is not None
    # The stored seed reproduces the sample from the same ended cases.
    quality = quality_of(w.rt.config)
    officer = w.ctx("officer")
    plan_row = await w.rt.records().get("evaluation_plan", plan, officer)
    cands = await candidates(w.rt, quality, plan_row, officer)
    again = draw_sample([Candidate(c["id"], c["province"], c["performer"]) for c in cands], Fraction(1, 10),
                        stored[0]["seed"])
    assert list(again.cases) == sorted(drawn)
    # A plan draws once.
    r = await _req(w, "POST", f"/api/quality/plans/{plan}/sample", "officer", json={})
    assert r.status_code == 409, r.text
    # The reviewers read exactly the cases sampled for them, nowhere else.
    mine = {u: sorted(x["case_file"] for x in rows if x["reviewer"] == w.users[u]) for u in ("rev1", "rev2")}
    assert mine["rev1"] and mine["rev2"] and sorted(mine["rev1"] + mine["rev2"]) == sorted(drawn)
    for user in ("rev1", "rev2", "rev3"):
        expected = mine.get(user, [])
        r = await _req(w, "GET", "/api/records/case?page_size=100", user)
        assert r.status_code == 200, r.text
        assert sorted(c["id"] for c in r.json()["items"]) == expected
        assert all("requester_citizen_id" not in c for c in r.json()["items"])
        unsampled = [c for c in ended if c not in drawn][:2]
        for case_id in [*drawn, *unsampled, *w.cases["other"]]:
            r = await _req(w, "GET", f"/api/records/case/{case_id}", user)
            assert r.status_code == (200 if case_id in expected else 404), (user, case_id, r.text)
        r = await _req(w, "GET", "/api/search?q=người yêu cầu&per_entity=20", user)
        assert r.status_code == 200, r.text
        found = sorted(h["id"] for g in r.json()["results"] if g["entity"] == "case" for h in g["items"])
        assert found == expected, (user, r.json())
        r = await _req(w, "GET", "/api/records/evaluation_sample?page_size=100", user)
        assert sorted(s["case_file"] for s in r.json()["items"]) == expected
    # The officer's search finds every case of the province (the reviewers' sample is not all there is).
    r = await _req(w, "GET", "/api/search?q=người yêu cầu&per_entity=20", "officer")
    assert len([h for g in r.json()["results"] if g["entity"] == "case" for h in g["items"]]) == 14

    # Evaluation with the rubric: the total and the grade are computed from forms_config/quality.yaml.
    first, second = mine["rev1"][0], mine["rev2"][0]
    r = await _req(w, "POST", f"/api/quality/cases/{first}/evaluate", "rev1",
                   json={"evaluated_on": "2025-12-01", "scores": SCORES})
    assert r.status_code == 200, r.text
    assert (r.json()["evaluation_score"], r.json()["evaluation_grade"], r.json()["status"]) == (92, "good", "evaluated")
    assert sorted((s["criterion"], s["score"]) for s in r.json()["evaluation_scores"]) == sorted(SCORES.items())
    r = await _req(w, "POST", f"/api/quality/cases/{second}/evaluate", "rev1",
                   json={"evaluated_on": "2025-12-01", "scores": SCORES})
    assert r.status_code == 404, r.text  # another reviewer's case
    # Another path to the same step is checked against the rubric too: the given grade must be the rubric's.
    version = (await w.rt.records().get("case", second, w.ctx("rev2")))["sys_version"]
    r = await _req(w, "POST", f"/api/records/case/{second}/transitions/evaluate", "rev2", json={
        "evaluated_on": "2025-12-01", "evaluation_score": 92, "evaluation_grade": "fair", "sys_version": version,
        "evaluation_scores": [{"criterion": k, "score": v} for k, v in SCORES.items()]})
    assert r.status_code == 422, r.text
    assert "evaluation_grade" in r.text and "good" in r.text
    r = await _req(w, "POST", f"/api/quality/cases/{second}/evaluate", "rev2",
                   json={"evaluated_on": "2025-12-01", "scores": {**SCORES, "performance": 61}})
    assert r.status_code == 422 and "performance" in r.text, r.text

    # A second plan of the same year never draws a case of the first.
    plan2 = await _new_plan(w, "Kế hoạch bổ sung 2025", 100)
    r = await _req(w, "POST", f"/api/quality/plans/{plan2}/sample", "officer", json={})
    assert r.status_code == 200, r.text
    assert sorted(r.json()["cases"]) == sorted(set(ended) - set(drawn))
    r = await _req(w, "POST", f"/api/quality/plans/{plan2}/sample", "officer", json={"reviewers": [999999]})
    assert r.status_code == 409, r.text
    plan3 = await _new_plan(w, "Kế hoạch thử", 10)
    r = await _req(w, "POST", f"/api/quality/plans/{plan3}/sample", "officer", json={"reviewers": [w.users["officer"]]})
    assert r.status_code == 422 and "reviewer" in r.text, r.text
    assert await w.rt.db.fetchval('SELECT status FROM "evaluation_plan" WHERE id = {}', plan3) == "draft"

    await _quotas(w)
    await _rubric_effectiveness_and_appraisal_rules(w)


async def _quotas(w):
    """Performer quotas: centre leaders only, targets per centre from forms_config/quality.yaml."""
    r = await _req(w, "GET", "/api/quality/quotas?year=2025", "director")
    assert r.status_code == 200, r.text
    got = {row["name"][-2:]: (row["completed"], row["target"], row["centre"]) for row in r.json()["performers"]}
    # p1..p3 share the 11 centre cases ended in 2025 (p1: 3, p2: 4, p3: 4), p4 (branch) 1; p9 is another centre's
    assert got == {"p1": (3, 30, "TT-01"), "p2": (4, 30, "TT-01"), "p3": (4, 30, "TT-01"), "p4": (1, 30, "TT-01")}
    for user in ("officer", "rev1"):
        r = await _req(w, "GET", "/api/quality/quotas?year=2025", user)
        assert r.status_code == 403, r.text
    r = await _req(w, "GET", "/api/quality/quotas?year=1900", "director")
    assert r.status_code == 422, r.text


async def _rubric_effectiveness_and_appraisal_rules(w):
    rt = w.rt
    svc = rt.records()
    p1 = w.performers["p1"]
    # Appraisal: the performer's own centre (or branch) only.
    tt01 = w.units["TT-01"]
    own = await _case(rt, 40, tt01, p1, status="returned")
    foreign = await _case(rt, 41, tt01, w.performers["p9"], status="returned")  # performer of another centre
    payload = {"appraised_on": "2025-06-01", "appraisal_result": "meets"}
    done = await svc.transition("case", own, "appraise", payload, 1, w.ctx("director"))
    assert done["status"] == "appraised"
    national_try = await _case(rt, 42, tt01, p1, status="returned")
    for who, case_id in (("director", foreign), ("national", national_try)):
        with pytest.raises(ValidationError) as err:
            await svc.transition("case", case_id, "appraise", payload, 1, w.ctx(who))
        assert "own organisation" in str(err.value.problems)
    # ... and never the performer: a director who performed the case may not appraise it.
    await rt.db.execute('UPDATE "performer" SET account = {} WHERE id = {}', w.users["director"], p1)
    with pytest.raises(ValidationError) as err:
        await svc.transition("case", national_try, "appraise", payload, 1, w.ctx("director"))
    assert "own case" in str(err.value.problems)
    await rt.db.execute('UPDATE "performer" SET account = NULL WHERE id = {}', p1)
    assert (await svc.transition("case", national_try, "appraise", payload, 1, w.ctx("director")))["status"] \
        == "appraised"

    # Effectiveness: successful exactly when the litigation case meets a configured criterion.
    lit = await _case(rt, 43, tt01, p1, status="appraised", form="TGTT")
    ctx = w.ctx("director", "vi")
    with pytest.raises(ValidationError) as err:
        await svc.update("case", lit, {"successful": True}, 1, ctx)
    assert [f for f, _m in err.value.problems] == ["success_criteria"]
    with pytest.raises(ValidationError) as err:
        await svc.update("case", lit, {"success_criteria": ["acquitted"], "successful": False}, 1, ctx)
    assert [f for f, _m in err.value.problems] == ["successful"]
    ok = await svc.update("case", lit, {"success_criteria": ["acquitted"], "successful": True}, 1, ctx)
    assert ok["successful"] is True
    advice = await _case(rt, 44, tt01, p1, status="appraised", form="TV")
    with pytest.raises(ValidationError):
        await svc.update("case", advice, {"successful": True, "success_criteria": ["acquitted"]}, 1, ctx)


def test_grades_and_totals_come_from_the_configuration(reference_config_dir):
    quality = quality_of(load_full_config(reference_config_dir, PLUGINS))
    assert [quality.rubric.grade_of(n) for n in (100, 90, 89, 70, 69, 50, 49, 0)] == \
        ["good", "good", "fair", "fair", "satisfactory", "satisfactory", "unsatisfactory", "unsatisfactory"]
    path = reference_config_dir / "forms_config" / "quality.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("{grade: good, min: 90}", "{grade: good, min: 95}"),
                    encoding="utf-8")
    path.write_text(path.read_text(encoding="utf-8").replace("by_centre: {}", "by_centre: {TT-01: 40}"),
                    encoding="utf-8")
    changed = quality_of(load_full_config(reference_config_dir, PLUGINS))
    assert changed.rubric.score(SCORES) == (92, "fair")
    assert changed.rubric.grade_of(95) == "good"
    assert (changed.quotas.target("TT-01"), changed.quotas.target("TT-02"), changed.quotas.target("TT-01", 7)) == \
        (40, 30, 7)


@pytest.mark.parametrize(("old", "new", "message"), [
    ("{key: other, max: 10,", "{key: other, max: 11,", "add up to 101, not to the total 100"),
    ("{grade: unsatisfactory, min: 0}", "{grade: unsatisfactory, min: 10}", "lowest grade must start at 0"),
    ("{grade: fair, min: 70}", "{grade: excellent, min: 70}", "'excellent' is not an option"),
    ("levels: [centre, branch]", "levels: [centre, county]", "'county' is not a level"),
    ("roles: [centre_director, branch_head]", "roles: [centre_directors]", "'centre_directors' is not a role"),
])
def test_a_wrong_rubric_is_refused_with_its_place(reference_config_dir, old, new, message):
    from hoso.config import ConfigErrors

    path = reference_config_dir / "forms_config" / "quality.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    with pytest.raises(ConfigErrors) as err:
        load_full_config(reference_config_dir, PLUGINS)
    assert message in str(err.value) and "quality.yaml" in str(err.value)
