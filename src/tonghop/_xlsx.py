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
    if len(element) == 1:  # the usual lone <t>, without making an iterator
        child = element[0]
        if child.tag == t_tag:
            return unescape(child.text or "")
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
    known = _RELATIONSHIPS.get((data, source))  # the same few bytes in every return of a form
    if known is not None:
        return dict(known)
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
    if len(data) <= 16_384:
        if len(_RELATIONSHIPS) >= 64:
            _RELATIONSHIPS.clear()
        _RELATIONSHIPS[data, source] = dict(found)
    return found


# (.rels part, source part) -> what relationships() made of it
_RELATIONSHIPS: dict[tuple[bytes, str], dict[str, tuple[str, str]]] = {}


def rels_name_for(part: str) -> str:
    folder, base = posixpath.split(part)
    return posixpath.join(folder, "_rels", base + ".rels")


def shared_strings(data: bytes, needed: int, wanted: set[int] | None = None) -> list[str | None]:
    """The first ``needed`` shared strings (fewer if the part has fewer).

    With ``wanted``, only the strings at those indexes are built (the others are None): a
    return's cells use a few of the strings, its labels (not read) most of the others.
    """
    if needed > MAX_SHARED_STRINGS:
        raise Broken("too_large", f"shared string {needed}")
    strings: list[str | None] = []
    chars = 0
    if len(data) <= STREAM_THRESHOLD and wanted is not None:
        root = parse(data)
        first = root[0].tag if len(root) else None
        namespace = first[: first.rfind("}") + 1] if isinstance(first, str) else ""
        tags = (namespace + "t", namespace + "r")
        items_ = list(root.iterchildren("{*}si"))  # <si> in any namespace, matched in C
        strings = [None] * min(needed, len(items_))
        for at in sorted(wanted):
            if at >= len(strings):
                break
            text = strings[at] = text_of(items_[at], *tags)
            chars += len(text)
            if chars > MAX_SHARED_CHARS:
                raise Broken("too_large", "shared strings")
        return strings
    tags: tuple[str, str] | None = None
    for si in items(data, 2):
        if len(strings) >= needed:
            break
        if tags is None:
            namespace = si.tag[: si.tag.rfind("}") + 1] if isinstance(si.tag, str) else ""
            tags = (namespace + "t", namespace + "r")
        if local(si.tag) != "si":
            continue
        if wanted is not None and len(strings) not in wanted:
            strings.append(None)
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
        # the <sheetData> elements of the last sheet when it has shared-formula dependents
        # (None when it was streamed), so that shared_formulas() need not parse it again
        self.sections: list[etree._Element] | None = None

    def scan(
        self, data: bytes, keep_cols: frozenset[int], keep_cells: set[tuple[int, int]]
    ) -> tuple[list[RawCell], list[tuple[int, int, str]]]:
        """Non-empty cells of one worksheet that are in ``keep_cols`` or ``keep_cells``.

        Also returns the kept cells whose formula is a shared one written only on its master
        cell (row, col, si); :func:`shared_masters` finds those masters in a second pass.
        """
        kept: list[RawCell] = []
        dependents: list[tuple[int, int, str]] = []
        self.sections = None
        if len(data) > STREAM_THRESHOLD:
            self._scan_rows(_streamed_rows(data), keep_cols, keep_cells, kept, dependents)
        else:
            sections = sheet_data(data)
            for section in sections:
                if not self._scan_section(section, keep_cols, keep_cells, kept, dependents):
                    row_tag = section.tag[:-9] + "row"
                    rows = section.iterchildren(row_tag)
                    self._scan_rows(rows, keep_cols, keep_cells, kept, dependents)
            if dependents:
                self.sections = sections
        self.kept += len(kept)
        return kept, dependents

    def _scan_section(
        self,
        section: etree._Element,
        keep_cols: frozenset[int],
        keep_cells: set[tuple[int, int]],
        kept: list[RawCell],
        dependents: list[tuple[int, int, str]],
    ) -> bool:
        """Scan a parsed <sheetData> whose cells all have an ``r``; False (nothing done) if not.

        The cells are listed by XPath in C and each is placed by its ``r`` alone (looked up
        in a cache of checked references), so a cell that is not kept costs one dict lookup.
        """
        ns = section.tag[:-9]
        row_tag = ns + "row"
        rows_seen, cells_seen = self.rows, self.cells
        row = 0
        for row_element in section.iterchildren(row_tag):
            rows_seen += 1
            cells_seen += len(row_element)
            if rows_seen > MAX_ROWS_SCANNED or cells_seen > MAX_CELLS_SCANNED:
                raise Broken("too_large", "rows or cells")
            r = row_element.get("r")
            row = int(r) if r else row + 1
            if not 1 <= row <= MAX_ROW:
                raise Broken("corrupt", f"row {r}")
        kept_before, dependents_before = len(kept), len(dependents)
        v_tag, f_tag, is_tag, t_tag, r_tag = ns + "v", ns + "f", ns + "is", ns + "t", ns + "r"
        refs = _REFS
        for c in _cells_of(ns)(section):
            ref = c.get("r")
            if not ref:  # placed by its position in the row: the general path
                del kept[kept_before:], dependents[dependents_before:]
                return False
            where = refs.get(ref)
            if where is None:
                where = _place(ref)
            cell_row, col, position, canonical = where
            if col not in keep_cols and position not in keep_cells:
                continue
            count = len(c)
            if not count:  # neither value nor formula
                continue
            if count == 1:  # the usual lone <v> or <is>, without making an iterator
                child = c[0]
                child_tag = child.tag
                if child_tag == v_tag:
                    text = child.text
                elif child_tag == is_tag:
                    if len(child) == 1 and child[0].tag == t_tag:  # text_of's usual case
                        text = child[0].text or ""
                        if "_x" in text:
                            text = unescape(text)
                    else:
                        text = text_of(child, t_tag, r_tag)
                else:
                    child_tag = None
                if child_tag is not None:
                    kept.append((cell_row, col, canonical, c.get("t") or "n", text, None, True))
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
                    text, has_value = text_of(child, t_tag, r_tag), True
            if has_value or formula is not None:
                kept.append((cell_row, col, canonical, c.get("t") or "n", text, formula, has_value))
        if len(kept) + self.kept > MAX_CELLS_KEPT:
            raise Broken("too_large", "kept cells")
        self.rows, self.cells = rows_seen, cells_seen
        return True

    def _scan_rows(
        self,
        rows: Iterator[etree._Element],
        keep_cols: frozenset[int],
        keep_cells: set[tuple[int, int]],
        kept: list[RawCell],
        dependents: list[tuple[int, int, str]],
    ) -> None:
        """The general path: cells placed by ``r`` or by their position in the row."""
        row = 0
        columns = _COLUMNS
        rows_seen, cells_seen = self.rows, self.cells
        for row_element in rows:
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
        self.rows, self.cells = rows_seen, cells_seen


