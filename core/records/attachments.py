"""Attachments: files of digitised case files, streamed in and out, checksummed, versioned.

* A file is streamed to the storage backend chosen by ``hoso_attachment_storage`` (a local directory by
  default) in chunks; its size and sha256 are computed on the way. Over the size limit of the field (entity
  ``attachments:`` in YAML, default 2 GiB) the upload stops and the backend drops what it received: nothing is
  kept. The record is not locked while the bytes arrive, only for the short write that follows.
* Allowed media types are configured per entity and field (``application/pdf``, ``image/*``); for common types
  the first bytes must match the declared type (a PDF starts with ``%PDF-``).
* Each upload adds a row to ``hoso_attachment`` (version 1, 2, ...); the record's attachment field then holds the
  id of that row. Replaced files are kept and stay downloadable by version.
* A download needs read access to the record (out of scope: NotFound), is audited, and re-computes the sha256 as
  it streams: a stored file that no longer matches raises ``AttachmentCorrupt`` at the end.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import unicodedata
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Protocol

from hoso.audit import AuditEvent
from hoso.config import EntityDef
from hoso.db import quote
from hoso.i18n import t
from hoso.records.access import Access
from hoso.records.errors import (
    AttachmentCorrupt,
    AttachmentTooLarge,
    Forbidden,
    NotFound,
    StaleVersion,
    ValidationError,
)
from hoso.records.workflow import require_editable
from hoso.settings import SettingError
from hoso.settings import get as setting

if TYPE_CHECKING:  # pragma: no cover
    from hoso.records.context import RecordContext
    from hoso.records.service import RecordService

__all__ = ["Storage", "StorageWriter", "AttachmentInfo", "CleanupResult", "CleanupSettings", "SettingError", "upload",
           "download", "versions", "type_allowed", "human_size", "clean_storage", "storage_janitor"]

log = logging.getLogger("hoso.records")

# Leading bytes of common scanned-file formats: a declared type in this table must match them.
SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "application/pdf": (b"%PDF-",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/tiff": (b"II*\x00", b"MM\x00*"),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "application/zip": (b"PK\x03\x04", b"PK\x05\x06"),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (b"PK\x03\x04",),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": (b"PK\x03\x04",),
}
_HEAD = 16


class StorageWriter(Protocol):
    async def write(self, chunk: bytes) -> None: ...

    async def commit(self) -> None:
        """The file is complete: make it readable under its key."""

    async def abort(self) -> None:
        """Drop what was written; nothing may be left."""


class Storage(Protocol):
    """Where attachment bytes live (see the ``hoso_attachment_storage`` hook)."""

    async def open_writer(self, key: str) -> StorageWriter: ...

    def read(self, key: str, chunk_size: int = ...) -> AsyncIterator[bytes]: ...

    async def remove(self, key: str) -> None: ...

    # Optional, for clean_storage (a backend without them is not cleaned):
    #   async def remove_partial(self, older_than: float) -> int   drop interrupted uploads; how many
    #   async def stored_keys(self, older_than: float) -> list[str]  keys of complete files older than that
    #   async def owner(self) -> str | None; async def set_owner(self, identity: str) -> None
    #       which database the files belong to: files no row points to are removed only from a storage that
    #       belongs to this database
    # ``older_than`` is a Unix time.


@dataclass(frozen=True)
class AttachmentInfo:
    """One stored version of an attachment field."""

    id: int
    entity: str
    record_id: int
    field: str
    version: int
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_at: dt.datetime
    uploaded_by: int | None
    record_version: int | None = None  # the record's sys_version after the upload (upload only)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["uploaded_at"] = self.uploaded_at.isoformat() if isinstance(self.uploaded_at, dt.datetime) else \
            self.uploaded_at
        return d


def type_allowed(content_type: str, allowed: tuple[str, ...]) -> bool:
    if not allowed:
        return True
    major = content_type.split("/", 1)[0]
    return any(a == content_type or (a.endswith("/*") and a[:-2] == major) for a in allowed)


def human_size(n: int) -> str:
    for unit, size in (("TB", 1000 ** 4), ("GB", 1000 ** 3), ("MB", 1000 ** 2), ("KB", 1000)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} B"


def _media_type(content_type: str | None) -> str:
    return (content_type or "application/octet-stream").split(";", 1)[0].strip().lower()


def _safe_filename(name: str | None) -> str:
    """The file's own name: no directories, no control characters, at most 255 characters."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = "".join(c for c in unicodedata.normalize("NFC", base) if unicodedata.category(c)[0] != "C").strip()
    return (base or "file")[:255]


