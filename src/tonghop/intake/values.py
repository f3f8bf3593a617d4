"""Turning what a branch typed into a typed value: numbers typed as text, dates, choices.

Branches type "1.234" (dot thousands), " 12 ", "8.860.000.000 đồng", dates as "16/6/2024" or
as Excel serials, and text in decomposed Unicode. Each coercion returns the value or raises
``ValueProblem`` whose message says, in Vietnamese, what is expected.

Numbers typed as text follow one rule, the one of Vietnamese offices: **the dot groups
thousands and the comma is the decimal mark**. So "8.860.000" is 8860000, "1.234,5" is
1234.5 and "12,5" is 12.5; spaces (also no-break ones) between digit groups are ignored, and
"đồng", "đ", "VNĐ" after a sum of money too. A single dot that cannot group thousands because
it is not followed by exactly three digits ("12.5") can only be a decimal point and is read as
one. What the rule cannot read is refused with a message saying what to type: several commas
("8,860,000", the English grouping) or a comma before a dot ("1,234.5"). One form reads two
ways: a single comma followed by exactly three digits ("450,000", "1,000"). It is read by the
rule (450, 1) and ``reading_warning`` gives the warning that says so and what to type instead;
a count read that way must still be a whole number ("1,500" members is an error, with the same
advice).

Branch text is inert wherever we write it: ``visible_text`` shows control characters, and the
``_xHHHH_`` escapes Excel decodes into them, as visible symbols.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from typing import Any

from openpyxl.utils.datetime import from_excel

from tonghop.errors import ValueProblem
from tonghop.form import Field, FieldType

__all__ = ["coerce", "is_blank", "nfc_text", "parse_number", "reading_warning", "visible_text"]

MAX_TEXT = 4000
_SPACES = re.compile(r"[\s\u00a0\u202f\u2007]+")
_DOT_THOUSANDS = re.compile(r"-?\d{1,3}(?:\.\d{3})+(?:,\d+)?")
_DECIMAL_COMMA = re.compile(r"-?\d+(?:,\d+)?")
# A dot followed by other than exactly three digits cannot group thousands: a decimal point.
_DECIMAL_DOT = re.compile(r"-?\d+\.(?:\d{1,2}|\d{4,})")
# What the rule reads one way and English use another: one comma, then exactly three digits.
_TWO_WAYS = re.compile(r"(-?)(\d+),(\d{3})")
# The English grouping ("8,860,000", "1,234.5"), which the rule cannot read: for the advice.
_ENGLISH = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_MONEY_WORDS = re.compile(r"(đồng|đ|vnđ|vnd)$", re.IGNORECASE)
_DATE_DMY = re.compile(r"^(\d{1,2})\s*[/.\-]\s*(\d{1,2})\s*[/.\-]\s*(\d{4})$")
_DATE_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T].*)?$")
# Excel's escape of a character in cell text: "_x0001_" is U+0001 once Excel has read it.
_EXCEL_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def nfc_text(value: str) -> str:
    return unicodedata.normalize("NFC", value).strip()


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not _SPACES.sub("", value))


def _symbol(char: str) -> str:
    r"""The visible stand-in of a character no cell may hold: U+2400 + code for the C0
    controls ("\x01" -> "␁"), "␡" for DEL, "�" for the rest (C1 controls, surrogates,
    U+FFFE/U+FFFF)."""
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)
    return "\u2421" if code == 0x7F else "\ufffd"


def _hidden(char: str) -> bool:
    code = ord(char)
    return (
        (code < 0x20 and char not in "\t\n")
        or 0x7F <= code <= 0x9F
        or 0xD800 <= code <= 0xDFFF
        or code in (0xFFFE, 0xFFFF)
    )


def visible_text(text: str) -> str:
    """``text`` safe to write anywhere (a cell, a comment, a message): control characters,
    including those Excel would decode from an ``_xHHHH_`` escape, become visible symbols
    (see ``_symbol``); tab and newline stay, a carriage return becomes a newline."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")

    def escaped(match: re.Match[str]) -> str:
        char = chr(int(match[1], 16))
        return _symbol(char) if _hidden(char) else match[0]

    if "_x" in text or "_X" in text:
        text = _EXCEL_ESCAPE.sub(escaped, text)
    if any(_hidden(char) for char in text):
        text = "".join(_symbol(char) if _hidden(char) else char for char in text)
    return text


