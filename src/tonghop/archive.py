"""Content-addressed store of every file received: archive/objects/ab/<sha256>.

Durability is batched: ``put_batch`` writes a batch's files without syncing each one, then
makes them all durable with one ``os.sync()`` on Linux (one flush of the disk's cache for the
whole batch, where an fsync per file costs one flush each). After it returns, the bytes
survive a crash or a power cut, so the intake may commit their outcome.

An object written by a batch that crashed before its sync may be empty or cut short. It is
never trusted: the intake only skips writing bytes whose outcome the ledger already holds
(committed after their sync), and writes every other object again.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path


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


# Linux's sync() waits until every file written so far is on disk ("the same guarantees as
# fsync() called on every file in the system", sync(2)). POSIX only asks sync() to schedule
# the writes (macOS returns early) and Windows has none: there each file is fsync'd.
_SYNC_ALL = os.sync if sys.platform.startswith("linux") else None


class Archive:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.objects = root / "objects"
        self.oversize = root / "oversize"

    def path_of(self, sha256: str) -> Path:
        return self.objects / sha256[:2] / sha256

    def has(self, sha256: str) -> bool:
        return self.path_of(sha256).is_file()

    def name_of(self, sha256: str) -> str:
        """The object's path relative to archive/, as the ledger records it."""
        return self.path_of(sha256).relative_to(self.root).as_posix()

    def put_batch(self, blobs: dict[str, bytes]) -> None:
        """Store ``blobs`` (bytes by SHA-256) durably, with one sync for all of them.

        A single file (the watcher's usual batch) is fsync'd on its own instead: as cheap as
        one sync, and it does not wait for what other programs have written meanwhile (a
        sync behind an 800 MB copy took 240 ms here, the file's own fsync 1 ms).
        """
        if not blobs:
            return
        each = _SYNC_ALL is None or len(blobs) == 1
        folders: set[Path] = set()
        for sha256, data in blobs.items():
            target = self.path_of(sha256)
            try:
                handle = open(target, "wb")  # noqa: SIM115 (closed just below)
            except FileNotFoundError:  # the first object under this prefix
                target.parent.mkdir(parents=True, exist_ok=True)
                handle = open(target, "wb")  # noqa: SIM115
                folders |= {self.objects, self.root}  # the new folders' own entries
            with handle:
                handle.write(data)
                if each:
                    handle.flush()
                    os.fsync(handle.fileno())
            folders.add(target.parent)
        if not each:
            assert _SYNC_ALL is not None
            _SYNC_ALL()
        else:
            for folder in folders:
                fsync_dir(folder)

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
