"""Build the first version of the report template ``templates/bao-cao.docx``.

This script is only how the first template was made. The secretary edits the generated
``.docx`` in Word afterwards; re-running the script overwrites those edits.

The layout follows Hướng dẫn 36-HD/VPTW (see /work/shared/context/party-document-format.md):
A4 portrait, margins 20/20/30/15 mm, Times New Roman 14 pt, justified body with a 1.27 cm
first-line indent, a borderless two-column header, page numbers from page 2 on, a
borderless two-column signature block, and an appendix table of the branches' figures.
The Jinja variables are those of ``docs/report-context.md``.

Usage: ``python tools/make_report_template.py [OUTPUT.docx]``
"""

from __future__ import annotations

import sys
from pathlib import Path

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Mm, Pt
from docx.table import Table, _Cell
from docx.text.paragraph import Paragraph

FONT = "Times New Roman"
BODY_SIZE = Pt(14)
FIRST_LINE = Cm(1.27)
LINE_SPACING = 1.2
SPACE_AFTER = Pt(6)

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "templates" / "bao-cao.docx"
CENTER = WD_ALIGN_PARAGRAPH.CENTER
LEFT = WD_ALIGN_PARAGRAPH.LEFT


# --------------------------------------------------------------------------------------
# Styles and page
# --------------------------------------------------------------------------------------
def _set_fonts(rpr) -> None:
    """All four font slots in Times New Roman, no theme fonts (they would win in Word)."""
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    for attribute in list(fonts.attrib):
        if attribute.endswith("Theme") or attribute.endswith("theme"):
            del fonts.attrib[attribute]
    for slot in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(slot), FONT)


def _set_complex_size(rpr, half_points: int) -> None:
    """``w:szCs`` (size of complex-script text) next to ``w:sz``, as Word writes it."""
    size_cs = rpr.find(qn("w:szCs"))
    if size_cs is None:
        size_cs = OxmlElement("w:szCs")
        rpr.find(qn("w:sz")).addnext(size_cs)
    size_cs.set(qn("w:val"), str(half_points))


def setup_styles(document) -> None:
    styles_element = document.styles.element
    # Document defaults: every style, table and header inherits these.
    rpr_default = (
        styles_element.find(qn("w:docDefaults")).find(qn("w:rPrDefault")).find(qn("w:rPr"))
    )
    _set_fonts(rpr_default)
    for tag in ("w:sz", "w:szCs"):
        rpr_default.find(qn(tag)).set(qn("w:val"), "28")
    lang = rpr_default.find(qn("w:lang"))
    lang.set(qn("w:val"), "vi-VN")
    lang.set(qn("w:eastAsia"), "vi-VN")
    ppr_default = (
        styles_element.find(qn("w:docDefaults")).find(qn("w:pPrDefault")).find(qn("w:pPr"))
    )
    spacing = ppr_default.find(qn("w:spacing"))
    spacing.set(qn("w:after"), "120")
    spacing.set(qn("w:line"), "288")
    # Any style that names a theme font would escape Times New Roman: rewrite them all.
    for rfonts in styles_element.iter(qn("w:rFonts")):
        _set_fonts(rfonts.getparent())

    normal = document.styles["Normal"]
    normal.font.name = FONT
    normal.font.size = BODY_SIZE
    _set_fonts(normal.element.get_or_add_rPr())
    _set_complex_size(normal.element.get_or_add_rPr(), 28)
    fmt = normal.paragraph_format
    fmt.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
    fmt.first_line_indent = FIRST_LINE
    fmt.line_spacing = LINE_SPACING
    fmt.space_before = Pt(0)
    fmt.space_after = SPACE_AFTER
    fmt.widow_control = True
    for name in ("Header", "Footer"):
        if name in [s.name for s in document.styles]:
            style = document.styles[name]
            style.font.name = FONT
            style.font.size = BODY_SIZE


def setup_page(section) -> None:
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width = Mm(210)
    section.page_height = Mm(297)
    section.top_margin = Mm(20)
    section.bottom_margin = Mm(20)
    section.left_margin = Mm(30)
    section.right_margin = Mm(15)
    section.header_distance = Mm(10)
    section.footer_distance = Mm(10)
    section.gutter = Mm(0)


# --------------------------------------------------------------------------------------
# Paragraph helpers
# --------------------------------------------------------------------------------------
def fmt(
    paragraph: Paragraph,
    *,
    align=None,
    indent: bool = True,
    after=None,
    before=None,
    single: bool = False,
    keep_next: bool = False,
) -> Paragraph:
    pf = paragraph.paragraph_format
    if align is not None:
        pf.alignment = align
    if not indent:
        pf.first_line_indent = Cm(0)
    if after is not None:
        pf.space_after = after
    if before is not None:
        pf.space_before = before
    if single:
        pf.line_spacing_rule = WD_LINE_SPACING.SINGLE
    if keep_next:
        pf.keep_with_next = True
    return paragraph


