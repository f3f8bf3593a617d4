"""The ledger against the archive: refuse a damaged ledger, verify the two, rebuild the ledger.

The ledger (archive/ledger.sqlite3) says what became of each file; the archive
(archive/objects.sqlite3) keeps each file's bytes and its arrival (name, size, time, when
received). A ledger that is empty, truncated, unreadable or ignorant of objects the archive
holds must never be replaced silently by an empty one: intake stops (:class:`LedgerDamaged`,
exit 2) until ``tonghop verify --rebuild`` has rebuilt it from the archive, judging every
arrival again, in the order received, with the same intake that judged it the first time.

The rebuild writes no feedback into outbox/ and touches nothing in inbox/: the branches had
their answers the first time. Each arrival's bytes are copied into a scratch workspace
(archive/.dung-lai/) under its recorded name and time, taken there by a plain
:class:`~tonghop.intake.inbox.Intake` with a clock that says when it was received, so its row
(outcome, problems, values, feedback name) comes out as it did; the scratch folder, the
feedback written into it included, is removed afterwards (and at the start of the next
rebuild, after a crash). Files too large to read were never objects: they are kept in
archive/oversize/ as STAMP-INODE-NAME and re-taken from there in their place (by receipt
time, then modification time), through a hard link, so that the intake keeps them under the
very same name; one that sat in a subfolder of inbox/ comes back under its bare name.
"""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import os
import re
import shutil
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from tonghop.config import Config
from tonghop.errors import DiskFull, LedgerBusy, LedgerDamaged, StorageError, StorageReadOnly
from tonghop.form import FormSpec
from tonghop.intake.archive import Archive, Arrival, fsync_dir
from tonghop.layout import Layout
from tonghop.ledger import Ledger, ledger_damaged
from tonghop.replay import EventReplay

__all__ = [
    "RebuildResult",
    "VerifyResult",
    "backfill_arrivals",
    "damage_error",
    "probe_ledger",
    "rebuild_ledger",
    "storage_error",
    "sweep_temporary",
    "unknown_objects",
    "verify",
]

SCRATCH_NAME = ".dung-lai"
BUILDING_NAME = "ledger-dang-dung-lai.sqlite3"
_SQLITE_SIDES = ("", "-wal", "-shm", "-journal")


