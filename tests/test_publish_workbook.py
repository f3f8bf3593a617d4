"""tong-hop-so-lieu.xlsx, read back with openpyxl: sheets, headings, one row per branch, totals."""

from __future__ import annotations

import dataclasses
import datetime as dt
import zipfile

from openpyxl import load_workbook

from tonghop.aggregate import Counted, aggregate
from tonghop.periods import Period
from tonghop.publish import write_aggregate_workbook

from .conftest import balanced_values


def counted(branch: str, period: str, **values) -> Counted:
    p = Period.parse(period)
    received = dt.datetime.combine(p.end, dt.time(9)) + dt.timedelta(days=3)
    return Counted(branch, p, balanced_values(p, **values), received, 1)


def test_workbook_has_both_sheets_with_every_branch_and_the_totals(tmp_path, form, config):
    returns = [
        counted("LT1", "2023", admitted=5),
        counted("LT1", "2024-H1", admitted=2, members_start=30),
        counted("LT2", "2024-H1", admitted=1, highlights="=1+1 http://x.vn"),
    ]
    agg = aggregate(form, config, returns, Period.parse("2024-H1"))
    path = write_aggregate_workbook(agg, form, config, tmp_path / "out" / "tong-hop-so-lieu.xlsx")
    assert sorted(p.name for p in path.parent.iterdir()) == ["tong-hop-so-lieu.xlsx"]

    book = load_workbook(path)
    assert book.sheetnames == ["Trong kỳ", "Lũy kế nhiệm kỳ"]
    keys = [f.id for f in form.number_fields(agg.period.kind)] + [d.id for d in form.derived]
    for sheet, rows, total in (
        (book["Trong kỳ"], agg.rows, agg.total),
        (book["Lũy kế nhiệm kỳ"], agg.term_rows, agg.term),
    ):
        lines = [list(r) for r in sheet.iter_rows(values_only=True)]
        assert lines[0][0].endswith("6 tháng đầu năm 2024")
        assert lines[1][:4] == ["STT", "Mã", "Chi bộ", "Đã nộp"]
        assert lines[1][4] == form.fields[keys[0]].label
        assert lines[2] == [None, "code", "name", "reported", *keys]
        assert len(lines) == 3 + len(config.branches) + 1
        assert [line[1] for line in lines[3:-1]] == [b.code for b in config.branches]
        for line, row in zip(lines[3:-1], rows, strict=True):
            assert line[0] == rows.index(row) + 1
            assert line[3] == ("Có" if row.reported else "Chưa")
            assert line[4:] == [row.values.get(k) for k in keys]
        assert lines[-1][2:4] == ["Tổng cộng", 2]
        assert lines[-1][4:] == [total.get(k) for k in keys]
        assert sheet["A1"].font.b and sheet.cell(len(lines), 3).font.b
        assert sheet["E2"].alignment.wrap_text and sheet["E2"].font.name == "Times New Roman"
        assert not sheet["E5"].font.b
        assert sheet.freeze_panes == "D4"
        assert 40 <= sheet.column_dimensions["C"].width < 41  # 40 characters, as Excel shows
    term = book["Lũy kế nhiệm kỳ"]
    assert term["A1"].value == "Lũy kế từ đầu nhiệm kỳ 2020-2025 đến hết 6 tháng đầu năm 2024"
    lt1 = next(r for r in term.iter_rows(values_only=True) if r[1] == "LT1")
    assert lt1[4 + keys.index("admitted")] == 7


# Values a data row may hold, plain and not: _sheetrows writes the plain rows itself and leaves
# the others to XlsxWriter; either way the sheet must be the one XlsxWriter alone would write.
AWKWARD = [
    0, -3, 7, 10**17, 2**53, 2**53 - 1, -(2**53) + 1, 9_999_999_999_999_999, 0.1, 1 / 3, 1e20, 2.5e-7, -0.0, float("nan"), float("inf"), float("-inf"),
    True, False, "", " lead", "trail ", "A & B <c> \"q\" 'a'", "x\ty\nz", "\x01 control",
    "_x0041_ escape-like", "<r>rich</r>", "Đảng ủy xã Ạ", "ạ" * 20_000, None,
]  # fmt: skip