def _info(row: dict, record_version: int | None = None) -> AttachmentInfo:
    at = row["uploaded_at"]
    if isinstance(at, str):
        at = dt.datetime.fromisoformat(at)
        at = at if at.tzinfo else at.replace(tzinfo=dt.UTC)
    return AttachmentInfo(row["id"], row["entity"], row["record_id"], row["field"], row["version"], row["filename"],
                          row["content_type"], row["size"], row["sha256"], at, row["uploaded_by"], record_version)


_COLUMNS = "id, entity, record_id, field, version, filename, content_type, size, sha256, uploaded_at, uploaded_by"


def _attachment_field(entity: EntityDef, field: str, ctx: RecordContext):
    fd = next((f for f in entity.column_fields if f.name == field), None)
    if fd is None:
        raise ValidationError([(field, t("unknown_field", ctx.lang))])
    if fd.traits.refers_to != "file":
        raise ValidationError([(field, t("not_attachment", ctx.lang))])
    return fd


async def upload(svc: RecordService, entity: EntityDef, record_id: int, field: str, filename: str,
                 content_type: str, stream: AsyncIterator[bytes], ctx: RecordContext, *,
                 version: int | None = None, size_hint: int | None = None,
                 sha256: str | None = None) -> AttachmentInfo:
    access = Access(svc.rt, ctx)
    _attachment_field(entity, field, ctx)
    lang = ctx.lang
    max_size, allowed = entity.attachment_limits(field)
    media = _media_type(content_type)
    filename = _safe_filename(filename)

    async def check_record() -> dict:
        record = await svc.store.locked(entity, record_id, access, ctx)
        require_editable(svc.config, entity, record, ctx)  # an archived record gets no new file
        if not await access.row_allows("update", entity, record_id):
            raise Forbidden(t("forbidden", lang, action="update"))
        if field in await access.hidden(entity):
            raise ValidationError([(field, t("hidden_field", lang))])
        if field in await access.read_only(entity):
            raise ValidationError([(field, t("read_only_field", lang))])
        if version is not None and record["sys_version"] != version:
            raise StaleVersion(record["sys_version"])
        return record

    # Everything that can be checked before the first byte is read is checked first.
    await check_record()
    if not type_allowed(media, allowed):
        raise ValidationError([(field, t("file_type", lang, value=media, allowed=", ".join(allowed)))])
    too_large = AttachmentTooLarge(field, t("file_too_large", lang, limit=human_size(max_size)), max_size)
    if size_hint is not None and size_hint > max_size:
        raise too_large

    storage = svc.storage
    key = f"{entity.name}/{record_id}/{field}/{uuid.uuid4().hex}"
    writer = await storage.open_writer(key)
    digest = hashlib.sha256()
    size = 0
    head = b""
    try:
        async for chunk in stream:
            if not chunk:
                continue
            size += len(chunk)
            if size > max_size:
                raise too_large
            if len(head) < _HEAD:
                head += chunk[:_HEAD - len(head)]
            digest.update(chunk)
            await writer.write(chunk)
        if size == 0:
            raise ValidationError([(field, t("file_empty", lang))])
        signatures = SIGNATURES.get(media)
        if signatures and not any(head.startswith(s) for s in signatures):
            raise ValidationError([(field, t("file_content", lang, value=media))])
        checksum = digest.hexdigest()
        if sha256 is not None and sha256.strip().lower() != checksum:
            raise ValidationError([(field, t("file_checksum", lang))])
        await writer.commit()
    except BaseException:
        await writer.abort()
        raise

    try:
        now = dt.datetime.now(dt.UTC)
        async with svc.db.transaction():
            record = await check_record()
            previous_id = record.get(field)
            number = int(await svc.db.fetchval(
                "SELECT COALESCE(MAX(version), 0) AS n FROM hoso_attachment WHERE entity = {} AND record_id = {} "
                "AND field = {}", entity.name, record_id, field) or 0) + 1
            attachment_id = await svc.db.fetchval(
                "INSERT INTO hoso_attachment (entity, record_id, field, version, filename, content_type, size, "
                "sha256, storage_key, uploaded_at, uploaded_by) VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}) "
                "RETURNING id", entity.name, record_id, field, number, filename, media, size, checksum, key, now,
                ctx.user_id)
            new_version = record["sys_version"] + 1
            await svc.db.execute(
                f"UPDATE {quote(entity.table)} SET {quote(field)} = {{}}, sys_version = {{}}, sys_updated_at = {{}}, "
                "sys_updated_by = {} WHERE id = {}", attachment_id, new_version, now, ctx.user_id, record_id)
            await svc.store.version(entity, record_id)

            await svc.store.audit(AuditEvent(
                "attachment.upload", entity.name, record_id, ctx.user_id, ctx.user_name, ctx.origin,
                {field: [previous_id, attachment_id],
                 "@file": {"name": filename, "type": media, "size": size, "sha256": checksum, "version": number}}))
            rows = await svc.db.fetch(f"SELECT {_COLUMNS} FROM hoso_attachment WHERE id = {{}}", attachment_id)
    except BaseException:
        # The bytes were stored but the record did not take them: drop the orphan.
        await storage.remove(key)
        raise
    return _info(rows[0], new_version)


