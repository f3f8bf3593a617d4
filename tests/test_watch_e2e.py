"""The real ``tonghop watch`` process: kill -9, slow copies, junk, SIGTERM, --poll, the lock.

Each test prints its figures (run with ``-s`` to see them). Returns are made by the real form
writer once per period, then copied with a patched branch code and amount, so hundreds of
distinct returns cost milliseconds.
"""

from __future__ import annotations

import io
import os
import random
import shlex
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest
from openpyxl import load_workbook

from tonghop.blank import write_blank_form
from tonghop.config import Branch
from tonghop.form import load_form
from tonghop.layout import Layout
from tonghop.periods import Period

from .conftest import balanced_values

ROOT = Path(__file__).resolve().parent.parent
SENTINEL_BRANCH = "ZZ99"
SENTINEL_FUNDS = 12345678
# Ten periods that never follow one another: no continuity warning, every return clean.
PERIODS = ["2023-01", "2023-03", "2023-05", "2023-07", "2023-09", "2023-11"]
PERIODS += ["2022-02", "2022-04", "2022-06", "2022-08"]

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="uses SIGKILL and inotify")


# --- workspace and returns ---------------------------------------------------------------------


def make_workspace(root: Path, branches: int = 50) -> Layout:
    numbered = [Branch(f"B{i:02d}", f"Chi bộ số {i}") for i in range(branches)]
    return Layout(root).create(Layout(ROOT), branches=numbered)


class Returns:
    """Distinct returns in milliseconds: one real workbook per period, patched per copy."""

    def __init__(self, ws: Layout) -> None:
        config = ws.load_config()
        form = load_form(ws.form_path)
        self.templates: dict[str, bytes] = {}
        sentinel = Branch(SENTINEL_BRANCH, "Chi bộ mẫu")
        for code in PERIODS:
            period = Period.parse(code)
            values = balanced_values(period, funds_mobilized=SENTINEL_FUNDS)
            path = ws.home / f"mau-{code}.xlsx"
            write_blank_form(form, config, sentinel, period, path, prefill=values)
            self.templates[code] = path.read_bytes()
            path.unlink()

    def make(self, branch: str, period: str, funds: int) -> bytes:
        source = zipfile.ZipFile(io.BytesIO(self.templates[period]))
        out = io.BytesIO()
        with source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
            for item in source.infolist():
                content = source.read(item.filename)
                if item.filename.startswith("xl/worksheets/"):
                    patched = content.replace(
                        f"<t>{SENTINEL_BRANCH}</t>".encode(), f"<t>{branch}</t>".encode()
                    ).replace(f"<v>{SENTINEL_FUNDS}</v>".encode(), f"<v>{funds}</v>".encode())
                    assert patched.count(f"<v>{funds}</v>".encode()) == 1, item.filename
                    content = patched
                target.writestr(item, content)
        return out.getvalue()


# --- the watcher process -----------------------------------------------------------------------


class WatchProcess:
    """``tonghop --home WS watch ...`` as a child process, its output in files."""

    def __init__(self, ws: Layout, *args: str) -> None:
        self.ws = ws
        self.args = ["--home", str(ws.home), "watch", "--no-pdf", "--no-web", *args]
        self.runs = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def command(self) -> str:
        return "tonghop " + shlex.join(self.args)

    def start(self) -> subprocess.Popen[bytes]:
        self.runs += 1
        out = self.ws.home / f"watch-{self.runs}.out"
        with out.open("wb") as sink:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", "from tonghop.cli import main; main()", *self.args],
                stdout=sink,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        return self.proc

    def output(self, run: int | None = None) -> str:
        path = self.ws.home / f"watch-{run or self.runs}.out"
        return path.read_text(encoding="utf-8", errors="replace")

    def wait_started(self, timeout: float = 30) -> float:
        return wait_until(lambda: "Bắt đầu theo dõi" in self.output(), timeout, "the watcher")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self, timeout: float = 60, sig: int = signal.SIGTERM) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        return self.proc.wait(timeout)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def watch_process():
    made: list[WatchProcess] = []

    def make(ws: Layout, *args: str) -> WatchProcess:
        made.append(WatchProcess(ws, *args))
        return made[-1]

    yield make
    for process in made:
        process.close()


def ledger_rows(ws: Layout) -> list[sqlite3.Row]:
    path = ws.ledger
    if not path.exists():
        return []
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        db.row_factory = sqlite3.Row
        return db.execute("SELECT * FROM submissions ORDER BY id").fetchall()
    except sqlite3.OperationalError:
        return []  # the schema is not created yet
    finally:
        db.close()


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)
    return time.monotonic() - started


