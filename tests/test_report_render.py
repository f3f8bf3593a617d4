"""How the report is filled: templates as Word leaves them, the per-template cache, read-back.

tests/test_report.py checks the committee's template and the error messages; this file checks
the machinery under them on small templates the tests make with python-docx, shaped the way
Word saves an edited document (a tag split over several runs, table rows and cells with
docxtpl's {%tr %} / {%tc %}, tags in the page header and footer and in the properties).
"""

from __future__ import annotations

import copy
import os
import zipfile
from pathlib import Path

import docx
import pytest
from docx.oxml.ns import qn
from docxtpl import RichText
from lxml import etree

from tonghop.report import _docxtemplate
from tonghop.report.render import ReportTemplateError, render_report

from .report_context import sample_context

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "templates" / "bao-cao.docx"


def runs(paragraph, *pieces: str, bold_at: int | None = None) -> None:
    """Write ``pieces`` as separate runs, as Word does after an edit, spell check or format."""
    for index, piece in enumerate(pieces):
        run = paragraph.add_run(piece)
        if index == bold_at:
            run.bold = True


def word_like_template(path: Path) -> Path:
    document = docx.Document()
    runs(document.add_paragraph(), "Đơn vị: ", "{", "{ committee.", "name", " }", "}", bold_at=3)
    runs(document.add_paragraph(), "{%", "p if missing ", "%}")
    runs(document.add_paragraph(), "Chưa nộp: {{ missing|length }} chi bộ.")
    runs(document.add_paragraph(), "{%p ", "endif %}")
    table = document.add_table(rows=3, cols=2)
    runs(table.cell(0, 0).paragraphs[0], "{%tr for b in ", "branches %}")
    runs(table.cell(1, 0).paragraphs[0], "{{ b.", "name }}")
    runs(table.cell(1, 1).paragraphs[0], "{{ b.values.members_end|so }}")
    runs(table.cell(2, 0).paragraphs[0], "{%tr endfor %}")
    runs(document.add_paragraph(), "Ký tên: ", "{{r sig", "nature }}")
    document.save(str(path))
    return path


def test_a_word_edited_template_with_split_tags_renders(tmp_path):
    template = word_like_template(tmp_path / "mau.docx")
    context = sample_context(signature=RichText("Nguyễn Văn A", bold=True))
    out = render_report(template, context, tmp_path / "bc.docx")
    document = docx.Document(str(out))
    texts = [p.text for p in document.paragraphs]
    assert f"Đơn vị: {context['committee']['name']}" in texts
    assert f"Chưa nộp: {len(context['missing'])} chi bộ." in texts
    assert not any("{" in t or "%" in t for t in texts)
    table = document.tables[0]
    assert len(table.rows) == len(context["branches"])  # the {%tr %} rows are gone
    first = context["branches"][0]
    assert [c.text for c in table.rows[0].cells] == [first["name"], "50"]
    signature = next(p for p in document.paragraphs if p.text.startswith("Ký tên:"))
    assert signature.text == "Ký tên: Nguyễn Văn A"
    assert [r.bold for r in signature.runs if r.text == "Nguyễn Văn A"] == [True]


def test_paragraph_condition_removes_the_whole_paragraph(tmp_path):
    template = word_like_template(tmp_path / "mau.docx")
    out = render_report(template, sample_context(missing=[], signature=""), tmp_path / "bc.docx")
    texts = [p.text for p in docx.Document(str(out)).paragraphs]
    assert not any(t.startswith("Chưa nộp") for t in texts)
    assert "" not in texts[:2]  # no empty paragraph left where the {%p %} lines were


def test_repeated_table_cells_get_a_matching_grid(tmp_path):
    document = docx.Document()
    table = document.add_table(rows=1, cols=4)
    table.cell(0, 0).text = "Chi bộ"
    table.cell(0, 1).text = "{%tc for b in branches[:4] %}"
    table.cell(0, 2).text = "{{ b.code }}"
    table.cell(0, 3).text = "{%tc endfor %}"
    document.save(str(tmp_path / "mau.docx"))
    out = render_report(tmp_path / "mau.docx", sample_context(), tmp_path / "bc.docx")
    rendered = docx.Document(str(out)).tables[0]
    codes = [b["code"] for b in sample_context()["branches"][:4]]
    assert [c.text for c in rendered.rows[0].cells] == ["Chi bộ", *codes]
    grid = rendered._tbl.tblGrid.findall(qn("w:gridCol"))
    assert len(grid) == 5  # docxtpl's fix_tables widened the grid to the five cells


