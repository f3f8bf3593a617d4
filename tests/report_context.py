"""A realistic report context, shaped like aggregate.py's output (docs/report-context.md).

The term-to-date figures are those of Đảng bộ phường Tân Lộc in June 2024 (357 members,
60 admitted = 100% of the term target, 22 removed, 8,86 tỉ đồng for 192 new and 19
repaired Great Solidarity houses, 106 inspections of branches...). The half-year figures
are invented but add up: each total is the sum over the branches that reported.
"""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

from tonghop.form import load_form
from tonghop.periods import Period

NUMBER_FIELDS = [
    "members_start", "admitted", "restored", "transferred_in", "deceased", "expelled",
    "struck_off", "resigned", "transferred_out", "members_end", "probationary", "confirmed",
    "women", "exempt", "candidates", "badges", "commitments", "study_attendance",
    "regular_meetings", "thematic_meetings", "inspections_received", "members_supervised",
    "branch_violation_checks", "member_violation_checks", "disciplined", "rated_excellent",
    "rated_good", "rated_completed", "rated_failed", "houses_built", "houses_repaired",
    "funds_mobilized", "households_supported",
]  # fmt: skip
RATINGS = ["rated_excellent", "rated_good", "rated_completed", "rated_failed"]

ROOT = Path(__file__).resolve().parents[1]
FORM = load_form(ROOT / "templates" / "form.toml")
# Labels and units as the report context carries them: the form's own (a figure is written in
# the unit its field declares).
FIELDS = {f.id: (f.label, f.unit) for f in FORM.fields.values()} | {
    d.id: (d.label, d.unit) for d in FORM.derived
}

# (name, reported, members_start, admitted, transferred_in, deceased, struck_off,
#  transferred_out, probationary, women, inspections_received)
_BRANCHES = [
    ("Khu vực Lân Thạnh 1", True, 48, 1, 1, 0, 0, 0, 2, 15, 2),
    ("Khu vực Lân Thạnh 2", True, 41, 1, 0, 1, 0, 0, 1, 13, 2),
    ("Khu vực Tân Lợi 1", True, 37, 1, 0, 0, 1, 0, 1, 12, 2),
    ("Khu vực Tân Lợi 2", True, 35, 1, 0, 0, 0, 1, 1, 11, 2),
    ("Khu vực Tân Phú", True, 30, 1, 0, 0, 0, 0, 1, 10, 2),
    ("Khu vực Tân Mỹ", True, 28, 0, 0, 0, 1, 0, 0, 9, 1),
    ("Khu vực Tân Thạnh", True, 26, 1, 0, 0, 0, 0, 2, 8, 1),
    ("Cơ quan Đảng - Đoàn thể", True, 33, 0, 1, 0, 0, 0, 1, 14, 2),
    ("Cơ quan Chính quyền", True, 22, 0, 1, 0, 0, 0, 1, 9, 1),
    ("Quân sự", True, 27, 0, 0, 0, 0, 1, 1, 4, 2),
    ("Công an", True, 25, 1, 0, 0, 0, 0, 1, 13, 1),
    ("Trường Tiểu học Tân Lộc 1", False, 0, 0, 0, 0, 0, 0, 0, 0, 0),
]


def _branch_values(row: tuple) -> dict[str, Any]:
    (_, _, start, admitted, t_in, deceased, struck, t_out, probationary, women, inspected) = row
    end = start + admitted + t_in - deceased - struck - t_out
    values: dict[str, Any] = dict.fromkeys(NUMBER_FIELDS, 0)
    values.update(
        members_start=start,
        admitted=admitted,
        transferred_in=t_in,
        deceased=deceased,
        struck_off=struck,
        transferred_out=t_out,
        members_end=end,
        probationary=probationary,
        confirmed=1 if probationary > 1 else 0,
        women=women,
        exempt=end // 9,
        candidates=1 + admitted,
        badges=1 if start > 30 else 0,
        commitments=end,
        study_attendance=end - 2,
        regular_meetings=6,
        thematic_meetings=1,
        inspections_received=inspected,
        members_supervised=2,
        member_violation_checks=1 if start == 41 else 0,
        houses_built=1 if start > 30 else 2,
        houses_repaired=1 if start in (48, 30, 22) else 0,
        funds_mobilized=110_000_000 if start > 30 else 120_000_000,
        households_supported=8,
        branch_rating=None,
    )
    for field in RATINGS:
        values[field] = None
    values["funds_mobilized"] += 1_000_000 * (start % 3)
    return values


