"""Field names that the system uses for its own columns are refused, at the key's own line."""

from __future__ import annotations

import pytest

from hoso.config import ConfigErrors


@pytest.mark.parametrize("name", ["id", "sys_version", "sys_anything"])
def test_reserved_field_names(config_dir, name):
    config_dir.write("forms_config/entities/thing.yaml", f"""
        entity: thing
        label: {{vi: Vật}}
        fields:
          title: {{type: text, label: {{vi: Tên}}}}
          {name}: {{type: text, label: {{vi: X}}}}
        """)
    with pytest.raises(ConfigErrors) as exc:
        config_dir.load()
    [issue] = exc.value.issues
    assert (issue.file, issue.line, issue.path) == ("forms_config/entities/thing.yaml", 5, f"fields.{name}")
    assert "reserved for the system" in issue.message


@pytest.mark.parametrize("name", ["parent_id", "position"])
def test_reserved_child_row_names(config_dir, name):
    config_dir.write("forms_config/entities/thing.yaml", f"""
        entity: thing
        label: {{vi: Vật}}
        fields:
          rows:
            type: child_table
            label: {{vi: Dòng}}
            fields:
              {name}: {{type: integer, label: {{vi: X}}}}
        """)
    with pytest.raises(ConfigErrors) as exc:
        config_dir.load()
    [issue] = exc.value.issues
    assert (issue.line, issue.path) == (8, f"fields.rows.fields.{name}")