def run(paragraph: Paragraph, text: str, *, bold=None, italic=None, underline=None, size=None):
    r = paragraph.add_run(text)
    if bold is not None:
        r.bold = bold
    if italic is not None:
        r.italic = italic
    if underline is not None:
        r.underline = underline
    if size is not None:
        r.font.size = Pt(size)
        _set_complex_size(r._r.get_or_add_rPr(), int(size * 2))
    return r


def cell_paragraph(cell: _Cell, first: list[bool]) -> Paragraph:
    """The cell's initial empty paragraph the first time, a new one afterwards."""
    if first[0]:
        first[0] = False
        return cell.paragraphs[0]
    return cell.add_paragraph()


def line(cell: _Cell, first: list[bool], text: str, *, align=CENTER, size=14, **style):
    p = fmt(cell_paragraph(cell, first), align=align, indent=False, after=Pt(0), single=True)
    if text:
        run(p, text, size=size, **style)
    return p


def add_page_field(paragraph: Paragraph) -> None:
    """A PAGE field (complex field, as Word writes it), showing 2 until updated."""

    def field_char(kind: str):
        r = run(paragraph, "", size=14)
        element = OxmlElement("w:fldChar")
        element.set(qn("w:fldCharType"), kind)
        r._r.append(element)

    field_char("begin")
    r = run(paragraph, "", size=14)
    instr = OxmlElement("w:instrText")
    instr.set(qn("xml:space"), "preserve")
    instr.text = " PAGE "
    r._r.append(instr)
    field_char("separate")
    run(paragraph, "2", size=14)
    field_char("end")


def bottom_border(paragraph: Paragraph, size_eighths: int = 6) -> None:
    ppr = paragraph._p.get_or_add_pPr()
    borders = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    bottom.set(qn("w:val"), "single")
    bottom.set(qn("w:sz"), str(size_eighths))
    bottom.set(qn("w:space"), "1")
    bottom.set(qn("w:color"), "auto")
    borders.append(bottom)
    # pBdr comes before spacing/ind/jc in the schema sequence
    anchor = None
    for tag in ("w:shd", "w:tabs", "w:spacing", "w:ind", "w:jc"):
        anchor = ppr.find(qn(tag))
        if anchor is not None:
            break
    if anchor is not None:
        anchor.addprevious(borders)
    else:
        ppr.append(borders)


# --------------------------------------------------------------------------------------
# Table helpers
# --------------------------------------------------------------------------------------
def _borders(tag: str, value: str, size: int = 0):
    element = OxmlElement(tag)
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        if tag == "w:tcBorders" and edge.startswith("inside"):
            continue
        e = OxmlElement(f"w:{edge}")
        e.set(qn("w:val"), value)
        if value != "nil":
            e.set(qn("w:sz"), str(size))
            e.set(qn("w:space"), "0")
            e.set(qn("w:color"), "auto")
        element.append(e)
    return element


def make_table(container, rows: int, widths_mm: list[float], *, borders: bool) -> Table:
    table = container.add_table(rows=rows, cols=len(widths_mm))
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    tbl_pr = table._tbl.tblPr
    for old in tbl_pr.findall(qn("w:tblBorders")):
        tbl_pr.remove(old)
    border_element = (
        _borders("w:tblBorders", "single", 4) if borders else _borders("w:tblBorders", "nil")
    )
    # tblBorders goes after jc (and tblInd) and before tblLayout/tblCellMar/tblLook
    successor = None
    for tag in ("w:shd", "w:tblLayout", "w:tblCellMar", "w:tblLook"):
        successor = tbl_pr.find(qn(tag))
        if successor is not None:
            break
    if successor is not None:
        successor.addprevious(border_element)
    else:
        tbl_pr.append(border_element)
    width = OxmlElement("w:tblW")
    tbl_pr.remove(tbl_pr.find(qn("w:tblW")))
    width.set(qn("w:w"), str(int(sum(widths_mm) * 56.6929)))
    width.set(qn("w:type"), "dxa")
    tbl_pr.insert(1 if tbl_pr.find(qn("w:tblStyle")) is not None else 0, width)
    for index, column in enumerate(table.columns):
        column.width = Mm(widths_mm[index])
        for cell in column.cells:
            cell.width = Mm(widths_mm[index])
            if not borders:
                cell._tc.get_or_add_tcPr().append(_borders("w:tcBorders", "nil"))
    return table


def narrow_cell_margins(table: Table, mm: float = 1.0) -> None:
    """Left and right cell padding of ``mm`` (Word's default is 1.9 mm)."""
    margins = OxmlElement("w:tblCellMar")
    for side in ("left", "right"):
        e = OxmlElement(f"w:{side}")
        e.set(qn("w:w"), str(round(mm * 56.6929)))
        e.set(qn("w:type"), "dxa")
        margins.append(e)
    tbl_pr = table._tbl.tblPr
    look = tbl_pr.find(qn("w:tblLook"))
    if look is not None:
        look.addprevious(margins)
    else:
        tbl_pr.append(margins)


def cant_split(row) -> None:
    row._tr.get_or_add_trPr().append(OxmlElement("w:cantSplit"))


def repeat_header(row) -> None:
    tr_pr = row._tr.get_or_add_trPr()
    element = OxmlElement("w:tblHeader")
    tr_pr.append(element)


