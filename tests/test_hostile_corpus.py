"""The hostile corpus (issue 8, item 8): every kind of bad input at once, beside 100 good returns.

Built by ``build_corpus`` in a fresh workspace's inbox/ (nothing large is committed: bombs are
generated, the oversize file is sparse), then taken by ``tonghop process`` and by the watcher.
Whatever arrives, the run ends (a FIFO never blocks it), the good returns are counted, every
other regular file gets a ledger row and an answer in outbox/, what is not a regular file is
left alone with one note, nothing from outside inbox/ is archived, and no workbook we write
holds a live formula. ``bench/hostile_bench.py`` builds the same corpus and prints time and
peak RSS.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import socket
import sqlite3
import struct
import sys
import threading
import time
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tonghop.config import Branch
from tonghop.layout import Layout
from tonghop.ledger import Ledger, Outcome

from .conftest import ROOT, FakeClock

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file-system objects")

PERIOD = "2024-H1"
SHEET_XML = "xl/worksheets/sheet1.xml"
ID_COLUMN, VALUE_COLUMN = "A", "C"
RUN_TIMEOUT = 600.0  # seconds: far beyond a healthy run, so only a hang reaches it


@dataclass
class Corpus:
    """What ``build_corpus`` put in inbox/ and what the run must do with it."""

    home: Path
    good: list[str] = field(default_factory=list)  # branch codes that must be counted
    regular: list[str] = field(default_factory=list)  # every regular file's name in inbox/
    special: list[str] = field(default_factory=list)  # links, FIFO, socket: left alone
    outside: list[Path] = field(default_factory=list)  # files whose bytes must never be taken
    kinds: dict[str, str] = field(default_factory=dict)  # file name -> what it tries
    expected: dict[str, Outcome] = field(default_factory=dict)  # file name -> its outcome

    @property
    def inbox(self) -> Path:
        return self.home / "inbox"


# --- building blocks ----------------------------------------------------------------------


def make_workspace(root: Path, good: int) -> Path:
    branches = [Branch(f"B{i:03d}", f"Chi bộ số {i}") for i in range(good)]
    branches += [Branch(f"H{i:02d}", f"Chi bộ thử {i}") for i in range(40)]
    return Layout(root).create(Layout(ROOT), branches=branches).home


class Returns:
    """Real returns from the form writer (tonghop.samples for the values)."""

    def __init__(self, home: Path) -> None:
        from tonghop.form import load_form

        self.layout = Layout(home)
        self.config = self.layout.load_config()
        self.form = load_form(self.layout.form_path)

    def workbook(self, branch: str, period: str = PERIOD, **given: Any) -> bytes:
        import tempfile

        from tonghop.blank import write_blank_form
        from tonghop.periods import Period
        from tonghop.samples import sample_values

        the_period = Period.parse(period)
        the_branch = self.config.branch(branch)
        assert the_branch is not None, branch
        values = sample_values(self.form, the_period, branch, given=given)
        with tempfile.TemporaryDirectory() as scratch:
            target = Path(scratch) / "r.xlsx"
            write_blank_form(self.form, self.config, the_branch, the_period, target, prefill=values)
            return target.read_bytes()

    def with_text(self, data: bytes, texts: dict[str, str]) -> bytes:
        """``data`` with the value cells of ``texts``' fields holding that text as a string
        cell (never a formula, whatever it starts with), as a branch would type it."""
        import openpyxl

        book = openpyxl.load_workbook(io.BytesIO(data))
        sheet = book[self.form.sheet]
        for row in range(1, sheet.max_row + 1):
            field_id = sheet[f"{ID_COLUMN}{row}"].value
            if field_id in texts:
                cell = sheet[f"{VALUE_COLUMN}{row}"]
                cell.value = texts[field_id]
                cell.data_type = "s"  # openpyxl would make "=..." a formula
        out = io.BytesIO()
        book.save(out)
        return out.getvalue()

    def renamed_sheet(self, data: bytes) -> bytes:
        """The form's sheet renamed, and a copy of it beside it (the id column still says
        which row is which)."""
        import openpyxl

        book = openpyxl.load_workbook(io.BytesIO(data))
        sheet = book[self.form.sheet]
        sheet.title = "Sheet1"
        book.copy_worksheet(sheet).title = "Sheet1 (2)"
        out = io.BytesIO()
        book.save(out)
        return out.getvalue()


def patch_branch(data: bytes, old: str, new: str) -> bytes:
    """A copy of a return whose branch code is ``new`` (fast: no writer)."""
    return rewrite(data, lambda name, xml: xml.replace(f">{old}<".encode(), f">{new}<".encode()))


def rewrite(data: bytes, edit: Callable[[str, bytes], bytes]) -> bytes:
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for item in source.infolist():
            target.writestr(item, edit(item.filename, source.read(item.filename)))
    return out.getvalue()


def edit_part(data: bytes, part: str, edit: Callable[[bytes], bytes]) -> bytes:
    """``data`` with ``part`` edited; the edit must change it (a corpus that missed its
    target would prove nothing)."""
    edited: list[bool] = []

    def one(name: str, xml: bytes) -> bytes:
        if name != part:
            return xml
        new = edit(xml)
        edited.append(new != xml)
        return new

    out = rewrite(data, one)
    assert edited == [True], (part, edited)
    return out


SST_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
SST_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"
INLINE = re.compile(
    rb'<c r="([A-Z]+[0-9]+)"((?: s="[0-9]+")?) t="inlineStr"><is>(<t[^>]*>.*?</t>)</is></c>'
)


def with_shared_strings(data: bytes) -> bytes:
    """``data`` (whose writer puts every text inline) with its texts in xl/sharedStrings.xml,
    as Excel saves them, so that a hostile sharedStrings part is the one read."""
    strings: list[bytes] = []

    def shared(match: re.Match[bytes]) -> bytes:
        strings.append(match.group(3))
        return b'<c r="%s"%s t="s"><v>%d</v></c>' % (
            match.group(1),
            match.group(2),
            len(strings) - 1,
        )

    def edit(name: str, xml: bytes) -> bytes:
        if name == SHEET_XML:
            return INLINE.sub(shared, xml)
        if name == "[Content_Types].xml":
            return xml.replace(
                b"</Types>",
                f'<Override PartName="/xl/sharedStrings.xml" ContentType="{SST_TYPE}"/></Types>'.encode(),
            )
        if name == "xl/_rels/workbook.xml.rels":
            return xml.replace(
                b"</Relationships>",
                f'<Relationship Id="rIdSst" Type="{SST_REL}" Target="sharedStrings.xml"/>'
                "</Relationships>".encode(),
            )
        return xml

    rewritten = rewrite(data, edit)
    sst = (
        b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="%d" '
        b'uniqueCount="%d">'
        % (len(strings), len(strings))
        + b"".join(b"<si>" + text + b"</si>" for text in strings)
        + b"</sst>"
    )
    out = io.BytesIO(rewritten)
    with zipfile.ZipFile(out, "a", zipfile.ZIP_DEFLATED) as book:
        book.writestr("xl/sharedStrings.xml", sst)
    return out.getvalue()


def billion_laughs(xml: bytes, root: bytes) -> bytes:
    """``xml`` with the classic entity expansion declared before its root element and used
    in it."""
    entities = [b'<!ENTITY lol "lol">']
    entities += [
        b'<!ENTITY lol%d "%s">' % (n, (b"&lol%d;" % (n - 1) if n > 1 else b"&lol;") * 10)
        for n in range(1, 10)
    ]
    doctype = b"<!DOCTYPE " + root + b" [" + b"".join(entities) + b"]>"
    bomb = xml.replace(b"</" + root + b">", b"<!-- &lol9; --></" + root + b">")
    if b"<si>" in bomb:  # sharedStrings: a string made of the entity
        bomb = bomb.replace(b"<si>", b"<si><t>&lol9;</t></si><si>", 1)
    else:  # the sheet: a cell made of it
        bomb = bomb.replace(
            b"</sheetData>",
            b'<row r="1000"><c r="F1000" t="inlineStr">'
            b"<is><t>&lol9;</t></is></c></row></sheetData>",
            1,
        )
    head, sep, rest = bomb.partition(b"<" + root)
    return head + doctype + sep + rest


def deflated_zeros(megabytes: int) -> tuple[bytes, int, int]:
    """(raw deflate stream, CRC-32, size) of ``megabytes`` MB of zeros, a MB at a time."""
    chunk = bytes(1024 * 1024)
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    parts: list[bytes] = []
    crc = 0
    for _ in range(megabytes):
        parts.append(packer.compress(chunk))
        crc = zlib.crc32(chunk, crc)
    parts.append(packer.flush())
    return b"".join(parts), crc, megabytes * len(chunk)


def raw_zip(entries: list[tuple[str, bytes, int, int]]) -> bytes:
    """A zip written by hand: (name, raw deflate stream, CRC-32, declared size) per entry,
    so that the declared size can lie about what the stream inflates to."""
    out = io.BytesIO()
    central: list[bytes] = []
    for name, stream, crc, declared in entries:
        offset = out.tell()
        encoded = name.encode()
        out.write(
            struct.pack(
                "<IHHHHHIIIHH",
                0x04034B50,
                20,
                0,
                8,
                0,
                0,
                crc,
                len(stream),
                declared,
                len(encoded),
                0,
            )
            + encoded
            + stream
        )
        central.append(
            struct.pack(
                "<IHHHHHHIIIHHHHHII",
                0x02014B50,
                20,
                20,
                0,
                8,
                0,
                0,
                crc,
                len(stream),
                declared,
                len(encoded),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
            + encoded
        )
    start = out.tell()
    directory = b"".join(central)
    out.write(directory)
    out.write(
        struct.pack(
            "<IHHHHIIH", 0x06054B50, 0, 0, len(central), len(central), len(directory), start, 0
        )
    )
    return out.getvalue()


def deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(6, zlib.DEFLATED, -15)
    return packer.compress(data) + packer.flush()


def with_bomb_part(data: bytes, part: str, stream: bytes, crc: int, declared: int) -> bytes:
    """A real return whose ``part`` is replaced by a deflate stream that lies or is huge."""
    entries: list[tuple[str, bytes, int, int]] = []
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        for item in source.infolist():
            if item.filename == part:
                entries.append((part, stream, crc, declared))
            else:
                content = source.read(item.filename)
                entries.append((item.filename, deflate(content), zlib.crc32(content), len(content)))
    return raw_zip(entries)


def many_entries(data: bytes, count: int) -> bytes:
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as target,
    ):
        for item in source.infolist():
            target.writestr(item, source.read(item.filename))
        for n in range(count):
            target.writestr(f"xl/media/m{n}.bin", b"")
    return out.getvalue()


def small_zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name, content in members.items():
            target.writestr(name, content)
    return out.getvalue()


def real_formulas(xml: bytes) -> bytes:
    """The admitted count computed by a formula, the highlights a live HYPERLINK."""
    xml = re.sub(
        rb'<c r="C17"((?: s="[0-9]+")?)[^>]*>.*?</c>', rb'<c r="C17"\1><f>1+1</f><v>2</v></c>', xml
    )
    return re.sub(
        rb'<c r="C49"((?: s="[0-9]+")?)[^>]*>.*?</c>',
        rb'<c r="C49"\1 t="str"><f>HYPERLINK("http://x","y")</f><v>y</v></c>',
        xml,
    )


def with_media(data: bytes, pictures: list[bytes]) -> bytes:
    out = io.BytesIO(data)
    with zipfile.ZipFile(out, "a", zipfile.ZIP_STORED) as book:
        for n, picture in enumerate(pictures):
            book.writestr(f"xl/media/image{n + 1}.png", picture)
    return out.getvalue()


OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def ole_file(*streams: str) -> bytes:
    """An OLE compound file's header and directory names, enough to be taken for one."""
    body = OLE_MAGIC + bytes(504)
    names = b"".join(name.encode("utf-16-le").ljust(64, b"\0") + bytes(64) for name in streams)
    return (body + names).ljust(8192, b"\0")


