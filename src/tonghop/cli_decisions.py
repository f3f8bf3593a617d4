"""The secretary's commands: the history of received files, decisions on them (exclude,
include, accept) and the finalizing of a period (finalize, reopen).

Registered on :data:`tonghop.cli.cli` when that module is imported (it imports this one last);
each command, like the others, is one call on the opened workspace.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from tonghop.cli import CliContext, cli, pass_context, period_option

if TYPE_CHECKING:
    from tonghop.decisions import Decision
    from tonghop.ledger import Submission
    from tonghop.workspace import Workspace

__all__: list[str] = []


@cli.command()
@click.option("--period", "-k", "period_text", metavar="KỲ", help="Chỉ các tệp của kỳ này.")
@click.option("--branch", "-b", "branch_code", metavar="MÃ", help="Chỉ các tệp của chi bộ này.")
@click.option("--json", "as_json", is_flag=True, help="In dạng JSON (cho chương trình khác).")
@pass_context
def history(
    context: CliContext, period_text: str | None, branch_code: str | None, as_json: bool
) -> None:
    """Mọi tệp đã nhận: mã tệp, thời điểm, tên tệp, chi bộ, kỳ, kết quả và các quyết định."""
    workspace = context.open()
    period = workspace.period(period_text) if period_text else None
    files = workspace.history(period, branch_code)
    if as_json:
        import json

        click.echo(json.dumps([_as_dict(s) for s in files], ensure_ascii=False, indent=2))
        return
    if not files:
        click.echo("Chưa nhận tệp nào" + (" phù hợp." if period or branch_code else "."))
        return
    from rich.table import Table

    table = Table(title=f"Các tệp đã nhận ({len(files)} tệp)")
    for column in ("Mã", "Nhận lúc", "Tệp", "Chi bộ", "Kỳ", "Tình trạng", "Quyết định"):
        table.add_column(column)
    for sub in files:
        table.add_row(
            sub.ref,
            f"{sub.received_at:%d/%m/%Y %H:%M}",
            sub.source_name,
            sub.branch_code or "",
            sub.period or "",
            sub.outcome_label,
            "\n".join(d.describe() for d in sub.decisions),
        )
    context.console().print(table)


def _as_dict(sub: Submission) -> dict[str, object]:
    return {
        "id": sub.ref,
        "received_at": sub.received_at.isoformat(timespec="seconds"),
        "file": sub.source_name,
        "branch": sub.branch_code,
        "period": sub.period,
        "outcome": str(sub.outcome),
        "outcome_label": sub.outcome_label,
        "counted": sub.counted,
        "errors": sub.errors,
        "warnings": sub.warnings,
        "feedback": sub.feedback,
        "decisions": [d.to_dict() for d in sub.decisions],
    }


def _reason_option(required: bool) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(
        "--reason",
        "-l",
        required=required,
        default="",
        metavar="LÝ_DO",
        help="Lý do (được ghi lại cùng người quyết định và thời điểm).",
    )


_ID = click.argument("ref", metavar="MÃ_TỆP")


@cli.command()
@_ID
@_reason_option(required=True)
@pass_context
def exclude(context: CliContext, ref: str, reason: str) -> None:
    """Loại một báo cáo đã tính ra khỏi số liệu (bản trước đó của chi bộ, nếu có, được tính lại)."""
    workspace = context.open()
    _report(workspace, workspace.exclude(ref, reason))


@cli.command()
@_ID
@_reason_option(required=False)
@pass_context
def include(context: CliContext, ref: str, reason: str) -> None:
    """Tính lại vào số liệu một báo cáo đã bị loại (hủy lệnh exclude)."""
    workspace = context.open()
    _report(workspace, workspace.include(ref, reason))


@cli.command()
@_ID
@_reason_option(required=True)
@pass_context
def accept(context: CliContext, ref: str, reason: str) -> None:
    """Tính vào số liệu một báo cáo bị trả lại, dù còn lỗi (đã kiểm tra lại với chi bộ)."""
    workspace = context.open()
    _report(workspace, workspace.accept(ref, reason))


def _report(workspace: Workspace, decision: Decision) -> None:
    """What a decision did: the file, and which file of its branch counts now."""
    sub = workspace.find(str(decision.submission_id))
    where = f"chi bộ {sub.branch_code}, kỳ {sub.period}" if sub.branch_code else "không rõ chi bộ"
    click.echo(f"{decision.label}: tệp mã {sub.ref} ({sub.source_name}; {where}).")
    if sub.branch_code and sub.period:
        period = workspace.period(sub.period)
        counted = [s for s in workspace.history(period, sub.branch_code) if s.counted]
        if counted:
            click.echo(f"Chi bộ {sub.branch_code} nay được tính theo tệp mã {counted[-1].ref}.")
        else:
            click.echo(f"Chi bộ {sub.branch_code} nay không có báo cáo nào được tính kỳ này.")
        _outputs(workspace, period.code)


def _outputs(workspace: Workspace, code: str) -> None:
    from tonghop.report.drafts import Reports

    draft = Reports(workspace.ledger, workspace.layout).last(code, final=False)
    current = workspace.layout.home / draft.path if draft else None
    if current is not None and current.exists():
        click.echo(f"Báo cáo dự thảo đã được cập nhật: {current}")
    else:
        click.echo("Trang tình hình nộp đã được cập nhật.")


@cli.command()
@period_option
@click.option("--number", "-n", metavar="SỐ", help="Số của báo cáo (ví dụ 45).")
@click.option("--date", "report_date", metavar="NGÀY", help="Ngày ghi trên báo cáo (YYYY-MM-DD).")
@pass_context
def finalize(
    context: CliContext, period_text: str, number: str | None, report_date: str | None
) -> None:
    """Chốt số liệu của kỳ và viết báo cáo chính thức (không còn dấu DỰ THẢO)."""
    from tonghop.periods import parse_date

    workspace = context.open()
    period = workspace.period(period_text)
    when = parse_date(report_date) if report_date else None
    done = workspace.finalize(period, number=number, report_date=when)
    counted = done.status.counted
    click.echo(
        f"Đã chốt số liệu {period.label}: tính {counted}/{len(done.status.branches)} chi bộ. "
        "Báo cáo đến sau sẽ được nhận và phản hồi nhưng chưa tính, cho đến khi mở lại kỳ."
    )
    click.echo(f"Báo cáo chính thức: {done.report}")
    for draft in done.edited_drafts:
        click.secho(
            f"Lưu ý: bản dự thảo {draft.name} đã được sửa tay; báo cáo chính thức được viết "
            "lại từ mẫu nên KHÔNG có các chỗ sửa đó. Hãy chép các chỗ sửa sang bản chính thức "
            "trước khi in và trình ký.",
            fg="yellow",
        )
    if done.pdf:
        click.echo(f"Bản PDF: {done.pdf}")
    elif done.pdf_problem:
        click.secho(f"Chưa tạo được bản PDF: {done.pdf_problem}", fg="yellow")


@cli.command()
@period_option
@_reason_option(required=True)
@pass_context
def reopen(context: CliContext, period_text: str, reason: str) -> None:
    """Mở lại một kỳ đã chốt: báo cáo đến sau được tính, báo cáo dự thảo được viết lại."""
    workspace = context.open()
    period = workspace.period(period_text)
    workspace.reopen(period, reason)
    click.echo(f"Đã mở lại {period.label} (lý do: {reason}).")
    _outputs(workspace, period.code)