async def _readable_record(svc: RecordService, entity: EntityDef, record_id: int, field: str, access: Access,
                           ctx: RecordContext) -> dict:
    _attachment_field(entity, field, ctx)
    try:
        record = await svc.store.fetch_visible(entity, record_id, access)
    except NotFound:
        raise NotFound(t("record_not_found", ctx.lang, entity=entity.name, id=record_id)) from None
    if field in await access.hidden(entity):
        raise NotFound(t("record_not_found", ctx.lang, entity=entity.name, id=record_id))
    return record


async def download(svc: RecordService, entity: EntityDef, record_id: int, field: str, ctx: RecordContext, *,
                   version: int | None = None) -> tuple[AttachmentInfo, AsyncIterator[bytes]]:
    access = Access(svc.rt, ctx)
    record = await _readable_record(svc, entity, record_id, field, access, ctx)
    if version is None:
        if record.get(field) is None:
            raise NotFound(f"{entity.name} {record_id} has no file in {field}")
        rows = await svc.db.fetch(f"SELECT {_COLUMNS}, storage_key FROM hoso_attachment WHERE id = {{}} "
                                  "AND entity = {} AND record_id = {}", record[field], entity.name, record_id)
    else:
        rows = await svc.db.fetch(f"SELECT {_COLUMNS}, storage_key FROM hoso_attachment WHERE entity = {{}} "
                                  "AND record_id = {} AND field = {} AND version = {}", entity.name, record_id, field,
                                  version)
    if not rows:
        raise NotFound(f"{entity.name} {record_id} has no version {version} of {field}")
    info = _info(rows[0])
    key = rows[0]["storage_key"]

    await svc.audit(AuditEvent("attachment.download", entity.name, record_id, ctx.user_id, ctx.user_name, ctx.origin,
                               {"@file": {"name": info.filename, "version": info.version, "sha256": info.sha256,
                                          "field": field}}))
    return info, _verified(svc.storage, key, info)


async def _verified(storage: Any, key: str, info: AttachmentInfo) -> AsyncIterator[bytes]:
    digest = hashlib.sha256()
    size = 0
    async for chunk in storage.read(key):
        digest.update(chunk)
        size += len(chunk)
        yield chunk
    if size != info.size or digest.hexdigest() != info.sha256:
        log.error("attachment %s (%s %s %s v%s) does not match its sha256", info.id, info.entity, info.record_id,
                  info.field, info.version)
        raise AttachmentCorrupt(f"the stored file of {info.entity} {info.record_id} {info.field} version "
                                f"{info.version} does not match its sha256")


async def versions(svc: RecordService, entity: EntityDef, record_id: int, field: str,
                   ctx: RecordContext) -> list[AttachmentInfo]:
    access = Access(svc.rt, ctx)
    await _readable_record(svc, entity, record_id, field, access, ctx)
    rows = await svc.db.fetch(f"SELECT {_COLUMNS} FROM hoso_attachment WHERE entity = {{}} AND record_id = {{}} "
                              "AND field = {} ORDER BY version DESC", entity.name, record_id, field)
    return [_info(r) for r in rows]


