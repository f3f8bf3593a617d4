"""Plain data rows for a workbook XlsxWriter writes, put into its sheets after it closes.

XlsxWriter spends about 2.5 µs on each cell even in constant-memory mode (a type dispatch, a
cell tuple, a list of attributes and a write call per cell): 0.9 s for the 360,000 cells of a
5,000-branch aggregate workbook, more than half of the 1.5 s the whole report may take. So
XlsxWriter still makes the package, the formats, the headings, the frozen panes, the column
widths and the total row, and every row it is not sure about; the unformatted data rows that
hold only whole or finite numbers and ordinary text are turned into the very XML XlsxWriter
writes for them (tests/test_publish_workbook.py compares the two) in one f-string a cell, and
put in front of the row XlsxWriter wrote next.
"""

from __future__ import annotations

import math
import re
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["SheetRows", "splice_rows"]

# Text XlsxWriter writes differently from plain escaped text: control characters (escaped as
# _xHHHH_), text already looking like such an escape, the two non-characters, and "<r>..</r>"
# (written as rich text); none of it is in ordinary names. Tab and newline are plain.
_SPECIAL_TEXT = re.compile(r"[\x00-\x08\x0b-\x1f\ufffe\uffff]|_x[0-9a-fA-F]{4}_|^<r>")
_LONGEST_PLAIN_TEXT = 32767 // 2  # XlsxWriter cuts text at 32,767 UTF-16 units: leave it that


class SheetRows:
    """The plain rows of one sheet, kept as XML until the workbook is closed."""

    def __init__(self, columns: int) -> None:
        from xlsxwriter.utility import xl_col_to_name

        self._letters = [xl_col_to_name(col) for col in range(columns)]
        self._pending: list[str] = []
        self.chunks: dict[int, str] = {}  # row XlsxWriter wrote -> the plain rows before it

    def add(self, row: int, cells: Sequence[Any]) -> bool:
        """Keep row ``row`` (0-based, cells from column A) if it is plain; False: write it
        with XlsxWriter, at this row, and call :meth:`written` for it."""
        number = str(row + 1)
        parts = [f'<row r="{number}">']
        for letter, value in zip(self._letters, cells, strict=False):
            kind = type(value)
            if value is None or (kind is str and not value):
                continue  # XlsxWriter leaves an unformatted blank out
            if kind is int or (kind is float and math.isfinite(value)):
                parts.append(f'<c r="{letter}{number}"><v>{value:.16G}</v></c>')
            elif kind is str:
                if len(value) > _LONGEST_PLAIN_TEXT or _SPECIAL_TEXT.search(value):
                    return False
                space = ' xml:space="preserve"' if value[0].isspace() or value[-1].isspace() else ""
                text = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                parts.append(
                    f'<c r="{letter}{number}" t="inlineStr"><is><t{space}>{text}</t></is></c>'
                )
            else:  # booleans, NaN, infinities, dates, decimals...: XlsxWriter's own rules
                return False
        if len(parts) > 1:  # XlsxWriter writes no row without a cell
            parts.append("</row>")
            self._pending.append("".join(parts))
        return True

    def written(self, row: int) -> None:
        """XlsxWriter wrote row ``row``: the plain rows kept so far go before it."""
        if self._pending:
            self.chunks[row] = "".join(self._pending)
            self._pending = []


def splice_rows(path: Path, sheets: Mapping[int, SheetRows]) -> None:
    """Put each sheet's plain rows into the closed workbook ``path`` (sheets numbered from 1).

    Every sheet must end with a row XlsxWriter wrote (the total row), after its plain rows.
    """
    if any(rows._pending for rows in sheets.values()):
        raise ValueError("plain rows after the last row XlsxWriter wrote")
    if not any(rows.chunks for rows in sheets.values()):
        return
    names = {f"xl/worksheets/sheet{number}.xml": rows for number, rows in sheets.items()}
    temporary = path.with_name(f".{path.name}.rows.tmp")
    try:
        with (
            zipfile.ZipFile(path) as source,
            zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as target,
        ):
            for item in source.infolist():
                data = source.read(item)
                rows = names.get(item.filename)
                if rows is not None and rows.chunks:
                    xml = _insert(data.decode("utf-8"), rows.chunks)
                    # level 1: the sheet is most of the file; level 6 doubles the cost
                    target.writestr(item, xml.encode("utf-8"), compresslevel=1)
                else:
                    target.writestr(item, data)
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)


def _insert(xml: str, chunks: Mapping[int, str]) -> str:
    pieces = []
    at = 0
    for row in sorted(chunks):
        where = xml.find(f'<row r="{row + 1}"', at)
        if where < 0:
            raise ValueError(f"row {row + 1} not written")
        pieces += [xml[at:where], chunks[row]]
        at = where
    pieces.append(xml[at:])
    return "".join(pieces)
