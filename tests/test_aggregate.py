"""Aggregation: flows add, stocks take first/last, term to date never counts a month twice."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from tonghop.periods import Period, PeriodKind
from tonghop.report.aggregate import Counted, aggregate, choose_returns, combine

from .conftest import balanced_values


def counted(branch: str, period: str, received_day: int = 1, **values) -> Counted:
    p = Period.parse(period)
    return Counted(
        branch,
        p,
        balanced_values(p, **values),
        dt.datetime(2025, 1, received_day) + dt.timedelta(minutes=received_day),
        received_day,
    )


def test_year_and_its_halves_count_the_year_once(form, config):
    returns = [
        counted("LT1", "2023", admitted=10),
        counted("LT1", "2023-H1", admitted=4),
        counted("LT1", "2023-H2", admitted=6),
        counted("LT1", "2024-H1", admitted=3),
    ]
    agg = aggregate(form, config, returns, Period.parse("2024-H1"))
    lt1 = agg.term_rows[0]
    assert [r.period.code for r in lt1.returns] == ["2023", "2024-H1"]
    assert agg.term["admitted"] == 13
    assert agg.total["admitted"] == 3


def test_halves_fill_a_year_when_no_annual_return(form, config):
    returns = [counted("LT1", "2023-H1", admitted=4), counted("LT1", "2023-H2", admitted=6)]
    agg = aggregate(form, config, returns, Period.parse("2023"))
    assert agg.total["admitted"] == 10
    assert agg.rows[0].reported


def test_stock_start_first_and_stock_end_last(form):
    a = counted("LT1", "2024-Q1", members_start=20, admitted=2)  # ends 22
    b = counted("LT1", "2024-Q2", members_start=22, admitted=1)  # ends 23
    values = combine(form, choose_returns([b, a], dt.date(2024, 1, 1), dt.date(2024, 6, 30)))
    assert values["members_start"] == 20
    assert values["members_end"] == 23
    assert values["admitted"] == 3
    assert values["women"] == 7  # stock_end: last quarter's


def test_totals_missing_branches_targets_shares_and_derived(form, config):
    returns = [
        counted("LT1", "2020", admitted=30, struck_off=2, expelled=1),
        counted("LT2", "2024-H1", admitted=30, resigned=1),
        counted("LT1", "2024-H1", admitted=0),
    ]
    agg = aggregate(form, config, returns, Period.parse("2024-H1"))
    assert {r.branch.code for r in agg.reported} == {"LT1", "LT2"}
    assert len(agg.missing) == len(config.branches) - 2
    assert agg.term["admitted"] == 60
    assert agg.targets["admitted"]["target"] == 60
    assert agg.targets["admitted"]["percent"] == 100.0
    # removed = expelled + struck_off + resigned; every return has struck_off=1 by default:
    # 2020: 1 + 2; LT2 2024-H1: 1 + 1; LT1 2024-H1: 1.
    assert agg.term["removed"] == 6
    assert agg.total["removed"] == 3
    members = agg.total["members_end"]
    assert agg.share["women"] == 7 * 2 * 100 / members


def test_same_period_a_year_earlier_and_change(form, config):
    returns = [
        counted("LT1", "2023-H1", admitted=1),
        counted("LT1", "2024-H1", admitted=4),
    ]
    agg = aggregate(form, config, returns, Period.parse("2024-H1"))
    assert agg.last_year is not None
    assert agg.last_year["admitted"] == 1
    assert agg.change["admitted"] == 3
    assert aggregate(form, config, returns[1:], Period.parse("2024-H1")).last_year is None


def test_fields_not_asked_in_the_period_are_none(form, config):
    agg = aggregate(form, config, [counted("LT1", "2024-H1")], Period.parse("2024-H1"))
    assert agg.total["rated_excellent"] is None
    assert agg.total["admitted"] == 2


def test_returns_outside_the_term_are_not_counted(form, config):
    returns = [counted("LT1", "2019", admitted=50), counted("LT1", "2020", admitted=5)]
    agg = aggregate(form, config, returns, Period.parse("2020"))
    assert agg.term["admitted"] == 5


periods_2023 = st.lists(
    st.sampled_from(
        ["2023"]
        + [f"2023-H{i}" for i in (1, 2)]
        + [f"2023-Q{i}" for i in range(1, 5)]
        + [f"2023-{m:02d}" for m in range(1, 13)]
    ),
    min_size=1,
    max_size=12,
    unique=True,
)


@settings(max_examples=80, deadline=None)
@given(periods_2023)
def test_chosen_returns_never_overlap_and_cover_the_most(codes):
    returns = [counted("LT1", code, received_day=i + 1) for i, code in enumerate(codes)]
    chosen = choose_returns(returns, dt.date(2023, 1, 1), dt.date(2023, 12, 31))
    months = [m for r in chosen for m in r.period.months()]
    assert len(months) == len(set(months)), "a month counted twice"
    covered_by_any = {m for r in returns for m in r.period.months()}
    assert set(months) == covered_by_any, "some filed month left out"
    if "2023" in codes:
        assert [r.period.kind for r in chosen] == [PeriodKind.YEAR]


def test_change_only_between_the_same_branches(form, config):
    last = [counted("LT1", "2023-H1", admitted=1), counted("LT2", "2023-H1", admitted=1)]
    now = [counted("LT1", "2024-H1", admitted=3)]
    agg = aggregate(form, config, last + now, Period.parse("2024-H1"))
    assert agg.last_year is not None and not agg.comparable
    assert agg.change == {}  # 1 branch now against 2 a year ago is no comparison
    both = [*now, counted("LT2", "2024-H1", admitted=2)]
    agg = aggregate(form, config, last + both, Period.parse("2024-H1"))
    assert agg.comparable and agg.change["admitted"] == 3


def test_term_beyond_the_period_only_with_earlier_returns(form, config):
    # the seed committee's term starts in 2020
    first = aggregate(form, config, [counted("LT1", "2020-H1")], Period.parse("2020-H1"))
    assert not first.term_beyond_period
    alone = aggregate(form, config, [counted("LT1", "2024-H1")], Period.parse("2024-H1"))
    assert not alone.term_beyond_period  # term figures would be this period's own
    later = [counted("LT1", "2023"), counted("LT1", "2024-H1")]
    assert aggregate(form, config, later, Period.parse("2024-H1")).term_beyond_period


def test_targets_carry_the_fields_unit(form, config):
    agg = aggregate(form, config, [counted("LT1", "2024-H1")], Period.parse("2024-H1"))
    assert agg.targets["admitted"]["unit"] == form.fields["admitted"].unit == "đồng chí"


def test_term_gaps_name_the_earlier_periods_some_branches_are_missing_from(form, config):
    from tonghop.report.aggregate import Counted, aggregate

    q2, q3 = Period.parse("2024-Q2"), Period.parse("2024-Q3")
    codes = [b.code for b in config.branches]
    returns = [Counted(codes[0], q2, {}, dt.datetime(2024, 7, 5), 1)]
    returns += [Counted(c, q3, {}, dt.datetime(2024, 10, 5), n + 2) for n, c in enumerate(codes)]
    agg = aggregate(form, config, returns, q3)
    assert agg.term_gaps == [(q2, len(codes) - 1)]
    every = returns + [
        Counted(c, q2, {}, dt.datetime(2024, 7, 6), 99 + n) for n, c in enumerate(codes[1:])
    ]
    assert aggregate(form, config, every, q3).term_gaps == []
