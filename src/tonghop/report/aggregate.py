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
from tonghop.form import FormSpec, Total
from tonghop.ledger import Submission
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


def counted_from(submissions: Iterable[Submission]) -> list[Counted]:
    out = []
    for sub in submissions:
        period = sub.period_obj
        if sub.counted and period is not None and sub.branch_code and sub.values is not None:
            out.append(Counted(sub.branch_code, period, sub.values, sub.received_at, sub.id or 0))
    return out


def choose_returns(returns: Iterable[Counted], start: dt.date, end: dt.date) -> list[Counted]:
    """Non-overlapping returns inside [start, end], largest periods first, then newest."""
    inside = [r for r in returns if start <= r.period.start and r.period.end <= end]
    inside.sort(key=lambda r: (-r.period.kind.months, -r.received_at.timestamp(), -r.submission_id))
    chosen: list[Counted] = []
    for candidate in inside:
        if not any(candidate.period.overlaps(c.period) for c in chosen):
            chosen.append(candidate)
    chosen.sort(key=lambda r: r.period.start)
    return chosen


def combine(form: FormSpec, chosen: list[Counted]) -> dict[str, Any]:
    """One branch's figures over its chosen returns (chronological)."""
    values: dict[str, Any] = {}
    if not chosen:
        return dict.fromkeys(form.fields)
    if len(chosen) == 1:
        return {fid: chosen[0].values.get(fid) for fid in form.fields}
    for fid, fld in form.fields.items():
        present = [v for r in chosen if (v := r.values.get(fid)) is not None]
        if not present:
            values[fid] = None
        elif fld.total == Total.FLOW and fld.is_number:
            values[fid] = sum(present)
        elif fld.total == Total.STOCK_START:
            values[fid] = present[0]
        else:  # stock_end, and "none" fields keep the latest value
            values[fid] = present[-1]
    return values


def add_derived(form: FormSpec, values: dict[str, Any]) -> dict[str, Any]:
    numbers = [f.id for f in form.number_fields()]
    if not any(values.get(fid) is not None for fid in numbers):
        values.update(dict.fromkeys(d.id for d in form.derived))
        return values
    scope = {fid: (values.get(fid) or 0) for fid in numbers}
    for derived in form.derived:
        values[derived.id] = derived.compute(scope)
    return values


def branch_figures(
    form: FormSpec, config: Config, returns: list[Counted], start: dt.date, end: dt.date
) -> list[BranchFigures]:
    by_branch: dict[str, list[Counted]] = {}
    for r in returns:
        by_branch.setdefault(r.branch_code, []).append(r)
    rows = []
    for branch in config.branches:
        chosen = choose_returns(by_branch.get(branch.code, []), start, end)
        rows.append(BranchFigures(branch, chosen, add_derived(form, combine(form, chosen))))
    return rows


def totals(form: FormSpec, rows: list[BranchFigures]) -> dict[str, Any]:
    """Sum of the branches' figures for every number field and derived figure."""
    out: dict[str, Any] = {}
    keys = [f.id for f in form.fields.values() if f.is_number] + [d.id for d in form.derived]
    for key in keys:
        present = [row.values.get(key) for row in rows if row.values.get(key) is not None]
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

    @property
    def reported(self) -> list[BranchFigures]:
        return [r for r in self.rows if r.reported]

    @property
    def missing(self) -> list[BranchFigures]:
        return [r for r in self.rows if not r.reported]


def aggregate(form: FormSpec, config: Config, returns: list[Counted], period: Period) -> Aggregate:
    rows = branch_figures(form, config, returns, period.start, period.end)
    total = totals(form, rows)

    term_start = config.committee.term_start.start
    term_rows = branch_figures(form, config, returns, term_start, period.end)
    term = totals(form, term_rows)

    earlier = period.year_earlier()
    last_rows = branch_figures(form, config, returns, earlier.start, earlier.end)
    last_year = totals(form, last_rows) if any(r.reported for r in last_rows) else None
    change: dict[str, Any] = {}
    if last_year is not None:
        for key, value in total.items():
            if value is not None and last_year.get(key) is not None:
                change[key] = value - last_year[key]

    targets = {}
    for key, target in config.targets.items():
        label = form.fields[key].label if key in form.fields else key
        achieved = term.get(key)
        targets[key] = {
            "label": label,
            "target": target,
            "achieved": achieved,
            "percent": percent(achieved, target),
        }
    share = {key: percent(total.get(key), total.get(whole)) for key, whole in form.shares.items()}
    return Aggregate(period, rows, total, term, term_rows, last_year, change, targets, share)
