"""Tests for tonghop.reader: reading returns safely, and refusing what is not one."""

from __future__ import annotations

import io
import math
import os
import re
import time
import tracemalloc
import unicodedata
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from openpyxl import Workbook as OpenpyxlWorkbook
from openpyxl.workbook.defined_name import DefinedName

from tonghop.intake import _package
from tonghop.intake.reader import Cell, Unreadable, precheck, read_workbook, sniff
from tonghop.office import convert, find_soffice

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
STRICT = "http://purl.oclc.org/ooxml/spreadsheetml/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
STRICT_REL = "http://purl.oclc.org/ooxml/officeDocument/relationships"
PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
ODD_SHEET = "Báo cáo của chi bộ's"


# --- building workbooks -------------------------------------------------------------------


def build_xlsx(
    sheets: dict[str, str],
    *,
    names: str = "",
    shared: list[str] | str | None = None,
    ns: str = MAIN,
    rel_ns: str = REL,
    absolute_targets: bool = False,
    extra: dict[str, bytes] | None = None,
) -> bytes:
    """A minimal .xlsx written by hand: ``sheets`` maps a sheet name to its <sheetData> body."""
    rel_type = rel_ns if rel_ns == STRICT_REL else f"{REL}"
    prefix = "/xl/" if absolute_targets else ""
    sheet_list = "".join(
        f'<sheet name="{escape(name)}" sheetId="{i}" r:id="rId{i}"/>'
        for i, name in enumerate(sheets, 1)
    )
    workbook = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f'<workbook xmlns="{ns}" xmlns:r="{rel_ns}"><sheets>{sheet_list}</sheets>'
        f"{'<definedNames>' + names + '</definedNames>' if names else ''}</workbook>"
    )
    rels = "".join(
        f'<Relationship Id="rId{i}" Type="{rel_type}/worksheet" '
        f'Target="{prefix}worksheets/sheet{i}.xml"/>'
        for i in range(1, len(sheets) + 1)
    )
    parts = {
        "[Content_Types].xml": '<?xml version="1.0"?><Types xmlns="x"/>',
        "_rels/.rels": f'<Relationships xmlns="{PKG_REL}"><Relationship Id="rId1" '
        f'Type="{rel_type}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": workbook,
    }
    if shared is not None:
        items = (
            shared if isinstance(shared, str) else "".join(f"<si><t>{s}</t></si>" for s in shared)
        )
        parts["xl/sharedStrings.xml"] = f'<sst xmlns="{ns}">{items}</sst>'
        rels += (
            f'<Relationship Id="rIdS" Type="{rel_type}/sharedStrings" '
            f'Target="{prefix}sharedStrings.xml"/>'
        )
    parts["xl/_rels/workbook.xml.rels"] = f'<Relationships xmlns="{PKG_REL}">{rels}</Relationships>'
    for i, body in enumerate(sheets.values(), 1):
        parts[f"xl/worksheets/sheet{i}.xml"] = (
            f'<worksheet xmlns="{ns}"><sheetData>{body}</sheetData></worksheet>'
        )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in parts.items():
            zf.writestr(name, text.encode("utf-8"))
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return buffer.getvalue()


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")


def defined(name: str, target: str, scope: int | None = None) -> str:
    local = f' localSheetId="{scope}"' if scope is not None else ""
    return f'<definedName name="{name}"{local}>{escape(target)}</definedName>'


