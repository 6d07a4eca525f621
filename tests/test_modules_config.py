"""roles_config/modules.yaml: every name a module gives must exist, an entity belongs to one module at most, and
problems are reported at the file, line and key where they are written, with a suggestion when one is close."""

from __future__ import annotations

from pathlib import Path

import pytest

from hoso.config import load_config
from tests.config.conftest import ConfigFactory

MODULES = "roles_config/modules.yaml"

FULL = """\
modules:
  legal_aid.hotline:
    label: {vi: Tổng đài, en: Hotline}
    entities: [lawyer]
    forms: [case_intake]
    workflows: [case_lifecycle]
    roles: [centre_staff]
    routes: [/hotline, /api/hotline/]
    menus: [hotline_calls]
    reports: [cases_by_form]
    enabled_for: [HN]
  legal_aid.quality:
    label: {vi: Chất lượng}
    enabled_for: [BTP]
"""


@pytest.fixture
def cfg(tmp_path: Path) -> ConfigFactory:
    return ConfigFactory(tmp_path)


def test_every_key_is_read(cfg):
    config = cfg.load({MODULES: FULL})
    hotline, quality = config.modules
    assert hotline.name == "legal_aid.hotline" and hotline.label.en == "Hotline"
    assert hotline.entities == ("lawyer",)
    assert hotline.forms == ("case_intake",)
    assert hotline.workflows == ("case_lifecycle",)
    assert hotline.roles == ("centre_staff",)
    assert hotline.routes == ("/hotline", "/api/hotline/")
    assert hotline.menus == ("hotline_calls",)
    assert hotline.reports == ("cases_by_form",)
    assert hotline.enabled_for == ("HN",)
    assert (quality.entities, quality.routes, quality.enabled_for) == ((), (), ("BTP",))


@pytest.mark.parametrize("key, wrong, kind, hint", [
    ("entities: [lawyer]", "entities: [lawyr]", "entity", "lawyer"),
    ("forms: [case_intake]", "forms: [case_intak]", "form", "case_intake"),
    ("workflows: [case_lifecycle]", "workflows: [case_lifecycl]", "workflow", "case_lifecycle"),
    ("roles: [centre_staff]", "roles: [centre_staf]", "role", "centre_staff"),
    ("reports: [cases_by_form]", "reports: [cases_by_from]", "report", "cases_by_form"),
])
def test_unknown_name_is_a_located_error_with_a_suggestion(cfg, key, wrong, kind, hint):
    text = FULL.replace(key, wrong)
    issue = cfg.one_error({MODULES: text})
    assert issue.file == MODULES
    assert issue.line == cfg.line_of(text, wrong)
    name = wrong.split("[")[1].rstrip("]")
    assert issue.path == f"modules.legal_aid.hotline.{key.split(':')[0]}[0]"
    assert f"unknown {kind} {name!r}" in issue.message
    assert f"did you mean {hint!r}" in issue.message


def test_an_entity_in_two_modules_is_an_error(cfg):
    text = FULL.replace("    label: {vi: Chất lượng}\n", "    label: {vi: Chất lượng}\n    entities: [lawyer]\n")
    issue = cfg.one_error({MODULES: text})
    assert issue.file == MODULES
    assert issue.line == text.splitlines().index("    entities: [lawyer]", 5) + 1
    assert issue.path == "modules.legal_aid.quality.entities[0]"
    assert "'lawyer' already belongs to module 'legal_aid.hotline'" in issue.message


def test_a_route_is_a_path_prefix(cfg):
    text = FULL.replace("routes: [/hotline, /api/hotline/]", "routes: [hotline]")
    issue = cfg.one_error({MODULES: text})
    assert issue.path == "modules.legal_aid.hotline.routes[0]"
    assert issue.line == cfg.line_of(text, "routes: [hotline]")


def test_an_unknown_unit_is_still_an_error(cfg):
    text = FULL.replace("enabled_for: [HN]", "enabled_for: [HX]")
    issue = cfg.one_error({MODULES: text})
    assert issue.path == "modules.legal_aid.hotline.enabled_for[0]"
    assert "unknown unit 'HX'" in issue.message


def test_the_reference_modules_load():
    config = load_config(Path(__file__).resolve().parent.parent)
    names = {m.name for m in config.modules}
    assert names == {"legal_aid.hotline", "legal_aid.population_lookup", "legal_aid.vneid", "legal_aid.quality"}
    assert all(m.enabled_for for m in config.modules)
