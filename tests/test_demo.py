"""The demo reproduces the article's figures through the real intake, report and PDF."""

from __future__ import annotations

import re
import subprocess

import pytest
from docx import Document

from tonghop.demo import run_demo
from tonghop.layout import Layout

from .conftest import ROOT, needs_soffice

ARTICLE_PHRASES = [
    # every figure in the unit its field declares in templates/form.toml ("đồng chí", "căn"...)
    "nâng tổng số đảng viên toàn Đảng bộ lên 357 đồng chí",
    "kết nạp được 60 đồng chí, đạt 100% chỉ tiêu cả nhiệm kỳ",
    "đưa ra khỏi Đảng 22 đồng chí không còn đủ tư cách đảng viên",
    "huy động được 8,86 tỉ đồng hỗ trợ xây mới 192 căn, sửa chữa 19 căn nhà Đại đoàn kết",
    "kiểm tra, giám sát 106 lượt chi bộ",
    "kiểm tra 1 chi bộ, 6 đồng chí đảng viên có dấu hiệu vi phạm",
    "không có trường hợp vi phạm phải thi hành kỷ luật",
    "100% cán bộ, đảng viên xây dựng bản cam kết",
    "trên cơ sở báo cáo của 15/15 chi bộ trực thuộc",
]


def docx_text(path) -> str:
    document = Document(path)
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts.extend(cell.text for cell in row.cells)
    return re.sub(r"\s+", " ", " ".join(parts))


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return run_demo(tmp_path_factory.mktemp("demo") / "ws", Layout(ROOT), pdf=False)


def test_every_return_goes_through_the_intake_and_is_counted(demo):
    outcomes = [r.submission.outcome for r in demo.results]
    assert len(outcomes) == 15 * 5
    assert set(outcomes) == {"accepted"}
    assert not list(demo.workspace.inbox.iterdir())


def test_report_carries_the_article_figures(demo):
    text = docx_text(demo.published.report)
    for phrase in ARTICLE_PHRASES:
        assert phrase in text, phrase
    agg = demo.published.aggregate
    assert agg.total["members_end"] == 357
    assert agg.term["admitted"] == 60 and agg.targets["admitted"]["percent"] == 100.0
    assert agg.term["removed"] == 22
    assert agg.term["funds_mobilized"] == 8_860_000_000
    assert (agg.term["houses_built"], agg.term["houses_repaired"]) == (192, 19)
    assert agg.term["inspections_received"] == 106
    assert agg.term["disciplined"] == 0
    assert agg.share["commitments"] == 100.0


def test_demo_pdf_opens_in_libreoffice_with_the_figures(demo, tmp_path):
    needs_soffice()
    from tonghop.report.render import write_pdf

    pdf = write_pdf(demo.published.report)
    assert pdf is not None and pdf.exists()
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    pages = int(re.search(r"Pages:\s+(\d+)", info.stdout).group(1))
    assert 4 <= pages <= 12, pages
    text = subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    flat = re.sub(r"\s+", " ", text)
    for figure in ("357 đồng chí", "8,86 tỉ đồng", "192 căn", "106 lượt", "BÁO CÁO", "DỰ THẢO"):
        assert figure in flat, figure
