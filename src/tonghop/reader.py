"""Read one branch return workbook (.xlsx/.xlsm) safely.

Cell values come from python-calamine. Our own code does only what no library does for us:
the package pre-check (:mod:`tonghop._package`), the defined names, and telling a formula
left without a cached value (or an error value) from an empty cell, which calamine reads
alike: the sheet's XML is looked at only when a cell the checker needs came back empty.
Only the cells the checker can use are kept (column A, the value column and the cells behind
defined names). Values are raw: numbers as stored (rounded to the 15 significant digits a
spreadsheet shows, integral ones as int; a date-formatted number as its serial), text as
typed, coercion is the checker's job.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree
from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900, to_excel
from python_calamine import CalamineError, CalamineWorkbook, PasswordError

from tonghop import _package
from tonghop._package import MAX_COL, MAX_ROW, Opened, Unreadable, column_index, local

__all__ = ["Cell", "Unreadable", "Workbook", "precheck", "read_workbook", "sniff"]

Value = str | int | float | bool | None

_ID = re.compile(r"[a-z][a-z0-9_]*")
_REF = re.compile(r"([A-Za-z]{1,3})([0-9]{1,7})")
_NAME_TARGET = re.compile(
    r"=?\s*(?:'((?:[^']|'')+)'|([^'!\[\]:*?/\\\s,;()=]+))!"
    r"\$?([A-Za-z]{1,3})\$?([0-9]{1,7})(?::\$?([A-Za-z]{1,3})\$?([0-9]{1,7}))?\s*"
)


@dataclass(frozen=True, slots=True)
class Cell:
    """One cell as stored in the file. ``value`` is raw: coercion is the checker's job.

    ``formula`` is the text of a formula that has no cached value, or of one whose value is
    an error; a formula with a cached value is read as that value (``formula`` None).
    """

    sheet: str
    ref: str
    value: Value
    formula: str | None = None
    has_cached_value: bool = True
    is_error: bool = False


@dataclass
class Workbook:
    """What the checker needs from a return.

    ``cells`` holds only the cells that were kept: column A, the value column and the cells
    that defined names point to (sheet name -> "C7" -> Cell).
    """

    sheet_names: list[str]
    names: dict[str, Cell]
    id_rows: dict[str, Cell]
    cells: dict[str, dict[str, Cell]] = field(default_factory=dict, repr=False)

    def cell(self, sheet: str, ref: str) -> Cell | None:
        cells = self.cells.get(sheet)
        if cells is None:
            folded = sheet.casefold()
            cells = next((c for n, c in self.cells.items() if n.casefold() == folded), None)
            if cells is None:
                return None
        return cells.get(ref.replace("$", "").strip().upper())


def sniff(data: bytes, name: str = "") -> str:
    """Tell what kind of file ``data`` is, to pick the right message.

    Returns one of: "xlsx", "xlsb", "xls", "encrypted", "ods", "odf", "docx", "doc", "pptx",
    "zip" (another zip), "corrupt" (a zip that cannot be opened, e.g. a partial download),
    "pdf", "image", "html", "xml2003", "csv", "empty" or "not_zip".
    """
    return _package.sniff_kind(data, name)


def precheck(data: bytes) -> None:
    """Raise :class:`Unreadable` unless ``data`` is a workbook package safe to open.

    Every place that opens a branch's file calls this first (the reader, the feedback
    writer's openpyxl): zip bombs, hostile sheets and files that are not workbooks stop here.
    """
    _package.open_package(data)


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
    except (CalamineError, ValueError, IndexError, KeyError, OverflowError) as exc:
        raise Unreadable("corrupt") from exc
    except RecursionError as exc:
        raise Unreadable("corrupt") from exc
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
        raise Unreadable(
            "missing", f"«{path.name}» là thư mục, không phải tệp Excel. Hãy chọn đúng tệp."
        ) from exc
    except OSError as exc:
        raise Unreadable(
            "missing",
            f"Không mở được tệp «{path.name}» (có thể tệp đang mở trong chương trình khác)."
            " Hãy đóng tệp rồi thử lại.",
        ) from exc


def _read(data: bytes, opened: Opened, value_col: int) -> Workbook:
    sheet_names = [name for name, _ in opened.sheets]
    targets = _resolve_names(opened.definitions, sheet_names)
    epoch = CALENDAR_MAC_1904 if opened.date1904 else CALENDAR_WINDOWS_1900
    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    value_letters = _letters(value_col)
    cells: dict[str, dict[str, Cell]] = {}
    id_rows: dict[str, tuple[str, str]] = {}  # id -> (sheet, ref) of its value cell
    for name, part in opened.sheets:
        cells[name] = kept = {}
        xml = opened.sheet_xml.get(part or "")
        if xml is None:
            continue
        sheet = book.get_sheet_by_name(name)
        grid = sheet.to_python()
        top, left = sheet.start or (0, 0)
        looks: set[str] = set()
        at = value_col - 1 - left
        for row, values in enumerate(grid, top + 1):
            first = values[0] if left == 0 else ""  # column A
            raw = values[at] if 0 <= at < len(values) else ""
            ref = f"{value_letters}{row}"
            if raw != "":
                value = _value(raw, epoch)
                if value is not None:
                    kept[ref] = Cell(name, ref, value)
            if first == "":
                continue
            kept[f"A{row}"] = Cell(name, f"A{row}", _value(first, epoch))
            if type(first) is str:
                key = first.strip().lower()
                if key not in id_rows and _ID.fullmatch(key):
                    id_rows[key] = (name, ref)
                    if ref not in kept:
                        looks.add(ref)
        for sheet_name, row, col, ref in targets.values():
            if sheet_name != name or ref in kept:
                continue
            values = grid[row - 1 - top] if 0 <= row - 1 - top < len(grid) else []
            value = (
                _value(values[col - 1 - left], epoch) if 0 <= col - 1 - left < len(values) else None
            )
            if value is None:
                looks.add(ref)
            else:
                kept[ref] = Cell(name, ref, value)
        if looks:
            usual = part in opened.usual
            kept.update((c.ref, c) for c in _look(xml, usual, name, looks, epoch))

    def stored(sheet: str, ref: str) -> Cell:
        return cells[sheet].get(ref) or Cell(sheet, ref, None)

    return Workbook(
        sheet_names=sheet_names,
        names={key: stored(sheet, ref) for key, (sheet, _, _, ref) in targets.items()},
        id_rows={key: stored(sheet, ref) for key, (sheet, ref) in id_rows.items()},
        cells=cells,
    )


def _value(raw: object, epoch: dt.datetime) -> Value:
    """A calamine value, raw; None for an empty cell and for what needs a look at the XML."""
    kind = type(raw)
    if kind is str:
        return raw or None  # type: ignore[return-value]
    if kind is float:
        return _number(raw)  # type: ignore[arg-type]
    if kind is bool or kind is int:
        return raw  # type: ignore[return-value]
    if kind is dt.date or kind is dt.datetime:  # a number shown as a date: its serial
        return _number(to_excel(raw, epoch))  # type: ignore[arg-type]
    return None  # time, timedelta: calamine folds negative and whole days away


def _number(value: float) -> int | float:
    """The number a spreadsheet shows: 15 significant digits, integral ones as int."""
    if -1e15 < value < 1e15 and value.is_integer():  # the usual case: nothing to round
        return int(value)
    if not math.isfinite(value):
        return value
    shown = float(f"{value:.15g}")
    return int(shown) if shown.is_integer() else shown


def _look(xml: bytes, usual: bool, sheet: str, refs: set[str], epoch: dt.datetime) -> list[Cell]:
    """The cells ``refs`` as the sheet's XML stores them, for those calamine read as empty:
    a formula without cached value, an error value, an empty string, a time or duration.

    In a sheet of the usual spelling a cell is found by its start tag, `<c r="C7"`, and only
    that element is parsed; otherwise (or if that is ambiguous) the whole sheet is.
    """
    found: list[Cell] = []
    for ref in sorted(refs) if usual else ():
        tag = f'<c r="{ref}"'.encode()
        at = xml.find(tag)
        if at >= 0 and xml.find(tag, at + 1) >= 0:
            break  # twice (in a comment?): parse the whole sheet
        end = xml.find(b">", at) + 1
        if at < 0 or xml[end - 2 : end] == b"/>":
            continue  # no such cell, or an empty one
        close = xml.find(b"</c>", end)
        try:
            element = etree.fromstring(xml[at : close + 4], _package.PARSER)
        except (etree.XMLSyntaxError, ValueError):
            break
        cell = _stored_cell(element, sheet, ref, epoch, xml)
        if cell is not None:
            found.append(cell)
    else:
        if usual:
            return found
    return _look_everywhere(xml, sheet, refs, epoch)


def _look_everywhere(xml: bytes, sheet: str, refs: set[str], epoch: dt.datetime) -> list[Cell]:
    """:func:`_look` by a parse of the whole sheet, placing cells that have no r as well."""
    found: list[Cell] = []
    row = 0
    for row_element in _sheet_rows(xml):
        row = int(row_element.get("r") or row + 1)
        col = 0
        for c in row_element:
            if local(c.tag) != "c":
                continue
            r = c.get("r")
            match = _REF.fullmatch(r) if r else None
            if r and match is None:
                raise Unreadable("corrupt")
            col = column_index(match.group(1)) if match else col + 1
            cell_row = int(match.group(2)) if match else row
            if not (0 < cell_row <= MAX_ROW and 0 < col <= MAX_COL):
                raise Unreadable("corrupt")
            ref = f"{_letters(col)}{cell_row}"
            if ref in refs:
                cell = _stored_cell(c, sheet, ref, epoch, xml)
                if cell is not None:
                    found.append(cell)
    return found


def _sheet_rows(xml: bytes) -> list[etree._Element]:
    """The <row> elements of a worksheet's <sheetData>, from a parse of the whole part."""
    _package.refuse_doctype(xml)
    try:
        root = etree.fromstring(xml, _package.PARSER)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise Unreadable("corrupt") from exc
    sections = [s for s in root if local(s.tag) == "sheetData"]
    return [row for s in sections for row in s if local(row.tag) == "row"]


