"""Checking a read return against the form and the committee's configuration."""

from __future__ import annotations

import dataclasses
import datetime as dt
import unicodedata
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tonghop.blank import write_blank_form
from tonghop.form import Rule
from tonghop.intake.checks import CheckResult, check_workbook
from tonghop.intake.reader import Workbook, read_workbook
from tonghop.periods import Period, PeriodKind
from tonghop.problems import Level

from .helpers import (
    CONFIG,
    DECREASES,
    FORM,
    INCREASES,
    RATINGS,
    REFS,
    SHEET,
    balance,
    cell,
    good_values,
    is_vietnamese,
    problems_of,
    workbook,
)

TODAY = dt.date(2025, 3, 1)  # after the end of every period used below


def check(
    values: dict[str, Any],
    *,
    today: dt.date = TODAY,
    previous: Any = None,
    form: Any = FORM,
    **cells: Any,
) -> CheckResult:
    return check_workbook(workbook(values, **cells), form, CONFIG, today=today, previous=previous)


def only(result: CheckResult) -> Any:
    assert len(result.problems) == 1, [p.describe() for p in result.problems]
    problem = result.problems[0]
    assert is_vietnamese(problem.message), problem.message
    return problem


def assert_vietnamese_messages(result: CheckResult) -> None:
    for problem in result.problems:
        assert problem.message.strip()
        assert is_vietnamese(problem.message), problem.message


# --- a good return ------------------------------------------------------------------------------


@pytest.mark.parametrize("period", ["2024-H1", "2024", "2024-Q3", "2024-11"])
def test_good_return_has_no_problem(period: str) -> None:
    values = good_values(period)
    result = check(values)
    assert result.problems == []
    assert result.accepted
    assert result.branch_code == "LT1"
    assert result.period == Period.parse(period)
    assert result.values["members_end"] == values["members_end"]
    assert result.values["prepared_on"] == dt.date(2024, 7, 5)
    assert result.values["period"] == period
    assert result.cells["members_end"] == (SHEET, REFS["members_end"])


def test_year_return_reads_ratings() -> None:
    result = check(good_values("2024", branch_rating=" httnv "))
    assert result.problems == []
    assert result.values["branch_rating"] == "HTTNV"
    assert result.values["rated_good"] == 20


def test_half_year_return_ignores_year_only_cells() -> None:
    values = good_values("2024-H1") | {"rated_good": "nhiều", "branch_rating": "???"}
    result = check(values)
    assert result.problems == []
    assert "rated_good" not in result.values and "branch_rating" not in result.values


def test_return_found_by_column_a_ids_without_defined_names() -> None:
    values = good_values("2024-H1", women=40)
    result = check_workbook(workbook(values, by_names=False), FORM, CONFIG, today=TODAY)
    problem = only(result)
    assert problem.rule == "women_within_members"
    assert problem.cell == REFS["women"]


def test_numbers_typed_as_text_are_accepted() -> None:
    values = good_values(
        "2024-H1",
        members_start="1.030",
        admitted=" 2 ",
        transferred_in="1",
        members_end="1\u00a0031",
        funds_mobilized="150.000.000 đồng",
        prepared_on="16/6/2024",
    )
    result = check(values)
    assert result.problems == []
    assert result.values["members_start"] == 1030
    assert result.values["members_end"] == 1031
    assert result.values["admitted"] == 2
    assert result.values["funds_mobilized"] == 150_000_000
    assert result.values["prepared_on"] == dt.date(2024, 6, 16)


def test_nfd_text_in_narrative_is_normalised() -> None:
    typed = "  Chi bộ đạt danh hiệu trong sạch, vững mạnh  "
    result = check(good_values(highlights=unicodedata.normalize("NFD", typed)))
    assert result.problems == []
    assert result.values["highlights"] == typed.strip()
    assert unicodedata.is_normalized("NFC", result.values["highlights"])


def test_blank_optional_fields_are_none_and_count_as_zero_in_rules() -> None:
    values = good_values("2024-H1")
    for fid in ("restored", "expelled", "struck_off", "resigned", "proposals", "prepared_on"):
        values[fid] = None
    values["members_end"] = balance(values)
    result = check(values)
    assert result.problems == []
    assert result.values["restored"] is None
    assert result.values["proposals"] is None


