"""Reading TOML files with errors a user can act on: Vietnamese, naming the key and line."""

from __future__ import annotations

import difflib
import re
import tomllib
import unicodedata
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any, Literal

from tonghop.errors import ConfigError

__all__ = [
    "TomlTable",
    "header_line",
    "key_line",
    "nfc",
    "read_toml",
    "reject_unknown_sections",
    "set_text_key",
]

TableKind = Literal["table", "array"]


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text).strip()


def read_toml(path: Path) -> tuple[dict[str, Any], str]:
    """Parse a TOML file, turning syntax errors into a Vietnamese message with the line."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"Tệp {path.name} không phải văn bản UTF-8. Hãy lưu lại tệp với mã hóa UTF-8."
        ) from exc
    except OSError as exc:
        raise ConfigError(f"Không đọc được tệp {path}: {exc.strerror}.") from exc
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        where = re.search(r"line (\d+), column (\d+)", str(exc))
        if where:
            place = f" ở dòng {where[1]}, cột {where[2]}"
        elif "end of document" in str(exc):
            place = f" ở cuối tệp (dòng {max(1, len(text.splitlines()))})"
        else:
            place = ""
        raise ConfigError(
            f"Tệp {path.name} sai cú pháp TOML{place}. Hãy kiểm tra dấu ngoặc kép, dấu bằng "
            "và tên mục [..] ở dòng đó."
        ) from exc


def key_line(text: str, section: str, key: str, occurrence: int | None = None) -> int | None:
    """The line where ``key`` is set inside ``[section]``, for pointing the user at it.

    For an array of tables (``[[branches]]``), ``occurrence`` (1-based) picks which table: the
    n-th ``[[section]]`` header of the file. Without it the first match anywhere is returned.
    """
    current = ""
    seen = 0
    for number, line in enumerate(text.splitlines(), start=1):
        header = re.match(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$", line)
        if header:
            current = header[1]
            if current == section:
                seen += 1
            continue
        if occurrence is not None and seen != occurrence:
            continue
        if current == section and re.match(rf"^\s*\"?{re.escape(key)}\"?\s*=", line):
            return number
    return None


def header_line(text: str, section: str, occurrence: int | None = None) -> int | None:
    """The line of the ``[section]`` (or n-th ``[[section]]``) header, when there is one."""
    seen = 0
    for number, line in enumerate(text.splitlines(), start=1):
        header = re.match(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$", line)
        if header and header[1] == section:
            seen += 1
            if occurrence is None or seen == occurrence:
                return number
    return None


class TomlTable:
    """Typed access to one table of a TOML document, with errors naming the key and line."""

    def __init__(
        self, data: Any, section: str, text: str, file_name: str, occurrence: int | None = None
    ) -> None:
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ConfigError(f"Tệp {file_name}: mục [{section}] phải là một bảng khóa = giá trị.")
        self.data = data
        self.section = section
        self.text = text
        self.file_name = file_name
        self.occurrence = occurrence

    def fail(self, key: str, what: str) -> ConfigError:
        line = key_line(self.text, self.section, key, self.occurrence)
        if line is None:  # a missing key: point at the table it belongs in
            line = header_line(self.text, self.section, self.occurrence)
        where = f" (dòng {line})" if line else ""
        return ConfigError(
            f"Tệp {self.file_name}, khóa «{key}» trong mục [{self.section}]{where}: {what}"
        )

    def text_value(self, key: str, default: str | None = None, *, allow_empty: bool = False) -> str:
        value = self.data.get(key, default)
        if value is None:
            raise self.fail(key, "thiếu giá trị. Hãy thêm dòng " + f'{key} = "...".')
        if not isinstance(value, str):
            raise self.fail(key, "phải là một chuỗi chữ đặt trong dấu ngoặc kép.")
        value = nfc(value)
        if not value and not allow_empty:
            raise self.fail(key, "không được để trống.")
        return value

    def text_list(self, key: str) -> tuple[str, ...]:
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, 'phải là danh sách chuỗi, ví dụ ["Dòng 1", "Dòng 2"].')
        return tuple(nfc(v) for v in value if nfc(v))

    def reject_unknown(self, allowed: Collection[str]) -> None:
        """A key this table does not use is a typo until shown otherwise: silently ignoring
        ``recipient =`` would give a report whose "Nơi nhận" lists nobody."""
        for key in self.data:
            if key not in allowed:
                line = key_line(self.text, self.section, key, self.occurrence)
                if line is None:  # a sub-table, [section.key]
                    line = header_line(self.text, f"{self.section}.{key}")
                where = f" (dòng {line})" if line else ""
                raise ConfigError(
                    f"Tệp {self.file_name}, mục [{self.section}]{where}: "
                    + _unknown_message(key, key, allowed, {k: k for k in allowed})
                )


def reject_unknown_sections(
    data: Mapping[str, Any], allowed: Mapping[str, TableKind], text: str, file_name: str
) -> None:
    """Top-level names must be the file's known sections: ``[signr]`` or ``[[branch]]``
    would otherwise drop the signer or a branch without a word."""
    shown = {name: _styled(name, kind) for name, kind in allowed.items()}
    for key, value in data.items():
        if key in allowed:
            continue
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            typed, line = _styled(key, "array"), header_line(text, key)
        elif isinstance(value, dict):
            typed, line = (
                _styled(key, "table"),
                header_line(text, key) or _first_subtable(text, key),
            )
        else:
            typed, line = key, key_line(text, "", key)
        where = f", dòng {line}" if line else ""
        raise ConfigError(
            f"Tệp {file_name}{where}: " + _unknown_message(key, typed, allowed, shown)
        )


def _styled(name: str, kind: TableKind) -> str:
    return f"[[{name}]]" if kind == "array" else f"[{name}]"


def _first_subtable(text: str, name: str) -> int | None:
    for number, line in enumerate(text.splitlines(), start=1):
        if re.match(rf"^\s*\[\[?\s*{re.escape(name)}\.", line):
            return number
    return None


def _unknown_message(
    key: str, typed: str, allowed: Collection[str], shown: Mapping[str, str]
) -> str:
    valid = ", ".join(shown[name] for name in allowed)
    close = difflib.get_close_matches(key, list(allowed), n=1)
    if close:
        return (
            f"{typed}: có phải {shown[close[0]]}? «{key}» không phải tên dùng được ở đây ({valid})."
        )
    return f"«{typed}» không phải tên dùng được ở đây; chỉ dùng: {valid}. Hãy sửa hoặc xóa dòng đó."


def set_text_key(text: str, section: str, key: str, value: str) -> str:
    """``text`` with ``key = "value"`` set in the table ``[section]``, every other line (the
    secretary's comments, their layout) left as it was: the key's own line is replaced when
    there is one, else the key goes right under the table's header, else a new table is added
    at the end. ``value`` is written as a TOML basic string."""
    entry = f"{key} = {_basic_string(value)}"
    lines = text.splitlines(keepends=True)
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    line = key_line(text, section, key)
    if line is not None:
        old = lines[line - 1]
        lines[line - 1] = entry + old[len(old.rstrip("\r\n")) :]
        return "".join(lines)
    header = header_line(text, section)
    if header is not None:
        lines.insert(header, entry + newline)
        return "".join(lines)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += newline
    return "".join(lines) + f"{newline}[{section}]{newline}{entry}{newline}"


def _basic_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(ch if ch >= " " else f"\\u{ord(ch):04x}" for ch in escaped) + '"'
