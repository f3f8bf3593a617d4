"""tong-hop-so-lieu.xlsx, read back with openpyxl: sheets, headings, one row per branch, totals."""

from __future__ import annotations

import dataclasses
import datetime as dt

from openpyxl import load_workbook

from tonghop.periods import Period
from tonghop.report.aggregate import Counted, aggregate
from tonghop.report.publish import write_aggregate_workbook

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


def test_hundreds_of_branches_in_order_with_their_values(tmp_path, form, workspace):
    """300 branches, every tenth with a boolean among its figures: every row in its place."""
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
