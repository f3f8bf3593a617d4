"""Checking a read return against the form: every problem at once, each saying where and what."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tonghop.config import Config, normalize_code
from tonghop.errors import PeriodError, ValueProblem
from tonghop.form import FORM_PERIOD_NAME, IDENTITY_FIELDS, Field, FormSpec, Rule
from tonghop.intake.reader import Cell, Unreadable, Workbook, read_workbook
from tonghop.intake.values import coerce, reading_warning
from tonghop.periods import Period
from tonghop.problems import Level, Problem

__all__ = [
    "CheckResult",
    "check_against_previous",
    "check_content",
    "check_workbook",
    "read_and_check",
]

# A return for a period further than this from the committee's term is a typing slip (1900,
# 2999): refused, so it never reaches the ledger, the status pages or the reports.
TERM_MARGIN_YEARS = 5

# Given a branch code and a period, the values of that branch's return for the period just
# before, when one is on file (with its period code under "period"), else None.
PreviousLookup = Callable[[str, Period], dict[str, Any] | None]


@dataclass
class CheckResult:
    """What a return says and what is wrong with it."""

    branch_code: str | None = None
    period: Period | None = None
    values: dict[str, Any] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    cells: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if not p.is_error]

    @property
    def accepted(self) -> bool:
        return not self.errors


def check_workbook(
    workbook: Workbook,
    form: FormSpec,
    config: Config,
    *,
    today: dt.date,
    previous: PreviousLookup | None = None,
) -> CheckResult:
    """Check one read workbook. Never raises for bad content: it becomes a Problem."""
    result = check_content(workbook, form, config, today=today)
    if previous is not None and result.period is not None and result.branch_code is not None:
        check_against_previous(result, form, previous(result.branch_code, result.period))
    return result


def check_against_previous(
    result: CheckResult, form: FormSpec, previous: dict[str, Any] | None
) -> None:
    """Run the rules that compare with the branch's previous return (e.g. continuity).

    Split from check_content so that the content can be checked in another process while
    the ledger, which knows the previous return, stays in this one.
    """
    if result.period is None or previous is None:
        return
    _run_rules(result, form, previous, uses_previous=True)
    result.problems.sort(key=_reading_order)


def check_content(
    workbook: Workbook, form: FormSpec, config: Config, *, today: dt.date
) -> CheckResult:
    """Every check that needs only the workbook (rules about ``previous`` see none)."""
    result = CheckResult()
    located = {fid: _locate(workbook, fid) for fid in form.fields}
    for fid, cell in located.items():
        if cell is not None:
            result.cells[fid] = (cell.sheet, cell.ref)

    if sum(cell is not None for cell in located.values()) == 0:
        result.problems.append(
            Problem(
                Level.ERROR,
                "Tệp không phải biểu mẫu báo cáo của Đảng ủy (không tìm thấy ô nào của biểu mẫu). "
                "Hãy dùng đúng tệp biểu mẫu Văn phòng Đảng ủy đã gửi, điền vào đó rồi gửi lại.",
            )
        )
        return result

    _check_identity(result, located, form, config, today)
    _check_form_period(result, workbook, form, located.get("period"))
    kind = result.period.kind if result.period else None

    for fid, fld in form.fields.items():
        if fid in IDENTITY_FIELDS:
            continue
        if kind is not None and not fld.asked_in(kind):
            continue
        # Without a usable period, a field asked only in some kinds of period (the year's
        # ratings) cannot be demanded: a half-year form rightly lacks those cells.
        required = fld.required and (
            kind is not None or all(fld.asked_in(k) for k in form.period_kinds)
        )
        _read_field(result, fld, located.get(fid), required=required)

    if result.period is not None:
        _run_rules(result, form, None, uses_previous=False)
    result.problems.sort(key=_reading_order)
    return result


def _check_form_period(
    result: CheckResult, workbook: Workbook, form: FormSpec, cell: Cell | None
) -> None:
    """A warning when the period cell names another period than the one the form was made
    for (a Q3 form with «2026-Q2» typed in): it is taken for the period it says, but the
    branch and the office should know."""
    made = workbook.names.get(FORM_PERIOD_NAME)
    if made is None or result.period is None or not isinstance(made.value, str):
        return
    try:
        made_for = Period.parse(made.value)
    except PeriodError:
        return
    if made_for == result.period:
        return
    result.problems.append(
        _problem(
            Level.WARNING,
            f"Biểu mẫu này được lập cho {made_for.label} nhưng ô Kỳ báo cáo ghi "
            f"{result.period.label}; báo cáo được tính cho {result.period.label}. Nếu đây là "
            f"báo cáo {made_for.label}, hãy sửa ô Kỳ báo cáo thành {made_for.code} rồi gửi lại.",
            form.fields.get("period"),
            cell,
        )
    )


def _reading_order(problem: Problem) -> tuple[int, int, str]:
    """Whole-file problems first, then cell by cell down the sheet, as the branch reads it."""
    if not problem.cell:
        return (0, 0, "")
    digits = "".join(ch for ch in problem.cell if ch.isdigit())
    letters = "".join(ch for ch in problem.cell if ch.isalpha())
    return (1, int(digits or 0), letters.rjust(3))


def _locate(workbook: Workbook, field_id: str) -> Cell | None:
    return workbook.names.get(field_id) or workbook.id_rows.get(field_id)


def _problem(
    level: Level, message: str, fld: Field | None, cell: Cell | None, found: Any = None
) -> Problem:
    return Problem(
        level=level,
        message=message,
        field_id=fld.id if fld else None,
        label=fld.label if fld else None,
        sheet=cell.sheet if cell else None,
        cell=cell.ref if cell else None,
        found=None if found is None else str(found)[:200],
    )


_UNUSABLE = object()


def _raw_value(result: CheckResult, fld: Field, cell: Cell | None, required: bool) -> Any:
    """The cell's raw content, or ``_UNUSABLE`` (with any problem recorded) when there is none."""
    if cell is None:
        if required:
            result.problems.append(
                _problem(
                    Level.ERROR,
                    f"Không tìm thấy ô «{fld.label}» trong tệp. Có thể tệp không theo đúng biểu "
                    "mẫu hoặc đã bị xóa dòng. Hãy điền vào biểu mẫu mới nhất Văn phòng Đảng ủy gửi.",
                    fld,
                    None,
                )
            )
        return _UNUSABLE
    if cell.formula is not None and not cell.has_cached_value:
        result.problems.append(
            _problem(
                Level.ERROR,
                f"Ô {cell.ref} có công thức ={cell.formula} nhưng chưa có kết quả tính sẵn. "
                "Hãy mở tệp bằng Excel hoặc LibreOffice, nhấn Lưu rồi gửi lại; hoặc gõ thẳng số.",
                fld,
                cell,
            )
        )
        return _UNUSABLE
    if cell.is_error:
        result.problems.append(
            _problem(
                Level.ERROR,
                f"Ô {cell.ref} đang báo lỗi {cell.value}. Hãy sửa công thức hoặc gõ thẳng số.",
                fld,
                cell,
                cell.value,
            )
        )
        return _UNUSABLE
    return cell.value


