"""The actions: each a page that says what will happen and asks for a confirmation (and a
reason where the decision needs one), then the same Workspace operation as the command."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from tonghop.errors import TonghopError, UsageError
from tonghop.office import find_soffice
from tonghop.periods import Period, parse_date
from tonghop.web._desk import not_found, period_or_404, submission_or_404, workspace

blueprint = Blueprint("actions", __name__)

REASON_LIMIT = 500
NUMBER_LIMIT = 40  # as the page's field allows
Need = Literal["required", "optional", "none"]


@dataclass(frozen=True)
class Action:
    title: str
    explain: str
    button: str
    reason: Need = "none"
    finalize_fields: bool = False


FILE_ACTIONS = {
    "loai": Action(
        "Loại tệp khỏi số liệu",
        "Báo cáo này sẽ không được tính nữa; nếu chi bộ có bản được tiếp nhận trước đó thì "
        "bản đó được tính lại. Không tệp nào bị xóa; có thể tính lại sau. Báo cáo và trang "
        "tình hình được lập lại ngay.",
        "Loại khỏi số liệu",
        reason="required",
    ),
    "tinh-lai": Action(
        "Tính lại tệp đã loại",
        "Bỏ quyết định loại: báo cáo này được tính lại như trước. Báo cáo và trang tình hình "
        "được lập lại ngay.",
        "Tính lại",
        reason="optional",
    ),
    "chap-nhan": Action(
        "Chấp nhận dù có lỗi",
        "Báo cáo bị trả lại vì có lỗi sẽ được tính vào số liệu (ví dụ khi đã gọi điện xác "
        "minh với chi bộ). Quyết định được ghi lại cùng lý do.",
        "Chấp nhận và tính vào số liệu",
        reason="required",
    ),
}
PERIOD_ACTIONS = {
    "chot": Action(
        "Chốt số liệu",
        "Số liệu các chi bộ đã tiếp nhận đến lúc này được giữ cố định và báo cáo chính thức "
        "được viết một lần (không còn dấu DỰ THẢO). Báo cáo đến sau vẫn được nhận và trả lời "
        "nhưng chưa được tính, cho đến khi mở lại kỳ.",
        "Chốt số liệu",
        finalize_fields=True,
    ),
    "mo-lai": Action(
        "Mở lại kỳ đã chốt",
        "Kỳ trở lại dạng dự thảo: các báo cáo đến sau khi chốt được tính, báo cáo được lập "
        "lại. Lý do được ghi lại.",
        "Mở lại kỳ",
        reason="required",
    ),
    "lap-lai": Action(
        "Lập lại bản dự thảo",
        "Báo cáo Word (và PDF nếu máy có LibreOffice), bảng tổng hợp số liệu và trang tình "
        "hình được viết lại từ các báo cáo đã tiếp nhận. Báo cáo Word đã được sửa tay không "
        "bị ghi đè: bản mới được đặt bên cạnh.",
        "Lập lại dự thảo",
    ),
    "tao-bieu-mau": Action(
        "Tạo biểu mẫu cho các chi bộ",
        "Mỗi chi bộ một tệp Excel, điền sẵn số đầu kỳ từ báo cáo kỳ trước, trong thư mục "
        "outbox/KỲ/bieu-mau/ và tải về được cả bộ dạng .zip.",
        "Tạo biểu mẫu",
    ),
}


def _typed(field: str, *, lines: bool = False) -> str:
    """What was typed in ``field``: NFC, without the control characters no document holds
    (a reason keeps its line breaks)."""
    text = unicodedata.normalize("NFC", request.form.get(field, "")).replace("\r\n", "\n")
    kept = "".join(
        ch for ch in text if (lines and ch == "\n") or unicodedata.category(ch) not in ("Cc",)
    )
    return kept.strip()


def _reason(action: Action) -> tuple[str, str | None]:
    """The reason typed, NFC, and what is wrong with it (None when fine)."""
    text = _typed("ly_do", lines=True)
    if action.reason == "required" and not text:
        return text, "Hãy ghi lý do: quyết định này được lưu lại cùng lý do."
    if len(text) > REASON_LIMIT:
        return text, f"Lý do dài quá {REASON_LIMIT} ký tự; hãy viết gọn lại."
    return text, None


def _confirm(
    action: Action, target: str, back: str, *, problem: str | None = None
) -> ResponseReturnValue:
    page = render_template(
        "confirm.html", action=action, target=target, back=back, problem=problem, form=request.form
    )
    return page, 400 if problem else 200


def _done(message: str, back: str) -> ResponseReturnValue:
    flash(message, "ok")
    return redirect(back)


def _run(action: Action, target: str, back: str, work: Callable[[str], str]) -> ResponseReturnValue:
    # Only a POST acts: Flask answers HEAD with this view too, and CSRF checks no HEAD (a
    # request any web page can make a browser send here, without a token).
    if request.method != "POST":
        return _confirm(action, target, back)
    reason, problem = _reason(action)
    if action.finalize_fields and len(_typed("so")) > NUMBER_LIMIT:
        problem = f"Số văn bản dài quá {NUMBER_LIMIT} ký tự; hãy ghi đúng số, ví dụ 15-BC/ĐU."
    if problem:
        return _confirm(action, target, back, problem=problem)
    try:
        message = work(reason)
    except TonghopError as exc:
        return _confirm(action, target, back, problem=exc.message)
    return _done(message, back)


@blueprint.route("/tep/<int:ref>/<name>", methods=["GET", "POST"])
def file_action(ref: int, name: str) -> ResponseReturnValue:
    action = FILE_ACTIONS.get(name)
    sub = submission_or_404(ref)
    if action is None:
        not_found()
    ws = workspace()
    target = f"Mã tệp {ref}: {sub.source_name}"
    back = url_for("pages.submission", ref=ref)

    def work(reason: str) -> str:
        if name == "loai":
            ws.exclude(ref, reason)
            return f"Đã loại Mã tệp {ref} khỏi số liệu; báo cáo đã được lập lại."
        if name == "tinh-lai":
            ws.include(ref, reason)
            return f"Đã tính lại Mã tệp {ref}; báo cáo đã được lập lại."
        ws.accept(ref, reason)
        return f"Đã chấp nhận Mã tệp {ref} dù có lỗi; báo cáo đã được lập lại."

    return _run(action, target, back, work)


@blueprint.route("/ky/<code>/<name>", methods=["GET", "POST"])
def period_action(code: str, name: str) -> ResponseReturnValue:
    period = period_or_404(code)
    action = PERIOD_ACTIONS.get(name)
    back = url_for("pages.period", code=period.code)
    if action is None:
        not_found()
    ws = workspace()
    target = f"Kỳ báo cáo {period.label}"

    def work(reason: str) -> str:
        if name == "chot":
            return _finalize(period)
        if name == "mo-lai":
            ws.reopen(period, reason)
            return f"Đã mở lại kỳ {period.label}; báo cáo đã được lập lại (dự thảo)."
        if name == "lap-lai":
            if ws.period_state(period).final:
                raise UsageError(
                    f"Kỳ {period.label} đã chốt số liệu: báo cáo chính thức đã viết và không "
                    "viết lại. Muốn lập lại bản dự thảo, hãy mở lại kỳ (nút «Mở lại kỳ» trên trang này)."
                )
            done = ws.publish(period, pdf=find_soffice() is not None)
            report = done.report.name if done.report else ""
            return f"Đã lập lại bản dự thảo {period.label}: {report}."
        made = ws.make_forms(period)
        return f"Đã tạo {len(made.paths)} biểu mẫu {period.label} trong {made.folder}."

    return _run(action, target, back, work)


def _finalize(period: Period) -> str:
    number = _typed("so") or None
    typed_date = request.form.get("ngay", "").strip()
    report_date = parse_date(typed_date) if typed_date else None
    done = workspace().finalize(period, number=number, report_date=report_date)
    report = done.report.name if done.report else ""
    message = f"Đã chốt số liệu {period.label}; báo cáo chính thức: {report}."
    for draft in done.edited_drafts:
        message += (
            f" Lưu ý: bản dự thảo {draft.name} đã được sửa tay; báo cáo chính thức được viết lại"
            " từ mẫu nên không có các chỗ sửa đó: hãy chép sang trước khi in và trình ký."
        )
    return message