def probe_ledger(path: Path, archive: Archive) -> str | None:
    """Why the ledger at ``path`` cannot be trusted (a Vietnamese phrase), or None.

    A missing ledger beside an empty archive is a new workspace, not damage.
    """
    if not path.exists():
        if archive.is_empty():
            return None
        return "không còn tệp sổ, trong khi kho lưu trữ vẫn giữ các tệp đã nhận"
    if path.stat().st_size == 0:
        return "tệp rỗng (0 byte)"
    try:
        db = sqlite3.connect(path, timeout=30)
        try:
            found = [row[0] for row in db.execute("PRAGMA quick_check")]
            tables = {
                row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
        finally:
            db.close()
    except sqlite3.OperationalError:
        raise  # read-only, full, locked: the disk's fault, reported by storage_error
    except sqlite3.DatabaseError as exc:
        return f"không đọc được cơ sở dữ liệu ({exc})"
    if found != ["ok"]:
        return f"cơ sở dữ liệu bị lỗi ({'; '.join(str(x) for x in found[:3])})"
    if "submissions" not in tables and not archive.is_empty():
        return "không có bảng các tệp đã nhận (submissions)"
    return None


def _pending(arrivals: Iterable[Arrival], inbox: Path) -> bool:
    """An arrival whose file is still in inbox/ as it was: a batch whose bytes were committed
    but whose outcomes were not (a crash between the two); the next intake records it."""
    for arrival in arrivals:
        try:
            stat = (inbox / arrival.source_name).stat()
        except (OSError, ValueError):
            continue
        if stat.st_size == arrival.size and stat.st_mtime_ns == arrival.mtime_ns:
            return True
    return False


def unknown_objects(ledger: Ledger, archive: Archive, inbox: Path) -> list[str]:
    """Objects in the archive that no ledger row knows, except those still waiting in inbox/."""
    known = ledger.known_shas()
    unknown = [sha for sha in archive.shas() if sha not in known]
    if not unknown:
        return []
    by_sha: dict[str, list[Arrival]] = {}
    for arrival in archive.arrivals():
        by_sha.setdefault(arrival.sha256, []).append(arrival)
    waiting = [sha for sha in unknown if not _pending(by_sha.get(sha, []), inbox)]
    if not waiting:
        return []
    # Read again: an intake may have committed them (and removed their files) meanwhile.
    known = ledger.known_shas()
    return [sha for sha in waiting if sha not in known]


def backfill_arrivals(ledger: Ledger, archive: Archive) -> int:
    """Give the archive the arrivals of rows recorded before it kept them (an archive written
    by an older tonghop), so that it can rebuild them too. Returns how many were missing."""
    before = archive.arrival_count()
    if ledger.drops_with_bytes() <= before:
        return 0
    archive.put_batch({}, [Arrival(*drop) for drop in ledger.drops()])
    return archive.arrival_count() - before


STALE_SECONDS = 600
_TEMPORARY = re.compile(r"^\..+\.(\d+)\.tmp(\.[A-Za-z]+)?$")


def sweep_temporary(folder: Path) -> list[Path]:
    """Remove the temporary files (``.NAME.PID.tmp...``) a write left behind in ``folder``
    when it failed (a full disk) or was killed: those of a process that is gone, and any older
    than ``STALE_SECONDS`` (no write lasts that long; on Windows the only test)."""
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    now = time.time()
    for root, _, files in os.walk(folder):
        for name in files:
            match = _TEMPORARY.match(name)
            if match is None:
                continue
            path = Path(root) / name
            try:
                fresh = now - path.lstat().st_mtime < STALE_SECONDS
                if fresh and not _gone(int(match.group(1))):
                    continue
                path.unlink()
            except OSError:
                continue
            removed.append(path)
    return removed


def _gone(pid: int) -> bool:
    """True only when process ``pid`` surely no longer exists (never asked on Windows, where
    os.kill would end the process)."""
    if os.name == "nt" or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (OSError, OverflowError):
        return False
    return False


@dataclass
class VerifyResult:
    """What ``tonghop verify`` found: Vietnamese lines, one per thing wrong."""

    ledger: Path
    rows: int = 0
    objects: int = 0
    problems: list[str] = field(default_factory=list)
    ledger_wrong: bool = False  # the ledger is damaged or misses files: rebuild it
    archive_wrong: bool = False  # kept bytes missing or changed: rebuilding would lose rows

    @property
    def ok(self) -> bool:
        return not self.problems

    def ledger_problem(self, text: str) -> None:
        self.problems.append(text)
        self.ledger_wrong = True

    def archive_problem(self, text: str) -> None:
        self.problems.append(text)
        self.archive_wrong = True


def verify(layout: Layout, archive: Archive) -> VerifyResult:
    """Check the ledger and the archive against each other: every row's object is there and
    hashes to its name (its bytes read again), every object is known to a row."""
    result = VerifyResult(layout.ledger)
    reason = probe_ledger(layout.ledger, archive)
    if reason is not None:
        result.ledger_problem(f"Sổ ghi nhận {layout.ledger} bị hỏng: {reason}.")
        return result
    if not layout.ledger.exists():
        return result  # a new workspace: nothing received, nothing kept
    checked: dict[str, str | None] = {}
    with Ledger(layout.ledger) as ledger:
        rows = ledger.all()
        result.rows = len(rows)
        for sub in rows:
            where = (
                f"Dòng số {sub.id} ({sub.source_name}, nhận lúc {sub.received_at:%d/%m/%Y %H:%M})"
            )
            if sub.sha256 is None:
                kept = sub.archived_as or ""
                if kept.startswith("oversize/") and not (layout.archive / kept).is_file():
                    result.archive_problem(f"{where}: thiếu tệp lưu trữ {kept}.")
                continue
            if sub.sha256 not in checked:
                checked[sub.sha256] = _object_problem(archive, sub.sha256)
            problem = checked[sub.sha256]
            if problem is not None:
                result.archive_problem(f"{where}: {problem}")
        unknown = unknown_objects(ledger, archive, layout.inbox)
        for sha in unknown:
            result.ledger_problem(
                f"Tệp lưu trữ {Archive.name_of(sha)} không có dòng nào trong sổ ghi nhận."
            )
        recorded = {(sha, name, size, mtime) for sha, name, size, mtime, _ in ledger.drops()}
        for arrival in archive.arrivals():
            drop = (arrival.sha256, arrival.source_name, arrival.size, arrival.mtime_ns)
            if drop in recorded or arrival.sha256 in unknown or _pending([arrival], layout.inbox):
                continue
            result.ledger_problem(
                f"Tệp {arrival.source_name} nhận lúc {arrival.received_at:%d/%m/%Y %H:%M} "
                f"(lưu trữ {Archive.name_of(arrival.sha256)}) không có dòng trong sổ ghi nhận."
            )
    result.objects = sum(1 for _ in archive.shas())
    return result


def _object_problem(archive: Archive, sha256: str) -> str | None:
    name = Archive.name_of(sha256)
    if not archive.has(sha256):
        return f"thiếu tệp lưu trữ {name}."
    if hashlib.sha256(archive.read(sha256)).hexdigest() != sha256:
        return f"tệp lưu trữ {name} đã bị thay đổi (mã SHA-256 không khớp)."
    return None


@dataclass
class RebuildResult:
    """What ``tonghop verify --rebuild`` did."""

    ledger: Path
    kept_aside: list[Path]
    rows: int
    counted: int
    periods: list[str]
    skipped: list[str] = field(default_factory=list)


def rebuild_ledger(
    layout: Layout,
    config: Config,
    form: FormSpec,
    archive: Archive,
    now: dt.datetime,
) -> RebuildResult:
    """Keep the current ledger aside (never deleted), then build a new one by judging every
    archived arrival again, in the order received, with the secretary's decisions and the
    finalized periods put back where they happened. Call with the intake lock held."""
    scratch = layout.archive / SCRATCH_NAME
    building = layout.archive / BUILDING_NAME
    shutil.rmtree(scratch, ignore_errors=True)  # left by a rebuild that crashed
    _remove_database(building)
    kept_aside = _keep_aside(layout.ledger, now)
    skipped: list[str] = []
    oversize = _kept_oversize(archive)
    try:
        with Ledger(building) as ledger:
            scratch_layout = Layout(scratch)
            replay = EventReplay(ledger, layout, archive.events())
            for arrival in archive.arrivals():
                replay.before(arrival)
                # In their place: received earlier, or in the same second and older (the order
                # the intake takes a folder in).
                while oversize and oversize[0][:2] < (arrival.received_at, arrival.mtime_ns):
                    _retake_oversize(
                        *oversize.pop(0), archive, ledger, scratch_layout, config, form
                    )
                if not archive.has(arrival.sha256):
                    skipped.append(
                        f"{arrival.source_name} (nhận lúc {arrival.received_at:%d/%m/%Y %H:%M}): "
                        f"thiếu tệp lưu trữ {Archive.name_of(arrival.sha256)}, không ghi lại được."
                    )
                    continue
                _rejudge(arrival, archive, ledger, scratch_layout, config, form)
                replay.taken(arrival)
            for kept in oversize:
                _retake_oversize(*kept, archive, ledger, scratch_layout, config, form)
            replay.rest()
            skipped.extend(replay.skipped)
            rows, counted = ledger.count(), len(ledger.counted())
            periods = sorted(ledger.periods())
        os.replace(building, layout.ledger)
        fsync_dir(layout.archive)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return RebuildResult(layout.ledger, kept_aside, rows, counted, periods, skipped)


def _rejudge(
    arrival: Arrival,
    archive: Archive,
    ledger: Ledger,
    scratch: Layout,
    config: Config,
    form: FormSpec,
) -> None:
    """Take ``arrival`` again through the intake, in the scratch workspace."""
    from tonghop.intake.inbox import Intake  # (the intake brings openpyxl: only when needed)

    name = PurePosixPath(arrival.source_name)
    if name.is_absolute() or ".." in name.parts:
        name = PurePosixPath(name.name)
    path = scratch.inbox / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(archive.read(arrival.sha256))
    os.utime(path, ns=(arrival.mtime_ns, arrival.mtime_ns))
    intake = Intake(
        scratch, config, form, ledger, clock=lambda: arrival.received_at, archive=archive
    )
    intake.process([path])


_OVERSIZE_NAME = re.compile(r"^(\d{8}-\d{6})-(\d+)-(.+)$")


def _kept_oversize(archive: Archive) -> list[tuple[dt.datetime, int, Path, str]]:
    """The files too large to read, kept in archive/oversize/ as STAMP-INODE-NAME, by when
    they were received: (received_at, mtime_ns, kept file, name)."""
    found = []
    if archive.oversize.is_dir():
        for path in archive.oversize.iterdir():
            match = _OVERSIZE_NAME.match(path.name)
            if match is None or not path.is_file():
                continue
            received = dt.datetime.strptime(match.group(1), "%Y%m%d-%H%M%S")
            found.append((received, path.stat().st_mtime_ns, path, match.group(3)))
    return sorted(found, key=lambda item: (item[0], item[1], item[2].name))


def _retake_oversize(
    received: dt.datetime,
    mtime_ns: int,
    kept: Path,
    name: str,
    archive: Archive,
    ledger: Ledger,
    scratch: Layout,
    config: Config,
    form: FormSpec,
) -> None:
    """Take a kept oversize file again: a hard link to it in the scratch inbox/ (same inode,
    size and time, so the intake keeps it under the very same name, without copying it)."""
    from tonghop.intake.inbox import Intake

    path = scratch.inbox / name
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(kept, path)
    except OSError:
        return  # a file system without hard links: the row cannot be made as it was
    if path.stat().st_ino != kept.stat().st_ino:  # pragma: no cover - paranoid
        path.unlink()
        return
    Intake(scratch, config, form, ledger, clock=lambda: received, archive=archive).process([path])
    path.unlink(missing_ok=True)  # renamed onto its own other link: still here


def _keep_aside(ledger: Path, now: dt.datetime) -> list[Path]:
    """Move the ledger (and its -wal/-shm files) to archive/ledger-hong-YYYYmmdd-HHMMSS.sqlite3."""
    if not any(Path(f"{ledger}{side}").exists() for side in _SQLITE_SIDES):
        return []
    stem = f"ledger-hong-{now:%Y%m%d-%H%M%S}"
    target = ledger.with_name(f"{stem}.sqlite3")
    number = 1
    while any(Path(f"{target}{side}").exists() for side in _SQLITE_SIDES):
        number += 1
        target = ledger.with_name(f"{stem}-{number}.sqlite3")
    moved = []
    for side in _SQLITE_SIDES:
        source = Path(f"{ledger}{side}")
        if source.exists():
            os.replace(source, f"{target}{side}")
            moved.append(Path(f"{target}{side}"))
    fsync_dir(ledger.parent)
    return moved


def _remove_database(path: Path) -> None:
    for side in _SQLITE_SIDES:
        Path(f"{path}{side}").unlink(missing_ok=True)


_FULL = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))
_DENIED = (errno.EACCES, errno.EPERM)
_NOTHING_LOST = (
    "Không mất tệp nào: tệp chưa ghi sổ vẫn nằm trong inbox/ và được nhận ở lần chạy sau."
)