def openpyxl_return(*, with_names: bool = True) -> bytes:
    """A return as the project's templates look: ids in column A, values in column C."""
    wb = OpenpyxlWorkbook()
    ws = wb.active
    ws.title = ODD_SHEET
    ws["A1"] = "BÁO CÁO SỐ LIỆU CÔNG TÁC ĐẢNG"
    rows = [
        ("branch_code", "Mã chi bộ", "LT1"),
        ("members_start", "Số đảng viên đầu kỳ", 48),
        ("admitted", "Kết nạp mới", 3),
        ("ratio", "Tỉ lệ", 0.125),
        ("confirmed", "Đã xác nhận", True),
        ("members_end", "Số đảng viên cuối kỳ", "=C3+C4"),
        ("note", "Ghi chú", "Chi bộ hoạt động tốt"),
    ]
    for offset, (field_id, label, value) in enumerate(rows):
        row = 2 + offset
        ws.cell(row, 1, field_id)
        ws.cell(row, 2, label)
        ws.cell(row, 3, value)
        if with_names:
            quoted = ODD_SHEET.replace("'", "''")
            wb.defined_names[field_id] = DefinedName(field_id, attr_text=f"'{quoted}'!$C${row}")
    other = wb.create_sheet("Phụ lục")
    other["C5"] = 7
    other["A5"] = "annex_count"
    if with_names:
        wb.defined_names["annex_count"] = DefinedName("annex_count", attr_text="'Phụ lục'!C5")
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def patch_zip(data: bytes, changes: dict[str, bytes | None]) -> bytes:
    """Replace (or, with None, drop) entries of a zip."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            if info.filename in changes:
                if changes[info.filename] is not None:
                    dst.writestr(info.filename, changes[info.filename], zipfile.ZIP_DEFLATED)
            else:
                dst.writestr(info, src.read(info))
        for name, value in changes.items():
            if value is not None and name not in src.namelist():
                dst.writestr(name, value, zipfile.ZIP_DEFLATED)
    return out.getvalue()


def unreadable(data: bytes) -> Unreadable:
    with pytest.raises(Unreadable) as caught:
        read_workbook(data)
    return caught.value


# --- reading ------------------------------------------------------------------------------


def test_openpyxl_return_with_defined_names() -> None:
    book = read_workbook(openpyxl_return())
    assert book.sheet_names == [ODD_SHEET, "Phụ lục"]
    names = book.names
    assert names["branch_code"] == Cell(ODD_SHEET, "C2", "LT1")
    assert names["members_start"].value == 48 and type(names["members_start"].value) is int
    assert names["ratio"].value == 0.125
    assert names["confirmed"].value is True
    formula = names["members_end"]
    assert (formula.ref, formula.formula, formula.value) == ("C7", "C3+C4", None)
    assert formula.has_cached_value is False  # openpyxl never computes formulas
    assert names["note"].value == "Chi bộ hoạt động tốt"
    assert names["annex_count"] == Cell("Phụ lục", "C5", 7)
    assert book.cell(ODD_SHEET, "$c$3") is names["members_start"]
    assert book.cell(ODD_SHEET.upper(), "A3").value == "members_start"
    assert book.cell(ODD_SHEET, "B3") is None  # column B is not kept
    assert book.cell("Không có", "A1") is None


def test_id_rows_find_values_when_the_names_were_removed() -> None:
    book = read_workbook(openpyxl_return(with_names=False))
    assert book.names == {}
    assert book.id_rows["admitted"] == Cell(ODD_SHEET, "C4", 3)
    assert book.id_rows["annex_count"].sheet == "Phụ lục"
    assert "bao_cao" not in book.id_rows  # "BÁO CÁO ..." is not an identifier
    assert set(book.id_rows) == {
        "branch_code",
        "members_start",
        "admitted",
        "ratio",
        "confirmed",
        "members_end",
        "note",
        "annex_count",
    }


def test_id_rows_first_occurrence_in_workbook_order_and_other_value_column() -> None:
    first = (
        '<row r="1"><c r="A1" t="inlineStr"><is><t>  Admitted </t></is></c>'
        '<c r="C1"><v>1</v></c><c r="D1"><v>10</v></c></row>'
        '<row r="2"><c r="A2" t="inlineStr"><is><t>no value here</t></is></c></row>'
        '<row r="3"><c r="A3" t="inlineStr"><is><t>empty_value</t></is></c></row>'
        '<row r="4"><c r="A4"><v>5</v></c><c r="C4"><v>99</v></c></row>'
    )
    second = '<row r="1"><c r="A1" t="inlineStr"><is><t>admitted</t></is></c><c r="C1"><v>2</v></c></row>'
    data = build_xlsx({"Thứ hai": second, "Thứ nhất": first})
    book = read_workbook(data)
    assert book.id_rows["admitted"] == Cell("Thứ hai", "C1", 2)  # workbook order, not part order
    assert book.id_rows["empty_value"] == Cell("Thứ nhất", "C3", None)
    assert "no value here" not in book.id_rows and len(book.id_rows) == 2
    by_d = read_workbook(build_xlsx({"S": first}), value_column="D")
    assert by_d.id_rows["admitted"] == Cell("S", "D1", 10)
    with pytest.raises(ValueError):
        read_workbook(data, value_column="C1")


def test_defined_name_forms() -> None:
    sheets = {"Báo cáo": '<row r="5"><c r="C5"><v>5</v></c><c r="D5"><v>6</v></c></row>', "S2": ""}
    names = "".join(
        [
            defined("Plain", "S2!C9"),
            defined("quoted", "'Báo cáo'!$C$5"),
            defined("one_cell_range", "'Báo cáo'!$D$5:$D$5"),
            defined("equals", "='báo cáo'!C5"),
            defined("range", "'Báo cáo'!$C$5:$C$9"),
            defined("column", "'Báo cáo'!$C:$C"),
            defined("broken", "#REF!"),
            defined("broken_sheet", "'Báo cáo'!#REF!"),
            defined("external", "[1]Sheet1!$A$1"),
            defined("other_book", "'[Sổ khác.xlsx]Báo cáo'!$C$5"),
            defined("constant", "42"),
            defined("formula", "SUM('Báo cáo'!$C$5:$C$9)"),
            defined("union", "'Báo cáo'!$C$5,'Báo cáo'!$D$5"),
            defined("unknown_sheet", "'Không có'!$C$5"),
            defined("beyond", "'Báo cáo'!$XFE$1"),
            defined("_xlnm.Print_Area", "'Báo cáo'!$C$5"),
            defined("local_only", "S2!$B$2", scope=1),
            defined("local_only", "S2!$B$1", scope=0),
            defined("shadowed", "S2!$B$3", scope=0),
            defined("shadowed", "'Báo cáo'!$D$5"),
            defined("dead_global", "#REF!"),
            defined("dead_global", "'Báo cáo'!$C$5", scope=0),
        ]
    )
    book = read_workbook(build_xlsx(sheets, names=names))
    assert book.names == {
        "plain": Cell("S2", "C9", None),
        "quoted": Cell("Báo cáo", "C5", 5),
        "one_cell_range": Cell("Báo cáo", "D5", 6),
        "equals": Cell("Báo cáo", "C5", 5),
        "local_only": Cell("S2", "B1", None),
        "shadowed": Cell("Báo cáo", "D5", 6),
        "dead_global": Cell("Báo cáo", "C5", 5),
    }


def test_cell_types() -> None:
    shared = (
        "<si><t>plain</t></si>"
        "<si><r><t>rich </t></r><r><rPr><b/></rPr><t>text</t></r>"
        "<rPh sb='0' eb='1'><t>PHONETIC</t></rPh></si>"
        "<si><t>line_x000D_break</t></si>"
    )
    body = (
        '<row r="1"><c r="C1" t="s"><v>0</v></c></row>'
        '<row r="2"><c r="C2" t="s"><v>1</v></c></row>'
        '<row r="3"><c r="C3" t="s"><v>2</v></c></row>'
        '<row r="4"><c r="C4" t="inlineStr"><is><r><t>in</t></r><r><t>line_x005F_x000D_</t></r>'
        "</is></c></row>"
        '<row r="5"><c r="C5" t="str"><f>"a"&amp;"b"</f><v>ab</v></c></row>'
        '<row r="6"><c r="C6" t="b"><v>0</v></c></row>'
        '<row r="7"><c r="C7" t="e"><f>1/0</f><v>#DIV/0!</v></c></row>'
        '<row r="8"><c r="C8"><v>12</v></c></row>'
        '<row r="9"><c r="C9" t="n"><v>1.5E3</v></c></row>'
        '<row r="10"><c r="C10"><v>-0.25</v></c></row>'
        '<row r="11"><c r="C11" t="d"><v>2024-06-30T00:00:00</v></c></row>'
        '<row r="12"><c r="C12"><f>SUM(C8:C10)</f></c></row>'
        '<row r="13"><c r="C13"><f>SUM(C8:C9)</f><v>1512</v></c></row>'
        '<row r="14"><c r="C14" s="3"/></row>'
        '<row r="15"><c r="C15" t="str"><f>""</f><v></v></c></row>'
        '<row r="16"><c r="C16"><v>12345678901234567890</v></c></row>'
        '<row r="17"><c r="C17"><v>1e400</v></c></row>'
    )
    every = "".join(defined(f"c{row}", f"S!C{row}") for row in range(1, 18))
    book = read_workbook(build_xlsx({"S": body}, shared=shared, names=every))
    values = {ref: cell.value for ref, cell in book.cells["S"].items()}
    assert values == {
        "C1": "plain",
        "C2": "richtext",  # no xml:space="preserve": the run's end space is dropped
        "C3": "line\rbreak",
        "C4": "inline_x000D_",
        "C5": "ab",
        "C6": False,
        "C7": "#DIV/0!",
        "C8": 12,
        "C9": 1500,
        "C10": -0.25,
        "C11": 45473,  # an ISO date cell: its serial, as a date-formatted number
        "C12": None,
        "C13": 1512,
        "C15": "",
        "C16": int(1.23456789012346e19),  # the 15 significant digits a spreadsheet keeps
        "C17": float("inf"),
    }
    cells = book.cells["S"]
    assert type(values["C9"]) is int and type(values["C10"]) is float
    assert cells["C7"].is_error and cells["C7"].formula == "1/0" and cells["C7"].has_cached_value
    assert not cells["C8"].is_error and cells["C8"].formula is None
    assert cells["C12"].formula == "SUM(C8:C10)" and not cells["C12"].has_cached_value
    # a formula with a cached value is read as its value
    assert cells["C13"].has_cached_value and cells["C5"].formula is None
    assert cells["C15"].has_cached_value


def test_shared_formulas_are_rebuilt_for_dependent_cells() -> None:
    body = (
        '<row r="1"><c r="B1"><f t="shared" ref="B1:C2" si="0">A1*2</f><v>2</v></c>'
        '<c r="C1"><f t="shared" si="0"/><v>4</v></c></row>'
        '<row r="2"><c r="B2"><f t="shared" si="0"/><v>6</v></c>'
        '<c r="C2"><f t="shared" si="0"/><v>8</v></c><c r="D2"><f t="shared" si="9"/></c></row>'
    )
    sheets = {"S": body}
    book = read_workbook(build_xlsx(sheets, names=defined("d2", "S!D2")))
    assert book.cell("S", "C1") == Cell("S", "C1", 4)
    assert book.cell("S", "C2") == Cell("S", "C2", 8)
    assert book.names["d2"] == Cell("S", "D2", None, "", has_cached_value=False)
    without_values = body.replace("<v>4</v>", "").replace("<v>8</v>", "")
    book = read_workbook(build_xlsx({"S": without_values}, names=defined("c2", "S!C2")))
    # a dependent without a cached value: its formula's text is on the master cell, not here
    assert book.cell("S", "C2") == Cell("S", "C2", None, "", has_cached_value=False)


def test_cells_and_rows_without_r_attributes() -> None:
    body = (
        '<row><c t="inlineStr"><is><t>first_id</t></is></c><c/><c><v>1</v></c></row>'
        '<row r="5"><c t="inlineStr"><is><t>second_id</t></is></c><c><v>x</v></c><c><v>2</v></c></row>'
        '<row><c r="A6" t="inlineStr"><is><t>third_id</t></is></c><c><v>0</v></c><c><v>3</v></c></row>'
    )
    book = read_workbook(build_xlsx({"S": body}))
    assert book.id_rows == {
        "first_id": Cell("S", "C1", 1),
        "second_id": Cell("S", "C5", 2),
        "third_id": Cell("S", "C6", 3),
    }


def test_lowercase_refs_are_normalized() -> None:
    body = '<row r="3"><c r="c3"><v>1</v></c><c r="D03"><v>2</v></c></row>'
    book = read_workbook(build_xlsx({"S": body}, names=defined("d", "S!D3")))
    assert book.cell("S", "C3") == Cell("S", "C3", 1)
    assert book.names["d"] == Cell("S", "D3", 2)


def test_nfd_text_is_returned_as_is() -> None:
    nfd = unicodedata.normalize("NFD", "Chi bộ Trường Sơn")
    assert nfd != unicodedata.normalize("NFC", nfd)
    body = f'<row r="1"><c r="C1" t="s"><v>0</v></c><c r="A1" t="inlineStr"><is><t>{nfd}</t></is></c></row>'
    book = read_workbook(build_xlsx({"S": body}, shared=[nfd]))
    assert book.cell("S", "C1").value == nfd
    assert book.cell("S", "A1").value == nfd


def test_strict_namespace_and_absolute_targets() -> None:
    body = '<row r="2"><c r="A2" t="s"><v>0</v></c><c r="C2"><v>41</v></c></row>'
    data = build_xlsx(
        {"Báo cáo": body},
        names=defined("admitted", "'Báo cáo'!$C$2"),
        shared=["admitted"],
        ns=STRICT,
        rel_ns=STRICT_REL,
        absolute_targets=True,
    )
    book = read_workbook(data)
    assert book.names["admitted"] == Cell("Báo cáo", "C2", 41)
    assert book.id_rows["admitted"].value == 41


def test_xlsm_and_path_input(tmp_path: Path) -> None:
    data = patch_zip(openpyxl_return(), {"xl/vbaProject.bin": b"\x00" * 64})
    path = tmp_path / "Báo cáo chi bộ.xlsm"
    path.write_bytes(data)
    assert read_workbook(path).names["admitted"].value == 3


def sheet_part(body: str, head: str = "") -> bytes:
    return f'<worksheet xmlns="{MAIN}">{head}<sheetData>{body}</sheetData></worksheet>'.encode()


def test_huge_dimension_is_harmless_and_a_far_cell_is_too_large() -> None:
    body = '<row r="1"><c r="A1" t="inlineStr"><is><t>far</t></is></c><c r="C1"><v>2</v></c></row>'
    data = patch_zip(
        build_xlsx({"S": ""}, names=defined("c1", "S!C1")),
        {"xl/worksheets/sheet1.xml": sheet_part(body, '<dimension ref="A1:XFD1048576"/>')},
    )
    assert read_workbook(data).names["c1"] == Cell("S", "C1", 2)
    # calamine holds a sheet as a dense grid: A1 with XFD1048576 would be 512 GB and abort
    far = body + '<row r="1048576"><c r="XFD1048576"><v>9</v></c></row>'
    tall = (
        body
        + '<row r="2"><c r="Z2"><v>1</v></c></row><row r="1048576"><c r="A1048576"><v>9</v></c></row>'
    )
    prefixed = sheet_part(far).replace(b"<", b"<x:").replace(b"<x:/", b"</x:")
    prefixed = prefixed.replace(b'xmlns="', b'xmlns:x="')
    for spelling in (far, far.replace('r="XFD1048576"', "r='XFD1048576'"), tall, prefixed):
        part = spelling if isinstance(spelling, bytes) else sheet_part(spelling)
        data = patch_zip(build_xlsx({"S": ""}), {"xl/worksheets/sheet1.xml": part})
        tracemalloc.start()
        started = time.perf_counter()
        assert unreadable(data).kind == "too_large"
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert peak < 5 * 1024 * 1024 and elapsed < 1
        with pytest.raises(Unreadable):
            precheck(data)
    # cells placed by their position count too: a long row of them far down
    positional = '<row r="100000">' + "<c><v>1</v></c>" * 20 + "</row>"
    data = patch_zip(build_xlsx({"S": ""}), {"xl/worksheets/sheet1.xml": sheet_part(positional)})
    assert unreadable(data).kind == "too_large"


def test_far_empty_rows_and_styled_cells_are_no_part_of_the_area() -> None:
    """LibreOffice writes formatted empty rows down to the last one; Excel styled empty cells."""
    body = (
        '<row r="2"><c r="A2" t="inlineStr"><is><t>admitted</t></is></c><c r="C2"><v>3</v></c>'
        '</row><row r="5000"><c r="XFD5000" s="1"/></row>'
        '<row r="1048576" customFormat="1" ht="12.8"></row>'
    )
    data = patch_zip(build_xlsx({"S": ""}), {"xl/worksheets/sheet1.xml": sheet_part(body)})
    assert read_workbook(data).id_rows["admitted"] == Cell("S", "C2", 3)
    # a sheet wider than Z and longer than 999 rows is measured, and read when it is modest
    wide = body.replace('s="1"/>', 's="1"/><c r="AB5000"><v>7</v></c>')
    data = patch_zip(build_xlsx({"S": ""}), {"xl/worksheets/sheet1.xml": sheet_part(wide)})
    assert read_workbook(data).id_rows["admitted"] == Cell("S", "C2", 3)


def test_large_sheet_reads_every_row() -> None:
    body = "".join(
        f'<row r="{r}"><c r="A{r}" t="inlineStr"><is><t>id_{r}</t></is></c>'
        f'<c r="B{r}"><v>{r}</v></c><c r="C{r}"><v>{r * 2}</v></c></row>'
        for r in range(1, 3001)
    )
    shared = "".join(f"<si><r><t>s</t></r><r><t>{i}</t></r></si>" for i in range(3000))
    body += '<row r="3001"><c r="A3001" t="s"><v>2999</v></c><c r="C3001"><v>1</v></c></row>'
    book = read_workbook(build_xlsx({"S": body}, names=defined("last", "S!C3000"), shared=shared))
    assert book.names["last"].value == 6000 and len(book.id_rows) == 3001
    assert book.id_rows["s2999"] == Cell("S", "C3001", 1)


def test_cdata_comments_and_odd_children_in_cells() -> None:
    body = (
        '<row r="1"><!-- x --><c r="C1" t="inlineStr"><is><t><![CDATA[a</sheetData>b]]></t></is>'
        '</c><?pi x?></row><!-- <row r="2"><c r="C2"><v>9</v></c></row> -->'
        '<row r="3"><c r="C3"><v>1</v><v>2</v></c><c r="A3"><!-- c --><v>3</v></c></row>'
    )
    book = read_workbook(build_xlsx({"S": body}))
    assert book.cell("S", "C1") == Cell("S", "C1", "a</sheetData>b")
    assert book.cell("S", "C2") is None
    assert book.cell("S", "A3") == Cell("S", "A3", 3)


def test_oversized_input_is_too_large(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(_package, "MAX_INPUT_BYTES", 1000)
    data = openpyxl_return()
    assert unreadable(data).kind == "too_large"
    (tmp_path / "big.xlsx").write_bytes(data)
    with pytest.raises(Unreadable) as caught:
        read_workbook(tmp_path / "big.xlsx")
    assert caught.value.kind == "too_large"


def test_cell_is_a_frozen_dataclass() -> None:
    import copy
    import dataclasses
    import pickle

    cell = Cell("S", "C1", 1)
    assert cell == Cell(sheet="S", ref="C1", value=1, formula=None, has_cached_value=True)
    assert (cell.formula, cell.has_cached_value, cell.is_error) == (None, True, False)
    assert dataclasses.replace(cell, value=2) == Cell("S", "C1", 2)
    assert pickle.loads(pickle.dumps(cell)) == cell == copy.copy(cell)
    assert hash(cell) == hash(Cell("S", "C1", 1)) and cell != Cell("S", "C1", 1.5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cell.value = 3  # type: ignore[misc]
    assert repr(cell) == (
        "Cell(sheet='S', ref='C1', value=1, formula=None, has_cached_value=True, is_error=False)"
    )


def test_returns_of_one_form_read_one_after_another() -> None:
    """What is remembered between reads (names, relationships) never leaks values."""
    first = build_xlsx({"S": '<row r="2"><c r="C2"><v>1</v></c></row>'}, names=defined("a", "S!C2"))
    second = build_xlsx(
        {"S": '<row r="2"><c r="C2"><v>2</v></c></row>'}, names=defined("a", "S!C2")
    )
    renamed = build_xlsx(
        {"T": '<row r="2"><c r="C2"><v>3</v></c></row>'}, names=defined("a", "T!C2")
    )
    for _ in range(2):
        assert read_workbook(first).names["a"] == Cell("S", "C2", 1)
        assert read_workbook(second).names["a"] == Cell("S", "C2", 2)
        assert read_workbook(renamed).names["a"] == Cell("T", "C2", 3)


# --- refusing what is not a return ---------------------------------------------------------


def ole(payload: bytes = b"") -> bytes:
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504 + payload + b"\x00" * 1024


def zip_of(entries: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def ods() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        zf.writestr("content.xml", "<office:document-content/>", zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def docx() -> bytes:
    return zip_of(
        {
            "[Content_Types].xml": b"<Types/>",
            "_rels/.rels": f'<Relationships xmlns="{PKG_REL}"><Relationship Id="rId1" '
            f'Type="{REL}/officeDocument" Target="word/document.xml"/></Relationships>'.encode(),
            "word/document.xml": b"<w:document/>",
        }
    )


CASES = {
    "empty": (b"", "empty", "empty"),
    "zeros": (b"\x00" * 4096, "empty", "empty"),
    "xls": (ole("Workbook".encode("utf-16-le")), "xls", "xls"),
    "encrypted_ole": (ole("EncryptionInfo".encode("utf-16-le")), "encrypted", "encrypted"),
    "doc": (ole("WordDocument".encode("utf-16-le")), "doc", "not_a_return"),
    "ods": (ods(), "ods", "ods"),
    "csv": ("Mã chi bộ,Số đảng viên\nLT1,48\n".encode(), "csv", "csv"),
    "csv_utf16": ("\ufeffMã;Số\r\nLT1;48\r\n".encode("utf-16-le"), "csv", "csv"),
    "csv_cp1258": ("Chi bo;S\xf4\nLT1;48\n".encode("cp1258"), "csv", "csv"),
    "random": (bytes(range(256)) * 8, "not_zip", "not_zip"),
    "docx": (docx(), "docx", "not_a_return"),
    "other_zip": (zip_of({"ảnh/1.jpg": b"\xff\xd8\xff"}), "zip", "not_a_return"),
    "xlsb": (zip_of({"xl/workbook.bin": b"\x83\x01"}), "xlsb", "xls"),
    "pdf": (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "pdf", "not_a_return"),
    "png": (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "image", "not_a_return"),
    "html": (b"<html><body><table><tr><td>1</td></tr></table></body></html>", "html", "xls"),
    "truncated": (openpyxl_return()[:3000], "corrupt", "corrupt"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_what_is_not_a_return_is_named(case: str) -> None:
    data, sniffed, kind = CASES[case]
    assert sniff(data) == sniffed
    error = unreadable(data)
    assert error.kind == kind
    assert_good_message(error.message)


def test_sniff_of_a_workbook() -> None:
    assert sniff(openpyxl_return()) == "xlsx"
    assert sniff(b"Ma chi bo\nLT1\n", "bao_cao.csv") == "csv"
    assert sniff(b"just a sentence") == "not_zip"


def test_messages() -> None:
    assert "Excel 97-2003 (.xls)" in unreadable(CASES["xls"][0]).message
    assert "mật khẩu" in unreadable(CASES["encrypted_ole"][0]).message
    assert "OpenDocument (.ods)" in unreadable(ods()).message
    assert "Word" in unreadable(docx()).message


def test_zip_bomb_entry_is_too_large() -> None:
    data = patch_zip(openpyxl_return(), {"xl/media/image1.png": b"\x00" * (3 * 1024 * 1024)})
    assert unreadable(data).kind == "too_large"


def test_too_many_entries_is_too_large() -> None:
    entries = {f"xl/x/{i}.xml": b"" for i in range(10_001)}
    entries["xl/workbook.xml"] = b"<workbook/>"
    data = zip_of(entries, zipfile.ZIP_STORED)
    assert unreadable(data).kind == "too_large"


def test_oversized_declared_entry_is_too_large() -> None:
    data = bytearray(zip_of({"xl/workbook.xml": b"<workbook/>"}))
    central = data.rfind(b"PK\x01\x02")
    data[central + 24 : central + 28] = (60 * 1024 * 1024).to_bytes(4, "little")
    assert unreadable(bytes(data)).kind == "too_large"


def test_encrypted_zip_entries() -> None:
    data = bytearray(openpyxl_return())
    at = data.find(b"PK\x01\x02")
    data[at + 8] |= 0x01  # general purpose flag: encrypted
    assert unreadable(bytes(data)).kind == "encrypted"


def test_bad_crc_is_corrupt() -> None:
    data = bytearray(openpyxl_return())
    start = data.find(b"xl/workbook.xml")  # local header name, the deflated bytes follow it
    data[start + 40] ^= 0xFF
    assert unreadable(bytes(data)).kind == "corrupt"


def test_malformed_xml_and_doctype_are_corrupt() -> None:
    bad = build_xlsx({"S": '<row r="1"><c r="C1"><v>1</v></row>'})
    assert unreadable(bad).kind == "corrupt"
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        f'<workbook xmlns="{MAIN}"><sheets><sheet name="&lol2;"/></sheets></workbook>'
    )
    data = patch_zip(openpyxl_return(), {"xl/workbook.xml": laughs.encode()})
    assert unreadable(data).kind == "corrupt"
    utf16 = ('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE w><workbook/>').encode("utf-16")
    assert unreadable(patch_zip(openpyxl_return(), {"xl/workbook.xml": utf16})).kind == "corrupt"


def test_missing_shared_strings_and_bad_index_are_corrupt() -> None:
    body = '<row r="1"><c r="C1" t="s"><v>3</v></c></row>'
    assert unreadable(build_xlsx({"S": body})).kind == "corrupt"
    assert unreadable(build_xlsx({"S": body}, shared=["a"])).kind == "corrupt"


def test_zip_without_workbook_is_not_a_return() -> None:
    data = patch_zip(openpyxl_return(), {"xl/workbook.xml": None})
    assert unreadable(data).kind == "not_a_return"
    assert unreadable(zip_of({"readme.txt": b"hello"})).kind == "not_a_return"


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(Unreadable) as caught:
        read_workbook(tmp_path / "không có.xlsx")
    assert caught.value.kind == "missing" and "không có.xlsx" in caught.value.message
    with pytest.raises(Unreadable) as caught:
        read_workbook(tmp_path)
    assert caught.value.kind == "missing"
    assert_good_message(caught.value.message)


def assert_good_message(message: str) -> None:
    assert message and message == unicodedata.normalize("NFC", message)
    assert "hãy" in message.lower()  # says what to do
    assert "Traceback" not in message and "Error" not in message


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_only_raise_unreadable(data: bytes) -> None:
    try:
        read_workbook(data)
    except Unreadable as exc:
        assert_good_message(exc.message)


VALID = openpyxl_return()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(0, 255)), max_size=8))
def test_damaged_workbooks_only_raise_unreadable(flips: list[tuple[int, int]]) -> None:
    data = bytearray(VALID)
    for at, value in flips:
        data[at] = value
    try:
        read_workbook(bytes(data))
    except Unreadable as exc:
        assert_good_message(exc.message)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=40), st.text(max_size=60))
def test_arbitrary_part_text_only_raises_unreadable(sheet_body: str, name_text: str) -> None:
    data = build_xlsx(
        {"S": sheet_body}, names=f'<definedName name="x">{escape(name_text)}</definedName>'
    )
    try:
        read_workbook(data)
    except Unreadable as exc:
        assert_good_message(exc.message)


# --- LibreOffice ---------------------------------------------------------------------------


@pytest.mark.soffice
def test_libreoffice_round_trip_keeps_names_and_values(tmp_path: Path) -> None:
    if find_soffice() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("LibreOffice (soffice) is required in CI but is not installed.")
        pytest.skip("LibreOffice (soffice) is not installed on this machine.")
    source = tmp_path / "return.xlsx"
    source.write_bytes(openpyxl_return())
    # no quotes around the filter name: the argument goes to soffice without a shell
    saved = convert(source, "xlsx:Calc MS Excel 2007 XML", tmp_path / "lo")
    before, after = read_workbook(source), read_workbook(saved)
    assert after.sheet_names == before.sheet_names
    assert set(after.names) == set(before.names)
    for key, cell in before.names.items():
        again = after.names[key]
        assert (again.sheet, again.ref) == (cell.sheet, cell.ref)
        if cell.formula is None:
            assert again.value == cell.value and type(again.value) is type(cell.value)
    # Calc stores a typed-in TRUE as the formula TRUE() with its cached value
    # (a formula with a cached value is read as that value)
    assert after.names["confirmed"] == Cell(ODD_SHEET, "C6", True)
    assert after.names["note"].formula is None and after.names["members_end"].formula is None
    # Calc computes the formula that openpyxl left without a cached value
    assert after.names["members_end"].has_cached_value
    assert after.names["members_end"].value == 51
    assert {k: c.ref for k, c in after.id_rows.items()} == {
        k: c.ref for k, c in before.id_rows.items()
    }
    # Calc keeps Excel's syntax for the names ('' escapes, and $ only where it was)
    with zipfile.ZipFile(saved) as zf:
        texts = {
            e.get("name"): e.text
            for e in etree.fromstring(zf.read("xl/workbook.xml")).iter(f"{{{MAIN}}}definedName")
        }
    assert texts["branch_code"] == "'Báo cáo của chi bộ''s'!$C$2"
    assert texts["annex_count"] == "'Phụ lục'!C5"


def test_every_message_is_nfc_vietnamese_and_says_what_to_do() -> None:
    for message in _package.MESSAGES.values():
        assert_good_message(message)


# --- every legal spelling of the package reads the same -----------------------------------


def zip_parts(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def respell(data: bytes, change) -> bytes:
    """``data`` with each XML part's text passed through ``change(name, text)``."""
    parts = zip_parts(data)
    return patch_zip(
        data,
        {
            name: change(name, part.decode("utf-8")).encode("utf-8")
            for name, part in parts.items()
            if name.endswith((".xml", ".rels")) and name.startswith(("xl/", "_rels/"))
        },
    )


