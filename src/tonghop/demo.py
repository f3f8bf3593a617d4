"""The demo: the seed committee's returns for 2020-2023 and 2024-H1, through the real intake.

The figures are generated so that, added up, they reproduce the newspaper article about
Đảng bộ phường Tân Lộc (357 members now, 60 admitted in the term, 22 removed, 8,86 tỉ đồng
mobilised, 192 houses built and 19 repaired, 106 inspections, 1 branch and 6 members checked
on signs of violation, nobody disciplined, 100% with a written commitment). Every branch's
return is a real workbook written by the form writer, dropped into inbox/ and taken by the
same intake the watcher uses.
"""

from __future__ import annotations

import datetime as dt
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tonghop.blank import form_file_name, write_blank_form
from tonghop.config import Config
from tonghop.form import FormSpec, load_form
from tonghop.intake.inbox import Intake, IntakeResult
from tonghop.layout import Layout
from tonghop.ledger import Ledger
from tonghop.periods import Period
from tonghop.report.publish import Published, publish
from tonghop.samples import sample_values

__all__ = ["DemoResult", "demo_values", "run_demo"]

DEMO_PERIODS = ("2020", "2021", "2022", "2023", "2024-H1")
REPORT_PERIOD = "2024-H1"
# Term totals the demo reproduces (the article's figures).
TERM_TOTALS = {
    "admitted": 60,
    "removed": 22,
    "funds_mobilized": 8_860_000_000,
    "houses_built": 192,
    "houses_repaired": 19,
    "inspections_received": 106,
    "branch_violation_checks": 1,
    "member_violation_checks": 6,
    "disciplined": 0,
}
MEMBERS_NOW = 357

_HIGHLIGHTS = [
    "Chi bộ duy trì nền nếp sinh hoạt định kỳ, nội dung sinh hoạt có chuyên đề gắn với "
    "học tập và làm theo tư tưởng, đạo đức, phong cách Hồ Chí Minh.",
    "Vận động nhân dân hiến đất, góp công làm đường giao thông nông thôn; phối hợp Mặt trận "
    "hỗ trợ hộ nghèo sửa chữa nhà ở.",
    "Chú trọng bồi dưỡng quần chúng ưu tú là đoàn viên thanh niên, tạo nguồn phát triển đảng viên.",
    "Đảng viên gương mẫu thực hiện quy định nêu gương, tham gia tốt phong trào "
    "«Toàn dân đoàn kết xây dựng đời sống văn hóa».",
    "Phối hợp giữ vững an ninh chính trị, trật tự an toàn xã hội trên địa bàn khu vực.",
]
_SHORTCOMINGS = [
    "Một số đảng viên lớn tuổi tham gia sinh hoạt chưa đều.",
    "Nội dung sinh hoạt chuyên đề có lúc chưa sâu, chưa thu hút.",
    "Công tác tạo nguồn phát triển đảng viên trong thanh niên còn khó khăn do nhiều đoàn viên "
    "đi làm ăn xa.",
    "",
]
_PROPOSALS = [
    "Đề nghị Đảng ủy mở lớp bồi dưỡng nghiệp vụ công tác đảng cho cấp ủy chi bộ.",
    "Đề nghị hỗ trợ kinh phí sửa chữa nhà văn hóa khu vực.",
    "",
]
_NEXT = [
    "Tiếp tục nâng cao chất lượng sinh hoạt chi bộ; phấn đấu kết nạp thêm đảng viên mới.",
    "Vận động xây dựng nhà Đại đoàn kết cho hộ khó khăn; giữ vững an ninh trật tự.",
    "Thực hiện tốt công tác chuẩn bị đại hội chi bộ nhiệm kỳ mới.",
]


@dataclass
class DemoResult:
    workspace: Layout
    results: list[IntakeResult]
    published: Published


def _split(total: int, parts: int, rng: random.Random) -> list[int]:
    """``total`` split into ``parts`` non-negative whole numbers, unevenly, summing exactly."""
    if parts == 1:
        return [total]
    weights = [rng.random() + 0.2 for _ in range(parts)]
    scale = total / sum(weights)
    shares = [int(w * scale) for w in weights]
    for i in rng.sample(range(parts), total - sum(shares)):
        shares[i] += 1
    return shares


def _spread(total: int, branches: int, periods: int, rng: random.Random) -> list[list[int]]:
    """A branches x periods table of counts summing to ``total``."""
    cells = _split(total, branches * periods, rng)
    return [cells[b * periods : (b + 1) * periods] for b in range(branches)]


