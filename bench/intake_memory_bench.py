"""Benchmark: peak RSS of ``tonghop process`` on an inbox of large files, whatever arrives.

    .venv/bin/python bench/intake_memory_bench.py --files 20 --mb 48

Target (issue 8, item 3): a run holds a bounded number of bytes in memory (batches are cut
by bytes as well as by count; a file over the size limit is never read), so the peak RSS of
``process`` stays far below 300 MB on any inbox.

The inbox: ``--files`` files of ``--mb`` MB of random bytes named .xlsx (just under the
50 MB limit the reader accepts, so each is read, hashed and archived), one file over the limit, and
``--good`` real returns that must be counted. Each command runs in a fresh interpreter under
a small runner that reports the child's own maximum resident size (getrusage). The floor,
measured in the same run: a fresh interpreter that imports the CLI, reads one file of
``--mb`` MB and hashes it, which any intake must at least do.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

RUNNER = (
    "import resource, subprocess, sys; code = subprocess.call(sys.argv[1:]); "
    "print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def peak_of(command: list[str]) -> tuple[int, float, float]:
    """(exit code, peak RSS in MB, seconds) of ``command`` run in a fresh process."""
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", RUNNER, *command], capture_output=True, text=True, check=True
    ).stdout.split()
    elapsed = time.perf_counter() - started
    code, kilobytes = int(out[-2]), int(out[-1])
    return code, kilobytes / 1024, elapsed  # Linux reports ru_maxrss in KB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--mb", type=int, default=48)
    parser.add_argument("--good", type=int, default=5)
    args = parser.parse_args()

    from tonghop.blank import form_file_name, write_blank_form
    from tonghop.form import load_form
    from tonghop.layout import Layout
    from tonghop.periods import Period
    from tonghop.samples import sample_values

    with tempfile.TemporaryDirectory(prefix="tonghop-mem-") as temp:
        layout = Layout(Path(temp) / "ws").create(Layout(ROOT))
        config = layout.load_config()
        form = load_form(layout.form_path)
        period = Period.parse("2024-H1")
        for branch in config.branches[: args.good]:
            values = sample_values(form, period, branch.code)
            target = layout.inbox / form_file_name(branch, period)
            write_blank_form(form, config, branch, period, target, prefill=values)
        chunk = os.urandom(1024 * 1024)
        for i in range(args.files):
            with open(layout.inbox / f"lon-{i:02d}.xlsx", "wb") as handle:
                for j in range(args.mb):
                    handle.write(chunk[j:] + chunk[:j])  # every file its own bytes
                handle.write(i.to_bytes(4, "big"))
        with open(layout.inbox / "qua-lon.xlsx", "wb") as handle:
            handle.truncate(200 * 1024 * 1024)  # sparse, over the limit: never read

        sample = layout.inbox / "lon-00.xlsx"
        floor_cmd = [
            sys.executable,
            "-c",
            "import hashlib, pathlib, sys, tonghop.cli; "
            "hashlib.sha256(pathlib.Path(sys.argv[1]).read_bytes())",
            str(sample),
        ]
        _, floor_mb, floor_s = peak_of(floor_cmd)
        tonghop = str(Path(sys.executable).with_name("tonghop"))
        process_cmd = [tonghop, "--home", str(layout.home), "process"]
        code, process_mb, process_s = peak_of(process_cmd)
        with sqlite3.connect(layout.ledger) as db:
            rows = dict(db.execute("SELECT outcome, COUNT(*) FROM submissions GROUP BY outcome"))
        left = sorted(p.name for p in layout.inbox.iterdir())

        total_mb = args.files * args.mb + 200
        print(
            f"inbox: {args.files} x {args.mb} MB random .xlsx + 200 MB oversize + "
            f"{args.good} good returns ({total_mb} MB)"
        )
        print(f"command: {shlex.join(process_cmd)}")
        print(f"  exit {code}, peak RSS {process_mb:.0f} MB, {process_s:.1f} s")
        print(f"  ledger: {rows}; left in inbox/: {left}")
        print(
            f"floor (import the CLI, read and hash one {args.mb} MB file): "
            f"peak RSS {floor_mb:.0f} MB, {floor_s:.1f} s"
        )
        print(f"  command: {shlex.join(floor_cmd)}")
        print(f"target: peak RSS <= 300 MB -> {'met' if process_mb <= 300 else 'NOT met'}")


if __name__ == "__main__":
    main()