# --------------------------------------------------------------------------------------
# The document's parts
# --------------------------------------------------------------------------------------
def build_header_block(document) -> None:
    """Issuer / number on the left, party name / place and date on the right."""
    # The right column is wider: a long place name with the date must stay on one line.
    table = make_table(document, 2, [72, 93], borders=False)
    narrow_cell_margins(table, 0.0)
    left, right = table.cell(0, 0), table.cell(0, 1)
    first_left, first_right = [True], [True]
    line(left, first_left, "{{ committee.superior }}", bold=False)
    line(left, first_left, "{{ committee.name }}", bold=True)
    line(left, first_left, "*", bold=False)
    party = line(right, first_right, "ĐẢNG CỘNG SẢN VIỆT NAM", bold=True, size=15)
    # the solid line under the words: a bottom border, indented to about the words' width
    party.paragraph_format.left_indent = Cm(0.9)
    party.paragraph_format.right_indent = Cm(0.9)
    bottom_border(party)

    number_cell, date_cell = table.cell(1, 0), table.cell(1, 1)
    line(
        number_cell,
        [True],
        "Số {{ number or '     ' }}-BC/{{ committee.symbol }}",
        bold=False,
    ).paragraph_format.space_before = Pt(6)
    line(
        date_cell, [True], "{{ committee.place }}, {{ date|ngay }}", italic=True
    ).paragraph_format.space_before = Pt(6)
    for cell in (left, right, number_cell, date_cell):
        cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.TOP


def build_title(document) -> None:
    p = fmt(
        document.add_paragraph(),
        align=CENTER,
        indent=False,
        before=Pt(18),
        after=Pt(0),
        single=True,
        keep_next=True,
    )
    run(p, "BÁO CÁO", bold=True, size=16)
    p = fmt(
        document.add_paragraph(),
        align=CENTER,
        indent=False,
        after=Pt(0),
        single=True,
        keep_next=True,
    )
    run(p, "{{ title_summary }}", bold=True, size=14)
    p = fmt(document.add_paragraph(), align=CENTER, indent=False, after=Pt(12), single=True)
    run(p, "-----", size=14)


