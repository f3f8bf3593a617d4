"""The blank return workbook a branch fills in: one sheet, one row per field, named cells.

Contract other modules rely on: every value cell (branch_code and period included) is in
column C, has a workbook-level defined name equal to its field id, and column A of its row
holds the field id. branch_code and period are pre-filled as text and locked.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
import unicodedata
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Protection, Side
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.utils.indexed_list import IndexedList
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.pagebreak import Break
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet

from tonghop.config import Branch, Config
from tonghop.errors import ConfigError
from tonghop.form import FORM_PERIOD_NAME, IDENTITY_FIELDS, Field, FieldType, FormSpec
from tonghop.periods import Period

__all__ = [
    "FONT_NAME",
    "INPUT_FILL_COLOR",
    "ascii_slug",
    "form_file_name",
    "is_narrative",
    "page_number_footer",
    "use_default_font",
    "write_blank_form",
]

FONT_NAME = "Times New Roman"
FONT_SIZE = 12
# Light yellow of the cells a branch fills in; feedback.py restores it when clearing old marks.
INPUT_FILL_COLOR = "FFFDE7"
LOCKED_FILL_COLOR = "F2F2F2"
HEADING_FILL_COLOR = "DDEBF7"
INSTRUCTION = (
    "Điền số vào các ô màu vàng nhạt; không sửa các ô đã khóa. "
    "Lưu dạng Excel (.xlsx) rồi gửi về Văn phòng Đảng ủy."
)
VALUE_COLUMN = "C"
ID_COLUMN = "A"
MADE_FOR_COLUMN = "F"
# Widths in characters of the default font, which _use_default_font sets to Times New Roman.
COLUMN_WIDTHS = {"A": 14, "B": 53, "C": 17, "D": 10}
NARRATIVE_ROW_HEIGHT = 90
# Characters of Times New Roman 12 pt that fit on one line of column B (about 72 in Excel and
# LibreOffice), kept low so that an estimated row height is never too small.
_LABEL_CHARS_PER_LINE = 64
_LINE_HEIGHT = 16.5

# Excel limits on data validation texts; longer texts make Excel "repair" the file.
_TITLE_LIMIT = 32
_MESSAGE_LIMIT = 255
_LIST_LIMIT = 255

_DEFAULT_PROMPTS = {
    "count": "Nhập số nguyên từ 0 trở lên.",
    "money": "Nhập số tiền bằng đồng, từ 0 trở lên, ví dụ 450000000.",
    "date": "Nhập ngày dạng ngày/tháng/năm, ví dụ 16/06/2024.",
    "choice": "Bấm mũi tên bên phải ô để chọn.",
    "text": "Nhập nội dung bằng chữ.",
}
_ERRORS = {
    "count": "Ô này chỉ nhận số nguyên từ 0 trở lên (không ghi chữ, không có phần lẻ).",
    "money": "Ô này chỉ nhận số tiền bằng đồng, từ 0 trở lên (không ghi chữ «triệu», «đồng»).",
    "date": "Ô này chỉ nhận ngày, dạng ngày/tháng/năm, ví dụ 16/06/2024.",
    "choice": "Chỉ chọn một trong các giá trị: {choices}.",
}


def form_file_name(branch: Branch, period: Period) -> str:
    """``bao-cao-LT1-2024-H1.xlsx``: ASCII only, safe on Windows and through Zalo."""
    return f"bao-cao-{ascii_slug(branch.code, keep_case=True)}-{period.code}.xlsx"


def ascii_slug(text: str, *, keep_case: bool = False, limit: int = 40) -> str:
    """Letters without diacritics, digits and single hyphens: "Chi bộ Đông" -> "chi-bo-dong"."""
    text = text.replace("Đ", "D").replace("đ", "d")
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    plain = plain.encode("ascii", "ignore").decode("ascii")
    if not keep_case:
        plain = plain.lower()
    slug = re.sub(r"[^A-Za-z0-9]+", "-", plain).strip("-")
    return slug[:limit].rstrip("-") or "x"


def is_narrative(field: Field) -> bool:
    """A free-text field outside the identity section: gets a tall, wrapped row."""
    return (
        field.type == FieldType.TEXT
        and field.section != "identity"
        and field.id not in IDENTITY_FIELDS
    )


def write_blank_form(
    form: FormSpec,
    config: Config,
    branch: Branch,
    period: Period,
    out_path: Path,
    prefill: dict[str, object] | None = None,
) -> Path:
    """Write the blank return of ``branch`` for ``period`` to ``out_path`` (atomically)."""
    fields = form.fields_for(period.kind)
    for field in fields:
        _check_name(field.id)
    asked = {f.id for f in fields}
    values: dict[str, object] = {
        k: v for k, v in (prefill or {}).items() if k in asked and v is not None
    }
    values["branch_code"] = branch.code
    values["period"] = period.code

    wb = Workbook()
    use_default_font(wb)
    ws = wb.active
    assert ws is not None
    ws.title = form.sheet
    wb.properties.creator = "tonghop"
    wb.properties.title = f"{form.title} - {branch.name} - {period.label}"

    for column, width in COLUMN_WIDTHS.items():
        ws.column_dimensions[column].width = width
    ws.column_dimensions[ID_COLUMN].hidden = True
    ws.sheet_view.showGridLines = False

    row = _write_header(ws, form, config, branch, period)
    # Hidden, outside the form's columns (column A holds field ids only): the period the
    # form was made for.
    ws[f"{MADE_FOR_COLUMN}1"] = period.code
    ws.column_dimensions[MADE_FOR_COLUMN].hidden = True
    ref = f"{quote_sheetname(ws.title)}!${MADE_FOR_COLUMN}$1"
    wb.defined_names[FORM_PERIOD_NAME] = DefinedName(FORM_PERIOD_NAME, attr_text=ref)
    blocks: list[tuple[int, int]] = []
    for section in form.sections:
        section_fields = [f for f in section.fields if f.id in asked]
        if not section_fields:
            continue
        row += 1
        blocks.append((row, row + len(section_fields)))
        _write_section_heading(ws, row, section.title)
        for field in section_fields:
            row += 1
            _write_field_row(ws, row, field, values.get(field.id))
            ref = f"{quote_sheetname(ws.title)}!${VALUE_COLUMN}${row}"
            wb.defined_names[field.id] = DefinedName(field.id, attr_text=ref)
            if field.id not in IDENTITY_FIELDS:
                _validation_for(ws, field).add(f"{VALUE_COLUMN}{row}")
    last_row = row

    ws.protection.sheet = True
    ws.protection.formatRows = False
    ws.protection.formatColumns = False
    _page_setup(ws, last_row)
    _keep_sections_together(ws, blocks)
    ws.sheet_view.selection[0].activeCell = _first_input_cell(ws, last_row)
    ws.sheet_view.selection[0].sqref = ws.sheet_view.selection[0].activeCell

    out_path.parent.mkdir(parents=True, exist_ok=True)
    temp = out_path.with_name(f".{out_path.stem}.{os.getpid()}.tmp{out_path.suffix}")
    try:
        wb.save(temp)
        os.replace(temp, out_path)
    finally:
        temp.unlink(missing_ok=True)
    return out_path


def use_default_font(wb: Workbook) -> None:
    """Make Times New Roman 12 the workbook's default (Normal style) font.

    Column widths are counted in characters of the default font, so this keeps the layout the
    same in Excel, WPS and LibreOffice whether or not Calibri is installed. openpyxl has no
    public API for it; call right after ``Workbook()``, before any cell is styled.
    """
    font = Font(name=FONT_NAME, size=FONT_SIZE, family=1)
    wb._fonts = IndexedList([font])  # type: ignore[attr-defined]
    wb._named_styles["Normal"].font = font  # type: ignore[attr-defined]


# --- layout -----------------------------------------------------------------------------


def _font(bold: bool = False, italic: bool = False, size: int = FONT_SIZE) -> Font:
    return Font(name=FONT_NAME, size=size, bold=bold, italic=italic)


_THIN = Side(style="thin", color="808080")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)


def _write_header(
    ws: Worksheet, form: FormSpec, config: Config, branch: Branch, period: Period
) -> int:
    committee = config.committee
    lines: list[tuple[str, Font, str, float | None]] = [
        (committee.superior, _font(), "left", None),
        (committee.name, _font(bold=True), "left", None),
        ("", _font(), "left", 8),
        (form.title, _font(bold=True, size=14), "center", 22),
        (f"Chi bộ: {branch.name}", _font(bold=True), "center", None),
        (f"Kỳ báo cáo: {period.label}", _font(bold=True), "center", None),
        (INSTRUCTION, _font(italic=True), "left", 2 * _LINE_HEIGHT + 4),
        ("", _font(), "left", 8),
    ]
    for row, (text, font, align, height) in enumerate(lines, start=1):
        ws.merge_cells(f"B{row}:D{row}")
        cell = ws[f"B{row}"]
        cell.value = text or None
        cell.font = font
        cell.alignment = Alignment(horizontal=align, vertical="center", wrap_text=True)
        if height:
            ws.row_dimensions[row].height = height
    row = len(lines) + 1
    for column, text in zip("BCD", ("Nội dung", "Số liệu", "Đơn vị"), strict=True):
        cell = ws[f"{column}{row}"]
        cell.value = text
        cell.font = _font(bold=True)
        cell.alignment = Alignment(horizontal="center", vertical="center")
        cell.border = _BORDER
        cell.fill = PatternFill("solid", fgColor=LOCKED_FILL_COLOR)
    ws.row_dimensions[row].height = 20
    return row


def _write_section_heading(ws: Worksheet, row: int, title: str) -> None:
    ws.merge_cells(f"B{row}:D{row}")
    cell = ws[f"B{row}"]
    cell.value = title
    cell.font = _font(bold=True)
    cell.alignment = Alignment(vertical="center", wrap_text=True)
    fill = PatternFill("solid", fgColor=HEADING_FILL_COLOR)
    for column in "BCD":
        ws[f"{column}{row}"].border = _BORDER
        ws[f"{column}{row}"].fill = fill
    ws.row_dimensions[row].height = _rows_for(title, _LABEL_CHARS_PER_LINE + 14) * _LINE_HEIGHT + 3


def _write_field_row(ws: Worksheet, row: int, field: Field, value: object) -> None:
    ws[f"{ID_COLUMN}{row}"] = field.id
    ws[f"{ID_COLUMN}{row}"].font = _font(size=9)
    identity = field.id in IDENTITY_FIELDS
    narrative = is_narrative(field)

    label = ws[f"B{row}"]
    label.value = field.label
    label.font = _font(bold=field.required and not identity)
    label.alignment = Alignment(vertical="top" if narrative else "center", wrap_text=True)
    label.border = _BORDER
    if narrative and field.help:
        label.value = f"{field.label}\n({field.help})"

    cell = ws[f"{VALUE_COLUMN}{row}"]
    cell.border = _BORDER
    cell.font = _font()
    if identity:
        cell.value = str(value)
        cell.number_format = "@"
        cell.font = _font(bold=True)
        cell.fill = PatternFill("solid", fgColor=LOCKED_FILL_COLOR)
        cell.alignment = Alignment(horizontal="center", vertical="center")
    else:
        cell.value = _cell_value(field, value)
        cell.protection = Protection(locked=False)
        cell.fill = PatternFill("solid", fgColor=INPUT_FILL_COLOR)
        cell.number_format = {
            "count": "#,##0",
            "money": "#,##0",
            "date": "dd/mm/yyyy",
        }.get(field.type, "General")
        horizontal = "right" if field.is_number else ("center" if field.type != "text" else None)
        cell.alignment = Alignment(
            horizontal=horizontal,
            vertical="top" if narrative else "center",
            wrap_text=field.type == FieldType.TEXT,
        )

    unit = ws[f"D{row}"]
    unit.border = _BORDER
    if narrative:
        ws.merge_cells(f"C{row}:D{row}")
        ws.row_dimensions[row].height = max(
            NARRATIVE_ROW_HEIGHT, (_rows_for(str(label.value)) + 1) * _LINE_HEIGHT
        )
    else:
        unit.value = field.unit or None
        unit.font = _font()
        unit.alignment = Alignment(horizontal="center", vertical="center")
        lines = _rows_for(field.label)
        ws.row_dimensions[row].height = max(lines * _LINE_HEIGHT + 3, 20)


def _cell_value(field: Field, value: object) -> object:
    if value is None:
        return None
    if field.type == FieldType.DATE and isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return value
    return value


def _rows_for(text: str, per_line: int = _LABEL_CHARS_PER_LINE) -> int:
    return sum(max(1, math.ceil(len(part) / per_line)) for part in text.split("\n"))


def _first_input_cell(ws: Worksheet, last_row: int) -> str:
    for row in range(1, last_row + 1):
        cell = ws[f"{VALUE_COLUMN}{row}"]
        if cell.protection.locked is False:
            return str(cell.coordinate)
    return f"{VALUE_COLUMN}1"


def _page_setup(ws: Worksheet, last_row: int) -> None:
    ws.print_area = f"B1:D{last_row}"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = ws.ORIENTATION_PORTRAIT
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = 0.5
    ws.page_margins.right = 0.5
    ws.page_margins.top = 0.6
    ws.page_margins.bottom = 0.6
    ws.page_margins.header = 0.3
    ws.page_margins.footer = 0.3
    page_number_footer(ws, FONT_NAME)


# A4 height less the top and bottom margins, in points, with a little room for rounding.
_PAGE_BODY_HEIGHT = 841.89 - 2 * 0.6 * 72 - 12


def _keep_sections_together(ws: Worksheet, blocks: list[tuple[int, int]]) -> None:
    """Manual page breaks so that a short section is not split and no heading is orphaned.

    Every row has an explicit height, so where the pages end is known in advance (the sheet
    prints at 100 %: its columns are narrower than the page).
    """

    def height(row: int) -> float:
        return ws.row_dimensions[row].height or 15.75

    used = sum(height(r) for r in range(1, blocks[0][0])) if blocks else 0.0
    for first, last in blocks:
        size = sum(height(r) for r in range(first, last + 1))
        if used + size <= _PAGE_BODY_HEIGHT:
            used += size
            continue
        heading_and_two = sum(height(r) for r in range(first, min(first + 2, last) + 1))
        if size <= _PAGE_BODY_HEIGHT / 2 or used + heading_and_two > _PAGE_BODY_HEIGHT:
            ws.row_breaks.append(Break(id=first - 1))
            used = 0.0
        for row in range(first, last + 1):
            if used + height(row) > _PAGE_BODY_HEIGHT and used > 0:
                ws.row_breaks.append(Break(id=row - 1))
                used = 0.0
            used += height(row)


# --- data validation -----------------------------------------------------------------------


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _validation_for(ws: Worksheet, field: Field) -> DataValidation:
    """One validation per field (prompts differ); Excel keeps them in the sheet."""
    prompt = field.help or _DEFAULT_PROMPTS[field.type]
    if field.required:
        prompt = f"{prompt} Bắt buộc điền."
    options: dict[str, object] = {
        "allow_blank": True,
        "showInputMessage": True,
        "promptTitle": _clip(field.label, _TITLE_LIMIT),
        "prompt": _clip(prompt, _MESSAGE_LIMIT),
    }
    if field.type == FieldType.COUNT:
        options.update(type="whole", operator="greaterThanOrEqual", formula1="0")
    elif field.type == FieldType.MONEY:
        options.update(type="decimal", operator="greaterThanOrEqual", formula1="0")
    elif field.type == FieldType.DATE:
        options.update(
            type="date",
            operator="between",
            formula1="DATE(2000,1,1)",
            formula2="DATE(2099,12,31)",
        )
    elif field.type == FieldType.CHOICE:
        options.update(type="list", formula1=_choice_formula(ws, field), showDropDown=False)
    if field.type in _ERRORS:
        options.update(
            showErrorMessage=True,
            errorStyle="stop",
            errorTitle=_clip("Giá trị không hợp lệ", _TITLE_LIMIT),
            error=_clip(_ERRORS[field.type].format(choices=", ".join(field.choices)), 255),
        )
    validation = DataValidation(**options)  # type: ignore[arg-type]
    ws.add_data_validation(validation)
    return validation


def page_number_footer(sheet: Worksheet, font_name: str) -> None:
    """«Trang 1/2» at the foot of every printed page."""
    footer = sheet.oddFooter
    assert footer is not None  # openpyxl makes it with the sheet
    footer.center.text = "Trang &P/&N"
    footer.center.font = f"{font_name},Regular"
    footer.center.size = 10


def _choice_formula(ws: Worksheet, field: Field) -> str:
    """An inline list when Excel allows it, else a range on a hidden list sheet."""
    inline = ",".join(field.choices)
    if len(inline) <= _LIST_LIMIT and not any("," in c or '"' in c for c in field.choices):
        return f'"{inline}"'
    wb = ws.parent
    assert wb is not None
    lists = wb["Danh mục"] if "Danh mục" in wb.sheetnames else wb.create_sheet("Danh mục")
    lists.sheet_state = "hidden"
    column = lists.max_column + 1 if lists.max_row > 1 or lists["A1"].value else 1
    for number, choice in enumerate(field.choices, start=1):
        lists.cell(row=number, column=column, value=choice)
    letter = get_column_letter(column)
    return f"{quote_sheetname(lists.title)}!${letter}$1:${letter}${len(field.choices)}"


_CELL_LIKE = re.compile(r"^[a-z]{1,3}[0-9]+$")
_R1C1_LIKE = re.compile(r"^(r[0-9]*c?[0-9]*|c[0-9]*)$")


def _check_name(field_id: str) -> None:
    """Excel rejects defined names that look like a cell (``ab12``) or R1C1 reference."""
    if _CELL_LIKE.match(field_id) or _R1C1_LIKE.match(field_id):
        raise ConfigError(
            f"Mã trường «{field_id}» trong form.toml trùng dạng địa chỉ ô Excel; hãy đặt mã "
            "khác, ví dụ thêm chữ hoặc dấu gạch dưới (ví dụ «so_{field_id}»)."
        )
