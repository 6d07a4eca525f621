"""The built-in attachment storage: files in a local directory.

``HOSO_FILES_DIR`` names the directory (default ``var/files``, next to the default SQLite database). A file is
written to ``<dir>/.incoming/`` first and moved to its key only when complete, so a refused or broken upload
leaves nothing behind and a reader never sees half a file. Reading and writing go through a worker thread
one chunk at a time: a file is never held in memory.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path
from typing import AsyncIterator

from core.hookspecs import hookimpl

__all__ = ["LocalStorage", "files_dir"]

CHUNK = 1024 * 1024


def files_dir() -> Path:
    return Path(os.environ.get("HOSO_FILES_DIR") or "var/files")


class _LocalWriter:
    def __init__(self, final: Path, partial: Path):
        self.final = final
        self.partial = partial
        partial.parent.mkdir(parents=True, exist_ok=True)
        self.file = open(partial, "xb")  # noqa: SIM115 - closed in commit/abort

    async def write(self, chunk: bytes) -> None:
        await asyncio.to_thread(self.file.write, chunk)

    async def commit(self) -> None:
        def finish():
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()
            self.final.parent.mkdir(parents=True, exist_ok=True)
            if self.final.exists():
                raise FileExistsError(f"attachment {self.final} exists: stored files are never overwritten")
            os.replace(self.partial, self.final)

        await asyncio.to_thread(finish)

    async def abort(self) -> None:
        def drop():
            if not self.file.closed:
                self.file.close()
            self.partial.unlink(missing_ok=True)

        await asyncio.to_thread(drop)


class LocalStorage:
    """Attachments as files under ``root``, one per key."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).resolve()

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root) or path == self.root or ".incoming" in path.relative_to(self.root).parts:
            raise ValueError(f"invalid storage key {key!r}")
        return path

    async def open_writer(self, key: str) -> _LocalWriter:
        final = self._path(key)
        return _LocalWriter(final, self.root / ".incoming" / f"{uuid.uuid4().hex}.part")

    async def read(self, key: str, chunk_size: int = CHUNK) -> AsyncIterator[bytes]:
        f = await asyncio.to_thread(open, self._path(key), "rb")
        try:
            while True:
                chunk = await asyncio.to_thread(f.read, chunk_size)
                if not chunk:
                    break
                yield chunk
        finally:
            f.close()

    async def remove(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, True)


@hookimpl(trylast=True)
def hoso_attachment_storage(config):
    return LocalStorage(files_dir())
