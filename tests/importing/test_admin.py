"""The admin's import page: upload, preview of problems by row and column, confirm, progress, result; scoped to
the units where the user may create, and only for users who may create."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re

FIELDS = ["received_on", "request_channel", "requester_name", "beneficiary_groups", "field_of_law", "form_of_aid",
          "unit"]


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
    await admin.web.rt.db.start()
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