def _totals(branches: list[dict[str, Any]]) -> dict[str, Any]:
    reported = [b for b in branches if b["reported"]]
    total: dict[str, Any] = {}
    for field in NUMBER_FIELDS:
        figures = [b["values"][field] for b in reported if b["values"].get(field) is not None]
        total[field] = sum(figures) if figures else None
    total["removed"] = total["expelled"] + total["struck_off"] + total["resigned"]
    return total


def _base() -> dict[str, Any]:
    period = Period.parse("2024-H1")
    following = period.next()
    branches = []
    for index, row in enumerate(_BRANCHES, start=1):
        name, reported = row[0], row[1]
        values = _branch_values(row) if reported else dict.fromkeys(NUMBER_FIELDS)
        removed = (
            values["expelled"] + values["struck_off"] + values["resigned"] if reported else None
        )
        branches.append(
            {
                "code": f"CB{index:02d}",
                "name": name,
                "reported": reported,
                "on_time": (index != 4) if reported else None,
                "outcome": ("Đã nộp" if index != 4 else "Nộp muộn") if reported else "Chưa nộp",
                "values": values,
                "removed": removed,
            }
        )
    total = _totals(branches)
    term = dict.fromkeys(NUMBER_FIELDS)
    term.update(
        members_start=319,
        admitted=60,
        restored=0,
        transferred_in=14,
        deceased=9,
        expelled=0,
        struck_off=19,
        resigned=3,
        transferred_out=5,
        members_end=357,
        inspections_received=106,
        members_supervised=212,
        branch_violation_checks=1,
        member_violation_checks=6,
        disciplined=0,
        houses_built=192,
        houses_repaired=19,
        funds_mobilized=8_860_000_000,
        households_supported=1240,
        commitments=357,
    )
    term["removed"] = term["expelled"] + term["struck_off"] + term["resigned"]  # 22
    last_year = dict.fromkeys(NUMBER_FIELDS)
    last_year.update(
        members_start=343,
        admitted=9,
        members_end=349,
        study_attendance=330,
        regular_meetings=66,
        thematic_meetings=10,
        inspections_received=16,
        houses_built=10,
        houses_repaired=4,
        funds_mobilized=950_000_000,
        disciplined=0,
        expelled=0,
        struck_off=3,
        resigned=0,
    )
    last_year["removed"] = 3
    change = {
        key: total[key] - last_year[key]
        for key in [*NUMBER_FIELDS, "removed"]
        if total.get(key) is not None and last_year.get(key) is not None
    }
    members_end = total["members_end"]

    def share(field: str) -> float | None:
        if total[field] is None or not members_end:
            return None
        return total[field] * 100 / members_end

    missing = [
        {
            "code": b["code"],
            "name": b["name"],
            "group": "missing",
            "outcome": "Chưa nộp",
            "ref": None,
        }
        for b in branches
        if not b["reported"]
    ]
    counted = [
        {
            "code": b["code"],
            "name": b["name"],
            "group": "counted",
            "outcome": "Đã tiếp nhận",
            "ref": str(i),
        }
        for i, b in enumerate(branches, start=1)
        if b["reported"]
    ]
    for b in branches:
        b["group"] = "counted" if b["reported"] else "missing"
    return {
        "final": False,
        "draft": True,
        "committee": {
            "superior": "ĐẢNG BỘ QUẬN THỐT NỐT",
            "name": "ĐẢNG ỦY PHƯỜNG TÂN LỘC",
            "symbol": "ĐU",
            "place": "Tân Lộc",
            "term": "2020-2025",
        },
        "signer": {"on_behalf": "T/M ĐẢNG ỦY", "title": "BÍ THƯ", "name": "Nguyễn Thị Thu Bạch"},
        "recipients": ["Ban Thường vụ Quận ủy (báo cáo)", "Các chi bộ trực thuộc"],
        "number": "25",
        "date": dt.date(2024, 6, 16),
        "period": {
            "code": period.code,
            "label": period.label,
            "kind": period.kind.value,
            "year": period.year,
        },
        "next_period": {"code": following.code, "label": following.label},
        "title_summary": (
            f"kết quả công tác xây dựng Đảng {period.label} và phương hướng, nhiệm vụ "
            f"{following.label}"
        ),
        "total": total,
        "term": term,
        "term_label": "từ đầu nhiệm kỳ đến nay",
        "last_year": last_year,
        "change": change,
        "targets": {
            "admitted": {
                "label": "Kết nạp đảng viên mới",
                "unit": "đồng chí",
                "target": 60,
                "achieved": 60,
                "percent": 100.0,
            },
            "houses_built": {
                "label": "Xây mới nhà Đại đoàn kết",
                "unit": "căn",
                "target": 200,
                "achieved": 192,
                "percent": 96.0,
            },
        },
        "share": {
            "commitments": share("commitments"),
            "women": share("women"),
            "probationary": share("probationary"),
            "exempt": share("exempt"),
        },
        "branches": branches,
        "counted": counted,
        "returned": [],
        "missing": missing,
        "not_counted": missing,
        "complete": False,
        "term_gaps": [],
        "term_complete": False,
        "cumulative": True,
        "reported_count": sum(1 for b in branches if b["reported"]),
        "expected_count": len(branches),
        "narrative": {
            "highlights": [
                {
                    "branch": "Khu vực Lân Thạnh 1",
                    "branches": ["Khu vực Lân Thạnh 1"],
                    "text": "Vận động Nhân dân hiến đất, góp công làm 1,2 km đường giao thông "
                    "nông thôn; kết nạp 01 đảng viên là Khu vực trưởng Quân sự.",
                },
                {
                    "branch": "Công an",
                    "branches": ["Công an"],
                    "text": "Giữ vững an ninh chính trị, trật tự an toàn xã hội; không để xảy "
                    "ra tội phạm nghiêm trọng trên địa bàn.",
                },
            ],
            "shortcomings": [
                {
                    "branch": "Khu vực Tân Mỹ",
                    "branches": ["Khu vực Tân Mỹ"],
                    "text": "Chất lượng sinh hoạt chi bộ có lúc chưa cao, tỉ lệ đảng viên dự "
                    "sinh hoạt chưa đạt yêu cầu.",
                },
            ],
            "proposals": [
                {
                    "branch": "Khu vực Tân Lợi 2",
                    "branches": ["Khu vực Tân Lợi 2"],
                    "text": "Đề nghị Đảng ủy quan tâm hỗ trợ kinh phí sửa chữa nhà văn hóa "
                    "khu vực.",
                },
            ],
            "next_tasks": [
                {
                    "branch": "Khu vực Lân Thạnh 2",
                    "branches": ["Khu vực Lân Thạnh 2"],
                    "text": "Phấn đấu kết nạp 02 đảng viên, vận động xây mới 01 căn nhà Đại "
                    "đoàn kết.",
                },
            ],
        },
        "fields": {key: {"label": label, "unit": unit} for key, (label, unit) in FIELDS.items()},
    }


def _merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict) and value:
            _merge(base[key], value)
        else:
            base[key] = value
    return base


def sample_context(**overrides: Any) -> dict[str, Any]:
    """The sample context, with ``overrides`` merged in.

    A dict override is merged into the existing dict (``total={"disciplined": 2}`` changes
    one figure); an empty dict, a list, ``None`` or any other value replaces it
    (``last_year=None``, ``missing=[]``, ``targets={}``).
    """
    return _merge(copy.deepcopy(_base()), overrides)
