"""Bad input of any shape ends in ConfigErrors, never in another exception.

Each base file is damaged in many small ways (a line left out; one value swapped for a value of another
shape) and loaded; anything but a clean load or ConfigErrors fails the test, with the change that caused it.
(Every value is swapped for one other shape, taken in turn, to keep the run short; swapping each for all four
shapes, about 3,000 loads, found nothing more when this was written.)
"""

from __future__ import annotations

import copy

import pytest
import yaml

from core.config import ConfigErrors, ConfigIssue, load_config

FILES = [
    "forms_config/lists/common.yaml",
    "forms_config/entities/case.yaml",
    "forms_config/entities/lawyer.yaml",
    "forms_config/forms/case_intake.yaml",
    "forms_config/workflows/case_lifecycle.yaml",
    "forms_config/reports/cases_by_form.yaml",
    "roles_config/hierarchy.yaml",
    "roles_config/roles/centre_staff.yaml",
    "roles_config/modules.yaml",
]
OTHER_SHAPES = [None, "zz", ["zz"], {"zz": 1}]


def _load(cfg, changes) -> None:
    try:
        load_config(cfg.make(changes))
    except ConfigErrors as exc:
        for issue in exc.issues:
            assert isinstance(issue, ConfigIssue)
            assert issue.line >= 1 and issue.column >= 1 and issue.message
    except Exception as exc:  # noqa: BLE001 - that is the point
        pytest.fail(f"{type(exc).__name__}: {exc}\nchanges: {changes!r}")


def test_files_cover_the_base(cfg):
    assert sorted(FILES + ["roles_config/units/units.csv"]) == sorted(cfg.BASE)


@pytest.mark.parametrize("rel", FILES + ["roles_config/units/units.csv"])
def test_leaving_out_any_line(cfg, rel):
    lines = cfg.BASE[rel].splitlines(keepends=True)
    for i in range(len(lines)):
        _load(cfg, {rel: "".join(lines[:i] + lines[i + 1:])})


def _paths(node, path=()):
    yield path
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, path + (i,))


@pytest.mark.parametrize("rel", FILES)
def test_any_value_of_another_shape(cfg, rel):
    data = yaml.safe_load(cfg.BASE[rel])
    for i, path in enumerate(list(_paths(data))[1:]):
        for value in [OTHER_SHAPES[i % len(OTHER_SHAPES)]]:
            changed = copy.deepcopy(data)
            node = changed
            for k in path[:-1]:
                node = node[k]
            node[path[-1]] = value
            _load(cfg, {rel: yaml.safe_dump(changed, allow_unicode=True, sort_keys=False)})


@pytest.mark.parametrize("text", [
    "a: &x [*x]\n",                      # an alias inside itself
    "a: &x {b: *x}\n",
    "? [a, b]\n: c\n",                   # a key that is not a scalar
    "~: c\n",                            # a null key
    "a: !!binary aGVsbG8=\n",            # a tag that builds bytes
    "a: !!set {x, y}\n",
    "a: 1e400\nb: .nan\n",
    "\ufeffform: x\n",                   # a byte-order mark
    "form: x\x00\n",                     # a NUL character
    "{" * 200 + "}" * 200,               # deep nesting
])
def test_odd_yaml(cfg, text):
    _load(cfg, {"forms_config/forms/odd.yaml": text, "forms_config/entities/odd.yaml": text})


@pytest.mark.parametrize("text", [
    "code,name_vi,type\n\x00,x,y\n",
    "code,name_vi,type\n\"a\"b,x,ministry_department\n",
    "code,name_vi,type\r\nA,x,ministry_department\rB,y,ministry_department\n",
    "\ufeffcode,name_vi,type\nA,x,ministry_department\n",
    "code,name_vi,type\n" + "A," * 1000 + "\n",
    ",,,\n",
    "code\n",
])
def test_odd_units_csv(cfg, text):
    _load(cfg, {"roles_config/units/units.csv": text})
