"""Account lifecycle and every escalation attempt we could think of, on both engines."""

from __future__ import annotations

import datetime as dt

import pytest

from hoso import accounts
from hoso.accounts import PermissionDenied
from hoso.records.service import RecordContext
from hoso.scope import Actor, local_today
from hoso.users import create_user
from tests.helpers import migrated_runtime
from tests.records.conftest import UNITS  # two provinces: P01 (TT, TT2) and P02 (TT3)

ROLES = {
    "roles_config/roles/provincial.yaml": """
        role: provincial
        label: {vi: Sở}
        grants:
          - {entity: case, scope: subtree, actions: [read, manage_users]}
        can_grant: [director, staff]
    """,
    "roles_config/roles/director.yaml": """
        role: director
        label: {vi: Giám đốc}
        grants:
          - {entity: case, scope: subtree, actions: [read, create, update, manage_users]}
        can_grant: [staff]
    """,
    "roles_config/roles/national.yaml": """
        role: national
        label: {vi: Cục}
        grants:
          - {entity: case, scope: national, actions: [read, manage_users]}
        can_grant: [national, provincial, director, staff]
    """,
    "roles_config/roles/staff.yaml": """
        role: staff
        label: {vi: Cán bộ}
        grants:
          - {entity: case, scope: subtree, actions: [read, create, update]}
    """,
}
TODAY = local_today()  # the date assignments are judged on (Asia/Ho_Chi_Minh); see _today


@pytest.fixture(autouse=True)
def _today():
    """TODAY as of the test's start, not of the module's import: a run crossing midnight in Asia/Ho_Chi_Minh
    (17:00 UTC) judged "tomorrow" from the day before."""
    global TODAY
    TODAY = local_today()




@pytest.fixture
async def world(config_dir, database_url):
    config_dir.write("roles_config/units/units.csv", UNITS)
    for rel, text in ROLES.items():
        config_dir.write(rel, text)
    rt = await migrated_runtime(config_dir.load(), database_url)
    root = Actor(None, "root", superuser=True)
    ids = {}
    for name, unit, role in [("prov", "P01", "provincial"), ("dir1", "TT", "director"), ("dir2", "TT2", "director"),
                             ("staff1", "TT", "staff"), ("staff2", "TT2", "staff"),
                             ("dir3", "TT3", "director")]:
        ids[name] = await accounts.create_account(rt, root, name, "calm-river-1872", unit, roles=(role,),
                                                  starts_on=TODAY - dt.timedelta(days=30))
    yield rt, ids
    await rt.db.close()


def as_user(ids, name):
    return Actor(ids[name], name, origin="test")


async def test_director_creates_accounts_only_in_its_subtree(world):
    rt, ids = world
    d1 = as_user(ids, "dir1")
    new = await accounts.create_account(rt, d1, "lawyer1", "calm-river-1872", "TT", roles=("staff",))
    assert await accounts.active_roles(rt, new) == {"staff"}
    with pytest.raises(PermissionDenied, match="may not create accounts at unit 'TT2'"):
        await accounts.create_account(rt, d1, "lawyer2", "calm-river-1872", "TT2")
    with pytest.raises(PermissionDenied, match="may not create accounts at unit 'P01'"):
        await accounts.create_account(rt, d1, "lawyer3", "calm-river-1872", "P01")
    assert await rt.db.fetchval("SELECT COUNT(*) AS n FROM hoso_user WHERE username IN ('lawyer2', 'lawyer3')") == 0


async def test_no_granting_a_role_one_may_not_grant(world):
    rt, ids = world
    d1 = as_user(ids, "dir1")
    with pytest.raises(PermissionDenied, match="may not grant role 'director'"):
        await accounts.create_account(rt, d1, "boss", "calm-river-1872", "TT", roles=("director",))
    with pytest.raises(PermissionDenied, match="may not grant role 'provincial'"):
        await accounts.grant_role(rt, d1, ids["staff1"], "provincial", "TT")
    with pytest.raises(PermissionDenied, match="may not grant role 'director'"):
        await accounts.grant_role(rt, d1, ids["staff1"], "director", "TT")
    assert await accounts.active_roles(rt, ids["staff1"]) == {"staff"}


async def test_no_assigning_outside_ones_subtree(world):
    rt, ids = world
    with pytest.raises(PermissionDenied, match="at unit 'TT2'"):
        await accounts.grant_role(rt, as_user(ids, "dir1"), ids["staff1"], "staff", "TT2")
    # A staff member manages nobody.
    with pytest.raises(PermissionDenied):
        await accounts.grant_role(rt, as_user(ids, "staff1"), ids["staff2"], "staff", "TT2")


