"""Vietnamese number, money, percentage and date formats."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tonghop.report.vnformat import (
    FILTERS,
    VnFormatError,
    chi_bo,
    hai_so,
    la_ma,
    ngay,
    phantram,
    so,
    tien,
    ty_le,
)

GROUPED = re.compile(r"^-?\d{1,3}(\.\d{3})*$")
DECIMAL = re.compile(r"^-?\d{1,3}(\.\d{3})*(,\d*[1-9])?$")


def parse_vn(text: str) -> Decimal:
    """The inverse of the Vietnamese number format: "1.234,5" -> Decimal("1234.5")."""
    return Decimal(text.replace(".", "").replace(",", "."))


# --- so ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, "0"),
        (7, "7"),
        (999, "999"),
        (1234, "1.234"),
        (3_636_158, "3.636.158"),
        (-1234, "-1.234"),
        (None, "0"),
        (357.0, "357"),
        (56.25, "56,25"),
        (1234.5, "1.234,5"),
        (0.004, "0"),
        (-0.001, "0"),
        (2.675, "2,68"),  # half-up on the written value, not on the binary float
        (Decimal("1E+3"), "1.000"),
        ("1234", "1.234"),
    ],
)
def test_so_examples(value, expected):
    assert so(value) == expected


@given(st.integers(min_value=-(10**30), max_value=10**30))
def test_so_integers_round_trip(n):
    text = so(n)
    assert GROUPED.match(text), text
    assert int(text.replace(".", "")) == n


@given(st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False))
def test_so_floats_round_trip_to_two_decimals(x):
    text = so(x)
    assert DECIMAL.match(text), text
    assert abs(parse_vn(text) - Decimal(repr(x))) <= Decimal("0.005")
    assert " " not in text


@pytest.mark.parametrize("bad", ["abc", float("nan"), float("inf"), True, [1]])
def test_so_rejects_non_numbers_in_vietnamese(bad):
    with pytest.raises(VnFormatError) as info:
        so(bad)
    assert "số" in str(info.value)


# --- tien --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("dong", "expected"),
    [
        (8_860_000_000, "8,86 tỉ đồng"),
        (450_000_000, "450 triệu đồng"),
        (1_500_000, "1,5 triệu đồng"),
        (25_000, "25.000 đồng"),
        (1_000_000_000, "1 tỉ đồng"),
        (999_999_999, "1 tỉ đồng"),
        (999_999.6, "1 triệu đồng"),
        (12_345_000_000_000, "12.345 tỉ đồng"),
        (0, "0 đồng"),
        (None, "0 đồng"),
        (-1_500_000, "-1,5 triệu đồng"),
    ],
)
def test_tien_examples(dong, expected):
    assert tien(dong) == expected


@given(st.integers(min_value=0, max_value=10**15))
def test_tien_round_trips_within_the_rounding(dong):
    text = tien(dong)
    assert unicodedata.is_normalized("NFC", text)
    number, unit = re.fullmatch(r"(\S+) (tỉ đồng|triệu đồng|đồng)", text).groups()
    assert DECIMAL.match(number), text
    scale = {"tỉ đồng": 10**9, "triệu đồng": 10**6, "đồng": 1}[unit]
    value = parse_vn(number) * scale
    tolerance = Decimal(scale) / 200 if scale > 1 else Decimal("0.5")
    assert abs(value - dong) <= tolerance
    # the unit is the largest that fits: never "1.000 triệu", never "1.000.000 đồng"
    if unit == "triệu đồng":
        assert parse_vn(number) < 1000
    if unit == "đồng":
        assert parse_vn(number) < 1_000_000
    if "," in number:
        assert len(number.split(",")[1]) <= 2


# --- phantram, ty_le ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [(98.5, "98,5%"), (98.46, "98,5%"), (100.0, "100%"), (100, "100%"), (0, "0%"),
     (33.333, "33,3%"), (None, "0%"), (99.96, "100%")],
)  # fmt: skip
def test_phantram_examples(value, expected):
    assert phantram(value) == expected


def test_phantram_digits():
    assert phantram(56.256, 2) == "56,26%"
    assert phantram(56.2, 0) == "56%"


@given(
    st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False),
    st.integers(min_value=0, max_value=3),
)
def test_phantram_shape(x, digits):
    text = phantram(x, digits)
    assert text.endswith("%")
    assert " %" not in text and " " not in text
    assert not re.search(r",\d*0%$", text), text  # no trailing zero, no ",0%"
    number = text[:-1]
    assert DECIMAL.match(number), text
    assert abs(parse_vn(number) - Decimal(repr(x))) <= Decimal(5) / 10 ** (digits + 1)


@pytest.mark.parametrize(
    ("part", "whole", "expected"),
    [(357, 357, "100%"), (118, 357, "33,1%"), (1, 3, "33,3%"), (5, 0, "0%"), (5, None, "0%"),
     (None, 10, "0%"), (0, 10, "0%")],
)  # fmt: skip
def test_ty_le_examples(part, whole, expected):
    assert ty_le(part, whole) == expected


@given(st.integers(min_value=0, max_value=10**6), st.integers(min_value=1, max_value=10**6))
def test_ty_le_matches_phantram_of_the_ratio(part, whole):
    text = ty_le(part, whole)
    assert " " not in text
    assert abs(parse_vn(text[:-1]) - Decimal(part) * 100 / whole) <= Decimal("0.05")


# --- la_ma, ngay, hai_so, chi_bo -----------------------------------------------------------
def test_la_ma():
    assert [la_ma(n) for n in (1, 2, 3, 4, 9, 14)] == ["I", "II", "III", "IV", "IX", "XIV"]
    with pytest.raises(VnFormatError):
        la_ma(0)
    with pytest.raises(VnFormatError):
        la_ma("I")


@pytest.mark.parametrize(
    ("date", "expected"),
    [
        (dt.date(2024, 6, 16), "ngày 16 tháng 6 năm 2024"),
        (dt.date(2024, 2, 5), "ngày 05 tháng 02 năm 2024"),
        (dt.date(2024, 12, 9), "ngày 09 tháng 12 năm 2024"),
        (dt.date(2025, 1, 10), "ngày 10 tháng 01 năm 2025"),
        (dt.date(2025, 3, 1), "ngày 01 tháng 3 năm 2025"),
        (dt.datetime(2024, 6, 16, 14, 32), "ngày 16 tháng 6 năm 2024"),
        ("2024-06-16", "ngày 16 tháng 6 năm 2024"),
    ],
)
def test_ngay_examples(date, expected):
    assert ngay(date) == expected


def test_ngay_none_leaves_blanks_and_rejects_garbage():
    assert re.fullmatch(r"ngày +tháng +năm +", ngay(None))
    with pytest.raises(VnFormatError):
        ngay("16/6/2024")


@given(st.dates(min_value=dt.date(1930, 1, 1), max_value=dt.date(2999, 12, 31)))
def test_ngay_round_trip(date):
    text = ngay(date)
    match = re.fullmatch(r"ngày (\d\d) tháng (\d{1,2}) năm (\d{4})", text)
    assert match, text
    day, month, year = match.groups()
    assert dt.date(int(year), int(month), int(day)) == date
    assert (len(month) == 2) == (date.month < 3 or date.month >= 10)


@pytest.mark.parametrize(
    ("value", "expected"), [(6, "06"), (1, "01"), (9, "09"), (10, "10"), (0, "0"), (1234, "1.234")]
)
def test_hai_so(value, expected):
    assert hai_so(value) == expected


def test_chi_bo():
    assert chi_bo("Khu vực Lân Thạnh 1") == "Chi bộ Khu vực Lân Thạnh 1"
    assert chi_bo("Chi bộ Quân sự") == "Chi bộ Quân sự"
    assert chi_bo("chi bộ Công an") == "chi bộ Công an"
    decomposed = unicodedata.normalize("NFD", "Tân Lộc")
    assert chi_bo(decomposed) == "Chi bộ Tân Lộc"
    assert chi_bo("Chi bộ Quân sự", prefix=False) == "Quân sự"
    assert chi_bo("Quân sự", prefix=False) == "Quân sự"
    assert chi_bo("Chi bộ") == "Chi bộ"


def test_filters_are_all_registered():
    assert set(FILTERS) >= {"so", "tien", "phantram", "ty_le", "la_ma", "ngay", "hai_so"}


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_all_outputs_are_nfc(n):
    for text in (so(n), tien(n), phantram(n), ty_le(n, 7), hai_so(n)):
        assert unicodedata.is_normalized("NFC", text)


def test_liet_ke_joins_names_the_vietnamese_way():
    from tonghop.report.vnformat import liet_ke

    assert liet_ke(["Ấp A", "Ấp B", "Ấp C"]) == "Ấp A, Ấp B và Ấp C"
    assert liet_ke(["Ấp A", " ", "Ấp B"]) == "Ấp A và Ấp B"
    assert liet_ke(["Ấp A"]) == "Ấp A" and liet_ke([]) == ""
    assert liet_ke(["A", "B"], last="hoặc") == "A hoặc B"
