"""Configuration kinds as plugins, and configuration folders shipped by plugins.

A plugin's kind (the test plugin's postcode areas, ``forms_config/postcode_areas/*.yaml``) gets file:line:column
errors, cross-checks, ``hoso check`` and the definitions hash without code of its own; a plugin's folder of
entities and forms is merged with the deployment's, and its errors name the plugin's file.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import hoso.plugin_manager
import hoso.runtime
from hoso.cli import main
from hoso.config import ConfigErrors, ConfigKind, load_config
from hoso.config.kinds import BUILTIN_KINDS, KINDS
from hoso.fields import Registry, RegistryError
from hoso.hookspecs import hookimpl
from hoso.plugin_manager import get_plugin_manager
from tests.plugins import postcode
from tests.plugins.postcode import POSTCODE_AREAS

AREA = """\
area: hanoi_centre
label: {vi: Trung tâm Hà Nội, en: Hanoi centre}
postcodes: ["100000", "100100"]
entity: case
"""
AREA_FILE = "forms_config/postcode_areas/hanoi.yaml"

PERSON = """\
entity: person
label: {vi: Người, en: Person}
fields:
  name: {type: text, required: true, label: {vi: Tên}}
  phone: {type: phone, label: {vi: Điện thoại}}
"""
PERSON_FORM = """\
form: person_card
entity: person
label: {vi: Thẻ người}
sections:
  - title: {vi: Người}
    fields: [name, phone]
