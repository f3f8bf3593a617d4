"""Taking files out of inbox/: archive the bytes, check, record the outcome, answer, remove.

One process, one batch at a time. The order is what makes a crash harmless: the batch's
bytes archived and made durable with one sync -> the batch's outcomes committed in the ledger
in one transaction -> the files removed from inbox/. A crash before the commit leaves the
files in inbox/ to be taken again; a crash after it leaves files whose drops are already
recorded, which the next run recognises (same name, size, time and bytes) and only removes.
Never lost, never twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from .archive import Archive, fsync_dir
from .checks import CheckResult, check_against_previous, check_content
from .config import Config
from .feedback import feedback_file_name, write_feedback, write_unreadable_note
from .form import FormSpec
from .layout import Layout
from .ledger import Ledger, Outcome, Submission
from .periods import Period, local_now
from .problems import Level, Problem
from .reader import Unreadable, read_workbook

log = logging.getLogger("tonghop.intake")

Clock = Callable[[], dt.datetime]
MAX_FILE_BYTES = 64 * 1024 * 1024
_IGNORED_NAMES = {"desktop.ini", "thumbs.db", ".ds_store"}
_TEMP_SUFFIXES = (".tmp", ".temp", ".part", ".partial", ".crdownload", ".download", ".swp", "~")


def is_ignored(path: Path) -> bool:
    """Office owner files, hidden and temporary files are never taken."""
    name = path.name
    lower = name.lower()
    return (
        name.startswith(("~$", ".~lock.", ".", "~"))
        or lower in _IGNORED_NAMES
        or lower.endswith(_TEMP_SUFFIXES)
        or bool(re.match(r"^~.*\.tmp$", lower))
    )


def owner_file_present(path: Path) -> bool:
    """True while Excel (``~$name``) or LibreOffice (``.~lock.name#``) has the file open."""
    folder = path.parent
    name = path.name
    candidates = [folder / f"~${name}", folder / f".~lock.{name}#"]
    if len(name) > 2:
        candidates.append(folder / f"~${name[2:]}")  # Excel drops two chars on long names
    return any(candidate.exists() for candidate in candidates)


def scan_inbox(inbox: Path) -> list[Path]:
    """Files waiting in inbox/ (subfolders included), oldest first."""
    found: list[tuple[int, str, Path]] = []
    if not inbox.is_dir():
        return []
    for root, dirs, files in os.walk(inbox):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            path = Path(root) / name
            if is_ignored(path):
                continue
            try:
                stat = path.stat()
            except OSError:
                continue
            found.append((stat.st_mtime_ns, str(path), path))
    return [path for _, _, path in sorted(found)]


@dataclass
class _Arrival:
    """A file read from inbox/, not yet judged."""

    path: Path
    source_name: str
    stat: os.stat_result
    data: bytes | None  # None when too large to read
    sha256: str | None
    received: dt.datetime
    started: float


@dataclass
class IntakeResult:
    """What happened to one file taken from inbox/."""

    path: Path
    submission: Submission
    feedback: Path | None
    recovered: bool = False

    @property
    def summary(self) -> str:
        sub = self.submission
        who = " ".join(x for x in (sub.branch_code, sub.period) if x)
        text = f"{sub.source_name}: {sub.outcome_label}"
        if who:
            text += f" ({who})"
        if sub.errors:
            text += f", {sub.errors} lỗi"
        if sub.warnings:
            text += f", {sub.warnings} cảnh báo"
        if self.recovered:
            text += " — đã ghi nhận từ lần chạy trước"
        return text


class Intake:
    """Processes inbox files of one workspace. Inject ``clock`` for exact tests."""

    def __init__(
        self,
        workspace: Layout,
        config: Config,
        form: FormSpec,
        ledger: Ledger,
        *,
        clock: Clock = local_now,
    ) -> None:
        self.workspace = workspace
        self.config = config
        self.form = form
        self.ledger = ledger
        self.archive = Archive(workspace.archive)
        self.clock = clock

    # --- public ------------------------------------------------------------------------
    def process(
        self,
        paths: Iterable[Path],
        *,
        batch_size: int = 50,
        crash_hook: Callable[[str], None] | None = None,
    ) -> list[IntakeResult]:
        """Take ``paths`` (files in inbox/), ``batch_size`` at a time: one sync of the archive
        and one ledger commit per batch, and no more than one batch's bytes in memory."""
        paths = list(paths)
        results: list[IntakeResult] = []
        for start in range(0, len(paths), batch_size):
            results.extend(self._take(paths[start : start + batch_size], crash_hook))
        return results

    def process_inbox(
        self, *, batch_size: int = 50, crash_hook: Callable[[str], None] | None = None
    ) -> list[IntakeResult]:
        ready = [p for p in scan_inbox(self.workspace.inbox) if not owner_file_present(p)]
        return self.process(ready, batch_size=batch_size, crash_hook=crash_hook)

    # --- one batch: archive all, one transaction, then the files leave inbox/ ----------------
    def _take(
        self, paths: list[Path], crash_hook: Callable[[str], None] | None
    ) -> list[IntakeResult]:
        arrived = [a for a in (self._arrive(p) for p in paths) if a is not None]
        # Bytes first, durably, before anything is recorded. Bytes the ledger already holds
        # were synced before that commit; any other object on disk may be a crashed batch's
        # unsynced write, so it is written again.
        self.archive.put_batch(
            {
                a.sha256: a.data
                for a in arrived
                if a.data is not None
                and a.sha256 is not None
                and self.ledger.first_with_sha(a.sha256) is None
            }
        )
        if crash_hook:
            crash_hook("after-archive")
        results: list[IntakeResult] = []
        oversize: list[tuple[Path, str]] = []
        with self.ledger.transaction():
            for item in arrived:
                result = self._judge(item, oversize)
                if result is not None:
                    results.append(result)
            if crash_hook:
                crash_hook("before-commit")
        if crash_hook:
            crash_hook("after-commit")
        moved = {path for path, _ in oversize}
        for path, name in oversize:
            self.archive.keep_oversize(path, name)
        for result in results:
            if result.path not in moved:
                result.path.unlink(missing_ok=True)
        for folder in {r.path.parent for r in results}:
            fsync_dir(folder)
        for result in results:
            sub = result.submission
            log.info(
                "%s\t%s\t%s\t%s\t%.0f ms",
                sub.source_name,
                sub.branch_code or "-",
                sub.period or "-",
                sub.outcome_label,
                sub.elapsed_ms or 0,
            )
        return results

    def _arrive(self, path: Path) -> _Arrival | None:
        """Stat and read one file; None when it vanished or cannot be read now."""
        started = time.perf_counter()
        try:
            stat = path.stat()
            data = None if stat.st_size > MAX_FILE_BYTES else path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("Chưa đọc được tệp %s (%s); sẽ thử lại lần sau.", path, exc)
            return None
        sha256 = hashlib.sha256(data).hexdigest() if data is not None else None
        return _Arrival(path, self._source_name(path), stat, data, sha256, self.clock(), started)

    def _judge(self, item: _Arrival, oversize: list[tuple[Path, str]]) -> IntakeResult | None:
        path, stat = item.path, item.stat
        if item.data is None:
            return self._take_oversize(
                path, item.source_name, stat, item.received, oversize, item.started
            )
        for earlier in self.ledger.find_drop(item.source_name, stat.st_size, stat.st_mtime_ns):
            if earlier.sha256 == item.sha256:
                return IntakeResult(path, earlier, None, recovered=True)
        assert item.sha256 is not None
        sub = Submission(
            source_name=item.source_name,
            size=stat.st_size,
            mtime_ns=stat.st_mtime_ns,
            received_at=item.received,
            outcome=Outcome.UNREADABLE,
            sha256=item.sha256,
            archived_as=self.archive.name_of(item.sha256),
        )
        feedback: Path | None = None
        first = self.ledger.first_with_sha(item.sha256)
        if first is not None:
            sub.outcome = Outcome.DUPLICATE
            sub.duplicate_of = first.id
            sub.branch_code, sub.period = first.branch_code, first.period
        else:
            feedback = self._check(path, item, sub)
        sub.elapsed_ms = (time.perf_counter() - item.started) * 1000
        self.ledger.record(sub)
        return IntakeResult(path, sub, feedback)

    def _check(self, path: Path, item: _Arrival, sub: Submission) -> Path | None:
        """Read and check; fills ``sub`` and writes the branch's feedback when there is any."""
        assert item.data is not None
        outcome = read_and_check(item.data, self.form, self.config, sub.received_at.date())
        if isinstance(outcome, str):
            sub.outcome = Outcome.UNREADABLE
            sub.problems = [Problem(Level.ERROR, outcome)]
            target = self._feedback_dir(None) / (
                feedback_file_name(None, None, path.name, sub.received_at).rsplit(".", 1)[0]
                + ".txt"
            )
            write_unreadable_note(path.name, outcome, target)
            sub.feedback = self._relative(target)
            return target

        result = outcome
        if result.period is not None and result.branch_code is not None:
            previous = self.ledger.previous_values(result.branch_code, result.period)
            check_against_previous(result, self.form, previous)
        sub.branch_code = result.branch_code
        sub.period = result.period.code if result.period else None
        sub.problems = result.problems
        sub.values = result.values
        ok = result.accepted and result.branch_code is not None and result.period is not None
        sub.outcome = Outcome.ACCEPTED if ok else Outcome.REJECTED
        if not result.problems:
            return None
        branch = self.config.branch(result.branch_code) if result.branch_code else None
        suffix = ".xlsm" if path.suffix.lower() == ".xlsm" else ".xlsx"
        name = feedback_file_name(sub.branch_code, sub.period, path.name, sub.received_at)
        target = self._feedback_dir(result.period) / (name.rsplit(".", 1)[0] + suffix)
        verdict = (
            f"Báo cáo đã được tiếp nhận, có {sub.warnings} cảnh báo cần xem lại."
            if ok
            else f"Báo cáo chưa được tiếp nhận: có {sub.errors} lỗi cần sửa. "
            "Hãy sửa các ô tô đỏ rồi gửi lại."
        )
        target = write_feedback(
            path,
            result.problems,
            target,
            branch_name=branch.name if branch else None,
            period_label=result.period.label if result.period else None,
            verdict=verdict,
        )
        sub.feedback = self._relative(target)
        return target

    def _take_oversize(
        self,
        path: Path,
        source_name: str,
        stat: os.stat_result,
        received: dt.datetime,
        oversize: list[tuple[Path, str]],
        started: float,
    ) -> IntakeResult:
        for earlier in self.ledger.find_drop(source_name, stat.st_size, stat.st_mtime_ns):
            if earlier.archived_as and earlier.archived_as.startswith("oversize/"):
                oversize.append((path, earlier.archived_as.split("/", 1)[1]))
                return IntakeResult(path, earlier, None, recovered=True)
        megabytes = stat.st_size // (1024 * 1024)
        message = (
            f"Tệp quá lớn ({megabytes} MB) nên không đọc được; một báo cáo chỉ vài chục KB. "
            "Hãy gửi đúng tệp biểu mẫu báo cáo (.xlsx) của chi bộ."
        )
        stamp = received.strftime("%Y%m%d-%H%M%S")
        keep_as = f"{stamp}-{stat.st_ino}-{path.name}"
        sub = Submission(
            source_name=source_name,
            size=stat.st_size,
            mtime_ns=stat.st_mtime_ns,
            received_at=received,
            outcome=Outcome.UNREADABLE,
            problems=[Problem(Level.ERROR, message)],
            archived_as=f"oversize/{keep_as}",
        )
        target = self._feedback_dir(None) / f"{Path(keep_as).stem}-phan-hoi.txt"
        write_unreadable_note(path.name, message, target)
        sub.feedback = self._relative(target)
        sub.elapsed_ms = (time.perf_counter() - started) * 1000
        self.ledger.record(sub)
        oversize.append((path, keep_as))
        return IntakeResult(path, sub, target)

    # --- helpers -----------------------------------------------------------------------
    def _source_name(self, path: Path) -> str:
        inbox = self.workspace.inbox
        if path.is_relative_to(inbox):  # as scan_inbox and the watcher name them
            return path.relative_to(inbox).as_posix()
        try:
            return path.resolve().relative_to(inbox.resolve()).as_posix()
        except ValueError:
            return path.name

    def _feedback_dir(self, period: Period | None) -> Path:
        if period is None:
            return self.workspace.outbox / "khong-doc-duoc"
        return self.workspace.period_outbox(period) / "phan-hoi"

    def _relative(self, target: Path) -> str:
        try:
            return target.relative_to(self.workspace.outbox).as_posix()
        except ValueError:
            return str(target)


def read_and_check(
    data: bytes, form: FormSpec, config: Config, today: dt.date
) -> CheckResult | str:
    """The check of one file's bytes, or the Vietnamese reason it cannot be read.

    Never raises: a file that trips an unexpected error in the reader is answered as
    unreadable (and logged), so one strange file never stops the others.
    """
    try:
        return check_content(read_workbook(data), form, config, today=today)
    except Unreadable as exc:
        return exc.message
    except Exception:
        log.exception("Lỗi bất thường khi đọc một tệp; tệp được trả lời là không đọc được.")
        return (
            "Không đọc được tệp do nội dung bất thường. Hãy mở tệp bằng Excel, chọn Lưu thành "
            "Sổ làm việc Excel (.xlsx) rồi gửi lại; nếu vẫn lỗi, báo Văn phòng Đảng ủy."
        )
