"""TEMPORARY until the decisions land on main: stand-ins for Workspace.period_state/history."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from tonghop.ledger import Submission
from tonghop.periods import Period
from tonghop.workspace import Workspace


def period_state(ws: Workspace, period: Period) -> Any:
    real = getattr(ws, "period_state", None)
    if real is not None:
        return real(period)
    return SimpleNamespace(final=False, number=None, report_date=None, label="Dự thảo")


def history(
    ws: Workspace, period: str | None = None, branch: str | None = None
) -> list[Submission]:
    real = getattr(ws, "history", None)
    if real is not None:
        rows: list[Submission] = real(period=period, branch=branch)
        return rows
    rows = [
        s
        for s in ws.ledger.all()
        if (period is None or s.period == period) and (branch is None or s.branch_code == branch)
    ]
    for s in rows:
        s.decisions = []  # type: ignore[attr-defined]
    return rows
