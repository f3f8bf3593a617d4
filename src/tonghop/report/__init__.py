"""The committee's outputs for a period: the figures added up (:mod:`.aggregate`), the data
the Word template receives (:mod:`.context`), the report itself (:mod:`.render`, on docxtpl,
with :mod:`.vnformat`), the submission status (:mod:`.status`), the aggregate workbook
(:mod:`.workbook`) and all of them written into outbox/ (:mod:`.publish`).

The functions ``aggregate`` and ``publish`` are not re-exported here: they would hide the
modules of the same names.

The names below are imported on first use, so that importing one module of the package
does not import them all.
"""

from __future__ import annotations

from tonghop._lazy import lazy_names

_PUBLIC = {
    "Aggregate": "tonghop.report.aggregate",
    "PeriodStatus": "tonghop.report.status",
    "Published": "tonghop.report.publish",
    "period_status": "tonghop.report.status",
    "render_report": "tonghop.report.render",
    "write_pdf": "tonghop.report.render",
}
__all__ = sorted(_PUBLIC)
__getattr__ = lazy_names(__name__, _PUBLIC)
