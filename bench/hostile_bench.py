"""Benchmark: the hostile corpus beside 100 good returns through `tonghop process` and `watch`.

    .venv/bin/python bench/hostile_bench.py --good 100

Target (issue 8): no hang, no crash, peak RSS of the process tree <= 300 MB, for `process`
and for `watch`, on the whole corpus (tests/test_hostile_corpus.build_corpus: XML and zip
bombs, 100 000 entries, renamed formats, huge ranges, poison text, links, a FIFO, a socket, a
70 MB sparse file, large pictures, ...) plus ``--good`` good returns.

Each command runs in a child process (the installed `tonghop` script, the real clock), exactly
as a user runs it, on its own fresh copy of the corpus. Peak RSS is the largest sum of the
resident sizes of the child and all its descendants, sampled by psutil every 20 ms. `watch`
is stopped by SIGTERM once the ledger holds a row for every regular file; its time is to
that moment (and to its exit). The floor, measured in the same run: the good returns alone,
in a workspace of their own, through `process`.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

TIMEOUT = 600.0  # seconds before a run is called a hang


@dataclass
class Run:
    command: list[str]
    seconds: float
    peak_mb: float
    exit_code: int | None
    hung: bool
    all_rows_after: float | None = None


class PeakSampler(threading.Thread):
    """The largest RSS sum of a process and its descendants, sampled until it ends."""

    def __init__(self, pid: int, every: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.root = psutil.Process(pid)
        self.every = every
        self.peak = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                tree = [self.root, *self.root.children(recursive=True)]
            except psutil.Error:
                break
            total = 0
            for process in tree:
                with contextlib.suppress(psutil.Error):
                    total += process.memory_info().rss
            self.peak = max(self.peak, total)
            time.sleep(self.every)


def tonghop_script() -> str:
    script = Path(sys.executable).parent / "tonghop"
    return str(script) if script.exists() else "tonghop"


def ledger_rows(home: Path) -> int:
    from tests.test_hostile_corpus import ledger_rows as rows

    return rows(home)


def run_process(home: Path) -> Run:
    command = [tonghop_script(), "--home", str(home), "process"]
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sampler = PeakSampler(child.pid)
    sampler.start()
    hung = False
    try:
        code: int | None = child.wait(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        hung, code = True, None
        child.kill()
        child.wait()
    elapsed = time.perf_counter() - started
    sampler.done.set()
    sampler.join()
    return Run(command, elapsed, sampler.peak / 2**20, code, hung)


def run_watch(home: Path, expected: int) -> Run:
    command = [tonghop_script(), "--home", str(home), "watch", "--no-pdf", "--no-web"]
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sampler = PeakSampler(child.pid)
    sampler.start()
    all_rows: float | None = None
    while time.perf_counter() - started < TIMEOUT and child.poll() is None:
        if ledger_rows(home) >= expected:
            all_rows = time.perf_counter() - started
            break
        time.sleep(0.1)
    hung = all_rows is None and child.poll() is None
    child.send_signal(signal.SIGTERM)
    try:
        code: int | None = child.wait(timeout=120)
    except subprocess.TimeoutExpired:
        hung, code = True, None
        child.kill()
        child.wait()
    elapsed = time.perf_counter() - started
    sampler.done.set()
    sampler.join()
    return Run(command, elapsed, sampler.peak / 2**20, code, hung, all_rows)


def outcomes(home: Path) -> tuple[collections.Counter[str], int]:
    from tonghop.layout import Layout
    from tonghop.ledger import Ledger

    with Ledger(Layout(home).ledger) as ledger:
        rows = ledger.all()
        counted = len(ledger.counted())
    return collections.Counter(str(s.outcome) for s in rows), counted


def good_only(root: Path, good: int) -> Path:
    from tests.test_hostile_corpus import PERIOD, Returns, make_workspace, patch_branch

    home = make_workspace(root, good)
    base = Returns(home).workbook("B000")
    for n in range(good):
        code = f"B{n:03d}"
        data = base if n == 0 else patch_branch(base, "B000", code)
        (home / "inbox" / f"{code}-{PERIOD}.xlsx").write_bytes(data)
    return home


def show(what: str, run: Run, home: Path, answered: str) -> None:
    counts, counted = outcomes(home)
    state = "HANG" if run.hung else f"exit {run.exit_code}"
    print(f"{what}:")
    print(f"  $ {shlex.join(run.command)}")
    line = f"  {run.seconds:.2f} s wall, peak RSS {run.peak_mb:.0f} MB (process tree), {state}"
    if run.all_rows_after is not None:
        line += f"; every file in the ledger after {run.all_rows_after:.2f} s"
    print(line)
    print(f"  outcomes: {dict(sorted(counts.items()))}; counted: {counted}; {answered}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--good", type=int, default=100)
    parser.add_argument("--large", type=int, default=2, help="returns with large pictures")
    parser.add_argument("--picture-mb", type=int, default=22, help="two pictures a large return")
    args = parser.parse_args()

    from tests.test_hostile_corpus import build_corpus

    print(f"$ {shlex.join([sys.executable, *sys.argv])}")
    with tempfile.TemporaryDirectory(prefix="hostile-bench-") as temp:
        folder = Path(temp)
        floor_home = good_only(folder / "floor", args.good)
        floor = run_process(floor_home)
        show(f"floor: {args.good} good returns alone through process", floor, floor_home, "")

        for name in ("process", "watch"):
            built = time.perf_counter()
            corpus = build_corpus(
                folder / name, good=args.good, large=args.large, picture_mb=args.picture_mb
            )
            built = time.perf_counter() - built
            expected = len(corpus.regular)
            if name == "process":
                run = run_process(corpus.home)
            else:
                run = run_watch(corpus.home, expected)
            rows = ledger_rows(corpus.home)
            left = sorted(p.name for p in corpus.inbox.iterdir())
            answered = (
                f"{rows}/{expected} regular files in the ledger; "
                f"left in inbox/: {left} (expected {sorted(corpus.special)})"
            )
            show(
                f"{name}: hostile corpus ({len(corpus.kinds)} hostile files, "
                f"{len(corpus.special)} special, {args.good} good; built in {built:.1f} s)",
                run,
                corpus.home,
                answered,
            )
            print(
                f"  peak RSS over the floor: {run.peak_mb - floor.peak_mb:+.0f} MB; target <= 300 MB"
            )


if __name__ == "__main__":
    main()