def prefixed(name: str, text: str) -> str:
    """Every SpreadsheetML element under the prefix x:, as .NET writers do."""
    if not name.startswith("xl/") or name.endswith(".rels") or MAIN not in text:
        return text
    text = re.sub(r"<(/?)([A-Za-z]\w*)(?=[\s/>])", r"<\1x:\2", text)
    return text.replace(f'xmlns="{MAIN}"', f'xmlns:x="{MAIN}"')


def strict(name: str, text: str) -> str:
    """Excel's Strict Open XML: the purl.oclc.org namespaces and relationship types."""
    text = text.replace(MAIN, STRICT).replace(f"{REL}/", f"{STRICT_REL}/")
    return text.replace(f'"{REL}"', f'"{STRICT_REL}"')


def moved_strings(data: bytes) -> bytes:
    """Inline strings moved into a shared-strings part (as Excel writes), or the other way."""
    parts = zip_parts(data)
    if "xl/sharedStrings.xml" in parts:
        strings = [
            "".join(si.itertext())
            for si in etree.fromstring(parts["xl/sharedStrings.xml"]).iter(f"{{{MAIN}}}si")
        ]
        pattern, changes = r'(<c [^>]*?)t="s"><v>(\d+)</v></c>', {"xl/sharedStrings.xml": None}

        def move(match: re.Match[str]) -> str:
            text = escape(strings[int(match.group(2))])
            return f'{match.group(1)}t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'

    else:
        strings, pattern, changes = [], r'(<c [^>]*?)t="inlineStr"><is><t>([^<]*)</t></is></c>', {}

        def move(match: re.Match[str]) -> str:
            strings.append(match.group(2))
            return f'{match.group(1)}t="s"><v>{len(strings) - 1}</v></c>'

    for name, part in parts.items():
        if name.startswith("xl/worksheets/"):
            changes[name] = re.sub(pattern, move, part.decode()).encode()
    if strings and "xl/sharedStrings.xml" not in parts:
        items = "".join(f"<si><t>{text}</t></si>" for text in strings)
        changes["xl/sharedStrings.xml"] = f'<sst xmlns="{MAIN}">{items}</sst>'.encode()
        rels = (
            parts["xl/_rels/workbook.xml.rels"]
            .decode()
            .replace(
                "</Relationships>",
                f'<Relationship Id="rIdS" Type="{REL}/sharedStrings" Target="sharedStrings.xml"/>'
                "</Relationships>",
            )
        )
        changes["xl/_rels/workbook.xml.rels"] = rels.encode()
    return patch_zip(data, changes)