"""


def issues_of(root: Path, **kwargs) -> list[tuple[str, int, int, str, str]]:
    with pytest.raises(ConfigErrors) as info:
        load_config(root, **kwargs)
    return [(i.file, i.line, i.column, i.path, i.message) for i in info.value.issues]


# -- the kinds ---------------------------------------------------------------------------------------------


def test_every_builtin_kind_is_registered_through_the_hook():
    registry = Registry(get_plugin_manager(load_entrypoints=False))
    names = [k.name for k in registry.config_kinds]
    # the report approvals (roles_config/approvals.yaml) and the admin's kind (admin.yaml) are registered by
    # built-in plugins of the layers above the configuration, after the core ones
    assert names == [k.name for k in BUILTIN_KINDS] + ["approvals", "admin"]
    assert set(names) == {"lists", "entity", "form", "workflow", "report", "hierarchy", "role", "modules",
                          "calendar", "approvals", "admin"}
    assert KINDS["entity"].location == "forms_config/entities" and KINDS["entity"].many
    assert KINDS["modules"].location == "roles_config/modules.yaml" and not KINDS["modules"].many


def test_a_plugin_kind_is_read_and_built(cfg):
    config = load_config(cfg.make({AREA_FILE: AREA}), kinds=[POSTCODE_AREAS])
    label, codes = config.kind("postcode_area")["hanoi_centre"]
    assert (label.vi, label.en, codes) == ("Trung tâm Hà Nội", "Hanoi centre", ("100000", "100100"))
    with pytest.raises(KeyError, match="no configuration kind 'notice'"):
        config.kind("notice")


def test_a_plugin_kind_without_files_builds_nothing(cfg):
    assert load_config(cfg.make(), kinds=[POSTCODE_AREAS]).kind("postcode_area") == {}


def test_schema_errors_of_a_plugin_kind_name_file_line_column_and_key(cfg):
    bad = AREA.replace('postcodes: ["100000", "100100"]', 'postcode: ["100000"]')
    assert issues_of(cfg.make({AREA_FILE: bad}), kinds=[POSTCODE_AREAS]) == [
        (AREA_FILE, 1, 1, "", "missing required key 'postcodes'"),
        (AREA_FILE, 3, 1, "postcode", "unknown key 'postcode' (did you mean 'postcodes'?); expected one of: area, "
                                      "entity, label, postcodes"),
    ]


def test_build_errors_of_a_plugin_kind_point_at_the_value(cfg):
    bad = AREA.replace('"100100"', '"10010"')
    assert issues_of(cfg.make({AREA_FILE: bad}), kinds=[POSTCODE_AREAS]) == [
        (AREA_FILE, 3, 23, "postcodes[1]", "expected a 6-digit postcode; found '10010'"),
    ]


def test_cross_checks_of_a_plugin_kind_see_the_other_kinds(cfg):
    bad = AREA.replace("entity: case", "entity: casse")
    assert issues_of(cfg.make({AREA_FILE: bad}), kinds=[POSTCODE_AREAS]) == [
        (AREA_FILE, 4, 9, "entity", "unknown entity 'casse' (did you mean 'case'?); defined entities: case, lawyer"),
    ]


def test_a_name_defined_twice_by_a_plugin_kind_names_the_first_file(cfg):
    root = cfg.make({AREA_FILE: AREA, "forms_config/postcode_areas/zz.yaml": AREA})
    assert issues_of(root, kinds=[POSTCODE_AREAS]) == [
        ("forms_config/postcode_areas/zz.yaml", 1, 7, "area", f"area 'hanoi_centre' is already defined in {AREA_FILE}"),
    ]


def test_an_empty_file_of_a_plugin_kind_says_what_was_expected(cfg):
    assert issues_of(cfg.make({AREA_FILE: ""}), kinds=[POSTCODE_AREAS]) == [
        (AREA_FILE, 1, 1, "", "file is empty: expected a postcode area definition"),
    ]


def test_a_plugin_kind_counts_in_the_definitions_hash(cfg):
    def digest(changes):
        return load_config(cfg.make(changes), kinds=[POSTCODE_AREAS]).content_hash

    base, with_area = digest({}), digest({AREA_FILE: AREA})
    changed = digest({AREA_FILE: AREA.replace('"100100"', '"100200"')})
    assert len({base, with_area, changed}) == 3
    assert digest({AREA_FILE: AREA}) == with_area, "the same files give the same hash"


def test_a_kind_outside_the_hash_does_not_change_it(cfg):
    unhashed = ConfigKind("postcode_area", POSTCODE_AREAS.location, POSTCODE_AREAS.schema, POSTCODE_AREAS.build,
                          hashed=False)
    assert (load_config(cfg.make({AREA_FILE: AREA}), kinds=[unhashed]).content_hash
            == load_config(cfg.make(), kinds=[unhashed]).content_hash)


def test_a_kind_provided_by_two_plugins_stops_startup():
    class Clash:
        @hookimpl
        def hoso_config_kinds(self):
            return [ConfigKind("postcode_area", "forms_config/areas", {}, lambda ctx, files: None)]

    with pytest.raises(RegistryError, match="configuration kind 'postcode_area' is provided by both"):
        Registry(get_plugin_manager([postcode, Clash()], load_entrypoints=False))


def test_a_kind_replacing_a_builtin_one_or_waiting_for_a_missing_one_is_refused(cfg):
    root = cfg.make()
    clash = ConfigKind("entity", "forms_config/things", {}, lambda ctx, files: None)
    assert issues_of(root, kinds=[clash]) == [
        (".", 1, 1, "", "configuration kind 'entity' is declared twice (at forms_config/entities and "
                        "forms_config/things)")]
    waiting = ConfigKind("notice", "forms_config/notices", {}, lambda ctx, files: None, after=("calendars",))
    assert issues_of(root, kinds=[waiting]) == [
        (".", 1, 1, "", "configuration kind 'notice' needs kind 'calendars', which no plugin provides")]


# -- through the command line and the runtime ----------------------------------------------------------------


@pytest.fixture
def with_postcode(monkeypatch):
    """Every plugin manager the command line makes has the test plugin registered."""
    made = hoso.plugin_manager.get_plugin_manager

    def with_plugin(extra=(), **kwargs):
        return made([postcode, *extra], load_entrypoints=False)

    monkeypatch.setattr(hoso.plugin_manager, "get_plugin_manager", with_plugin)
    monkeypatch.setattr(hoso.runtime, "get_plugin_manager", with_plugin)
    monkeypatch.setattr(postcode, "CONFIG_DIRECTORIES", [])
    return postcode


def hoso_cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args], env={"HOSO_DATABASE_URL": None, "HOSO_CONFIG": None})


def test_hoso_check_reports_a_plugin_kind_with_file_and_line(cfg, with_postcode):
    root = cfg.make({AREA_FILE: AREA.replace('"100100"', '"1001"')})
    result = hoso_cli("check", "--config", root)
    assert result.exit_code == 2
    # the console wraps long lines: compare the words
    assert (f"{AREA_FILE}:3:23: postcodes[1]: expected a 6-digit postcode; found '1001'"
            in " ".join(result.output.split()))
    root = cfg.make({AREA_FILE: AREA})
    assert hoso_cli("check", "--config", root).exit_code == 0


# -- configuration folders shipped by plugins ---------------------------------------------------------------------


def plugin_folder(tmp_path: Path, name: str = "shipped", entity: str = PERSON) -> Path:
    folder = tmp_path / name
    (folder / "forms_config/entities").mkdir(parents=True)
    (folder / "forms_config/forms").mkdir(parents=True)
    (folder / "forms_config/entities/person.yaml").write_text(entity, encoding="utf-8")
    (folder / "forms_config/forms/person_card.yaml").write_text(PERSON_FORM, encoding="utf-8")
    return folder


def test_a_plugin_folder_adds_its_entity_and_form(cfg, tmp_path):
    folder = plugin_folder(tmp_path)
    config = load_config(cfg.make(), directories=[("postcode", folder)])
    assert config.entity("person").source == str(folder.resolve() / "forms_config/entities/person.yaml")
    assert config.form("person_card").entity == "person"
    assert {e.name for e in config.entities} == {"case", "lawyer", "person"}


def test_errors_in_a_plugin_folder_name_the_plugin_file(cfg, tmp_path):
    folder = plugin_folder(tmp_path, entity=PERSON.replace("type: phone", "type: phon"))
    [(file, line, column, path, message)] = issues_of(cfg.make(), directories=[("postcode", folder)])
    assert (file, line, column, path) == (str(folder.resolve() / "forms_config/entities/person.yaml"), 5, 17,
                                          "fields.phone.type")
    assert message.startswith("expected one of ") and message.endswith("found 'phon' (did you mean 'phone'?)")


def test_a_name_defined_by_the_deployment_and_a_plugin_names_both_files(cfg, tmp_path):
    folder = plugin_folder(tmp_path, entity=PERSON.replace("entity: person", "entity: lawyer"))
    shipped = str(folder.resolve() / "forms_config/entities/person.yaml")
    issues = issues_of(cfg.make(), directories=[("postcode", folder)])
    assert (shipped, 1, 9, "entity", "entity 'lawyer' is already defined in forms_config/entities/lawyer.yaml") \
        in issues


def test_where_a_plugin_is_installed_does_not_change_the_hash(cfg, tmp_path):
    root = cfg.make()
    one = plugin_folder(tmp_path, "one")
    two = tmp_path / "elsewhere" / "two"
    shutil.copytree(one, two)
    first = load_config(root, directories=[("postcode", one)]).content_hash
    assert load_config(root, directories=[("postcode", two)]).content_hash == first
    assert load_config(root).content_hash != first


def test_a_plugin_folder_reaches_check_and_plan(cfg, tmp_path, with_postcode):
    with_postcode.CONFIG_DIRECTORIES.append(plugin_folder(tmp_path))
    root = cfg.make()
    result = hoso_cli("check", "--config", root)
    assert result.exit_code == 0, result.output
    assert "3 entities" in result.output
    result = hoso_cli("plan", "--config", root, "--database", f"sqlite:///{tmp_path / 'plan.db'}")
    assert result.exit_code == 0, result.output
    assert "create table 'person'" in result.output
    registry = Registry(hoso.plugin_manager.get_plugin_manager())
    assert registry.config_directories == [("tests.plugins.postcode", str(tmp_path / "shipped"))]


def test_hoso_plan_names_a_changed_plugin_kind_file_and_migrate_records_it(cfg, tmp_path, with_postcode):
    root = cfg.make({AREA_FILE: AREA})
    db = ["--database", f"sqlite:///{tmp_path / 'kinds.db'}"]
    assert hoso_cli("migrate", "--yes", "--config", root, *db).exit_code == 0
    assert "No changes: the database matches" in hoso_cli("plan", "--config", root, *db).output
    (root / AREA_FILE).write_text(AREA.replace('"100100"', '"100200"'), encoding="utf-8")
    result = hoso_cli("plan", "--config", root, *db)
    assert result.exit_code == 0, result.output
    assert f"{AREA_FILE} (changed)" in result.output and "No changes to the database" in result.output
    result = hoso_cli("migrate", "--yes", "--config", root, *db)
    assert result.exit_code == 0 and "Recorded 1 changed definition file(s)" in result.output, result.output
    assert "No changes: the database matches" in hoso_cli("plan", "--config", root, *db).output


def module_folder(tmp_path: Path, name: str, text: str) -> Path:
    folder = tmp_path / name
    (folder / "roles_config").mkdir(parents=True)
    (folder / "roles_config/modules.yaml").write_text(text, encoding="utf-8")
    return folder


OUTREACH = "modules:\n  outreach.sessions: {label: {vi: Lưu động}, routes: [/outreach], enabled_for: [HN]}\n"


def test_a_plugin_ships_its_modules_and_the_deployment_decides_where_they_are_on(cfg, tmp_path):
    shipped = module_folder(tmp_path, "outreach", OUTREACH)
    config = load_config(cfg.make(), directories=[("outreach", shipped)])
    modules = {m.name: m for m in config.modules}
    assert modules["outreach.sessions"].enabled_for == ("HN",) and modules["outreach.sessions"].routes == ("/outreach",)
    assert "legal_aid.hotline" in modules
    # the deployment names the plugin's module again: the keys it gives replace the plugin's
    own = cfg.BASE["roles_config/modules.yaml"] + "  outreach.sessions: {label: {vi: Lưu động}, enabled_for: []}\n"
    config = load_config(cfg.make({"roles_config/modules.yaml": own}), directories=[("outreach", shipped)])
    modules = {m.name: m for m in config.modules}
    assert modules["outreach.sessions"].enabled_for == () and modules["outreach.sessions"].routes == ("/outreach",)


def test_a_module_two_plugins_declare_names_both_files(cfg, tmp_path):
    first, second = module_folder(tmp_path, "a", OUTREACH), module_folder(tmp_path, "b", OUTREACH)
    issues = issues_of(cfg.make(), directories=[("a", first), ("b", second)])
    assert [(i[0], i[3], i[4]) for i in issues] == [
        (str(second / "roles_config/modules.yaml"), "modules.outreach.sessions",
         f"module 'outreach.sessions' is already declared in {first / 'roles_config/modules.yaml'}")]
