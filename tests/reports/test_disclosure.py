"""Disclosure: what a role may see of report numbers. Small-cell suppression against an attacker that solves every
total it can (hypothesis), the finest level refused, rows refused to statistics-only roles, how held roles
combine, and the role keys checked with file:line errors."""

from __future__ import annotations

import datetime as dt
import textwrap

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from hoso.config import ConfigErrors
from hoso.config.types import Label, ReportDef
from hoso.records.access import Access
from hoso.records.context import RecordContext
from hoso.reports.disclosure import Disclosure, disclosure_for
from hoso.reports.model import Column, Dimension, ReportError, ReportRequest, ReportResult, ResultRow
from tests.helpers import migrated_runtime

K = 5
LEVELS = ("ministry", "province", "centre")


# -- small cells --------------------------------------------------------------------------------------------------


def build_result(leaves: dict[tuple[str, str], tuple[int, int, int, int, int]], subtotals: bool,
                 grouped: bool = False) -> ReportResult:
    """A two-dimension table over (field, form): columns total = men + women (exhaustive; one column per option
    of gender, or two columns under a header group), two beneficiary groups (overlapping, each <= total), and a
    sum of fees that is not a count of people."""
    gender = Label("Giới tính")
    men, women = ((Column("men", Label("Nam"), (gender,)), Column("women", Label("Nữ"), (gender,))) if grouped else
                  (Column("gender:male", Label("Nam")), Column("gender:female", Label("Nữ"))))
    columns = [Column("total", Label("Tổng")), men, women, Column("groups:poor", Label("Hộ nghèo")),
               Column("groups:child", Label("Trẻ em")), Column("fees", Label("Phí"), measure="sum", people=False)]

    def values(rows):
        men = sum(r[0] for r in rows)
        women = sum(r[1] for r in rows)
        return [men + women, men, women, sum(r[2] for r in rows), sum(r[3] for r in rows), sum(r[4] for r in rows)]

    rows: list[ResultRow] = []
    for first in sorted({a for a, _b in leaves}):
        mine = sorted((k, v) for k, v in leaves.items() if k[0] == first)
        for (a, b), v in mine:
            rows.append(ResultRow((a, b), (a, b), values([v])))
        if subtotals:
            rows.append(ResultRow((first, None), (first, ""), values([v for _k, v in mine]), "subtotal", 1))
    total = ResultRow((None, None), ("", ""), values(list(leaves.values())), "total", 0)
    report = ReportDef("r", "case", Label("Báo cáo"), (), ())  # the table is all suppression reads
    return ReportResult(report, ReportRequest("r"), [Dimension("field", Label("Lĩnh vực")),
                                                     Dimension("form", Label("Hình thức"))],
                        columns, rows, total, dt.datetime(2026, 1, 1))


def equations(result: ReportResult) -> list[list[tuple[int, int, int]]]:
    """What an attacker knows holds: ``[(row, column, sign)]`` summing to zero. Each subtotal (or the total)
    is the sum of the rows under it, per column; each row's total is its men plus its women."""
    table = result.rows + [result.total]
    total_ix = len(result.rows)
    out = []
    for j in range(5):
        if any(r.kind == "subtotal" for r in result.rows):
            groups: dict = {}
            for i, r in enumerate(result.rows):
                if r.kind == "row":
                    groups.setdefault(next(k for k, s in enumerate(result.rows)
                                           if s.kind == "subtotal" and s.keys[0] == r.keys[0]), []).append(i)
                else:
                    groups.setdefault(total_ix, []).append(i)
        else:
            groups = {total_ix: [i for i, r in enumerate(result.rows)]}
        for parent, kids in groups.items():
            out.append([(k, j, 1) for k in kids] + [(parent, j, -1)])
    for i in range(len(table)):
        out.append([(i, 0, -1), (i, 1, 1), (i, 2, 1)])
    return out


def attack(result: ReportResult, truth: list[list]) -> set[tuple[int, int]]:
    """Every hidden cell an attacker recovers by solving equations with one unknown, again and again."""
    table = [list(r.values) for r in result.rows] + [list(result.total.values)]
    known = {(i, j) for i, row in enumerate(table) for j, v in enumerate(row) if v is not None}
    recovered: set[tuple[int, int]] = set()
    progress = True
    while progress:
        progress = False
        for eq in equations(result):
            unknown = [(i, j) for i, j, _s in eq if (i, j) not in known]
            if len(unknown) == 1:
                known.add(unknown[0])
                recovered.add(unknown[0])
                progress = True
    return recovered


