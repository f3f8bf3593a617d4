"""The package pre-check: what no library checks for us before a branch's file is opened.

Private to :mod:`tonghop.reader`; all of it works on untrusted bytes. The zip directory is
checked (entry count, declared sizes, total, ratio, encryption, compression method) before
anything is inflated; the declared sizes then bound what zipfile and python-calamine's zip
reader inflate (both refuse an entry larger than declared). Parts we parse ourselves go
through lxml with entities, DTDs and network off, and a DOCTYPE is refused. Each worksheet is
measured for the area its cells span: calamine holds a sheet as a dense grid, so a value in A1
and one in XFD1048576 would make it allocate 512 GB and abort the process.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
import zlib
from dataclasses import dataclass, field

from lxml import etree

from tonghop.errors import TonghopError


class Unreadable(TonghopError):
    """The file is not a readable return; ``message`` is Vietnamese and says what to do."""

    exit_code = 2

    def __init__(self, kind: str, message: str | None = None) -> None:
        self.kind = kind
        super().__init__(message or MESSAGES.get(kind, MESSAGES["corrupt"]))

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
MAX_ENTRY_BYTES, MAX_TOTAL_BYTES = 50 * 1024 * 1024, 200 * 1024 * 1024
MAX_RATIO, RATIO_MIN_BYTES = 200, 1024 * 1024
MAX_SMALL_PART_BYTES = 10 * 1024 * 1024  # workbook.xml and its .rels are parsed whole
MAX_DEFINED_NAMES = 20_000
KEEP_XML_BYTES = 2 * 1024 * 1024  # a sheet's XML kept for a look at it, not inflated again
MAX_SHEET_AREA = 500_000  # cells of the grid calamine allocates (32 bytes each: 16 MB)
MAX_ROW, MAX_COL = 1_048_576, 16_384

PARSER_OPTIONS = {"resolve_entities": False, "no_network": True, "load_dtd": False}
PARSER = etree.XMLParser(**PARSER_OPTIONS)
DOCTYPES = (b"<!DOCTYPE", "<!DOCTYPE".encode("utf-16-le"), "<!DOCTYPE".encode("utf-16-be"))
# The usual spelling of real producers: each cell tag unprefixed, with its r first, in double
# quotes. A match is a cell tag spelled otherwise or beyond column Z or row 999, or a DOCTYPE;
# none means the sheet spans at most 26 x 999 cells and a cell not found as `<c r="C7"` is not
# in the sheet.
_UNUSUAL = re.compile(
    rb'<(?:c(?=[\s/>])(?!\sr="[A-Z][1-9][0-9]{0,2}")|!DOCTYPE|[A-Za-z_][\w.\-]*:c[\s/>])'
)
_TAG = re.compile(rb"<(?:[A-Za-z_][\w.\-]*:)?(c|row)(?=[\s/>])([^>]*)>")
_R = re.compile(rb"""(?:^|\s)r\s*=\s*["']\s*([A-Za-z]{0,3})([0-9]{0,7})\s*["']""")
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError)


@dataclass
class Opened:
    """A checked package and what its workbook part says."""

    sheets: list[tuple[str, str | None]] = field(default_factory=list)  # name, worksheet part
    definitions: list[tuple[str, str | None, str]] = field(default_factory=list)  # defined names
    date1904: bool = False
    # worksheet part -> its XML (b"" when it is too large to keep: read again if needed)
    sheet_xml: dict[str, bytes] = field(default_factory=dict)
    package: Package | None = None


def entry_count(tail: bytes) -> int | None:
    """The entry count the zip's end record (in the file's last 64 KB) declares, if found."""
    at = tail.rfind(b"PK\x05\x06")
    return int.from_bytes(tail[at + 10 : at + 12], "little") if at >= 0 else None


