"""Benchmark: intake of N distinct returns, one per branch, in one process; speed, floor, memory.

    .venv/bin/python bench/intake_bench.py --returns 5000
    .venv/bin/python bench/intake_bench.py --returns 5000 --profile   # where the time goes

Targets (issue 7): 5,000 returns at >= 500 returns/s, within 2x of the floor, peak RSS of the
whole process tree <= 150 MB, on 2 cores.

The workspace has one branch per return. The returns are real workbooks written by the form
writer, patched per branch so that every file has its own bytes, branch code and figures.

Fresh interpreters run over the same files, one after the other (the floor before and after
the intake; the figures compare the intake with the mean of the two):
- the floor: per return, read the bytes, SHA-256, python-calamine reading every cell of every
  sheet, a copy written and fsync'd, and one SQLite row (WAL, synchronous=FULL, one commit per
  50 rows, as the ledger);
- the intake: ``Intake.process_inbox()`` exactly as ``tonghop process`` runs it, whatever
  reader this branch has. Its peak RSS is its own maximum resident size plus the largest of
  any process it started (it starts none; counted so that one would show).
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import hashlib
import io
import json
import os
import pstats
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

PERIOD = "2024-H1"
SENTINEL = "B00000"
FLOOR_BATCH = 50


def make_workspace(root: Path, branches: int) -> Path:
    from tonghop.config import Branch
    from tonghop.layout import Layout

    numbered = [Branch(f"B{i:05d}", f"Chi bộ số {i}") for i in range(branches)]
    return Layout(root).create(Layout(ROOT), branches=numbered).home


def generate(home: Path, count: int) -> None:
    from tonghop.blank import write_blank_form
    from tonghop.config import Branch
    from tonghop.form import load_form
    from tonghop.layout import Layout
    from tonghop.periods import Period
    from tonghop.samples import sample_values

    ws = Layout(home)
    config = ws.load_config()
    form = load_form(ws.form_path)
    # A clean return (no problem at all), the common case, from the one factory of valid
    # returns: a return with problems also costs its feedback workbook.
    values = sample_values(form, Period.parse(PERIOD), SENTINEL)
    template = home / "template.xlsx"
    branch = Branch(SENTINEL, "Chi bộ số 0")
    write_blank_form(form, config, branch, Period.parse(PERIOD), template, prefill=values)
    data = template.read_bytes()
    template.unlink()
    for n in range(count):
        code = f"B{n:05d}"
        (ws.inbox / f"{code}-{PERIOD}.xlsx").write_bytes(_patch(data, code))


def _patch(data: bytes, branch: str) -> bytes:
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename.startswith(("xl/sharedStrings", "xl/worksheets/")):
                content = content.replace(f">{SENTINEL}<".encode(), f">{branch}<".encode())
            target.writestr(item, content)
    return out.getvalue()


# --- the two measured runs, each in its own interpreter -----------------------------------------


def floor_run(inbox: Path, scratch: Path) -> dict[str, float]:
    from python_calamine import CalamineWorkbook

    paths = sorted(inbox.iterdir())
    scratch.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(scratch / "floor.sqlite3", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE rows (sha256 TEXT, name TEXT, size INTEGER, cells INTEGER)")
    started, cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(paths), FLOOR_BATCH):
        db.execute("BEGIN")
        for path in paths[start : start + FLOOR_BATCH]:
            data = path.read_bytes()
            sha256 = hashlib.sha256(data).hexdigest()
            book = CalamineWorkbook.from_filelike(io.BytesIO(data))
            cells = 0
            for name in book.sheet_names:
                for row in book.get_sheet_by_name(name).to_python():
                    cells += len(row)
            with open(scratch / sha256, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            db.execute(
                "INSERT INTO rows VALUES (?, ?, ?, ?)", (sha256, path.name, len(data), cells)
            )
        db.execute("COMMIT")
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    db.close()
    return {"count": len(paths), "seconds": elapsed, "cpu": cpu}


def intake_run(home: Path, profile: bool) -> dict[str, object]:
    from tonghop.form import load_form
    from tonghop.intake.inbox import Intake
    from tonghop.layout import Layout
    from tonghop.ledger import Ledger

    ws = Layout(home)
    config = ws.load_config()
    form = load_form(ws.form_path)
    profiler = cProfile.Profile() if profile else None
    started, cpu = time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable()
    with Ledger(ws.ledger) as ledger:
        clock = lambda: dt.datetime(2024, 7, 5, 9)  # noqa: E731
        results = Intake(ws, config, form, ledger, clock=clock).process_inbox()
    if profiler:
        profiler.disable()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    outcomes: dict[str, int] = {}
    for r in results:
        outcomes[r.submission.outcome] = outcomes.get(r.submission.outcome, 0) + 1
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    report = ""
    if profiler:
        text = io.StringIO()
        stats = pstats.Stats(profiler, stream=text)
        stats.sort_stats("cumulative").print_stats(30)
        stats.sort_stats("tottime").print_stats(20)
        report = text.getvalue()
    return {
        "count": len(results),
        "seconds": elapsed,
        "cpu": cpu,
        "outcomes": outcomes,
        "rss_kb": own + children,
        "children_rss_kb": children,
        "profile": report,
        "reader_uses_calamine": "python_calamine" in sys.modules,
    }


def _child(*args: str) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, *args], check=True, capture_output=True, text=True
    )
    return json.loads(done.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--returns", type=int, default=5000)
    parser.add_argument("--profile", action="store_true", help="cProfile the intake run")
    parser.add_argument("--keep", action="store_true", help="keep the temporary workspace")
    parser.add_argument(
        "--floor-run", nargs=2, metavar=("INBOX", "SCRATCH"), help=argparse.SUPPRESS
    )
    parser.add_argument("--intake-run", metavar="HOME", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.floor_run:
        print(json.dumps(floor_run(Path(args.floor_run[0]), Path(args.floor_run[1]))))
        return
    if args.intake_run:
        print(json.dumps(intake_run(Path(args.intake_run), args.profile)))
        return

    root = Path(tempfile.mkdtemp(prefix="tonghop-bench-"))
    home = make_workspace(root / "ws", branches=args.returns)
    t0 = time.perf_counter()
    generate(home, args.returns)
    print(
        f"generated {args.returns} returns for {args.returns} branches in "
        f"{time.perf_counter() - t0:.1f} s"
    )

    # The floor runs before and after the intake (on a copy: the intake empties inbox/), so
    # that a change in the machine's load during the run weighs on both sides alike.
    copy = root / "floor-input"
    shutil.copytree(home / "inbox", copy)
    floors = [_child("--floor-run", str(copy), str(root / "floor-before"))]
    extra = ["--profile"] if args.profile else []
    intake = _child("--intake-run", str(home), *extra)
    floors.append(_child("--floor-run", str(copy), str(root / "floor-after")))

    count = floors[0]["count"]
    floor_ms = sum(f["seconds"] for f in floors) / len(floors) / count * 1000
    floor_cpu_ms = sum(f["cpu"] for f in floors) / len(floors) / count * 1000
    intake_ms = intake["seconds"] / intake["count"] * 1000
    intake_cpu_ms = intake["cpu"] / intake["count"] * 1000
    rate = intake["count"] / intake["seconds"]
    rss_mb = intake["rss_kb"] / 1024
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    used = "python-calamine" if intake["reader_uses_calamine"] else "tonghop's own XML reader"
    print(f"intake's reader on this branch: {used}; the floor reads with python-calamine")
    for when, floor in zip(("before", "after"), floors, strict=True):
        print(
            f"floor {when} the intake: {count} returns in {floor['seconds']:.2f} s = "
            f"{count / floor['seconds']:.0f} returns/s, CPU {floor['cpu']:.2f} s"
        )
    print(f"floor (mean): {floor_ms:.2f} ms a return, CPU {floor_cpu_ms:.2f} ms")
    print(
        f"intake: {intake['count']} returns in {intake['seconds']:.2f} s = {rate:.0f} returns/s; "
        f"{intake_ms:.2f} ms a return = {intake_ms / floor_ms:.2f}x the floor; "
        f"CPU {intake_cpu_ms:.2f} ms a return = {intake_cpu_ms / floor_cpu_ms:.2f}x the floor's"
    )
    print(
        f"intake peak RSS (process tree): {rss_mb:.0f} MB "
        f"(processes it started: {intake['children_rss_kb'] / 1024:.0f} MB)"
    )
    print(f"outcomes: {intake['outcomes']}")
    verdicts = [
        (">= 500 returns/s", rate >= 500),
        ("within 2x of the floor", intake_ms <= 2 * floor_ms),
        ("RSS <= 150 MB", rss_mb <= 150),
    ]
    print("targets: " + ", ".join(f"{name} {'met' if ok else 'NOT met'}" for name, ok in verdicts))
    if intake["profile"]:
        print(intake["profile"])
    if not args.keep:
        shutil.rmtree(root)
    else:
        print(f"workspace kept in {home}")


if __name__ == "__main__":
    main()
