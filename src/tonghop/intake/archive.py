"""Every file received, kept by its SHA-256 in archive/objects.sqlite3, apart from the ledger.

A batch's bytes are written in one transaction, committed durably (WAL, synchronous=FULL)
before the intake commits their outcomes in the ledger: one sync for the whole batch, and an
object is there whole or not at all. A crash between the two commits leaves objects whose
files are still in inbox/; taken again, their bytes are simply there already. Kept apart from
the ledger, so that a damaged ledger never takes the files with it.

With the bytes, the same commit keeps each arrival (table ``arrivals``): the file's SHA-256,
its name in inbox/, size, modification time and when it was received, once per drop (the
intake's own identity of a drop: name, size, time and bytes). That is what ``tonghop verify
--rebuild`` needs to rebuild the ledger by judging every arrival again, in the order received.

The secretary's decisions, the finalizing and reopening of periods and the reports written
are kept here too (table ``events``, one JSON record each, committed before the ledger's), so
that a rebuilt ledger has them back.

Archives written before this kept each object as a file, archive/objects/ab/<sha256>; those
are read where they are (nothing is moved). A file too large to read is moved, not copied,
into archive/oversize/.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from tonghop.errors import ArchiveDamaged

__all__ = ["OBJECTS_NAME", "Archive", "Arrival", "Event", "archive_damaged", "fsync_dir"]

OBJECTS_NAME = "objects.sqlite3"
_PIECE = 1 << 20  # bytes written to a stored object at a time


def archive_damaged(path: Path, reason: str) -> ArchiveDamaged:
    """The error that stops every intake until the archive is restored: never replaced by an
    empty one, which would leave the ledger's rows pointing at nothing."""
    return ArchiveDamaged(
        f"Kho lưu trữ {path} bị hỏng: {reason}. Chưa tiếp nhận tệp nào, các tệp trong inbox/ "
        "vẫn giữ nguyên. Hãy chép lại tệp này từ bản sao lưu rồi chạy «tonghop verify»."
    )


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


@dataclass(frozen=True)
class Arrival:
    """One file as it was received: what the ledger's row of it is rebuilt from."""

    sha256: str
    source_name: str
    size: int
    mtime_ns: int
    received_at: dt.datetime


_ARRIVALS = """
CREATE TABLE IF NOT EXISTS arrivals (
    id INTEGER PRIMARY KEY,
    sha256 TEXT NOT NULL,
    source_name TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    received_at TEXT NOT NULL,
    UNIQUE (source_name, size, mtime_ns, sha256)
)
"""

_EVENTS = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL
)
"""


@dataclass(frozen=True)
class Event:
    """A decision, a finalize or reopen, or a report written, as kept for a rebuild."""

    at: dt.datetime
    kind: str
    body: dict[str, object]


class Archive:
    """The kept bytes of archive/ (``root``). Use as a context manager or close()."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.oversize = root / "oversize"
        root.mkdir(parents=True, exist_ok=True)
        # A 0-byte file is an empty database to SQLite (and what a bare connect leaves): the
        # workspace's check before intake tells an emptied archive from a new one.
        path = root / OBJECTS_NAME
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")  # committed bytes survive a power cut
            # A rowid table, so that large bytes are written in pieces (blobopen), not copied
            # whole by SQLite on insert.
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS objects"
                " (id INTEGER PRIMARY KEY, sha256 TEXT NOT NULL UNIQUE, data BLOB NOT NULL)"
            )
            self._db.execute(_ARRIVALS)
            self._db.execute(_EVENTS)
        except sqlite3.DatabaseError as exc:
            self._db.close()
            if isinstance(exc, sqlite3.OperationalError):
                raise  # read-only, full or locked: not damage
            raise archive_damaged(path, f"không đọc được cơ sở dữ liệu ({exc})") from exc

    @staticmethod
    def name_of(sha256: str) -> str:
        """Where the object is, as the ledger records it (``archived_as``)."""
        return f"objects/{sha256}"

    def put_batch(self, blobs: dict[str, bytes], arrivals: Iterable[Arrival] = ()) -> None:
        """Keep ``blobs`` (bytes by SHA-256) and their ``arrivals`` durably, in one commit;
        bytes kept already are left as they are, a drop kept already is not kept twice (a file
        taken again after a crash keeps its first arrival)."""
        arrivals = list(arrivals)
        if not blobs and not arrivals:
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for sha256, data in blobs.items():
                self._insert(sha256, data)
            self._db.executemany(
                """INSERT OR IGNORE INTO arrivals (sha256, source_name, size, mtime_ns,
                       received_at) VALUES (?, ?, ?, ?, ?)""",
                [
                    (
                        a.sha256,
                        a.source_name,
                        a.size,
                        a.mtime_ns,
                        a.received_at.isoformat(timespec="seconds"),
                    )
                    for a in arrivals
                ],
            )
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _insert(self, sha256: str, data: bytes) -> None:
        """Insert an object, its bytes written a piece at a time: inserting a 60 MB value whole
        costs SQLite two more copies of it."""
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO objects (sha256, data) VALUES (?, zeroblob(?))",
            (sha256, len(data)),
        )
        if cursor.rowcount != 1 or not data or cursor.lastrowid is None:
            return  # kept already (or empty: zeroblob(0) is the whole value)
        view = memoryview(data)
        with self._db.blobopen("objects", "data", cursor.lastrowid) as blob:
            for start in range(0, len(view), _PIECE):
                blob.write(view[start : start + _PIECE])

    def has(self, sha256: str) -> bool:
        row = self._db.execute("SELECT 1 FROM objects WHERE sha256 = ?", (sha256,)).fetchone()
        return row is not None or self._legacy(sha256).is_file()

    def read(self, sha256: str) -> bytes:
        row = self._db.execute("SELECT data FROM objects WHERE sha256 = ?", (sha256,)).fetchone()
        return bytes(row[0]) if row is not None else self._legacy(sha256).read_bytes()

    def shas(self) -> Iterator[str]:
        """The SHA-256 of every object kept, in the database and as legacy files."""
        for (sha256,) in self._db.execute("SELECT sha256 FROM objects"):
            yield sha256
        legacy = self.root / "objects"
        if legacy.is_dir():
            for folder in sorted(legacy.iterdir()):
                if folder.is_dir():
                    yield from sorted(p.name for p in folder.iterdir() if p.is_file())

    def is_empty(self) -> bool:
        return next(self.shas(), None) is None

    def arrivals(self) -> list[Arrival]:
        """Every arrival kept, in the order received."""
        rows = self._db.execute(
            "SELECT sha256, source_name, size, mtime_ns, received_at FROM arrivals ORDER BY id"
        )
        return [
            Arrival(sha, name, size, mtime_ns, dt.datetime.fromisoformat(received))
            for sha, name, size, mtime_ns, received in rows
        ]

    def add_event(self, event: Event) -> None:
        """Keep ``event`` durably (before the ledger records it)."""
        self._db.execute(
            "INSERT INTO events (at, kind, body) VALUES (?, ?, ?)",
            (
                event.at.isoformat(timespec="seconds"),
                event.kind,
                json.dumps(event.body, ensure_ascii=False, sort_keys=True),
            ),
        )

    def events(self) -> list[Event]:
        """Every event kept, in the order they happened."""
        rows = self._db.execute("SELECT at, kind, body FROM events ORDER BY id")
        return [
            Event(dt.datetime.fromisoformat(at), kind, json.loads(body)) for at, kind, body in rows
        ]

    def arrival_count(self) -> int:
        count: int = self._db.execute("SELECT COUNT(*) FROM arrivals").fetchone()[0]
        return count

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
