"""A problem found in a return: where it is, what was found, what to do, in Vietnamese."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

__all__ = ["Level", "Problem"]


class Level(StrEnum):
    """An error sends the return back; a warning lets it be counted, with a note."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """One thing the branch must fix (``error``) or should look at (``warning``).

    ``sheet`` and ``cell`` are where the value is in the branch's own workbook (None for a
    problem of the whole file); ``message`` is a complete Vietnamese sentence that says what is
    expected and what to do.
    """

    level: Level
    message: str
    field_id: str | None = None
    label: str | None = None
    sheet: str | None = None
    cell: str | None = None
    found: str | None = None
    rule: str | None = None

    @property
    def is_error(self) -> bool:
        return self.level == Level.ERROR

    @property
    def level_label(self) -> str:
        return "Lỗi" if self.is_error else "Cảnh báo"

    @property
    def location(self) -> str:
        """``Trang «Báo cáo», ô C12`` or an empty string for a whole-file problem."""
        parts = []
        if self.sheet:
            parts.append(f"trang «{self.sheet}»")
        if self.cell:
            parts.append(f"ô {self.cell}")
        return ", ".join(parts)

    def describe(self) -> str:
        """One line for a terminal, a log or a text file."""
        head = self.level_label
        if self.location:
            head += f" ({self.location})"
        if self.label:
            head += f" «{self.label}»"
        return f"{head}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Problem:
        return cls(
            level=Level(data["level"]),
            message=str(data["message"]),
            field_id=data.get("field_id"),
            label=data.get("label"),
            sheet=data.get("sheet"),
            cell=data.get("cell"),
            found=data.get("found"),
            rule=data.get("rule"),
        )
