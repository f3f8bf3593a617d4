"""Low-level, defensive parsing of the OOXML parts of an .xlsx/.xlsm package.

Private to :mod:`tonghop.reader`. Everything here works on untrusted bytes: zip entries are
size-checked before they are inflated, XML is parsed by lxml with entities, DTDs and network
access off (a part with a DOCTYPE is refused), large parts are streamed and cleared as they
go, and every loop is capped. Problems are raised as :class:`Broken` with a ``kind`` that
the reader turns into a Vietnamese message.
"""

from __future__ import annotations

import io
import math
import posixpath
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from urllib.parse import unquote

from lxml import etree

MAX_INPUT_BYTES = 50 * 1024 * 1024
MAX_ENTRIES = 10_000
MAX_ENTRY_BYTES = 50 * 1024 * 1024
MAX_TOTAL_BYTES = 200 * 1024 * 1024
MAX_RATIO = 200
RATIO_MIN_BYTES = 1024 * 1024
MAX_SMALL_PART_BYTES = 10 * 1024 * 1024  # workbook.xml and .rels are parsed whole
STREAM_THRESHOLD = 2 * 1024 * 1024  # parts larger than this are streamed
MAX_SHARED_STRINGS = 200_000
MAX_SHARED_CHARS = 20_000_000
MAX_CELLS_SCANNED = 200_000  # a return has a few hundred; this bounds the time on hostile files
MAX_ROWS_SCANNED = 1_100_000  # empty <row> elements included
MAX_CELLS_KEPT = 20_000
MAX_ELEMENTS_PER_ITEM = 100_000  # elements inside one streamed <row> or <si>
MAX_DEFINED_NAMES = 20_000
MAX_ROW = 1_048_576
MAX_COL = 16_384

_PARSER_OPTIONS = {
    "resolve_entities": False,
    "no_network": True,
    "huge_tree": False,
    "load_dtd": False,
}
_PARSER = etree.XMLParser(**_PARSER_OPTIONS)
_DOCTYPE_MARKERS = (b"<!DOCTYPE", "<!DOCTYPE".encode("utf-16-le"), "<!DOCTYPE".encode("utf-16-be"))
_REF = re.compile(r"([A-Za-z]{1,3})([0-9]{1,7})")
_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
_COLUMNS: dict[str, int] = {}

# (row, col, ref, type, text, formula, has_value); text is <v>'s, or the joined inline string
RawCell = tuple[int, int, str, str, str | None, str | None, bool]


class Broken(Exception):
    """The package cannot be read; ``kind`` is one of the reader's Unreadable kinds."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind


def local(tag: object) -> str:
    """Local name of an element tag ('' for comments and processing instructions)."""
    if not isinstance(tag, str):
        return ""
    return tag[tag.rfind("}") + 1 :]


def column_index(letters: str) -> int:
    """1-based column number of column letters ("A" -> 1, "XFD" -> 16384)."""
    known = _COLUMNS.get(letters)
    if known is not None:
        return known
    number = 0
    for char in letters.upper():
        number = number * 26 + ord(char) - 64
    if len(_COLUMNS) < 20_000:
        _COLUMNS[letters] = number
    return number


def column_letters(number: int) -> str:
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def split_ref(ref: str) -> tuple[int, int] | None:
    """(row, col) of an A1 reference without '$', or None when it is not one or out of range."""
    match = _REF.fullmatch(ref)
    if match is None:
        return None
    row, col = int(match.group(2)), column_index(match.group(1))
    if not (1 <= row <= MAX_ROW and 1 <= col <= MAX_COL):
        return None
    return row, col


def unescape(text: str) -> str:
    """Undo OOXML's _xHHHH_ escapes (Excel writes a carriage return as _x000D_)."""
    if "_x" not in text:
        return text
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)


def number(text: str) -> int | float | str:
    """A numeric cell's <v>: int when integral, else float; unparsable text is returned as is."""
    if text.isdigit():
        return int(text)
    if "_" in text:
        return text
    try:
        value = float(text)
    except ValueError:
        return text
    if not math.isfinite(value):
        return text
    return int(value) if value.is_integer() else value


# --- the zip package --------------------------------------------------------------------------


