"""Attachments in the admin: piccolo-admin's media upload, finished by the record service.

piccolo-admin uploads a file (``POST /admin/api/media/``) before the form is saved, and stores the key it gets
back in the column. Here the file is only *staged* (a temporary file owned by the uploading user, key
``upload:<uuid>``); when the form is saved, the admin's CRUD hands the staged file to
``RecordService.upload``, which checks scope, type, size and content, stores the file, audits it and bumps the
record's version. A stored attachment's key in the admin is its ``hoso_attachment`` id; its URL
(``/admin/hoso/files/<id>``) downloads it through ``RecordService.download`` (scope-checked and audited).

Staging is not a way around the rules: only an account that may create or update the entity, and neither hides
nor reads-only the field, may stage a file for it, at most the field's ``max_size``; each account holds at most
``HOSO_ADMIN_STAGING_MAX_FILES`` staged files (default 20) and ``HOSO_ADMIN_STAGING_MAX_BYTES`` staged bytes
(default 8 GB), and a staged file nobody saved expires after ``HOSO_ADMIN_STAGING_HOURS`` (default 24): it can no
longer be used and is removed at the next upload or admin start.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import anyio
from piccolo_api.media.base import MediaStorage

from hoso.settings import get as setting

__all__ = ["STAGED_PREFIX", "StagedFile", "StagedAttachments", "StagingLimits", "StagingRefused", "staging_dir",
           "take_staged", "staged_usage", "stageable_fields", "sweep_staged"]

STAGED_PREFIX = "upload:"
CHUNK = 64 * 1024
GB = 1000 ** 3


class StagingRefused(Exception):
    """A file that may not be staged: ``status`` (403, 413 or 429) and ``key`` of the admin message."""

    def __init__(self, status: int, key: str, **params: Any):
        super().__init__(key)
        self.status, self.key, self.params = status, key, params


@dataclass(frozen=True)
class StagingLimits:
    """Per-account staging quota and the time a staged file is kept (read from the environment)."""

    max_files: int = 20
    max_bytes: int = 8 * GB
    max_age: float = 24 * 3600.0

    @classmethod
    def from_env(cls) -> StagingLimits:
        return cls(max_files=setting("HOSO_ADMIN_STAGING_MAX_FILES"), max_bytes=setting("HOSO_ADMIN_STAGING_MAX_BYTES"),
                   max_age=setting("HOSO_ADMIN_STAGING_HOURS") * 3600.0)


def staging_dir() -> Path:
    # Beside the stored files by default: a file staged through one process is saved through another.
    base = setting("HOSO_ADMIN_STAGING_DIR") or os.path.join(setting("HOSO_FILES_DIR"), ".staging")
    path = Path(base)
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class StagedFile:
    key: str
    path: Path
    filename: str
    content_type: str
    size: int
    user_id: int | None

    async def chunks(self) -> AsyncIterator[bytes]:
        f = await anyio.open_file(self.path, "rb")
        try:
            while True:
                chunk = await f.read(CHUNK)
                if not chunk:
                    break
                yield chunk
        finally:
            await f.aclose()

    def remove(self) -> None:
        for p in (self.path, self.path.with_suffix(".json")):
            try:
                p.unlink()
            except FileNotFoundError:
                pass


def _content_type(filename: str) -> str:
    import mimetypes

    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


def take_staged(key: str, user_id: int | None) -> StagedFile | None:
    """The staged file ``key`` if the same user uploaded it (None otherwise)."""
    if not isinstance(key, str) or not key.startswith(STAGED_PREFIX):
        return None
    token = key[len(STAGED_PREFIX):]
    try:
        uuid.UUID(hex=token)
    except ValueError:
        return None
    path = staging_dir() / token
    meta = path.with_suffix(".json")
    if not path.is_file() or not meta.is_file():
        return None
    try:
        info = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if info.get("user_id") != user_id or _expired(info, StagingLimits.from_env()):
        return None
    return StagedFile(key, path, info["filename"], info["content_type"], info["size"], info["user_id"])


class StagedAttachments(MediaStorage):
    """piccolo-admin's media storage for one attachment column: stages uploads, links to stored files."""

    def __init__(self, column: Any, max_size: int | None = None):
        super().__init__(column=column, allowed_extensions=None, allowed_characters=None)
        self.max_size = max_size  # the field's limit: a larger file is not even staged

    def __hash__(self) -> int:
        return hash(("hoso-attachment", self.column._meta.table._meta.tablename, self.column._meta.name))

    async def store_file(self, file_name: str, file: IO, user: Any | None = None) -> str:
        from hoso.records.attachments import human_size

        limits = StagingLimits.from_env()
        directory = staging_dir()
        sweep_staged(directory, limits)
        user_id = getattr(user, "id", None)
        files, used = staged_usage(user_id, limits)
        if files >= limits.max_files:
            raise StagingRefused(429, "staging_files", n=limits.max_files)
        room = limits.max_bytes - used
        limit = self.max_size if self.max_size is not None else room
        token = uuid.uuid4().hex
        path = directory / token
        size = 0
        with open(path, "wb") as out:
            while True:
                chunk = await anyio.to_thread.run_sync(file.read, CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                if size > min(limit, room):
                    out.close()
                    path.unlink(missing_ok=True)
                    if size > limit:
                        raise StagingRefused(413, "staging_too_large", name=file_name, limit=human_size(limit))
                    raise StagingRefused(413, "staging_quota", limit=human_size(limits.max_bytes))
                out.write(chunk)
        name = os.path.basename(file_name or "") or "file"
        path.with_suffix(".json").write_text(json.dumps({
            "filename": name, "content_type": _content_type(name), "size": size, "user_id": user_id,
            "at": time.time()}), encoding="utf-8")
        return STAGED_PREFIX + token

    async def generate_file_url(self, file_key: str, root_url: str, user: Any | None = None) -> str:
        if isinstance(file_key, str) and file_key.isdigit():
            return f"./hoso/files/{file_key}"
        return "#"

    async def get_file(self, file_key: str) -> IO | None:
        return None

    async def delete_file(self, file_key: str) -> None:
        staged = take_staged(file_key, None)
        if staged is not None:
            staged.remove()

    async def bulk_delete_files(self, file_keys: list[str]) -> None:
        for key in file_keys:
            await self.delete_file(key)

    async def get_file_keys(self) -> list[str]:
        return []


def _expired(info: dict, limits: StagingLimits, now: float | None = None) -> bool:
    at = info.get("at")
    return not isinstance(at, (int, float)) or (now or time.time()) - at > limits.max_age


def _staged_infos(directory: Path):
    for meta in directory.glob("*.json"):
        try:
            yield meta, json.loads(meta.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            yield meta, {}


def staged_usage(user_id: int | None, limits: StagingLimits | None = None) -> tuple[int, int]:
    """(files, bytes) the account holds staged and not expired."""
    limits = limits or StagingLimits.from_env()
    now = time.time()
    files = used = 0
    for _meta, info in _staged_infos(staging_dir()):
        if info.get("user_id") == user_id and not _expired(info, limits, now):
            files += 1
            used += int(info.get("size") or 0)
    return files, used


def sweep_staged(directory: Path | None = None, limits: StagingLimits | None = None) -> int:
    """Remove staged files nobody saved in time (and unreadable leftovers); returns how many were removed."""
    directory = directory or staging_dir()
    limits = limits or StagingLimits.from_env()
    now = time.time()
    removed = 0
    for meta, info in _staged_infos(directory):
        if not _expired(info, limits, now):
            continue
        try:
            meta.unlink()
            meta.with_suffix("").unlink(missing_ok=True)
            removed += 1
        except OSError:
            pass
    return removed


def stageable_fields(build: Any, user: Any) -> dict[tuple[str, str], int]:
    """``(table, column) -> max_size`` of the attachment fields ``user`` may stage a file for: fields of an
    entity the user may create or update, neither hidden from them nor read-only for them."""
    out: dict[tuple[str, str], int] = {}
    for spec in build.tables.specs.values():
        if spec.kind != "entity":
            continue  # files of child-table rows are not uploaded through the admin
        entity = spec.entity
        creates = user.may("create", entity.name)
        if not (creates or user.may("update", entity.name)):
            continue
        # read-only fields are written on create only
        blocked = user.hidden(entity.name) | (set() if creates else user.read_only(entity.name))
        for fd in spec.fields:
            if fd.traits.refers_to == "file" and fd.name not in blocked:
                out[(spec.tablename, fd.name)] = entity.attachment_limits(fd.name)[0]
    return out
