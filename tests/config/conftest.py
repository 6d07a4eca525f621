"""Fixtures for the configuration-validation tests.

``cfg`` (a ConfigFactory) writes a small valid configuration, ``BASE``, into a temporary folder with some
files replaced, added or removed, loads it, and returns the loaded Config or the issues it was refused with.
The base has a lists file, two entities (``case`` with a naming series, a reference, a child table and most
field keys; ``lawyer`` with its own table name), a form, a workflow, a report, a hierarchy with a units CSV,
a role and modules.yaml.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hoso.config import ConfigErrors, ConfigIssue, load_config

ENTITY_CASE = """\
entity: case
label: {vi: Vụ việc, en: Case}
unit_field: unit
title_field: requester_name
naming:
  field: code
  pattern: "{unit.code}.{form_of_aid}.{seq:02}.{year}"
  sequence_per: [unit, year]
  date_field: received_on
fields:
  code: {type: text, label: {vi: Mã vụ việc}, unique: true, max_length: 40}
  requester_name: {type: text, required: true, label: {vi: Người yêu cầu}, min_length: 2, max_length: 200}
  citizen_id: {type: citizen_id, label: {vi: Số CCCD}, pattern: "[0-9]{12}"}
  received_on: {type: date, required: true, label: {vi: Ngày tiếp nhận}, min: "2000-01-01"}
  form_of_aid: {type: choice, list: form_of_aid, required: true, default: TV, label: {vi: Hình thức}}
  beneficiary_groups: {type: multi_choice, list: beneficiary_group, default: [poor], label: {vi: Diện}}
  status: {type: choice, list: case_status, default: received, label: {vi: Trạng thái}}
  fee: {type: decimal, max_digits: 12, decimal_places: 2, min: 0, label: {vi: Phí}}
  age: {type: integer, min: 0, max: 150, label: {vi: Tuổi}, convert: {from: text}}
  unit: {type: org_unit, required: true, label: {vi: Đơn vị}}
  lawyer: {type: reference, entity: lawyer, label: {vi: Luật sư}}
  applicant_phone: {type: phone, renamed_from: requester_phone, label: {vi: Điện thoại}}
  hearings:
    type: child_table
    label: {vi: Phiên tòa}
    fields:
      held_on: {type: date, required: true, label: {vi: Ngày}}
      note: {type: long_text, label: {vi: Ghi chú}}
indexes:
  - {fields: [unit, received_on]}
"""

ENTITY_LAWYER = """\
entity: lawyer
label: {vi: Luật sư, en: Lawyer}
table: lawyer_registry
fields:
  full_name: {type: text, required: true, label: {vi: Họ tên}}
  active: {type: boolean, default: true, label: {vi: Đang hoạt động}}
"""

LISTS = """\
lists:
  form_of_aid:
    label: {vi: Hình thức trợ giúp, en: Form of aid}
    options:
      - {value: TGTT, vi: Tham gia tố tụng, en: Participation in proceedings}
      - {value: TV, vi: Tư vấn pháp luật, en: Legal advice}
  case_status:
    options:
      - {value: received, vi: Đã tiếp nhận}
      - {value: accepted, vi: Đã thụ lý}
      - {value: ended, vi: Kết thúc}
  beneficiary_group:
    options:
      - {value: poor, vi: Người nghèo}
      - {value: child, vi: Trẻ em, retired: true}
"""

FORM = """\
form: case_intake
entity: case
label: {vi: Tiếp nhận yêu cầu}
sections:
  - title: {vi: Người yêu cầu}
    fields: [requester_name, citizen_id]
  - title: {vi: Vụ việc}
    fields: [received_on, form_of_aid, hearings]
"""

WORKFLOW = """\
workflow: case_lifecycle
entity: case
state_field: status
initial: received
states: [received, accepted, ended]
transitions:
  accept: {from: [received], to: accepted, label: {vi: Thụ lý}}
  end: {from: [accepted], to: ended, label: {vi: Kết thúc}, requires: [lawyer]}
"""

REPORT = """\
report: cases_by_form
entity: case
label: {vi: Số vụ việc theo hình thức}
date_field: received_on
parameters: [received_on]
rows: [form_of_aid]
columns:
  - {key: total, measure: count, label: {vi: Tổng số}}
  - {per_option: beneficiary_groups}
"""

HIERARCHY = """\
levels: [ministry, province, centre]
unit_types:
  ministry_department: {level: ministry, label: {vi: Cục}}
  provincial_department: {level: province, label: {vi: Sở Tư pháp}}
  legal_aid_centre: {level: centre, label: {vi: Trung tâm}}
units:
  - file: units/units.csv
"""

UNITS_CSV = """\
code,name_vi,name_en,type,parent_code,valid_from
BTP,Cục Trợ giúp pháp lý,Legal Aid Department,ministry_department,,2000-01-01
HN,Sở Tư pháp Hà Nội,,provincial_department,BTP,
HN.TT,Trung tâm TGPL Hà Nội,,legal_aid_centre,HN,2010-05-01
"""

ROLE = """\
role: centre_staff
label: {vi: Cán bộ Trung tâm}
grants:
  - entity: case
    actions: [read, create, update, transition:accept]
    scope: subtree
    hidden_fields: [fee]
    read_only_fields: [code]
  - entity: lawyer
    actions: [read]
    scope: national
"""

MODULES = """\
modules:
  legal_aid.hotline: {label: {vi: Tổng đài}, enabled_for: [HN]}