def _read_field(result: CheckResult, fld: Field, cell: Cell | None, *, required: bool) -> None:
    raw = _raw_value(result, fld, cell, required)
    if raw is _UNUSABLE:
        return
    try:
        value = coerce(fld, raw)
    except ValueProblem as exc:
        result.problems.append(_problem(Level.ERROR, str(exc), fld, cell, raw))
        return
    if (warning := reading_warning(fld, raw, cell.ref if cell else None)) is not None:
        result.problems.append(_problem(Level.WARNING, warning, fld, cell, raw))
    if value is None and required:
        result.problems.append(
            _problem(
                Level.ERROR,
                f"Chưa điền «{fld.label}». Ô này bắt buộc; nếu không có, ghi 0.",
                fld,
                cell,
            )
            if fld.is_number
            else _problem(Level.ERROR, f"Chưa điền «{fld.label}». Ô này bắt buộc.", fld, cell)
        )
    result.values[fld.id] = value


def _check_identity(
    result: CheckResult,
    located: dict[str, Cell | None],
    form: FormSpec,
    config: Config,
    today: dt.date,
) -> None:
    code_field = form.field("branch_code")
    code_raw = _raw_value(result, code_field, located["branch_code"], True)
    if code_raw is _UNUSABLE:
        pass
    elif code_raw is not None and str(code_raw).strip():
        code = normalize_code(str(code_raw))
        branch = config.branch(code)
        if branch is None:
            known = ", ".join(b.code for b in config.branches[:40])
            result.problems.append(
                _problem(
                    Level.ERROR,
                    f"Mã chi bộ «{code}» không có trong danh sách của Đảng ủy ({known}). "
                    "Hãy dùng biểu mẫu đúng của chi bộ mình hoặc hỏi Văn phòng Đảng ủy.",
                    code_field,
                    located["branch_code"],
                    code_raw,
                )
            )
        else:
            result.branch_code = branch.code
        result.values["branch_code"] = code
    else:
        result.problems.append(
            _problem(
                Level.ERROR,
                "Chưa có mã chi bộ. Hãy dùng biểu mẫu Văn phòng Đảng ủy gửi.",
                code_field,
                located["branch_code"],
            )
        )

    period_field = form.field("period")
    cell = located["period"]
    period_raw = _raw_value(result, period_field, cell, True)
    if period_raw is _UNUSABLE:
        return
    if period_raw is None or not str(period_raw).strip():
        result.problems.append(
            _problem(
                Level.ERROR,
                "Chưa có kỳ báo cáo (ví dụ 2024-H1). Hãy dùng biểu mẫu của kỳ này.",
                period_field,
                cell,
            )
        )
        return
    try:
        period = Period.parse(str(period_raw))
    except PeriodError as exc:
        result.problems.append(_problem(Level.ERROR, str(exc), period_field, cell, period_raw))
        return
    result.values["period"] = period.code
    if period.kind not in form.period_kinds:
        result.problems.append(
            _problem(
                Level.ERROR,
                f"Biểu mẫu không có kỳ báo cáo {period.kind.label} ({period.code}). "
                "Hãy dùng biểu mẫu đúng kỳ Văn phòng Đảng ủy gửi.",
                period_field,
                cell,
                period_raw,
            )
        )
        return
    first, last = config.committee.term_years
    if not first - TERM_MARGIN_YEARS <= period.year <= last + TERM_MARGIN_YEARS:
        result.problems.append(
            _problem(
                Level.ERROR,
                f"Kỳ báo cáo {period.code} ({period.label}) quá xa nhiệm kỳ {first}-{last} của "
                f"Đảng ủy; chỉ nhận các kỳ từ năm {first - TERM_MARGIN_YEARS} đến năm "
                f"{last + TERM_MARGIN_YEARS}. Hãy sửa năm ở ô kỳ báo cáo (ví dụ {first + 1}-H1) "
                "hoặc dùng biểu mẫu đúng kỳ Văn phòng Đảng ủy gửi.",
                period_field,
                cell,
                period_raw,
            )
        )
        return
    if not period.has_ended(today):
        result.problems.append(
            _problem(
                Level.ERROR,
                f"Kỳ {period.label} chưa kết thúc (kết thúc ngày {period.end:%d/%m/%Y}). "
                "Hãy gửi báo cáo sau khi hết kỳ.",
                period_field,
                cell,
                period_raw,
            )
        )
    result.period = period