def demo_values(
    config: Config, form: FormSpec, seed: int = 2024
) -> dict[str, list[dict[str, Any]]]:
    """The filled values of every branch for each demo period, keyed by period code."""
    rng = random.Random(seed)
    n_branches, n_periods = len(config.branches), len(DEMO_PERIODS)
    flows = {k: _spread(v, n_branches, n_periods, rng) for k, v in TERM_TOTALS.items()}
    flows["funds_mobilized"] = [
        [m * 10_000_000 for m in row]
        for row in _spread(TERM_TOTALS["funds_mobilized"] // 10_000_000, n_branches, n_periods, rng)
    ]
    removed = flows.pop("removed")
    extra = {
        k: _spread(v, n_branches, n_periods, rng)
        for k, v in {
            "deceased": 14,
            "transferred_in": 31,
            "transferred_out": 18,
            "restored": 1,
        }.items()
    }
    net = (
        TERM_TOTALS["admitted"]
        + sum(map(sum, extra["transferred_in"]))
        + sum(map(sum, extra["restored"]))
        - sum(map(sum, extra["deceased"]))
        - sum(map(sum, extra["transferred_out"]))
        - TERM_TOTALS["removed"]
    )
    starts = _split(MEMBERS_NOW - net, n_branches, rng)

    out: dict[str, list[dict[str, Any]]] = {p: [] for p in DEMO_PERIODS}
    for b, branch in enumerate(config.branches):
        members = starts[b]
        for p, code in enumerate(DEMO_PERIODS):
            period = Period.parse(code)
            gone = removed[b][p]
            expelled, struck_off = gone // 3, gone - gone // 3 - (1 if gone >= 4 else 0)
            resigned = gone - expelled - struck_off
            row: dict[str, Any] = {
                "members_start": members,
                "admitted": flows["admitted"][b][p],
                "restored": extra["restored"][b][p],
                "transferred_in": extra["transferred_in"][b][p],
                "deceased": extra["deceased"][b][p],
                "expelled": expelled,
                "struck_off": struck_off,
                "resigned": resigned,
                "transferred_out": extra["transferred_out"][b][p],
            }
            # members_end follows from the form's own balance rule
            end = sample_values(form, period, branch.code, given=row)["members_end"]
            row["members_end"] = end
            row["probationary"] = min(end, row["admitted"] + rng.randint(0, 1))
            row["confirmed"] = min(end, rng.randint(0, 2))
            row["women"] = round(end * rng.uniform(0.3, 0.45))
            row["exempt"] = min(end, rng.randint(0, 3))
            row["candidates"] = rng.randint(1, 4)
            row["badges"] = rng.randint(0, 2)
            row["commitments"] = end
            row["study_attendance"] = max(0, end - rng.randint(0, 2))
            months = period.kind.months
            row["regular_meetings"] = months
            row["thematic_meetings"] = max(1, months // 3)
            for key in TERM_TOTALS:
                if key in flows:
                    row[key] = flows[key][b][p]
            row["households_supported"] = rng.randint(2, 12)
            if period.kind.value == "year":
                rated = end - row["exempt"]
                excellent = round(rated * 0.15)
                failed = 1 if rated > 30 and rng.random() < 0.2 else 0
                completed = round(rated * 0.1)
                row |= {
                    "rated_excellent": excellent,
                    "rated_good": rated - excellent - completed - failed,
                    "rated_completed": completed,
                    "rated_failed": failed,
                    "branch_rating": rng.choice(["HTXSNV", "HTTNV", "HTTNV"]),
                }
            row["highlights"] = rng.choice(_HIGHLIGHTS)
            row["shortcomings"] = rng.choice(_SHORTCOMINGS)
            row["proposals"] = rng.choice(_PROPOSALS)
            row["next_tasks"] = rng.choice(_NEXT)
            row["prepared_by"] = f"Bí thư {branch.name}"
            row["prepared_on"] = (period.end + dt.timedelta(days=3)).strftime("%d/%m/%Y")
            out[code].append(row)
            members = end
    return out


def run_demo(target: Path, source: Layout, *, pdf: bool = True) -> DemoResult:
    """Make a fresh workspace at ``target`` from ``source``'s configuration and run the demo."""
    if target.exists():
        shutil.rmtree(target)
    workspace = Layout(target.resolve()).create(source)

    config = workspace.load_config()
    form: FormSpec = load_form(workspace.form_path)
    values = demo_values(config, form)
    results: list[IntakeResult] = []
    with Ledger(workspace.ledger) as ledger:
        for code in DEMO_PERIODS:
            period = Period.parse(code)
            arrival = dt.datetime.combine(period.end + dt.timedelta(days=4), dt.time(8, 0))
            for branch, row in zip(config.branches, values[code], strict=True):
                write_blank_form(
                    form,
                    config,
                    branch,
                    period,
                    workspace.inbox / form_file_name(branch, period),
                    prefill=row,
                )
            ticks = iter(range(10_000))

            def clock(start: dt.datetime = arrival, ticks: Any = ticks) -> dt.datetime:
                return start + dt.timedelta(minutes=17 * next(ticks))

            results.extend(Intake(workspace, config, form, ledger, clock=clock).process_inbox())
        report_period = Period.parse(REPORT_PERIOD)
        now = dt.datetime.combine(report_period.end + dt.timedelta(days=10), dt.time(16, 0))
        published = publish(
            workspace, config, form, ledger, report_period, now=now, report_date=now.date(), pdf=pdf
        )
    return DemoResult(workspace, results, published)
