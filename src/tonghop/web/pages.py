"""The pages to read: the periods, a period (with its live part), a branch, a return."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from tonghop.decisions import Decision, PeriodState
from tonghop.errors import TonghopError
from tonghop.form import Field, FieldType
from tonghop.ledger import Submission
from tonghop.periods import Period
from tonghop.report.drafts import Reports
from tonghop.report.status import BranchStatus, PeriodStatus
from tonghop.web import downloads
from tonghop.web._desk import desk, not_found, period_or_404, submission_or_404, workspace
from tonghop.workspace import Workspace

blueprint = Blueprint("pages", __name__)

# How often an open period page asks whether anything changed (milliseconds); the page's
# script reads it from the page, bench/desk_bench.py polls at the same pace.
POLL_MS = 500


@dataclass
class BranchRow:
    """One branch on a period's page: its status and the files behind it."""

    status: BranchStatus
    shown: Submission | None = None  # the file the status shows: counted, else the latest
    feedback: bool = False
    receipt: bool = False


@dataclass
class Group:
    """One of the status's three groups, as the page shows it."""

    kind: str  # counted / returned / missing (tonghop.report.status.Group)
    label: str
    rows: list[BranchRow]


@dataclass
class PeriodPage:
    period: Period
    status: PeriodStatus
    state: PeriodState
    groups: list[Group]
    files: dict[str, str]  # download kind -> the link's words
    stamp: str

    def count(self, kind: str) -> int:
        return next(len(g.rows) for g in self.groups if g.kind == kind)


@dataclass
class PeriodLine:
    period: Period
    state: PeriodState
    status: PeriodStatus


# --- what the pages show ------------------------------------------------------------------


def period_state(ws: Workspace, period: Period) -> PeriodState:
    return ws.period_state(period)


def period_page(ws: Workspace, period: Period) -> PeriodPage:
    """The status's three groups (and its files it cannot place), each branch with the file
    behind its row and whether that file has an answer and a receipt to download."""
    status = ws.status(period)
    rows = ws.ledger.for_period(period, values=False)
    by_ref = {s.ref: s for s in rows}
    groups = []
    for kind, label, branches in status.groups:
        shown_rows = []
        for branch_status in branches:
            shown = by_ref.get(branch_status.ref or "")
            row = BranchRow(branch_status, shown)
            if shown is not None:
                row.feedback = downloads.feedback_of(ws, shown) is not None
                row.receipt = downloads.receipt_of(ws, shown) is not None
            shown_rows.append(row)
        groups.append(Group(str(kind), label, shown_rows))
    state = period_state(ws, period)
    return PeriodPage(
        period=period,
        status=status,
        state=state,
        groups=groups,
        files=downloads.period_files(ws, period),
        stamp=stamp_of(ws, period, rows, state),
    )


def stamp_of(ws: Workspace, period: Period, rows: list[Submission], state: PeriodState) -> str:
    """Changes whenever what the period page shows may change: a file received, an outcome
    changed by a decision or a newer return, the period finalized or reopened, a report
    written."""
    digest = hashlib.sha1(usedforsecurity=False)
    for sub in rows:
        digest.update(f"{sub.id}:{sub.outcome}:{sub.superseded_by};".encode())
    report = Reports(ws.ledger, ws.layout).last(period)
    written = (report.path, report.written_at) if report else None
    # A file naming no period is listed on every period's page: any new row may show here.
    digest.update(repr((state.final, state.number, written, ws.ledger.count())).encode())
    return digest.hexdigest()[:16]


def period_stamp(ws: Workspace, period: Period) -> str:
    rows = ws.ledger.for_period(period, values=False)
    return stamp_of(ws, period, rows, period_state(ws, period))


