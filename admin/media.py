"""Attachments in the admin: piccolo-admin's media upload, finished by the record service.

piccolo-admin uploads a file (``POST /admin/api/media/``) before the form is saved, and stores the key it gets
back in the column. Here the file is only *staged* (a temporary file owned by the uploading user, key
``upload:<uuid>``); when the form is saved, the admin's CRUD hands the staged file to
``RecordService.upload``, which checks scope, type, size and content, stores the file, audits it and bumps the
record's version. A stored attachment's key in the admin is its ``hoso_attachment`` id; its URL
(``/admin/hoso/files/<id>``) downloads it through ``RecordService.download`` (scope-checked and audited).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, AsyncIterator, Optional

import anyio
from piccolo_api.media.base import MediaStorage

__all__ = ["STAGED_PREFIX", "StagedFile", "StagedAttachments", "staging_dir", "take_staged"]

STAGED_PREFIX = "upload:"
STAGED_MAX_AGE = 24 * 3600
CHUNK = 64 * 1024


def staging_dir() -> Path:
    base = os.environ.get("HOSO_ADMIN_STAGING_DIR") or os.path.join(tempfile.gettempdir(), "hoso-admin-staging")
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
    info = json.loads(meta.read_text(encoding="utf-8"))
    if info.get("user_id") != user_id:
        return None
    return StagedFile(key, path, info["filename"], info["content_type"], info["size"], info["user_id"])


class StagedAttachments(MediaStorage):
    """piccolo-admin's media storage for one attachment column: stages uploads, links to stored files."""

    def __init__(self, column: Any, max_size: int | None = None):
        super().__init__(column=column, allowed_extensions=None, allowed_characters=None)
        self.max_size = max_size  # the field's limit: a larger file is not even staged

    def __hash__(self) -> int:
        return hash(("hoso-attachment", self.column._meta.table._meta.tablename, self.column._meta.name))

    async def store_file(self, file_name: str, file: IO, user: Optional[Any] = None) -> str:
        directory = staging_dir()
        _sweep(directory)
        token = uuid.uuid4().hex
        path = directory / token
        size = 0
        with open(path, "wb") as out:
            while True:
                chunk = await anyio.to_thread.run_sync(file.read, CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                if self.max_size is not None and size > self.max_size:
                    out.close()
                    path.unlink(missing_ok=True)
                    from core.records.attachments import human_size

                    raise ValueError(f"{file_name}: > {human_size(self.max_size)}")
                out.write(chunk)
        user_id = getattr(user, "id", None)
        name = os.path.basename(file_name or "") or "file"
        path.with_suffix(".json").write_text(json.dumps({
            "filename": name, "content_type": _content_type(name), "size": size, "user_id": user_id,
            "at": time.time()}), encoding="utf-8")
        return STAGED_PREFIX + token

    async def generate_file_url(self, file_key: str, root_url: str, user: Optional[Any] = None) -> str:
        if isinstance(file_key, str) and file_key.isdigit():
            return f"./hoso/files/{file_key}"
        return "#"

    async def get_file(self, file_key: str) -> Optional[IO]:
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


def _sweep(directory: Path) -> None:
    """Remove staged files nobody saved within a day."""
    now = time.time()
    for meta in directory.glob("*.json"):
        try:
            if now - meta.stat().st_mtime > STAGED_MAX_AGE:
                meta.unlink()
                meta.with_suffix("").unlink(missing_ok=True)
        except OSError:
            pass