class Package:
    """An opened, size-checked zip. Part names are looked up case-insensitively."""

    def __init__(self, data: bytes) -> None:
        _check_entry_count(data)
        try:
            self.data = data
            self.zip = zipfile.ZipFile(io.BytesIO(data))
            infos = self.zip.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
            raise Broken("corrupt", str(exc)) from exc
        except (struct.error, UnicodeDecodeError, NotImplementedError) as exc:
            raise Broken("corrupt", str(exc)) from exc
        if len(infos) > MAX_ENTRIES:
            raise Broken("too_large", f"{len(infos)} entries")
        total = 0
        self.parts: dict[str, zipfile.ZipInfo] = {}
        self.encrypted = False
        for info in infos:
            size = info.file_size
            total += size
            if size > MAX_ENTRY_BYTES or total > MAX_TOTAL_BYTES:
                raise Broken("too_large", f"{info.filename}: {size} bytes")
            if size > RATIO_MIN_BYTES and size > MAX_RATIO * max(info.compress_size, 1):
                raise Broken("too_large", f"{info.filename}: ratio")
            if info.flag_bits & 0x1:
                self.encrypted = True
            self.parts.setdefault(info.filename.replace("\\", "/").lstrip("/").lower(), info)

    def has(self, name: str) -> bool:
        return self.find(name) is not None

    def find(self, name: str) -> zipfile.ZipInfo | None:
        key = name.lstrip("/").lower()
        info = self.parts.get(key)
        if info is None and "%" in key:
            info = self.parts.get(unquote(key))
        return info

    def read(self, name: str, limit: int = MAX_ENTRY_BYTES) -> bytes | None:
        """The inflated bytes of a part, or None when it does not exist."""
        info = self.find(name)
        if info is None:
            return None
        if info.flag_bits & 0x1:
            raise Broken("encrypted", info.filename)
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            # bzip2/lzma inflate without an output bound in zipfile; Excel never uses them
            raise Broken("corrupt", f"compression {info.compress_type}")
        if info.file_size > limit:
            raise Broken("too_large", f"{info.filename}: {info.file_size} bytes")
        start = info.header_offset
        header = self.data[start : start + 30]
        if len(header) < 30 or header[:4] != b"PK\x03\x04":
            raise Broken("corrupt", f"{info.filename}: local header")
        name_length, extra_length = struct.unpack_from("<HH", header, 26)
        start += 30 + name_length + extra_length
        packed = self.data[start : start + info.compress_size]
        try:
            if info.compress_type == zipfile.ZIP_STORED:
                data = packed
            else:
                # max_length bounds the output whatever the header claims
                data = zlib.decompressobj(-15).decompress(packed, info.file_size + 1)
        except zlib.error as exc:
            raise Broken("corrupt", f"{info.filename}: {exc}") from exc
        if len(data) != info.file_size or zlib.crc32(data) != info.CRC:
            raise Broken("corrupt", f"{info.filename}: truncated or bad CRC")
        return data


def _check_entry_count(data: bytes) -> None:
    """Refuse a zip claiming too many entries before zipfile reads its whole directory."""
    tail = data[-65_557:]
    at = tail.rfind(b"PK\x05\x06")
    if at >= 0 and len(tail) - at >= 22:
        (count,) = struct.unpack_from("<H", tail, at + 10)
        if MAX_ENTRIES < count < 0xFFFF:
            raise Broken("too_large", f"{count} entries")


# --- XML --------------------------------------------------------------------------------------


def _refuse_doctype(data: bytes) -> None:
    head = data[:4096]
    if any(marker in head for marker in _DOCTYPE_MARKERS) or b"<!DOCTYPE" in data:
        raise Broken("corrupt", "DOCTYPE")


def parse(data: bytes) -> etree._Element:
    """Parse a whole (small) part."""
    _refuse_doctype(data)
    try:
        root = etree.fromstring(data, _PARSER)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise Broken("corrupt", str(exc)) from exc
    if root is None or root.getroottree().docinfo.doctype:
        raise Broken("corrupt", "DOCTYPE")
    return root


def items(data: bytes, depth: int) -> Iterator[etree._Element]:
    """Yield the complete elements at ``depth`` (root = 1) of a part, in document order.

    Small parts are parsed whole; large ones are streamed and every yielded element is
    cleared and detached once the consumer moves on, so memory stays flat.
    """
    if len(data) <= STREAM_THRESHOLD:
        level = [parse(data)]
        for _ in range(depth - 1):
            level = [child for parent in level for child in parent]
        yield from level
        return
    _refuse_doctype(data)
    events = etree.iterparse(io.BytesIO(data), events=("start", "end"), **_PARSER_OPTIONS)
    level = 0
    inside = 0
    try:
        for event, element in events:
            if event == "start":
                level += 1
                if level == 1 and element.getroottree().docinfo.doctype:
                    raise Broken("corrupt", "DOCTYPE")
                continue
            level -= 1
            if level + 1 > depth:
                inside += 1
                if inside > MAX_ELEMENTS_PER_ITEM:
                    raise Broken("too_large", "element too large")
                continue
            inside = 0
            if level + 1 == depth:
                yield element
            element.clear(keep_tail=False)
            parent = element.getparent()
            if parent is not None:
                while element.getprevious() is not None:
                    del parent[0]
    except etree.XMLSyntaxError as exc:
        raise Broken("corrupt", str(exc)) from exc


