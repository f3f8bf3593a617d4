"""What goes back to a branch: its own workbook with the problem cells marked and explained.

``write_feedback`` keeps the branch's file as it was (values, layout, macros of an .xlsm) and
adds: a red (error) or yellow (warning) fill and a comment on each problem cell, and a first
sheet «Phản hồi» listing every problem with a link to its cell. When the file cannot be
opened at all, ``write_unreadable_note`` writes a short text file saying why and what to do.

Every read is bounded: the reader's pre-check first, then the bounds of
:mod:`._feedback_source` on what openpyxl would build (merged ranges, hyperlink ranges, rows,
columns, styles, listed ranges, defined names); past them the original is not loaded and the
feedback is a fresh workbook with the problems and a copy of the original's values.

Branch text is inert in what we write: every text cell is written as a string (data type
"s", with a quote prefix when it starts like a formula), never as a formula, and control
characters are shown as visible symbols (``visible_text``). The feedback workbook holds no
live formula at all: a formula in the branch's file is replaced by the value it showed (its
cached value); one without a cached value keeps its text, as text. External links are dropped.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
import warnings
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import MergedCell
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import quote_sheetname
from openpyxl.utils.cell import column_index_from_string
from openpyxl.worksheet.hyperlink import Hyperlink
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet

from tonghop.blank import (
    FONT_NAME,
    INPUT_FILL_COLOR,
    ascii_slug,
    page_number_footer,
    use_default_font,
)
from tonghop.intake._feedback_source import (
    ANNOTATED,
    COPIED,
    LISTED,
    MACRO_SUFFIXES,
    load_original,
)
from tonghop.intake._feedback_source import put_text as _put
from tonghop.intake._files import place_new, write_note
from tonghop.intake.values import visible_text
from tonghop.problems import Problem

__all__ = [
    "COMMENT_AUTHOR",
    "ERROR_FILL_COLOR",
    "FEEDBACK_SHEET",
    "WARNING_FILL_COLOR",
    "feedback_file_name",
    "verdict_line",
    "write_feedback",
    "write_unreadable_note",
]

FEEDBACK_SHEET = "Phản hồi"
COMMENT_AUTHOR = "tonghop"
ERROR_FILL_COLOR = "FFC7CE"
WARNING_FILL_COLOR = "FFEB9C"
ERROR_BORDER_COLOR = "C00000"
WARNING_BORDER_COLOR = "ED7D31"
_MARK_COLORS = {ERROR_FILL_COLOR, WARNING_FILL_COLOR}

_COORDINATE = re.compile(r"([A-Z]{1,3})([1-9][0-9]{0,6})")
_HEADERS = ("STT", "Mức độ", "Vị trí", "Nội dung", "Giá trị đã nhập", "Hướng dẫn")
# Characters of the workbook's default font (Times New Roman 12 in our forms): the table
# then fits A4 landscape at 100 %.
_WIDTHS = (5, 10, 23, 25, 13, 48)
_FONT_SIZE = 12


def verdict_line(problems: list[Problem], *, accepted: bool | None = None) -> str:
    """The standard verdict sentence: rejected when there is an error, else accepted."""
    errors = sum(1 for p in problems if p.is_error)
    warns = len(problems) - errors
    if accepted is None:
        accepted = errors == 0
    if not accepted:
        if errors:
            extra = f" và {warns} cảnh báo cần xem lại" if warns else ""
            return f"Báo cáo chưa được tiếp nhận: có {errors} lỗi cần sửa{extra}."
        return "Báo cáo chưa được tiếp nhận: hãy xem các nội dung dưới đây."
    if warns:
        return f"Báo cáo đã được tiếp nhận, có {warns} cảnh báo cần xem lại."
    return "Báo cáo đã được tiếp nhận."


def feedback_file_name(
    branch_code: str | None, period_code: str | None, original_name: str, received_at: dt.datetime
) -> str:
    """``LT1-2024-H1-phan-hoi-20240705-1432.xlsx``; the extension follows the original's.

    An .xlsm (or .xltm) keeps its macros and so its extension; everything else becomes .xlsx,
    including files openpyxl cannot open (.xls, .ods), whose feedback is a fresh workbook.
    """
    parts = [ascii_slug(p, keep_case=True) for p in (branch_code, period_code) if p]
    if not parts:
        parts = [ascii_slug(Path(original_name).stem, limit=30)]
    stamp = received_at.strftime("%Y%m%d-%H%M")
    return f"{'-'.join(parts)}-phan-hoi-{stamp}{_output_suffix(original_name)}"


def _output_suffix(name: str) -> str:
    return ".xlsm" if Path(name).suffix.lower() in MACRO_SUFFIXES else ".xlsx"


def write_feedback(
    source: Path,
    problems: list[Problem],
    out_path: Path,
    *,
    branch_name: str | None = None,
    period_label: str | None = None,
    verdict: str,
    data: bytes | None = None,
    ref: str | None = None,
) -> Path:
    """Write the annotated copy of ``source``; returns the path written. ``ref`` is the
    file's short id in the ledger («Mã tệp»).

    ``data`` are ``source``'s bytes when the caller has read them already (the intake: the
    bytes it archived and judged); then ``source`` is never opened again, so that a name
    swapped meanwhile for a link or a FIFO is never followed, and the bytes are not held twice.

    ``verdict`` is the sentence at the top of the «Phản hồi» sheet (see ``verdict_line``);
    the words ``"rejected"`` and ``"accepted"`` are turned into the standard sentence. The
    returned path is ``out_path`` except for its extension, which is forced to .xlsm when
    the original kept its macros and to .xlsx otherwise (Excel refuses a mismatch).
    """
    if verdict in ("rejected", "accepted"):
        verdict = verdict_line(problems, accepted=verdict == "accepted")
    problems = sorted(problems, key=lambda p: not p.is_error)  # errors first, order kept
    loaded = load_original(source, reserved=FEEDBACK_SHEET, data=data)
    workbook = loaded.workbook
    if workbook is None:
        workbook = Workbook()
        default = workbook.active
        if default is not None:
            workbook.remove(default)
    if loaded.how == ANNOTATED:
        _clear_old_feedback(workbook)
    else:
        use_default_font(workbook)

    links: dict[int, str] = {}
    if loaded.how != LISTED:
        links = _mark_cells(workbook, problems, loaded.titles)
    sheet = workbook.create_sheet(FEEDBACK_SHEET, 0)
    _write_problem_sheet(
        sheet,
        problems,
        links,
        verdict=verdict,
        branch_name=branch_name,
        period_label=period_label,
        file_name=source.name,
        ref=ref,
        how=loaded.how,
        formulas=loaded.formulas,
    )
    for other in workbook.worksheets:
        other.sheet_view.tabSelected = other is sheet
    workbook.active = 0

    target = out_path.with_suffix(".xlsm" if loaded.macros else ".xlsx")
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.stem}.{os.getpid()}.tmp{target.suffix}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            workbook.save(temp)
        return place_new(temp, target)
    finally:
        temp.unlink(missing_ok=True)


def _one_line(name: str) -> str:
    """A file name as one line: its control characters, tab and newline too, shown visibly
    (a name is the sender's text: "a\nb.xlsx" must not start a line of its own)."""
    return visible_text(name).replace("\n", "\u240a").replace("\t", "\u2409")


def write_unreadable_note(
    file_name: str, message: str, out_path: Path, *, ref: str | None = None
) -> Path:
    """A short UTF-8 text (with BOM, CRLF) for a file that could not be read at all."""
    lines = [
        "PHẢN HỒI: KHÔNG ĐỌC ĐƯỢC TỆP BÁO CÁO",
        "",
        f"Tệp đã nhận: {_one_line(file_name)}" + (f" (mã tệp {ref})" if ref else ""),
        f"Lý do: {visible_text(message)}",
        "",
        "Báo cáo này chưa được tiếp nhận. Cách khắc phục:",
        "1. Mở tệp trên máy tính bằng Excel hoặc WPS, kiểm tra tệp mở được và có đủ số liệu.",
        "2. Chọn Tệp (File) > Lưu thành (Save As), chọn kiểu «Excel Workbook (*.xlsx)», "
        "rồi gửi lại tệp vừa lưu.",
        "3. Khi gửi qua Zalo, hãy gửi tệp (không gửi ảnh chụp màn hình) và chờ tải lên xong.",
        "4. Nếu tệp có đặt mật khẩu mở tệp, hãy bỏ mật khẩu trước khi gửi.",
        "5. Nếu vẫn không được, hãy liên hệ Văn phòng Đảng ủy để nhận lại biểu mẫu trống.",
        "",
    ]
    return write_note(out_path, lines)


# --- the original workbook -------------------------------------------------------------------


def _clear_old_feedback(workbook: Workbook) -> None:
    """A branch often sends back our previous feedback file: drop the old sheet and marks."""
    if FEEDBACK_SHEET in workbook.sheetnames:
        workbook.remove(workbook[FEEDBACK_SHEET])
    for sheet in workbook.worksheets:
        if not isinstance(sheet, Worksheet):
            continue  # a chart sheet
        # Only the stored cells: iter_rows() would create every cell of the used range, which
        # a stray format in XFD1048576 makes astronomically large.
        for cell in list(sheet._cells.values()):
            comment = cell.comment
            if comment is None or comment.author != COMMENT_AUTHOR:
                continue
            cell.comment = None
            if _fill_color(cell) in _MARK_COLORS:
                cell.fill = PatternFill("solid", fgColor=INPUT_FILL_COLOR)
                cell.border = _thin_border()


def _fill_color(cell: Any) -> str | None:
    color = cell.fill.fgColor.rgb if cell.fill is not None and cell.fill.fgColor else None
    return color[-6:].upper() if isinstance(color, str) else None


def _thin_border() -> Border:
    side = Side(style="thin", color="808080")
    return Border(left=side, right=side, top=side, bottom=side)


def _target_cell(workbook: Workbook, problem: Problem, titles: dict[str, str]) -> Any | None:
    """The cell a problem points at (the top-left one of a merged range), or None."""
    if not problem.sheet or not problem.cell:
        return None
    wanted = titles.get(problem.sheet, problem.sheet)
    names = {name.casefold(): name for name in workbook.sheetnames}
    name = wanted if wanted in workbook.sheetnames else names.get(wanted.casefold())
    if name == FEEDBACK_SHEET:
        return None
    if name is None:
        return None
    sheet = workbook[name]
    if not isinstance(sheet, Worksheet):
        return None
    coordinate = problem.cell.replace("$", "").strip().upper()
    match = _COORDINATE.fullmatch(coordinate)
    if not match or column_index_from_string(match[1]) > 16384 or int(match[2]) > 1048576:
        return None
    cell = sheet[coordinate]
    if isinstance(cell, MergedCell):
        for merged in sheet.merged_cells.ranges:
            if coordinate in merged:
                return sheet.cell(row=merged.min_row, column=merged.min_col)
        return None
    return cell


def _mark_cells(
    workbook: Workbook, problems: list[Problem], titles: dict[str, str]
) -> dict[int, str]:
    """Fill and comment every problem cell; returns problem index -> link location."""
    by_cell: dict[tuple[str, str], list[Problem]] = {}
    cells: dict[tuple[str, str], Any] = {}
    links: dict[int, str] = {}
    for index, problem in enumerate(problems):
        cell = _target_cell(workbook, problem, titles)
        if cell is None:
            continue
        key = (cell.parent.title, cell.coordinate)
        by_cell.setdefault(key, []).append(problem)
        cells[key] = cell
        links[index] = f"{quote_sheetname(cell.parent.title)}!{cell.coordinate}"
    for key, found in by_cell.items():
        cell = cells[key]
        error = any(p.is_error for p in found)
        fill = ERROR_FILL_COLOR if error else WARNING_FILL_COLOR
        edge = Side(style="medium", color=ERROR_BORDER_COLOR if error else WARNING_BORDER_COLOR)
        cell.fill = PatternFill("solid", fgColor=fill)
        cell.border = Border(left=edge, right=edge, top=edge, bottom=edge)
        text = "\n\n".join(f"{p.level_label}: {p.message}" for p in found)
        old = cell.comment
        if old is not None and old.author != COMMENT_AUTHOR and old.text.strip():
            text += f"\n\n(Ghi chú trước đó: {old.text.strip()})"
        cell.comment = _comment(text)
    return links


def _comment(text: str) -> Comment:
    """A comment box big enough to read without resizing (sizes are in pixels)."""
    width = 340
    per_line = 42
    lines = sum(max(1, math.ceil(len(part) / per_line)) for part in text.split("\n"))
    height = min(max(60, 18 * lines + 16), 600)
    return Comment(visible_text(text), COMMENT_AUTHOR, height=height, width=width)


# --- the «Phản hồi» sheet ------------------------------------------------------------------


def _font(bold: bool = False, italic: bool = False, size: int = _FONT_SIZE, **extra: Any) -> Font:
    return Font(name=FONT_NAME, size=size, bold=bold, italic=italic, **extra)


def _write_problem_sheet(
    sheet: Worksheet,
    problems: list[Problem],
    links: dict[int, str],
    *,
    verdict: str,
    branch_name: str | None,
    period_label: str | None,
    file_name: str,
    how: str,
    formulas: int,
    ref: str | None = None,
) -> None:
    columns = "ABCDEF"
    for column, width in zip(columns, _WIDTHS, strict=True):
        sheet.column_dimensions[column].width = width
    sheet.sheet_view.showGridLines = False
    errors = any(p.is_error for p in problems)

    if how == LISTED:
        advice = (
            "Không mở được tệp gốc để đánh dấu trực tiếp, nên chỉ có danh sách dưới đây. Hãy "
            "mở tệp bằng Excel hoặc WPS, lưu lại dạng Excel Workbook (.xlsx) rồi gửi lại."
        )
    elif how == COPIED:
        advice = (
            "Tệp gốc có cấu trúc bất thường (vùng gộp ô, liên kết, định dạng hoặc số dòng quá "
            "lớn) nên không đánh dấu trực tiếp trên tệp được. Các trang sau là bản sao số liệu "
            "(chỉ giá trị), ô có lỗi tô đỏ, ô cần xem lại tô vàng. Hãy sửa trên tệp gốc, hoặc "
            "tốt hơn là điền lại vào biểu mẫu gốc của Văn phòng Đảng ủy, rồi gửi lại."
        )
    elif errors:
        advice = (
            "Ô có lỗi được tô đỏ, ô cần xem lại tô vàng; đưa chuột vào ô để đọc ghi chú, bấm vào "
            "cột Vị trí để đến ô đó. Sửa ngay trên tệp này, lưu lại rồi gửi lại Văn phòng Đảng ủy."
        )
    else:
        advice = (
            "Ô cần xem lại được tô vàng; đưa chuột vào ô để đọc ghi chú, bấm vào cột Vị trí để "
            "đến ô đó. Nếu số liệu có sai, hãy sửa ngay trên tệp này rồi gửi lại."
        )
    head: list[tuple[str, Font, float | None]] = [
        ("PHẢN HỒI VỀ BÁO CÁO CỦA CHI BỘ", _font(bold=True, size=14), 22),
        (verdict, _font(bold=True, color="C00000" if errors else "375623"), None),
        (f"Chi bộ: {branch_name}" if branch_name else "", _font(), None),
        (f"Kỳ báo cáo: {period_label}" if period_label else "", _font(), None),
        (f"Tệp đã nhận: {_one_line(file_name)}", _font(), None),
        (
            f"Mã tệp: {ref} (xin ghi mã này khi trao đổi với Văn phòng Đảng ủy)" if ref else "",
            _font(),
            None,
        ),
        (advice, _font(italic=True), None),
    ]
    if formulas:
        replaced = (
            f"Có {formulas} ô công thức trong tệp đã được thay bằng giá trị đang hiển thị "
            "(tệp phản hồi không chứa công thức)."
        )
        head.append((replaced, _font(italic=True), None))
    row = 0
    for text, font, height in head:
        if not text:
            continue
        row += 1
        sheet.merge_cells(f"A{row}:F{row}")
        cell = sheet[f"A{row}"]
        _put(cell, text)
        cell.font = font
        cell.alignment = Alignment(
            horizontal="center" if row == 1 else "left", vertical="center", wrap_text=True
        )
        sheet.row_dimensions[row].height = height or _height(text, sum(_WIDTHS) * 1.1)

    row += 2
    header_row = row
    thin = Side(style="thin", color="808080")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    for column, text in zip(columns, _HEADERS, strict=True):
        cell = sheet[f"{column}{row}"]
        _put(cell, text)
        cell.font = _font(bold=True)
        cell.fill = PatternFill("solid", fgColor="D9D9D9")
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        cell.border = border
    sheet.row_dimensions[row].height = 36  # two lines: "Giá trị đã nhập" wraps

    for index, problem in enumerate(problems):
        row += 1
        location = problem.location or "Cả tệp"
        location = location[:1].upper() + location[1:]
        values = (
            index + 1,
            problem.level_label,
            location,
            problem.label or "",
            problem.found if problem.found not in (None, "") else "",
            problem.message,
        )
        for column, value in zip(columns, values, strict=True):
            cell = sheet[f"{column}{row}"]
            _put(cell, value)
            cell.font = _font()
            cell.border = border
            cell.alignment = Alignment(
                horizontal="center" if column in "ABE" else "left",
                vertical="top",
                wrap_text=True,
            )
        level = sheet[f"B{row}"]
        level.fill = PatternFill(
            "solid", fgColor=ERROR_FILL_COLOR if problem.is_error else WARNING_FILL_COLOR
        )
        if index in links:
            place = sheet[f"C{row}"]
            place.hyperlink = Hyperlink(ref=place.coordinate, location=links[index])
            place.font = _font(color="0563C1", underline="single")
        texts = [(str(v), w) for v, w in zip(values, _WIDTHS, strict=True)]
        sheet.row_dimensions[row].height = max(_height(t, w) for t, w in texts)
    if not problems:
        row += 1
        sheet.merge_cells(f"A{row}:F{row}")
        _put(sheet[f"A{row}"], "Không có lỗi hoặc cảnh báo nào.")
        sheet[f"A{row}"].font = _font(italic=True)

    sheet.print_area = f"A1:F{row}"
    sheet.print_title_rows = f"{header_row}:{header_row}"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.orientation = sheet.ORIENTATION_LANDSCAPE
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    sheet.page_margins.left = sheet.page_margins.right = 0.5
    sheet.print_options.horizontalCentered = True
    sheet.page_margins.top = sheet.page_margins.bottom = 0.6
    sheet.page_margins.header = sheet.page_margins.footer = 0.3
    page_number_footer(sheet, FONT_NAME)
    sheet.freeze_panes = f"A{header_row + 1}"


def _height(text: str, width: float) -> float:
    """Row height (points) for ``text`` wrapped in a column ``width`` characters wide."""
    per_line = max(4, int(width * 1.2))
    lines = sum(max(1, math.ceil(len(part) / per_line)) for part in text.split("\n"))
    return max(20.0, lines * 16.5 + 4)
