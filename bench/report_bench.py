"""Benchmark: aggregate and write the committee's report for 20, 300 and 5,000 branches.

    .venv/bin/python bench/report_bench.py            # 20 300 5000
    .venv/bin/python bench/report_bench.py 300

Target (issue 3): under 1 s for 300 branches and under 5 s for 5,000 on a 2-core machine,
for the aggregation, the Word report and the aggregate workbook (the PDF, made by
LibreOffice, is not counted). Each branch has annual returns 2020-2023 and a 2024-H1 one.
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from tests.conftest import balanced_values  # noqa: E402

from tonghop.aggregate import Counted, aggregate  # noqa: E402
from tonghop.config import Branch, load_config  # noqa: E402
from tonghop.context import report_context  # noqa: E402
from tonghop.form import load_form  # noqa: E402
from tonghop.periods import Period  # noqa: E402
from tonghop.publish import write_aggregate_workbook  # noqa: E402
from tonghop.report import render_report  # noqa: E402

PERIODS = ["2020", "2021", "2022", "2023", "2024-H1"]


def run(branches: int, out: Path) -> dict[str, float]:
    base = load_config(ROOT / "tonghop.toml")
    config = base.__class__(
        **{
            **base.__dict__,
            "branches": tuple(Branch(f"B{i:05d}", f"Chi bộ số {i + 1}") for i in range(branches)),
        }
    )
    form = load_form(ROOT / "templates" / "form.toml")
    returns = []
    for i, branch in enumerate(config.branches):
        members = 20 + i % 17
        for code in PERIODS:
            period = Period.parse(code)
            values = balanced_values(period, members_start=members, highlights=f"Chi bộ {i} tốt.")
            members = values["members_end"]
            received = dt.datetime.combine(period.end, dt.time(9)) + dt.timedelta(days=3)
            returns.append(Counted(branch.code, period, values, received, len(returns) + 1))
    period = Period.parse("2024-H1")
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    agg = aggregate(form, config, returns, period)
    context = report_context(agg, config, form, date=dt.date(2024, 7, 10))
    timings["aggregate"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    render_report(ROOT / "templates" / "bao-cao.docx", context, out / f"bao-cao-{branches}.docx")
    timings["report"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    write_aggregate_workbook(agg, form, config, out / f"tong-hop-{branches}.xlsx")
    timings["workbook"] = time.perf_counter() - t2
    timings["total"] = time.perf_counter() - t0
    return timings


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [20, 300, 5000]
    print(f"command: python {' '.join(sys.argv)}")
    with tempfile.TemporaryDirectory() as folder:
        for size in sizes:
            t = run(size, Path(folder))
            print(
                f"{size:>5} branches: total {t['total']:.2f} s (aggregate {t['aggregate']:.2f} s, "
                f"report {t['report']:.2f} s, workbook {t['workbook']:.2f} s)"
            )


if __name__ == "__main__":
    main()