async def test_no_editing_ones_own_assignments(world):
    rt, ids = world
    d1 = as_user(ids, "dir1")
    with pytest.raises(PermissionDenied, match="your own"):
        await accounts.grant_role(rt, d1, ids["dir1"], "staff", "TT")
    [own] = await accounts.assignments(rt, ids["dir1"])
    with pytest.raises(PermissionDenied, match="your own"):
        await accounts.end_assignment(rt, d1, own["id"])
    with pytest.raises(PermissionDenied, match="your own"):
        await accounts.reset_password(rt, d1, ids["dir1"])


async def test_no_acting_on_a_higher_or_foreign_account(world):
    rt, ids = world
    d1 = as_user(ids, "dir1")
    # The provincial officer's assignment is above the centre; the other director is in another centre.
    for target in ("prov", "dir2", "staff2"):
        with pytest.raises(PermissionDenied):
            await accounts.lock(rt, d1, ids[target], "test")
        with pytest.raises(PermissionDenied):
            await accounts.reset_password(rt, d1, ids[target])
    # A person holding a role the director may not grant cannot be touched even inside the centre.
    await accounts.grant_role(rt, as_user(ids, "prov"), ids["staff1"], "director", "TT")
    with pytest.raises(PermissionDenied, match="holds role 'director'"):
        await accounts.lock(rt, d1, ids["staff1"], "test")
    assert await rt.db.fetchval("SELECT COUNT(*) AS n FROM hoso_user WHERE locked = {}", True) == 0


async def test_superuser_accounts_are_out_of_reach(world):
    rt, ids = world
    admin = await create_user(rt, "admin", "calm-river-1872", superuser=True, unit_code="TT")
    with pytest.raises(PermissionDenied, match="superuser"):
        await accounts.lock(rt, as_user(ids, "prov"), admin, "test")


async def test_lock_ends_sessions_and_unlock(world):
    rt, ids = world
    Session = rt.tables.system["session"]
    await Session.create_session(ids["staff1"])
    await Session.create_session(ids["staff1"])
    await Session.create_session(ids["staff2"])
    await accounts.lock(rt, as_user(ids, "dir1"), ids["staff1"], "account leaked")
    assert await rt.db.fetchval("SELECT locked FROM hoso_user WHERE id = {}", ids["staff1"])
    assert await rt.db.fetchval("SELECT COUNT(*) AS n FROM hoso_session WHERE user_id = {}", ids["staff1"]) == 0
    assert await rt.db.fetchval("SELECT COUNT(*) AS n FROM hoso_session WHERE user_id = {}", ids["staff2"]) == 1
    await accounts.unlock(rt, as_user(ids, "dir1"), ids["staff1"])
    assert not await rt.db.fetchval("SELECT locked FROM hoso_user WHERE id = {}", ids["staff1"])
    actions = [r["action"] for r in await rt.db.fetch(
        "SELECT action FROM hoso_audit WHERE record_id = {} AND entity = 'hoso_user' ORDER BY id", ids["staff1"])]
    assert actions[-2:] == ["user.lock", "user.unlock"]


async def test_password_reset_forces_a_change(world):
    rt, ids = world
    User = rt.tables.system["user"]
    temp = await accounts.reset_password(rt, as_user(ids, "dir1"), ids["staff1"], "tam-hoa-sen-2231")
    assert temp == "tam-hoa-sen-2231"
    assert await User.login("staff1", "calm-river-1872") is None
    assert await User.login("staff1", "tam-hoa-sen-2231") == ids["staff1"]
    assert await rt.db.fetchval("SELECT must_change_password FROM hoso_user WHERE id = {}", ids["staff1"])
    with pytest.raises(PermissionDenied, match="current password is wrong"):
        await accounts.change_own_password(rt, ids["staff1"], "nope-nope-nope", "brand-new-pass")
    await accounts.change_own_password(rt, ids["staff1"], "tam-hoa-sen-2231", "brand-new-pass")
    assert not await rt.db.fetchval("SELECT must_change_password FROM hoso_user WHERE id = {}", ids["staff1"])
    assert await User.login("staff1", "brand-new-pass") == ids["staff1"]


