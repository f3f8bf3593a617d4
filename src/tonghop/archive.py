"""Content-addressed store of every file received: archive/objects/ab/<sha256>.

A file is written to a temporary name, fsync'd, renamed into place and its folder fsync'd,
so after ``put`` returns the bytes survive a crash or a power cut.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

CHUNK = 1 << 20


def fsync_dir(path: Path) -> None:
    """Make a rename or unlink in ``path`` durable (no-op where folders can't be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class Archive:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.objects = root / "objects"
        self.oversize = root / "oversize"
        self._tmp = root / "tmp"

    def path_of(self, sha256: str) -> Path:
        return self.objects / sha256[:2] / sha256

    def has(self, sha256: str) -> bool:
        return self.path_of(sha256).is_file()

    def put_bytes(self, data: bytes) -> str:
        """Store ``data``; returns its SHA-256. Storing the same bytes twice is a no-op."""
        sha256 = hashlib.sha256(data).hexdigest()
        if self.has(sha256):
            return sha256
        self._tmp.mkdir(parents=True, exist_ok=True)
        self._write_synced((sha256, data))
        fsync_dir(self.path_of(sha256).parent)
        return sha256

    def put_many(self, blobs: list[bytes]) -> list[str]:
        """Store several files at once; their fsyncs run in parallel, which a disk batches."""
        pending: dict[str, bytes] = {}
        for data in blobs:
            sha256 = hashlib.sha256(data).hexdigest()
            if sha256 not in pending and not self.has(sha256):
                pending[sha256] = data
        if pending:
            self._tmp.mkdir(parents=True, exist_ok=True)
            with ThreadPoolExecutor(max_workers=min(16, len(pending))) as pool:
                list(pool.map(self._write_synced, pending.items()))
                folders = {self.path_of(sha).parent for sha in pending}
                list(pool.map(fsync_dir, folders))
        return [hashlib.sha256(data).hexdigest() for data in blobs]

    def _write_synced(self, item: tuple[str, bytes]) -> None:
        sha256, data = item
        target = self.path_of(sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = self._tmp / f"{sha256}.{os.getpid()}.{threading.get_ident()}.part"
        with open(temp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)

    def read(self, sha256: str) -> bytes:
        return self.path_of(sha256).read_bytes()

    def keep_oversize(self, source: Path, name: str) -> Path:
        """Move a file too large to read into archive/oversize/ without copying its bytes."""
        self.oversize.mkdir(parents=True, exist_ok=True)
        target = self.oversize / name
        try:
            os.replace(source, target)
        except OSError:
            shutil.move(str(source), target)
        fsync_dir(self.oversize)
        fsync_dir(source.parent)
        return target
