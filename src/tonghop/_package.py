"""The package pre-check: what no library checks for us before a branch's file is opened.

Private to :mod:`tonghop.reader`. Everything here works on untrusted bytes. The zip directory
is checked (entry count, declared sizes, total, compression ratio, encryption, compression
method) before anything is inflated; the declared sizes then bound what is inflated, by us
and by python-calamine's zip reader alike (it refuses an entry larger than declared). The
few small parts we parse ourselves (workbook.xml and the .rels) go through lxml with
entities, DTDs and network access off, and a part with a DOCTYPE is refused. Each worksheet
is looked at once for the area its cells span: calamine holds a sheet as a dense grid from
its first to its last cell, so one value in A1 and one in XFD1048576 would make it allocate
512 GB and abort the process.
"""

from __future__ import annotations

import io
import posixpath
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass, field

from lxml import etree


class Unreadable(Exception):
    """The file is not a readable return; ``message`` is Vietnamese and says what to do."""

    def __init__(self, kind: str, message: str | None = None) -> None:
        self.kind = kind
        self.message = message or MESSAGES.get(kind, MESSAGES["corrupt"])
        super().__init__(self.message)

    @classmethod
    def sniffed(cls, kind: str) -> Unreadable:
        """For a :func:`sniff_kind` result: its kind of problem, with the message naming it."""
        return cls(_KIND_OF.get(kind, kind), MESSAGES.get(kind))


_RESAVE = "Hãy mở tệp bằng Excel, chọn Tệp > Lưu thành > Sổ làm việc Excel (.xlsx), rồi gửi lại."
_SEND_XLSX = "Hãy gửi tệp Excel (.xlsx) theo mẫu."
MESSAGES = {
    "empty": "Tệp rỗng, không có dữ liệu (có thể tải về chưa xong). Hãy tải lại tệp từ Zalo"
    " hoặc đề nghị chi bộ gửi lại.",
    "xls": "Tệp là định dạng Excel 97-2003 (.xls). Hãy mở tệp và chọn Tệp > Lưu thành > Sổ làm"
    " việc Excel (.xlsx), rồi gửi lại.",
    "xlsb": "Tệp là định dạng Sổ làm việc nhị phân Excel (.xlsb). " + _RESAVE,
    "html": "Tệp thực chất là trang web (HTML) mang đuôi Excel, thường do phần mềm khác xuất ra. "
    + _RESAVE,
    "xml2003": "Tệp là định dạng Bảng tính XML 2003. " + _RESAVE,
    "ods": "Tệp là định dạng OpenDocument (.ods). Hãy mở tệp, chọn Tệp > Lưu thành, chọn kiểu"
    " Excel 2007-365 (.xlsx), rồi gửi lại.",
    "odf": "Tệp là văn bản OpenDocument (.odt/.odp), không phải sổ làm việc Excel. " + _SEND_XLSX,
    "csv": "Tệp là văn bản CSV, không phải sổ làm việc Excel theo mẫu. Hãy điền số liệu vào tệp"
    " mẫu Excel (.xlsx) rồi gửi lại tệp đó.",
    "docx": "Tệp là văn bản Word, không phải sổ làm việc Excel (có thể gửi nhầm tệp). "
    + _SEND_XLSX,
    "doc": "Tệp là văn bản Word (.doc), không phải sổ làm việc Excel (có thể gửi nhầm tệp). "
    + _SEND_XLSX,
    "pptx": "Tệp là bản trình chiếu PowerPoint, không phải sổ làm việc Excel. " + _SEND_XLSX,
    "pdf": "Tệp là tài liệu PDF, không phải sổ làm việc Excel. Hãy gửi tệp Excel (.xlsx) theo"
    " mẫu thay cho bản PDF.",
    "image": "Tệp là hình ảnh, không phải sổ làm việc Excel. Hãy gửi tệp Excel (.xlsx) theo mẫu"
    " thay cho ảnh chụp.",
    "zip": "Tệp là tệp nén hoặc định dạng khác, không phải sổ làm việc Excel. Nếu là tệp nén,"
    " hãy giải nén và gửi riêng tệp Excel (.xlsx) theo mẫu.",
    "not_a_return": "Tệp không phải sổ làm việc Excel. " + _SEND_XLSX,
    "not_zip": "Tệp không phải sổ làm việc Excel (.xlsx) hoặc đã bị hỏng. Hãy mở tệp mẫu bằng"
    " Excel, điền số liệu, lưu dạng .xlsx rồi gửi lại.",
    "encrypted": "Tệp đang đặt mật khẩu. Hãy mở tệp, bỏ mật khẩu (Tệp > Thông tin > Bảo vệ sổ"
    " làm việc) rồi lưu lại và gửi.",
    "corrupt": "Tệp bị hỏng hoặc chưa tải về hết. Hãy mở lại tệp trong Excel, lưu lại và gửi lại.",
    "missing": "Không tìm thấy tệp. Hãy kiểm tra lại tên và đường dẫn của tệp.",
    "too_large": "Tệp quá lớn hoặc có cấu trúc bất thường, vượt giới hạn an toàn khi đọc. Hãy xoá"
    " các trang tính, hình ảnh hoặc dòng thừa rồi lưu và gửi lại; nếu vẫn lỗi, hãy điền lại"
    " vào tệp mẫu gốc.",
}
# sniff_kind() results that are not themselves Unreadable kinds
_KIND_OF = {"xlsb": "xls", "html": "xls", "xml2003": "xls"} | dict.fromkeys(
    ("odf", "docx", "doc", "pptx", "pdf", "image", "zip"), "not_a_return"
)