async def test_transfer_keeps_authorship_and_moves_scope(world):
    rt, ids = world
    units = {r["code"]: r["id"] for r in await rt.db.fetch("SELECT id, code FROM hoso_unit")}
    ctx = RecordContext(rt.config, user_id=ids["staff1"], user_name="staff1", superuser=True)
    old_case = await rt.records().create("case", {"received_on": "2025-01-02", "form_of_aid": "TV", "requester": "An",
                                                  "unit": units["TT"]}, ctx)
    other = await rt.records().create("case", {"received_on": "2025-01-02", "form_of_aid": "TV", "requester": "Bình",
                                               "unit": units["TT2"]}, RecordContext.system(rt.config))
    case = rt.config.entity("case")

    async def visible(user):
        pred = rt.scope.predicate(as_user(ids, user), "read", case)
        return {r["id"] for r in await rt.db.fetch(f'SELECT t.id FROM "case" t WHERE {pred.sql}', *pred.args)}

    assert await visible("staff1") == {old_case["id"]}
    # A director cannot transfer someone out of its centre into another; the province can.
    with pytest.raises(PermissionDenied, match="at unit 'TT2'"):
        await accounts.transfer(rt, as_user(ids, "dir1"), ids["staff1"], "TT2")
    await accounts.transfer(rt, as_user(ids, "prov"), ids["staff1"], "TT2", on=TODAY)
    assert await visible("staff1") == {other["id"]}
    history = await accounts.assignments(rt, ids["staff1"], active_only=False)
    assert [(a["unit_code"], a["ends_on"]) for a in history] == [("TT", TODAY), ("TT2", None)]
    assert history[0]["end_reason"] == "chuyển công tác"
    assert await rt.db.fetchval('SELECT sys_created_by FROM "case" WHERE id = {}', old_case["id"]) == ids["staff1"]


async def test_assignments_count_only_between_their_dates(world):
    rt, ids = world
    case = rt.config.entity("case")
    unit = await rt.db.fetchval("SELECT id FROM hoso_unit WHERE code = 'TT2'")
    rec = await rt.records().create("case", {"received_on": "2025-01-02", "form_of_aid": "TV", "requester": "An",
                                             "unit": unit}, RecordContext.system(rt.config))
    later = TODAY + dt.timedelta(days=10)
    await accounts.grant_role(rt, as_user(ids, "prov"), ids["staff1"], "staff", "TT2", starts_on=later,
                              ends_on=later + dt.timedelta(days=5))

    async def sees(on):
        actor = Actor(ids["staff1"], "staff1", on=on)
        pred = rt.scope.predicate(actor, "read", case)
        rows = await rt.db.fetch(f'SELECT t.id FROM "case" t WHERE {pred.sql}', *pred.args)
        return rec["id"] in {r["id"] for r in rows}

    assert not await sees(TODAY)
    assert await sees(later)
    assert not await sees(later + dt.timedelta(days=5))


async def _ends_on(rt, assignment_id):
    return await rt.db.fetchval("SELECT ends_on FROM hoso_assignment WHERE id = {}", assignment_id)


async def test_an_ended_assignment_is_never_reopened(world):
    """Issue 8, item 1: POST /api/assignments/{id}/end {"ends_on": "2099-12-31"} re-opened ended assignments."""
    rt, ids = world
    root, d1 = Actor(None, "root", superuser=True), as_user(ids, "dir1")
    past = TODAY - dt.timedelta(days=10)
    # An old national assignment of a centre's staff member, ended ten days ago.
    national = await accounts.grant_role(rt, root, ids["staff1"], "national", "P01",
                                         starts_on=TODAY - dt.timedelta(days=60), ends_on=past)
    with pytest.raises(PermissionDenied, match="role 'national' at unit 'P01', which you may not grant"):
        await accounts.end_assignment(rt, d1, national, dt.date(2099, 12, 31))
    # Even a role the director may grant is not re-opened, nor extended, nor ended on the same day again.
    staff = await accounts.grant_role(rt, d1, ids["staff1"], "staff", "TT",
                                      starts_on=TODAY - dt.timedelta(days=60), ends_on=past)
    for later in (dt.date(2099, 12, 31), past + dt.timedelta(days=1), past, None):
        with pytest.raises(accounts.UserError, match="can only be moved earlier"):
            await accounts.end_assignment(rt, d1, staff, later)
    assert await _ends_on(rt, national) == past and await _ends_on(rt, staff) == past
    assert await accounts.active_roles(rt, ids["staff1"]) == {"staff"}
    # Moving the end earlier is allowed, and audited.
    earlier = past - dt.timedelta(days=5)
    assert await accounts.end_assignment(rt, d1, staff, earlier, "sai ngày") == earlier
    assert await _ends_on(rt, staff) == earlier
    [entry] = await rt.db.fetch("SELECT changes FROM hoso_audit WHERE action = 'assignment.end'")
    assert f'"{earlier.isoformat()}"' in entry["changes"]


