"""The admin's approval pages over HTTP, on both engines: the list by state and period, submit (centre), return
with a comment and approve (province, ministry), unlock with a reason, each step's history in Asia/Ho_Chi_Minh;
buttons only for what the user may do, and forged or token-less POSTs refused with a message, changing nothing."""

from __future__ import annotations

import datetime as dt
import re

from hoso.records.context import LOCAL_ZONE
from tests.reports.approval_setup import engine_deployment  # noqa: F401  (fixture)
from tests.web.conftest import PASSWORD

PAGE = "/admin/hoso/approvals/"


class Admin:
    """One browser-like admin client of the deployment: the session and CSRF cookies, forms posted with the token."""

    def __init__(self, d):
        self.d = d
        self.client = d.web.client

    async def csrf(self) -> str:
        if not self.client.cookies.get("csrftoken"):
            await self.client.get("/admin/")
        return self.client.cookies["csrftoken"]

    async def login(self, user: str) -> None:
        self.client.cookies.delete("hoso_session")
        r = await self.client.post("/admin/public/login/", json={"username": user, "password": PASSWORD},
                                   headers={"X-CSRFToken": await self.csrf()})
        assert r.status_code == 200, r.text

    async def page(self, path: str = "", **params):
        return await self.client.get(PAGE + path, params=params)

    async def post(self, path: str, data: dict, token: bool = True):
        body = {**data, **({"csrftoken": await self.csrf()} if token else {})}
        return await self.client.post(PAGE + path, data=body, headers={"Origin": "http://testserver.local"},
                                      follow_redirects=False)


async def _state(d, sid: int) -> tuple:
    row = (await d.web.rt.db.fetch("SELECT status, level, version FROM hoso_report_submission WHERE id = {}", sid))[0]
    steps = await d.web.rt.db.fetchval("SELECT COUNT(*) AS n FROM hoso_report_step WHERE submission_id = {}", sid)
    return row["status"], int(row["level"]), int(row["version"]), int(steps)


def _forms(html: str) -> set[str]:
    return set(re.findall(r'id="hoso-approval-(approve|return|unlock|resubmit|submit)"', html))


