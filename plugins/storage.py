"""The built-in attachment storage: files in a local directory.

``HOSO_FILES_DIR`` names the directory (default ``var/files``, next to the default SQLite database). A file is
written to ``<dir>/.incoming/`` first and moved to its key only when complete, so a refused or broken upload
leaves nothing behind and a reader never sees half a file. Reading and writing go through a worker thread
one chunk at a time: a file is never held in memory. Partial files of interrupted uploads and files no row
points to are removed by ``hoso.records.attachments.clean_storage`` once they are old enough.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from hoso.hookspecs import hookimpl
from hoso.settings import get as setting

__all__ = ["LocalStorage", "files_dir"]

CHUNK = 1024 * 1024
OWNER_FILE = ".hoso-database"
# Folders of the files directory that hold no stored file: uploads being written, and the admin's staged uploads
# (``HOSO_ADMIN_STAGING_DIR`` defaults to ``<HOSO_FILES_DIR>/.staging``, so that every process sees them).
HIDDEN = (".incoming", ".staging")


def files_dir() -> Path:
    return Path(setting("HOSO_FILES_DIR"))


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
        if not path.is_relative_to(self.root) or path == self.root or path.relative_to(self.root).parts[0] in HIDDEN:
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

    async def remove_partial(self, older_than: float) -> int:
        """Delete the partial files of uploads last written before ``older_than`` (a Unix time): uploads that
        were interrupted. Uploads still in progress write often, so they are younger. Returns how many."""

        def sweep() -> int:
            removed = 0
            incoming = self.root / ".incoming"
            for path in incoming.iterdir() if incoming.is_dir() else ():
                try:
                    if path.is_file() and path.stat().st_mtime < older_than:
                        path.unlink()
                        removed += 1
                except FileNotFoundError:  # finished or dropped meanwhile
                    continue
            return removed

        return await asyncio.to_thread(sweep)

    async def owner(self) -> str | None:
        """The identity of the database whose files these are, once a cleanup has claimed the directory."""
        path = self.root / OWNER_FILE

        def read() -> str | None:
            return path.read_text(encoding="utf-8").strip() if path.is_file() else None

        return await asyncio.to_thread(read)

    async def set_owner(self, identity: str) -> None:
        def write() -> None:
            self.root.mkdir(parents=True, exist_ok=True)
            (self.root / OWNER_FILE).write_text(identity + "\n", encoding="utf-8")

        await asyncio.to_thread(write)

    async def stored_keys(self, older_than: float) -> list[str]:
        """The keys of the complete files last written before ``older_than`` (a Unix time)."""

        def walk() -> list[str]:
            keys = []
            for folder, dirs, files in os.walk(self.root):
                top = Path(folder) == self.root
                if top:  # uploads in progress, and the admin's staged files (hoso.admin.media)
                    dirs[:] = [d for d in dirs if d not in HIDDEN]
                for name in files:
                    if top and name.startswith("."):  # the owner mark; keys always have folders
                        continue
                    path = Path(folder) / name
                    try:
                        if path.stat().st_mtime < older_than:
                            keys.append(path.relative_to(self.root).as_posix())
                    except FileNotFoundError:
                        continue
            return keys

        return await asyncio.to_thread(walk)


@hookimpl(trylast=True)
def hoso_attachment_storage(config):
    return LocalStorage(files_dir())
