"""Outputs (issue 9, item 7): answers never replace one another, files get the umask's
permissions, no stale PDF beside a newer report."""

from __future__ import annotations

import os

from openpyxl import load_workbook

from tonghop.intake.inbox import Intake
from tonghop.ledger import Outcome


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
