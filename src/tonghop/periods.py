"""Reporting periods: years, half-years, quarters and months.

A period is written as a short code (``2024``, ``2024-H1``, ``2024-Q3``, ``2024-07``) in
files and on the command line, and displayed in Vietnamese (``6 tháng đầu năm 2024``).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from enum import Enum
from functools import cached_property

from tonghop.errors import PeriodError, UsageError

__all__ = ["Period", "PeriodKind", "parse_date", "roman"]


class PeriodKind(Enum):
    """The four kinds of reporting period, with the number of months each spans."""

    YEAR = "year"
    HALF = "half"
    QUARTER = "quarter"
    MONTH = "month"

    @property
    def months(self) -> int:
        return {"year": 12, "half": 6, "quarter": 3, "month": 1}[self.value]

    @property
    def label(self) -> str:
        """Vietnamese name of the kind, as used in messages ("năm", "6 tháng", ...)."""
        return {"year": "năm", "half": "6 tháng", "quarter": "quý", "month": "tháng"}[self.value]


_ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV"}
_PATTERN = re.compile(
    r"^\s*(?P<year>\d{4})(?:\s*[-/.]\s*(?:(?P<h>[Hh])(?P<hn>[12])|(?P<q>[Qq])(?P<qn>[1-4])"
    r"|(?P<m>\d{1,2})))?\s*$"
)


MIN_YEAR, MAX_YEAR = 1900, 2999  # years a period may be typed with


@dataclass(frozen=True, order=False)
class Period:
    """One reporting period. ``index`` is 1 for a year, 1-2 halves, 1-4 quarters, 1-12 months."""

    year: int
    kind: PeriodKind
    index: int = 1

    def __post_init__(self) -> None:
        # Any year a date can hold with its neighbours: the period before 1900 or after 2999
        # (a report's "same period last year", "next period") always exists. What may be
        # typed is narrower, see ``parse``.
        if not MIN_YEAR - 1 <= self.year <= MAX_YEAR + 1:
            raise PeriodError(f"Năm {self.year} không hợp lệ.")
        limit = 12 // self.kind.months
        if not 1 <= self.index <= limit:
            raise PeriodError(f"Kỳ {self.index} không hợp lệ cho kỳ loại {self.kind.label}.")

    # --- construction -------------------------------------------------------------
    @classmethod
    def parse(cls, text: str | int | Period) -> Period:
        """Parse ``2024``, ``2024-H1``, ``2024-Q3``, ``2024-07`` (case and spacing tolerant)."""
        if isinstance(text, Period):
            return text
        raw = str(text)
        match = _PATTERN.match(raw)
        if not match:
            raise PeriodError(
                f"Không hiểu kỳ báo cáo «{raw.strip()}». Hãy viết theo mẫu: 2024 (năm), "
                "2024-H1 hoặc 2024-H2 (6 tháng), 2024-Q1 đến 2024-Q4 (quý), 2024-01 đến "
                "2024-12 (tháng)."
            )
        year = int(match["year"])
        if not MIN_YEAR <= year <= MAX_YEAR:
            raise PeriodError(f"Năm {year} không hợp lệ.")
        if match["h"]:
            return cls(year, PeriodKind.HALF, int(match["hn"]))
        if match["q"]:
            return cls(year, PeriodKind.QUARTER, int(match["qn"]))
        if match["m"]:
            month = int(match["m"])
            if not 1 <= month <= 12:
                raise PeriodError(f"Tháng {month} không hợp lệ trong kỳ «{raw.strip()}».")
            return cls(year, PeriodKind.MONTH, month)
        return cls(year, PeriodKind.YEAR, 1)

    @classmethod
    def from_months(cls, year: int, first_month: int, months: int) -> Period:
        """The period of ``months`` months starting at ``first_month`` (must be aligned)."""
        kind = {
            12: PeriodKind.YEAR,
            6: PeriodKind.HALF,
            3: PeriodKind.QUARTER,
            1: PeriodKind.MONTH,
        }[months]
        if (first_month - 1) % months:
            raise PeriodError(f"Tháng {first_month} không phải đầu một kỳ {kind.label}.")
        return cls(year, kind, (first_month - 1) // months + 1)

    # --- identity -------------------------------------------------------------------
    @property
    def code(self) -> str:
        if self.kind is PeriodKind.YEAR:
            return f"{self.year}"
        if self.kind is PeriodKind.HALF:
            return f"{self.year}-H{self.index}"
        if self.kind is PeriodKind.QUARTER:
            return f"{self.year}-Q{self.index}"
        return f"{self.year}-{self.index:02d}"

    def __str__(self) -> str:
        return self.code

    @property
    def label(self) -> str:
        """Vietnamese display: ``năm 2024``, ``6 tháng đầu năm 2024``, ``quý II năm 2024``."""
        if self.kind is PeriodKind.YEAR:
            return f"năm {self.year}"
        if self.kind is PeriodKind.HALF:
            return f"6 tháng {'đầu' if self.index == 1 else 'cuối'} năm {self.year}"
        if self.kind is PeriodKind.QUARTER:
            return f"quý {_ROMAN[self.index]} năm {self.year}"
        return f"tháng {self.index} năm {self.year}"

    # --- calendar -------------------------------------------------------------------
    @cached_property
    def first_month(self) -> int:
        return (self.index - 1) * self.kind.months + 1

    @cached_property
    def last_month(self) -> int:
        return self.first_month + self.kind.months - 1

    @cached_property
    def start(self) -> dt.date:
        return dt.date(self.year, self.first_month, 1)

    @cached_property
    def end(self) -> dt.date:
        last = self.last_month
        return dt.date(self.year, last, calendar.monthrange(self.year, last)[1])

    def months(self) -> list[tuple[int, int]]:
        """The (year, month) pairs this period covers."""
        return [(self.year, m) for m in range(self.first_month, self.last_month + 1)]

    def overlaps(self, other: Period) -> bool:
        return self.start <= other.end and other.start <= self.end

    def has_ended(self, today: dt.date) -> bool:
        return today > self.end

    # --- neighbours -------------------------------------------------------------------
    def next(self) -> Period:
        span = self.kind.months
        first = self.first_month + span
        year = self.year + (first - 1) // 12
        return Period.from_months(year, (first - 1) % 12 + 1, span)

    def previous(self) -> Period:
        span = self.kind.months
        first = self.first_month - span
        year = self.year + (first - 1) // 12
        return Period.from_months(year, (first - 1) % 12 + 1, span)

    def year_earlier(self) -> Period:
        return Period(self.year - 1, self.kind, self.index)

    # --- ordering: by end date, then longer periods first --------------------------------
    def sort_key(self) -> tuple[dt.date, int]:
        return (self.end, -self.kind.months)

    def __lt__(self, other: Period) -> bool:
        return self.sort_key() < other.sort_key()

    def __le__(self, other: Period) -> bool:
        return self.sort_key() <= other.sort_key()

    def __gt__(self, other: Period) -> bool:
        return self.sort_key() > other.sort_key()

    def __ge__(self, other: Period) -> bool:
        return self.sort_key() >= other.sort_key()


def local_now() -> dt.datetime:
    """The workspace clock by default: local time to the second, as the ledger records it."""
    return dt.datetime.now().replace(microsecond=0)


def roman(number: int) -> str:
    """Roman numeral for 1..39, as Party documents use for quarters and section numbers."""
    if not 1 <= number <= 39:
        raise ValueError(number)
    tens, rest = divmod(number, 10)
    units = ["", "I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX"]
    return "X" * tens + units[rest]


def parse_date(text: str) -> dt.date:
    """A date typed on the command line or in a form: 2024-07-10 or 10/07/2024."""
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return dt.datetime.strptime(text.strip(), pattern).date()
        except ValueError:
            continue
    raise UsageError(f"Không hiểu ngày «{text}». Hãy viết dạng 2024-07-10 hoặc 10/07/2024.")
