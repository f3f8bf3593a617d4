"""The one factory of valid returns: driven by the form's rules, for any form and period."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tonghop.blank import write_blank_form
from tonghop.form import load_form
from tonghop.intake.checks import check_content
from tonghop.intake.reader import Cell, Workbook, read_workbook
from tonghop.periods import Period
from tonghop.samples import sample_values

from .helpers import CONFIG, FORM, FORM_PATH, workbook

TODAY = dt.date(2026, 1, 1)
PERIODS = st.sampled_from(["2024", "2024-H2", "2024-Q1", "2024-11", "2023-H1"])


@settings(max_examples=150, deadline=None)
@given(period=PERIODS, seed=st.integers(0, 10**6))
def test_every_sample_passes_every_rule_of_the_form(period: str, seed: int) -> None:
    values = sample_values(FORM, Period.parse(period), "LT2", seed=seed)
    result = check_content(workbook(values), FORM, CONFIG, today=TODAY)
    assert result.problems == []
    assert values["branch_code"] == "LT2" and values["period"] == period


@settings(max_examples=60, deadline=None)
@given(start=st.integers(0, 500), admitted=st.integers(0, 20))
def test_given_values_are_kept_and_the_rest_follows_the_rules(start: int, admitted: int) -> None:
    values = sample_values(
        FORM, Period.parse("2024"), "LT1", given={"members_start": start, "admitted": admitted}
    )
    assert values["members_start"] == start and values["admitted"] == admitted
    assert check_content(workbook(values), FORM, CONFIG, today=TODAY).problems == []


def test_a_wrong_given_value_stays_wrong() -> None:
    values = sample_values(FORM, Period.parse("2024-H1"), "LT1", given={"members_end": 1})
    result = check_content(workbook(values), FORM, CONFIG, today=TODAY)
    assert values["members_end"] == 1
    assert "members_balance" in {p.rule for p in result.problems}


def test_same_seed_same_return_other_seed_other_return() -> None:
    period = Period.parse("2024-H1")
    assert sample_values(FORM, period, "LT1", seed=3) == sample_values(FORM, period, "LT1", seed=3)
    assert sample_values(FORM, period, "LT1", seed=3) != sample_values(FORM, period, "LT1", seed=4)


def test_a_real_workbook_of_a_sample_is_accepted(tmp_path: Path) -> None:
    branch = CONFIG.branches[0]
    for code in ("2024", "2024-Q2"):
        period = Period.parse(code)
        values = sample_values(FORM, period, branch.code)
        path = write_blank_form(FORM, CONFIG, branch, period, tmp_path / f"{code}.xlsx", values)
        result = check_content(read_workbook(path), FORM, CONFIG, today=TODAY)
        assert result.problems == [], [p.describe() for p in result.problems]


def test_another_form_with_rules_of_its_own(tmp_path: Path) -> None:
    """A committee whose form adds a field, a balance and a sum bound of its own."""
    text = FORM_PATH.read_text(encoding="utf-8")
    text = text.replace(
        '[[rules]]\nid = "members_balance"',
        """[[rules]]
id = "households_split"
check = "households_supported == poor_supported + houses_built"
message = "Số hộ được hỗ trợ phải bằng hộ nghèo được hỗ trợ cộng nhà xây mới."

[[rules]]
id = "meetings_bound"
check = "thematic_meetings + houses_repaired <= regular_meetings"
message = "Quá nhiều."

[[rules]]
id = "members_balance\"""",
        1,
    )
    text += """
[[sections]]
id = "extra"
title = "V. KHÁC"

[[sections.fields]]
id = "poor_supported"
label = "Hộ nghèo được hỗ trợ"
unit = "hộ"
type = "count"
"""
    path = tmp_path / "form.toml"
    path.write_text(text, encoding="utf-8")
    form = load_form(path)
    assert {"households_split", "meetings_bound"} <= {r.id for r in form.rules}
    refs = {fid: f"C{row}" for row, fid in enumerate(form.fields, start=10)}
    for seed in range(50):
        values = sample_values(form, Period.parse("2024"), "LT1", seed=seed)
        cells = {fid: Cell(form.sheet, refs[fid], value) for fid, value in values.items()}
        book = Workbook([form.sheet], cells, {}, {form.sheet: {c.ref: c for c in cells.values()}})
        assert check_content(book, form, CONFIG, today=TODAY).problems == [], seed
        assert values["households_supported"] == values["poor_supported"] + values["houses_built"]
