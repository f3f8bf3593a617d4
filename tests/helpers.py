"""Helpers for the unit tests of periods, values, config, form and checks.

Everything here is plain functions and module constants (no fixtures), so hypothesis tests can
use them without function-scoped fixtures.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tonghop.config import Config, load_config
from tonghop.form import FormSpec, load_form
from tonghop.intake.reader import Cell, Workbook
from tonghop.intake.values import coerce
from tonghop.periods import Period
from tonghop.samples import sample_values

ROOT = Path(__file__).resolve().parent.parent
FORM_PATH = ROOT / "templates" / "form.toml"
CONFIG_PATH = ROOT / "tonghop.toml"

FORM: FormSpec = load_form(FORM_PATH)
CONFIG: Config = load_config(CONFIG_PATH)
SHEET = FORM.sheet

# Vietnamese letters with diacritics (and đ): a message containing one is Vietnamese text.
VIETNAMESE = re.compile(r"[àáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđ]")

INCREASES = ("admitted", "restored", "transferred_in")
DECREASES = ("deceased", "expelled", "struck_off", "resigned", "transferred_out")
RATINGS = ("rated_excellent", "rated_good", "rated_completed", "rated_failed")

# Each field's value cell in the workbooks built by ``workbook``: column C, one row per field.
REFS: dict[str, str] = {fid: f"C{row}" for row, fid in enumerate(FORM.fields, start=10)}


def is_vietnamese(text: str) -> bool:
    return bool(VIETNAMESE.search(text.lower()))


def balance(values: dict[str, Any]) -> int:
    """members_start + increases - decreases, written out on its own: the oracle the tests of
    the members_balance rule check the form against (the factory solves the rule itself).
    Numbers typed as text count, missing ones are 0."""

    def number(fid: str) -> int:
        return coerce(FORM.field(fid), values.get(fid)) or 0

    return (
        number("members_start")
        + sum(number(f) for f in INCREASES)
        - sum(number(f) for f in DECREASES)
    )


def good_values(period: Period | str = "2024-H1", **changes: Any) -> dict[str, Any]:
    """A return of LT1 that passes every rule, made by the one factory (tonghop.samples) from
    the numbers below; ``changes`` are kept as given, members_end follows the form's rules."""
    period = Period.parse(period)
    values: dict[str, Any] = {
        "branch_code": "LT1",
        "period": period.code,
        "prepared_by": "Nguyễn Văn An",
        "prepared_on": "05/07/2024",
        "members_start": 30,
        "admitted": 2,
        "restored": 0,
        "transferred_in": 1,
        "deceased": 1,
        "expelled": 0,
        "struck_off": 0,
        "resigned": 0,
        "transferred_out": 1,
        "probationary": 3,
        "confirmed": 1,
        "women": 10,
        "exempt": 2,
        "candidates": 4,
        "badges": 1,
        "commitments": 25,
        "study_attendance": 28,
        "regular_meetings": 6,
        "thematic_meetings": 2,
        "inspections_received": 1,
        "members_supervised": 3,
        "branch_violation_checks": 0,
        "member_violation_checks": 0,
        "disciplined": 0,
        "houses_built": 1,
        "houses_repaired": 2,
        "funds_mobilized": 150_000_000,
        "households_supported": 12,
        "highlights": "Chi bộ duy trì sinh hoạt đều đặn.",
        "shortcomings": "Một số đảng viên lớn tuổi ít tham gia.",
        "proposals": "",
        "next_tasks": "Tiếp tục bồi dưỡng quần chúng ưu tú.",
    }
    if period.kind.value == "year":
        values |= {
            "rated_excellent": 5,
            "rated_good": 20,
            "rated_completed": 4,
            "rated_failed": 1,
            "branch_rating": "HTTNV",
        }
    return sample_values(FORM, period, values["branch_code"], start=values, given=changes)


def cell(field_id: str, value: Any = None, **kwargs: Any) -> Cell:
    """The value cell of ``field_id`` as ``workbook`` lays it out."""
    return Cell(SHEET, REFS[field_id], value, **kwargs)


def workbook(values: dict[str, Any], *, by_names: bool = True, **cells: Cell) -> Workbook:
    """A Workbook as the reader returns it: each field of ``values`` in its cell of column C,
    reachable through a defined name (or, with ``by_names=False``, through column A ids).
    ``cells`` replaces whole cells (formulas, error values)."""
    found: dict[str, Cell] = {fid: cell(fid, value) for fid, value in values.items() if fid in REFS}
    found.update(cells)
    sheet_cells = {c.ref: c for c in found.values()}
    return Workbook(
        sheet_names=[SHEET],
        names=dict(found) if by_names else {},
        id_rows={} if by_names else dict(found),
        cells={SHEET: sheet_cells},
    )


def problems_of(result: Any, *, rule: str | None = None, field: str | None = None) -> list[Any]:
    return [
        p
        for p in result.problems
        if (rule is None or p.rule == rule) and (field is None or p.field_id == field)
    ]