def known_periods(ws: Workspace) -> list[Period]:
    """Periods with files or outputs, and the latest ended period of each kind the form asks
    for (the one branches are reporting on now), newest first."""
    codes: set[str] = set(ws.ledger.periods())
    if ws.layout.outbox.is_dir():
        codes |= {p.name for p in ws.layout.outbox.iterdir() if p.is_dir()}
    today = ws.clock().date()
    for kind in ws.form.period_kinds:
        span = kind.months
        current = Period.from_months(today.year, (today.month - 1) // span * span + 1, span)
        codes.add(current.previous().code)
    periods = set()
    for code in codes:
        try:
            periods.add(ws.period(code))
        except TonghopError:
            continue
    return sorted(periods, reverse=True)


# --- the views ----------------------------------------------------------------------------


@blueprint.route("/")
def index() -> ResponseReturnValue:
    ws = workspace()
    lines = [PeriodLine(p, period_state(ws, p), ws.status(p)) for p in known_periods(ws)]
    return render_template("periods.html", lines=lines)


@blueprint.route("/ky")
def go_to_period() -> ResponseReturnValue:
    """The "open a period" box of the home page: a typed code, checked, then its page."""
    code = request.args.get("ma", "").strip()
    try:
        period = workspace().period(code)
    except TonghopError as exc:
        ws = workspace()
        lines = [PeriodLine(p, period_state(ws, p), ws.status(p)) for p in known_periods(ws)]
        return render_template("periods.html", lines=lines, problem=exc.message, typed=code), 400
    return redirect(url_for("pages.period", code=period.code))


@blueprint.route("/ky/<code>")
def period(code: str) -> ResponseReturnValue:
    page = period_page(workspace(), period_or_404(code))
    return render_template("period.html", page=page, poll_ms=POLL_MS)


@blueprint.route("/ky/<code>/cap-nhat")
def period_live(code: str) -> ResponseReturnValue:
    """The live part of a period's page, only when it changed since ``dau`` (else 204)."""
    ws = workspace()
    the_period = period_or_404(code)
    if request.args.get("dau") == period_stamp(ws, the_period):
        return Response(status=204)
    page = period_page(ws, the_period)
    response = Response(render_template("_period_live.html", page=page))
    response.headers["X-Dau"] = page.stamp
    return response


@blueprint.route("/chi-bo/<code>")
def branch(code: str) -> ResponseReturnValue:
    ws = workspace()
    found = ws.config.branch(code)
    if found is None:
        not_found()
    files = sorted(ws.history(branch=found.code), key=lambda s: s.id or 0, reverse=True)
    return render_template("branch.html", branch=found, files=files)


@blueprint.route("/tep/<int:ref>")
def submission(ref: int) -> ResponseReturnValue:
    ws = workspace()
    sub = submission_or_404(ref)
    decisions = _decisions_of(ws, sub)
    values = _values_shown(ws, sub)
    branch = ws.config.branch(sub.branch_code) if sub.branch_code else None
    the_period = sub.period_obj
    state = period_state(ws, the_period) if the_period else None
    return render_template(
        "submission.html",
        sub=sub,
        branch=branch,
        period=the_period,
        state=state,
        values=values,
        decisions=decisions,
        receipt=downloads.receipt_of(ws, sub) is not None,
        feedback=downloads.feedback_of(ws, sub) is not None,
        original=bool(sub.sha256),
        desk=desk(),
    )


def _decisions_of(ws: Workspace, sub: Submission) -> list[Decision]:
    return ws.decisions.of([sub.id or 0]).get(sub.id or 0, [])


@dataclass
class ValueLine:
    label: str
    value: Any
    unit: str
    cell: str | None


def _shown(fld: Field, value: Any) -> Any:
    """A date field the Vietnamese way (05/10/2026): the ledger keeps it as ISO text."""
    if fld.type == FieldType.DATE and isinstance(value, str):
        try:
            return dt.date.fromisoformat(value[:10]).strftime("%d/%m/%Y")
        except ValueError:
            return value
    return value


def _values_shown(ws: Workspace, sub: Submission) -> list[tuple[str, list[ValueLine]]]:
    """The values as read, by the form's sections, with the cell of any problem on them."""
    if not sub.values:
        return []
    cells = {p.field_id: p.cell for p in sub.problems if p.field_id and p.cell}
    shown = []
    for section in ws.form.sections:
        lines = [
            ValueLine(fld.label, _shown(fld, sub.values[fld.id]), fld.unit, cells.get(fld.id))
            for fld in section.fields
            if fld.id in sub.values
        ]
        if lines:
            shown.append((section.title, lines))
    return shown
