"""The committee's outputs for a period: the figures added up (:mod:`.aggregate`), the data
the Word template receives (:mod:`.context`), the report itself (:mod:`.render`, on docxtpl,
with :mod:`.vnformat`), the submission status (:mod:`.status`) and all of them written into
outbox/ (:mod:`.publish`)."""

from tonghop.report.aggregate import Aggregate, aggregate
from tonghop.report.publish import Published, publish
from tonghop.report.render import render_report, write_pdf
from tonghop.report.status import PeriodStatus, period_status

__all__ = [
    "Aggregate",
    "PeriodStatus",
    "Published",
    "aggregate",
    "period_status",
    "publish",
    "render_report",
    "write_pdf",
]
