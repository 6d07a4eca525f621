"""Attachments: streamed upload and download, size limits without partial files, sha256 kept and verified,
allowed types per field, versions kept, downloads scope-checked, storage behind a hook."""

from __future__ import annotations

import hashlib
import os
import tracemalloc

import pytest

from hoso.plugins.storage import LocalStorage
from hoso.records.service import (
    AttachmentCorrupt,
    AttachmentTooLarge,
    Forbidden,
    NotFound,
    StaleVersion,
    ValidationError,
)
from tests.helpers import migrated_runtime
from tests.plugins import postcode

PDF = b"%PDF-1.7\n" + b"scanned page\n" * 100


async def chunks(data: bytes, size: int = 64 * 1024):
    for i in range(0, len(data), size):
        yield data[i:i + size]


async def read_all(stream) -> bytes:
    return b"".join([c async for c in stream])


def stored_files(tmp_path) -> list[str]:
    root = tmp_path / "files"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def test_upload_download_and_versions(world, tmp_path):
    w = world
    rec = await w.svc.create("case", w.case(), w.ctx("staff"))
    info = await w.svc.upload("case", rec["id"], "scan", "../../etc/Hồ sơ.pdf", "application/pdf; charset=binary",
                              chunks(PDF), w.ctx("staff"), version=1, sha256=hashlib.sha256(PDF).hexdigest())
    assert (info.version, info.size, info.sha256) == (1, len(PDF), hashlib.sha256(PDF).hexdigest())
    assert info.filename == "Hồ sơ.pdf" and info.content_type == "application/pdf" and info.record_version == 2
    current = await w.svc.get("case", rec["id"], w.ctx("staff"))
    assert current["scan"] == info.id and current["sys_version"] == 2
    meta, stream = await w.svc.download("case", rec["id"], "scan", w.ctx("director"))
    assert meta == info.__class__(**{**info.__dict__, "record_version": None}) and await read_all(stream) == PDF
    # Replacing the file keeps the old version.
    second = b"%PDF-1.7\nversion two"
    v2 = await w.svc.upload("case", rec["id"], "scan", "v2.pdf", "application/pdf", chunks(second), w.ctx("staff"))
    assert v2.version == 2
    assert await read_all((await w.svc.download("case", rec["id"], "scan", w.ctx("staff")))[1]) == second
    assert await read_all((await w.svc.download("case", rec["id"], "scan", w.ctx("staff"), version=1))[1]) == PDF
    assert [a.version for a in await w.svc.attachments("case", rec["id"], "scan", w.ctx("staff"))] == [2, 1]
    assert len(stored_files(tmp_path)) == 2
    with pytest.raises(StaleVersion):
        await w.svc.upload("case", rec["id"], "scan", "v3.pdf", "application/pdf", chunks(PDF), w.ctx("staff"),
                           version=1)
    with pytest.raises(NotFound):
        await w.svc.download("case", rec["id"], "scan", w.ctx("staff"), version=9)
    with pytest.raises(NotFound):
        await w.svc.download("case", rec["id"], "big_scan", w.ctx("staff"))


async def test_downloads_and_uploads_are_scope_checked(world, tmp_path):
    w = world
    rec = await w.svc.create("case", w.case(), w.ctx("staff"))
    await w.svc.upload("case", rec["id"], "scan", "a.pdf", "application/pdf", chunks(PDF), w.ctx("staff"))
    for user in ("other", "nobody"):
        with pytest.raises(NotFound):
            await w.svc.download("case", rec["id"], "scan", w.ctx(user))
        with pytest.raises(NotFound):
            await w.svc.attachments("case", rec["id"], "scan", w.ctx(user))
        with pytest.raises(NotFound):
            await w.svc.upload("case", rec["id"], "scan", "b.pdf", "application/pdf", chunks(PDF), w.ctx(user))
    assert await w.count("hoso_audit", "WHERE action = 'attachment.download'") == 0
    uid = await w.add_user("reader_only", "performer_role", "TT")  # a performer not assigned to this case
    assert uid
    with pytest.raises(NotFound):
        await w.svc.download("case", rec["id"], "scan", w.ctx("reader_only"))
    assert len(stored_files(tmp_path)) == 1


