"""Trợ giúp pháp lý lưu động / mobile legal aid outreach: a hoso plugin.

hoso loads this module through the ``hoso`` entry point of the distribution (pyproject.toml). Each function
below implements one hook; the definitions (entity, form, workflow, role, module) are YAML files shipped in
``config/``.
"""

from __future__ import annotations

from pathlib import Path

from hoso import hookimpl
from hoso_outreach.guard import check_hold

CONFIG = Path(__file__).resolve().parent / "config"


@hookimpl
def hoso_config_directories():
    return [CONFIG]


@hookimpl
def hoso_transition_guard(entity, workflow, transition, record, values, context):
    return check_hold(entity.name, transition.name, values, context.lang)


@hookimpl
def hoso_routes(runtime):
    from hoso_outreach.web import outreach_summary

    return [outreach_summary]


@hookimpl
def hoso_cli_commands():
    from hoso_outreach.cli import outreach_summary

    return [outreach_summary]