async def test_end_date_before_the_start_is_refused_not_moved(world):
    rt, ids = world
    d1 = as_user(ids, "dir1")
    [current] = await accounts.assignments(rt, ids["staff1"])
    with pytest.raises(accounts.UserError, match="before assignment .* starts"):
        await accounts.end_assignment(rt, d1, current["id"], current["starts_on"] - dt.timedelta(days=1))
    assert await _ends_on(rt, current["id"]) is None
    # A future assignment ended without a date is cancelled: it ends the day it starts.
    start = TODAY + dt.timedelta(days=3)
    future = await accounts.grant_role(rt, d1, ids["staff1"], "staff", "TT", starts_on=start)
    assert await accounts.end_assignment(rt, d1, future) == start
    assert await accounts.active_roles(rt, ids["staff1"], start) == {"staff"}  # only the current one


async def test_another_provinces_director_cannot_reopen_a_transferred_users_old_assignment(world):
    rt, ids = world
    root = Actor(None, "root", superuser=True)
    [old] = await accounts.assignments(rt, ids["staff1"])
    await accounts.transfer(rt, root, ids["staff1"], "TT3", on=TODAY)
    assert await _ends_on(rt, old["id"]) == TODAY
    d3 = as_user(ids, "dir3")  # now manages staff1, but not its old centre in another province
    with pytest.raises(PermissionDenied, match="role 'staff' at unit 'TT', which you may not grant"):
        await accounts.end_assignment(rt, d3, old["id"], dt.date(2099, 12, 31))
    with pytest.raises(PermissionDenied):
        await accounts.end_assignment(rt, d3, old["id"], TODAY - dt.timedelta(days=1))
    assert await _ends_on(rt, old["id"]) == TODAY
    assert [a["unit_code"] for a in await accounts.assignments(rt, ids["staff1"])] == ["TT3"]
    # Nor move it through a back-dated transfer of its own.
    with pytest.raises(PermissionDenied, match="unit 'TT'"):
        await accounts.transfer(rt, d3, ids["staff1"], "TT3", on=TODAY - dt.timedelta(days=2))
    assert await _ends_on(rt, old["id"]) == TODAY


async def test_a_future_assignment_the_actor_could_not_grant_puts_the_account_out_of_reach(world):
    """Issue 8, item 2: an account whose national assignment starts tomorrow is not plain centre staff."""
    from hoso.web.tokens import create_token

    rt, ids = world
    root, d1 = Actor(None, "root", superuser=True), as_user(ids, "dir1")
    tomorrow = TODAY + dt.timedelta(days=1)
    national = await accounts.grant_role(rt, root, ids["staff1"], "national", "P01", starts_on=tomorrow)
    [staff] = await accounts.assignments(rt, ids["staff1"])
    denied = "holds role 'national' at unit 'P01' from " + tomorrow.strftime("%d/%m/%Y")
    attempts = [
        lambda: create_token(rt, d1, ids["staff1"], "x"),
        lambda: accounts.reset_password(rt, d1, ids["staff1"], "temporary-password-9"),
        lambda: accounts.lock(rt, d1, ids["staff1"], "x"),
        lambda: accounts.unlock(rt, d1, ids["staff1"]),
        lambda: accounts.end_assignment(rt, d1, national),
        lambda: accounts.end_assignment(rt, d1, staff["id"]),
        lambda: accounts.transfer(rt, d1, ids["staff1"], "TT"),
        lambda: accounts.grant_role(rt, d1, ids["staff1"], "staff", "TT"),
    ]
    for attempt in attempts:
        with pytest.raises(PermissionDenied, match=denied):
            await attempt()
    assert await rt.db.fetchval("SELECT COUNT(*) AS n FROM hoso_api_token") == 0
    assert await _ends_on(rt, national) is None and await _ends_on(rt, staff["id"]) is None
    assert not await rt.db.fetchval("SELECT must_change_password FROM hoso_user WHERE id = {}", ids["staff1"])
    # The province cannot grant "national" either; the national level can, and a past one no longer counts.
    with pytest.raises(PermissionDenied):
        await accounts.lock(rt, as_user(ids, "prov"), ids["staff1"], "x")
    await accounts.end_assignment(rt, root, national)
    await accounts.lock(rt, d1, ids["staff1"], "now within reach")
