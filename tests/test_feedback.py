"""Feedback to a branch: its own workbook marked up, a «Phản hồi» sheet, a note when unreadable."""

from __future__ import annotations

import datetime as dt
import os
import re
import unicodedata
import warnings
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from tonghop.blank import INPUT_FILL_COLOR, write_blank_form
from tonghop.config import Branch, load_config
from tonghop.form import load_form
from tonghop.intake.feedback import (
    COMMENT_AUTHOR,
    ERROR_FILL_COLOR,
    FEEDBACK_SHEET,
    WARNING_FILL_COLOR,
    feedback_file_name,
    verdict_line,
    write_feedback,
    write_unreadable_note,
)
from tonghop.office import convert, find_soffice
from tonghop.periods import Period
from tonghop.problems import Problem

ROOT = Path(__file__).resolve().parents[1]
BRANCH = Branch(code="LT1", name="Chi bộ Khu vực Lân Thạnh 1")
PERIOD = Period.parse("2024")
SHEET = "Báo cáo"


def filled_return(folder: Path, name: str = "bao-cao-LT1-2024.xlsx") -> tuple[Path, dict[str, str]]:
    """A blank return filled in like a branch would; returns it and field id -> cell."""
    form = load_form(ROOT / "templates" / "form.toml")
    config = load_config(ROOT / "tonghop.toml")
    path = write_blank_form(form, config, BRANCH, PERIOD, folder / name)
    wb = openpyxl.load_workbook(path)
    cells = {n: next(iter(d.destinations))[1].replace("$", "") for n, d in wb.defined_names.items()}
    ws = wb[SHEET]
    for field_id, value in {
        "members_start": 42,
        "admitted": 3,
        "members_end": 50,
        "probationary": 60,
        "confirmed": 70,
    }.items():
        ws[cells[field_id]] = value
    wb.save(path)
    return path, cells


def problems_for(cells: dict[str, str]) -> list[Problem]:
    return [
        Problem(
            "error",
            "Số đảng viên cuối kỳ là 50 nhưng đầu kỳ cộng tăng, trừ giảm ra 45.",
            "members_end",
            "Tổng số đảng viên cuối kỳ",
            SHEET,
            cells["members_end"],
            "50",
            "members_balance",
        ),
        Problem(
            "error",
            "Số đảng viên dự bị (60) không được lớn hơn tổng số đảng viên cuối kỳ (50).",
            "probationary",
            "Trong đó: đảng viên dự bị",
            SHEET,
            cells["probationary"],
            "60",
        ),
        Problem(
            "warning",
            "Số đảng viên dự bị được công nhận chính thức (70) lớn hơn tổng số đảng viên cuối kỳ.",
            "confirmed",
            "Đảng viên dự bị được công nhận chính thức trong kỳ",
            SHEET,
            cells["confirmed"],
            "70",
        ),
        Problem("warning", "Tệp được gửi sau hạn nộp."),
    ]


def rgb(cell: openpyxl.cell.cell.Cell) -> str:
    return str(cell.fill.fgColor.rgb)[-6:].upper()


def sheet_texts(ws: openpyxl.worksheet.worksheet.Worksheet) -> list[str]:
    return [str(c.value) for row in ws.iter_rows() for c in row if c.value is not None]


def test_problem_cells_are_filled_and_commented(tmp_path: Path) -> None:
    source, cells = filled_return(tmp_path)
    problems = problems_for(cells)
    out = write_feedback(
        source,
        problems,
        tmp_path / "out" / "LT1-2024-phan-hoi.xlsx",
        branch_name=BRANCH.name,
        period_label=PERIOD.label,
        verdict=verdict_line(problems),
    )
    assert out == tmp_path / "out" / "LT1-2024-phan-hoi.xlsx"
    wb = openpyxl.load_workbook(out)
    ws = wb[SHEET]
    for problem in problems[:3]:
        cell = ws[problem.cell]
        expected = ERROR_FILL_COLOR if problem.is_error else WARNING_FILL_COLOR
        assert rgb(cell) == expected, problem.cell
        assert cell.comment is not None
        assert problem.message in cell.comment.text
        assert cell.comment.author == COMMENT_AUTHOR
    # The values the branch typed are still there, and untouched cells keep their look.
    assert ws[cells["members_end"]].value == 50
    assert rgb(ws[cells["admitted"]]) == INPUT_FILL_COLOR
    assert ws[cells["admitted"]].comment is None
    # The defined names survive, so the corrected file can be read again.
    assert set(cells) == set(wb.defined_names)
    assert list(tmp_path.joinpath("out").iterdir()) == [out]