def text_of(element: etree._Element, t_tag: str, r_tag: str) -> str:
    """Text of an <si> or <is>: its <t>, or its rich-text runs joined; <rPh> is ignored."""
    parts: list[str] = []
    for child in element:
        tag = child.tag
        if tag == t_tag:
            parts.append(child.text or "")
        elif tag == r_tag:
            for grandchild in child:
                if grandchild.tag == t_tag:
                    parts.append(grandchild.text or "")
    return unescape("".join(parts))


def relationships(package: Package, rels_name: str, source: str) -> dict[str, tuple[str, str]]:
    """Id -> (type, part name) for internal relationships of ``source``."""
    data = package.read(rels_name, MAX_SMALL_PART_BYTES)
    if data is None:
        return {}
    base = posixpath.dirname(source)
    found: dict[str, tuple[str, str]] = {}
    for element in parse(data).iter():
        if local(element.tag) != "Relationship" or element.get("TargetMode") == "External":
            continue
        target = (element.get("Target") or "").replace("\\", "/")
        if not target:
            continue
        if target.startswith("/"):
            name = posixpath.normpath(target).lstrip("/")
        else:
            name = posixpath.normpath(posixpath.join(base, target))
        found.setdefault(element.get("Id") or "", (element.get("Type") or "", name))
    return found


def rels_name_for(part: str) -> str:
    folder, base = posixpath.split(part)
    return posixpath.join(folder, "_rels", base + ".rels")


def shared_strings(data: bytes, needed: int) -> list[str]:
    """The first ``needed`` shared strings (fewer if the part has fewer)."""
    if needed > MAX_SHARED_STRINGS:
        raise Broken("too_large", f"shared string {needed}")
    strings: list[str] = []
    chars = 0
    tags: tuple[str, str] | None = None
    for si in items(data, 2):
        if len(strings) >= needed:
            break
        if tags is None:
            namespace = si.tag[: si.tag.rfind("}") + 1] if isinstance(si.tag, str) else ""
            tags = (namespace + "t", namespace + "r")
        if local(si.tag) != "si":
            continue
        text = text_of(si, *tags)
        chars += len(text)
        if chars > MAX_SHARED_CHARS:
            raise Broken("too_large", "shared strings")
        strings.append(text)
    return strings


class SheetScan:
    """Budget shared by all the sheets of one workbook."""

    def __init__(self) -> None:
        self.cells = 0
        self.rows = 0
        self.kept = 0

    def scan(
        self, data: bytes, keep_cols: frozenset[int], keep_cells: set[tuple[int, int]]
    ) -> tuple[list[RawCell], list[tuple[int, int, str]]]:
        """Non-empty cells of one worksheet that are in ``keep_cols`` or ``keep_cells``.

        Also returns the kept cells whose formula is a shared one written only on its master
        cell (row, col, si); :func:`shared_masters` finds those masters in a second pass.
        """
        kept: list[RawCell] = []
        dependents: list[tuple[int, int, str]] = []
        row = 0
        columns = _COLUMNS
        rows_seen, cells_seen = self.rows, self.cells
        for row_element in _rows(data):
            rows_seen += 1
            cells_seen += len(row_element)
            if rows_seen > MAX_ROWS_SCANNED or cells_seen > MAX_CELLS_SCANNED:
                raise Broken("too_large", "rows or cells")
            r = row_element.get("r")
            row = int(r) if r else row + 1
            if not 1 <= row <= MAX_ROW:
                raise Broken("corrupt", f"row {r}")
            tag = row_element.tag
            ns = tag[: tag.rfind("}") + 1]
            c_tag, v_tag, f_tag, is_tag = ns + "c", ns + "v", ns + "f", ns + "is"
            col = 0
            for c in row_element:
                if c.tag != c_tag:
                    continue
                ref = c.get("r")
                cell_row = row
                if ref:
                    letters = ref.rstrip("0123456789")
                    col = columns.get(letters) or _checked_column(letters)
                    digits = ref[len(letters) :]
                    cell_row = int(digits) if digits.isdigit() else 0
                    if not 0 < cell_row <= MAX_ROW:
                        raise Broken("corrupt", f"cell {ref!r}")
                else:
                    col += 1
                    if col > MAX_COL:
                        raise Broken("corrupt", "column")
                if col not in keep_cols and (cell_row, col) not in keep_cells:
                    continue
                text = formula = None
                has_value = False
                for child in c:
                    child_tag = child.tag
                    if child_tag == v_tag:
                        if not has_value:
                            text, has_value = child.text, True
                    elif child_tag == f_tag:
                        formula = child.text or ""
                        if not formula and child.get("t") == "shared":
                            dependents.append((cell_row, col, child.get("si") or ""))
                    elif child_tag == is_tag:
                        text, has_value = text_of(child, ns + "t", ns + "r"), True
                if not has_value and formula is None:
                    continue
                if not ref or not ref.isupper() or digits[0] == "0":
                    ref = column_letters(col) + str(cell_row)
                kept.append((cell_row, col, ref, c.get("t") or "n", text, formula, has_value))
            if len(kept) + self.kept > MAX_CELLS_KEPT:
                raise Broken("too_large", "kept cells")
        self.rows, self.cells, self.kept = rows_seen, cells_seen, self.kept + len(kept)
        return kept, dependents