# Body: (kind, text). kinds: h1 "I- ..." (bold), h2 "1. ..." (bold), h3 "a) ..." (bold
# italic), p body text, ctl a docxtpl {%p ... %} control paragraph (removed when rendered).
BODY: list[tuple[str, str]] = [
    (
        "p",
        "Thực hiện chương trình công tác {{ period.label }} của Ban Chấp hành Đảng bộ nhiệm "
        "kỳ {{ committee.term }}, trên cơ sở báo cáo của {{ reported_count|so }}/"
        "{{ expected_count|so }} chi bộ trực thuộc, Đảng ủy báo cáo kết quả công tác xây dựng "
        "Đảng {{ period.label }} và phương hướng, nhiệm vụ {{ next_period.label }} như sau:",
    ),
    ("h1", "I- KẾT QUẢ THỰC HIỆN"),
    # ---- 1. political and ideological work
    ("h2", "1. Công tác chính trị, tư tưởng"),
    (
        "p",
        "Đảng ủy tiếp tục lãnh đạo, chỉ đạo các chi bộ trực thuộc thực hiện tốt công tác "
        "chính trị, tư tưởng; quán triệt, học tập và triển khai thực hiện các chỉ thị, nghị "
        "quyết, kết luận của Đảng; đẩy mạnh học tập và làm theo tư tưởng, đạo đức, phong cách Hồ "
        "Chí Minh gắn với thực hiện Nghị quyết Trung ương 4 (khóa XII) và Kết luận số 21-KL/TW "
        "của Ban Chấp hành Trung ương Đảng (khóa XIII) về đẩy mạnh xây dựng, chỉnh đốn Đảng và hệ "
        "thống chính trị.",
    ),
    ("ctl", "{%p if total.study_attendance is not none %}"),
    (
        "p",
        "Trong kỳ, các chi bộ đã tổ chức cho cán bộ, đảng viên học tập, quán triệt các chỉ "
        "thị, nghị quyết của Đảng với {{ total.study_attendance|so }} lượt đảng viên tham gia"
        "{% if last_year and last_year.study_attendance is not none %} (cùng kỳ năm trước "
        "{{ last_year.study_attendance|so }} lượt){% endif %}.",
    ),
    ("ctl", "{%p endif %}"),
    ("ctl", "{%p if total.regular_meetings is not none %}"),
    (
        "p",
        "Các chi bộ duy trì nền nếp sinh hoạt định kỳ với {{ total.regular_meetings|so }} "
        "cuộc{% if total.thematic_meetings is not none %} và tổ chức "
        "{{ total.thematic_meetings|so }} cuộc sinh hoạt chuyên đề{% endif %}; nội dung sinh hoạt "
        "ngày càng thiết thực, gắn với nhiệm vụ chính trị của địa phương, đơn vị.",
    ),
    ("ctl", "{%p endif %}"),
    ("ctl", "{%p if share.commitments is not none %}"),
    (
        "p",
        "Đảng ủy chỉ đạo {{ share.commitments|phantram }} cán bộ, đảng viên xây dựng bản cam "
        "kết tu dưỡng, rèn luyện theo tư tưởng, đạo đức, phong cách Hồ Chí Minh và cam kết không "
        "có biểu hiện suy thoái về tư tưởng chính trị, đạo đức, lối sống "
        "({{ total.commitments|so }} bản cam kết).",
    ),
    ("ctl", "{%p elif total.commitments is not none %}"),
    (
        "p",
        "Đảng ủy chỉ đạo cán bộ, đảng viên xây dựng bản cam kết tu dưỡng, rèn luyện theo tư "
        "tưởng, đạo đức, phong cách Hồ Chí Minh; toàn Đảng bộ có {{ total.commitments|so }} bản "
        "cam kết.",
    ),
    ("ctl", "{%p endif %}"),
    # ---- 2. organisation, cadres and members
    ("h2", "2. Công tác tổ chức, cán bộ và xây dựng đội ngũ đảng viên"),
    (
        "p",
        "Đảng ủy thực hiện tốt công tác tổ chức xây dựng Đảng; các chi bộ chú trọng công tác "
        "quy hoạch, tạo nguồn, bồi dưỡng quần chúng ưu tú, nâng cao chất lượng đội ngũ đảng viên.",
    ),
    ("ctl", "{%p if total.members_end is not none %}"),
    (
        "p",
        "{% if total.members_start is not none %}Đầu kỳ, toàn Đảng bộ có "
        "{{ total.members_start|so }} đảng viên. {% endif %}Trong kỳ, kết nạp "
        "{{ total.admitted|so }} đảng viên mới{% if total.restored %}, phục hồi đảng tịch "
        "{{ total.restored|so }} đồng chí{% endif %}{% if total.transferred_in %}, tiếp nhận "
        "{{ total.transferred_in|so }} đảng viên chuyển sinh hoạt đến{% endif %}"
        "{% if total.deceased %}; {{ total.deceased|so }} đồng chí từ trần{% endif %}"
        "{% if total.removed %}; đưa {{ total.removed|so }} đảng viên ra khỏi Đảng (khai trừ "
        "{{ total.expelled|so }}, xóa tên {{ total.struck_off|so }}, xin ra khỏi Đảng "
        "{{ total.resigned|so }}){% endif %}{% if total.transferred_out %}; chuyển sinh hoạt đi "
        "{{ total.transferred_out|so }} đảng viên{% endif %}; "
        "{% if total.members_start is not none and total.members_end < total.members_start %}"
        "tổng số đảng viên toàn Đảng bộ hiện có {{ total.members_end|so }} đảng viên"
        "{% else %}nâng tổng số đảng viên toàn Đảng bộ lên {{ total.members_end|so }} đảng viên"
        "{% endif %}{% if change.members_end is defined and change.members_end > 0 %}, tăng "
        "{{ change.members_end|so }} đảng viên so với cùng kỳ năm trước"
        "{% elif change.members_end is defined and change.members_end < 0 %}, giảm "
        "{{ (0 - change.members_end)|so }} đảng viên so với cùng kỳ năm trước{% endif %}.",
    ),
    ("ctl", "{%p endif %}"),
    (
        "ctl",
        "{%p if total.women is not none or total.probationary is not none "
        "or total.exempt is not none %}",
    ),
    (
        "p",
        "Cuối kỳ{% if total.women is not none %}, đảng viên nữ có {{ total.women|so }} đồng "
        "chí, chiếm {{ total.women|ty_le(total.members_end) }}{% endif %}"
        "{% if total.probationary is not none %}; đảng viên dự bị {{ total.probationary|so }} "
        "đồng chí, chiếm {{ total.probationary|ty_le(total.members_end) }}{% endif %}"
        "{% if total.exempt is not none %}; đảng viên được miễn sinh hoạt đảng "
        "{{ total.exempt|so }} đồng chí{% endif %}.",
    ),
    ("ctl", "{%p endif %}"),
    (
        "ctl",
        "{%p if total.confirmed is not none or total.candidates is not none "
        "or total.badges is not none %}",
    ),
    (
        "p",
        "Trong kỳ{% if total.confirmed is not none %}, các chi bộ đã xét, đề nghị công nhận "
        "đảng viên chính thức cho {{ total.confirmed|so }} đồng chí{% endif %}"
        "{% if total.badges is not none %}; đề nghị xét tặng Huy hiệu Đảng cho "
        "{{ total.badges|so }} đảng viên{% endif %}{% if total.candidates is not none %}; hiện "
        "các chi bộ đang bồi dưỡng, tạo nguồn {{ total.candidates|so }} quần chúng ưu tú"
        "{% endif %}.",
    ),
    ("ctl", "{%p endif %}"),
    ("ctl", "{%p if term.admitted is not none %}"),
    (
        "p",
        "Lũy kế {{ term_label }}, toàn Đảng bộ đã kết nạp được {{ term.admitted|so }} đảng "
        "viên{% if targets.admitted is defined and targets.admitted.percent is not none %}, đạt "
        "{{ targets.admitted.percent|phantram }} chỉ tiêu cả nhiệm kỳ{% endif %}"
        "{% if term.removed %}; rà soát, sàng lọc, đưa {{ term.removed|so }} đảng viên không còn "
        "đủ tư cách ra khỏi Đảng{% endif %}.",
    ),
    ("ctl", "{%p endif %}"),
    ("ctl", "{%p if total.rated_excellent is not none %}"),
    (
        "ctl",
        "{%p set rated = (total.rated_excellent or 0) + (total.rated_good or 0) "
        "+ (total.rated_completed or 0) + (total.rated_failed or 0) %}",
    ),
    (
        "p",
        "Kết quả đánh giá, xếp loại chất lượng đảng viên năm {{ period.year }}: "
        "{{ total.rated_excellent|so }} đảng viên hoàn thành xuất sắc nhiệm vụ "
        "({{ total.rated_excellent|ty_le(rated) }}); {{ total.rated_good|so }} đảng viên hoàn "
        "thành tốt nhiệm vụ ({{ total.rated_good|ty_le(rated) }}); "
        "{{ total.rated_completed|so }} đảng viên hoàn thành nhiệm vụ "
        "({{ total.rated_completed|ty_le(rated) }}); {{ total.rated_failed|so }} đảng viên không "
        "hoàn thành nhiệm vụ ({{ total.rated_failed|ty_le(rated) }}).",
    ),
    (
        "p",
        "{% set ns = namespace(x=0, t=0, h=0, k=0) %}{% for b in branches if b.reported %}"
        "{% set r = b.values.branch_rating|default(none) %}{% if r == 'HTXSNV' %}"
        "{% set ns.x = ns.x + 1 %}{% elif r == 'HTTNV' %}{% set ns.t = ns.t + 1 %}"
        "{% elif r == 'HTNV' %}{% set ns.h = ns.h + 1 %}{% elif r == 'KHTNV' %}"
        "{% set ns.k = ns.k + 1 %}{% endif %}{% endfor %}Về tổ chức đảng: {{ ns.x|so }} chi bộ "
        "hoàn thành xuất sắc nhiệm vụ, {{ ns.t|so }} chi bộ hoàn thành tốt nhiệm vụ, "
        "{{ ns.h|so }} chi bộ hoàn thành nhiệm vụ, {{ ns.k|so }} chi bộ không hoàn thành nhiệm vụ.",
    ),
    ("ctl", "{%p endif %}"),
    # ---- 3. inspection and supervision
    ("h2", "3. Công tác kiểm tra, giám sát và thi hành kỷ luật Đảng"),
    (
        "p",
        "Đảng ủy, Ủy ban Kiểm tra Đảng ủy và các chi bộ thực hiện chương trình kiểm tra, giám "
        "sát theo kế hoạch; chú trọng kiểm tra, giám sát việc chấp hành nguyên tắc tập trung dân "
        "chủ, quy chế làm việc và việc tu dưỡng, rèn luyện của cán bộ, đảng viên.",
    ),
    ("ctl", "{%p if total.inspections_received is not none %}"),
    (
        "p",
        "Trong kỳ, Đảng ủy và Ủy ban Kiểm tra Đảng ủy đã kiểm tra, giám sát "
        "{{ total.inspections_received|so }} lượt chi bộ{% if total.members_supervised %}; các "
        "chi bộ giám sát {{ total.members_supervised|so }} lượt đảng viên{% endif %}"
        "{% if total.branch_violation_checks or total.member_violation_checks %}; Ủy ban Kiểm tra "
        "Đảng ủy đã kiểm tra {% if total.branch_violation_checks %}"
        "{{ total.branch_violation_checks|so }} chi bộ{% if total.member_violation_checks %}, "
        "{% endif %}{% endif %}{% if total.member_violation_checks %}"
        "{{ total.member_violation_checks|so }} đảng viên{% endif %} có dấu hiệu vi phạm"
        "{% endif %}{% if total.disciplined is not none %}{% if total.disciplined %}; thi hành kỷ "
        "luật {{ total.disciplined|so }} đảng viên{% else %}; không có trường hợp vi phạm phải thi "
        "hành kỷ luật{% endif %}{% endif %}.",
    ),
    ("ctl", "{%p endif %}"),
    ("ctl", "{%p if term.inspections_received is not none %}"),
    (
        "p",
        "Lũy kế {{ term_label }}, Đảng ủy và Ủy ban Kiểm tra Đảng ủy đã kiểm tra, giám sát "
        "{{ term.inspections_received|so }} lượt chi bộ"
        "{% if term.branch_violation_checks or term.member_violation_checks %}; Ủy ban Kiểm tra "
        "Đảng ủy đã kiểm tra {% if term.branch_violation_checks %}"
        "{{ term.branch_violation_checks|so }} chi bộ{% if term.member_violation_checks %}, "
        "{% endif %}{% endif %}{% if term.member_violation_checks %}"
        "{{ term.member_violation_checks|so }} đảng viên{% endif %} có dấu hiệu vi phạm"
        "{% endif %}. Qua kiểm tra, giám sát đã kịp thời uốn nắn, chấn chỉnh các chi bộ, cán bộ, "
        "đảng viên khắc phục hạn chế, khuyết điểm, giữ vững nguyên tắc, kỷ luật, kỷ cương của "
        "Đảng{% if term.disciplined is not none %}{% if term.disciplined %}; đã thi hành kỷ luật "
        "{{ term.disciplined|so }} đảng viên vi phạm{% else %}, không có trường hợp vi phạm phải "
        "thi hành kỷ luật{% endif %}{% endif %}.",
    ),
    ("ctl", "{%p endif %}"),
    # ---- 4. mass mobilisation and social welfare
    ("h2", "4. Công tác dân vận, an sinh xã hội"),
    (
        "p",
        "Đảng ủy lãnh đạo Mặt trận Tổ quốc và các đoàn thể chính trị - xã hội thực hiện tốt "
        "công tác dân vận, phong trào thi đua “Dân vận khéo”; vận động cán bộ, đảng viên và Nhân "
        "dân chung tay chăm lo cho hộ nghèo, hộ cận nghèo, hộ có hoàn cảnh khó khăn.",
    ),
    (
        "ctl",
        "{%p if total.funds_mobilized is not none or total.houses_built "
        "or total.houses_repaired %}",
    ),
    (
        "p",
        "Trong kỳ, {% if total.funds_mobilized is not none %}đã vận động được "
        "{{ total.funds_mobilized|tien }}{% if total.houses_built or total.houses_repaired %} hỗ "
        "trợ {% endif %}{% else %}đã hỗ trợ {% endif %}{% if total.houses_built %}xây mới "
        "{{ total.houses_built|so }} căn{% if total.houses_repaired %}, {% endif %}{% endif %}"
        "{% if total.houses_repaired %}sửa chữa {{ total.houses_repaired|so }} căn{% endif %}"
        "{% if total.houses_built or total.houses_repaired %} nhà Đại đoàn kết{% endif %}"
        "{% if total.households_supported %}; hỗ trợ {{ total.households_supported|so }} lượt hộ "
        "nghèo, hộ cận nghèo, hộ khó khăn{% endif %}.",
    ),
    ("ctl", "{%p endif %}"),
    (
        "ctl",
        "{%p if term.funds_mobilized is not none or term.houses_built or term.houses_repaired %}",
    ),
    (
        "p",
        "Lũy kế {{ term_label }}, toàn Đảng bộ {% if term.funds_mobilized is not none %}đã "
        "huy động được {{ term.funds_mobilized|tien }}{% if term.houses_built or "
        "term.houses_repaired %} hỗ trợ {% endif %}{% else %}đã hỗ trợ {% endif %}"
        "{% if term.houses_built %}xây mới {{ term.houses_built|so }} căn"
        "{% if term.houses_repaired %}, {% endif %}{% endif %}{% if term.houses_repaired %}sửa "
        "chữa {{ term.houses_repaired|so }} căn{% endif %}{% if term.houses_built or "
        "term.houses_repaired %} nhà Đại đoàn kết{% endif %}.",
    ),
    ("ctl", "{%p endif %}"),
    # ---- 5. term targets
    ("ctl", "{%p if targets %}"),
    ("h2", "5. Thực hiện các chỉ tiêu nhiệm kỳ"),
    (
        "p",
        "Lũy kế {{ term_label }}, kết quả thực hiện các chỉ tiêu của Nghị quyết Đại hội Đảng "
        "bộ nhiệm kỳ {{ committee.term }} như sau:",
    ),
    ("ctl", "{%p for t in targets.values() %}"),
    (
        "p",
        "- {{ t.label }}: thực hiện {{ t.achieved|so }}/{{ t.target|so }}, đạt "
        "{{ t.percent|phantram }} chỉ tiêu{{ '.' if loop.last else ';' }}",
    ),
    ("ctl", "{%p endfor %}"),
    ("ctl", "{%p endif %}"),
    # ---- II. assessment
    ("h1", "II- ĐÁNH GIÁ CHUNG"),
    ("h2", "1. Ưu điểm"),
    (
        "p",
        "Đảng ủy đã bám sát sự lãnh đạo, chỉ đạo của cấp trên, lãnh đạo các chi bộ thực hiện "
        "tốt các mặt công tác xây dựng Đảng; nội bộ đoàn kết, thống nhất; vai trò tiền phong, "
        "gương mẫu của cán bộ, đảng viên được phát huy.{% if narrative.highlights %} Một số chi bộ "
        "có cách làm hay, kết quả nổi bật:{% endif %}",
    ),
    ("ctl", "{%p for h in narrative.highlights %}"),
    ("p", "- {{ h.branch|chi_bo }}: {{ h.text }}"),
    ("ctl", "{%p endfor %}"),
    ("h2", "2. Hạn chế"),
    ("ctl", "{%p if narrative.shortcomings or missing %}"),
    (
        "p",
        "Bên cạnh những kết quả đạt được, công tác xây dựng Đảng trong kỳ vẫn còn một số hạn chế:",
    ),
    ("ctl", "{%p if missing %}"),
    (
        "p",
        "- Còn {{ missing|length|so }} chi bộ chưa nộp báo cáo {{ period.label }} "
        "(chi tiết tại Phụ lục).",
    ),
    ("ctl", "{%p endif %}"),
    ("ctl", "{%p for s in narrative.shortcomings %}"),
    ("p", "- {{ s.branch|chi_bo }}: {{ s.text }}"),
    ("ctl", "{%p endfor %}"),
    ("ctl", "{%p else %}"),
    ("p", "Các chi bộ không nêu hạn chế trong báo cáo {{ period.label }}."),
    ("ctl", "{%p endif %}"),
    ("h2", "3. Kiến nghị, đề xuất"),
    ("ctl", "{%p if narrative.proposals %}"),
    ("p", "Qua tổng hợp, các chi bộ có các kiến nghị, đề xuất sau:"),
    ("ctl", "{%p for k in narrative.proposals %}"),
    ("p", "- {{ k.branch|chi_bo }}: {{ k.text }}"),
    ("ctl", "{%p endfor %}"),
    ("ctl", "{%p else %}"),
    ("p", "Các chi bộ không có kiến nghị, đề xuất."),
    ("ctl", "{%p endif %}"),
    # ---- III. next period
    ("h1", "III- PHƯƠNG HƯỚNG, NHIỆM VỤ {{ next_period.label|upper }}"),
    (
        "p",
        "- Tiếp tục quán triệt, triển khai thực hiện nghiêm túc các chỉ thị, nghị quyết của "
        "Đảng; đẩy mạnh học tập và làm theo tư tưởng, đạo đức, phong cách Hồ Chí Minh; nắm chắc "
        "tình hình tư tưởng của cán bộ, đảng viên và Nhân dân.",
    ),
    (
        "p",
        "- Nâng cao chất lượng sinh hoạt chi bộ; chú trọng công tác tạo nguồn, kết nạp đảng "
        "viên{% if targets.admitted is defined and targets.admitted.percent is not none "
        "and targets.admitted.percent < 100 %}, phấn đấu hoàn thành chỉ tiêu kết nạp đảng viên "
        "của nhiệm kỳ{% endif %}; thường xuyên rà soát, sàng lọc, kịp thời đưa những đảng viên "
        "không còn đủ tư cách ra khỏi Đảng.",
    ),
    (
        "p",
        "- Thực hiện tốt chương trình kiểm tra, giám sát {{ next_period.label }}; chú trọng "
        "kiểm tra khi có dấu hiệu vi phạm, giữ vững kỷ luật, kỷ cương trong Đảng.",
    ),
    (
        "p",
        "- Đẩy mạnh công tác dân vận; tiếp tục vận động các nguồn lực hỗ trợ xây dựng, sửa "
        "chữa nhà Đại đoàn kết, chăm lo hộ nghèo, hộ cận nghèo, hộ có hoàn cảnh khó khăn.",
    ),
    ("ctl", "{%p if narrative.next_tasks %}"),
    ("p", "- Nhiệm vụ trọng tâm các chi bộ đăng ký thực hiện trong {{ next_period.label }}:"),
    ("ctl", "{%p for n in narrative.next_tasks %}"),
    ("p", "+ {{ n.branch|chi_bo }}: {{ n.text }}"),
    ("ctl", "{%p endfor %}"),
    ("ctl", "{%p endif %}"),
    ("p", "Trên đây là báo cáo {{ title_summary }}./."),
]


