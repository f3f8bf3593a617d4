"""Reporting periods: parsing, Vietnamese labels, calendar, ordering and neighbours."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tonghop.errors import PeriodError
from tonghop.periods import Period, PeriodKind, roman

from .helpers import is_vietnamese

Y, H, Q, M = PeriodKind.YEAR, PeriodKind.HALF, PeriodKind.QUARTER, PeriodKind.MONTH


# --- parsing ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("2024", Period(2024, Y)),
        ("2024-H1", Period(2024, H, 1)),
        ("2024-H2", Period(2024, H, 2)),
        ("2024-Q1", Period(2024, Q, 1)),
        ("2024-Q2", Period(2024, Q, 2)),
        ("2024-Q3", Period(2024, Q, 3)),
        ("2024-Q4", Period(2024, Q, 4)),
        ("2024-01", Period(2024, M, 1)),
        ("2024-07", Period(2024, M, 7)),
        ("2024-12", Period(2024, M, 12)),
        ("2024-7", Period(2024, M, 7)),
        ("2024-h1", Period(2024, H, 1)),
        ("2024-q3", Period(2024, Q, 3)),
        ("  2024 - h2 ", Period(2024, H, 2)),
        ("2024 -Q4", Period(2024, Q, 4)),
        ("2024/Q2", Period(2024, Q, 2)),
        ("2024.03", Period(2024, M, 3)),
        (" 2024 ", Period(2024, Y)),
        ("2024\n", Period(2024, Y)),
    ],
)
def test_parse_accepts_codes(code: str, expected: Period) -> None:
    assert Period.parse(code) == expected


def test_parse_accepts_an_int_and_a_period() -> None:
    assert Period.parse(2024) == Period(2024, Y)
    p = Period(2024, Q, 2)
    assert Period.parse(p) is p


@pytest.mark.parametrize(
    "code",
    [
        "",
        "   ",
        "24",
        "20245",
        "2024-H3",
        "2024-H0",
        "2024-Q0",
        "2024-Q5",
        "2024-13",
        "2024-00",
        "2024-123",
        "2024-S1",
        "H1-2024",
        "năm 2024",
        "2024-H1-Q1",
        "2024--H1",
        "1899",
        "3000",
        "abcd",
    ],
)
def test_parse_rejects_with_a_vietnamese_message(code: str) -> None:
    with pytest.raises(PeriodError) as info:
        Period.parse(code)
    message = str(info.value)
    assert message
    assert is_vietnamese(message)


def test_parse_error_shows_what_was_typed_and_how_to_write_it() -> None:
    with pytest.raises(PeriodError) as info:
        Period.parse("  2024-X1 ")
    message = str(info.value)
    assert "«2024-X1»" in message
    assert "2024-H1" in message and "2024-Q1" in message and "2024-01" in message


def test_month_out_of_range_names_the_month() -> None:
    with pytest.raises(PeriodError, match="Tháng 13"):
        Period.parse("2024-13")


def test_period_error_is_a_usage_error_with_exit_code_2() -> None:
    from tonghop.errors import TonghopError, UsageError

    assert issubclass(PeriodError, UsageError) and issubclass(PeriodError, TonghopError)
    assert PeriodError("x").exit_code == 2


@pytest.mark.parametrize(
    ("kind", "index"), [(Y, 2), (Y, 0), (H, 3), (Q, 5), (M, 13), (M, 0), (Q, -1)]
)
def test_constructor_rejects_bad_index(kind: PeriodKind, index: int) -> None:
    with pytest.raises(PeriodError, match="không hợp lệ"):
        Period(2024, kind, index)


# --- display ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "label"),
    [
        ("2024", "năm 2024"),
        ("2024-H1", "6 tháng đầu năm 2024"),
        ("2024-H2", "6 tháng cuối năm 2024"),
        ("2024-Q1", "quý I năm 2024"),
        ("2024-Q2", "quý II năm 2024"),
        ("2024-Q3", "quý III năm 2024"),
        ("2024-Q4", "quý IV năm 2024"),
        ("2024-07", "tháng 7 năm 2024"),
        ("2024-12", "tháng 12 năm 2024"),
    ],
)
def test_label(code: str, label: str) -> None:
    assert Period.parse(code).label == label


@pytest.mark.parametrize(
    ("period", "code"),
    [
        (Period(2024, Y), "2024"),
        (Period(2024, H, 2), "2024-H2"),
        (Period(2024, Q, 3), "2024-Q3"),
        (Period(2024, M, 7), "2024-07"),
    ],
)
def test_code_and_str(period: Period, code: str) -> None:
    assert period.code == code
    assert str(period) == code


def test_kind_months_and_labels() -> None:
    assert [k.months for k in (Y, H, Q, M)] == [12, 6, 3, 1]
    assert [k.label for k in (Y, H, Q, M)] == ["năm", "6 tháng", "quý", "tháng"]


@pytest.mark.parametrize(
    ("number", "text"), [(1, "I"), (4, "IV"), (9, "IX"), (14, "XIV"), (29, "XXIX"), (39, "XXXIX")]
)
def test_roman(number: int, text: str) -> None:
    assert roman(number) == text


@pytest.mark.parametrize("number", [0, 40, -1])
def test_roman_out_of_range(number: int) -> None:
    with pytest.raises(ValueError):
        roman(number)


def _inside(outer: Period, inner: Period) -> bool:
    """``inner`` lies wholly inside ``outer``: the oracle for start and end."""
    return outer.start <= inner.start and inner.end <= outer.end


# --- calendar -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "start", "end"),
    [
        ("2024", dt.date(2024, 1, 1), dt.date(2024, 12, 31)),
        ("2024-H1", dt.date(2024, 1, 1), dt.date(2024, 6, 30)),
        ("2024-H2", dt.date(2024, 7, 1), dt.date(2024, 12, 31)),
        ("2024-Q1", dt.date(2024, 1, 1), dt.date(2024, 3, 31)),
        ("2024-Q2", dt.date(2024, 4, 1), dt.date(2024, 6, 30)),
        ("2024-Q3", dt.date(2024, 7, 1), dt.date(2024, 9, 30)),
        ("2024-Q4", dt.date(2024, 10, 1), dt.date(2024, 12, 31)),
        ("2024-02", dt.date(2024, 2, 1), dt.date(2024, 2, 29)),  # leap year
        ("2023-02", dt.date(2023, 2, 1), dt.date(2023, 2, 28)),
        ("2000-02", dt.date(2000, 2, 1), dt.date(2000, 2, 29)),  # divisible by 400
        ("1900-02", dt.date(1900, 2, 1), dt.date(1900, 2, 28)),  # divisible by 100 only
        ("2024-04", dt.date(2024, 4, 1), dt.date(2024, 4, 30)),
        ("2024-07", dt.date(2024, 7, 1), dt.date(2024, 7, 31)),
    ],
)
def test_start_and_end(code: str, start: dt.date, end: dt.date) -> None:
    period = Period.parse(code)
    assert period.start == start
    assert period.end == end


def test_months_listed() -> None:
    assert Period.parse("2024-Q3").months() == [(2024, 7), (2024, 8), (2024, 9)]
    assert Period.parse("2024-H2").first_month == 7
    assert Period.parse("2024-H2").last_month == 12
    assert len(Period.parse("2024").months()) == 12
    assert Period.parse("2024-05").months() == [(2024, 5)]


def test_has_ended_only_after_the_last_day() -> None:
    h1 = Period.parse("2024-H1")
    assert not h1.has_ended(dt.date(2024, 6, 1))
    assert not h1.has_ended(dt.date(2024, 6, 30))
    assert h1.has_ended(dt.date(2024, 7, 1))


# --- ordering -----------------------------------------------------------------------------------


def test_ordering_by_end_then_longer_first() -> None:
    codes = ["2024-07", "2024", "2024-Q2", "2024-06", "2024-H1", "2023", "2024-H2", "2024-Q4"]
    ordered = sorted(Period.parse(c) for c in codes)
    assert [p.code for p in ordered] == [
        "2023",
        "2024-H1",
        "2024-Q2",
        "2024-06",
        "2024-07",
        "2024",
        "2024-H2",
        "2024-Q4",
    ]


def test_comparison_operators() -> None:
    q1, q2 = Period.parse("2024-Q1"), Period.parse("2024-Q2")
    assert q1 < q2 and q1 <= q2 and q2 > q1 and q2 >= q1
    assert q1 <= q1 and q1 >= q1 and not q1 < q1
    assert Period.parse("2024-H1") < Period.parse("2024-Q2")  # same end, longer first
    assert Period.parse("2023-12") < Period.parse("2024-01")


def test_equality_and_hashing() -> None:
    assert Period.parse("2024-q2") == Period(2024, Q, 2)
    assert len({Period.parse("2024-H1"), Period.parse("2024-h1"), Period(2024, H, 1)}) == 1
    assert Period.parse("2024-Q1") != Period.parse("2024-01")


# --- containment --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outer", "inner", "expected"),
    [
        ("2024", "2024-H2", True),
        ("2024", "2024-Q3", True),
        ("2024-H1", "2024-Q2", True),
        ("2024-H1", "2024-06", True),
        ("2024-H1", "2024-07", False),
        ("2024-H1", "2024-Q3", False),
        ("2024-Q2", "2024-H1", False),
        ("2024-Q3", "2024-Q3", True),
        ("2024", "2023-12", False),
        ("2024", "2025-01", False),
    ],
)
def test_contains(outer: str, inner: str, expected: bool) -> None:
    assert _inside(Period.parse(outer), Period.parse(inner)) is expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("2024-H1", "2024-Q2", True),
        ("2024-H1", "2024-H2", False),
        ("2024-Q2", "2024-06", True),
        ("2024-Q2", "2024-07", False),
        ("2024", "2023", False),
        ("2024", "2024-12", True),
        ("2023-12", "2024-01", False),
    ],
)
def test_overlaps_is_symmetric(a: str, b: str, expected: bool) -> None:
    pa, pb = Period.parse(a), Period.parse(b)
    assert pa.overlaps(pb) is expected
    assert pb.overlaps(pa) is expected


# --- neighbours ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "following"),
    [
        ("2024", "2025"),
        ("2024-H1", "2024-H2"),
        ("2024-H2", "2025-H1"),
        ("2024-Q3", "2024-Q4"),
        ("2024-Q4", "2025-Q1"),
        ("2024-11", "2024-12"),
        ("2024-12", "2025-01"),
    ],
)
def test_next_and_previous_across_years(code: str, following: str) -> None:
    assert Period.parse(code).next() == Period.parse(following)
    assert Period.parse(following).previous() == Period.parse(code)


@pytest.mark.parametrize(
    ("code", "earlier"),
    [("2024", "2023"), ("2024-H2", "2023-H2"), ("2024-Q1", "2023-Q1"), ("2024-02", "2023-02")],
)
def test_year_earlier(code: str, earlier: str) -> None:
    assert Period.parse(code).year_earlier() == Period.parse(earlier)


def test_from_months() -> None:
    assert Period.from_months(2024, 7, 6) == Period(2024, H, 2)
    assert Period.from_months(2024, 10, 3) == Period(2024, Q, 4)
    assert Period.from_months(2024, 1, 12) == Period(2024, Y)
    with pytest.raises(PeriodError, match="không phải đầu"):
        Period.from_months(2024, 2, 3)


# --- properties ---------------------------------------------------------------------------------


@st.composite
def periods(draw: st.DrawFn, first_year: int = 1901, last_year: int = 2998) -> Period:
    kind = draw(st.sampled_from(list(PeriodKind)))
    year = draw(st.integers(first_year, last_year))
    index = draw(st.integers(1, 12 // kind.months))
    return Period(year, kind, index)


def _variants(code: str) -> list[str]:
    return [code, code.lower(), f"  {code} ", code.replace("-", " - ")]


@given(periods())
def test_parse_round_trips_every_code(period: Period) -> None:
    for text in _variants(period.code):
        assert Period.parse(text) == period
    assert Period.parse(period.code).code == period.code


@given(periods())
def test_next_then_previous_is_identity(period: Period) -> None:
    assert period.next().previous() == period
    assert period.previous().next() == period


@given(periods())
def test_next_starts_the_day_after_the_end(period: Period) -> None:
    following = period.next()
    assert following.kind is period.kind
    assert following.start == period.end + dt.timedelta(days=1)
    assert period < following
    assert not period.overlaps(following)


@given(periods())
def test_period_contains_each_of_its_months(period: Period) -> None:
    months = period.months()
    assert len(months) == period.kind.months
    for year, month in months:
        assert _inside(period, Period(year, PeriodKind.MONTH, month))
    after = period.next().start
    before = period.previous().end
    assert not _inside(period, Period(after.year, PeriodKind.MONTH, after.month))
    assert not _inside(period, Period(before.year, PeriodKind.MONTH, before.month))


@given(periods())
def test_start_not_after_end_and_contains_itself(period: Period) -> None:
    assert period.start <= period.end
    assert period.start.day == 1
    assert (period.end + dt.timedelta(days=1)).day == 1
    assert _inside(period, period)
    assert period.overlaps(period)


@given(periods(), periods())
def test_contains_implies_overlaps_and_order_is_total(a: Period, b: Period) -> None:
    if _inside(a, b):
        assert a.overlaps(b)
    assert (a < b) + (a == b) + (a > b) == 1
    assert (a <= b) == (a < b or a == b)


@given(periods())
def test_year_earlier_keeps_kind_and_index(period: Period) -> None:
    earlier = period.year_earlier()
    assert (earlier.kind, earlier.index, earlier.year) == (
        period.kind,
        period.index,
        period.year - 1,
    )
    assert earlier.label == period.label.replace(str(period.year), str(period.year - 1))
