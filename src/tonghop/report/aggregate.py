"""Adding up the counted returns: period totals, per branch, term to date, targets.

Branches may file returns of several period kinds (annual 2020-2023, then 2024-H1, or both a
year and its halves). For any window of time we pick, per branch, a set of non-overlapping
returns inside the window, larger periods first; calendar periods nest, so this never counts
a month twice and covers as much of the window as the returns allow. Within that set, flows
add up, ``stock_start`` takes the first period's value and ``stock_end`` the last's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tonghop.config import Branch, Config
from tonghop.errors import PeriodError
from tonghop.form import Derived, FormSpec, Total
from tonghop.ledger import Ledger
from tonghop.periods import Period


@dataclass(frozen=True)
class Counted:
    """One counted return: a branch's values for a period."""

    branch_code: str
    period: Period
    values: dict[str, Any]
    received_at: dt.datetime
    submission_id: int = 0


@dataclass
class BranchFigures:
    branch: Branch
    returns: list[Counted] = field(default_factory=list)  # chosen for the window, in order
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def reported(self) -> bool:
        return bool(self.returns)


def windows(config: Config, period: Period) -> list[tuple[dt.date, dt.date]]:
    """The spans of time :func:`aggregate` adds up: the period, the term to its end, and the
    same period a year earlier."""
    earlier = period.year_earlier()
    return [
        (period.start, period.end),
        (config.committee.term_start.start, period.end),
        (earlier.start, earlier.end),
    ]


def load_counted(ledger: Ledger, config: Config, period: Period) -> list[Counted]:
    """The counted returns :func:`aggregate` uses for ``period``: of a branch of the config and
    inside one of its :func:`windows`. Only those have their values read from the ledger."""
    spans = windows(config, period)
    codes = {branch.code for branch in config.branches}
    periods: dict[str, Period | None] = {}

    def wanted(branch_code: str, code: str) -> bool:
        if branch_code not in codes:
            return False
        if code not in periods:
            periods[code] = _parse_period(code)
        found = periods[code]
        return found is not None and any(
            start <= found.start and found.end <= end for start, end in spans
        )

    return [
        Counted(branch_code, periods[code] or Period.parse(code), values, received, row_id)
        for row_id, branch_code, code, received, values in ledger.counted_values(wanted)
    ]


def _parse_period(code: str) -> Period | None:
    try:
        return Period.parse(code)
    except PeriodError:
        return None


def choose_returns(returns: Iterable[Counted], start: dt.date, end: dt.date) -> list[Counted]:
    """Non-overlapping returns inside [start, end], largest periods first, then newest."""
    inside = [r for r in returns if start <= r.period.start and r.period.end <= end]
    if len(inside) <= 1:
        return inside
    inside.sort(key=lambda r: (-r.period.kind.months, -r.received_at.timestamp(), -r.submission_id))
    chosen: list[Counted] = []
    for candidate in inside:
        if not any(candidate.period.overlaps(c.period) for c in chosen):
            chosen.append(candidate)
    chosen.sort(key=lambda r: r.period.start)
    return chosen


@dataclass(frozen=True)
class _Plan:
    """The form's fields grouped by how they add up, worked out once per aggregation rather
    than once per branch (for 5,000 branches the lookups cost more than the adding up)."""

    fields: tuple[str, ...]  # in the form's order, the order of every figures dict
    sums: tuple[str, ...]  # number fields with total = flow
    firsts: tuple[str, ...]  # stock_start: the first period's value
    lasts: tuple[str, ...]  # stock_end, and "none" fields keep the latest value
    numbers: tuple[str, ...]
    derived: tuple[Derived, ...]
    empty: tuple[str, ...]  # the keys of a branch without returns: fields, then derived

    @classmethod
    def of(cls, form: FormSpec) -> _Plan:
        fields = form.fields.values()
        sums = tuple(f.id for f in fields if f.total == Total.FLOW and f.is_number)
        firsts = tuple(f.id for f in fields if f.total == Total.STOCK_START and f.id not in sums)
        lasts = tuple(f.id for f in fields if f.id not in sums and f.id not in firsts)
        return cls(
            fields=tuple(form.fields),
            sums=sums,
            firsts=firsts,
            lasts=lasts,
            numbers=tuple(f.id for f in form.number_fields()),
            derived=form.derived,
            empty=(*form.fields, *(d.id for d in form.derived)),
        )


def combine(form: FormSpec, chosen: list[Counted]) -> dict[str, Any]:
    """One branch's figures over its chosen returns (chronological)."""
    return _combine(_Plan.of(form), chosen)


def _combine(plan: _Plan, chosen: list[Counted]) -> dict[str, Any]:
    if not chosen:
        return dict.fromkeys(plan.fields)
    if len(chosen) == 1:
        only = chosen[0].values
        return {fid: only.get(fid) for fid in plan.fields}
    # One column of values per field, oldest return first (map and zip loop in C).
    values: dict[str, Any] = dict.fromkeys(plan.fields)
    sources = [r.values for r in chosen]
    sums = zip(*[list(map(source.get, plan.sums)) for source in sources], strict=True)
    for fid, column in zip(plan.sums, sums, strict=True):
        if None not in column:
            values[fid] = sum(column)
        elif present := [v for v in column if v is not None]:
            values[fid] = sum(present)
    # the first value present, oldest first for stock_start, newest first for the others
    firsts = zip(*[list(map(source.get, plan.firsts)) for source in sources], strict=True)
    lasts = zip(*[list(map(source.get, plan.lasts)) for source in sources[::-1]], strict=True)
    for fids, columns in ((plan.firsts, firsts), (plan.lasts, lasts)):
        for fid, column in zip(fids, columns, strict=True):
            for value in column:
                if value is not None:
                    values[fid] = value
                    break
    return values