MAX_INPUT_BYTES = 50 * 1024 * 1024
MAX_ENTRIES = 10_000
MAX_ENTRY_BYTES = 50 * 1024 * 1024
MAX_TOTAL_BYTES = 200 * 1024 * 1024
MAX_RATIO = 200
RATIO_MIN_BYTES = 1024 * 1024
MAX_SMALL_PART_BYTES = 10 * 1024 * 1024  # workbook.xml and the .rels are parsed whole
MAX_DEFINED_NAMES = 20_000
MAX_SHEET_AREA = 1_000_000  # cells of the grid calamine allocates (32 bytes each)
MAX_ROW, MAX_COL = 1_048_576, 16_384

PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
_DOCTYPES = (b"<!DOCTYPE", "<!DOCTYPE".encode("utf-16-le"), "<!DOCTYPE".encode("utf-16-be"))
_WORKSHEET_TYPES = ("/worksheet", "/xlMacrosheet")
# The usual spelling of real producers: each cell tag unprefixed, with its r first, in double
# quotes. A match is a cell tag spelled otherwise or beyond column Z or row 999, or a DOCTYPE;
# none means the sheet spans at most 26 x 999 cells, and that a cell not found as `<c r="C7"`
# is not in the sheet.
_UNUSUAL = re.compile(
    rb'<(?:c(?=[\s/>])(?!\sr="[A-Z][1-9][0-9]{0,2}")|!DOCTYPE|[A-Za-z_][\w.\-]*:c[\s/>])'
)
_TAG = re.compile(rb"<(?:[A-Za-z_][\w.\-]*:)?(c|row)(?=[\s/>])([^>]*)>")
_R = re.compile(rb"""(?:^|\s)r\s*=\s*["']\s*([A-Za-z]{0,3})([0-9]{0,7})\s*["']""")


@dataclass
class Opened:
    """A checked package and what its workbook part says."""

    zip: zipfile.ZipFile
    sheets: list[tuple[str, str | None]]  # (name, worksheet part or None), workbook order
    definitions: list[tuple[str, str | None, str]]  # (name, localSheetId, text)
    date1904: bool
    sheet_xml: dict[str, bytes] = field(default_factory=dict)  # worksheet part -> its XML
    usual: set[str] = field(default_factory=set)  # worksheet parts in the usual spelling


