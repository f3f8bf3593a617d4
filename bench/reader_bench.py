"""Benchmark: milliseconds per ``reader.read_workbook`` on real returns against a floor.

The floor, measured in the same run on the same bytes, is python-calamine alone reading every
cell of every sheet (``CalamineWorkbook.from_filelike`` + ``to_python``): what any read of
the file costs. The reader adds the package pre-check, the defined names and the cells.

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
import io
import shlex
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from python_calamine import CalamineWorkbook  # noqa: E402

from tonghop.intake.reader import read_workbook  # noqa: E402
from tonghop.office import convert, find_soffice  # noqa: E402

DEMO = Path("/tmp/rdemo")


def demo_files() -> list[Path]:
    """The first return the demo archived (written out to a file), and its LibreOffice copy."""
    store = DEMO / "archive" / "objects.sqlite3"
    if not store.exists():
        tonghop = ROOT / ".venv" / "bin" / "tonghop"
        subprocess.run([str(tonghop), "demo", str(DEMO), "--no-pdf"], check=True)
    with closing(sqlite3.connect(store)) as db:
        (data,) = db.execute("SELECT data FROM objects ORDER BY sha256 LIMIT 1").fetchone()
    first = DEMO / "return.xlsx"
    first.write_bytes(data)
    objects = [first]
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


def calamine_alone(data: bytes) -> None:
    """The floor: every cell of every sheet through python-calamine, nothing else."""
    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    for name in book.sheet_names:
        book.get_sheet_by_name(name).to_python()


def best_ms(read: Callable[[bytes], object], data: bytes, repeat: int, loops: int) -> float:
    """Best of ``repeat`` runs of ``loops`` reads, as ms per read (reader and floor alternate
    run by run, so that both see the same machine load)."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(loops):
            read(data)
        best = min(best, (time.perf_counter() - started) / loops)
    return best * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--loops", type=int, default=300)
    args = parser.parse_args()
    print("$ " + shlex.join([Path(sys.executable).name, *sys.argv]))
    for path in args.files or demo_files():
        data = path.read_bytes()
        book = read_workbook(data)
        ours = floor = float("inf")
        for _ in range(args.repeat):
            floor = min(floor, best_ms(calamine_alone, data, 1, args.loops))
            ours = min(ours, best_ms(read_workbook, data, 1, args.loops))
        print(
            f"reader {ours:6.3f} ms/read  floor (calamine alone) {floor:6.3f} ms  "
            f"x{ours / floor:4.2f}  {len(data):7d} B  {len(book.names):3d} names  "
            f"{sum(map(len, book.cells.values())):4d} cells  {path}"
        )


if __name__ == "__main__":
    main()