"""

BASE: dict[str, str] = {
    "forms_config/lists/common.yaml": LISTS,
    "forms_config/entities/case.yaml": ENTITY_CASE,
    "forms_config/entities/lawyer.yaml": ENTITY_LAWYER,
    "forms_config/forms/case_intake.yaml": FORM,
    "forms_config/workflows/case_lifecycle.yaml": WORKFLOW,
    "forms_config/reports/cases_by_form.yaml": REPORT,
    "roles_config/hierarchy.yaml": HIERARCHY,
    "roles_config/units/units.csv": UNITS_CSV,
    "roles_config/roles/centre_staff.yaml": ROLE,
    "roles_config/modules.yaml": MODULES,
}


class ConfigFactory:
    """Builds configuration folders from ``BASE`` with some files changed, and loads them."""

    BASE = BASE

    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.count = 0

    def make(self, changes: dict[str, str | bytes | None] | None = None) -> Path:
        """Write ``BASE`` updated with ``changes`` into a new folder; a ``None`` value leaves that file out."""
        self.count += 1
        root = self.tmp_path / f"cfg{self.count}"
        files: dict[str, str | bytes | None] = {**BASE, **(changes or {})}
        for rel, content in files.items():
            if content is None:
                continue
            p = root / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                p.write_bytes(content)
            else:
                p.write_text(content, encoding="utf-8")
        return root

    def load(self, changes: dict[str, str | bytes | None] | None = None):
        return load_config(self.make(changes))

    def errors(self, changes: dict[str, str | bytes | None] | None = None) -> list[ConfigIssue]:
        """The issues of a configuration that must be invalid."""
        root = self.make(changes)
        with pytest.raises(ConfigErrors) as info:
            load_config(root)
        issues = info.value.issues
        assert issues, "ConfigErrors without issues"
        assert str(info.value).startswith(f"{len(issues)} configuration error")
        return issues

    def one_error(self, changes: dict[str, str | bytes | None] | None = None) -> ConfigIssue:
        """The single issue of a configuration with exactly one mistake (so no follow-on noise either)."""
        issues = self.errors(changes)
        assert len(issues) == 1, "expected exactly one issue, got:\n" + "\n".join(map(str, issues))
        return issues[0]

    @staticmethod
    def edit(rel: str, old: str, new: str) -> str:
        """``BASE[rel]`` with ``old`` (which must occur exactly once) replaced by ``new``."""
        text = BASE[rel]
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {rel}"
        return text.replace(old, new)

    @staticmethod
    def line_of(text: str, needle: str) -> int:
        """The 1-based number of the one line of ``text`` that contains ``needle``."""
        hits = [i for i, line in enumerate(text.splitlines(), 1) if needle in line]
        assert len(hits) == 1, f"{needle!r} is on lines {hits}"
        return hits[0]

    @classmethod
    def col_of(cls, text: str, needle: str) -> int:
        """The 1-based column where ``needle`` starts on its (one) line of ``text``."""
        line = text.splitlines()[cls.line_of(text, needle) - 1]
        return line.index(needle) + 1


@pytest.fixture
def cfg(tmp_path: Path) -> ConfigFactory:
    return ConfigFactory(tmp_path)


# -- loading in a child process, with memory and time bounded ---------------------------------------------------

# Loads the configuration under argv[1] once per case read from the JSON file argv[2] (each case replaces one file,
# given as text or as latin-1 "bytes", and puts it back afterwards), and prints one JSON line per case as it ends:
# its id, seconds taken, and the issues, or the exception that escaped. Address space is capped at 2 GiB.
_CHILD = r"""
import json, resource, sys, time
from pathlib import Path
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
from hoso.config import ConfigErrors
from tests.helpers import load_full_config
root = Path(sys.argv[1])
for case in json.loads(Path(sys.argv[2]).read_text(encoding="utf-8")):
    target = root / case["file"] if case.get("file") else None
    original = target.read_bytes() if target else None
    if target:
        content = case["text"].encode("utf-8") if "text" in case else case["bytes"].encode("latin-1")
        target.write_bytes(content)
    started = time.perf_counter()
    out = {"id": case["id"]}
    try:
        load_full_config(root)
        out["issues"] = []
    except ConfigErrors as exc:
        out["issues"] = [[i.file, i.line, i.column, i.path, i.message] for i in exc.issues]
    except BaseException as exc:
        out["crash"] = f"{type(exc).__name__}: {exc}"[:2000]
    out["seconds"] = time.perf_counter() - started
    if target:
        target.write_bytes(original)
    print(json.dumps(out), flush=True)
"""


def load_in_child(root: Path, cases: list[dict], timeout: float, plugins: str = "") -> dict:
    """Load ``root`` with each case's file replaced, in a child process (with the plugin modules ``plugins``
    names, as ``HOSO_PLUGINS``); ``{id: result}``.

    Fails the test, naming the case at fault, if the child runs out of time or dies.
    """
    import json
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[2]
    spec = root.parent / f"{root.name}-cases.json"
    spec.write_text(json.dumps(cases), encoding="utf-8")
    import os

    proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(root), str(spec)], cwd=repo,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "HOSO_PLUGINS": plugins})
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
    results = {r["id"]: r for r in map(json.loads, stdout.splitlines())}
    if len(results) < len(cases):
        stuck = cases[len(results)]
        pytest.fail(f"loading did not finish (exit {proc.returncode}) at case {stuck['id']!r} "
                    f"({stuck.get('file')}):\n{stderr[-2000:]}")
    return results


@pytest.fixture
def child_load():
    """``load_in_child``: load configurations in a child process with bounded memory and time."""
    return load_in_child
