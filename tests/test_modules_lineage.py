"""A restructuring never orphans a module switch: on the reference configuration, the hotline switched on for
Lào Cai by its old code STP-10 follows the 2025 merger to STP-2025-15, which Yên Bái (STP-15) was merged into;
a module switched on for Yên Bái, a unit the merger closed, follows it to its successor, the new Lào Cai."""

from __future__ import annotations

import datetime as dt

from hoso.config import load_config
from hoso.modules import ModuleSwitches, switches
from hoso.restructure import apply
from tests.helpers import migrated_runtime
from tests.restructure.support import add_user, assign, unit_id

CHANGE_SET = "roles_config/restructurings/2025-07-01-provinces.yaml"
MODULES = """\
modules:
  legal_aid.hotline:
    label: {vi: Tổng đài, en: Hotline}
    enabled_for: [STP-11, STP-10]
  legal_aid.quality:
    label: {vi: Chất lượng, en: Quality}
    enabled_for: [STP-15]
"""


class Account:
    def __init__(self, uid: int):
        self.id, self.superuser = uid, False


async def test_an_old_code_follows_the_merger(reference_config_dir, database_url):
    (reference_config_dir / "roles_config/modules.yaml").write_text(MODULES, encoding="utf-8")
    rt = await migrated_runtime(load_config(reference_config_dir), database_url)
    try:
        users = {}
        for name, role, unit in (("laocai", "centre_staff", "TT-10"), ("yenbai", "centre_staff", "TT-15"),
                                 ("hanoi", "centre_staff", "TT-01"), ("dienbien", "provincial_officer", "STP-11"),
                                 ("ministry", "national_statistician", "CUC")):
            users[name] = await add_user(rt, name, unit)
            await assign(rt, users[name], role, unit)

        async def has(module: str) -> set[str]:
            sw = await switches(rt)  # the per-runtime cache the API and the admin read: it must see the merger
            return {n for n, uid in users.items() if module in await sw.enabled_for_user(Account(uid))}

        today = dt.date.today()
        assert await has("legal_aid.hotline") == {"laocai", "dienbien", "ministry"}
        assert await has("legal_aid.quality") == {"yenbai", "ministry"}
        await apply(rt, reference_config_dir / CHANGE_SET, applied_by="test")
        # Yên Bái's centre was merged into Lào Cai's, where the module is on: its staff now have it too.
        assert await has("legal_aid.hotline") == {"laocai", "yenbai", "dienbien", "ministry"}
        # Yên Bái's department is closed: its switch now holds for the department that answers for it.
        assert await has("legal_aid.quality") == {"laocai", "yenbai", "ministry"}
        sw = await ModuleSwitches.load(rt.db, rt.config, today)
        assert sw.unit_has("legal_aid.hotline", await unit_id(rt, "STP-2025-15"))
        assert sw.unit_has("legal_aid.hotline", await unit_id(rt, "TT-2025-15"))
        assert not sw.unit_has("legal_aid.hotline", await unit_id(rt, "TT-01"))
    finally:
        await rt.db.close()