def inbox_files(ws: Layout) -> list[Path]:
    return [p for p in ws.inbox.rglob("*") if p.is_file()]


def report_totals(ws: Layout, period: str) -> dict[str, object] | None:
    path = ws.outbox / period / "tong-hop-so-lieu.xlsx"
    if not path.exists():
        return None
    book = load_workbook(path, read_only=True)
    try:
        rows = list(book["Trong kỳ"].iter_rows(values_only=True))
    finally:
        book.close()
    keys = next(r for r in rows if len(r) > 1 and r[1] == "code")  # the hidden row of ids
    total = next(r for r in rows if len(r) > 2 and r[2] == "Tổng cộng")
    return dict(zip(keys, total, strict=False))


def write_in_chunks(path: Path, data: bytes, chunks: int, seconds: float, reopen: bool) -> None:
    """Copy like a slow network copy: ``chunks`` pieces over ``seconds``."""
    size = -(-len(data) // chunks)
    pause = seconds / chunks
    handle = None if reopen else path.open("wb")
    try:
        for number in range(chunks):
            piece = data[number * size : (number + 1) * size]
            if reopen:
                with path.open("ab") as each:
                    each.write(piece)
            else:
                assert handle is not None
                handle.write(piece)
                handle.flush()
            time.sleep(pause)
    finally:
        if handle is not None:
            handle.close()


# --- kill -9 -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_kill_9_at_random_moments_loses_nothing_and_counts_nothing_twice(tmp_path, watch_process):
    rng = random.Random(4)
    ws = make_workspace(tmp_path / "ws", branches=50)
    returns = Returns(ws)
    drops: list[tuple[Path, bytes, str, int]] = []
    for number in range(500):
        branch, period = f"B{number % 50:02d}", PERIODS[number // 50]
        funds = 1_000_000 + number * 1_000
        folder = ws.inbox if number % 3 else ws.inbox / f"dot-{number % 7}"
        data = returns.make(branch, period, funds)
        drops.append((folder / f"{branch}-{period}.xlsx", data, period, funds))
    rng.shuffle(drops)
    watcher = watch_process(ws, "--settle", "0.5", "--interval", "5")
    watcher.start()

    dropped = threading.Event()
    styles = {"direct": 0, "renamed": 0, "chunks": 0}

    def drop_all() -> None:
        for number, (path, data, _, _) in enumerate(drops):
            path.parent.mkdir(parents=True, exist_ok=True)
            if number % 10 == 0:  # slowly, in chunks, reopening the file for each one
                write_in_chunks(path, data, chunks=5, seconds=0.2, reopen=True)
                styles["chunks"] += 1
            elif number % 3 == 0:  # written elsewhere then renamed in, like a browser
                temp = path.with_name(path.name + ".part")
                temp.write_bytes(data)
                os.replace(temp, path)
                styles["renamed"] += 1
            else:
                path.write_bytes(data)
                styles["direct"] += 1
            time.sleep(rng.uniform(0, 0.03))
        dropped.set()

    started = time.monotonic()
    dropper = threading.Thread(target=drop_all)
    dropper.start()
    kills = 0
    try:
        while not dropped.is_set() or kills < 6:
            time.sleep(rng.uniform(0.3, 2.5))
            watcher.kill()
            kills += 1
            if rng.random() < 0.3:
                time.sleep(rng.uniform(0.1, 1.0))  # down for a while: files pile up
            watcher.start()
    finally:
        dropper.join()
    drop_seconds = time.monotonic() - started

    expected: dict[str, int] = {}
    for _, _, period, funds in drops:
        expected[period] = expected.get(period, 0) + funds

    def all_done() -> bool:
        if inbox_files(ws) or len(ledger_rows(ws)) < len(drops):
            return False
        for period, total in expected.items():
            figures = report_totals(ws, period)
            if figures is None or figures["funds_mobilized"] != total:
                return False
        return True

    settle_seconds = wait_until(all_done, 150, "every return recorded and every report rebuilt")
    watcher.wait_started()  # the last start may still be importing: SIGTERM would kill it
    assert watcher.terminate() == 0, watcher.output()

    rows = ledger_rows(ws)
    outcomes: dict[str, int] = {}
    for row in rows:
        outcomes[row["outcome"]] = outcomes.get(row["outcome"], 0) + 1
    shas = [row["sha256"] for row in rows]
    names = [row["source_name"] for row in rows]
    assert len(rows) == len(drops), outcomes
    assert len(set(shas)) == len(shas), "a file was recorded twice"
    assert len(set(names)) == len(names)
    assert outcomes == {"accepted": len(drops)}
    assert inbox_files(ws) == []
    for period, total in expected.items():
        figures = report_totals(ws, period)
        assert figures is not None
        assert figures["funds_mobilized"] == total
        assert figures["status"] == 50
    print(
        f"\nkill -9: {len(drops)} returns ({styles}) dropped in {drop_seconds:.1f} s, "
        f"{kills} kills, {watcher.runs} starts; all recorded and reports right "
        f"{settle_seconds:.1f} s after the last kill; ledger {len(rows)} rows, "
        f"{len(set(shas))} distinct sha; outcomes {outcomes}; "
        f"sum of funds {sum(expected.values()):,} đồng over {len(expected)} periods"
    )


# --- slow copies, duplicates, corrections -----------------------------------------------------


def test_file_copied_in_twenty_chunks_over_two_seconds_is_accepted_once(tmp_path, watch_process):
    ws = make_workspace(tmp_path / "ws", branches=5)
    returns = Returns(ws)
    watcher = watch_process(ws)  # default settle 1.0 s
    watcher.start()
    reopened = returns.make("B00", "2023-01", 5_000_000)
    one_handle = returns.make("B01", "2023-01", 7_000_000)
    copies = [
        threading.Thread(
            target=write_in_chunks, args=(ws.inbox / "B00.xlsx", reopened, 20, 2.0, True)
        ),
        threading.Thread(
            target=write_in_chunks, args=(ws.inbox / "B01.xlsx", one_handle, 20, 2.0, False)
        ),
    ]
    started = time.monotonic()
    for copy in copies:
        copy.start()
    for copy in copies:
        copy.join()
    copied = time.monotonic() - started
    waited = wait_until(lambda: len(ledger_rows(ws)) == 2 and not inbox_files(ws), 30, "intake")
    wait_until(lambda: report_totals(ws, "2023-01") is not None, 30, "report")
    assert watcher.terminate() == 0
    rows = ledger_rows(ws)
    assert sorted((r["source_name"], r["outcome"]) for r in rows) == [
        ("B00.xlsx", "accepted"),
        ("B01.xlsx", "accepted"),
    ]
    assert not (ws.outbox / "khong-doc-duoc").exists(), "a partial copy was answered as corrupt"
    print(
        f"\n2 files copied in 20 chunks each over {copied:.1f} s (one reopening the file per "
        f"chunk, one holding it open): each accepted once, {waited:.2f} s after the copy ended"
    )


def test_same_return_twice_and_a_correction_after_a_rejected_one(tmp_path, watch_process):
    ws = make_workspace(tmp_path / "ws", branches=5)
    returns = Returns(ws)
    watcher = watch_process(ws, "--settle", "0.3")
    watcher.start()
    first = returns.make("B00", "2023-01", 3_000_000)
    (ws.inbox / "B00.xlsx").write_bytes(first)
    wait_until(lambda: len(ledger_rows(ws)) == 1, 30, "the first return")
    (ws.inbox / "B00-gui-lai.xlsx").write_bytes(first)
    bad = returns.make("B01X", "2023-01", 9_000_000)  # a branch not in tonghop.toml
    (ws.inbox / "B01-sai.xlsx").write_bytes(bad)
    wait_until(lambda: len(ledger_rows(ws)) == 3, 30, "the copy and the wrong one")
    time.sleep(1.1)  # a later modification time than the rejected one
    (ws.inbox / "B01-sua.xlsx").write_bytes(returns.make("B01", "2023-01", 4_000_000))
    wait_until(lambda: len(ledger_rows(ws)) == 4, 30, "the correction")
    wait_until(
        lambda: (report_totals(ws, "2023-01") or {}).get("funds_mobilized") == 7_000_000,
        30,
        "the rebuilt report",
    )
    assert watcher.terminate() == 0
    outcomes = [(r["source_name"], r["outcome"]) for r in ledger_rows(ws)]
    assert outcomes[0] == ("B00.xlsx", "accepted")
    assert sorted(outcomes[1:3]) == [
        ("B00-gui-lai.xlsx", "duplicate"),
        ("B01-sai.xlsx", "rejected"),
    ]
    assert outcomes[3] == ("B01-sua.xlsx", "accepted")
    figures = report_totals(ws, "2023-01")
    assert figures is not None and figures["status"] == 2
    print(f"\nledger: {outcomes}; report: 2 branches, {figures['funds_mobilized']:,} đồng")


def test_a_return_renamed_in_is_taken_without_waiting_for_the_settle_interval(
    tmp_path, watch_process
):
    """With a 60 s settle interval, only the rename can have made the watcher take them."""
    ws = make_workspace(tmp_path / "ws", branches=5)
    returns = Returns(ws)
    watcher = watch_process(ws, "--settle", "60", "--interval", "600")
    watcher.start()
    watcher.wait_started()
    temp = ws.inbox / "B00.xlsx.part"  # a browser's or a sync client's temporary name
    temp.write_bytes(returns.make("B00", "2023-01", 2_000_000))
    os.replace(temp, ws.inbox / "B00.xlsx")
    elsewhere = tmp_path / "tai-ve" / "B01.xlsx"  # written outside inbox/, then moved in
    elsewhere.parent.mkdir()
    elsewhere.write_bytes(returns.make("B01", "2023-01", 3_000_000))
    os.replace(elsewhere, ws.inbox / "B01.xlsx")
    waited = wait_until(
        lambda: len(ledger_rows(ws)) == 2 and not inbox_files(ws), 20, "both renamed-in returns"
    )
    assert watcher.terminate() == 0, watcher.output()
    assert sorted((r["source_name"], r["outcome"]) for r in ledger_rows(ws)) == [
        ("B00.xlsx", "accepted"),
        ("B01.xlsx", "accepted"),
    ]
    print(
        f"\n2 returns renamed in (one from inside inbox/, one from outside): taken in "
        f"{waited:.2f} s with a 60 s settle interval"
    )


# --- junk and memory ---------------------------------------------------------------------------


@pytest.mark.slow
def test_a_thousand_junk_files_with_a_hundred_returns(tmp_path, watch_process):
    rng = random.Random(7)
    ws = make_workspace(tmp_path / "ws", branches=50)
    returns = Returns(ws)
    watcher = watch_process(ws, "--settle", "0.5")
    proc = watcher.start()
    wait_until(lambda: (ws.logs / "tonghop.log").exists(), 30, "the watcher to start")
    kinds = {"random .xlsx": 0, "empty .xlsx": 0, ".ods": 0, "random .xls": 0, "sparse 100 MB": 0}
    ods = io.BytesIO()
    with zipfile.ZipFile(ods, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("content.xml", "<office:document-content/>")
    good = [(f"B{n % 50:02d}", PERIODS[n // 50]) for n in range(100)]
    plan: list[tuple[str, int]] = [("good", n) for n in range(100)]
    plan += [("junk", n) for n in range(1000)]
    rng.shuffle(plan)
    peak = 0
    samples = 0
    started = time.monotonic()
    for step, (what, number) in enumerate(plan):
        folder = ws.inbox / f"dot-{number % 4}"
        folder.mkdir(exist_ok=True)
        if what == "good":
            branch, period = good[number]
            (folder / f"{branch}-{period}.xlsx").write_bytes(returns.make(branch, period, 1000))
        elif number % 100 == 0:
            with (folder / f"lon-{number}.xlsx").open("wb") as handle:
                handle.truncate(100 * 1024 * 1024)
            kinds["sparse 100 MB"] += 1
        else:
            kind = number % 4
            name, data = [
                (f"rac-{number}.xlsx", rng.randbytes(rng.randint(1, 50_000))),
                (f"rong-{number}.xlsx", b""),
                (f"bang-{number}.ods", ods.getvalue()),
                (f"cu-{number}.xls", rng.randbytes(rng.randint(1, 5_000))),
            ][kind]
            (folder / name).write_bytes(data)
            kinds[list(kinds)[kind]] += 1
        if step % 50 == 0:
            peak = max(peak, psutil.Process(proc.pid).memory_info().rss)
            samples += 1
    dropped = time.monotonic() - started

    def done() -> bool:
        nonlocal peak, samples
        peak = max(peak, psutil.Process(proc.pid).memory_info().rss)
        samples += 1
        return len(ledger_rows(ws)) >= len(plan) and not inbox_files(ws)

    waited = wait_until(done, 150, "every file answered")
    assert watcher.terminate() == 0, watcher.output()
    rows = ledger_rows(ws)
    outcomes: dict[str, int] = {}
    for row in rows:
        outcomes[row["outcome"]] = outcomes.get(row["outcome"], 0) + 1
    assert len(rows) == len(plan)
    assert outcomes["accepted"] == 100
    assert outcomes["accepted"] + outcomes.get("unreadable", 0) + outcomes.get(
        "duplicate", 0
    ) + outcomes.get("rejected", 0) == len(plan)
    answers = list((ws.outbox / "khong-doc-duoc").glob("*.txt"))
    assert len(answers) == outcomes.get("unreadable", 0)
    assert peak < 300 * 1024 * 1024
    print(
        f"\n1,000 junk files {kinds} + 100 returns dropped in {dropped:.1f} s; all answered "
        f"{waited:.1f} s later; outcomes {outcomes}; {len(answers)} notes; "
        f"watcher peak RSS {peak / 2**20:.0f} MB over {samples} samples"
    )


# --- stopping, the lock, --poll ----------------------------------------------------------------


def test_sigterm_finishes_the_file_in_hand_and_exits_0(tmp_path, watch_process):
    # Enough files that the watcher cannot have taken them all when SIGTERM arrives.
    ws = make_workspace(tmp_path / "ws", branches=100)
    returns = Returns(ws)
    watcher = watch_process(ws, "--settle", "0.2")
    watcher.start()
    periods = PERIODS[:4]  # one return per branch and period: nothing supersedes
    for number in range(400):
        branch, period = f"B{number % 100:02d}", periods[number // 100]
        (ws.inbox / f"{branch}-{period}.xlsx").write_bytes(
            returns.make(branch, period, 1000 + number)
        )
    wait_until(lambda: len(ledger_rows(ws)) >= 1, 30, "the first file")
    started = time.monotonic()
    code = watcher.terminate()
    stopped = time.monotonic() - started
    assert code == 0, watcher.output()
    recorded = {r["source_name"] for r in ledger_rows(ws)}
    waiting = {p.name for p in inbox_files(ws)}
    assert recorded.isdisjoint(waiting), "a file recorded but left in inbox/"
    assert len(recorded) + len(waiting) == 400
    assert waiting, "the watcher went on after SIGTERM instead of stopping"
    log = (ws.logs / "tonghop.log").read_text(encoding="utf-8")
    assert "Đã dừng theo dõi" in log
    first_run = len(recorded)
    watcher.start()  # the rest is taken on the next start
    watcher.wait_started()
    wait_until(lambda: len(ledger_rows(ws)) == 400 and not inbox_files(ws), 60, "the rest")
    for index, period in enumerate(periods):
        funds = sum(1000 + 100 * index + n for n in range(100))
        wait_until(
            lambda period=period, funds=funds: (
                (report_totals(ws, period) or {}).get("funds_mobilized") == funds
            ),
            60,
            f"the report of {period}",
        )
    assert watcher.terminate(sig=signal.SIGINT) == 0, watcher.output()  # Ctrl-C
    print(
        f"\nSIGTERM: exit 0 in {stopped:.2f} s; {first_run} files taken before it, "
        f"{400 - first_run} left in inbox/ and taken on the next start, which Ctrl-C stopped with exit 0"
    )


def test_a_second_watcher_exits_2_naming_the_first(tmp_path, watch_process):
    ws = make_workspace(tmp_path / "ws", branches=3)
    first = watch_process(ws)
    proc = first.start()
    first.wait_started()
    second = watch_process(ws)
    code = second.start().wait(30)
    text = second.output()
    assert code == 2, text
    assert f"tiến trình số {proc.pid}" in text
    assert first.terminate() == 0
    print(f"\nsecond watcher: exit {code}: {text.strip().splitlines()[-1]}")


def test_poll_survives_the_inbox_going_away_and_coming_back(tmp_path, watch_process):
    ws = make_workspace(tmp_path / "ws", branches=3)
    returns = Returns(ws)
    watcher = watch_process(ws, "--poll", "--interval", "2", "--settle", "0.3")
    proc = watcher.start()
    (ws.inbox / "B00.xlsx").write_bytes(returns.make("B00", "2023-01", 1000))
    first = wait_until(lambda: len(ledger_rows(ws)) == 1, 30, "the first file")
    away = ws.home / "inbox-mat-ket-noi"
    ws.inbox.rename(away)
    log_path = ws.logs / "tonghop.log"
    wait_until(lambda: "Không thấy thư mục" in log_path.read_text(encoding="utf-8"), 30, "warn")
    time.sleep(1.5)
    assert proc.poll() is None, watcher.output()
    (away / "B01.xlsx").write_bytes(returns.make("B01", "2023-01", 2000))
    away.rename(ws.inbox)
    back = wait_until(lambda: len(ledger_rows(ws)) == 2, 30, "the file dropped while away")
    (ws.inbox / "B02.xlsx").write_bytes(returns.make("B02", "2023-01", 3000))
    again = wait_until(lambda: len(ledger_rows(ws)) == 3, 30, "a file after the return")
    assert watcher.terminate() == 0
    log = log_path.read_text(encoding="utf-8")
    assert "đã có lại" in log
    assert "Traceback" not in watcher.output()
    print(
        f"\n--poll: first file in {first:.2f} s; inbox gone then back: the file that came "
        f"with it taken in {back:.2f} s, the next one in {again:.2f} s"
    )
