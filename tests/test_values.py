"""Coercing what a branch typed into typed values, with Vietnamese problems."""

from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tonghop.errors import ValueProblem
from tonghop.intake.values import coerce, is_blank, nfc_text, parse_number

from .helpers import FORM, is_vietnamese

COUNT = FORM.field("admitted")
MONEY = FORM.field("funds_mobilized")
DATE = FORM.field("prepared_on")
CHOICE = FORM.field("branch_rating")
TEXT = FORM.field("highlights")
ALL = [COUNT, MONEY, DATE, CHOICE, TEXT]


def vn_thousands(n: int) -> str:
    """1234567 -> "1.234.567", the way Vietnamese write thousands."""
    return f"{n:,}".replace(",", ".")


def problem(field: Any, raw: Any) -> str:
    with pytest.raises(ValueProblem) as info:
        coerce(field, raw)
    message = str(info.value)
    assert message.strip()
    assert is_vietnamese(message), message
    return message


def test_the_fields_used_have_the_expected_types() -> None:
    assert [f.type for f in ALL] == ["count", "money", "date", "choice", "text"]


# --- blanks -------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [None, "", "   ", "\u00a0", " \t\n", "\u202f"])
@pytest.mark.parametrize("field", ALL, ids=lambda f: f.type)
def test_blank_is_none_for_every_type(field: Any, raw: Any) -> None:
    assert is_blank(raw)
    assert coerce(field, raw) is None


def test_zero_is_not_blank() -> None:
    assert not is_blank(0)
    assert coerce(COUNT, 0) == 0
    assert coerce(COUNT, "0") == 0


# --- counts -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (12, 12),
        (0, 0),
        (12.0, 12),
        ("12", 12),
        (" 12 ", 12),
        ("\t12\n", 12),
        ("1.234", 1234),
        ("2.345.678", 2_345_678),
        ("1\u00a0234", 1234),
        ("1\u202f234", 1234),
        ("1 234", 1234),
        ("1,000,000", 1_000_000),
        ("12,0", 12),
        ("0012", 12),
    ],
)
def test_count_accepts(raw: Any, expected: int) -> None:
    value = coerce(COUNT, raw)
    assert value == expected
    assert type(value) is int


def test_count_with_full_width_nfc_digits_from_nfd_text() -> None:
    # Text coming from a decomposed source is normalised before parsing.
    assert coerce(COUNT, unicodedata.normalize("NFD", " 45 ")) == 45


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ("1.5", "số nguyên"),
        (1.5, "1,50"),
        ("2,5", "số nguyên"),
        (-1, "không được âm"),
        ("-3", "không được âm"),
        ("-1.234", "-1234"),
        (True, "đúng/sai"),
        (False, "đúng/sai"),
        ("abc", "«abc»"),
        ("12 người", "«12 người»"),
        ("1.2.3", "«1.2.3»"),
        (dt.date(2024, 1, 1), "ngày tháng"),
        (float("nan"), "số nguyên"),
        (float("inf"), "số nguyên"),
        (20_000_000, "quá lớn"),
        ("9" * 400, "quá lớn"),
    ],
)
def test_count_rejects(raw: Any, needle: str) -> None:
    assert needle in problem(COUNT, raw)


def test_count_problem_quotes_long_input_only_in_part() -> None:
    message = problem(COUNT, "x" * 500)
    assert "x" * 60 in message
    assert "x" * 61 not in message


# --- money --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("8.860.000.000", 8_860_000_000),
        ("450.000.000 đồng", 450_000_000),
        ("450.000.000đ", 450_000_000),
        ("450.000.000 VNĐ", 450_000_000),
        ("450000000 vnd", 450_000_000),
        ("1,5", 1.5),
        ("1.234,5", 1234.5),
        (450_000_000, 450_000_000),
        (450_000_000.0, 450_000_000),
        (0, 0),
        ("8\u00a0860\u00a0000\u00a0000", 8_860_000_000),
    ],
)
def test_money_accepts(raw: Any, expected: float) -> None:
    value = coerce(MONEY, raw)
    assert value == expected
    assert type(value) is type(expected)


