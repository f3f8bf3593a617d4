"""The watcher's core with a fake clock: settle, owner files, rescans, debounce, stop.

No watchdog and no sleeping here: the tests call ``handle_event`` and ``tick`` themselves and
move the clock by hand. The real ``tonghop watch`` process is tested in test_watch_e2e.py.
"""

from __future__ import annotations

import configparser
import datetime as dt
import io
import logging
import os
import shlex
import shutil
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from tonghop.cli import cli
from tonghop.intake.inbox import Intake, IntakeResult
from tonghop.intake.reader import zip_complete
from tonghop.ledger import Ledger, Outcome, Submission
from tonghop.locking import FileLock
from tonghop.watch._rebuild import PdfMaker, Publisher, Rebuilder
from tonghop.watch._settle import Settler
from tonghop.watch.watcher import CLOSED, GONE, MOVED, Watcher, _LogFormatter, configure_logging
from tonghop.workspace import Workspace

from .helpers import is_vietnamese

PERIOD = "2024-H1"


class Ticker:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeIntake:
    """Takes files like the intake (records, removes) without reading them."""

    def __init__(self, clock: Ticker | None = None, cost: float = 0.0) -> None:
        self.clock = clock
        self.cost = cost
        self.taken: list[str] = []
        self.batches: list[int] = []
        self.during: list = []  # callables run while a file is "in hand"

    def process(self, paths, *, batch_size: int = 50) -> list[IntakeResult]:
        self.batches.append(len(paths))
        results = []
        for path in paths:
            for hook in self.during:
                hook(path)
            sub = Submission(
                source_name=path.name,
                size=path.stat().st_size,
                mtime_ns=0,
                received_at=dt.datetime(2024, 7, 5, 9),
                outcome=Outcome.ACCEPTED,
                branch_code="LT1",
                period=PERIOD,
            )
            path.unlink()
            self.taken.append(path.name)
            results.append(IntakeResult(path, sub, None))
            if self.clock is not None:
                self.clock.advance(self.cost)
        return results


class Builds:
    def __init__(self) -> None:
        self.calls: list[tuple[str, bool]] = []

    def __call__(self, period: str, full: bool) -> None:
        self.calls.append((period, full))


def zip_bytes(size_hint: int = 4000) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("xl/workbook.xml", os.urandom(size_hint))
    return out.getvalue()


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    return folder


def make_watcher(inbox: Path, clock: Ticker, intake=None, builds=None, **kwargs) -> Watcher:
    kwargs.setdefault("settle", 1.0)
    return Watcher(inbox, intake or FakeIntake(), builds or Builds(), clock=clock, **kwargs)


# --- settle --------------------------------------------------------------------------------


def test_a_growing_workbook_is_not_taken_until_it_stands_still(inbox):
    clock, intake = Ticker(), FakeIntake()
    watcher = make_watcher(inbox, clock, intake)
    data = zip_bytes()
    path = inbox / "LT1.xlsx"
    steps = 0
    for cut in range(500, len(data), 500):  # a copy in progress: partial bytes, no close event
        path.write_bytes(data[:cut])
        watcher.handle_event(path)
        watcher.tick()
        clock.advance(0.4)
        steps += 1
    assert intake.taken == []
    path.write_bytes(data)  # complete, but only just changed
    watcher.handle_event(path)
    watcher.tick()
    clock.advance(0.9)
    watcher.tick()
    assert intake.taken == [], "taken before standing still for the whole settle interval"
    clock.advance(0.1)
    watcher.tick()
    assert intake.taken == ["LT1.xlsx"]
    print(f"growing file: {steps} partial states over {steps * 0.4:.1f} s, taken once after 1 s")


def test_close_after_write_takes_a_complete_workbook_at_once(inbox):
    clock, intake = Ticker(), FakeIntake()
    watcher = make_watcher(inbox, clock, intake)
    watcher.tick()  # the first rescan, on an empty inbox
    path = inbox / "LT1.xlsx"
    path.write_bytes(zip_bytes())
    watcher.handle_event(path, CLOSED)
    watcher.tick()
    assert intake.taken == ["LT1.xlsx"]
    assert clock.now == 0.0


