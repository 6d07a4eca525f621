"""Attachments over HTTP: streamed upload, download with its digest, the size limit, scope."""

from __future__ import annotations

import hashlib

import httpx

CASES = "/api/records/case"
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 3 + b"\n%%EOF\n"  # under the 1 KB limit of the test entity


def _files(root) -> list:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


class _Chunked(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A body in pieces, sent without a Content-Length (chunked). httpx's AsyncClient wants an async stream
    and Litestar's test transport reads a synchronous one, so this is both."""

    def __init__(self, data: bytes, size: int):
        self.data, self.size = data, size

    def __iter__(self):
        for i in range(0, len(self.data), self.size):
            yield self.data[i:i + self.size]

    async def __aiter__(self):
        for piece in self:
            yield piece


async def _put_chunked(api, url: str, user: str, data: bytes, size: int = 100, **params):
    request = httpx.Request("PUT", api.client.base_url.join(url), params=params, stream=_Chunked(data, size),
                            headers={**api.auth(user), "content-type": "application/pdf",
                                     "transfer-encoding": "chunked"})
    return await api.client.send(request)


async def test_upload_and_download_roundtrip(api):
    c = await api.create_case("staff1")
    url = f"{CASES}/{c['id']}/attachments/scan"
    r = await _put_chunked(api, url, "staff1", PDF, filename="đơn yêu cầu.pdf")
    assert r.status_code == 201, r.text
    info = r.json()
    digest = hashlib.sha256(PDF).hexdigest()
    assert info["sha256"] == digest and info["size"] == len(PDF)
    r = await api.req("GET", url + "/download", "staff1")
    assert r.status_code == 200, r.text
    assert r.content == PDF
    assert r.headers["content-type"].startswith("application/pdf")
    assert r.headers["digest"] == f"sha-256={digest}"
    assert "filename*=UTF-8''" in r.headers["content-disposition"]
    # the record now points at the file, and the upload is audited
    r = await api.req("GET", f"{CASES}/{c['id']}", "staff1")
    assert r.json()["scan"] == info["id"]
    r = await api.req("GET", url, "staff1")
    assert [i["id"] for i in r.json()] == [info["id"]]
    rows = await api.audit(entity="case", record_id=c["id"])
    assert any("attach" in a["action"] or "upload" in a["action"] for a in rows), rows
    # a wrong checksum is refused and leaves nothing
    before = _files(api.files)
    r = await api.req("PUT", url, "staff1", params={"filename": "x.pdf", "sha256": "0" * 64}, content=PDF,
                      headers={"content-type": "application/pdf"})
    assert r.status_code == 422, r.text
    assert _files(api.files) == before


async def test_upload_over_the_limit_is_413_and_leaves_no_file(api):
    c = await api.create_case("staff1")
    url = f"{CASES}/{c['id']}/attachments/scan"
    big = b"%PDF-1.4\n" + b"0" * 4096
    # with a Content-Length (refused before reading) and streamed without one (refused while reading)
    for chunked in (False, True):
        if chunked:
            r = await _put_chunked(api, url, "staff1", big, 512, filename="big.pdf")
        else:
            r = await api.req("PUT", url, "staff1", params={"filename": "big.pdf"}, content=big,
                              headers={"content-type": "application/pdf"})
        assert r.status_code == 413, r.text
        assert r.json()["errors"][0]["field"] == "scan"
        assert _files(api.files) == []
    assert await api.count("hoso_attachment") == 0
    r = await api.req("GET", f"{CASES}/{c['id']}", "staff1")
    assert r.json()["scan"] is None and r.json()["sys_version"] == c["sys_version"]
    # a type the entity does not accept
    r = await api.req("PUT", url, "staff1", params={"filename": "a.txt"}, content=b"hello",
                      headers={"content-type": "text/plain"})
    assert r.status_code in (415, 422), r.text
    assert _files(api.files) == []


async def test_attachments_out_of_scope_are_404(api):
    c = await api.create_case("staff1")
    url = f"{CASES}/{c['id']}/attachments/scan"
    r = await api.req("PUT", url, "staff1", params={"filename": "a.pdf"}, content=PDF,
                      headers={"content-type": "application/pdf"})
    assert r.status_code == 201, r.text
    files = _files(api.files)
    for user in ("staff2", "stats", "lawyer"):
        assert (await api.req("GET", url + "/download", user)).status_code == 404, user
        assert (await api.req("GET", url, user)).status_code == 404, user
        r = await api.req("PUT", url, user, params={"filename": "b.pdf"}, content=PDF,
                          headers={"content-type": "application/pdf"})
        assert r.status_code in (403, 404), (user, r.text)
    assert _files(api.files) == files
    assert await api.count("hoso_attachment") == 1
    # no token, no file
    r = await api.client.get(url + "/download")
    assert r.status_code == 401
