"""Every file received, kept by its SHA-256 in archive/objects.sqlite3, apart from the ledger.

A batch's bytes are written in one transaction, committed durably (WAL, synchronous=FULL)
before the intake commits their outcomes in the ledger: one sync for the whole batch, and an
object is there whole or not at all. A crash between the two commits leaves objects whose
files are still in inbox/; taken again, their bytes are simply there already. Kept apart from
the ledger, so that a damaged ledger never takes the files with it.

Archives written before this kept each object as a file, archive/objects/ab/<sha256>; those
are read where they are (nothing is moved). A file too large to read is moved, not copied,
into archive/oversize/.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path
from types import TracebackType

__all__ = ["OBJECTS_NAME", "Archive", "fsync_dir"]

OBJECTS_NAME = "objects.sqlite3"


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
    """The kept bytes of archive/ (``root``). Use as a context manager or close()."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.oversize = root / "oversize"
        root.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(root / OBJECTS_NAME, timeout=30, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # committed bytes survive a power cut
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS objects (sha256 TEXT PRIMARY KEY, data BLOB NOT NULL)"
            " WITHOUT ROWID"
        )

    @staticmethod
    def name_of(sha256: str) -> str:
        """Where the object is, as the ledger records it (``archived_as``)."""
        return f"objects/{sha256}"

    def put_batch(self, blobs: dict[str, bytes]) -> None:
        """Keep ``blobs`` (bytes by SHA-256) durably, in one commit; bytes kept already are
        left as they are."""
        if not blobs:
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany(
                "INSERT OR IGNORE INTO objects (sha256, data) VALUES (?, ?)", blobs.items()
            )
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def has(self, sha256: str) -> bool:
        row = self._db.execute("SELECT 1 FROM objects WHERE sha256 = ?", (sha256,)).fetchone()
        return row is not None or self._legacy(sha256).is_file()

    def read(self, sha256: str) -> bytes:
        row = self._db.execute("SELECT data FROM objects WHERE sha256 = ?", (sha256,)).fetchone()
        return bytes(row[0]) if row is not None else self._legacy(sha256).read_bytes()

    def _legacy(self, sha256: str) -> Path:
        return self.root / "objects" / sha256[:2] / sha256

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

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
