"""Vietnamese number, money, percentage and date formats, used as Jinja filters in reports.

Party documents write figures the Vietnamese way: a dot between thousands and a comma before
decimals (``3.636.158``, ``56,2%``), money in the largest fitting unit (``8,86 tỉ đồng``),
dates with a leading zero for days under 10 and months under 3
(``ngày 05 tháng 02 năm 2024``). Every function returns NFC text.
"""

from __future__ import annotations

import datetime as dt
import math
import unicodedata
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation

from tonghop.errors import VnFormatError
from tonghop.periods import roman

__all__ = [
    "FILTERS",
    "VnFormatError",
    "chi_bo",
    "hai_so",
    "la_ma",
    "liet_ke",
    "ngay",
    "phantram",
    "so",
    "tien",
    "ty_le",
]

Number = int | float | Decimal

_BILLION = Decimal(1_000_000_000)
_MILLION = Decimal(1_000_000)


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _to_decimal(value: object) -> Decimal:
    """A finite Decimal from an int, float, Decimal or numeric string (``None`` is 0)."""
    if value is None:
        return Decimal(0)
    if isinstance(value, bool):
        raise VnFormatError(f"«{value}» không phải là số.")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise VnFormatError("Giá trị số không xác định (vô cực hoặc không phải số).")
        # repr gives the shortest text that round-trips, so 98.45 rounds half-up to 98.5.
        return Decimal(repr(value))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise VnFormatError("Giá trị số không xác định (vô cực hoặc không phải số).")
        return value
    if isinstance(value, str):
        text = value.strip().replace(" ", "")
        try:
            result = Decimal(text)
        except InvalidOperation:
            result = None
        if result is None or not result.is_finite():
            raise VnFormatError(f"«{value.strip()}» không phải là số.")
        return result
    raise VnFormatError(f"«{value}» không phải là số.")


def _context(*values: Decimal) -> Context:
    """A context precise enough for exact arithmetic on ``values`` (ints can be any size)."""
    size = max((v.adjusted() for v in values if v), default=0)
    return Context(prec=max(size, 0) + 40, rounding=ROUND_HALF_UP)


def _round(value: Decimal, digits: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-digits), context=_context(value))


def _divide(numerator: Decimal, denominator: Decimal) -> Decimal:
    return _context(numerator, denominator).divide(numerator, denominator)


def _group(digits: str) -> str:
    """``"1234567"`` -> ``"1.234.567"``."""
    head = len(digits) % 3 or 3
    parts = [digits[:head]] + [digits[i : i + 3] for i in range(head, len(digits), 3)]
    return ".".join(parts)


def _format_decimal(value: Decimal, digits: int) -> str:
    """Round to ``digits`` decimals, drop trailing zeros, Vietnamese separators."""
    rounded = _round(value, digits)
    sign = "-" if rounded < 0 else ""
    text = f"{rounded.copy_abs():f}"
    whole, _, fraction = text.partition(".")
    fraction = fraction.rstrip("0")
    if not fraction and whole.strip("0") == "":
        sign = ""  # no "-0"
    out = sign + _group(whole)
    return out + ("," + fraction if fraction else "")


def so(value: Number | str | None, digits: int = 2) -> str:
    """A figure: ``1234567`` -> ``"1.234.567"``, ``56.25`` -> ``"56,25"``, ``None`` -> ``"0"``.

    Decimals are rounded half-up to ``digits`` places and trailing zeros dropped
    (``357.0`` -> ``"357"``).
    """
    if type(value) is int:  # the common case in a report: a whole count, formatted directly
        return f"{value:,}".replace(",", ".")
    return _format_decimal(_to_decimal(value), digits)


def tien(dong: Number | str | None) -> str:
    """Money in the largest fitting unit, as Party reports write it.

    ``8_860_000_000`` -> ``"8,86 tỉ đồng"``, ``450_000_000`` -> ``"450 triệu đồng"``,
    ``1_500_000`` -> ``"1,5 triệu đồng"``, ``25_000`` -> ``"25.000 đồng"``. Up to two
    decimals, trailing zeros dropped; ``None`` -> ``"0 đồng"``.
    """
    amount = _to_decimal(dong)
    size = amount.copy_abs()
    # Choose the unit after rounding, so 999.999.999 đồng becomes "1 tỉ đồng", not "1.000 triệu".
    if _round(_divide(size, _MILLION), 2) >= 1000:
        return _nfc(f"{_format_decimal(_divide(amount, _BILLION), 2)} tỉ đồng")
    if _round(size, 0) >= _MILLION:
        return _nfc(f"{_format_decimal(_divide(amount, _MILLION), 2)} triệu đồng")
    return _nfc(f"{_format_decimal(amount, 0)} đồng")


