"""Who has and hasn't reported for a period, as data, text and HTML.

Every expected branch falls in one of three groups (issue 9, item 5):

- ``counted``  («Đã tiếp nhận»): a return of the period is counted;
- ``returned`` («Đã nộp nhưng trả lại để sửa»): the branch sent files for the period but none
  is counted (sent back, unreadable, failed, or taken out by the secretary: the row's own
  label says which);
- ``missing``  («Chưa nộp»): nothing received for the period.

A branch whose only acceptable return arrived after the period was finalized (outcome ``held``)
is in none of them: it has nothing to fix and is not counted, so it is listed apart
(«Đã nhận sau khi chốt, chưa tính»), like the files nobody can place.

«Nộp muộn» counts branches whose file shown (the counted one, else the latest) was received
after the deadline; a branch that has sent nothing is «Chưa nộp», marked «Quá hạn» once the
deadline has passed, and is not counted as late.

Files that cannot be placed are listed beside them with their answer: files of the period that
name no branch of the configuration, and files with no period at all (unreadable, or the
period cell empty). A file without a period cannot be put under one page, so it is shown on the
page of every period that had begun when it arrived: wherever the secretary looks, she sees it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader, select_autoescape

from tonghop.config import Config
from tonghop.ledger import Ledger, Outcome, Submission
from tonghop.periods import Period

if TYPE_CHECKING:
    from rich.console import Console


class Group(StrEnum):
    """The three groups a branch is in for a period (labels in status.html and the CLI)."""

    COUNTED = "counted"
    RETURNED = "returned"
    MISSING = "missing"


GROUP_LABELS = {
    Group.COUNTED: "Đã tiếp nhận",
    Group.RETURNED: "Đã nộp nhưng trả lại để sửa",
    Group.MISSING: "Chưa nộp",
}
HELD_LABEL = "Đã nhận sau khi chốt, chưa tính"


@dataclass
class BranchStatus:
    code: str
    name: str
    received: bool
    outcome: str | None = None  # outcome of the latest file, or "accepted" when one counts
    outcome_label: str = "Chưa nộp"
    received_at: dt.datetime | None = None
    on_time: bool | None = None  # of the file shown; None when nothing was received
    overdue: bool = False  # nothing received and the deadline has passed
    versions: int = 0
    errors: int = 0
    warnings: int = 0
    problems: list[str] = field(default_factory=list)
    feedback: str | None = None
    ref: str | None = None  # «Mã tệp» of the file shown

    @property
    def counted(self) -> bool:
        return self.outcome == Outcome.ACCEPTED

    @property
    def held(self) -> bool:
        """Its file shown is a return held since the period was finalized: nothing to fix."""
        return self.outcome == Outcome.HELD

    @property
    def group(self) -> Group | None:
        """Its group, or None for a held return (listed apart, see the module's docstring)."""
        if self.counted:
            return Group.COUNTED
        if self.held:
            return None
        return Group.RETURNED if self.received else Group.MISSING

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["received_at"] = self.received_at.isoformat() if self.received_at else None
        data["group"] = self.group.value if self.group else "held"
        return data


@dataclass
class UnplacedFile:
    """A received file that names no known branch, or no period, or could not be read."""

    ref: str
    source_name: str
    received_at: dt.datetime
    outcome: str
    outcome_label: str
    reason: str  # why it is not under a branch: Vietnamese, shown as is
    branch_code: str | None = None
    period: str | None = None
    problems: list[str] = field(default_factory=list)
    feedback: str | None = None  # the answer (feedback workbook or note), relative to outbox/

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["received_at"] = self.received_at.isoformat()
        return data


@dataclass
class PeriodStatus:
    period: Period
    deadline: dt.date
    branches: list[BranchStatus]
    generated_at: dt.datetime
    final: bool = False  # the period is finalized («Đã chốt»); else a draft («Dự thảo»)
    notes: list[str] = field(default_factory=list)  # e.g. an edited report kept in place
    unplaced: list[UnplacedFile] = field(default_factory=list)

    @property
    def state_label(self) -> str:
        return "Đã chốt" if self.final else "Dự thảo"

    @property
    def counted(self) -> int:
        return sum(b.counted for b in self.branches)

    def in_group(self, group: Group | str) -> list[BranchStatus]:
        return [b for b in self.branches if b.group == group]

    @property
    def groups(self) -> list[tuple[Group, str, list[BranchStatus]]]:
        """(group, its Vietnamese label, its branches) for the three groups, in order."""
        return [(g, GROUP_LABELS[g], self.in_group(g)) for g in Group]

    @property
    def missing(self) -> list[BranchStatus]:
        """The branches that sent nothing for the period («Chưa nộp»)."""
        return self.in_group(Group.MISSING)

    @property
    def held(self) -> list[BranchStatus]:
        """The branches whose return arrived after finalizing («Đã nhận sau khi chốt»)."""
        return [b for b in self.branches if b.held]

    @property
    def late(self) -> int:
        """Branches whose file shown arrived after the deadline (not those that sent none)."""
        return sum(b.received and b.on_time is False for b in self.branches)

    @property
    def overdue(self) -> int:
        """Branches that have sent nothing although the deadline has passed."""
        return sum(b.overdue for b in self.branches)

    @property
    def returned(self) -> int:
        return len(self.in_group(Group.RETURNED))

    def to_dict(self) -> dict[str, Any]:
        return {
            "period": self.period.code,
            "period_label": self.period.label,
            "deadline": self.deadline.isoformat(),
            "generated_at": self.generated_at.isoformat(),
            "final": self.final,
            "state_label": self.state_label,
            "notes": list(self.notes),
            "expected": len(self.branches),
            "counted": self.counted,
            "returned": self.returned,
            "missing": len(self.missing),
            "late": self.late,
            "overdue": self.overdue,
            "held": [b.code for b in self.held],
            "groups": {g.value: [b.code for b in rows] for g, _, rows in self.groups},
            "branches": [b.to_dict() for b in self.branches],
            "unplaced": [f.to_dict() for f in self.unplaced],
        }


def deadline_of(config: Config, period: Period) -> dt.date:
    return period.end + dt.timedelta(days=config.deadline_days(period.kind))


def _ref(sub: Submission) -> str | None:
    return sub.ref or None


def _unplaced(sub: Submission, reason: str) -> UnplacedFile:
    return UnplacedFile(
        ref=_ref(sub) or "",
        source_name=sub.source_name,
        received_at=sub.received_at,
        outcome=sub.outcome.value,
        outcome_label=sub.outcome_label,
        reason=reason,
        branch_code=sub.branch_code,
        period=sub.period,
        problems=[p.describe() for p in sub.problems],
        feedback=sub.feedback,
    )


def unplaced_files(
    config: Config, ledger: Ledger, period: Period, of_period: list[Submission]
) -> list[UnplacedFile]:
    """The files :class:`PeriodStatus` lists apart: of ``period`` without a known branch, and
    without any period, received since ``period`` began (see the module's docstring)."""
    codes = {b.code for b in config.branches}
    out = []
    for sub in of_period:
        if not sub.branch_code:
            out.append(_unplaced(sub, "Không rõ chi bộ (thiếu mã chi bộ)"))
        elif sub.branch_code not in codes:
            out.append(_unplaced(sub, f"Mã chi bộ «{sub.branch_code}» không có trong danh sách"))
    # Only the few rows without a period are read (received_at is ISO text: it sorts as time).
    rows = ledger.db.execute(
        "SELECT id FROM submissions WHERE period IS NULL AND received_at >= ? ORDER BY id",
        (period.start.isoformat(),),
    ).fetchall()
    for (row_id,) in rows:
        found = ledger.get(row_id)
        if found is None:
            continue
        if found.outcome == Outcome.UNREADABLE:
            reason = "Không đọc được tệp"
        elif found.outcome == Outcome.FAILED:
            reason = "Lỗi khi xử lý tệp"
        else:
            reason = "Không rõ kỳ báo cáo"
        out.append(_unplaced(found, reason))
    out.sort(key=lambda f: f.received_at)
    return out


def period_status(config: Config, ledger: Ledger, period: Period, now: dt.datetime) -> PeriodStatus:
    deadline = deadline_of(config, period)
    of_period = ledger.for_period(period, values=False)
    by_branch: dict[str, list[Submission]] = {}
    for sub in of_period:
        if sub.branch_code:
            by_branch.setdefault(sub.branch_code, []).append(sub)
    rows = []
    for branch in config.branches:
        subs = by_branch.get(branch.code, [])
        row = BranchStatus(code=branch.code, name=branch.name, received=bool(subs))
        if subs:
            counted = [s for s in subs if s.outcome == Outcome.ACCEPTED]
            shown = counted[-1] if counted else subs[-1]
            row.outcome = Outcome.ACCEPTED if counted else shown.outcome
            row.outcome_label = shown.outcome_label
            row.received_at = shown.received_at
            row.versions = len(subs)
            row.errors = shown.errors
            row.warnings = shown.warnings
            row.problems = [p.describe() for p in shown.problems]
            row.feedback = shown.feedback
            row.ref = _ref(shown)
            row.on_time = shown.received_at.date() <= deadline
        else:
            row.overdue = now.date() > deadline
        rows.append(row)
    return PeriodStatus(
        period=period,
        deadline=deadline,
        branches=rows,
        generated_at=now,
        unplaced=unplaced_files(config, ledger, period, of_period),
    )


_ENV = Environment(
    loader=PackageLoader("tonghop", "data"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_status_html(status: PeriodStatus, committee_name: str) -> str:
    template = _ENV.get_template("status.html")

    def link(target: str | None) -> str | None:
        if not target:
            return None
        # feedback paths are relative to outbox/; the page lives in outbox/<period>/
        return "../" + target

    return template.render(
        status=status,
        committee=committee_name,
        held_label=HELD_LABEL,
        link=link,
    )


def timeliness(branch: BranchStatus) -> str:
    """«Đúng hạn» / «Muộn» for the file shown, «Quá hạn» when nothing came by the deadline."""
    if branch.on_time is not None:
        return "Đúng hạn" if branch.on_time else "Muộn"
    return "Quá hạn" if branch.overdue else ""


def print_status(state: PeriodStatus, console: Console) -> None:
    """`tonghop status` as text: the state, the three groups' counts, the notes, a table per
    group and the files nobody can place."""
    from rich.table import Table

    expected = len(state.branches)
    console.print(
        f"Tình hình nộp báo cáo {state.period.label} (hạn {state.deadline:%d/%m/%Y}) "
        f"— {state.state_label}",
        style="bold",
    )
    held = f"; {HELD_LABEL.lower()} {len(state.held)}" if state.held else ""
    console.print(
        "; ".join(f"{label} {len(rows)}/{expected}" for _, label, rows in state.groups)
        + f"{held}; nộp muộn {state.late}; tệp chưa xác định {len(state.unplaced)}."
    )
    for note in state.notes:
        console.print(f"Lưu ý: {note}", style="yellow")
    tables = [
        (str(g), f"{label} ({len(rows)}/{expected} chi bộ)", rows)
        for g, label, rows in state.groups
    ]
    tables.append(("held", f"{HELD_LABEL} ({len(state.held)})", state.held))
    for group, title, rows in tables:
        if not rows:
            continue
        table = Table(title=title, title_justify="left")
        columns = ["Mã", "Chi bộ", "Tình trạng", "Đúng hạn"]
        if group != "missing":
            columns += ["Mã tệp", "Thời điểm", "Lần gửi", "Vấn đề"]
        for column in columns:
            table.add_column(column)
        for b in rows:
            cells = [b.code, b.name, b.outcome_label, timeliness(b)]
            if group != "missing":
                cells += [
                    b.ref or "",
                    b.received_at.strftime("%d/%m/%Y %H:%M") if b.received_at else "",
                    str(b.versions or ""),
                    f"{b.errors} lỗi, {b.warnings} cảnh báo" if b.problems else "",
                ]
            table.add_row(*cells)
        console.print(table)
    if state.unplaced:
        table = Table(
            title=f"Tệp không rõ chi bộ hoặc không đọc được ({len(state.unplaced)})",
            title_justify="left",
        )
        for column in ("Mã tệp", "Tên tệp", "Thời điểm", "Lý do", "Phản hồi"):
            table.add_column(column)
        for f in state.unplaced:
            table.add_row(
                f.ref,
                f.source_name,
                f.received_at.strftime("%d/%m/%Y %H:%M"),
                f.reason,
                f.feedback or "",
            )
        console.print(table)
