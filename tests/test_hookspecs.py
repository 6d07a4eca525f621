"""Every hook of the live plugin manager is a documented spec, has a section in docs/hooks.md with its
parameters and an example, and has a test asserting its effect."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

from hoso import hookspecs
from hoso.plugin_manager import get_plugin_manager

REPO = Path(__file__).resolve().parent.parent
DOCS = (REPO / "docs/hooks.md").read_text(encoding="utf-8")
HOOKS = sorted(name for name in vars(get_plugin_manager(load_entrypoints=False).hook) if name.startswith("hoso_"))

# Each hook -> the test that asserts what it does (file::function).
EFFECT_TESTS = {
    "hoso_config_kinds": "tests/config/test_config_kinds.py::test_a_plugin_kind_counts_in_the_definitions_hash",
    "hoso_config_directories": "tests/config/test_config_kinds.py::test_a_plugin_folder_adds_its_entity_and_form",
    "hoso_field_types": "tests/test_plugins.py::test_plugin_field_type_in_yaml_and_its_converter",
    "hoso_converters": "tests/test_plugins.py::test_plugin_field_type_in_yaml_and_its_converter",
    "hoso_actions": "tests/test_hooks_roles.py::test_roles_may_name_plugin_actions_and_scopes_only_with_the_plugin",
    "hoso_scope_rules": "tests/test_hooks_roles.py::test_a_plugin_scope_selects_the_rows_while_the_role_is_held",
    "hoso_system_tables": "tests/test_hooks_surfaces.py::test_system_table_is_planned_created_and_usable",
    "hoso_startup": "tests/test_hooks_surfaces.py::test_startup_hook_runs_when_the_app_starts",
    "hoso_routes": "tests/test_hooks_surfaces.py::test_plugin_route_is_mounted_behind_the_login",
    "hoso_cli_commands": "tests/test_hooks_surfaces.py::test_plugin_command_is_listed_and_runs",
    "hoso_admin_forms": "tests/admin/test_forms.py::test_plugin_forms_download_files",
    "hoso_admin_menu_entries":
        "tests/admin/test_plugin_pages.py::test_plugin_page_is_scoped_and_linked_from_the_sidebar",
    "hoso_admin_pages": "tests/admin/test_plugin_pages.py::test_plugin_page_is_scoped_and_linked_from_the_sidebar",
    "hoso_scheduled_work": "tests/test_hooks_surfaces.py::test_scheduled_work_runs_when_due_and_once_at_a_time",
    "hoso_validate_record": "tests/test_plugins.py::test_plugin_validator_and_audit_writer_run_on_every_write",
    "hoso_transition_guard":
        "tests/records/test_workflow.py::test_plugin_guard_refuses_and_side_effect_runs_in_the_transaction",
    "hoso_write_guard": "tests/reports/test_lock.py::test_a_write_guard_plugin_refuses_every_kind_of_write",
    "hoso_transition_done":
        "tests/records/test_workflow.py::test_plugin_guard_refuses_and_side_effect_runs_in_the_transaction",
    "hoso_record_created":
        "tests/test_hooks_records.py::test_every_write_announces_its_event_in_and_after_the_transaction",
    "hoso_record_changed":
        "tests/test_hooks_records.py::test_every_write_announces_its_event_in_and_after_the_transaction",
    "hoso_record_deleted":
        "tests/test_hooks_records.py::test_every_write_announces_its_event_in_and_after_the_transaction",
    "hoso_record_restored":
        "tests/test_hooks_records.py::test_every_write_announces_its_event_in_and_after_the_transaction",
    "hoso_record_transitioned":
        "tests/test_hooks_records.py::test_every_write_announces_its_event_in_and_after_the_transaction",
    "hoso_after_commit": "tests/test_hooks_records.py::test_a_rolled_back_write_is_never_announced_after_commit",
    "hoso_write_audit": "tests/test_plugins.py::test_plugin_validator_and_audit_writer_run_on_every_write",
    "hoso_attachment_storage": "tests/records/test_attachments.py::test_storage_backend_comes_from_a_plugin",
    "hoso_readiness_checks": "tests/web/test_health.py::test_a_plugin_readiness_check_makes_readyz_fail",
    "hoso_metrics": "tests/web/test_metrics.py::test_plugin_gauges_are_read_at_each_scrape",
    "hoso_job_kinds": "tests/jobs/test_queue.py::test_a_worker_retries_a_flaky_job_until_it_succeeds",
}


def _section(hook: str) -> str:
    match = re.search(rf"^### {hook}\n(.*?)(?=^##|\Z)", DOCS, re.S | re.M)
    assert match, f"docs/hooks.md has no section '### {hook}'"
    return match.group(1)


def test_the_live_manager_has_every_spec():
    specs = {n for n, _ in inspect.getmembers(hookspecs, inspect.isfunction) if n.startswith("hoso_")}
    assert set(HOOKS) == specs and len(HOOKS) >= 23


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_spec_is_documented(hook):
    doc = inspect.getdoc(getattr(hookspecs, hook)) or ""
    assert doc.splitlines()[0].endswith("."), f"{hook}: first line should be a one-line summary"
    assert ":return:" in doc, f"{hook}: document what it returns"
    assert "Example::" in doc, f"{hook}: give an example"
    for param in inspect.signature(getattr(hookspecs, hook)).parameters:
        assert f":param {param}:" in doc, f"{hook}: document parameter {param}"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_docs_section_with_parameters_and_an_example(hook):
    section = _section(hook)
    params = list(inspect.signature(getattr(hookspecs, hook)).parameters)
    assert f"`{hook}({', '.join(params)})`" in section, f"{hook}: the section should show the call"
    if params:
        for param in params:
            assert f"- `{param}`:" in section, f"{hook}: docs/hooks.md does not describe parameter {param}"
    else:
        assert "Parameters: none." in section
    assert "Returns:" in section, f"{hook}: docs/hooks.md does not say what it returns"
    example = re.search(r"```python\n(.*?)```", section, re.S)
    assert example and f"def {hook}(" in example.group(1), f"{hook}: docs/hooks.md has no example implementing it"


def test_docs_describe_no_hook_that_does_not_exist():
    assert sorted(re.findall(r"^### (hoso_\w+)$", DOCS, re.M)) == HOOKS


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_an_effect_test(hook):
    assert hook in EFFECT_TESTS, f"{hook}: name the test asserting its effect in EFFECT_TESTS"
    path, name = EFFECT_TESTS[hook].split("::")
    source = (REPO / path).read_text(encoding="utf-8")
    tree = ast.parse(source)
    funcs = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    assert name in funcs, f"{hook}: {EFFECT_TESTS[hook]} does not exist"
    # The hook is implemented in the test's module or by a test plugin the module imports.
    sources = [source]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tests.plugins"):
            modules = [node.module] if node.module != "tests.plugins" else \
                [f"tests.plugins.{a.name}" for a in node.names]
            sources += [(REPO / (m.replace(".", "/") + ".py")).read_text(encoding="utf-8") for m in modules]
    assert any(f"def {hook}(" in s for s in sources), f"{hook}: {EFFECT_TESTS[hook]} uses no implementation of it"