def rich_runs(name: str, text: str) -> str:
    """Each shared string split into two runs, the second one bold (Excel's rich text)."""
    if not name.endswith("sharedStrings.xml"):
        return text

    def split(match: re.Match[str]) -> str:
        body = etree.fromstring(f"<t>{match.group(1)}</t>").text or ""
        half = len(body) // 2
        return (
            f'<si><r><t xml:space="preserve">{escape(body[:half])}</t></r><r><rPr><b/></rPr>'
            f'<t xml:space="preserve">{escape(body[half:])}</t></r></si>'
        )

    return re.sub(r"<si><t[^>]*>([^<]*)</t></si>", split, text)


def exponents(name: str, text: str) -> str:
    """Numbers written in exponent form, as Java and .NET writers do (48 -> 4.8E+1)."""
    if "worksheets/" not in name:
        return text
    number_cell = r'(<c(?: (?!t=)\w+="[^"]*")*(?: t="n")?(?: (?!t=)\w+="[^"]*")*>)'
    return re.sub(
        number_cell + r"<v>(-?\d+(?:\.\d+)?)</v>",
        lambda m: f"{m.group(1)}<v>{float(m.group(2)):.6E}</v>",
        text,
    )


def what_is_read(book) -> tuple:
    return (
        book.sheet_names,
        {
            k: (c.sheet, c.ref, c.value, c.has_cached_value, c.is_error)
            for k, c in book.names.items()
        },
        {k: (c.sheet, c.ref, c.value) for k, c in book.id_rows.items()},
    )


