"""tong-hop-so-lieu.xlsx (issue 9, item 8), read back with openpyxl: the title, Vietnamese
headings with borders, the field ids in a hidden row, the three groups, the print setup."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from tonghop.cli import CliContext, cli
from tonghop.ledger import Outcome
from tonghop.periods import Period
from tonghop.report import publish, workbook
from tonghop.report.aggregate import Counted, aggregate
from tonghop.report.status import BranchStatus, PeriodStatus
from tonghop.report.workbook import write_aggregate_workbook

from .conftest import balanced_values

HEADING, IDS, FIRST_DATA = 4, 5, 6  # rows, as Excel numbers them


def counted(branch: str, period: str, **values) -> Counted:
    p = Period.parse(period)
    received = dt.datetime.combine(p.end, dt.time(9)) + dt.timedelta(days=3)
    return Counted(branch, p, balanced_values(p, **values), received, 1)


def status_of(config, period: str, accepted: set[str], returned: set[str]) -> PeriodStatus:
    """The period's status as report.status makes it: counted, sent back, not received."""
    rows = []
    for b in config.branches:
        row = BranchStatus(b.code, b.name, received=b.code in accepted | returned)
        if b.code in accepted:
            row.outcome = Outcome.ACCEPTED
        elif b.code in returned:
            row.outcome = Outcome.REJECTED
        rows.append(row)
    p = Period.parse(period)
    return PeriodStatus(p, dt.date(2024, 7, 15), rows, dt.datetime(2024, 7, 20, 10))


def keys_of(form, agg) -> list[str]:
    return [f.id for f in form.number_fields(agg.period.kind)] + [d.id for d in form.derived]


def test_publish_writes_the_workbook_of_this_module():
    assert publish.write_aggregate_workbook is workbook.write_aggregate_workbook


