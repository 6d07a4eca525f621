"""Report templates: what loads (per_option columns, groups, dimensions) and what is refused, with the file,
line and key of each mistake; and the reference deployment's reports."""

from __future__ import annotations

from pathlib import Path

import pytest

from hoso.config import ConfigErrors, load_config
from hoso.config.types import Label
from tests.reports.conftest import REPORTS, write_config

REPO = Path(__file__).resolve().parents[2]
PEOPLE = "forms_config/reports/people.yaml"


def test_the_template_expands_groups_and_per_option_columns(tmp_path):
    config = write_config(tmp_path)
    people = next(r for r in config.reports if r.name == "people")
    assert [d.key for d in people.rows] == ["field_of_law", "form_of_aid"]
    assert [c.key for c in people.columns] == ["total", "men", "women", "groups:TE", "groups:HN", "groups:KKTC_LS"]
    men = people.column("men")
    assert men.groups == (Label("Giới tính", "Gender"),) and men.where == 'gender == "male"'
    te = people.column("groups:TE")
    assert te.where == '"TE" in groups' and te.label == Label("Trẻ em", "Children") and te.groups == (
        Label("Diện", "Groups"),)
    assert people.filter == 'status != "refused"' and people.parameters == ("form_of_aid", "urgent")
    assert people.subtotals and people.totals
    monthly = next(r for r in config.reports if r.name == "monthly")
    assert [d.key for d in monthly.rows] == ["period:month", "field_of_law"]
    by_unit = next(r for r in config.reports if r.name == "by_unit")
    assert by_unit.rows[0].kind == "unit" and by_unit.rows[0].level is None
    assert by_unit.column("status:refused").people is False


BAD = [
    # (what, text replaced, replacement, line (None: the line of the replacement), key path, words of the message)
    ("unknown key", "subtotals: true", "subtotal: true", None, "subtotal", ["unknown key 'subtotal'", "subtotals"]),
    ("unknown row field", "rows: [field_of_law, form_of_aid]", "rows: [field_of_law, form_of_aids]", None, "rows[1]",
     ["unknown field 'form_of_aids'", "did you mean 'form_of_aid'"]),
    ("bad filter", 'filter: status != "refused"', 'filter: status != "refsed"', None, "filter",
     ["'refsed' is not an option of field 'status'"]),
    ("bad where", 'where: gender == "male"', 'where: gender = "male"', None, "columns[1].columns[0].where",
     ["invalid condition"]),
    ("unknown parameter", "parameters: [form_of_aid, urgent]", "parameters: [form_of_aid, urgnt]", None,
     "parameters[1]", ["unknown field 'urgnt'"]),
    ("unknown measure", "{key: total, measure: count,", "{key: total, measure: counts,", None, "columns[0].measure",
     ["expected one of", "'counts'"]),
    ("per_option on a number", "- {per_option: groups}", "- {per_option: age}", None, "columns[2].per_option",
     ["per_option needs a choice field"]),
    ("sum of text", "- {per_option: groups}", "- {key: s, measure: sum, field: code, label: {vi: x}}", None,
     "columns[2].field", ["measure 'sum' does not apply to 'code'"]),
    ("count with a field", "- {per_option: groups}", "- {key: s, measure: count, field: code, label: {vi: x}}", None,
     "columns[2].field", ["takes no field"]),
    ("duplicate key", "- {per_option: groups}", "- {key: men, measure: count, label: {vi: x}}", 1, "columns",
     ["column key 'men' is used more than once"]),
    ("rows by a multiple choice", "rows: [field_of_law, form_of_aid]", "rows: [groups]", None, "rows[0]",
     ["per_option"]),
    ("period without a date field", "date_field: received_on\n", "", None, "rows[0]", ["date_field"]),
    ("unknown level", "rows: [field_of_law, form_of_aid]", "rows: [{unit: galaxy}]", None, "rows[0].unit",
     ["unknown hierarchy level 'galaxy'"]),
    ("period of an unknown kind", "rows: [field_of_law, form_of_aid]", "rows: [{period: week}]", None,
     "rows[0].period", ["expected one of", "'week'"]),
    ("no columns", "columns:\n", "columns: []\nx:\n", 8, "columns", ["at least 1"]),
]


@pytest.mark.parametrize("what,old,new,line,path,words", BAD, ids=[b[0] for b in BAD])
def test_a_bad_template_is_refused_at_its_file_and_line(tmp_path, what, old, new, line, path, words):
    write_config(tmp_path)
    target = tmp_path / PEOPLE
    text = REPORTS["people"].lstrip("\n")
    if what == "period without a date field":
        text = text.replace("rows: [field_of_law, form_of_aid]", "rows: [{period: month}]")
    assert old in text, old
    changed = text.replace(old, new, 1)
    target.write_text(changed, encoding="utf-8")
    if line is None:
        anchor = "rows:" if what == "period without a date field" else new
        line = changed[:changed.index(anchor)].count("\n") + 1
    with pytest.raises(ConfigErrors) as exc:
        load_config(tmp_path)
    issues = [i for i in exc.value.issues if i.file == PEOPLE]
    assert issues, exc.value.render()
    found = [i for i in issues if i.path == path]
    assert found, [(i.line, i.path, i.message) for i in issues]
    issue = found[0]
    if what not in ("duplicate key", "no columns"):
        assert issue.line == line, (issue.line, issue.message)
    for w in words:
        assert w in issue.message, issue.message


def test_the_reference_reports_are_the_real_ones():
    config = load_config(REPO)
    reports = {r.name: r for r in config.reports}
    assert set(reports) == {"people_assisted", "cases_by_unit", "litigation_cases", "performer_quotas"}
    b24 = reports["people_assisted"]
    assert [d.key for d in b24.rows] == ["field_of_law", "form_of_aid"]
    groups = next(x for x in config.lists if x.name == "beneficiary_group").values()
    keys = [c.key for c in b24.columns]
    assert keys == ["total", "men", "women", *[f"beneficiary_groups:{g}" for g in groups]] and len(groups) == 14
    bulletin = reports["litigation_cases"]
    assert [c.key for c in bulletin.columns] == ["accepted", "ended", "defence", "protection", "successful"]
    assert bulletin.rows[0].key == "period:month"
    quotas = reports["performer_quotas"]
    assert quotas.column("target").field == "performer.yearly_target"
    assert config.entity("performer").has_field("yearly_target")
    assert reports["cases_by_unit"].rows[0].kind == "unit"
