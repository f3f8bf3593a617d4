"""Rebuilding a period's outputs after its returns change: debounced, PDF in the background.

``Rebuilder`` decides *when* (clock injected, so tests count rebuilds exactly); ``Publisher``
does the work with the real ``publish``; ``PdfMaker`` converts the report to PDF in a
background thread long after the last change, so LibreOffice never holds up the intake.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tonghop.errors import PeriodError
from tonghop.periods import Period
from tonghop.report.drafts import DRAFT_NAME, Reports
from tonghop.report.render import write_pdf
from tonghop.workspace import Workspace

__all__ = ["Build", "PdfMaker", "Publisher", "Rebuilder"]

log = logging.getLogger("tonghop.watch.watcher")

Build = Callable[[str, bool], None]  # (period code, full report?) -> None


@dataclass
class _Dirty:
    since: float  # first change not yet in the outputs
    full: bool  # the counted returns changed (else only the status page)


class Rebuilder:
    """Which periods to rebuild, and when.

    A changed period is rebuilt at most once per ``gap`` seconds. While more files are
    waiting to be taken (``busy``) it waits for them, up to ``max_delay`` seconds after its
    first pending change; a final rebuild always follows the last change.
    """

    def __init__(
        self,
        build: Build,
        *,
        clock: Callable[[], float],
        gap: float = 0.3,
        max_delay: float = 2.0,
        on_built: Callable[[str, bool], None] | None = None,
    ) -> None:
        self.build = build
        self.clock = clock
        self.gap = gap
        self.max_delay = max_delay
        self.on_built = on_built
        self.count = 0
        self._dirty: dict[str, _Dirty] = {}
        self._last: dict[str, float] = {}

    @property
    def pending(self) -> list[str]:
        return sorted(self._dirty)

    def mark(self, period: str, *, full: bool) -> None:
        dirty = self._dirty.get(period)
        if dirty is None:
            self._dirty[period] = _Dirty(self.clock(), full)
        else:
            dirty.full = dirty.full or full

    def _due_at(self, period: str, dirty: _Dirty, busy: bool) -> float:
        earliest = self._last.get(period, float("-inf")) + self.gap
        if busy:
            earliest = max(earliest, dirty.since + self.max_delay)
        return earliest

    def next_due(self, *, busy: bool = False) -> float | None:
        return min((self._due_at(p, d, busy) for p, d in self._dirty.items()), default=None)

    def run_due(self, *, busy: bool = False, force: bool = False, limit: int | None = None) -> int:
        """Rebuild the periods that are due (every pending one with ``force``), at most
        ``limit`` of them so that files arriving meanwhile are not kept waiting."""
        done = 0
        for period in sorted(self._dirty):
            if limit is not None and done >= limit:
                break
            dirty = self._dirty[period]
            if not force and self.clock() < self._due_at(period, dirty, busy):
                continue
            del self._dirty[period]
            self._last[period] = self.clock()
            try:
                self.build(period, dirty.full)
            except Exception as exc:  # the watcher must outlive a bad template or a full disk
                log.warning("Không cập nhật được kết quả kỳ %s: %s", period, exc)
                continue
            self.count += 1
            done += 1
            if self.on_built:
                self.on_built(period, dirty.full)
        return done


class PdfMaker:
    """Converts a period's report to PDF ``delay`` seconds after its last rebuild, one at a
    time, in a background thread."""

    def __init__(
        self, convert: Callable[[str], None], *, clock: Callable[[], float], delay: float = 30.0
    ) -> None:
        self.convert = convert
        self.clock = clock
        self.delay = delay
        self._due: dict[str, float] = {}
        self._thread: threading.Thread | None = None

    def schedule(self, period: str) -> None:
        self._due[period] = self.clock() + self.delay

    def next_due(self) -> float | None:
        return min(self._due.values(), default=None)

    def tick(self) -> None:
        if self._thread is not None:
            if self._thread.is_alive():
                return
            self._thread.join()
            self._thread = None
        now = self.clock()
        due = sorted(p for p, at in self._due.items() if at <= now)
        if not due:
            return
        period = due[0]
        del self._due[period]
        self._thread = threading.Thread(
            target=self._run, args=(period,), name=f"tonghop-pdf-{period}", daemon=True
        )
        self._thread.start()

    def _run(self, period: str) -> None:
        try:
            self.convert(period)
        except Exception as exc:
            log.warning("Không tạo được bản PDF của báo cáo kỳ %s: %s", period, exc)

    def close(self) -> None:
        """Wait for a conversion in progress; pending ones are dropped (made on next start)."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None


class Publisher:
    """The real rebuild, on the opened workspace: a period's outputs without the PDF (full),
    or only its status page."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    def build(self, code: str, full: bool) -> None:
        period = Period.parse(code)
        started = time.perf_counter()
        if full:
            self.workspace.refresh(period)  # a finalized period: only its status page
            what = "báo cáo, bảng tổng hợp và trang tình hình nộp"
        else:
            self.workspace.write_status_page(period)
            what = "trang tình hình nộp"
        elapsed = (time.perf_counter() - started) * 1000
        log.info("Đã cập nhật %s kỳ %s (%.0f ms).", what, code, elapsed)

    def report_path(self, code: str) -> Path | None:
        """The draft last written for the period (None: none yet, or the period is final:
        its final report and PDF were written by ``finalize``)."""
        period = Period.parse(code)
        if self.workspace.decisions.is_final(period.code):
            return None
        record = Reports(self.workspace.ledger, self.workspace.layout).last(period, final=False)
        if record is None:
            outbox = self.workspace.layout.period_outbox(period)
            return outbox / f"{DRAFT_NAME.format(period=period.code)}.docx"
        return self.workspace.layout.home / record.path

    def make_pdf(self, code: str) -> None:
        report = self.report_path(code)
        if report is not None and report.is_file() and write_pdf(report) is not None:
            log.info("Đã tạo bản PDF của báo cáo kỳ %s.", code)

    def stale_periods(self) -> list[str]:
        """Periods whose report is missing or older than their latest received file: a
        watcher stopped (or killed) between recording a file and rebuilding."""
        latest: dict[str, dt.datetime] = {}
        for sub in self.workspace.ledger.all():
            if sub.period and (sub.period not in latest or sub.received_at > latest[sub.period]):
                latest[sub.period] = sub.received_at
        stale = []
        for code, received in sorted(latest.items()):
            try:
                report = self.report_path(code)
            except PeriodError:
                continue
            if report is None:
                continue
            try:
                built = dt.datetime.fromtimestamp(report.stat().st_mtime)
            except OSError:
                stale.append(code)
                continue
            # received_at has whole seconds: a report written in that same second may be older.
            if built < received + dt.timedelta(seconds=1):
                stale.append(code)
        return stale