def _stored_cell(
    c: etree._Element, sheet: str, ref: str, epoch: dt.datetime, xml: bytes
) -> Cell | None:
    kind = c.get("t") or "n"
    formula = text = None
    for child in c:
        tag = local(child.tag)
        if tag == "f" and formula is None:
            formula = child.text or _shared_formula(xml, child, ref)
        elif tag == "v" and text is None:
            text = child.text or ""
        elif tag == "is" and text is None:
            text = "".join(
                t.text or "" for t in child.iter("{*}t") if local(t.getparent().tag) != "rPh"
            )
    if kind == "e":
        return Cell(sheet, ref, text, formula, True, True)
    if text is None:
        return None if formula is None else Cell(sheet, ref, None, formula, False)
    if kind in ("str", "inlineStr", "s"):  # an empty string (calamine read the others)
        return Cell(sheet, ref, text if kind != "s" else "", formula)
    if kind != "n":  # "d": an ISO date calamine turned into a time
        return Cell(sheet, ref, text, formula)
    if not text.strip():
        return None if formula is None else Cell(sheet, ref, None, formula, False)
    try:  # a number calamine turned into a time or duration
        return Cell(sheet, ref, _number(float(text)), formula)
    except ValueError:
        return Cell(sheet, ref, text, formula)