leaf_values = st.tuples(*(st.integers(0, 12) for _ in range(4)), st.integers(0, 1000)).map(
    lambda v: (v[0], v[1], min(v[2], v[0] + v[1]), min(v[3], v[0] + v[1]), v[4]))
tables = st.dictionaries(st.tuples(st.sampled_from("ABC"), st.sampled_from("xyz")), leaf_values, min_size=1,
                         max_size=9)


@settings(max_examples=300, deadline=None)
@example(leaves={("A", "x"): (2, 6, 0, 0, 10), ("A", "y"): (9, 9, 9, 9, 10)}, subtotals=True, grouped=False)
@example(leaves={("A", "x"): (2, 6, 0, 0, 10), ("A", "y"): (9, 9, 9, 9, 10)}, subtotals=False, grouped=True)
@given(leaves=tables, subtotals=st.booleans(), grouped=st.booleans())
def test_no_small_cell_can_be_computed_back(leaves, subtotals, grouped):
    result = build_result(leaves, subtotals, grouped)
    truth = [list(r.values) for r in result.rows] + [list(result.total.values)]
    out = Disclosure(rows=False, suppress_below=K).apply(result)
    shown = [list(r.values) for r in out.rows] + [list(out.total.values)]
    hidden = {(i, j) for i, row in enumerate(shown) for j, v in enumerate(row) if v is None}
    # Every small count of people is hidden; nothing else changes; the sum of fees is never touched.
    for i, row in enumerate(truth):
        for j, v in enumerate(row):
            if j < 5 and 0 < v < K:
                assert (i, j) in hidden, (i, j, v)
            if (i, j) not in hidden:
                assert shown[i][j] == v
            if j == 5:
                assert (i, j) not in hidden
    assert out.suppressed == len(hidden)
    assert bool(out.notes) == bool(hidden)
    # No hidden small cell is recomputed by an attacker solving the totals.
    small = {(i, j) for i, row in enumerate(truth) for j, v in enumerate(row) if j < 5 and 0 < v < K}
    assert not (attack(out, truth) & small)
    # The input is not changed; without a threshold nothing is hidden.
    assert [list(r.values) for r in result.rows] + [list(result.total.values)] == truth
    assert Disclosure(rows=False).apply(result) is result


def test_a_cell_alone_in_its_total_takes_a_neighbour_along():
    result = build_result({("A", "x"): (1, 6, 0, 0, 0), ("A", "y"): (8, 9, 0, 0, 0)}, subtotals=False)
    out = Disclosure(rows=False, suppress_below=K).apply(result)
    # men of (A, x) = 1 is small; the men of (A, y) hide with it (the column total), and so do the women of
    # (A, x) and its row total (men + women = total).
    assert out.rows[0].values[1] is None and out.rows[1].values[1] is None
    assert out.rows[0].values[0] is None or out.rows[0].values[2] is None
    assert out.total.values[1] == 9 and out.suppressed >= 3


# -- levels and rows ----------------------------------------------------------------------------------------------


def test_the_finest_level_is_enforced():
    d = Disclosure(rows=False, finest_level="province", suppress_below=K, levels=LEVELS)
    d.check_levels(["ministry", "province"])
    with pytest.raises(ReportError) as err:
        d.check_levels(["province", "centre"])
    assert err.value.problems[0][0] == "level" and "centre" in err.value.problems[0][1]
    assert "chỉ được xem số liệu đến cấp province" in err.value.problems[0][1]
    with pytest.raises(ReportError):
        d.check_levels([None])  # per unit without rolling up: the finest of all
    with pytest.raises(ReportError) as err:
        d.check_unit("TT-01", "centre")
    assert err.value.problems[0][0] == "unit" and "TT-01" in err.value.problems[0][1]
    d.check_unit("STP-01", "province")
    with pytest.raises(ReportError) as err:
        d.check_rows()
    assert err.value.problems[0][0] == "rows"
    Disclosure(levels=LEVELS).check_levels([None, "centre"])
    Disclosure().check_rows()