def test_a_titled_bordered_table_with_hidden_ids_and_the_three_groups(tmp_path, form, config):
    returns = [
        counted("LT1", "2023", admitted=5),
        counted("LT1", "2024-H1", admitted=2, members_start=30),
        counted("LT2", "2024-H1", admitted=1, highlights="=1+1 http://x.vn"),
    ]
    agg = aggregate(form, config, returns, Period.parse("2024-H1"))
    status = status_of(config, "2024-H1", accepted={"LT1", "LT2"}, returned={"TL1"})
    path = write_aggregate_workbook(
        agg,
        form,
        config,
        tmp_path / "out" / "tong-hop-so-lieu.xlsx",
        status=status,
        date=dt.date(2024, 7, 22),
    )
    assert sorted(p.name for p in path.parent.iterdir()) == ["tong-hop-so-lieu.xlsx"]

    book = load_workbook(path)
    assert book.sheetnames == ["Trong kỳ", "Lũy kế nhiệm kỳ"]
    keys = keys_of(form, agg)
    labels = {f.id: (f.label, f.unit) for f in form.fields.values()}
    labels |= {d.id: (d.label, d.unit) for d in form.derived}
    branches = config.branches
    expected_groups = ["Đã tiếp nhận"] * 2 + ["Trả lại để sửa"] + ["Chưa nộp"] * (len(branches) - 3)
    assert [b.code for b in branches[:3]] == ["LT1", "LT2", "TL1"]
    for sheet, rows, total, covers in (
        (book["Trong kỳ"], agg.rows, agg.total, "Số liệu 6 tháng đầu năm 2024"),
        (
            book["Lũy kế nhiệm kỳ"],
            agg.term_rows,
            agg.term,
            "Lũy kế từ đầu nhiệm kỳ 2020-2025 đến hết 6 tháng đầu năm 2024",
        ),
    ):
        lines = [list(r) for r in sheet.iter_rows(values_only=True)]
        # the title: committee, what the figures cover, the date and how many are counted
        assert lines[0][0] == config.committee.name
        assert lines[1][0] == f"TỔNG HỢP SỐ LIỆU BÁO CÁO CỦA CÁC CHI BỘ — {covers}"
        assert lines[2][0] == (
            f"Lập ngày 22/07/2024; theo báo cáo đã tiếp nhận của 2/{len(branches)} chi bộ."
        )
        assert sheet["A1"].font.b and sheet["A2"].font.b
        # Vietnamese headings, each figure's with its unit, wrapped
        heading = [(v or "").replace("\n", " ") for v in lines[HEADING - 1]]
        assert heading[:4] == ["STT", "Mã", "Chi bộ", "Tình trạng báo cáo kỳ này"]
        assert heading[4:] == [
            f"{lab} ({unit})" if unit else lab for lab, unit in map(labels.get, keys)
        ]
        assert all(c.alignment.wrap_text for c in sheet[HEADING])
        assert sheet.cell(HEADING, 5).alignment.textRotation == 90
        assert sheet.row_dimensions[HEADING].height >= 60
        # the field ids for machines, in a hidden row
        assert lines[IDS - 1] == [None, "code", "name", "status", *keys]
        assert sheet.row_dimensions[IDS].hidden
        # one row per branch: its group and its figures
        data = lines[FIRST_DATA - 1 : FIRST_DATA - 1 + len(branches)]
        assert [line[0] for line in data] == list(range(1, len(branches) + 1))
        assert [line[1] for line in data] == [b.code for b in branches]
        assert [line[2] for line in data] == [b.name for b in branches]
        assert [line[3] for line in data] == expected_groups
        for line, row in zip(data, rows, strict=True):
            assert line[4:] == [row.values.get(k) for k in keys]
        total_line = lines[FIRST_DATA - 1 + len(branches)]
        assert total_line[2:4] == ["Tổng cộng", 2]  # counted branches, shown as "2 chi bộ"
        assert sheet.cell(FIRST_DATA + len(branches), 4).number_format == '0" chi bộ"'
        assert total_line[4:] == [total.get(k) for k in keys]
        # the three counts under the table
        assert [line[2] for line in lines[-3:]] == [
            "Đã tiếp nhận: 2 chi bộ",
            "Trả lại để sửa: 1 chi bộ",
            f"Chưa nộp: {len(branches) - 3} chi bộ",
        ]
        # every cell of the table bordered, headings to totals: the figures of the branches
        # by one conditional format over their block (always true), the rest cell by cell
        last_row = FIRST_DATA + len(branches)
        last_column = sheet.cell(IDS, 4 + len(keys)).column_letter
        for row in sheet.iter_rows(min_row=HEADING, max_row=last_row, max_col=4 + len(keys)):
            for cell in row:
                if cell.row == IDS or (cell.column > 4 and FIRST_DATA <= cell.row < last_row):
                    continue
                sides = (cell.border.left, cell.border.right, cell.border.top, cell.border.bottom)
                assert all(side.style == "thin" for side in sides), cell.coordinate
        [block] = list(sheet.conditional_formatting)
        assert str(block.sqref) == f"E{FIRST_DATA}:{last_column}{last_row - 1}"
        [rule] = block.rules
        assert rule.type == "expression" and rule.formula == ["TRUE"]
        edges = rule.dxf.border
        assert all(s.style == "thin" for s in (edges.left, edges.right, edges.top, edges.bottom))
        assert rule.dxf.numFmt.formatCode == "#,##0"
        assert sheet.cell(last_row, 5).number_format == "#,##0"
        assert sheet.cell(FIRST_DATA, 3).font.name == "Times New Roman"
        assert sheet.cell(last_row, 5).font.b and not sheet.cell(FIRST_DATA, 5).font.b
        # A4 landscape, one page wide, headings on every page, frozen under the headings
        setup = sheet.page_setup
        assert setup.orientation == "landscape" and int(setup.paperSize) == 9
        assert sheet.sheet_properties.pageSetUpPr.fitToPage
        assert (setup.fitToWidth or 1) == 1 and setup.fitToHeight == 0  # 1 is OOXML's default
        assert sheet.print_title_rows == f"${HEADING}:${IDS}"
        assert sheet.freeze_panes == f"D{FIRST_DATA}"
        # columns wide enough for the names and the numbers, none absurdly wide
        widths = {c: sheet.column_dimensions[c].width for c in "ABCDE"}
        longest = max(len(b.name) for b in branches)
        assert longest < widths["C"] <= longest + 4 and widths["A"] < widths["B"] < widths["D"]
    term = book["Lũy kế nhiệm kỳ"]
    lt1 = next(r for r in term.iter_rows(values_only=True) if r[1] == "LT1")
    assert lt1[4 + keys.index("admitted")] == 7