# --- members_balance ----------------------------------------------------------------------------


@pytest.mark.parametrize("delta", [1, -1, 7])
def test_members_balance_fails_on_members_end(delta: int) -> None:
    values = good_values("2024-H1")
    expected = values["members_end"]
    values["members_end"] = expected + delta
    problem = only(check(values))
    assert (problem.rule, problem.level, problem.field_id) == (
        "members_balance",
        Level.ERROR,
        "members_end",
    )
    assert (problem.sheet, problem.cell) == (SHEET, REFS["members_end"])
    assert problem.found == str(expected + delta)
    assert f"là {expected + delta}" in problem.message
    assert f"ra {expected}." in problem.message


@pytest.mark.parametrize("flow", [*INCREASES, *DECREASES])
def test_members_balance_counts_every_flow(flow: str) -> None:
    values = good_values("2024-H1")
    values[flow] += 1  # members_end is not rebalanced
    problem = only(check(values))
    assert problem.rule == "members_balance"
    sign = 1 if flow in INCREASES else -1
    assert f"ra {values['members_end'] + sign}." in problem.message


def test_members_balance_passes_when_balanced() -> None:
    values = good_values("2024-H1", admitted=5, deceased=2, members_start=40)
    assert values["members_end"] == 40 + 5 + 1 - 2 - 1
    assert check(values).problems == []


# --- the "within members" rules -----------------------------------------------------------------

WITHIN = [
    ("probationary", "probationary_within_members", Level.ERROR, "dự bị"),
    ("women", "women_within_members", Level.ERROR, "nữ"),
    ("exempt", "exempt_within_members", Level.ERROR, "miễn sinh hoạt"),
    ("commitments", "commitments_within_members", Level.ERROR, "cam kết"),
    ("confirmed", "confirmed_within_members", Level.WARNING, "công nhận chính thức"),
]


@pytest.mark.parametrize(("field", "rule", "level", "words"), WITHIN)
def test_within_members_rule_fails(field: str, rule: str, level: str, words: str) -> None:
    values = good_values("2024-H1")
    end = values["members_end"]
    values[field] = end + 3
    result = check(values)
    problem = only(result)
    assert (problem.rule, problem.level, problem.field_id) == (rule, level, field)
    assert (problem.sheet, problem.cell) == (SHEET, REFS[field])
    assert f"({end + 3})" in problem.message and f"({end})" in problem.message
    assert words in problem.message
    assert result.accepted is (level == Level.WARNING)


@pytest.mark.parametrize(("field", "rule", "level", "words"), WITHIN)
def test_within_members_rule_passes_at_the_limit(
    field: str, rule: str, level: str, words: str
) -> None:
    values = good_values("2024-H1")
    values[field] = values["members_end"]
    assert check(values).problems == []


def test_disciplined_warning() -> None:
    values = good_values("2024-H1")
    present = values["members_start"] + sum(values[f] for f in INCREASES)
    values["disciplined"] = present + 1
    result = check(values)
    problem = only(result)
    assert (problem.rule, problem.level, problem.cell) == (
        "disciplined_within_members",
        Level.WARNING,
        REFS["disciplined"],
    )
    assert f"({present + 1})" in problem.message
    assert result.accepted
    values["disciplined"] = present
    assert check(values).problems == []


# --- ratings (year returns only) ----------------------------------------------------------------


def test_ratings_over_members_marks_every_rating_cell() -> None:
    values = good_values("2024")
    end = values["members_end"]
    values["rated_good"] += end  # total now exceeds members_end
    total = sum(values[f] for f in RATINGS)
    result = check(values)
    assert [p.field_id for p in result.problems] == list(RATINGS)
    for problem, fid in zip(result.problems, RATINGS, strict=True):
        assert problem.rule == "ratings_within_members"
        assert problem.level == Level.ERROR
        assert problem.cell == REFS[fid]
        assert f"({total})" in problem.message and f"({end})" in problem.message
    assert not result.accepted


