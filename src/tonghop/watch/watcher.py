"""``tonghop watch``: take each return the moment it is completely in inbox/, rebuild the report.

Threads: watchdog's observer thread only turns file-system events into ``handle_event`` calls,
which put them on a thread-safe queue. One worker (the main thread in ``run_watch``) owns the
ledger and does everything else in ``tick``: apply the queued events, rescan inbox/ every
``interval`` seconds (events are only hints), take the files that are complete (see
``_settle``), and rebuild the changed periods (see ``_rebuild``). A PDF is made in the
background long after the last change. Tests drive ``handle_event`` and ``tick`` with a fake
clock and no watchdog at all.

A kill at any moment is harmless: the intake records a file before removing it, and on start
the watcher takes whatever is in inbox/ and rebuilds every period whose report is older than
its latest received file.
"""

from __future__ import annotations

import datetime as dt
import logging
import logging.handlers
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Protocol

from tonghop.errors import LockBusy
from tonghop.intake._files import for_log
from tonghop.intake.inbox import IntakeResult, scan_inbox
from tonghop.ledger import Outcome
from tonghop.locking import FileLock
from tonghop.office import find_soffice
from tonghop.watch._observe import CHANGED, CLOSED, FOLDER, GONE, MOVED, ObserverManager
from tonghop.watch._rebuild import Build, PdfMaker, Publisher, Rebuilder
from tonghop.watch._settle import Settler, Signature, signature_of
from tonghop.workspace import Workspace

__all__ = ["IntakeLike", "WatchOptions", "Watcher", "configure_logging", "run_watch"]

log = logging.getLogger("tonghop.watch.watcher")

RESCAN = "rescan"
WAKE = "wake"

RETRY_FAILED = 300  # seconds before a file the intake failed on is tried again unchanged
LOG_NAME = "tonghop.log"
LOG_BYTES = 1_000_000
LOG_BACKUPS = 5


class IntakeLike(Protocol):
    def process(self, paths: Sequence[Path], *, batch_size: int = ...) -> list[IntakeResult]: ...


