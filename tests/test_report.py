"""The Word report: the template's format (Hướng dẫn 36-HD/VPTW), its text and its errors.

The rendered .docx is read back with python-docx; when LibreOffice is installed the report
is also converted to PDF and read with pdftotext, to be sure it opens and shows the figures.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import unicodedata
import zipfile
from pathlib import Path

import docx
import pytest
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Cm, Mm, Pt
from lxml import etree

from tonghop import office
from tonghop.report import render as report
from tonghop.report.render import ReportTemplateError, ReportWriteError, render_report, write_pdf

from .report_context import sample_context

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "templates" / "bao-cao.docx"
TNR = "Times New Roman"
NASTY = "A & B <w:p> {{ x }} {% if %}"


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------
def render(tmp_path: Path, name: str = "bao-cao.docx", **overrides) -> docx.document.Document:
    out = render_report(TEMPLATE, sample_context(**overrides), tmp_path / name)
    return docx.Document(str(out))


def iter_paragraphs(container):
    """Every paragraph of a document or cell, tables included, in document order."""
    for block in container.iter_inner_content():
        if isinstance(block, docx.text.paragraph.Paragraph):
            yield block
        else:
            for row in block.rows:
                seen = set()
                for cell in row.cells:
                    if id(cell._tc) in seen:  # merged cells repeat
                        continue
                    seen.add(id(cell._tc))
                    yield from iter_paragraphs(cell)


def texts(document) -> list[str]:
    return [p.text for p in iter_paragraphs(document)]


def full_text(document) -> str:
    return "\n".join(texts(document))


def paragraph_with(document, needle: str):
    found = [p for p in iter_paragraphs(document) if needle in p.text]
    assert found, f"no paragraph contains {needle!r}"
    return found[0]


def styles_chain(paragraph):
    style = paragraph.style
    while style is not None:
        yield style
        style = style.base_style


def para_attr(paragraph, name: str):
    """A paragraph-format attribute, looked up in the paragraph then its style chain."""
    value = getattr(paragraph.paragraph_format, name)
    if value is not None:
        return value
    for style in styles_chain(paragraph):
        value = getattr(style.paragraph_format, name)
        if value is not None:
            return value
    return None


def run_attr(paragraph, run, name: str):
    """A font attribute of a run, looked up in the run then the paragraph's style chain."""
    value = getattr(run.font, name)
    if value is not None:
        return value
    for style in styles_chain(paragraph):
        value = getattr(style.font, name)
        if value is not None:
            return value
    return None


def text_runs(paragraph):
    return [r for r in paragraph.runs if r.text.strip()]


def assert_runs(paragraph, *, size=None, bold=None, italic=None, underline=None):
    runs = text_runs(paragraph)
    assert runs, f"no text in {paragraph.text!r}"
    for r in runs:
        if size is not None:
            assert run_attr(paragraph, r, "size") == Pt(size), paragraph.text
        if bold is not None:
            assert bool(run_attr(paragraph, r, "bold")) is bold, paragraph.text
        if italic is not None:
            assert bool(run_attr(paragraph, r, "italic")) is italic, paragraph.text
        if underline is not None:
            assert bool(run_attr(paragraph, r, "underline")) is underline, paragraph.text


HALF_MM = Mm(0.5)


def near(length, expected, tolerance=HALF_MM) -> bool:
    return abs(int(length) - int(expected)) <= int(tolerance)


def borders_absent(table) -> bool:
    tbl_pr = table._tbl.tblPr
    borders = tbl_pr.find(qn("w:tblBorders"))
    edges = list(borders) if borders is not None else []
    for tc in table._tbl.iter(qn("w:tc")):
        tc_borders = tc.find(f"{qn('w:tcPr')}/{qn('w:tcBorders')}")
        if tc_borders is not None:
            edges.extend(tc_borders)
    style_id = tbl_pr.find(qn("w:tblStyle"))
    return style_id is None and all(e.get(qn("w:val")) in ("nil", "none") for e in edges)


def table_with(document, needle: str):
    for table in document.tables:
        if any(needle in p.text for p in iter_paragraphs_table(table)):
            return table
    raise AssertionError(f"no table contains {needle!r}")


def iter_paragraphs_table(table):
    for row in table.rows:
        for cell in row.cells:
            yield from cell.paragraphs


def require_tool(found: str | None, what: str) -> str:
    """Skip locally when a tool is missing; in CI (CI=true) fail instead."""
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{what} is required in CI but was not found")
        pytest.skip(f"{what} is not installed on this machine")
    return found


def require_pdf_tools() -> None:
    require_tool(office.find_soffice(), "LibreOffice (soffice)")
    for tool in ("pdftotext", "pdfinfo"):
        require_tool(shutil.which(tool), f"{tool} (poppler-utils)")


def pdf_text(pdf: Path, first: int | None = None, last: int | None = None) -> str:
    command = ["pdftotext", "-layout"]
    if first:
        command += ["-f", str(first)]
    if last:
        command += ["-l", str(last)]
    result = subprocess.run(
        [*command, str(pdf), "-"], capture_output=True, text=True, check=True, timeout=60
    )
    return result.stdout