def test_ratings_equal_to_members_pass() -> None:
    values = good_values("2024")
    values["rated_failed"] = values["members_end"] - sum(values[f] for f in RATINGS[:3])
    assert check(values).problems == []


def test_ratings_rule_skipped_outside_year_returns() -> None:
    values = good_values("2024-H2") | {f: 999 for f in RATINGS}
    assert check(values).problems == []


def test_year_return_without_branch_rating() -> None:
    values = good_values("2024", branch_rating=None)
    problem = only(check(values))
    assert (problem.field_id, problem.level, problem.cell) == (
        "branch_rating",
        Level.ERROR,
        REFS["branch_rating"],
    )
    assert "Chưa điền" in problem.message


def test_branch_rating_not_a_choice() -> None:
    problem = only(check(good_values("2024", branch_rating="Tốt")))
    assert problem.field_id == "branch_rating"
    assert "HTXSNV" in problem.message and "«Tốt»" in problem.message


# --- continuity ---------------------------------------------------------------------------------


class Lookup:
    def __init__(self, answer: dict[str, Any] | None) -> None:
        self.answer = answer
        self.calls: list[tuple[str, Period]] = []

    def __call__(self, code: str, period: Period) -> dict[str, Any] | None:
        self.calls.append((code, period))
        return self.answer


def test_continuity_warns_when_previous_end_differs() -> None:
    lookup = Lookup({"members_end": 28, "period": "2023-H2"})
    values = good_values("2024-H1")
    result = check(values, previous=lookup)
    assert lookup.calls == [("LT1", Period.parse("2024-H1"))]
    problem = only(result)
    assert (problem.rule, problem.level, problem.field_id, problem.cell) == (
        "continuity",
        Level.WARNING,
        "members_start",
        REFS["members_start"],
    )
    assert "(30)" in problem.message and "28" in problem.message and "2023-H2" in problem.message
    assert result.accepted


@pytest.mark.parametrize(
    "answer", [{"members_end": 30, "period": "2023-H2"}, None, {"period": "2023-H2"}]
)
def test_continuity_quiet_when_equal_or_unknown(answer: dict[str, Any] | None) -> None:
    lookup = Lookup(answer)
    assert check(good_values("2024-H1"), previous=lookup).problems == []
    assert len(lookup.calls) == 1


def test_no_lookup_given() -> None:
    assert check(good_values("2024-H1"), previous=None).problems == []


# --- identity -----------------------------------------------------------------------------------


def test_unknown_branch_code() -> None:
    lookup = Lookup({"members_end": 1, "period": "2023-H2"})
    result = check(good_values(branch_code="xx 9"), previous=lookup)
    problem = only(result)
    assert (problem.field_id, problem.level, problem.cell) == (
        "branch_code",
        Level.ERROR,
        REFS["branch_code"],
    )
    assert "«XX9»" in problem.message and "LT1" in problem.message
    assert result.branch_code is None
    assert lookup.calls == []  # no previous return of an unknown branch


def test_branch_code_case_and_spaces() -> None:
    result = check(good_values(branch_code=" lt 1 "))
    assert result.problems == []
    assert result.branch_code == "LT1"


def test_missing_branch_code() -> None:
    problem = only(check(good_values(branch_code="  ")))
    assert problem.field_id == "branch_code" and problem.cell == REFS["branch_code"]


def test_period_not_in_form() -> None:
    form = dataclasses.replace(FORM, period_kinds=(PeriodKind.YEAR, PeriodKind.HALF))
    values = good_values("2024-07", women=999)  # the rule problem is not reported
    result = check(values, form=form)
    problem = only(result)
    assert (problem.field_id, problem.cell) == ("period", REFS["period"])
    assert "tháng" in problem.message and "2024-07" in problem.message
    assert result.period is None


def test_period_not_yet_ended() -> None:
    values = good_values("2024-H1")
    result = check(values, today=dt.date(2024, 6, 30))
    problem = only(result)
    assert (problem.field_id, problem.level, problem.cell) == (
        "period",
        Level.ERROR,
        REFS["period"],
    )
    assert "30/06/2024" in problem.message and "6 tháng đầu năm 2024" in problem.message
    assert check(values, today=dt.date(2024, 7, 1)).problems == []


