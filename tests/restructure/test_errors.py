"""Errors in change sets name the file, line, column and key path, and a bad change set changes nothing."""

from __future__ import annotations

import pytest

from hoso.restructure import RestructureErrors, apply, load_restructuring, plan
from tests.helpers import migrated_runtime
from tests.restructure.support import change_set

FILE = "roles_config/restructurings/change.yaml"
HEAD = """
restructuring: test
effective: 2025-07-01
label: {vi: Thử}
operations:
"""


def errors_of(exc: RestructureErrors) -> list[str]:
    return [str(i) for i in exc.issues]


# -- the file alone (no database) -----------------------------------------------------------------------------------

@pytest.mark.parametrize("body,expected", [
    ("  - merge: {units: [TT2], inot: TT}\n",
     [f"{FILE}:5:12: operations[0].merge: missing required key 'into'",
      f"{FILE}:5:27: operations[0].merge.inot: unknown key 'inot' (did you mean 'into'?); "
      "expected one of: into, units"]),
    ("  - merger: {units: [TT2], into: TT}\n",
     [f"{FILE}:5:5: operations[0].merger: unknown key 'merger' (did you mean 'merge'?); expected one of: "
      "abolish_level, close, create, merge, move, rename, split"]),
    ("  - merge: {units: [TT2], into: TT}\n    move: {unit: TT, to: P02}\n",
     [f"{FILE}:5:5: operations[0]: expected exactly one operation (create, rename, move, merge, split, close, "
      "abolish_level) per list item; found keys 'merge', 'move'; start each operation with its own '- '"]),
    ("  - rename: {unit: TT}\n",
     [f"{FILE}:5:13: operations[0].rename: expected at least one of code, name_vi, name_en: what does the unit "
      "change to?"]),
    ("  - create: {code: 'bad code', name_vi: X, type: centre}\n",
     [f"{FILE}:5:20: operations[0].create.code: expected a unit code of 1 to 40 letters, digits, '_', '.' or '-'; "
      "found 'bad code'"]),
    ("  - split: {unit: X311, into: [X312], rule: {entity: case, field: commune, map: {}}, "
     "rules: [{entity: case, field: commune, map: {}}]}\n",
     [f"{FILE}:5:86: operations[0].split.rules: give either rule (one entity) or rules (a list), not both"]),
    ("  - split: {unit: X311, into: [X312, X313], rules: [{entity: case, field: commune, map: {a: X312}}, "
     "{entity: person, field: commune, map: {}}]}\n",
     [f"{FILE}:5:139: operations[0].split.rules[1].map: the map of the rule for 'person' is empty: map at least one "
      "value of 'commune' to one of the successors (X312, X313)"]),
])
def test_schema_and_shape_errors(rs_config, body, expected):
    path = change_set(rs_config, HEAD + body)
    with pytest.raises(RestructureErrors) as exc:
        load_restructuring(path, rs_config.root)
    assert errors_of(exc.value) == expected


def test_bad_date_syntax_and_unknown_top_level_key(rs_config):
    path = change_set(rs_config, HEAD.replace("2025-07-01", "2025-02-30").replace("label:", "lable: {vi: x}\nlabel:")
                      + "  - close: {unit: TT2}\n")
    with pytest.raises(RestructureErrors) as exc:
        load_restructuring(path, rs_config.root)
    assert errors_of(exc.value) == [
        f"{FILE}:3:1: lable: unknown key 'lable' (did you mean 'label'?); expected one of: effective, label, note, "
        "operations, restructuring, users"]
    path = change_set(rs_config, HEAD.replace("2025-07-01", "2025-02-30") + "  - close: {unit: TT2}\n")
    with pytest.raises(RestructureErrors) as exc:
        load_restructuring(path, rs_config.root)
    assert errors_of(exc.value) == [f"{FILE}:2:12: effective: expected a real date as YYYY-MM-DD; found '2025-02-30'"]
    path = change_set(rs_config, HEAD + "  - close: {unit: TT2\n")
    with pytest.raises(RestructureErrors) as exc:
        load_restructuring(path, rs_config.root)
    assert errors_of(exc.value)[0].startswith(f"{FILE}:6:1: YAML syntax error")
    path = change_set(rs_config, HEAD + "  - close: {unit: TT2}\nrestructuring: again\n")
    with pytest.raises(RestructureErrors) as exc:
        load_restructuring(path, rs_config.root)
    assert errors_of(exc.value) == [f"{FILE}:6:1: restructuring: duplicate key 'restructuring' (first at line 1): "
                                    "each key may appear once"]


# -- references, checked against the database and the operations before ----------------------------------------------

