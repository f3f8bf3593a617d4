"""Benchmark: from a return's close in inbox/ to its period's report rebuilt by the watcher.

    .venv/bin/python bench/watch_bench.py --drops 100 --branches 20

Target (issue 4): p95 < 1 s with native events on 2 cores. The watcher runs in this process
(``run_watch`` in the main thread, exactly as ``tonghop watch`` does); a second thread writes
one distinct return at a time and waits for the rebuild of its period, reported by the
watcher's ``on_built`` hook, before the next one. Times are ``time.monotonic`` in both threads.
"""

from __future__ import annotations

import argparse
import io
import shutil
import statistics
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from tonghop.blank import write_blank_form  # noqa: E402
from tonghop.config import Branch  # noqa: E402
from tonghop.form import load_form  # noqa: E402
from tonghop.layout import Layout  # noqa: E402
from tonghop.periods import Period  # noqa: E402
from tonghop.watch import Watcher, WatchOptions, run_watch  # noqa: E402

PERIODS = ["2023-01", "2023-03", "2023-05", "2023-07", "2023-09"]
SENTINEL = "ZZ99"


def make_workspace(root: Path, branches: int) -> Layout:
    numbered = [Branch(f"B{i:02d}", f"Chi bộ số {i}") for i in range(branches)]
    return Layout(root).create(Layout(ROOT), branches=numbered)


def templates(ws: Layout) -> dict[str, bytes]:
    config = ws.load_config()
    form = load_form(ws.form_path)
    made = {}
    for code in PERIODS:
        values = {
            "members_start": 22,
            "admitted": 0,
            "members_end": 22,
            "commitments": 22,
            "regular_meetings": 1,
            "highlights": "Chi bộ duy trì sinh hoạt đều đặn.",
            "prepared_by": "Người lập",
        }
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--drops", type=int, default=100)
    parser.add_argument("--branches", type=int, default=20)
    parser.add_argument("--settle", type=float, default=1.0)
    parser.add_argument("--poll", action="store_true", help="PollingObserver instead of events")
    parser.add_argument("--keep", action="store_true", help="keep the temporary workspace")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="tonghop-watch-bench-"))
    ws = make_workspace(root / "ws", args.branches)
    made = templates(ws)
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

    def drop(watcher: Watcher) -> None:
        try:
            time.sleep(1.0)  # let the first rescan and the observer settle in
            for name, period, data in files:
                built.clear()
                taken_before = len(taken_at)
                with (ws.inbox / name).open("wb") as handle:
                    handle.write(data)
                closed = time.monotonic()
                if not built.wait(30):
                    raise RuntimeError(f"no rebuild of {period} within 30 s")
                latencies.append(built_at[period] - closed)
                if len(taken_at) > taken_before:
                    to_take.append(taken_at[taken_before] - closed)
                time.sleep(0.05)
        except BaseException as exc:
            failures.append(exc)
        finally:
            watcher.stop()

    def started(watcher: Watcher) -> None:
        threading.Thread(target=drop, args=(watcher,), daemon=True).start()

    options = WatchOptions(poll=args.poll, settle=args.settle, pdf=False, console_log=False)
    begun = time.perf_counter()
    watcher = run_watch(
        ws,
        ws.load_config(),
        load_form(ws.form_path),
        options,
        echo=lambda line: taken_at.append(time.monotonic()),
        on_built=on_built,
        started=started,
    )
    total = time.perf_counter() - begun
    if failures:
        raise failures[0]
    ms = [x * 1000 for x in latencies]
    take_ms = [x * 1000 for x in to_take]
    mode = "PollingObserver" if args.poll else "native events (inotify on Linux)"
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(
        f"{len(ms)} drops into a {args.branches}-branch workspace, {mode}, settle {args.settle} s"
    )
    print(f"files taken: {watcher.taken}; rebuilds: {watcher.rebuilder.count}; run {total:.1f} s")
    print(
        f"close -> taken:   p50 {statistics.median(take_ms):.0f} ms, "
        f"p95 {percentile(take_ms, 0.95):.0f} ms"
    )
    print(
        f"close -> report rebuilt: p50 {statistics.median(ms):.0f} ms, "
        f"p95 {percentile(ms, 0.95):.0f} ms, max {max(ms):.0f} ms, mean {statistics.mean(ms):.0f} ms"
    )
    print(f"target p95 < 1000 ms: {'met' if percentile(ms, 0.95) < 1000 else 'NOT met'}")
    if args.keep:
        print(f"workspace kept in {ws.home}")
    else:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