def test_feedback_sheet_comes_first_and_lists_every_problem(tmp_path: Path) -> None:
    source, cells = filled_return(tmp_path)
    problems = problems_for(cells)
    out = write_feedback(
        source,
        problems,
        tmp_path / "fb.xlsx",
        branch_name=BRANCH.name,
        period_label=PERIOD.label,
        verdict="rejected",
    )
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == [FEEDBACK_SHEET, SHEET]
    assert wb.active.title == FEEDBACK_SHEET
    ws = wb[FEEDBACK_SHEET]
    texts = sheet_texts(ws)
    assert "Báo cáo chưa được tiếp nhận: có 2 lỗi cần sửa và 2 cảnh báo cần xem lại." in texts
    assert f"Chi bộ: {BRANCH.name}" in texts
    assert f"Kỳ báo cáo: {PERIOD.label}" in texts
    assert all(unicodedata.is_normalized("NFC", t) for t in texts)
    header = next(r for r in ws.iter_rows() if r[0].value == "STT")
    assert [c.value for c in header] == [
        "STT",
        "Mức độ",
        "Vị trí",
        "Nội dung",
        "Giá trị đã nhập",
        "Hướng dẫn",
    ]
    rows = [r for r in ws.iter_rows(min_row=header[0].row + 1) if isinstance(r[0].value, int)]
    assert [r[0].value for r in rows] == [1, 2, 3, 4]
    assert sorted(r[5].value for r in rows) == sorted(p.message for p in problems)
    by_message = {r[5].value: r for r in rows}
    for problem in problems:
        row = by_message[problem.message]
        assert row[1].value == problem.level_label
        if problem.cell:
            assert row[2].value == f"Trang «{SHEET}», ô {problem.cell}"
            assert row[2].hyperlink is not None
            assert row[2].hyperlink.location == f"'{SHEET}'!{problem.cell}"
            assert row[4].value == problem.found
        else:
            assert row[2].value == "Cả tệp"
            assert row[2].hyperlink is None
    assert ws.page_setup.orientation == "landscape"
    assert int(ws.page_setup.paperSize) == 9
    assert ws.sheet_properties.pageSetUpPr.fitToPage


def test_warning_only_is_yellow_and_accepted(tmp_path: Path) -> None:
    source, cells = filled_return(tmp_path)
    warning = problems_for(cells)[2]
    out = write_feedback(source, [warning], tmp_path / "fb.xlsx", verdict="accepted")
    wb = openpyxl.load_workbook(out)
    assert rgb(wb[SHEET][warning.cell]) == WARNING_FILL_COLOR
    assert "Báo cáo đã được tiếp nhận, có 1 cảnh báo cần xem lại." in sheet_texts(
        wb[FEEDBACK_SHEET]
    )


def test_several_problems_on_one_cell_are_joined_and_error_wins(tmp_path: Path) -> None:
    source, cells = filled_return(tmp_path)
    cell = cells["members_end"]
    problems = [
        Problem("warning", "Cảnh báo thứ nhất về ô này.", sheet=SHEET, cell=cell),
        Problem("error", "Lỗi thứ hai về ô này.", sheet=SHEET, cell=f"${cell[0]}${cell[1:]}"),
    ]
    out = write_feedback(source, problems, tmp_path / "fb.xlsx", verdict="x")
    ws = openpyxl.load_workbook(out)[SHEET]
    assert rgb(ws[cell]) == ERROR_FILL_COLOR
    text = ws[cell].comment.text
    assert "Cảnh báo thứ nhất về ô này." in text and "Lỗi thứ hai về ô này." in text


def test_problem_in_a_merged_or_missing_place_does_not_break(tmp_path: Path) -> None:
    source, cells = filled_return(tmp_path)
    problems = [
        Problem(
            "error",
            "Thiếu nội dung kết quả nổi bật.",
            sheet=SHEET,
            cell="D" + cells["highlights"][1:],
        ),
        Problem("error", "Trang đã bị đổi tên.", sheet="Sheet1", cell="C5"),
        Problem("error", "Ô không hợp lệ.", sheet=SHEET, cell="ô C5"),
    ]
    out = write_feedback(source, problems, tmp_path / "fb.xlsx", verdict="rejected")
    wb = openpyxl.load_workbook(out)
    anchor = wb[SHEET][cells["highlights"]]
    assert "Thiếu nội dung kết quả nổi bật." in anchor.comment.text
    assert len(sheet_texts(wb[FEEDBACK_SHEET])) > 10


def test_feedback_sent_back_again_replaces_the_old_marks(tmp_path: Path) -> None:
    source, cells = filled_return(tmp_path)
    first = write_feedback(source, problems_for(cells), tmp_path / "one.xlsx", verdict="rejected")
    again = [Problem("error", "Vẫn còn lỗi ở số dự bị.", sheet=SHEET, cell=cells["probationary"])]
    second = write_feedback(first, again, tmp_path / "two.xlsx", verdict="rejected")
    wb = openpyxl.load_workbook(second)
    assert wb.sheetnames == [FEEDBACK_SHEET, SHEET]
    ws = wb[SHEET]
    assert ws[cells["members_end"]].comment is None
    assert rgb(ws[cells["members_end"]]) == INPUT_FILL_COLOR
    assert ws[cells["probationary"]].comment.text == "Lỗi: Vẫn còn lỗi ở số dự bị."
    assert "Tệp được gửi sau hạn nộp." not in sheet_texts(wb[FEEDBACK_SHEET])