SPELLINGS = {
    "prefixed": lambda data: respell(data, prefixed),
    "strict": lambda data: respell(data, strict),
    "strict_prefixed": lambda data: respell(respell(data, strict), prefixed),
    "moved_strings": moved_strings,
    "rich_text": lambda data: respell(moved_strings(data), rich_runs),
    "exponents": lambda data: respell(data, exponents),
}


@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
def test_every_spelling_of_a_return_reads_the_same(spelling: str) -> None:
    data = openpyxl_return()
    respelled = SPELLINGS[spelling](data)
    assert respelled != data
    expected = what_is_read(read_workbook(data))
    assert what_is_read(read_workbook(respelled)) == expected
    assert expected[1]["members_end"] == (ODD_SHEET, "C7", None, False, False)
    assert (
        expected[1]["members_start"][2] == 48 and expected[1]["note"][2] == "Chi bộ hoạt động tốt"
    )


@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
def test_every_spelling_tells_formulas_errors_and_empty_strings(spelling: str) -> None:
    body = (
        '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="C1"><f>SUM(C2:C3)</f></c></row>'
        '<row r="2"><c r="A2" t="s"><v>1</v></c><c r="C2" t="e"><f>1/0</f><v>#DIV/0!</v></c></row>'
        '<row r="3"><c r="A3" t="s"><v>2</v></c><c r="C3" t="str"><f>""</f><v></v></c></row>'
        '<row r="4"><c r="A4" t="s"><v>3</v></c><c r="C4"><v>12.000000000000002</v></c></row>'
    )
    data = build_xlsx({"Báo cáo": body}, shared=["no_value", "error", "empty", "noisy"])
    book = read_workbook(SPELLINGS[spelling](data))
    assert book.id_rows == {
        "no_value": Cell("Báo cáo", "C1", None, "SUM(C2:C3)", has_cached_value=False),
        "error": Cell("Báo cáo", "C2", "#DIV/0!", "1/0", is_error=True),
        "empty": Cell("Báo cáo", "C3", "", '""'),
        "noisy": Cell("Báo cáo", "C4", 12),
    }