def _compact(text: str) -> str:
    """The text of a number without spaces and without a money word after it."""
    return _MONEY_WORDS.sub("", _SPACES.sub("", nfc_text(text)))


def parse_number(text: str) -> float | int:
    """Parse a number typed as text by the rule of the module docstring ("1.234",
    "8.860.000.000", "1,5", "12.5"); raises ValueError for anything else."""
    compact = _compact(text)
    if _DOT_THOUSANDS.fullmatch(compact):
        compact = compact.replace(".", "").replace(",", ".")
    elif _DECIMAL_COMMA.fullmatch(compact):
        compact = compact.replace(",", ".")
    elif not _DECIMAL_DOT.fullmatch(compact):
        raise ValueError(text)
    number = float(compact)  # hundreds of digits give inf: the callers say "too large"
    return int(number) if number.is_integer() and "." not in compact else number


def _two_ways(raw: Any) -> tuple[str, int] | None:
    """For text of the form the rule reads one way and English use another ("450,000"):
    the compact text and the whole number the other reading gives (450000)."""
    if not isinstance(raw, str):
        return None
    compact = _compact(raw)
    match = _TWO_WAYS.fullmatch(compact)
    if match is None:
        return None
    sign, whole, thousands = match.groups()
    return compact, int(f"{sign}{whole}{thousands}")


def _how_to_type(number: int) -> str:
    """«450000 hoặc 450.000»: the ways to type a whole number that read only one way."""
    grouped = _show(number)
    return f"{number} hoặc {grouped}" if grouped != str(number) else str(number)


def reading_warning(field: Field, raw: Any, ref: str | None) -> str | None:
    """The warning for a number typed in the one form that reads two ways ("450,000"), read
    by the rule (450), saying what to type instead; None for anything else."""
    if not field.is_number:
        return None
    found = _two_ways(raw)
    if found is None:
        return None
    compact, other = found
    try:
        read = parse_number(compact)
    except ValueError:  # pragma: no cover - the form always parses
        return None
    where = f"Ô {ref}" if ref else "Ô này"
    return (
        f"{where} ghi «{compact}»: đã hiểu là {_exact(read)} (dấu phẩy là dấu thập phân). "
        f"Nếu là {_show(other)}, hãy ghi {_how_to_type(other)}."
    )


def coerce(field: Field, raw: Any) -> Any:
    """The typed value of ``raw`` for ``field``; None for a blank cell."""
    if is_blank(raw):
        return None
    if field.type == FieldType.COUNT:
        return _count(raw)
    if field.type == FieldType.MONEY:
        return _money(raw)
    if field.type == FieldType.DATE:
        return _date(raw)
    if field.type == FieldType.CHOICE:
        return _choice(field, raw)
    return _text(raw)


def _number(raw: Any, expected: str) -> float | int:
    if isinstance(raw, bool):
        raise ValueProblem(f"Ô này cần {expected}, không phải giá trị đúng/sai.")
    if isinstance(raw, int | float):
        if isinstance(raw, float) and not math.isfinite(raw):
            raise ValueProblem(f"Ô này cần {expected}.")
        return raw
    if isinstance(raw, dt.date | dt.datetime):
        raise ValueProblem(f"Ô này cần {expected}, không phải ngày tháng.")
    try:
        number = parse_number(str(raw))
    except ValueError:
        typed = visible_text(str(raw).strip()[:60])
        compact = _compact(str(raw))
        if _ENGLISH.fullmatch(compact):  # "8,860,000": the English grouping
            whole, _, fraction = compact.replace(",", "").partition(".")
            vietnamese = _show(int(whole)) + (f",{fraction}" if fraction else "")
            plain = whole + (f",{fraction}" if fraction else "")
            raise ValueProblem(
                f"Ô này cần {expected}; đã nhập «{typed}». Dấu chấm dùng để ngăn cách hàng "
                f"nghìn, dấu phẩy là dấu thập phân; hãy ghi {plain}"
                + (f" hoặc {vietnamese}." if vietnamese != plain else ".")
            ) from None
        raise ValueProblem(
            f"Ô này cần {expected}; đã nhập «{typed}». Chỉ gõ chữ số, "
            "không gõ chữ hay ký hiệu khác."
        ) from None
    if not math.isfinite(number):  # hundreds of digits overflow float to inf
        raise ValueProblem(f"Số đã nhập quá lớn cho ô này; ô này cần {expected}.")
    return number


