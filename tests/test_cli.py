"""Every command through click's CliRunner, in Vietnamese, with the right exit codes."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from tonghop.cli import CliContext, cli
from tonghop.ledger import Ledger

from .conftest import FakeClock


@pytest.fixture
def run(workspace, clock: FakeClock):
    def invoke(*args: str):
        runner = CliRunner()
        return runner.invoke(
            cli, ["--home", str(workspace.home), *args], obj=CliContext(str(workspace.home), clock)
        )

    return invoke


def test_forms_writes_one_workbook_per_branch_with_the_contract(run, workspace, config):
    result = run("forms", "--period", "2024-H1")
    assert result.exit_code == 0, result.output
    assert "Đã tạo 15 biểu mẫu 6 tháng đầu năm 2024" in result.output
    folder = workspace.outbox / "2024-H1" / "bieu-mau"
    files = sorted(folder.glob("*.xlsx"))
    assert len(files) == len(config.branches)
    book = load_workbook(files[0])
    names = book.defined_names
    assert "branch_code" in names and "period" in names and "admitted" in names


def test_forms_prefills_members_start_from_the_previous_period(run, workspace, make_return):
    make_return("LT1", "2023", members_start=40)  # ends 42
    assert run("process").exit_code == 0
    assert run("forms", "--period", "2024-H1", "--branch", "lt1").exit_code == 0
    path = workspace.outbox / "2024-H1" / "bieu-mau" / "bao-cao-LT1-2024-H1.xlsx"
    book = load_workbook(path)
    sheet_name, ref = next(iter(book.defined_names["members_start"].destinations))
    assert book[sheet_name][ref.replace("$", "")].value == 42


def test_check_exit_codes(run, workspace, make_return, tmp_path):
    good = make_return("LT1", "2024-H1", folder=tmp_path)
    bad = make_return("LT2", "2024-H1", folder=tmp_path, members_end=1)
    junk = tmp_path / "cu.xls"
    junk.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600))

    ok = run("check", str(good))
    assert ok.exit_code == 0 and "Hợp lệ" in ok.output
    problems = run("check", str(bad))
    assert problems.exit_code == 1
    assert "Tổng số đảng viên cuối kỳ" in problems.output and "ô C" in problems.output
    unreadable = run("check", str(junk))
    assert unreadable.exit_code == 2 and ".xls" in unreadable.output
    # check never stores anything
    assert not (workspace.ledger).exists() or Ledger(workspace.ledger).count() == 0


def test_process_then_status(run, workspace, make_return, clock):
    make_return("LT1", "2024-H1")
    make_return("LT2", "2024-H1", members_end=3, women=7)
    result = run("process")
    assert result.exit_code == 0, result.output
    assert "Đã tiếp nhận" in result.output and "Trả lại để sửa" in result.output
    assert (workspace.outbox / "2024-H1" / "tinh-hinh-nop-bao-cao.html").exists()

    status = run("status", "--period", "2024-H1", "--json")
    assert status.exit_code == 0
    data = json.loads(status.output)
    rows = {b["code"]: b for b in data["branches"]}
    assert rows["LT1"]["outcome"] == "accepted" and rows["LT1"]["on_time"] is True
    # the balance is off, and the 7 women exceed the 3 members left
    assert rows["LT2"]["outcome"] == "rejected" and rows["LT2"]["errors"] == 2
    assert rows["TL1"]["received"] is False
    assert data["counted"] == 1 and data["missing"] == 13

    table = run("status", "--period", "2024-H1")
    assert table.exit_code == 0
    assert "Chưa nộp" in table.output and "Chi bộ Khu vực Lân Thạnh 1" in table.output

    empty = run("process")
    assert "Không có tệp nào mới" in empty.output


def test_report_writes_docx_workbook_and_status(run, workspace, make_return):
    make_return("LT1", "2024-H1")
    run("process")
    result = run("report", "--period", "2024-H1", "--no-pdf", "--date", "2024-07-10")
    assert result.exit_code == 0, result.output
    folder = workspace.outbox / "2024-H1"
    assert (folder / "bao-cao-2024-H1.docx").exists()
    book = load_workbook(folder / "tong-hop-so-lieu.xlsx")
    assert book.sheetnames == ["Trong kỳ", "Lũy kế nhiệm kỳ"]
    assert "Còn 14 chi bộ chưa nộp" in result.output
    assert not list(folder.glob(".*tmp*"))


def test_bad_config_is_one_vietnamese_line_and_exit_2(run, workspace):
    text = workspace.config_path.read_text(encoding="utf-8")
    workspace.config_path.write_text(text.replace('term = "2020-2025"', 'term = "2020"'), "utf-8")
    result = run("status", "--period", "2024-H1")
    assert result.exit_code == 2
    assert "term" in result.output and "dòng" in result.output
    assert "Traceback" not in result.output


def test_bad_period_and_missing_workspace(run, tmp_path):
    result = run("forms", "--period", "2024-H3")
    assert result.exit_code == 2 and "Không hiểu kỳ báo cáo" in result.output
    runner = CliRunner()
    missing = runner.invoke(cli, ["--home", str(tmp_path / "none"), "status", "-k", "2024"])
    assert missing.exit_code == 2 and "Không tìm thấy tệp cấu hình" in missing.output


def test_init_makes_a_ready_workspace(tmp_path):
    runner = CliRunner()
    target = tmp_path / "xa-moi"
    result = runner.invoke(cli, ["init", str(target)])
    assert result.exit_code == 0, result.output
    for name in ("tonghop.toml", "templates/form.toml", "templates/bao-cao.docx"):
        assert (target / name).is_file(), name
    assert (target / "inbox").is_dir() and (target / "archive").is_dir()
    again = runner.invoke(cli, ["init", str(target)])
    assert again.exit_code == 2 and "không ghi đè" in again.output
    # init writes the neutral config: forms and report refuse while a placeholder remains
    config = (target / "tonghop.toml").read_text(encoding="utf-8")
    assert "<HỌ VÀ TÊN NGƯỜI KÝ>" in config and "PHƯỜNG TÂN LỘC" not in config
    forms = runner.invoke(cli, ["--home", str(target), "forms", "-k", "2024"])
    assert forms.exit_code == 2, forms.output
    assert "khóa «name»" in forms.output and "<HỌ VÀ TÊN NGƯỜI KÝ>" in forms.output
    report = runner.invoke(cli, ["--home", str(target), "report", "-k", "2024", "--no-pdf"])
    assert report.exit_code == 2 and "còn chỗ chưa điền" in report.output
    status = runner.invoke(cli, ["--home", str(target), "status", "-k", "2024"])
    assert status.exit_code == 0, status.output  # status, check and process still run
    filled = re.sub(r"<([^<>]+)>", lambda m: m[1].title(), config)
    (target / "tonghop.toml").write_text(filled, encoding="utf-8")
    forms = runner.invoke(cli, ["--home", str(target), "forms", "-k", "2024"])
    assert forms.exit_code == 0, forms.output
    assert len(list((target / "outbox" / "2024" / "bieu-mau").glob("*.xlsx"))) == 2


def test_unexpected_error_is_logged_not_shown(run, workspace, monkeypatch):
    from tonghop.workspace import Workspace

    def boom(*args, **kwargs):
        raise RuntimeError("internal detail")

    monkeypatch.setattr(Workspace, "status", boom)
    result = run("status", "--period", "2024-H1")
    assert result.exit_code == 1
    assert "Lỗi không mong đợi" in result.output
    assert "internal detail" not in result.output
    log = workspace.logs / "loi-chuong-trinh.log"
    assert "internal detail" in log.read_text(encoding="utf-8")