def phantram(value: Number | str | None, digits: int = 1) -> str:
    """A percentage: ``98.46`` -> ``"98,5%"``, ``100.0`` -> ``"100%"``, ``None`` -> ``"0%"``."""
    return _format_decimal(_to_decimal(value), digits) + "%"


def ty_le(part: Number | str | None, whole: Number | str | None, digits: int = 1) -> str:
    """The share of ``part`` in ``whole`` as a percentage; ``"0%"`` when ``whole`` is 0 or None."""
    total = _to_decimal(whole)
    if total == 0:
        return "0%"
    numerator = _to_decimal(part)
    share = numerator.scaleb(2, context=_context(numerator))  # x 100, exact
    return phantram(_divide(share, total), digits)


def la_ma(number: int | None) -> str:
    """Roman numeral for section numbers and quarters: ``4`` -> ``"IV"``."""
    if isinstance(number, bool) or not isinstance(number, int):
        raise VnFormatError(f"«{number}» không phải là số thứ tự để viết số La Mã.")
    try:
        return roman(number)
    except ValueError as exc:
        raise VnFormatError(f"Không viết được số La Mã cho {number} (chỉ từ 1 đến 39).") from exc


def ngay(date: dt.date | str | None) -> str:
    """``date(2024, 2, 5)`` -> ``"ngày 05 tháng 02 năm 2024"``; ``"ngày 16 tháng 6 năm 2024"``.

    A day under 10 and a month under 3 take a leading zero (Hướng dẫn 36-HD/VPTW). ``None``
    leaves blanks to fill in by hand, as in a draft: ``"ngày     tháng     năm     "``.
    An ISO text (``"2024-06-16"``) is accepted too.
    """
    if date is None:
        return "ngày     tháng     năm     "
    if isinstance(date, str):
        try:
            date = dt.date.fromisoformat(date.strip()[:10])
        except ValueError as exc:
            raise VnFormatError(f"«{date}» không phải là ngày (năm-tháng-ngày).") from exc
    if isinstance(date, dt.datetime):
        date = date.date()
    if not isinstance(date, dt.date):
        raise VnFormatError(f"«{date}» không phải là ngày.")
    month = f"{date.month:02d}" if date.month < 3 else str(date.month)
    return f"ngày {date.day:02d} tháng {month} năm {date.year}"


def hai_so(value: int | None) -> str:
    """A count below 10 with a leading zero (``6`` -> ``"06"``); 0 and 10 up as :func:`so`."""
    number = _to_decimal(value)
    if number == number.to_integral_value() and 0 < number < 10:
        return f"{int(number):02d}"
    return so(number)


def chi_bo(name: str | None, prefix: bool = True) -> str:
    """A branch's name with the word "Chi bộ" in front, once.

    ``"Khu vực Lân Thạnh 1"`` -> ``"Chi bộ Khu vực Lân Thạnh 1"``; ``"Chi bộ Quân sự"`` stays
    as it is. With ``prefix=False`` the word is taken off instead, for a column already
    headed "Chi bộ": ``"Chi bộ Quân sự"`` -> ``"Quân sự"``.
    """
    text = _nfc(str(name or "").strip())
    has_prefix = text.casefold().startswith("chi bộ ")
    if not prefix:
        return text[len("chi bộ ") :].lstrip() if has_prefix else text
    return text if has_prefix or text.casefold() == "chi bộ" else f"Chi bộ {text}"


def liet_ke(items: object, last: str = "và") -> str:
    """Names in a sentence: ``["A", "B", "C"]`` -> ``"A, B và C"``; one name as it is."""
    if isinstance(items, str):
        return _nfc(items.strip())
    if not isinstance(items, Iterable):
        raise VnFormatError(f"«{items}» không phải là một danh sách.")
    names = [_nfc(str(item).strip()) for item in items]
    names = [name for name in names if name]
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} {last} {names[-1]}"


#: The Jinja filters a report template can use, by name.
FILTERS = {
    "so": so,
    "tien": tien,
    "phantram": phantram,
    "ty_le": ty_le,
    "la_ma": la_ma,
    "ngay": ngay,
    "hai_so": hai_so,
    "chi_bo": chi_bo,
    "liet_ke": liet_ke,
}
