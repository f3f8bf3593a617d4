"""The data handed to the Word template (documented in docs/report-context.md)."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable
from typing import Any

from tonghop.config import Config
from tonghop.form import FormSpec
from tonghop.report.aggregate import Aggregate
from tonghop.report.status import PeriodStatus

TERM_LABEL = "từ đầu nhiệm kỳ đến nay"
# The template closes "Nơi nhận" with its own "- Lưu Văn phòng Đảng ủy."; a recipient naming
# that same office copy ("Lưu VP", "Lưu: Văn phòng Đảng ủy.") is it, listed already.
_OFFICE_COPY = re.compile(r"lưu\W*(vp|văn phòng)\b", re.IGNORECASE)


def recipients_before_office_copy(listed: Iterable[str]) -> list[str]:
    """The configured recipients without the office's own copy, which the template adds
    once, last, with the closing full stop: it is added only when not listed already."""
    return [r for r in listed if not _OFFICE_COPY.match(unicodedata.normalize("NFC", r).strip())]


def title_summary(aggregate: Aggregate) -> str:
    period = aggregate.period
    return (
        f"kết quả công tác xây dựng Đảng {period.label} "
        f"và phương hướng, nhiệm vụ {period.next().label}"
    )


def report_context(
    aggregate: Aggregate,
    config: Config,
    form: FormSpec,
    *,
    date: dt.date,
    status: PeriodStatus | None = None,
    final: bool = False,
    number: str | None = None,
) -> dict[str, Any]:
    period = aggregate.period
    committee = config.committee
    status_by_code = {b.code: b for b in status.branches} if status else {}

    branches = []
    for row in aggregate.rows:
        st = status_by_code.get(row.branch.code)
        branches.append(
            {
                "code": row.branch.code,
                "name": row.branch.name,
                "reported": row.reported,
                "on_time": st.on_time if st else None,
                "outcome": st.outcome_label if st else ("Đã nộp" if row.reported else "Chưa nộp"),
                "values": row.values,
                "removed": row.values.get("removed"),
            }
        )

    narrative: dict[str, list[dict[str, str]]] = {f.id: [] for f in form.text_fields()}
    for row in aggregate.rows:
        direct = [r for r in row.returns if r.period == period] or row.returns[-1:]
        for item in direct:
            for fid in narrative:
                text = item.values.get(fid)
                if isinstance(text, str) and text.strip():
                    narrative[fid].append({"branch": row.branch.name, "text": text.strip()})

    fields = {fid: {"label": f.label, "unit": f.unit} for fid, f in form.fields.items()}
    fields.update({d.id: {"label": d.label, "unit": d.unit} for d in form.derived})
    return {
        "committee": {
            "superior": committee.superior,
            "name": committee.name,
            "symbol": committee.symbol,
            "place": committee.place,
            "term": committee.term,
        },
        "signer": {
            "on_behalf": config.signer.on_behalf,
            "title": config.signer.title,
            "name": config.signer.name,
        },
        "recipients": recipients_before_office_copy(config.recipients),
        "number": number or config.report_number,
        "final": final,
        "date": date,
        "period": {
            "code": period.code,
            "label": period.label,
            "kind": period.kind.value,
            "year": period.year,
        },
        "next_period": {"code": period.next().code, "label": period.next().label},
        "title_summary": title_summary(aggregate),
        "total": aggregate.total,
        "term": aggregate.term,
        "term_label": TERM_LABEL,
        "last_year": aggregate.last_year,
        "last_year_period": {
            "code": period.year_earlier().code,
            "label": period.year_earlier().label,
        },
        "change": aggregate.change,
        "targets": aggregate.targets,
        "share": aggregate.share,
        "branches": branches,
        "missing": [{"code": r.branch.code, "name": r.branch.name} for r in aggregate.missing],
        "reported_count": len(aggregate.reported),
        "expected_count": len(aggregate.rows),
        "narrative": narrative,
        "fields": fields,
    }