class Watcher:
    """The watcher's core: events in, files taken, periods rebuilt. Clock injected."""

    def __init__(
        self,
        inbox: Path,
        intake: IntakeLike,
        build: Build,
        *,
        clock: Callable[[], float] = time.monotonic,
        settle: float = 1.0,
        interval: float = 30.0,
        rebuild_gap: float = 0.3,
        rebuild_max_delay: float = 2.0,
        chunk: int = 16,
        pdf: Callable[[str], None] | None = None,
        pdf_delay: float = 30.0,
        presence_interval: float = 2.0,
        on_result: Callable[[IntakeResult], None] | None = None,
        on_built: Callable[[str, bool], None] | None = None,
        known_periods: Callable[[], Iterable[str]] | None = None,
        on_inbox: Callable[[bool], None] | None = None,
    ) -> None:
        self.inbox = inbox
        self.intake = intake
        self.clock = clock
        self.interval = interval
        self.chunk = max(1, chunk)
        self.presence_interval = min(presence_interval, interval)
        self.on_result = on_result
        self.on_built = on_built
        # the periods whose status pages list a file that names no period (see report.status)
        self.known_periods = known_periods or (lambda: ())
        self.on_inbox = on_inbox
        self.settler = Settler(settle=settle, clock=clock)
        self.rebuilder = Rebuilder(
            build, clock=clock, gap=rebuild_gap, max_delay=rebuild_max_delay, on_built=self._built
        )
        self.pdf = PdfMaker(pdf, clock=clock, delay=pdf_delay) if pdf else None
        self.taken = 0
        self.inbox_present: bool | None = None
        self._events: queue.SimpleQueue[tuple[str, Path | None]] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._next_rescan = float("-inf")
        self._next_presence = float("-inf")
        self._failed: dict[Path, tuple[Signature | None, float]] = {}

    # --- called from any thread (the observer's, a signal handler) ------------------------
    def handle_event(self, path: str | os.PathLike[str], kind: str = CHANGED) -> None:
        self._events.put((kind, Path(path)))

    def request_rescan(self) -> None:
        self._events.put((RESCAN, None))

    def stop(self) -> None:
        """Finish the files in hand, then stop (safe from a signal handler)."""
        self._stop.set()
        self._events.put((WAKE, None))

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    # --- the worker ----------------------------------------------------------------------
    def run(self) -> None:
        """Tick until ``stop``; then rebuild what is still pending and wait for the PDF."""
        while not self.stopping:
            self.tick()
            if self.stopping:
                break
            try:
                kind, path = self._events.get(timeout=self.wait_time())
            except queue.Empty:
                continue
            self._apply(kind, path)
        self.finish()

    def finish(self) -> None:
        self.rebuilder.run_due(force=True)
        if self.pdf:
            self.pdf.close()

    def tick(self) -> list[IntakeResult]:
        """Apply queued events, rescan when due, take every complete file, rebuild."""
        self._drain()
        now = self.clock()
        if now >= self._next_presence:
            self._check_presence(now)
        if now >= self._next_rescan:
            self.rescan()
        results: list[IntakeResult] = []
        while not self.stopping:
            ready = self.settler.ready()
            if not ready:
                break
            for start in range(0, len(ready), self.chunk):
                if self.stopping:
                    break  # the rest stays in inbox/ for the next start
                part = ready[start : start + self.chunk]
                done = self._process(part)
                results.extend(done)
                self._taken(done)
                self.rebuilder.run_due(busy=True, limit=1)
            self._drain()
        if not self.stopping:
            # One period at a time while files are in flight: they are taken between two.
            self.rebuilder.run_due(limit=1 if len(self.settler) else None)
        if self.pdf:
            self.pdf.tick()
        return results

    def rescan(self) -> None:
        for path in scan_inbox(self.inbox):
            self._note(path)
        self._next_rescan = self.clock() + self.interval

    def wait_time(self) -> float:
        """Seconds until something is due (at most 1)."""
        deadlines = [self._next_rescan, self._next_presence]
        for due in (
            self.settler.next_check(),
            self.rebuilder.next_due(),
            self.pdf.next_due() if self.pdf else None,
        ):
            if due is not None:
                deadlines.append(due)
        return max(0.0, min(1.0, min(deadlines) - self.clock()))

    # --- internals -----------------------------------------------------------------------
    def _drain(self) -> None:
        while True:
            try:
                kind, path = self._events.get_nowait()
            except queue.Empty:
                return
            self._apply(kind, path)

    def _apply(self, kind: str, path: Path | None) -> None:
        if kind == RESCAN:
            self._next_rescan = float("-inf")
        elif path is None or kind == WAKE:
            return
        elif kind == GONE:
            self.settler.forget(path)
            self.settler.forget_under(path)
            if path == self.inbox:
                self._next_presence = float("-inf")
        elif self._hidden(path):
            return
        elif kind == FOLDER and not path.is_symlink():  # a link to a folder is never entered
            for found in scan_inbox(path):
                self._note(found)
        else:
            # Closed after writing, or renamed in (closed under its old name): complete now.
            self._note(path, closed=kind in (CLOSED, MOVED))

    def _note(self, path: Path, *, closed: bool = False) -> None:
        if self._hidden(path):
            return
        failed = self._failed.get(path)
        if failed is not None:
            if self.clock() < failed[1] and signature_of(path) == failed[0]:
                return  # failed unchanged a moment ago: wait before trying again
            del self._failed[path]
        self.settler.note(path, closed=closed)

    def _process(self, paths: list[Path]) -> list[IntakeResult]:
        """The intake over ``paths``; an unexpected failure is logged, the files are retried
        one by one, and one that fails alone waits ``RETRY_FAILED`` s (or a change)."""
        try:
            return self.intake.process(paths, batch_size=len(paths))
        except Exception:
            if len(paths) > 1:
                return [r for path in paths for r in self._process([path])]
            log.exception(
                "Không xử lý được tệp %s; tệp vẫn nằm trong inbox/, sẽ thử lại sau %d giây.",
                for_log(paths[0].name),
                RETRY_FAILED,
            )
            self._failed[paths[0]] = (signature_of(paths[0]), self.clock() + RETRY_FAILED)
            return []

    def _hidden(self, path: Path) -> bool:
        """Inside a hidden subfolder of inbox/ (rescans skip those too)."""
        try:
            parts = path.relative_to(self.inbox).parts[:-1]
        except ValueError:
            return True
        return any(part.startswith(".") for part in parts)

    def _check_presence(self, now: float) -> None:
        present = self.inbox.is_dir()
        self._next_presence = now + self.presence_interval
        if present != self.inbox_present:
            if not present:
                log.warning(
                    "Không thấy thư mục %s (ổ mạng mất kết nối hoặc thư mục bị xóa); "
                    "sẽ kiểm tra lại sau mỗi %g giây.",
                    for_log(self.inbox),
                    self.presence_interval,
                )
            elif self.inbox_present is not None:
                log.info("Thư mục %s đã có lại; tiếp tục theo dõi.", for_log(self.inbox))
                self._next_rescan = float("-inf")
            self.inbox_present = present
        if self.on_inbox:
            self.on_inbox(present)

    def _taken(self, results: list[IntakeResult]) -> None:
        for result in results:
            self.taken += 1
            sub = result.submission
            if sub.period:
                self.rebuilder.mark(
                    sub.period, full=sub.outcome == Outcome.ACCEPTED or result.recovered
                )
            else:
                for code in self.known_periods():
                    self.rebuilder.mark(code, full=False)
            if self.on_result:
                self.on_result(result)

    def _built(self, period: str, full: bool) -> None:
        if full and self.pdf:
            self.pdf.schedule(period)
        if self.on_built:
            self.on_built(period, full)


