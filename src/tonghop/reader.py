"""Read one branch return workbook (.xlsx/.xlsm) safely and fast.

The OOXML parts are parsed directly (see :mod:`tonghop._xlsx`) instead of through openpyxl:
only the cells the checker can use are kept (those behind workbook defined names, column A
and the value column), values are returned raw as stored in the cell, and anything that is
not a readable workbook raises :class:`Unreadable` with a Vietnamese message saying what the
file is and what the sender should do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from tonghop import _xlsx
from tonghop._xlsx import Broken, Package, column_index, column_letters, local, split_ref

__all__ = ["Cell", "Unreadable", "Workbook", "read_workbook", "sniff"]

Value = str | int | float | bool | None


@dataclass(frozen=True, slots=True, init=False)
class Cell:
    """One cell as stored in the file. ``value`` is raw: coercion is the checker's job."""

    sheet: str
    ref: str
    value: Value
    formula: str | None = None
    has_cached_value: bool = True
    is_error: bool = False

    def __init__(
        self,
        sheet: str,
        ref: str,
        value: Value,
        formula: str | None = None,
        has_cached_value: bool = True,
        is_error: bool = False,
    ) -> None:
        # What the generated frozen __init__ does, through the slots' own setters: a read
        # makes a hundred cells, and object.__setattr__ costs twice as much.
        _set_sheet(self, sheet)
        _set_ref(self, ref)
        _set_value(self, value)
        _set_formula(self, formula)
        _set_has_cached_value(self, has_cached_value)
        _set_is_error(self, is_error)


_set_sheet = Cell.sheet.__set__
_set_ref = Cell.ref.__set__
_set_value = Cell.value.__set__
_set_formula = Cell.formula.__set__
_set_has_cached_value = Cell.has_cached_value.__set__
_set_is_error = Cell.is_error.__set__


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
            for name, candidate in self.cells.items():
                if name.casefold() == folded:
                    cells = candidate
                    break
            else:
                return None
        return cells.get(ref.replace("$", "").strip().upper())


class Unreadable(Exception):
    """The file is not a readable return; ``message`` is Vietnamese and says what to do."""

    def __init__(self, kind: str, message: str | None = None) -> None:
        self.kind = kind
        self.message = message or _MESSAGES.get(kind, _MESSAGES["corrupt"])
        super().__init__(self.message)