def test_feedback_file_is_still_a_readable_return(tmp_path: Path) -> None:
    """A branch fixes the feedback file itself and sends it back: the reader must cope."""
    from tonghop.intake.reader import read_workbook

    source, cells = filled_return(tmp_path)
    out = write_feedback(source, problems_for(cells), tmp_path / "fb.xlsx", verdict="rejected")
    book = read_workbook(out)
    assert book.names["members_end"].value == 50
    assert book.names["members_end"].sheet == SHEET
    assert book.names["branch_code"].value == "LT1"
    assert book.id_rows["members_end"].ref == cells["members_end"]


def _make_xlsm(xlsx: Path, xlsm: Path) -> None:
    """Turn an .xlsx into a (fake) macro workbook, as Excel would save it."""
    with zipfile.ZipFile(xlsx) as src, zipfile.ZipFile(xlsm, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "[Content_Types].xml":
                data = data.replace(
                    b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
                    b"application/vnd.ms-excel.sheet.macroEnabled.main+xml",
                ).replace(
                    b"<Default ",
                    b'<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>'
                    b"<Default ",
                    1,
                )
            if item.filename == "xl/_rels/workbook.xml.rels":
                data = data.replace(
                    b"</Relationships>",
                    b'<Relationship Id="rIdVba" Type="http://schemas.microsoft.com/office/2006/'
                    b'relationships/vbaProject" Target="vbaProject.bin"/></Relationships>',
                )
            dst.writestr(item, data)
        dst.writestr("xl/vbaProject.bin", b"\xd0\xcf\x11\xe0fake vba project")


def test_xlsm_keeps_its_extension_and_macros(tmp_path: Path) -> None:
    source, cells = filled_return(tmp_path)
    xlsm = tmp_path / "bao cao chi bo.xlsm"
    _make_xlsm(source, xlsm)
    name = feedback_file_name("LT1", "2024", xlsm.name, dt.datetime(2025, 1, 5, 9, 3))
    assert name == "LT1-2024-phan-hoi-20250105-0903.xlsm"
    out = write_feedback(xlsm, problems_for(cells), tmp_path / name, verdict="rejected")
    assert out.suffix == ".xlsm"
    with zipfile.ZipFile(out) as archive:
        assert "xl/vbaProject.bin" in archive.namelist()
        assert b"macroEnabled" in archive.read("[Content_Types].xml")
    wb = openpyxl.load_workbook(out, keep_vba=True)
    assert wb.sheetnames[0] == FEEDBACK_SHEET
    assert wb[SHEET][cells["members_end"]].comment is not None
    # Even if the caller asks for .xlsx, a macro workbook is written as .xlsm.
    forced = write_feedback(xlsm, [], tmp_path / "other.xlsx", verdict="accepted")
    assert forced.suffix == ".xlsm"


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("hong.xlsx", b"PK\x03\x04 this is not really a zip"),
        ("cu.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1 old excel"),
        ("anh.xlsx", b"\x89PNG\r\n\x1a\n"),
    ],
)
def test_unloadable_workbook_still_gets_feedback(tmp_path: Path, name: str, content: bytes) -> None:
    source = tmp_path / name
    source.write_bytes(content)
    problems = [
        Problem("error", "Không đọc được số liệu trong tệp.", sheet=SHEET, cell="C14"),
        Problem("error", "Tệp không đúng biểu mẫu."),
    ]
    target = tmp_path / feedback_file_name(None, None, name, dt.datetime(2025, 1, 5, 9, 3))
    out = write_feedback(source, problems, target, verdict="rejected")
    assert out.suffix == ".xlsx" and out.exists()
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == [FEEDBACK_SHEET]
    texts = sheet_texts(wb[FEEDBACK_SHEET])
    for problem in problems:
        assert problem.message in texts
    assert any(name in t for t in texts)
    assert any("Không mở được tệp gốc" in t for t in texts)


def test_feedback_file_name() -> None:
    at = dt.datetime(2024, 7, 5, 14, 32)
    assert (
        feedback_file_name("LT1", "2024-H1", "bao-cao-LT1-2024-H1.xlsx", at)
        == "LT1-2024-H1-phan-hoi-20240705-1432.xlsx"
    )
    odd = feedback_file_name(None, None, "Báo cáo Chi bộ Đông 6 tháng (1).XLS", at)
    assert odd.isascii() and odd.endswith("-phan-hoi-20240705-1432.xlsx")
    assert odd.startswith("bao-cao-chi-bo-dong-6-thang-1")
    assert not re.search(r'[<>:"/\\|?*\s]', odd)
    assert feedback_file_name("TR", None, "x.ods", at) == "TR-phan-hoi-20240705-1432.xlsx"
    assert feedback_file_name(None, None, "???.xlsm", at) == "x-phan-hoi-20240705-1432.xlsm"


