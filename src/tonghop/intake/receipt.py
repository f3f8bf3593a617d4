"""The receipt (giấy xác nhận) an accepted return gets: one small HTML page per return.

A branch's secretary receives it through Zalo and opens it on a phone: the page is
self-contained (inline CSS, no script, no image, no link to anything outside), fits a 360 px
screen and prints on one sheet. It says what was received (file, time, «Mã tệp N»), the key
figures as they were read (the fields form.toml marks ``key = true``), whether the return came
on time, and the warnings, if any. Written once per return under a name of its own in
outbox/<period>/xac-nhan/ (never over another receipt) after the return's outcome is committed.
"""

from __future__ import annotations

import datetime as dt
import logging
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from tonghop.blank import ascii_slug
from tonghop.config import Config
from tonghop.errors import VnFormatError
from tonghop.form import FieldType, FormSpec
from tonghop.intake._files import for_log, write_new
from tonghop.layout import Layout
from tonghop.ledger import Outcome, Submission
from tonghop.periods import Period
from tonghop.report.status import deadline_of
from tonghop.report.vnformat import chi_bo, so

__all__ = [
    "RECEIPT_FOLDER",
    "RECEIPT_OUTCOMES",
    "Figure",
    "issue_receipt",
    "receipt_file_name",
    "render_receipt",
    "write_receipt",
]

log = logging.getLogger("tonghop.intake.receipt")

RECEIPT_FOLDER = "xac-nhan"
# The outcomes a receipt is written for: a return taken in, counted or (its period finalized)
# held until the period is reopened.
RECEIPT_OUTCOMES = frozenset({Outcome.ACCEPTED, Outcome.HELD})
NOT_FILLED = "(để trống)"


@dataclass(frozen=True)
class Figure:
    """One key figure as the receipt shows it."""

    label: str
    value: str
    unit: str


def receipt_file_name(branch_code: str, period_code: str, received_at: dt.datetime) -> str:
    """``LT1-2024-H1-xac-nhan-20240705-0900.html``, beside the feedback's naming."""
    parts = "-".join(ascii_slug(p, keep_case=True) for p in (branch_code, period_code))
    return f"{parts}-xac-nhan-{received_at:%Y%m%d-%H%M}.html"


def issue_receipt(
    workspace: Layout, config: Config, form: FormSpec, sub: Submission
) -> Path | None:
    """Write the receipt of ``sub`` when it is a return taken in; None otherwise, or when the
    disk refuses (logged: the return is recorded already and a missing receipt loses nothing)."""
    if sub.outcome not in RECEIPT_OUTCOMES:
        return None
    period = sub.period_obj
    if period is None or sub.branch_code is None:
        return None
    folder = workspace.period_outbox(period) / RECEIPT_FOLDER
    try:
        return write_receipt(folder, config, form, sub)
    except OSError as exc:
        log.warning(
            "Không ghi được giấy xác nhận cho %s (%s).", for_log(sub.source_name), for_log(exc)
        )
        return None


def write_receipt(folder: Path, config: Config, form: FormSpec, sub: Submission) -> Path:
    """The receipt of ``sub`` in ``folder`` under a new name; returns the path written."""
    assert sub.branch_code is not None and sub.period is not None
    target = folder / receipt_file_name(sub.branch_code, sub.period, sub.received_at)
    return write_new(target, render_receipt(config, form, sub).encode("utf-8"))


def render_receipt(config: Config, form: FormSpec, sub: Submission) -> str:
    """The receipt's HTML, NFC."""
    period = sub.period_obj
    assert period is not None and sub.branch_code is not None
    deadline = deadline_of(config, period)
    days_late = (sub.received_at.date() - deadline).days
    branch = config.branch(sub.branch_code)
    counted = sub.outcome == Outcome.ACCEPTED
    accepted_because = next((d.reason for d in reversed(sub.decisions) if d.kind == "accept"), None)
    html = _template().render(
        committee=config.committee,
        branch_name=chi_bo(branch.name if branch else sub.branch_code),
        branch_code=sub.branch_code,
        period=period,
        sub=sub,
        ref=sub.ref,
        counted=counted,
        deadline=deadline,
        days_late=max(days_late, 0),
        figures=key_figures(form, period, sub.values or {}),
        warnings=[p for p in sub.problems if not p.is_error],
        # a rejected return the secretary counted (tonghop accept): its errors, and why
        accepted_errors=[p for p in sub.problems if p.is_error] if counted else [],
        accepted_because=accepted_because,
        feedback_name=Path(sub.feedback).name if sub.feedback else None,
    )
    return unicodedata.normalize("NFC", html)


def key_figures(form: FormSpec, period: Period, values: dict[str, Any]) -> list[Figure]:
    """The form's key figures for ``period``'s kind, as read from the return."""
    figures = []
    for fld in form.key_fields(period.kind):
        value = values.get(fld.id)
        if value is None or value == "":
            shown = NOT_FILLED
        elif fld.type in (FieldType.COUNT, FieldType.MONEY) and not isinstance(value, bool):
            try:
                shown = so(value)
            except VnFormatError:  # shown as it was read rather than not at all
                shown = str(value)
        else:
            shown = str(value)
        unit = fld.unit if shown != NOT_FILLED else ""
        figures.append(Figure(fld.label, shown, unit))
    return figures


@cache
def _template() -> Any:
    environment = Environment(
        loader=PackageLoader("tonghop", "data"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return environment.get_template("xac-nhan.html")