def test_period_not_ended_still_checks_the_rest() -> None:
    values = good_values("2024-H1", women=100)
    result = check(values, today=dt.date(2024, 6, 1))
    assert {p.field_id for p in result.problems} == {"period", "women"}


@pytest.mark.parametrize("text", ["2024-H3", "nửa năm", "2024-13"])
def test_bad_period(text: str) -> None:
    result = check(good_values("2024-H1") | {"period": text})
    problem = only(result)
    assert (problem.field_id, problem.cell, problem.found) == ("period", REFS["period"], text)
    assert result.period is None


def test_lower_case_period_is_read() -> None:
    result = check(good_values("2024-H1") | {"period": " 2024-h1 "})
    assert result.problems == []
    assert result.values["period"] == "2024-H1"


def test_missing_period() -> None:
    problem = only(check(good_values() | {"period": None}))
    assert problem.field_id == "period" and "Chưa có kỳ báo cáo" in problem.message


def test_not_a_form_at_all() -> None:
    empty = Workbook(sheet_names=["Sheet1"], names={}, id_rows={}, cells={})
    result = check_workbook(empty, FORM, CONFIG, today=TODAY)
    problem = only(result)
    assert problem.cell is None and problem.field_id is None
    assert not result.accepted


# --- cell contents ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "raw", "needle"),
    [
        ("admitted", "1.5", "số nguyên"),
        ("admitted", -2, "không được âm"),
        ("admitted", "hai", "«hai»"),
        ("admitted", True, "đúng/sai"),
        ("women", 2.5, "số nguyên"),
        ("funds_mobilized", -100, "không được âm"),
        ("funds_mobilized", "năm triệu", "«năm triệu»"),
        ("prepared_on", "31/02/2024", "«31/02/2024»"),
    ],
)
def test_bad_cell_value(field: str, raw: Any, needle: str) -> None:
    values = good_values("2024-H1")
    values[field] = raw
    problem = only(check(values))  # no rule piles on a field that already has a problem
    assert (problem.field_id, problem.level, problem.sheet, problem.cell) == (
        field,
        Level.ERROR,
        SHEET,
        REFS[field],
    )
    assert problem.found == str(raw)
    assert needle in problem.message


def test_money_zero_and_fraction() -> None:
    result = check(good_values(funds_mobilized="0"))
    assert result.problems == [] and result.values["funds_mobilized"] == 0
    result = check(good_values(funds_mobilized="1,5"))
    assert result.problems == [] and result.values["funds_mobilized"] == 1.5


def test_missing_required_cell() -> None:
    values = good_values("2024-H1")
    del values["prepared_by"]
    problem = only(check(values))
    assert (problem.field_id, problem.level, problem.cell) == ("prepared_by", Level.ERROR, None)
    assert "Người lập biểu" in problem.message and "Không tìm thấy" in problem.message


def test_missing_optional_cell_is_fine() -> None:
    values = good_values("2024-H1")
    del values["highlights"]
    assert check(values).problems == []


@pytest.mark.parametrize(("field", "hint"), [("admitted", "ghi 0"), ("prepared_by", "bắt buộc")])
def test_blank_required_cell(field: str, hint: str) -> None:
    values = good_values("2024-H1")
    values[field] = None
    if field == "admitted":
        values["members_end"] = balance(values)
    problem = only(check(values))
    assert (problem.field_id, problem.cell) == (field, REFS[field])
    assert "Chưa điền" in problem.message and hint in problem.message


def test_formula_without_cached_value_names_the_cell() -> None:
    ref = REFS["members_end"]
    result = check(
        good_values("2024-H1"),
        members_end=cell("members_end", None, formula="SUM(C16:C19)", has_cached_value=False),
    )
    problem = only(result)
    assert (problem.field_id, problem.level, problem.cell) == ("members_end", Level.ERROR, ref)
    assert f"Ô {ref}" in problem.message and "=SUM(C16:C19)" in problem.message


def test_formula_with_cached_value_is_used() -> None:
    values = good_values("2024-H1")
    end = values["members_end"]
    result = check(values, members_end=cell("members_end", end, formula="C16+C17"))
    assert result.problems == []
    assert result.values["members_end"] == end