def test_a_workbook_renamed_in_is_taken_on_the_next_tick_without_settling(inbox, tmp_path):
    clock, intake = Ticker(), FakeIntake()
    watcher = make_watcher(inbox, clock, intake)
    watcher.tick()  # the first rescan, on an empty inbox
    part = inbox / "LT1.xlsx.part"  # a browser or sync client's temporary name: ignored
    part.write_bytes(zip_bytes())
    watcher.handle_event(part, CLOSED)
    watcher.tick()
    assert intake.taken == []
    path = inbox / "LT1.xlsx"
    part.rename(path)
    watcher.handle_event(part, GONE)
    watcher.handle_event(path, MOVED)
    watcher.tick()
    assert intake.taken == ["LT1.xlsx"]
    assert clock.now == 0.0
    elsewhere = tmp_path / "tai-ve" / "LT2.xlsx"  # written outside inbox/, then moved in
    elsewhere.parent.mkdir()
    elsewhere.write_bytes(zip_bytes())
    elsewhere.rename(inbox / "LT2.xlsx")
    watcher.handle_event(inbox / "LT2.xlsx", MOVED)
    watcher.tick()
    assert intake.taken == ["LT1.xlsx", "LT2.xlsx"]
    assert clock.now == 0.0


def test_a_renamed_in_workbook_whose_zip_does_not_read_waits_like_any_other(inbox):
    clock, intake = Ticker(), FakeIntake()
    watcher = make_watcher(inbox, clock, intake)
    watcher.tick()
    data = zip_bytes()
    path = inbox / "LT1.xlsx"
    path.write_bytes(data[:1000])  # renamed in before its writer finished (or cut short)
    watcher.handle_event(path, MOVED)
    watcher.tick()
    clock.advance(0.5)
    watcher.tick()
    assert intake.taken == [], "a renamed-in file whose zip does not read is not complete"
    path.write_bytes(data)  # the rest arrives: a change after the rename, no new close
    watcher.handle_event(path)
    watcher.tick()
    clock.advance(0.9)
    watcher.tick()
    assert intake.taken == [], "changed after the rename: it must stand still for settle"
    clock.advance(0.1)
    watcher.tick()
    assert intake.taken == ["LT1.xlsx"]


def test_a_renamed_in_workbook_still_open_in_excel_waits_for_excel(inbox):
    clock, intake = Ticker(), FakeIntake()
    watcher = make_watcher(inbox, clock, intake)
    watcher.tick()
    owner = inbox / "~$LT1.xlsx"
    owner.write_bytes(b"owner")  # Excel saves by renaming its temporary file over the workbook
    path = inbox / "LT1.xlsx"
    path.write_bytes(zip_bytes())
    watcher.handle_event(path, MOVED)
    for _ in range(5):
        watcher.tick()
        clock.advance(1.0)
    assert intake.taken == []
    owner.unlink()
    watcher.handle_event(owner, GONE)
    watcher.tick()
    assert intake.taken == ["LT1.xlsx"]


def test_watchdog_events_become_the_watcher_kinds():
    from watchdog.events import (
        DirMovedEvent,
        FileClosedEvent,
        FileCreatedEvent,
        FileDeletedEvent,
        FileMovedEvent,
    )

    from tonghop.watch._observe import _Forwarder

    class Sink:
        def __init__(self) -> None:
            self.seen: list[tuple[str, str]] = []

        def handle_event(self, path: str, kind: str = "changed") -> None:
            self.seen.append((kind, path))

        def request_rescan(self) -> None:
            self.seen.append(("rescan", ""))

    sink = Sink()
    forward = _Forwarder(sink)
    for event in [
        FileClosedEvent("/in/a.xlsx"),
        FileCreatedEvent("/in/b.xlsx"),
        FileMovedEvent("/in/c.xlsx.part", "/in/c.xlsx"),  # renamed inside inbox/
        FileMovedEvent("", "/in/d.xlsx"),  # moved in from outside (inotify full events)
        FileMovedEvent("/in/e.xlsx", ""),  # moved out of inbox/
        FileDeletedEvent("/in/f.xlsx"),
        DirMovedEvent("", "/in/dot-2"),
    ]:
        forward.on_any_event(event)
    assert sink.seen == [
        (CLOSED, "/in/a.xlsx"),
        ("changed", "/in/b.xlsx"),
        (GONE, "/in/c.xlsx.part"),
        (MOVED, "/in/c.xlsx"),
        (MOVED, "/in/d.xlsx"),
        (GONE, "/in/e.xlsx"),
        (GONE, "/in/f.xlsx"),
        ("folder", "/in/dot-2"),
    ]


def test_closed_partial_workbook_waits_and_a_stable_unreadable_one_is_answered(inbox):
    clock, intake = Ticker(), FakeIntake()
    watcher = make_watcher(inbox, clock, intake)
    watcher.tick()
    data = zip_bytes()
    path = inbox / "chunks.xlsx"
    for chunk in range(10):  # a copier that reopens the file for every chunk: closes each time
        with path.open("ab") as handle:
            handle.write(data[chunk * 100 : (chunk + 1) * 100])
        watcher.handle_event(path, CLOSED)
        watcher.tick()
        clock.advance(0.5)
    assert intake.taken == [], "a half-copied workbook must never be passed on as corrupt"
    # The copy stalls for good: unreadable and unchanged for 3 x settle, then answered.
    clock.advance(2.0)
    watcher.tick()
    assert intake.taken == []
    clock.advance(1.0)
    watcher.tick()
    assert intake.taken == ["chunks.xlsx"]


