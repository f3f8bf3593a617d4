"""tonghop: turn the Excel returns of a Party committee's branches into its Word report.

The public surface is small: ``tonghop.open(home)`` gives a :class:`Workspace` with every
operation (take the inbox, check, make the forms, status, publish a period);
``tonghop.create(folder)`` makes a new workspace; every error is a :class:`TonghopError`.
Names are imported on first use, so ``tonghop --help`` starts fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tonghop._lazy import lazy_names

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "Layout",
    "LockBusy",
    "Outcome",
    "Period",
    "TonghopError",
    "Unreadable",
    "UsageError",
    "Workspace",
    "__version__",
    "create",
    "open",
]

_LAZY = {
    "ConfigError": "tonghop.errors",
    "LockBusy": "tonghop.errors",
    "TonghopError": "tonghop.errors",
    "UsageError": "tonghop.errors",
    "Layout": "tonghop.layout",
    "Outcome": "tonghop.ledger",
    "Period": "tonghop.periods",
    "Unreadable": "tonghop.intake.reader",
    "Workspace": "tonghop.workspace",
}

if TYPE_CHECKING:
    from tonghop.errors import ConfigError, LockBusy, TonghopError, UsageError
    from tonghop.intake.reader import Unreadable
    from tonghop.layout import Layout
    from tonghop.ledger import Outcome
    from tonghop.periods import Period
    from tonghop.workspace import Workspace


def open(home: Any = None, *, clock: Any = None, user: str | None = None) -> Workspace:
    """Open the workspace at ``home`` (default: $TONGHOP_HOME, else the current folder)."""
    from tonghop.workspace import open_workspace

    return open_workspace(home, clock=clock, user=user)


def create(folder: Any, *, source: Any = None) -> Layout:
    """Make ``folder`` a new workspace from ``source`` (default: the package's defaults)."""
    from tonghop.layout import create_workspace

    return create_workspace(folder, source=source)


__getattr__ = lazy_names(__name__, _LAZY)