def test_error_cell_is_reported() -> None:
    ref = REFS["women"]
    result = check(
        good_values("2024-H1"), women=cell("women", "#DIV/0!", formula="C20/0", is_error=True)
    )
    problem = only(result)
    assert (problem.field_id, problem.cell, problem.found) == ("women", ref, "#DIV/0!")
    assert "#DIV/0!" in problem.message and ref in problem.message


def test_every_problem_of_a_file_is_reported_at_once() -> None:
    values = good_values("2024-H1", admitted="ba", women=500, funds_mobilized=-1, members_end=31)
    result = check(values)
    assert len(result.problems) == 3
    by_field = {p.field_id: p for p in result.problems}
    assert set(by_field) == {"admitted", "women", "funds_mobilized"}
    assert by_field["women"].rule == "women_within_members"
    assert by_field["admitted"].rule is None
    assert_vietnamese_messages(result)


def test_many_problems_together() -> None:
    values = good_values("2024", branch_code="ZZ", women=500, rated_good=500, badges=-1)
    values["members_end"] += 1
    del values["prepared_by"]
    result = check(values, today=dt.date(2024, 12, 31))
    fields = [p.field_id for p in result.problems]
    assert fields.count("rated_good") == 1
    assert {"branch_code", "period", "prepared_by", "badges", "members_end", "women"} <= set(fields)
    assert len(result.errors) == len(result.problems)
    assert_vietnamese_messages(result)


# --- rules with unusual shapes ------------------------------------------------------------------


def test_rule_over_no_field_reports_a_whole_file_problem() -> None:
    rule = Rule(
        "no_months",
        "error",
        "period_kind != 'month'",
        "Không nhận báo cáo tháng.",
        (),
        frozenset({"period_kind"}),
    )
    form = dataclasses.replace(FORM, rules=(*FORM.rules, rule))
    problem = only(check(good_values("2024-07"), form=form))
    assert (problem.rule, problem.cell, problem.field_id) == ("no_months", None, None)
    assert problem.message == "Không nhận báo cáo tháng."
    assert check(good_values("2024-Q3"), form=form).problems == []


def test_rule_that_cannot_be_evaluated_on_the_data_is_skipped() -> None:
    rule = Rule(
        "ratio",
        "error",
        "women / members_end < 2",
        "Tỉ lệ sai.",
        ("women",),
        frozenset({"women", "members_end"}),
    )
    form = dataclasses.replace(FORM, rules=(rule,))
    zeros = ["members_start", "admitted", "transferred_in", "deceased", "transferred_out"]
    zeros += ["women", "probationary", "exempt", "commitments", "confirmed"]
    values = good_values("2024-H1", **dict.fromkeys(zeros, 0))
    assert values["members_end"] == 0
    assert check(values, form=form).problems == []  # ZeroDivisionError is not the branch's fault


# --- real files ---------------------------------------------------------------------------------


def write_return(path: Path, period: str, values: dict[str, Any]) -> Path:
    branch = CONFIG.branch(values.get("branch_code", "LT1"))
    assert branch is not None
    return write_blank_form(FORM, CONFIG, branch, Period.parse(period), path, prefill=values)


def test_real_file_good_return(tmp_path: Path) -> None:
    path = write_return(tmp_path / "lt1.xlsx", "2024-H1", good_values("2024-H1"))
    result = check_workbook(read_workbook(path), FORM, CONFIG, today=dt.date(2024, 7, 5))
    assert result.problems == []
    assert result.branch_code == "LT1" and result.period == Period.parse("2024-H1")
    assert result.values["members_end"] == 31


def test_real_year_file_with_text_numbers_and_nfd(tmp_path: Path) -> None:
    values = good_values(
        "2024",
        members_start="30",
        admitted="2",
        funds_mobilized="8.860.000.000",
        branch_rating="htxsnv",
        next_tasks=unicodedata.normalize("NFD", " Củng cố tổ chức đảng "),
    )
    path = write_return(tmp_path / "lt1-2024.xlsx", "2024", values)
    result = check_workbook(read_workbook(path), FORM, CONFIG, today=dt.date(2025, 1, 10))
    assert result.problems == []
    assert result.values["funds_mobilized"] == 8_860_000_000
    assert result.values["branch_rating"] == "HTXSNV"
    assert result.values["next_tasks"] == "Củng cố tổ chức đảng"


