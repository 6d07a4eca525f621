"""``hoso user grant``, on both engines: grants a role at a unit through ``hoso.accounts.grant_role`` (audited as
the command line), and names what it refuses (an unknown account, a bad date; unknown roles and units are
``grant_role``'s refusals, tested with it) in Vietnamese then
English, with exit status 1 and nothing written."""

from __future__ import annotations

from click.testing import CliRunner

from hoso.cli import main
from tests.admin.conftest import run


def _grant(prepared, url: str, *args: str):
    return CliRunner().invoke(main, ["user", "grant", "--config", str(prepared.root), "--database", url, *args])


async def _rows(prepared, url: str) -> tuple[list, int]:
    from hoso.runtime import Runtime

    rt = Runtime.create(prepared.config, url)
    await rt.db.start()
    try:
        rows = await rt.db.fetch("SELECT user_id, role, unit_id, starts_on, ends_on FROM hoso_assignment ORDER BY id")
        audit = await rt.db.fetchval("SELECT COUNT(*) AS n FROM hoso_audit WHERE action = 'assignment.grant' "
                                     "AND actor = 'cli'")
        return [tuple(r.values()) for r in rows], int(audit)
    finally:
        await rt.db.close()


def test_user_grant_grants_a_role_and_names_its_refusals(prepared, admin_db):
    url = admin_db
    before, audited = run(_rows(prepared, url))
    assert audited == 0
    for args, words in ((["nobody", "centre_staff", "--unit", "TT-01"], "không có người dùng 'nobody'"),
                        (["tt02.staff", "performer_role", "--unit", "TT-02", "--from", "31/02/2026"],
                         "'31/02/2026' is not a date")):
        result = _grant(prepared, url, *args)
        assert result.exit_code == 1 and words in result.output, (args, result.output)
        assert "Traceback" not in result.output
    assert run(_rows(prepared, url)) == (before, 0)
    result = _grant(prepared, url, "tt02.staff", "performer_role", "--unit", "TT-02", "--from", "01/01/2026",
                    "--until", "31/12/2026")
    assert result.exit_code == 0, result.output
    assert "Đã giao vai trò 'performer_role'" in result.output and "Granted role 'performer_role'" in result.output
    after, audited = run(_rows(prepared, url))
    added = after[len(before):]
    assert len(added) == 1 and added[0][0] == prepared.seed.users["tt02.staff"] and added[0][1] == "performer_role"
    assert added[0][2] == prepared.seed.units["TT-02"] and str(added[0][3])[:10] == "2026-01-01"
    assert str(added[0][4])[:10] == "2026-12-31" and audited == 1
