"""The secretary's operations on the opened workspace: the history of the files, decisions on
them (exclude, include, accept) and the finalizing of periods (finalize, reopen).

Functions of the opened :class:`tonghop.workspace.Workspace`, whose methods of the same names
call them; kept apart so that each module stays one idea. The order of each operation is what makes it safe to kill at any moment:

1. the ledger's transaction commits the change (the live truth);
2. only then does a final report appear under its name (renamed from its temporary), so
   that no final-looking report exists for a period the ledger does not call final; one
   killed before the rename is written again the next time the period is looked at;
3. then the event goes to the archive, for a rebuild. It carries the newest file the ledger
   held when the change was made, so that a rebuild puts it back at the same place among
   the files, even within one second.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import TYPE_CHECKING

from tonghop.decisions import Decision, DecisionKind, PeriodState, file_identity
from tonghop.errors import DecisionNotPublished, TonghopError, UsageError
from tonghop.intake.archive import Event, fsync_dir
from tonghop.integrity import sweep_temporary
from tonghop.ledger import Submission
from tonghop.periods import Period

if TYPE_CHECKING:
    from tonghop.report.publish import Published
    from tonghop.workspace import Workspace

__all__ = [
    "complete_final",
    "decide",
    "finalize",
    "find",
    "history",
    "reopen",
]


def history(
    ws: Workspace, period: Period | None = None, branch: str | None = None
) -> list[Submission]:
    """Every file received, oldest first, with the decisions taken on it."""
    if branch is not None:
        branch = ws.branch(branch).code  # as tonghop.toml writes it (THON2 for "thon2")
    if not ws.has_ledger():
        return []
    return ws.decisions.history(period, branch)


def find(ws: Workspace, ref: str | int) -> Submission:
    """The file whose short id is ``ref`` (``12``, or ``#12`` as printed)."""
    text = str(ref).strip().lstrip("#")
    # ASCII digits only ("²".isdigit() is true but int() refuses it), and within SQLite's
    # integers (a longer number overflows): anything else is no file's id.
    number = int(text) if text.isascii() and text.isdigit() else None
    sub = ws.ledger.get(number) if number is not None and number < 2**63 else None
    if sub is None:
        raise UsageError(
            f"Không có tệp nào mã «{ref}». Xem mã của các tệp bằng lệnh «tonghop history»."
        )
    return sub


def decide(ws: Workspace, ref: str | int, kind: DecisionKind, reason: str) -> Decision:
    sub = ws.find(ref)
    decisions = ws.decisions
    decisions.check(sub, kind, reason)
    decision = Decision(sub.id or 0, kind, reason.strip(), ws.user, ws.clock())
    with ws.ledger.transaction():
        sub = ws.find(ref)  # as it is now, the write lock held
        decisions.check(sub, kind, reason)
        decisions.decide(sub, decision)
        place = ws.ledger.newest_identity()
    body: dict[str, object] = {**decision.to_dict(), **file_identity(sub), "after": place}
    ws.archive.add_event(Event(decision.at, "decision", body))
    if kind == DecisionKind.ACCEPT:
        issue_receipt(ws, ws.find(ref))  # counted now: the branch hears it
    if sub.period:
        try:
            ws.refresh(Period.parse(sub.period))
        except TonghopError as exc:
            raise DecisionNotPublished(
                f"Đã ghi quyết định «{decision.label}» cho tệp mã {sub.ref}, nhưng chưa "
                f"viết lại được báo cáo của kỳ {sub.period}: {exc} Sửa xong, hãy chạy "
                f"«tonghop report --period {sub.period}»."
            ) from exc
    return decision


def issue_receipt(ws: Workspace, sub: Submission) -> None:
    from tonghop.intake.receipt import issue_receipt as write_receipt

    if sub.id is not None:
        sub.decisions = ws.decisions.of([sub.id]).get(sub.id, [])  # the receipt says why

    written = write_receipt(ws.layout, ws.config, ws.form, sub)
    if written is not None and sub.id is not None:
        relative = written.relative_to(ws.layout.outbox).as_posix()
        ws.ledger.set_receipts([(sub.id, relative)])


def finalize(
    ws: Workspace,
    period: Period,
    *,
    number: str | None = None,
    report_date: dt.date | None = None,
) -> Published:
    """Fix the counted set of ``period`` and write its final report, once."""
    from tonghop.report.drafts import Reports
    from tonghop.report.publish import add_pdf

    ws.require_ready()
    complete_final(ws, period)
    sweep_temporary(ws.layout.period_outbox(period))  # left by a finalize killed before
    at = ws.clock()
    with ws.publish_lock().waiting():
        reports = Reports(ws.ledger, ws.layout)
        last_draft = reports.last(period, final=False)
        when = report_date or (last_draft.chosen_date if last_draft else None) or at.date()
        if number is None:
            # Finalized again after a reopen: the same report, under the number it had.
            earlier = reports.last(period, final=True)
            number = earlier.number if earlier else None
        edited = reports.edited_drafts(period)
        # One transaction: no return is counted between fixing the set and writing it.
        with ws.ledger.transaction():
            state = ws.decisions.finalize(
                period, number=number, report_date=when, who=ws.user, at=at
            )
            done = ws._publish(
                period, report_date=when, pdf=False, final=True, number=number, place=False
            )
            place = ws.ledger.newest_identity()
        place_final(ws, done)
        body: dict[str, object] = {
            "period": period.code,
            "number": number,
            "report_date": when.isoformat(),
            "who": state.who,
            "after": place,
        }
        ws.archive.add_event(Event(at, "finalize", body))
        ws._keep_report_record(done)
    done.edited_drafts = edited  # written from the template: their hand edits are not in it
    return add_pdf(done)


def place_final(ws: Workspace, done: Published) -> None:
    """The committed final report appears under its name."""
    if done.pending is not None and done.report is not None:
        os.replace(done.pending, done.report)
        fsync_dir(done.report.parent)
        done.pending = None


def complete_final(ws: Workspace, period: Period) -> Published | None:
    """A finalized period whose final report is missing (killed between the commit and
    the rename, or removed by hand): write it again, with its recorded number and date,
    from the counted set the period keeps."""
    from tonghop.report.drafts import Reports

    state = ws.decisions.state(period)
    if not state.final:
        return None
    record = Reports(ws.ledger, ws.layout).last(period, final=True)
    if record is not None and (ws.layout.home / record.path).exists():
        return None
    sweep_temporary(ws.layout.period_outbox(period))  # the killed run's unrenamed report
    with ws.publish_lock().waiting():
        with ws.ledger.transaction():
            done = ws._publish(
                period,
                report_date=state.report_date,
                pdf=False,
                final=True,
                number=state.number,
                place=False,
            )
        place_final(ws, done)
        ws._keep_report_record(done)
    return done


def reopen(ws: Workspace, period: Period, reason: str) -> PeriodState:
    """Open a finalized period again; the returns held since it was finalized count."""
    at = ws.clock()
    with ws.ledger.transaction():
        ws.decisions.reopen(period, reason=reason, who=ws.user, at=at)
        place = ws.ledger.newest_identity()
    body: dict[str, object] = {
        "period": period.code,
        "reason": reason,
        "who": ws.user,
        "after": place,
    }
    ws.archive.add_event(Event(at, "reopen", body))
    ws.refresh(period)
    return ws.decisions.state(period)