# -- leftovers ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CleanupResult:
    partial: int  # partial files of interrupted uploads removed
    orphans: int  # complete files that no hoso_attachment row points to, removed


@dataclass(frozen=True)
class CleanupSettings:
    """How often the attachment storage is cleaned and how old a leftover file must be to go, so an upload in
    progress is never touched (``HOSO_FILES_CLEANUP_INTERVAL``, ``HOSO_FILES_CLEANUP_AGE``)."""

    interval: float = 3600.0
    age: float = 86400.0

    @classmethod
    def from_env(cls, env: dict | None = None) -> CleanupSettings:
        return cls(interval=setting("HOSO_FILES_CLEANUP_INTERVAL", env), age=setting("HOSO_FILES_CLEANUP_AGE", env))


_KEYS_PER_QUERY = 500


async def clean_storage(svc: RecordService, *, age: float, now: float | None = None) -> CleanupResult:
    """Remove what interrupted uploads left in the storage: partial files, and complete files that no
    ``hoso_attachment`` row points to (a crash between storing the bytes and committing the row). Only files
    last written ``age`` seconds or more ago are considered, so uploads in progress are left alone; a file a
    row points to, whatever its version, is never removed."""
    import time

    storage: Any = svc.storage  # the optional methods below are probed with hasattr
    cutoff = (time.time() if now is None else now) - age
    partial = 0
    if hasattr(storage, "remove_partial"):
        partial = await storage.remove_partial(cutoff)
    orphans = 0
    keys = await storage.stored_keys(cutoff) if await _owns(svc, storage) else []
    for i in range(0, len(keys), _KEYS_PER_QUERY):
        batch = keys[i:i + _KEYS_PER_QUERY]
        marks = ", ".join("{}" for _ in batch)
        rows = await svc.db.fetch(f"SELECT storage_key FROM hoso_attachment WHERE storage_key IN ({marks})", *batch)
        kept = {r["storage_key"] for r in rows}
        for key in batch:
            if key not in kept:
                await storage.remove(key)
                orphans += 1
    if partial or orphans:
        log.warning("attachment storage: removed %d partial upload(s) and %d file(s) no record points to",
                    partial, orphans)
    return CleanupResult(partial, orphans)


async def _database_identity(db) -> str | None:
    """A stable identity of this database: its first applied definitions."""
    rows = await db.fetch("SELECT id, applied_at, content_hash FROM hoso_schema_state ORDER BY id LIMIT 1")
    if not rows:
        return None
    r = rows[0]
    return hashlib.sha256(f"{r['id']}|{r['applied_at']}|{r['content_hash']}".encode()).hexdigest()


async def _owns(svc: RecordService, storage: Any) -> bool:
    """Whether the storage holds this database's files. A directory shared with another database (a test
    database beside a real one, say) would make every file of the other look like an orphan, so files no row
    points to are removed only where this database has claimed the directory, which it does the first time
    it finds one of its own files there."""
    if not all(hasattr(storage, m) for m in ("owner", "set_owner", "stored_keys")):
        return False
    identity = await _database_identity(svc.db)
    if identity is None:
        return False
    owner = await storage.owner()
    if owner is not None:
        if owner != identity:
            log.warning("attachment storage: it belongs to another database; files no record points to are kept")
        return owner == identity
    sample = (await storage.stored_keys(float("inf")))[:_KEYS_PER_QUERY]
    if not sample:
        return False
    marks = ", ".join("{}" for _ in sample)
    known = await svc.db.fetchval(f"SELECT COUNT(*) AS n FROM hoso_attachment WHERE storage_key IN ({marks})",
                                  *sample)
    if not known:
        log.warning("attachment storage: none of its files belongs to this database; files no record points "
                    "to are kept")
        return False
    await storage.set_owner(identity)
    return True


async def storage_janitor(svc: RecordService, settings: CleanupSettings) -> None:
    """Clean the storage now, then every ``settings.interval`` seconds, until cancelled. A failed round is
    logged and the next one runs as planned."""
    import asyncio

    while True:
        try:
            await clean_storage(svc, age=settings.age)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("attachment storage cleanup failed; retrying at the next interval")
        await asyncio.sleep(settings.interval)
