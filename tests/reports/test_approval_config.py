"""roles_config/approvals.yaml: levels up the hierarchy, the locking level and the period fields, checked with
file:line errors like every other configuration kind."""

from __future__ import annotations

import pytest

from hoso.config import ConfigErrors
from hoso.runtime import Runtime
from tests.reports.approval_setup import write_config


def test_the_approval_levels_are_read_in_order_with_the_locking_level(config_dir, tmp_path):
    write_config(config_dir)
    cfg = Runtime.create(str(config_dir.root), f"sqlite:///{tmp_path / 'x.db'}").config.kind("approvals")
    assert [lv.level for lv in cfg.levels] == ["centre", "province", "ministry"]
    assert {lv.action for lv in cfg.levels} == {"approve_reports"}
    assert cfg.lock_at == 1 and cfg.period_fields == {"case": "received_on"}
    config_dir.write("roles_config/approvals.yaml", "levels: [{level: centre}, {level: province}]\n")
    cfg = Runtime.create(str(config_dir.root), f"sqlite:///{tmp_path / 'x.db'}").config.kind("approvals")
    assert cfg.lock_at == 1 and cfg.period_fields == {}  # the last level locks by default
    config_dir.remove("roles_config/approvals.yaml")
    assert Runtime.create(str(config_dir.root), f"sqlite:///{tmp_path / 'x.db'}").config.kind("approvals") is None


@pytest.mark.parametrize("text, expected", [
    ("levels: [{level: centre}, {level: planet}]\n", "approvals.yaml:1:35: levels[1].level: unknown level 'planet'"),
    ("levels: [{level: province}, {level: centre}]\n", "level 'centre' must be above 'province'"),
    ("levels: [{level: centre}, {level: centre}]\n", "level 'centre' is listed twice"),
    ("levels: [{level: centre}, {level: province}]\nlock_at: centre\n",
     "lock_at 'centre' must be one of the approving levels: province"),
    ("levels: [{level: centre}, {level: province}]\nperiod_fields: {case: requester}\n",
     "case.requester is not a date field of the entity"),
    ("levels: [{level: centre}, {level: province}]\nperiod_fields: {cat: born_on}\n", "unknown entity 'cat'"),
    ("levels: [{level: centre}]\n", "levels"),
    ("levels: [{level: centre}, {level: province}]\ncolour: red\n", "colour"),
])
def test_a_wrong_approvals_file_is_refused_naming_the_place(config_dir, tmp_path, text, expected):
    write_config(config_dir)
    config_dir.write("roles_config/approvals.yaml", text)
    with pytest.raises(ConfigErrors) as exc:
        Runtime.create(str(config_dir.root), f"sqlite:///{tmp_path / 'x.db'}")
    assert expected in str(exc.value) and "roles_config/approvals.yaml" in str(exc.value)
