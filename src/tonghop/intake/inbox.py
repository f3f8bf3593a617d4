"""Taking files out of inbox/: archive the bytes, check, record the outcome, answer, remove.

One process, one batch at a time. The order is what makes a crash harmless: the batch's
bytes committed durably in the archive (see :mod:`tonghop.archive`) -> its outcomes committed
in the ledger, in one transaction -> the files removed from inbox/. A crash before the
ledger's commit leaves the
files in inbox/ to be taken again; a crash after it leaves files whose drops are already
recorded, which the next run recognises (same name, size, time and bytes) and only removes.
Never lost, never twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from tonghop.blank import ascii_slug
from tonghop.config import Config
from tonghop.decisions import Decisions
from tonghop.form import FormSpec
from tonghop.intake._files import (
    STRANGE_WHAT,
    Strange,
    clean_text,
    for_log,
    is_ignored,
    open_regular,
    owner_file_present,
    scan_inbox,
    short_name,
    size_to_read,
    strange_note,
    write_note,
)
from tonghop.intake._package import MAX_INPUT_BYTES
from tonghop.intake.archive import Archive, Arrival, fsync_dir
from tonghop.intake.checks import check_against_previous, read_and_check
from tonghop.intake.feedback import feedback_file_name, write_feedback, write_unreadable_note
from tonghop.intake.receipt import issue_receipt
from tonghop.layout import Layout
from tonghop.ledger import Ledger, Outcome, Submission
from tonghop.periods import Period, local_now
from tonghop.problems import Level, Problem

__all__ = [
    "MAX_BATCH_BYTES",
    "MAX_FILE_BYTES",
    "Intake",
    "IntakeResult",
    "is_ignored",
    "local_now",
    "owner_file_present",
    "read_and_check",
    "scan_inbox",
]

log = logging.getLogger("tonghop.intake.inbox")

Clock = Callable[[], dt.datetime]
# A return is tens of KB. A file larger than the reader accepts is never read (it is moved
# into archive/oversize/ and answered), rather than read, archived and then refused.
MAX_FILE_BYTES = MAX_INPUT_BYTES
MAX_BATCH_BYTES = 64 * 1024 * 1024  # file bytes held at once, whatever arrives

FAILED_MESSAGE = (
    "Chương trình gặp lỗi bất thường khi xử lý tệp này (lỗi của chương trình, không phải "
    "của chi bộ). Tệp đã được lưu lại nguyên vẹn để Văn phòng Đảng ủy kiểm tra. Hãy báo "
    "Văn phòng Đảng ủy; không cần sửa tệp."
)


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
    receipt: Path | None = None  # the giấy xác nhận of a return taken in (see intake.receipt)

    @property
    def summary(self) -> str:
        sub = self.submission
        who = " ".join(x for x in (sub.branch_code, sub.period) if x)
        text = f"{for_log(sub.source_name)}: {sub.outcome_label}"
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
        archive: Archive | None = None,
    ) -> None:
        self.workspace = workspace
        self.config = config
        self.form = form
        self.ledger = ledger
        self.archive = archive or Archive(workspace.archive)
        self.clock = clock
        self.batch_bytes = MAX_BATCH_BYTES
        self._left_alone: set[tuple[str, str]] = set()  # (source name, kind) logged this run
        self._not_yet: set[tuple[str, int | None]] = set()  # (path, errno) logged this run

    # --- public ------------------------------------------------------------------------
    def process(
        self,
        paths: Iterable[Path],
        *,
        batch_size: int = 50,
        crash_hook: Callable[[str], None] | None = None,
    ) -> list[IntakeResult]:
        """Take ``paths`` (entries of inbox/) in batches of at most ``batch_size`` files and
        ``self.batch_bytes`` bytes: one durable commit of the bytes and one of the outcomes
        per batch, and no more than one batch's bytes in memory. Entries that are not regular
        files are left where they are, answered once (see ``_leave_alone``)."""
        results: list[IntakeResult] = []
        batch: list[_Arrival] = []
        held = 0
        for path in paths:
            coming = size_to_read(path, MAX_FILE_BYTES)
            if batch and (len(batch) >= batch_size or held + coming > self.batch_bytes):
                results.extend(self._take(batch, crash_hook))
                batch, held = [], 0
            item = self._arrive(path)
            if item is not None:
                batch.append(item)
                held += len(item.data) if item.data is not None else 0
            del item  # the batch alone holds the bytes, so a flushed batch frees them
        if batch:
            results.extend(self._take(batch, crash_hook))
        return results

    def process_inbox(
        self, *, batch_size: int = 50, crash_hook: Callable[[str], None] | None = None
    ) -> list[IntakeResult]:
        ready = [p for p in scan_inbox(self.workspace.inbox) if not owner_file_present(p)]
        return self.process(ready, batch_size=batch_size, crash_hook=crash_hook)

    # --- one batch: archive all, one transaction, then the files leave inbox/ ----------------
    def _take(
        self, arrived: list[_Arrival], crash_hook: Callable[[str], None] | None
    ) -> list[IntakeResult]:
        # Bytes first, durably (one commit for the batch), before anything is recorded.
        self.archive.put_batch(
            {a.sha256: a.data for a in arrived if a.data is not None and a.sha256 is not None},
            [
                Arrival(a.sha256, a.source_name, a.stat.st_size, a.stat.st_mtime_ns, a.received)
                for a in arrived
                if a.sha256 is not None
            ],
        )
        if crash_hook:
            crash_hook("after-archive")
        results: list[IntakeResult] = []
        oversize: list[tuple[Path, str]] = []
        with self.ledger.transaction():
            for item in arrived:
                result = self._judge_alone(item, oversize)
                if result is not None:
                    results.append(result)
            if crash_hook:
                crash_hook("before-commit")
        if crash_hook:
            crash_hook("after-commit")
        # Once the outcome (and so «Mã tệp N») is committed; a file taken again after a crash
        # before its receipt was recorded gets it now.
        receipts = []
        for result in results:
            sub = result.submission
            if sub.receipt is None and sub.id is not None:
                result.receipt = issue_receipt(self.workspace, self.config, self.form, sub)
                if result.receipt is not None:
                    sub.receipt = self._relative(result.receipt)
                    receipts.append((sub.id, sub.receipt))
        if receipts:
            self.ledger.set_receipts(receipts)
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
                for_log(sub.source_name),
                for_log(sub.branch_code or "-"),
                for_log(sub.period or "-"),
                sub.outcome_label,
                sub.elapsed_ms or 0,
            )
        return results

    def _arrive(self, path: Path) -> _Arrival | None:
        """Read one regular file (at most MAX_FILE_BYTES + 1 bytes of it); None when it
        vanished, cannot be read now, or is not a regular file (then left alone)."""
        started = time.perf_counter()
        try:
            opened = open_regular(path, MAX_FILE_BYTES)
        except FileNotFoundError:
            return None
        except OSError as exc:
            if (str(path), exc.errno) not in self._not_yet:  # once a run, not every rescan
                self._not_yet.add((str(path), exc.errno))
                log.warning(
                    "Chưa đọc được tệp %s (%s); sẽ thử lại lần sau.", for_log(path), for_log(exc)
                )
            return None
        if isinstance(opened, Strange):
            self._leave_alone(path, opened.kind)
            return None
        data = opened.data
        sha256 = hashlib.sha256(data).hexdigest() if data is not None else None
        return _Arrival(
            path, self._source_name(path), opened.stat, data, sha256, self.clock(), started
        )

    def _leave_alone(self, path: Path, kind: str) -> None:
        """A link, FIFO, socket or device in inbox/: never opened, kept out of the batch; one
        log line per run and one note in outbox/khong-doc-duoc/, written once."""
        if kind == "folder":
            return  # a real folder named as a file by an event: scanned, not answered
        source = self._source_name(path)
        if (source, kind) in self._left_alone:
            return
        self._left_alone.add((source, kind))
        what = STRANGE_WHAT.get(kind, STRANGE_WHAT["other"])
        log.warning("Bỏ qua %s: %s; không mở, không lưu.", for_log(source), what)
        tag = hashlib.sha256(f"{source}/{kind}".encode()).hexdigest()[:8]
        target = self._feedback_dir(None) / (
            f"{ascii_slug(Path(source).name, limit=60)}-{tag}-khong-mo.txt"
        )
        if target.exists():
            return
        lines = strange_note(for_log(source), what)
        try:
            write_note(target, lines)
        except OSError as exc:
            log.warning("Không ghi được %s (%s).", for_log(target), for_log(exc))

    def _judge_alone(self, item: _Arrival, oversize: list[tuple[Path, str]]) -> IntakeResult | None:
        """Judge one file inside the batch's transaction; whatever goes wrong with it is
        undone for it alone and it is recorded as ``failed``, the batch goes on."""
        mark = len(oversize)
        try:
            with self.ledger.savepoint():
                return self._judge(item, oversize)
        except Exception:
            del oversize[mark:]
            log.exception(
                "Lỗi bất thường khi xử lý %s; tệp được ghi nhận là «%s».",
                for_log(item.source_name),
                Outcome.FAILED.label,
            )
        return self._record_failed(item, oversize)

    def _record_failed(self, item: _Arrival, oversize: list[tuple[Path, str]]) -> IntakeResult:
        stat = item.stat
        if item.sha256 is not None:
            archived_as = self.archive.name_of(item.sha256)
        else:  # too large to read: its bytes are kept by moving the file
            keep_as = self._oversize_name(item.path, item.received, stat)
            oversize.append((item.path, keep_as))
            archived_as = f"oversize/{keep_as}"
        sub = Submission(
            source_name=item.source_name,
            size=stat.st_size,
            mtime_ns=stat.st_mtime_ns,
            received_at=item.received,
            outcome=Outcome.FAILED,
            sha256=item.sha256,
            problems=[Problem(Level.ERROR, FAILED_MESSAGE)],
            archived_as=archived_as,
        )
        stamp = item.received.strftime("%Y%m%d-%H%M%S")
        target = self._feedback_dir(None) / (
            f"{ascii_slug(item.path.stem, limit=60)}-loi-xu-ly-{stamp}.txt"
        )
        lines = [
            "PHẢN HỒI: LỖI KHI XỬ LÝ TỆP",
            "",
            f"Tệp đã nhận: {for_log(item.source_name)}",
            f"Thời điểm nhận: {item.received:%H:%M ngày %d/%m/%Y}",
            f"Lý do: {FAILED_MESSAGE}",
            "",
        ]
        try:
            target = write_note(target, lines)
            sub.feedback = self._relative(target)
        except OSError as exc:
            log.warning("Không ghi được %s (%s).", for_log(target), for_log(exc))
        sub.elapsed_ms = (time.perf_counter() - item.started) * 1000
        self.ledger.record(sub)
        return IntakeResult(item.path, sub, target if sub.feedback else None)

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
        answer: Callable[[], Path] | None = None
        first = self.ledger.first_with_sha(item.sha256)
        if first is not None:
            sub.outcome = Outcome.DUPLICATE
            sub.duplicate_of = first.id
            sub.branch_code, sub.period = first.branch_code, first.period
        else:
            answer = self._check(path, item, sub)
        if answer is None:  # nothing to write: the row is complete as recorded
            sub.elapsed_ms = (time.perf_counter() - item.started) * 1000
            self.ledger.record(sub)
            return IntakeResult(path, sub, None)
        self.ledger.record(sub)
        # After the row: the answer names the file's id («Mã tệp»).
        feedback = answer()
        sub.feedback = self._relative(feedback)
        sub.elapsed_ms = (time.perf_counter() - item.started) * 1000
        self.ledger.set_answer(sub)
        return IntakeResult(path, sub, feedback)

    def _check(self, path: Path, item: _Arrival, sub: Submission) -> Callable[[], Path] | None:
        """Read and check, filling ``sub``; returns what writes the branch's answer, when
        there is one to write (called once ``sub`` has its id)."""
        assert item.data is not None
        outcome = read_and_check(item.data, self.form, self.config, sub.received_at.date())
        if isinstance(outcome, str):
            message = outcome
            sub.outcome = Outcome.UNREADABLE
            sub.problems = [Problem(Level.ERROR, message)]
            target = self._feedback_dir(None) / (
                feedback_file_name(None, None, path.name, sub.received_at).rsplit(".", 1)[0]
                + ".txt"
            )
            return lambda: write_unreadable_note(path.name, message, target, ref=sub.ref)

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
        held = ok and sub.period is not None and Decisions(self.ledger).is_final(sub.period)
        if held:
            # Finalized: received and answered, counted only once the period is reopened.
            sub.outcome, sub.judged = Outcome.HELD, Outcome.ACCEPTED
        if not result.problems and not held:
            return None
        branch = self.config.branch(result.branch_code) if result.branch_code else None
        suffix = ".xlsm" if path.suffix.lower() == ".xlsm" else ".xlsx"
        name = feedback_file_name(sub.branch_code, sub.period, path.name, sub.received_at)
        target = self._feedback_dir(result.period) / (name.rsplit(".", 1)[0] + suffix)
        if held:
            verdict = (
                "Báo cáo đã được nhận nhưng kỳ này đã chốt số liệu, nên chưa được tính vào số "
                "liệu tổng hợp. Văn phòng Đảng ủy sẽ xem xét; không cần gửi lại."
            )
        elif ok:
            verdict = f"Báo cáo đã được tiếp nhận, có {sub.warnings} cảnh báo cần xem lại."
        else:
            verdict = (
                f"Báo cáo chưa được tiếp nhận: có {sub.errors} lỗi cần sửa. "
                "Hãy sửa các ô tô đỏ rồi gửi lại."
            )

        def answer() -> Path:
            return write_feedback(
                path,
                result.problems,
                target,
                branch_name=branch.name if branch else None,
                period_label=result.period.label if result.period else None,
                verdict=verdict,
                data=item.data,  # the bytes judged: the name is never opened again
                ref=sub.ref,
            )

        return answer

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
        keep_as = self._oversize_name(path, received, stat)
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
        target = write_unreadable_note(clean_text(path.name), message, target)
        sub.feedback = self._relative(target)
        sub.elapsed_ms = (time.perf_counter() - started) * 1000
        self.ledger.record(sub)
        oversize.append((path, keep_as))
        return IntakeResult(path, sub, target)

    @staticmethod
    def _oversize_name(path: Path, received: dt.datetime, stat: os.stat_result) -> str:
        """The kept file's name in archive/oversize/: the original's, shortened so that this
        name and the note's derived from it stay far below the file system's 255 bytes."""
        stamp = received.strftime("%Y%m%d-%H%M%S")
        return f"{stamp}-{stat.st_ino}-{short_name(clean_text(path.name), 100)}"

    # --- helpers -----------------------------------------------------------------------
    def _source_name(self, path: Path) -> str:
        """The name recorded: relative to inbox/, as text the ledger can store."""
        inbox = self.workspace.inbox
        if path.is_relative_to(inbox):  # as scan_inbox and the watcher name them
            return clean_text(path.relative_to(inbox).as_posix())
        try:
            # The folder resolved, never the entry itself: a link is named as itself.
            inside = path.parent.resolve().relative_to(inbox.resolve()) / path.name
            return clean_text(inside.as_posix())
        except ValueError:
            return clean_text(path.name)

    def _feedback_dir(self, period: Period | None) -> Path:
        if period is None:
            return self.workspace.outbox / "khong-doc-duoc"
        return self.workspace.period_outbox(period) / "phan-hoi"

    def _relative(self, target: Path) -> str:
        try:
            return target.relative_to(self.workspace.outbox).as_posix()
        except ValueError:
            return str(target)