def _count(raw: Any) -> int:
    number = _number(raw, "một số nguyên từ 0 trở lên")
    if isinstance(number, float):
        if not number.is_integer():
            message = f"Ô này cần một số nguyên (không có phần thập phân); đã nhập {_show(number)}."
            if (two_ways := _two_ways(raw)) is not None:  # "1,500": 1.5 by the rule
                compact, other = two_ways
                message = (
                    f"Ô này cần một số nguyên; đã nhập «{compact}», theo quy ước là "
                    f"{_exact(number)} (dấu phẩy là dấu thập phân). Nếu là {_show(other)}, "
                    f"hãy ghi {_how_to_type(other)}."
                )
            raise ValueProblem(message)
        number = int(number)
    if number < 0:
        raise ValueProblem(f"Ô này không được âm; đã nhập {number}. Hãy nhập số từ 0 trở lên.")
    if number > 10_000_000:
        raise ValueProblem(f"Số {number} quá lớn cho ô này. Hãy kiểm tra lại.")
    return number


def _money(raw: Any) -> int | float:
    number = _number(raw, "số tiền bằng đồng (ví dụ 450000000)")
    if number < 0:
        raise ValueProblem(f"Số tiền không được âm; đã nhập {_show(number)}.")
    if number > 1e15:
        raise ValueProblem(f"Số tiền {_show(number)} quá lớn. Hãy ghi số tiền bằng đồng.")
    if isinstance(number, float) and number.is_integer():
        return int(number)
    return number


def _date(raw: Any) -> dt.date:
    if isinstance(raw, dt.datetime):
        return raw.date()
    if isinstance(raw, dt.date):
        return raw
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        if 1 <= raw < 2958466:
            try:
                moment: dt.datetime = from_excel(raw)
                return moment.date()
            except (OverflowError, ValueError):  # a time past 31/12/9999 rounds out of range
                pass
        raise ValueProblem("Ô này cần một ngày (ví dụ 16/06/2024).")
    text = nfc_text(str(raw))
    try:
        if match := _DATE_DMY.match(text):
            day, month, year = (int(g) for g in match.groups())
            return dt.date(year, month, day)
        if match := _DATE_ISO.match(text):
            year, month, day = (int(g) for g in match.groups())
            return dt.date(year, month, day)
    except ValueError:
        pass
    raise ValueProblem(
        f"Ô này cần một ngày dạng ngày/tháng/năm (ví dụ 16/06/2024); đã nhập «{visible_text(text[:40])}»."
    )


def _choice(field: Field, raw: Any) -> str:
    text = _SPACES.sub(" ", nfc_text(str(raw)))
    for choice in field.choices:
        if text.casefold() == choice.casefold():
            return choice
    raise ValueProblem(
        f"Ô này chỉ nhận một trong các giá trị: {', '.join(field.choices)}; đã nhập «{visible_text(text[:40])}»."
    )


def _text(raw: Any) -> str:
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    if isinstance(raw, dt.datetime | dt.date):
        return raw.strftime("%d/%m/%Y")
    text = str(raw).replace("\r\n", "\n").replace("\r", "\n")
    # Drop control characters that Word cannot hold (keep tab and newline), then normalise:
    # removing one may bring a letter and its combining mark together.
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc")
    text = nfc_text(text)
    if len(text) > MAX_TEXT:
        raise ValueProblem(
            f"Nội dung dài {len(text)} ký tự, quá giới hạn {MAX_TEXT} ký tự. Hãy viết ngắn gọn hơn."
        )
    return text


def _show(number: float | int) -> str:
    text = f"{number:,.2f}" if isinstance(number, float) else f"{number:,}"
    return text.replace(",", "X").replace(".", ",").replace("X", ".")


def _exact(number: float | int) -> str:
    """A number as read, the Vietnamese way and not rounded: 450, 1,5, 12,345, 1.234,5."""
    if isinstance(number, float) and number.is_integer():
        number = int(number)
    return f"{number:,}".replace(",", "X").replace(".", ",").replace("X", ".")
