"""Issue 9, items 5 and 6, through the CLI for a committee that is not the demo's: a commune
with 6 branches, 4 of them counted, one sent back, one silent, and files nobody can place.

Each output is read back: the Word report (python-docx, paragraph texts), `status` as text and
JSON, and the status page.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import docx
import pytest
from click.testing import CliRunner

from tonghop.cli import CliContext, cli
from tonghop.config import Branch
from tonghop.layout import Layout
from tonghop.ledger import Ledger, Outcome, Submission
from tonghop.problems import Level, Problem

from .conftest import ROOT, FakeClock

BRANCHES = [
    Branch("PH1", "Chi bộ Ấp Phú Hòa"),
    Branch("PH2", "Chi bộ Ấp Phú Hưng"),
    Branch("PL1", "Chi bộ Ấp Phú Lợi"),
    Branch("TS1", "Chi bộ Trường Tiểu học Phú An"),
    Branch("QS1", "Chi bộ Quân sự"),
    Branch("CA1", "Chi bộ Công an"),
]
SAME = "Sinh hoạt chi bộ có lúc chưa đều, nội dung chưa phong phú."


@pytest.fixture
def workspace(tmp_path: Path) -> Layout:
    """Phú An commune: its own committee, term 2025-2030, six branches."""
    layout = Layout(tmp_path / "phu-an").create(Layout(ROOT), branches=BRANCHES)
    text = layout.config_path.read_text(encoding="utf-8")
    for old, new in [
        ("ĐẢNG BỘ QUẬN THỐT NỐT", "ĐẢNG BỘ TỈNH ĐỒNG THÁP"),
        ("ĐẢNG ỦY PHƯỜNG TÂN LỘC", "ĐẢNG ỦY XÃ PHÚ AN"),
        ('place = "Tân Lộc"', 'place = "Phú An"'),
        ('term = "2020-2025"', 'term = "2025-2030"'),
        ("Nguyễn Thị Thu Bạch", "Trần Văn Bình"),
        ("Quận ủy", "Tỉnh ủy"),
    ]:
        assert old in text, old
        text = text.replace(old, new)
    layout.config_path.write_text(text, encoding="utf-8")
    return layout


@pytest.fixture
def run(workspace: Layout, clock: FakeClock):
    def invoke(*args: str):
        return CliRunner().invoke(
            cli, ["--home", str(workspace.home), *args], obj=CliContext(str(workspace.home), clock)
        )

    return invoke


def paragraphs(path: Path) -> list[str]:
    document = docx.Document(str(path))
    out = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            for cell in row.cells:
                out.extend(p.text for p in cell.paragraphs)
    return out


def first_half(make_return, workspace: Layout) -> None:
    """2025-H1: four returns in, one sent back, one silent, an unreadable file."""
    shortcomings = {
        "PH1": SAME,
        "PH2": SAME.upper(),
        "PL1": "  sinh hoạt chi bộ có lúc chưa đều; nội dung chưa phong phú ",
        "TS1": "Sinh hoạt chi bộ có lúc chưa đều, nội dung sinh hoạt chưa phong phú.",
    }
    for code, text in shortcomings.items():
        make_return(code, "2025-H1", branch_code=code, shortcomings=text)
    make_return("QS1", "2025-H1", branch_code="QS1", members_end=3, women=7)  # sent back
    (workspace.inbox / "ghi-chu.xlsx").write_bytes(b"khong phai tep Excel")


@pytest.fixture
def partial(run, workspace, make_return, clock):
    clock.now = dt.datetime(2025, 7, 10, 9, 0)
    first_half(make_return, workspace)
    assert run("process").exit_code == 0
    result = run("report", "--period", "2025-H1", "--no-pdf", "--date", "2025-07-16")
    assert result.exit_code == 0, result.output
    return workspace.outbox / "2025-H1"


def test_partial_report_is_a_draft_that_says_whose_figures_it_holds(partial):
    text = paragraphs(partial / "bao-cao-2025-H1.docx")
    joined = "\n".join(text)
    assert "ĐẢNG ỦY XÃ PHÚ AN" in text and "Phú An, ngày 16 tháng 7 năm 2025" in text
    assert "DỰ THẢO" in text and "(Số liệu của 4/6 chi bộ)" in text
    assert (
        "chưa có số liệu của 1 chi bộ chưa nộp báo cáo (Công an) và 1 chi bộ đã nộp nhưng "
        "báo cáo bị trả lại để sửa (Quân sự)." in joined
    )
    assert "Theo báo cáo của 4/6 chi bộ, tổng số đảng viên đầu kỳ của các chi bộ này là" in joined
    assert "toàn Đảng bộ" not in joined
    assert "100% cán bộ" not in joined
    # the branch sent back is not "chưa nộp"
    assert "- Còn 1 chi bộ chưa nộp báo cáo 6 tháng đầu năm 2025: Công an" in joined
    assert "Quân sự (chưa nộp" not in joined and "chưa nộp báo cáo (Quân sự" not in joined
    assert "Các chi bộ đã nộp nhưng báo cáo bị trả lại để sửa: Quân sự." in text
    assert "Các chi bộ chưa nộp báo cáo: Công an." in text


def test_first_period_of_the_term_has_no_cumulative_sentence(partial):
    joined = "\n".join(paragraphs(partial / "bao-cao-2025-H1.docx"))
    assert "Lũy kế" not in joined
    assert (
        "Theo báo cáo của 4/6 chi bộ, kết quả thực hiện các chỉ tiêu của Nghị quyết Đại hội "
        "Đảng bộ nhiệm kỳ 2025-2030 như sau:" in joined
    )


def test_the_same_statement_of_four_branches_is_one_line(partial):
    text = paragraphs(partial / "bao-cao-2025-H1.docx")
    lines = [t for t in text if "chưa phong phú" in t]
    assert lines == [
        "- Chi bộ Ấp Phú Hòa, Ấp Phú Hưng, Ấp Phú Lợi và Trường Tiểu học Phú An: " + SAME
    ]
    # the sample returns all have the same highlight: one line for the four
    assert sum("Chi bộ duy trì sinh hoạt đều đặn." in t for t in text) == 1


def test_status_shows_three_groups_and_the_unplaced_file(run, partial):
    data = json.loads(run("status", "--period", "2025-H1", "--json").output)
    assert data["groups"] == {
        "counted": ["PH1", "PH2", "PL1", "TS1"],
        "returned": ["QS1"],
        "missing": ["CA1"],
    }
    assert (data["counted"], data["returned"], data["missing"]) == (4, 1, 1)
    assert data["final"] is False and data["state_label"] == "Dự thảo"
    assert isinstance(data["notes"], list)  # the workspace fills them (an edited report kept)
    rows = {b["code"]: b for b in data["branches"]}
    assert rows["QS1"]["group"] == "returned" and rows["QS1"]["ref"]
    [junk] = data["unplaced"]
    assert junk["source_name"] == "ghi-chu.xlsx" and junk["reason"] == "Không đọc được tệp"
    assert junk["feedback"] and (partial.parent / junk["feedback"]).is_file()

    text = run("status", "--period", "2025-H1").output
    assert "— Dự thảo" in text
    assert "Đã tiếp nhận 4/6; Đã nộp nhưng trả lại để sửa 1/6; Chưa nộp 1/6" in text
    assert "ghi-chu.xlsx" in text and "Không đọc được tệp" in text

    page = (partial / "tinh-hinh-nop-bao-cao.html").read_text(encoding="utf-8")
    assert "Đã nộp nhưng trả lại để sửa (1/6 chi bộ)" in page
    assert "Chưa nộp (1/6 chi bộ)" in page and "Đã tiếp nhận (4/6 chi bộ)" in page
    assert "ghi-chu.xlsx" in page and f'href="../{junk["feedback"]}"' in page
    assert '<span class="badge draft">Dự thảo</span>' in page


def test_a_file_naming_no_known_branch_is_listed_on_the_page(run, workspace, partial):
    with Ledger(workspace.ledger) as ledger:
        ledger.record(
            Submission(
                source_name="bao-cao-la.xlsx",
                size=10,
                mtime_ns=0,
                received_at=dt.datetime(2025, 7, 10, 10, 0),
                outcome=Outcome.REJECTED,
                branch_code="ZZ9",
                period="2025-H1",
                problems=[Problem(Level.ERROR, "Mã chi bộ ZZ9 không có trong danh sách.")],
                feedback="2025-H1/phan-hoi/bao-cao-la.xlsx",
            )
        )
    data = json.loads(run("status", "--period", "2025-H1", "--json").output)
    reasons = {f["source_name"]: f["reason"] for f in data["unplaced"]}
    assert reasons["bao-cao-la.xlsx"] == "Mã chi bộ «ZZ9» không có trong danh sách"
    assert data["groups"]["missing"] == ["CA1"]  # it counts for no branch


def test_complete_second_half_speaks_for_the_whole_organisation(run, workspace, make_return, clock):
    clock.now = dt.datetime(2025, 7, 10, 9, 0)
    for branch in BRANCHES:
        make_return(branch.code, "2025-H1", branch_code=branch.code)
    assert run("process").exit_code == 0
    clock.now = dt.datetime(2026, 1, 10, 9, 0)
    for branch in BRANCHES:
        make_return(branch.code, "2025-H2", branch_code=branch.code)
    assert run("process").exit_code == 0
    assert run("report", "--period", "2025-H2", "--no-pdf").exit_code == 0
    text = paragraphs(workspace.outbox / "2025-H2" / "bao-cao-2025-H2.docx")
    joined = "\n".join(text)
    assert "trên cơ sở báo cáo của 6/6 chi bộ trực thuộc" in joined
    assert "theo báo cáo của" not in joined.lower()
    assert "Tổng số đảng viên đầu kỳ của toàn Đảng bộ là" in joined
    assert "Lũy kế từ đầu nhiệm kỳ đến nay, toàn Đảng bộ đã kết nạp được" in joined
    assert "DỰ THẢO" in text and "(Số liệu của" not in joined
    assert "Đã tiếp nhận báo cáo: 6/6 chi bộ." in text


def test_units_come_from_the_form(run, workspace, make_return, clock):
    form = workspace.form_path.read_text(encoding="utf-8")
    changed = form.replace('unit = "hộ"', 'unit = "lượt hộ"').replace(
        'unit = "buổi"', 'unit = "cuộc"'
    )
    assert changed.count('"lượt hộ"') == 1 and changed.count('"cuộc"') == 2
    workspace.form_path.write_text(changed, encoding="utf-8")
    clock.now = dt.datetime(2025, 7, 10, 9, 0)
    make_return("PH1", "2025-H1", branch_code="PH1", households_supported=5, regular_meetings=6)
    assert run("process").exit_code == 0
    assert run("report", "--period", "2025-H1", "--no-pdf").exit_code == 0
    joined = "\n".join(paragraphs(workspace.outbox / "2025-H1" / "bao-cao-2025-H1.docx"))
    assert "hỗ trợ 5 lượt hộ nghèo, cận nghèo, có hoàn cảnh khó khăn" in joined
    assert "sinh hoạt định kỳ với 6 cuộc" in joined
    assert " buổi" not in joined


def test_a_file_without_a_period_is_on_every_page_begun_when_it_came(workspace, config):
    from tonghop.periods import Period
    from tonghop.report.status import period_status

    with Ledger(workspace.ledger) as ledger:
        ledger.record(
            Submission(
                source_name="anh-chup.jpg",
                size=10,
                mtime_ns=0,
                received_at=dt.datetime(2025, 7, 2, 8, 0),
                outcome=Outcome.UNREADABLE,
                problems=[Problem(Level.ERROR, "Tệp không phải bảng tính.")],
                feedback="khong-doc-duoc/anh-chup-phan-hoi.txt",
            )
        )
        now = dt.datetime(2025, 7, 10)
        for code in ("2025", "2025-H1", "2025-Q3"):
            [file] = period_status(config, ledger, Period.parse(code), now).unplaced
            assert file.reason == "Không đọc được tệp" and file.ref
            assert file.problems == ["Lỗi: Tệp không phải bảng tính."]
        assert period_status(config, ledger, Period.parse("2025-Q4"), now).unplaced == []


def test_final_state_and_notes_on_the_page_and_in_status(run, workspace, partial, monkeypatch):
    from tonghop.periods import Period
    from tonghop.report.status import render_status_html
    from tonghop.workspace import Workspace, open_workspace

    original = Workspace.status
    note = "Báo cáo bao-cao-2025-H1.docx đã được sửa tay nên được giữ nguyên."

    def final(self, period):
        state = original(self, period)
        state.final, state.notes = True, [note]
        return state

    monkeypatch.setattr(Workspace, "status", final)
    text = run("status", "--period", "2025-H1").output
    assert "— Đã chốt" in text and f"Lưu ý: {note}" in text
    data = json.loads(run("status", "--period", "2025-H1", "--json").output)
    assert data["final"] is True and data["state_label"] == "Đã chốt" and data["notes"] == [note]
    with open_workspace(workspace.home) as opened:
        state = final(opened, Period.parse("2025-H1"))
    page = render_status_html(state, "ĐẢNG ỦY XÃ PHÚ AN")
    assert '<span class="badge final">Đã chốt</span>' in page and note in page


def test_report_context_hooks_final_and_number(workspace, config, form, ledger):
    from tonghop.periods import Period
    from tonghop.report.aggregate import aggregate
    from tonghop.report.context import report_context

    agg = aggregate(form, config, [], Period.parse("2025-H1"))
    draft = report_context(agg, config, form, date=dt.date(2025, 7, 16))
    assert draft["draft"] is True and draft["final"] is False
    assert draft["number"] == config.report_number == ""
    assert [b["code"] for b in draft["missing"]] == [b.code for b in BRANCHES]
    assert draft["complete"] is False and draft["counted"] == [] and draft["returned"] == []
    final = report_context(agg, config, form, date=dt.date(2025, 7, 16), final=True, number="07")
    assert final["final"] is True and final["draft"] is False and final["number"] == "07"
    assert final["fields"]["households_supported"]["unit"] == "hộ"


def test_finalized_report_has_its_number_and_no_draft_mark(run, workspace, partial, clock):
    result = run("finalize", "--period", "2025-H1", "--number", "07", "--date", "2025-07-20")
    assert result.exit_code == 0, result.output
    [final] = [p for p in partial.glob("bao-cao-2025-H1*.docx") if "chinh-thuc" in p.name]
    text = paragraphs(final)
    assert "Số 07-BC/ĐU" in text and "DỰ THẢO" not in text
    assert "(Kèm theo Báo cáo số 07-BC/ĐU, ngày 20 tháng 7 năm 2025)" in text
    # still 4 of 6: the final report says whose figures it holds, like the draft did
    assert "(Số liệu của 4/6 chi bộ)" not in text  # that line belongs to the draft mark
    assert any("Số liệu trong báo cáo này là của 4/6 chi bộ" in t for t in text)
    status = run("status", "--period", "2025-H1").output
    assert "— Đã chốt" in status
    page = (partial / "tinh-hinh-nop-bao-cao.html").read_text(encoding="utf-8")
    assert '<span class="badge final">Đã chốt</span>' in page