def test_verdict_line() -> None:
    error = Problem("error", "a")
    warning = Problem("warning", "b")
    assert verdict_line([error, error]) == "Báo cáo chưa được tiếp nhận: có 2 lỗi cần sửa."
    assert verdict_line([warning]) == "Báo cáo đã được tiếp nhận, có 1 cảnh báo cần xem lại."
    assert verdict_line([]) == "Báo cáo đã được tiếp nhận."
    assert verdict_line([warning], accepted=False).startswith("Báo cáo chưa được tiếp nhận")


def test_unreadable_note_opens_in_notepad(tmp_path: Path) -> None:
    out = write_unreadable_note(
        "bao cao.xlsx", "Tệp bị hỏng, không giải nén được.", tmp_path / "LT1-phan-hoi.txt"
    )
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    assert "\r\n" in text and "\n" not in text.replace("\r\n", "")
    assert unicodedata.is_normalized("NFC", text)
    assert "bao cao.xlsx" in text
    assert "Tệp bị hỏng, không giải nén được." in text
    assert "không đọc được" in text.lower()
    assert [p.name for p in tmp_path.iterdir()] == ["LT1-phan-hoi.txt"]


def _need_soffice() -> None:
    if find_soffice() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("LibreOffice (soffice) is required in CI but was not found.")
        pytest.skip("LibreOffice (soffice) is not installed on this machine.")


@pytest.mark.soffice
def test_comments_and_fills_survive_libreoffice(tmp_path: Path) -> None:
    _need_soffice()
    source, cells = filled_return(tmp_path)
    problems = problems_for(cells)
    out = write_feedback(source, problems, tmp_path / "fb.xlsx", verdict="rejected")
    converted = convert(out, "xlsx", tmp_path / "lo")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # LibreOffice writes extensions openpyxl warns about
        wb = openpyxl.load_workbook(converted)
    assert FEEDBACK_SHEET in wb.sheetnames and SHEET in wb.sheetnames
    ws = wb[SHEET]
    for problem in problems[:3]:
        assert ws[problem.cell].comment is not None, problem.cell
        assert problem.message in ws[problem.cell].comment.text
    assert rgb(ws[cells["members_end"]]) == ERROR_FILL_COLOR
    assert "members_end" in wb.defined_names


def test_a_hostile_workbook_is_prechecked_before_openpyxl_opens_it(tmp_path: Path) -> None:
    """The reader's pre-check guards the feedback writer too: a zip bomb is not opened."""
    import io

    wb = openpyxl.Workbook()
    wb.active["C1"] = 1
    buffer = io.BytesIO()
    wb.save(buffer)
    bomb = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as src,
        zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))
        dst.writestr("xl/media/image1.png", b"\x00" * (3 * 1024 * 1024))  # ratio ~1000
    source = tmp_path / "bom.xlsx"
    source.write_bytes(bomb.getvalue())
    problems = [Problem("error", "Tệp quá lớn.")]
    out = write_feedback(source, problems, tmp_path / "out.xlsx", verdict="rejected")
    assert openpyxl.load_workbook(out).sheetnames == [FEEDBACK_SHEET]  # a fresh workbook


# --- bounded: what openpyxl would build is checked before it loads anything ------------------


PARTS = {"sheet": "xl/worksheets/sheet1.xml", "book": "xl/workbook.xml", "styles": "xl/styles.xml"}