@pytest.mark.parametrize(
    ("name", "content", "after"),
    [
        ("rac.ods", zip_bytes(), 1.0),  # a zip, but not a workbook we read: settle only
        ("rac.txt", b"hello", 1.0),
        ("rong.xlsx", b"", 3.0),
        ("ngau-nhien.xlsx", os.urandom(3000), 3.0),
    ],
)
def test_junk_is_passed_on_once_stable(inbox, name, content, after):
    clock, intake = Ticker(), FakeIntake()
    watcher = make_watcher(inbox, clock, intake)
    (inbox / name).write_bytes(content)
    watcher.handle_event(inbox / name, CLOSED)
    watcher.tick()
    clock.advance(after - 0.01)
    watcher.tick()
    assert intake.taken == []
    clock.advance(0.01)
    watcher.tick()
    assert intake.taken == [name]


def test_owner_file_present_makes_it_wait(inbox):
    clock, intake = Ticker(), FakeIntake()
    watcher = make_watcher(inbox, clock, intake)
    path = inbox / "LT1.xlsx"
    path.write_bytes(zip_bytes())
    owner = inbox / "~$LT1.xlsx"
    owner.write_bytes(b"owner")
    watcher.handle_event(owner)
    watcher.handle_event(path, CLOSED)
    for _ in range(10):
        watcher.tick()
        clock.advance(1.0)
    assert intake.taken == []
    owner.unlink()
    watcher.handle_event(owner, GONE)
    watcher.tick()  # unchanged for longer than the settle interval, owner gone: taken
    assert intake.taken == ["LT1.xlsx"]


def test_libreoffice_lock_and_temporary_files_are_never_taken(inbox):
    clock, intake = Ticker(), FakeIntake()
    watcher = make_watcher(inbox, clock, intake)
    names = [".~lock.LT1.xlsx#", "~$LT1.xlsx", "LT1.xlsx.tmp", "tai-ve.crdownload", "~WRL0001.tmp"]
    for name in names:
        (inbox / name).write_bytes(b"x")
        watcher.handle_event(inbox / name, CLOSED)
    hidden = inbox / ".dong-bo" / "LT1.xlsx"
    hidden.parent.mkdir()
    hidden.write_bytes(zip_bytes())
    watcher.handle_event(hidden, CLOSED)
    for _ in range(40):
        watcher.tick()
        clock.advance(1.0)
    assert intake.taken == []


def test_subfolders_are_watched(inbox):
    clock, intake = Ticker(), FakeIntake()
    watcher = make_watcher(inbox, clock, intake)
    watcher.tick()
    folder = inbox / "xa-tan-loc" / "thang-7"
    folder.mkdir(parents=True)
    (folder / "LT1.xlsx").write_bytes(zip_bytes())
    watcher.handle_event(inbox / "xa-tan-loc", "folder")  # a whole folder moved in
    watcher.tick()
    clock.advance(1.0)
    watcher.tick()
    assert intake.taken == ["LT1.xlsx"]


def test_a_file_deleted_before_it_settles_is_forgotten(inbox):
    clock, intake = Ticker(), FakeIntake()
    watcher = make_watcher(inbox, clock, intake)
    path = inbox / "LT1.xlsx"
    path.write_bytes(zip_bytes())
    watcher.handle_event(path)
    watcher.tick()
    path.unlink()
    watcher.handle_event(path, GONE)
    clock.advance(5.0)
    watcher.tick()
    assert intake.taken == [] and len(watcher.settler) == 0


def test_versions_taken_in_the_same_tick_go_in_modification_order(inbox):
    clock, intake = Ticker(), FakeIntake()
    watcher = make_watcher(inbox, clock, intake)
    for number, name in enumerate(["c-moi-nhat.xlsx", "a-cu-nhat.xlsx", "b-giua.xlsx"]):
        path = inbox / name
        path.write_bytes(zip_bytes())
        stamp = 1_700_000_000_000_000_000 + [3, 1, 2][number] * 10**9
        os.utime(path, ns=(stamp, stamp))
        watcher.handle_event(path)
    watcher.tick()
    clock.advance(1.0)
    watcher.tick()
    assert intake.taken == ["a-cu-nhat.xlsx", "b-giua.xlsx", "c-moi-nhat.xlsx"]


