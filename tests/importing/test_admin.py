"""The admin's import page: upload, preview of problems by row and column, confirm, progress, result; scoped to
the units where the user may create, and only for users who may create. The import runs as a background job, so
preview, confirmation and progress may reach different processes."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
from pathlib import Path

import pytest

from tests.admin.conftest import AdminClient, serving

FIELDS = ["received_on", "request_channel", "requester_name", "beneficiary_groups", "field_of_law", "form_of_aid",
          "unit"]


@pytest.fixture(autouse=True)
def _quick_jobs(monkeypatch, tmp_path):
    monkeypatch.setenv("HOSO_JOBS_POLL_SECONDS", "0.05")
    monkeypatch.setenv("HOSO_IMPORTS_DIR", str(tmp_path / "imports"))


def _file(rt, rows: list[dict]) -> bytes:
    """Cases as a centre's spreadsheet: Vietnamese labels, option labels, unit codes, dd/mm/yyyy."""
    entity = rt.config.entity("case")
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow([entity.field(n).label.vi for n in FIELDS])
    for row in rows:
        line = []
        for n in FIELDS:
            fd, v = entity.field(n), row[n]
            if fd.list:
                labels = {o.value: o.label.vi for o in rt.config.choice_list(fd.list).options}
                v = "; ".join(labels[x] for x in v) if isinstance(v, list) else labels[v]
            line.append(v)
        w.writerow(line)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _case(unit: str, name: str) -> dict:
    return {"received_on": "04/03/2025", "request_channel": "in_person", "requester_name": name,
            "beneficiary_groups": ["HN"], "field_of_law": "DS", "form_of_aid": "TV", "unit": unit}


async def _count(admin) -> int:
    return int(await admin.web.rt.db.fetchval('SELECT COUNT(*) AS n FROM "case"'))


async def test_import_page_previews_then_imports_with_progress(admin):
    client = admin.client
    assert (await client.get("/admin/hoso/import/")).status_code == 401
    assert (await admin.login("tt01.staff")).status_code == 200
    csrf = await admin.csrf()
    page = await client.get("/admin/hoso/import/")
    assert page.status_code == 200 and 'value="case"' in page.text
    data = _file(admin.web.rt, [_case("TT-01", "Phạm Thị Dung"), _case("TT-02", "Người tỉnh khác")])
    before = await _count(admin)
    r = await client.post("/admin/hoso/import/preview", data={"entity": "case", "key": "", "csrftoken": csrf},
                          files={"file": ("ho-so.csv", data, "text/csv")})
    assert r.status_code == 200, r.text
    problems = re.findall(r"<tr><td>(\d+)</td><td>([^<]*)</td>", r.text)
    assert problems == [("3", "Đơn vị thụ lý")]
    assert await _count(admin) == before  # the preview wrote nothing
    token = re.search(r'name="token" value="([^"]+)"', r.text).group(1)

    # bad rows not skipped: nothing is written
    r = await client.post("/admin/hoso/import/run", data={"token": token, "csrftoken": csrf})
    assert r.status_code == 200
    result = await _finished(admin, token)
    assert "hoso-import-problems" in result and await _count(admin) == before

    r = await client.post("/admin/hoso/import/preview", data={"entity": "case", "csrftoken": csrf},
                          files={"file": ("ho-so.csv", data, "text/csv")})
    token = re.search(r'name="token" value="([^"]+)"', r.text).group(1)
    r = await client.post("/admin/hoso/import/run", data={"token": token, "skip_bad": "1", "csrftoken": csrf})
    assert r.status_code == 200 and "hoso-import" in r.text
    result = await _finished(admin, token)
    assert "Đã nhập xong" in result
    assert await _count(admin) == before + 1
    entry = await admin.web.rt.db.fetch("SELECT actor, changes FROM hoso_audit WHERE action = 'import'")
    assert len(entry) == 1 and entry[-1]["actor"] == "tt01.staff"  # the refused run wrote nothing
    assert json.loads(entry[-1]["changes"])["@file"] == "ho-so.csv"

    # the token is the account's own
    await admin.login("tt01.director")
    assert (await client.get(f"/admin/hoso/import/status?token={token}")).status_code == 410
    # an account that may create nothing has no import page
    await admin.login("thong.ke")
    csrf = await admin.csrf()
    assert (await client.get("/admin/hoso/import/")).status_code == 404
    r = await client.post("/admin/hoso/import/preview", data={"entity": "case", "csrftoken": csrf},
                          files={"file": ("ho-so.csv", data, "text/csv")})
    assert r.status_code == 404 and await _count(admin) == before + 1


