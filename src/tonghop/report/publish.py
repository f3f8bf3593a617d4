"""Writing a period's outputs into outbox/<period>/: report, aggregate workbook, status page.

Each file is written under a temporary name and renamed, so a reader (the secretary opening
the folder, a synced share) never sees half a file.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tonghop.config import Config
from tonghop.errors import TonghopError
from tonghop.form import FormSpec
from tonghop.layout import Layout
from tonghop.ledger import Ledger
from tonghop.periods import Period
from tonghop.report.aggregate import Aggregate, Counted, aggregate, load_counted
from tonghop.report.context import report_context
from tonghop.report.drafts import ReportRecord, Reports
from tonghop.report.render import ReportError, render_report, write_pdf
from tonghop.report.status import PeriodStatus, period_status, render_status_html
from tonghop.report.workbook import write_aggregate_workbook

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
    final: bool = False
    kept_edited: Path | None = None  # an edited report left in place: ``report`` is beside it
    kept_unrecorded: bool = False  # ... and it is none tonghop wrote (see drafts.ReportTarget)
    record: ReportRecord | None = None
    pending: Path | None = None  # written, not yet renamed to ``report`` (``place=False``)
    edited_drafts: list[Path] = field(default_factory=list)  # finalize: drafts edited by hand


def atomic_write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temp.write_text(text, encoding="utf-8")
    os.replace(temp, path)
    return path


def build(
    workspace: Layout, config: Config, form: FormSpec, ledger: Ledger, period: Period
) -> tuple[Aggregate, list[Counted]]:
    returns = load_counted(ledger, config, period)
    return aggregate(form, config, returns, period), returns


def write_status_page(
    workspace: Layout,
    config: Config,
    ledger: Ledger,
    period: Period,
    now: dt.datetime,
    describe: Callable[[PeriodStatus], None] | None = None,
) -> tuple[Path, PeriodStatus]:
    """The status page; ``describe`` adds what the workspace knows (draft or final, notes)."""
    status = period_status(config, ledger, period, now)
    if describe is not None:
        describe(status)
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
    final: bool = False,
    number: str | None = None,
    describe: Callable[[PeriodStatus], None] | None = None,
    place: bool = True,
) -> Published:
    """Rebuild every output of ``period`` from the ledger: a draft, or (``final``) the final
    report. The report is recorded; a draft the secretary edited is never overwritten (see
    :mod:`tonghop.report.drafts`). Call with the ledger in a transaction when the report
    must match a counted set being fixed (finalize)."""
    out_dir = workspace.period_outbox(period)
    out_dir.mkdir(parents=True, exist_ok=True)
    reports = Reports(ledger, workspace)
    status_page, status = write_status_page(workspace, config, ledger, period, now, describe)
    agg, _ = build(workspace, config, form, ledger, period)
    last_draft = reports.last(period, final=False)
    chosen = report_date or (last_draft.chosen_date if last_draft else None)
    when = chosen or now.date()
    workbook = write_aggregate_workbook(
        agg, form, config, out_dir / AGGREGATE_NAME, status=status, date=when
    )

    template = workspace.templates / config.report_template
    if not template.is_file():
        raise TonghopError(
            f"Không tìm thấy mẫu báo cáo {template}. Hãy đặt tệp mẫu Word vào thư mục "
            "templates/ hoặc sửa khóa template trong mục [report] của tonghop.toml."
        )
    context = report_context(
        agg, config, form, date=when, status=status, final=final, number=number
    )
    target = reports.target(period, final=final)
    records: list[ReportRecord] = []

    def keep_record(written: Path) -> None:
        records.append(
            reports.record(
                period,
                target.path,
                written=written,
                final=final,
                report_date=when,
                chosen_date=report_date or (None if final else chosen),
                number=number,
                at=now,
            )
        )

    try:
        written = render_report(
            template, context, target.path, before_replace=keep_record, place=place
        )
    except ReportError as exc:
        raise TonghopError(str(exc)) from exc
    record = records[0]
    report = target.path
    pending = None if place else written
    pdf_path, pdf_problem = None, None
    if pdf and place:
        try:
            pdf_path = write_pdf(report)
        except ReportError as exc:
            # The Word report is there; a failed PDF must not hide it.
            pdf_problem = str(exc)
    if pdf_path is None and place:
        pdf_problem = _drop_stale_pdf(report) or pdf_problem
    if target.kept_edited is not None:
        pdf_problem = _drop_pdf_older_than_edit(target.kept_edited) or pdf_problem
    return Published(
        period,
        report,
        pdf_path,
        workbook,
        status_page,
        agg,
        status,
        pdf_problem,
        final=final,
        kept_edited=target.kept_edited,
        kept_unrecorded=target.unrecorded,
        record=record,
        pending=pending,
    )


def add_pdf(done: Published) -> Published:
    """Convert ``done``'s report to PDF (when LibreOffice is there); a failed PDF is noted on
    ``done`` and never hides the Word report."""
    if done.report is None:
        return done
    try:
        done.pdf = write_pdf(done.report)
        done.pdf_problem = None
    except ReportError as exc:
        done.pdf_problem = str(exc)
    return done


def _drop_pdf_older_than_edit(edited: Path) -> str | None:
    """The PDF beside a draft the secretary edited, made before the edit, shows neither the
    edit nor the later returns: it goes. One made after the edit (the secretary's own export
    from Word) stays."""
    stale = edited.with_suffix(".pdf")
    try:
        if stale.stat().st_mtime_ns >= edited.stat().st_mtime_ns:
            return None
    except OSError:
        return None
    return _drop_stale_pdf(edited)


def _drop_stale_pdf(report: Path) -> str | None:
    """A new report was written without its PDF (``--no-pdf``, the watcher's rebuild, no
    LibreOffice, a failed conversion): the PDF beside it shows the old figures, so it goes.
    (The watcher makes the new one later, from the new report.) Returns a problem to show
    when the old PDF cannot be removed."""
    stale = report.with_suffix(".pdf")
    try:
        stale.unlink(missing_ok=True)
    except OSError:
        return (
            f"Không xóa được bản PDF cũ {stale.name}: bản này không còn khớp với báo cáo mới. "
            "Hãy đóng tệp PDF rồi chạy lại lệnh, hoặc tự xóa tệp đó."
        )
    return None
