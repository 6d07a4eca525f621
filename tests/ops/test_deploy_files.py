"""The deployment files in docs/deploy name only settings hoso declares, the compose file has every piece the
operations page describes, and the systemd units run the commands hoso has."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from hoso.settings import SETTINGS

DEPLOY = Path(__file__).resolve().parents[2] / "docs/deploy"


def test_every_hoso_setting_named_in_the_deployment_files_exists():
    named = set()
    for path in DEPLOY.iterdir():
        named |= set(re.findall(r"\bHOSO_[A-Z_]+[A-Z]\b", path.read_text(encoding="utf-8")))
    # HOSO_PUBLIC_HOST is the compose file's own variable, passed to Caddy and to HOSO_*_HOSTS
    unknown = sorted(n for n in named - {"HOSO_PUBLIC_HOST"} if n not in SETTINGS)
    assert unknown == []
    assert {"HOSO_TRUSTED_PROXIES", "HOSO_SERVED_HOSTS", "HOSO_METRICS_TOKEN", "HOSO_LOG_FORMAT"} <= named


def test_the_compose_file_runs_postgres_migrate_web_workers_and_a_tls_proxy():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert set(services) == {"postgres", "migrate", "web", "worker", "proxy"}
    assert services["web"]["deploy"]["replicas"] >= 2
    assert services["worker"]["command"] == ["hoso", "worker"]
    assert services["web"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert "443:443" in services["proxy"]["ports"]
    env = services["web"]["environment"]
    assert env["HOSO_LOG_FORMAT"] == "json" and env["HOSO_TRUSTED_PROXIES"] == \
        compose["networks"]["hoso"]["ipam"]["config"][0]["subnet"]


def test_the_systemd_units_run_hoso_commands():
    from hoso.cli import main

    for unit in ("hoso-web@.service", "hoso-migrate.service"):
        text = (DEPLOY / unit).read_text(encoding="utf-8")
        command = re.search(r"^ExecStart=\S+/hoso (\S+)", text, re.M)
        assert command and command.group(1) in main.commands, unit
    assert "hoso worker" in (DEPLOY / "hoso-worker@.service").read_text(encoding="utf-8")
