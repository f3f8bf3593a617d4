"""Receipts (issue 9, item 3): every accepted return gets a giấy xác nhận in
outbox/<period>/xac-nhan/, read back here as the branch's phone would show it."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from pathlib import Path

import lxml.html
import pytest
from click.testing import CliRunner

from tonghop.blank import write_blank_form
from tonghop.cli import CliContext, cli
from tonghop.errors import ConfigError
from tonghop.form import load_form
from tonghop.intake import receipt as receipt_module
from tonghop.intake.inbox import Intake
from tonghop.ledger import Outcome
from tonghop.periods import Period
from tonghop.report.status import deadline_of
from tonghop.report.vnformat import so

from .helpers import good_values


def receipts(workspace, period: str = "2024-H1") -> list[Path]:
    return sorted((workspace.outbox / period / "xac-nhan").glob("*.html"))


def text_of(path: Path) -> str:
    """What a reader sees: the text of the page's body, each element's apart."""
    body = lxml.html.fromstring(path.read_bytes()).body
    return " ".join(" ".join(body.itertext()).split())


def write_good_return(workspace, config, form, name: str, period: str = "2024-H1", **changes):
    """A valid return of LT1 made by the tests' factory (helpers.good_values)."""
    the_period = Period.parse(period)
    values = good_values(the_period, **changes)
    target = workspace.inbox / name
    write_blank_form(form, config, config.branch("LT1"), the_period, target, prefill=values)
    return values


@pytest.fixture
def run(workspace, clock):
    def invoke(*args: str):
        return CliRunner().invoke(
            cli, ["--home", str(workspace.home), *args], obj=CliContext(str(workspace.home), clock)
        )

    return invoke


def test_process_writes_a_receipt_with_the_id_the_figures_and_on_time(
    run, workspace, config, form, ledger, clock
):
    values = write_good_return(workspace, config, form, "Bao cao LT1.xlsx")
    result = run("process")
    assert result.exit_code == 0, result.output

    [sub] = ledger.all()
    assert sub.outcome == Outcome.ACCEPTED
    [page] = receipts(workspace)
    assert page.name == "LT1-2024-H1-xac-nhan-20240705-0900.html"
    text = text_of(page)
    assert config.committee.name in text and "Chi bộ Khu vực Lân Thạnh 1 (LT1)" in text
    assert "6 tháng đầu năm 2024" in text
    assert f"Mã tệp {sub.id}" in text  # «Mã tệp N» = Submission.ref
    assert "Bao cao LT1.xlsx" in text and "09:00 ngày 05/07/2024" in text
    assert deadline_of(config, Period.parse("2024-H1")) == dt.date(2024, 7, 15)
    assert "Hạn nộp ngày 15/07/2024" in text and "Thời hạn Đúng hạn" in text
    assert "Nộp muộn" not in text and "Không có cảnh báo" in text

    # every key figure of the form, as read, with its unit; nothing else
    keys = form.key_fields(Period.parse("2024-H1").kind)
    assert keys and all(k.key for k in keys)
    rows = lxml.html.fromstring(page.read_bytes()).xpath("//table//tr")
    shown = [[" ".join(td.text_content().split()) for td in row.xpath("td")] for row in rows]
    assert shown == [[k.label, f"{so(values[k.id])} {k.unit}".strip()] for k in keys]


def test_a_receipt_is_a_self_contained_page_for_a_phone(
    workspace, config, form, ledger, clock, make_return
):
    make_return("LT2", "2024-H1", name="Báo cáo <b>LT2</b> & chi bộ.xlsx")
    [result] = Intake(workspace, config, form, ledger, clock=clock).process_inbox()
    assert result.receipt is not None and result.receipt in receipts(workspace)
    raw = result.receipt.read_text(encoding="utf-8")
    assert unicodedata.is_normalized("NFC", raw)
    page = lxml.html.fromstring(raw.encode())
    assert page.get("lang") == "vi"
    assert page.xpath('//meta[@name="viewport"]/@content') == [
        "width=device-width, initial-scale=1"
    ]
    # no script, no image, no stylesheet or font fetched from anywhere
    assert not page.xpath("//script|//img|//link|//iframe|//object|//*[@src]")
    assert not re.search(r"https?:|@import|url\(", raw)
    assert "@media print" in raw
    # the file's name is shown as text, never taken as markup
    assert "Báo cáo <b>LT2</b> & chi bộ.xlsx" in text_of(result.receipt)
    assert not page.xpath("//dd/b")


def test_a_late_return_with_a_warning_says_both(
    workspace, config, form, ledger, clock, make_return
):
    clock.now = dt.datetime(2024, 7, 18, 14, 32)  # three days after 15/07
    make_return("LT1", "2024-H1", disciplined=40)  # accepted, with a warning
    [result] = Intake(workspace, config, form, ledger, clock=clock).process_inbox()
    sub = result.submission
    assert sub.outcome == Outcome.ACCEPTED and sub.warnings == 1 and sub.errors == 0
    text = text_of(result.receipt)
    assert "Thời hạn Nộp muộn 3 ngày" in text and "Đúng hạn" not in text
    assert sub.problems[0].message in text and "(40)" in text
    assert "Không có cảnh báo" not in text
    assert result.feedback is not None and result.feedback.name in text


