"""The blank return workbook: named cells, protection, validation, print setup."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import unicodedata
from pathlib import Path

import openpyxl
import pytest

from tonghop.blank import INPUT_FILL_COLOR, form_file_name, write_blank_form
from tonghop.config import Branch, Config, load_config
from tonghop.errors import ConfigError
from tonghop.form import FormSpec, load_form
from tonghop.office import convert, find_soffice
from tonghop.periods import Period

ROOT = Path(__file__).resolve().parents[1]
BRANCH = Branch(code="LT1", name="Chi bộ Khu vực Lân Thạnh 1")
RATINGS = ("rated_excellent", "rated_good", "rated_completed", "rated_failed", "branch_rating")


@pytest.fixture(scope="module")
def form() -> FormSpec:
    return load_form(ROOT / "templates" / "form.toml")


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(ROOT / "tonghop.toml")


def make(
    form: FormSpec, config: Config, tmp_path: Path, code: str, **prefill: object
) -> tuple[Path, Period]:
    when = Period.parse(code)
    out = tmp_path / form_file_name(BRANCH, when)
    written = write_blank_form(form, config, BRANCH, when, out, prefill=prefill or None)
    assert written == out
    return out, when


def name_targets(wb: openpyxl.Workbook) -> dict[str, tuple[str, str]]:
    """defined name -> (sheet, cell without $) for the workbook-level names."""
    out = {}
    for name, defined in wb.defined_names.items():
        destinations = list(defined.destinations)
        assert len(destinations) == 1, name
        sheet, ref = destinations[0]
        out[name] = (sheet, ref.replace("$", ""))
    return out


def test_form_file_name_is_ascii_and_windows_safe() -> None:
    assert form_file_name(BRANCH, Period.parse("2024-H1")) == "bao-cao-LT1-2024-H1.xlsx"
    assert form_file_name(BRANCH, Period.parse("2024")) == "bao-cao-LT1-2024.xlsx"
    odd = Branch(code="ĐB.1", name="Chi bộ Đông Bình")
    name = form_file_name(odd, Period.parse("2024-07"))
    assert name.isascii()
    assert not re.search(r'[<>:"/\\|?*\s]', name)
    assert name == "bao-cao-DB-1-2024-07.xlsx"


@pytest.mark.parametrize("period", ["2024", "2024-H1", "2024-Q3", "2024-07"])
def test_every_asked_field_has_a_named_cell_in_column_c(
    form: FormSpec, config: Config, tmp_path: Path, period: str
) -> None:
    path, when = make(form, config, tmp_path, period)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == [form.sheet]
    ws = wb[form.sheet]
    targets = name_targets(wb)
    asked = [f.id for f in form.fields_for(when.kind)]
    assert set(asked) <= set(targets)
    for field_id in asked:
        sheet, cell = targets[field_id]
        assert sheet == form.sheet
        column, row = re.fullmatch(r"([A-Z]+)(\d+)", cell).groups()  # type: ignore[union-attr]
        assert column == "C", field_id
        assert ws[f"A{row}"].value == field_id
    # Column A holds field ids only on field rows, each once.
    ids_in_a = [c.value for c in ws["A"] if c.value is not None]
    assert sorted(ids_in_a) == sorted(asked)
    assert ws.column_dimensions["A"].hidden
    # Fields not asked in this period kind are not in the workbook at all.
    not_asked = set(form.fields) - set(asked)
    assert not not_asked & set(targets)


def test_ratings_only_in_the_annual_return(form: FormSpec, config: Config, tmp_path: Path) -> None:
    year, _ = make(form, config, tmp_path, "2024")
    half, _ = make(form, config, tmp_path, "2024-H1")
    year_names = set(openpyxl.load_workbook(year).defined_names)
    half_book = openpyxl.load_workbook(half)
    assert set(RATINGS) <= year_names
    assert not set(RATINGS) & set(half_book.defined_names)
    texts = [c.value for row in half_book.active.iter_rows() for c in row if c.value]
    assert not any("XẾP LOẠI" in str(t) for t in texts)


def test_identity_is_prefilled_and_locked_inputs_are_open(
    form: FormSpec, config: Config, tmp_path: Path
) -> None:
    path, when = make(form, config, tmp_path, "2024-H1", members_start=42)
    wb = openpyxl.load_workbook(path)
    ws = wb[form.sheet]
    targets = name_targets(wb)
    code = ws[targets["branch_code"][1]]
    period = ws[targets["period"][1]]
    assert code.value == "LT1" and code.data_type == "s"
    assert period.value == "2024-H1" and period.data_type == "s"
    assert code.protection.locked and period.protection.locked
    assert ws.protection.sheet
    assert not ws.protection.password
    for field in form.fields_for(when.kind):
        cell = ws[targets[field.id][1]]
        label = ws.cell(row=cell.row, column=2)
        assert label.value and label.value.startswith(field.label)
        assert label.protection.locked
        if field.id in ("branch_code", "period"):
            continue
        assert cell.protection.locked is False, field.id
        assert cell.fill.fgColor.rgb.endswith(INPUT_FILL_COLOR), field.id
    assert ws[targets["members_start"][1]].value == 42
    assert ws[targets["admitted"][1]].value is None


def test_prefill_ignores_fields_not_asked_and_identity(
    form: FormSpec, config: Config, tmp_path: Path
) -> None:
    path, _ = make(form, config, tmp_path, "2024-H1", rated_good=3, branch_code="XX", period="1999")
    wb = openpyxl.load_workbook(path)
    ws = wb[form.sheet]
    targets = name_targets(wb)
    assert "rated_good" not in targets
    assert ws[targets["branch_code"][1]].value == "LT1"
    assert ws[targets["period"][1]].value == "2024-H1"


def test_data_validation_by_field_type(form: FormSpec, config: Config, tmp_path: Path) -> None:
    path, when = make(form, config, tmp_path, "2024")
    wb = openpyxl.load_workbook(path)
    ws = wb[form.sheet]
    targets = name_targets(wb)
    by_cell = {}
    for validation in ws.data_validations.dataValidation:
        for cell_range in validation.sqref.ranges:
            for row in cell_range.cells:
                by_cell[ws.cell(row=row[0], column=row[1]).coordinate] = validation
    for field in form.fields_for(when.kind):
        cell = targets[field.id][1]
        if field.id in ("branch_code", "period"):
            assert cell not in by_cell
            continue
        validation = by_cell[cell]
        assert validation.showInputMessage
        assert validation.promptTitle and len(validation.promptTitle) <= 32
        assert validation.prompt and len(validation.prompt) <= 255
        assert unicodedata.is_normalized("NFC", validation.prompt)
        assert re.search(
            r"[àáạảãâầấậẩẫăằắặẳẵèéẹẻẽêềếệểễìíịỉĩòóọỏõôồốộổỗơờớợởỡùúụủũưừứựửữỳýỵỷỹđ]",
            validation.prompt.lower(),
        ), validation.prompt
        if field.help:
            assert field.help in validation.prompt
        if field.type == "count":
            assert (validation.type, validation.operator, validation.formula1) == (
                "whole",
                "greaterThanOrEqual",
                "0",
            )
        elif field.type == "money":
            assert (validation.type, validation.operator, validation.formula1) == (
                "decimal",
                "greaterThanOrEqual",
                "0",
            )
        elif field.type == "choice":
            assert validation.type == "list"
            assert validation.formula1 == '"' + ",".join(field.choices) + '"'
        elif field.type == "date":
            assert validation.type == "date"
        else:
            assert validation.type is None
        if field.type != "text":
            assert validation.showErrorMessage
            assert validation.error and len(validation.error) <= 255
            assert validation.errorTitle == "Giá trị không hợp lệ"
    assert "Nhập số nguyên từ 0 trở lên." in by_cell[targets["admitted"][1]].prompt


def test_texts_are_vietnamese_nfc_and_header_is_complete(
    form: FormSpec, config: Config, tmp_path: Path
) -> None:
    path, when = make(form, config, tmp_path, "2024-H1")
    ws = openpyxl.load_workbook(path)[form.sheet]
    texts = [c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    assert all(unicodedata.is_normalized("NFC", t) for t in texts)
    assert config.committee.name in texts
    assert form.title in texts
    assert f"Chi bộ: {BRANCH.name}" in texts
    assert f"Kỳ báo cáo: {when.label}" in texts
    assert any(t.startswith("Điền số vào các ô màu vàng nhạt") for t in texts)
    for section in form.sections:
        if any(f.asked_in(when.kind) for f in section.fields):
            assert section.title in texts
    label = ws["B20"]
    assert label.font.name == "Times New Roman" and label.font.size >= 12


def test_print_setup_is_a4_portrait_fit_to_width(
    form: FormSpec, config: Config, tmp_path: Path
) -> None:
    path, _ = make(form, config, tmp_path, "2024")
    ws = openpyxl.load_workbook(path)[form.sheet]
    assert int(ws.page_setup.paperSize) == 9
    assert ws.page_setup.orientation == "portrait"
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    assert int(ws.page_setup.fitToWidth) == 1
    assert int(ws.page_setup.fitToHeight) == 0
    assert ws.print_area and "$B$1:$D$" in ws.print_area
    assert ws.column_dimensions["B"].width >= 50
    assert 15 <= ws.column_dimensions["C"].width <= 20


def test_writes_atomically_and_replaces(form: FormSpec, config: Config, tmp_path: Path) -> None:
    path, _ = make(form, config, tmp_path, "2024-H1")
    path.write_bytes(b"old")
    make(form, config, tmp_path, "2024-H1")
    assert openpyxl.load_workbook(path).sheetnames == [form.sheet]
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_long_or_comma_choices_go_to_a_hidden_list_sheet(
    form: FormSpec, config: Config, tmp_path: Path
) -> None:
    choices = ("Tốt, vững mạnh", "Khá", "Trung bình, yếu")
    sections = []
    for section in form.sections:
        fields = tuple(
            dataclasses.replace(f, choices=choices) if f.type == "choice" else f
            for f in section.fields
        )
        sections.append(dataclasses.replace(section, fields=fields))
    changed = dataclasses.replace(form, sections=tuple(sections))
    path = write_blank_form(changed, config, BRANCH, Period.parse("2024"), tmp_path / "x.xlsx")
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames[0] == form.sheet
    lists = wb["Danh mục"]
    assert lists.sheet_state == "hidden"
    assert [c.value for c in lists["A"]] == list(choices)
    cell = name_targets(wb)["branch_rating"][1]
    found = [v for v in wb[form.sheet].data_validations.dataValidation if cell in v.sqref]
    assert found and found[0].type == "list"
    assert found[0].formula1 == "'Danh mục'!$A$1:$A$3"


def test_field_id_that_excel_reads_as_a_cell_is_refused(
    form: FormSpec, config: Config, tmp_path: Path
) -> None:
    first = form.sections[1]
    renamed = dataclasses.replace(first.fields[0], id="ab12")
    section = dataclasses.replace(first, fields=(renamed, *first.fields[1:]))
    bad = dataclasses.replace(form, sections=(form.sections[0], section, *form.sections[2:]))
    with pytest.raises(ConfigError, match="ab12"):
        write_blank_form(bad, config, BRANCH, Period.parse("2024"), tmp_path / "x.xlsx")
    assert not list(tmp_path.iterdir())


def _need_soffice() -> None:
    if find_soffice() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("LibreOffice (soffice) is required in CI but was not found.")
        pytest.skip("LibreOffice (soffice) is not installed on this machine.")


@pytest.mark.soffice
def test_annual_form_prints_on_one_or_two_pages(
    form: FormSpec, config: Config, tmp_path: Path
) -> None:
    _need_soffice()
    if shutil.which("pdfinfo") is None:
        pytest.skip("pdfinfo (poppler-utils) is not installed on this machine.")
    path, _ = make(form, config, tmp_path, "2024")
    pdf = convert(path, "pdf", tmp_path / "pdf")
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    pages = int(re.search(r"^Pages:\s+(\d+)", info.stdout, re.M).group(1))  # type: ignore[union-attr]
    assert 1 <= pages <= 2
    size = re.search(r"^Page size:\s+([\d.]+) x ([\d.]+)", info.stdout, re.M)
    assert size and abs(float(size[1]) - 595.3) < 2 and abs(float(size[2]) - 841.9) < 2