def test_money_columns_are_as_wide_as_their_totals(tmp_path, form, config):
    returns = [counted("LT1", "2024-H1", funds_mobilized=8_860_000_000)]
    agg = aggregate(form, config, returns, Period.parse("2024-H1"))
    path = write_aggregate_workbook(agg, form, config, tmp_path / "t.xlsx")
    sheet = load_workbook(path)["Trong kỳ"]
    keys = keys_of(form, agg)
    money = sheet.cell(IDS, 5 + keys.index("funds_mobilized")).column_letter
    count = sheet.cell(IDS, 5 + keys.index("admitted")).column_letter
    assert sheet.column_dimensions[money].width >= len("8,860,000,000")
    assert sheet.column_dimensions[count].width < sheet.column_dimensions[money].width


def test_without_the_status_a_branch_is_counted_or_not_received(tmp_path, form, config):
    agg = aggregate(form, config, [counted("LT2", "2024-H1")], Period.parse("2024-H1"))
    path = write_aggregate_workbook(agg, form, config, tmp_path / "t.xlsx")
    sheet = load_workbook(path)["Trong kỳ"]
    groups = {r[1]: r[3] for r in sheet.iter_rows(min_row=FIRST_DATA, values_only=True) if r[1]}
    assert groups["LT2"] == "Đã tiếp nhận"
    assert set(groups.values()) == {"Đã tiếp nhận", "Chưa nộp"}
    assert f"của 1/{len(config.branches)} chi bộ" in sheet["A3"].value
    assert sheet["A3"].value.startswith(f"Lập ngày {dt.date.today():%d/%m/%Y}")


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
    lines = list(sheet.iter_rows(min_row=FIRST_DATA, max_row=FIRST_DATA + 299, values_only=True))
    assert [line[1] for line in lines] == [b.code for b in branches]
    column = 4 + [f.id for f in form.number_fields(agg.period.kind)].index("admitted")
    assert [line[column] for line in lines] == [True if i % 10 == 3 else i % 7 for i in range(300)]


@pytest.fixture
def run(workspace, clock):
    def invoke(*args: str):
        return CliRunner().invoke(
            cli, ["--home", str(workspace.home), *args], obj=CliContext(str(workspace.home), clock)
        )

    return invoke


def test_report_writes_the_workbook_fit_to_send_up(run, workspace, make_return, config):
    make_return("LT1", "2024-H1")
    assert run("process").exit_code == 0
    result = run("report", "--period", "2024-H1", "--no-pdf")
    assert result.exit_code == 0, result.output
    sheet = load_workbook(workspace.outbox / "2024-H1" / publish.AGGREGATE_NAME)["Trong kỳ"]
    assert sheet["A1"].value == config.committee.name
    assert sheet["A2"].value.endswith("Số liệu 6 tháng đầu năm 2024")
    assert sheet.row_dimensions[IDS].hidden and sheet.page_setup.orientation == "landscape"
    lt1 = next(r for r in sheet.iter_rows(values_only=True) if r[1] == "LT1")
    assert lt1[3] == "Đã tiếp nhận"