def pdf_pages(pdf: Path) -> int:
    result = subprocess.run(
        ["pdfinfo", str(pdf)], capture_output=True, text=True, check=True, timeout=60
    )
    return int(re.search(r"^Pages:\s+(\d+)", result.stdout, re.M).group(1))


# --------------------------------------------------------------------------------------
# the sample report, rendered once
# --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sample_path(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report") / "bao-cao.docx"
    return render_report(TEMPLATE, sample_context(), out)


@pytest.fixture(scope="module")
def doc(sample_path):
    """The sample report: 11 of its 12 branches counted, a draft."""
    return docx.Document(str(sample_path))


# What the context says when every branch is counted (the figures stay the sample's).
COMPLETE = {"complete": True, "term_complete": True, "missing": [], "not_counted": []}


@pytest.fixture(scope="module")
def complete_doc(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "bao-cao.docx"
    return docx.Document(str(render_report(TEMPLATE, sample_context(**COMPLETE), out)))


def test_template_exists_and_is_a_docx():
    assert TEMPLATE.is_file()
    assert zipfile.is_zipfile(TEMPLATE)


def test_render_returns_the_output_path_and_leaves_no_temporary_files(tmp_path):
    out = render_report(TEMPLATE, sample_context(), tmp_path / "bc.docx")
    assert out == tmp_path / "bc.docx"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bc.docx"]


# --- page -------------------------------------------------------------------------------
def test_page_is_a4_portrait_with_the_party_margins(doc):
    section = doc.sections[0]
    assert near(section.page_width, Mm(210))
    assert near(section.page_height, Mm(297))
    assert section.page_height > section.page_width
    assert near(section.top_margin, Mm(20))
    assert near(section.bottom_margin, Mm(20))
    assert near(section.left_margin, Mm(30))
    assert near(section.right_margin, Mm(15))


def test_times_new_roman_everywhere(doc, sample_path):
    styles = doc.styles.element
    default_fonts = styles.find(f"{qn('w:docDefaults')}/{qn('w:rPrDefault')}/{qn('w:rPr')}")
    default_fonts = default_fonts.find(qn("w:rFonts"))
    for slot in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        assert default_fonts.get(qn(slot)) == TNR
    normal = doc.styles["Normal"]
    assert normal.font.name == TNR
    normal_fonts = normal.element.rPr.find(qn("w:rFonts"))
    assert normal_fonts.get(qn("w:eastAsia")) == TNR
    assert normal_fonts.get(qn("w:cs")) == TNR
    # no part of the package names another font, or a theme font that would override TNR
    with zipfile.ZipFile(sample_path) as package:
        for name in package.namelist():
            if not re.match(r"word/(document|styles|header\d*|footer\d*)\.xml$", name):
                continue
            root = etree.fromstring(package.read(name))
            for fonts in root.iter(qn("w:rFonts")):
                for attribute, value in fonts.attrib.items():
                    assert not attribute.lower().endswith("theme"), (name, attribute)
                    assert value == TNR, (name, attribute, value)


def test_body_text_format(doc):
    for needle in ("tổng số đảng viên cuối kỳ", "Trên đây là báo cáo", "- Chi bộ Công an:"):
        p = paragraph_with(doc, needle)
        assert para_attr(p, "alignment") == WD_ALIGN_PARAGRAPH.JUSTIFY
        assert near(para_attr(p, "first_line_indent"), Cm(1.27), Mm(0.2))
        spacing = para_attr(p, "line_spacing")
        if isinstance(spacing, float):
            assert 1.0 <= spacing <= 1.5
        else:
            assert Pt(18) <= spacing <= Pt(20)
        assert para_attr(p, "space_after") == Pt(6)
        assert_runs(p, size=14, bold=False, italic=False)


# --- header -----------------------------------------------------------------------------
def test_header_is_a_borderless_two_column_table(doc):
    header = doc.tables[0]
    assert len(header.columns) == 2
    assert borders_absent(header)
    left = [p for p in header.columns[0].cells[0].paragraphs if p.text.strip()]
    assert [p.text for p in left] == ["ĐẢNG BỘ QUẬN THỐT NỐT", "ĐẢNG ỦY PHƯỜNG TÂN LỘC", "*"]
    assert_runs(left[0], size=14, bold=False)
    assert_runs(left[1], size=14, bold=True)
    for p in [*header.columns[0].cells[0].paragraphs, *header.columns[1].cells[0].paragraphs]:
        assert para_attr(p, "alignment") == WD_ALIGN_PARAGRAPH.CENTER


def test_party_name_is_bold_15_with_a_solid_line_under_it(doc):
    p = paragraph_with(doc, "ĐẢNG CỘNG SẢN VIỆT NAM")
    assert p.text == "ĐẢNG CỘNG SẢN VIỆT NAM"
    assert_runs(p, size=15, bold=True)
    assert para_attr(p, "alignment") == WD_ALIGN_PARAGRAPH.CENTER
    bottom = p._p.pPr.find(f"{qn('w:pBdr')}/{qn('w:bottom')}")
    underlined = all(r.underline for r in text_runs(p))
    assert underlined or (bottom is not None and bottom.get(qn("w:val")) == "single")


def test_number_line_has_no_colon(doc):
    p = paragraph_with(doc, "-BC/")
    assert p.text == "Số 25-BC/ĐU"
    assert_runs(p, size=14, bold=False)
    assert para_attr(p, "alignment") == WD_ALIGN_PARAGRAPH.CENTER


def test_draft_number_is_left_blank(tmp_path):
    p = paragraph_with(render(tmp_path, number=""), "-BC/")
    assert re.fullmatch(r"Số {3,}-BC/ĐU", p.text), repr(p.text)


def test_place_and_date_italic_14(doc):
    p = paragraph_with(doc, "Tân Lộc, ngày")
    assert p.text == "Tân Lộc, ngày 16 tháng 6 năm 2024"
    assert_runs(p, size=14, italic=True, bold=False)
    assert para_attr(p, "alignment") == WD_ALIGN_PARAGRAPH.CENTER


def test_date_leading_zeros(tmp_path):
    import datetime as dt

    document = render(tmp_path, date=dt.date(2024, 2, 5))
    assert "Tân Lộc, ngày 05 tháng 02 năm 2024" in texts(document)


# --- title --------------------------------------------------------------------------------
def test_title_summary_and_rule(doc):
    paragraphs = list(iter_paragraphs(doc))
    index = next(i for i, p in enumerate(paragraphs) if p.text == "BÁO CÁO")
    title, summary, rule = paragraphs[index : index + 3]
    assert_runs(title, size=16, bold=True)
    assert summary.text == (
        "kết quả công tác xây dựng Đảng 6 tháng đầu năm 2024 và phương hướng, nhiệm vụ "
        "6 tháng cuối năm 2024"
    )
    assert_runs(summary, size=14, bold=True)
    assert re.fullmatch(r"-{3,}", rule.text)
    for p in (title, summary, rule):
        assert para_attr(p, "alignment") == WD_ALIGN_PARAGRAPH.CENTER
        assert not para_attr(p, "first_line_indent")


def test_sections_and_headings_in_order(doc):
    headings = [
        "I- KẾT QUẢ THỰC HIỆN",
        "1. Công tác chính trị, tư tưởng",
        "2. Công tác tổ chức, cán bộ và xây dựng đội ngũ đảng viên",
        "3. Công tác kiểm tra, giám sát và thi hành kỷ luật Đảng",
        "4. Công tác dân vận, an sinh xã hội",
        "II- ĐÁNH GIÁ CHUNG",
        "1. Ưu điểm",
        "2. Hạn chế",
        "3. Kiến nghị, đề xuất",
        "III- PHƯƠNG HƯỚNG, NHIỆM VỤ 6 THÁNG CUỐI NĂM 2024",
        "PHỤ LỤC",
    ]
    all_texts = texts(doc)
    positions = [all_texts.index(h) for h in headings]
    assert positions == sorted(positions)
    for heading in headings:
        assert_runs(paragraph_with(doc, heading), bold=True)


# --- page numbers -------------------------------------------------------------------------
def test_page_numbers_from_page_two(doc):
    section = doc.sections[0]
    assert section.different_first_page_header_footer
    assert section._sectPr.find(qn("w:titlePg")) is not None
    assert not section.first_page_header.is_linked_to_previous
    assert all(not p.text.strip() for p in section.first_page_header.paragraphs)
    header = section.header
    instructions = [i.text.strip() for i in header._element.iter(qn("w:instrText"))]
    simple = [f.get(qn("w:instr")).strip() for f in header._element.iter(qn("w:fldSimple"))]
    assert "PAGE" in instructions + simple
    numbered = [p for p in header.paragraphs if p.text.strip()]
    assert numbered and all(
        para_attr(p, "alignment") == WD_ALIGN_PARAGRAPH.CENTER for p in numbered
    )


# --- signature ----------------------------------------------------------------------------
def test_signature_block(doc):
    table = table_with(doc, "Nơi nhận:")
    assert len(table.columns) == 2
    assert borders_absent(table)
    left, right = table.rows[0].cells
    lines = [p for p in left.paragraphs if p.text.strip()]
    assert lines[0].text == "Nơi nhận:"
    assert_runs(lines[0], size=14, underline=True)
    assert [p.text for p in lines[1:]] == [
        "- Ban Thường vụ Quận ủy (báo cáo),",
        "- Các chi bộ trực thuộc,",
        "- Lưu Văn phòng Đảng ủy.",
    ]
    for p in lines[1:]:
        assert_runs(p, size=12)

    paragraphs = right.paragraphs
    shown = [p.text for p in paragraphs]
    on_behalf = shown.index("T/M ĐẢNG ỦY")
    assert shown[on_behalf + 1] == "BÍ THƯ"
    name = shown.index("Nguyễn Thị Thu Bạch")
    gap = shown[on_behalf + 2 : name]
    assert len(gap) >= 3 and all(not g.strip() for g in gap)
    assert_runs(paragraphs[on_behalf], size=14, bold=True)
    assert_runs(paragraphs[on_behalf + 1], size=14, bold=False)
    assert_runs(paragraphs[name], size=14, bold=True)
    for p in paragraphs:
        assert para_attr(p, "alignment") == WD_ALIGN_PARAGRAPH.CENTER


def test_recipients_list_is_the_configuration(tmp_path):
    document = render(tmp_path, recipients=["Thường trực Quận ủy (báo cáo)"])
    left = table_with(document, "Nơi nhận:").rows[0].cells[0]
    assert [p.text for p in left.paragraphs if p.text.strip()] == [
        "Nơi nhận:",
        "- Thường trực Quận ủy (báo cáo),",
        "- Lưu Văn phòng Đảng ủy.",
    ]


@pytest.mark.parametrize(
    "office_copy", ["Lưu Văn phòng Đảng ủy", "Lưu VP", "Lưu: Văn phòng Đảng ủy.", "lưu vp"]
)
def test_office_copy_is_listed_once_even_when_configured(tmp_path, office_copy):
    from tonghop.report.context import recipients_before_office_copy

    configured = ["Thường trực Quận ủy (báo cáo)", office_copy, "Các chi bộ trực thuộc"]
    recipients = recipients_before_office_copy(configured)
    document = render(tmp_path, recipients=recipients)
    left = table_with(document, "Nơi nhận:").rows[0].cells[0]
    shown = [p.text for p in left.paragraphs if p.text.strip()]
    assert shown == [
        "Nơi nhận:",
        "- Thường trực Quận ủy (báo cáo),",
        "- Các chi bộ trực thuộc,",
        "- Lưu Văn phòng Đảng ủy.",
    ]
    assert sum("Lưu" in line for line in shown) == 1


def test_recipients_not_an_office_copy_are_kept():
    from tonghop.report.context import recipients_before_office_copy

    kept = ["Ban Thường vụ Thành ủy (báo cáo)", "Lưu trữ lịch sử Đảng bộ", "Văn phòng Thành ủy"]
    assert recipients_before_office_copy(kept) == kept


# --- appendix -----------------------------------------------------------------------------
def test_appendix_table(doc):
    context = sample_context()
    table = table_with(doc, "STT")
    assert len(table.rows) == len(context["branches"]) + 2
    header = [c.text for c in table.rows[0].cells]
    assert header == [
        "STT",
        "Chi bộ",
        "Đảng viên đầu kỳ",
        "Kết nạp",
        "Đưa ra khỏi Đảng",
        "Đảng viên cuối kỳ",
        "Kiểm tra, giám sát (lượt)",
        "Tình trạng",
    ]
    assert table.rows[0]._tr.trPr.find(qn("w:tblHeader")) is not None
    rows = [[c.text for c in row.cells] for row in table.rows[1:-1]]
    assert [r[0] for r in rows] == [str(i) for i in range(1, len(rows) + 1)]
    assert rows[0] == ["1", "Khu vực Lân Thạnh 1", "48", "1", "0", "50", "2", "Đã nộp"]
    assert rows[3][-1] == "Nộp muộn"
    assert rows[-1][1] == "Trường Tiểu học Tân Lộc 1"
    assert rows[-1][2:] == ["–", "–", "–", "–", "–", "Chưa nộp"]
    total = [c.text for c in table.rows[-1].cells]
    assert total[0] == "Tổng cộng"
    assert total[2:] == ["352", "7", "2", "357", "18", "11/12"]
    assert "Các chi bộ chưa nộp báo cáo: Trường Tiểu học Tân Lộc 1." in texts(doc)
    assert para_attr(paragraph_with(doc, "PHỤ LỤC"), "page_break_before")


def test_branch_names_that_already_say_chi_bo(tmp_path):
    context = sample_context()
    for branch in context["branches"]:
        branch["name"] = f"Chi bộ {branch['name']}"
    narrative = context["narrative"]
    narrative["highlights"][0]["branch"] = "Chi bộ Khu vực Lân Thạnh 1"
    missing = [{"code": "CB12", "name": "Chi bộ Trường Tiểu học Tân Lộc 1"}]
    document = render(tmp_path, branches=context["branches"], narrative=narrative, missing=missing)
    text = full_text(document)
    assert "Chi bộ Chi bộ" not in text
    assert "- Chi bộ Khu vực Lân Thạnh 1: Vận động" in text
    rows = table_with(document, "STT").rows
    assert rows[1].cells[1].text == "Khu vực Lân Thạnh 1"
    assert "Các chi bộ chưa nộp báo cáo: Trường Tiểu học Tân Lộc 1." in texts(document)


def test_appendix_without_missing_branches(tmp_path):
    document = render(tmp_path, missing=[])
    assert "Các chi bộ chưa nộp báo cáo" not in full_text(document)
    assert "chưa nộp báo cáo 6 tháng" not in full_text(document)


# --- text and figures ---------------------------------------------------------------------
EXPECTED_PHRASES = [
    "huy động được 8,86 tỉ đồng hỗ trợ xây mới 192 căn, sửa chữa 19 căn nhà Đại đoàn kết",
    "tăng 8 đồng chí so với cùng kỳ năm trước",
    "đã kiểm tra, giám sát 106 lượt chi bộ",
    "kiểm tra 1 chi bộ, 6 đồng chí đảng viên có dấu hiệu vi phạm",
    "không có trường hợp vi phạm phải thi hành kỷ luật",
    "Lũy kế từ đầu nhiệm kỳ đến nay",
    "trên cơ sở báo cáo của 11/12 chi bộ trực thuộc",
    "đảng viên nữ có 118 đồng chí, chiếm 33,1%",
    "đã vận động được 1,28 tỉ đồng hỗ trợ xây mới 17 căn, sửa chữa 3 căn nhà Đại đoàn kết",
    "hỗ trợ 88 hộ nghèo, cận nghèo, có hoàn cảnh khó khăn",
    "- Chi bộ Khu vực Lân Thạnh 1: Vận động Nhân dân hiến đất",
    "- Chi bộ Khu vực Tân Mỹ: Chất lượng sinh hoạt chi bộ",
    "- Chi bộ Khu vực Tân Lợi 2: Đề nghị Đảng ủy quan tâm",
    "+ Chi bộ Khu vực Lân Thạnh 2: Phấn đấu kết nạp 02 đảng viên",
    "- Còn 1 chi bộ chưa nộp báo cáo 6 tháng đầu năm 2024: Trường Tiểu học Tân Lộc 1",
    "- Xây mới nhà Đại đoàn kết: thực hiện 192/200 căn, đạt 96% chỉ tiêu.",
    "- Kết nạp đảng viên mới: thực hiện 60/60 đồng chí, đạt 100% chỉ tiêu;",
    "duy trì nền nếp sinh hoạt định kỳ với 66 buổi và tổ chức 11 buổi sinh hoạt chuyên đề",
]
# With 11 of 12 branches counted, totals and shares say whose they are.
PARTIAL_PHRASES = [
    "Theo báo cáo của 11/12 chi bộ, tổng số đảng viên đầu kỳ của các chi bộ này là 352 đồng chí",
    "tổng số đảng viên cuối kỳ của các chi bộ này là 357 đồng chí",
    "theo báo cáo của 11/12 chi bộ, có 357 đồng chí đã xây dựng bản cam kết, chiếm 100% số "
    "đảng viên của các chi bộ này",
    "Cuối kỳ, theo báo cáo của 11/12 chi bộ, đảng viên nữ",
    "Lũy kế từ đầu nhiệm kỳ đến nay (chưa gồm số liệu 6 tháng đầu năm 2024 của 1 chi bộ chưa "
    "được tiếp nhận báo cáo), các chi bộ đã kết nạp được 60 đồng chí, đạt 100% chỉ tiêu",
    "Số liệu trong báo cáo này là của 11/12 chi bộ đã được tiếp nhận báo cáo; chưa có số liệu "
    "của 1 chi bộ chưa nộp báo cáo (Trường Tiểu học Tân Lộc 1).",
    "Đã tiếp nhận báo cáo: 11/12 chi bộ (Khu vực Lân Thạnh 1, Khu vực Lân Thạnh 2,",
]
# With every branch counted, the same figures are the whole organisation's.
COMPLETE_PHRASES = [
    "Tổng số đảng viên đầu kỳ của toàn Đảng bộ là 352 đồng chí",
    "nâng tổng số đảng viên toàn Đảng bộ lên 357 đồng chí",
    "Lũy kế từ đầu nhiệm kỳ đến nay, toàn Đảng bộ đã kết nạp được 60 đồng chí, đạt 100% chỉ "
    "tiêu cả nhiệm kỳ; rà soát, sàng lọc, đưa ra khỏi Đảng 22 đồng chí không còn đủ tư cách",
    "Đảng ủy chỉ đạo 100% cán bộ, đảng viên xây dựng bản cam kết tu dưỡng, rèn luyện",
]


@pytest.mark.parametrize("phrase", EXPECTED_PHRASES)
def test_figures_in_the_text(doc, complete_doc, phrase):
    assert phrase in full_text(doc)
    assert phrase.replace("- Còn 1 chi bộ", "") in full_text(complete_doc) or "Còn 1" in phrase


@pytest.mark.parametrize("phrase", PARTIAL_PHRASES)
def test_partial_figures_say_whose_they_are(doc, complete_doc, phrase):
    assert phrase in full_text(doc)
    assert phrase not in full_text(complete_doc)


@pytest.mark.parametrize("phrase", COMPLETE_PHRASES)
def test_complete_figures_are_the_whole_organisations(doc, complete_doc, phrase):
    assert phrase in full_text(complete_doc)
    assert phrase not in full_text(doc)


# a figure with its unit, or a share
FIGURE = re.compile(r"\d+(,\d+)? ?(%|đồng chí|lượt|buổi|căn|hộ|người|chi bộ|tỉ đồng|triệu đồng)")
QUALIFIERS = ("theo báo cáo của 11/12 chi bộ", "chưa gồm số liệu", "chi bộ đã được tiếp nhận")


def test_no_partial_figure_passes_for_the_whole_organisation(doc):
    """Between «I- KẾT QUẢ» and «II- ĐÁNH GIÁ», every sentence with a figure says whose
    figures they are (the targets' lines follow a sentence that does)."""
    body = texts(doc)
    results = body[body.index("I- KẾT QUẢ THỰC HIỆN") : body.index("II- ĐÁNH GIÁ CHUNG")]
    with_figures = [t for t in results if FIGURE.search(t) and not t.startswith("- ")]
    assert len(with_figures) >= 10
    for text in with_figures:
        assert any(q in text.lower() for q in QUALIFIERS), text
        assert "toàn Đảng bộ" not in text and "100% cán bộ" not in text
    assert "Tổng cộng" in full_text(doc)


def test_draft_mark_and_whose_figures_under_the_date(doc, complete_doc):
    header = doc.tables[0]
    right = [p.text for p in header.rows[1].cells[1].paragraphs]
    assert right[0] == "Tân Lộc, ngày 16 tháng 6 năm 2024"
    assert right[1:] == ["DỰ THẢO", "(Số liệu của 11/12 chi bộ)"]
    mark = header.rows[1].cells[1].paragraphs[1]
    assert_runs(mark, size=14, bold=True, italic=False)
    borders = mark._p.pPr.find(qn("w:pBdr"))
    assert borders is not None and len(borders) == 4  # a box around it
    # complete, still a draft: the mark without the x/y line
    right = [p.text for p in complete_doc.tables[0].rows[1].cells[1].paragraphs]
    assert right[1:] == ["DỰ THẢO"]


def test_final_report_has_no_draft_mark_and_its_number(tmp_path):
    document = render(tmp_path, final=True, draft=False, number="07", **COMPLETE)
    assert "DỰ THẢO" not in full_text(document)
    assert "Số 07-BC/ĐU" in texts(document)
    assert "(Kèm theo Báo cáo số 07-BC/ĐU, ngày 16 tháng 6 năm 2024)" in texts(document)


def test_returned_branches_are_not_listed_as_missing(tmp_path):
    context = sample_context()
    school = context["missing"][0] | {"group": "returned", "outcome": "Trả lại để sửa"}
    document = render(tmp_path, missing=[], returned=[school], not_counted=[school])
    text = full_text(document)
    assert "chưa nộp" not in text.replace("Chưa nộp", "")  # the appendix's column says so
    assert (
        "chưa có số liệu của 1 chi bộ đã nộp nhưng báo cáo bị trả lại để sửa "
        "(Trường Tiểu học Tân Lộc 1)." in text
    )
    assert (
        "- Có 1 chi bộ đã nộp nhưng báo cáo bị trả lại để sửa, chưa được tính vào số liệu: "
        "Trường Tiểu học Tân Lộc 1." in text
    )
    # the line's heading says «trả lại để sửa»: not repeated after the name
    assert "Các chi bộ đã nộp nhưng báo cáo bị trả lại để sửa: Trường Tiểu học Tân Lộc 1." in texts(
        document
    )


def test_appendix_names_what_else_became_of_a_returned_branch(tmp_path):
    """A branch in the returned group for another reason than a sent-back file keeps it."""
    context = sample_context()
    school = context["missing"][0] | {"group": "returned", "outcome": "Đã loại khỏi số liệu"}
    document = render(tmp_path, missing=[], returned=[school], not_counted=[school])
    assert (
        "Các chi bộ đã nộp nhưng báo cáo bị trả lại để sửa: Trường Tiểu học Tân Lộc 1 "
        "(đã loại khỏi số liệu)." in texts(document)
    )


def test_first_period_of_the_term_has_no_cumulative_sentence(tmp_path):
    text = full_text(render(tmp_path, cumulative=False, **COMPLETE))
    assert "Lũy kế" not in text
    assert "Kết quả thực hiện các chỉ tiêu của Nghị quyết Đại hội" in text


def test_statements_of_several_branches_are_one_line(tmp_path):
    said = {"text": "Đề nghị hỗ trợ kinh phí.", "branch": "Công an"}
    said["branches"] = ["Công an", "Chi bộ Quân sự", "Khu vực Tân Mỹ"]
    document = render(tmp_path, narrative={"proposals": [said]})
    assert "- Chi bộ Công an, Quân sự và Khu vực Tân Mỹ: Đề nghị hỗ trợ kinh phí." in texts(
        document
    )


def test_no_template_leftovers_no_english_no_decomposed_text(doc):
    text = full_text(doc)
    for leftover in ("{{", "}}", "{%", "%}", "None", "Undefined", "True", "False"):
        assert leftover not in text
    assert unicodedata.is_normalized("NFC", text)
    assert not re.search(r" %", text)


def test_half_year_report_has_no_ratings(doc):
    assert "xếp loại chất lượng" not in full_text(doc)


def test_annual_report_has_ratings(tmp_path):
    context = sample_context()
    branches = context["branches"]
    for branch, rating in zip(branches, ["HTXSNV", "HTXSNV", "HTTNV", "HTNV"], strict=False):
        branch["values"]["branch_rating"] = rating
    document = render(
        tmp_path,
        **COMPLETE,
        period={"code": "2024", "label": "năm 2024", "kind": "year", "year": 2024},
        next_period={"code": "2025", "label": "năm 2025"},
        total={"rated_excellent": 50, "rated_good": 250, "rated_completed": 20, "rated_failed": 0},
        branches=branches,
    )
    text = full_text(document)
    assert (
        "Kết quả đánh giá, xếp loại chất lượng đảng viên năm 2024: 50 đồng chí hoàn thành "
        "xuất sắc nhiệm vụ (15,6%); 250 đồng chí hoàn thành tốt nhiệm vụ (78,1%)" in text
    )
    assert "0 đồng chí không hoàn thành nhiệm vụ (0%)" in text
    assert "Về tổ chức đảng: 2 chi bộ hoàn thành xuất sắc nhiệm vụ, 1 chi bộ hoàn thành tốt" in text
    assert "III- PHƯƠNG HƯỚNG, NHIỆM VỤ NĂM 2025" in text


def test_without_last_year_there_is_no_comparison(tmp_path):
    text = full_text(render(tmp_path, last_year=None, change={}, **COMPLETE))
    assert "cùng kỳ năm trước" not in text
    assert "nâng tổng số đảng viên toàn Đảng bộ lên 357 đồng chí." in text


def test_discipline_is_reported_when_there_was_some(tmp_path):
    text = full_text(render(tmp_path, total={"disciplined": 1}, term={"disciplined": 2}))
    assert "thi hành kỷ luật 1 đồng chí" in text
    assert "thi hành kỷ luật 2 đồng chí vi phạm" in text
    assert "không có trường hợp vi phạm phải thi hành kỷ luật" not in text


def test_missing_figures_drop_their_sentences(tmp_path):
    text = full_text(
        render(
            tmp_path,
            total={"study_attendance": None, "funds_mobilized": None, "houses_built": 0,
                   "houses_repaired": 0},
            targets={},
            narrative={"highlights": [], "shortcomings": [], "proposals": [], "next_tasks": []},
            missing=[],
            complete=True,
            not_counted=[],
        )
    )  # fmt: skip
    assert "lượt đảng viên tham gia" not in text
    assert "Trong kỳ, đã vận động" not in text
    assert "5. Thực hiện các chỉ tiêu nhiệm kỳ" not in text
    assert "Các chi bộ không có kiến nghị, đề xuất." in text
    assert "Các chi bộ không nêu hạn chế" in text
    assert "Một số chi bộ có cách làm hay" not in text
    assert "huy động được 8,86 tỉ đồng" in text  # the term figures are still there


def test_falling_membership_is_not_raised(tmp_path):
    text = full_text(render(tmp_path, total={"members_start": 360, "members_end": 357}, **COMPLETE))
    assert "tổng số đảng viên toàn Đảng bộ hiện có 357 đồng chí" in text
    assert "nâng tổng số" not in text


# --- escaping ------------------------------------------------------------------------------
def test_narrative_is_printed_verbatim(tmp_path):
    narrative = sample_context()["narrative"]
    narrative["highlights"] = [{"branch": "Công an", "branches": ["Công an"], "text": NASTY}]
    document = render(tmp_path, narrative=narrative, committee={"place": "Tân Lộc & <Thốt Nốt>"})
    assert f"- Chi bộ Công an: {NASTY}" in texts(document)
    assert "Tân Lộc & <Thốt Nốt>, ngày 16 tháng 6 năm 2024" in texts(document)
    with zipfile.ZipFile(tmp_path / "bao-cao.docx") as package:
        etree.fromstring(package.read("word/document.xml"))  # still well-formed


def test_control_characters_and_decomposed_text_are_cleaned(tmp_path):
    narrative = sample_context()["narrative"]
    decomposed = unicodedata.normalize("NFD", "Hoàn thành tốt")
    narrative["highlights"] = [
        {"branch": "Công an", "branches": ["Công an"], "text": f"{decomposed}\x0b nhiệm vụ\x01"}
    ]
    document = render(tmp_path, narrative=narrative)
    assert "- Chi bộ Công an: Hoàn thành tốt nhiệm vụ" in texts(document)


# --- atomic writing and errors ------------------------------------------------------------
def tiny_template(path: Path, *lines: str) -> Path:
    document = docx.Document()
    for line in lines:
        document.add_paragraph(line)
    document.save(str(path))
    return path


@pytest.mark.parametrize(
    ("lines", "problem"),
    [
        (["Số {{ nope }}"], "biến «nope» không có trong dữ liệu"),
        (["{{ committee.nope }}"], "trường «nope» không có trong dữ liệu"),
        (["{% if %}có{% endif %}"], "thiếu biểu thức hoặc điều kiện"),
        (["{% if committee %}không đóng"], "chưa được đóng"),
        (["{{ committee.name|khong_co }}"], "bộ lọc «khong_co» không tồn tại"),
        (["{%tr for b in branches %}"], "đặt sai chỗ"),
        (["{{ committee.name + 1 }}"], "phép tính hoặc so sánh"),
        (["{{ 'x'|so }}"], "«x» không phải là số"),
        (["{{ ''.__class__.__mro__ }}"], "thao tác không được phép"),
    ],
)
def test_template_errors_are_vietnamese_and_name_the_template(tmp_path, lines, problem):
    template = tiny_template(tmp_path / "mau-loi.docx", "Mở đầu", *lines)
    out = tmp_path / "out" / "bc.docx"
    with pytest.raises(ReportTemplateError) as info:
        render_report(template, sample_context(), out)
    message = str(info.value)
    assert "mau-loi.docx" in message
    assert message.startswith("Mẫu báo cáo ")
    assert problem in message
    assert "Traceback" not in message
    assert not out.exists()


def test_error_message_shows_the_paragraph(tmp_path):
    template = tiny_template(tmp_path / "mau.docx", "Mở đầu", "Số {{ nope }}-BC/ĐU", "Kết thúc")
    with pytest.raises(ReportTemplateError, match=re.escape("tại đoạn «Số {{ nope }}-BC/ĐU»")):
        render_report(template, sample_context(), tmp_path / "bc.docx")


def test_error_in_the_page_header_says_so(tmp_path):
    document = docx.Document()
    document.add_paragraph("Thân")
    document.sections[0].header.paragraphs[0].text = "{{ nope }}"
    document.save(str(tmp_path / "mau.docx"))
    with pytest.raises(ReportTemplateError, match="phần đầu trang"):
        render_report(tmp_path / "mau.docx", sample_context(), tmp_path / "bc.docx")


def test_relative_template_path_is_shown_as_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "templates").mkdir()
    tiny_template(tmp_path / "templates" / "bao-cao.docx", "{{ x }}")
    with pytest.raises(ReportTemplateError) as info:
        render_report(Path("templates/bao-cao.docx"), sample_context(), Path("bc.docx"))
    assert str(info.value) == (
        "Mẫu báo cáo templates/bao-cao.docx có lỗi: biến «x» không có trong dữ liệu, "
        "tại đoạn «{{ x }}»."
    )