HIERARCHY = """
levels: [ministry, province, centre]
unit_types:
  ministry: {level: ministry, label: {vi: Bộ}}
  province: {level: province, label: {vi: Tỉnh}}
  centre: {level: centre, label: {vi: Trung tâm}}
units:
  - file: units/units.csv
"""
UNITS = """
code,name_vi,type,parent_code,valid_from
BO,Bộ,ministry,,2019-01-01
P01,Tỉnh Một,province,BO,2019-01-01
TT,Trung tâm Một,centre,P01,2019-01-01
"""
ROLES = {
    "stats_province": """
        role: stats_province
        label: {vi: Thống kê tỉnh}
        grants:
          - {entity: case, scope: statistics, actions: [run_reports], finest_level: province, suppress_below: 5}
    """,
    "stats_centre": """
        role: stats_centre
        label: {vi: Thống kê trung tâm}
        grants:
          - {entity: case, scope: statistics, actions: [run_reports], finest_level: centre, suppress_below: 10}
    """,
    "stats_any": """
        role: stats_any
        label: {vi: Thống kê}
        grants:
          - {entity: case, scope: statistics, actions: [run_reports]}
    """,
    "reader": """
        role: reader
        label: {vi: Người đọc}
        grants:
          - {entity: case, scope: subtree, actions: [read, run_reports]}
    """,
    "blind_reader": """
        role: blind_reader
        label: {vi: Người đọc không xem hồ sơ từ báo cáo}
        grants:
          - {entity: case, scope: subtree, actions: [read, run_reports], rows: false, finest_level: province,
             suppress_below: 3}
    """,
}


@pytest.fixture
def roles_config(config_dir):
    config_dir.write("roles_config/hierarchy.yaml", HIERARCHY)
    config_dir.write("roles_config/units/units.csv", UNITS)
    for name, text in ROLES.items():
        config_dir.write(f"roles_config/roles/{name}.yaml", text)
    return config_dir


@pytest.mark.parametrize("held, expected", [
    (["stats_province"], Disclosure(False, "province", 5, LEVELS)),
    (["stats_province", "stats_centre"], Disclosure(False, "centre", 5, LEVELS)),  # the finest; the smallest
    (["stats_province", "stats_any"], Disclosure(False, None, 0, LEVELS)),
    (["stats_province", "reader"], Disclosure(True, None, 0, LEVELS)),  # a role that reads rows wins
    (["blind_reader"], Disclosure(False, "province", 3, LEVELS)),
    ([], Disclosure(False, None, 0, LEVELS)),
])
async def test_held_roles_combine(roles_config, database_url, held, expected):
    rt = await migrated_runtime(roles_config.load(), database_url)
    try:
        await rt.db.execute(
            "INSERT INTO hoso_user (username, password, email, first_name, last_name, active, admin, superuser, "
            "display_name, locked, must_change_password) VALUES ('u', 'x', 'u@localhost', '', '', TRUE, FALSE, "
            "FALSE, 'u', FALSE, FALSE)")
        uid = await rt.db.fetchval("SELECT id FROM hoso_user WHERE username = 'u'")
        unit = await rt.db.fetchval("SELECT id FROM hoso_unit WHERE code = 'BO'")
        for role in held:
            await rt.db.execute("INSERT INTO hoso_assignment (user_id, role, unit_id, starts_on, created_at) "
                                "VALUES ({}, {}, {}, {}, {})", uid, role, unit, dt.date(2020, 1, 1),
                                dt.datetime.now(dt.UTC))
        ctx = RecordContext(rt.config, uid, "u", "test")
        got = await disclosure_for(rt, Access(rt, ctx), rt.config.entity("case"))
        assert got == expected
        root = RecordContext(rt.config, None, "root", "test", superuser=True)
        assert await disclosure_for(rt, Access(rt, root), rt.config.entity("case")) == Disclosure(levels=LEVELS)
    finally:
        await rt.db.close()


@pytest.mark.parametrize("grant, says", [
    ("{entity: case, scope: statistics, actions: [run_reports], finest_level: district}",
     "unknown level 'district'"),
    ("{entity: case, scope: subtree, actions: [read], suppress_below: 5}", "needs the action run_reports"),
    ("{entity: case, scope: statistics, actions: [run_reports], rows: true}", "never gets rows"),
    ("{entity: case, scope: statistics, actions: [run_reports], suppress_below: 1}", "at least 2"),
])
def test_role_keys_are_checked(roles_config, grant, says):
    text = textwrap.dedent(f"""
        role: bad
        label: {{vi: Sai}}
        grants:
          - {grant}
    """).lstrip()
    roles_config.write("roles_config/roles/bad.yaml", text)
    with pytest.raises(ConfigErrors) as err:
        roles_config.load()
    issues = [i for i in err.value.issues if i.file == "roles_config/roles/bad.yaml"]
    assert len(issues) == 1 and says in issues[0].message, err.value.render()
    assert issues[0].line == 4