REFERENCE_CASES = [
    ("  - merge: {units: [TT9], into: TT}\n",
     [f"{FILE}:5:21: operations[0].merge.units[0]: unknown unit 'TT9' (did you mean 'TT'?)"]),
    ("  - merge: {units: [TT2], into: TT}\n  - move: {unit: TT2, to: P02}\n",
     [f"{FILE}:6:18: operations[1].move.unit: unit 'TT2' is closed (by operations[0] of this change set); an "
      "operation can only name an open unit"]),
    ("  - rename: {unit: TT, code: TT-NEW}\n  - move: {unit: TT, to: P02}\n",
     [f"{FILE}:6:18: operations[1].move.unit: unit 'TT' was recoded to 'TT-NEW' by operations[0]; refer to it as "
      "'TT-NEW'"]),
    ("  - create: {code: TT2, name_vi: X, type: centre, parent: P01}\n",
     [f"{FILE}:5:20: operations[0].create.code: unit code 'TT2' is already used by 'Trung tâm Hai'; closed units "
      "keep their codes, so a code is never given to another unit"]),
    ("  - create: {code: TT9, name_vi: X, type: centr, parent: P01}\n",
     [f"{FILE}:5:43: operations[0].create.type: unknown unit type 'centr' (did you mean 'centre'?); expected one "
      "of branch, centre, commune, district, province (the unit_types of roles_config/hierarchy.yaml)"]),
    ("  - merge: {units: [P01], into: TT}\n",
     [f"{FILE}:5:21: operations[0].merge.units[0]: cannot merge 'P01' into 'TT', which lies below it; move 'TT' "
      "out first"]),
    ("  - move: {unit: P02, to: CN3}\n",
     [f"{FILE}:5:27: operations[0].move.to: cannot move 'P02' under 'CN3', which is 'P02' itself or below it"]),
    ("  - move: {unit: TT, to: P01}\n",
     [f"{FILE}:5:26: operations[0].move.to: unit 'TT' is already under 'P01'"]),
    ("  - close: {unit: TT3}\n",
     [f"{FILE}:5:12: operations[0].close: 1 open unit(s) would stay under a unit this operation closes: CN3 (under "
      "TT3); move, merge or close them in the change set"]),
    ("  - abolish_level: {type: district}\n",
     [f"{FILE}:5:27: operations[0].abolish_level.type: 3 unit(s) would be left without a parent: X311 (under D31), "
      "X312 (under D31), X321 (under D32); list them under reattach (CHILD: NEW_PARENT) or add reattach_to: "
      "grandparent"]),
    ("  - abolish_level: {type: district, reattach: {TT4: P01}, reattach_to: grandparent}\n",
     [f"{FILE}:5:48: operations[0].abolish_level.reattach.TT4: unit 'TT4' is not directly under a unit of type "
      "'district' (its parent is P03)"]),
    ("  - split: {unit: X311, into: [X312], rule: {entity: case, field: comune, map: {a: X312}}}\n",
     [f"{FILE}:5:67: operations[0].split.rule.field: entity 'case' has no field 'comune' (did you mean 'commune'?)"]),
    ("  - split: {unit: X311, into: [X312], rule: {entity: case, field: commune, map: {a: X321}}}\n",
     [f"{FILE}:5:85: operations[0].split.rule.map.a: 'X321' is not one of the successors in into (X312)"]),
    ("  - split: {unit: X311, into: [X312], rule: {entity: cases, field: commune, map: {a: X312}}}\n",
     [f"{FILE}:5:54: operations[0].split.rule.entity: unknown entity 'cases' (did you mean 'case'?); expected one "
      "of case, visit"]),
    ("  - merge: {units: [TT2], into: TT}\nusers:\n  rehome:\n    - {from: TT3, to: TT}\n",
     [f"{FILE}:8:14: users.rehome[0].from: unit 'TT3' is not closed by this change set; only users of closing "
      "units are re-homed"]),
]


@pytest.mark.parametrize("body,expected", REFERENCE_CASES)
async def test_reference_errors(rs_config, database_url, body, expected):
    rt = await migrated_runtime(rs_config.load(), database_url)
    try:
        path = change_set(rs_config, HEAD + body)
        p = await plan(rt, path)
        assert [str(e) for e in p.errors] == expected
        assert not p.ok and "Not applicable" in p.render()
        before = await rt.db.fetch("SELECT * FROM hoso_unit ORDER BY id")
        with pytest.raises(RestructureErrors) as exc:
            await apply(rt, path)
        assert errors_of(exc.value) == expected
        assert await rt.db.fetch("SELECT * FROM hoso_unit ORDER BY id") == before
        assert await rt.db.fetchval("SELECT COUNT(*) FROM hoso_restructuring") == 0
        assert await rt.db.fetchval("SELECT COUNT(*) FROM hoso_unit_lineage") == 0
    finally:
        await rt.db.close()
