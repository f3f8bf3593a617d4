"""Outputs (issue 9, item 7): answers never replace one another, files get the umask's
permissions, no stale PDF beside a newer report."""

from __future__ import annotations

import os
import stat

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

import tonghop
from tonghop.cli import CliContext, cli
from tonghop.intake.inbox import Intake
from tonghop.ledger import Outcome
from tonghop.report.publish import AGGREGATE_NAME, STATUS_NAME
from tonghop.watch._rebuild import Publisher

from .conftest import needs_soffice


def _texts_of_workbook(path) -> str:
    workbook = load_workbook(path)
    return "\n".join(
        str(cell.value)
        for sheet in workbook.worksheets
        for row in sheet.iter_rows()
        for cell in row
        if cell.value is not None
    )


def test_two_unreadable_files_in_one_minute_both_keep_their_note(
    workspace, config, form, ledger, clock
):
    # one branch's return saved as .ods and as .xls, neither readable: same stem, same minute
    (workspace.inbox / "Chi bo LT1.ods").write_bytes(b"PK\x03\x04 not really" + os.urandom(64))
    (workspace.inbox / "Chi bo LT1.xls").write_bytes(b"\xd0\xcf\x11\xe0" + os.urandom(900))
    results = Intake(workspace, config, form, ledger, clock=clock).process_inbox()

    assert sorted(r.submission.outcome for r in results) == [Outcome.UNREADABLE] * 2
    rows = ledger.all()
    notes = [workspace.outbox / row.feedback for row in rows if row.feedback]
    assert len(notes) == 2 and notes[0] != notes[1]
    for row in rows:
        text = (workspace.outbox / row.feedback).read_text(encoding="utf-8-sig")
        assert row.source_name in text  # each row points at its own answer


def test_two_rejected_returns_of_one_branch_in_one_minute_both_keep_their_feedback(
    workspace, config, form, ledger, clock, make_return
):
    make_return("TL1", "2024-H1", name="lan-1.xlsx", members_end=999)
    make_return("TL1", "2024-H1", name="lan-2.xlsx", members_end=998)
    results = Intake(workspace, config, form, ledger, clock=clock).process_inbox()

    assert [r.submission.outcome for r in results] == [Outcome.REJECTED] * 2
    rows = ledger.all()
    answers = [workspace.outbox / row.feedback for row in rows]
    assert len(set(answers)) == 2 and all(a.exists() for a in answers)
    for row in rows:
        text = _texts_of_workbook(workspace.outbox / row.feedback)
        other = ({"lan-1.xlsx", "lan-2.xlsx"} - {row.source_name}).pop()
        assert row.source_name in text and other not in text


@pytest.fixture
def run(workspace, clock):
    def invoke(*args: str):
        return CliRunner().invoke(
            cli, ["--home", str(workspace.home), *args], obj=CliContext(str(workspace.home), clock)
        )

    return invoke


@pytest.fixture
def umask():
    """Sets the process's umask for one test and restores it."""
    saved = os.umask(0o022)
    os.umask(saved)
    yield os.umask
    os.umask(saved)


@pytest.mark.parametrize("mask", [0o022, 0o027])
def test_every_output_gets_the_mode_the_umask_gives(run, workspace, make_return, umask, mask):
    umask(mask)
    make_return("LT1", "2024-H1")
    make_return("LT2", "2024-H1", members_end=1)  # rejected: a feedback workbook
    make_return("TL1", "2024-H1", admitted=-1, name="canh-bao.xlsx")
    (workspace.inbox / "cu.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600))
    assert run("process").exit_code == 0
    result = run("report", "--period", "2024-H1", "--no-pdf")
    assert result.exit_code == 0, result.output
    assert run("forms", "--period", "2024", "--branch", "LT1").exit_code == 0

    written = [p for p in workspace.outbox.rglob("*") if p.is_file()]
    names = {p.name for p in written}
    assert {"bao-cao-2024-H1.docx", AGGREGATE_NAME, STATUS_NAME} <= names
    assert any(p.suffix == ".txt" for p in written)  # the note for cu.xls
    assert any("phan-hoi" in p.name and p.suffix == ".xlsx" for p in written)
    assert any(p.parent.name == "bieu-mau" for p in written)
    modes = {
        p.relative_to(workspace.outbox).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in written
    }
    assert modes == dict.fromkeys(modes, 0o666 & ~mask)


def test_a_report_without_its_pdf_removes_the_old_pdf(run, workspace, make_return):
    make_return("LT1", "2024-H1")
    assert run("process").exit_code == 0
    folder = workspace.outbox / "2024-H1"
    folder.mkdir(parents=True, exist_ok=True)
    old_pdf = folder / "bao-cao-2024-H1.pdf"
    old_pdf.write_bytes(b"%PDF-1.4 the figures of an earlier report")

    result = run("report", "--period", "2024-H1", "--no-pdf")
    assert result.exit_code == 0, result.output
    assert (folder / "bao-cao-2024-H1.docx").is_file()
    assert not old_pdf.exists()


def test_the_watchers_rebuild_drops_the_old_pdf_and_makes_the_new_one_later(
    workspace, make_return, clock, umask
):
    umask(0o022)
    make_return("LT1", "2024-H1")
    with tonghop.open(workspace.home, clock=clock) as ws:
        ws.take_inbox()
        publisher = Publisher(ws)
        report = publisher.report_path("2024-H1")
        report.parent.mkdir(parents=True, exist_ok=True)
        stale = report.with_suffix(".pdf")
        stale.write_bytes(b"%PDF-1.4 old")
        publisher.build("2024-H1", full=True)
        assert report.is_file() and not stale.exists()
        needs_soffice()  # the PDF made later, from the new report
        publisher.make_pdf("2024-H1")
        assert stale.read_bytes().startswith(b"%PDF") and stale.stat().st_size > 1000
        assert stat.S_IMODE(stale.stat().st_mode) == 0o644


def test_answers_keep_unique_names_where_hard_links_are_refused(
    workspace, config, form, ledger, clock, monkeypatch
):
    def no_links(source, target):
        raise PermissionError(1, "Operation not permitted")  # as on FAT or exFAT

    monkeypatch.setattr(os, "link", no_links)
    (workspace.inbox / "Chi bo LT1.ods").write_bytes(b"PK\x03\x04 not really" + os.urandom(64))
    (workspace.inbox / "Chi bo LT1.xls").write_bytes(b"\xd0\xcf\x11\xe0" + os.urandom(900))
    Intake(workspace, config, form, ledger, clock=clock).process_inbox()

    rows = ledger.all()
    assert len({row.feedback for row in rows}) == 2
    for row in rows:
        text = (workspace.outbox / row.feedback).read_text(encoding="utf-8-sig")
        assert row.source_name in text
