"""Taking what branches send: read (:mod:`.reader`, with the package pre-check), check
(:mod:`.checks`, :mod:`.values`), keep (:mod:`.archive`), answer (:mod:`.feedback`), and the
intake that orders them so that nothing is lost or counted twice (:mod:`.inbox`)."""

from tonghop.intake.archive import Archive
from tonghop.intake.checks import CheckResult, check_workbook
from tonghop.intake.inbox import Intake, IntakeResult, scan_inbox
from tonghop.intake.reader import Cell, Unreadable, Workbook, precheck, read_workbook

__all__ = [
    "Archive",
    "Cell",
    "CheckResult",
    "Intake",
    "IntakeResult",
    "Unreadable",
    "Workbook",
    "check_workbook",
    "precheck",
    "read_workbook",
    "scan_inbox",
]