def storage_error(exc: BaseException, where: Path) -> StorageError | None:
    """The clear message for a write the disk refused (read-only, full, no permission), or
    None when ``exc`` is something else. ``where`` is the folder written to when the error
    does not say (SQLite never does: then it is archive/)."""
    if isinstance(exc, sqlite3.OperationalError):
        text = str(exc).lower()
        if "readonly" in text or "read-only" in text:
            return _read_only(where)
        if "unable to open" in text:
            return _denied(where)
        if "disk is full" in text or ("disk i/o error" in text and _disk_full(where)):
            return _full(where)
        if "database is locked" in text or "database is busy" in text:
            return LedgerBusy(
                "Sổ ghi nhận đang bận (một tiến trình khác đang ghi, ví dụ đang tiếp nhận một "
                f"loạt tệp) nên lệnh chưa làm được gì. {_NOTHING_LOST} Hãy đợi một lát rồi "
                "chạy lại lệnh."
            )
        return None
    if not isinstance(exc, OSError):
        return None
    if exc.filename:
        where = Path(os.fsdecode(exc.filename))
    if exc.errno in _FULL:
        return _full(where)
    if exc.errno == errno.EROFS:
        return _read_only(where)
    if exc.errno in _DENIED:
        return _denied(where)
    return None


def _full(where: Path) -> DiskFull:
    return DiskFull(
        f"Ổ đĩa chứa {where} đã đầy nên không ghi tiếp được. {_NOTHING_LOST} Hãy giải phóng "
        "chỗ trống trên ổ đĩa rồi chạy lại lệnh."
    )