def test_date_time_and_duration_formats_give_the_stored_number() -> None:
    wb = OpenpyxlWorkbook()
    ws = wb.active
    # (60 is left out: Excel's fictitious 29/02/1900, which calamine reads as the 28th)
    stored = [45473, 45473.5, 48, 0.125, -5, -0.5, 1.5, 61, 0.99999999999]
    formats = ["dd/mm/yyyy", "dd/mm/yyyy hh:mm", "dd/mm/yyyy", "hh:mm", "dd/mm/yyyy"]
    formats += ["hh:mm", "[h]:mm:ss", "dd/mm/yyyy", "hh:mm:ss"]
    for row, (value, number_format) in enumerate(zip(stored, formats, strict=True), 1):
        ws.cell(row, 1, f"v{row}")
        ws.cell(row, 3, value).number_format = number_format
    buffer = io.BytesIO()
    wb.save(buffer)
    book = read_workbook(buffer.getvalue())
    assert [book.id_rows[f"v{row}"].value for row in range(1, len(stored) + 1)] == stored
    wb.epoch = openpyxl_1904()
    buffer = io.BytesIO()
    wb.save(buffer)
    assert read_workbook(buffer.getvalue()).id_rows["v1"].value == 45473  # raw in 1904 too


def openpyxl_1904():
    from openpyxl.utils.datetime import CALENDAR_MAC_1904

    return CALENDAR_MAC_1904


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(-(10**9), 10**9),
    st.integers(-2, 2),  # a formula's noise: an ulp or two (12.000000000000002)
    st.floats(-1e9, 1e9, allow_nan=False),
)
def test_binary_noise_reads_as_the_number_shown(whole: int, ulps: int, other: float) -> None:
    """12.000000000000002 in a formula's cache is the 12 a spreadsheet shows."""
    noisy = float(whole)
    for _ in range(abs(ulps) if whole else 0):  # next to 0 is 5e-324, not noise
        noisy = math.nextafter(noisy, math.inf if ulps > 0 else -math.inf)
    body = (
        f'<row r="1"><c r="A1" t="inlineStr"><is><t>noisy</t></is></c><c r="C1"><f>X</f><v>'
        f"{noisy!r}</v></c></row>"
        f'<row r="2"><c r="A2" t="inlineStr"><is><t>other</t></is></c><c r="C2"><v>'
        f"{other!r}</v></c></row>"
    )
    book = read_workbook(build_xlsx({"S": body}))
    value = book.id_rows["noisy"].value
    assert value == whole and type(value) is int
    shown = float(f"{other:.15g}")
    assert book.id_rows["other"].value == shown
    assert type(book.id_rows["other"].value) is (int if shown.is_integer() else float)


