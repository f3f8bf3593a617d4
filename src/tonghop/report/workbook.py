"""tong-hop-so-lieu.xlsx: the branches' figures side by side, fit to send to the level above.

Two sheets (the period, the term to date), each a titled table: the committee, what the figures
cover and the date; one bordered row per branch with its group (đã tiếp nhận, trả lại để sửa,
chưa nộp), the total row, and the three counts under it. The field ids stay in a hidden row
under the Vietnamese headings so that the superior level can take the figures in by machine.
Printed on A4 landscape, one page wide, with the headings repeated on every page.

XlsxWriter in constant-memory mode: each row goes to disk as it is written. (openpyxl's
write-only mode makes a cell object per value and took 1.2 s for 5,000 branches against
0.95 s for XlsxWriter, which also imports in a quarter of the time.) Measured by
bench/report_bench.py --workbook.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tonghop.config import Config
from tonghop.form import FormSpec
from tonghop.report.aggregate import Aggregate, BranchFigures
from tonghop.report.status import BranchStatus, PeriodStatus

__all__ = ["ACCEPTED", "MISSING", "RETURNED", "branch_group", "write_aggregate_workbook"]

# The three groups of issue 9, item 5, as every output names them.
ACCEPTED = "Đã tiếp nhận"
RETURNED = "Trả lại để sửa"
MISSING = "Chưa nộp"

_BOOK_OPTIONS = {
    "constant_memory": True,
    # a branch's name or a figure is data, never a formula or a link
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "nan_inf_to_errors": True,
}
_FONT = "Times New Roman"
_FIRST = ("STT", "Mã", "Chi bộ", "Tình trạng báo cáo kỳ này")
_FIRST_IDS = ("", "code", "name", "status")
_FIRST_WIDTHS = (5, 8, None, 13)  # None: the branch names' width
_FIGURE_WIDTH = 6.0  # the least: two lines of upright heading
_CHARS_PER_UPRIGHT_LINE = 3.0  # column width taken by one line of upright 10-point type
_POINTS_PER_CHAR = 5.0  # a character of 10-point Times New Roman, with room to spare
_HEADING_ROW = 3  # rows 0-2 are the title block
_IDS_ROW = _HEADING_ROW + 1  # hidden
_DATA_ROW = _IDS_ROW + 1


def branch_group(branch: BranchStatus) -> str:
    """The group a branch is in for the period, as :class:`PeriodStatus` counts them."""
    if branch.counted:
        return ACCEPTED
    return RETURNED if branch.received else MISSING


def write_aggregate_workbook(
    agg: Aggregate,
    form: FormSpec,
    config: Config,
    path: Path,
    *,
    status: PeriodStatus | None = None,
    date: dt.date | None = None,
) -> Path:
    """tong-hop-so-lieu.xlsx: one row per branch and a total row, for the period and the term.

    ``status`` gives each branch's group (without it a branch is «Đã tiếp nhận» when it has a
    counted return, else «Chưa nộp»); ``date`` is the date the title shows (default: when
    ``status`` was made, else today).
    """
    import xlsxwriter

    keys = [f.id for f in form.number_fields(agg.period.kind)] + [d.id for d in form.derived]
    derived = {d.id for d in form.derived}
    headings = _figure_headings(form, keys)
    groups = _groups(agg.rows, status)
    counts = [
        (name, sum(g == name for g in groups.values())) for name in (ACCEPTED, RETURNED, MISSING)
    ]
    when = date or (status.generated_at.date() if status else dt.date.today())
    period_label = agg.period.label
    branch_width = min(max([len(r.branch.name) for r in agg.rows] + [16]) + 2, 42)

    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.xlsx")
    book = xlsxwriter.Workbook(str(temp), _BOOK_OPTIONS)
    try:
        styles = _Styles(book)
        sheets = [
            ("Trong kỳ", f"Số liệu {period_label}", agg.rows, agg.total),
            (
                "Lũy kế nhiệm kỳ",
                f"Lũy kế từ đầu nhiệm kỳ {config.committee.term} đến hết {period_label}",
                agg.term_rows,
                agg.term,
            ),
        ]
        for title, covers, rows, total in sheets:
            sheet = book.add_worksheet(title)
            _print_setup(sheet)
            widths: list[float] = [w if w is not None else branch_width for w in _FIRST_WIDTHS]
            widths += _figure_widths(keys, total, rows, derived)
            for column, width in enumerate(widths):
                sheet.set_column(column, column, width)
            sheet.freeze_panes(_DATA_ROW, 3)  # the headings and the branch stay in view

            sheet.write(0, 0, config.committee.name, styles.committee)
            sheet.write(1, 0, f"TỔNG HỢP SỐ LIỆU BÁO CÁO CỦA CÁC CHI BỘ — {covers}", styles.title)
            counted = dict(counts)[ACCEPTED]
            sheet.write(
                2,
                0,
                f"Lập ngày {when:%d/%m/%Y}; theo báo cáo đã tiếp nhận của "
                f"{counted}/{len(agg.rows)} chi bộ.",
                styles.note,
            )
            upright, height = _upright_headings(headings, widths[len(_FIRST) :])
            sheet.set_row(_HEADING_ROW, height)
            sheet.write_row(_HEADING_ROW, 0, _FIRST, styles.heading)
            # Upright, so that some thirty figures fit across one A4 page.
            sheet.write_row(_HEADING_ROW, len(_FIRST), upright, styles.upright)
            # Field ids under the labels let the superior level take the figures in by machine.
            sheet.set_row(_IDS_ROW, None, None, {"hidden": True})
            sheet.write_row(_IDS_ROW, 0, [*_FIRST_IDS, *keys])

            line = _DATA_ROW
            cell = styles.cell
            for index, row in enumerate(rows, start=1):
                code = row.branch.code
                values = row.values.get
                sheet.write_row(line, 0, (index, code, row.branch.name, groups[code]), cell)
                sheet.write_row(line, 4, list(map(values, keys)))
                line += 1
            if rows and keys:
                # The figures' borders and thousands separators come from one conditional
                # format over the block rather than a format on each cell: a formatted cell
                # costs XlsxWriter a third more time, 0.25 s for 5,000 branches (measured by
                # bench/report_bench.py --workbook), and empty cells need not be written.
                sheet.conditional_format(
                    _DATA_ROW,
                    len(_FIRST),
                    line - 1,
                    len(_FIRST) + len(keys) - 1,
                    {"type": "formula", "criteria": "TRUE", "format": styles.number},
                )
            sheet.write_row(line, 0, ("", "", "Tổng cộng"), styles.total)
            # a number for machines (under the id "status"), shown as "3 chi bộ"
            sheet.write_number(line, 3, counted, styles.total_branches)
            sheet.write_row(line, 4, [total.get(k) for k in keys], styles.total_number)
            line += 2
            for name, count in counts:
                sheet.write(line, 2, f"{name}: {count} chi bộ", styles.note)
                line += 1
        book.close()
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    os.replace(temp, path)
    return path


class _Styles:
    """The few formats of the workbook, made once."""

    def __init__(self, book: Any) -> None:
        base = {"font_name": _FONT, "font_size": 11}
        edge = {"border": 1, "valign": "top"}
        self.committee = book.add_format(base | {"bold": True})
        self.title = book.add_format(base | {"bold": True, "font_size": 13})
        self.note = book.add_format(base | {"italic": True})
        self.heading = book.add_format(
            base
            | edge
            | {"bold": True, "text_wrap": True, "align": "center", "bg_color": "#EDEDED"}
        )
        self.upright = book.add_format(
            base
            | edge
            | {"text_wrap": True, "rotation": 90, "align": "center", "valign": "bottom"}
            | {"bg_color": "#EDEDED", "font_size": 10}
        )
        self.cell = book.add_format(base | edge | {"text_wrap": True})
        # for a conditional format: only the borders and the number format apply
        self.number = book.add_format({"border": 1, "num_format": "#,##0"})
        self.total = book.add_format(base | edge | {"bold": True})
        self.total_number = book.add_format(base | edge | {"bold": True, "num_format": "#,##0"})
        self.total_branches = book.add_format(
            base | edge | {"bold": True, "num_format": '0" chi bộ"'}
        )


def _print_setup(sheet: Any) -> None:
    sheet.set_landscape()
    sheet.set_paper(9)  # A4
    sheet.fit_to_pages(1, 0)  # one page wide, as many long as the branches need
    sheet.repeat_rows(_HEADING_ROW, _IDS_ROW)
    sheet.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
    sheet.set_footer('&C&"Times New Roman"Trang &P/&N')


def _figure_headings(form: FormSpec, keys: Sequence[str]) -> list[str]:
    units = {f.id: f.unit for f in form.fields.values()} | {d.id: d.unit for d in form.derived}
    labels = {f.id: f.label for f in form.fields.values()} | {d.id: d.label for d in form.derived}
    return [f"{labels[k]} ({units[k]})" if units[k] else labels[k] for k in keys]


def _groups(rows: list[BranchFigures], status: PeriodStatus | None) -> dict[str, str]:
    if status is None:
        return {r.branch.code: ACCEPTED if r.reported else MISSING for r in rows}
    known = {b.code: branch_group(b) for b in status.branches}
    return {r.branch.code: known.get(r.branch.code, MISSING) for r in rows}


def _figure_widths(
    keys: Sequence[str], total: dict[str, Any], rows: list[BranchFigures], signed: set[str]
) -> list[float]:
    """Each figure column as wide as its longest number with thousands separators, and at
    least wide enough for two lines of its upright heading. A count or an amount is never
    negative, so its total is its longest; a derived figure (``signed``) may be."""
    widths = []
    for key in keys:
        value = total.get(key)
        longest = len(f"{value:,.0f}") if isinstance(value, int | float) else 1
        if key in signed:
            lowest = min(
                (v for r in rows if isinstance(v := r.values.get(key), int | float)), default=0
            )
            longest = max(longest, len(f"{lowest:,.0f}"))
        widths.append(max(longest + 1.5, _FIGURE_WIDTH))
    return widths


def _upright_headings(headings: Sequence[str], widths: Sequence[float]) -> tuple[list[str], float]:
    """The headings broken into as many lines as their columns hold (explicit breaks, so that
    Excel and LibreOffice show the same lines), and the row height in points that shows the
    longest line whole."""
    broken, longest = [], 0
    for heading, width in zip(headings, widths, strict=True):
        lines = _wrap(heading, max(int(width // _CHARS_PER_UPRIGHT_LINE), 1))
        broken.append("\n".join(lines))
        longest = max(longest, *map(len, lines))
    return broken, min(max(longest * _POINTS_PER_CHAR + 12, 60.0), 300.0)


def _wrap(text: str, lines: int) -> list[str]:
    """``text`` on at most ``lines`` lines, words kept whole, the longest line as short as can
    be (each width is tried, shortest first)."""
    words = text.split()
    for room in range(max(map(len, words), default=1), len(text) + 1):
        out: list[str] = []
        for word in words:
            if out and len(out[-1]) + 1 + len(word) <= room:
                out[-1] += " " + word
            else:
                out.append(word)
        if len(out) <= lines:
            return out
    return [text]