def test_zip_complete(tmp_path, monkeypatch):
    import io
    import zipfile

    from tonghop.intake import _package

    assert not zip_complete(Path("/nonexistent/x.xlsx"))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for number in range(30):
            archive.writestr(f"x{number}.xml", "<x/>")
    whole = buffer.getvalue()
    path = tmp_path / "a.xlsx"
    path.write_bytes(whole[: len(whole) // 2])  # still being written: no directory yet
    assert not zip_complete(path)
    path.write_bytes(whole)
    assert zip_complete(path)
    # A directory too large to be a return's is not read: the file is complete for the
    # watcher, and the intake refuses it unread.
    monkeypatch.setattr(_package, "MAX_ENTRIES", 10)
    opened = []
    monkeypatch.setattr(zipfile, "ZipFile", lambda *a, **k: opened.append(a))
    assert zip_complete(path) and opened == []


# --- rescans -------------------------------------------------------------------------------


def test_start_takes_what_is_already_in_inbox(inbox):
    clock, intake = Ticker(), FakeIntake()
    for number in range(5):
        sub = inbox / f"dot-{number % 2}"
        sub.mkdir(exist_ok=True)
        (sub / f"LT{number}.xlsx").write_bytes(zip_bytes())
    watcher = make_watcher(inbox, clock, intake)
    watcher.tick()
    clock.advance(1.0)
    watcher.tick()
    assert sorted(intake.taken) == [f"LT{n}.xlsx" for n in range(5)]


def test_rescan_picks_up_a_file_no_event_announced(inbox):
    clock, intake = Ticker(), FakeIntake()
    watcher = make_watcher(inbox, clock, intake, interval=30.0)
    watcher.tick()  # rescan at 0 (empty)
    (inbox / "im-lang.xlsx").write_bytes(zip_bytes())  # no event at all
    clock.advance(20.0)
    watcher.tick()
    clock.advance(9.0)
    watcher.tick()
    assert intake.taken == [], "no event and no rescan yet"
    clock.advance(1.0)  # t = 30: the periodic rescan notes it
    watcher.tick()
    clock.advance(1.0)
    watcher.tick()
    assert intake.taken == ["im-lang.xlsx"]
    print("missed event: picked up by the rescan at 30 s, taken at 31 s")


def test_inbox_going_away_and_coming_back(inbox, caplog):
    clock, intake = Ticker(), FakeIntake()
    seen: list[bool] = []
    watcher = make_watcher(inbox, clock, intake, interval=30.0, on_inbox=seen.append)
    watcher.tick()
    moved = inbox.with_name("inbox-mat")
    inbox.rename(moved)
    watcher.handle_event(inbox, GONE)
    with caplog.at_level(logging.INFO, logger="tonghop.watch.watcher"):
        watcher.tick()
        for _ in range(5):
            clock.advance(1.0)
            watcher.tick()
        (moved / "LT1.xlsx").write_bytes(zip_bytes())
        moved.rename(inbox)
        clock.advance(2.0)
        watcher.tick()  # presence check: back, so rescan now
        clock.advance(1.0)
        watcher.tick()
    assert intake.taken == ["LT1.xlsx"]
    assert seen[0] is True and False in seen and seen[-1] is True
    messages = [r.getMessage() for r in caplog.records]
    assert any("Không thấy thư mục" in m for m in messages), messages
    assert any("đã có lại" in m for m in messages), messages
    assert all(is_vietnamese(m) for m in messages)


def test_wait_time_is_bounded_and_follows_deadlines(inbox):
    clock = Ticker()
    watcher = make_watcher(inbox, clock, interval=30.0)
    watcher.tick()
    assert watcher.wait_time() == 1.0
    (inbox / "LT1.xlsx").write_bytes(zip_bytes())
    watcher.handle_event(inbox / "LT1.xlsx")
    watcher.tick()
    clock.advance(0.75)
    assert watcher.wait_time() == pytest.approx(0.25)


def test_an_intake_failure_is_logged_and_the_other_files_go_on(inbox, caplog):
    clock = Ticker()

    class Flaky(FakeIntake):
        def process(self, paths, *, batch_size: int = 50):
            if any(p.name == "hong.xlsx" for p in paths):
                raise RuntimeError("lỗi bất ngờ")
            return super().process(paths, batch_size=batch_size)

    intake = Flaky()
    watcher = make_watcher(inbox, clock, intake, interval=30.0)
    for name in ("a.xlsx", "hong.xlsx", "b.xlsx"):
        (inbox / name).write_bytes(zip_bytes(100))
    with caplog.at_level(logging.ERROR, logger="tonghop.watch.watcher"):
        watcher.tick()
        clock.advance(1.0)
        watcher.tick()
        assert sorted(intake.taken) == ["a.xlsx", "b.xlsx"]
        assert caplog.text.count("Không xử lý được tệp hong.xlsx") == 1
        for _ in range(9):  # rescans every 30 s leave it alone for 5 minutes
            clock.advance(30.0)
            watcher.tick()
            clock.advance(1.0)
            watcher.tick()
        assert caplog.text.count("Không xử lý được tệp hong.xlsx") == 1
        (inbox / "hong.xlsx").write_bytes(zip_bytes(200))  # a new version: tried at once
        watcher.handle_event(inbox / "hong.xlsx", CLOSED)
        watcher.tick()
        assert caplog.text.count("Không xử lý được tệp hong.xlsx") == 2
    assert (inbox / "hong.xlsx").exists()


# --- debounced rebuilds ----------------------------------------------------------------------


def test_two_hundred_files_at_once_cause_one_rebuild(inbox):
    clock, intake, builds = Ticker(), FakeIntake(), Builds()
    watcher = make_watcher(inbox, clock, intake, builds)
    watcher.tick()
    for number in range(200):
        path = inbox / f"r{number:03d}.xlsx"
        path.write_bytes(zip_bytes(100))
        watcher.handle_event(path)
    watcher.tick()
    clock.advance(1.0)
    watcher.tick()
    assert len(intake.taken) == 200
    assert intake.batches == [16] * 12 + [8]
    assert builds.calls == [(PERIOD, True)]
    print(f"200 files at once: {len(intake.batches)} batches, {len(builds.calls)} rebuild")


def test_a_long_burst_rebuilds_every_max_delay_and_once_after_the_last_file(inbox):
    clock, builds = Ticker(), Builds()
    intake = FakeIntake(clock, cost=0.03)  # 30 ms per file: 200 files take 6 s
    watcher = make_watcher(inbox, clock, intake, builds)
    watcher.tick()
    for number in range(200):
        path = inbox / f"r{number:03d}.xlsx"
        path.write_bytes(zip_bytes(100))
        watcher.handle_event(path)
    watcher.tick()
    clock.advance(1.0)
    watcher.tick()
    # Chunks of 16 end every 0.48 s from t=1.48; a busy period waits 2 s after its first
    # pending change: rebuilds at 3.88 and 6.76; the last chunk ends at 7.00, inside the
    # 0.3 s gap, so the final rebuild comes on the next tick.
    assert len(builds.calls) == 2
    clock.advance(0.1)
    watcher.tick()
    assert len(builds.calls) == 3
    clock.advance(10.0)
    watcher.tick()
    assert len(builds.calls) == 3
    print(f"200 files over 6 s of intake: {len(builds.calls)} rebuilds")


def test_a_trickle_rebuilds_at_most_once_per_gap_then_a_final_one(inbox):
    clock, intake, builds = Ticker(), FakeIntake(), Builds()
    watcher = make_watcher(inbox, clock, intake, builds, rebuild_gap=0.5)
    watcher.tick()
    data = zip_bytes(100)
    for number in range(200):  # one complete file closed every 0.125 s
        path = inbox / f"r{number:03d}.xlsx"
        path.write_bytes(data)
        watcher.handle_event(path, CLOSED)
        watcher.tick()
        clock.advance(0.125)
    assert len(intake.taken) == 200
    assert len(builds.calls) == 50  # at t = 0, 0.5, ..., 24.5
    watcher.tick()  # t = 25.0: the final one, for files 197-199
    assert len(builds.calls) == 51
    print(f"200 files over 25 s: {len(builds.calls)} rebuilds (gap 0.5 s)")


def test_status_only_rebuild_for_a_return_that_does_not_count(inbox):
    clock, builds = Ticker(), Builds()
    rebuilder = Rebuilder(builds, clock=clock)
    rebuilder.mark("2024-H1", full=False)
    rebuilder.mark("2024-Q2", full=False)
    rebuilder.mark("2024-Q2", full=True)
    assert rebuilder.run_due() == 2
    assert builds.calls == [("2024-H1", False), ("2024-Q2", True)]


def test_a_failing_rebuild_is_logged_and_the_watcher_goes_on(caplog):
    clock = Ticker()

    def broken(period: str, full: bool) -> None:
        raise OSError("đĩa đầy")

    rebuilder = Rebuilder(broken, clock=clock)
    rebuilder.mark(PERIOD, full=True)
    with caplog.at_level(logging.WARNING, logger="tonghop.watch.watcher"):
        assert rebuilder.run_due() == 0
    assert rebuilder.pending == []
    assert "Không cập nhật được kết quả kỳ 2024-H1" in caplog.text


def test_pdf_is_made_in_the_background_long_after_the_last_rebuild(inbox):
    clock, intake, builds = Ticker(), FakeIntake(), Builds()
    made: list[str] = []
    watcher = make_watcher(inbox, clock, intake, builds, pdf=made.append, pdf_delay=30.0)
    watcher.tick()
    for number in range(3):
        path = inbox / f"r{number}.xlsx"
        path.write_bytes(zip_bytes(100))
        watcher.handle_event(path, CLOSED)
        watcher.tick()
        clock.advance(10.0)
    assert len(builds.calls) == 3 and made == []
    clock.advance(19.0)  # 29 s after the last rebuild
    watcher.tick()
    assert made == []
    clock.advance(1.0)
    watcher.tick()
    watcher.finish()  # joins the PDF thread
    assert made == [PERIOD]


def test_pdf_maker_waits_for_a_conversion_in_progress():
    clock = Ticker()
    made: list[str] = []
    maker = PdfMaker(made.append, clock=clock, delay=0.0)
    maker.schedule("2024-H1")
    maker.schedule("2024-Q2")
    maker.tick()
    maker.close()
    maker.tick()
    maker.close()
    assert made == ["2024-H1", "2024-Q2"]
    assert maker.next_due() is None


# --- stopping ------------------------------------------------------------------------------


def test_stop_finishes_the_file_in_hand_then_rebuilds_and_returns(inbox):
    clock, builds = Ticker(), Builds()
    intake = FakeIntake()
    watcher = make_watcher(inbox, clock, intake, builds, chunk=1)
    for number in range(5):
        (inbox / f"r{number}.xlsx").write_bytes(zip_bytes(100))
    watcher.tick()
    clock.advance(1.0)
    intake.during.append(lambda path: watcher.stop())  # SIGTERM arrives mid-file
    watcher.run()
    assert intake.taken == ["r0.xlsx"]
    assert sorted(p.name for p in inbox.iterdir()) == [f"r{n}.xlsx" for n in range(1, 5)]
    assert builds.calls == [(PERIOD, True)], "the final rebuild covers the file taken"


def test_stop_from_another_thread_ends_run(inbox):
    watcher = Watcher(inbox, FakeIntake(), Builds(), settle=0.05)
    thread = threading.Thread(target=watcher.run)
    thread.start()
    time.sleep(0.1)
    started = time.perf_counter()
    watcher.stop()
    thread.join(5)
    assert not thread.is_alive()
    print(f"stop -> run returned in {(time.perf_counter() - started) * 1000:.1f} ms")


def test_second_watcher_exits_2_naming_the_holder(workspace):
    lock = FileLock(workspace.archive / "watch.lock", what="trình theo dõi inbox")
    with lock:
        result = CliRunner().invoke(cli, ["--home", str(workspace.home), "watch", "--no-pdf"])
    assert result.exit_code == 2, result.output
    assert f"tiến trình số {os.getpid()}" in result.output
    assert "trình theo dõi inbox" in result.output
    print(result.output.strip())


# --- with the real intake and publish ----------------------------------------------------------


def totals(workspace, period: str) -> dict[str, object]:
    book = load_workbook(workspace.outbox / period / "tong-hop-so-lieu.xlsx", read_only=True)
    try:
        rows = list(book["Trong kỳ"].iter_rows(values_only=True))
    finally:
        book.close()
    keys = next(r for r in rows if len(r) > 1 and r[1] == "code")  # the hidden row of ids
    total = next(r for r in rows if len(r) > 2 and r[2] == "Tổng cộng")
    return dict(zip(keys, total, strict=False))


def real_watcher(workspace, config, form, ledger, clock, wall) -> Watcher:
    publisher = Publisher(Workspace(workspace, config, form, clock=wall, ledger=ledger))
    intake = Intake(workspace, config, form, ledger, clock=wall)
    return Watcher(workspace.inbox, intake, publisher.build, clock=clock, settle=1.0)


def settle_all(watcher: Watcher, clock: Ticker, *paths: Path) -> None:
    for path in paths:
        watcher.handle_event(path)
    watcher.tick()
    clock.advance(1.0)
    watcher.tick()


def test_same_return_twice_and_a_correction_after_a_rejection(
    workspace, config, form, ledger, make_return, clock
):
    ticker = Ticker()
    watcher = real_watcher(workspace, config, form, ledger, ticker, clock)
    first = make_return("LT1", PERIOD, funds_mobilized=10_000_000)
    copy = workspace.inbox / "gui-lai" / first.name
    copy.parent.mkdir()
    copy.write_bytes(first.read_bytes())
    settle_all(watcher, ticker, first, copy)
    bad = make_return("LT2", PERIOD, name="LT2-sai.xlsx", admitted=-3, funds_mobilized=99)
    settle_all(watcher, ticker, bad)
    clock.advance(hours=1)
    good = make_return("LT2", PERIOD, name="LT2-sua.xlsx", funds_mobilized=20_000_000)
    settle_all(watcher, ticker, good)

    outcomes = {(s.source_name, s.outcome) for s in ledger.all()}
    assert outcomes == {
        (first.name, Outcome.ACCEPTED),
        (f"gui-lai/{first.name}", Outcome.DUPLICATE),
        (bad.name, Outcome.REJECTED),
        ("LT2-sua.xlsx", Outcome.ACCEPTED),
    }
    assert sorted(s.branch_code for s in ledger.counted()) == ["LT1", "LT2"]
    figures = totals(workspace, PERIOD)
    assert figures["funds_mobilized"] == 30_000_000
    assert figures["status"] == 2
    assert not any(workspace.inbox.rglob("*.xlsx"))
    page = (workspace.outbox / PERIOD / "tinh-hinh-nop-bao-cao.html").read_text(encoding="utf-8")
    assert "Đã tiếp nhận" in page
    print(f"ledger: {sorted(outcomes)}; report total funds {figures['funds_mobilized']:,}")


def test_a_newer_accepted_version_supersedes_in_the_report(
    workspace, config, form, ledger, make_return, clock
):
    ticker = Ticker()
    watcher = real_watcher(workspace, config, form, ledger, ticker, clock)
    settle_all(watcher, ticker, make_return("LT1", PERIOD, funds_mobilized=1_000_000))
    assert totals(workspace, PERIOD)["funds_mobilized"] == 1_000_000
    second = make_return("LT1", PERIOD, name="LT1-ban-2.xlsx", funds_mobilized=4_000_000)
    settle_all(watcher, ticker, second)
    assert [s.outcome for s in ledger.all()] == [Outcome.SUPERSEDED, Outcome.ACCEPTED]
    assert totals(workspace, PERIOD)["funds_mobilized"] == 4_000_000


def test_unreadable_file_is_answered_without_a_period_rebuild(workspace, config, form, ledger):
    ticker, builds = Ticker(), Builds()
    intake = Intake(workspace, config, form, ledger)
    watcher = Watcher(workspace.inbox, intake, builds, clock=ticker, settle=1.0)
    (workspace.inbox / "hong.xlsx").write_bytes(b"PK\x03\x04 not really")
    watcher.tick()
    ticker.advance(3.0)
    watcher.tick()
    assert [s.outcome for s in ledger.all()] == [Outcome.UNREADABLE]
    assert builds.calls == []
    assert list((workspace.outbox / "khong-doc-duoc").glob("*.txt"))


def test_stale_periods_after_a_kill_between_record_and_rebuild(
    workspace, config, form, ledger, make_return, clock
):
    publisher = Publisher(Workspace(workspace, config, form, clock=clock, ledger=ledger))
    make_return("LT1", PERIOD)
    Intake(workspace, config, form, ledger).process_inbox()  # killed before the rebuild
    assert publisher.stale_periods() == [PERIOD]
    publisher.build(PERIOD, True)
    # The report was just written after the file was received: up to date (the check is
    # conservative by one second because received_at has whole seconds).
    report = publisher.report_path(PERIOD)
    later = report.stat().st_mtime + 2
    os.utime(report, (later, later))
    assert publisher.stale_periods() == []


# --- the log -------------------------------------------------------------------------------


def test_log_file_has_one_vietnamese_line_per_file(workspace, config, form, ledger, make_return):
    undo = configure_logging(workspace.logs, console=False)
    try:
        good = make_return("LT1", PERIOD)
        (workspace.inbox / "rac.xlsx").write_bytes(b"")
        Intake(workspace, config, form, ledger).process_inbox()
        logging.getLogger("tonghop.watch.watcher").warning("Không thấy thư mục %s.", "inbox")
    finally:
        undo()
    lines = (workspace.logs / "tonghop.log").read_text(encoding="utf-8").splitlines()
    per_file = [line.split("\t") for line in lines if ".xlsx" in line]
    assert len(per_file) == 2
    by_name = {cols[1]: cols for cols in per_file}
    _, _, branch, period, outcome, took = by_name[good.name]
    assert (branch, period, outcome) == ("LT1", PERIOD, "Đã tiếp nhận")
    assert took.endswith(" ms")
    assert by_name["rac.xlsx"][4] == "Không đọc được tệp"
    assert any(line.split("\t")[1].startswith("CẢNH BÁO: Không thấy") for line in lines)
    assert not logging.getLogger("tonghop").handlers
    print("\n".join(lines))


def test_log_formatter_leaves_other_records_alone():
    record = logging.LogRecord(
        "tonghop.watch.watcher", logging.INFO, __file__, 1, "Đã %s", ("xong",), None
    )
    assert _LogFormatter().format(record).endswith("\tĐã xong")


def test_settler_ignores_what_intake_ignores(tmp_path):
    clock = Ticker()
    settler = Settler(settle=1.0, clock=clock)
    settler.note(tmp_path / "~$a.xlsx")
    settler.note(tmp_path / "desktop.ini")
    assert len(settler) == 0


# --- the service files ---------------------------------------------------------------------

UNIT = Path(__file__).resolve().parent.parent / "docs" / "tonghop-watch.service"


def test_systemd_unit_parses_and_runs_tonghop_watch():
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # keys are case-sensitive in systemd
    parser.read(UNIT, encoding="utf-8")
    assert set(parser.sections()) == {"Unit", "Service", "Install"}
    service = parser["Service"]
    command = shlex.split(service["ExecStart"])
    assert Path(command[0]).name == "tonghop"
    assert "watch" in command
    assert command[command.index("--home") + 1] == service["WorkingDirectory"]
    assert service["KillSignal"] == "SIGTERM"
    assert service["RestartPreventExitStatus"] == "2"
    assert parser["Install"]["WantedBy"] == "multi-user.target"
    print(f"ExecStart: {service['ExecStart']}")


def test_systemd_analyze_verify_accepts_the_unit(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed on this machine (no systemd)")
    # verify checks that ExecStart's program exists: point it at this checkout's tonghop.
    program = Path(sys.executable).with_name("tonghop")
    if not program.exists():
        pytest.skip(f"{program} is missing (tonghop is not installed in this environment)")
    home = tmp_path / "ws"
    home.mkdir()
    text = UNIT.read_text(encoding="utf-8")
    text = text.replace("/opt/tonghop/.venv/bin/tonghop", str(program))
    text = text.replace("/srv/tonghop", str(home))
    unit = tmp_path / "tonghop-watch.service"
    unit.write_text(text, encoding="utf-8")
    done = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False
    )
    about_unit = [line for line in done.stderr.splitlines() if unit.name in line]
    assert done.returncode == 0, done.stderr
    assert about_unit == [], done.stderr
    print(f"systemd-analyze verify: exit {done.returncode}, no complaint about the unit")


# --- what is not a regular file ------------------------------------------------------------


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file-system objects")
def test_links_and_fifos_are_never_opened_answered_once_and_others_taken(
    workspace, config, form, make_return, clock, tmp_path
):
    outside = tmp_path / "ngoai"
    make_return("LT2", PERIOD, folder=outside)
    good = make_return("LT1", PERIOD)
    fifo = workspace.inbox / "y.xlsx"
    os.mkfifo(fifo)
    (workspace.inbox / "x.xlsx").symlink_to("/etc/passwd")
    (workspace.inbox / "LT2").symlink_to(outside, target_is_directory=True)
    looked_at: list[Path] = []
    recorded: list[str] = []

    def run() -> None:  # SQLite connections belong to the thread that opens them
        with Ledger(workspace.ledger) as ledger:
            ticker = Ticker()
            watcher = real_watcher(workspace, config, form, ledger, ticker, clock)
            real_readable = watcher.settler.readable

            def readable(path: Path) -> bool:
                looked_at.append(path)
                return real_readable(path)

            watcher.settler.readable = readable
            watcher.handle_event(workspace.inbox / "LT2", "folder")
            for _ in range(3):
                watcher.tick()
                ticker.advance(31.0)  # past a rescan each time
            recorded.extend(s.source_name for s in ledger.all())

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=60)
    if worker.is_alive():
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("the watcher blocked on a FIFO")
    assert set(looked_at) == {good}  # the settle logic opened the good return alone
    assert recorded == [good.name]
    assert fifo.exists() and (workspace.inbox / "x.xlsx").is_symlink()
    notes = sorted((workspace.outbox / "khong-doc-duoc").glob("*khong-mo.txt"))
    assert len(notes) == 3


def test_log_lines_escape_newlines_and_control_characters_in_names():
    record = logging.LogRecord(
        "tonghop.watch.watcher",
        logging.INFO,
        __file__,
        1,
        "%s đang được mở",
        ("a.xlsx\n2024-07-05 09:00:00\tLỖI: giả\x1b[2J",),
        None,
    )
    line = _LogFormatter().format(record)
    assert "\n" not in line and "\x1b" not in line
    assert line.endswith("\tLỖI: giả\\x1b[2J đang được mở")


def test_a_file_naming_no_period_rebuilds_the_status_pages_of_every_known_period(inbox):
    class NoPeriod(FakeIntake):
        def process(self, paths, *, batch_size: int = 50):
            results = super().process(paths, batch_size=batch_size)
            for result in results:
                result.submission.outcome = Outcome.UNREADABLE
                result.submission.branch_code = result.submission.period = None
            return results

    clock, builds = Ticker(), Builds()
    watcher = make_watcher(
        inbox, clock, NoPeriod(), builds, known_periods=lambda: ["2024-H1", "2024-Q3"]
    )
    watcher.tick()
    path = inbox / "anh-chup.xlsx"
    path.write_bytes(zip_bytes(100))
    watcher.handle_event(path)
    watcher.tick()
    clock.advance(1.0)
    watcher.tick()
    assert sorted(builds.calls) == [("2024-H1", False), ("2024-Q3", False)]