def test_real_file_with_three_problems(tmp_path: Path) -> None:
    values = good_values("2024-H1", admitted="1.5", women=99, funds_mobilized=-5, members_end=31)
    path = write_return(tmp_path / "bad.xlsx", "2024-H1", values)
    workbook_read = read_workbook(path)
    result = check_workbook(workbook_read, FORM, CONFIG, today=dt.date(2024, 7, 5))
    assert sorted(p.field_id for p in result.problems) == ["admitted", "funds_mobilized", "women"]
    for problem in result.problems:
        assert problem.sheet == SHEET
        assert problem.cell == workbook_read.names[problem.field_id].ref
        assert problem.level == Level.ERROR


def test_real_file_formula_and_error_cells(tmp_path: Path) -> None:
    path = write_return(tmp_path / "f.xlsx", "2024-H1", good_values("2024-H1"))
    book = openpyxl.load_workbook(path)
    sheet = book[SHEET]

    def ref_of(name: str) -> str:
        return next(iter(book.defined_names[name].destinations))[1].replace("$", "")

    women_ref, exempt_ref = ref_of("women"), ref_of("exempt")
    sheet[women_ref] = "=C20/0"  # openpyxl writes no cached value
    sheet[exempt_ref] = "#DIV/0!"  # stored as an error value
    book.save(path)
    result = check_workbook(read_workbook(path), FORM, CONFIG, today=dt.date(2024, 7, 5))
    by_field = {p.field_id: p for p in result.problems}
    assert set(by_field) == {"women", "exempt"}
    assert by_field["women"].cell == women_ref
    assert f"Ô {women_ref}" in by_field["women"].message and "=C20/0" in by_field["women"].message
    assert by_field["exempt"].cell == exempt_ref and "#DIV/0!" in by_field["exempt"].message


def test_real_file_not_yet_ended(tmp_path: Path) -> None:
    path = write_return(tmp_path / "early.xlsx", "2024-H2", good_values("2024-H2"))
    result = check_workbook(read_workbook(path), FORM, CONFIG, today=dt.date(2024, 12, 31))
    problem = only(result)
    assert problem.field_id == "period" and "31/12/2024" in problem.message


# --- properties ---------------------------------------------------------------------------------

counts = st.integers(min_value=0, max_value=500)


def as_typed(draw: st.DrawFn, n: int) -> Any:
    """A count the way a branch might type it: a number, or text with dot thousands."""
    return draw(st.sampled_from([n, str(n), f"{n:,}".replace(",", "."), f" {n} "]))


@st.composite
def flows(draw: st.DrawFn) -> dict[str, Any]:
    values: dict[str, int] = {"members_start": draw(st.integers(0, 5000))}
    for fid in INCREASES:
        values[fid] = draw(counts)
    available = values["members_start"] + sum(values[f] for f in INCREASES)
    for fid in DECREASES:
        values[fid] = draw(st.integers(0, available))
        available -= values[fid]
    return values


def typed_return(draw: st.DrawFn, numbers: dict[str, int], members_end: int) -> dict[str, Any]:
    values = good_values("2024-H1") | {k: as_typed(draw, v) for k, v in numbers.items()}
    values |= {"probationary": 0, "women": 0, "exempt": 0, "commitments": 0, "confirmed": 0}
    values["members_end"] = as_typed(draw, members_end)
    return values


@given(flows(), st.data())
def test_balanced_flows_never_fire_members_balance(numbers: dict[str, int], data: Any) -> None:
    end = balance(numbers)
    assert end >= 0
    result = check(typed_return(data.draw, numbers, end))
    assert problems_of(result, rule="members_balance") == []
    assert result.problems == []


