"""Read one branch return workbook (.xlsx/.xlsm) safely: cell values from python-calamine.

Our own code does what no library does for us: the package pre-check (:mod:`._package`), the
defined names, and telling a formula without a cached value (or an error) from an empty cell,
which calamine reads alike, by a look at the sheet's XML made only when a cell the checker
needs came back empty. Kept: column A, the value column, the cells behind defined names.
Values are raw (coercion is the checker's job): a number as a spreadsheet shows it (15
significant digits, int when integral; a date as its serial), text as typed.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree
from openpyxl.utils.cell import get_column_letter
from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900, to_excel
from python_calamine import CalamineError, CalamineWorkbook, PasswordError

from tonghop.intake import _package
from tonghop.intake._package import MAX_COL, MAX_ROW, Opened, Unreadable, column_index, local

__all__ = ["Cell", "Unreadable", "Workbook", "precheck", "read_workbook", "sniff", "zip_complete"]

Value = str | int | float | bool | None

_ID = re.compile(r"[a-z][a-z0-9_]*")
# What a sheet with a formula or an error cell cannot be written without: a closing </f> or
# </x:f> (a shared formula's dependents, <f .../>, come with a master that has one), or the
# "e" of t="e". A false match only costs a parse; plain byte searches: a regex costs 10x more.
_MAY_HIDE = (b"f>", b'"e"', b"'e'")
_NAME_TARGET = re.compile(
    r"=?\s*(?:'((?:[^']|'')+)'|([^'!\[\]:*?/\\\s,;()=]+))!"
    r"\$?([A-Za-z]{1,3})\$?([0-9]{1,7})(?::\$?([A-Za-z]{1,3})\$?([0-9]{1,7}))?\s*"
)


@dataclass(frozen=True, slots=True)
class Cell:
    """One cell as stored. ``formula``: the text of a formula without a cached value or whose
    value is an error; one with a cached value is read as that value (``formula`` None)."""

    sheet: str
    ref: str
    value: Value
    formula: str | None = None
    has_cached_value: bool = True
    is_error: bool = False


@dataclass
class Workbook:
    """What the checker needs from a return; ``cells``: sheet name -> "C7" -> kept Cell."""

    sheet_names: list[str]
    names: dict[str, Cell]
    id_rows: dict[str, Cell]
    cells: dict[str, dict[str, Cell]] = field(default_factory=dict, repr=False)

    def cell(self, sheet: str, ref: str) -> Cell | None:
        cells = self.cells.get(sheet)
        if cells is None:
            folded = sheet.casefold()
            cells = next((c for n, c in self.cells.items() if n.casefold() == folded), {})
        return cells.get(ref.replace("$", "").strip().upper())


def sniff(data: bytes, name: str = "") -> str:
    """What kind of file ``data`` is, to pick the right message: "xlsx", "xlsb", "xls",
    "encrypted", "ods", "odf", "docx", "doc", "pptx", "zip" (another zip), "corrupt" (a zip that
    cannot be opened, e.g. a partial download), "pdf", "image", "html", "xml2003", "csv",
    "empty" or "not_zip"."""
    return _package.sniff_kind(data, name)


def precheck(data: bytes) -> None:
    """Raise :class:`Unreadable` unless ``data`` is a workbook package safe to open; every
    place that opens a branch's file (the reader, feedback's openpyxl) calls it first."""
    _package.open_package(data)


def zip_complete(path: Path) -> bool:
    """Whether a workbook being written has its zip directory (written last) in place, read
    within the pre-check's bounds: a file too large, or declaring too many entries, to be a
    return counts as complete (the intake refuses it unread)."""
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, io.SEEK_END)
            if size > _package.MAX_INPUT_BYTES:
                return True
            handle.seek(max(0, size - 65_557))
            count = _package.entry_count(handle.read())
        if count is None or count > _package.MAX_ENTRIES:
            return count is not None
        with zipfile.ZipFile(path) as archive:
            return bool(archive.namelist())
    except (OSError, zipfile.BadZipFile, ValueError, EOFError):
        return False


def read_workbook(source: Path | bytes, *, value_column: str = "C") -> Workbook:
    """Read a return workbook; raises :class:`Unreadable` for anything that is not one."""
    if not re.fullmatch(r"[A-Za-z]{1,3}", value_column):
        raise ValueError(f"value_column must be column letters, not {value_column!r}")
    data = source if isinstance(source, bytes) else _read_file(Path(source))
    opened = _package.open_package(data)
    try:
        return _read(data, opened, column_index(value_column))
    except PasswordError as exc:
        raise Unreadable("encrypted") from exc
    except (CalamineError, ValueError, IndexError, KeyError, OverflowError, RecursionError) as e:
        raise Unreadable("corrupt") from e
    except MemoryError as exc:
        raise Unreadable("too_large") from exc
    except BaseException as exc:  # a Rust panic in calamine is a BaseException
        if type(exc).__name__ != "PanicException":
            raise
        raise Unreadable("corrupt") from exc


def _read_file(path: Path) -> bytes:
    try:
        if path.stat().st_size > _package.MAX_INPUT_BYTES:
            raise Unreadable("too_large")
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise Unreadable("missing", f"Không tìm thấy tệp «{path.name}». Hãy kiểm tra lại.") from exc
    except IsADirectoryError as exc:
        message = f"«{path.name}» là thư mục, không phải tệp Excel. Hãy chọn đúng tệp."
        raise Unreadable("missing", message) from exc
    except OSError as exc:
        message = (
            f"Không mở được tệp «{path.name}» (có thể tệp đang mở trong chương trình khác)."
            " Hãy đóng tệp rồi thử lại."
        )
        raise Unreadable("missing", message) from exc


def _read(data: bytes, opened: Opened, value_col: int) -> Workbook:
    sheet_names = [name for name, _ in opened.sheets]
    targets = _resolve_names(opened.definitions, sheet_names)
    epoch = CALENDAR_MAC_1904 if opened.date1904 else CALENDAR_WINDOWS_1900
    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    value_letters = get_column_letter(value_col)
    cells: dict[str, dict[str, Cell]] = {}
    id_rows: dict[str, tuple[str, str]] = {}  # id -> (sheet, ref) of its value cell
    for name, part in opened.sheets:
        cells[name] = kept = {}
        xml = opened.sheet_xml.get(part or "")
        if part is None or xml is None or opened.package is None:
            continue
        sheet = book.get_sheet_by_name(name)
        grid = sheet.to_python()
        top, left = sheet.start or (0, 0)

        looks: set[str] = set()  # needed cells calamine read as empty (or as a time)
        timed = False  # a number calamine made a time: its stored number is in the XML
        at = value_col - 1 - left
        for row, values in enumerate(grid, top + 1):
            first, ref = values[0] if left == 0 else "", f"{value_letters}{row}"  # column A
            raw = values[at] if 0 <= at < len(values) else ""
            value = _value(raw, epoch)
            timed = timed or isinstance(raw, dt.time | dt.timedelta)
            if value is not None:
                kept[ref] = Cell(name, ref, value)
            if first == "":
                continue
            kept[f"A{row}"] = Cell(name, f"A{row}", _value(first, epoch))
            key = first.strip().lower() if type(first) is str else ""
            if key not in id_rows and _ID.fullmatch(key):
                id_rows[key] = (name, ref)
                if value is None:
                    looks.add(ref)
        for sheet_name, row, col, ref in targets.values():
            if sheet_name != name or ref in kept:
                continue
            target_raw = _at(grid, top, left, row, col)
            value = _value(target_raw, epoch)
            timed = timed or isinstance(target_raw, dt.time | dt.timedelta)
            if value is None:
                looks.add(ref)
            else:
                kept[ref] = Cell(name, ref, value)
        if looks:
            xml = xml or opened.package.read(part) or b""
            kept.update((cell.ref, cell) for cell in _look(xml, name, looks, timed))

    def stored(sheet: str, ref: str) -> Cell:
        return cells[sheet].get(ref) or Cell(sheet, ref, None)

    return Workbook(
        sheet_names=sheet_names,
        names={key: stored(sheet, ref) for key, (sheet, _, _, ref) in targets.items()},
        id_rows={key: stored(sheet, ref) for key, (sheet, ref) in id_rows.items()},
        cells=cells,
    )


def _at(grid: Sequence[Sequence[object]], top: int, left: int, row: int, col: int) -> object:
    """The calamine value of the 1-based (row, col) of a grid starting at (top, left)."""
    values = grid[row - 1 - top] if 0 <= row - 1 - top < len(grid) else ()
    return values[col - 1 - left] if 0 <= col - 1 - left < len(values) else ""


def _value(raw: object, epoch: dt.datetime) -> Value:
    """A calamine value, raw; None for an empty cell and for what needs a look at the XML."""
    kind = type(raw)  # by type, not isinstance: this runs for every kept cell
    if kind is str:
        return raw or None  # type: ignore[return-value]
    if kind is float:
        return _number(raw)  # type: ignore[arg-type]
    if kind is int or kind is bool:
        return raw  # type: ignore[return-value]
    if isinstance(raw, dt.date):  # a number shown as a date (or date and time): its serial
        serial: float = to_excel(raw, epoch)  # type: ignore[no-untyped-call]
        return _number(serial)
    return None  # time, timedelta: calamine folds negative numbers and whole days away


def _number(value: float) -> int | float:
    """The number a spreadsheet shows: 15 significant digits, integral ones as int."""
    if -1e15 < value < 1e15 and value.is_integer():  # the usual case: nothing to round
        return int(value)
    if not math.isfinite(value):
        return value
    shown = float(f"{value:.15g}")
    return int(shown) if shown.is_integer() else shown


def _look(xml: bytes, sheet: str, refs: set[str], timed: bool) -> list[Cell]:
    """The cells ``refs`` as the sheet's XML stores them, for what calamine reads as empty
    (formulas without a cached value, errors) or as a time. A sheet with none of them (the
    usual return) needs no parse; otherwise its cells are streamed once."""
    if not timed and not any(marker in xml for marker in _MAY_HIDE):
        return []
    if any(marker in xml for marker in _package.DOCTYPES):
        raise Unreadable("corrupt")
    found = []
    try:
        for _, c in etree.iterparse(io.BytesIO(xml), tag="{*}c", **_package.PARSER_OPTIONS):
            ref = (c.get("r") or "").upper()
            if ref in refs:
                cell = _stored(c, sheet, ref)
                if cell is not None:
                    found.append(cell)
            c.clear(keep_tail=False)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise Unreadable("corrupt") from exc
    return found


def _stored(c: etree._Element, sheet: str, ref: str) -> Cell | None:
    """What a cell element holds when calamine read it as empty (or as a time)."""
    kind, formula, text = c.get("t") or "n", None, None
    for child in c:
        tag = local(child.tag)
        if tag == "f" and formula is None:
            formula = child.text or ""  # a shared formula's dependent: its text is elsewhere
        elif tag == "v" and text is None:
            text = child.text or ""
        elif tag == "is" and text is None:
            text = "".join(
                t.text or "" for t in child.iter("{*}t") if local(t.getparent().tag) != "rPh"
            )
    if kind == "e":
        return Cell(sheet, ref, text, formula, True, True)
    if text is None or (kind == "n" and not text.strip()):
        return None if formula is None else Cell(sheet, ref, None, formula, False)
    if kind == "n":  # a number calamine turned into a time or duration
        try:
            return Cell(sheet, ref, _number(float(text)), formula)
        except ValueError:
            return Cell(sheet, ref, text, formula)
    return Cell(sheet, ref, "" if kind == "s" else text, formula)  # an empty string; "d": ISO


def _resolve_names(
    definitions: list[tuple[str, str | None, str]], sheet_names: list[str]
) -> dict[str, tuple[str, int, int, str]]:
    """Defined name (lowercased) -> (sheet, row, col, ref) for names that point to one cell.
    A workbook-level name wins over sheet-scoped ones, among which the lowest sheet index wins."""
    by_fold = {name.casefold(): name for name in sheet_names}
    found: dict[str, tuple[int, tuple[str, int, int, str]]] = {}  # key -> (scope rank, target)
    for name, scope, text in definitions:
        key, match = name.strip().lower(), _NAME_TARGET.fullmatch(text.strip())
        if not key or key.startswith("_xlnm.") or match is None:
            continue
        quoted, bare, col1, row1, col2, row2 = match.groups()
        row, col = int(row1), column_index(col1)
        if not (0 < row <= MAX_ROW and 0 < col <= MAX_COL):
            continue
        if col2 is not None and (int(row2), column_index(col2)) != (row, col):
            continue  # a range of more than one cell
        sheet = by_fold.get((quoted.replace("''", "'") if quoted else bare).casefold())
        rank = -1 if scope is None else int(scope) if scope.isdigit() else None
        if sheet is not None and rank is not None and (key not in found or rank < found[key][0]):
            found[key] = (rank, (sheet, row, col, f"{col1.upper()}{row}"))
    return {key: target for key, (_, target) in found.items()}
