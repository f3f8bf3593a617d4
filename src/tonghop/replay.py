"""Put the secretary's decisions back into a ledger rebuilt from the archive.

``tonghop verify --rebuild`` judges every archived file again in the order received; the
events the archive keeps (decisions, finalize and reopen, reports written) are applied among
them at the moment they happened, so that a return received after a period was finalized is
held again, and a decision finds the very file it was taken on (by its bytes and the time it
was received, since a rebuilt ledger may number the files differently).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from tonghop.decisions import Decision, DecisionKind, Decisions
from tonghop.errors import UsageError
from tonghop.intake.archive import Arrival, Event
from tonghop.layout import Layout
from tonghop.ledger import Ledger
from tonghop.periods import Period
from tonghop.report.drafts import ReportRecord, Reports

__all__ = ["EventReplay"]


class EventReplay:
    """Apply ``events`` (oldest first) to ``ledger`` as the rebuild reaches their time."""

    def __init__(self, ledger: Ledger, layout: Layout, events: Iterable[Event]) -> None:
        self.ledger = ledger
        self.decisions = Decisions(ledger)
        self.reports = Reports(ledger, layout)
        self.pending = sorted(events, key=lambda e: e.at)  # stable: same-second order kept
        self.skipped: list[str] = []
        self.seen: set[tuple[object, object]] = set()

    def before(self, arrival: Arrival) -> None:
        """Apply every event that came before ``arrival``: the newest file the ledger held
        when it happened (its ``after``) is taken again already, or it happened in an earlier
        second (then that file, received before it, must have been skipped). An event from
        before events carried ``after`` goes by its time alone."""
        while self.pending and self._due(self.pending[0], arrival.received_at):
            self._apply(self.pending.pop(0))

    def taken(self, arrival: Arrival) -> None:
        """``arrival`` was judged again: the events that followed it may come."""
        self.seen.add((arrival.sha256, arrival.received_at.isoformat(timespec="seconds")))

    def _due(self, event: Event, received_at: dt.datetime) -> bool:
        if event.at < received_at:
            return True
        if "after" not in event.body:
            return False
        after = event.body["after"]
        if after is None:
            return True  # made before any file was received
        if not isinstance(after, dict):
            return False
        return (after.get("sha256"), after.get("received_at")) in self.seen

    def rest(self) -> None:
        while self.pending:
            self._apply(self.pending.pop(0))

    def _apply(self, event: Event) -> None:
        body = event.body
        try:
            with self.ledger.transaction():
                if event.kind == "decision":
                    self._decision(event)
                elif event.kind == "finalize":
                    when = body.get("report_date")
                    self.decisions.finalize(
                        Period.parse(str(body["period"])),
                        number=None if body.get("number") is None else str(body["number"]),
                        report_date=dt.date.fromisoformat(str(when)) if when else event.at.date(),
                        who=str(body.get("who", "")),
                        at=event.at,
                    )
                elif event.kind == "reopen":
                    self.decisions.reopen(
                        Period.parse(str(body["period"])),
                        reason=str(body.get("reason", "")),
                        who=str(body.get("who", "")),
                        at=event.at,
                    )
                elif event.kind == "report":
                    self.reports.insert(ReportRecord.from_event(body))
        except (UsageError, KeyError, ValueError) as exc:
            self.skipped.append(
                f"Không ghi lại được thao tác lúc {event.at:%d/%m/%Y %H:%M} ({event.kind}): {exc}"
            )

    def _decision(self, event: Event) -> None:
        body = event.body
        found = [
            sub
            for sub in self.ledger.with_sha(str(body["sha256"]))
            if sub.received_at.isoformat(timespec="seconds") == body["received_at"]
        ]
        if not found:
            raise UsageError(f"không còn tệp {body.get('source_name')} trong sổ dựng lại")
        sub = found[0]
        kind = DecisionKind(str(body["kind"]))
        reason = str(body.get("reason", ""))
        self.decisions.check(sub, kind, reason)
        decision = Decision(sub.id or 0, kind, reason, str(body.get("who", "")), event.at)
        self.decisions.decide(sub, decision)
