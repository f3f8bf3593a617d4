"""The secretary's decisions on received files, and the finalizing of periods.

A decision never deletes or rewrites what a branch sent: it is a new row (who, when, why)
and the files of that branch and period are counted again from what the intake judged and
every decision so far (:meth:`Decisions.recount`):

- ``exclude``: a counted (or superseded) return no longer counts; the branch's newest other
  acceptable return counts again, if any;
- ``include``: undoes ``exclude``;
- ``accept``: a rejected return counts despite its errors (checked by phone, for example).

A finalized period (``tonghop finalize``) keeps its counted set: decisions are refused and
acceptable returns arriving later are ``held`` until ``tonghop reopen``.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
from dataclasses import dataclass, field
from enum import StrEnum

from tonghop.errors import UsageError
from tonghop.ledger import Ledger, Outcome, Submission
from tonghop.periods import Period

__all__ = ["Decision", "DecisionKind", "Decisions", "PeriodState", "file_identity", "os_user"]


class DecisionKind(StrEnum):
    EXCLUDE = "exclude"
    INCLUDE = "include"
    ACCEPT = "accept"

    @property
    def label(self) -> str:
        return _KIND_LABELS[self]


_KIND_LABELS = {
    DecisionKind.EXCLUDE: "Loại khỏi số liệu",
    DecisionKind.INCLUDE: "Tính lại vào số liệu",
    DecisionKind.ACCEPT: "Chấp nhận dù có lỗi",
}


@dataclass(frozen=True)
class Decision:
    """One decision of the secretary on one received file."""

    submission_id: int
    kind: DecisionKind
    reason: str
    who: str
    at: dt.datetime

    @property
    def label(self) -> str:
        return self.kind.label

    def describe(self) -> str:
        """«Loại khỏi số liệu (thuy, 01/12/2026 10:05): gửi nhầm kỳ»."""
        text = f"{self.label} ({self.who}, {self.at:%d/%m/%Y %H:%M})"
        return f"{text}: {self.reason}" if self.reason else text

    def to_dict(self) -> dict[str, str]:
        return {
            "kind": str(self.kind),
            "label": self.label,
            "reason": self.reason,
            "who": self.who,
            "at": self.at.isoformat(timespec="seconds"),
        }


@dataclass(frozen=True)
class PeriodState:
    """Draft or final: the latest finalize or reopen of a period (none: a draft)."""

    period: str
    final: bool = False
    number: str | None = None
    report_date: dt.date | None = None
    finalized_at: dt.datetime | None = None
    who: str | None = None
    reopened_because: str | None = None
    counted: list[int] = field(default_factory=list)

    @property
    def label(self) -> str:
        return "Đã chốt" if self.final else "Dự thảo"

    def describe(self) -> str:
        if not self.final or self.finalized_at is None:
            return "Dự thảo (chưa chốt số liệu)"
        text = f"Đã chốt số liệu lúc {self.finalized_at:%H:%M ngày %d/%m/%Y} ({self.who})"
        return f"{text}, báo cáo số {self.number}" if self.number else text

    def to_dict(self) -> dict[str, object]:
        return {
            "final": self.final,
            "label": self.label,
            "number": self.number,
            "report_date": self.report_date.isoformat() if self.report_date else None,
            "finalized_at": (
                self.finalized_at.isoformat(timespec="seconds") if self.finalized_at else None
            ),
            "who": self.who,
        }


_ACCEPTABLE = (Outcome.ACCEPTED, Outcome.SUPERSEDED)


class Decisions:
    """Decisions and period states, kept in the ledger's database beside the files."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._db = ledger.db

    # --- reading -----------------------------------------------------------------------
    def state(self, period: Period | str) -> PeriodState:
        code = period if isinstance(period, str) else period.code
        row = self._db.execute(
            """SELECT kind, number, report_date, reason, counted, who, at FROM period_events
               WHERE period = ? ORDER BY id DESC LIMIT 1""",
            (code,),
        ).fetchone()
        if row is None:
            return PeriodState(code)
        kind, number, report_date, reason, counted, who, at = row
        if kind == "reopen":
            return PeriodState(code, reopened_because=reason, who=who)
        return PeriodState(
            code,
            final=True,
            number=number,
            report_date=dt.date.fromisoformat(report_date) if report_date else None,
            finalized_at=dt.datetime.fromisoformat(at),
            who=who,
            counted=json.loads(counted),
        )

    def is_final(self, period: str) -> bool:
        row = self._db.execute(
            "SELECT kind FROM period_events WHERE period = ? ORDER BY id DESC LIMIT 1", (period,)
        ).fetchone()
        return row is not None and row[0] == "finalize"

    def of(self, submission_ids: list[int] | None = None) -> dict[int, list[Decision]]:
        """Decisions by file, oldest first (of every file when ``submission_ids`` is None)."""
        rows = self._db.execute(
            "SELECT submission_id, kind, reason, who, at FROM decisions ORDER BY id"
        )
        wanted = None if submission_ids is None else set(submission_ids)
        found: dict[int, list[Decision]] = {}
        for sub_id, kind, reason, who, at in rows:
            if wanted is None or sub_id in wanted:
                decision = Decision(
                    sub_id, DecisionKind(kind), reason, who, dt.datetime.fromisoformat(at)
                )
                found.setdefault(sub_id, []).append(decision)
        return found

    def history(
        self, period: Period | None = None, branch_code: str | None = None
    ) -> list[Submission]:
        """Every file received (of ``period``, of ``branch_code``), oldest first, with its
        decisions."""
        subs = self.ledger.all_rows(period=period, branch_code=branch_code)
        decided = self.of([s.id for s in subs if s.id is not None])
        for sub in subs:
            sub.decisions = decided.get(sub.id or 0, [])
        return subs

    # --- deciding ----------------------------------------------------------------------
    def check(self, sub: Submission, kind: DecisionKind, reason: str) -> None:
        """Raise UsageError when ``kind`` cannot apply to ``sub`` now, saying why."""
        ref = f"Tệp mã {sub.ref} ({sub.source_name})"
        if kind in (DecisionKind.EXCLUDE, DecisionKind.ACCEPT) and not reason.strip():
            raise UsageError('Hãy ghi lý do của quyết định (--reason "...").')
        if sub.period and self.is_final(sub.period):
            raise UsageError(
                f"{ref} thuộc kỳ {sub.period}, kỳ này đã chốt số liệu. Muốn thay đổi, hãy mở "
                f'lại kỳ trước: tonghop reopen --period {sub.period} --reason "..."'
            )
        if kind == DecisionKind.EXCLUDE and sub.outcome not in _ACCEPTABLE:
            raise UsageError(
                f"{ref} không được tính vào số liệu («{sub.outcome_label}») nên không cần loại."
            )
        if kind == DecisionKind.INCLUDE and sub.outcome != Outcome.EXCLUDED:
            raise UsageError(
                f"{ref} không bị loại khỏi số liệu («{sub.outcome_label}») nên không cần tính lại."
            )
        if kind == DecisionKind.ACCEPT:
            if sub.outcome != Outcome.REJECTED:
                raise UsageError(
                    f"Chỉ chấp nhận được tệp bị trả lại để sửa; {ref} là «{sub.outcome_label}»."
                )
            if not sub.branch_code or not sub.period or sub.values is None:
                raise UsageError(
                    f"{ref} không ghi rõ chi bộ hay kỳ báo cáo nên không tính được vào số liệu "
                    "của chi bộ nào. Hãy nhờ chi bộ sửa và gửi lại."
                )

    def decide(self, sub: Submission, decision: Decision) -> None:
        """Record ``decision`` and count the branch's files of the period again. Call inside
        ``ledger.transaction()``, after :meth:`check`."""
        self._db.execute(
            "INSERT INTO decisions (submission_id, kind, reason, who, at) VALUES (?, ?, ?, ?, ?)",
            (
                decision.submission_id,
                decision.kind,
                decision.reason,
                decision.who,
                decision.at.isoformat(timespec="seconds"),
            ),
        )
        if sub.branch_code and sub.period:
            self.recount(sub.branch_code, sub.period)

    def recount(self, branch_code: str, period: str) -> None:
        """Set where each file of the branch and period stands from what the intake judged and
        the decisions: the newest acceptable one not excluded counts, older ones are
        superseded by it."""
        rows = self._db.execute(
            """SELECT id, outcome, judged FROM submissions INDEXED BY submissions_branch_period
               WHERE branch_code = ? AND period = ? ORDER BY id""",
            (branch_code, period),
        ).fetchall()
        decided = self.of([r[0] for r in rows])
        states: dict[int, Outcome] = {}
        eligible: list[int] = []
        for sub_id, outcome, judged in rows:
            kinds = [d.kind for d in decided.get(sub_id, [])]
            accepted = judged == Outcome.ACCEPTED or (
                judged == Outcome.REJECTED and DecisionKind.ACCEPT in kinds
            )
            if outcome == Outcome.HELD or not accepted:
                if judged == Outcome.REJECTED:
                    states[sub_id] = Outcome.REJECTED
                continue
            switches = [k for k in kinds if k in (DecisionKind.EXCLUDE, DecisionKind.INCLUDE)]
            if switches and switches[-1] == DecisionKind.EXCLUDE:
                states[sub_id] = Outcome.EXCLUDED
            else:
                eligible.append(sub_id)
        counted = eligible[-1] if eligible else None
        for sub_id in eligible:
            states[sub_id] = Outcome.ACCEPTED if sub_id == counted else Outcome.SUPERSEDED
        for sub_id, outcome in states.items():
            self._db.execute(
                "UPDATE submissions SET outcome = ?, superseded_by = ? WHERE id = ?",
                (outcome, counted if outcome == Outcome.SUPERSEDED else None, sub_id),
            )

    # --- finalizing --------------------------------------------------------------------
    def finalize(
        self,
        period: Period,
        *,
        number: str | None,
        report_date: dt.date,
        who: str,
        at: dt.datetime,
    ) -> PeriodState:
        """Fix the counted set of ``period``. Call inside ``ledger.transaction()``."""
        if self.is_final(period.code):
            state = self.state(period)
            raise UsageError(f"Kỳ {period.label} đã chốt: {state.describe()}.")
        counted = [
            row[0]
            for row in self._db.execute(
                f"SELECT id FROM submissions WHERE period = ? AND outcome = '{Outcome.ACCEPTED}'"
                " ORDER BY id",
                (period.code,),
            )
        ]
        self._db.execute(
            """INSERT INTO period_events (period, kind, number, report_date, counted, who, at)
               VALUES (?, 'finalize', ?, ?, ?, ?, ?)""",
            (
                period.code,
                number,
                report_date.isoformat(),
                json.dumps(counted),
                who,
                at.isoformat(timespec="seconds"),
            ),
        )
        return self.state(period)

    def reopen(self, period: Period, *, reason: str, who: str, at: dt.datetime) -> list[int]:
        """Open a finalized period again: the returns held since count as any other. Returns
        the ids of the held returns. Call inside ``ledger.transaction()``."""
        if not reason.strip():
            raise UsageError('Hãy ghi lý do mở lại kỳ (--reason "...").')
        if not self.is_final(period.code):
            raise UsageError(f"Kỳ {period.label} chưa chốt số liệu nên không cần mở lại.")
        self._db.execute(
            """INSERT INTO period_events (period, kind, reason, who, at)
               VALUES (?, 'reopen', ?, ?, ?)""",
            (period.code, reason, who, at.isoformat(timespec="seconds")),
        )
        held = self._db.execute(
            f"""SELECT id, branch_code FROM submissions
                WHERE period = ? AND outcome = '{Outcome.HELD}' ORDER BY id""",
            (period.code,),
        ).fetchall()
        self._db.execute(
            f"""UPDATE submissions SET outcome = judged
                WHERE period = ? AND outcome = '{Outcome.HELD}'""",
            (period.code,),
        )
        for branch_code in sorted({code for _, code in held if code}):
            self.recount(branch_code, period.code)
        return [sub_id for sub_id, _ in held]


def os_user() -> str:
    """Who is deciding: the OS account's name."""
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):
        return "không rõ"


def file_identity(sub: Submission) -> dict[str, str | None]:
    """How a rebuilt ledger finds the file again: its bytes and when it was received."""
    return {
        "sha256": sub.sha256,
        "received_at": sub.received_at.isoformat(timespec="seconds"),
        "source_name": sub.source_name,
    }