def _shared_formula(xml: bytes, f: etree._Element, ref: str) -> str:
    """A shared formula's text for a cell that has only its index: its master's, moved."""
    si = f.get("si")
    if f.get("t") != "shared" or si is None:
        return ""
    for c in (c for row in _sheet_rows(xml) for c in row):
        master = next((x for x in c if local(x.tag) == "f" and x.get("si") == si), None)
        if master is not None and master.get("t") == "shared" and master.text:
            from openpyxl.formula.translate import Translator  # only for this rare case

            try:
                return Translator("=" + master.text, c.get("r") or "").translate_formula(ref)[1:]
            except Exception:  # a formula openpyxl cannot tokenize: no text to show
                return ""
    return ""


def _letters(number: int) -> str:
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _resolve_names(
    definitions: list[tuple[str, str | None, str]], sheet_names: list[str]
) -> dict[str, tuple[str, int, int, str]]:
    """Defined name (lowercased) -> (sheet, row, col, ref) for names that point to one cell.

    A workbook-level name wins; a sheet-scoped one is used only when no valid workbook-level
    name of that name exists (the lowest sheet index wins among those).
    """
    by_fold = {name.casefold(): name for name in sheet_names}
    global_: dict[str, tuple[str, int, int, str]] = {}
    scoped: dict[str, tuple[int, tuple[str, int, int, str]]] = {}
    for name, scope, text in definitions:
        key = name.strip().lower()
        parsed = None if key.startswith("_xlnm.") else _name_target(text)
        sheet = by_fold.get(parsed[0]) if key and parsed else None
        if sheet is None or parsed is None:
            continue
        target = (sheet, *parsed[1:])
        if scope is None:
            global_.setdefault(key, target)
        elif scope.isdigit() and (key not in scoped or int(scope) < scoped[key][0]):
            scoped[key] = (int(scope), target)
    for key, (_, target) in scoped.items():
        global_.setdefault(key, target)
    return global_


def _name_target(text: str) -> tuple[str, int, int, str] | None:
    """(casefolded sheet name, row, col, ref) of a defined name's text if it is one cell."""
    match = _NAME_TARGET.fullmatch(text.strip())
    if match is None:
        return None
    quoted, bare, col1, row1, col2, row2 = match.groups()
    row, col = int(row1), column_index(col1)
    if not (0 < row <= MAX_ROW and 0 < col <= MAX_COL):
        return None
    if col2 is not None and (int(row2), column_index(col2)) != (row, col):
        return None  # a range of more than one cell
    sheet = (quoted.replace("''", "'") if quoted else bare).casefold()
    return sheet, row, col, f"{col1.upper()}{row}"