def rewrite(source: Path, target: Path, sheet: Any = None, part: str = "sheet") -> Path:
    """A copy of the workbook ``source`` whose ``part`` (the first sheet's XML, the workbook
    part or the styles) went through the str -> str edit ``sheet``."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == PARTS[part] and sheet is not None:
                data = sheet(data.decode()).encode()
            dst.writestr(item.filename, data)
    return target


def _after(marker: str, extra: str) -> Any:
    return lambda xml: xml.replace(marker, marker + extra, 1)


def _before(marker: str, extra: str) -> Any:
    return lambda xml: xml.replace(marker, extra + marker, 1)


_CF = '<cfRule type="expression" priority="1"><formula>TRUE</formula></cfRule>'
MANY = 100_000
# Each kind of range openpyxl builds objects from (or might), at its hostile extreme. The
# value: an edit of the first sheet's XML, or (part, an edit of that part: see PARTS). The
# "at the bound" ones stay just within the bounds: openpyxl loads them, the bench times it.
HOSTILE_EDITS: dict[str, Any] = {
    "merge E1:XFD1048576": _before("</mergeCells>", '<mergeCell ref="E1:XFD1048576"/>'),
    "merge E1:Z200000": _before("</mergeCells>", '<mergeCell ref="E1:Z200000"/>'),
    "merge written with character references": _before(
        "</mergeCells>", '<mergeCell ref="E1&#58;XFD1048576"/>'
    ),
    "60 000 small merges": _before(
        "</mergeCells>", "".join(f'<mergeCell ref="F{i}:G{i}"/>' for i in range(1, 60_001))
    ),
    "hyperlink A1:XFD1048576": _after(
        "</dataValidations>",
        '<hyperlinks><hyperlink ref="A1:XFD1048576" location="A1" display="x"/></hyperlinks>',
    ),
    "conditional format of the whole sheet": _after(
        "</mergeCells>",
        f'<conditionalFormatting sqref="A1:XFD1048576">{_CF}</conditionalFormatting>',
    ),
    "conditional format of 100 000 ranges": _after(
        "</mergeCells>",
        '<conditionalFormatting sqref="'
        + " ".join(f"F{i}" for i in range(1, MANY + 1))
        + f'">{_CF}</conditionalFormatting>',
    ),
    "validation of the whole sheet": _before(
        "</dataValidations>",
        '<dataValidation type="whole" sqref="A1:XFD1048576"><formula1>0</formula1>'
        "</dataValidation>",
    ),
    "validation of 100 000 ranges": _before(
        "</dataValidations>",
        '<dataValidation type="whole" sqref="'
        + " ".join(f"F{i}" for i in range(1, MANY + 1))
        + '"><formula1>0</formula1></dataValidation>',
    ),
    "dimension of the whole sheet": lambda xml: xml.replace(
        '<dimension ref="A1:D58"/>', '<dimension ref="A1:XFD1048576"/>'
    ),
    "one column definition over every column": _before(
        "</cols>", '<col min="5" max="16384" width="9" customWidth="1"/>'
    ),
    "16 380 column definitions": _before(
        "</cols>",
        "".join(f'<col min="{i}" max="{i}" width="9" customWidth="1"/>' for i in range(5, 16_385)),
    ),
    "a row at 1 048 576": _before("</sheetData>", '<row r="1048576" ht="30" customHeight="1"/>'),
    "200 000 empty rows with a height": _before(
        "</sheetData>",
        "".join(f'<row r="{i}" ht="20" customHeight="1"/>' for i in range(100, 200_100)),
    ),
    "100 000 styled empty cells": _before(
        "</sheetData>",
        "".join(f'<row r="{i}"><c r="E{i}" s="1"/></row>' for i in range(100, MANY + 100)),
    ),
    "14 000 cells (at the bound)": _before(
        "</sheetData>",
        "".join(
            f'<row r="{r}">' + "".join(f'<c r="{c}{r}"><v>1</v></c>' for c in "EFGHIJKL") + "</row>"
            for r in range(100, 1_850)
        ),
    ),
    "9 900 column definitions (at the bound)": _before(
        "</cols>",
        "".join(f'<col min="{i}" max="{i}" width="9" customWidth="1"/>' for i in range(5, 9_905)),
    ),
    "3 800 cell styles (at the bound)": (
        "styles",
        lambda xml: re.sub(
            r"(<cellXfs[^>]*>)",
            lambda m: m[1] + '<xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>' * 3_800,
            xml,
            count=1,
        ),
    ),
    "18 000 cell styles": (
        "styles",
        lambda xml: re.sub(
            r"(<cellXfs[^>]*>)",
            lambda m: m[1] + '<xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>' * 18_000,
            xml,
            count=1,
        ),
    ),
    "print area of the whole sheet": (
        "book",
        lambda xml: xml.replace("'Báo cáo'!$B$1:$D$58", "'Báo cáo'!$A:$XFD"),
    ),
    "print area of 5 000 ranges": (
        "book",
        lambda xml: xml.replace(
            "'Báo cáo'!$B$1:$D$58", ",".join(f"'Báo cáo'!$F${i}" for i in range(1, 5_001))
        ),
    ),
}
HOSTILE_EDITS["merge E1:XFD1048576"] = _before("</mergeCells>", '<mergeCell ref="E1:XFD1048576"/>')
HOSTILE_EDITS["merge E1:Z200000"] = _before("</mergeCells>", '<mergeCell ref="E1:Z200000"/>')


def hostile_return(folder: Path, kind: str) -> tuple[Path, dict[str, str]]:
    """A filled return with one hostile range of ``kind`` added (see HOSTILE_EDITS)."""
    source, cells = filled_return(folder, "base.xlsx")
    edit = HOSTILE_EDITS[kind]
    target = folder / "hostile.xlsx"
    if isinstance(edit, tuple):
        return rewrite(source, target, edit[1], part=edit[0]), cells
    return rewrite(source, target, edit), cells


@pytest.mark.parametrize("kind", list(HOSTILE_EDITS))
def test_hostile_ranges_still_get_their_feedback(tmp_path: Path, kind: str) -> None:
    """Replaces nothing; the figures (time, peak RSS) are in bench/feedback_bench.py."""
    from tonghop.intake.reader import Unreadable, precheck, read_workbook

    source, cells = hostile_return(tmp_path, kind)
    precheck(source.read_bytes())  # the pre-check lets it through: only openpyxl would choke
    problems = problems_for(cells)
    out = write_feedback(source, problems, tmp_path / "fb.xlsx", verdict="rejected")
    wb = openpyxl.load_workbook(out)
    texts = sheet_texts(wb[FEEDBACK_SHEET])
    assert all(p.message in texts for p in problems)
    try:
        read_workbook(source)
    except Unreadable:  # calamine refuses it too: the list of problems is the answer
        assert wb.sheetnames == [FEEDBACK_SHEET]
        return
    assert wb.sheetnames == [FEEDBACK_SHEET, SHEET]
    ws = wb[SHEET]
    # Annotated or copied, the branch sees its values and the marked cells.
    assert ws[cells["members_end"]].value == 50
    assert rgb(ws[cells["members_end"]]) == ERROR_FILL_COLOR
    assert problems[0].message in ws[cells["members_end"]].comment.text
    assert rgb(ws[cells["confirmed"]]) == WARNING_FILL_COLOR
    assert len(ws._cells) < 60_000 and len(ws.merged_cells.ranges) < 100


@pytest.mark.parametrize(
    "kind",
    [
        "merge E1:XFD1048576",
        "merge E1:Z200000",
        "60 000 small merges",
        "hyperlink A1:XFD1048576",
        "100 000 styled empty cells",
        "print area of 5 000 ranges",
    ],
)
def test_past_the_bounds_the_feedback_is_a_copy_of_the_values(tmp_path: Path, kind: str) -> None:
    source, cells = hostile_return(tmp_path, kind)
    out = write_feedback(source, problems_for(cells), tmp_path / "fb.xlsx", verdict="rejected")
    wb = openpyxl.load_workbook(out)
    assert any("bản sao số liệu" in t for t in sheet_texts(wb[FEEDBACK_SHEET]))
    copy = wb[SHEET]
    assert copy[cells["branch_code"]].value == "LT1"
    assert copy[cells["admitted"]].value == 3
    assert not copy.merged_cells.ranges  # values only: none of the original's structure


def test_a_usual_return_is_annotated_in_place(tmp_path: Path) -> None:
    source, cells = filled_return(tmp_path)
    out = write_feedback(source, problems_for(cells), tmp_path / "fb.xlsx", verdict="rejected")
    wb = openpyxl.load_workbook(out)
    assert not any("bản sao số liệu" in t for t in sheet_texts(wb[FEEDBACK_SHEET]))
    assert wb[SHEET].merged_cells.ranges  # the branch's own layout


def test_the_copy_keeps_odd_sheet_names_apart_from_the_feedback_sheet(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    wb.active.title = FEEDBACK_SHEET  # a branch that renamed its sheet like ours
    wb.active["C5"] = 7
    wb.active.merge_cells("E1:F2")
    wb.save(tmp_path / "base.xlsx")
    rewrite(
        tmp_path / "base.xlsx",
        tmp_path / "odd.xlsx",
        sheet=lambda xml: xml.replace('ref="E1:F2"', 'ref="E1:Z200000"'),
    )
    problems = [Problem("error", "Sai số.", sheet=FEEDBACK_SHEET, cell="C5")]
    out = write_feedback(tmp_path / "odd.xlsx", problems, tmp_path / "fb.xlsx", verdict="x")
    result = openpyxl.load_workbook(out)
    assert result.sheetnames[0] == FEEDBACK_SHEET and len(result.sheetnames) == 2
    copy = result[result.sheetnames[1]]
    assert copy["C5"].value == 7 and copy["C5"].comment is not None


# --- inert: branch text never becomes a formula or a raw control character ------------------

FORMULA_TEXTS = {
    "restored": '=HYPERLINK("http://example.invalid/x","Bấm vào đây")',
    "transferred_in": "=cmd|' /C calc'!A0",
    "deceased": "+1+1",
    "expelled": "-2+3",
    "struck_off": "@SUM(1,2)",
}
CONTROL_OR_ESCAPE = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]|_x(000[0-8BbCcEeFf]|001[0-9A-Fa-f]|007[Ff])_"
)


def poisoned_return(folder: Path) -> tuple[Path, dict[str, str]]:
    """A return whose cells hold text that looks like formulas, a control character written as
    Excel's escape, a raw one in a comment, a real formula with its cached value and one
    without."""
    source, cells = filled_return(folder, "base.xlsx")
    wb = openpyxl.load_workbook(source)
    ws = wb[SHEET]
    ws[cells["admitted"]] = "x_x0001_y"  # how Excel stores U+0001 typed into a cell
    for field, text in FORMULA_TEXTS.items():
        ws[cells[field]] = text
        ws[cells[field]].data_type = "s"  # text the branch typed, not a formula
    ws[cells["resigned"]] = "=1+1"
    ws[cells["transferred_out"]] = "=SUM(C16:C17)"
    ws[cells["women"]].comment = openpyxl.comments.Comment("ghi chú _x0007_ chuông", "chi bộ")
    wb.save(folder / "poisoned-0.xlsx")
    resigned = cells["resigned"]
    return rewrite(
        folder / "poisoned-0.xlsx",
        folder / "poisoned.xlsx",
        lambda xml: re.sub(
            rf'(<c r="{resigned}"[^>]*>)<f>1\+1</f><v\s*/?>(?:</v>)?',
            r"\1<f>1+1</f><v>2</v>",
            xml,
        ),
    ), cells


def checked_feedback(folder: Path) -> tuple[Path, dict[str, str], list[Problem]]:
    """The feedback the intake would write for the poisoned return (read, checked, answered)."""
    from tonghop.intake.checks import check_workbook
    from tonghop.intake.reader import read_workbook

    source, cells = poisoned_return(folder)
    form = load_form(ROOT / "templates" / "form.toml")
    config = load_config(ROOT / "tonghop.toml")
    result = check_workbook(read_workbook(source), form, config, today=dt.date(2025, 3, 1))
    out = write_feedback(source, result.problems, folder / "fb.xlsx", verdict="rejected")
    return out, cells, result.problems


def assert_inert(workbook: Any) -> None:
    for ws in workbook.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    assert not CONTROL_OR_ESCAPE.search(cell.value), (cell.coordinate, cell.value)
                if cell.comment is not None:
                    assert not CONTROL_OR_ESCAPE.search(cell.comment.text), cell.coordinate


def test_branch_text_comes_back_inert(tmp_path: Path) -> None:
    out, cells, problems = checked_feedback(tmp_path)
    admitted = next(p for p in problems if p.field_id == "admitted")
    assert "x\u2401y" in admitted.message  # the message shows the character, visibly
    wb = openpyxl.load_workbook(out)
    assert_inert(wb)
    ws = wb[SHEET]
    for field, text in FORMULA_TEXTS.items():
        assert ws[cells[field]].value == text  # the branch's text, as text
        assert ws[cells[field]].data_type == "s"
    assert ws[cells["admitted"]].value == "x\u2401y"
    assert ws[cells["resigned"]].value == 2  # a formula gives way to the value it showed
    assert ws[cells["transferred_out"]].value == "=SUM(C16:C17)"  # no cached value: its text
    assert "\u2407" in ws[cells["women"]].comment.text
    listed = [c.value for row in wb[FEEDBACK_SHEET].iter_rows() for c in row]
    assert "=cmd|' /C calc'!A0" in listed and "x\u2401y" in listed
    assert any("ô công thức" in str(v) for v in listed)  # the replaced formulas are told
    with zipfile.ZipFile(out) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/"):
                assert b"<f>" not in archive.read(name) and b"<f " not in archive.read(name)


def test_branch_text_is_inert_for_calamine_too(tmp_path: Path) -> None:
    from python_calamine import CalamineWorkbook

    out, _, _ = checked_feedback(tmp_path)
    book = CalamineWorkbook.from_path(str(out))
    texts = [
        value
        for name in book.sheet_names
        for row in book.get_sheet_by_name(name).to_python()
        for value in row
        if isinstance(value, str)
    ]
    assert texts and not any(CONTROL_OR_ESCAPE.search(t) for t in texts)
    assert "=cmd|' /C calc'!A0" in texts and "x\u2401y" in texts


@pytest.mark.soffice
def test_branch_text_stays_text_in_libreoffice(tmp_path: Path) -> None:
    from .conftest import needs_soffice

    needs_soffice()
    out, cells, _ = checked_feedback(tmp_path)
    converted = convert(out, "xlsx", tmp_path / "lo")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wb = openpyxl.load_workbook(converted)
    assert_inert(wb)  # LibreOffice found no formula to keep
    ws = wb[SHEET]
    for field, text in FORMULA_TEXTS.items():
        assert ws[cells[field]].value == text


def test_a_control_character_in_every_field_of_a_problem_is_written(tmp_path: Path) -> None:
    """The crash of issue 8: a raw control character in a problem made openpyxl raise."""
    source, cells = filled_return(tmp_path)
    problem = Problem(
        "error",
        "Ô này cần một số; đã nhập «x\x01y».",
        "admitted",
        "Nhãn\x02",
        SHEET,
        cells["admitted"],
        "x\x01y_x0002_\ud800",
    )
    out = write_feedback(
        source, [problem], tmp_path / "fb.xlsx", branch_name="Chi bộ\x03", verdict="x\x04"
    )
    assert_inert(openpyxl.load_workbook(out))
    # and with nothing to annotate (a file openpyxl cannot open) as well
    broken = tmp_path / "hong\x05.xlsx"
    broken.write_bytes(b"PK\x03\x04 broken")
    assert_inert(
        openpyxl.load_workbook(write_feedback(broken, [problem], tmp_path / "b.xlsx", verdict="x"))
    )


_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


@pytest.mark.parametrize(
    ("name", "edit"),
    [
        (
            "a prefixed merge",
            _before("</mergeCells>", f'<x:mergeCell xmlns:x="{_MAIN}" ref="E1:Z200000"/>'),
        ),
        (
            "a quoted > before the range",
            _before("</mergeCells>", '<mergeCell a=">" ref="E1:Z200000"/>'),
        ),
        ("single quotes and spaces", _before("</mergeCells>", "<mergeCell  ref = 'E1:Z200000' />")),
        (
            "character references",
            _before("</mergeCells>", '<mergeCell ref="&#69;1:&#x5A;200000"/>'),
        ),
        ("whole columns", _before("</mergeCells>", '<mergeCell ref="E:Z"/>')),
        (
            "a hyperlink over whole rows",
            _after(
                "</dataValidations>",
                "<hyperlinks><hyperlink ref='1:20' location='A1'/></hyperlinks>",
            ),
        ),
        (
            "ranges split by newlines",
            _after(
                "</mergeCells>",
                '<conditionalFormatting sqref="'
                + "\n".join(f"F{i}" for i in range(1, 30_000))
                + f'">{_CF}</conditionalFormatting>',
            ),
        ),
        ("a row past the sheet", _before("</sheetData>", '<row r="1048577"/>')),
        ("a column past the sheet", _before("</cols>", '<col min="1" max="16385"/>')),
        ("an unreadable range", _before("</mergeCells>", '<mergeCell ref="E1:ZZZZ9"/>')),
        (
            "a declared encoding other than UTF-8",
            lambda xml: '<?xml version="1.0" encoding="UTF-7"?>' + xml,
        ),
        ("a defined name longer than Excel allows", None),
    ],
)
def test_the_bounds_read_the_xml_as_its_parser_would(tmp_path: Path, name: str, edit: Any) -> None:
    from tonghop.intake._feedback_source import refusal
    from tonghop.intake._package import open_package

    source, _ = filled_return(tmp_path, "base.xlsx")
    assert refusal(open_package(source.read_bytes())) is None  # the usual return loads
    if edit is None:
        target = rewrite(
            source,
            tmp_path / "h.xlsx",
            lambda xml: xml.replace("'Báo cáo'!$B$1:$D$58", "'Báo cáo'!$B$1:$D$58" + " " * 9_000),
            part="book",
        )
    else:
        target = rewrite(source, tmp_path / "h.xlsx", edit)
    assert refusal(open_package(target.read_bytes())) is not None, name


def test_a_utf16_sheet_is_not_loaded(tmp_path: Path) -> None:
    from tonghop.intake._feedback_source import refusal
    from tonghop.intake._package import open_package

    source, _ = filled_return(tmp_path, "base.xlsx")
    target = tmp_path / "utf16.xlsx"
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                text = data.decode().replace(
                    "<mergeCells", '<mergeCells><mergeCell ref="E1:Z200000"/></mergeCells><y', 1
                )
                data = '<?xml version="1.0" encoding="UTF-16"?>'.encode("utf-16") + text.encode(
                    "utf-16-le"
                )
            dst.writestr(item.filename, data)
    assert refusal(open_package(target.read_bytes())) is not None


def test_our_own_feedback_sent_back_is_within_the_bounds(tmp_path: Path) -> None:
    from tonghop.intake._feedback_source import refusal
    from tonghop.intake._package import open_package

    source, cells = filled_return(tmp_path)
    out = write_feedback(source, problems_for(cells), tmp_path / "fb.xlsx", verdict="rejected")
    assert refusal(open_package(out.read_bytes())) is None


def test_a_file_name_with_control_characters_stays_one_visible_line(tmp_path: Path) -> None:
    name = "bao\ncao\x1b[31m.xlsx"
    note = write_unreadable_note(name, "Tệp bị hỏng\x07.", tmp_path / "note.txt")
    text = note.read_bytes().decode("utf-8-sig")
    assert "Tệp đã nhận: bao\u240acao\u241b[31m.xlsx\r\n" in text
    assert "Lý do: Tệp bị hỏng\u2407.\r\n" in text
    source, cells = filled_return(tmp_path)
    odd = source.with_name(name)
    source.rename(odd)
    out = write_feedback(odd, problems_for(cells), tmp_path / "fb.xlsx", verdict="rejected")
    wb = openpyxl.load_workbook(out)
    assert "Tệp đã nhận: bao\u240acao\u241b[31m.xlsx" in sheet_texts(wb[FEEDBACK_SHEET])
    assert_inert(wb)
