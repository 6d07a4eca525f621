"""The admin writes under the same rules as the API: child rows edited in place, the intake form's conditions,
cross-field and unit-type rules, read-only states, steps and history by record id, CSV export by grant."""

from __future__ import annotations


async def _hearings(admin, case):
    return [dict(r) for r in await admin.web.rt.db.fetch(
        "SELECT id, held_on, note FROM case__hearings WHERE parent_id = {} ORDER BY position", case)]


async def test_editing_one_hearing_keeps_the_other_hearings_ids(admin):
    case = admin.seed.cases["ha_noi"]
    await admin.login("tt01.staff")
    for day in ("2025-04-01", "2025-05-01", "2025-06-01"):
        r = await admin.send("POST", "/tables/case__hearings/", {"parent_id": case, "held_on": day})
        assert r.status_code == 201, r.text
    before = await _hearings(admin, case)
    assert len(before) == 3
    r = await admin.send("PATCH", f"/tables/case__hearings/{before[1]['id']}/", {"note": "Hoãn phiên tòa"})
    assert r.status_code == 200 and r.json()["id"] == before[1]["id"], r.text
    after = await _hearings(admin, case)
    assert [h["id"] for h in after] == [h["id"] for h in before]
    assert [h["note"] for h in after] == [None, "Hoãn phiên tòa", None]
    r = await admin.send("DELETE", f"/tables/case__hearings/{before[0]['id']}/")
    assert r.status_code == 204, r.text
    assert [h["id"] for h in await _hearings(admin, case)] == [before[1]["id"], before[2]["id"]]
    r = await admin.send("POST", "/tables/case__hearings/", {"parent_id": case, "held_on": "2025-07-01"})
    new_id = r.json()[0]["id"]
    assert [h["id"] for h in await _hearings(admin, case)] == [before[1]["id"], before[2]["id"], new_id]