def test_two_receipts_for_one_branch_in_one_minute_both_survive(
    workspace, config, form, ledger, clock
):
    write_good_return(workspace, config, form, "lan-1.xlsx", admitted=2)
    write_good_return(workspace, config, form, "lan-2.xlsx", admitted=3)
    results = Intake(workspace, config, form, ledger, clock=clock).process_inbox()
    # each accepted when it came (the second then replaced the first in the count)
    assert [r.submission.outcome for r in results] == [Outcome.ACCEPTED] * 2
    pages = receipts(workspace)
    assert len(pages) == 2 and {r.receipt for r in results} == set(pages)
    for result in results:
        text = text_of(result.receipt)
        other = ({"lan-1.xlsx", "lan-2.xlsx"} - {result.submission.source_name}).pop()
        assert f"Mã tệp {result.submission.id}" in text
        assert result.submission.source_name in text and other not in text


def test_no_receipt_for_a_rejected_unreadable_or_duplicate_file(
    workspace, config, form, ledger, clock, make_return
):
    make_return("LT2", "2024-H1", members_end=999)  # the balance is off: rejected
    (workspace.inbox / "cu.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600))
    intake = Intake(workspace, config, form, ledger, clock=clock)
    results = intake.process_inbox()
    assert sorted(r.submission.outcome for r in results) == [Outcome.REJECTED, Outcome.UNREADABLE]
    assert all(r.receipt is None for r in results)
    assert not (workspace.outbox / "2024-H1" / "xac-nhan").exists()

    good = make_return("LT1", "2024-H1", name="lan-1.xlsx")
    kept = good.read_bytes()
    assert intake.process_inbox()[0].receipt is not None
    (workspace.inbox / "lan-1-gui-lai.xlsx").write_bytes(kept)  # the same bytes again
    [again] = intake.process_inbox()
    assert again.submission.outcome == Outcome.DUPLICATE and again.receipt is None
    assert len(receipts(workspace)) == 1


def test_a_receipt_the_disk_refuses_loses_nothing(
    workspace, config, form, ledger, clock, make_return, monkeypatch, caplog
):
    def refuse(target, data):
        raise PermissionError(13, "Permission denied", str(target))

    monkeypatch.setattr(receipt_module, "write_new", refuse)
    make_return("LT1", "2024-H1")
    [result] = Intake(workspace, config, form, ledger, clock=clock).process_inbox()
    assert result.submission.outcome == Outcome.ACCEPTED and result.receipt is None
    assert ledger.all()[0].outcome == Outcome.ACCEPTED
    assert not list(workspace.inbox.iterdir())  # taken as usual
    assert "Không ghi được giấy xác nhận" in caplog.text


def test_a_year_receipt_shows_the_year_only_key_figures(
    workspace, config, form, ledger, clock, make_return
):
    clock.now = dt.datetime(2025, 1, 10, 8, 0)
    make_return("LT1", "2024")
    [result] = Intake(workspace, config, form, ledger, clock=clock).process_inbox()
    year_only = [f for f in form.key_fields(Period.parse("2024").kind) if len(f.periods) == 1]
    assert year_only  # the ratings, asked once a year
    text = text_of(result.receipt)
    assert all(f.label in text for f in year_only)
    assert result.receipt == receipts(workspace, "2024")[0]


def test_key_figures_come_from_the_form(tmp_path, workspace):
    text = workspace.form_path.read_text(encoding="utf-8")
    unmarked = tmp_path / "form.toml"
    unmarked.write_text(text.replace("key = true\n", ""), encoding="utf-8")
    form = load_form(unmarked)
    kind = Period.parse("2024-H1").kind
    # a form that marks none shows its required number fields
    assert form.key_fields(kind) == [f for f in form.fields_for(kind) if f.is_number and f.required]
    assert form.key_fields(kind)

    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace("key = true\n", 'key = "có"\n', 1), encoding="utf-8")
    with pytest.raises(ConfigError, match="key"):
        load_form(bad)


def test_a_return_held_after_finalize_gets_a_receipt_saying_it_is_not_counted(
    run, workspace, make_return, ledger
):
    make_return("LT1", "2024-H1")
    assert run("process").exit_code == 0
    done = run("finalize", "--period", "2024-H1")
    assert done.exit_code == 0, done.output
    make_return("LT2", "2024-H1")
    assert run("process").exit_code == 0

    late = next(s for s in ledger.all() if s.branch_code == "LT2")
    assert late.outcome == Outcome.HELD
    [page] = [p for p in receipts(workspace) if p.name.startswith("LT2-")]
    text = text_of(page)
    assert f"{Outcome.HELD.label} — Mã tệp {late.ref}" in text
    assert "chưa được tính vào báo cáo chung" in text and "không cần gửi lại" in text
    assert "bản gửi sau sẽ thay bản này" not in text
    counted = text_of(next(p for p in receipts(workspace) if p.name.startswith("LT1-")))
    assert "số liệu được tính vào báo cáo chung" in counted