async def test_types_and_contents_are_checked(world, tmp_path):
    w = world
    rec = await w.svc.create("case", w.case(), w.ctx("staff"))
    staff = w.ctx("staff")
    cases = [
        ("scan", "a.exe", "application/x-msdownload", b"MZ...", "file type application/x-msdownload is not allowed"),
        ("big_scan", "a.png", "image/png", b"\x89PNG\r\n\x1a\n", "file type image/png is not allowed"),
        ("scan", "a.pdf", "application/pdf", b"<html>not a pdf</html>", "the file's content is not application/pdf"),
        ("scan", "a.png", "image/png", b"%PDF-1.7", "the file's content is not image/png"),
        ("scan", "empty.pdf", "application/pdf", b"", "the file is empty"),
        ("note", "a.pdf", "application/pdf", PDF, "is not an attachment field"),
        ("colour", "a.pdf", "application/pdf", PDF, "is not a field of this record"),
    ]
    for field, name, ctype, data, message in cases:
        with pytest.raises(ValidationError) as exc:
            await w.svc.upload("case", rec["id"], field, name, ctype, chunks(data), staff)
        ((where, said),) = exc.value.problems
        assert where == field and said.startswith(message), (name, exc.value.problems)
    with pytest.raises(ValidationError) as exc:
        await w.svc.upload("case", rec["id"], "scan", "a.pdf", "application/pdf", chunks(PDF), staff, sha256="00" * 32)
    assert exc.value.problems == [("scan", "the sha256 checksum does not match")]
    ok = await w.svc.upload("case", rec["id"], "scan", "photo.jpg", "image/jpeg", chunks(b"\xff\xd8\xff\xe0 jpeg"),
                            staff)
    assert ok.content_type == "image/jpeg"
    assert len(stored_files(tmp_path)) == 1, "refused files leave nothing behind"


async def test_uploads_need_update_on_the_record(world, records_config):
    w = world
    uid = await w.add_user("viewer", "performer_role", "TT")
    perf = await w.svc.create("performer", {"name": "LS", "unit": w.units["TT"], "account": uid}, w.ctx("director"))
    rec = await w.svc.create("case", w.case(performer=perf["id"]), w.ctx("director"))
    # The assigned performer may read and update the case, so may upload to it.
    info = await w.svc.upload("case", rec["id"], "scan", "a.pdf", "application/pdf", chunks(PDF), w.ctx("viewer"))
    assert info.uploaded_by == uid
    # A role that may read but not update the record may download, not upload.
    await w.rt.db.execute("UPDATE hoso_assignment SET role = 'reader' WHERE user_id = {}", w.users["clerk"])
    import dataclasses

    from hoso.config import GrantDef, Label, RoleDef

    reader = RoleDef("reader", Label("Đọc"), (GrantDef("case", ("read",), "subtree"),))
    config = dataclasses.replace(w.rt.config, roles=w.rt.config.roles + (reader,))
    from hoso.runtime import Runtime

    rt2 = Runtime.create(config, db=w.rt.db)
    svc2 = rt2.records()
    from hoso.records.service import RecordContext

    clerk = RecordContext(config, w.users["clerk"], "clerk", "test", "en")
    assert await read_all((await svc2.download("case", rec["id"], "scan", clerk))[1]) == PDF
    with pytest.raises(Forbidden):
        await svc2.upload("case", rec["id"], "scan", "b.pdf", "application/pdf", chunks(PDF), clerk)


async def test_over_the_limit_is_refused_without_a_partial_file(world, tmp_path):
    w = world
    rec = await w.svc.create("case", w.case(), w.ctx("staff"))
    big = b"%PDF-1.7\n" + b"x" * (1_000_000)  # the scan field allows 1 MB
    with pytest.raises(AttachmentTooLarge) as exc:
        await w.svc.upload("case", rec["id"], "scan", "big.pdf", "application/pdf", chunks(big), w.ctx("staff"))
    assert exc.value.limit == 1_000_000
    assert exc.value.problems == [("scan", "the file is larger than the limit of 1 MB")]
    assert stored_files(tmp_path) == []
    assert not any((tmp_path / "files").rglob("*.part")) if (tmp_path / "files").exists() else True
    assert await w.count("hoso_attachment") == 0
    assert (await w.svc.get("case", rec["id"], w.ctx("staff")))["sys_version"] == 1
    # Refused before reading anything when the size is declared.

    async def never():
        raise AssertionError("the stream must not be read")
        yield b""  # pragma: no cover

    with pytest.raises(AttachmentTooLarge):
        await w.svc.upload("case", rec["id"], "scan", "big.pdf", "application/pdf", never(), w.ctx("staff"),
                           size_hint=5_000_000)


