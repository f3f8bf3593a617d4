"""Benchmark: how long `tonghop --help` (and `tonghop status --help`) take, whole process.

    .venv/bin/python bench/startup_bench.py [--runs 20]

Each figure is the median wall time of ``--runs`` runs of the installed entry point, printed
with its command, beside the floor measured in the same run: the same interpreter starting
and importing click (what any click program pays). Target: `tonghop --help` <= 150 ms.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TONGHOP = Path(sys.executable).parent / "tonghop"


def median_ms(command: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    runs = parser.parse_args().runs
    floor_command = [sys.executable, "-c", "import click"]
    rows = [
        ("floor: python -c 'import click'", floor_command),
        (f"{TONGHOP} --help", [str(TONGHOP), "--help"]),
        (f"{TONGHOP} status --help", [str(TONGHOP), "status", "--help"]),
    ]
    print(f"command: {' '.join(sys.argv)} (median of {runs} runs)")
    for label, command in rows:
        print(f"{median_ms(command, runs):8.1f} ms  {label}")
    print("target: tonghop --help <= 150 ms")


if __name__ == "__main__":
    main()
