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
from tonghop.report.statements import group_statements
from tonghop.report.status import GROUP_LABELS, Group, PeriodStatus

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


def _groups(aggregate: Aggregate, status: PeriodStatus | None) -> dict[str, list[dict[str, Any]]]:
    """The three groups of branches (see :mod:`tonghop.report.status`) as the report sees
    them: counted is what the figures hold (a half-year may be made of two quarters), and of
    the others, those that sent a file for the period were sent back, the rest sent nothing."""
    status_by_code = {b.code: b for b in status.branches} if status else {}
    groups: dict[str, list[dict[str, Any]]] = {g.value: [] for g in Group}
    for row in aggregate.rows:
        st = status_by_code.get(row.branch.code)
        if row.reported:
            group = Group.COUNTED
        elif st is not None and st.received:
            group = Group.RETURNED
        else:
            group = Group.MISSING
        groups[group.value].append(
            {
                "code": row.branch.code,
                "name": row.branch.name,
                "group": group.value,
                "outcome": st.outcome_label if st and st.received else GROUP_LABELS[group],
                "ref": st.ref if st else None,
            }
        )
    return groups


def _narrative(aggregate: Aggregate, form: FormSpec) -> dict[str, list[dict[str, Any]]]:
    """Each text field's statements, identical ones said once for all their branches."""
    period = aggregate.period
    said: dict[str, list[tuple[str, str]]] = {f.id: [] for f in form.text_fields()}
    for row in aggregate.rows:
        direct = [r for r in row.returns if r.period == period] or row.returns[-1:]
        for item in direct:
            for fid, pairs in said.items():
                text = item.values.get(fid)
                if isinstance(text, str) and text.strip():
                    pairs.append((row.branch.name, text))
    return {
        fid: [statement.as_context() for statement in group_statements(pairs)]
        for fid, pairs in said.items()
    }


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
    """The template's data (docs/report-context.md). ``final`` drops the draft mark;
    ``number`` (else the configured one) fills «Số ...-BC/ĐU»."""
    period = aggregate.period
    committee = config.committee
    groups = _groups(aggregate, status)
    group_of = {b["code"]: b for rows in groups.values() for b in rows}
    on_time = {b.code: b.on_time for b in status.branches} if status else {}

    branches = []
    for row in aggregate.rows:
        placed = group_of[row.branch.code]
        branches.append(
            {
                "code": row.branch.code,
                "name": row.branch.name,
                "reported": row.reported,
                "group": placed["group"],
                "on_time": on_time.get(row.branch.code),
                "outcome": placed["outcome"],
                "ref": placed["ref"],
                "values": row.values,
                "removed": row.values.get("removed"),
            }
        )

    fields = {fid: {"label": f.label, "unit": f.unit} for fid, f in form.fields.items()}
    fields.update({d.id: {"label": d.label, "unit": d.unit} for d in form.derived})
    counted, returned, missing = (groups[g.value] for g in Group)
    return {
        "final": final,
        "draft": not final,
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
        # 36-HD: a draft leaves its number blank ("Số      -BC/ĐU"); the final report has it.
        "number": (number if number is not None else config.report_number) if final else "",
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
        "cumulative": aggregate.term_beyond_period,
        "last_year": aggregate.last_year if aggregate.comparable else None,
        "last_year_period": {
            "code": period.year_earlier().code,
            "label": period.year_earlier().label,
        },
        "change": aggregate.change,
        "targets": aggregate.targets,
        "share": aggregate.share,
        "branches": branches,
        "counted": counted,
        "returned": returned,
        "missing": missing,
        "not_counted": returned + missing,
        "complete": not returned and not missing,
        # the term's figures: earlier periods some branches are missing from, and whether
        # the term's totals are every branch's for every period
        "term_gaps": [{"label": p.label, "missing": n} for p, n in aggregate.term_gaps],
        "term_complete": not returned and not missing and not aggregate.term_gaps,
        "reported_count": len(counted),
        "expected_count": len(aggregate.rows),
        "narrative": _narrative(aggregate, form),
        "fields": fields,
    }