def _checked_column(letters: str) -> int:
    if not (0 < len(letters) <= 3 and letters.isascii() and letters.isalpha()):
        raise Broken("corrupt", f"column {letters!r}")
    col = column_index(letters)
    if col > MAX_COL:
        raise Broken("corrupt", f"column {letters!r}")
    return col


# cell reference as written -> (row, col, (row, col), reference as kept); checked by _place
_REFS: dict[str, tuple[int, int, tuple[int, int], str]] = {}


def _place(ref: str) -> tuple[int, int, tuple[int, int], str]:
    """Where a cell's ``r`` puts it, checked as in :meth:`SheetScan._scan_rows` (and cached)."""
    letters = ref.rstrip("0123456789")
    col = _COLUMNS.get(letters) or _checked_column(letters)
    digits = ref[len(letters) :]
    row = int(digits) if digits.isdigit() else 0
    if not 0 < row <= MAX_ROW:
        raise Broken("corrupt", f"cell {ref!r}")
    canonical = ref if ref.isupper() and digits[0] != "0" else column_letters(col) + str(row)
    where = (row, col, (row, col), canonical)
    if len(_REFS) >= 20_000:
        _REFS.clear()
    _REFS[ref] = where
    return where


_CELL_PATHS: dict[str, etree.XPath] = {}


def _cells_of(ns: str) -> etree.XPath:
    """XPath listing the <c> children of the <row> children of a <sheetData> in namespace ns."""
    path = _CELL_PATHS.get(ns)
    if path is None:
        path = etree.XPath("x:row/x:c", namespaces={"x": ns[1:-1]}) if ns else etree.XPath("row/c")
        if len(_CELL_PATHS) < 16:
            _CELL_PATHS[ns] = path
    return path


def shared_masters(
    data: bytes, wanted: set[str], sections: list[etree._Element] | None = None
) -> dict[str, tuple[int, int, str]]:
    """si -> (row, col, formula text) of the master cells of the wanted shared formulas.

    ``sections`` are the sheet's <sheetData> elements when they are parsed already.
    """
    masters: dict[str, tuple[int, int, str]] = {}
    if sections is None:
        rows = _rows(data)
    else:
        rows = (row for s in sections for row in s.iterchildren(s.tag[:-9] + "row"))
    for row_element in rows:
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
        yield from _streamed_rows(data)
        return
    for section in sheet_data(data):
        row_tag = section.tag[:-9] + "row"
        yield from section.iterchildren(row_tag)