def build_body(document) -> None:
    for kind, text in BODY:
        p = document.add_paragraph()
        if kind == "h1":
            fmt(p, keep_next=True, before=Pt(6))
            run(p, text, bold=True)
        elif kind == "h2":
            fmt(p, keep_next=True)
            run(p, text, bold=True)
        elif kind == "h3":
            fmt(p, keep_next=True)
            run(p, text, bold=True, italic=True)
        else:
            run(p, text)
    # the closing sentence stays on the page of the signature block
    p.paragraph_format.keep_with_next = True


def build_signature(document) -> None:
    table = make_table(document, 1, [80, 85], borders=False)
    cant_split(table.rows[0])
    left, right = table.cell(0, 0), table.cell(0, 1)
    first = [True]
    heading = line(left, first, "Nơi nhận:", align=LEFT, underline=True, italic=False)
    heading.paragraph_format.space_before = Pt(12)
    line(left, first, "{%p for r in recipients %}", align=LEFT, size=12)
    line(left, first, "- {{ r }},", align=LEFT, size=12)
    line(left, first, "{%p endfor %}", align=LEFT, size=12)
    line(left, first, "- Lưu Văn phòng Đảng ủy.", align=LEFT, size=12)

    first = [True]
    line(right, first, "{{ signer.on_behalf }}", bold=True).paragraph_format.space_before = Pt(12)
    line(right, first, "{{ signer.title }}", bold=False)
    for _ in range(4):
        line(right, first, "")
    line(right, first, "{{ signer.name }}", bold=True)


