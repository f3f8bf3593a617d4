"""Benchmark: the desk's period page, and a drop seen on an open page.

    .venv/bin/python bench/desk_bench.py --branches 300 --renders 30 --drops 20

1. Render: a workspace of 300 branches (returns made by the real writer and taken by the real
   intake: 280 counted, 10 sent back, 10 missing), the period page rendered server-side
   through Flask (every query, the template, the security headers). Target (issue 10):
   < 100 ms. Floors in the same run: the live part answering "nothing changed" (204: the
   stamp query only) and a 404 page (the framework and the error template, no ledger).
2. Drop to page: ``run_watch`` with the desk beside it, as ``tonghop watch`` runs them; a
   client polls the live part on its own beat as the page's script does (every POLL_MS); a
   return is renamed into inbox/ at a random moment between two polls and timed until a poll
   answers with its branch counted. Target: < 1 s. Floors: the intake's own time for the
   file (the ledger's elapsed_ms), and the poll interval (the most a change can wait).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from tonghop.blank import form_file_name, write_blank_form  # noqa: E402
from tonghop.config import Branch  # noqa: E402
from tonghop.layout import Layout  # noqa: E402
from tonghop.periods import Period  # noqa: E402
from tonghop.samples import sample_values  # noqa: E402
from tonghop.watch.watcher import Watcher, WatchOptions, run_watch  # noqa: E402
from tonghop.web import server  # noqa: E402
from tonghop.web.app import create_app  # noqa: E402
from tonghop.web.pages import POLL_MS  # noqa: E402
from tonghop.workspace import Workspace, open_workspace  # noqa: E402

PERIOD = Period.parse("2024-H1")
COMMAND = "bench/desk_bench.py"


def build(home: Path, branches: int, missing: int, rejected: int) -> Workspace:
    numbered = [Branch(f"B{i:03d}", f"Chi bộ số {i}") for i in range(branches)]
    layout = Layout(home).create(Layout(ROOT), branches=numbered)
    ws = open_workspace(home)
    started = time.perf_counter()
    for number, branch in enumerate(numbered[: branches - missing]):
        values = sample_values(ws.form, PERIOD, branch.code, seed=number)
        if number < rejected:
            values["members_end"] = values["members_start"] + 500
        target = layout.inbox / form_file_name(branch, PERIOD)
        write_blank_form(ws.form, ws.config, branch, PERIOD, target, prefill=values)
    written = time.perf_counter() - started
    results = ws.take_inbox()
    print(
        f"# workspace: {branches} branches, {len(results)} returns written in {written:.1f} s "
        f"and taken in {time.perf_counter() - started - written:.1f} s"
    )
    return ws


def timed(function: object, times: int) -> list[float]:
    spent = []
    for _ in range(times):
        start = time.perf_counter()
        function()  # type: ignore[operator]
        spent.append((time.perf_counter() - start) * 1000)
    return spent


def describe(name: str, spent: list[float]) -> str:
    ordered = sorted(spent)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"{name}: median {statistics.median(spent):.1f} ms, p95 {p95:.1f} ms, n={len(spent)}"


def render(ws: Workspace, times: int) -> None:
    client = create_app(ws).test_client()

    def page() -> None:
        answer = client.get(f"/ky/{PERIOD.code}")
        assert answer.status_code == 200 and len(answer.data) > 10_000

    stamp = client.get(f"/ky/{PERIOD.code}/cap-nhat?dau=x").headers["X-Dau"]

    def unchanged() -> None:
        assert client.get(f"/ky/{PERIOD.code}/cap-nhat?dau={stamp}").status_code == 204

    def not_found() -> None:
        assert client.get("/khong-co").status_code == 404

    page()  # templates compiled, the thread's workspace opened
    print(describe("period page, server-side (target < 100 ms)", timed(page, times)))
    print(describe("floor: live part, nothing changed (204)", timed(unchanged, times)))
    print(describe("floor: 404 page", timed(not_found, times)))


def drop_to_page(ws: Workspace, drops: int) -> None:
    layout = ws.layout
    holder: list[Watcher] = []
    ready = threading.Event()

    def started(watcher: Watcher) -> None:
        holder.append(watcher)
        ready.set()

    options = WatchOptions(pdf=False, console_log=False)
    running = server.start(ws, "127.0.0.1", 0)

    def watch() -> None:
        with open_workspace(layout.home) as watching:  # its ledger belongs to this thread
            run_watch(watching, options, started=started)

    thread = threading.Thread(target=watch)
    thread.start()
    ready.wait(60)
    time.sleep(1.0)  # the start-up rebuild of stale periods is done
    staging = Path(tempfile.mkdtemp(prefix="desk-drop-", dir=layout.home))
    branches = list(ws.config.branches)[-drops:]  # the missing ones
    latencies, intake_ms = [], []
    url = running.url + f"ky/{PERIOD.code}/cap-nhat?dau="
    try:
        for number, branch in enumerate(branches):
            # The page polls on its own beat; the file arrives at any moment between polls.
            with urllib.request.urlopen(url + "x", timeout=10) as first:
                stamp = first.headers["X-Dau"]
            beat = time.perf_counter()
            values = sample_values(ws.form, PERIOD, branch.code, seed=1000 + number)
            made = staging / form_file_name(branch, PERIOD)
            write_blank_form(ws.form, ws.config, branch, PERIOD, made, prefill=values)
            time.sleep(max(0.0, beat + POLL_MS / 1000 - time.perf_counter()))
            beat += POLL_MS / 1000
            time.sleep(random.uniform(0, POLL_MS / 1000))
            closed = time.perf_counter()
            os.replace(made, layout.inbox / made.name)
            seen = None
            while time.perf_counter() - closed < 10:
                beat += POLL_MS / 1000
                time.sleep(max(0.0, beat - time.perf_counter()))
                with urllib.request.urlopen(url + stamp, timeout=10) as answer:
                    if answer.status == 200:
                        stamp = answer.headers["X-Dau"]
                        body = answer.read().decode("utf-8")
                        counted = body.split("<h2>Đã nộp nhưng trả lại")[0]
                        if f"({branch.code})" in counted:
                            seen = time.perf_counter()
                            break
            assert seen is not None, f"{branch.code} never shown"
            latencies.append((seen - closed) * 1000)
            row = [
                s
                for s in ws.ledger.for_period(PERIOD, values=False)
                if s.branch_code == branch.code
            ]
            intake_ms.append(row[-1].elapsed_ms or 0.0)
    finally:
        holder[0].stop()
        thread.join(60)
        running.stop()
    print(describe(f"drop to open page, polling every {POLL_MS} ms (target < 1000 ms)", latencies))
    print(describe("floor: the intake's own time for the file", intake_ms))
    print(f"floor: the page polls every {POLL_MS} ms (a change waits at most that long)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--branches", type=int, default=300)
    parser.add_argument("--renders", type=int, default=30)
    parser.add_argument("--drops", type=int, default=20)
    args = parser.parse_args()
    print(
        f"$ .venv/bin/python {COMMAND} --branches {args.branches} --renders {args.renders} --drops {args.drops}"
    )
    missing = max(10, args.drops)
    with tempfile.TemporaryDirectory(prefix="desk-bench-") as folder:
        ws = build(Path(folder) / "ws", args.branches, missing=missing, rejected=10)
        try:
            render(ws, args.renders)
            drop_to_page(ws, args.drops)
        finally:
            ws.close()


if __name__ == "__main__":
    main()