def sheets_xml(path):
    from lxml import etree

    with zipfile.ZipFile(path) as package:
        names = sorted(n for n in package.namelist() if n.startswith("xl/worksheets/sheet"))
        return {n: etree.tostring(etree.fromstring(package.read(n)), method="c14n") for n in names}


def test_plain_rows_are_written_as_xlsxwriter_writes_them(tmp_path, form, config, monkeypatch):
    from tonghop import _sheetrows
    from tonghop.config import Branch

    returns = [counted("LT1", "2023", admitted=5), counted("LT2", "2024-H1", admitted=1)]
    agg = aggregate(form, config, returns, Period.parse("2024-H1"))
    keys = [f.id for f in form.number_fields(agg.period.kind)] + [d.id for d in form.derived]
    for number, value in enumerate(AWKWARD):
        # a row of one awkward value among plain ones, and a branch named by it when text
        rows = agg.rows if number % 2 else agg.term_rows
        row = rows[number % len(rows)]
        row.values[keys[number % len(keys)]] = value
        if isinstance(value, str) and value:
            row.branch = Branch(row.branch.code, value)
    fast = write_aggregate_workbook(agg, form, config, tmp_path / "fast.xlsx")
    with monkeypatch.context() as patch:
        patch.setattr(_sheetrows.SheetRows, "add", lambda self, row, cells: False)
        alone = write_aggregate_workbook(agg, form, config, tmp_path / "alone.xlsx")
    assert sheets_xml(fast) == sheets_xml(alone)
    assert len(sheets_xml(fast)) == 2

    # and read back: the ordinary text and the numbers where they were put
    book = load_workbook(fast)
    for sheet, rows in ((book["Trong kỳ"], agg.rows), (book["Lũy kế nhiệm kỳ"], agg.term_rows)):
        lines = list(sheet.iter_rows(min_row=4, max_row=3 + len(rows), values_only=True))
        for line, row in zip(lines, rows, strict=True):
            assert line[1] == row.branch.code
            name = row.branch.name
            if not any(mark in name for mark in ("\x01", "<r>", "_x")):
                assert line[2] == name
            for key, value in zip(keys, line[4:], strict=True):
                # (past 2**53 XlsxWriter itself writes the nearest float)
                if type(row.values[key]) is int and abs(row.values[key]) < 2**53:
                    assert value == row.values[key]


def test_many_plain_rows_between_rows_xlsxwriter_writes(tmp_path, form, workspace):
    """Hundreds of branches, every tenth with a value only XlsxWriter writes: each run of
    plain rows lands in front of the row that follows it."""
    from tonghop.config import Branch

    branches = [Branch(f"B{i:03d}", f"Chi bộ {i}") for i in range(300)]
    config = dataclasses.replace(workspace.load_config(), branches=tuple(branches))
    returns = [counted(b.code, "2024-H1", admitted=i % 7) for i, b in enumerate(branches)]
    agg = aggregate(form, config, returns, Period.parse("2024-H1"))
    for i, row in enumerate(agg.rows):
        if i % 10 == 3:
            row.values["admitted"] = True
    path = write_aggregate_workbook(agg, form, config, tmp_path / "many.xlsx")
    sheet = load_workbook(path)["Trong kỳ"]
    lines = list(sheet.iter_rows(min_row=4, values_only=True))
    assert [line[1] for line in lines[:-1]] == [b.code for b in branches]
    column = 4 + [f.id for f in form.number_fields(agg.period.kind)].index("admitted")
    assert [line[column] for line in lines[:-1]] == [
        True if i % 10 == 3 else i % 7 for i in range(300)
    ]
