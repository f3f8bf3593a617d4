"""Turning what a branch typed into a typed value: numbers typed as text, dates, choices.

Branches type "1.234" (dot thousands), " 12 ", "8.860.000.000 đồng", dates as "16/6/2024" or
as Excel serials, and text in decomposed Unicode. Each coercion returns the value or raises
``ValueProblem`` whose message says, in Vietnamese, what is expected.
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

__all__ = ["coerce", "is_blank", "nfc_text", "parse_number"]

MAX_TEXT = 4000
_SPACES = re.compile(r"[\s\u00a0\u202f\u2007]+")
_DOT_THOUSANDS = re.compile(r"^-?\d{1,3}(\.\d{3})+(,\d+)?$")
_COMMA_THOUSANDS = re.compile(r"^-?\d{1,3}(,\d{3}){2,}$")
_PLAIN = re.compile(r"^-?\d+([.,]\d+)?$")
_MONEY_WORDS = re.compile(r"(đồng|đ|vnđ|vnd)$", re.IGNORECASE)
_DATE_DMY = re.compile(r"^(\d{1,2})\s*[/.\-]\s*(\d{1,2})\s*[/.\-]\s*(\d{4})$")
_DATE_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T].*)?$")


def nfc_text(value: str) -> str:
    return unicodedata.normalize("NFC", value).strip()


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not _SPACES.sub("", value))


def parse_number(text: str) -> float | int:
    """Parse a number typed as text the Vietnamese way ("1.234", "8.860.000.000", "1,5")."""
    compact = _SPACES.sub("", nfc_text(text))
    compact = _MONEY_WORDS.sub("", compact)
    if _DOT_THOUSANDS.match(compact):
        compact = compact.replace(".", "").replace(",", ".")
    elif _COMMA_THOUSANDS.match(compact):
        compact = compact.replace(",", "")
    elif _PLAIN.match(compact):
        compact = compact.replace(",", ".")
    else:
        raise ValueError(text)
    number = float(compact)
    return int(number) if number.is_integer() and "." not in compact else number


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
        raise ValueProblem(
            f"Ô này cần {expected}; đã nhập «{str(raw).strip()[:60]}». Chỉ gõ chữ số, "
            "không gõ chữ hay ký hiệu khác."
        ) from None
    if not math.isfinite(number):  # hundreds of digits overflow float to inf
        raise ValueProblem(f"Số đã nhập quá lớn cho ô này; ô này cần {expected}.")
    return number


def _count(raw: Any) -> int:
    number = _number(raw, "một số nguyên từ 0 trở lên")
    if isinstance(number, float):
        if not number.is_integer():
            raise ValueProblem(
                f"Ô này cần một số nguyên (không có phần thập phân); đã nhập {_show(number)}."
            )
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
        f"Ô này cần một ngày dạng ngày/tháng/năm (ví dụ 16/06/2024); đã nhập «{text[:40]}»."
    )


def _choice(field: Field, raw: Any) -> str:
    text = _SPACES.sub(" ", nfc_text(str(raw)))
    for choice in field.choices:
        if text.casefold() == choice.casefold():
            return choice
    raise ValueProblem(
        f"Ô này chỉ nhận một trong các giá trị: {', '.join(field.choices)}; đã nhập «{text[:40]}»."
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