def test_missing_and_broken_templates(tmp_path):
    with pytest.raises(ReportTemplateError, match=r"Không tìm thấy mẫu báo cáo .*khong-co\.docx"):
        render_report(tmp_path / "khong-co.docx", sample_context(), tmp_path / "bc.docx")
    fake = tmp_path / "gia.docx"
    fake.write_text("không phải Word", encoding="utf-8")
    with pytest.raises(ReportTemplateError, match="không phải tệp Word"):
        render_report(fake, sample_context(), tmp_path / "bc.docx")


def test_failed_render_leaves_the_previous_report_untouched(tmp_path):
    out = tmp_path / "bc.docx"
    out.write_bytes(b"previous report")
    template = tiny_template(tmp_path / "mau.docx", "{{ nope }}")
    with pytest.raises(ReportTemplateError):
        render_report(template, sample_context(), out)
    assert out.read_bytes() == b"previous report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bc.docx", "mau.docx"]


def test_rendering_again_replaces_the_report(tmp_path):
    out = tmp_path / "bc.docx"
    render_report(TEMPLATE, sample_context(), out)
    render_report(TEMPLATE, sample_context(number="26"), out)
    assert "Số 26-BC/ĐU" in texts(docx.Document(str(out)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bc.docx"]


def test_unwritable_destination_is_a_write_error(tmp_path):
    blocker = tmp_path / "khong-phai-thu-muc"
    blocker.write_text("x", encoding="utf-8")
    with pytest.raises(ReportWriteError) as info:
        render_report(TEMPLATE, sample_context(), blocker / "bc.docx")
    assert "khong-phai-thu-muc" in str(info.value)


def test_write_pdf_without_libreoffice_returns_none(tmp_path, monkeypatch):
    monkeypatch.setattr(office, "find_soffice", lambda: None)
    out = render_report(TEMPLATE, sample_context(), tmp_path / "bc.docx")
    assert write_pdf(out) is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bc.docx"]


def test_environment_prefers_keys_over_dict_methods():
    env = report.make_environment()
    template = env.from_string("{{ b.values.admitted }}|{{ t.values()|list|length }}")
    assert template.render(b={"values": {"admitted": 3}}, t={"a": 1}) == "3|1"


# --- LibreOffice ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sample_pdf(sample_path) -> Path:
    require_pdf_tools()
    pdf = write_pdf(sample_path)
    assert pdf == sample_path.with_suffix(".pdf")
    return pdf


@pytest.mark.soffice
def test_pdf_opens_and_shows_the_report(sample_pdf):
    leftovers = [p.name for p in sample_pdf.parent.iterdir() if p.name.startswith(".")]
    assert leftovers == []
    text = " ".join(pdf_text(sample_pdf).split())
    for phrase in [
        "ĐẢNG CỘNG SẢN VIỆT NAM",
        "Tân Lộc, ngày 16 tháng 6 năm 2024",
        "BÁO CÁO",
        "tổng số đảng viên cuối kỳ của các chi bộ này là 357 đồng chí",
        "đạt 100% chỉ tiêu cả nhiệm kỳ",
        "DỰ THẢO",
        "8,86 tỉ đồng",
        "Nguyễn Thị Thu Bạch",
        "- Lưu Văn phòng Đảng ủy.",
        "PHỤ LỤC",
    ]:
        assert phrase in text, phrase
    pages = pdf_pages(sample_pdf)
    assert 3 <= pages <= 8


@pytest.mark.soffice
def test_pdf_page_numbers_start_on_page_two(sample_pdf):
    first = pdf_text(sample_pdf, 1, 1).strip().splitlines()
    second = pdf_text(sample_pdf, 2, 2).strip().splitlines()
    assert first[0].split()[0] != "1"  # page 1 opens with the header block, no number
    assert second[0].strip() == "2"


@pytest.mark.soffice
def test_pdf_of_a_nasty_narrative(tmp_path):
    require_pdf_tools()
    narrative = sample_context()["narrative"]
    narrative["highlights"] = [{"branch": "Công an", "branches": ["Công an"], "text": NASTY}]
    out = render_report(TEMPLATE, sample_context(narrative=narrative), tmp_path / "bc.docx")
    pdf = write_pdf(out)
    assert NASTY in " ".join(pdf_text(pdf).split())