# --- the corpus ---------------------------------------------------------------------------


def build_corpus(root: Path, good: int = 100, large: int = 2, picture_mb: int = 22) -> Corpus:
    """A workspace in ``root``/ws whose inbox/ holds ``good`` good returns (branches B000...)
    and every hostile kind; files outside inbox/ go to ``root``/ngoai."""
    home = make_workspace(root / "ws", good)
    corpus = Corpus(home)
    inbox = corpus.inbox
    returns = Returns(home)
    base = returns.workbook("B000")
    for n in range(good):
        code = f"B{n:03d}"
        name = f"{code}-{PERIOD}.xlsx"
        (inbox / name).write_bytes(base if n == 0 else patch_branch(base, "B000", code))
        corpus.good.append(code)
        corpus.regular.append(name)

    hostile_codes = iter(f"H{i:02d}" for i in range(40))

    def put(name: str, data: bytes, kind: str, outcome: Outcome = Outcome.UNREADABLE) -> None:
        (inbox / name).write_bytes(data)
        corpus.regular.append(name)
        corpus.kinds[name] = kind
        corpus.expected[name] = outcome

    rejected_ = Outcome.REJECTED

    def rejected(**given: Any) -> bytes:
        """A return with an error (the members at the end do not balance)."""
        return returns.workbook(next(hostile_codes), members_end=999, **given)

    # Bombs.
    put(
        "bom-xml-sheet.xlsx",
        edit_part(rejected(), SHEET_XML, lambda xml: billion_laughs(xml, b"worksheet")),
        "billion laughs in the sheet XML",
    )
    put(
        "bom-xml-chuoi.xlsx",
        edit_part(
            with_shared_strings(rejected()),
            "xl/sharedStrings.xml",
            lambda xml: billion_laughs(xml, b"sst"),
        ),
        "billion laughs in sharedStrings",
    )
    stream, crc, size = deflated_zeros(1024)
    put(
        "bom-zip-khai-nho.xlsx",
        with_bomb_part(with_shared_strings(rejected()), "xl/sharedStrings.xml", stream, crc, 1000),
        "zip entry declared 1000 bytes, inflates to 1 GB",
    )
    put(
        "bom-zip-1gb.xlsx",
        with_bomb_part(rejected(), SHEET_XML, stream, crc, size),
        "zip entry of 1 GB of zeros, declared so",
    )
    del stream
    put("bom-100000-muc.xlsx", many_entries(rejected(), 100_000), "zip of 100 000 entries")

    # Renamed formats, empty and damaged files.
    put("cu.xlsx", ole_file("Workbook", "SummaryInformation"), ".xls (OLE) renamed .xlsx")
    put("ma-hoa.xlsx", ole_file("EncryptionInfo", "EncryptedPackage"), "encrypted-looking OLE")
    put("tai-lieu.xlsx", b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n", "PDF")
    put("anh.xlsx", b"\x89PNG\r\n\x1a\n" + bytes(64), "PNG")
    put(
        "bang.xlsx",
        "<html><body><table><tr><td>Số đảng viên</td><td>20</td></tr></table>"
        "</body></html>".encode(),
        "HTML table",
    )
    put("so-lieu.xlsx", b"ma_chi_bo,ky\nB001,2024-H1\n", "CSV")
    put(
        "bang-tinh.xlsx",
        small_zip(
            {
                "mimetype": b"application/vnd.oasis.opendocument.spreadsheet",
                "content.xml": b"<office:document-content/>",
            }
        ),
        ".ods renamed .xlsx",
    )
    put(
        "van-ban.xlsx",
        small_zip(
            {
                "[Content_Types].xml": b"<Types/>",
                "word/document.xml": b"<w:document/>",
            }
        ),
        ".docx renamed .xlsx",
    )
    put("rong.xlsx", b"", "empty file")
    half = rejected()
    put("cut-ngang.xlsx", half[: len(half) // 2], "truncated xlsx")

    # Ranges that make a loader allocate, with a problem so that feedback is written.
    put(
        "gop-o.xlsx",
        edit_part(
            rejected(),
            SHEET_XML,
            lambda xml: xml.replace(
                b"</mergeCells>", b'<mergeCell ref="E1:XFD1048576"/></mergeCells>'
            ),
        ),
        "merge E1:XFD1048576 and a problem",
        rejected_,
    )
    whole_sheet = b'<dimension ref="A1:XFD1048576"/>'
    put(
        "kich-thuoc.xlsx",
        edit_part(
            rejected(),
            SHEET_XML,
            lambda xml: re.sub(rb'<dimension ref="[^"]*"/>', whole_sheet, xml),
        ),
        "dimension of the whole sheet and a problem",
        rejected_,
    )
    put(
        "o-cuoi.xlsx",
        edit_part(
            rejected(),
            SHEET_XML,
            lambda xml: re.sub(rb'<dimension ref="[^"]*"/>', whole_sheet, xml).replace(
                b"</sheetData>",
                b'<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'
                b"</sheetData>",
            ),
        ),
        "a value at XFD1048576 and a problem",  # refused: the grid it spans is too large
    )

    # Poison text.
    hyperlink = '=HYPERLINK("http://x","y")'
    command = "=cmd|' /C calc'!A0"
    put(
        "cong-thuc-1.xlsx",
        returns.with_text(rejected(), {"admitted": hyperlink, "highlights": command}),
        "formula text in count and text cells",
        rejected_,
    )
    put(
        "cong-thuc-2.xlsx",
        returns.with_text(
            rejected(),
            {
                "admitted": command,
                "shortcomings": hyperlink,
                "proposals": "+1",
                "next_tasks": "@SUM",
            },
        ),
        "formula text (=cmd, =HYPERLINK, +, @) in count and text cells",
        rejected_,
    )
    put(
        "ky-tu-dieu-khien.xlsx",
        returns.with_text(
            rejected(), {"admitted": "x_x0001_y", "highlights": "a_x0001_b_x001B_[31mc\tnd"}
        ),
        "control characters and _x0001_ in cells",
        rejected_,
    )
    put(
        "dau-phay.xlsx",
        returns.with_text(
            returns.workbook(next(hostile_codes)),
            {"funds_mobilized": "450,000", "members_start": "1,000"},
        ),
        '"450,000" and "1,000" typed as text',
        rejected_,
    )
    put("nam-1900.xlsx", returns.workbook(next(hostile_codes), "1900"), "period 1900", rejected_)
    put("nam-2999.xlsx", returns.workbook(next(hostile_codes), "2999-H1"), "period 2999", rejected_)

    # Sheet renamed and copied: still read by the id column.
    renamed = next(hostile_codes)
    put(
        "doi-ten-trang.xlsx",
        returns.renamed_sheet(returns.workbook(renamed)),
        "form sheet renamed and copied",
        Outcome.ACCEPTED,
    )
    corpus.good.append(renamed)

    # The same writer's return with its texts in sharedStrings (as Excel saves): counted,
    # so that the sharedStrings bombs above are bombs in a part that is really read.
    shared = next(hostile_codes)
    put(
        "chuoi-chung.xlsx",
        with_shared_strings(returns.workbook(shared)),
        "shared strings",
        Outcome.ACCEPTED,
    )
    corpus.good.append(shared)

    # Real formulas in a return: values in what we write back.
    put(
        "cong-thuc-that.xlsx",
        edit_part(rejected(), SHEET_XML, real_formulas),
        "real formulas (a sum, a HYPERLINK) and a problem",
        rejected_,
    )
    put("bao-cao.xlsm", rejected(), "a return saved as .xlsm, with a problem", rejected_)

    # Large files under the size limit: what a batch holds is bounded by bytes. About 44 MB
    # of pictures are read and answered; 56 MB are past what the reader takes (50 MB).
    for n in range(large):
        put(
            f"lon-{n}.xlsx",
            with_media(rejected(), [os.urandom(picture_mb * 2**20) for _ in range(2)]),
            f"about {2 * picture_mb} MB of pictures in a return with a problem",
            rejected_,
        )
    if large:
        put(
            "lon-56mb.xlsx",
            with_media(rejected(), [os.urandom(28 * 1024 * 1024) for _ in range(2)]),
            "about 56 MB of pictures (past the reader's 50 MB)",
        )

    # Names.
    newline = next(hostile_codes)
    put(
        "a.xlsx\t-\tĐã tiếp nhận\n2024-07-05 09:00:00\tgia.xlsx",
        returns.workbook(newline),
        "newline in the file name",
        Outcome.ACCEPTED,
    )
    corpus.good.append(newline)
    big = "b" * 245 + ".xlsx"
    with open(inbox / big, "wb") as handle:
        handle.truncate(70 * 1024 * 1024)  # sparse
    corpus.regular.append(big)
    corpus.kinds[big] = "70 MB sparse file, 250-character name"
    corpus.expected[big] = Outcome.UNREADABLE
    put(
        "B001-gui-lai.xlsx",
        (inbox / f"B001-{PERIOD}.xlsx").read_bytes(),
        "duplicate",
        Outcome.DUPLICATE,
    )
    put(
        "\u202eslx.exe.xlsx",
        rejected(),
        "right-to-left override in the name",
        rejected_,
    )

    # What is not a regular file, or points outside inbox/.
    outside = root / "ngoai"
    outside.mkdir()
    secret = outside / "H39-2024-H1.xlsx"
    secret.write_bytes(returns.workbook("H39", highlights="Bí mật ngoài inbox."))
    corpus.outside += [secret, Path("/etc/passwd")]
    (inbox / "x.xlsx").symlink_to("/etc/passwd")
    (inbox / "ngoai").symlink_to(outside, target_is_directory=True)
    os.mkfifo(inbox / "y.xlsx")
    here = os.getcwd()
    os.chdir(inbox)  # a socket's path is limited to ~100 bytes
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
            server.bind("s.xlsx")  # the socket file stays after it is closed
    finally:
        os.chdir(here)
    corpus.special += ["x.xlsx", "ngoai", "y.xlsx", "s.xlsx"]
    return corpus


# --- what every run must leave --------------------------------------------------------------


def ledger_rows(home: Path) -> int:
    path = Layout(home).ledger
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as db:
            return int(db.execute("SELECT count(*) FROM submissions").fetchone()[0])
    except sqlite3.Error:
        return 0
    finally:
        db.close()


RAW_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# An _xHHHH_ escape Excel and python-calamine decode to a control character (openpyxl does
# not); _x005F_ before it makes it literal text.
ESCAPED_CONTROL = re.compile(rb"(?<!_x005[Ff])_x(?:000[0-8bBcCeEfF]|001[0-9A-Fa-f]|007[Ff])_")


def unsafe_outbox(outbox: Path) -> list[str]:
    """Every formula in every workbook under ``outbox`` (in the sheet XML and as openpyxl
    sees it), and every raw control character in a cell or a note."""
    import openpyxl

    found: list[str] = []
    for note in sorted(outbox.rglob("*.txt")):
        if RAW_CONTROL.search(note.read_text(encoding="utf-8-sig")):
            found.append(f"{note.name}: control character")
    element = re.compile(rb"<(?:\w+:)?f[\s>/]")
    for path in sorted([*outbox.rglob("*.xlsx"), *outbox.rglob("*.xlsm")]):
        with zipfile.ZipFile(path) as book:
            for name in book.namelist():
                if not name.startswith(("xl/worksheets/", "xl/sharedStrings")):
                    continue
                xml = book.read(name)
                if element.search(xml):
                    found.append(f"{path.name}:{name}")
                if ESCAPED_CONTROL.search(xml):
                    found.append(f"{path.name}:{name}: escaped control character")
        workbook = openpyxl.load_workbook(path)
        for sheet in workbook.worksheets:
            for row in sheet.iter_rows():
                for c in row:
                    if c.data_type == "f":
                        found.append(f"{path.name}!{c.coordinate}: formula {c.value!r}")
                    elif isinstance(c.value, str) and RAW_CONTROL.search(c.value):
                        found.append(f"{path.name}!{c.coordinate}: control {c.value!r}")
        workbook.close()
    return found


def archived_hashes(home: Path) -> set[str]:
    with sqlite3.connect(Layout(home).archive / "objects.sqlite3") as db:
        rows = db.execute("SELECT sha256 FROM objects").fetchall()
    db.close()
    return {row[0] for row in rows}


def assert_corpus_answered(corpus: Corpus) -> None:
    home = corpus.home
    layout = Layout(home)
    with Ledger(layout.ledger) as ledger:
        rows = ledger.all()
        counted = {s.branch_code for s in ledger.counted()}
    missing = [code for code in corpus.good if code not in counted]
    assert not missing, f"not counted: {missing}"
    # Every regular file has exactly its row (the same name may differ by clean_text).
    assert len(rows) == len(corpus.regular), sorted(s.source_name for s in rows)
    recorded = {s.source_name for s in rows}
    for name in corpus.regular:
        if "\n" not in name:
            assert name in recorded, name
    for sub in rows:
        if sub.outcome in (Outcome.ACCEPTED, Outcome.DUPLICATE) and not sub.problems:
            continue
        assert sub.feedback, (sub.source_name, sub.outcome)
        assert (layout.outbox / sub.feedback).is_file(), (sub.source_name, sub.feedback)
    by_name = {s.source_name: s for s in rows}
    wrong = {
        name: (by_name[name].outcome, outcome)
        for name, outcome in corpus.expected.items()
        if name in by_name and by_name[name].outcome != outcome
    }
    assert not wrong, wrong  # name: (what happened, what should)
    assert not any(s.outcome == Outcome.FAILED for s in rows), [
        s.source_name for s in rows if s.outcome == Outcome.FAILED
    ]
    # What is not a regular file: left alone, one note each.
    notes = sorted((layout.outbox / "khong-doc-duoc").glob("*khong-mo.txt"))
    assert len(notes) == len(corpus.special), [n.name for n in notes]
    left = sorted(p.name for p in layout.inbox.iterdir())
    assert left == sorted(corpus.special)
    # Nothing from outside inbox/.
    taken = archived_hashes(home)
    for path in corpus.outside:
        assert hashlib.sha256(path.read_bytes()).hexdigest() not in taken, path
        assert path.exists()
    for note in notes:
        assert "root:" not in note.read_text(encoding="utf-8-sig")
    # No live formula, no raw control character in anything we wrote.
    assert unsafe_outbox(layout.outbox) == []


def run_with_timeout(
    work: Callable[[], Any], fifo: Path, what: str, timeout: float = RUN_TIMEOUT
) -> Any:
    done: list[Any] = []
    failed: list[BaseException] = []

    def run() -> None:
        try:
            done.append(work())
        except BaseException as exc:  # reported in the test's thread
            failed.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=timeout)
    if worker.is_alive():  # unblock a reader stuck on the FIFO so that the run can end
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail(f"{what} hung (still running after {timeout:.0f} s)")
    if failed:
        raise failed[0]
    return done[0]


@pytest.mark.slow
def test_process_answers_the_whole_hostile_corpus_and_counts_the_good_returns(
    tmp_path: Path, clock: FakeClock
) -> None:
    from click.testing import CliRunner

    from tonghop.cli import CliContext, cli

    corpus = build_corpus(tmp_path, good=100)
    home = str(corpus.home)

    def process() -> Any:
        return CliRunner().invoke(cli, ["--home", home, "process"], obj=CliContext(home, clock))

    result = run_with_timeout(process, corpus.inbox / "y.xlsx", "tonghop process")
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert_corpus_answered(corpus)
    for args in (["status", "--period", PERIOD], ["report", "--period", PERIOD, "--no-pdf"]):
        after = CliRunner().invoke(cli, ["--home", home, *args], obj=CliContext(home, clock))
        assert after.exit_code == 0, (args, after.output)
        assert "Traceback" not in after.output and "không mong đợi" not in after.output
    # The next run has nothing to do and answers nothing twice.
    again = run_with_timeout(process, corpus.inbox / "y.xlsx", "tonghop process (again)")
    assert again.exit_code == 0, again.output
    assert ledger_rows(corpus.home) == len(corpus.regular)
    assert_corpus_answered(corpus)


@pytest.mark.slow
def test_the_watcher_answers_the_whole_hostile_corpus(tmp_path: Path, clock: FakeClock) -> None:
    import tonghop
    from tonghop.watch.watcher import Watcher, WatchOptions, run_watch

    corpus = build_corpus(tmp_path, good=100)
    expected = len(corpus.regular)

    def stop_when_done(watcher: Watcher) -> None:
        def wait() -> None:
            deadline = time.monotonic() + RUN_TIMEOUT
            while ledger_rows(corpus.home) < expected and time.monotonic() < deadline:
                time.sleep(0.2)
            watcher.stop()

        threading.Thread(target=wait, daemon=True).start()

    def watch() -> None:
        options = WatchOptions(pdf=False, settle=0.2, interval=2.0, console_log=False)
        with tonghop.open(corpus.home, clock=clock) as workspace:
            run_watch(workspace, options, started=stop_when_done)

    run_with_timeout(watch, corpus.inbox / "y.xlsx", "tonghop watch")
    assert_corpus_answered(corpus)


def test_the_outbox_checks_see_formulas_and_control_characters(tmp_path: Path) -> None:
    """The corpus's last assertion can fail: a formula (written as one, or as text the
    writer turns into one) and a control character (raw or as an _xHHHH_ escape) are seen."""
    home = make_workspace(tmp_path / "ws", 1)
    returns = Returns(home)
    data = returns.workbook("B000")
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    (outbox / "f.xlsx").write_bytes(edit_part(data, SHEET_XML, real_formulas))
    (outbox / "c.xlsx").write_bytes(returns.with_text(data, {"highlights": "a_x0001_b"}))
    (outbox / "n.txt").write_text("tên\x1b[2J", encoding="utf-8")
    found = unsafe_outbox(outbox)
    assert any(f.startswith("f.xlsx:xl/worksheets/") for f in found), found
    assert any(f.startswith("f.xlsx!C17: formula") for f in found), found
    assert "c.xlsx:xl/worksheets/sheet1.xml: escaped control character" in found, found
    assert any(f.startswith("n.txt") for f in found), found
    assert unsafe_outbox(tmp_path / "ws" / "templates") == []


@pytest.mark.parametrize("swap", ["link", "fifo"])
def test_a_file_swapped_after_it_was_read_is_answered_from_the_bytes_judged(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch, swap: str
) -> None:
    """Between the intake's read and the feedback, the name in inbox/ becomes a link to a
    workbook outside inbox/ (or a FIFO): the feedback is made from the bytes that were read,
    archived and judged, never by opening the name again."""
    import tonghop
    from tonghop.intake import inbox as intake_module

    home = make_workspace(tmp_path / "ws", 2)
    returns = Returns(home)
    victim = home / "inbox" / "doi.xlsx"
    victim.write_bytes(returns.workbook("H00", members_end=999))
    outside = tmp_path / "ngoai.xlsx"
    outside.write_bytes(returns.workbook("H01", members_end=999, highlights="Bí mật ngoài."))
    real = intake_module.read_and_check

    def read_then_swap(data: bytes, *args: Any) -> Any:
        result = real(data, *args)
        victim.unlink()
        if swap == "link":
            victim.symlink_to(outside)
        else:
            os.mkfifo(victim)
        return result

    monkeypatch.setattr(intake_module, "read_and_check", read_then_swap)

    def take() -> Any:
        with tonghop.open(home, clock=clock) as workspace:
            return workspace.take_inbox()

    [result] = run_with_timeout(take, victim, "the intake", timeout=60)
    assert result.submission.outcome == Outcome.REJECTED
    assert result.submission.branch_code == "H00"
    assert result.feedback is not None and result.feedback.suffix == ".xlsx"
    import openpyxl

    book = openpyxl.load_workbook(result.feedback)
    texts = [str(c.value) for sheet in book.worksheets for row in sheet.iter_rows() for c in row]
    assert not any("Bí mật" in text or "H01" in text for text in texts), texts
    assert "H00" in texts
