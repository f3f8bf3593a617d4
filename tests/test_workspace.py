"""The opened workspace: the one object the commands, the watcher and the desk work through."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook

import tonghop
from tonghop.errors import ConfigError, LockBusy, UsageError
from tonghop.layout import Layout
from tonghop.ledger import Outcome
from tonghop.workspace import Workspace

from .conftest import FakeClock


@pytest.fixture
def opened(workspace: Layout, clock: FakeClock):
    with tonghop.open(workspace.home, clock=clock) as ws:
        yield ws


def test_open_reads_config_and_form_together(workspace: Layout, clock: FakeClock) -> None:
    with tonghop.open(workspace.home, clock=clock) as ws:
        assert isinstance(ws, Workspace)
        assert ws.layout == workspace
        assert len(ws.config.branches) == 15 and "admitted" in ws.form.fields
        assert not ws.has_ledger()  # nothing is created until it is needed


def test_a_target_the_form_does_not_have_is_refused(workspace: Layout) -> None:
    text = workspace.config_path.read_text(encoding="utf-8")
    workspace.config_path.write_text(
        text.replace("[targets]", "[targets]\nnot_a_field = 3"), encoding="utf-8"
    )
    with pytest.raises(ConfigError, match="not_a_field"):
        tonghop.open(workspace.home)


def test_open_without_a_workspace_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="tonghop init"):
        tonghop.open(tmp_path)


def test_take_inbox_records_and_writes_each_period_status_page(opened, make_return) -> None:
    make_return("LT1", "2024-H1")
    make_return("LT2", "2023")
    results = opened.take_inbox()
    assert sorted(r.submission.period for r in results) == ["2023", "2024-H1"]
    assert all(r.submission.outcome == Outcome.ACCEPTED for r in results)
    for code in ("2023", "2024-H1"):
        assert (opened.layout.outbox / code / "tinh-hinh-nop-bao-cao.html").is_file()
    assert opened.take_inbox() == []


def test_take_inbox_refuses_while_another_intake_holds_the_lock(opened, make_return) -> None:
    make_return("LT1", "2024-H1")
    with opened.intake_lock(), pytest.raises(LockBusy):
        opened.take_inbox()
    assert len(list(opened.layout.inbox.iterdir())) == 1  # nothing taken


def test_check_files_stores_nothing(opened, make_return, tmp_path: Path) -> None:
    good = make_return("LT1", "2024-H1", folder=tmp_path)
    bad = make_return("LT2", "2024-H1", folder=tmp_path, members_end=1)
    junk = tmp_path / "cu.xls"
    junk.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600))
    checks = opened.check_files([good, bad, junk])
    assert checks[0].result is not None and checks[0].result.problems == []
    assert checks[1].result is not None and checks[1].result.errors
    assert checks[2].result is None and ".xls" in (checks[2].unreadable or "")
    assert not opened.has_ledger()


def test_new_forms_open_with_what_the_previous_return_carried(opened, make_return) -> None:
    """members_start is carried_from members_end in form.toml: no field id in code."""
    make_return("LT1", "2023", members_start=40)
    (result,) = opened.take_inbox()
    ended = result.submission.values["members_end"]
    made = opened.make_forms(opened.period("2024-H1"), ["lt1"])
    assert [p.name for p in made.paths] == ["bao-cao-LT1-2024-H1.xlsx"]
    book = load_workbook(made.paths[0])
    sheet, ref = next(iter(book.defined_names["members_start"].destinations))
    assert book[sheet][ref.replace("$", "")].value == ended
    assert opened.prefill(opened.branch("LT2"), opened.period("2024-H1")) == {}


def test_carried_from_follows_the_form_not_the_field_ids(workspace: Layout, clock) -> None:
    form = workspace.form_path
    text = form.read_text(encoding="utf-8").replace(
        'carried_from = "members_end"', 'carried_from = "candidates"'
    )
    form.write_text(text, encoding="utf-8")
    with tonghop.open(workspace.home, clock=clock) as ws:
        assert ws.form.field("members_start").carried_from == "candidates"


def test_unknown_branch_and_period_kind_are_usage_errors(opened, workspace: Layout) -> None:
    with pytest.raises(UsageError, match="XX9"):
        opened.branch("XX9")
    text = workspace.form_path.read_text(encoding="utf-8")
    workspace.form_path.write_text(
        text.replace(
            'period_kinds = ["year", "half", "quarter", "month"]', 'period_kinds = ["year"]'
        ),
        encoding="utf-8",
    )
    with tonghop.open(workspace.home) as ws, pytest.raises(UsageError, match="6 tháng"):
        ws.period("2024-H1")


def test_publish_writes_the_period_outputs(opened, make_return) -> None:
    make_return("LT1", "2024-H1")
    opened.take_inbox()
    done = opened.publish(opened.period("2024-H1"), pdf=False)
    assert done.report is not None and done.report.is_file()
    assert done.workbook.is_file() and done.status_page.is_file()
    assert opened.status(opened.period("2024-H1")).counted == 1


def test_create_makes_a_workspace_and_never_overwrites_one(tmp_path: Path) -> None:
    layout = tonghop.create(tmp_path / "xa-moi")
    assert layout.config_path.is_file() and layout.form_path.is_file() and layout.inbox.is_dir()
    with pytest.raises(tonghop.TonghopError, match="không ghi đè"):
        tonghop.create(tmp_path / "xa-moi")


def test_office_copy_configured_by_hand_appears_once(
    workspace: Layout, clock: FakeClock, make_return
) -> None:
    import docx

    text = workspace.config_path.read_text(encoding="utf-8")
    text = text.replace('"Các chi bộ trực thuộc",', '"Các chi bộ trực thuộc",\n    "Lưu VP",')
    workspace.config_path.write_text(text, encoding="utf-8")
    make_return("LT1", "2024-H1")
    with tonghop.open(workspace.home, clock=clock) as ws:
        ws.take_inbox()
        done = ws.publish(ws.period("2024-H1"), pdf=False)
    assert done.report is not None
    document = docx.Document(str(done.report))
    lines = [
        p.text
        for table in document.tables
        for row in table.rows
        for cell in row.cells
        for p in cell.paragraphs
    ]
    office_copies = {line for line in lines if line.startswith("- Lưu")}
    assert office_copies == {"- Lưu Văn phòng Đảng ủy."}
    assert "- Lưu VP," not in lines
    assert "- Các chi bộ trực thuộc," in lines


def test_forms_and_report_refuse_a_placeholder_but_status_runs(
    workspace: Layout, clock: FakeClock
) -> None:
    text = workspace.config_path.read_text(encoding="utf-8")
    text = text.replace('name = "Nguyễn Thị Thu Bạch"', 'name = "<HỌ VÀ TÊN NGƯỜI KÝ>"')
    workspace.config_path.write_text(text, encoding="utf-8")
    with tonghop.open(workspace.home, clock=clock) as ws:
        period = ws.period("2024-H1")
        for refused in (lambda: ws.make_forms(period), lambda: ws.publish(period, pdf=False)):
            with pytest.raises(ConfigError) as info:
                refused()
            assert info.value.exit_code == 2
            message = str(info.value)
            assert "mục [signer], khóa «name»" in message and "<HỌ VÀ TÊN NGƯỜI KÝ>" in message
            line = next(n for n, t in enumerate(text.splitlines(), 1) if "<HỌ VÀ" in t)
            assert f"dòng {line}" in message
        assert ws.status(period).counted == 0
    assert not (workspace.outbox / "2024-H1").exists()
