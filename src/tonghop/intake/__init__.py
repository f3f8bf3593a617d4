"""Taking what branches send: read (:mod:`.reader`, with the package pre-check), check
(:mod:`.checks`, :mod:`.values`), keep (:mod:`.archive`), answer (:mod:`.feedback`, and the
receipt of an accepted return, :mod:`.receipt`), and the intake that orders them
so that nothing is lost or counted twice (:mod:`.inbox`).

The names below are imported on first use, so that importing one module of the package
does not import them all.
"""

from __future__ import annotations

from tonghop._lazy import lazy_names

_PUBLIC = {
    "Archive": "tonghop.intake.archive",
    "Cell": "tonghop.intake.reader",
    "CheckResult": "tonghop.intake.checks",
    "Intake": "tonghop.intake.inbox",
    "IntakeResult": "tonghop.intake.inbox",
    "Unreadable": "tonghop.intake.reader",
    "Workbook": "tonghop.intake.reader",
    "check_workbook": "tonghop.intake.checks",
    "precheck": "tonghop.intake.reader",
    "read_workbook": "tonghop.intake.reader",
    "scan_inbox": "tonghop.intake.inbox",
}
__all__ = sorted(_PUBLIC)
__getattr__ = lazy_names(__name__, _PUBLIC)
