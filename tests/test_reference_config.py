"""The reference deployment's configuration (Vietnam's legal aid records) loads and says what it should."""

from __future__ import annotations

import csv
import re
import subprocess
import sys
import unicodedata
from collections import Counter, deque
from pathlib import Path

import pytest

from hoso.config import load_config

ROOT = Path(__file__).resolve().parent.parent
UNITS_DIR = ROOT / "roles_config" / "units"
CODE_RE = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")
VI_DIACRITIC = re.compile(r"[^\x00-\x7f]")


@pytest.fixture(scope="module")
def config():
    return load_config(ROOT)


@pytest.fixture(scope="module")
def provinces() -> dict[str, str]:
    """Pre-merger provinces (old_code -> old_name) from the mapping kept in the repository."""
    with (UNITS_DIR / "provinces_2025.csv").open(encoding="utf-8", newline="") as fh:
        return {row["old_code"]: row["old_name"] for row in csv.DictReader(fh)}


def _units_by_type(config) -> dict[str, list]:
    out: dict[str, list] = {}
    for u in config.hierarchy.units:
        out.setdefault(u.type, []).append(u)
    return out


# -- entities, naming, forms ----------------------------------------------------------------------------


def test_entity_names(config):
    assert {e.name for e in config.entities} == {"case", "performer", "organisation", "case_transfer",
                                                 "evaluation_plan", "evaluation_sample"}
    for e in config.entities:
        assert e.unit_field == "unit"
        assert e.field("unit").type == "org_unit"


def test_case_naming(config):
    case = config.entity("case")
    assert case.naming is not None
    assert case.naming.field == "code"
    assert case.naming.pattern == "{unit.short_code}.{form_of_aid}.{seq:02}.{year}"
    assert case.naming.sequence_per == ("unit", "form_of_aid", "year")
    assert case.naming.date_field == "received_on"
    assert case.field("code").type == "text"
    # Codes are unique within a unit (each centre and branch numbers its own register).
    assert any(i.fields == ("unit", "code") and i.unique for i in case.indexes)


def test_case_fields(config):
    case = config.entity("case")
    types = {f.name: f.type for f in case.fields}
    assert types["beneficiary_groups"] == "multi_choice"
    assert types["requester_citizen_id"] == "citizen_id"
    assert types["summary"] == "long_text"
    assert types["scanned_file"] == "attachment"
    assert types["performer"] == "reference" and case.field("performer").entity == "performer"
    assert types["organisation"] == "reference" and case.field("organisation").entity == "organisation"
    assert case.field("status").list == "case_status"
    assert case.field("status").default == "received"
    birth_year = case.field("birth_year")
    assert birth_year.type == "integer" and birth_year.min is not None and birth_year.max is not None
    hearings = case.field("hearings")
    assert hearings.is_child_table
    assert {f.name for f in hearings.fields} == {"held_on", "court", "note"}
    assert ("unit", "received_on") in {i.fields for i in case.indexes}
    assert ("status",) in {i.fields for i in case.indexes}
    # an intake counts the requester's cases of the day (hoso_legal_aid.intake): both columns in one index
    assert ("requester_citizen_id", "received_on") in {i.fields for i in case.indexes}


def test_case_file_form_covers_every_case_field(config):
    form = next(f for f in config.forms if f.name == "case_file")
    on_form = [name for s in form.sections for name in s.fields]
    assert len(on_form) == len(set(on_form)), "a field appears twice on the case file form"
    assert set(on_form) == {f.name for f in config.entity("case").fields}


def test_forms_exist(config):
    assert {f.name: f.entity for f in config.forms} == {
        "case_intake": "case",
        "case_file": "case",
        "performer": "performer",
        "organisation": "organisation",
    }


# -- choice lists ---------------------------------------------------------------------------------------


def test_beneficiary_groups_have_vietnamese_labels(config):
    groups = config.choice_list("beneficiary_group")
    assert 14 <= len(groups.options) <= 16
    for o in groups.options:
        assert o.label.vi.strip(), o.value
        assert o.label.en, o.value
        assert VI_DIACRITIC.search(o.label.vi), f"{o.value}: Vietnamese label without diacritics?"


def test_list_values_and_labels(config):
    for cl in config.lists:
        assert cl.label is not None and cl.label.en, cl.name
        for o in cl.options:
            assert CODE_RE.match(o.value), (cl.name, o.value)
            assert o.label.vi and o.label.en, (cl.name, o.value)
            assert unicodedata.normalize("NFC", o.label.vi) == o.label.vi, (cl.name, o.value)
    assert config.choice_list("form_of_aid").values() == ("TGTT", "TV", "DDNTT")
    assert len(config.choice_list("field_of_law").options) == 8
    assert set(config.choice_list("gender").values()) == {"male", "female", "other"}


# -- workflow -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lifecycle(config):
    (wf,) = config.workflows_for("case")
    return wf


def _reachable(wf, start: str) -> set[str]:
    seen, todo = {start}, deque([start])
    while todo:
        s = todo.popleft()
        for t in wf.transitions:
            if s in t.from_states and t.to not in seen:
                seen.add(t.to)
                todo.append(t.to)
    return seen


