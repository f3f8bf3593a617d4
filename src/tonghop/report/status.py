"""Who has and hasn't reported for a period: one row per branch, as data, text and HTML."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from tonghop.config import Config
from tonghop.ledger import Ledger, Outcome, Submission
from tonghop.periods import Period


@dataclass
class BranchStatus:
    code: str
    name: str
    received: bool
    outcome: str | None = None  # outcome of the latest file, or "accepted" when one counts
    outcome_label: str = "Chưa nộp"
    received_at: dt.datetime | None = None
    on_time: bool | None = None
    versions: int = 0
    errors: int = 0
    warnings: int = 0
    problems: list[str] = field(default_factory=list)
    feedback: str | None = None

    @property
    def counted(self) -> bool:
        return self.outcome == Outcome.ACCEPTED

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["received_at"] = self.received_at.isoformat() if self.received_at else None
        return data


@dataclass
class PeriodStatus:
    period: Period
    deadline: dt.date
    branches: list[BranchStatus]
    generated_at: dt.datetime
    final: bool = False  # the period is finalized (tonghop finalize)
    notes: list[str] = field(default_factory=list)  # draft or final, an edited report kept...

    @property
    def counted(self) -> int:
        return sum(b.counted for b in self.branches)

    @property
    def missing(self) -> list[BranchStatus]:
        return [b for b in self.branches if not b.received]

    @property
    def late(self) -> int:
        return sum(b.on_time is False for b in self.branches)

    @property
    def returned(self) -> int:
        return sum(b.received and not b.counted for b in self.branches)

    def to_dict(self) -> dict[str, Any]:
        return {
            "period": self.period.code,
            "period_label": self.period.label,
            "deadline": self.deadline.isoformat(),
            "generated_at": self.generated_at.isoformat(),
            "expected": len(self.branches),
            "counted": self.counted,
            "missing": len(self.missing),
            "late": self.late,
            "final": self.final,
            "notes": self.notes,
            "branches": [b.to_dict() for b in self.branches],
        }


def deadline_of(config: Config, period: Period) -> dt.date:
    return period.end + dt.timedelta(days=config.deadline_days(period.kind))


def period_status(config: Config, ledger: Ledger, period: Period, now: dt.datetime) -> PeriodStatus:
    deadline = deadline_of(config, period)
    by_branch: dict[str, list[Submission]] = {}
    for sub in ledger.for_period(period, values=False):
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
            row.on_time = shown.received_at.date() <= deadline if counted else None
        elif now.date() > deadline:
            row.on_time = False
        rows.append(row)
    return PeriodStatus(period=period, deadline=deadline, branches=rows, generated_at=now)


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
        link=link,
    )
