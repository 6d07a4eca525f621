"""A valid configuration loads into the expected frozen, typed objects."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from hoso.config import (
    ChoiceList,
    Config,
    Conversion,
    EntityDef,
    FieldDef,
    FormDef,
    GrantDef,
    HierarchyDef,
    Label,
    ModuleDef,
    NamingDef,
    ReportDef,
    RoleDef,
    UnitRow,
    WorkflowDef,
)


@pytest.fixture
def config(cfg) -> Config:
    return cfg.load()


def test_base_config_loads_into_typed_objects(config, cfg):
    assert isinstance(config, Config)
    assert [cl.name for cl in config.lists] == ["form_of_aid", "case_status", "beneficiary_group"]
    assert [e.name for e in config.entities] == ["case", "lawyer"]
    assert all(isinstance(e, EntityDef) for e in config.entities)
    assert config.root.endswith("cfg1")
    assert len(config.content_hash) == 64


def test_lists(config):
    fa = config.choice_list("form_of_aid")
    assert isinstance(fa, ChoiceList)
    assert fa.label == Label("Hình thức trợ giúp", "Form of aid")
    assert fa.values() == ("TGTT", "TV")
    assert fa.options[1].label.get("en") == "Legal advice"
    bg = config.choice_list("beneficiary_group")
    assert bg.label is None
    assert bg.values() == ("poor",)
    assert bg.values(include_retired=True) == ("poor", "child")


def test_entity_case(config):
    case = config.entity("case")
    assert case.label == Label("Vụ việc", "Case")
    assert case.table == "case"  # no table: key, so the entity name
    assert case.unit_field == "unit"
    assert case.title_field == "requester_name"
    assert case.source == "forms_config/entities/case.yaml"
    assert case.naming == NamingDef(
        field="code", pattern="{unit.code}.{form_of_aid}.{seq:02}.{year}",
        sequence_per=("unit", "year"), date_field="received_on",
    )
    assert [i.fields for i in case.indexes] == [("unit", "received_on")]
    assert not case.indexes[0].unique
    assert [f.name for f in case.fields] == [
        "code", "requester_name", "citizen_id", "received_on", "form_of_aid", "beneficiary_groups", "status",
        "fee", "age", "unit", "lawyer", "applicant_phone", "hearings",
    ]
    assert [f.name for f in case.column_fields][-1] == "applicant_phone"
    assert [f.name for f in case.child_tables] == ["hearings"]
    assert case.child_table_name("hearings") == "case__hearings"


def test_field_definitions(config):
    case = config.entity("case")
    code = case.field("code")
    assert isinstance(code, FieldDef)
    assert (code.type, code.unique, code.max_length, code.required) == ("text", True, 40, False)
    assert code.label == Label("Mã vụ việc")
    rn = case.field("requester_name")
    assert (rn.required, rn.min_length, rn.max_length) == (True, 2, 200)
    assert case.field("citizen_id").pattern == "[0-9]{12}"
    assert case.field("received_on").min == "2000-01-01"  # dates stay ISO text; _coerce_bound parses them
    fa = case.field("form_of_aid")
    assert (fa.type, fa.list, fa.default) == ("choice", "form_of_aid", "TV")
    assert case.field("beneficiary_groups").default == ("poor",)  # lists become tuples
    fee = case.field("fee")
    assert (fee.max_digits, fee.decimal_places, fee.min, fee.max) == (12, 2, 0, None)
    age = case.field("age")
    assert (age.min, age.max) == (0, 150)
    assert age.convert == Conversion(from_type="text", mapping=None)
    assert case.field("lawyer").entity == "lawyer"
    assert case.field("applicant_phone").renamed_from == "requester_phone"
    hearings = case.field("hearings")
    assert hearings.is_child_table
    assert [c.name for c in hearings.fields] == ["held_on", "note"]
    assert hearings.child("held_on").required
    with pytest.raises(KeyError):
        case.field("nope")


def test_entity_lawyer(config):
    lawyer = config.entity("lawyer")
    assert lawyer.table == "lawyer_registry"
    assert lawyer.naming is None and lawyer.unit_field is None
    assert lawyer.field("active").default is True


def test_form_workflow_report(config):
    (form,) = config.forms
    assert isinstance(form, FormDef)
    assert (form.name, form.entity) == ("case_intake", "case")
    assert [s.fields for s in form.sections] == [("requester_name", "citizen_id"),
                                                 ("received_on", "form_of_aid", "hearings")]
    assert form.sections[0].title == Label("Người yêu cầu")
    (wf,) = config.workflows
    assert isinstance(wf, WorkflowDef)
    assert (wf.state_field, wf.initial, wf.states) == ("status", "received", ("received", "accepted", "ended"))
    assert wf.transition("accept").from_states == ("received",)
    assert wf.transition("accept").to == "accepted"
    assert wf.transition("end").requires == ("lawyer",)
    assert wf.label is None
    assert list(config.workflows_for("case")) == [wf]
    (rep,) = config.reports
    assert isinstance(rep, ReportDef)
    assert [d.key for d in rep.rows] == ["form_of_aid"]
    assert (rep.date_field, rep.parameters, rep.filter) == ("received_on", ("received_on",), None)
    assert [c.key for c in rep.columns] == ["total", "beneficiary_groups:poor"]  # a retired option has no column


def test_hierarchy_units_roles_modules(config):
    h = config.hierarchy
    assert isinstance(h, HierarchyDef)
    assert h.levels == ("ministry", "province", "centre")
    assert h.unit_type("legal_aid_centre").level == "centre"
    assert h.units == (
        UnitRow("BTP", "Cục Trợ giúp pháp lý", "ministry_department", "Legal Aid Department", None,
                dt.date(2000, 1, 1)),
        UnitRow("HN", "Sở Tư pháp Hà Nội", "provincial_department", None, "BTP", None),
        UnitRow("HN.TT", "Trung tâm TGPL Hà Nội", "legal_aid_centre", None, "HN", dt.date(2010, 5, 1)),
    )
    role = config.role("centre_staff")
    assert isinstance(role, RoleDef)
    assert role.grants[0] == GrantDef("case", ("read", "create", "update", "transition:accept"), "subtree",
                                      ("fee",), ("code",))
    assert role.grants[1].scope == "national"
    assert config.modules == (ModuleDef("legal_aid.hotline", Label("Tổng đài"), ("HN",)),)


def test_everything_is_frozen(config):
    case = config.entity("case")
    targets = [
        (config, "lists"), (case, "name"), (case.field("code"), "type"), (case.naming, "pattern"),
        (case.field("age").convert, "from_type"), (config.forms[0], "entity"), (config.forms[0].sections[0], "fields"),
        (config.workflows[0], "initial"), (config.workflows[0].transitions[0], "to"), (config.reports[0], "rows"),
        (config.hierarchy, "levels"), (config.hierarchy.units[0], "code"), (config.roles[0], "grants"),
        (config.roles[0].grants[0], "scope"), (config.modules[0], "name"), (config.lists[0], "options"),
        (config.lists[0].options[0], "value"), (case.field("code").label, "vi"),
    ]
    for obj, attr in targets:
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(obj, attr, None)
    # collections are tuples, so they cannot be changed in place either
    assert isinstance(config.entities, tuple) and isinstance(case.fields, tuple)
    assert isinstance(case.field("beneficiary_groups").default, tuple)


def test_content_hash_follows_the_files(cfg):
    a = cfg.load()
    b = cfg.load()
    assert a.content_hash == b.content_hash
    c = cfg.load({"roles_config/modules.yaml": cfg.edit("roles_config/modules.yaml", "Tổng đài", "Đường dây")})
    assert c.content_hash != a.content_hash


def test_optional_files_may_be_left_out(cfg):
    config = cfg.load({"roles_config/modules.yaml": None, "forms_config/reports/cases_by_form.yaml": None})
    assert config.modules == () and config.reports == ()


def test_yml_extension_and_units_yaml(cfg):
    config = cfg.load({
        "forms_config/forms/short.yml": "form: short\nentity: lawyer\nlabel: {vi: Ngắn}\n"
                                        "sections: [{title: {vi: A}, fields: [full_name]}]\n",
        "roles_config/hierarchy.yaml": cfg.edit("roles_config/hierarchy.yaml", "units/units.csv", "units/more.yaml"),
        "roles_config/units/more.yaml": "units:\n  - {code: A, name_vi: Một, type: ministry_department, "
                                        "valid_from: 2020-01-02}\n",
        "roles_config/modules.yaml": cfg.edit("roles_config/modules.yaml", "[HN]", "[A]"),  # HN is gone
    })
    assert [f.name for f in config.forms] == ["case_intake", "short"]
    assert config.hierarchy.units == (UnitRow("A", "Một", "ministry_department", valid_from=dt.date(2020, 1, 2)),)


def test_anchors_and_aliases(cfg):
    lawyer = cfg.edit("forms_config/entities/lawyer.yaml", "label: {vi: Họ tên}", "label: &name {vi: Họ tên}")
    lawyer += "  alias_name: {type: text, label: *name}\n"
    config = cfg.load({"forms_config/entities/lawyer.yaml": lawyer})
    entity = config.entity("lawyer")
    assert entity.field("alias_name").label == entity.field("full_name").label == Label("Họ tên")