async def test_submit_return_approve_and_unlock_through_the_admin_pages(engine_deployment):  # noqa: F811
    d = engine_deployment
    await d.create_case("dir1", "TT", received_on="2025-02-02")
    await d.create_case("dir1", "TT", received_on="2025-03-03", form_of_aid="TGTT", procedural_stage="investigation")
    a = Admin(d)

    # the centre's director: an empty list, and the submit form for the centre only
    await a.login("dir1")
    r = await a.page()
    assert r.status_code == 200 and "Phê duyệt báo cáo" in r.text and 'id="hoso-approval-empty"' in r.text
    assert _forms(r.text) == {"submit"}
    assert '<option value="TT">' in r.text and '<option value="TT2">' not in r.text
    # a bad period: a 422 naming it, nothing stored
    r = await a.post("submit", {"report": "cases_by_form", "unit": "TT", "period": "2025-H9"})
    assert r.status_code == 422 and "2025-H9" in r.text and 'id="hoso-approval-error"' in r.text
    # a forged unit: refused with the API's message
    r = await a.post("submit", {"report": "cases_by_form", "unit": "TT3", "period": "2025-H1"})
    assert r.status_code == 403 and "TT3" in r.text
    # without the CSRF token: refused by the admin's CSRF check
    r = await a.post("submit", {"report": "cases_by_form", "unit": "TT", "period": "2025-H1"}, token=False)
    assert r.status_code == 403
    assert await d.count("hoso_report_submission") == 0
    r = await a.post("submit", {"report": "cases_by_form", "unit": "TT", "period": "2025-H1",
                                "comment": "báo cáo 6 tháng"})
    assert r.status_code == 303, r.text
    sid = int(r.headers["location"].split("/")[-1].split("?")[0])
    r = await a.client.get(r.headers["location"])
    assert "Đã gửi báo cáo." in r.text and "Đã gửi</span>" in r.text
    assert _forms(r.text) == set()  # the centre neither approves nor returns its own report
    before = await _state(d, sid)
    r = await a.post(f"{sid}/approve", {"comment": "tự duyệt", "version": before[2]})
    assert r.status_code == 403 and "bạn không có quyền phê duyệt ở cấp province cho đơn vị TT" in r.text
    assert await _state(d, sid) == before

    # the other province sees nothing of it
    await a.login("prov2")
    assert 'data-id="' not in (await a.page()).text
    assert (await a.page(str(sid))).status_code == 404
    r = await a.post(f"{sid}/approve", {"version": before[2]})
    assert r.status_code == 404 and await _state(d, sid) == before

    # the province: approve and return, not unlock; returning needs a comment
    await a.login("prov1")
    r = await a.page(status="submitted")
    assert f'data-id="{sid}"' in r.text and _forms(r.text) == set()  # a province submits nothing
    assert f'data-id="{sid}"' not in (await a.page(status="approved")).text
    assert f'data-id="{sid}"' not in (await a.page(period="2025-H2")).text
    r = await a.page(str(sid))
    assert _forms(r.text) == {"approve", "return"}
    r = await a.post(f"{sid}/return", {"comment": "  ", "version": before[2]})
    assert r.status_code == 422 and await _state(d, sid) == before
    r = await a.post(f"{sid}/unlock", {"reason": "sai", "version": before[2]})
    assert r.status_code == 409 and await _state(d, sid) == before  # nothing is locked yet
    r = await a.post(f"{sid}/approve", {"version": 99})
    assert r.status_code == 409 and await _state(d, sid) == before  # a stale version
    r = await a.post(f"{sid}/return", {"comment": "thiếu vụ việc tháng 6", "version": before[2]})
    assert r.status_code == 303
    assert (await _state(d, sid))[0] == "returned"

    # the centre corrects and submits again from the submission's page
    await a.login("dir1")
    await d.create_case("dir1", "TT", received_on="2025-06-20")
    r = await a.page(str(sid))
    assert _forms(r.text) == {"resubmit"} and "thiếu vụ việc tháng 6" in r.text
    r = await a.post("submit", {"report": "cases_by_form", "unit": "TT", "period": "2025-H1", "structure": "recorded",
                                "as_of": "", "comment": "đã bổ sung"})
    assert r.status_code == 303 and (await _state(d, sid))[0] == "submitted"

    # the province approves (and locks), then cannot unlock; the ministry approves, then unlocks with a reason
    await a.login("prov1")
    r = await a.post(f"{sid}/approve", {"comment": "đồng ý"})
    assert r.status_code == 303
    r = await a.page(str(sid))
    assert _forms(r.text) == set() and "Đã phê duyệt</span>" in r.text
    locked = await _state(d, sid)
    r = await a.post(f"{sid}/unlock", {"reason": "cần sửa"})
    assert r.status_code == 403 and "chỉ cấp ministry trở lên mới được mở khóa" in r.text
    assert await _state(d, sid) == locked
    await a.login("min")
    r = await a.page(str(sid))
    assert _forms(r.text) == {"approve", "return", "unlock"}
    r = await a.post(f"{sid}/approve", {"comment": "đạt"})
    assert r.status_code == 303
    r = await a.page(str(sid))
    assert _forms(r.text) == {"unlock"}
    r = await a.post(f"{sid}/unlock", {"reason": " "})
    assert r.status_code == 422 and "phải ghi lý do mở khóa" in r.text
    r = await a.post(f"{sid}/unlock", {"reason": "sai số liệu tháng 3"})
    assert r.status_code == 303
    r = await a.client.get(r.headers["location"])
    assert "Đã mở khóa kỳ báo cáo." in r.text and "Đã mở khóa</span>" in r.text

    # the history: every step, who, when (dd/mm/yyyy HH:MM in Vietnam), what, at which level, with which comment
    steps = await d.web.rt.db.fetch("SELECT action, actor, comment, at FROM hoso_report_step WHERE submission_id = {} "
                                    "ORDER BY id", sid)
    assert [s["action"] for s in steps] == ["submit", "return", "submit", "approve", "approve", "unlock"]
    table = r.text.split('id="hoso-approval-steps"')[1].split("</table>")[0]
    rows = re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td></tr>", table)
    assert len(rows) == len(steps)
    for (when, who, _what, _level, comment), s in zip(rows, steps, strict=True):
        at = s["at"] if isinstance(s["at"], dt.datetime) else dt.datetime.fromisoformat(s["at"])
        at = at if at.tzinfo else at.replace(tzinfo=dt.UTC)
        assert when == at.astimezone(LOCAL_ZONE).strftime("%d/%m/%Y %H:%M")
        assert (who, comment) == (s["actor"], s["comment"])
    assert [r[2] for r in rows] == ["Gửi", "Trả lại", "Gửi", "Phê duyệt", "Phê duyệt", "Mở khóa"]
    assert rows[-1][3] == "Bộ" and rows[1][3] == "Tỉnh"
    audit = await d.web.rt.db.fetch("SELECT action, actor FROM hoso_audit WHERE entity = 'report_submission' "
                                    "AND record_id = {} ORDER BY id", sid)
    assert [(x["action"], x["actor"]) for x in audit][-1] == ("report_unlock", "min")

    # the snapshot: the numbers as submitted, its hash shown
    snapshot_id = await d.web.rt.db.fetchval("SELECT snapshot_id FROM hoso_report_submission WHERE id = {}", sid)
    r = await a.page(f"snapshot/{snapshot_id}")
    assert r.status_code == 200 and 'id="hoso-snapshot-table"' in r.text
    total = r.text.split('<tr class="total">')[1].split("</tr>")[0]
    assert '<td class="n">3</td>' in total
    digest = await d.web.rt.db.fetchval("SELECT content_hash FROM hoso_report_snapshot WHERE id = {}", snapshot_id)
    assert digest in r.text
    await a.login("prov2")
    assert (await a.page(f"snapshot/{snapshot_id}")).status_code == 404
    assert (await a.page("99999999999999999999")).status_code == 404


async def test_the_pages_need_a_session_and_a_reporting_role(engine_deployment):  # noqa: F811
    d = engine_deployment
    a = Admin(d)
    r = await a.page()
    assert r.status_code == 401
    r = await a.post("1/approve", {})
    assert r.status_code in (401, 403)
    await a.login("stat")  # statistics only: runs reports, sees no submission
    r = await a.page()
    assert r.status_code == 200 and _forms(r.text) == set()
    r = await a.page(status="lost")
    assert r.status_code == 400 and "lost" in r.text
    r = await a.post("1/dance", {})
    assert r.status_code == 404
