"""Coercing what a branch typed into typed values, with Vietnamese problems."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tonghop.errors import ValueProblem
from tonghop.intake.values import (
    coerce,
    is_blank,
    nfc_text,
    parse_number,
    reading_warning,
    visible_text,
)

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
        ("12.50", 12.5),
        ("1.2345", 1.2345),
        ("-12", -12),
        ("0", 0),
    ],
)
def test_parse_number(text: str, expected: float) -> None:
    assert parse_number(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "abc", "1..2", "1,2,3", "1.23.456", "--1", "1e5", "1,234,567", "1,234.5", "1.234.5"],
)
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


# --- the one rule for numbers typed as text (dot thousands, comma decimals) --------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("8.860.000", 8_860_000), ("12,5", 12.5), ("1.234,5", 1234.5), ("450,000", 450)],
)
def test_money_follows_the_rule(text: str, expected: float) -> None:
    assert coerce(MONEY, text) == expected


@pytest.mark.parametrize(
    ("text", "plain", "grouped"),
    [
        ("8,860,000", "8860000", "8.860.000"),
        ("1,000,000 đồng", "1000000", "1.000.000"),
        ("1,234.5", "1234,5", "1.234,5"),
    ],
)
def test_english_grouping_is_refused_saying_what_to_type(
    text: str, plain: str, grouped: str
) -> None:
    """Replaces the old acceptance of "1,000,000" as a million (and of "1,234,567" by
    parse_number): under the one rule a comma is the decimal mark, so two commas are no number;
    the message says how to type it instead of guessing."""
    for field in (COUNT, MONEY):
        message = problem(field, text)
        assert f"hãy ghi {plain} hoặc {grouped}" in message
        assert "dấu phẩy là dấu thập phân" in message


def test_the_example_of_the_rule_reads_and_warns_as_documented() -> None:
    assert coerce(MONEY, "450,000") == 450
    assert reading_warning(MONEY, "450,000", "C21") == (
        "Ô C21 ghi «450,000»: đã hiểu là 450 (dấu phẩy là dấu thập phân). "
        "Nếu là 450.000, hãy ghi 450000 hoặc 450.000."
    )
    assert coerce(COUNT, "1,000") == 1
    assert "hãy ghi 1000 hoặc 1.000" in (reading_warning(COUNT, " 1,000 ", "C12") or "")


def test_a_count_read_as_a_fraction_is_an_error_with_the_advice() -> None:
    message = problem(COUNT, "1,500")
    assert "số nguyên" in message and "1,5" in message and "hãy ghi 1500 hoặc 1.500" in message
    assert "số nguyên" in problem(COUNT, "1,5")  # as before: a count is a whole number


@pytest.mark.parametrize("raw", ["450.000", "450000", "12,5", "1,50", "1,5000", 450000, "abc"])
def test_forms_that_read_one_way_get_no_warning(raw: Any) -> None:
    assert reading_warning(MONEY, raw, "C21") is None


def test_text_fields_get_no_number_warning() -> None:
    assert reading_warning(TEXT, "450,000", "C40") is None


@given(
    st.integers(min_value=0, max_value=10**12),
    st.text(alphabet="0123456789", min_size=1, max_size=6),
)
def test_dot_thousands_and_comma_decimals_parse_exactly(whole: int, fraction: str) -> None:
    text = f"{vn_thousands(whole)},{fraction}"
    assert parse_number(text) == pytest.approx(float(f"{whole}.{fraction}"))
    assert parse_number(vn_thousands(whole)) == whole
    if len(fraction) != 3 or "." in vn_thousands(whole):
        assert reading_warning(MONEY, text, "C21") is None


@given(st.integers(min_value=0, max_value=999_999))
def test_one_comma_then_three_digits_is_read_by_the_rule_and_warned(number: int) -> None:
    whole, thousands = divmod(number, 1000)
    text = f"{whole},{thousands:03d}"
    read = parse_number(text)
    assert read == pytest.approx(whole + thousands / 1000)
    warning = reading_warning(MONEY, text, "C21")
    assert warning is not None
    assert warning.startswith(f"Ô C21 ghi «{text}»: đã hiểu là ")
    assert f"hãy ghi {number}" in warning  # what to type for the other reading
    assert is_vietnamese(warning)
    if thousands:
        assert "số nguyên" in problem(COUNT, text)  # 1,500 members: not a whole number
    else:
        assert coerce(COUNT, text) == whole


@given(st.integers(min_value=1_000_000, max_value=10**12))
def test_english_grouping_never_reads_silently(number: int) -> None:
    text = f"{number:,}"
    with pytest.raises(ValueError):
        parse_number(text)
    assert f"hãy ghi {number} hoặc {vn_thousands(number)}" in problem(MONEY, text)


# --- visible_text: nothing a cell cannot hold ------------------------------------------------


ILLEGAL_IN_CELLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
ESCAPED_CONTROL = re.compile(r"_x(000[0-8BbCcEeFf]|001[0-9A-Fa-f]|007[Ff]|00[89][0-9A-Fa-f])_")


def test_visible_text_shows_control_characters_and_their_escapes() -> None:
    assert visible_text("x_x0001_y") == "x\u2401y"
    assert visible_text("x\x01y") == "x\u2401y"
    assert visible_text("a\r\nb\rc\td") == "a\nb\nc\td"
    assert visible_text("_x0041_ và _x000a_") == "_x0041_ và _x000a_"  # not controls: kept
    assert visible_text("\x7f\x85") == "\u2421\ufffd"


@given(
    st.lists(
        st.one_of(
            st.characters(categories=("Cc", "Cs", "Co", "Lu", "Nd")),
            st.sampled_from(["_x0001_", "_x001F_", "_x007f_", "_x0085_", "_x0041_", "_x", "_"]),
        ),
        max_size=30,
    ).map("".join)
)
def test_visible_text_leaves_nothing_illegal(text: str) -> None:
    shown = visible_text(text)
    assert ILLEGAL_IN_CELLS.search(shown) is None
    assert ESCAPED_CONTROL.search(shown) is None
    if ILLEGAL_IN_CELLS.search(text) is None and "_x" not in text and "\r" not in text:
        assert shown == text


@given(st.text(alphabet="0123456789.,- \u00a0đồng", max_size=20))
def test_a_warning_only_comes_with_a_reading(raw: str) -> None:
    warning = reading_warning(MONEY, raw, "C21")
    if warning is None:
        return
    read = parse_number(raw)  # a warned form is always read, by the rule
    assert "," in raw and "." not in raw.replace("đồng", "")
    assert warning.startswith("Ô C21 ghi «") and is_vietnamese(warning)
    assert isinstance(read, int | float)


@pytest.mark.parametrize("field", [COUNT, MONEY, DATE, CHOICE], ids=lambda f: f.type)
def test_messages_quote_control_characters_visibly(field: Any) -> None:
    message = problem(field, "x_x0001_y\x02")
    assert "x\u2401y\u2402" in message
    assert ILLEGAL_IN_CELLS.search(message) is None
