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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import Any

__all__ = ["SheetRows", "splice_rows"]

# Text XlsxWriter writes differently from plain escaped text: control characters (escaped as
# _xHHHH_), text already looking like such an escape, the two non-characters, and "<r>..</r>"
# (written as rich text); none of it is in ordinary names. Tab and newline are plain.
_SPECIAL_TEXT = re.compile(r"[\x00-\x08\x0b-\x1f\ufffe\uffff]|_x[0-9a-fA-F]{4}_|^<r>")
_EXACT = 2**53  # whole numbers a float holds exactly
_LONGEST_PLAIN_TEXT = 32767 // 2  # XlsxWriter cuts text at 32,767 UTF-16 units: leave it that


@dataclass(frozen=True)
class _Shape:
    """How to write a row whose cells have given types: one format string for the row."""

    template: str  # "{0}" the row number, then one field per cell present
    present: tuple[int, ...]  # the columns written (None leaves a cell out)
    texts: tuple[tuple[int, str], ...]  # (field, column letter) of each text cell
    floats: tuple[int, ...]  # columns holding floats (must be finite)
    ints: Callable[[Sequence[Any]], tuple[int, ...]]  # the row's whole numbers
    numbers: int  # how many number cells
    every: bool  # every cell is written: no None among them


class SheetRows:
    """The plain rows of one sheet, kept as XML until the workbook is closed."""

    def __init__(self, columns: int) -> None:
        from xlsxwriter.utility import xl_col_to_name

        self._letters = [xl_col_to_name(col) for col in range(columns)]
        self._shapes: dict[tuple[type, ...], _Shape | None] = {}
        self._pending: list[str] = []
        self.chunks: dict[int, str] = {}  # row XlsxWriter wrote -> the plain rows before it

    def add(self, row: int, cells: Sequence[Any]) -> bool:
        """Keep row ``row`` (0-based, cells from column A) if it is plain; False: write it
        with XlsxWriter, at this row, and call :meth:`written` for it."""
        kinds = tuple(map(type, cells))
        if kinds not in self._shapes:
            self._shapes[kinds] = self._shape(kinds)
        shape = self._shapes[kinds]
        if shape is None:  # booleans, dates, decimals...: XlsxWriter's own rules
            return False
        if shape.floats and not all(math.isfinite(cells[col]) for col in shape.floats):
            return False  # NaN and infinities become error cells
        if max(map(abs, shape.ints(cells)), default=0) >= _EXACT:
            return False  # past 2**53 XlsxWriter's float formatting rounds
        number = str(row + 1)
        fields = [number, *cells] if shape.every else [number, *(cells[c] for c in shape.present)]
        for field, letter in shape.texts:
            value = fields[field]
            if not value:  # XlsxWriter leaves an unformatted blank out
                fields[field] = ""
                continue
            if len(value) > _LONGEST_PLAIN_TEXT or _SPECIAL_TEXT.search(value):
                return False
            space = ' xml:space="preserve"' if value[0].isspace() or value[-1].isspace() else ""
            text = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            fields[field] = (
                f'<c r="{letter}{number}" t="inlineStr"><is><t{space}>{text}</t></is></c>'
            )
        if shape.numbers or any(fields[field] for field, _ in shape.texts):
            self._pending.append(shape.template.format(*fields))
        # else: no cell at all, and XlsxWriter writes no row without a cell
        return True

    def _shape(self, kinds: tuple[type, ...]) -> _Shape | None:
        pieces = ['<row r="{0}">']
        present: list[int] = []
        texts: list[tuple[int, str]] = []
        floats: list[int] = []
        ints: list[int] = []
        if len(kinds) > len(self._letters):
            return None
        for col, kind in enumerate(kinds):
            if kind is type(None):
                continue
            field = len(present) + 1
            letter = self._letters[col]
            if kind is int:  # below 2**53, the digits of XlsxWriter's format {:.16G}
                pieces.append(f'<c r="{letter}{{0}}"><v>{{{field}}}</v></c>')
                ints.append(col)
            elif kind is float:  # exactly XlsxWriter's number format
                pieces.append(f'<c r="{letter}{{0}}"><v>{{{field}:.16G}}</v></c>')
                floats.append(col)
            elif kind is str:
                pieces.append(f"{{{field}}}")
                texts.append((field, letter))
            else:
                return None
            present.append(col)
        pieces.append("</row>")
        numbers = len(present) - len(texts)
        every = len(present) == len(kinds)
        pick: Callable[[Sequence[Any]], tuple[int, ...]] = (
            itemgetter(*ints) if len(ints) > 1 else lambda cells: tuple(cells[c] for c in ints)
        )
        return _Shape(
            "".join(pieces), tuple(present), tuple(texts), tuple(floats), pick, numbers, every
        )

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