def test_bad_references_are_corrupt_or_not_read() -> None:
    for body in (
        '<row r="1"><c r="B0"><v>1</v></c></row>',
        '<row r="1"><c r="B1x"><v>1</v></c></row>',
        '<row r="0"><c r="B1"><v>1</v></c></row>',
    ):
        assert unreadable(build_xlsx({"S": body})).kind == "corrupt"
    # calamine drops a cell beyond the last column, as Excel would not have written it
    book = read_workbook(build_xlsx({"S": '<row r="1"><c r="ABCD1"><v>1</v></c></row>'}))
    assert book.cells == {"S": {}}


def test_doctype_or_damage_anywhere_in_a_sheet_is_corrupt() -> None:
    body = '<row r="1"><c r="C1"><v>1</v></c></row>'
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE w [<!ENTITY e "x"><!ENTITY f "&e;&e;&e;&e;">]>'
        f'<worksheet xmlns="{MAIN}"><sheetData><row r="1"><c r="C1" t="inlineStr"><is><t>&f;'
        "</t></is></c></row></sheetData></worksheet>"
    )
    for part in (
        laughs,
        f'<worksheet xmlns="{MAIN}"><sheetData>{body}</sheetData><!DOCTYPE x></worksheet>',
        f'<worksheet xmlns="{MAIN}"><sheetData>{body}</sheetData><mergeCells></worksheet>',
        f'<worksheet xmlns="{MAIN}"><sheetData><row r="1"><c r="C1"></row></sheetData></worksheet>',
    ):
        data = patch_zip(build_xlsx({"S": body}), {"xl/worksheets/sheet1.xml": part.encode()})
        assert unreadable(data).kind == "corrupt"
        with pytest.raises(Unreadable):
            precheck(data) if "DOCTYPE" in part else read_workbook(data)


