"""Benchmark: from a return complete in inbox/ to its period's report rebuilt by the watcher.

    .venv/bin/python bench/watch_bench.py --drops 100 --branches 20

Both ways a file arrives, 100 drops each: written in place (timed from its close) and written
in a folder outside inbox/ then renamed in, as sync clients, browsers and careful senders do
(timed from the rename). Target (issue 7): p95 < 0.3 s both ways, native events, 2 cores.

The watcher runs in this process (``run_watch`` in the main thread, exactly as ``tonghop
watch`` does); a second thread drops one distinct return at a time and waits for the rebuild
of its period, reported by the watcher's ``on_built`` hook, before the next one. Times are
``time.monotonic`` in both threads. Each way has its own fresh workspace.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import tonghop  # noqa: E402
from tonghop.blank import write_blank_form  # noqa: E402
from tonghop.config import Branch  # noqa: E402
from tonghop.form import load_form  # noqa: E402
from tonghop.layout import Layout  # noqa: E402
from tonghop.periods import Period  # noqa: E402
from tonghop.samples import sample_values  # noqa: E402
from tonghop.watch.watcher import Watcher, WatchOptions, run_watch  # noqa: E402

PERIODS = ["2023-01", "2023-03", "2023-05", "2023-07", "2023-09"]
SENTINEL = "ZZ99"
IN_PLACE = "in-place"
RENAMED = "renamed"
WAYS = {
    IN_PLACE: "written in place (closed in inbox/)",
    RENAMED: "written elsewhere, then renamed into inbox/",
}


def make_workspace(root: Path, branches: int) -> Layout:
    numbered = [Branch(f"B{i:02d}", f"Chi bộ số {i}") for i in range(branches)]
    return Layout(root).create(Layout(ROOT), branches=numbered)


def templates(ws: Layout) -> dict[str, bytes]:
    config = ws.load_config()
    form = load_form(ws.form_path)
    made = {}
    for code in PERIODS:
        values = sample_values(form, Period.parse(code), SENTINEL)
        path = ws.home / f"mau-{code}.xlsx"
        branch = Branch(SENTINEL, "Chi bộ mẫu")
        write_blank_form(form, config, branch, Period.parse(code), path, prefill=values)
        made[code] = path.read_bytes()
        path.unlink()
    return made


def patch(data: bytes, branch: str) -> bytes:
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename.startswith("xl/worksheets/"):
                content = content.replace(f">{SENTINEL}<".encode(), f">{branch}<".encode())
            target.writestr(item, content)
    return out.getvalue()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


@dataclass
class Measured:
    report: list[float]  # seconds from complete in inbox/ to the report rebuilt
    taken: list[float]  # seconds from complete in inbox/ to taken
    files: int
    rebuilds: int
    seconds: float


def measure(args: argparse.Namespace, way: str) -> Measured:
    """Run the watcher over ``args.drops`` drops arriving ``way``; the latencies in seconds."""
    root = Path(tempfile.mkdtemp(prefix="tonghop-watch-bench-"))
    ws = make_workspace(root / "ws", args.branches)
    made = templates(ws)
    elsewhere = root / "tai-ve"  # a download or sync folder on the same disk, outside inbox/
    elsewhere.mkdir()
    files = []
    for n in range(args.drops):
        period = PERIODS[(n // args.branches) % len(PERIODS)]
        branch = f"B{n % args.branches:02d}"
        files.append((f"{branch}-{period}-{n}.xlsx", period, patch(made[period], branch)))

    built = threading.Event()
    built_at: dict[str, float] = {}
    taken_at: list[float] = []
    latencies: list[float] = []
    to_take: list[float] = []
    failures: list[BaseException] = []

    def on_built(period: str, full: bool) -> None:
        if full:
            built_at[period] = time.monotonic()
            built.set()

    def arrive(name: str, data: bytes) -> float:
        """Put one return into inbox/; the moment it is complete there."""
        if way == IN_PLACE:
            with (ws.inbox / name).open("wb") as handle:
                handle.write(data)
            return time.monotonic()  # closed
        temp = elsewhere / name
        temp.write_bytes(data)
        os.replace(temp, ws.inbox / name)
        return time.monotonic()  # renamed in

    def drop(watcher: Watcher) -> None:
        try:
            time.sleep(1.0)  # let the first rescan and the observer settle in
            for name, period, data in files:
                built.clear()
                taken_before = len(taken_at)
                arrived = arrive(name, data)
                if not built.wait(30):
                    raise RuntimeError(f"no rebuild of {period} within 30 s")
                latencies.append(built_at[period] - arrived)
                if len(taken_at) > taken_before:
                    to_take.append(taken_at[taken_before] - arrived)
                time.sleep(args.pause)
        except BaseException as exc:
            failures.append(exc)
        finally:
            watcher.stop()

    def started(watcher: Watcher) -> None:
        threading.Thread(target=drop, args=(watcher,), daemon=True).start()

    options = WatchOptions(poll=args.poll, settle=args.settle, pdf=False, console_log=False)
    begun = time.perf_counter()
    watcher = run_watch(
        tonghop.open(ws.home),
        options,
        echo=lambda line: taken_at.append(time.monotonic()),
        on_built=on_built,
        started=started,
    )
    total = time.perf_counter() - begun
    if failures:
        raise failures[0]
    if args.keep:
        print(f"workspace kept in {ws.home}")
    else:
        shutil.rmtree(root)
    return Measured(latencies, to_take, watcher.taken, watcher.rebuilder.count, total)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--drops", type=int, default=100)
    parser.add_argument("--branches", type=int, default=20)
    parser.add_argument("--settle", type=float, default=1.0)
    parser.add_argument(
        "--pause",
        type=float,
        default=0.05,
        help="seconds between a rebuild and the next drop (below the watcher's 0.3 s gap "
        "between two rebuilds of one period, that gap is part of what is measured)",
    )
    parser.add_argument("--way", choices=[*WAYS, "both"], default="both")
    parser.add_argument("--poll", action="store_true", help="PollingObserver instead of events")
    parser.add_argument("--keep", action="store_true", help="keep the temporary workspace")
    args = parser.parse_args()
    ways = WAYS if args.way == "both" else (args.way,)
    measured = {way: measure(args, way) for way in ways}

    mode = "PollingObserver" if args.poll else "native events (inotify on Linux)"
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(
        f"{args.drops} drops each way into a {args.branches}-branch workspace, {mode}, "
        f"settle {args.settle} s, next drop {args.pause} s after each rebuild; "
        "from the moment the file is complete in inbox/"
    )
    for way, figures in measured.items():
        ms = [x * 1000 for x in figures.report]
        take_ms = [x * 1000 for x in figures.taken]
        p95 = percentile(ms, 0.95)
        print(f"{WAYS[way]}:")
        print(
            f"  files taken: {figures.files}; rebuilds: {figures.rebuilds}; "
            f"run {figures.seconds:.1f} s"
        )
        print(
            f"  -> taken:          p50 {statistics.median(take_ms):.0f} ms, "
            f"p95 {percentile(take_ms, 0.95):.0f} ms"
        )
        print(
            f"  -> report rebuilt: p50 {statistics.median(ms):.0f} ms, p95 {p95:.0f} ms, "
            f"max {max(ms):.0f} ms, mean {statistics.mean(ms):.0f} ms"
        )
        print(f"  target p95 < 300 ms: {'met' if p95 < 300 else 'NOT met'}")


if __name__ == "__main__":
    main()