async def test_a_50_mb_upload_streams_in_bounded_memory(world, tmp_path):
    w = world
    rec = await w.svc.create("case", w.case(), w.ctx("staff"))
    size = 50 * 1024 * 1024
    block = os.urandom(64 * 1024)
    digest = hashlib.sha256()

    async def generate():
        sent = 0
        first = True
        while sent < size:
            chunk = (b"%PDF-1.7\n" + block[9:]) if first else block
            first = False
            digest.update(chunk)
            sent += len(chunk)
            yield chunk

    tracemalloc.start()
    try:
        info = await w.svc.upload("case", rec["id"], "big_scan", "dossier.pdf", "application/pdf", generate(),
                                  w.ctx("staff"))
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.size == size and info.sha256 == digest.hexdigest()
    assert peak < 8 * 1024 * 1024, f"peak {peak} bytes while uploading {size}"
    tracemalloc.start()
    try:
        _meta, stream = await w.svc.download("case", rec["id"], "big_scan", w.ctx("staff"))
        check = hashlib.sha256()
        n = 0
        async for chunk in stream:
            check.update(chunk)
            n += len(chunk)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert n == size and check.hexdigest() == info.sha256
    assert peak < 8 * 1024 * 1024, f"peak {peak} bytes while downloading {size}"
    # Over the field's 60 MB limit: refused while streaming, nothing kept.
    with pytest.raises(AttachmentTooLarge):
        async def endless():
            yield b"%PDF-1.7\n"
            while True:
                yield block

        await w.svc.upload("case", rec["id"], "big_scan", "huge.pdf", "application/pdf", endless(), w.ctx("staff"))
    assert len(stored_files(tmp_path)) == 1


async def test_a_changed_file_is_detected_on_download(world, tmp_path):
    w = world
    rec = await w.svc.create("case", w.case(), w.ctx("staff"))
    await w.svc.upload("case", rec["id"], "scan", "a.pdf", "application/pdf", chunks(PDF), w.ctx("staff"))
    (path,) = [p for p in (tmp_path / "files").rglob("*") if p.is_file()]
    path.write_bytes(PDF.replace(b"scanned", b"tampered"))
    _meta, stream = await w.svc.download("case", rec["id"], "scan", w.ctx("staff"))
    with pytest.raises(AttachmentCorrupt):
        await read_all(stream)


class MemoryStorage:
    """A storage backend from a plugin: keeps files in a dict (tests only)."""

    def __init__(self):
        self.files: dict[str, bytes] = {}

    async def open_writer(self, key):
        storage = self

        class Writer:
            parts: list[bytes] = []

            async def write(self, chunk):
                self.parts.append(chunk)

            async def commit(self):
                storage.files[key] = b"".join(self.parts)

            async def abort(self):
                self.parts.clear()

        w = Writer()
        w.parts = []
        return w

    async def read(self, key, chunk_size=4):
        data = self.files[key]
        for i in range(0, len(data), chunk_size):
            yield data[i:i + chunk_size]

    async def remove(self, key):
        self.files.pop(key, None)


async def test_storage_backend_comes_from_a_plugin(records_config, database_url, tmp_path):
    memory = MemoryStorage()
    postcode.STORAGE.append(memory)
    rt = await migrated_runtime(records_config.load(), database_url, plugins=[postcode])
    try:
        from hoso.records.service import RecordContext

        ctx = RecordContext.system(rt.config)
        svc = rt.records()
        unit = await rt.db.fetchval("SELECT id FROM hoso_unit WHERE code = 'TT'")
        rec = await svc.create("case", {"received_on": "2025-03-03", "form_of_aid": "TV", "requester": "An",
                                        "unit": unit}, ctx)
        await svc.upload("case", rec["id"], "scan", "a.pdf", "application/pdf", chunks(PDF), ctx)
        assert list(memory.files.values()) == [PDF]
        assert await read_all((await svc.download("case", rec["id"], "scan", ctx))[1]) == PDF
    finally:
        postcode.STORAGE.clear()
        await rt.db.close()


async def test_local_storage_refuses_keys_outside_its_directory(tmp_path):
    storage = LocalStorage(tmp_path)
    for key in ("../x", "/etc/passwd", ".incoming/x", ""):
        with pytest.raises(ValueError):
            await storage.open_writer(key)