_RESAVE = "Hãy mở tệp bằng Excel, chọn Tệp > Lưu thành > Sổ làm việc Excel (.xlsx), rồi gửi lại."
_SEND_XLSX = "Hãy gửi tệp Excel (.xlsx) theo mẫu."
_MESSAGES = {
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
# sniff() results that are not themselves Unreadable kinds
_KIND_OF = {
    "xlsb": "xls",
    "html": "xls",
    "xml2003": "xls",
    "odf": "not_a_return",
    "docx": "not_a_return",
    "doc": "not_a_return",
    "pptx": "not_a_return",
    "pdf": "not_a_return",
    "image": "not_a_return",
    "zip": "not_a_return",
}
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ID = re.compile(r"[a-z][a-z0-9_]*")
_NAME_TARGET = re.compile(
    r"=?\s*(?:'((?:[^']|'')+)'|([^'!\[\]:*?/\\\s,;()=]+))!"
    r"\$?([A-Za-z]{1,3})\$?([0-9]{1,7})(?::\$?([A-Za-z]{1,3})\$?([0-9]{1,7}))?\s*"
)
_WORKSHEET_TYPES = ("/worksheet", "/xlMacrosheet")
_TARGETS: dict[str, tuple[str, int, int, str] | None] = {}  # defined-name text -> target
# (defined names, sheet names) -> what _resolve_names made of them; read-only once stored
_RESOLVED: dict[
    tuple[tuple[tuple[str, str | None, str], ...], tuple[str, ...]],
    dict[str, tuple[str, int, int, str]],
] = {}


def _unreadable(kind: str) -> Unreadable:
    return Unreadable(_KIND_OF.get(kind, kind), _MESSAGES.get(kind))


# --- sniffing -------------------------------------------------------------------------------


def sniff(data: bytes, name: str = "") -> str:
    """Tell what kind of file ``data`` is, to pick the right message.

    Returns one of: "xlsx", "xlsb", "xls", "encrypted", "ods", "odf", "docx", "doc", "pptx",
    "zip" (another zip), "corrupt" (a zip that cannot be opened, e.g. a partial download),
    "pdf", "image", "html", "xml2003", "csv", "empty" or "not_zip".
    """
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
            package = Package(data)
        except Broken as exc:
            return "corrupt" if exc.kind == "corrupt" else "zip"
        return _sniff_package(package)
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


def _sniff_package(package: Package) -> str:
    if package.encrypted:
        return "encrypted"
    if package.has("mimetype"):
        try:
            mimetype = (package.read("mimetype", 1024) or b"").decode("ascii", "replace")
        except Broken:
            mimetype = ""
        if "opendocument" in mimetype:
            return "ods" if "spreadsheet" in mimetype else "odf"
    if _xlsx.workbook_part(package):
        return "xlsx"
    if package.has("xl/workbook.bin"):
        return "xlsb"
    if package.has("word/document.xml"):
        return "docx"
    if package.has("ppt/presentation.xml"):
        return "pptx"
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


# --- reading --------------------------------------------------------------------------------


def read_workbook(source: Path | bytes, *, value_column: str = "C") -> Workbook:
    """Read a return workbook; raises :class:`Unreadable` for anything that is not one."""
    if not re.fullmatch(r"[A-Za-z]{1,3}", value_column):
        raise ValueError(f"value_column must be column letters, not {value_column!r}")
    data = source if isinstance(source, bytes) else _read_file(Path(source))
    if len(data) > _xlsx.MAX_INPUT_BYTES:
        raise Unreadable("too_large")
    if not data.startswith(b"PK\x03\x04"):
        raise _unreadable(sniff(data))
    try:
        return _read_package(Package(data), column_index(value_column))
    except Broken as exc:
        if exc.kind == "not_a_return":
            try:
                raise _unreadable(sniff(data)) from exc
            except Unreadable as unreadable:
                if unreadable.kind == "xlsx":  # sniffed a workbook the reader could not find
                    raise Unreadable("corrupt") from exc
                raise
        raise Unreadable(exc.kind) from exc
    except (ValueError, IndexError, KeyError, OverflowError, RecursionError) as exc:
        raise Unreadable("corrupt") from exc
    except MemoryError as exc:
        raise Unreadable("too_large") from exc


def _read_file(path: Path) -> bytes:
    try:
        if path.stat().st_size > _xlsx.MAX_INPUT_BYTES:
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


def _read_package(package: Package, value_col: int) -> Workbook:
    if package.encrypted:
        raise Broken("encrypted")
    workbook_name = _xlsx.workbook_part(package)
    if workbook_name is None:
        raise Broken("not_a_return")
    workbook = package.read(workbook_name, _xlsx.MAX_SMALL_PART_BYTES) or b""
    root = _xlsx.parse(workbook)
    rels = _xlsx.relationships(package, _xlsx.rels_name_for(workbook_name), workbook_name)
    sheets: list[tuple[str, str | None]] = []  # (name, worksheet part or None)
    definitions: list[tuple[str, str | None, str]] = []  # (name, localSheetId, text)
    for section in root:
        section_tag = local(section.tag)
        if section_tag == "sheets":
            for element in section:
                if local(element.tag) != "sheet":
                    continue
                rel_id = next((v for k, v in element.attrib.items() if k.endswith("}id")), "")
                kind, target = rels.get(rel_id, ("", ""))
                part = target if kind.endswith(_WORKSHEET_TYPES) else None
                sheets.append((element.get("name") or f"Sheet{len(sheets) + 1}", part))
        elif section_tag == "definedNames":
            if len(section) > _xlsx.MAX_DEFINED_NAMES:
                raise Broken("too_large", "defined names")
            definitions.extend(
                [
                    (e.get("name") or "", e.get("localSheetId"), e.text or "")
                    for e in section.iterchildren("{*}definedName")  # any namespace, in C
                ]
            )
    if not rels and sheets:  # no workbook rels: assume the usual part names
        sheets = [(name, f"xl/worksheets/sheet{i}.xml") for i, (name, _) in enumerate(sheets, 1)]
    sheet_names = [name for name, _ in sheets]
    # the returns of one form share their defined names: resolve them once
    resolved_key = (tuple(definitions), tuple(sheet_names))
    targets = _RESOLVED.get(resolved_key)
    if targets is None:
        targets = _resolve_names(definitions, sheet_names)
        if len(workbook) <= 65_536:  # bounds what is kept
            if len(_RESOLVED) >= 64:
                _RESOLVED.clear()
            _RESOLVED[resolved_key] = targets
    wanted: dict[str, set[tuple[int, int]]] = {name: set() for name in sheet_names}
    for sheet, row, col, _ in targets.values():
        wanted[sheet].add((row, col))

    scan = _xlsx.SheetScan()
    keep_cols = frozenset((1, value_col))
    raw: list[tuple[str, list[_xlsx.RawCell], dict[tuple[int, int], str]]] = []
    for name, part in sheets:
        data = package.read(part) if part else None
        if data is not None:
            kept, dependents = scan.scan(data, keep_cols, wanted[name])
            raw.append((name, kept, _xlsx.shared_formulas(data, dependents, scan.sections)))
    used = {_xlsx.index(c[4]) for _, kept, _ in raw for c in kept if c[3] == "s" and c[4]}
    strings = _xlsx.load_shared_strings(package, rels, max(used, default=-1) + 1, used)

    cells: dict[str, dict[str, Cell]] = {}
    id_rows: dict[str, Cell] = {}
    value_letters = column_letters(value_col)
    for name, kept, formulas in raw:
        cells[name] = sheet_cells = {}
        candidates: list[tuple[str, int]] = []  # column A texts that may be row ids
        for row, col, ref, kind, text, formula, has_value in kept:
            # the usual plain values inline (as _cell makes them); a kept cell without a
            # formula has a value
            if formula is None and kind == "n":
                stripped = text.strip() if text else ""
                cell = Cell(name, ref, _xlsx.number(stripped) if stripped else None)
            elif formula is None and kind == "s":
                cell = Cell(name, ref, strings[_xlsx.index(text)] if text else None)
            elif formula is None and kind == "inlineStr":
                cell = Cell(name, ref, "" if text is None else text)
            else:
                if formula == "" and formulas:
                    formula = formulas.get((row, col), "")
                cell = _cell(name, ref, kind, text, formula, has_value, strings)
            sheet_cells[ref] = cell
            if col == 1 and type(cell.value) is str:
                candidates.append((cell.value, row))
        for text, row in candidates:
            key = text.strip().lower()
            if key not in id_rows and _is_id(key):
                target = f"{value_letters}{row}"
                id_rows[key] = sheet_cells.get(target) or Cell(name, target, None)
    names = {
        key: cells.get(sheet, {}).get(ref) or Cell(sheet, ref, None)
        for key, (sheet, _, _, ref) in targets.items()
    }
    return Workbook(sheet_names=sheet_names, names=names, id_rows=id_rows, cells=cells)


def _is_id(key: str) -> bool:
    """Whether a column A text (stripped, lowercased) is a row id; remembered."""
    known = _IDS.get(key)
    if known is None:
        known = _ID.fullmatch(key) is not None
        if len(key) <= 64:
            if len(_IDS) >= 10_000:
                _IDS.clear()
            _IDS[key] = known
    return known


_IDS: dict[str, bool] = {}


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
    cache = _TARGETS
    for name, scope, text in definitions:
        key = name.strip().lower()
        if not key or key.startswith("_xlnm."):
            continue
        parsed = cache.get(text, False)
        if parsed is False:
            parsed = _name_target(text)
            if len(cache) >= 50_000:
                cache.clear()
            cache[text] = parsed
        if parsed is None:
            continue
        sheet = by_fold.get(parsed[0])
        if sheet is None:
            continue
        target = (sheet, *parsed[1:])
        if scope is None:
            global_.setdefault(key, target)
        elif scope.isdigit():
            index = int(scope)
            if key not in scoped or index < scoped[key][0]:
                scoped[key] = (index, target)
    for key, (_, target) in scoped.items():
        global_.setdefault(key, target)
    return global_


def _name_target(text: str) -> tuple[str, int, int, str] | None:
    """(casefolded sheet name, row, col, ref) of a defined name's text if it is one cell."""
    match = _NAME_TARGET.fullmatch(text.strip())
    if match is None:
        return None
    quoted, bare, col1, row1, col2, row2 = match.groups()
    position = split_ref(col1 + row1)
    if position is None:
        return None
    if col2 is not None and split_ref(col2 + row2) != position:
        return None  # a range of more than one cell
    sheet = (quoted.replace("''", "'") if quoted else bare).casefold()
    return sheet, *position, column_letters(position[1]) + str(position[0])


def _cell(
    sheet: str,
    ref: str,
    kind: str,
    text: str | None,
    formula: str | None,
    has_value: bool,
    strings: list[str | None],
) -> Cell:
    value: Value = None
    is_error = False
    if kind == "s":
        value = strings[_xlsx.index(text)] if text else None
    elif kind == "str":
        value = _xlsx.unescape(text) if text is not None else ("" if has_value else None)
    elif kind == "inlineStr":  # <is> text is unescaped already
        value = text if text is not None else ("" if has_value else None)
    elif kind == "n":
        value = _xlsx.number(text.strip()) if text and text.strip() else None
    elif kind == "b":
        value = {"1": True, "0": False, "true": True, "false": False}.get(
            (text or "").strip().lower(), text or None
        )
    elif kind == "e":
        value, is_error = text, True
    else:  # "d" (ISO date) and anything unknown: the text as stored
        value = text
    if formula is not None and value is None and kind != "str":
        has_value = False
    return Cell(sheet, ref, value, formula, has_value or formula is None, is_error)
