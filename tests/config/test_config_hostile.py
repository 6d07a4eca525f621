"""Files built to exhaust the loader, or that cannot be read at all, are refused with a located error.

Alias bombs, deep nesting, huge files, tags, control characters, loops of parent units, and entries that
look like definitions but cannot be read (a folder, a broken or looping link, a file without permission).
Cases that would run away on a loader without bounds are loaded in a child process with a memory and time
limit, so a regression fails the test instead of taking the machine down.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from hoso.config import ConfigErrors, load_config
from hoso.config._yaml import MAX_DEPTH, MAX_VALUES
from hoso.config.kinds.entity import MAX_NAMING_WIDTH
from hoso.config.loader import MAX_FILE_BYTES

ENTITY = "forms_config/entities/case.yaml"
FORM = "forms_config/forms/case_intake.yaml"
HIERARCHY = "roles_config/hierarchy.yaml"
UNITS = "roles_config/units/units.csv"

def bounded_issues(child_load, root: Path, seconds: float = 20) -> list[tuple]:
    """The issues of loading ``root`` in a child process with bounded memory and time; fails on anything else."""
    result = child_load(root, [{"id": "load"}], seconds)["load"]
    assert "crash" not in result, result["crash"]
    return [tuple(i) for i in result["issues"]]


def _bomb(levels: int) -> str:
    names = [f"l{i}" for i in range(levels + 1)]
    lines = [f"{names[0]}: &{names[0]} [x, x, x, x, x, x, x, x, x]"]
    for prev, name in zip(names, names[1:], strict=False):
        lines.append(f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("levels", [7, 9])
def test_alias_bomb_is_refused_at_the_alias_that_overflows(cfg, child_load, levels):
    text = "form: case_intake\n" + _bomb(levels)
    started = time.monotonic()
    issues = bounded_issues(child_load, cfg.make({FORM: text}))
    assert time.monotonic() - started < 15
    assert len(issues) == 1, issues
    file, line, column, _path, message = issues[0]
    # 9 ** 5 values is the first level over the bound: its line is where the file stops being read
    over = next(i for i in range(1, levels + 1) if sum(9 ** k for k in range(1, i + 2)) + 2 * i > MAX_VALUES)
    assert (file, line) == (FORM, over + 2)
    assert column == text.splitlines()[line - 1].index("*") + 1
    assert f"the alias *l{over - 1} stands for" in message and f"more than {MAX_VALUES:,} values" in message


def test_many_plain_values_are_refused_too(cfg):
    text = "form: x\nbig: [" + ", ".join(["1"] * (MAX_VALUES + 1)) + "]\n"
    issue = cfg.one_error({FORM: text})
    assert (issue.file, issue.line) == (FORM, 2)
    assert f"the file holds more than {MAX_VALUES:,} values" in issue.message


@pytest.mark.parametrize("depth", [500, 1000, 5000])  # libyaml gives up at 1,000 and PyYAML's parser recursed
@pytest.mark.parametrize("opening,closing", [("[", "]"), ("{a: ", "}")])
def test_deep_nesting_is_refused_where_it_gets_too_deep(cfg, opening, closing, depth):
    text = "form: " + opening * depth + "1" + closing * depth + "\n"
    issue = cfg.one_error({FORM: text})
    assert (issue.file, issue.line) == (FORM, 1)
    # the file itself is the first level: the opening of level MAX_DEPTH + 1 is refused
    assert issue.column == len("form: ") + len(opening) * (MAX_DEPTH - 1) + 1
    assert f"nested more than {MAX_DEPTH} levels deep" in issue.message


def test_deep_block_nesting_is_refused_on_its_line(cfg):
    text = "form: x\n" + "".join(" " * i + f"k{i}:\n" for i in range(200)) + " " * 200 + "v: 1\n"
    issue = cfg.one_error({FORM: text})
    assert (issue.file, issue.line) == (FORM, 2 + MAX_DEPTH)
    assert f"nested more than {MAX_DEPTH} levels deep" in issue.message


def test_nesting_through_an_alias_counts(cfg):
    half = MAX_DEPTH // 2 + 2
    text = "form: x\na: &deep " + "[" * half + "]" * half + "\nb: " + "[" * half + "*deep" + "]" * half + "\n"
    issue = cfg.one_error({FORM: text})
    assert (issue.line, issue.column) == (3, len("b: ") + half + 1)
    assert f"the alias *deep nests values more than {MAX_DEPTH} levels deep" in issue.message


def test_nesting_up_to_the_bound_is_accepted_by_the_reader():
    from hoso.config._yaml import load_with_positions

    depth = MAX_DEPTH - 1  # one level is the file's own mapping
    data, _positions, _dups = load_with_positions("a: " + "[" * depth + "]" * depth + "\n")
    for _ in range(depth):
        data = data["a"] if isinstance(data, dict) else data[0] if data else data
    assert data == []


def test_a_number_too_long_to_read_is_located(cfg):
    # found by the fuzz below: a 5,000-digit number escaped as a ValueError
    text = cfg.edit(ENTITY, "max: 150", "max: " + "9" * 5000)
    issue = cfg.one_error({ENTITY: text})
    line = cfg.line_of(text, "9999")
    assert (issue.file, issue.line, issue.column) == (ENTITY, line, text.splitlines()[line - 1].index("9999") + 1)
    assert "a number of 5,000 characters is too long to read; put it in quotes" in issue.message


def test_a_huge_file_is_refused_without_being_parsed(cfg):
    text = "form: case_intake\n" + "# " + "x" * MAX_FILE_BYTES + "\n"
    started = time.monotonic()
    issue = cfg.one_error({FORM: text})
    assert time.monotonic() - started < 5
    assert (issue.file, issue.line, issue.column) == (FORM, 1, 1)
    assert f"file is larger than {MAX_FILE_BYTES // 2 ** 20} MiB" in issue.message


def test_a_huge_units_csv_is_refused(cfg):
    row = "X{},Đơn vị,,legal_aid_centre,HN,\n"
    text = cfg.BASE[UNITS] + "".join(row.format(i) for i in range(MAX_FILE_BYTES // len(row) + 1))
    issues = cfg.errors({UNITS: text})
    assert [(i.file, i.line) for i in issues] == [(UNITS, 1)]
    assert "file is larger than" in issues[0].message


@pytest.mark.parametrize("tag", ["!!python/object/new:os.system", "!custom", "!!binary", "!!set", "!<tag:x.org:y>"])
@pytest.mark.parametrize("where", ["mapping", "scalar", "sequence"])
def test_tags_are_refused_where_they_are(cfg, tag, where):
    value = {"mapping": "{vi: Tiếp nhận}", "scalar": "Tiếp nhận", "sequence": "[a]"}[where]
    text = cfg.edit(FORM, "label: {vi: Tiếp nhận yêu cầu}", f"label: {tag} {value}")
    issue = cfg.one_error({FORM: text})
    assert (issue.file, issue.line, issue.column) == (FORM, 3, len("label: ") + 1)
    shown = {"!<tag:x.org:y>": "tag:x.org:y"}.get(tag, tag)
    assert f"the tag {shown!r} is not allowed" in issue.message


def test_standard_tags_are_read_as_their_values(cfg):
    config = cfg.load({ENTITY: cfg.edit(ENTITY, "max_length: 40}", "max_length: !!int 40}")})
    assert config.entity("case").field("code").max_length == 40


@pytest.mark.parametrize("char,name", [("\x00", "U+0000 (NUL)"), ("\x07", "U+0007"), ("\ufffe", "U+FFFE")])
def test_control_character_is_located(cfg, char, name):
    text = cfg.edit(FORM, "fields: [requester_name, citizen_id]", f"fields: [requester_name, citi{char}zen_id]")
    issue = cfg.one_error({FORM: text})
    line = cfg.line_of(text, "citi")
    assert (issue.file, issue.line, issue.column) == (FORM, line, text.splitlines()[line - 1].index(char) + 1)
    assert f"found the control character {name}" in issue.message


def test_control_character_after_windows_line_ends(cfg):
    text = cfg.BASE[FORM].replace("\n", "\r\n") + "x: \x00\r\n"
    issue = cfg.one_error({FORM: text})
    assert (issue.line, issue.column) == (len(cfg.BASE[FORM].splitlines()) + 1, 4)


# -- loops of parent units -----------------------------------------------------------------------------------


@pytest.mark.parametrize("old,new,line,says", [
    (",HN,2010", ",HN.TT,2010", 4, "unit 'HN.TT' names itself as its parent"),
    (",BTP,", ",HN.TT,", 3, "unit 'HN' is under itself: HN -> HN.TT -> HN"),
    ("ministry_department,,", "ministry_department,HN.TT,", 2, "unit 'BTP' is under itself: BTP -> HN.TT -> HN -> BTP"),
], ids=["self", "two units", "through the root"])
def test_loop_of_parent_units_is_refused(cfg, old, new, line, says):
    issue = cfg.one_error({UNITS: cfg.edit(UNITS, old, new)})
    assert (issue.file, issue.line, issue.path) == (UNITS, line, "parent_code")
    assert says in issue.message


def test_loop_of_parent_units_across_two_files(cfg):
    hierarchy = cfg.BASE[HIERARCHY] + "  - file: units/more.yaml\n"
    more = "units:\n  - {code: X1, name_vi: X, type: legal_aid_centre, parent_code: X2}\n" \
           "  - {code: X2, name_vi: Y, type: legal_aid_centre, parent_code: X1}\n"
    issue = cfg.one_error({HIERARCHY: hierarchy, "roles_config/units/more.yaml": more})
    assert (issue.file, issue.line) == ("roles_config/units/more.yaml", 2)
    assert "unit 'X1' is under itself: X1 -> X2 -> X1" in issue.message


def test_migrate_refuses_a_loop_before_touching_the_database(cfg, tmp_path):
    from click.testing import CliRunner

    from hoso.cli import main

    root = cfg.make({UNITS: cfg.edit(UNITS, ",BTP,", ",HN.TT,")})
    db = tmp_path / "db" / "hoso.db"
    db.parent.mkdir()
    result = CliRunner().invoke(main, ["migrate", "--yes", "--config", str(root), "--database", f"sqlite:///{db}"])
    assert result.exit_code == 2, result.output
    assert "unit 'HN' is under itself" in result.output
    assert not db.exists()


# -- naming widths -------------------------------------------------------------------------------------------


def test_naming_width_at_the_bound_is_accepted(cfg):
    config = cfg.load({ENTITY: cfg.edit(ENTITY, "{seq:02}", f"{{seq:0{MAX_NAMING_WIDTH}}}")})
    assert config.entity("case").naming.pattern.count(f"{{seq:0{MAX_NAMING_WIDTH}}}") == 1


# -- entries that cannot be read -----------------------------------------------------------------------------


def _one_unreadable(cfg, make) -> tuple:
    root = cfg.make()
    rel = make(root)
    with pytest.raises(ConfigErrors) as info:
        load_config(root)
    issues = info.value.issues
    assert [(i.file, i.line, i.column) for i in issues] == [(rel, 1, 1)], issues
    return issues[0]


def test_folder_named_like_a_definition(cfg):
    def make(root):
        (root / "forms_config/forms/x.yaml").mkdir()
        return "forms_config/forms/x.yaml"
    assert "cannot read this entry: it is a folder, not a file" in _one_unreadable(cfg, make).message


def test_broken_symbolic_link(cfg):
    def make(root):
        (root / "forms_config/forms/x.yaml").symlink_to(root / "nowhere.yaml")
        return "forms_config/forms/x.yaml"
    message = _one_unreadable(cfg, make).message
    assert "it is a symbolic link to" in message and "nowhere.yaml', which does not exist" in message


def test_symbolic_link_loop(cfg):
    def make(root):
        (root / "forms_config/forms/x.yaml").symlink_to(root / "forms_config/forms/y.yml")
        (root / "forms_config/forms/y.yml").symlink_to(root / "forms_config/forms/x.yaml")
        return None
    root = cfg.make()
    make(root)
    with pytest.raises(ConfigErrors) as info:
        load_config(root)
    assert [(i.file, i.message) for i in info.value.issues] == [
        (f"forms_config/forms/{n}", "cannot read this entry: it is a symbolic link that leads back to itself (a loop)")
        for n in ("x.yaml", "y.yml")]


def test_single_file_kind_that_is_a_folder(cfg):
    def make(root):
        (root / "roles_config/modules.yaml").unlink()
        (root / "roles_config/modules.yaml").mkdir()
        return "roles_config/modules.yaml"
    assert "it is a folder, not a file" in _one_unreadable(cfg, make).message


def test_folder_kind_that_is_a_file(cfg):
    def make(root):
        for p in (root / "forms_config/reports").iterdir():
            p.unlink()
        (root / "forms_config/reports").rmdir()
        (root / "forms_config/reports").write_text("report: x\n")
        return "forms_config/reports"
    assert "expected a folder of .yaml files; found a file" in _one_unreadable(cfg, make).message


def test_units_file_that_is_a_link_loop(cfg):
    root = cfg.make()
    (root / UNITS).unlink()
    (root / UNITS).symlink_to(root / UNITS)
    with pytest.raises(ConfigErrors) as info:
        load_config(root)
    (issue,) = info.value.issues
    assert (issue.file, issue.path) == (HIERARCHY, "units[0].file")
    assert "cannot read roles_config/units/units.csv: it is a symbolic link that leads back to itself" in issue.message


def test_file_without_read_permission(cfg, monkeypatch):
    # Tests run as root here, where chmod 000 does not stop reading: refuse the open as the OS would.
    root = cfg.make()
    target = root / FORM
    real_open = Path.open

    def fake_open(self, *args, **kwargs):
        if self == target:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", fake_open)
    with pytest.raises(ConfigErrors) as info:
        load_config(root)
    assert [(i.file, i.line, i.message) for i in info.value.issues] == [
        (FORM, 1, "cannot read file: Permission denied")]


def test_non_utf8_bytes_are_located(cfg):
    raw = cfg.BASE[FORM].encode() + b"x: \xff\n"
    issue = cfg.one_error({FORM: raw})
    assert (issue.file, issue.line, issue.column) == (FORM, len(cfg.BASE[FORM].splitlines()) + 1, 4)
    assert "not valid UTF-8" in issue.message


# -- units named by modules.yaml -----------------------------------------------------------------------------

MODULES = "roles_config/modules.yaml"
RESTRUCTURING = """\
restructuring: 2025-07-01-test
effective: 2025-07-01
label: {vi: Sắp xếp}
operations:
  - create: {code: HN.NEW, name_vi: Trung tâm mới, type: legal_aid_centre, parent: HN}
  - rename: {unit: HN.TT, code: HN.TT2}