async def _previewed(admin, data: bytes) -> str:
    r = await admin.client.post("/admin/hoso/import/preview", data={"entity": "case", "csrftoken": await admin.csrf()},
                                files={"file": ("ho-so.csv", data, "text/csv")})
    assert r.status_code == 200, r.text
    return re.search(r'name="token" value="([^"]+)"', r.text).group(1)


async def test_preview_confirm_and_progress_may_reach_different_processes(admin, prepared, admin_db, tmp_path):
    """A second application process on the same database and folders: the file previewed on one is imported when
    confirmed on the other, and either shows the progress; of two confirmations, one starts the import."""
    await admin.login("tt01.staff")
    data = _file(admin.web.rt, [_case("TT-01", "Đỗ Văn Hải"), _case("TT-01", "Vũ Thị Lan")])
    before = await _count(admin)
    token = await _previewed(admin, data)
    assert [p.name for p in (tmp_path / "imports").iterdir()] != []  # kept for the confirmation, on disk
    async with serving(prepared.config, admin_db) as web:
        other = AdminClient(web, admin.seed)
        await other.login("tt01.staff")
        r = await other.client.post("/admin/hoso/import/run", data={"token": token, "csrftoken": await other.csrf()})
        assert r.status_code == 200, r.text
        again = await admin.client.post("/admin/hoso/import/run", data={"token": token,
                                                                         "csrftoken": await admin.csrf()})
        assert again.status_code == 410
        result = await _finished(admin, token)
    assert "Đã nhập xong" in result and await _count(admin) == before + 2
    assert list((tmp_path / "imports").iterdir()) == []  # the file goes once imported


async def test_an_unconfirmed_preview_expires_and_its_file_goes(admin, tmp_path):
    from hoso.jobs import job
    from hoso.plugin_types import Job
    from hoso.plugins.jobs import run_import

    await admin.login("tt01.staff")
    token = await _previewed(admin, _file(admin.web.rt, [_case("TT-01", "Đỗ Văn Hải")]))
    row = await job(admin.web.rt.db, int(token))
    assert row["state"] == "pending" and row["run_at"] > row["created_at"]  # held back: not run before confirmed
    payload = json.loads(row["payload"])
    outcome = await run_import(admin.web.rt, Job(row["id"], row["kind"], payload, 1, None, row["user_id"]))
    assert outcome == {"expired": True} and not Path(tmp_path / "imports" / payload["staged"]).exists()
    for bad in (token + "0" * 20, str(2 ** 31), str(2 ** 63), "-1", "1e3"):
        r = await admin.client.get(f"/admin/hoso/import/status?token={bad}")
        assert r.status_code == 410, bad


async def _finished(admin, token: str) -> str:
    for _ in range(600):
        status = await admin.client.get(f"/admin/hoso/import/status?token={token}")
        assert status.status_code == 200, status.text
        if status.json()["finished"]:
            break
        await asyncio.sleep(0.05)
    page = await admin.client.get(f"/admin/hoso/import/job?token={token}")
    assert page.status_code == 200
    return page.text


async def test_upload_boundaries_answer_with_a_message(admin, monkeypatch):
    await admin.login("tt01.staff")
    client = admin.client
    csrf = await admin.csrf()
    r = await client.post("/admin/hoso/import/preview", data={"entity": "case", "csrftoken": csrf})
    assert r.status_code == 400 and "chưa chọn tệp" in r.text
    r = await client.post("/admin/hoso/import/preview", data={"entity": "case", "csrftoken": csrf},
                          files={"file": ("x.csv", b"", "text/csv")})
    assert r.status_code == 400 and "tệp trống" in r.text
    r = await client.post("/admin/hoso/import/preview", data={"entity": "nope", "csrftoken": csrf},
                          files={"file": ("x.csv", b"a\r\n1\r\n", "text/csv")})
    assert r.status_code == 404
    monkeypatch.setenv("HOSO_IMPORT_MAX_BYTES", "1000")
    r = await client.post("/admin/hoso/import/preview", data={"entity": "case", "csrftoken": csrf},
                          files={"file": ("x.csv", b"a\r\n" + b"1\r\n" * 1000, "text/csv")})
    assert r.status_code == 413 and "HOSO_IMPORT_MAX_BYTES" in r.text
    r = await client.post("/admin/hoso/import/run", data={"token": "made-up", "csrftoken": csrf})
    assert r.status_code == 410
    r = await client.post("/admin/hoso/import/preview", data={"entity": "case", "csrftoken": csrf},
                          files={"file": ("x.xlsx", b"PK\x03\x04broken", "application/octet-stream")},
                          headers={"Origin": "http://evil.example"})
    assert r.status_code == 403