APPENDIX_COLUMNS = [
    ("STT", 12, "{{ loop.index }}", "Tổng cộng"),
    ("Chi bộ", 43, "{{ b.name|chi_bo(prefix=false) }}", None),
    (
        "Đảng viên đầu kỳ",
        18,
        "{% if b.reported %}{{ b.values.members_start|so }}{% else %}–{% endif %}",
        "{{ total.members_start|so }}",
    ),
    (
        "Kết nạp",
        15,
        "{% if b.reported %}{{ b.values.admitted|so }}{% else %}–{% endif %}",
        "{{ total.admitted|so }}",
    ),
    (
        "Đưa ra khỏi Đảng",
        17,
        "{% if b.reported %}{{ b.removed|so }}{% else %}–{% endif %}",
        "{{ total.removed|so }}",
    ),
    (
        "Đảng viên cuối kỳ",
        18,
        "{% if b.reported %}{{ b.values.members_end|so }}{% else %}–{% endif %}",
        "{{ total.members_end|so }}",
    ),
    (
        "Kiểm tra, giám sát (lượt)",
        18,
        "{% if b.reported %}{{ b.values.inspections_received|so }}{% else %}–{% endif %}",
        "{{ total.inspections_received|so }}",
    ),
    (
        "Tình trạng",
        24,
        "{{ b.outcome or ('Đã nộp' if b.reported else 'Chưa nộp') }}",
        "{{ reported_count|so }}/{{ expected_count|so }}",
    ),
]


