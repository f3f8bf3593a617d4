"""What is in inbox/, decided without following anything: only regular files are ever opened.

Every decision is made with lstat (a symbolic link is judged as itself, never as what it
points to), folders are entered only when they are real folders, and a file is opened with
O_NOFOLLOW and O_NONBLOCK, then checked again on the opened descriptor: a name swapped for a
link or a FIFO between the look and the open is still never read, and a FIFO never blocks.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat as stat_module
import unicodedata
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "STRANGE_WHAT",
    "Opened",
    "Strange",
    "clean_text",
    "for_log",
    "is_ignored",
    "kind_of",
    "open_regular",
    "owner_file_present",
    "place_new",
    "scan_inbox",
    "short_name",
    "size_to_read",
    "strange_note",
    "write_new",
    "write_note",
]

_IGNORED_NAMES = {"desktop.ini", "thumbs.db", ".ds_store"}
_TEMP_SUFFIXES = (".tmp", ".temp", ".part", ".partial", ".crdownload", ".download", ".swp", "~")
# Where the platform has them (not on Windows, which has neither FIFOs nor these flags).
_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_BINARY", 0)
)


def is_ignored(path: Path) -> bool:
    """Office owner files, hidden and temporary files are never taken."""
    name = path.name
    lower = name.lower()
    return (
        name.startswith(("~$", ".~lock.", ".", "~"))
        or lower in _IGNORED_NAMES
        or lower.endswith(_TEMP_SUFFIXES)
        or bool(re.match(r"^~.*\.tmp$", lower))
    )


def owner_file_present(path: Path) -> bool:
    """True while Excel (``~$name``) or LibreOffice (``.~lock.name#``) has the file open."""
    folder = path.parent
    name = path.name
    candidates = [folder / f"~${name}", folder / f".~lock.{name}#"]
    if len(name) > 2:
        candidates.append(folder / f"~${name[2:]}")  # Excel drops two chars on long names
    return any(os.path.lexists(candidate) for candidate in candidates)


def scan_inbox(inbox: Path) -> list[Path]:
    """Entries waiting in inbox/ (real subfolders included), oldest first.

    Regular files and everything else that is not a real folder (symbolic links, FIFOs,
    sockets, devices) are listed, so that the intake can answer the latter without opening
    them; a link to a folder is listed as itself and never entered.
    """
    found: list[tuple[int, str, Path]] = []
    if not inbox.is_dir():
        return []
    folders = [inbox]
    while folders:
        folder = folders.pop()
        try:
            with os.scandir(folder) as entries:
                listed = list(entries)
        except OSError:
            continue
        for entry in listed:
            path = Path(entry.path)
            try:
                if entry.is_dir(follow_symlinks=False):
                    if not entry.name.startswith("."):
                        folders.append(path)
                    continue
                if is_ignored(path):
                    continue
                mtime = entry.stat(follow_symlinks=False).st_mtime_ns
            except OSError:
                continue
            found.append((mtime, str(path), path))
    return [path for _, _, path in sorted(found)]


@dataclass(frozen=True)
class Strange:
    """An entry of inbox/ that is not a regular file; ``kind`` says what it is."""

    kind: str  # "link", "fifo", "socket", "device", "folder", "other"


STRANGE_WHAT = {
    "link": "là một lối tắt (liên kết tượng trưng) trỏ tới tệp hoặc thư mục ở nơi khác",
    "fifo": "là một ống dẫn dữ liệu (FIFO) của hệ thống, không phải tệp",
    "socket": "là một cổng kết nối (socket) của hệ thống, không phải tệp",
    "device": "là một thiết bị của hệ thống, không phải tệp",
    "other": "không phải một tệp thông thường",
}


def kind_of(mode: int) -> str | None:
    """None for a regular file, else what the entry is (see ``Strange``)."""
    if stat_module.S_ISREG(mode):
        return None
    if stat_module.S_ISLNK(mode):
        return "link"
    if stat_module.S_ISFIFO(mode):
        return "fifo"
    if stat_module.S_ISSOCK(mode):
        return "socket"
    if stat_module.S_ISCHR(mode) or stat_module.S_ISBLK(mode):
        return "device"
    if stat_module.S_ISDIR(mode):
        return "folder"
    return "other"


@dataclass(frozen=True)
class Opened:
    """A regular file's status (from its opened descriptor) and its bytes; ``data`` is None
    when it holds more than the limit (then not all of it was read)."""

    stat: os.stat_result
    data: bytes | None


def open_regular(path: Path, limit: int) -> Opened | Strange:
    """Read ``path`` if it is a regular file of at most ``limit`` bytes, never anything else.

    Raises FileNotFoundError when it is gone, OSError when it cannot be read now.
    """
    before = os.lstat(path)
    kind = kind_of(before.st_mode)
    if kind is not None:
        return Strange(kind)
    if before.st_size > limit:
        return Opened(before, None)  # too large: not opened at all
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        if os.path.islink(path):  # ELOOP: became a link since the lstat
            return Strange("link")
        raise exc
    with os.fdopen(fd, "rb") as handle:
        opened = os.fstat(handle.fileno())
        kind = kind_of(opened.st_mode)
        if kind is not None:
            return Strange(kind)
        if opened.st_size > limit:
            return Opened(opened, None)
        # One read of the size the descriptor reports (+1 to see growth), then at most the
        # rest of the limit: never more than ``limit + 1`` bytes in memory.
        data = handle.read(opened.st_size + 1)
        if len(data) > opened.st_size:
            data += handle.read(limit + 1 - len(data))
        if len(data) > limit:
            return Opened(opened, None)
    return Opened(opened, data)


def short_name(name: str, limit: int = 80) -> str:
    """``name`` cut to at most ``limit`` UTF-8 bytes, its suffix kept, with a short hash of
    the whole when cut: names we derive (notes, kept copies) never exceed the file system's
    255 bytes, and two long names that differ only at the end stay apart."""
    encoded = _utf8(name)
    if len(encoded) <= limit and not any(0xDC80 <= ord(ch) <= 0xDCFF for ch in name):
        return name
    suffix = Path(name).suffix
    if len(_utf8(suffix)) > 16:
        suffix = ""
    tag = "-" + hashlib.sha256(encoded).hexdigest()[:8]
    room = limit - len(tag) - len(_utf8(suffix))
    stem = name[: len(name) - len(suffix)] if suffix else name
    cut = _utf8(stem)[:room].decode("utf-8", "ignore")
    return f"{cut}{tag}{clean_text(suffix)}"


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def clean_text(name: str) -> str:
    """A file name as text we can store and show: bytes that were not UTF-8 (kept by Python
    as surrogates) become U+FFFD."""
    return _utf8(name).decode("utf-8", "replace")


def for_log(text: object) -> str:
    """``text`` safe in a one-line log record: control, format and line-separator
    characters (a newline in a file name, ESC, a right-to-left override) shown as escapes,
    so a name can neither forge a line nor hide what it is."""
    return "".join(
        ch.encode("unicode_escape").decode("ascii")
        if unicodedata.category(ch)[0] == "C" or unicodedata.category(ch) in ("Zl", "Zp")
        else ch
        for ch in str(text)
    )


def strange_note(source: str, what: str) -> list[str]:
    """The note for an entry of inbox/ left alone because it ``what`` (see STRANGE_WHAT)."""
    return [
        "PHẢN HỒI: CHƯƠNG TRÌNH KHÔNG MỞ MỤC NÀY TRONG INBOX",
        "",
        f"Mục trong inbox/: {source}",
        f"Lý do: mục này {what}. Chương trình chỉ đọc tệp thật nằm ngay trong thư mục "
        "inbox/, nên đã để nguyên mục này: không mở, không lưu và không tính vào báo cáo.",
        "",
        "Cách khắc phục: xóa mục này khỏi inbox/, rồi chép chính tệp báo cáo (.xlsx) của "
        "chi bộ vào inbox/.",
        "",
    ]


def place_new(temp: Path, target: Path) -> Path:
    """Give the finished ``temp`` a name no file has yet: ``target``, else ``stem-2.ext``,
    ``stem-3.ext``... and return it. An answer is never replaced: two answers made in the
    same minute (an .ods and an .xls of one branch) both survive, each ledger row naming its
    own. A hard link is created only if the name is free, atomically, so two writers never
    take the same name; ``temp`` must be in the target's folder."""
    for number in range(1, 10_000):
        candidate = target if number == 1 else target.with_stem(f"{target.stem}-{number}")
        try:
            os.link(temp, candidate)
        except FileExistsError:
            continue
        except OSError:  # no hard links here (FAT, exFAT, some shares): claim, then fill
            try:
                os.close(os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            except FileExistsError:
                continue
            os.replace(temp, candidate)
            return candidate
        temp.unlink()
        return candidate
    raise FileExistsError(target)  # pragma: no cover - ten thousand answers in one minute


def write_new(target: Path, data: bytes) -> Path:
    """``data`` written whole under a new name (see ``place_new``), with the mode the
    process's umask gives; returns the name it was given."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        temp.write_bytes(data)
        return place_new(temp, target)
    finally:
        temp.unlink(missing_ok=True)


def write_note(target: Path, lines: list[str]) -> Path:
    """A short note as the branch's office reads it: UTF-8 with BOM, CRLF, written whole,
    under a new name (see ``write_new``); returns the name it was given."""
    return write_new(target, "\r\n".join(lines).encode("utf-8-sig"))


def size_to_read(path: Path, limit: int) -> int:
    """How many bytes taking ``path`` will hold in memory (0 for what is never read)."""
    try:
        size = os.lstat(path).st_size
    except OSError:
        return 0
    return size if size <= limit else 0