# --- logging -------------------------------------------------------------------------------


class _LogFormatter(logging.Formatter):
    """``time<TAB>message``; warnings and errors prefixed in Vietnamese."""

    _PREFIX: ClassVar[dict[int, str]] = {
        logging.WARNING: "CẢNH BÁO: ",
        logging.ERROR: "LỖI: ",
        logging.CRITICAL: "LỖI: ",
    }

    def format(self, record: logging.LogRecord) -> str:
        # Whatever a message carries (a file name with a newline...) stays on its line;
        # tabs are the intake's column separators.
        message = "\t".join(for_log(part) for part in record.getMessage().split("\t"))
        stamp = self.formatTime(record, "%Y-%m-%d %H:%M:%S")
        text = f"{stamp}\t{self._PREFIX.get(record.levelno, '')}{message}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def configure_logging(logs: Path, *, console: bool = True) -> Callable[[], None]:
    """logs/tonghop.log (1 MB x 5) for every ``tonghop.*`` logger; the watcher's own lines
    also on stderr. Returns the function that undoes it."""
    logs.mkdir(parents=True, exist_ok=True)
    logger = logging.getLogger("tonghop")
    saved = (logger.level, logger.propagate)
    formatter = _LogFormatter()
    handlers: list[logging.Handler] = []
    file_handler = logging.handlers.RotatingFileHandler(
        logs / LOG_NAME, maxBytes=LOG_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8"
    )
    handlers.append(file_handler)
    if console:
        stream = logging.StreamHandler(sys.stderr)
        stream.addFilter(
            lambda record: record.name != "tonghop.intake.inbox" or record.levelno > 20
        )
        handlers.append(stream)
    for handler in handlers:
        handler.setFormatter(formatter)
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False

    def undo() -> None:
        for handler in handlers:
            logger.removeHandler(handler)
            handler.close()
        logger.setLevel(saved[0])
        logger.propagate = saved[1]

    return undo


