"""The lawyer of a participating organisation sees its organisation's cases, not the whole centre's: the role's
scope follows the case's organisation to the lawyer's own performer record (reference configuration, both
engines; the general property is in tests/test_scope_property.py)."""

from __future__ import annotations

import datetime as dt

from hoso.config import load_config
from hoso.records.service import RecordContext
from tests.helpers import migrated_runtime
from tests.restructure.support import add_user, assign, unit_id, visible


async def insert(rt, table: str, **values) -> int:
    cols = ", ".join(f'"{k}"' for k in values)
    marks = ", ".join("{}" for _ in values)
    return await rt.db.fetchval(f'INSERT INTO "{table}" ({cols}, sys_version) VALUES ({marks}, 1) RETURNING id',
                                *values.values())


async def add_case(rt, unit: int, organisation: int | None, n: int) -> int:
    return await insert(rt, "case", code=f"C{n}", received_on=dt.date(2024, 5, 1), request_channel="in_person",
                        requester_name=f"Người {n}", beneficiary_groups='["TE"]', field_of_law="DS", form_of_aid="TV",
                        status="received", unit=unit, organisation=organisation)


async def test_organisation_lawyer_sees_the_cases_of_its_own_organisation(reference_config_dir, database_url):
    rt = await migrated_runtime(load_config(reference_config_dir), database_url)
    try:
        tt01, tt02 = await unit_id(rt, "TT-01"), await unit_id(rt, "TT-02")
        org_a = await insert(rt, "organisation", name="Công ty Luật A", kind="law_firm_contract", unit=tt01)
        org_b = await insert(rt, "organisation", name="Công ty Luật B", kind="law_firm_contract", unit=tt01)
        lawyer = await add_user(rt, "luatsu.a", "TT-01")
        await assign(rt, lawyer, "organisation_lawyer", "TT-01")
        me = await insert(rt, "performer", name="Lê Luật Sư", kind="organisation_lawyer", unit=tt01,
                          organisation=org_a, account=lawyer)
        colleague = await insert(rt, "performer", name="Trần Đồng Nghiệp", kind="organisation_lawyer", unit=tt01,
                                 organisation=org_a)
        await insert(rt, "performer", name="Phạm Công Ty B", kind="organisation_lawyer", unit=tt01, organisation=org_b)
        mine = [await add_case(rt, tt01, org_a, 1), await add_case(rt, tt01, org_a, 2)]
        await add_case(rt, tt01, org_b, 3)
        await add_case(rt, tt01, None, 4)
        await add_case(rt, tt02, org_a, 5)  # another centre: outside the lawyer's assignment

        assert await visible(rt, lawyer) == mine
        assert await visible(rt, lawyer, entity="performer") == sorted([me, colleague])
        # The record service answers the same (API, admin and exports read through it).
        ctx = RecordContext(rt.config, lawyer, "luatsu.a", "test")
        rows, total = await rt.records().list("case", ctx, page_size=100)
        assert sorted(r["id"] for r in rows) == mine and total == 2
    finally:
        await rt.db.close()


def test_a_link_scope_names_real_reference_fields(config_dir):
    import pytest

    from hoso.config import ConfigErrors

    config_dir.write("forms_config/entities/firm.yaml", """
        entity: firm
        label: {vi: Tổ chức}
        fields:
          name: {type: text, label: {vi: Tên}}
    """)
    config_dir.write("forms_config/entities/member.yaml", """
        entity: member
        label: {vi: Thành viên}
        fields:
          account: {type: user, label: {vi: Tài khoản}}
          firm: {type: reference, entity: firm, label: {vi: Tổ chức}}
          name: {type: text, label: {vi: Tên}}
    """)
    config_dir.write("forms_config/entities/file.yaml", """
        entity: file
        label: {vi: Hồ sơ}
        fields:
          firm: {type: reference, entity: firm, label: {vi: Tổ chức}}
          title: {type: text, label: {vi: Tên}}
    """)
    role = """
        role: lawyer
        label: {vi: Luật sư}
        grants:
          - entity: file
            scope: {field: %s, to: %s}
            actions: [read]
    """
    config_dir.write("roles_config/roles/lawyer.yaml", role % ("firm", "member.firm"))
    assert config_dir.load().role("lawyer").grants[0].link == ("firm", "member", "firm")
    # ``id``: the record itself, named by a reference of the user's records (here, the files a member holds)
    member = config_dir.root / "forms_config/entities/member.yaml"
    member.write_text(member.read_text(encoding="utf-8").rstrip() + "\n  held: {type: reference, entity: file, "
                      "label: {vi: Hồ sơ}}\n", encoding="utf-8")
    config_dir.write("roles_config/roles/lawyer.yaml", role % ("id", "member.held"))
    assert config_dir.load().role("lawyer").grants[0].link == ("id", "member", "held")
    for field, to, message in (
            ("title", "member.firm", "roles_config/roles/lawyer.yaml:5:20: grants[0].scope.field: expected id or a "
                                     "reference field of entity 'file' (firm); found 'title'"),
            ("id", "member.firm", "roles_config/roles/lawyer.yaml:5:28: grants[0].scope.to: expected a reference "
                                  "field of entity 'member' to entity 'file', like 'id' (held); found 'firm'"),
            ("firm", "membr.firm", "roles_config/roles/lawyer.yaml:5:30: grants[0].scope.to: unknown entity 'membr' "
                                   "(did you mean 'member'?)"),
            ("firm", "member.name", "roles_config/roles/lawyer.yaml:5:30: grants[0].scope.to: expected a reference "
                                    "field of entity 'member' to entity 'firm', like 'firm' (firm); found 'name'"),
            ("firm", "file.firm", "roles_config/roles/lawyer.yaml:5:30: grants[0].scope.to: entity 'file' must have "
                                  "exactly one user field, which says whose record it is; found 0")):
        config_dir.write("roles_config/roles/lawyer.yaml", role % (field, to))
        with pytest.raises(ConfigErrors) as exc:
            config_dir.load()
        assert [str(i) for i in exc.value.issues] == [message]