def test_money_in_nfd_with_unit_word() -> None:
    assert coerce(MONEY, unicodedata.normalize("NFD", "12.000.000 đồng")) == 12_000_000


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        (-5, "không được âm"),
        ("-1.000", "không được âm"),
        ("năm triệu", "«năm triệu»"),
        ("5 triệu", "«5 triệu»"),
        (True, "đúng/sai"),
        (2e15, "quá lớn"),
    ],
)
def test_money_rejects(raw: Any, needle: str) -> None:
    assert needle in problem(MONEY, raw)


# --- dates --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (45459, dt.date(2024, 6, 16)),
        (45459.75, dt.date(2024, 6, 16)),
        (45351, dt.date(2024, 2, 29)),
        ("16/06/2024", dt.date(2024, 6, 16)),
        ("5/2/2024", dt.date(2024, 2, 5)),
        (" 16 / 6 / 2024 ", dt.date(2024, 6, 16)),
        ("16.06.2024", dt.date(2024, 6, 16)),
        ("16-06-2024", dt.date(2024, 6, 16)),
        ("2024-06-16", dt.date(2024, 6, 16)),
        ("2024-06-16 00:00:00", dt.date(2024, 6, 16)),
        ("29/02/2024", dt.date(2024, 2, 29)),
        (dt.date(2024, 6, 16), dt.date(2024, 6, 16)),
        (dt.datetime(2024, 6, 16, 14, 30), dt.date(2024, 6, 16)),
    ],
)
def test_date_accepts(raw: Any, expected: dt.date) -> None:
    value = coerce(DATE, raw)
    assert value == expected
    assert type(value) is dt.date


@pytest.mark.parametrize(
    "raw", ["31/02/2024", "29/02/2023", "16/13/2024", "0/1/2024", "hôm qua", "2024/06", 0, -5]
)
def test_date_rejects(raw: Any) -> None:
    message = problem(DATE, raw)
    assert "16/06/2024" in message  # shows an example of the expected form


def test_date_problem_quotes_the_text() -> None:
    assert "«31/02/2024»" in problem(DATE, "31/02/2024")


# --- choices ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("HTTNV", "HTTNV"),
        ("httnv", "HTTNV"),
        (" HtXsNv ", "HTXSNV"),
        ("khtnv", "KHTNV"),
        ("\u00a0htnv\u00a0", "HTNV"),
    ],
)
def test_choice_is_case_insensitive(raw: str, expected: str) -> None:
    assert coerce(CHOICE, raw) == expected


@pytest.mark.parametrize("raw", ["Tốt", "HTT NV", "HTTNV.", 1])
def test_choice_rejects_listing_the_choices(raw: Any) -> None:
    message = problem(CHOICE, raw)
    for choice in CHOICE.choices:
        assert choice in message


def test_choice_field_has_the_four_ratings() -> None:
    assert CHOICE.choices == ("HTXSNV", "HTTNV", "HTNV", "KHTNV")


# --- text ---------------------------------------------------------------------------------------


def test_text_nfd_comes_out_nfc_and_stripped() -> None:
    typed = "  Chi bộ hoàn thành tốt nhiệm vụ được giao  \n"
    value = coerce(TEXT, unicodedata.normalize("NFD", typed))
    assert value == "Chi bộ hoàn thành tốt nhiệm vụ được giao"
    assert unicodedata.is_normalized("NFC", value)


def test_text_line_endings_and_control_characters() -> None:
    value = coerce(TEXT, "Dòng 1\r\nDòng 2\rDòng 3\x00\x07\tcuối")
    assert value == "Dòng 1\nDòng 2\nDòng 3\tcuối"


def test_text_control_characters_at_the_edges_leave_no_spaces() -> None:
    assert coerce(TEXT, "\x01 Nội dung \x02") == "Nội dung"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(12.0, "12"), (12.5, "12.5"), (7, "7"), (dt.date(2024, 6, 16), "16/06/2024")],
)
def test_text_from_other_cell_types(raw: Any, expected: str) -> None:
    assert coerce(TEXT, raw) == expected