class Package:
    """A zip whose directory passed the checks. Part names are looked up case-insensitively."""

    def __init__(self, data: bytes) -> None:
        _check_entry_count(data)
        try:
            self.data = data
            self.zip = zipfile.ZipFile(io.BytesIO(data))
            infos = self.zip.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
            raise Unreadable("corrupt") from exc
        except (struct.error, UnicodeDecodeError, NotImplementedError) as exc:
            raise Unreadable("corrupt") from exc
        if len(infos) > MAX_ENTRIES:
            raise Unreadable("too_large")
        total = 0
        self.parts: dict[str, zipfile.ZipInfo] = {}
        self.encrypted = self.odd_method = False
        for info in infos:
            size = info.file_size
            total += size
            if size > MAX_ENTRY_BYTES or total > MAX_TOTAL_BYTES:
                raise Unreadable("too_large")
            if size > RATIO_MIN_BYTES and size > MAX_RATIO * max(info.compress_size, 1):
                raise Unreadable("too_large")
            self.encrypted |= bool(info.flag_bits & 0x1)
            # bzip2/lzma inflate without an output bound in zipfile; Excel never uses them
            self.odd_method |= info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
            self.parts.setdefault(info.filename.replace("\\", "/").lstrip("/").lower(), info)

    def has(self, name: str) -> bool:
        return name.lstrip("/").lower() in self.parts

    def read(self, name: str, limit: int = MAX_ENTRY_BYTES) -> bytes | None:
        """The inflated bytes of a part (at most its declared size), or None if it is absent."""
        info = self.parts.get(name.lstrip("/").lower())
        if info is None:
            return None
        if info.flag_bits & 0x1:
            raise Unreadable("encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise Unreadable("corrupt")
        if info.file_size > limit:
            raise Unreadable("too_large")
        start = info.header_offset
        header = self.data[start : start + 30]
        if len(header) < 30 or header[:4] != b"PK\x03\x04":
            raise Unreadable("corrupt")
        name_length, extra_length = struct.unpack_from("<HH", header, 26)
        start += 30 + name_length + extra_length
        packed = self.data[start : start + info.compress_size]
        try:  # max_length bounds the output whatever the stream holds
            if info.compress_type == zipfile.ZIP_STORED:
                data = packed
            else:
                data = zlib.decompressobj(-15).decompress(packed, info.file_size + 1)
        except zlib.error as exc:
            raise Unreadable("corrupt") from exc
        if len(data) != info.file_size or zlib.crc32(data) != info.CRC:
            raise Unreadable("corrupt")
        return data


def _check_entry_count(data: bytes) -> None:
    """Refuse a zip claiming too many entries before zipfile reads its whole directory."""
    tail = data[-65_557:]
    at = tail.rfind(b"PK\x05\x06")
    if at >= 0 and len(tail) - at >= 22:
        (count,) = struct.unpack_from("<H", tail, at + 10)
        if MAX_ENTRIES < count < 0xFFFF:
            raise Unreadable("too_large")


def parse(data: bytes) -> etree._Element:
    """Parse a whole small part; a DOCTYPE (entities, DTD) is refused."""
    refuse_doctype(data)
    try:
        root = etree.fromstring(data, PARSER)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise Unreadable("corrupt") from exc
    if root is None or root.getroottree().docinfo.doctype:
        raise Unreadable("corrupt")
    return root


def refuse_doctype(data: bytes) -> None:
    if any(marker in data for marker in _DOCTYPES):
        raise Unreadable("corrupt")


def local(tag: object) -> str:
    """Local name of an element tag ('' for comments and processing instructions)."""
    return tag[tag.rfind("}") + 1 :] if isinstance(tag, str) else ""


def open_package(data: bytes) -> Opened:
    """Check a package (see the module docstring) and read its workbook part.

    Raises :class:`Unreadable` naming what the file really is when it is not a workbook.
    """
    if len(data) > MAX_INPUT_BYTES:
        raise Unreadable("too_large")
    if not data.startswith(b"PK\x03\x04"):
        raise Unreadable.sniffed(sniff_kind(data))
    package = Package(data)
    if package.encrypted:
        raise Unreadable("encrypted")
    workbook_name = workbook_part(package)
    if workbook_name is None:
        kind = package_kind(package)
        raise Unreadable("corrupt") if kind == "xlsx" else Unreadable.sniffed(kind)
    if package.odd_method:
        raise Unreadable("corrupt")
    root = parse(package.read(workbook_name, MAX_SMALL_PART_BYTES) or b"")
    rels = relationships(package, workbook_name)
    opened = Opened(package.zip, [], [], False)
    for section in root:
        tag = local(section.tag)
        if tag == "workbookPr":
            opened.date1904 = (section.get("date1904") or "").lower() in ("1", "true")
        elif tag == "sheets":
            for element in section:
                if local(element.tag) != "sheet":
                    continue
                rel_id = next((v for k, v in element.attrib.items() if k.endswith("}id")), "")
                kind, target = rels.get(rel_id, ("", ""))
                part = target if kind.endswith(_WORKSHEET_TYPES) else None
                opened.sheets.append((element.get("name") or "", part))
        elif tag == "definedNames":
            if len(section) > MAX_DEFINED_NAMES:
                raise Unreadable("too_large")
            opened.definitions.extend(
                (e.get("name") or "", e.get("localSheetId"), e.text or "")
                for e in section.iterchildren("{*}definedName")
            )
    for _, part in opened.sheets:
        xml = package.read(part) if part else None
        if xml is not None:
            opened.sheet_xml[part or ""] = xml
            if check_sheet_area(xml):
                opened.usual.add(part or "")
    return opened


def check_sheet_area(xml: bytes) -> bool:
    """Refuse a worksheet whose cells span more than MAX_SHEET_AREA cells (or with a DOCTYPE).

    Returns whether the sheet is in the usual spelling (see _UNUSUAL)."""
    if xml[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in xml[:4]:
        refuse_doctype(xml)
        try:
            xml = xml.decode("utf-16").encode("utf-8")
        except UnicodeError as exc:
            raise Unreadable("corrupt") from exc
    unusual = _UNUSUAL.search(xml)
    if unusual is None:
        return True
    refuse_doctype(xml[unusual.start() :])
    # An upper bound of the last row and column that hold a cell: the largest ones written,
    # plus one for every row or cell placed by its position instead (after the one before).
    row = rows = cols = 0
    for tag, attributes in _TAG.findall(xml):
        ref = _R.search(attributes)
        letters, digits = ref.groups() if ref else (b"", b"")
        if tag == b"row":
            row = int(digits) if digits else row + 1
        elif not attributes.endswith(b"/"):  # an empty <c/> is no part of the grid
            rows = max(rows, int(digits) if digits else row)
            cols = max(cols, column_index(letters.decode())) if letters else cols + 1
            if rows * cols > MAX_SHEET_AREA:
                raise Unreadable("too_large")
    return False


def column_index(letters: str) -> int:
    """1-based column number of column letters ("A" -> 1, "XFD" -> 16384)."""
    number = 0
    for char in letters.upper():
        number = number * 26 + ord(char) - 64
    return number


def relationships(package: Package, source: str) -> dict[str, tuple[str, str]]:
    """Id -> (type, part name) of the internal relationships of part ``source``."""
    folder, base = posixpath.split(source)
    data = package.read(posixpath.join(folder, "_rels", base + ".rels"), MAX_SMALL_PART_BYTES)
    found: dict[str, tuple[str, str]] = {}
    for element in parse(data).iter() if data else ():
        if local(element.tag) != "Relationship" or element.get("TargetMode") == "External":
            continue
        target = (element.get("Target") or "").replace("\\", "/")
        if target:
            joined = target if target.startswith("/") else posixpath.join(folder, target)
            name = posixpath.normpath(joined).lstrip("/")
            found.setdefault(element.get("Id") or "", (element.get("Type") or "", name))
    return found


def workbook_part(package: Package) -> str | None:
    """Name of the workbook part: the usual xl/workbook.xml, else what _rels/.rels says."""
    if package.has("xl/workbook.xml"):
        return "xl/workbook.xml"
    for kind, target in relationships(package, "").values():
        if kind.endswith("/officeDocument") and target.endswith(".xml") and package.has(target):
            return target if _is_spreadsheet(package, target) else None
    return None


def _is_spreadsheet(package: Package, part: str) -> bool:
    """Whether [Content_Types].xml says ``part`` is a workbook (not a Word document...)."""
    data = package.read("[Content_Types].xml", MAX_SMALL_PART_BYTES)
    wanted = "/" + part.lower()
    for element in parse(data or b"<Types/>"):
        if local(element.tag) == "Override" and (element.get("PartName") or "").lower() == wanted:
            kind = (element.get("ContentType") or "").lower()
            return "spreadsheetml" in kind or "ms-excel" in kind
    return False


# --- what the file really is --------------------------------------------------------------

_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def sniff_kind(data: bytes, name: str = "") -> str:
    """See :func:`tonghop.reader.sniff`."""
    if not data.strip(b"\x00 \t\r\n"):
        return "empty"
    if data.startswith(_OLE):
        head = data[:65_536]
        if "EncryptionInfo".encode("utf-16-le") in head or b"EncryptedPackage" in head:
            return "encrypted"
        if "WordDocument".encode("utf-16-le") in head or name.lower().endswith(".doc"):
            return "doc"
        return "xls"
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")):
        try:
            return package_kind(Package(data))
        except Unreadable as exc:
            return "corrupt" if exc.kind == "corrupt" else "zip"
    if data.startswith(b"%PDF"):
        return "pdf"
    if data.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM")) or data[8:12] == b"WEBP":
        return "image"
    text = _as_text(data[:65_536])
    if text is None:
        return "not_zip"
    head = text[:4096].lstrip().lower()
    if "urn:schemas-microsoft-com:office:spreadsheet" in head or "excel.sheet" in head:
        return "xml2003"
    if head.startswith(("<!doctype html", "<html", "<table", "<meta")) or "<table" in head:
        return "html"
    if any(mark in text for mark in (",", ";", "\t")) or name.lower().endswith(".csv"):
        return "csv"
    return "not_zip"


def package_kind(package: Package) -> str:
    try:
        if package.encrypted:
            return "encrypted"
        if package.has("mimetype"):
            mimetype = (package.read("mimetype", 1024) or b"").decode("ascii", "replace")
            if "opendocument" in mimetype:
                return "ods" if "spreadsheet" in mimetype else "odf"
        if workbook_part(package):
            return "xlsx"
    except Unreadable:
        pass
    for part, kind in (
        ("xl/workbook.bin", "xlsb"),
        ("word/document.xml", "docx"),
        ("ppt/presentation.xml", "pptx"),
    ):
        if package.has(part):
            return kind
    return "zip"


def _as_text(data: bytes) -> str | None:
    encoding = "utf-8"
    for bom, bom_encoding in (
        (b"\xef\xbb\xbf", "utf-8"),
        (b"\xff\xfe", "utf-16-le"),
        (b"\xfe\xff", "utf-16-be"),
    ):
        if data.startswith(bom):
            data, encoding = data[len(bom) :], bom_encoding
            break
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        if exc.start >= len(data) - 4:  # a character cut by the 64 KB window
            text = data[: exc.start].decode(encoding)
        elif encoding == "utf-8":  # a CSV saved by Excel in the Windows code page
            try:
                text = data.decode("cp1258")
            except UnicodeDecodeError:
                return None
        else:
            return None
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text[:4096])
    return text if printable >= 0.98 * min(len(text), 4096) else None
