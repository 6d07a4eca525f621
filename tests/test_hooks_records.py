"""Record events: each write calls its hoso_record_* hook inside the transaction, and hoso_after_commit after
the commit only."""

from __future__ import annotations

import pytest

from hoso.records.service import RecordContext, ValidationError
from tests.helpers import migrated_runtime
from tests.plugins.hooks_probe import Events

TICKET = """
entity: ticket
label: {vi: Phiếu, en: Ticket}
fields:
  title: {type: text, required: true, label: {vi: Tiêu đề}}
  status: {type: choice, list: ticket_status, label: {vi: Trạng thái}}
"""
STATUS = """
lists:
  ticket_status:
    options:
      - {value: open, vi: Mở, en: Open}
      - {value: closed, vi: Đóng, en: Closed}
"""
WORKFLOW = """
workflow: ticket_flow
entity: ticket
label: {vi: Quy trình phiếu}
state_field: status
initial: open
states: [open, closed]
transitions:
  close: {from: [open], to: closed, label: {vi: Đóng, en: close}}
"""


@pytest.fixture
def ticket_config(config_dir):
    config_dir.write("forms_config/entities/ticket.yaml", TICKET)
    config_dir.write("forms_config/lists/ticket_status.yaml", STATUS)
    config_dir.write("forms_config/workflows/ticket_flow.yaml", WORKFLOW)
    return config_dir.load()


async def test_every_write_announces_its_event_in_and_after_the_transaction(ticket_config, database_url):
    probe = Events()
    rt = await migrated_runtime(ticket_config, database_url, plugins=[probe])
    try:
        svc, ctx = rt.records(), RecordContext.system(rt.config)
        rec = await svc.create("ticket", {"title": "Một"}, ctx)
        rid = rec["id"]
        assert probe.seen == [("created", "ticket", rid)]
        assert probe.committed == [[("created", "ticket", rid)]]
        await svc.update("ticket", rid, {"title": "Hai"}, 1, ctx)
        await svc.update("ticket", rid, {"title": "Hai"}, 2, ctx)  # changes nothing: no event
        await svc.transition("ticket", rid, "close", {}, 2, ctx)
        await svc.delete("ticket", rid, "trùng lặp", 3, ctx)
        await svc.restore("ticket", rid, ctx)
        assert probe.seen[1:] == [("changed", "ticket", 1, 2), ("transitioned", "ticket", "close", "closed"),
                                  ("deleted", "ticket", "trùng lặp"), ("restored", "ticket", None)]
        assert [batch[0][0] for batch in probe.committed] == ["created", "changed", "transitioned", "deleted",
                                                             "restored"]
        assert all(batch == [(batch[0][0], "ticket", rid)] for batch in probe.committed)
    finally:
        await rt.db.close()


async def test_a_rolled_back_write_is_never_announced_after_commit(ticket_config, database_url):
    probe = Events(refuse_entity="ticket")
    rt = await migrated_runtime(ticket_config, database_url, plugins=[probe])
    try:
        svc, ctx = rt.records(), RecordContext.system(rt.config)
        # The in-transaction hook raising undoes the write.
        with pytest.raises(RuntimeError, match="refused by the probe"):
            await svc.create("ticket", {"title": "Một"}, ctx)
        assert [s[0] for s in probe.seen] == ["created"]
        assert await rt.db.fetchval("SELECT COUNT(*) AS n FROM ticket") == 0
        # A refused write never reaches the hooks at all.
        with pytest.raises(ValidationError):
            await svc.create("ticket", {}, ctx)
        assert len(probe.seen) == 1
        assert probe.committed == []
    finally:
        await rt.db.close()


async def test_a_failing_after_commit_hook_keeps_the_change_and_the_other_hooks(ticket_config, database_url, caplog):
    from hoso import hookimpl

    class Broken:
        @hookimpl
        def hoso_after_commit(self, events):
            raise RuntimeError("mail server down")

    probe = Events()
    rt = await migrated_runtime(ticket_config, database_url, plugins=[probe, Broken()])
    try:
        rec = await rt.records().create("ticket", {"title": "Một"}, RecordContext.system(rt.config))
        assert probe.committed == [[("created", "ticket", rec["id"])]]
        assert await rt.db.fetchval("SELECT COUNT(*) AS n FROM ticket") == 1
        assert "mail server down" in caplog.text
    finally:
        await rt.db.close()