def test_workflow_shape(config, lifecycle):
    assert lifecycle.state_field == "status"
    assert lifecycle.initial == "received"
    assert set(lifecycle.states) == set(config.choice_list("case_status").values())
    assert {t.name for t in lifecycle.transitions} == {
        "accept", "refuse", "transfer", "assign", "start", "end", "discontinue", "return_file", "appraise",
        "evaluate", "archive", "reopen",
    }
    assert "performer" in lifecycle.transition("assign").requires
    assert "ended_on" in lifecycle.transition("end").requires


def test_workflow_reaches_archived_from_received(lifecycle):
    assert "archived" in _reachable(lifecycle, "received")
    # every state is reachable, and every state except archived can still reach archived
    assert _reachable(lifecycle, "received") == set(lifecycle.states)
    for s in lifecycle.states:
        assert "archived" in _reachable(lifecycle, s), s
    # an archived file leaves the archive only by the reopen step, and goes back to it
    assert [t.name for t in lifecycle.transitions if "archived" in t.from_states] == ["reopen"]
    assert lifecycle.transition("reopen").to in lifecycle.transition("archive").from_states


def test_main_path_received_to_archived(lifecycle):
    path = ["accept", "assign", "start", "end", "return_file", "appraise", "evaluate", "archive"]
    state = "received"
    for name in path:
        t = lifecycle.transition(name)
        assert state in t.from_states, (name, state)
        state = t.to
    assert state == "archived"


# -- unit tree ------------------------------------------------------------------------------------------


def test_unit_tree_counts(config):
    by_type = _units_by_type(config)
    assert len(by_type["ministry_department"]) == 1
    assert len(by_type["provincial_department"]) == 63
    assert len(by_type["legal_aid_centre"]) == 63
    assert len(by_type.get("centre_branch", [])) >= 1


def test_unit_codes_unique_and_parents_exist(config):
    units = config.hierarchy.units
    codes = [u.code for u in units]
    assert len(codes) == len(set(codes)), [c for c, n in Counter(codes).items() if n > 1]
    by_code = {u.code: u for u in units}
    roots = [u for u in units if u.parent_code is None]
    assert [u.code for u in roots] == ["CUC"]
    levels = config.hierarchy.levels
    for u in units:
        assert CODE_RE.match(u.code), u.code
        assert u.valid_from is not None and u.valid_from.isoformat() == "2019-01-01", u.code
        if u.parent_code is not None:
            assert u.parent_code in by_code, u.code
            parent = by_code[u.parent_code]
            child_level = config.hierarchy.unit_type(u.type).level
            parent_level = config.hierarchy.unit_type(parent.type).level
            assert levels.index(child_level) > levels.index(parent_level), (u.code, parent.code)


def test_units_follow_pre_merger_provinces(config, provinces):
    assert len(provinces) == 63
    by_code = {u.code: u for u in config.hierarchy.units}
    for old_code, old_name in provinces.items():
        name = old_name.removeprefix("Thành phố ").removeprefix("Tỉnh ")
        stp = by_code[f"STP-{old_code}"]
        tt = by_code[f"TT-{old_code}"]
        assert stp.type == "provincial_department" and stp.parent_code == "CUC"
        assert stp.name_vi == f"Sở Tư pháp {name}"
        assert tt.type == "legal_aid_centre" and tt.parent_code == stp.code
        assert tt.name_vi == f"Trung tâm Trợ giúp pháp lý nhà nước {name}"
    for u in config.hierarchy.units:
        if u.type == "centre_branch":
            assert by_code[u.parent_code].type == "legal_aid_centre"
    assert by_code["STP-11"].name_vi == "Sở Tư pháp Điện Biên"


def test_units_csv_is_the_generator_output(tmp_path):
    out = tmp_path / "units.csv"
    subprocess.run([sys.executable, str(UNITS_DIR / "make_units.py"), str(UNITS_DIR / "provinces_2025.csv"),
                    str(out)], check=True, capture_output=True)
    committed = (UNITS_DIR / "units.csv").read_text(encoding="utf-8")
    assert out.read_text(encoding="utf-8") == committed
    assert committed.splitlines()[0] == "code,name_vi,name_en,type,parent_code,valid_from,short_code"


# -- roles and modules ----------------------------------------------------------------------------------


def test_role_transitions_exist(config):
    transitions: dict[str, set[str]] = {}
    for wf in config.workflows:
        transitions.setdefault(wf.entity, set()).update(t.name for t in wf.transitions)
    for role in config.roles:
        for g in role.grants:
            assert config.has_entity(g.entity), (role.name, g.entity)
            for a in g.actions:
                if a.startswith("transition:"):
                    assert a.split(":", 1)[1] in transitions.get(g.entity, set()), (role.name, a)