def _streamed_rows(data: bytes) -> Iterator[etree._Element]:
    for element in items(data, 3):
        parent = element.getparent()
        if local(element.tag) == "row" and local(parent.tag) == "sheetData":
            yield element


_ROOT_NAME = re.compile(
    rb"(?:\xef\xbb\xbf)?(?:[ \t\r\n]|<\?(?:[^?]|\?(?!>))*\?>|<!--(?:[^-]|-(?!-))*-->)*"
    rb"<([A-Za-z_][\w.\-]*(?::[A-Za-z_][\w.\-]*)?)[ \t\r\n/>]"
)


def sheet_data(data: bytes) -> list[etree._Element]:
    """The <sheetData> children of a (small) worksheet part's root, in document order.

    Only the part up to the end of its (last) <sheetData> is parsed: in a return, what
    follows (data validations, merged cells, page setup...) is more than half of the part and
    none of it is read. The cut is checked by parsing it: the bytes up to that end tag, then
    the root's end tag, are well-formed only if the end tag is a real one closing a child of
    the root (one inside a comment or CDATA leaves the cut unterminated), and then the tree is
    the whole part's without the children after it, none of which mentions "sheetData".
    Anything else (an odd prefix, a part in UTF-16...) parses the whole part as before. A
    DOCTYPE anywhere in the part is refused either way. What follows the cut is no longer
    checked for well-formedness: it is never read.
    """
    _refuse_doctype(data)
    root = None
    cut = _through_sheet_data(data)
    if cut is not None:
        try:
            root = etree.fromstring(cut, _PARSER)
        except (etree.XMLSyntaxError, ValueError):
            root = None
    if root is None or root.getroottree().docinfo.doctype:
        root = parse(data)
    return [section for section in root if local(section.tag) == "sheetData"]


def _through_sheet_data(data: bytes) -> bytes | None:
    """The part cut after the last mention of "sheetData", if that is the end of one, with
    the root's end tag added; None otherwise."""
    head = _ROOT_NAME.match(data, 0, 4096)
    if head is None:
        return None
    name = head.group(1)
    prefix = name[: name.find(b":") + 1]  # the root's, if any
    at = data.rfind(b"sheetData")
    start = at - len(prefix)
    if at < 0 or start - 1 < head.end() or data[start:at] != prefix:
        return None
    end = data.find(b">", at) + 1
    if end <= 0:
        return None
    rest = data[at + 9 : end - 1]  # between the name and the ">"
    if data[start - 2 : start] == b"</":  # an end tag, </sheetData>
        good = not rest.strip(b" \t\r\n")
    else:  # an empty element, <sheetData/> or <sheetData a="1" />
        good = data[start - 1 : start] == b"<" and rest[-1:] == b"/" and rest[:1] in _NAME_ENDS
    return data[:end] + b"</" + name + b">" if good else None


_NAME_ENDS = (b"/", b" ", b"\t", b"\r", b"\n")


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
    package: Package,
    rels: dict[str, tuple[str, str]],
    needed: int,
    wanted: set[int] | None = None,
) -> list[str | None]:
    """The first ``needed`` shared strings of the workbook (found through its rels).

    With ``wanted``, only those indexes are filled in (see :func:`shared_strings`).
    """
    if not needed:
        return []
    part = next((t for k, t in rels.values() if k.endswith("/sharedStrings")), None)
    data = package.read(part) if part else None
    if data is None:
        data = package.read("xl/sharedStrings.xml")
    if data is None:
        raise Broken("corrupt", "no shared strings")
    return shared_strings(data, needed, wanted)


def index(text: str) -> int:
    """A shared string index."""
    number = int(text)
    if number < 0:
        raise IndexError(number)
    return number


def shared_formulas(
    data: bytes,
    dependents: list[tuple[int, int, str]],
    sections: list[etree._Element] | None = None,
) -> dict[tuple[int, int], str]:
    """Formula text of shared-formula dependents, translated from their master cell.

    ``sections`` are the sheet's parsed <sheetData> elements (:attr:`SheetScan.sections`).
    """
    if not dependents:
        return {}
    from openpyxl.formula.translate import Translator  # only needed for shared formulas

    masters = shared_masters(data, {si for _, _, si in dependents}, sections)

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