@given(flows(), st.integers(-1000, 1000).filter(bool), st.data())
def test_any_imbalance_fires_once_on_members_end(
    numbers: dict[str, int], delta: int, data: Any
) -> None:
    end = balance(numbers)
    wrong = max(0, end + delta)
    if wrong == end:
        wrong = end + 1
    result = check(typed_return(data.draw, numbers, wrong))
    fired = problems_of(result, rule="members_balance")
    assert len(fired) == 1
    problem = fired[0]
    assert (problem.field_id, problem.cell, problem.level) == (
        "members_end",
        REFS["members_end"],
        Level.ERROR,
    )
    assert f"là {wrong}" in problem.message and f"ra {end}." in problem.message
    assert result.problems == fired


def test_unknown_period_still_demands_fields_asked_in_every_period() -> None:
    values = good_values("2024-H1") | {"period": "2024-H9"}
    del values["prepared_by"]
    result = check(values)
    assert sorted(p.field_id for p in result.problems) == ["period", "prepared_by"]
    assert not any(p.field_id in RATINGS for p in result.problems)


# --- numbers that read two ways (the one rule of tonghop.intake.values) ----------------------


def test_a_number_that_reads_two_ways_is_counted_with_a_warning_on_its_cell() -> None:
    result = check(good_values("2024-H1", funds_mobilized="450,000"))
    assert result.accepted
    assert result.values["funds_mobilized"] == 450
    problem = only(result)
    assert problem.level == Level.WARNING
    assert (problem.field_id, problem.sheet, problem.cell) == (
        "funds_mobilized",
        SHEET,
        REFS["funds_mobilized"],
    )
    assert problem.message == (
        f"Ô {REFS['funds_mobilized']} ghi «450,000»: đã hiểu là 450 (dấu phẩy là dấu thập "
        "phân). Nếu là 450.000, hãy ghi 450000 hoặc 450.000."
    )
    assert problem.found == "450,000"


def test_one_thousand_members_typed_with_a_comma_is_one_member_and_a_warning() -> None:
    result = check(good_values("2024-H1", exempt="1,000"))
    assert result.values["exempt"] == 1
    warning = only(result)
    assert warning.level == Level.WARNING and warning.field_id == "exempt"
    assert "đã hiểu là 1 " in warning.message and "hãy ghi 1000 hoặc 1.000" in warning.message


def test_english_grouping_is_an_error_not_a_silent_reading() -> None:
    result = check(good_values("2024-H1", funds_mobilized="8,860,000"))
    problem = only(result)
    assert problem.level == Level.ERROR and problem.field_id == "funds_mobilized"
    assert "hãy ghi 8860000 hoặc 8.860.000" in problem.message


def test_real_file_with_a_number_that_reads_two_ways(tmp_path: Path) -> None:
    values = good_values("2024-H1", funds_mobilized="450,000")
    path = write_return(tmp_path / "lt1.xlsx", "2024-H1", values)
    book = read_workbook(path)
    result = check_workbook(book, FORM, CONFIG, today=dt.date(2024, 7, 5))
    assert result.accepted and result.values["funds_mobilized"] == 450
    problem = only(result)
    assert problem.level == Level.WARNING
    assert problem.cell == book.names["funds_mobilized"].ref
    assert problem.message.startswith(f"Ô {problem.cell} ghi «450,000»: đã hiểu là 450 ")


@pytest.mark.parametrize(("typed", "warned"), [("2024-Q3", False), ("2024-Q2", True)])
def test_a_period_cell_typed_over_with_another_period_is_warned(
    tmp_path: Path, config, form, make_return, typed: str, warned: bool
) -> None:
    path = make_return("LT1", "2024-Q3", folder=tmp_path)
    book = openpyxl.load_workbook(path)
    sheet, ref = next(iter(book.defined_names["period"].destinations))
    book[sheet][ref.replace("$", "")] = typed
    book.save(path)
    result = check_workbook(read_workbook(path), form, config, today=dt.date(2024, 10, 5))
    assert result.period == Period.parse(typed)
    notes = [p for p in result.problems if "được lập cho quý III năm 2024" in p.message]
    assert bool(notes) == warned, result.problems
    if warned:
        assert notes[0].level == Level.WARNING and notes[0].field_id == "period"
        assert notes[0].cell == ref.replace("$", "")