class Package:
    """A zip whose directory passed the checks. Part names are looked up case-insensitively."""

    def __init__(self, data: bytes) -> None:
        count = entry_count(data[-65_557:]) or 0  # refused before zipfile reads them all
        if MAX_ENTRIES < count < 0xFFFF:  # (0xFFFF: a zip64 count, which zipfile reads)
            raise Unreadable("too_large")
        self.data = data
        try:
            self.zip = zipfile.ZipFile(io.BytesIO(data))
        except (*_ZIP_ERRORS, UnicodeDecodeError, NotImplementedError) as exc:
            raise Unreadable("corrupt") from exc
        infos = self.zip.infolist()
        if len(infos) > MAX_ENTRIES or sum(i.file_size for i in infos) > MAX_TOTAL_BYTES:
            raise Unreadable("too_large")
        for i in infos:
            if i.file_size > MAX_ENTRY_BYTES or (
                i.file_size > RATIO_MIN_BYTES and i.file_size > MAX_RATIO * max(i.compress_size, 1)
            ):
                raise Unreadable("too_large")
        self.encrypted = any(i.flag_bits & 0x1 for i in infos)
        # bzip2/lzma inflate without an output bound in zipfile; Excel never uses them
        self.odd = any(
            i.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) for i in infos
        )
        self.parts = {i.filename.replace("\\", "/").lstrip("/").lower(): i for i in reversed(infos)}

    def read(self, name: str, limit: int = MAX_ENTRY_BYTES) -> bytes | None:
        """The inflated bytes of a part (at most its declared size), or None if it is absent."""
        info = self.parts.get(name.lstrip("/").lower())
        if info is None:
            return None
        if info.flag_bits & 0x1:
            raise Unreadable("encrypted")
        if info.file_size > limit or self.odd:
            raise Unreadable("too_large" if info.file_size > limit else "corrupt")
        # What zipfile.read does (at most the declared size, CRC checked), at a third of its
        # cost: the local header names where the deflated bytes start.
        start = info.header_offset
        header = self.data[start : start + 30]
        if len(header) < 30 or header[:4] != b"PK\x03\x04":
            raise Unreadable("corrupt")
        start += (
            30 + int.from_bytes(header[26:28], "little") + int.from_bytes(header[28:], "little")
        )
        packed = self.data[start : start + info.compress_size]
        try:
            inflate = zlib.decompressobj(-15).decompress
            data = inflate(packed, info.file_size + 1) if info.compress_type else packed
        except zlib.error as exc:
            raise Unreadable("corrupt") from exc
        if len(data) != info.file_size or zlib.crc32(data) != info.CRC:
            raise Unreadable("corrupt")
        return data


def parse(data: bytes) -> etree._Element:
    """Parse a whole part; a DOCTYPE (entities, DTD) is refused."""
    if any(marker in data for marker in DOCTYPES):
        raise Unreadable("corrupt")
    try:
        return etree.fromstring(data, PARSER)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise Unreadable("corrupt") from exc


def local(tag: object) -> str:
    """Local name of an element tag ('' for comments and processing instructions)."""
    return tag[tag.rfind("}") + 1 :] if isinstance(tag, str) else ""


def column_index(letters: str) -> int:
    """1-based column number of column letters ("A" -> 1, "XFD" -> 16384)."""
    number = 0
    for char in letters.upper():
        number = number * 26 + ord(char) - 64
    return number