def _run_rules(
    result: CheckResult, form: FormSpec, previous: dict[str, Any] | None, *, uses_previous: bool
) -> None:
    """Run the rules that do (``uses_previous``) or do not mention ``previous``."""
    assert result.period is not None
    kind = result.period.kind
    bad_fields = {p.field_id for p in result.errors if p.field_id}
    scope: dict[str, Any] = {}
    for fid, fld in form.fields.items():
        value = result.values.get(fid)
        scope[fid] = (value if value is not None else 0) if fld.is_number else value
    scope["previous"] = previous
    scope["period_kind"] = kind.value
    for rule in form.rules:
        if ("previous" in rule.names) != uses_previous:
            continue
        fields_used = rule.names - {"previous", "period_kind"}
        if any(not form.field(f).asked_in(kind) for f in fields_used):
            continue
        if fields_used & bad_fields:
            continue  # the field's own problem is already reported; don't pile on
        if _holds(rule, scope):
            continue
        level = rule.level
        message = _describe(rule, scope)
        if not rule.cells:  # a rule over no field (e.g. only period_kind): the whole file
            result.problems.append(Problem(level=level, message=message, rule=rule.id))
        for target in rule.cells:
            sheet_ref = result.cells.get(target)
            fld = form.field(target)
            result.problems.append(
                Problem(
                    level=level,
                    message=message,
                    field_id=target,
                    label=fld.label,
                    sheet=sheet_ref[0] if sheet_ref else None,
                    cell=sheet_ref[1] if sheet_ref else None,
                    found=None if scope.get(target) is None else str(scope[target]),
                    rule=rule.id,
                )
            )


def _holds(rule: Rule, scope: dict[str, Any]) -> bool:
    try:
        return rule.holds(scope)
    except Exception:
        # A rule that cannot be evaluated on this data (e.g. text in arithmetic) is not a
        # failure of the branch's return; the form's author sees it in tests of form.toml.
        return True


def _describe(rule: Rule, scope: dict[str, Any]) -> str:
    try:
        return rule.describe(scope)
    except Exception:
        return rule.message


def read_and_check(
    data: bytes, form: FormSpec, config: Config, today: dt.date
) -> CheckResult | str:
    """The check of one file's bytes, or the Vietnamese reason it cannot be read.

    Any other error is a defect of ours and is raised: the intake records that file as
    ``failed`` (see ``Intake._judge_alone``) and goes on with the others.
    """
    try:
        return check_content(read_workbook(data), form, config, today=today)
    except Unreadable as exc:
        return exc.message