# --- the command ---------------------------------------------------------------------------


@dataclass
class WatchOptions:
    poll: bool = False
    interval: float = 30.0
    settle: float = 1.0
    pdf: bool = True
    pdf_delay: float = 30.0
    poll_every: float = 1.0
    console_log: bool = True


def run_watch(
    workspace: Workspace,
    options: WatchOptions | None = None,
    *,
    echo: Callable[[str], None] | None = None,
    on_built: Callable[[str, bool], None] | None = None,
    started: Callable[[Watcher], None] | None = None,
) -> Watcher:
    """Watch ``workspace``'s inbox until SIGINT/SIGTERM (or ``watcher.stop()``).

    Raises LockBusy (exit code 2) when another watcher holds archive/watch.lock.
    """
    options = options or WatchOptions()
    layout = workspace.layout
    lock = workspace.watch_lock()
    lock.acquire()
    undo_logging = configure_logging(layout.logs, console=options.console_log)
    intake_lock = workspace.intake_lock()
    try:
        intake = workspace.intake()
        publisher = Publisher(workspace)
        convert = publisher.make_pdf if options.pdf and find_soffice() else None

        def report(result: IntakeResult) -> None:
            if echo:
                ms = result.submission.elapsed_ms or 0
                echo(f"{dt.datetime.now():%H:%M:%S} {result.summary} ({ms:.0f} ms)")

        watcher = Watcher(
            layout.inbox,
            intake,
            publisher.build,
            settle=options.settle,
            interval=options.interval,
            pdf=convert,
            pdf_delay=options.pdf_delay,
            on_result=report,
            on_built=on_built,
            known_periods=workspace.ledger.periods,
        )
        manager = ObserverManager(
            layout.inbox, watcher, poll=options.poll, poll_every=options.poll_every
        )
        watcher.on_inbox = manager.ensure
        restore = _install_signals(watcher)
        try:
            if not _take_intake_lock(intake_lock, watcher):
                return watcher
            for code in publisher.stale_periods():
                watcher.rebuilder.mark(code, full=True)
            manager.start()
            mode = "dò định kỳ (--poll)" if options.poll else "nhận sự kiện của hệ thống"
            log.info(
                "Bắt đầu theo dõi %s (tiến trình số %d, %s, quét lại mỗi %g giây).",
                for_log(layout.inbox),
                os.getpid(),
                mode,
                options.interval,
            )
            if started:
                started(watcher)
            try:
                watcher.run()
            finally:
                manager.stop()
        finally:
            restore()
            intake_lock.release()
        log.info("Đã dừng theo dõi; đã xử lý %d tệp trong lần chạy này.", watcher.taken)
        return watcher
    finally:
        undo_logging()
        lock.release()


def _take_intake_lock(lock: FileLock, watcher: Watcher) -> bool:
    """Wait for a ``tonghop process`` in progress; False when asked to stop meanwhile."""
    warned = False
    while not watcher.stopping:
        try:
            lock.acquire()
            return True
        except LockBusy as exc:
            if not warned:
                log.warning("%s Đang chờ...", exc.message)
                warned = True
            time.sleep(0.5)
    return False


def _install_signals(watcher: Watcher) -> Callable[[], None]:
    """SIGINT and SIGTERM finish the file in hand, then stop; a second Ctrl-C stops at once."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    wanted = [signal.SIGINT, signal.SIGTERM]
    if hasattr(signal, "SIGBREAK"):  # Windows: Ctrl-Break, and Task Scheduler's stop
        wanted.append(signal.SIGBREAK)
    previous = {sig: signal.getsignal(sig) for sig in wanted}

    def handler(signum: int, frame: object) -> None:
        if watcher.stopping and signum == signal.SIGINT:
            raise KeyboardInterrupt
        watcher.stop()

    for sig in wanted:
        signal.signal(sig, handler)

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore
