"""Every error tonghop raises on purpose, in one tree under :class:`TonghopError`.

``str(err)`` is a complete Vietnamese sentence for the user; ``exit_code`` is what the command
line exits with when the error ends a command. The click group turns any of them into a message
and an exit code in one place (see ``tonghop.cli``); nothing else catches them for display.
"""

from __future__ import annotations

__all__ = [
    "ArchiveDamaged",
    "ConfigError",
    "DecisionNotPublished",
    "DiskFull",
    "ExprError",
    "LedgerBusy",
    "LedgerDamaged",
    "LockBusy",
    "OfficeError",
    "PeriodError",
    "PortBusy",
    "ReportError",
    "ReportPdfError",
    "ReportTemplateError",
    "ReportWriteError",
    "StorageError",
    "StorageReadOnly",
    "TonghopError",
    "UsageError",
    "ValueProblem",
    "VnFormatError",
]


class TonghopError(Exception):
    """Base of every error a user may see. ``str(err)`` is a complete Vietnamese sentence."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(TonghopError):
    """The workspace configuration (tonghop.toml) or the form (form.toml) is wrong."""

    exit_code = 2


class UsageError(TonghopError):
    """A command was given something it cannot use (a branch code, a date, a file)."""

    exit_code = 2


class PeriodError(UsageError):
    """A period code that cannot be understood."""


class PortBusy(UsageError):
    """The desk's address and port cannot be listened on (another program has the port)."""


class LockBusy(TonghopError):
    """Another tonghop process holds the workspace's lock for the same work."""

    exit_code = 2


class LedgerDamaged(TonghopError):
    """The ledger is empty, truncated, unreadable, or does not know what the archive holds:
    nothing is taken until ``tonghop verify --rebuild`` has rebuilt it."""

    exit_code = 2


class ArchiveDamaged(TonghopError):
    """The archive's objects.sqlite3 is empty or unreadable, or lost every object the ledger
    records: nothing is taken until it is restored from a backup."""

    exit_code = 2


class StorageError(TonghopError):
    """The workspace's disk refused a write (read-only, full, no permission); nothing is lost."""

    exit_code = 2


class StorageReadOnly(StorageError):
    """The disk or folder is read-only, or the user may not write there."""


class DiskFull(StorageError):
    """No space left on the disk."""


class LedgerBusy(StorageError):
    """Another process held the ledger's write lock longer than the wait allows."""


class ExprError(ConfigError):
    """A rule or derived figure in form.toml cannot be understood or evaluated."""


class ValueProblem(TonghopError):
    """A cell's content does not fit its field (the checker turns it into a Problem)."""


class VnFormatError(TonghopError):
    """A value the report template asked to format is not of the right kind."""


class OfficeError(TonghopError):
    """LibreOffice is missing or failed to convert a document."""


class ReportError(TonghopError):
    """The report could not be produced."""


class ReportTemplateError(ReportError):
    """The Word template is missing, unreadable, or has a Jinja mistake."""


class ReportWriteError(ReportError):
    """The finished report could not be written (folder read-only, file open in Word...)."""


class ReportPdfError(ReportError):
    """LibreOffice could not convert the report to PDF."""


class DecisionNotPublished(TonghopError):
    """A decision was recorded, but the period's outputs could not be written again."""

    exit_code = 1