def _cell_text(cell: _Cell, text: str, *, bold=False, align=CENTER) -> None:
    p = fmt(cell.paragraphs[0], align=align, indent=False, after=Pt(0), single=True)
    p.paragraph_format.space_before = Pt(2)
    p.paragraph_format.space_after = Pt(2)
    run(p, text, bold=bold, size=12)
    cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER


def build_appendix(document) -> None:
    p = fmt(
        document.add_paragraph(),
        align=CENTER,
        indent=False,
        after=Pt(0),
        single=True,
        keep_next=True,
    )
    p.paragraph_format.page_break_before = True
    run(p, "PHỤ LỤC", bold=True, size=14)
    p = fmt(
        document.add_paragraph(),
        align=CENTER,
        indent=False,
        after=Pt(0),
        single=True,
        keep_next=True,
    )
    run(
        p,
        "SỐ LIỆU CÔNG TÁC XÂY DỰNG ĐẢNG CỦA CÁC CHI BỘ {{ period.label|upper }}",
        bold=True,
        size=14,
    )
    p = fmt(
        document.add_paragraph(),
        align=CENTER,
        indent=False,
        after=Pt(12),
        single=True,
        keep_next=True,
    )
    run(
        p,
        "(Kèm theo Báo cáo số {{ number or '     ' }}-BC/{{ committee.symbol }}, {{ date|ngay }})",
        italic=True,
        size=14,
    )

    widths = [width for _, width, _, _ in APPENDIX_COLUMNS]
    table = make_table(document, 5, widths, borders=True)
    narrow_cell_margins(table)
    header, loop_start, data, loop_end, total = table.rows
    repeat_header(header)
    for index, (title, _, cell_text, total_text) in enumerate(APPENDIX_COLUMNS):
        _cell_text(header.cells[index], title, bold=True)
        _cell_text(data.cells[index], cell_text, align=LEFT if index == 1 else CENTER)
        if total_text is not None:
            _cell_text(total.cells[index], total_text, bold=True)
    _cell_text(loop_start.cells[0], "{%tr for b in branches %}")
    _cell_text(loop_end.cells[0], "{%tr endfor %}")
    merged = total.cells[0].merge(total.cells[1])
    for extra in merged.paragraphs[1:]:
        extra._p.getparent().remove(extra._p)

    p = fmt(document.add_paragraph(), indent=False, before=Pt(6), align=LEFT)
    run(p, "{%p if missing %}")
    p = fmt(document.add_paragraph(), before=Pt(6))
    run(
        p,
        "Các chi bộ chưa nộp báo cáo: {{ missing|map(attribute='name')"
        "|map('chi_bo', prefix=false)|join(', ') }}.",
        italic=True,
    )
    p = document.add_paragraph()
    run(p, "{%p endif %}")


def build_page_numbers(section) -> None:
    section.different_first_page_header_footer = True
    first = section.first_page_header
    first.is_linked_to_previous = False
    fmt(first.paragraphs[0], align=CENTER, indent=False, after=Pt(0), single=True)
    header = section.header
    header.is_linked_to_previous = False
    p = fmt(header.paragraphs[0], align=CENTER, indent=False, after=Pt(0), single=True)
    add_page_field(p)


def build(out: Path) -> Path:
    document = Document()
    setup_styles(document)
    section = document.sections[0]
    setup_page(section)
    build_page_numbers(section)
    # python-docx starts with no paragraphs; the header table is the first block
    build_header_block(document)
    build_title(document)
    build_body(document)
    build_signature(document)
    build_appendix(document)

    props = document.core_properties
    props.title = "Báo cáo"
    props.author = "tonghop"
    props.comments = ""
    props.language = "vi-VN"
    props.subject = ""
    props.keywords = ""
    out.parent.mkdir(parents=True, exist_ok=True)
    document.save(str(out))
    return out


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else DEFAULT_OUT
    build(out)
    print(f"Đã tạo mẫu báo cáo: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
