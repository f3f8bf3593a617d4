"""Every file received, kept by its SHA-256, in the ledger's own database.

The bytes go into the ``objects`` table in the same SQLite transaction as the file's outcome:
one durable commit (WAL, synchronous=FULL) makes both survive a crash or a power cut, and a
crash before it leaves neither, with the file still in inbox/ to be taken again. So a batch
costs one sync whatever its size, and no object is ever half written.

Ledgers written before this kept each object as a file, archive/objects/ab/<sha256>; those
are read where they are (nothing is moved). A file too large to read is moved, not copied,
into archive/oversize/.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .ledger import Ledger

__all__ = ["Archive", "fsync_dir"]


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
    """The kept bytes: in the ledger's ``objects`` table, older ones under ``root/objects/``."""

    def __init__(self, root: Path, ledger: Ledger) -> None:
        self.root = root
        self.ledger = ledger
        self.oversize = root / "oversize"

    @staticmethod
    def name_of(sha256: str) -> str:
        """Where the object is, as the ledger records it (``archived_as``)."""
        return f"objects/{sha256}"

    def put(self, sha256: str, data: bytes) -> None:
        """Keep ``data`` under its SHA-256; call inside the ledger transaction that records
        its outcome. Keeping the same bytes twice is a no-op."""
        self.ledger.put_object(sha256, data)

    def has(self, sha256: str) -> bool:
        return self.ledger.has_object(sha256) or self._legacy(sha256).is_file()

    def read(self, sha256: str) -> bytes:
        data = self.ledger.get_object(sha256)
        return data if data is not None else self._legacy(sha256).read_bytes()

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