def test_roles(config):
    names = {r.name for r in config.roles}
    assert names == {
        "national_admin", "national_statistician", "provincial_officer", "centre_director", "centre_staff",
        "branch_head", "performer_role", "organisation_lawyer", "public_directory", "quality_reviewer",
    }
    for r in config.roles:
        assert set(r.can_grant) <= names, r.name

    def grant(role, entity):
        return next(g for g in config.role(role).grants if g.entity == entity)

    admin = grant("national_admin", "case")
    assert admin.scope == "national" and "manage_users" in admin.actions
    assert grant("national_statistician", "case").scope == "statistics"
    assert "run_reports" in grant("national_statistician", "case").actions
    officer = grant("provincial_officer", "case")
    assert officer.scope == "subtree" and {"read", "run_reports", "approve_reports"} <= set(officer.actions)
    assert {"create", "update"} <= set(grant("provincial_officer", "organisation").actions)
    director = grant("centre_director", "case")
    all_transitions = {f"transition:{t.name}" for t in next(config.workflows_for("case")).transitions}
    assert director.scope == "subtree" and all_transitions <= set(director.actions)
    assert set(config.role("centre_director").can_grant) == {"centre_staff", "performer_role"}
    performer = grant("performer_role", "case")
    assert performer.scope == "assigned"
    assert {"read", "update", "transition:start", "transition:end"} <= set(performer.actions)
    lawyer = grant("organisation_lawyer", "case")  # the cases of the lawyer's own organisation, not the centre's
    assert lawyer.scope == "link" and lawyer.link == ("organisation", "performer", "organisation")


def test_modules(config):
    modules = {m.name: m for m in config.modules}
    assert set(modules) == {"legal_aid.hotline", "legal_aid.population_lookup", "legal_aid.vneid",
                            "legal_aid.quality"}
    # Lào Cai's department (STP-10) was recoded by the 2025 merger: the module names it by its current code.
    assert set(modules["legal_aid.hotline"].enabled_for) == {"STP-11", "STP-2025-15"}
    from hoso.config.kinds.restructuring import load_restructuring

    merger = load_restructuring(Path(config.root) / "roles_config/restructurings/2025-07-01-provinces.yaml")
    codes = {u.code for u in config.hierarchy.units} | {op.body["code"] for op in merger.operations
                                                       if op.kind in ("create", "rename") and "code" in op.body}
    for m in modules.values():
        assert set(m.enabled_for) <= codes, m.name


async def test_case_codes_follow_the_domain_format(reference_config_dir, tmp_path):
    """TT.TV.01.2019: the centre's short code, the form of aid, the number in the register, the year; each
    centre and branch numbers its own cases, so two centres both have a case 01."""
    from hoso.config import load_config
    from hoso.records.service import RecordContext
    from tests.helpers import migrated_runtime

    rt = await migrated_runtime(load_config(reference_config_dir), f"sqlite:///{tmp_path / 'codes.db'}")
    try:
        ids = {r["code"]: r["id"] for r in await rt.db.fetch("SELECT id, code FROM hoso_unit")}
        ctx = RecordContext.system(rt.config)

        async def case(unit, form="TV", received="2019-03-05"):
            rec = await rt.records().create("case", {
                "unit": ids[unit], "received_on": received, "request_channel": "in_person",
                "requester_name": "Nguyễn Văn An", "form_of_aid": form, "field_of_law": "CIVIL"
                if "CIVIL" in rt.config.choice_list("field_of_law").values() else
                rt.config.choice_list("field_of_law").values()[0],
                "beneficiary_groups": [rt.config.choice_list("beneficiary_group").values()[0]],
                **({"procedural_stage": rt.config.choice_list("procedural_stage").values()[0],
                    "litigation_role": rt.config.choice_list("litigation_role").values()[0]} if form == "TGTT" else {}),
            }, ctx)
            return rec["code"]

        assert await case("TT-01") == "TT.TV.01.2019"
        assert await case("TT-01") == "TT.TV.02.2019"
        assert await case("TT-02") == "TT.TV.01.2019"
        assert await case("CN1-01", form="TGTT") == "CN1.TGTT.01.2019"
        assert await case("TT-01", received="2020-01-02") == "TT.TV.01.2020"
    finally:
        await rt.db.close()


async def test_a_unit_without_a_short_code_writes_its_full_code(reference_config_dir, tmp_path):
    from hoso.config import load_config
    from hoso.records.service import RecordContext
    from tests.helpers import migrated_runtime

    rt = await migrated_runtime(load_config(reference_config_dir), f"sqlite:///{tmp_path / 'codes.db'}")
    try:
        await rt.db.execute("UPDATE hoso_unit SET short_code = NULL WHERE code = 'TT-01'")
        unit = await rt.db.fetchval("SELECT id FROM hoso_unit WHERE code = 'TT-01'")
        rec = await rt.records().create("case", {
            "unit": unit, "received_on": "2025-07-02", "request_channel": "in_person", "requester_name": "An",
            "form_of_aid": "TV", "field_of_law": rt.config.choice_list("field_of_law").values()[0],
            "beneficiary_groups": [rt.config.choice_list("beneficiary_group").values()[0]]},
            RecordContext.system(rt.config))
        assert rec["code"] == "TT-01.TV.01.2025"
    finally:
        await rt.db.close()
