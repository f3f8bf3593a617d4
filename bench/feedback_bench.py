"""Benchmark: time and peak RSS of ``write_feedback`` on hostile returns against a floor.

Each hostile return is the usual filled return with one range of the kinds openpyxl builds
objects from, at its hostile extreme (``tests/test_feedback.HOSTILE_EDITS``: a merge of
E1:XFD1048576, a hyperlink over the whole sheet, 200 000 rows...). Each file is answered in a
fresh process (``--one``), so that its peak RSS (VmHWM of /proc/self/status, read by the
process itself at its end: wait4's figure would include the parent's RSS at the fork) is its
own; the figure includes the interpreter and the imports, which the floors show:

- floor "imports only": a process that imports the feedback writer and writes nothing;
- floor "usual return": the same process writing the feedback of the usual return;
- and, for scale, openpyxl alone loading and saving a return with a merge of E1:Z20000, as
  main did (a tenth of the issue's E1:Z200000, which took 1.7 GB and 81 s).

    .venv/bin/python bench/feedback_bench.py
    .venv/bin/python bench/feedback_bench.py --repeat 3

Each figure is the best of ``--repeat`` runs: milliseconds of the ``write_feedback`` call,
and the process's peak RSS in MB. The last column says what the branch got: its own workbook
annotated, a copy of its values (past the bounds), or the list of problems only.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))


def one(path: Path) -> None:
    """Answer one file (in this fresh process) and print the milliseconds of the call."""
    from tonghop.intake.feedback import write_feedback
    from tonghop.problems import Problem

    if path.name == "imports-only":
        print(json.dumps({"ms": 0.0, "peak_mb": peak_mb()}))
        return
    if path.name.startswith("openpyxl-alone"):  # what main did: load and save, unbounded
        import io

        import openpyxl

        started = time.perf_counter()
        openpyxl.load_workbook(path).save(io.BytesIO())
        print(json.dumps({"ms": (time.perf_counter() - started) * 1000, "peak_mb": peak_mb()}))
        return
    cells = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    problems = [
        Problem("error", "Số cuối kỳ không khớp.", sheet="Báo cáo", cell=cells["members_end"]),
        Problem("warning", "Cần xem lại.", sheet="Báo cáo", cell=cells["confirmed"]),
    ]
    started = time.perf_counter()
    write_feedback(path, problems, path.with_name(path.stem + "-fb.xlsx"), verdict="rejected")
    print(json.dumps({"ms": (time.perf_counter() - started) * 1000, "peak_mb": peak_mb()}))


def peak_mb() -> float:
    """This process's peak resident set size, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise SystemExit("no VmHWM in /proc/self/status (this bench needs Linux)")


def measure(path: Path) -> tuple[float, float]:
    """(ms of the call, peak RSS in MB) of answering ``path`` in a fresh process."""
    command = [sys.executable, str(Path(__file__).resolve()), "--one", str(path)]
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{shlex.join(command)} failed with {done.returncode}")
    figures = json.loads(done.stdout)
    return figures["ms"], figures["peak_mb"]


def outcome(path: Path) -> str:
    import openpyxl

    from tonghop.intake.feedback import FEEDBACK_SHEET

    result = openpyxl.load_workbook(path.with_name(path.stem + "-fb.xlsx"))
    if result.sheetnames == [FEEDBACK_SHEET]:
        return "problems listed"
    texts = [str(c.value) for row in result[FEEDBACK_SHEET].iter_rows() for c in row]
    return "values copied" if any("bản sao số liệu" in t for t in texts) else "annotated"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--one", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    if args.one:
        one(args.one)
        return

    from tests.test_feedback import HOSTILE_EDITS, filled_return, rewrite

    print(f"$ {shlex.join([sys.executable, *sys.argv])}")
    with tempfile.TemporaryDirectory(prefix="feedback-bench-") as folder:
        base, cells = filled_return(Path(folder), "usual.xlsx")
        files: dict[str, Path] = {"floor: imports only": Path(folder) / "imports-only"}
        files["floor: usual return"] = base
        for number, (kind, edit) in enumerate(HOSTILE_EDITS.items()):
            target = Path(folder) / f"hostile-{number}.xlsx"
            if isinstance(edit, tuple):
                rewrite(base, target, edit[1], part=edit[0])
            else:
                rewrite(base, target, edit)
            files[kind] = target
        # main loaded the original with openpyxl whatever its ranges: a tenth of the issue's
        # E1:Z200000 (1.7 GB, 81 s there) shows the scale the bounds remove
        alone = Path(folder) / "openpyxl-alone.xlsx"
        rewrite(
            base,
            alone,
            lambda xml: xml.replace("</mergeCells>", '<mergeCell ref="E1:Z20000"/></mergeCells>'),
        )
        files["openpyxl alone (as main), merge E1:Z20000"] = alone
        for path in files.values():
            path.with_suffix(".json").write_text(json.dumps(cells), encoding="utf-8")
        print(f"{'case':44} {'KB':>6} {'ms':>8} {'peak RSS MB':>12}  answer")
        for kind, path in files.items():
            runs = [measure(path) for _ in range(args.repeat)]
            ms, rss = min(r[0] for r in runs), min(r[1] for r in runs)
            size = f"{path.stat().st_size / 1024:.0f}" if path.exists() else "-"
            answer = outcome(path) if path.with_name(path.stem + "-fb.xlsx").exists() else "-"
            print(f"{kind:44} {size:>6} {ms:8.1f} {rss:12.1f}  {answer}")


if __name__ == "__main__":
    main()