def _add_derived(plan: _Plan, values: dict[str, Any]) -> dict[str, Any]:
    scope = {fid: values.get(fid) for fid in plan.numbers}
    if all(value is None for value in scope.values()):
        values.update(dict.fromkeys(d.id for d in plan.derived))
        return values
    scope = {fid: value or 0 for fid, value in scope.items()}
    for derived in plan.derived:
        values[derived.id] = derived.compute(scope)
    return values


def _by_branch(returns: list[Counted]) -> dict[str, list[Counted]]:
    by_branch: dict[str, list[Counted]] = {}
    for r in returns:
        by_branch.setdefault(r.branch_code, []).append(r)
    return by_branch


def _branch_figures(
    plan: _Plan,
    config: Config,
    by_branch: dict[str, list[Counted]],
    start: dt.date,
    end: dt.date,
) -> list[BranchFigures]:
    rows = []
    for branch in config.branches:
        chosen = choose_returns(by_branch.get(branch.code, ()), start, end)
        # without a return every field and derived figure is empty
        values = _add_derived(plan, _combine(plan, chosen)) if chosen else dict.fromkeys(plan.empty)
        rows.append(BranchFigures(branch, chosen, values))
    return rows


def totals(form: FormSpec, rows: list[BranchFigures]) -> dict[str, Any]:
    """Sum of the branches' figures for every number field and derived figure."""
    out: dict[str, Any] = {}
    keys = [f.id for f in form.fields.values() if f.is_number] + [d.id for d in form.derived]
    figures = [row.values for row in rows]
    for key in keys:
        present = [v for values in figures if (v := values.get(key)) is not None]
        out[key] = sum(present) if present else None
    return out


def percent(part: Any, whole: Any) -> float | None:
    if part is None or not whole:
        return None
    return float(part) * 100.0 / float(whole)


@dataclass
class Aggregate:
    """Everything the report and the aggregate workbook show for one period."""

    period: Period
    rows: list[BranchFigures]
    total: dict[str, Any]
    term: dict[str, Any]
    term_rows: list[BranchFigures]
    last_year: dict[str, Any] | None
    change: dict[str, Any]
    targets: dict[str, dict[str, Any]]
    share: dict[str, float | None]
    # The same branches reported the period and the same period a year earlier: only then is
    # ``change`` worked out (4 branches now against 6 last year is no comparison).
    comparable: bool = True
    # The term's figures hold returns from before the period: only then does a report say
    # "Lũy kế từ đầu nhiệm kỳ" (in a term's first period they are the period's own figures).
    term_beyond_period: bool = False
    # Earlier periods of the term that some branches reported and others did not, with how
    # many did not: the term's figures leave those out, and the report says so.
    term_gaps: list[tuple[Period, int]] = field(default_factory=list)

    @property
    def reported(self) -> list[BranchFigures]:
        return [r for r in self.rows if r.reported]

    @property
    def missing(self) -> list[BranchFigures]:
        return [r for r in self.rows if not r.reported]


def aggregate(form: FormSpec, config: Config, returns: list[Counted], period: Period) -> Aggregate:
    plan = _Plan.of(form)
    by_branch = _by_branch(returns)
    (start, end), (term_start, term_end), (earlier_start, earlier_end) = windows(config, period)
    rows = _branch_figures(plan, config, by_branch, start, end)
    total = totals(form, rows)

    term_rows = _branch_figures(plan, config, by_branch, term_start, term_end)
    term = totals(form, term_rows)

    last_rows = _branch_figures(plan, config, by_branch, earlier_start, earlier_end)
    last_year = totals(form, last_rows) if any(r.reported for r in last_rows) else None
    reported_now = {r.branch.code for r in rows if r.reported}
    comparable = reported_now == {r.branch.code for r in last_rows if r.reported}
    change: dict[str, Any] = {}
    if last_year is not None and comparable:
        for key, value in total.items():
            if value is not None and last_year.get(key) is not None:
                change[key] = value - last_year[key]

    targets = {}
    for key, target in config.targets.items():
        label = form.fields[key].label if key in form.fields else key
        achieved = term.get(key)
        targets[key] = {
            "label": label,
            "unit": form.fields[key].unit if key in form.fields else "",
            "target": target,
            "achieved": achieved,
            "percent": percent(achieved, target),
        }
    share = {key: percent(total.get(key), total.get(whole)) for key, whole in form.shares.items()}
    term_beyond_period = any(
        r.period.start < period.start for row in term_rows for r in row.returns
    )
    return Aggregate(
        period,
        rows,
        total,
        term,
        term_rows,
        last_year,
        change,
        targets,
        share,
        comparable=comparable,
        term_beyond_period=term_beyond_period,
        term_gaps=term_gaps(term_rows, period),
    )


def term_gaps(term_rows: list[BranchFigures], period: Period) -> list[tuple[Period, int]]:
    """The periods before ``period`` that the term's figures hold for some branches but not
    for all, each with the number of branches without it, in order."""
    earlier = {r.period for row in term_rows for r in row.returns if r.period.start < period.start}
    gaps = []
    for gap in sorted(earlier, key=lambda p: (p.start, p.end)):
        covered = sum(any(r.period.overlaps(gap) for r in row.returns) for row in term_rows)
        if covered < len(term_rows):
            gaps.append((gap, len(term_rows) - covered))
    return gaps