def _checked_column(letters: str) -> int:
    if not (0 < len(letters) <= 3 and letters.isascii() and letters.isalpha()):
        raise Broken("corrupt", f"column {letters!r}")
    col = column_index(letters)
    if col > MAX_COL:
        raise Broken("corrupt", f"column {letters!r}")
    return col


def shared_masters(data: bytes, wanted: set[str]) -> dict[str, tuple[int, int, str]]:
    """si -> (row, col, formula text) of the master cells of the wanted shared formulas."""
    masters: dict[str, tuple[int, int, str]] = {}
    for row_element in _rows(data):
        for c in row_element:
            for child in c:
                if local(child.tag) != "f" or child.get("t") != "shared" or not child.text:
                    continue
                si = child.get("si") or ""
                position = split_ref(c.get("r") or "")
                if si in wanted and si not in masters and position is not None:
                    masters[si] = (*position, child.text)
                    if len(masters) == len(wanted):
                        return masters
    return masters


def _rows(data: bytes) -> Iterator[etree._Element]:
    """The <row> elements of a worksheet's <sheetData>."""
    if len(data) > STREAM_THRESHOLD:
        for element in items(data, 3):
            parent = element.getparent()
            if local(element.tag) == "row" and local(parent.tag) == "sheetData":
                yield element
        return
    for section in parse(data):
        tag = section.tag
        if local(tag) == "sheetData":
            row_tag = tag[:-9] + "row"
            for element in section:
                if element.tag == row_tag:
                    yield element


def workbook_part(package: Package) -> str | None:
    """Name of the workbook part: the usual xl/workbook.xml, else what _rels/.rels says."""
    if package.has("xl/workbook.xml"):
        return "xl/workbook.xml"
    for kind, target in relationships(package, "_rels/.rels", "").values():
        if kind.endswith("/officeDocument") and target.endswith(".xml") and package.has(target):
            return target if is_spreadsheet(package, target) else None
    return None


def is_spreadsheet(package: Package, part: str) -> bool:
    """Whether [Content_Types].xml says ``part`` is a workbook (not a Word document...)."""
    data = package.read("[Content_Types].xml", MAX_SMALL_PART_BYTES)
    wanted = "/" + part.lower()
    for element in parse(data or b"<Types/>"):
        if local(element.tag) == "Override" and (element.get("PartName") or "").lower() == wanted:
            kind = (element.get("ContentType") or "").lower()
            return "spreadsheetml" in kind or "ms-excel" in kind
    return False


def load_shared_strings(
    package: Package, rels: dict[str, tuple[str, str]], needed: int
) -> list[str]:
    """The first ``needed`` shared strings of the workbook (found through its rels)."""
    if not needed:
        return []
    part = next((t for k, t in rels.values() if k.endswith("/sharedStrings")), None)
    data = package.read(part) if part else None
    if data is None:
        data = package.read("xl/sharedStrings.xml")
    if data is None:
        raise Broken("corrupt", "no shared strings")
    return shared_strings(data, needed)


def index(text: str) -> int:
    """A shared string index."""
    number = int(text)
    if number < 0:
        raise IndexError(number)
    return number


def shared_formulas(
    data: bytes, dependents: list[tuple[int, int, str]]
) -> dict[tuple[int, int], str]:
    """Formula text of shared-formula dependents, translated from their master cell."""
    if not dependents:
        return {}
    from openpyxl.formula.translate import Translator  # only needed for shared formulas

    masters = shared_masters(data, {si for _, _, si in dependents})

    found: dict[tuple[int, int], str] = {}
    for row, col, si in dependents:
        master = masters.get(si)
        if master is None:
            continue
        m_row, m_col, text = master
        try:
            translated = Translator(
                "=" + text, column_letters(m_col) + str(m_row)
            ).translate_formula(column_letters(col) + str(row))
        except Exception:  # a formula openpyxl cannot tokenize keeps ""
            continue
        found[row, col] = translated[1:]
    return found
