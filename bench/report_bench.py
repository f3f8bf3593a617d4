"""Benchmark: the whole `tonghop report --no-pdf` command for 300 and 5,000 branches.

    .venv/bin/python bench/report_bench.py            # 300 5000
    .venv/bin/python bench/report_bench.py 300 2000

Target (issue 7): 300 branches <= 0.3 s, 5,000 <= 1.5 s on a 2-core machine, for the whole
command (interpreter start, imports, ledger, aggregation, the Word report, the aggregate
workbook and the status page; the PDF, made by LibreOffice, is not asked for).

Each size gets a workspace made from the repository's own (tonghop.toml and templates/) with
that many branches, and a ledger holding accepted annual returns 2020-2023 and a 2024-H1 return
for every branch. The command is run as a user runs it: `tonghop report` in a child process
(the console script of this virtual environment), best of a few runs, so the figure is a cold
start every time (no cache survives between runs).

The floor is measured in the same run, in this process, on the same data: the Python start-up
with nothing imported, plus copying the template package with zipfile and rendering its
already-patched, already-compiled Jinja template alone (no aggregation, no workbook).
"""

from __future__ import annotations

import datetime as dt
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from tests.conftest import balanced_values  # noqa: E402

from tonghop import report  # noqa: E402
from tonghop.aggregate import aggregate, counted_from  # noqa: E402
from tonghop.config import Branch, Workspace  # noqa: E402
from tonghop.context import report_context  # noqa: E402
from tonghop.form import load_form  # noqa: E402
from tonghop.ledger import ACCEPTED, Ledger, Submission  # noqa: E402
from tonghop.periods import Period  # noqa: E402

PERIODS = ["2020", "2021", "2022", "2023", "2024-H1"]
REPORTED = "2024-H1"
RUNS = 3


def make_workspace(home: Path, branches: int) -> Workspace:
    numbered = [Branch(f"B{i:05d}", f"Chi bộ số {i + 1}") for i in range(branches)]
    workspace = Workspace(home).create(Workspace(ROOT), branches=numbered)
    with Ledger(workspace.archive / "ledger.sqlite3") as ledger, ledger.transaction():
        for i, branch in enumerate(numbered):
            members = 20 + i % 17
            for code in PERIODS:
                period = Period.parse(code)
                values = balanced_values(
                    period, members_start=members, highlights=f"Chi bộ {i} tốt."
                )
                members = values["members_end"]
                received = dt.datetime.combine(period.end, dt.time(9)) + dt.timedelta(days=3)
                ledger.record(
                    Submission(
                        source_name=f"{branch.code}-{code}.xlsx",
                        size=1,
                        mtime_ns=0,
                        received_at=received,
                        outcome=ACCEPTED,
                        sha256=f"{branch.code}-{code}",
                        branch_code=branch.code,
                        period=code,
                        values=values,
                    )
                )
    return workspace


def command_line(home: Path) -> list[str]:
    script = Path(sys.executable).with_name("tonghop")
    return [str(script), "--home", str(home), "report", "--period", REPORTED, "--no-pdf"]


def time_command(command: list[str]) -> float:
    best = float("inf")
    for _ in range(RUNS):
        started = time.perf_counter()
        subprocess.run(
            command, check=True, capture_output=True, env={**os.environ, "COLUMNS": "160"}
        )
        best = min(best, time.perf_counter() - started)
    return best


def python_start_up() -> float:
    best = float("inf")
    for _ in range(RUNS):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-S", "-c", "pass"], check=True)
        best = min(best, time.perf_counter() - started)
    return best


def render_floor(workspace: Workspace, out: Path) -> float:
    """Copy the template package and render its cached, compiled Jinja template: nothing else."""
    config = workspace.load_config()
    form = load_form(workspace.form_path)
    with Ledger(workspace.archive / "ledger.sqlite3") as ledger:
        returns = counted_from(ledger.counted())
    agg = aggregate(form, config, returns, Period.parse(REPORTED))
    context = report_context(agg, config, form, date=dt.date(2024, 7, 10))
    template = workspace.templates / config.report_template
    compiled = report.compiled_template(template)  # patched and compiled once, as cached
    best = float("inf")
    for _ in range(RUNS):
        started = time.perf_counter()
        rendered = {part.name: part.template.render(context) for part in compiled.parts}
        buffer = io.BytesIO()
        with zipfile.ZipFile(template) as source, zipfile.ZipFile(buffer, "w") as target:
            for item in source.infolist():
                data = rendered.get(item.filename)
                if data is None:
                    target.writestr(item, source.read(item.filename))
                else:
                    target.writestr(item, data.encode("utf-8"))
        out.write_bytes(buffer.getvalue())
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [300, 5000]
    print(f"benchmark: {sys.executable} {' '.join(sys.argv)}")
    start_up = python_start_up()
    print(f"python start-up (`{sys.executable} -S -c pass`): {start_up * 1000:.0f} ms")
    with tempfile.TemporaryDirectory() as folder:
        for size in sizes:
            home = Path(folder) / f"ws-{size}"
            workspace = make_workspace(home, size)
            command = command_line(home)
            elapsed = time_command(command)
            floor = render_floor(workspace, Path(folder) / f"floor-{size}.docx")
            outputs = home / "outbox" / REPORTED
            sizes_kb = ", ".join(
                f"{p.name} {p.stat().st_size // 1024} KB" for p in sorted(outputs.iterdir())
            )
            print(f"{size:>5} branches: {elapsed:.2f} s (best of {RUNS}, child process)")
            print(f"       command: {' '.join(command)}")
            print(
                f"       floor: {start_up + floor:.2f} s = start-up {start_up:.2f} s + template "
                f"copy and render of the cached Jinja template {floor:.2f} s; "
                f"command / floor = {elapsed / (start_up + floor):.1f}x"
            )
            print(f"       outputs: {sizes_kb}")
            shutil.rmtree(home)


if __name__ == "__main__":
    main()