def open_package(data: bytes) -> Opened:
    """Check a package (see the module docstring) and read its workbook part; raises
    :class:`Unreadable` naming what the file really is when it is not a workbook."""
    if len(data) > MAX_INPUT_BYTES:
        raise Unreadable("too_large")
    if not data.startswith(b"PK\x03\x04"):
        raise Unreadable.sniffed(sniff_kind(data))
    package = Package(data)
    if package.encrypted or "xl/workbook.xml" not in package.parts:  # calamine looks only there
        raise Unreadable.sniffed(package_kind(package))
    root = parse(package.read("xl/workbook.xml", MAX_SMALL_PART_BYTES) or b"")
    rels: dict[str, tuple[str, str]] = {}
    for rel in parse(package.read("xl/_rels/workbook.xml.rels", MAX_SMALL_PART_BYTES) or b"<r/>"):
        target = (rel.get("Target") or "").replace("\\", "/")
        if local(rel.tag) == "Relationship" and target and rel.get("TargetMode") != "External":
            part = posixpath.normpath(target if target[0] == "/" else "xl/" + target).lstrip("/")
            rels.setdefault(rel.get("Id") or "", (rel.get("Type") or "", part))
    opened = Opened()
    for section in root:
        tag = local(section.tag)
        if tag == "workbookPr":
            opened.date1904 = (section.get("date1904") or "").lower() in ("1", "true")
        elif tag == "sheets":
            for sheet in (e for e in section if local(e.tag) == "sheet"):
                rel_id = next((v for k, v in sheet.attrib.items() if k.endswith("}id")), "")
                kind, part = rels.get(rel_id, ("", ""))
                worksheet = kind.endswith(("/worksheet", "/xlMacrosheet"))
                opened.sheets.append((sheet.get("name") or "", part if worksheet else None))
        elif tag == "definedNames":
            if len(section) > MAX_DEFINED_NAMES:
                raise Unreadable("too_large")
            opened.definitions += [
                (e.get("name") or "", e.get("localSheetId"), e.text or "")
                for e in section.iterchildren("{*}definedName")
            ]
    opened.package = package
    for _, worksheet_part in opened.sheets:
        xml = package.read(worksheet_part) if worksheet_part else None
        if worksheet_part and xml is not None:
            opened.sheet_xml[worksheet_part] = xml if len(xml) <= KEEP_XML_BYTES else b""
            check_sheet_area(xml)
    return opened


def check_sheet_area(xml: bytes) -> None:
    """Refuse a worksheet whose cells span more than MAX_SHEET_AREA cells or with a DOCTYPE."""
    unusual = _UNUSUAL.search(xml)
    if unusual is None:
        return
    if b"<!DOCTYPE" in xml[unusual.start() :]:
        raise Unreadable("corrupt")
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


# --- what the file really is --------------------------------------------------------------


def sniff_kind(data: bytes, name: str = "") -> str:
    """See :func:`tonghop.reader.sniff`."""
    if not data.strip(b"\x00 \t\r\n"):
        return "empty"
    if data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):  # OLE: old Office or encrypted
        head = data[:65_536]
        if "EncryptionInfo".encode("utf-16-le") in head or b"EncryptedPackage" in head:
            return "encrypted"
        doc = "WordDocument".encode("utf-16-le") in head or name.lower().endswith(".doc")
        return "doc" if doc else "xls"
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
    lead = (text or "")[:4096].lstrip().lower()
    if "urn:schemas-microsoft-com:office:spreadsheet" in lead or "excel.sheet" in lead:
        return "xml2003"
    if lead.startswith(("<!doctype html", "<html", "<table", "<meta")) or "<table" in lead:
        return "html"
    if text and (any(mark in text for mark in ",;\t") or name.lower().endswith(".csv")):
        return "csv"
    return "not_zip"


def package_kind(package: Package) -> str:
    if package.encrypted:
        return "encrypted"
    try:
        mimetype = (package.read("mimetype", 1024) or b"").decode("ascii", "replace")
    except Unreadable:
        mimetype = ""
    if "opendocument" in mimetype:
        return "ods" if "spreadsheet" in mimetype else "odf"
    for part, kind in (
        ("xl/workbook.xml", "xlsx"),
        ("xl/workbook.bin", "xlsb"),
        ("word/document.xml", "docx"),
        ("ppt/presentation.xml", "pptx"),
    ):
        if part in package.parts:
            return kind
    return "zip"


def _as_text(data: bytes) -> str | None:
    """The text of a file that is text (a CSV, a web page...), else None. A few undecodable
    bytes (a CSV in the Windows code page, a character cut by the 64 KB window) are text."""
    encoding = "utf-8"
    for bom, bom_encoding in (
        (b"\xef\xbb\xbf", "utf-8"),
        (b"\xff\xfe", "utf-16-le"),
        (b"\xfe\xff", "utf-16-be"),
    ):
        if data.startswith(bom):
            data, encoding = data[len(bom) :], bom_encoding
            break
    text = data.decode(encoding, "replace")
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text[:4096])
    return text if printable >= 0.98 * min(len(text), 4096) else None
