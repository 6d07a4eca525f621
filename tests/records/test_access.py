"""Scope is enforced in the SQL of every read and write; hidden fields are neither shown nor written;
read-only fields are not changed."""

from __future__ import annotations

import pytest

from hoso.records.service import Forbidden, NotFound, RecordContext, ValidationError


async def test_reads_outside_scope_are_not_found(world):
    w = world
    mine = await w.svc.create("case", w.case(), w.ctx("staff"))
    theirs = await w.svc.create("case", w.case(unit="TT3"), w.ctx("other"))
    assert (await w.svc.get("case", mine["id"], w.ctx("staff")))["id"] == mine["id"]
    for user, record_id in (("staff", theirs["id"]), ("other", mine["id"]), ("nobody", mine["id"])):
        with pytest.raises(NotFound):
            await w.svc.get("case", record_id, w.ctx(user))
        with pytest.raises(NotFound):
            await w.svc.history("case", record_id, w.ctx(user))
    # The same answer as for a record that does not exist: no existence leak.
    with pytest.raises(NotFound) as missing:
        await w.svc.get("case", 424242, w.ctx("staff"))
    with pytest.raises(NotFound) as hidden:
        await w.svc.get("case", theirs["id"], w.ctx("staff"))
    assert str(missing.value).replace("424242", "N") == str(hidden.value).replace(str(theirs["id"]), "N")
    # The director of province one sees both of its centres, not province two.
    rows, total = await w.svc.list("case", w.ctx("director"))
    assert total == 1 and [r["id"] for r in rows] == [mine["id"]]
    rows, total = await w.svc.list("case", w.ctx("nobody"))
    assert (rows, total) == ([], 0)
    # A context with no user and no superuser flag may read nothing.
    rows, total = await w.svc.list("case", RecordContext(w.rt.config))
    assert total == 0


async def test_writes_outside_scope_are_not_found_and_without_grant_forbidden(world):
    w = world
    theirs = await w.svc.create("case", w.case(unit="TT3"), w.ctx("other"))
    with pytest.raises(NotFound):
        await w.svc.update("case", theirs["id"], {"note": "x"}, 1, w.ctx("staff"))
    with pytest.raises(NotFound):
        await w.svc.delete("case", theirs["id"], "x", 1, w.ctx("director"))
    mine = await w.svc.create("case", w.case(), w.ctx("staff"))
    with pytest.raises(Forbidden):  # may read it, may not delete it
        await w.svc.delete("case", mine["id"], "duplicate", 1, w.ctx("staff"))
    # Moving a record to a unit outside one's scope is refused naming the unit, and nothing changes.
    with pytest.raises(ValidationError) as exc:
        await w.svc.update("case", mine["id"], {"unit": w.units["TT3"]}, 1, w.ctx("director"))
    assert exc.value.problems == [("unit", "is outside the units you work for")]
    assert (await w.svc.get("case", mine["id"], w.ctx("staff")))["unit"] == w.units["TT"]
    moved = await w.svc.update("case", mine["id"], {"unit": w.units["TT2"]}, 1, w.ctx("director"))
    assert moved["unit"] == w.units["TT2"]
    with pytest.raises(NotFound):  # now outside centre one
        await w.svc.get("case", mine["id"], w.ctx("staff"))


async def test_assigned_scope_follows_the_performer_account(world):
    w = world
    uid = await w.add_user("lawyer", "performer_role", "TT")
    perf = await w.svc.create("performer", {"name": "Luật sư Minh", "unit": w.units["TT"], "account": uid},
                              w.ctx("director"))
    assigned = await w.svc.create("case", w.case(performer=perf["id"]), w.ctx("director"))
    other = await w.svc.create("case", w.case(), w.ctx("director"))
    rows, total = await w.svc.list("case", w.ctx("lawyer"))
    assert [r["id"] for r in rows] == [assigned["id"]] and total == 1
    with pytest.raises(NotFound):
        await w.svc.get("case", other["id"], w.ctx("lawyer"))
    # requester is read-only for performers; an unchanged value may be sent back.
    with pytest.raises(ValidationError) as exc:
        await w.svc.update("case", assigned["id"], {"requester": "Người khác"}, 1, w.ctx("lawyer"))
    assert exc.value.problems == [("requester", "you may not change this field")]
    rec = await w.svc.update("case", assigned["id"], {"requester": "Nguyễn Văn An", "note": "đã gặp"}, 1,
                             w.ctx("lawyer"))
    assert rec["note"] == "đã gặp"


async def test_hidden_fields_are_not_shown_searched_or_written(world):
    w = world
    rec = await w.svc.create("case", w.case(secret_note="bí mật quốc gia"), w.ctx("director"))
    assert rec["secret_note"] == "bí mật quốc gia"
    staff = w.ctx("staff")
    assert "secret_note" not in await w.svc.get("case", rec["id"], staff)
    rows, _ = await w.svc.list("case", staff)
    assert "secret_note" not in rows[0]
    assert (await w.svc.list("case", w.ctx("director"), search="bi mat"))[1] == 0, "never in the search text"
    for call in (w.svc.create("case", w.case(secret_note="x"), staff),
                 w.svc.update("case", rec["id"], {"secret_note": "x"}, 1, staff)):
        with pytest.raises(ValidationError) as exc:
            await call
        assert exc.value.problems == [("secret_note", "you may not write this field")]
    with pytest.raises(ValidationError) as exc:
        await w.svc.list("case", staff, filters={"secret_note": "bí mật quốc gia"})
    assert exc.value.problems == [("filters.secret_note", "is not a field of this record")]
    with pytest.raises(ValidationError):
        await w.svc.list("case", staff, sort="secret_note")
    history = await w.svc.history("case", rec["id"], staff)
    assert "secret_note" not in history[0]["changes"] and "requester" in history[0]["changes"]


async def test_read_only_fields_are_refused_on_update(world):
    w = world
    rec = await w.svc.create("case", w.case(), w.ctx("staff"))  # received_on is read-only for staff on update
    with pytest.raises(ValidationError) as exc:
        await w.svc.update("case", rec["id"], {"received_on": "2025-03-04"}, 1, w.ctx("staff", lang="vi"))
    assert exc.value.problems == [("received_on", "bạn không có quyền sửa trường này")]
    ok = await w.svc.update("case", rec["id"], {"received_on": "2025-03-03", "note": "x"}, 1, w.ctx("staff"))
    assert ok["sys_version"] == 2
    assert (await w.svc.update("case", rec["id"], {"received_on": "2025-03-04"}, 2, w.ctx("director")))[
        "received_on"].isoformat() == "2025-03-04"
