"""The admin menus file ``forms_config/admin.yaml`` is a configuration kind: registered by a built-in plugin,
reported by ``hoso check`` with file:line:column, left out of the definitions hash, and reloaded live."""

from __future__ import annotations

import os
import shutil

from click.testing import CliRunner

from hoso.admin.config import KIND, AdminConfig, load_admin_config
from hoso.cli import main
from hoso.config import load_config
from hoso.fields import Registry
from hoso.plugin_manager import get_plugin_manager
from tests.admin.conftest import AdminClient, serving

BROKEN = """
    menu:
      - group: {vi: Hồ sơ}
        entities: [case, cse]
    entities:
      case:
        form: case_fle
        list_columns: [code, cod]
        colour: red
"""


def hoso_cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args], env={"HOSO_DATABASE_URL": None, "HOSO_CONFIG": None})


def test_the_admin_kind_is_registered_by_a_builtin_plugin(config_dir):
    registry = Registry(get_plugin_manager(load_entrypoints=False))
    assert KIND in registry.config_kinds and not KIND.hashed
    config_dir.write("forms_config/admin.yaml", "site_name: {vi: Quản trị, en: Admin}\n")
    admin = load_config(config_dir.root, **registry.config_options()).kind("admin")
    assert isinstance(admin, AdminConfig) and admin.site_name.vi == "Quản trị"


def test_hoso_check_reports_admin_yaml_errors_with_file_line_and_column(config_dir):
    config_dir.write("forms_config/forms/case_file.yaml", """
        form: case_file
        entity: case
        label: {vi: Hồ sơ, en: Case file}
        sections:
          - title: {vi: Chung}
            fields: [code]
    """)
    assert hoso_cli("check", "--config", config_dir.root).exit_code == 0
    config_dir.write("forms_config/admin.yaml", BROKEN)
    result = hoso_cli("check", "--config", config_dir.root)
    assert result.exit_code == 2
    words = " ".join(result.output.split())  # the console wraps long lines: compare the words
    for line in (("forms_config/admin.yaml:3:22: menu[0].entities[1]: there is no entity 'cse' "
                  "(did you mean 'case'?)"),
                 ("forms_config/admin.yaml:6:11: entities.case.form: entity 'case' has no form 'case_fle' "
                  "(did you mean 'case_file'?)"),
                 ("forms_config/admin.yaml:7:26: entities.case.list_columns[1]: entity 'case' has no field 'cod' "
                  "to list (did you mean 'code'?)"),
                 "forms_config/admin.yaml:8:5: entities.case.colour: unknown key 'colour'"):
        assert line in words, words


def test_the_admin_file_is_outside_the_definitions_hash(config_dir):
    options = {"kinds": [KIND]}
    without = load_config(config_dir.root, **options).content_hash
    config_dir.write("forms_config/admin.yaml", "menu:\n  - group: {vi: Hồ sơ}\n    entities: [case]\n")
    assert load_config(config_dir.root, **options).content_hash == without


def test_load_admin_config_gives_did_you_mean_hints_with_dotted_paths(config_dir):
    config_dir.write("forms_config/admin.yaml", BROKEN.replace("colour: red", ""))
    try:
        load_admin_config(config_dir.load())
    except Exception as exc:  # noqa: BLE001 - the issues are what is checked
        issues = {(i.line, i.path): i.message for i in exc.issues}
    else:
        raise AssertionError("an admin.yaml naming unknown entities was accepted")
    assert issues[(3, "menu.0.entities.1")] == "there is no entity 'cse' (did you mean 'case'?)"
    assert issues[(7, "entities.case.list_columns.1")] == ("entity 'case' has no field 'cod' to list "
                                                           "(did you mean 'code'?)")


async def test_the_admin_reloads_admin_yaml_when_it_changes(prepared, admin_db, tmp_path, monkeypatch):
    monkeypatch.setenv("HOSO_ADMIN_RELOAD_SECONDS", "0")
    root = tmp_path / "config"
    shutil.copytree(prepared.root, root)
    async with serving(root, admin_db) as web:
        admin = AdminClient(web, prepared.seed)
        await admin.login("quan.tri")
        assert (await admin.client.get("/admin/public/meta/")).json()["site_name"] == "Quản trị hồ sơ trợ giúp pháp lý"
        path = root / "forms_config" / "admin.yaml"
        path.write_text(path.read_text(encoding="utf-8").replace(
            "site_name: {vi: Quản trị hồ sơ trợ giúp pháp lý", "site_name: {vi: Quản trị mới"), encoding="utf-8")
        later = path.stat().st_mtime + 5  # a coarse file-system clock must still see a change
        os.utime(path, (later, later))
        assert (await admin.client.get("/admin/public/meta/")).json()["site_name"] == "Quản trị mới"
        assert web.app.state.admin.build.admin.site_name.vi == "Quản trị mới"
