"""The app refuses to start unless the database holds exactly the configuration's definitions."""

from __future__ import annotations

import pytest
from litestar.testing import AsyncTestClient

from hoso.hookspecs import hookimpl
from hoso.runtime import Runtime
from hoso.server import DefinitionsDiffer, create_app, ensure_applied
from tests.helpers import migrated_runtime
from tests.web.conftest import running

EXTRA_FIELD = """
entity: case
label: {vi: Vụ việc, en: Case}
unit_field: unit
naming: {field: code, pattern: "{unit.code}.{form_of_aid}.{seq:02}.{year}", sequence_per: [unit, form_of_aid, year],
         date_field: received_on}
fields:
  code: {type: text, label: {vi: Mã}}
  received_on: {type: date, required: true, label: {vi: Ngày tiếp nhận}}
  form_of_aid: {type: choice, list: form_of_aid, required: true, label: {vi: Hình thức}}
  requester: {type: text, required: true, label: {vi: Người yêu cầu}}
  unit: {type: org_unit, required: true, label: {vi: Đơn vị}}
  requester_phone: {type: phone, label: {vi: Điện thoại}}
"""


def leaf(exc: BaseException) -> BaseException:
    """The exception inside the exception groups that Litestar's lifespan task groups wrap it in."""
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc


async def test_refuses_an_unmigrated_database(config_dir, database_url):
    rt = Runtime.create(config_dir.root, database_url)
    app = create_app(rt)
    with pytest.raises((DefinitionsDiffer, BaseExceptionGroup)) as info:
        async with AsyncTestClient(app):
            pass  # pragma: no cover
    assert isinstance(leaf(info.value), DefinitionsDiffer)
    message = str(leaf(info.value))
    assert "never been migrated" in message and "hoso migrate" in message and "hoso plan" in message


async def test_refuses_a_database_whose_configuration_changed(config_dir, database_url):
    rt = await migrated_runtime(config_dir.load(), database_url)
    try:
        await ensure_applied(rt)  # as migrated: fine
        config_dir.write("forms_config/entities/case.yaml", EXTRA_FIELD)
        changed = Runtime.create(config_dir.root, db=rt.db)
        with pytest.raises(DefinitionsDiffer) as info:
            await ensure_applied(changed)
    finally:
        await rt.db.close()
    message = str(info.value)
    assert "does not match" in message and "requester_phone" in message and "hoso migrate" in message

    app = create_app(Runtime.create(config_dir.root, database_url))
    with pytest.raises((DefinitionsDiffer, BaseExceptionGroup)) as info:
        async with app.lifespan():
            pass  # pragma: no cover
    assert isinstance(leaf(info.value), DefinitionsDiffer)


async def test_refuses_when_configured_units_are_not_loaded(config_dir, database_url):
    rt = await migrated_runtime(config_dir.load(), database_url)
    try:
        config_dir.write("roles_config/units/units.csv",
                         "code,name_vi,name_en,type,parent_code,valid_from\n"
                         "P01,Tỉnh Một,,province,,2019-01-01\nTT,Trung tâm Một,,centre,P01,2019-01-01\n"
                         "TT2,Trung tâm Hai,,centre,P01,2019-01-01\nTT3,Trung tâm Ba,,centre,P01,2019-01-01\n")
        with pytest.raises(DefinitionsDiffer, match="TT3.*hoso migrate"):
            await ensure_applied(Runtime.create(config_dir.root, db=rt.db))
    finally:
        await rt.db.close()


class StartupProbe:
    def __init__(self):
        self.calls = []

    @hookimpl
    async def hoso_startup(self, config):
        self.calls.append(config.content_hash)


async def test_startup_hook_runs_once_the_database_is_checked(config_dir, database_url):
    probe = StartupProbe()
    async with running(config_dir.root, database_url, plugins=[probe]) as web:
        assert probe.calls == [web.rt.config.content_hash]
        assert (await web.client.get("/api/health")).status_code == 200