def test_a_cell_tag_in_a_comment_does_not_fool_the_look() -> None:
    body = (
        '<!-- <row r="2"><c r="C2"><v>9</v></c></row> -->'
        '<row r="2"><c r="A2" t="inlineStr"><is><t>total</t></is></c><c r="C2"><f>SUM(C3:C4)</f>'
        '</c></row><row r="3"><c r="C3" t="inlineStr"><is><t><![CDATA[<c r="C4"/>]]></t></is></c>'
        '</row><row r="4"><c r="A4" t="inlineStr"><is><t>other</t></is></c><c r="C4" t="e">'
        "<v>#N/A</v></c></row>"
    )
    for spelling in (body, body[body.index("-->") + 3 :]):  # with and without the comment
        book = read_workbook(build_xlsx({"S": spelling}))
        assert book.id_rows["total"] == Cell("S", "C2", None, "SUM(C3:C4)", has_cached_value=False)
        assert book.id_rows["other"] == Cell("S", "C4", "#N/A", is_error=True)


def test_a_large_sheet_is_inflated_again_for_a_look(monkeypatch: pytest.MonkeyPatch) -> None:
    """Large sheets are not kept in memory after the pre-check; a look reads them again."""
    body = (
        '<row r="1"><c r="A1" t="inlineStr"><is><t>total</t></is></c><c r="C1"><f>1+1</f></c></row>'
    )
    data = build_xlsx({"S": body})
    kept = read_workbook(data)
    monkeypatch.setattr(_package, "KEEP_XML_BYTES", 0)
    assert read_workbook(data) == kept
    assert kept.id_rows["total"] == Cell("S", "C1", None, "1+1", has_cached_value=False)