def test_text_too_long() -> None:
    message = problem(TEXT, "a" * 4001)
    assert "4001" in message and "4000" in message
    assert coerce(TEXT, "a" * 4000) == "a" * 4000


def test_nfc_text() -> None:
    assert nfc_text(unicodedata.normalize("NFD", " Đảng ủy ")) == "Đảng ủy"


# --- parse_number -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.234", 1234),
        ("1,5", 1.5),
        ("1.5", 1.5),
        ("1.234.567,89", 1234567.89),
        ("1,234,567", 1234567),
        ("-12", -12),
        ("0", 0),
    ],
)
def test_parse_number(text: str, expected: float) -> None:
    assert parse_number(text) == expected


@pytest.mark.parametrize("text", ["", "abc", "1..2", "1,2,3", "1.23.456", "--1", "1e5"])
def test_parse_number_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_number(text)


# --- properties ---------------------------------------------------------------------------------


@given(st.integers(min_value=0, max_value=10_000_000))
def test_dot_thousands_parse_back_as_counts(n: int) -> None:
    text = vn_thousands(n)
    assert coerce(COUNT, text) == n
    assert coerce(COUNT, f" {text}\u00a0") == n
    assert coerce(COUNT, text.replace(".", "\u00a0")) == n


@given(st.integers(min_value=0, max_value=10**15))
def test_dot_thousands_parse_back_as_money(n: int) -> None:
    assert coerce(MONEY, vn_thousands(n)) == n
    assert coerce(MONEY, vn_thousands(n) + " đồng") == n


@given(st.integers(min_value=1, max_value=10_000_000))
def test_negative_counts_are_problems(n: int) -> None:
    assert "không được âm" in problem(COUNT, -n)
    assert "không được âm" in problem(COUNT, "-" + vn_thousands(n))


@given(st.dates(min_value=dt.date(1901, 1, 1), max_value=dt.date(2999, 12, 31)))
def test_dates_in_every_accepted_form(day: dt.date) -> None:
    assert coerce(DATE, day.strftime("%d/%m/%Y")) == day
    assert coerce(DATE, f"{day.day}/{day.month}/{day.year}") == day
    assert coerce(DATE, day.isoformat()) == day
    serial = (day - dt.date(1899, 12, 30)).days
    assert coerce(DATE, serial) == day


anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=80),
    st.text(alphabet="0123456789.,- \u00a0đồngvnd", max_size=30),
    st.dates(),
)


@given(st.sampled_from(ALL), anything)
def test_coerce_returns_or_raises_a_vietnamese_problem(field: Any, raw: Any) -> None:
    try:
        value = coerce(field, raw)
    except ValueProblem as exc:
        message = str(exc)
        assert message.strip()
        assert is_vietnamese(message), message
        return
    if field.type == "count":
        assert value is None or (type(value) is int and 0 <= value <= 10_000_000)
    elif field.type == "money":
        assert value is None or (isinstance(value, int | float) and 0 <= value <= 1e15)
    elif field.type == "date":
        assert value is None or type(value) is dt.date
    elif field.type == "choice":
        assert value is None or value in field.choices
    else:
        assert value is None or (
            isinstance(value, str)
            and value == value.strip()
            and unicodedata.is_normalized("NFC", value)
        )


@given(st.text(max_size=200))
def test_text_is_always_nfc_and_stripped(raw: str) -> None:
    value = coerce(TEXT, raw)
    if value is not None:
        assert unicodedata.is_normalized("NFC", value)
        assert value == value.strip()
        assert "\r" not in value


def test_removing_a_control_character_still_gives_nfc() -> None:
    # "e", NUL, combining acute: once the NUL is gone the text must compose to "é".
    assert coerce(TEXT, "Ke\x00\u0301t qua\u0309") == "Két quả"


@pytest.mark.parametrize("serial", [2958465.999999999, 2958466, 1e12, 0.5])
def test_excel_serials_out_of_range_are_problems(serial: float) -> None:
    assert "16/06/2024" in problem(DATE, serial)


def test_last_excel_serial_is_the_last_day() -> None:
    assert coerce(DATE, 2958465) == dt.date(9999, 12, 31)
