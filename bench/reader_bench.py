"""Benchmark: milliseconds per ``reader.read_workbook`` on real returns, best of N.

    .venv/bin/python bench/reader_bench.py                # demo returns, see below
    .venv/bin/python bench/reader_bench.py a.xlsx b.xlsx  # given files
    .venv/bin/python bench/reader_bench.py --repeat 7 --loops 200

Without files it uses a filled return from the demo archive (``/tmp/rdemo``, made with
``tonghop demo /tmp/rdemo --no-pdf`` when missing) and a copy of it re-saved by LibreOffice
Calc (skipped when soffice is not installed). Each figure is the best of ``--repeat`` runs of
``--loops`` reads, as ms per read.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from tonghop.office import convert, find_soffice  # noqa: E402
from tonghop.reader import read_workbook  # noqa: E402

DEMO = Path("/tmp/rdemo")


def demo_files() -> list[Path]:
    objects = sorted((ROOT / "demo" / "archive" / "objects").glob("*/*"))
    if not objects:
        objects = sorted((DEMO / "archive" / "objects").glob("*/*"))
    if not objects:
        tonghop = ROOT / ".venv" / "bin" / "tonghop"
        subprocess.run([str(tonghop), "demo", str(DEMO), "--no-pdf"], check=True)
        objects = sorted((DEMO / "archive" / "objects").glob("*/*"))
    files = [objects[0]]
    if find_soffice() is not None:
        out = Path("/tmp/reader_bench_lo")
        saved = out / "return.xlsx"
        if not saved.exists():
            out.mkdir(parents=True, exist_ok=True)
            source = out / "source" / "return.xlsx"
            source.parent.mkdir(exist_ok=True)
            source.write_bytes(objects[0].read_bytes())
            saved = convert(source, "xlsx:Calc MS Excel 2007 XML", out)
        files.append(saved)
    return files


def best_ms(data: bytes, repeat: int, loops: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(loops):
            read_workbook(data)
        best = min(best, (time.perf_counter() - started) / loops)
    return best * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--loops", type=int, default=300)
    args = parser.parse_args()
    for path in args.files or demo_files():
        data = path.read_bytes()
        book = read_workbook(data)
        ms = best_ms(data, args.repeat, args.loops)
        print(
            f"{ms:7.3f} ms/read  {len(data):7d} B  {len(book.names):3d} names  "
            f"{sum(map(len, book.cells.values())):4d} cells  {path}"
        )


if __name__ == "__main__":
    main()
