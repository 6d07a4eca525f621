"""Malformed configurations are refused with issues that name the file, line, column and key path, and say
what was expected and what was found.

Most cases change one spot of the valid base configuration (see conftest.py) and expect exactly one issue:
a single mistake must not bring follow-on noise from the files that refer to the broken one.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from hoso.config import ConfigErrors, ConfigIssue, load_config

ENTITY = "forms_config/entities/case.yaml"
LAWYER = "forms_config/entities/lawyer.yaml"
LISTS = "forms_config/lists/common.yaml"
FORM = "forms_config/forms/case_intake.yaml"
WORKFLOW = "forms_config/workflows/case_lifecycle.yaml"
REPORT = "forms_config/reports/cases_by_form.yaml"
HIERARCHY = "roles_config/hierarchy.yaml"
UNITS = "roles_config/units/units.csv"
ROLE = "roles_config/roles/centre_staff.yaml"
MODULES = "roles_config/modules.yaml"


@dataclass(frozen=True)
class Edit:
    """Replace ``old`` by ``new`` in one file of the base; expect one issue on the (one) line holding ``line``,
    at the column where ``col`` first starts on that line (when given), at key ``path``, with every ``says``
    in its message."""

    id: str
    file: str
    old: str
    new: str
    line: str
    col: str | None
    path: str
    says: tuple[str, ...]


def check(cfg, e: Edit) -> ConfigIssue:
    text = cfg.edit(e.file, e.old, e.new)
    issue = cfg.one_error({e.file: text})
    assert issue.file == e.file
    line = cfg.line_of(text, e.line)
    assert issue.line == line, issue
    if e.col is not None:
        assert issue.column == text.splitlines()[line - 1].index(e.col) + 1, issue
    assert issue.path == e.path
    for part in e.says:
        assert part in issue.message, f"{part!r} not in {issue.message!r}"
    return issue


ENTITY_EDITS = [
    Edit("unknown top-level key", ENTITY, "unit_field: unit\n", "unit_field: unit\ntitle: Vụ việc\n",
         "title: Vụ việc", "title:", "title",
         ("unknown key 'title'", "expected one of: attachments, entity, fields, indexes, label, list, naming, rules, "
          "search, table, title_field, unit_field")),
    Edit("unknown field key, did you mean", ENTITY, "unique: true, max_length: 40", "uniqe: true, max_length: 40",
         "uniqe", "uniqe", "fields.code.uniqe",
         ("unknown key 'uniqe'", "(did you mean 'unique'?)", "expected one of: convert, decimal_places, default")),
    Edit("unknown field type, did you mean", ENTITY, "type: integer", "type: integr",
         "integr", "integr", "fields.age.type",
         ("expected one of 'text', 'long_text', 'integer'", "found 'integr'", "(did you mean 'integer'?)")),
    Edit("unknown convert.from type", ENTITY, "convert: {from: text}", "convert: {from: txt}",
         "{from: txt}", "txt}", "fields.age.convert.from", ("expected one of 'text'", "found 'txt'", "'text'?")),
    Edit("missing label", ENTITY, "  unit: {type: org_unit, required: true, label: {vi: Đơn vị}}",
         "  unit: {type: org_unit, required: true}", "unit: {type: org_unit", "{type: org_unit", "fields.unit",
         ("missing required key 'label'",)),
    Edit("missing label.vi", ENTITY, "label: {vi: Vụ việc, en: Case}", "label: {en: Case}",
         "label: {en: Case}", "{en: Case}", "label", ("missing required key 'vi'",)),
    Edit("empty label.vi", ENTITY, "label: {vi: Vụ việc, en: Case}", "label: {vi: '', en: Case}",
         "label: {vi: ''", "''", "label.vi", ("expected a non-empty string", "found ''")),
    Edit("string where a mapping is expected", ENTITY, "label: {vi: Vụ việc, en: Case}", "label: Vụ việc",
         "label: Vụ việc", "Vụ việc", "label", ("expected a mapping", "found a string ('Vụ việc')")),
    Edit("nothing where a field mapping is expected", ENTITY,
         "  status: {type: choice, list: case_status, default: received, label: {vi: Trạng thái}}",
         "  status:", "  status:", None, "fields.status", ("expected a mapping", "found nothing (null)")),
    Edit("number where a boolean is expected", ENTITY, "unique: true, max_length: 40", "unique: 1, max_length: 40",
         "unique: 1", "1, max_length", "fields.code.unique", ("expected true or false", "found a number (1)")),
    Edit("string where a number is expected", ENTITY, "max_length: 40", "max_length: forty",
         "max_length: forty", "forty", "fields.code.max_length",
         ("expected a whole number", "found a string ('forty')")),
    Edit("number below the schema minimum", ENTITY, "max_length: 40", "max_length: 0",
         "max_length: 0", "0}", "fields.code.max_length", ("expected a value of at least 1", "found 0")),
    Edit("boolean where a number or date is expected", ENTITY, "decimal_places: 2, min: 0",
         "decimal_places: 2, min: true", "min: true", "true, label: {vi: Phí}", "fields.fee.min",
         ("expected a number or a string", "found a boolean (true)")),
    Edit("upper-case field name", ENTITY, "  citizen_id: {", "  CitizenId: {",
         "CitizenId", "CitizenId", "fields.CitizenId",
         ("invalid name 'CitizenId'", "expected lower case letters, digits and underscores")),
    Edit("upper-case child field name", ENTITY, "      note: {", "      Note: {",
         "Note:", "Note", "fields.hearings.fields.Note", ("invalid name 'Note'",)),
    Edit("choice field without list", ENTITY, "{type: choice, list: case_status, default: received,",
         "{type: choice, default: received,", "  status:", "{type: choice, default", "fields.status",
         ("missing key 'list'", "a choice field needs the name of a choice list")),
    Edit("choice field naming an unknown list", ENTITY, "list: case_status", "list: case_statuses",
         "case_statuses", "case_statuses", "fields.status.list",
         ("unknown choice list 'case_statuses'", "(did you mean 'case_status'?)",
          "defined lists: beneficiary_group, case_status, form_of_aid")),
    Edit("list on a non-choice field", ENTITY, "{type: phone, renamed_from",
         "{type: phone, list: case_status, renamed_from", "type: phone", "case_status, renamed",
         "fields.applicant_phone.list",
         ("'list' applies only to choice fields", "not to a phone field")),
    Edit("reference to an unknown entity", ENTITY, "entity: lawyer,", "entity: lawyers,",
         "entity: lawyers", "lawyers", "fields.lawyer.entity",
         ("unknown entity 'lawyers'", "(did you mean 'lawyer'?)", "defined entities: case, lawyer")),
    Edit("reference without entity", ENTITY, "{type: reference, entity: lawyer,", "{type: reference,",
         "type: reference", "{type: reference", "fields.lawyer", ("missing key 'entity'",)),
    Edit("child_table without fields", ENTITY,
         "    fields:\n      held_on: {type: date, required: true, label: {vi: Ngày}}\n"
         "      note: {type: long_text, label: {vi: Ghi chú}}\n", "",
         "type: child_table", "type: child_table", "fields.hearings",
         ("missing key 'fields'", "a child_table field needs the columns of its rows")),
    Edit("child_table with empty fields", ENTITY,
         "    fields:\n      held_on: {type: date, required: true, label: {vi: Ngày}}\n"
         "      note: {type: long_text, label: {vi: Ghi chú}}\n", "    fields: {}\n",
         "fields: {}", "{}", "fields.hearings.fields", ("expected at least 1 entry", "found an empty mapping")),
    Edit("nested child_table", ENTITY, "      note: {type: long_text, label: {vi: Ghi chú}}",
         "      rows: {type: child_table, label: {vi: Dòng}, fields: {a: {type: text, label: {vi: A}}}}",
         "rows:", "child_table, label: {vi: Dòng}", "fields.hearings.fields.rows.type",
         ("child tables cannot be nested inside a child table",)),
    Edit("min greater than max", ENTITY, "min: 0, max: 150", "min: 200, max: 150",
         "min: 200", "200, max", "fields.age.min", ("min 200 is greater than max 150",)),
    Edit("date min greater than date max", ENTITY, 'min: "2000-01-01"', 'min: "2020-01-01", max: 2010-01-01',
         "2010-01-01", '"2020-01-01"', "fields.received_on.min",
         ("min '2020-01-01' is greater than max '2010-01-01'",)),
    Edit("min_length greater than max_length", ENTITY, "min_length: 2, max_length: 200",
         "min_length: 300, max_length: 200", "min_length: 300", "300", "fields.requester_name.min_length",
         ("min_length 300 is greater than max_length 200",)),
    Edit("length constraint on a number field", ENTITY, "min: 0, max: 150,", "min: 0, max: 150, max_length: 3,",
         "max_length: 3", "{type: integer", "fields.age",
         ("length and pattern constraints apply to text fields", "not to an integer field")),
    Edit("invalid regular expression", ENTITY, 'pattern: "[0-9]{12}"', 'pattern: "[0-9{12}"',
         "[0-9{12}", '"[0-9{12}"', "fields.citizen_id.pattern",
         ("expected a valid regular expression", "found '[0-9{12}'", "unterminated character set")),
    Edit("decimal_places greater than max_digits", ENTITY, "max_digits: 12, decimal_places: 2",
         "max_digits: 2, decimal_places: 4", "decimal_places: 4", "4, min", "fields.fee.decimal_places",
         ("decimal_places 4 is greater than max_digits 2",)),
    Edit("choice default not in the list", ENTITY, "default: TV", "default: XX",
         "default: XX", "XX", "fields.form_of_aid.default",
         ("expected one of 'TGTT', 'TV' (the options of list 'form_of_aid')", "found 'XX'")),
    Edit("multi_choice default not in the list", ENTITY, "default: [poor]", "default: [poor, child]",
         "[poor, child]", "[poor, child]", "fields.beneficiary_groups.default",
         ("expected options of list 'beneficiary_group' ('poor')", "found 'child'")),
    Edit("boolean default of the wrong type", LAWYER, "default: true", 'default: "yes"',
         'default: "yes"', '"yes"', "fields.active.default", ("expected true or false", "found a string ('yes')")),
    Edit("integer default of the wrong type", ENTITY, "min: 0, max: 150,", "min: 0, max: 150, default: many,",
         "default: many", "many", "fields.age.default", ("expected a whole number", "found a string ('many')")),
    Edit("date default that is no date", ENTITY, 'min: "2000-01-01"', 'min: "2000-01-01", default: 2020-02-30',
         "2020-02-30", "2020-02-30", "fields.received_on.default",
         ("expected a date as YYYY-MM-DD", "found a string ('2020-02-30')")),
    Edit("text default that is a list", LAWYER, "label: {vi: Họ tên}", "label: {vi: Họ tên}, default: [a]",
         "default: [a]", "[a]", "fields.full_name.default", ("expected a string", "found a list")),
    Edit("date bound that is no date", ENTITY, 'min: "2000-01-01"', "min: yesterday",
         "min: yesterday", "yesterday", "fields.received_on.min",
         ("expected a date as YYYY-MM-DD", "found a string ('yesterday')")),
    Edit("naming pattern without {seq}", ENTITY, "{seq:02}.", "",
         "  pattern:", '"{unit.code}', "naming.pattern",
         ("expected a {seq} placeholder", "found none in '{unit.code}.{form_of_aid}.{year}'")),
    Edit("naming pattern naming an unknown field", ENTITY, "{form_of_aid}", "{form_of_aide}",
         "  pattern:", '"{unit.code}', "naming.pattern",
         ("placeholder {form_of_aide} names unknown field 'form_of_aide'", "(did you mean 'form_of_aid'?)")),
    Edit("naming pattern attribute of a non-unit field", ENTITY, "{form_of_aid}", "{form_of_aid.code}",
         "  pattern:", '"{unit.code}', "naming.pattern",
         ("placeholder {form_of_aid.code}: only org_unit fields have attributes",)),
    Edit("naming field that is not text", ENTITY, "  field: code", "  field: age",
         "  field: age", "age", "naming.field", ("the code field must be a text field", "'age' is an integer field")),
    Edit("naming date_field unknown", ENTITY, "date_field: received_on", "date_field: received",
         "date_field: received", "received", "naming.date_field",
         ("unknown field 'received'", "(did you mean 'received_on'?)")),
    Edit("naming sequence_per unknown", ENTITY, "sequence_per: [unit, year]", "sequence_per: [unit, yaer]",
         "sequence_per", "yaer", "naming.sequence_per[1]", ("unknown field 'yaer'", "expected a field or 'year'")),
    Edit("unit_field that is not an org_unit field", ENTITY, "unit_field: unit", "unit_field: code",
         "unit_field: code", "code", "unit_field",
         ("unit_field must name an org_unit field", "'code' is a text field")),
    Edit("title_field unknown", ENTITY, "title_field: requester_name", "title_field: requester",
         "title_field:", "requester", "title_field",
         ("unknown field 'requester'", "(did you mean 'requester_name'?)", "fields of 'case': age, applicant_phone")),
    Edit("index on an unknown field", ENTITY, "[unit, received_on]", "[unit, received]",
         "[unit, received]", "received]", "indexes[0].fields[1]",
         ("unknown field 'received'", "(did you mean 'received_on'?)")),
    Edit("index on a child table", ENTITY, "[unit, received_on]", "[unit, hearings]",
         "[unit, hearings]", "hearings]", "indexes[0].fields[1]", ("a child_table field cannot be indexed",)),
    Edit("renamed_from naming an existing field", ENTITY, "renamed_from: requester_phone",
         "renamed_from: requester_name", "requester_name, label", "requester_name, label",
         "fields.applicant_phone.renamed_from",
         ("renamed_from 'requester_name' names a field that still exists in this entity",)),
    Edit("reserved table name", ENTITY, "unit_field: unit\n", "table: hoso_case\nunit_field: unit\n",
         "table: hoso_case", "hoso_case", "table",
         ("table names starting with 'hoso_' are reserved for the system", "found 'hoso_case'")),
    Edit("key written as yes stays 'yes'", LAWYER, "  active: {", "  Yes: {",
         "Yes:", "Yes", "fields.Yes", ("invalid name 'Yes'",)),
]


@pytest.mark.parametrize("e", ENTITY_EDITS, ids=lambda e: e.id)
def test_entity_mistakes(cfg, e):
    check(cfg, e)


OTHER_EDITS = [
    # lists
    Edit("option value with a space", LISTS, "value: TV,", "value: T V,", "T V", "T V",
         "lists.form_of_aid.options[1].value",
         ("expected a code of 1 to 40 letters, digits, '_', '.' or '-'", "found 'T V'")),
    Edit("option value yes is a boolean", LISTS, "value: TV,", "value: yes,", "value: yes", "yes,",
         "lists.form_of_aid.options[1].value",
         ("expected a string", "found a boolean (true)", "put the value in quotes")),
    Edit("list without options", LISTS, "    options:\n      - {value: poor, vi: Người nghèo}\n"
         "      - {value: child, vi: Trẻ em, retired: true}\n", "    label: {vi: Diện}\n",
         "label: {vi: Diện}", "label: {vi: Diện}", "lists.beneficiary_group", ("missing required key 'options'",)),
    Edit("list with nothing under options", LISTS, "    options:\n      - {value: poor, vi: Người nghèo}\n"
         "      - {value: child, vi: Trẻ em, retired: true}\n", "    options:  # none yet\n", "none yet", "options",
         "lists.beneficiary_group.options", ("expected a list", "found nothing (null)")),
    Edit("duplicate option value", LISTS, "      - {value: ended, vi: Kết thúc}\n",
         "      - {value: ended, vi: Kết thúc}\n      - {value: accepted, vi: Trùng}\n", "Trùng",
         "accepted, vi: Trùng", "lists.case_status.options[3].value", ("duplicate option value 'accepted'",)),
    # forms
    Edit("form naming an unknown entity", FORM, "entity: case", "entity: cases", "entity: cases", "cases", "entity",
         ("unknown entity 'cases'", "(did you mean 'case'?)", "defined entities: case, lawyer")),
    Edit("form naming an unknown field", FORM, "citizen_id]", "citizen]", "citizen]", "citizen]",
         "sections[0].fields[1]",
         ("form names unknown field 'citizen' of entity 'case'", "(did you mean 'citizen_id'?)")),
    Edit("form listing a field twice", FORM, "citizen_id]", "citizen_id, citizen_id]", "citizen_id, citizen_id",
         "citizen_id]", "sections[0].fields[2]", ("'citizen_id' is listed more than once",)),
    Edit("form section without title", FORM, "  - title: {vi: Vụ việc}\n    fields: [received_on",
         "  - fields: [received_on", "fields: [received_on", "fields: [received_on", "sections[1]",
         ("missing required key 'title'",)),
    # workflows
    Edit("workflow initial not in states", WORKFLOW, "initial: received", "initial: recieved", "initial:", "recieved",
         "initial", ("initial state 'recieved' is not one of the states", "(did you mean 'received'?)",
                     "states: received, accepted, ended")),
    Edit("workflow transition to an unknown state", WORKFLOW, "to: accepted", "to: acepted", "to: acepted", "acepted",
         "transitions.accept.to", ("unknown state 'acepted'", "(did you mean 'accepted'?)",
                                   "states: received, accepted, ended")),
    Edit("workflow transition from an unknown state", WORKFLOW, "{from: [accepted]", "{from: [closed]",
         "[closed]", "closed", "transitions.end.from[0]", ("unknown state 'closed'", "states: received")),
    Edit("workflow state_field not a choice field", WORKFLOW, "state_field: status", "state_field: code",
         "state_field", "code", "state_field", ("the state field must be a choice field", "'code' is a text field")),
    Edit("workflow state_field unknown", WORKFLOW, "state_field: status", "state_field: statu",
         "state_field", "statu", "state_field", ("unknown field 'statu' of entity 'case'", "(did you mean 'status'?)")),
    Edit("workflow state not an option of the list", WORKFLOW, "[received, accepted, ended]",
         "[received, accepted, ended, closed]", "states:", "closed", "states[3]",
         ("state 'closed' is not an option of list 'case_status'", "options: received, accepted, ended")),
    Edit("workflow requires an unknown field", WORKFLOW, "requires: [lawyer]", "requires: [lawyers]",
         "requires", "lawyers", "transitions.end.requires[0]",
         ("transition 'end' names unknown field 'lawyers'", "(did you mean 'lawyer'?)")),
    Edit("transition name in upper case", WORKFLOW, "  end: {", "  End: {", "End:", "End", "transitions.End",
         ("invalid name 'End'",)),
    # reports
    Edit("report naming an unknown field", REPORT, "rows: [form_of_aid]", "rows: [form_of_aids]", "rows:",
         "form_of_aids", "rows[0]", ("report names unknown field 'form_of_aids' of entity 'case'",
                                     "(did you mean 'form_of_aid'?)")),
    Edit("report with no rows", REPORT, "rows: [form_of_aid]", "rows: []", "rows:", "[]", "rows",
         ("expected at least 1 item", "found an empty list")),
    # roles
    Edit("role naming an unknown transition", ROLE, "transition:accept", "transition:approve", "transition:",
         "transition:approve", "grants[0].actions[3]",
         ("unknown workflow transition 'approve' of entity 'case'", "transitions: accept, end")),
    Edit("role naming a transition of an entity without workflow", ROLE, "    actions: [read]\n",
         "    actions: [read, transition:accept]\n", "[read, transition:accept]", "transition:accept]",
         "grants[1].actions[1]", ("unknown workflow transition 'accept' of entity 'lawyer'", "it has no workflow")),
    Edit("role with an invalid action", ROLE, "[read, create,", "[read, write,", "[read, write,", "write",
         "grants[0].actions[1]", ("expected an action (read, create, update, delete", "or transition:<name",
                                  "found 'write'")),
    Edit("role with an unknown scope", ROLE, "scope: subtree", "scope: subtre", "scope: subtre", "subtre",
         "grants[0].scope", ("expected one of 'own', 'assigned', 'unit', 'subtree'", "found 'subtre'",
                             "(did you mean 'subtree'?)")),
    Edit("role naming an unknown entity", ROLE, "entity: lawyer", "entity: lawyers", "entity: lawyers", "lawyers",
         "grants[1].entity", ("unknown entity 'lawyers'", "(did you mean 'lawyer'?)")),
    Edit("role hiding an unknown field", ROLE, "hidden_fields: [fee]", "hidden_fields: [fees]", "hidden_fields",
         "fees", "grants[0].hidden_fields[0]", ("hidden_fields names unknown field 'fees' of entity 'case'",)),
    Edit("role granting an unknown role", ROLE, "label: {vi: Cán bộ Trung tâm}\n",
         "label: {vi: Cán bộ Trung tâm}\ncan_grant: [centre_staf]\n", "can_grant", "centre_staf]", "can_grant[0]",
         ("unknown role 'centre_staf'", "(did you mean 'centre_staff'?)")),
    # hierarchy and modules
    Edit("hierarchy unit type with an unknown level", HIERARCHY, "{level: centre,", "{level: center,",
         "legal_aid_centre:", "center", "unit_types.legal_aid_centre.level",
         ("unknown level 'center'", "(did you mean 'centre'?)", "levels: ministry, province, centre")),
    Edit("hierarchy units file not found", HIERARCHY, "units/units.csv", "units/unit.csv", "units/unit.csv",
         "units/unit.csv", "units[0].file", ("file not found: roles_config/units/unit.csv",)),
    Edit("hierarchy units file outside roles_config", HIERARCHY, "units/units.csv", "../forms_config/lists/common.yaml",
         "file:", "../forms", "units[0].file",
         ("expected a file inside roles_config/", "found '../forms_config/lists/common.yaml'")),
    Edit("hierarchy units file of another kind", HIERARCHY, "units/units.csv", "units/units.txt",
         "file:", "units/units.txt", "units[0].file",
         ("expected a path relative to roles_config/ ending in .csv, .yaml or .yml", "found 'units/units.txt'")),
    Edit("module name in upper case", MODULES, "legal_aid.hotline", "Legal_aid.hotline", "Legal_aid", "Legal_aid",
         "modules.Legal_aid.hotline", ("invalid name 'Legal_aid.hotline'",
                                      "expected lower case names joined by dots")),
]


@pytest.mark.parametrize("e", OTHER_EDITS, ids=lambda e: e.id)
def test_other_mistakes(cfg, e):
    check(cfg, e)


def test_misspelt_required_key_gives_both_sides(cfg):
    text = cfg.edit(ROLE, "grants:\n", "grant:\n")
    issues = cfg.errors({ROLE: text})
    assert [(i.file, i.line, i.column, i.path, i.message) for i in issues] == [
        (ROLE, 1, 1, "", "missing required key 'grants'"),
        (ROLE, 3, 1, "grant", "unknown key 'grant' (did you mean 'grants'?); expected one of: can_grant, grants, "
                              "label, role"),
    ]


@pytest.mark.parametrize("pattern,says", [
    ("{unit.code}.{seq", "malformed placeholder in '{unit.code}.{seq': a '{' is never closed"),
    ("{seq.{year}", "a '{' inside a placeholder"),
    ("{seq:02}}.{year}", "a '}' has no '{' before it"),
    ("{seq:x2}", "placeholder {seq:x2} is not of the form {field}, {unit.code}, {seq:02} or {year}"),
    ("{seq!r}", "placeholder {seq!r}: conversions are not allowed"),
    ("{seq:02}.{}", "placeholder {} is not of the form"),
    ("{seq:02}.{Unit.code}", "placeholder {Unit.code} is not of the form"),
    # a width like this once passed the check and exhausted memory at the first record
    ("{seq:0999999999}", "placeholder {seq:0999999999} pads to 999,999,999 characters: a width of at most 12"),
    ("{year:13}.{seq}", "placeholder {year:13} pads to 13 characters"),
])
def test_malformed_naming_placeholder(cfg, pattern, says):
    text = cfg.edit(ENTITY, '"{unit.code}.{form_of_aid}.{seq:02}.{year}"', f'"{pattern}"')
    issue = cfg.one_error({ENTITY: text})
    assert (issue.file, issue.path) == (ENTITY, "naming.pattern")
    assert (issue.line, issue.column) == (cfg.line_of(text, "  pattern:"), cfg.col_of(text, f'"{pattern}"'))
    assert says in issue.message
    if "'{'" in says or "'}'" in says:
        assert "placeholders look like {field}, {unit.code}, {seq:02} or {year}" in issue.message


# -- YAML-level problems -------------------------------------------------------------------------------------


def test_yaml_syntax_error_position(cfg):
    text = cfg.edit(ENTITY, "  code: {type: text,", "  code: {type: text,,")
    issue = cfg.one_error({ENTITY: text})
    assert (issue.file, issue.path) == (ENTITY, "")
    assert issue.line == cfg.line_of(text, "text,,")
    assert issue.column == cfg.col_of(text, "text,,") + len("text,")  # the second comma
    assert issue.message.startswith("YAML syntax error: ")
    assert "expected the node content, but found ','" in issue.message


def test_yaml_unclosed_flow_mapping_names_where_it_started(cfg):
    text = cfg.edit(ENTITY, "label: {vi: Vụ việc, en: Case}", "label: {vi: Vụ việc, en: Case")
    issue = cfg.one_error({ENTITY: text})
    assert issue.line == 3  # where the parser notices: the next key
    assert "expected ',' or '}'" in issue.message
    assert "(while parsing a flow mapping that starts at line 2, column 8)" in issue.message


@pytest.mark.parametrize("old,new", [
    ("      held_on:", "\t    held_on:"),       # a tab in the indentation
    ("  code:", "\tcode:"),                       # a tab instead of the indentation
])
def test_tab_indentation(cfg, old, new):
    text = cfg.edit(ENTITY, old, new)
    issue = cfg.one_error({ENTITY: text})
    assert (issue.file, issue.line, issue.column, issue.path) == (ENTITY, cfg.line_of(text, "\t"), 1, "")
    assert "found a tab character" in issue.message
    assert "YAML indents and separates with spaces" in issue.message


def test_duplicate_key_names_both_lines(cfg):
    text = cfg.edit(ENTITY, "  status:", "  code: {type: text, label: {vi: Mã 2}}\n  status:")
    issue = cfg.one_error({ENTITY: text})
    assert issue.file == ENTITY
    assert issue.line == cfg.line_of(text, "Mã 2")
    assert issue.column == 3
    assert issue.path == "fields.code"
    assert "duplicate key 'code'" in issue.message
    assert f"(first at line {cfg.line_of(text, 'Mã vụ việc')})" in issue.message


def test_duplicate_top_level_key(cfg):
    text = cfg.BASE[ENTITY] + "unit_field: unit\n"
    issue = cfg.one_error({ENTITY: text})
    assert (issue.line, issue.column, issue.path) == (len(text.splitlines()), 1, "unit_field")
    assert "duplicate key 'unit_field' (first at line 3)" in issue.message


@pytest.mark.parametrize("content", ["", "\n\n", "# nothing here yet\n", "---\n"])
def test_empty_file(cfg, content):
    rel = "forms_config/forms/extra.yaml"
    issue = cfg.one_error({rel: content})
    assert (issue.file, issue.line, issue.column, issue.path) == (rel, 1, 1, "")
    assert issue.message == "file is empty: expected a form definition"


@pytest.mark.parametrize("content,found", [("- form\n- entity\n", "found a list"),
                                           ("hello\n", "found a string ('hello')")])
def test_file_that_is_not_a_mapping(cfg, content, found):
    rel = "forms_config/forms/extra.yaml"
    issue = cfg.one_error({rel: content})
    assert (issue.file, issue.line, issue.path) == (rel, 1, "")
    assert issue.message == f"expected a mapping; {found}"


def test_second_yaml_document(cfg):
    text = cfg.BASE[FORM] + "---\nform: other\n"
    issue = cfg.one_error({FORM: text})
    assert (issue.line, issue.column) == (cfg.line_of(text, "---"), 1)
    assert "found a second document (---): a file holds one definition" in issue.message


def test_recursive_alias_is_an_error_not_a_crash(cfg):
    text = cfg.BASE[FORM] + "extra: &loop [*loop]\n"
    issue = cfg.one_error({FORM: text})
    assert (issue.line, issue.path) == (cfg.line_of(text, "&loop"), "")
    assert "an alias (*name) refers to a node that contains it" in issue.message


def test_merge_keys_are_refused(cfg):
    text = cfg.edit(LAWYER, "  active: {type: boolean,", "  active: {<<: {index: true}, type: boolean,")
    issue = cfg.one_error({LAWYER: text})
    assert (issue.line, issue.column) == (cfg.line_of(text, "<<"), cfg.col_of(text, "<<"))
    assert "merge keys (<<) are not supported" in issue.message


def test_python_tags_are_refused(cfg):
    text = cfg.edit(FORM, "form: case_intake", "form: !!python/object:os.system case_intake")
    issue = cfg.one_error({FORM: text})
    assert (issue.line, issue.column) == (1, 7)
    assert "the tag '!!python/object:os.system' is not allowed" in issue.message


@pytest.mark.parametrize("rel", [ENTITY, UNITS])
def test_non_utf8_file(cfg, rel):
    raw = cfg.BASE[rel].encode("cp1258", errors="replace")  # Vietnamese Windows code page
    # everything before the first byte above 0x7f is ASCII, so bytes count as characters there
    first = next(i for i, b in enumerate(raw) if b > 0x7F)
    line_no = raw[:first].count(b"\n") + 1
    col = first - (raw.rfind(b"\n", 0, first) + 1) + 1
    issue = cfg.one_error({rel: raw})
    assert (issue.file, issue.line, issue.column, issue.path) == (rel, line_no, col, "")
    assert issue.message.startswith("file is not valid UTF-8 text: found byte 0x")
    assert "save the file with UTF-8 encoding" in issue.message


# -- names defined twice, tables -----------------------------------------------------------------------------


def test_duplicate_entity_across_files(cfg):
    text = cfg.edit(ENTITY, "\nunit_field", "\ntable: case_two\nunit_field")
    issue = cfg.one_error({"forms_config/entities/case2.yaml": text})
    assert (issue.file, issue.line, issue.column, issue.path) == ("forms_config/entities/case2.yaml", 1, 9, "entity")
    assert issue.message == "entity 'case' is already defined in forms_config/entities/case.yaml"


def test_table_used_twice(cfg):
    rel = "forms_config/entities/zz.yaml"
    issue = cfg.one_error({rel: "entity: zz\ntable: lawyer_registry\nlabel: {vi: Z}\nfields:\n"
                                "  a: {type: text, label: {vi: A}}\n"})
    assert (issue.file, issue.line, issue.column, issue.path) == (rel, 2, 8, "table")
    assert issue.message == ("table 'lawyer_registry' is already used by entity 'lawyer' "
                             "(forms_config/entities/lawyer.yaml:3)")


def test_child_table_clashing_with_an_earlier_entity_table(cfg):
    # a.yaml is read before case.yaml; case's child table case__hearings would silently share its table
    issue = cfg.one_error({"forms_config/entities/a.yaml": "entity: case__hearings\nlabel: {vi: X}\nfields:\n"
                                                          "  a: {type: text, label: {vi: A}}\n"})
    assert (issue.file, issue.path) == (ENTITY, "fields.hearings")
    assert issue.line == cfg.line_of(cfg.BASE[ENTITY], "  hearings:")
    assert issue.column == 3
    assert ("'case__hearings', is already used by entity 'case__hearings' (forms_config/entities/a.yaml:1)"
            in issue.message)


@pytest.mark.parametrize("rel,key,line,first", [
    ("forms_config/forms/other.yaml", "form", 1, FORM),
    ("forms_config/workflows/other.yaml", "workflow", 1, WORKFLOW),
    ("forms_config/reports/other.yaml", "report", 1, REPORT),
    ("roles_config/roles/other.yaml", "role", 1, ROLE),
])
def test_name_defined_twice(cfg, rel, key, line, first):
    issue = cfg.one_error({rel: cfg.BASE[first]})
    assert (issue.file, issue.line, issue.path) == (rel, line, key)
    assert issue.message.endswith(f"is already defined in {first}")


def test_choice_list_defined_twice(cfg):
    rel = "forms_config/lists/more.yaml"
    issue = cfg.one_error({rel: "lists:\n  case_status:\n    options: [{value: a, vi: A}]\n"})
    assert (issue.file, issue.line, issue.column, issue.path) == (rel, 2, 3, "lists.case_status")
    assert issue.message == "choice list 'case_status' is defined twice"


# -- units CSV -----------------------------------------------------------------------------------------------


def test_units_csv_unknown_parent_points_at_the_csv_line(cfg):
    text = cfg.edit(UNITS, ",HN,2010", ",HX,2010")
    issue = cfg.one_error({UNITS: text})
    assert (issue.file, issue.line, issue.path) == (UNITS, 4, "parent_code")
    assert issue.message == "unit 'HN.TT' names unknown parent 'HX'"


def test_units_csv_duplicate_code(cfg):
    text = cfg.BASE[UNITS] + "HN,Trùng,,provincial_department,BTP,\n"
    issue = cfg.one_error({UNITS: text})
    assert (issue.file, issue.line, issue.path) == (UNITS, 5, "code")
    assert issue.message == f"duplicate unit code 'HN' (first at {UNITS}:3)"


@pytest.mark.parametrize("header,says", [
    ("code,name,name_en,type,parent_code,valid_from", "unknown column(s) 'name'; missing column(s) 'name_vi'"),
    ("code,name_vi,name_en,kind,parent_code,valid_from", "unknown column(s) 'kind'; missing column(s) 'type'"),
    ("code,name_vi,name_en,type,parent_code,code", "column(s) 'code' given twice"),
])
def test_units_csv_bad_header(cfg, header, says):
    text = header + "\n" + cfg.BASE[UNITS].split("\n", 1)[1]
    issue = cfg.one_error({UNITS: text})
    assert (issue.file, issue.line, issue.column, issue.path) == (UNITS, 1, 1, "")
    assert issue.message.startswith(says)
    assert "expected the header line code,name_vi,name_en,type,parent_code,valid_from" in issue.message


def test_units_csv_unknown_unit_type(cfg):
    text = cfg.edit(UNITS, "legal_aid_centre,HN", "legal_centre,HN")
    issue = cfg.one_error({UNITS: text})
    assert (issue.file, issue.line, issue.path) == (UNITS, 4, "type")
    assert "unknown unit type 'legal_centre' (did you mean 'legal_aid_centre'?)" in issue.message
    assert "expected one of legal_aid_centre, ministry_department, provincial_department" in issue.message


def test_units_csv_row_with_unknown_type_still_parents_its_children(cfg):
    # HN's type is wrong; HN.TT names HN as parent and must not be reported as an orphan too
    text = cfg.edit(UNITS, "HN,Sở Tư pháp Hà Nội,,provincial_department", "HN,Sở Tư pháp Hà Nội,,province")
    issue = cfg.one_error({UNITS: text})
    assert (issue.line, issue.path) == (3, "type")


@pytest.mark.parametrize("old,new,path,says", [
    ("2010-05-01", "2010-13-01", "valid_from", "expected a date as YYYY-MM-DD; found '2010-13-01'"),
    ("2010-05-01", "01/05/2010", "valid_from", "expected a date as YYYY-MM-DD; found '01/05/2010'"),
    ("HN.TT,", "HN TT,", "code", "expected a code of 1 to 40 letters, digits, '_', '.' or '-'; found 'HN TT'"),
    ("HN.TT,Trung tâm TGPL Hà Nội,", "HN.TT,,", "name_vi", "no value for name_vi: every unit needs a code"),
    (",HN,2010-05-01", ",HN,2010-05-01,extra", "", "expected at most 6 values, one per column of the header; found 7"),
])
def test_units_csv_bad_row(cfg, old, new, path, says):
    issue = cfg.one_error({UNITS: cfg.edit(UNITS, old, new)})
    assert (issue.file, issue.line, issue.path) == (UNITS, 4, path)
    assert says in issue.message


def test_units_csv_line_numbers_count_blank_lines_crlf_and_multiline_values(cfg):
    text = ("code,name_vi,name_en,type,parent_code,valid_from\r\n"
            "\r\n"
            "BTP,\"Cục Trợ giúp\r\npháp lý\",,ministry_department,,\r\n"   # one record on lines 3-4
            "HN,Sở,,provincial,BTP,\r\n")                                      # line 5
    issue = cfg.one_error({UNITS: text})
    assert (issue.line, issue.path) == (5, "type")
    text = ("code,name_vi,name_en,type,parent_code,valid_from\n"
            "BTP,\"Cục Trợ giúp\npháp lý\",,ministry,,\n")                     # a bad record on lines 2-3
    issue = cfg.one_error({UNITS: text})
    assert (issue.line, issue.path) == (2, "type")  # where the record starts, not where it ends


def test_units_csv_unclosed_quote(cfg):
    issue = cfg.one_error({UNITS: cfg.BASE[UNITS] + 'ZZ,"Không đóng,legal_aid_centre,HN,\n'})
    assert (issue.file, issue.line, issue.path) == (UNITS, 5, "")
    assert issue.message.startswith("malformed CSV: ")
    assert "(is a quoted value never closed?)" in issue.message


def test_units_csv_empty(cfg):
    issue = cfg.one_error({UNITS: ""})
    assert (issue.file, issue.line) == (UNITS, 1)
    assert issue.message.startswith("file is empty: expected the header line code,name_vi")


def test_units_yaml_file_problems_point_into_that_file(cfg):
    rel = "roles_config/units/more.yaml"
    text = ("units:\n"
            "  - {code: A, name_vi: Một, type: ministry_department}\n"
            "  - {code: B, name_vi: Hai, type: bogus, parent_code: A}\n")
    issue = cfg.one_error({HIERARCHY: cfg.edit(HIERARCHY, "units/units.csv", "units/more.yaml"), rel: text})
    assert (issue.file, issue.line, issue.column, issue.path) == (rel, 3, cfg.col_of(text, "bogus"), "units[1].type")
    assert "unknown unit type 'bogus'" in issue.message


# -- no follow-on noise --------------------------------------------------------------------------------------


def test_broken_entity_file_causes_no_unknown_entity_errors_elsewhere(cfg):
    # The form, workflow, report and role all refer to 'case'; only the syntax error is reported.
    issue = cfg.one_error({ENTITY: cfg.edit(ENTITY, "  code: {type: text,", "  code: {type: text,,")})
    assert issue.file == ENTITY and issue.message.startswith("YAML syntax error")
    issue = cfg.one_error({ENTITY: cfg.edit(ENTITY, "type: integer", "type: integr")})
    assert issue.path == "fields.age.type"


def test_broken_lists_file_causes_no_unknown_list_errors(cfg):
    issue = cfg.one_error({LISTS: cfg.edit(LISTS, "value: TV,", "value: T V,")})
    assert issue.file == LISTS


def test_broken_workflow_file_causes_no_unknown_transition_errors(cfg):
    issue = cfg.one_error({WORKFLOW: cfg.edit(WORKFLOW, "initial: received", "initial: [received]")})
    assert (issue.file, issue.path) == (WORKFLOW, "initial")
    assert issue.message == "expected a string; found a list"


def test_unreadable_file_is_mentioned_when_a_name_cannot_be_resolved(cfg):
    issues = cfg.errors({ENTITY: "- not\n- a mapping\n"})
    assert [(i.file, i.path) for i in issues] == [
        (ENTITY, ""), (FORM, "entity"), (REPORT, "entity"), (WORKFLOW, "entity"), (ROLE, "grants[0].entity")]
    for i in issues[1:]:
        assert f"({ENTITY} could not be loaded and may define it)" in i.message


# -- all problems at once, and no configuration at all -------------------------------------------------------


def test_many_mistakes_in_many_files_are_reported_together(cfg):
    changes = {
        LAWYER: cfg.edit(LAWYER, "table: lawyer_registry\n", "table: lawyer_registry\ncolour: red\n")
                .replace("type: boolean", "type: bool"),                           # 2 schema errors
        ENTITY: cfg.edit(ENTITY, "min: 0, max: 150", "min: 200, max: 150")
                .replace("[unit, received_on]", "[unit, received]"),              # 2 cross-checks
        FORM: cfg.edit(FORM, "citizen_id]", "citizen]"),                          # 1
        WORKFLOW: cfg.edit(WORKFLOW, "initial: received", "initial: new").replace("to: ended", "to: done"),  # 2
        REPORT: cfg.edit(REPORT, "filters: [received_on]", "filters: [received]"),  # 1
        ROLE: cfg.edit(ROLE, "scope: national", "scope: everywhere"),             # 1
        HIERARCHY: cfg.edit(HIERARCHY, "{level: centre,", "{level: center,"),    # 1
        UNITS: cfg.edit(UNITS, ",HN,2010", ",HX,2010"),                           # 1
        MODULES: "modules:\n  legal_aid.hotline: {label: {vi: Tổng đài}\n",      # 1 syntax error
    }
    with pytest.raises(ConfigErrors) as info:
        load_config(cfg.make(changes))
    got = [(i.file, i.path) for i in info.value.issues]
    assert got == [
        (ENTITY, "fields.age.min"),
        (ENTITY, "indexes[0].fields[1]"),
        (LAWYER, "colour"),
        (LAWYER, "fields.active.type"),
        (FORM, "sections[0].fields[1]"),
        (REPORT, "filters[0]"),
        (WORKFLOW, "initial"),
        (WORKFLOW, "transitions.end.to"),
        (HIERARCHY, "unit_types.legal_aid_centre.level"),
        (MODULES, ""),
        (ROLE, "grants[1].scope"),
        (UNITS, "parent_code"),
    ]
    assert str(info.value).startswith("12 configuration errors:\n  ")
    assert len(str(info.value).splitlines()) == 13


# A schema error in one part of a file does not hide the mistakes in its other parts: the parts in error are
# cut out and the rest is checked like any file (what it defines is still not used elsewhere).
SAME_FILE_CASES = [
    (ENTITY, [("type: integer", "type: integr", "fields.age.type"),
              ("entity: lawyer,", "entity: lawyr,", "fields.lawyer.entity")]),
    (ENTITY, [("type: integer", "type: integr", "fields.age.type"),
              ("{unit.code}", "{unit.cod}", "naming.pattern")]),
    (ROLE, [("scope: subtree", "scope: everywhere", "grants[0].scope"),
            ("entity: lawyer", "entity: lawyr", "grants[1].entity")]),
    (ROLE, [("scope: subtree", "scope: everywhere", "grants[0].scope"),
            ("actions: [read]", "actions: [read, transition:nope]", "grants[1].actions[1]")]),
    (FORM, [("- title: {vi: Người yêu cầu}", "- title: 5", "sections[0].title"),
            ("form_of_aid, hearings", "form_of_ad, hearings", "sections[1].fields[1]")]),
    (FORM, [("title: {vi: Người yêu cầu}", "title: {vi: Người yêu cầu, fr: x}", "sections[0].title.fr"),
            ("form_of_aid, hearings", "form_of_ad, hearings", "sections[1].fields[1]")]),
    (WORKFLOW, [("label: {vi: Thụ lý}", "label: Thụ lý", "transitions.accept.label"),
                ("to: ended", "to: done", "transitions.end.to")]),
    (REPORT, [("rows: [form_of_aid]", "rows: [form_of_aid, form_of_aid]", "rows[1]"),
              ("filters: [received_on]", "filters: [received]", "filters[0]")]),
    (LISTS, [("value: TV,", "value: T V,", "lists.form_of_aid.options[1].value"),
             ("- {value: ended, vi: Kết thúc}", "- {value: accepted, vi: Kết thúc}",
              "lists.case_status.options[2].value")]),
    (MODULES, [("label: {vi: Tổng đài}", "label: {vi: Tổng đài, de: x}", "modules.legal_aid.hotline.label.de"),
               ("[HN]", "[HX]", "modules.legal_aid.hotline.enabled_for[0]")]),
]


@pytest.mark.parametrize("rel,edits", SAME_FILE_CASES, ids=lambda v: v if isinstance(v, str) else v[-1][2])
def test_schema_error_does_not_hide_other_mistakes_of_the_same_file(cfg, rel, edits):
    text = cfg.BASE[rel]
    for old, new, _path in edits:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    issues = cfg.errors({rel: text})
    assert [(i.file, i.path) for i in issues] == [(rel, path) for _old, new, path in
                                                  sorted(edits, key=lambda e: cfg.line_of(text, e[1]))]
    for issue, (_old, new, _path) in zip(issues, sorted(edits, key=lambda e: cfg.line_of(text, e[1])), strict=True):
        assert issue.line == cfg.line_of(text, new)


def test_names_cut_out_with_a_schema_error_bring_no_follow_on_noise(cfg):
    # age is cut out with its bad type; the index that names it is not reported as naming an unknown field
    text = cfg.edit(ENTITY, "type: integer", "type: integr").replace("[unit, received_on]", "[unit, age]")
    issue = cfg.one_error({ENTITY: text})
    assert issue.path == "fields.age.type"


def test_a_file_with_schema_errors_still_defines_nothing(cfg):
    # the role's valid grant is checked, but the role is not known to other roles' can_grant
    role = cfg.edit(ROLE, "scope: national", "scope: everywhere")
    other = "role: director\nlabel: {vi: Giám đốc}\ngrants: [{entity: case, actions: [read], scope: unit}]\n" \
            "can_grant: [centre_staff, nobody]\n"
    issues = cfg.errors({ROLE: role, "roles_config/roles/director.yaml": other})
    assert [(i.file, i.path) for i in issues] == [(ROLE, "grants[1].scope"),
                                                  ("roles_config/roles/director.yaml", "can_grant[1]")]


def test_table_chosen_with_table_key_is_blamed_over_a_default_name(cfg):
    # a.yaml is read first but chose the name 'case' by hand; case.yaml only uses its default
    rel = "forms_config/entities/a.yaml"
    issue = cfg.one_error({rel: "entity: a\nlabel: {vi: A}\ntable: case\nfields:\n  x: {type: text, label: {vi: X}}\n"})
    assert (issue.file, issue.line, issue.column, issue.path) == (rel, 3, 8, "table")
    assert issue.message == f"table 'case' is already used by entity 'case' ({ENTITY}:1)"


def test_table_chosen_twice_is_blamed_on_the_later_file(cfg):
    text = cfg.edit(ENTITY, "\nunit_field", "\ntable: lawyer_registry\nunit_field")
    issue = cfg.one_error({ENTITY: text})
    assert (issue.file, issue.path) == (LAWYER, "table")
    line = cfg.line_of(text, "table:")
    assert issue.message == f"table 'lawyer_registry' is already used by entity 'case' ({ENTITY}:{line})"


def test_folder_without_forms_config(tmp_path):
    (tmp_path / "roles_config").mkdir()
    with pytest.raises(ConfigErrors) as info:
        load_config(tmp_path)
    (issue,) = info.value.issues
    assert (issue.file, issue.line, issue.path) == ("forms_config", 1, "")
    assert f"no forms_config/ folder in {str(tmp_path.resolve())!r}" in issue.message
    assert "expected forms_config/ and roles_config/ under the configuration root" in issue.message


def test_configuration_root_that_does_not_exist(tmp_path):
    with pytest.raises(ConfigErrors) as info:
        load_config(tmp_path / "missing")
    (issue,) = info.value.issues
    assert "is not a folder: expected a folder holding forms_config/ and roles_config/" in issue.message
