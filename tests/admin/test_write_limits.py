"""The admin's write surface is bounded like the API: request bodies up to the API's limit, staged uploads only
for fields the account may write, up to the field's limit, within a per-account quota, expiring."""

from __future__ import annotations

import json
import os
import time

import anyio
import pytest

from tests.admin.test_writes import PDF, new_case

BIG = 10_000_000 + 1  # Litestar's request_max_body_size, which the API answers with 413


@pytest.fixture
def staging(tmp_path, monkeypatch):
    path = tmp_path / "staging"
    monkeypatch.setenv("HOSO_ADMIN_STAGING_DIR", str(path))
    return path


async def _upload(admin, name="hồ sơ.pdf", content=PDF, table="case", column="scanned_file"):
    return await admin.client.post("/admin/api/media/", data={"table_name": table, "column_name": column},
                                   files={"file": (name, content, "application/pdf")},
                                   headers={"X-CSRFToken": await admin.csrf()})


async def _streamed(admin, method: str, path: str, body: bytes, chunk: int = 1_000_000) -> tuple[int, str]:
    """Send ``body`` in chunks without a Content-Length, straight to the application (ASGI)."""
    cookies = "; ".join(f"{k}={v}" for k, v in admin.client.cookies.items())
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "server": ("testserver.local", 80), "client": ("127.0.0.1", 5000),
             "headers": [(b"host", b"testserver.local"), (b"content-type", b"application/json"),
                         (b"cookie", cookies.encode()), (b"x-csrftoken", (await admin.csrf()).encode()),
                         (b"origin", b"http://testserver.local")]}
    parts = [body[i:i + chunk] for i in range(0, len(body), chunk)]
    sent: list[dict] = []

    async def receive():
        if parts:
            return {"type": "http.request", "body": parts.pop(0), "more_body": bool(parts)}
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    # in the test client's event loop, where the application's database pool lives
    await anyio.to_thread.run_sync(admin.client.blocking_portal.call, admin.web.app, scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body").decode()


async def test_bodies_over_the_api_limit_are_refused_and_nothing_is_stored(admin):
    seed = admin.seed
    await admin.login("tt01.staff")
    before = await admin.web.count("case")
    body = json.dumps(new_case(seed, summary="x" * BIG)).encode()
    r = await admin.client.post("/admin/api/tables/case/", content=body,
                                headers={"X-CSRFToken": await admin.csrf(), "content-type": "application/json"})
    assert r.status_code == 413, r.text[:200]
    assert "10 MB" in r.json()["detail"]

    # no Content-Length: the limit holds on the bytes received
    status, answer = await _streamed(admin, "PATCH", f"/admin/api/tables/case/{seed.cases['ha_noi']}/", body)
    assert status == 413 and "10 MB" in json.loads(answer)["detail"], answer[:200]
    assert await admin.web.count("case") == before
    assert await admin.web.rt.db.fetchval('SELECT sys_version FROM "case" WHERE id = {}', seed.cases["ha_noi"]) == 1
    # under the limit, the same write works
    r = await admin.send("POST", "/tables/case/", new_case(seed, summary="x" * 1000))
    assert r.status_code == 201, r.text


async def test_only_accounts_that_may_write_the_field_stage_files(admin, staging):
    assert (await _upload(admin)).status_code == 401  # not logged in
    await admin.web.user("khong.vai.tro", unit_code="TT-01")  # an account with no role
    for username in ("khong.vai.tro", "thong.ke"):  # no role; a statistician, who writes nothing
        await admin.login(username)
        r = await _upload(admin)
        assert r.status_code == 403, (username, r.text)
        assert "không có quyền" in r.json()["detail"]
    assert not list(staging.glob("*"))
    await admin.login("tt01.staff")
    r = await _upload(admin, column="summary")  # not an attachment field
    assert r.status_code == 403, r.text
    r = await _upload(admin)
    assert r.status_code == 200 and r.json()["file_key"].startswith("upload:")


async def test_staged_files_are_bounded_by_the_field_limit_and_the_quota(admin, staging, monkeypatch):
    await admin.login("tt01.staff")
    # the field's limit (scanned_file: 4 GB): an announced larger body is refused before it is read
    r = await admin.client.post("/admin/api/media/", content=b"x",
                                headers={"X-CSRFToken": await admin.csrf(), "content-length": str(5 * 1000 ** 3),
                                         "content-type": "multipart/form-data; boundary=x"})
    assert r.status_code == 413, r.text
    # a per-account quota of staged bytes and files
    monkeypatch.setenv("HOSO_ADMIN_STAGING_MAX_BYTES", str(3 * len(PDF)))
    monkeypatch.setenv("HOSO_ADMIN_STAGING_MAX_FILES", "3")
    for _ in range(2):
        assert (await _upload(admin)).status_code == 200
    r = await _upload(admin, content=PDF * 2)
    assert r.status_code == 413 and "chưa lưu" in r.json()["detail"], r.text
    assert (await _upload(admin)).status_code == 200
    r = await _upload(admin, content=b"%PDF-1.4\n")
    assert r.status_code == 429, r.text
    assert len(list(staging.glob("*.json"))) == 3
    # another account has its own quota
    await admin.login("tt01.director")
    assert (await _upload(admin)).status_code == 200


async def test_staged_files_expire(admin, staging, monkeypatch):
    seed = admin.seed
    await admin.login("tt01.staff")
    key = (await _upload(admin)).json()["file_key"]
    meta = staging / (key.split(":", 1)[1] + ".json")
    info = json.loads(meta.read_text())
    info["at"] = time.time() - 25 * 3600  # staged more than a day ago (HOSO_ADMIN_STAGING_HOURS=24)
    meta.write_text(json.dumps(info))
    r = await admin.send("PATCH", f"/tables/case/{seed.cases['ha_noi']}/", {"scanned_file": key, "sys_version": 1})
    assert r.status_code in (200, 422)
    assert await admin.web.count("hoso_attachment") == 0
    # the next upload cleans it away
    assert (await _upload(admin)).status_code == 200
    assert not meta.exists() and not meta.with_suffix("").exists()
    assert len(list(staging.glob("*.json"))) == 1
    assert os.environ["HOSO_ADMIN_STAGING_DIR"] == str(staging)