def _read_only(where: Path) -> StorageReadOnly:
    return StorageReadOnly(
        f"Không ghi được vào {where}: ổ đĩa hoặc thư mục chỉ cho đọc. {_NOTHING_LOST} Hãy cho "
        "phép ghi vào thư mục làm việc (hoặc chép nó sang ổ khác) rồi chạy lại lệnh."
    )


def _denied(where: Path) -> StorageReadOnly:
    return StorageReadOnly(
        f"Không mở được {where}: người dùng này không có quyền đọc hoặc ghi ở đó. "
        f"{_NOTHING_LOST} Hãy cấp quyền cho thư mục làm việc (hoặc chạy bằng đúng người dùng) "
        "rồi chạy lại lệnh."
    )


def damage_error(exc: BaseException, layout: Layout) -> LedgerDamaged | None:
    """A database found damaged in the middle of a command (``database disk image is
    malformed``): the ledger's damage message when the ledger is what is damaged."""
    if not isinstance(exc, sqlite3.DatabaseError) or isinstance(exc, sqlite3.OperationalError):
        return None
    try:
        with Archive(layout.archive) as archive:
            reason = probe_ledger(layout.ledger, archive)
    except sqlite3.Error:
        return None
    return None if reason is None else ledger_damaged(layout.ledger, reason)


def _disk_full(where: Path) -> bool:
    try:
        usage = shutil.disk_usage(where if where.exists() else where.parent)
    except OSError:
        return False
    return usage.free < 1024 * 1024
