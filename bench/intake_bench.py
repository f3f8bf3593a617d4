"""Benchmark: generate N filled returns, run the intake over them, print speed and memory.

    .venv/bin/python bench/intake_bench.py --returns 5000

Target (issue 2): 5,000 returns at >= 500 returns/s with peak RSS <= 200 MB on 2 cores.
The returns are real workbooks written by the form writer (one per period), patched per
branch so that every file has its own bytes, branch code and figures; the intake runs in a
child process so that its peak RSS is not mixed with the generation's.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import multiprocessing
import resource
import shutil
import sys
import tempfile
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

PERIODS = [f"2023-{m:02d}" for m in range(1, 13)] + [f"2023-Q{q}" for q in range(1, 5)]
PERIODS += ["2023-H1", "2023-H2", "2023", "2024-01"]


def make_workspace(root: Path, branches: int) -> Layout:
    numbered = [Branch(f"B{i:04d}", f"Chi bộ số {i}") for i in range(branches)]
    return Layout(root).create(Layout(ROOT), branches=numbered)


def generate(ws: Layout, count: int) -> None:
    config = ws.load_config()
    form = load_form(ws.form_path)
    templates: dict[str, bytes] = {}
    for code in PERIODS:
        period = Period.parse(code)
        # Clean returns (no warning): the common case. A return with problems also costs its
        # feedback workbook, measured separately by --with-problems.
        values = {
            "members_start": 22,
            "admitted": 0,
            "members_end": 22,
            "commitments": 22,
            "highlights": "Chi bộ duy trì sinh hoạt đều đặn.",
            "prepared_by": "Người lập",
        }
        if period.kind.value == "year":
            values |= {"rated_excellent": 3, "rated_good": 15, "rated_completed": 2}
            values |= {"rated_failed": 0, "branch_rating": "HTTNV"}
        path = ws.home / f"template-{code}.xlsx"
        write_blank_form(form, config, Branch("B0000", "Chi bộ số 0"), period, path, prefill=values)
        templates[code] = path.read_bytes()
        path.unlink()
    for n in range(count):
        code = PERIODS[n % len(PERIODS)]
        branch = f"B{n // len(PERIODS):04d}"
        (ws.inbox / f"{branch}-{code}.xlsx").write_bytes(_patch(templates[code], branch))


def _patch(data: bytes, branch: str) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename.startswith(("xl/sharedStrings", "xl/worksheets/")):
                content = content.replace(b">B0000<", f">{branch}<".encode())
            target.writestr(item, content)
    return out.getvalue()


def run_intake(home: str, workers: int | None, queue: multiprocessing.Queue) -> None:
    from tonghop.intake import Intake
    from tonghop.ledger import Ledger

    ws = Layout(Path(home))
    config = ws.load_config()
    form = load_form(ws.form_path)
    started = time.perf_counter()
    with Ledger(ws.ledger) as ledger:
        clock = lambda: dt.datetime(2024, 2, 20, 9)  # noqa: E731
        with Intake(ws, config, form, ledger, clock=clock, workers=workers) as intake:
            results = intake.process_inbox()
    elapsed = time.perf_counter() - started
    outcomes: dict[str, int] = {}
    for r in results:
        outcomes[r.submission.outcome] = outcomes.get(r.submission.outcome, 0) + 1
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put((len(results), elapsed, peak_kb, outcomes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--returns", type=int, default=5000)
    parser.add_argument("--keep", action="store_true", help="keep the temporary workspace")
    parser.add_argument(
        "--workers", type=int, default=None, help="reader processes (default: cores)"
    )
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="tonghop-bench-"))
    ws = make_workspace(root / "ws", branches=args.returns // len(PERIODS) + 1)
    t0 = time.perf_counter()
    generate(ws, args.returns)
    print(f"generated {args.returns} returns in {time.perf_counter() - t0:.1f} s")

    queue: multiprocessing.Queue = multiprocessing.Queue()
    child = multiprocessing.get_context("fork").Process(
        target=run_intake, args=(str(ws.home), args.workers, queue)
    )
    child.start()
    count, elapsed, peak_kb, outcomes = queue.get()
    child.join()
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(f"intake: {count} returns in {elapsed:.2f} s = {count / elapsed:.0f} returns/s")
    print(f"intake peak RSS: {peak_kb / 1024:.0f} MB")
    print(f"outcomes: {outcomes}")
    if not args.keep:
        shutil.rmtree(root)
    else:
        print(f"workspace kept in {ws.home}")


if __name__ == "__main__":
    main()