def test_tags_in_page_header_footer_and_properties_are_filled(tmp_path):
    document = docx.Document()
    document.add_paragraph("Thân")
    section = document.sections[0]
    runs(section.header.paragraphs[0], "{{ committee.", "name }}")
    section.footer.paragraphs[0].text = "Số {{ number }}-BC/{{ committee.symbol }}"
    document.core_properties.title = "Báo cáo {{ period.label }} & tổng hợp"
    document.save(str(tmp_path / "mau.docx"))
    context = sample_context()
    out = render_report(tmp_path / "mau.docx", context, tmp_path / "bc.docx")
    rendered = docx.Document(str(out))
    assert rendered.sections[0].header.paragraphs[0].text == context["committee"]["name"]
    footer = rendered.sections[0].footer.paragraphs[0].text
    assert footer == f"Số {context['number']}-BC/{context['committee']['symbol']}"
    assert rendered.core_properties.title == f"Báo cáo {context['period']['label']} & tổng hợp"


def test_an_edited_template_is_read_again(tmp_path):
    """Same path, same size, same modification time: the cache still sees the new bytes."""
    template = tmp_path / "mau.docx"
    first = docx.Document()
    first.add_paragraph("Bản A: {{ committee.name }}")
    first.save(str(template))
    stamp = template.stat()
    out = render_report(template, sample_context(), tmp_path / "a.docx")
    assert docx.Document(str(out)).paragraphs[0].text.startswith("Bản A: ")

    second = docx.Document(str(template))
    second.paragraphs[0].runs[0].text = "Bản B: {{ committee.name }}"
    second.save(str(template))
    os.utime(template, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    out = render_report(template, sample_context(), tmp_path / "b.docx")
    assert docx.Document(str(out)).paragraphs[0].text.startswith("Bản B: ")


def count_preparations(monkeypatch) -> list[int]:
    prepared: list[int] = []
    original = _docxtemplate._compile
    monkeypatch.setattr(_docxtemplate, "_compile", lambda *a: prepared.append(1) or original(*a))
    return prepared


def test_an_unchanged_template_is_prepared_once(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    template = word_like_template(tmp_path / "mau.docx")
    prepared = count_preparations(monkeypatch)
    for name in ("a.docx", "b.docx", "c.docx"):
        render_report(template, sample_context(signature="x"), tmp_path / name)
    assert len(prepared) == 1
    # each output is complete, not a copy of the first one's parts
    out = render_report(template, sample_context(missing=[], signature=""), tmp_path / "d.docx")
    assert not any(p.text.startswith("Chưa nộp") for p in docx.Document(str(out)).paragraphs)


def test_a_template_with_a_mistake_fails_every_time(tmp_path):
    document = docx.Document()
    document.add_paragraph("{% if committee %}không đóng")
    document.save(str(tmp_path / "mau.docx"))
    for _ in range(2):
        with pytest.raises(ReportTemplateError, match="chưa được đóng"):
            render_report(tmp_path / "mau.docx", sample_context(), tmp_path / "bc.docx")


def many_branches(count: int) -> dict:
    context = sample_context()
    model = context["branches"][0]
    branches = []
    for number in range(count):
        branch = copy.deepcopy(model)
        branch["code"], branch["name"] = f"B{number:04d}", f"Khu vực số {number + 1}"
        branch["values"] = dict(model["values"], members_end=number, admitted=number % 3)
        branches.append(branch)
    return sample_context(branches=branches, missing=[])


def test_the_committee_report_reads_back_in_python_docx(tmp_path):
    context = many_branches(300)
    out = render_report(TEMPLATE, context, tmp_path / "bc.docx")
    document = docx.Document(str(out))
    appendix = document.tables[-1]
    assert len(appendix.rows) == 300 + 2
    row = [c.text for c in appendix.rows[1 + 123].cells]
    assert row[:2] == ["124", "Khu vực số 124"]
    assert row[3] == "0" and row[5] == "123"  # admitted, members at the end
    assert appendix.rows[-1].cells[0].text == "Tổng cộng"
    # every part is well-formed XML and the untouched parts are the template's own bytes
    with zipfile.ZipFile(out) as result, zipfile.ZipFile(TEMPLATE) as source:
        assert sorted(result.namelist()) == sorted(source.namelist())
        for name in result.namelist():
            if name.endswith(".xml"):
                etree.fromstring(result.read(name))
            if not name.startswith(("word/document", "word/header", "word/footer")):
                assert result.read(name) == source.read(name), name
    assert document.element.body.find(qn("w:sectPr")) is not None  # page setup kept


def test_text_with_line_breaks_and_tabs_becomes_word_breaks(tmp_path):
    document = docx.Document()
    document.add_paragraph("{{ text }}")
    document.save(str(tmp_path / "mau.docx"))
    out = render_report(
        tmp_path / "mau.docx", {"text": "dòng 1\ndòng 2\tcột"}, tmp_path / "bc.docx"
    )
    paragraph = docx.Document(str(out)).paragraphs[0]
    assert paragraph._p.findall(f".//{qn('w:br')}") and paragraph._p.findall(f".//{qn('w:tab')}")
    assert paragraph.text == "dòng 1\ndòng 2\tcột"


def test_a_new_process_takes_the_prepared_template_from_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    template = word_like_template(tmp_path / "mau.docx")
    prepared = count_preparations(monkeypatch)
    render_report(template, sample_context(signature="x"), tmp_path / "a.docx")
    assert len(prepared) == 1
    assert len(list((tmp_path / "cache" / "tonghop" / "report-templates").glob("*.bin"))) == 1
    _docxtemplate._cache.clear()  # what a new `tonghop report` starts with
    out = render_report(template, sample_context(signature="x"), tmp_path / "b.docx")
    assert len(prepared) == 1
    texts = [p.text for p in docx.Document(str(out)).paragraphs]
    assert f"Đơn vị: {sample_context()['committee']['name']}" in texts
    # its errors still name the paragraph: the Jinja source came back from disk too
    with pytest.raises(ReportTemplateError, match="tại đoạn «Chưa nộp: "):
        render_report(template, sample_context(signature="x", missing=5), tmp_path / "c.docx")


def test_a_damaged_or_unwritable_cache_is_only_slower(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    template = word_like_template(tmp_path / "mau.docx")
    prepared = count_preparations(monkeypatch)
    render_report(template, sample_context(signature="x"), tmp_path / "a.docx")
    (stored,) = (tmp_path / "cache" / "tonghop" / "report-templates").glob("*.bin")
    stored.write_bytes(stored.read_bytes()[:100])
    _docxtemplate._cache.clear()
    out = render_report(template, sample_context(signature="x"), tmp_path / "b.docx")
    assert len(prepared) == 2 and docx.Document(str(out)).tables

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x", encoding="utf-8")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    _docxtemplate._cache.clear()
    out = render_report(template, sample_context(signature="x"), tmp_path / "c.docx")
    assert len(prepared) == 3 and docx.Document(str(out)).tables


def test_a_tag_that_cuts_across_a_table_is_reported_not_written(tmp_path):
    """{% if %} in a paragraph and {% endif %} inside a table: the result is not XML."""
    document = docx.Document()
    document.add_paragraph("Mở đầu {% if missing|length > 100 %}đoạn bị cắt")
    table = document.add_table(rows=1, cols=1)
    table.cell(0, 0).text = "ô {% endif %} cuối"
    document.save(str(tmp_path / "mau.docx"))
    out = tmp_path / "bc.docx"
    with pytest.raises(ReportTemplateError, match="không còn hợp lệ") as info:
        render_report(tmp_path / "mau.docx", sample_context(), out)
    assert str(info.value).startswith("Mẫu báo cáo ") and "mau.docx" in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mau.docx"]
