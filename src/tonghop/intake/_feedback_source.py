"""What of a branch's workbook the feedback writer may load, and what it writes when it may not.

openpyxl builds a Python object for every cell a worksheet names, and more: one MergedCell for
each cell of a merged range, one Hyperlink for each cell of a hyperlink's range, one object per
row, column, style, comment and listed range. A 10 KB file with ``<mergeCell
ref="E1:XFD1048576"/>`` makes it build 17 billion cells. The pre-check of the reader bounds
the zip and the grid calamine allocates, not these; ``refusal`` bounds them, by a scan of the
package's XML (a bounded regex over at most ``MAX_LOAD_BYTES``), before openpyxl sees a byte.
When a bound is exceeded the feedback is written without loading the original: ``values_copy``
makes a fresh workbook with the values of its sheets (read by python-calamine, within the
pre-check's bounds, at most ``MAX_COPIED_CELLS`` of them), where the problem cells are marked.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.worksheet.worksheet import Worksheet
from python_calamine import CalamineWorkbook

from tonghop.intake import _package
from tonghop.intake._package import MAX_COL, MAX_ROW, Opened, column_index
from tonghop.intake.values import visible_text

__all__ = [
    "ANNOTATED",
    "COPIED",
    "FORMULA_MARKS",
    "LISTED",
    "MACRO_SUFFIXES",
    "MAX_CELL_OBJECTS",
    "MAX_COPIED_CELLS",
    "MAX_LOAD_BYTES",
    "Loaded",
    "load_original",
    "make_inert",
    "put_text",
    "refusal",
    "values_copy",
]

# Our blank form is 65 KB inflated, 1 142 XML elements, 250 cells, 60 rows, 4 column
# definitions; a return with a logo stays far below these. At the bounds openpyxl takes well
# under a second and 100 MB (bench/feedback_bench.py measures the cases at the bounds).
MAX_LOAD_BYTES = 8 * 1024 * 1024  # every part, inflated
MAX_CELL_OBJECTS = 15_000  # cells written + merged cells + hyperlinked cells + comments
MAX_ELEMENTS = 50_000  # XML elements of all parts: cells, rows, styles, listed ranges...
MAX_DIMENSIONS = 10_000  # row and column definitions
MAX_STYLES = 4_000  # cell formats, fonts, fills, borders, number formats (about 50 µs each)
MAX_RANGES = 20_000  # ranges listed in merges, conditional formats, validations, selections
MAX_NAME_CHARS = 8_192  # Excel's own limit on the text of a defined name (print areas...)
MAX_COPIED_CELLS = 20_000
MAX_COPIED_SHEETS = 50
MAX_COPIED_AREA = 1_000_000  # grid cells python-calamine hands over, empty ones included
MACRO_SUFFIXES = (".xlsm", ".xltm")
# Extensions openpyxl can open; anything else gets a fresh workbook with the problems sheet.
OPENPYXL_SUFFIXES = (".xlsx", ".xlsm", ".xltx", ".xltm")
# What a spreadsheet takes for the start of a formula when a user types it.
FORMULA_MARKS = ("=", "+", "-", "@")

# A start tag openpyxl turns into objects by the cells or ranges it names, any namespace
# prefix, with its attributes (quoted values may hold ">"). A tag inside a comment or CDATA
# also matches: that only makes the check stricter.
_TAG = re.compile(
    rb"<(?:[A-Za-z_][\w.\-]*:)?"
    rb"(c|row|col|mergeCell|hyperlink|conditionalFormatting|dataValidation|selection|"
    rb"dimension|comment|definedName|protectedRange|autoFilter|ignoredError|tablePart|"
    rb"xf|font|fill|border|numFmt|dxf|cellStyle)"
    rb"(?=[\s/>])((?:\s+[^\s=/>]+\s*=\s*(?:\"[^\"]*\"|'[^']*'))*)\s*/?>"
)
_STYLE_TAGS = (b"xf", b"font", b"fill", b"border", b"numFmt", b"dxf", b"cellStyle")
_ATTRIBUTE = re.compile(rb"""([^\s=/>]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_DEFINED_NAME = re.compile(rb"<(?:[A-Za-z_][\w.\-]*:)?definedName[\s>][^<]*")
_RANGE = re.compile(r"\$?([A-Za-z]{1,3})?\$?([0-9]{1,7})?(?::\$?([A-Za-z]{1,3})?\$?([0-9]{1,7})?)?")
_ENCODING = re.compile(rb"""^<\?xml[^>]*\sencoding\s*=\s*["']([^"']*)["']""")


def refusal(opened: Opened) -> str | None:
    """Why openpyxl must not load this (pre-checked) package, in English for the log; None
    when every part is within the bounds of the module docstring."""
    package = opened.package
    if package is None:
        return "no package"
    infos = list(package.parts.values())
    if sum(info.file_size for info in infos) > MAX_LOAD_BYTES:
        return "package too large to load"
    cells = elements = ranges = dimensions = styles = 0
    for name, info in package.parts.items():
        if info.is_dir() or not name.endswith((".xml", ".rels", ".vml")):
            continue
        xml = package.read(name) or b""
        if not _utf8_xml(xml):
            return f"{name}: not UTF-8 XML"
        elements += xml.count(b"<") - xml.count(b"</")
        if elements > MAX_ELEMENTS:
            return "too many XML elements"
        for tag, attributes in _TAG.findall(xml):
            values = _attributes(attributes)
            if tag in (b"c", b"comment"):
                cells += 1
            elif tag in (b"mergeCell", b"hyperlink", b"dimension", b"autoFilter"):
                area = _area(values.get("ref", "A1"))
                if area < 0:
                    return f"unreadable {tag.decode()} range"
                if tag in (b"mergeCell", b"hyperlink"):  # openpyxl builds each of their cells
                    cells += area
                    ranges += 1
            elif tag == b"row":
                dimensions += 1
                row = values.get("r", "")
                if row.isdigit() and int(row) > MAX_ROW:
                    return "row beyond the sheet"
            elif tag == b"col":
                dimensions += 1
                if not _column_span(values.get("min", ""), values.get("max", "")):
                    return "column definition beyond the sheet"
            elif tag in _STYLE_TAGS:
                styles += 1
                if styles > MAX_STYLES:
                    return "too many styles"
            elif tag != b"definedName":
                ranges += _count_ranges(values.get("sqref", values.get("ref", "")))
            if cells > MAX_CELL_OBJECTS:
                return "too many cells to build (cells, merged cells, hyperlinks, comments)"
            if ranges > MAX_RANGES:
                return "too many listed ranges"
            if dimensions > MAX_DIMENSIONS:
                return "too many row and column definitions"
        for definition in _DEFINED_NAME.findall(xml):
            if len(definition) > MAX_NAME_CHARS:
                return "defined name too long"
    return None


def _utf8_xml(xml: bytes) -> bool:
    """Whether the part is XML our byte scan reads as the XML parser will: UTF-8 (or ASCII),
    no NUL (UTF-16/32), no other declared encoding (UTF-7 could hide a tag from a scan)."""
    text = xml.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n")
    if (text and not text.startswith(b"<")) or b"\x00" in xml:
        return False
    declared = _ENCODING.match(text)
    return declared is None or declared[1].strip().lower() in (b"utf-8", b"utf8", b"us-ascii")


def _attributes(raw: bytes) -> dict[str, str]:
    """Attribute name (without prefix) -> value, character references decoded as XML does."""
    found = {}
    for name, double, single in _ATTRIBUTE.findall(raw):
        key = name.decode("ascii", "replace").rpartition(":")[2]
        found[key] = html.unescape((double or single).decode("utf-8", "replace"))
    return found


def _area(text: str) -> int:
    """Cells a space-separated list of ranges spans; -1 (fails every bound) if unreadable."""
    total = 0
    for part in text.split():
        if len(part) > 40:
            return -1
        match = _RANGE.fullmatch(part)
        if match is None or not part:
            return -1
        col1, row1, col2, row2 = match.groups()
        first_col = column_index(col1) if col1 else 1
        last_col = column_index(col2) if col2 else (first_col if ":" not in part else MAX_COL)
        first_row = int(row1) if row1 else 1
        last_row = int(row2) if row2 else (first_row if ":" not in part else MAX_ROW)
        if not (0 < first_col <= MAX_COL and 0 < last_col <= MAX_COL):
            return -1
        if not (0 < first_row <= MAX_ROW and 0 < last_row <= MAX_ROW):
            return -1
        total += (abs(last_col - first_col) + 1) * (abs(last_row - first_row) + 1)
    return total


def _count_ranges(text: str) -> int:
    return len(text.split()) if len(text) < 1_000_000 else MAX_RANGES + 1


def _column_span(low: str, high: str) -> bool:
    return all(v.isdigit() and 0 < int(v) <= MAX_COL for v in (low or "1", high or "1"))


ANNOTATED, COPIED, LISTED = "annotated", "copied", "listed"


@dataclass
class Loaded:
    """What the feedback is written into: the branch's own workbook (ANNOTATED), a copy of
    its values (COPIED, ``titles``: original sheet name -> copy's title) or nothing (LISTED)."""

    how: str
    workbook: Workbook | None = None
    macros: bool = False
    titles: dict[str, str] = field(default_factory=dict)
    formulas: int = 0  # formulas of the original replaced by their values


def load_original(source: Path, *, reserved: str, data: bytes | None = None) -> Loaded:
    """The branch's workbook at ``source`` (or its bytes ``data``, already read: then the file
    is not opened again), bounded and made inert (see the module docstring); a copy of its
    values (no sheet titled ``reserved``) past the bounds; nothing if unreadable."""
    suffix = source.suffix.lower()
    if suffix not in OPENPYXL_SUFFIXES:
        return Loaded(LISTED)
    macros = suffix in MACRO_SUFFIXES
    try:
        if data is None:
            if source.stat().st_size > _package.MAX_INPUT_BYTES:
                return Loaded(LISTED)
            data = source.read_bytes()
        elif len(data) > _package.MAX_INPUT_BYTES:
            return Loaded(LISTED)
        # the reader's pre-check (zip bombs, hostile sheets), as tonghop.intake.reader.precheck
        opened = _package.open_package(data)
    except Exception:  # any damage (zip, XML) means: no annotated copy
        return Loaded(LISTED)
    if refusal(opened) is None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                workbook = load_workbook(
                    io.BytesIO(data), keep_vba=macros, rich_text=False, keep_links=False
                )
                formulas = make_inert(workbook, data, put_text)
            if suffix in (".xltx", ".xltm"):
                workbook.template = False
            return Loaded(ANNOTATED, workbook, macros, formulas=formulas)
        except Exception:  # damage openpyxl alone trips on (styles, drawings): copy the values
            pass
    try:
        workbook, titles = values_copy(data, opened, put_text, reserved)
    except BaseException as exc:  # a Rust panic in calamine is a BaseException
        if not isinstance(exc, Exception) and type(exc).__name__ != "PanicException":
            raise
        return Loaded(LISTED)
    return Loaded(COPIED, workbook, titles=titles)


def put_text(cell: Any, value: object) -> None:
    """Write ``value`` into ``cell``; text always as a string cell, never as a formula or an
    error code, with control characters made visible and a quote prefix when it starts like
    a formula (so that editing it in Excel keeps it text)."""
    if not isinstance(value, str):
        cell.value = value
        return
    text = visible_text(value)[:32_767]
    cell.value = text  # openpyxl takes "=..." for a formula and "#N/A" for an error: undone
    cell.data_type = "s"
    if text.startswith(FORMULA_MARKS):
        cell.quotePrefix = True


# --- the values-only copy ------------------------------------------------------------------

Put = Callable[[Any, object], None]


def values_copy(
    data: bytes, opened: Opened, put: Put, reserved: str
) -> tuple[Workbook, dict[str, str]]:
    """A fresh workbook with the values of the original's worksheets (at most
    MAX_COPIED_CELLS), and original sheet name -> title of its copy (never ``reserved``).
    ``put(cell, value)`` writes one text (the feedback writer's inert writing of branch text)."""
    workbook = Workbook()
    default = workbook.active
    if default is not None:
        workbook.remove(default)
    titles: dict[str, str] = {}
    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    budget, area = MAX_COPIED_CELLS, MAX_COPIED_AREA
    for name, part in opened.sheets[: MAX_COPIED_SHEETS * 4]:
        if part is None or len(titles) >= MAX_COPIED_SHEETS:
            continue
        title = _title(name, {*titles.values(), reserved})
        titles[name] = title
        sheet = workbook.create_sheet(title)
        if budget <= 0:
            continue
        calamine_sheet = book.get_sheet_by_name(name)
        area -= calamine_sheet.height * calamine_sheet.width
        if area < 0:
            continue  # its title only: the grid would cost more than the copy is worth
        top, left = calamine_sheet.start or (0, 0)
        # as the reader reads it: the grid from the first used cell (iter_rows starts at row 1)
        for row_index, row in enumerate(calamine_sheet.to_python(), top + 1):
            for col_index, value in enumerate(row, left + 1):
                if value == "" or value is None:
                    continue
                budget -= 1
                if budget < 0:
                    break
                _write(sheet, row_index, col_index, value, put)
            if budget < 0:
                break
    return workbook, titles


def _write(sheet: Worksheet, row: int, col: int, value: object, put: Put) -> None:
    cell = sheet.cell(row=row, column=col)
    if isinstance(value, dt.datetime | dt.date):
        cell.value = value
        cell.number_format = "DD/MM/YYYY"
    elif isinstance(value, dt.time | dt.timedelta):
        put(cell, str(value))
    elif isinstance(value, bool | int | float):
        cell.value = value
    else:
        put(cell, value)


_NOT_IN_TITLES = re.compile(r"[\\*?:/\[\]\x00-\x1f\x7f]")


def _title(name: str, taken: set[str]) -> str:
    """A sheet title openpyxl and Excel accept, close to ``name``, not among ``taken``."""
    base = _NOT_IN_TITLES.sub("_", name).strip("'")[:31] or "Trang"
    title, number = base, 1
    folded = {t.casefold() for t in taken}
    while title.casefold() in folded:
        number += 1
        title = f"{base[: 31 - len(str(number)) - 1]}_{number}"
    return title


# --- the loaded original, made inert ------------------------------------------------------


def make_inert(workbook: Workbook, data: bytes, put: Put) -> int:
    """Make the loaded original hold no live formula and no control character; returns how
    many formulas were replaced. A formula (the branch's or one hidden in a file made to look
    like one) gives way to the value it showed, its cached value read by a second, equally
    bounded load; one without a cached value keeps its text, as text. Text cells and comments
    go through ``put`` / ``visible_text``."""
    formulas: list[tuple[str, Any]] = []
    for sheet in workbook.worksheets:
        if not isinstance(sheet, Worksheet):
            continue
        for cell in list(sheet._cells.values()):
            value = cell.value
            if cell.data_type == "f":
                formulas.append((sheet.title, cell))
            elif isinstance(value, str) and (
                value.startswith(FORMULA_MARKS) or visible_text(value) != value
            ):
                put(cell, value)
            comment = cell.comment
            if comment is not None and visible_text(comment.text) != comment.text:
                comment.text = visible_text(comment.text)
    if not formulas:
        return 0
    cached = load_workbook(io.BytesIO(data), data_only=True, rich_text=False, keep_links=False)
    for title, cell in formulas:
        shown: Any = cached[title]
        shown = shown._cells.get((cell.row, cell.column))
        value = shown.value if shown is not None else None
        if value is None:
            text = cell.value if isinstance(cell.value, str) else getattr(cell.value, "text", "")
            put(cell, text or "")
        elif isinstance(value, str):
            put(cell, value)
        else:
            cell.value = value
    return len(formulas)
