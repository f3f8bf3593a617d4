"""Writing a period's outputs into outbox/<period>/: report, aggregate workbook, status page.

Each file is written under a temporary name and renamed, so a reader (the secretary opening
the folder, a synced share) never sees half a file.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from .aggregate import Aggregate, BranchFigures, aggregate, counted_from
from .config import Config
from .context import report_context
from .errors import TonghopError
from .form import FormSpec
from .layout import Layout
from .ledger import Ledger
from .periods import Period
from .report import ReportError, render_report, write_pdf
from .status import PeriodStatus, period_status, render_status_html

REPORT_NAME = "bao-cao-{period}.docx"
AGGREGATE_NAME = "tong-hop-so-lieu.xlsx"
STATUS_NAME = "tinh-hinh-nop-bao-cao.html"


@dataclass
class Published:
    period: Period
    report: Path | None
    pdf: Path | None
    workbook: Path
    status_page: Path
    aggregate: Aggregate
    status: PeriodStatus
    pdf_problem: str | None = None


def atomic_write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temp.write_text(text, encoding="utf-8")
    os.replace(temp, path)
    return path


def build(
    workspace: Layout, config: Config, form: FormSpec, ledger: Ledger, period: Period
) -> tuple[Aggregate, list[Any]]:
    returns = counted_from(ledger.counted())
    return aggregate(form, config, returns, period), returns


def write_status_page(
    workspace: Layout, config: Config, ledger: Ledger, period: Period, now: dt.datetime
) -> tuple[Path, PeriodStatus]:
    status = period_status(config, ledger, period, now)
    out_dir = workspace.period_outbox(period)
    page = atomic_write_text(
        out_dir / STATUS_NAME, render_status_html(status, config.committee.name)
    )
    return page, status


def publish(
    workspace: Layout,
    config: Config,
    form: FormSpec,
    ledger: Ledger,
    period: Period,
    *,
    now: dt.datetime,
    report_date: dt.date | None = None,
    pdf: bool = True,
) -> Published:
    """Rebuild every output of ``period`` from the ledger."""
    out_dir = workspace.period_outbox(period)
    out_dir.mkdir(parents=True, exist_ok=True)
    status_page, status = write_status_page(workspace, config, ledger, period, now)
    agg, _ = build(workspace, config, form, ledger, period)
    workbook = write_aggregate_workbook(agg, form, config, out_dir / AGGREGATE_NAME)

    template = workspace.templates / config.report_template
    if not template.is_file():
        raise TonghopError(
            f"Không tìm thấy mẫu báo cáo {template}. Hãy đặt tệp mẫu Word vào thư mục "
            "templates/ hoặc sửa khóa template trong mục [report] của tonghop.toml."
        )
    context = report_context(agg, config, form, date=report_date or now.date(), status=status)
    report_path = out_dir / REPORT_NAME.format(period=period.code)
    try:
        report = render_report(template, context, report_path)
    except ReportError as exc:
        raise TonghopError(str(exc)) from exc
    pdf_path, pdf_problem = None, None
    if pdf:
        try:
            pdf_path = write_pdf(report)
        except ReportError as exc:
            # The Word report is there; a failed PDF must not hide it.
            pdf_problem = str(exc)
    return Published(period, report, pdf_path, workbook, status_page, agg, status, pdf_problem)


# --- the aggregate workbook --------------------------------------------------------------


def write_aggregate_workbook(agg: Aggregate, form: FormSpec, config: Config, path: Path) -> Path:
    """tong-hop-so-lieu.xlsx: one row per branch and a total row, for the period and the term."""
    keys = [f.id for f in form.number_fields(agg.period.kind)] + [d.id for d in form.derived]
    labels = {f.id: f.label for f in form.fields.values()} | {d.id: d.label for d in form.derived}
    book = Workbook(write_only=True)
    period_label = agg.period.label
    term_label = f"Lũy kế từ đầu nhiệm kỳ {config.committee.term} đến hết {period_label}"
    _aggregate_sheet(book, "Trong kỳ", f"Số liệu {period_label}", keys, labels, agg.rows, agg.total)
    _aggregate_sheet(book, "Lũy kế nhiệm kỳ", term_label, keys, labels, agg.term_rows, agg.term)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.xlsx")
    book.save(temp)
    os.replace(temp, path)
    return path


def _aggregate_sheet(
    book: Workbook,
    title: str,
    heading: str,
    keys: list[str],
    labels: dict[str, str],
    rows: list[BranchFigures],
    total: dict[str, Any],
) -> None:
    from openpyxl.cell import WriteOnlyCell

    sheet = book.create_sheet(title)
    sheet.freeze_panes = "D4"
    sheet.column_dimensions["A"].width = 6
    sheet.column_dimensions["B"].width = 10
    sheet.column_dimensions["C"].width = 40
    bold = Font(name="Times New Roman", bold=True)
    wrap = Alignment(wrap_text=True, vertical="top", horizontal="center")

    def styled(value: Any, *, font: Font | None = None, align: Alignment | None = None) -> Any:
        cell = WriteOnlyCell(sheet, value=value)
        if font:
            cell.font = font
        if align:
            cell.alignment = align
        return cell

    sheet.append([styled(heading, font=bold)])
    sheet.append(
        [styled(x, font=bold, align=wrap) for x in ["STT", "Mã", "Chi bộ", "Đã nộp"]]
        + [styled(labels[k], font=bold, align=wrap) for k in keys]
    )
    # Field ids under the labels let the superior level take the figures in by machine.
    sheet.append(["", "code", "name", "reported", *keys])
    for number, row in enumerate(rows, start=1):
        sheet.append(
            [number, row.branch.code, row.branch.name, "Có" if row.reported else "Chưa"]
            + [row.values.get(k) for k in keys]
        )
    reported = sum(r.reported for r in rows)
    sheet.append(
        [styled("", font=bold), "", styled("Tổng cộng", font=bold), styled(reported, font=bold)]
        + [styled(total.get(k), font=bold) for k in keys]
    )