"""


def test_module_for_a_unit_that_does_not_exist(cfg):
    text = "modules:\n  legal_aid.hotline:\n    label: {vi: Tổng đài}\n    enabled_for: [HN, HN.T, NOWHERE]\n"
    issues = cfg.errors({MODULES: text})
    assert [(i.file, i.line, i.column, i.path) for i in issues] == [
        (MODULES, 4, text.splitlines()[3].index("HN.T,") + 1, "modules.legal_aid.hotline.enabled_for[1]"),
        (MODULES, 4, text.splitlines()[3].index("NOWHERE") + 1, "modules.legal_aid.hotline.enabled_for[2]")]
    assert issues[0].message.startswith("unknown unit 'HN.T' (did you mean 'HN.TT'?): expected the code of a unit")
    assert issues[1].message.startswith("unknown unit 'NOWHERE': expected")


def test_module_for_units_given_codes_by_a_restructuring(cfg):
    text = "modules:\n  legal_aid.hotline: {label: {vi: Tổng đài}, enabled_for: [HN.TT, HN.TT2, HN.NEW]}\n"
    config = cfg.load({MODULES: text, "roles_config/restructurings/2025-07-01-test.yaml": RESTRUCTURING})
    assert config.modules[0].enabled_for == ("HN.TT", "HN.TT2", "HN.NEW")
    # without the change set those codes name nothing
    issues = cfg.errors({MODULES: text})
    assert [i.path for i in issues] == ["modules.legal_aid.hotline.enabled_for[1]",
                                        "modules.legal_aid.hotline.enabled_for[2]"]


def test_module_check_is_quiet_when_the_hierarchy_is_broken(cfg):
    issues = cfg.errors({HIERARCHY: cfg.edit(HIERARCHY, "levels: [", "levels: {")})
    assert [i.file for i in issues] == [HIERARCHY]


def test_module_codes_of_rows_with_errors_are_not_reported_again(cfg):
    issue = cfg.one_error({UNITS: cfg.edit(UNITS, "HN,Sở Tư pháp Hà Nội,,provincial_department",
                                           "HN,Sở Tư pháp Hà Nội,,provincial_dept")})
    assert (issue.file, issue.path) == (UNITS, "type")


def test_the_reference_modules_name_current_units(reference_config_dir):
    config = load_config(reference_config_dir)
    hotline = next(m for m in config.modules if m.name == "legal_aid.hotline")
    assert "STP-2025-15" in hotline.enabled_for and "STP-10" not in hotline.enabled_for


def test_hoso_check_answers_a_bomb_with_a_located_message(cfg):
    from click.testing import CliRunner

    from hoso.cli import main

    root = cfg.make({FORM: "form: case_intake\n" + _bomb(9), ENTITY: cfg.BASE[ENTITY] + "x: " + "[" * 600 + "]" * 600})
    started = time.monotonic()
    result = CliRunner().invoke(main, ["check", "--config", str(root)])
    assert time.monotonic() - started < 10
    assert result.exit_code == 2 and result.exception is None or isinstance(result.exception, SystemExit)
    assert f"{FORM}:7:" in result.output and "the alias *l4 stands for" in result.output
    assert f"{ENTITY}:" in result.output and "nested more than" in result.output
    assert "Traceback" not in result.output


def test_module_when_the_hierarchy_names_no_unit_files(cfg):
    # found by the fuzz: with the optional 'units' key gone, every module code was "unknown" with no reason given
    issue = cfg.one_error({HIERARCHY: cfg.edit(HIERARCHY, "units:\n  - file: units/units.csv\n", "")})
    assert (issue.file, issue.path) == (MODULES, "modules.legal_aid.hotline.enabled_for[0]")
    assert issue.message == ("unknown unit 'HN': no units are defined (the 'units' of roles_config/hierarchy.yaml "
                             "name no unit file with rows)")
