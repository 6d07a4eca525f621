"""``GET /api/units?on=``: the unit tree of a date, before and after a dated restructuring (both engines)."""

from __future__ import annotations

from hoso.restructure import apply

MOVE = """restructuring: move-tt2
effective: 2025-07-01
label: {vi: Chuyển trung tâm}
operations:
  - move: {unit: TT2, to: P02}
  - merge: {units: [TT3], into: TT2}
"""


async def test_the_tree_of_a_date(api, api_config):
    path = api_config.root / "roles_config/restructurings/move.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(MOVE, encoding="utf-8")
    await apply(api.web.rt, path, applied_by="test")

    async def tree(on: str) -> dict[str, str | None]:
        r = await api.req("GET", f"/api/units?on={on}", "staff1")
        assert r.status_code == 200, r.text
        assert r.json()["on"] == on
        return {u["code"]: u["parent_code"] for u in r.json()["units"]}

    assert await tree("2025-06-30") == {"P01": None, "P02": None, "TT": "P01", "TT2": "P01", "TT3": "P02"}
    assert await tree("2025-07-01") == {"P01": None, "P02": None, "TT": "P01", "TT2": "P02"}
    assert await tree("2019-01-01") == await tree("2025-06-30")
    assert await tree("2018-12-31") == {}
    r = await api.req("GET", "/api/units", "staff1")
    assert r.status_code == 200 and "TT3" not in {u["code"] for u in r.json()["units"]}


async def test_a_bad_date_is_refused_and_strangers_are_not_answered(api):
    for bad in ("2025-13-01", "yesterday", "2025-02-30"):
        r = await api.req("GET", f"/api/units?on={bad}", "staff1")
        assert r.status_code == 400, r.text
        body = r.json()
        assert body["errors"][0]["field"] == "on" and bad in body["detail"] and "not a date" in body["detail"]
    r = await api.req("GET", "/api/units?on=2025-13-01", "staff1", headers={"Accept-Language": "vi"})
    assert "không phải là ngày" in r.json()["detail"]
    r = await api.client.get("/api/units")
    assert r.status_code == 401
